//===- Interpreter.h - The ONNX reference interpreter, inside ---*- C++ -*-===//
//
// One node at a time on dense tensors (ONNXGraph.h). Ops are split by
// family: Interpreter.cpp (the dispatch, arithmetic, reductions, products),
// InterpreterShapes.cpp (gathers, slices, reshapes, concatenation),
// InterpreterAttention.cpp (opset 23's RMSNormalization, RotaryEmbedding,
// Attention).
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_ONNX_INTERPRETER_H
#define TERN_FRONTEND_ONNX_INTERPRETER_H

#include "ONNXGraph.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/FormatVariadic.h"

#include <functional>
#include <optional>

namespace mlir::tern::onnx_frontend::interp {

using llvm::ArrayRef;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using T = onnx::TensorProto;

Error error(const llvm::Twine &message);
bool isFloatType(int32_t type);
/// Wraps an integer to the range of `type` (two's complement).
int64_t wrap(int32_t type, int64_t v);
std::vector<int64_t> strides(ArrayRef<int64_t> shape);
/// The numpy broadcast of two shapes.
Expected<std::vector<int64_t>> broadcast(ArrayRef<int64_t> a,
                                         ArrayRef<int64_t> b);
/// For each element of `out`, the index of the element of `in` that
/// broadcasts to it.
std::vector<int64_t> broadcastIndex(ArrayRef<int64_t> in,
                                    ArrayRef<int64_t> out);
int64_t normAxis(int64_t axis, int64_t rank);
std::vector<int64_t> intsOf(const Tensor &t);
/// The most elements a tensor the probe run computes may have (its tensors
/// are small; a shape a file states is refused above this before it is
/// allocated).
inline constexpr int64_t kMaxProbeElements = int64_t(1) << 26;

/// `v` as an integer: truncated, saturated at int64's range, NaN as 0 (the
/// probe run's graphs may compute anything; C++'s cast would be undefined).
int64_t toInt64(double v);

class Node {
public:
  Node(const onnx::NodeProto &n, ArrayRef<const Tensor *> in,
       const DataDir &dir)
      : n(n), in(in), dir(dir) {}

  Expected<std::vector<Tensor>> run();
  Expected<Tensor> weight();

private:
  const onnx::AttributeProto *attr(StringRef name) const {
    for (const onnx::AttributeProto &a : n.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t attrInt(StringRef name, int64_t def) const {
    const onnx::AttributeProto *a = attr(name);
    return a ? a->i() : def;
  }
  float attrFloat(StringRef name, float def) const {
    const onnx::AttributeProto *a = attr(name);
    return a ? a->f() : def;
  }
  std::optional<std::vector<int64_t>> attrInts(StringRef name) const {
    const onnx::AttributeProto *a = attr(name);
    if (!a)
      return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  const Tensor *input(size_t k) const {
    return k < in.size() ? in[k] : nullptr;
  }
  Error bad(const llvm::Twine &message) const {
    return error("node '" + n.name() + "' (" + n.op_type() + "): " + message);
  }
  Expected<Tensor> need(size_t k) const {
    if (!input(k))
      return bad(llvm::formatv("input {0} is required", k).str());
    return *input(k);
  }

  Expected<Tensor> unary(std::function<float(float)> f,
                         std::function<int64_t(int64_t)> g = nullptr);
  template <typename F, typename G> Expected<Tensor> binary(F f, G g);
  Expected<Tensor> compare(std::function<bool(double, double)> f);
  Expected<Tensor> reduce(StringRef kind);
  Expected<Tensor> matmul(const Tensor &a, const Tensor &b);
  Expected<Tensor> einsum();
  Expected<Tensor> rmsNormalization();
  Expected<Tensor> rotaryEmbedding();
  Expected<std::vector<Tensor>> attention();
  Expected<Tensor> gather();
  Expected<Tensor> gatherND();
  Expected<Tensor> scatterND();
  Expected<Tensor> flatten();
  Expected<Tensor> cumSum();
  Expected<Tensor> slice();
  Expected<Tensor> reshape(const Tensor &x, std::vector<int64_t> target);
  Expected<Tensor> transpose(const Tensor &x, std::vector<int64_t> perm);
  Expected<Tensor> concat();
  Expected<std::vector<Tensor>> split();
  Expected<Tensor> softmax();
  Expected<Tensor> cast();
  Expected<Tensor> where();
  Expected<Tensor> expand();
  Expected<Tensor> trilu();
  Expected<Tensor> nbitsWeight();
  Expected<Tensor> matmulNBits();
  Expected<Tensor> gemm();
  Expected<Tensor> constant();

  const onnx::NodeProto &n;
  ArrayRef<const Tensor *> in;
  const DataDir &dir;
};

} // namespace mlir::tern::onnx_frontend::interp

#endif // TERN_FRONTEND_ONNX_INTERPRETER_H
