//===- Interpreter.cpp - ONNX ops: dispatch, arithmetic, reductions -------===//

#include "Interpreter.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <memory>

using namespace mlir::tern::onnx_frontend;
using namespace mlir::tern::onnx_frontend::interp;

namespace mlir::tern::onnx_frontend::interp {

Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

bool isFloatType(int32_t type) {
  return type == T::FLOAT || type == T::FLOAT16 || type == T::BFLOAT16 ||
         type == T::DOUBLE;
}

/// Wraps an integer to the range of `type` (two's complement).
int64_t wrap(int32_t type, int64_t v) {
  switch (type) {
  case T::UINT8:
    return uint8_t(v);
  case T::INT8:
    return int8_t(v);
  case T::UINT16:
    return uint16_t(v);
  case T::INT16:
    return int16_t(v);
  case T::INT32:
    return int32_t(v);
  case T::UINT32:
    return uint32_t(v);
  case T::BOOL:
    return v != 0;
  default:
    return v;
  }
}

std::vector<int64_t> strides(ArrayRef<int64_t> shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t d = int64_t(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

Expected<int64_t> elementsWithin(ArrayRef<int64_t> shape, int64_t allowed) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n) ||
        n > std::max(kMaxProbeElements, allowed))
      return error("shape " + shapeString(shape) + " is too large to evaluate");
  return n;
}

Expected<std::vector<int64_t>> broadcast(ArrayRef<int64_t> a,
                                         ArrayRef<int64_t> b, int64_t allowed) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t k = 0; k < rank; ++k) {
    int64_t x = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
    int64_t y = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      return error("shapes " + shapeString(a) + " and " + shapeString(b) +
                   " do not broadcast");
    out[k] = x == 1 ? y : x;
  }
  // A shape a file states (Expand's) is allocated right after this.
  if (auto n = elementsWithin(out, allowed); !n)
    return n.takeError();
  return out;
}

/// For each element of `out`, the index of the element of `in` that
/// broadcasts to it.
std::vector<int64_t> broadcastIndex(ArrayRef<int64_t> in,
                                    ArrayRef<int64_t> out) {
  int64_t n = 1;
  for (int64_t d : out)
    n *= d;
  std::vector<int64_t> idx(n);
  std::vector<int64_t> os = strides(out), is = strides(in);
  size_t off = out.size() - in.size();
  for (int64_t k = 0; k < n; ++k) {
    int64_t rest = k, at = 0;
    for (size_t d = 0; d < out.size(); ++d) {
      int64_t c = rest / os[d];
      rest %= os[d];
      if (d >= off && in[d - off] != 1)
        at += c * is[d - off];
    }
    idx[k] = at;
  }
  return idx;
}

int64_t normAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

int64_t toInt64(double v) {
  if (!(v == v))
    return 0;
  if (v >= 9.2233720368547758e18)
    return INT64_MAX;
  if (v <= -9.2233720368547758e18)
    return INT64_MIN;
  return int64_t(v);
}

std::vector<int64_t> intsOf(const Tensor &t) {
  if (!t.isFloat())
    return t.i.vec();
  std::vector<int64_t> out(t.size());
  for (int64_t k = 0, size = t.size(); k < size; ++k)
    out[k] = toInt64(t.f[k]);
  return out;
}

} // namespace mlir::tern::onnx_frontend::interp

Expected<Tensor> Node::unary(std::function<float(float)> f,
                             std::function<int64_t(int64_t)> g) {
  auto x = need(0);
  if (!x)
    return x.takeError();
  Tensor out = std::move(*x);
  if (out.isFloat()) {
    for (float &v : out.f.values())
      v = f(v);
  } else {
    if (!g)
      return bad("needs a float input");
    for (int64_t &v : out.i.values())
      v = wrap(out.type, g(v));
  }
  return out;
}

template <typename F, typename G> Expected<Tensor> Node::binary(F f, G g) {
  const Tensor *a = input(0), *b = input(1);
  if (!a || !b)
    return bad("needs two inputs");
  if (a->isFloat() != b->isFloat())
    return bad("mixes float and integer inputs");
  auto shape = broadcast(a->shape, b->shape, std::max(a->size(), b->size()));
  if (!shape)
    return bad(llvm::toString(shape.takeError()));
  Tensor out;
  out.type = a->type;
  out.shape = *shape;
  int64_t n = out.size();
  // Same shapes, or one side a single value: no index tables (weights are
  // large).
  auto at = [&](const Tensor &t) -> std::function<int64_t(int64_t)> {
    if (t.size() == n)
      return [](int64_t k) { return k; };
    if (t.size() == 1)
      return [](int64_t) { return int64_t(0); };
    auto index =
        std::make_shared<std::vector<int64_t>>(broadcastIndex(t.shape, *shape));
    return [index](int64_t k) { return (*index)[k]; };
  };
  bool direct =
      (a->size() == n && b->size() == n) || (a->size() == n && b->size() == 1);
  if (a->isFloat()) {
    std::vector<float> &o = out.f.values();
    o.resize(n);
    if (direct && b->size() == n) {
      for (int64_t k = 0; k < n; ++k)
        o[k] = f(a->f[k], b->f[k]);
    } else if (direct) {
      float y = b->f[0];
      for (int64_t k = 0; k < n; ++k)
        o[k] = f(a->f[k], y);
    } else {
      auto ia = at(*a), ib = at(*b);
      for (int64_t k = 0; k < n; ++k)
        o[k] = f(a->f[ia(k)], b->f[ib(k)]);
    }
  } else {
    auto ia = at(*a), ib = at(*b);
    std::vector<int64_t> &o = out.i.values();
    o.resize(n);
    for (int64_t k = 0; k < n; ++k)
      o[k] = wrap(out.type, g(a->i[ia(k)], b->i[ib(k)]));
  }
  return out;
}

Expected<Tensor> Node::compare(std::function<bool(double, double)> f) {
  auto a = need(0), b = need(1);
  if (!a || !b)
    return a ? b.takeError() : a.takeError();
  auto shape = broadcast(a->shape, b->shape, std::max(a->size(), b->size()));
  if (!shape)
    return bad(llvm::toString(shape.takeError()));
  std::vector<int64_t> ia = broadcastIndex(a->shape, *shape),
                       ib = broadcastIndex(b->shape, *shape);
  std::vector<int64_t> out(ia.size());
  for (size_t k = 0; k < ia.size(); ++k)
    out[k] = f(a->at(ia[k]), b->at(ib[k]));
  return Tensor::ints(T::BOOL, *shape, std::move(out));
}

Expected<Tensor> Node::reduce(StringRef kind) {
  auto x = need(0);
  if (!x)
    return x.takeError();
  std::optional<std::vector<int64_t>> axes = attrInts("axes");
  if (input(1))
    axes = intsOf(*input(1));
  bool keep = attrInt("keepdims", 1);
  int64_t rank = x->rank();
  std::vector<bool> reduced(rank, !axes || axes->empty());
  if (axes && axes->empty() && attrInt("noop_with_empty_axes", 0))
    return *x;
  if (axes)
    for (int64_t a : *axes) {
      a = normAxis(a, rank);
      if (a < 0 || a >= rank)
        return bad("axis out of range");
      reduced[a] = true;
    }
  std::vector<int64_t> outShape, keptShape;
  for (int64_t d = 0; d < rank; ++d) {
    keptShape.push_back(reduced[d] ? 1 : x->shape[d]);
    if (!reduced[d] || keep)
      outShape.push_back(reduced[d] ? 1 : x->shape[d]);
  }
  // A reduced dimension of 0 gives 1: the output may be larger than x.
  auto outSize = fits(keptShape, x->size());
  if (!outSize)
    return outSize.takeError();
  int64_t count = x->size() / std::max<int64_t>(*outSize, 1);
  // Accumulate in element order, in f32 like ONNX runtimes' plain loops.
  std::vector<int64_t> xs = strides(x->shape), ks = strides(keptShape);
  std::vector<float> acc(*outSize, kind == "max" ? -INFINITY : 0.0f);
  std::vector<int64_t> iacc(*outSize, kind == "max" ? INT64_MIN : 0);
  for (int64_t k = 0, size = x->size(); k < size; ++k) {
    int64_t rest = k, at = 0;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t c = rest / xs[d];
      rest %= xs[d];
      if (!reduced[d])
        at += c * ks[d];
    }
    if (x->isFloat())
      acc[at] = kind == "max" ? std::max(acc[at], x->f[k]) : acc[at] + x->f[k];
    else
      iacc[at] = kind == "max" ? std::max(iacc[at], x->i[k])
                               : addWrap(iacc[at], x->i[k]);
  }
  if (!x->isFloat()) {
    if (kind == "mean" && count > 0)
      for (int64_t &v : iacc)
        v /= count;
    return Tensor::ints(x->type, outShape, iacc);
  }
  if (kind == "mean")
    for (float &v : acc)
      v /= float(count);
  return Tensor::floats(outShape, acc);
}

Expected<Tensor> Node::softmax() {
  auto x = need(0);
  if (!x)
    return x.takeError();
  if (!x->isFloat())
    return bad("needs a float input");
  int64_t rank = x->rank(), axis = normAxis(attrInt("axis", -1), rank);
  if (axis < 0 || axis >= rank)
    return bad("axis out of range");
  // Along `axis`: elements `inner` apart, for every outer and inner index.
  int64_t len = x->shape[axis], inner = 1, outer = 1;
  for (int64_t d = axis + 1; d < rank; ++d)
    inner *= x->shape[d];
  for (int64_t d = 0; d < axis; ++d)
    outer *= x->shape[d];
  Tensor out = *x;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      float *base = out.f.values().data() + o * len * inner + i;
      float mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < len; ++k)
        mx = std::max(mx, base[k * inner]);
      for (int64_t k = 0; k < len; ++k)
        sum += base[k * inner] = std::exp(base[k * inner] - mx);
      for (int64_t k = 0; k < len; ++k)
        base[k * inner] /= sum;
    }
  return out;
}

Expected<Tensor> Node::cast() {
  auto x = need(0);
  if (!x)
    return x.takeError();
  // CastLike takes the type of its second input.
  int32_t to = int32_t(attrInt("to", T::FLOAT));
  if (n.op_type() == "CastLike") {
    if (!input(1))
      return bad("needs the input whose type it takes");
    to = input(1)->type;
  }
  if (isFloatType(to)) {
    if (x->isFloat())
      return *x;
    std::vector<float> out(x->size());
    for (int64_t k = 0, size = x->size(); k < size; ++k)
      out[k] = float(x->i[k]);
    return Tensor::floats(x->shape, std::move(out));
  }
  std::vector<int64_t> out(x->size());
  for (int64_t k = 0, size = x->size(); k < size; ++k)
    out[k] = x->isFloat()
                 ? (to == T::BOOL ? x->f[k] != 0 : wrap(to, toInt64(x->f[k])))
                 : wrap(to, x->i[k]);
  return Tensor::ints(to, x->shape, std::move(out));
}

Expected<Tensor> Node::constant() {
  for (const onnx::AttributeProto &a : n.attribute()) {
    if (a.name() == "value")
      return readTensor(a.t(), dir);
    if (a.name() == "value_float")
      return Tensor::floats({}, {a.f()});
    if (a.name() == "value_floats")
      return Tensor::floats({a.floats_size()},
                            {a.floats().begin(), a.floats().end()});
    if (a.name() == "value_int")
      return Tensor::ints(T::INT64, {}, {a.i()});
    if (a.name() == "value_ints")
      return Tensor::ints(T::INT64, {a.ints_size()},
                          {a.ints().begin(), a.ints().end()});
  }
  return bad("has no value attribute Tern reads");
}

static float roundEven(float v) { return std::nearbyint(v); }

Error Node::checkKinds() const {
  // Per input: 'f' floats, 'i' integers, '=' the kind of the input before
  // it, '.' either. Ops that read both kinds check inside.
  static const llvm::StringMap<StringRef> kinds = {
      {"MatMul", ".="},
      {"Gemm", "fff"},
      {"MatMulInteger", "iiii"},
      {"MatMulNBits", "fif"},
      {"DequantizeLinear", "ifi"},
      {"SimplifiedLayerNormalization", "ff"},
      {"LayerNormalization", "fff"},
      {"RMSNormalization", "ff"},
      {"RotaryEmbedding", "fffi"},
      {"Attention", "fff.ff"},
      {"Where", "..="},
  };
  auto it = kinds.find(n.op_type());
  if (it == kinds.end())
    return Error::success();
  for (auto [k, kind] : llvm::enumerate(it->second)) {
    const Tensor *t = input(k);
    if (!t)
      continue;
    if (kind == 'f' && !t->isFloat())
      return bad(llvm::formatv("input {0} must hold floats", k).str());
    if (kind == 'i' && t->isFloat())
      return bad(llvm::formatv("input {0} must hold integers", k).str());
    if (kind == '=' && input(k - 1) && t->isFloat() != input(k - 1)->isFloat())
      return bad(llvm::formatv("inputs {0} and {1} must both hold floats or "
                               "both integers",
                               k - 1, k)
                     .str());
  }
  return Error::success();
}

Expected<std::vector<Tensor>> Node::run() {
  StringRef op = n.op_type();
  if (Error e = checkKinds())
    return std::move(e);
  auto one = [](Expected<Tensor> t) -> Expected<std::vector<Tensor>> {
    if (!t)
      return t.takeError();
    std::vector<Tensor> v;
    v.push_back(std::move(*t));
    return v;
  };
  if (op == "Identity")
    return one(need(0));
  if (op == "Constant")
    return one(constant());
  if (op == "Add")
    return one(binary(std::plus<float>(), addWrap));
  if (op == "Sub")
    return one(binary(std::minus<float>(), subWrap));
  if (op == "Mul")
    return one(binary(std::multiplies<float>(), mulWrap));
  if (op == "Div")
    return one(binary(std::divides<float>(), [](int64_t a, int64_t b) {
      // INT64_MIN / -1 overflows: wrapped, as the other operations.
      return b == 0 ? 0 : b == -1 ? subWrap(0, a) : a / b;
    }));
  if (op == "Pow")
    return one(binary(
        [](float a, float b) { return b == 2.0f ? a * a : std::pow(a, b); },
        [](int64_t a, int64_t b) {
          return toInt64(std::pow(double(a), double(b)));
        }));
  if (op == "Equal")
    return one(compare([](double a, double b) { return a == b; }));
  if (op == "Less")
    return one(compare([](double a, double b) { return a < b; }));
  if (op == "LessOrEqual")
    return one(compare([](double a, double b) { return a <= b; }));
  if (op == "Greater")
    return one(compare([](double a, double b) { return a > b; }));
  if (op == "GreaterOrEqual")
    return one(compare([](double a, double b) { return a >= b; }));
  if (op == "And")
    return one(compare([](double a, double b) { return a != 0 && b != 0; }));
  if (op == "Or")
    return one(compare([](double a, double b) { return a != 0 || b != 0; }));
  if (op == "Xor")
    return one(
        compare([](double a, double b) { return (a != 0) != (b != 0); }));
  if (op == "Not") {
    if (!input(0) || input(0)->isFloat())
      return bad("needs a boolean input");
    Tensor out = *input(0);
    for (int64_t &v : out.i.values())
      v = !v;
    return one(std::move(out));
  }
  if (op == "IsNaN" || op == "IsInf") {
    auto x = need(0);
    if (!x)
      return x.takeError();
    if (!x->isFloat())
      return bad("needs a float input");
    bool nan = op == "IsNaN";
    bool positive = attrInt("detect_positive", 1),
         negative = attrInt("detect_negative", 1);
    std::vector<int64_t> out(x->size());
    for (int64_t k = 0; k < x->size(); ++k) {
      float v = x->f[k];
      out[k] =
          nan ? std::isnan(v) : std::isinf(v) && (v > 0 ? positive : negative);
    }
    return one(Tensor::ints(T::BOOL, x->shape, std::move(out)));
  }
  if (op == "Abs")
    return one(unary([](float v) { return std::fabs(v); },
                     [](int64_t v) { return v < 0 ? subWrap(0, v) : v; }));
  if (op == "Neg")
    return one(unary([](float v) { return -v; },
                     [](int64_t v) { return subWrap(0, v); }));
  if (op == "Sqrt")
    return one(unary([](float v) { return std::sqrt(v); }));
  if (op == "Reciprocal")
    return one(unary([](float v) { return 1.0f / v; }));
  if (op == "Round")
    return one(unary(roundEven));
  if (op == "Relu")
    return one(unary([](float v) { return v > 0 ? v : 0.0f; },
                     [](int64_t v) { return v > 0 ? v : 0; }));
  if (op == "Sigmoid")
    return one(unary([](float v) { return 1.0f / (1.0f + std::exp(-v)); }));
  if (op == "Tanh")
    return one(unary([](float v) { return std::tanh(v); }));
  if (op == "Exp")
    return one(unary([](float v) { return std::exp(v); }));
  if (op == "Erf")
    return one(unary([](float v) { return std::erf(v); }));
  if (op == "Gelu") {
    const onnx::AttributeProto *a = attr("approximate");
    bool tanh = a && a->s() == "tanh";
    return one(unary([tanh](float v) {
      if (tanh)
        return 0.5f * v *
               (1.0f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
      return 0.5f * v * (1.0f + std::erf(v * 0.70710678f));
    }));
  }
  if (op == "Max" || op == "Min") {
    if (n.input_size() != 2)
      return bad("only two inputs are supported");
    bool max = op == "Max";
    return one(
        binary([max](float a,
                     float b) { return max ? std::max(a, b) : std::min(a, b); },
               [max](int64_t a, int64_t b) {
                 return max ? std::max(a, b) : std::min(a, b);
               }));
  }
  if (op == "Cos")
    return one(unary([](float v) { return std::cos(v); }));
  if (op == "Sin")
    return one(unary([](float v) { return std::sin(v); }));
  if (op == "Clip") {
    auto x = need(0);
    if (!x)
      return x.takeError();
    double lo = -INFINITY, hi = INFINITY;
    for (auto [k, bound, name] :
         {std::tuple(1, &lo, "min"), std::tuple(2, &hi, "max")}) {
      if (input(k)) {
        auto v = first(k);
        if (!v)
          return v.takeError();
        *bound = *v;
      } else if (attr(name)) {
        *bound = attrFloat(name, 0);
      }
    }
    Tensor out = std::move(*x);
    if (out.isFloat())
      for (float &v : out.f.values())
        v = std::min<float>(std::max<float>(v, lo), hi);
    else
      for (int64_t &v : out.i.values())
        v = toInt64(std::min<double>(std::max<double>(double(v), lo), hi));
    return one(std::move(out));
  }
  if (op == "BitShift") {
    if (!input(0) || input(0)->isFloat())
      return bad("needs integer inputs");
    bool left = attr("direction") && attr("direction")->s() == "LEFT";
    return one(binary([](float, float) { return 0.0f; },
                      [left](int64_t a, int64_t b) {
                        if (b < 0 || b > 63)
                          return int64_t(0);
                        return left ? int64_t(uint64_t(a) << b)
                                    : int64_t(uint64_t(a) >> b);
                      }));
  }
  if (op == "Cast" || op == "CastLike")
    return one(cast());
  if (op == "BitwiseAnd" || op == "BitwiseOr" || op == "BitwiseXor") {
    if (!input(0) || input(0)->isFloat())
      return bad("needs integer inputs");
    auto none = [](float, float) { return 0.0f; };
    if (op == "BitwiseAnd")
      return one(binary(none, [](int64_t a, int64_t b) { return a & b; }));
    if (op == "BitwiseOr")
      return one(binary(none, [](int64_t a, int64_t b) { return a | b; }));
    return one(binary(none, [](int64_t a, int64_t b) { return a ^ b; }));
  }
  if (op == "BitwiseNot") {
    if (!input(0) || input(0)->isFloat())
      return bad("needs an integer input");
    Tensor out = *input(0);
    for (int64_t &v : out.i.values())
      v = wrap(out.type, ~v);
    return one(std::move(out));
  }
  if (op == "ScatterND")
    return one(scatterND());
  if (op == "ReduceMean")
    return one(reduce("mean"));
  if (op == "ReduceMax")
    return one(reduce("max"));
  if (op == "ReduceSum")
    return one(reduce("sum"));
  if (op == "MatMul") {
    if (!input(0) || !input(1))
      return bad("needs A and B");
    return one(matmul(*input(0), *input(1)));
  }
  if (op == "Einsum")
    return one(einsum());
  if (op == "MatMulInteger") {
    auto a = need(0), b = need(1);
    if (!a || !b)
      return bad("needs A and B");
    for (auto [t, k] : {std::pair(&*a, 2), std::pair(&*b, 3)})
      if (input(k)) {
        auto zp = first(k);
        if (!zp)
          return zp.takeError();
        for (int64_t &v : t->i.values())
          v = subWrap(v, toInt64(*zp));
      }
    return one(matmul(*a, *b));
  }
  if (op == "MatMulNBits")
    return one(matmulNBits());
  if (op == "Gemm")
    return one(gemm());
  if (op == "DequantizeLinear") {
    auto x = need(0), s = need(1);
    if (!x || !s)
      return bad("needs x and scale");
    if (s->size() != 1 || (input(2) && input(2)->size() != 1))
      return bad("only per-tensor scales and zero points are supported");
    double zp = input(2) ? input(2)->at(0) : 0;
    std::vector<float> out(x->size());
    for (int64_t k = 0, size = x->size(); k < size; ++k)
      out[k] = float(double(x->i[k]) - zp) * s->f[0];
    return one(Tensor::floats(x->shape, std::move(out)));
  }
  if (op == "SimplifiedLayerNormalization") {
    auto x = need(0), g = need(1);
    if (!x || !g)
      return bad("needs X and scale");
    if (x->rank() < 1 || x->shape.back() < 1 || g->size() < 1)
      return bad("needs X of rank 1 or more and a scale");
    float eps = attrFloat("epsilon", 1e-5f);
    int64_t len = x->shape.back();
    std::vector<float> out(x->size());
    for (int64_t r = 0; r < x->size() / len; ++r) {
      float ss = 0;
      for (int64_t k = 0; k < len; ++k)
        ss += x->f[r * len + k] * x->f[r * len + k];
      float inv = 1.0f / std::sqrt(ss / float(len) + eps);
      for (int64_t k = 0; k < len; ++k)
        out[r * len + k] = x->f[r * len + k] * inv * g->f[k % g->size()];
    }
    return one(Tensor::floats(x->shape, std::move(out)));
  }
  if (op == "Softmax")
    return one(softmax());
  if (op == "LayerNormalization") {
    auto x = need(0), g = need(1);
    if (!x || !g)
      return bad("needs X and Scale");
    int64_t axis = normAxis(attrInt("axis", -1), x->rank());
    if (x->rank() < 1 || axis != x->rank() - 1 || n.output_size() > 1)
      return bad("only the last axis and one output are supported");
    if (!g->size() || (input(2) && !input(2)->size()))
      return bad("needs a Scale and B with values");
    float eps = attrFloat("epsilon", 1e-5f);
    const Tensor *bias = input(2);
    int64_t len = x->shape.back();
    std::vector<float> out(x->size()), row(len);
    for (int64_t r = 0; r < x->size() / std::max<int64_t>(len, 1); ++r) {
      x->f.read(r * len, len, row.data());
      float mean = 0, var = 0;
      for (int64_t k = 0; k < len; ++k)
        mean += row[k];
      mean /= float(len);
      for (int64_t k = 0; k < len; ++k)
        var += (row[k] - mean) * (row[k] - mean);
      float inv = 1.0f / std::sqrt(var / float(len) + eps);
      for (int64_t k = 0; k < len; ++k)
        out[r * len + k] = (row[k] - mean) * inv * g->f[k % g->size()] +
                           (bias ? bias->f[k % bias->size()] : 0.0f);
    }
    return one(Tensor::floats(x->shape, std::move(out)));
  }
  if (op == "Gather")
    return one(gather());
  if (op == "GatherND")
    return one(gatherND());
  if (op == "Flatten")
    return one(flatten());
  if (op == "CumSum")
    return one(cumSum());
  if (op == "Slice")
    return one(slice());
  if (op == "Concat")
    return one(concat());
  if (op == "Split")
    return split();
  if (op == "RMSNormalization")
    return one(rmsNormalization());
  if (op == "RotaryEmbedding")
    return one(rotaryEmbedding());
  if (op == "Attention")
    return attention();
  if (op == "Where")
    return one(where());
  if (op == "Expand")
    return one(expand());
  if (op == "Trilu")
    return one(trilu());
  if (op == "Reshape") {
    auto x = need(0), s = need(1);
    if (!x || !s)
      return bad("needs data and shape");
    return one(reshape(*x, intsOf(*s)));
  }
  if (op == "Transpose") {
    auto x = need(0);
    if (!x)
      return x.takeError();
    return one(
        transpose(*x, attrInts("perm").value_or(std::vector<int64_t>{})));
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    auto x = need(0);
    if (!x)
      return x.takeError();
    std::vector<int64_t> axes =
        input(1) ? intsOf(*input(1))
                 : attrInts("axes").value_or(std::vector<int64_t>{});
    std::vector<int64_t> shape = x->shape;
    if (op == "Unsqueeze") {
      int64_t rank = x->rank() + int64_t(axes.size());
      for (int64_t &a : axes) {
        a = normAxis(a, rank);
        if (a < 0 || a >= rank)
          return bad("has an axis outside the output's rank " +
                     std::to_string(rank));
      }
      llvm::sort(axes);
      for (int64_t a : axes)
        shape.insert(shape.begin() + std::min<int64_t>(a, shape.size()), 1);
    } else {
      std::vector<bool> drop(shape.size(), axes.empty());
      for (int64_t a : axes) {
        a = normAxis(a, x->rank());
        if (a < 0 || a >= x->rank())
          return bad("has an axis outside the input's rank " +
                     std::to_string(x->rank()));
        drop[a] = true;
      }
      shape.clear();
      for (int64_t d = 0; d < x->rank(); ++d)
        if (!drop[d] || x->shape[d] != 1)
          shape.push_back(x->shape[d]);
    }
    Tensor out = std::move(*x);
    out.shape = shape;
    return one(std::move(out));
  }
  if (op == "Shape") {
    auto x = need(0);
    if (!x)
      return x.takeError();
    int64_t rank = x->rank();
    int64_t start =
        std::clamp<int64_t>(normAxis(attrInt("start", 0), rank), 0, rank);
    int64_t end =
        std::clamp<int64_t>(normAxis(attrInt("end", rank), rank), 0, rank);
    std::vector<int64_t> dims(x->shape.begin() + start,
                              x->shape.begin() + std::max(start, end));
    return one(Tensor::ints(T::INT64, {int64_t(dims.size())}, dims));
  }
  if (op == "ConstantOfShape") {
    auto s = need(0);
    if (!s)
      return s.takeError();
    Tensor value = Tensor::floats({1}, {0.0f});
    if (const onnx::AttributeProto *a = attr("value")) {
      auto v = readTensor(a->t(), dir);
      if (!v)
        return v.takeError();
      value = *v;
    }
    if (value.size() < 1)
      return bad("has an empty value");
    Tensor out = value;
    out.shape = intsOf(*s);
    auto count = fits(out.shape);
    if (!count)
      return count.takeError();
    if (value.isFloat())
      out.f = std::vector<float>(*count, value.f[0]);
    else
      out.i = std::vector<int64_t>(*count, value.i[0]);
    return one(std::move(out));
  }
  if (op == "Range") {
    double v[3];
    for (int k = 0; k < 3; ++k) {
      auto e = first(k);
      if (!e)
        return e.takeError();
      v[k] = *e;
    }
    const Tensor *s = input(0);
    double start = v[0], limit = v[1], delta = v[2];
    if (delta == 0)
      return bad("delta is 0");
    double steps = std::ceil((limit - start) / delta);
    if (!(steps <= double(kMaxProbeElements)))
      return bad(steps == steps ? "is too large to evaluate"
                                : "has a start, limit or delta that is not "
                                  "finite");
    int64_t count = std::max<int64_t>(0, int64_t(steps));
    std::vector<float> f;
    std::vector<int64_t> i;
    for (int64_t k = 0; k < count; ++k) {
      if (s->isFloat())
        f.push_back(float(start + k * delta));
      else
        i.push_back(toInt64(start + double(k) * delta));
    }
    return one(s->isFloat() ? Tensor::floats({count}, std::move(f))
                            : Tensor::ints(s->type, {count}, std::move(i)));
  }
  return bad("is not an op the interpreter runs");
}

Expected<std::vector<Tensor>>
mlir::tern::onnx_frontend::evaluateNode(const onnx::NodeProto &node,
                                        ArrayRef<const Tensor *> inputs,
                                        const DataDir &dir) {
  auto outs = Node(node, inputs, dir).run();
  if (!outs)
    return outs;
  // What later nodes index by must be what is there: a shape that does not
  // match the elements is a bug here, never read past.
  for (const Tensor &t : *outs) {
    auto count = elementsWithin(t.shape, INT64_MAX);
    int64_t stored = t.isFloat() ? t.f.size() : t.i.size();
    bool fits =
        count && *count == stored && !(t.isFloat() ? t.i.size() : t.f.size());
    if (!count)
      llvm::consumeError(count.takeError());
    if (!fits)
      return error("node '" + node.name() + "' (" + node.op_type() +
                   "): the interpreter computed " + std::to_string(stored) +
                   " elements for shape " + shapeString(t.shape) +
                   "; please report this model");
  }
  return outs;
}

Expected<Tensor>
mlir::tern::onnx_frontend::matmulWeight(const onnx::NodeProto &node,
                                        ArrayRef<const Tensor *> inputs) {
  return Node(node, inputs, "").weight();
}
