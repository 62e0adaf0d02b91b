//===- Patterns.cpp - BitLinear and RMSNorm in ONNX graphs ----------------===//
//
// The parts of BitNet that both ONNX paths (language models and generic
// graphs) recognise, each checked against the probe run's numbers.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <deque>

using namespace mlir::tern::onnx_frontend;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

Error mlir::tern::onnx_frontend::fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

bool mlir::tern::onnx_frontend::isMatmul(StringRef op) {
  return op == "MatMul" || op == "Gemm" || op == "MatMulInteger" ||
         op == "MatMulNBits";
}

double mlir::tern::onnx_frontend::relDiff(llvm::ArrayRef<float> got,
                                          llvm::ArrayRef<double> want) {
  double diff = 0, scale = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    diff = std::max(diff, std::fabs(double(got[k]) - want[k]));
    scale = std::max(scale, std::fabs(double(got[k])));
  }
  return scale > 0 ? diff / scale : diff;
}

namespace {
/// Ops a backward or forward search does not cross: they start another part.
bool isBoundary(StringRef op) {
  return isMatmul(op) || op == "Softmax" || op == "Attention";
}
} // namespace

bool Matcher::isValueCopy(const onnx::NodeProto &n) const {
  static const char *const ops[] = {"Cast",    "Identity",  "Reshape",
                                    "Squeeze", "Unsqueeze", "Flatten",
                                    "Expand"};
  return llvm::is_contained(ops, n.op_type()) && n.input_size() &&
         n.output_size() && val(n.input(0)).isFloat() &&
         val(n.output(0)).isFloat() &&
         val(n.input(0)).size() == val(n.output(0)).size();
}

std::string Matcher::source(std::string v) const {
  // Through copies, and through chains of reshapes (Unsqueeze then
  // Squeeze, Reshape and back) to where the shape was the same.
  for (;;) {
    std::string at = v, same;
    for (int hops = 0; hops < 4 && same.empty(); ++hops) {
      const onnx::NodeProto *p = g.producer(at);
      if (!p || !isValueCopy(*p))
        break;
      at = p->input(0);
      if (val(at).shape == val(v).shape)
        same = at;
    }
    if (same.empty())
      return v;
    v = same;
  }
}

std::vector<const onnx::NodeProto *>
Matcher::readersThroughCopies(StringRef v) const {
  std::vector<const onnx::NodeProto *> out;
  const std::vector<int64_t> &shape = val(v).shape;
  std::vector<std::pair<std::string, int>> stack{{v.str(), 0}};
  while (!stack.empty()) {
    auto [at, hops] = stack.back();
    stack.pop_back();
    for (const onnx::NodeProto *n : g.consumers(at)) {
      if (isValueCopy(*n) && n->input(0) == at && hops < 4)
        stack.push_back({n->output(0), hops + 1});
      else if (val(at).shape == shape)
        out.push_back(n);
    }
  }
  return out;
}

const onnx::NodeProto *
Matcher::search(StringRef v, bool forward,
                llvm::function_ref<bool(const onnx::NodeProto &)> pick,
                llvm::function_ref<bool(const onnx::NodeProto &)> stop) const {
  std::deque<std::string> queue{v.str()};
  llvm::SmallPtrSet<const onnx::NodeProto *, 32> seen;
  while (!queue.empty() && seen.size() < 64) {
    std::string at = queue.front();
    queue.pop_front();
    llvm::SmallVector<const onnx::NodeProto *> next;
    if (forward)
      llvm::append_range(next, g.consumers(at));
    else if (const onnx::NodeProto *p = g.producer(at))
      next.push_back(p);
    for (const onnx::NodeProto *n : next) {
      if (!seen.insert(n).second)
        continue;
      if (pick(*n))
        return n;
      if (isBoundary(n->op_type()) || (stop && stop(*n)))
        continue;
      if (forward)
        llvm::append_range(queue, n->output());
      else
        for (const std::string &in : n->input())
          if (!in.empty() && g.isDynamic(in))
            queue.push_back(in);
    }
  }
  return nullptr;
}

Expected<std::optional<Linear>>
Matcher::matchLinear(const onnx::NodeProto &m) const {
  if (!isMatmul(m.op_type()) || m.input_size() < 2 || !g.isDynamic(m.input(0)))
    return std::nullopt;
  std::vector<const Tensor *> args;
  for (const std::string &in : m.input()) {
    if (!in.empty() && in != m.input(0) && g.isDynamic(in))
      return std::nullopt; // activations times activations
    args.push_back(in.empty() ? nullptr : g.get(in));
  }
  Expected<Tensor> w = matmulWeight(m, args);
  if (!w)
    return w.takeError();

  // Ternary times one magnitude (folded STE chains carry 1-ulp noise).
  Linear l;
  l.node = &m;
  l.k = w->shape[0];
  l.n = w->shape[1];
  float mag = 0;
  for (int64_t e = 0, size = w->size(); e < size; ++e)
    mag = std::max(mag, std::fabs(w->f[e]));
  l.trits.resize(l.n * l.k);
  for (int64_t kk = 0; kk < l.k; ++kk)
    for (int64_t nn = 0; nn < l.n; ++nn) {
      float v = w->f[kk * l.n + nn];
      int8_t t = 0;
      if (v != 0) {
        if (std::fabs(std::fabs(v) - mag) > 1e-5f * mag)
          return std::nullopt; // a float weight
        t = v > 0 ? 1 : -1;
      }
      l.trits[nn * l.k + kk] = t;
    }

  // The activation quantizer: ReduceMax(|x|) over the last axis.
  const onnx::NodeProto *amax =
      search(m.input(0), /*forward=*/false, [&](const onnx::NodeProto &n) {
        return n.op_type() == "ReduceMax";
      });
  const onnx::NodeProto *abs = amax ? g.producer(amax->input(0)) : nullptr;
  // Float activations times ternary-valued weights: a plain product.
  if (!abs || abs->op_type() != "Abs")
    return std::nullopt;
  l.x = source(abs->input(0));
  const Tensor &x = val(l.x);
  std::vector<int64_t> axes;
  for (const onnx::AttributeProto &a : amax->attribute())
    if (a.name() == "axes")
      axes.assign(a.ints().begin(), a.ints().end());
  if (amax->input_size() > 1 && !amax->input(1).empty())
    axes = val(amax->input(1)).i.vec();
  if (axes.size() != 1 || (axes[0] != -1 && axes[0] != x.rank() - 1))
    return fail(name(*amax) + " takes the activation scale over axes other "
                              "than the last one alone: BitNet scales each "
                              "token by its own absmax");

  // The output: the product, then Casts and Mul/Div by scalars or
  // per-token values (the dequantization of the deployment forms).
  // Scales the graph states exactly: the weights' magnitude, and the
  // scalar constants the output is multiplied or divided by (directly, or
  // inside a per-token factor such as s(x) * weight_scale).
  std::vector<float> stated = {mag};
  auto addStated = [&](StringRef v) {
    const Tensor &t = val(v);
    if (!g.isDynamic(v) && t.isFloat() && t.size() == 1 && t.f[0] != 0) {
      stated.push_back(t.f[0]);
      stated.push_back(1.0f / t.f[0]);
    }
  };
  l.y = m.output(0);
  // Gemm's bias C: added before any scaling that follows would apply, so
  // none may follow.
  bool gemmBias =
      m.op_type() == "Gemm" && m.input_size() > 2 && !m.input(2).empty();
  if (gemmBias) {
    float beta = 1;
    for (const onnx::AttributeProto &a : m.attribute())
      if (a.name() == "beta")
        beta = a.f();
    const Tensor &c = val(m.input(2));
    if (!c.isFloat() || (c.size() != 1 && c.size() != l.n))
      return fail(name(m) + ": its bias C " + shapeString(c.shape) +
                  " is not one value per output column (" +
                  std::to_string(l.n) + ")");
    l.bias.resize(l.n);
    for (int64_t j = 0; j < l.n; ++j)
      l.bias[j] = beta * c.f[c.size() == 1 ? 0 : j];
  }
  for (; !gemmBias;) {
    llvm::ArrayRef<const onnx::NodeProto *> users = g.consumers(l.y);
    if (users.size() != 1)
      break;
    const onnx::NodeProto &c = *users[0];
    if (c.op_type() == "Cast" && val(c.output(0)).isFloat()) {
      l.y = c.output(0);
      continue;
    }
    bool mul = c.op_type() == "Mul", div = c.op_type() == "Div";
    if ((!mul && !div) || (div && c.input(0) != l.y))
      break;
    StringRef other = c.input(0) == l.y ? c.input(1) : c.input(0);
    const Tensor &o = val(other);
    bool perToken = o.size() == 1 ||
                    (g.isDynamic(other) && o.rank() && o.shape.back() == 1);
    if (!perToken)
      break;
    addStated(other);
    if (const onnx::NodeProto *p = g.producer(other);
        p && (p->op_type() == "Mul" || p->op_type() == "Div"))
      for (const std::string &in : p->input())
        addStated(in);
    l.y = c.output(0);
  }

  // nn.Linear's bias after a MatMul: an Add of a constant [n].
  if (llvm::ArrayRef<const onnx::NodeProto *> users = g.consumers(l.y);
      !gemmBias && users.size() == 1 && users[0]->op_type() == "Add") {
    const onnx::NodeProto &add = *users[0];
    StringRef other = add.input(0) == l.y ? add.input(1) : add.input(0);
    const Tensor &b = val(other);
    if (!g.isDynamic(other) && b.isFloat() && b.size() == l.n && b.rank() &&
        b.shape.back() == l.n && val(add.output(0)).isFloat() &&
        val(add.output(0)).shape == val(l.y).shape) {
      l.bias = b.f.vec();
      l.y = add.output(0);
    }
  }

  // Check: y = dot(q(x), T) / s(x) * scale + bias for one positive scale.
  const Tensor &y = val(l.y);
  if (!x.isFloat() || !y.isFloat() || !x.rank() || x.shape.back() != l.k ||
      !y.rank() || y.shape.back() != l.n || x.size() / l.k != y.size() / l.n)
    return fail(name(m) + ": its input " + shapeString(x.shape) +
                " and output " + shapeString(y.shape) +
                " do not fit a weight [" + std::to_string(l.k) + ", " +
                std::to_string(l.n) + "]");
  int64_t rows = x.size() / l.k;
  std::vector<double> ref(rows * l.n);
  std::vector<int32_t> q(l.k);
  std::vector<float> xr(l.k);
  for (int64_t r = 0; r < rows; ++r) {
    x.f.read(r * l.k, l.k, xr.data());
    float amaxValue = 0;
    for (int64_t j = 0; j < l.k; ++j) {
      if (!std::isfinite(xr[j])) // a graph that makes NaN or infinities
        return fail(name(m) + ": its input is not finite on the probe "
                              "tokens; cannot check what it computes");
      amaxValue = std::max(amaxValue, std::fabs(xr[j]));
    }
    float s = 1.0f / std::max(amaxValue, 1e-5f) * 127.0f;
    for (int64_t j = 0; j < l.k; ++j)
      q[j] = int32_t(std::clamp(std::nearbyint(xr[j] * s), -128.0f, 127.0f));
    for (int64_t c = 0; c < l.n; ++c) {
      int64_t dot = 0;
      const int8_t *t = l.trits.data() + c * l.k;
      for (int64_t j = 0; j < l.k; ++j)
        dot += q[j] * t[j];
      ref[r * l.n + c] = double(dot) / s;
    }
  }
  size_t peak = 0;
  for (size_t e = 0; e < ref.size(); ++e)
    if (std::fabs(ref[e]) > std::fabs(ref[peak]))
      peak = e;
  std::vector<float> got = y.f.vec();
  if (!l.bias.empty())
    for (size_t e = 0; e < got.size(); ++e)
      got[e] -= l.bias[e % l.n];
  double scale = ref[peak] != 0 ? got[peak] / ref[peak] : 1.0;
  for (double &v : ref)
    v *= scale;
  double diff = relDiff(got, ref);
  if (!(scale > 0) || diff > kTolerance)
    return fail(llvm::formatv("{0} multiplies by ternary weights, but "
                              "'{1}' is not per-token int8 activations "
                              "times them{3} (off by {2:e} of its range)",
                              name(m), l.y, diff,
                              l.bias.empty() ? "" : " plus the bias")
                    .str());
  // The fit is exact up to float rounding; where the graph states the
  // scale, take its value (as a checkpoint of the same weights would give).
  l.scale = float(scale);
  double closest = 1e-5 * scale;
  for (float v : stated)
    if (v > 0 && std::fabs(v - scale) <= closest) {
      closest = std::fabs(v - scale);
      l.scale = v;
    }
  return l;
}

Expected<std::vector<Linear>> Matcher::matchLinears() const {
  std::vector<Linear> linears;
  for (const onnx::NodeProto &n : g.graph.node()) {
    Expected<std::optional<Linear>> l = matchLinear(n);
    if (!l)
      return l.takeError();
    if (*l)
      linears.push_back(std::move(**l));
  }
  return linears;
}

Expected<Norm> Matcher::matchNorm(StringRef xName) const {
  std::string v = source(xName.str());
  const onnx::NodeProto *p = g.producer(v);
  Norm norm;
  int64_t dim = val(v).rank() ? val(v).shape.back() : 0;
  if (p && (p->op_type() == "SimplifiedLayerNormalization" ||
            p->op_type() == "RMSNormalization")) {
    norm.input = source(p->input(0));
    norm.gain = val(p->input(1)).f.vec();
    norm.eps = 1e-5f;
    for (const onnx::AttributeProto &a : p->attribute()) {
      if (a.name() == "epsilon")
        norm.eps = a.f();
      if (a.name() == "axis" && a.i() != -1 && a.i() != val(v).rank() - 1)
        return fail(name(*p) + " normalizes over more than the last axis");
    }
  } else {
    std::string z = v;
    if (p && p->op_type() == "Mul")
      for (int side = 0; side < 2; ++side) {
        StringRef gain = p->input(side);
        if (!g.isDynamic(gain) && val(gain).isFloat() &&
            val(gain).size() == dim) {
          norm.gain = val(gain).f.vec();
          z = p->input(1 - side);
        }
      }
    // Not through a quantizer's absmax: a BitLinear's output depends on
    // its input's norm through its scale, not as a value.
    const onnx::NodeProto *mean = search(
        z, /*forward=*/false,
        [&](const onnx::NodeProto &n) { return n.op_type() == "ReduceMean"; },
        [&](const onnx::NodeProto &n) { return n.op_type() == "ReduceMax"; });
    const onnx::NodeProto *sq = mean ? g.producer(mean->input(0)) : nullptr;
    if (!sq || !((sq->op_type() == "Pow" && !g.isDynamic(sq->input(1)) &&
                  val(sq->input(1)).at(0) == 2) ||
                 (sq->op_type() == "Mul" && sq->input(0) == sq->input(1)))) {
      Norm none;
      none.input = v;
      none.present = false;
      return none;
    }
    norm.input = source(sq->input(0));
    for (const onnx::NodeProto *add : g.consumers(mean->output(0)))
      if (add->op_type() == "Add")
        for (const std::string &in : add->input())
          if (!g.isDynamic(in) && val(in).size() == 1)
            norm.eps = float(val(in).at(0));
  }
  if (norm.gain.empty())
    norm.gain.assign(dim, 1.0f);
  const Tensor &a = val(norm.input), &x = val(v);
  if (int64_t(norm.gain.size()) != dim || a.shape != x.shape)
    return fail("the RMSNorm before '" + xName + "' has a gain of " +
                std::to_string(norm.gain.size()) + " for values " +
                shapeString(x.shape));
  std::vector<double> ref(a.size());
  for (int64_t r = 0; r < a.size() / dim; ++r) {
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j)
      ss += double(a.f[r * dim + j]) * a.f[r * dim + j];
    double inv = 1.0 / std::sqrt(ss / dim + norm.eps);
    for (int64_t j = 0; j < dim; ++j)
      ref[r * dim + j] = a.f[r * dim + j] * inv * norm.gain[j];
  }
  double diff = relDiff(x.f.vec(), ref);
  if (diff > kTolerance)
    return fail(llvm::formatv("{0} is not RMSNorm(gain) of {1} (off by "
                              "{2:e} of its range)",
                              value(v), value(norm.input), diff)
                    .str());
  return norm;
}
