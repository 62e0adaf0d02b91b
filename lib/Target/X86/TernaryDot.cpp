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

/// AVX2: per 256-bit half, pmaddubsw (pairs of u8 x i8 -> i16: codes <= 2
/// and |q| <= 128 give |pair| <= 512, no saturation), then pmaddwd with
/// ones (-> i32). Prefill sums a block's pairs in i16 lanes (<= 1024 per
/// block) for 16 blocks (<= 16384) and widens once: pmaddubsw and paddw per
/// half instead of pmaddubsw, pmaddwd and paddd. The 16 registers then hold
/// 3 x 2 partial sums, one row's codes, the two tokens' activations and the
/// unpacking constants (4 x 2 spills; 3 x 2 measured faster than 2 x 4 and
/// than the 4 x 4 tile of pmaddwd accumulators: bench/mca.py, bench/run.py).
struct AVX2Dot : TernaryDot {
  std::pair<int64_t, int64_t> prefillTile() const override { return {3, 2}; }
  int64_t partialBlocks() const override { return 16; }
  VectorType partialType(MLIRContext *context) const override {
    return VectorType::get({16}, IntegerType::get(context, 16));
  }
  Value dot64Partial(ImplicitLocOpBuilder &b, Value partial, Value codes,
                     Value q) const override {
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    for (int64_t half = 0; half < 2; ++half)
      partial = b.create<arith::AddIOp>(
          partial, callIntrinsic(b, "llvm.x86.avx2.pmadd.ub.sw", v16i16,
                                 {sliceBytes(b, codes, 32 * half, 32),
                                  sliceBytes(b, q, 32 * half, 32)}));
    return partial;
  }
  Value flushPartial(ImplicitLocOpBuilder &b, Value acc,
                     Value partial) const override {
    auto v16i16 = VectorType::get({16}, b.getI16Type());
    auto v8i32 = VectorType::get({8}, b.getI32Type());
    Value ones = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(v16i16, b.getI16IntegerAttr(1).getValue()));
    return b.create<arith::AddIOp>(
        acc,
        callIntrinsic(b, "llvm.x86.avx2.pmadd.wd", v8i32, {partial, ones}));
  }

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
