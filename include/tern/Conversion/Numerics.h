//===- Numerics.h - the quantization arithmetic of SPEC 3 and 4 -*- C++ -*-===//
//
// The few formulas every kernel family must compute bit for bit alike, CPU
// and GPU: act_quant's scale and rounding, the int8 LM head's, and the
// (shared) epilogue of both integer products. Written once here; the CPU
// kernels (Elementwise.cpp, TernaryMatmul.cpp) and the NVIDIA ones
// (GpuLayer.cpp, GpuW2.cpp) call them. Inline: a handful of builder calls each.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_CONVERSION_NUMERICS_H
#define TERN_CONVERSION_NUMERICS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

#include <algorithm>
#include <cstdint>

namespace mlir::tern::kernels {

/// The f32 constant `v` in the shape of `like` (scalar or vector).
inline Value constantLike(OpBuilder &b, Location loc, float v, Value like) {
  if (auto vector = dyn_cast<VectorType>(like.getType()))
    return b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(vector, b.getF32FloatAttr(v).getValue()));
  return b.create<arith::ConstantFloatOp>(loc, APFloat(v), b.getF32Type());
}

/// act_quant's per-token scale from the row's absolute maximum:
/// 127 / max(amax, 1e-5) (f32).
inline Value actQuantScale(OpBuilder &b, Location loc, Value amax) {
  // SPEC 3: the 1e-5 floor keeps an all-zero row finite.
  amax =
      b.create<arith::MaximumFOp>(loc, amax, constantLike(b, loc, 1e-5f, amax));
  return b.create<arith::DivFOp>(loc, constantLike(b, loc, 127.0f, amax), amax);
}

/// act_quant of x (f32 scalar or vector) with `scale` of the same shape:
/// clamp(round_half_even(x * scale), -128, 127) as i8.
inline Value actQuantize(OpBuilder &b, Location loc, Value x, Value scale) {
  Value r =
      b.create<math::RoundEvenOp>(loc, b.create<arith::MulFOp>(loc, x, scale));
  r = b.create<arith::MinimumFOp>(
      loc, b.create<arith::MaximumFOp>(loc, r, constantLike(b, loc, -128, r)),
      constantLike(b, loc, 127, r));
  Type i8 = b.getI8Type();
  if (auto vector = dyn_cast<VectorType>(r.getType()))
    i8 = vector.clone(i8);
  return b.create<arith::FPToSIOp>(loc, i8, r);
}

/// The int8 LM head's activation range: x rows become integers in
/// [-qmax, qmax] with qmax = min(32767, (2^31 - 1) / (127 d)), so that no
/// sum of d products with int8 table values leaves i32 (d = 2560: 6605).
inline int64_t headQuantMax(int64_t d) {
  return std::min<int64_t>(32767, INT32_MAX / (127 * std::max<int64_t>(d, 1)));
}

/// The int8 LM head's per-row scale, qmax / max(amax, 1e-5) (f32).
inline Value headQuantScale(OpBuilder &b, Location loc, Value amax,
                            int64_t qmax) {
  amax =
      b.create<arith::MaximumFOp>(loc, amax, constantLike(b, loc, 1e-5f, amax));
  return b.create<arith::DivFOp>(loc, constantLike(b, loc, float(qmax), amax),
                                 amax);
}

/// The int8 LM head's activation of x (f32 scalar or vector):
/// clamp(round_half_even(x * scale), -qmax, qmax) as i16.
inline Value headQuantize(OpBuilder &b, Location loc, Value x, Value scale,
                          int64_t qmax) {
  Value r =
      b.create<math::RoundEvenOp>(loc, b.create<arith::MulFOp>(loc, x, scale));
  r = b.create<arith::MinimumFOp>(
      loc, b.create<arith::MaximumFOp>(loc, r, constantLike(b, loc, -qmax, r)),
      constantLike(b, loc, qmax, r));
  Type i16 = b.getI16Type();
  if (auto vector = dyn_cast<VectorType>(r.getType()))
    i16 = vector.clone(i16);
  return b.create<arith::FPToSIOp>(loc, i16, r);
}

/// The ternary matmul's epilogue: the i32 dot product `acc` as f32, divided
/// by the activations' scale (`sx()`, built after the conversion, where
/// kernels load it) and multiplied by the weights' `wScale`. A vector `acc`
/// takes scales of its shape.
inline Value dequantize(OpBuilder &b, Location loc, Value acc,
                        function_ref<Value()> sx, Value wScale) {
  Type f32 = b.getF32Type();
  if (auto vector = dyn_cast<VectorType>(acc.getType()))
    f32 = vector.clone(f32);
  Value y = b.create<arith::SIToFPOp>(loc, f32, acc);
  return b.create<arith::MulFOp>(loc, b.create<arith::DivFOp>(loc, y, sx()),
                                 wScale);
}

} // namespace mlir::tern::kernels

#endif // TERN_CONVERSION_NUMERICS_H
