//===- TernAttrs.td - Tern attributes and enums ------------*- tablegen -*-===//

#ifndef TERN_ATTRS
#define TERN_ATTRS

include "TernDialect.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Tern_RopeStyle : I32EnumAttr<"RopeStyle", "which dimensions RoPE rotates together", [
    I32EnumAttrCase<"HalfSplit", 0, "half_split">,
    I32EnumAttrCase<"Interleaved", 1, "interleaved">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::tern";
}
def Tern_RopeStyleAttr : EnumAttr<Tern_Dialect, Tern_RopeStyle, "rope_style"> {
  let assemblyFormat = "`<` $value `>`";
}

def Tern_GluActivation : I32EnumAttr<"GluActivation", "gate activation of a GLU feed-forward block", [
    I32EnumAttrCase<"Relu2", 0, "relu2">,
    I32EnumAttrCase<"Silu", 1, "silu">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::tern";
}
def Tern_GluActivationAttr : EnumAttr<Tern_Dialect, Tern_GluActivation, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}

def Tern_UnaryFn : I32EnumAttr<"UnaryFn", "elementwise function of tern.unary", [
    I32EnumAttrCase<"Relu", 0, "relu">,
    I32EnumAttrCase<"Sigmoid", 1, "sigmoid">,
    I32EnumAttrCase<"Tanh", 2, "tanh">,
    I32EnumAttrCase<"Neg", 3, "neg">,
    I32EnumAttrCase<"Abs", 4, "abs">,
    I32EnumAttrCase<"Sqrt", 5, "sqrt">,
    I32EnumAttrCase<"Reciprocal", 6, "reciprocal">,
    I32EnumAttrCase<"Exp", 7, "exp">,
    I32EnumAttrCase<"Round", 8, "round">,
    I32EnumAttrCase<"Erf", 9, "erf">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::tern";
}
def Tern_UnaryFnAttr : EnumAttr<Tern_Dialect, Tern_UnaryFn, "unary"> {
  let assemblyFormat = "`<` $value `>`";
}

def Tern_BinaryFn : I32EnumAttr<"BinaryFn", "elementwise function of tern.binary", [
    I32EnumAttrCase<"Add", 0, "add">,
    I32EnumAttrCase<"Sub", 1, "sub">,
    I32EnumAttrCase<"Mul", 2, "mul">,
    I32EnumAttrCase<"Div", 3, "div">,
    I32EnumAttrCase<"Pow", 4, "pow">,
    I32EnumAttrCase<"Max", 5, "max">,
    I32EnumAttrCase<"Min", 6, "min">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::tern";
}
def Tern_BinaryFnAttr : EnumAttr<Tern_Dialect, Tern_BinaryFn, "binary"> {
  let assemblyFormat = "`<` $value `>`";
}

def Tern_ReduceFn : I32EnumAttr<"ReduceFn", "row reduction of tern.reduce", [
    I32EnumAttrCase<"Sum", 0, "sum">,
    I32EnumAttrCase<"Mean", 1, "mean">,
    I32EnumAttrCase<"Max", 2, "max">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::tern";
}
def Tern_ReduceFnAttr : EnumAttr<Tern_Dialect, Tern_ReduceFn, "reduce"> {
  let assemblyFormat = "`<` $value `>`";
}

def Tern_PackedLayout : I32EnumAttr<"PackedLayout", "byte layout of packed ternary weights", [
    I32EnumAttrCase<"I2", 0, "i2">,
    I32EnumAttrCase<"HFRows", 1, "hf_rows">,
    I32EnumAttrCase<"I2K64", 2, "i2_k64">,
    I32EnumAttrCase<"GpuW2", 3, "gpu_w2">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::tern";
}

//===----------------------------------------------------------------------===//
// #tern.packed
//===----------------------------------------------------------------------===//

def Tern_PackedAttr : AttrDef<Tern_Dialect, "Packed"> {
  let mnemonic = "packed";
  let summary = "physical layout of a packed ternary weight tensor";
  let description = [{
    A tensor encoding for `tensor<N x K x !tern.trit, #tern.packed<...>>`: the
    logical shape stays `[N, K]` (output features, input features) while the
    data is a byte blob in the named layout.

    * `i2`: 2-bit codes `c = t + 1` (0, 1, 2), four per byte along K, low bits
      first; row `n` occupies `ceil(K / 4)` bytes, rows are contiguous. The
      portable layout every target can read.
    * `hf_rows`: the Hugging Face BitNet checkpoint packing (SPEC 6.1): byte
      `[r, k]` of a `[N/4, K]` array holds the codes of rows `r`, `N/4 + r`,
      `N/2 + r` and `3N/4 + r` at bits 1:0, 3:2, 5:4 and 7:6; `N` must be a
      multiple of 4. Frontends keep checkpoint bytes in it, as mapped;
      `tern-pack-weights` re-encodes it for the kernels.
    * `i2_k64`: for SIMD kernels. Each row is cut into blocks of 64 along K
      (the last one padded with trit 0), 16 bytes per block: byte `j` of
      block `b` holds the codes `t + 1` of `k = 64b + j + 16i` at bits
      `2i+1:2i`, `i = 0..3`. One 16-byte load, replicated to four 128-bit
      lanes and shifted by 0, 2, 4, 6 bits per lane, gives the 64 codes in K
      order, ready for a byte dot product with 64 int8 activations. Rows go
      in groups of 8 (padded with trit-0 rows) whose blocks are interleaved:
      block `b` of row `n` is at byte `((n / 8 * blocks + b) * 8 + n % 8) *
      16`, so a kernel reading 8 rows at once streams memory sequentially.
    * `gpu_w2`: for NVIDIA GPUs (one thread per output row). Each row is cut
      into blocks of 16 along K (the last one padded with trit 0); block `b`
      of row `n` is the 32-bit little-endian word `b * N + n`, holding the
      codes `t + 1` of `k = 16b + j` at bits `2j+1:2j`. The threads of a warp
      (consecutive rows) read consecutive words: every load is coalesced.

    ```mlir
    tensor<64x256x!tern.trit, #tern.packed<i2>>
    ```
  }];
  let parameters = (ins EnumParameter<Tern_PackedLayout>:$layout);
  let assemblyFormat = "`<` $layout `>`";
  let extraClassDeclaration = [{
    /// Bytes the packed data of an [n, k] weight occupies in this layout.
    int64_t getNumBytes(int64_t n, int64_t k) const;
  }];
}

//===----------------------------------------------------------------------===//
// #tern.packed_bf16
//===----------------------------------------------------------------------===//

def Tern_PackedBF16Attr : AttrDef<Tern_Dialect, "PackedBF16"> {
  let mnemonic = "packed_bf16";
  let summary = "a bf16 table stored losslessly in about 12 bits per value";
  let description = [{
    A tensor encoding for `tensor<V x D x bf16, #tern.packed_bf16<...>>`, D a
    multiple of 64 and at most 4096 (made by `tern-pack-lm-head`): the same
    values, bit for bit, in 3/4 of the bytes. A bf16's high byte is its sign
    and the top 7 bits of its exponent; a table's values mostly span a few
    binades, so that byte takes few values. Each is stored as a 4-bit code
    `c`: high byte = `(c & 8) << 4 | (base + (c & 7))`, the 8 exponent pairs
    from `base` with either sign. The low byte is stored as is.

    Row `v` is `16 + 96 * D / 64` bytes: a header (a little-endian u64 whose
    bit `b` says block `b` escapes, then the u32 index of the row's first
    escaped block), then per block of 64 values its 64 low bytes and 32
    bytes of codes (value `j < 32` in the low nibble of byte `j`, value
    `j + 32` in the high one). The `escapes` blocks with a high byte outside
    the window follow all rows, 64 high bytes each, in row and block order;
    an escaped block's codes are zero.

    ```mlir
    tensor<128256x2560xbf16, #tern.packed_bf16<base = 54, escapes = 1200>>
    ```
  }];
  let parameters = (ins "int64_t":$base, "int64_t":$escapes);
  let assemblyFormat = "`<` struct(params) `>`";
  let extraClassDeclaration = [{
    /// Bytes the packed data of a [v, d] table occupies.
    int64_t getNumBytes(int64_t v, int64_t d) const;
  }];
}

//===----------------------------------------------------------------------===//
// #tern.target
//===----------------------------------------------------------------------===//

def Tern_TargetAttr : AttrDef<Tern_Dialect, "Target"> {
  let mnemonic = "target";
  let summary = "the target a module's kernels are generated for";
  let description = [{
    The module attribute `tern.target`, attached by `tern-set-target` at the
    start of the packed phase (ternc resolves it once from `--target`,
    `--mcpu`, `--mattr` and `--kernels`). Everything after reads it:
    `tern-pack-weights` encodes ternary weights in `ternary_layout`, and
    `tern-lower-to-kernels` generates the `kernels` family's code.

    * `triple`, `cpu`, `features`: the LLVM target the code is for (for
      NVIDIA targets `cpu` is the GPU architecture, e.g. `sm_90`).
    * `kernels`: the kernel family (`ternc --list-targets` lists them with
      the features each needs).
    * `ternary_layout`: the `#tern.packed` layout of ternary weights, the one
      the family reads. Embedding and LM head tables keep their stored
      element type.

    A module whose packed ternary weights are in another layout does not
    verify: the layout and the kernels that decode it cannot drift apart.

    ```mlir
    module attributes {tern.target = #tern.target<triple = "x86_64-unknown-linux-gnu",
        cpu = "x86-64-v3", features = "", kernels = "avx2", ternary_layout = i2_k64>} {}
    ```
  }];
  let parameters = (ins
    StringRefParameter<"LLVM target triple">:$triple,
    StringRefParameter<"LLVM CPU name or GPU architecture">:$cpu,
    StringRefParameter<"LLVM target features (+name,-name)">:$features,
    StringRefParameter<"kernel family">:$kernels,
    EnumParameter<Tern_PackedLayout>:$ternary_layout);
  let assemblyFormat = "`<` struct(params) `>`";
}

def Tern_RopeScalingAttr : AttrDef<Tern_Dialect, "RopeScaling"> {
  let mnemonic = "rope_llama3";
  let summary = "Llama 3.1's scaling of rotary frequencies";
  let description = [{
    transformers' `rope_type: "llama3"`: with `f = 2 pi / inv_freq[i]` the
    wavelength of frequency `i`, `low = original_context / low_freq_factor`
    and `high = original_context / high_freq_factor`, a frequency whose
    wavelength is longer than `low` is divided by `factor`, one shorter than
    `high` is kept, and one in between is blended:
    `(1 - a) * inv_freq / factor + a * inv_freq` with
    `a = (original_context / f - low_freq_factor) /
    (high_freq_factor - low_freq_factor)`.

    ```mlir
    #tern.rope_llama3<factor = 8.000000e+00 : f32, low_freq_factor = 1.000000e+00 : f32, high_freq_factor = 4.000000e+00 : f32, original_context = 8192>
    ```
  }];
  let parameters = (ins "FloatAttr":$factor, "FloatAttr":$low_freq_factor,
                        "FloatAttr":$high_freq_factor, "int64_t":$original_context);
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // TERN_ATTRS
