//===- RowGraph.h - ONNX graphs other than language models -----*- C++ -*-===//

#ifndef TERN_FRONTEND_ONNX_ROWGRAPH_H
#define TERN_FRONTEND_ONNX_ROWGRAPH_H

#include "ONNXGraph.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::tern::onnx_frontend {

/// A graph input of the generic path: its name and shape, -1 for dimensions
/// left free (the leading ones); the last (features) is always known.
struct GraphInput {
  std::string name;
  std::vector<int64_t> dims;
};

/// Builds a row-wise graph (RowGraph.cpp) from `values` (the graph run on a
/// probe) as `func.func @forward` from [rows, features] inputs to outputs,
/// with module attribute tern.graph describing them for the runtime.
llvm::Expected<OwningOpRef<ModuleOp>>
buildRowGraph(const GraphValues &values, llvm::ArrayRef<GraphInput> inputs,
              MLIRContext &context);

} // namespace mlir::tern::onnx_frontend

#endif // TERN_FRONTEND_ONNX_ROWGRAPH_H
