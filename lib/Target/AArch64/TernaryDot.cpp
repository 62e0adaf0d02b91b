//===- TernaryDot.cpp - AArch64 byte dot products for ternary matmuls -----===//
//
// Codes 0..2 are valid signed bytes too, so the signed instructions (sdot,
// smmla, smull) take them as they are. LLVM 19 does not form sdot by itself
// (TOOLCHAIN.md): each is an intrinsic call.
//
//===----------------------------------------------------------------------===//

#include "tern/Target/TernaryDot.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::tern;

namespace {

VectorType v4i32(MLIRContext *context) {
  return VectorType::get({4}, IntegerType::get(context, 32));
}

/// What every AArch64 family has: tbl, a byte table lookup.
struct NEONLookup : TernaryDot {
  Value lookup16(ImplicitLocOpBuilder &b, ArrayRef<int8_t> table,
                 Value indices) const override {
    return lookupPieces(b, "llvm.aarch64.neon.tbl1.v16i8", 16, table, indices);
  }
};

/// dotprod: four sdot per block; lane i of a 16-byte slice pair adds the
/// products of bytes 4i .. 4i+3.
struct DotProdDot : NEONLookup {
  VectorType accumulatorType(MLIRContext *context) const override {
    return v4i32(context);
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    for (int64_t part = 0; part < 4; ++part)
      acc = callIntrinsic(b, "llvm.aarch64.neon.sdot.v4i32.v16i8",
                          v4i32(b.getContext()),
                          {acc, sliceBytes(b, codes, 16 * part, 16),
                           sliceBytes(b, q, 16 * part, 16)});
    return acc;
  }
};

/// i8mm: sdot for single rows or tokens, smmla for 2 x 2 blocks.
struct I8MMDot : DotProdDot {
  bool hasPairBlocks() const override { return true; }
  Value mmla64(ImplicitLocOpBuilder &b, Value acc, Value codes0, Value codes1,
               Value q0, Value q1) const override {
    // smmla multiplies a 2 x 8 block of rows by a 2 x 8 block of tokens
    // (both row-major in 16 bytes) into [r0 t0, r0 t1, r1 t0, r1 t1]: here
    // bytes 8m .. 8m+7 of two rows and of two tokens, for m = 0 .. 7.
    auto pair = [&](Value x, Value y, int64_t m) {
      SmallVector<int64_t> mask;
      for (int64_t i = 0; i < 8; ++i)
        mask.push_back(8 * m + i);
      for (int64_t i = 0; i < 8; ++i)
        mask.push_back(64 + 8 * m + i);
      return b.create<vector::ShuffleOp>(x, y, mask);
    };
    for (int64_t m = 0; m < 8; ++m)
      acc = callIntrinsic(b, "llvm.aarch64.neon.smmla.v4i32.v16i8",
                          v4i32(b.getContext()),
                          {acc, pair(codes0, codes1, m), pair(q0, q1, m)});
    return acc;
  }
};

/// The NEON baseline: smull of 8-byte halves (i16 products, at most
/// 2 * 128), then saddlp (pairwise add into i32 lanes).
struct NEONDot : NEONLookup {
  VectorType accumulatorType(MLIRContext *context) const override {
    return v4i32(context);
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v8i16 = VectorType::get({8}, b.getI16Type());
    for (int64_t half = 0; half < 8; ++half) {
      Value products = callIntrinsic(
          b, "llvm.aarch64.neon.smull.v8i16", v8i16,
          {sliceBytes(b, codes, 8 * half, 8), sliceBytes(b, q, 8 * half, 8)});
      acc = b.create<arith::AddIOp>(
          acc, callIntrinsic(b, "llvm.aarch64.neon.saddlp.v4i32.v8i16",
                             v4i32(b.getContext()), {products}));
    }
    return acc;
  }
};

} // namespace

const TernaryDot *mlir::tern::aarch64::getTernaryDot(StringRef family) {
  static const I8MMDot i8mm;
  static const DotProdDot dotprod;
  static const NEONDot neon;
  if (family == "i8mm")
    return &i8mm;
  if (family == "dotprod")
    return &dotprod;
  if (family == "neon")
    return &neon;
  return nullptr;
}
