//===- Interpreter.h - The ONNX reference interpreter, inside ---*- C++ -*-===//
//
// One node at a time on dense tensors (ONNXGraph.h). Ops are split by
// family: Interpreter.cpp (the dispatch, arithmetic, reductions),
// InterpreterProducts.cpp (MatMul, Gemm, MatMulInteger, MatMulNBits),
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
/// The numpy broadcast of two shapes, refused when it has more elements
/// than kMaxProbeElements and `allowed` (the size of an input the result
/// only copies: a weight scaled in place is larger than any probe tensor).
Expected<std::vector<int64_t>>
broadcast(ArrayRef<int64_t> a, ArrayRef<int64_t> b, int64_t allowed = 0);
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

/// The number of elements of `shape`, or an error when a dimension is
/// negative or there are more than kMaxProbeElements and `allowed`: what a
/// node computes is checked before it is allocated.
Expected<int64_t> elementsWithin(ArrayRef<int64_t> shape, int64_t allowed = 0);

/// Two's complement arithmetic on int64 values (a graph's integers may be
/// anything, and signed overflow would be undefined).
inline int64_t addWrap(int64_t a, int64_t b) {
  return int64_t(uint64_t(a) + uint64_t(b));
}
inline int64_t subWrap(int64_t a, int64_t b) {
  return int64_t(uint64_t(a) - uint64_t(b));
}
inline int64_t mulWrap(int64_t a, int64_t b) {
  return int64_t(uint64_t(a) * uint64_t(b));
}

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
  /// The first element of input `k` (a scalar setting), or an error when
  /// it is empty.
  Expected<double> first(size_t k) const {
    if (!input(k) || input(k)->size() == 0)
      return bad(llvm::formatv("input {0} must have a value", k).str());
    return input(k)->at(0);
  }
  /// Checks the inputs' kinds (float or integer) that the op requires.
  Error checkKinds() const;
  /// The element count of an output of shape `shape`, or an error naming
  /// the node (elementsWithin).
  Expected<int64_t> fits(ArrayRef<int64_t> shape, int64_t allowed = 0) const {
    auto n = elementsWithin(shape, allowed);
    if (!n)
      return bad(llvm::toString(n.takeError()));
    return *n;
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
