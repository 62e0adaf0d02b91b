//===- TernOps.td - Tern operations ------------------------*- tablegen -*-===//

#ifndef TERN_OPS
#define TERN_OPS

include "TernDialect.td"
include "TernTypes.td"
include "TernAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Tern_Trit : Type<CPred<"::llvm::isa<::mlir::tern::TritType>($_self)">,
                     "ternary", "::mlir::tern::TritType">;
// [tokens, features] activations.
def Tern_Activations : TensorRankOf<[F32], [2]>;
def Tern_QuantActivations : TensorRankOf<[I8], [2]>;
def Tern_TokenVector : TensorRankOf<[F32], [1]>;
def Tern_TokenIds : TensorRankOf<[I32], [1]>;
def Tern_FloatTable : TensorRankOf<[F32, F16, BF16], [2]>;
// An LM head table: float, or int8 with per-row scales.
def Tern_HeadTable : TensorRankOf<[F32, F16, BF16, I8], [2]>;
// A BitLinear weight: latent floats, ternary, or packed ternary.
def Tern_LinearWeight : TensorRankOf<[F32, F16, BF16, Tern_Trit], [2]>;
def Tern_TernaryWeight : TensorRankOf<[Tern_Trit], [2]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Tern_WeightOp : Tern_Op<"weight", [Pure]> {
  let summary = "a named model weight backed by a resource blob";
  let description = [{
    Materializes one tensor of the model. `name` is the tensor's name in the
    source file, used in diagnostics and for symbol names in the executable.
    `value` holds the data, normally a `dense_resource` blob that views the
    mapped input file or a blob written by a pass.

    The result type is the logical tensor. Ternary tensors store one trit per
    `i8`; packed ternary tensors (`#tern.packed<...>` encoding) store the bytes
    of their layout as a flat `i8` blob.

    ```mlir
    %e = tern.weight "model.embed_tokens.weight" = dense_resource<embed> : tensor<256x64xf32> -> tensor<256x64xf32>
    %w = tern.weight "q_proj" = dense_resource<q> : tensor<1024xi8> -> tensor<64x64x!tern.trit, #tern.packed<i2>>
    ```
  }];
  let arguments = (ins StrAttr:$name, ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name `=` $value attr-dict `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

def Tern_EmbeddingOp : Tern_Op<"embedding", [Pure]> {
  let summary = "look up token embeddings";
  let description = [{
    Row `ids[t]` of `table` for each token `t`, converted to `f32`. Ids must
    be in `[0, V)`; the runtime checks them before the model runs.

    ```mlir
    %h = tern.embedding %table[%ids] : tensor<256x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_FloatTable:$table, Tern_TokenIds:$ids);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tern_RMSNormOp : Tern_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization over the feature dimension";
  let description = [{
    `y = gamma * (x / sqrt(mean(x^2) + epsilon))` per token, in `f32`.

    ```mlir
    %y = tern.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input, Tern_TokenVector:$gamma,
                       F32Attr:$epsilon);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = "$input `,` $gamma attr-dict `:` type($input) `,` type($gamma)";
  let hasVerifier = 1;
}

def Tern_BitLinearOp : Tern_Op<"bitlinear", [Pure]> {
  let summary = "BitNet b1.58 linear layer (float in, float out)";
  let description = [{
    `y = x @ W_eff^T` where the input is quantized per token to `i8` (absmax)
    and `W_eff = T * scale` with ternary `T`. The weight `[N, K]` is one of:

    * latent floats (`f32`/`f16`/`bf16`, no `scale`): `tern-quantize-weights`
      makes it ternary with the absmean rule and sets `scale`;
    * ternary or packed ternary, with `scale` = the multiplier of the integer
      result (frontends turn a checkpoint's divisor into a multiplier).

    ```mlir
    %y = tern.bitlinear %x, %w {scale = 2.0e-02 : f32} : tensor<?x64xf32>, tensor<32x64x!tern.trit> -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input, Tern_LinearWeight:$weight,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tern_RopeOp : Tern_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding of each head";
  let description = [{
    Rotates every `head_dim`-wide head of `input` by angles
    `positions[t] / theta^(2i / head_dim)`, frequencies rescaled by `scaling`
    when present (`#tern.rope_llama3`) and divided by `freq_factors[i]`
    when present (ggml's form of the same, from a GGUF's
    `rope_freqs.weight`). `half_split` pairs dimension `i`
    with `i + head_dim/2` (Hugging Face / NEOX); `interleaved` pairs `2i` with
    `2i + 1`.

    ```mlir
    %q2 = tern.rope %q, %pos {head_dim = 16 : i64, style = #tern.rope_style<half_split>, theta = 1.0e+04 : f32} : tensor<?x64xf32>, tensor<?xi32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input, Tern_TokenIds:$positions,
                       I64Attr:$head_dim, F32Attr:$theta, Tern_RopeStyleAttr:$style,
                       OptionalAttr<Tern_RopeScalingAttr>:$scaling,
                       OptionalAttr<DenseF32ArrayAttr>:$freq_factors);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = "$input `,` $positions attr-dict `:` type($input) `,` type($positions)";
  let hasVerifier = 1;
}

def Tern_AttentionOp : Tern_Op<"attention"> {
  let summary = "causal grouped-query attention over the KV cache";
  let description = [{
    Appends this call's `k` and `v` rows to layer `layer`'s KV cache at
    `positions`, then computes `softmax(q K^T / sqrt(head_dim) + causal) V` per
    head in `f32`. Query head `h` reads KV head `h / (num_heads / num_kv_heads)`.
    The cache itself is implicit here and made explicit by memory planning.

    ```mlir
    %o = tern.attention %q, %k, %v, %pos {head_dim = 16 : i64, layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64}
        : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$query, Tern_Activations:$key,
                       Tern_Activations:$value, Tern_TokenIds:$positions,
                       I64Attr:$layer, I64Attr:$num_heads, I64Attr:$num_kv_heads,
                       I64Attr:$head_dim);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $positions attr-dict `:` type($query) `,`
    type($key) `,` type($value) `,` type($positions) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tern_GluOp : Tern_Op<"glu", [Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "gated feed-forward product act(gate) * up";
  let description = [{
    `relu2`: `max(gate, 0)^2 * up` (BitNet 2B4T); `silu`:
    `gate / (1 + exp(-gate)) * up` (1bitLLM). Always `f32`.

    ```mlir
    %m = tern.glu %g, %u {activation = #tern.activation<relu2>} : tensor<?x128xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$gate, Tern_Activations:$up,
                       Tern_GluActivationAttr:$activation);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Tern_AddOp : Tern_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "elementwise sum (residual connection)";
  let description = [{
    ```mlir
    %h2 = tern.add %h, %y : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$lhs, Tern_Activations:$rhs);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Tern_UnaryOp : Tern_Op<"unary", [Pure, SameOperandsAndResultType]> {
  let summary = "elementwise function of activations (generic graphs)";
  let description = [{
    `y[t, j] = fn(x[t, j])` in `f32`. The ONNX frontend's generic path maps
    row-wise graphs (MLPs, classifiers) onto it; BitNet models do not need
    it. `round` rounds half to even, as ONNX's Round; `erf` is accurate to
    about 1e-7 (a Chebyshev fit of erfc, Numerical Recipes 6.2).

    ```mlir
    %y = tern.unary %x {fn = #tern.unary<sigmoid>} : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input, Tern_UnaryFnAttr:$fn);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Tern_RowOperand : TensorRankOf<[F32], [1, 2]>;

def Tern_BinaryOp : Tern_Op<"binary", [Pure]> {
  let summary = "elementwise function of two operands, vectors broadcast";
  let description = [{
    `z[t, j] = fn(a[t, j], b[t, j])` in `f32`, where an operand of rank 1 (a
    constant vector of the row's size, or of size 1) is the same for every
    row, and activations of one column (`tensor<?x1xf32>`, a row's
    `tern.reduce`) are the same along the row. At least one operand is
    activations. `pow` is `powf`.

    ```mlir
    %z = tern.binary %x, %bias {fn = #tern.binary<add>} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_RowOperand:$lhs, Tern_RowOperand:$rhs,
                       Tern_BinaryFnAttr:$fn);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tern_ReduceOp : Tern_Op<"reduce", [Pure]> {
  let summary = "one value per row: sum, mean or max (generic graphs)";
  let description = [{
    `y[t, 0] = fn_j x[t, j]` in `f32` (sums in 16 lanes, then a tree, as
    the other row kernels). With `tern.binary`
    it spells the row-wise reductions of generic graphs: softmax, layer
    normalization.

    ```mlir
    %m = tern.reduce %x {fn = #tern.reduce<max>} : tensor<?x64xf32> -> tensor<?x1xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input, Tern_ReduceFnAttr:$fn);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Tern_LMHeadOp : Tern_Op<"lm_head", [Pure]> {
  let summary = "full-precision output projection to vocabulary logits";
  let description = [{
    `logits[t, v] = sum_d x[t, d] * table[v, d]` with `f32` accumulation. The
    table is often the (tied) embedding table. An `i8` table (from
    `tern-quantize-lm-head`) has per-row `scales`, and the product is of
    integers, exact in `i32`: with `D` columns,
    `qmax = min(32767, (2^31 - 1) / (127 D))` (integer division),
    `s[t] = qmax / max(max_d |x[t, d]|, 1e-5)`,
    `xq[t, d] = clamp(round_half_even(x[t, d] * s[t]), -qmax, qmax)`, and
    `logits[t, v] = f32(sum_d xq[t, d] * table[v, d]) / s[t] * scales[v]`
    (the ternary matmul's epilogue), each `f32` operation rounded once:
    the same bits on every target.

    ```mlir
    %l = tern.lm_head %x, %table : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
    %l8 = tern.lm_head %x, %q scales %s : tensor<?x64xf32>, tensor<256x64xi8>, tensor<256xf32> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input, Tern_HeadTable:$table,
                       Optional<Tern_TokenVector>:$scales);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = [{
    $input `,` $table (`scales` $scales^)? attr-dict `:` type($input) `,`
    type($table) (`,` type($scales)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Tern_LinearOp : Tern_Op<"linear", [Pure]> {
  let summary = "full-precision linear layer (the float baseline)";
  let description = [{
    `y[t, n] = sum_k x[t, k] * weight[n, k]` with `f32` accumulation over a
    float weight (`f32`/`f16`/`bf16`). Not part of a BitNet model:
    `tern-float-weights` turns every `tern.bitlinear` into one, so that the
    same model can be compiled and measured with 16-bit weights.
    ```mlir
    %y = tern.linear %x, %w : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input, Tern_FloatTable:$weight);
  let results = (outs Tern_Activations:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantized-level ops
//===----------------------------------------------------------------------===//

def Tern_ActQuantOp : Tern_Op<"act_quant", [Pure]> {
  let summary = "per-token absmax quantization of activations to int8";
  let description = [{
    For each token row `x`: `amax = max(max|x|, 1e-5)`, `s = 127 / amax`,
    `q = clamp(round_half_even(x * s), -128, 127)`. Returns `q` and the
    per-token scale `s` (so that `x ~= q / s`).

    ```mlir
    %q, %s = tern.act_quant %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Tern_Activations:$input);
  let results = (outs Tern_QuantActivations:$quantized, Tern_TokenVector:$scale);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($quantized) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def Tern_NormQuantOp : Tern_Op<"norm_quant", [Pure]> {
  let summary = "RMSNorm and act_quant in one pass per row (optionally after a glu)";
  let description = [{
    `act_quant(rms_norm(x, gamma))` with `x` the one input, or
    `x = glu(gate, up)` with two inputs and an `activation`: the sub-norm
    before a down projection. Made by `tern-fuse-norm-quant`; the kernel
    computes the same values in the same order as the separate ops, with no
    float row written in between.

    ```mlir
    %q, %s = tern.norm_quant(%x), %g {epsilon = 1.0e-05 : f32} : (tensor<?x64xf32>), tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %q2, %s2 = tern.norm_quant(%gate, %up), %g2 {activation = #tern.activation<relu2>, epsilon = 1.0e-05 : f32} : (tensor<?x128xf32>, tensor<?x128xf32>), tensor<128xf32> -> tensor<?x128xi8>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Variadic<Tern_Activations>:$inputs,
                       Tern_TokenVector:$gamma, F32Attr:$epsilon,
                       OptionalAttr<Tern_GluActivationAttr>:$activation);
  let results = (outs Tern_QuantActivations:$quantized, Tern_TokenVector:$scale);
  let assemblyFormat = [{
    `(` $inputs `)` `,` $gamma attr-dict `:` `(` type($inputs) `)` `,`
    type($gamma) `->` type($quantized) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def Tern_TernaryMatmulOp : Tern_Op<"ternary_matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "int8 activations times ternary weights, scaled to f32";
  let description = [{
    For each weight `W_i` (`[N_i, K]`, ternary or packed) with scale
    `scales[i]`: `acc = sum_k q[t, k] * W_i[n, k]` in `i32`, then
    `y_i[t, n] = acc / s[t] * scales[i]` in `f32`. Several weights reading
    the same quantized input (q/k/v, gate/up) share one op. With one weight
    it may take a `residual` added in the epilogue, `y + residual`
    (`tern-fuse-residual`: the residual connection after o_proj and down).

    ```mlir
    %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 2.0e-02>}
        : tensor<?x64xi8>, tensor<?xf32>, tensor<32x64x!tern.trit> -> tensor<?x32xf32>
    %h2 = tern.ternary_matmul %q, %s, %w residual %h {scales = array<f32: 2.0e-02>}
        : tensor<?x64xi8>, tensor<?xf32>, tensor<32x64x!tern.trit> residual tensor<?x32xf32> -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Tern_QuantActivations:$input, Tern_TokenVector:$scale,
                       Variadic<Tern_TernaryWeight>:$weights,
                       Optional<Tern_Activations>:$residual,
                       DenseF32ArrayAttr:$scales);
  let results = (outs Variadic<Tern_Activations>:$results);
  let assemblyFormat = [{
    $input `,` $scale `,` $weights (`residual` $residual^)? attr-dict `:`
    type($input) `,` type($scale) `,` type($weights)
    (`residual` type($residual)^)? `->` type($results)
  }];
  let hasVerifier = 1;
}

#endif // TERN_OPS
