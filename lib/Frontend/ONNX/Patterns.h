//===- Patterns.h - BitLinear and RMSNorm in ONNX graphs -------*- C++ -*-===//
//
// Recognising a part of a graph means finding it by a few landmarks and then
// checking it by its numbers on the probe run (ONNXGraph.h), not by its exact
// op sequence, which differs between exporters (SPEC 8):
//   - a BitLinear is a matrix product by ternary weights (one magnitude)
//     whose input went through a per-token ReduceMax(|x|): its output must
//     equal dot(q(x), T) / s(x) * scale (SPEC 2.2-2.3), for one scale;
//   - an RMSNorm ends in ReduceMean(x^2) ... Mul(gain), or is a
//     SimplifiedLayerNormalization, and must equal gain * x / rms(x).
//
//===----------------------------------------------------------------------===//

#ifndef TERN_FRONTEND_ONNX_PATTERNS_H
#define TERN_FRONTEND_ONNX_PATTERNS_H

#include "ONNXGraph.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>

namespace mlir::tern::onnx_frontend {

/// Parts must match the graph's own numbers this closely (relative to the
/// largest value): float summation order is all that may differ.
constexpr double kTolerance = 1e-4;

llvm::Error fail(const llvm::Twine &message);
bool isMatmul(llvm::StringRef op);
/// max |got - want| / max |got| (0 when both are all zero).
double relDiff(llvm::ArrayRef<float> got, llvm::ArrayRef<double> want);

struct Linear {
  const onnx::NodeProto *node = nullptr;
  /// The quantized input (an RMSNorm's output) and the scaled output.
  std::string x, y;
  int64_t k = 0, n = 0;
  std::vector<int8_t> trits; // [n, k]
  float scale = 1;
  /// Added to the scaled output (nn.Linear's bias: Gemm's C, or an Add of
  /// a constant [n] after the product); empty when there is none. `y` is
  /// the sum.
  std::vector<float> bias;
};

struct Norm {
  std::string input;
  std::vector<float> gain;
  float eps = 0;
  /// False for a BitLinear that quantizes its input as it is (Llama-
  /// architecture BitNets' o_proj and down_proj): `input` is that input.
  bool present = true;
};

class Matcher {
public:
  explicit Matcher(const GraphValues &g) : g(g) {}

  const Tensor &val(llvm::StringRef v) const { return *g.get(v); }
  std::string name(const onnx::NodeProto &n) const {
    return "node '" + n.name() + "' (" + n.op_type() + ")";
  }
  /// "'v' (from node 'n' (Op))": a value with the node that computes it.
  std::string value(llvm::StringRef v) const {
    const onnx::NodeProto *p = g.producer(v);
    return "'" + v.str() + "'" + (p ? " (from " + name(*p) + ")" : "");
  }
  /// A node whose output holds its input's floats, maybe in another shape:
  /// a float-to-float Cast or Identity (floats are computed in f32 whatever
  /// their stored type), or a Reshape, Squeeze, Unsqueeze, Flatten or
  /// Expand that keeps the number of elements.
  bool isValueCopy(const onnx::NodeProto &n) const;
  /// `v` with copies, and chains of reshapes that return to its shape,
  /// skipped.
  std::string source(std::string v) const;
  /// The nodes that read `v` or the same values in its shape through such
  /// nodes (the forward counterpart of `source`).
  std::vector<const onnx::NodeProto *>
  readersThroughCopies(llvm::StringRef v) const;
  /// The first node (breadth first, nearest first) among the dynamic
  /// ancestors (or descendants) of `v` for which `pick` holds; the search
  /// does not cross matrix products, softmaxes, or nodes `stop` picks.
  const onnx::NodeProto *search(
      llvm::StringRef v, bool forward,
      llvm::function_ref<bool(const onnx::NodeProto &)> pick,
      llvm::function_ref<bool(const onnx::NodeProto &)> stop = nullptr) const;

  /// The BitLinear whose matrix product is `m`; none when `m` is not a
  /// product of per-token quantized activations by ternary weights; an
  /// error when it is, but the numbers do not match.
  llvm::Expected<std::optional<Linear>>
  matchLinear(const onnx::NodeProto &m) const;
  /// Every BitLinear of the graph, in node order.
  llvm::Expected<std::vector<Linear>> matchLinears() const;
  /// The RMSNorm whose output is `x`; one that is not `present` when no
  /// norm's landmarks precede `x`, an error when they do but the numbers do
  /// not match.
  llvm::Expected<Norm> matchNorm(llvm::StringRef x) const;

  const GraphValues &g;
};

} // namespace mlir::tern::onnx_frontend

#endif // TERN_FRONTEND_ONNX_PATTERNS_H
