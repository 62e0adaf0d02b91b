//===- Numerics.h - the quantization arithmetic of SPEC 3 and 4 -*- C++ -*-===//
//
// The few formulas every kernel family must compute bit for bit alike, CPU
// and GPU: act_quant's scale and rounding, and the ternary matmul's
// epilogue. Written once here; the CPU kernels (Elementwise.cpp,
// TernaryMatmul.cpp) and the NVIDIA ones (GpuLayer.cpp, GpuW2.cpp) call
// them.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_CONVERSION_NUMERICS_H
#define TERN_CONVERSION_NUMERICS_H

#include "mlir/IR/Builders.h"

namespace mlir::tern::kernels {

/// act_quant's per-token scale from the row's absolute maximum:
/// 127 / max(amax, 1e-5) (f32).
Value actQuantScale(OpBuilder &b, Location loc, Value amax);

/// act_quant of x (f32 scalar or vector) with `scale` of the same shape:
/// clamp(round_half_even(x * scale), -128, 127) as i8.
Value actQuantize(OpBuilder &b, Location loc, Value x, Value scale);

/// The ternary matmul's epilogue: the i32 dot product `acc` as f32, divided
/// by the activations' scale (`sx()`, built after the conversion, where
/// kernels load it) and multiplied by the weights' `wScale`.
Value dequantize(OpBuilder &b, Location loc, Value acc,
                 function_ref<Value()> sx, Value wScale);

} // namespace mlir::tern::kernels

#endif // TERN_CONVERSION_NUMERICS_H
