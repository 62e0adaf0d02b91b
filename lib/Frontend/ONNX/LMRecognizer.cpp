//===- LMRecognizer.cpp - BitNet language models in ONNX graphs -----------===//
//
// An export of a BitNet LM spells each part of SPEC 3 in a few dozen standard
// ops, and exporters differ in the details (SPEC 8). As for BitLinears and
// RMSNorms (Patterns.h), the recogniser anchors on a few landmarks and checks
// each part by its numbers on the probe run:
//   - attention is whatever lies between the q/k/v and o projections, and
//     must equal causal softmax attention (GQA) with half-split RoPE whose
//     theta is read from the cos/sin tables the graph multiplies q by;
//   - the GLU must equal relu(gate)^2 * up or silu(gate) * up.
// The residual adds string the parts together, block by block.
//
//===----------------------------------------------------------------------===//

#include "LMRecognizer.h"
#include "Patterns.h"

#include "tern/Frontend/BitNetModel.h"

#include "Tern/IR/TernDialect.h"
#include "Tern/IR/WeightData.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::onnx_frontend;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

struct Rope {
  double theta = 0;
  int64_t headDim = 0, heads = 0;
  /// Rows of the table the graph slices cos from, or 0 when computed.
  int64_t tableRows = 0;
};

class Recognizer : public Matcher {
public:
  explicit Recognizer(const GraphValues &g) : Matcher(g) {}

  Expected<OwningOpRef<ModuleOp>> run(StringRef ids, StringRef logits,
                                      MLIRContext &context);

private:
  /// `tables` says whether q is multiplied by two tables at all (errors of
  /// such candidates say more than "no RoPE").
  Expected<Rope> matchRope(const Linear &q, bool &tables);
  double attentionDiff(const Linear &q, const Linear &k, const Linear &v,
                       const Rope &rope, StringRef out) const;
};

Expected<Rope> Recognizer::matchRope(const Linear &q, bool &found) {
  Rope rope;
  // Heads and head size: the first reshape of q to [batch, tokens, H, d].
  const onnx::NodeProto *reshape =
      search(q.y, /*forward=*/true,
             [](const onnx::NodeProto &n) { return n.op_type() == "Reshape"; });
  const Tensor *split = reshape ? g.get(reshape->output(0)) : nullptr;
  if (!split || split->rank() != 4 || split->shape[2] * split->shape[3] != q.n)
    return fail("the output of " + name(*q.node) +
                " is not reshaped to [batch, tokens, heads, head_dim]");
  rope.heads = split->shape[2];
  rope.headDim = split->shape[3];
  int64_t d = rope.headDim, half = d / 2;
  // cos and sin as [positions, head_dim] tables.
  std::vector<float> cos, sin;
  if (const onnx::NodeProto *rot =
          search(q.y, /*forward=*/true, [](const onnx::NodeProto &n) {
            return n.op_type() == "RotaryEmbedding";
          })) {
    // Opset 23's RotaryEmbedding: caches of half a head, by position id or
    // per token (then the probe's positions 0, 1, ...).
    found = true;
    for (const onnx::AttributeProto &a : rot->attribute()) {
      if (a.name() == "interleaved" && a.i())
        return fail(name(*rot) + " rotates interleaved pairs: only "
                                 "half-split (rotate_half) RoPE is supported");
      if (a.name() == "rotary_embedding_dim" && a.i() && a.i() != d)
        return fail(llvm::formatv("{0} rotates {1} of the {2} dimensions of "
                                  "each head: partial RoPE is not supported",
                                  name(*rot), a.i(), d)
                        .str());
    }
    const Tensor &c = val(rot->input(1)), &sn = val(rot->input(2));
    bool byId = rot->input_size() > 3 && !rot->input(3).empty();
    if (c.rank() != (byId ? 2 : 3) || c.shape.back() != half)
      return fail(name(*rot) + ": cos/sin caches " + shapeString(c.shape) +
                  " for heads of " + std::to_string(d));
    int64_t positions = byId ? c.shape[0] : c.shape[1];
    if (byId && g.isInitializer(rot->input(1)))
      rope.tableRows = positions;
    for (auto [from, to] : {std::pair(&c, &cos), std::pair(&sn, &sin)})
      for (int64_t p = 0; p < positions; ++p)
        for (int k = 0; k < 2; ++k)
          for (int64_t i = 0; i < half; ++i)
            to->push_back(from->f[p * half + i]);
  } else {
    // Or the tables q (and its rotated half) is multiplied by.
    std::vector<std::string> tables;
    search(q.y, /*forward=*/true, [&](const onnx::NodeProto &n) {
      if (n.op_type() == "Mul")
        for (const std::string &in : n.input())
          if (!g.isDynamic(in) && val(in).isFloat() && val(in).size() > 1 &&
              val(in).shape.back() == d)
            if (!llvm::is_contained(tables, in))
              tables.push_back(in);
      return false;
    });
    for (const std::string &t : tables) {
      const Tensor &table = val(t);
      std::vector<float> first(std::min(d, table.size()));
      table.f.read(0, first.size(), first.data());
      bool ones = llvm::all_of(first, [](float v) { return v == 1.0f; });
      bool zeros = llvm::all_of(first, [](float v) { return v == 0.0f; });
      if (zeros)
        sin = table.f.vec();
      if (ones) {
        cos = table.f.vec();
        // The table's full length, when it is sliced from an initializer.
        const onnx::NodeProto *p = g.producer(t);
        for (int hops = 0; p && hops < 4; ++hops) {
          if (g.isInitializer(p->input(0)) && val(p->input(0)).rank() >= 2)
            rope.tableRows = val(p->input(0)).shape[0];
          p = g.producer(p->input(0));
        }
      }
    }
    found = tables.size() == 2;
    if (tables.empty())
      return rope; // no RoPE (theta 0): learned positions, or none
    if (tables.size() != 2 || cos.empty() || sin.empty() ||
        cos.size() != sin.size() || d < 4 || d % 2)
      return fail("no RoPE after " + name(*q.node) +
                  ": Tern expects q multiplied by cos and sin tables (rows "
                  "of head_dim " +
                  std::to_string(d) + ", position 0 first)");
  }
  int64_t positions = int64_t(cos.size()) / d;
  if (positions < 2)
    return fail("the RoPE tables after " + name(*q.node) +
                " cover fewer than 2 positions");
  auto angle = [&](int64_t p, int64_t i) {
    return std::atan2(double(sin[p * d + i]), double(cos[p * d + i]));
  };
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i)
      if (cos[p * d + i] != cos[p * d + i + half] ||
          sin[p * d + i] != sin[p * d + i + half])
        return fail("the RoPE tables after " + name(*q.node) +
                    " do not repeat their first half: only half-split "
                    "(rotate_half) RoPE is supported");
  // inv_freq_i = theta^(-2i/d); the highest frequency index gives the
  // least rounding. Round to 3 significant digits when that still fits.
  double theta =
      std::exp(-std::log(angle(1, half - 1)) * d / (2.0 * (half - 1)));
  double digits = std::pow(10.0, std::floor(std::log10(theta)) - 2);
  double round = std::round(theta / digits) * digits;
  if (std::fabs(round - theta) < 1e-4 * theta)
    theta = round;
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double want = p * std::pow(theta, -2.0 * i / d);
      if (std::fabs(std::cos(want) - cos[p * d + i]) > 1e-4 ||
          std::fabs(std::sin(want) - sin[p * d + i]) > 1e-4)
        return fail(llvm::formatv("the RoPE tables after {0} are not "
                                  "cos/sin(p * theta^(-2i/d)) for any theta "
                                  "(closest: {1})",
                                  name(*q.node), theta)
                        .str());
    }
  rope.theta = theta;
  return rope;
}

/// The largest difference, relative to the graph's, between `out` and
/// causal softmax attention of q, k and v with RoPE.
double Recognizer::attentionDiff(const Linear &q, const Linear &k,
                                 const Linear &v, const Rope &rope,
                                 StringRef out) const {
  const Tensor &Q = val(q.y), &K = val(k.y), &V = val(v.y), &O = val(out);
  int64_t d = rope.headDim, H = rope.heads, kvH = k.n / d;
  if (k.n != v.n || k.n % d || !kvH || H % kvH || O.size() != Q.size() ||
      O.shape.back() != q.n)
    return INFINITY;
  int64_t t = Q.size() / q.n, half = d / 2;
  auto rotate = [&](const Tensor &x, int64_t width) {
    std::vector<float> values = x.f.vec();
    std::vector<double> r(values.begin(), values.end());
    if (rope.theta == 0)
      return r;
    for (int64_t p = 0; p < t; ++p)
      for (int64_t h = 0; h < width / d; ++h)
        for (int64_t i = 0; i < half; ++i) {
          double a = p * std::pow(rope.theta, -2.0 * i / d);
          double *e = r.data() + p * width + h * d;
          double x0 = x.f[p * width + h * d + i],
                 x1 = x.f[p * width + h * d + i + half];
          e[i] = x0 * std::cos(a) - x1 * std::sin(a);
          e[i + half] = x1 * std::cos(a) + x0 * std::sin(a);
        }
    return r;
  };
  std::vector<double> qr = rotate(Q, q.n), kr = rotate(K, k.n);
  std::vector<double> ref(O.size(), 0.0);
  for (int64_t h = 0; h < H; ++h) {
    int64_t g = h / (H / kvH);
    for (int64_t i = 0; i < t; ++i) {
      std::vector<double> w(i + 1);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j <= i; ++j) {
        double s = 0;
        for (int64_t e = 0; e < d; ++e)
          s += qr[i * q.n + h * d + e] * kr[j * k.n + g * d + e];
        w[j] = s / std::sqrt(double(d));
        mx = std::max(mx, w[j]);
      }
      for (double &x : w)
        sum += x = std::exp(x - mx);
      for (int64_t j = 0; j <= i; ++j)
        for (int64_t e = 0; e < d; ++e)
          ref[i * q.n + h * d + e] += w[j] / sum * V.f[j * v.n + g * d + e];
    }
  }
  return relDiff(O.f.vec(), ref);
}

/// Serves the recognised tensors to buildBitNetModel by their Hugging Face
/// names.
class RecognizedWeights : public WeightSource {
public:
  std::map<std::string, const Linear *> linears;
  std::map<std::string, std::vector<float>> vectors;
  std::map<std::string, const Tensor *> tables;

  FailureOr<LinearWeight> linear(OpBuilder &b, StringRef name, int64_t n,
                                 int64_t k) override {
    const Linear *l = linears.at(name.str());
    assert(l->n == n && l->k == k && "recogniser and builder disagree");
    MLIRContext *ctx = b.getContext();
    auto type = RankedTensorType::get({n, k}, TritType::get(ctx));
    auto storage = RankedTensorType::get({n, k}, b.getI8Type());
    Value w = createWeight(b, b.getUnknownLoc(), name, type, storage,
                           [&](MutableArrayRef<char> out) {
                             std::memcpy(out.data(), l->trits.data(), n * k);
                           });
    return LinearWeight{w, l->scale};
  }
  FailureOr<Value> vector(OpBuilder &b, StringRef name, int64_t n) override {
    const std::vector<float> &v = vectors.at(name.str());
    auto type = RankedTensorType::get({n}, b.getF32Type());
    return createWeight(b, b.getUnknownLoc(), name, type, type,
                        [&](MutableArrayRef<char> out) {
                          std::memcpy(out.data(), v.data(), n * 4);
                        })
        .getResult();
  }
  FailureOr<Value> bias(OpBuilder &b, StringRef name, int64_t n) override {
    const std::vector<float> &v = linears.at(name.str())->bias;
    if (v.empty())
      return Value();
    auto type = RankedTensorType::get({n}, b.getF32Type());
    return createWeight(b, b.getUnknownLoc(),
                        name.drop_back(strlen("weight")).str() + "bias", type,
                        type,
                        [&](MutableArrayRef<char> out) {
                          std::memcpy(out.data(), v.data(), n * 4);
                        })
        .getResult();
  }
  FailureOr<Value> table(OpBuilder &b, StringRef name, int64_t rows,
                         int64_t cols) override {
    const Tensor *t = tables.at(name.str());
    auto type = RankedTensorType::get({rows, cols}, b.getF32Type());
    return createWeight(b, b.getUnknownLoc(), name, type, type,
                        [&](MutableArrayRef<char> out) {
                          t->f.read(0, rows * cols,
                                    reinterpret_cast<float *>(out.data()));
                        })
        .getResult();
  }
};

Expected<OwningOpRef<ModuleOp>> Recognizer::run(StringRef ids, StringRef logits,
                                                MLIRContext &context) {
  // The embedding: Gather(table, ids).
  const onnx::NodeProto *gather =
      search(ids, /*forward=*/true, [&](const onnx::NodeProto &n) {
        return n.op_type() == "Gather" && !g.isDynamic(n.input(0)) &&
               val(n.input(0)).isFloat() && val(n.input(0)).rank() == 2;
      });
  if (!gather)
    return fail("no embedding: the token ids '" + ids +
                "' do not index a float table with Gather");
  const Tensor &embed = val(gather->input(0));
  BitNetConfig c;
  c.vocab = embed.shape[0];
  c.hidden = embed.shape[1];
  c.activation = FfnActivation::Relu2;
  c.attnSubNorm = "self_attn.attn_sub_norm";
  c.ffnSubNorm = "mlp.ffn_sub_norm";
  RecognizedWeights weights;
  weights.tables["model.embed_tokens.weight"] = &embed;

  // Every BitLinear, keyed by its output, and the norm before each.
  Expected<std::vector<Linear>> found = matchLinears();
  if (!found)
    return found.takeError();
  std::vector<Linear> &linears = *found;
  if (linears.empty())
    return fail("no BitLinear: no matrix product by ternary weights with "
                "per-token int8 activations");
  std::map<std::string, Norm> norms; // by quantized input
  for (const Linear &l : linears) {
    if (norms.count(l.x))
      continue;
    Expected<Norm> norm = matchNorm(l.x);
    if (!norm)
      return norm.takeError();
    norms[l.x] = std::move(*norm);
  }
  std::vector<float> eps, linearEps;
  auto useNorm = [&](const std::string &name, const Norm &n) {
    weights.vectors[name] = n.gain;
    eps.push_back(n.eps);
  };
  // The norms a block must have (before q/k/v and gate/up).
  auto requireNorm = [&](const Linear &l) -> Expected<const Norm *> {
    const Norm &n = norms[l.x];
    if (!n.present)
      return fail(name(*l.node) + ": its input '" + l.x +
                  "' comes from no RMSNorm (ReduceMean of x^2, SPEC 8.3); "
                  "the BitLinears that read the residual stream must "
                  "normalize it first");
    return &n;
  };
  // A sub-norm before o_proj or down_proj, or none (Llama-architecture
  // BitNets): block 0 decides, the others must agree.
  auto useSubNorm = [&](int64_t layer, const std::string &pre,
                        std::string &which, const Norm &n,
                        StringRef what) -> Error {
    if (layer == 0 && !n.present)
      which.clear();
    if (n.present != !which.empty())
      return fail(llvm::formatv("block {0}: {1} has {2} norm before it, but "
                                "block 0's has {3}",
                                layer, what, n.present ? "a" : "no",
                                n.present ? "none" : "one")
                      .str());
    if (n.present)
      useNorm(pre + which + ".weight", n);
    return Error::success();
  };
  // A BitLinear of the model under its Hugging Face name ("...q_proj");
  // where every BitLinear normalizes its own input, with that norm.
  auto place = [&](const std::string &module, const Linear &l) -> Error {
    weights.linears[module + ".weight"] = &l;
    if (c.blockNorms)
      return Error::success();
    const Norm &n = norms[l.x];
    if (!n.present)
      return fail(name(*l.node) + ": its input '" + l.x +
                  "' comes from no RMSNorm, but q, k and v of this model "
                  "each normalize their own input, so every BitLinear must");
    weights.vectors[module + ".rms_norm.weight"] = n.gain;
    linearEps.push_back(n.eps);
    return Error::success();
  };
  // One norm before the BitLinears that read the residual stream (every
  // released BitNet), or one inside each of them (course-style: q, k and v
  // normalize the same input with their own gains). Block 0's q, k and v
  // decide; the other groups of BitLinears must agree.
  auto sharedNorm = [&](int64_t layer, llvm::ArrayRef<const Linear *> ls,
                        bool decide) -> Error {
    bool shared = llvm::all_of(
        ls, [&](const Linear *l) { return l->x == ls.front()->x; });
    if (decide) {
      c.blockNorms = shared;
      if (!shared)
        c.attnSubNorm = c.ffnSubNorm = "";
    } else if (ls.size() > 1 && shared != c.blockNorms) {
      return fail(
          llvm::formatv("block {0}: {1} BitLinears read one norm of "
                        "the residual stream, but block 0's q, k and "
                        "v {2}",
                        layer, shared ? "its" : "not all its",
                        shared ? "normalize their own inputs" : "share one")
              .str());
    }
    return Error::success();
  };
  // The BitLinears whose norm reads `h`, and the one whose output is added
  // to `h` (with the sum).
  auto readers = [&](StringRef h) {
    std::vector<const Linear *> out;
    for (const Linear &l : linears)
      if (norms[l.x].input == h)
        out.push_back(&l);
    return out;
  };
  auto residual = [&](StringRef h) -> std::pair<const Linear *, std::string> {
    for (const onnx::NodeProto *add : Matcher::readersThroughCopies(h)) {
      if (add->op_type() != "Add")
        continue;
      std::string other =
          source(source(add->input(0)) == h ? add->input(1) : add->input(0));
      for (const Linear &l : linears)
        if (l.y == other)
          return {&l, add->output(0)};
    }
    return {nullptr, ""};
  };

  std::string h = source(gather->output(0));
  // Learned absolute positions: the embedding plus rows 0..t-1 of a table.
  const Tensor *positionTable = nullptr;
  for (const onnx::NodeProto *add : Matcher::readersThroughCopies(h)) {
    if (add->op_type() != "Add" || positionTable)
      continue;
    std::string other =
        source(source(add->input(0)) == h ? add->input(1) : add->input(0));
    const Tensor &rows = val(other);
    const onnx::NodeProto *lookup =
        search(other, /*forward=*/false, [&](const onnx::NodeProto &n) {
          return (n.op_type() == "Gather" || n.op_type() == "Slice") &&
                 !g.isDynamic(n.input(0)) && val(n.input(0)).isFloat() &&
                 val(n.input(0)).rank() == 2 &&
                 val(n.input(0)).shape[1] == c.hidden;
        });
    if (!lookup || !rows.isFloat() || rows.size() != val(h).size())
      continue;
    const Tensor &table = val(lookup->input(0));
    if (rows.size() > table.size())
      continue;
    std::vector<float> first(rows.size());
    table.f.read(0, first.size(), first.data());
    if (first == rows.f.vec()) {
      positionTable = &table;
      h = source(add->output(0));
    }
  }
  if (positionTable) {
    c.learnedPositions = true;
    weights.tables["model.embed_positions.weight"] = positionTable;
  }
  size_t used = 0;
  int64_t tableRows = 0;
  for (int64_t layer = 0;; ++layer) {
    auto [o, mid] = residual(h);
    if (!o)
      break;
    std::string pre = "model.layers." + std::to_string(layer) + ".";
    std::vector<const Linear *> qkv = readers(h);
    if (qkv.size() != 3)
      return fail(llvm::formatv("block {0}: {1} BitLinears read the "
                                "normalized residual {2}; attention needs "
                                "3 (q, k, v)",
                                layer, qkv.size(), value(h))
                      .str());
    if (Error e = sharedNorm(layer, qkv, /*decide=*/layer == 0))
      return std::move(e);
    // Which is q, k and v: the order whose attention matches the graph's.
    const Norm &attnOut = norms[o->x];
    std::optional<std::array<const Linear *, 3>> best;
    Rope rope;
    double bestDiff = INFINITY;
    std::string ropeError;
    bool ropeErrorHasTables = false;
    std::array<int, 3> perm{0, 1, 2};
    do {
      const Linear *q = qkv[perm[0]], *k = qkv[perm[1]], *v = qkv[perm[2]];
      bool tables = false;
      Expected<Rope> r = matchRope(*q, tables);
      if (!r) {
        std::string message = llvm::toString(r.takeError());
        if (ropeError.empty() || (tables && !ropeErrorHasTables))
          ropeError = message;
        ropeErrorHasTables |= tables;
        continue;
      }
      double diff = attentionDiff(*q, *k, *v, *r, attnOut.input);
      if (diff < bestDiff) {
        bestDiff = diff;
        best = {q, k, v};
        rope = *r;
      }
    } while (std::next_permutation(perm.begin(), perm.end()));
    if (!best)
      return fail(llvm::formatv("block {0}: {1}", layer, ropeError).str());
    if (bestDiff > kTolerance) {
      std::string positions =
          rope.theta ? llvm::formatv("RoPE (theta {0})", rope.theta).str()
          : c.learnedPositions
              ? std::string("learned positions")
              : std::string("no RoPE (q is multiplied by no cos/sin tables)");
      return fail(llvm::formatv("block {0}: {1} is not causal softmax "
                                "attention of the q/k/v projections with "
                                "{2}, {3} heads of {4}: off by {5:e} of its "
                                "range",
                                layer, value(attnOut.input), positions,
                                rope.heads, rope.headDim, bestDiff)
                      .str());
    }
    auto [q, k, v] = *best;
    if (layer == 0) {
      c.heads = rope.heads;
      c.headDim = rope.headDim;
      c.kvHeads = k->n / rope.headDim;
      c.ropeTheta = float(rope.theta);
      tableRows = rope.tableRows;
    } else if (rope.heads != c.heads || k->n / rope.headDim != c.kvHeads ||
               float(rope.theta) != c.ropeTheta) {
      return fail(llvm::formatv("block {0} has other attention settings than "
                                "block 0",
                                layer)
                      .str());
    }
    if (c.blockNorms) {
      Expected<const Norm *> inputNorm = requireNorm(*q);
      if (!inputNorm)
        return inputNorm.takeError();
      useNorm(pre + "input_layernorm.weight", **inputNorm);
      if (Error e = useSubNorm(layer, pre, c.attnSubNorm, attnOut, "o_proj"))
        return std::move(e);
    }
    for (auto [module, l] : {std::pair("q_proj", q), std::pair("k_proj", k),
                             std::pair("v_proj", v), std::pair("o_proj", o)})
      if (Error e = place(pre + "self_attn." + module, *l))
        return std::move(e);

    // The feed-forward half: gate and up (or up alone) read the new
    // residual, down adds.
    auto [down, next] = residual(mid);
    std::vector<const Linear *> gu = readers(mid);
    if (!down || gu.empty() || gu.size() > 2)
      return fail(llvm::formatv("block {0}: no feed-forward after {1} "
                                "(one or two BitLinears reading its norm, "
                                "another added to it)",
                                layer, value(mid))
                      .str());
    if (Error e = sharedNorm(layer, gu, /*decide=*/false))
      return std::move(e);
    bool gated = gu.size() == 2;
    if (layer == 0)
      c.gatedFfn = gated;
    else if (gated != c.gatedFfn)
      return fail(llvm::formatv("block {0}'s feed-forward is {1}gated, block "
                                "0's is {2}",
                                layer, gated ? "" : "not ",
                                gated ? "not" : "gated")
                      .str());
    const Norm &ffnOut = norms[down->x];
    const Tensor &m = val(ffnOut.input);
    // The activation (and which is the gate) that fits best.
    std::optional<std::pair<int, FfnActivation>> ffn;
    double ffnDiff = kTolerance;
    for (int first = 0; first < int(gu.size()); ++first)
      for (FfnActivation act :
           {FfnActivation::Relu2, FfnActivation::Silu, FfnActivation::Gelu,
            FfnActivation::GeluTanh, FfnActivation::Relu}) {
        const Tensor &gate = val(gu[first]->y);
        const Tensor *up = gated ? g.get(gu[1 - first]->y) : nullptr;
        if (gate.size() != m.size() || (up && up->size() != m.size()))
          continue;
        std::vector<double> ref(m.size());
        for (int64_t e = 0; e < m.size(); ++e) {
          double x = gate.f[e], a = 0;
          switch (act) {
          case FfnActivation::Relu2:
            a = x > 0 ? x * x : 0;
            break;
          case FfnActivation::Silu:
            a = x / (1 + std::exp(-x));
            break;
          case FfnActivation::Gelu:
            a = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
            break;
          case FfnActivation::GeluTanh:
            a = 0.5 * x *
                (1 +
                 std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
            break;
          case FfnActivation::Relu:
            a = std::max(x, 0.0);
            break;
          }
          ref[e] = up ? a * up->f[e] : a;
        }
        if (double diff = relDiff(m.f.vec(), ref); diff <= ffnDiff) {
          ffnDiff = diff;
          ffn = {first, act};
        }
      }
    if (!ffn)
      return fail(
          llvm::formatv("block {0}: {1} is not {2} of the {3} that read{4} "
                        "{5} (activations tried: relu^2, silu, gelu, "
                        "gelu_tanh, relu)",
                        layer, value(ffnOut.input),
                        gated ? "act(gate) * up" : "act(x)",
                        gated ? "two projections" : "projection",
                        gated ? "" : "s", value(mid))
              .str());
    if (layer == 0)
      c.activation = ffn->second;
    else if (ffn->second != c.activation)
      return fail(llvm::formatv("block {0} has another feed-forward "
                                "activation than block 0",
                                layer)
                      .str());
    if (c.blockNorms) {
      Expected<const Norm *> postNorm = requireNorm(*gu[0]);
      if (!postNorm)
        return postNorm.takeError();
      useNorm(pre + "post_attention_layernorm.weight", **postNorm);
      if (Error e = useSubNorm(layer, pre, c.ffnSubNorm, ffnOut, "down_proj"))
        return std::move(e);
    }
    if (gated) {
      if (Error e = place(pre + "mlp.gate_proj", *gu[ffn->first]))
        return std::move(e);
      if (Error e = place(pre + "mlp.up_proj", *gu[1 - ffn->first]))
        return std::move(e);
    } else if (Error e = place(pre + "mlp.up_proj", *gu[0])) {
      return std::move(e);
    }
    if (Error e = place(pre + "mlp.down_proj", *down))
      return std::move(e);
    c.intermediate = down->k;
    used += 5 + gu.size();
    h = next;
    c.layers = layer + 1;
  }
  if (!c.layers)
    return fail("no transformer block: nothing adds a BitLinear's output to "
                "the embedding " +
                value(h));
  if (used != linears.size()) {
    for (const Linear &l : linears) {
      bool placed = llvm::any_of(weights.linears,
                                 [&](auto &e) { return e.second == &l; });
      if (!placed)
        return fail(name(*l.node) + " is a BitLinear outside the " +
                    std::to_string(c.layers) +
                    " recognised blocks; Tern reads the BitNet b1.58 block "
                    "(SPEC 3) only");
    }
  }

  // The head: logits = RMSNorm(h) x table^T.
  std::string out = source(logits.str());
  const onnx::NodeProto *head = g.producer(out);
  if (!head || (head->op_type() != "MatMul" && head->op_type() != "Gemm") ||
      !g.isDynamic(head->input(0)) || g.isDynamic(head->input(1)))
    return fail("the logits '" + logits +
                "' are not a matrix product of the last hidden state by a "
                "weight (the LM head)");
  std::vector<const Tensor *> args;
  for (const std::string &in : head->input())
    args.push_back(in.empty() ? nullptr : g.get(in));
  Expected<Tensor> w = matmulWeight(*head, args);
  if (!w)
    return w.takeError();
  Expected<Norm> final = matchNorm(head->input(0));
  if (!final)
    return final.takeError();
  if (!final->present)
    return fail("the LM head " + name(*head) + " reads '" + head->input(0) +
                "', which comes from no RMSNorm (the model's final norm, "
                "SPEC 8.3)");
  if (final->input != h)
    return fail("the LM head " + name(*head) +
                " does not read the norm of "
                "the last block's output " +
                value(h));
  if (w->shape[0] != c.hidden || w->shape[1] != c.vocab)
    return fail(name(*head) + ": an LM head of " + shapeString(w->shape) +
                " for hidden size " + std::to_string(c.hidden) +
                " and vocabulary " + std::to_string(c.vocab));
  useNorm("model.norm.weight", *final);
  // The head as [vocab, hidden] rows, like the embedding; a copy only when
  // it is not the embedding.
  c.tiedEmbeddings = embed.size() == c.vocab * c.hidden;
  for (int64_t r = 0; r < c.hidden && c.tiedEmbeddings; ++r)
    for (int64_t col = 0; col < c.vocab && c.tiedEmbeddings; ++col)
      c.tiedEmbeddings = w->f[r * c.vocab + col] == embed.f[col * c.hidden + r];
  Tensor headTable;
  if (!c.tiedEmbeddings) {
    std::vector<float> rows(c.vocab * c.hidden);
    for (int64_t r = 0; r < c.hidden; ++r)
      for (int64_t col = 0; col < c.vocab; ++col)
        rows[col * c.hidden + r] = w->f[r * c.vocab + col];
    headTable = Tensor::floats({c.vocab, c.hidden}, std::move(rows));
    weights.tables["lm_head.weight"] = &headTable;
  }

  // One epsilon for the model's norms, one for the BitLinears' own.
  for (auto [list, what] : {std::pair(&eps, "RMSNorms"),
                            std::pair(&linearEps, "BitLinears' RMSNorms")})
    for (float e : *list)
      if (e != list->front())
        return fail(llvm::formatv("the {0} use different epsilons ({1:e} and "
                                  "{2:e}); Tern's model has one",
                                  what, list->front(), e)
                        .str());
  c.epsilon = eps.front();
  if (!linearEps.empty())
    c.linearNormEpsilon = linearEps.front();
  // Computed RoPE tables fit any position; sliced ones and learned
  // positions end with their table.
  c.maxPositions = positionTable ? positionTable->shape[0]
                   : tableRows   ? tableRows
                                 : 4096;
  OwningOpRef<ModuleOp> module =
      buildBitNetModel(context, c, weights, UnknownLoc::get(&context));
  if (!module)
    return fail("building the model failed");
  return module;
}

} // namespace

Expected<OwningOpRef<ModuleOp>>
mlir::tern::onnx_frontend::buildLanguageModel(const GraphValues &values,
                                              StringRef ids, StringRef logits,
                                              MLIRContext &context) {
  return Recognizer(values).run(ids, logits, context);
}
