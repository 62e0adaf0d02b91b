//===- TernaryDot.cpp - x86 byte dot products for ternary matmuls ---------===//
//
// The codes (0, 1, 2) are unsigned bytes and the activations signed ones:
// u8 x i8 is what pmaddubsw and vpdpbusd take.
//
//===----------------------------------------------------------------------===//

#include "tern/Target/TernaryDot.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::tern;

namespace {

/// AVX-512 VNNI: one 512-bit vpdpbusd per block.
struct AVX512VNNIDot : TernaryDot {
  VectorType accumulatorType(MLIRContext *context) const override {
    return VectorType::get({16}, IntegerType::get(context, 32));
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v16i32 = VectorType::get({16}, b.getI32Type());
    return callIntrinsic(b, "llvm.x86.avx512.vpdpbusd.512", v16i32,
                         {acc, b.create<vector::BitCastOp>(v16i32, codes),
                          b.create<vector::BitCastOp>(v16i32, q)});
  }
  bool codesInPlace() const override { return true; }
};

/// AVX-VNNI (no AVX-512): two 256-bit VEX vpdpbusd per block.
struct AVXVNNIDot : TernaryDot {
  VectorType accumulatorType(MLIRContext *context) const override {
    return VectorType::get({8}, IntegerType::get(context, 32));
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    for (int64_t half = 0; half < 2; ++half) {
      auto slice = [&](Value v) {
        return b.create<vector::BitCastOp>(v8i32,
                                           sliceBytes(b, v, 32 * half, 32));
      };
      acc = callIntrinsic(b, "llvm.x86.avx512.vpdpbusd.256", v8i32,
                          {acc, slice(codes), slice(q)});
    }
    return acc;
  }
};

/// AVX2: per 256-bit half, pmaddubsw (pairs of u8 x i8 -> i16, at most
/// 2 * 2 * 127: no saturation), then pmaddwd with ones (-> i32).
struct AVX2Dot : TernaryDot {
  VectorType accumulatorType(MLIRContext *context) const override {
    return VectorType::get({8}, IntegerType::get(context, 32));
  }
  Value dot64(ImplicitLocOpBuilder &b, Value acc, Value codes,
              Value q) const override {
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    Value ones = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(v16i16, b.getI16IntegerAttr(1).getValue()));
    for (int64_t half = 0; half < 2; ++half) {
      Value pairs = callIntrinsic(b, "llvm.x86.avx2.pmadd.ub.sw", v16i16,
                                  {sliceBytes(b, codes, 32 * half, 32),
                                   sliceBytes(b, q, 32 * half, 32)});
      Value quads =
          callIntrinsic(b, "llvm.x86.avx2.pmadd.wd", v8i32, {pairs, ones});
      acc = b.create<arith::AddIOp>(acc, quads);
    }
    return acc;
  }
};

} // namespace

const TernaryDot *mlir::tern::x86::getTernaryDot(StringRef family) {
  static const AVX512VNNIDot avx512vnni;
  static const AVXVNNIDot avxvnni;
  static const AVX2Dot avx2;
  if (family == "avx512vnni")
    return &avx512vnni;
  if (family == "avxvnni")
    return &avxvnni;
  if (family == "avx2")
    return &avx2;
  return nullptr;
}
