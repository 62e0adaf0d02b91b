//===- ONNXGraph.h - ONNX tensors, and a reference interpreter -*- C++ -*-===//
//
// The ONNX frontend reads a graph by running it: once at compile time, on a
// short probe input, with the plain loops below. Every value then has
// numbers, so that weight chains are folded to their result, shapes and RoPE
// tables can be read off, and every pattern the frontend recognises is
// checked against what the graph really computed (LMRecognizer.cpp).
//
// Float tensors compute in f32 as ONNX specifies (the BitNet quantizers'
// rounding depends on it); integer tensors in int64, wrapped to their type.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_ONNX_ONNXGRAPH_H
#define TERN_FRONTEND_ONNX_ONNXGRAPH_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::tern::onnx_frontend {

/// A dense tensor: floats (FLOAT, FLOAT16, BFLOAT16, DOUBLE read as f32) or
/// integers (every integer type and BOOL, kept as int64).
struct Tensor {
  /// The ONNX TensorProto data type it has (FLOAT for every float type).
  int32_t type = onnx::TensorProto::FLOAT;
  std::vector<int64_t> shape;
  std::vector<float> f;
  std::vector<int64_t> i;

  bool isFloat() const { return type == onnx::TensorProto::FLOAT; }
  int64_t size() const;
  int64_t rank() const { return int64_t(shape.size()); }
  /// Element `k` as a double, whatever the type.
  double at(int64_t k) const { return isFloat() ? f[k] : double(i[k]); }

  static Tensor floats(std::vector<int64_t> shape, std::vector<float> data);
  static Tensor ints(int32_t type, std::vector<int64_t> shape,
                     std::vector<int64_t> data);
};

/// "[2, 3]".
std::string shapeString(llvm::ArrayRef<int64_t> shape);

/// Bytes per element of an ONNX tensor data type, or 0 for types Tern does
/// not read (the checker rejects those before anything is read).
int64_t elementBytes(int32_t type);

/// Reads an initializer or a Constant's tensor; external data is read from
/// the file named relative to `dir`.
llvm::Expected<Tensor> readTensor(const onnx::TensorProto &proto,
                                  llvm::StringRef dir);

/// Runs one node on its inputs (null for omitted optional inputs). Errors
/// name the node and say what is wrong with its inputs or attributes.
llvm::Expected<std::vector<Tensor>>
evaluateNode(const onnx::NodeProto &node, llvm::ArrayRef<const Tensor *> inputs,
             llvm::StringRef dir);

/// The [K, N] float matrix that a matmul-like node (MatMul, Gemm,
/// MatMulInteger, com.microsoft.MatMulNBits) multiplies its first input by,
/// from the values of its other inputs.
llvm::Expected<Tensor> matmulWeight(const onnx::NodeProto &node,
                                    llvm::ArrayRef<const Tensor *> inputs);

/// A graph with every value computed for one binding of its inputs.
class GraphValues {
public:
  explicit GraphValues(const onnx::GraphProto &graph) : graph(graph) {}

  /// Evaluates every node in order, with `inputs` bound to graph inputs.
  /// The values of `dynamicInputs` (default: all inputs) make what depends
  /// on them dynamic; the other inputs are fixed settings, like shapes.
  llvm::Error run(llvm::StringMap<Tensor> inputs, llvm::StringRef dir,
                  llvm::ArrayRef<std::string> dynamicInputs = {});

  /// The value of `name`. Large constants that only fed constant folding
  /// are released after the run (their data is empty).
  const Tensor *get(llvm::StringRef name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  /// The node that produces `name`, or null for inputs and initializers.
  const onnx::NodeProto *producer(llvm::StringRef name) const {
    auto it = producers.find(name);
    return it == producers.end() ? nullptr : it->second;
  }
  /// The nodes that read `name`, in graph order.
  llvm::ArrayRef<const onnx::NodeProto *>
  consumers(llvm::StringRef name) const {
    auto it = readers.find(name);
    return it == readers.end() ? llvm::ArrayRef<const onnx::NodeProto *>()
                               : llvm::ArrayRef(it->second);
  }
  /// Whether the value depends on the contents of a graph input (not only
  /// on its shape): activations, as opposed to weights, shapes and tables.
  bool isDynamic(llvm::StringRef name) const { return dynamic.contains(name); }
  /// Whether `name` is a graph initializer.
  bool isInitializer(llvm::StringRef name) const {
    return initializers.contains(name);
  }

  const onnx::GraphProto &graph;

private:
  llvm::StringMap<Tensor> values;
  llvm::StringMap<const onnx::NodeProto *> producers;
  llvm::StringMap<std::vector<const onnx::NodeProto *>> readers;
  llvm::StringMap<bool> dynamic, initializers;
};

} // namespace mlir::tern::onnx_frontend

#endif // TERN_FRONTEND_ONNX_ONNXGRAPH_H
