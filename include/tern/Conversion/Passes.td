//===- Passes.td - Tern conversion passes ------------------*- tablegen -*-===//

#ifndef TERN_CONVERSION_PASSES
#define TERN_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def TernLowerToKernels : Pass<"tern-lower-to-kernels", "ModuleOp"> {
  let summary = "Lower tern ops on tensors to loops on memrefs";
  let description = [{
    Rewrites the model function `@forward(ids, positions) -> logits` into
    `@tern_forward(ids, positions, logits_out)` on memrefs with the C
    interface the runtime calls: weights become constant `memref.global`s
    (named `tern_weight_*`, placed in the weights section at emission),
    every tern op becomes `scf`/`arith`/`math` loops with `i32` accumulation
    for ternary matmuls, and intermediates are allocated and freed in the
    function. Also emits `@tern_vocab_size()` and `@tern_context_length()`
    (from the module attribute `tern.context_length`, default 2048).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
}

#endif // TERN_CONVERSION_PASSES
