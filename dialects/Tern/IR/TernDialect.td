//===- TernDialect.td - Tern dialect definition ------------*- tablegen -*-===//
//
// The tern dialect: BitNet b1.58 models from whole-model ops down to int8 x
// ternary matmuls on packed weights.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_DIALECT
#define TERN_DIALECT

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Tern_Dialect : Dialect {
  let name = "tern";
  let summary = "Ternary (BitNet b1.58) language models, from model ops to packed kernels";
  let description = [{
    The `tern` dialect carries a ternary language model through three levels:

    * **Model level** (`tern` phase): `tern.embedding`, `tern.rms_norm`,
      `tern.bitlinear`, `tern.rope`, `tern.attention`, `tern.glu`, `tern.add`,
      `tern.lm_head`. Activations are `f32` tensors of shape `[tokens, features]`
      with a dynamic token dimension.
    * **Quantized level** (`quantized` phase): every `tern.bitlinear` becomes a
      `tern.act_quant` (per-token absmax to `i8` plus one `f32` scale per token)
      feeding a `tern.ternary_matmul` (int32 accumulation, scales applied in
      `f32` afterwards). One quantization may feed several weights.
    * **Packed level** (`packed` phase): ternary weights carry a
      `#tern.packed<...>` encoding that names the byte layout the target's
      kernels read.

    Weights are `tern.weight` ops whose data lives in resource blobs
    (`dense_resource<...>`), never in dense attributes.
  }];
  let cppNamespace = "::mlir::tern";
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::func::FuncDialect"];
  // Module attributes, verified by verifyOperationAttribute.
  let discardableAttrs = (ins
    // Set by tern-set-target: what every later phase generates code for.
    "::mlir::tern::TargetAttr":$target,
    // The frontends' record of the model (ternc's executables read them).
    "::mlir::IntegerAttr":$context_length,
    "::mlir::DenseI64ArrayAttr":$eos_token_ids,
    "::mlir::DenseResourceElementsAttr":$tokenizer,
    // A generic ONNX graph's inputs and outputs (not a language model).
    "::mlir::StringAttr":$graph
  );
  let hasOperationAttrVerify = 1;
}

class Tern_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tern_Dialect, mnemonic, traits>;

#endif // TERN_DIALECT
