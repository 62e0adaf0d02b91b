//===- LMRecognizer.h - BitNet language models in ONNX graphs --*- C++ -*-===//

#ifndef TERN_FRONTEND_ONNX_LMRECOGNIZER_H
#define TERN_FRONTEND_ONNX_LMRECOGNIZER_H

#include "ONNXGraph.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::tern::onnx_frontend {

/// Finds a BitNet b1.58 language model in a graph that maps token ids
/// (graph input `ids`) to logits, in `values` (the graph run on a probe), and
/// builds it with buildBitNetModel. Every part it recognises is checked
/// against the probe's values; a part that does not match is an error
/// naming its node.
llvm::Expected<OwningOpRef<ModuleOp>>
buildLanguageModel(const GraphValues &values, llvm::StringRef ids,
                   llvm::StringRef logits, MLIRContext &context);

} // namespace mlir::tern::onnx_frontend

#endif // TERN_FRONTEND_ONNX_LMRECOGNIZER_H
