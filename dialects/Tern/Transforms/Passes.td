//===- Passes.td - Tern target-independent passes ----------*- tablegen -*-===//
//
// Kept in alphabetical order; each pass does one job.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_TRANSFORMS_PASSES
#define TERN_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def TernFloatWeights : Pass<"tern-float-weights", "ModuleOp"> {
  let summary = "Turn every BitLinear into a bf16 float linear layer";
  let description = [{
    The float baseline of a model (`ternc --weights=bf16`): each
    `tern.bitlinear` becomes a `tern.linear` over bf16 weights. Latent float
    weights are rounded to bf16 as they are; ternary and packed weights
    become `T * scale` in bf16. No activation quantization remains, so the
    same model runs with 16-bit weights through the same runtime, for speed
    and size comparisons.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernFuseNormQuant : Pass<"tern-fuse-norm-quant", "func::FuncOp"> {
  let summary = "Fuse rms_norm (and a glu before it) into the act_quant after it";
  let description = [{
    Rewrites `act_quant(rms_norm(x))` into one `tern.norm_quant(x)`, and
    `act_quant(rms_norm(glu(gate, up)))` into `tern.norm_quant(gate, up)`,
    when the fused ops have no other users. The kernel gives the same values
    without writing the intermediate float rows.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernFuseProjections : Pass<"tern-fuse-projections", "func::FuncOp"> {
  let summary = "Merge ternary_matmul ops that read the same quantized input";
  let description = [{
    Merges the `tern.ternary_matmul` ops that read the same quantized input
    into one op with several weights (q/k/v, gate/up); each weight keeps its
    own scale. Run `cse` first so that equal `tern.act_quant` ops are one.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernFuseResidual : Pass<"tern-fuse-residual", "func::FuncOp"> {
  let summary = "Fold a residual tern.add into the one-weight matmul before it";
  let description = [{
    Rewrites `tern.add(ternary_matmul(q, s, w), h)` (either side) into
    `ternary_matmul(q, s, w) residual h` when the matmul has one weight and
    no other user: the kernel adds `h` as it stores each result.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernLowerBitLinear : Pass<"tern-lower-bitlinear", "func::FuncOp"> {
  let summary = "Split tern.bitlinear into act_quant + ternary_matmul";
  let description = [{
    Rewrites each `tern.bitlinear` with a ternary weight into a per-token
    `tern.act_quant` of its input and a one-weight `tern.ternary_matmul`.
    Latent float weights must have been quantized first.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernPackWeights : Pass<"tern-pack-weights", "ModuleOp"> {
  let summary = "Re-encode ternary weights into a packed byte layout";
  let description = [{
    Replaces every unpacked ternary `tern.weight` (or one in the checkpoint's
    hf_rows packing) with one whose result carries a `#tern.packed<layout>`
    encoding and whose blob holds the packed bytes, encoded by the layout's
    owner (`dialects/Tern/IR/Layouts/`). The layout is the one the module's
    `#tern.target` names (`tern-set-target`); without a target, i2. Fails,
    naming the weight, if a value is not -1, 0 or +1.
  }];
  let options = [
    Option<"layout", "layout", "std::string", /*default=*/"\"\"",
           "packed layout to produce (i2, i2_k64, gpu_w2), for modules "
           "without a #tern.target (tests); it must agree with one">
  ];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernPlanMemory : Pass<"tern-plan-memory", "func::FuncOp"> {
  let summary = "Place a kernel function's buffers in shared arenas by liveness";
  let description = [{
    Kernel lowering allocates one buffer per intermediate value. This pass
    replaces the `memref.alloc`s at the top level of a function body (at most
    one dynamic dimension, not returned; calls only borrow the buffers they
    are passed) by `memref.view`s into one arena per
    size: buffers whose sizes are `n` rows of fixed bytes share an arena of
    `n * bytes` and reuse offsets once their last user has run, so a forward
    pass needs the largest set of simultaneously live rows, not the sum of
    all of them. Offsets are multiples of 64 bytes per row.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def TernPackLMHead : Pass<"tern-pack-lm-head", "ModuleOp"> {
  let summary = "Store the LM head's bf16 table in about 12 bits per value, losslessly";
  let description = [{
    A `tern.lm_head` over a bf16 `tern.weight` (the embedding too, when it is
    the same tied table) gets the table as `#tern.packed_bf16`: the same
    values, bit for bit, in about 3/4 of the bytes, which a generated token
    reads once. A `tern.embedding`'s own bf16 table (untied models, or
    beside an int8 head) is packed too: a smaller executable. Tables whose rows are not a multiple of 64 values (or more
    than 4096), and tables with other users, are left as they are. ternc
    runs it for SIMD CPU kernels unless `--lm-head=plain`.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernQuantizeLMHead : Pass<"tern-quantize-lm-head", "ModuleOp"> {
  let summary = "Quantize the LM head table to int8 with per-row scales";
  let description = [{
    Opt-in (`ternc --lm-head=int8`): each `tern.lm_head` over a float table
    gets an int8 copy of it, `q = round(t / s)` with `s = max|row| / 127` per
    row, and the scales as an `f32` weight. Halves the head's bytes per
    generated token against bf16, and `tern.lm_head` then multiplies it by
    integers (x rows rounded to at most 16 bits, exact integer sums: see its
    description). The embedding keeps the exact table.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TernQuantizeWeights : Pass<"tern-quantize-weights", "ModuleOp"> {
  let summary = "Absmean-quantize latent float BitLinear weights to ternary";
  let description = [{
    For each `tern.bitlinear` whose weight is latent `f32`/`f16`/`bf16`:
    `m = max(mean|W|, 1e-5)`, `T = clamp(round_half_even(W / m), -1, 1)`
    (SPEC §2.1). The weight becomes a ternary `tern.weight` and the op's
    `scale` becomes `m`.
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

#endif // TERN_TRANSFORMS_PASSES
