//===- Numerics.cpp - the quantization arithmetic of SPEC 3 and 4 ---------===//

#include "Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::tern::kernels;

/// The f32 constant `v` in the shape of `like` (scalar or vector).
static Value constantLike(OpBuilder &b, Location loc, float v, Value like) {
  if (auto vector = dyn_cast<VectorType>(like.getType()))
    return b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(vector, b.getF32FloatAttr(v).getValue()));
  return b.create<arith::ConstantFloatOp>(loc, APFloat(v), b.getF32Type());
}

Value mlir::tern::kernels::actQuantScale(OpBuilder &b, Location loc,
                                         Value amax) {
  // SPEC 3: the 1e-5 floor keeps an all-zero row finite.
  amax =
      b.create<arith::MaximumFOp>(loc, amax, constantLike(b, loc, 1e-5f, amax));
  return b.create<arith::DivFOp>(loc, constantLike(b, loc, 127.0f, amax), amax);
}

Value mlir::tern::kernels::actQuantize(OpBuilder &b, Location loc, Value x,
                                       Value scale) {
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

Value mlir::tern::kernels::dequantize(OpBuilder &b, Location loc, Value acc,
                                      function_ref<Value()> sx, Value wScale) {
  Value y = b.create<arith::SIToFPOp>(loc, b.getF32Type(), acc);
  return b.create<arith::MulFOp>(loc, b.create<arith::DivFOp>(loc, y, sx()),
                                 wScale);
}
