//===- InterpreterShapes.cpp - ONNX ops that move elements ----------------===//
//
// Gather, GatherND, ScatterND, Slice, Reshape, Flatten, Transpose, Concat,
// Split, Where, Expand, Trilu, CumSum, and Einsum (a contraction, but mostly
// index bookkeeping).
//
//===----------------------------------------------------------------------===//

#include "Interpreter.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>
#include <type_traits>
#include <utility>

using namespace mlir::tern::onnx_frontend;
using namespace mlir::tern::onnx_frontend::interp;

namespace {

/// Appends elements [begin, begin + n) of `from` to `to`.
template <typename E>
void append(std::vector<E> &to, const Elements<E> &from, int64_t begin,
            int64_t n) {
  size_t at = to.size();
  to.resize(at + n);
  from.read(begin, n, to.data() + at);
}

/// A tensor of `x`'s type with these values (those of its kind).
Tensor like(const Tensor &x, std::vector<int64_t> shape, std::vector<float> f,
            std::vector<int64_t> i) {
  return x.isFloat() ? Tensor::floats(std::move(shape), std::move(f))
                     : Tensor::ints(x.type, std::move(shape), std::move(i));
}

} // namespace

Expected<Tensor> Node::gather() {
  auto data = need(0), idx = need(1);
  if (!data || !idx)
    return data ? idx.takeError() : data.takeError();
  int64_t axis = normAxis(attrInt("axis", 0), data->rank());
  if (axis < 0 || axis >= data->rank())
    return bad("axis out of range");
  int64_t outer = 1, inner = 1, dim = data->shape[axis];
  for (int64_t d = 0; d < axis; ++d)
    outer *= data->shape[d];
  for (int64_t d = axis + 1; d < data->rank(); ++d)
    inner *= data->shape[d];
  std::vector<int64_t> shape(data->shape.begin(), data->shape.begin() + axis);
  shape.insert(shape.end(), idx->shape.begin(), idx->shape.end());
  shape.insert(shape.end(), data->shape.begin() + axis + 1, data->shape.end());
  if (auto size = fits(shape, data->size()); !size)
    return size.takeError();
  std::vector<int64_t> ids = intsOf(*idx);
  std::vector<float> f;
  std::vector<int64_t> i;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t id : ids) {
      if (id < 0)
        id += dim;
      if (id < 0 || id >= dim)
        return bad(llvm::formatv("index {0} is out of range for a dimension "
                                 "of {1}",
                                 id, dim)
                       .str());
      int64_t base = (o * dim + id) * inner;
      if (data->isFloat())
        append(f, data->f, base, inner);
      else
        append(i, data->i, base, inner);
    }
  return like(*data, shape, std::move(f), std::move(i));
}

Expected<Tensor> Node::slice() {
  auto x = need(0), s = need(1), e = need(2);
  if (!x || !s || !e)
    return bad("needs data, starts and ends");
  std::vector<int64_t> starts = intsOf(*s), ends = intsOf(*e), axes, steps;
  if (input(3))
    axes = intsOf(*input(3));
  else
    for (size_t k = 0; k < starts.size(); ++k)
      axes.push_back(k);
  if (input(4))
    steps = intsOf(*input(4));
  else
    steps.assign(starts.size(), 1);
  int64_t rank = x->rank();
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return bad("has starts, ends, axes and steps of different lengths");
  std::vector<int64_t> begin(rank, 0), step(rank, 1), count(x->shape);
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t a = normAxis(axes[k], rank);
    if (a < 0 || a >= rank || steps[k] == 0)
      return bad("bad axis or step");
    // Positions are clamped into [-1, dim] before any arithmetic, so that
    // extreme starts, ends and steps cannot overflow.
    int64_t dim = x->shape[a];
    auto position = [&](int64_t v) {
      return v < 0 ? std::max<int64_t>(v, -dim - 1) + dim
                   : std::min<int64_t>(v, dim);
    };
    int64_t st = position(starts[k]), en = position(ends[k]);
    int64_t sp = std::max<int64_t>(steps[k], -INT64_MAX);
    if (dim == 0) {
      count[a] = 0;
    } else if (sp > 0) {
      st = std::clamp<int64_t>(st, 0, dim);
      en = std::clamp<int64_t>(en, 0, dim);
      count[a] = en > st ? (en - st - 1) / sp + 1 : 0;
    } else {
      st = std::clamp<int64_t>(st, 0, dim - 1);
      en = std::clamp<int64_t>(en, -1, dim - 1);
      count[a] = st > en ? (st - en - 1) / -sp + 1 : 0;
    }
    begin[a] = st;
    step[a] = sp;
  }
  std::vector<float> f;
  std::vector<int64_t> i;
  std::vector<int64_t> xs = strides(x->shape), os = strides(count);
  int64_t total = 1;
  for (int64_t c : count)
    total *= c;
  for (int64_t k = 0; k < total; ++k) {
    int64_t rest = k, at = 0;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t c = rest / os[d];
      rest %= os[d];
      at += (begin[d] + c * step[d]) * xs[d];
    }
    if (x->isFloat())
      f.push_back(x->f[at]);
    else
      i.push_back(x->i[at]);
  }
  return like(*x, count, std::move(f), std::move(i));
}

Expected<Tensor> Node::reshape(const Tensor &x, std::vector<int64_t> target) {
  bool allowZero = attrInt("allowzero", 0);
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < target.size(); ++d) {
    if (target[d] == 0 && !allowZero) {
      if (d >= x.shape.size())
        return bad("copies a dimension the input does not have");
      target[d] = x.shape[d];
    }
    if (target[d] == -1) {
      if (infer >= 0)
        return bad("infers more than one dimension (-1)");
      infer = d;
    } else if (target[d] < 0 ||
               __builtin_mul_overflow(known, target[d], &known)) {
      return bad("cannot reshape " + shapeString(x.shape) + " to " +
                 shapeString(target));
    }
  }
  if (infer >= 0)
    target[infer] = known ? x.size() / known : 0;
  Tensor out = x;
  out.shape = target;
  if (out.size() != x.size())
    return bad("cannot reshape " + shapeString(x.shape) + " to " +
               shapeString(target));
  return out;
}

Expected<Tensor> Node::transpose(const Tensor &x, std::vector<int64_t> perm) {
  int64_t rank = x.rank();
  if (perm.empty())
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  std::vector<int64_t> sorted = perm;
  llvm::sort(sorted);
  for (int64_t d = 0; d < int64_t(sorted.size()); ++d)
    if (int64_t(sorted.size()) != rank || sorted[d] != d)
      return bad("perm " + shapeString(perm) + " is not a permutation of " +
                 std::to_string(rank) + " axes");
  std::vector<int64_t> shape(rank);
  for (int64_t d = 0; d < rank; ++d)
    shape[d] = x.shape[perm[d]];
  std::vector<int64_t> xs = strides(x.shape), os = strides(shape);
  std::vector<float> f(x.isFloat() ? x.size() : 0);
  std::vector<int64_t> i(x.isFloat() ? 0 : x.size());
  for (int64_t k = 0, size = x.size(); k < size; ++k) {
    int64_t rest = k, at = 0;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t c = rest / os[d];
      rest %= os[d];
      at += c * xs[perm[d]];
    }
    if (x.isFloat())
      f[k] = x.f[at];
    else
      i[k] = x.i[at];
  }
  return like(x, shape, std::move(f), std::move(i));
}

Expected<Tensor> Node::concat() {
  if (in.empty() || !in[0])
    return bad("needs inputs");
  int64_t rank = in[0]->rank(), axis = normAxis(attrInt("axis", 0), rank);
  if (axis < 0 || axis >= rank)
    return bad("axis out of range");
  std::vector<int64_t> shape = in[0]->shape;
  shape[axis] = 0;
  int64_t stored = 0;
  llvm::SmallPtrSet<const Tensor *, 8> distinct;
  for (const Tensor *t : in) {
    if (!t || t->rank() != rank || t->isFloat() != in[0]->isFloat())
      return bad("inputs differ in rank or type");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && t->shape[d] != in[0]->shape[d])
        return bad("inputs " + shapeString(in[0]->shape) + " and " +
                   shapeString(t->shape) + " differ off the axis");
    shape[axis] += t->shape[axis];
    if (distinct.insert(t).second)
      stored += t->size();
  }
  // One input repeated many times could ask for any size.
  if (auto size = fits(shape, stored); !size)
    return size.takeError();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  std::vector<float> f;
  std::vector<int64_t> i;
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor *t : in) {
      int64_t chunk = t->size() / std::max<int64_t>(outer, 1);
      if (t->isFloat())
        append(f, t->f, o * chunk, chunk);
      else
        append(i, t->i, o * chunk, chunk);
    }
  return like(*in[0], shape, std::move(f), std::move(i));
}

Expected<std::vector<Tensor>> Node::split() {
  auto x = need(0);
  if (!x)
    return x.takeError();
  int64_t rank = x->rank(), axis = normAxis(attrInt("axis", 0), rank);
  if (axis < 0 || axis >= rank)
    return bad("axis out of range");
  std::vector<int64_t> sizes;
  if (input(1))
    sizes = intsOf(*input(1));
  else if (auto s = attrInts("split"))
    sizes = *s;
  else {
    int64_t parts = n.output_size(), dim = x->shape[axis];
    if (parts < 1)
      return bad("has no outputs");
    int64_t each = (dim + parts - 1) / parts;
    for (int64_t p = 0; p < parts; ++p)
      sizes.push_back(std::min(each, dim - p * each));
  }
  std::vector<Tensor> outs;
  int64_t at = 0;
  for (int64_t size : sizes) {
    Tensor starts = Tensor::ints(T::INT64, {1}, {at}),
           ends = Tensor::ints(T::INT64, {1}, {at + size}),
           axes = Tensor::ints(T::INT64, {1}, {axis});
    const Tensor *args[] = {&*x, &starts, &ends, &axes};
    auto part = Node(n, args, dir).slice();
    if (!part)
      return part.takeError();
    outs.push_back(std::move(*part));
    at += size;
  }
  return outs;
}

Expected<Tensor> Node::where() {
  auto c = need(0), a = need(1), b = need(2);
  if (!c || !a || !b)
    return bad("needs condition, X and Y");
  int64_t largest = std::max({c->size(), a->size(), b->size()});
  auto s1 = broadcast(c->shape, a->shape, largest);
  if (!s1)
    return bad(llvm::toString(s1.takeError()));
  auto shape = broadcast(*s1, b->shape, largest);
  if (!shape)
    return bad(llvm::toString(shape.takeError()));
  std::vector<int64_t> ic = broadcastIndex(c->shape, *shape),
                       ia = broadcastIndex(a->shape, *shape),
                       ib = broadcastIndex(b->shape, *shape);
  std::vector<float> f;
  std::vector<int64_t> i;
  for (size_t k = 0; k < ic.size(); ++k) {
    bool pick = c->at(ic[k]) != 0;
    if (a->isFloat())
      f.push_back(pick ? a->f[ia[k]] : b->f[ib[k]]);
    else
      i.push_back(pick ? a->i[ia[k]] : b->i[ib[k]]);
  }
  return like(*a, *shape, std::move(f), std::move(i));
}

Expected<Tensor> Node::expand() {
  auto x = need(0), s = need(1);
  if (!x || !s)
    return bad("needs input and shape");
  auto shape = broadcast(x->shape, intsOf(*s), x->size());
  if (!shape)
    return bad(llvm::toString(shape.takeError()));
  std::vector<int64_t> ix = broadcastIndex(x->shape, *shape);
  std::vector<float> f;
  std::vector<int64_t> i;
  for (int64_t k : ix) {
    if (x->isFloat())
      f.push_back(x->f[k]);
    else
      i.push_back(x->i[k]);
  }
  return like(*x, *shape, std::move(f), std::move(i));
}

Expected<Tensor> Node::trilu() {
  auto x = need(0);
  if (!x)
    return x.takeError();
  if (x->rank() < 2)
    return bad("needs rank 2 or more");
  int64_t k = 0;
  if (input(1)) {
    auto v = first(1);
    if (!v)
      return v.takeError();
    k = toInt64(*v);
  }
  bool upper = attrInt("upper", 1);
  int64_t rows = x->shape[x->rank() - 2], cols = x->shape.back();
  Tensor out = *x;
  for (int64_t e = 0, size = x->size(); e < size; ++e) {
    int64_t c = e % cols, r = (e / cols) % rows;
    bool keep = upper ? c - r >= k : c - r <= k;
    if (!keep) {
      if (out.isFloat())
        out.f.values()[e] = 0;
      else
        out.i.values()[e] = 0;
    }
  }
  return out;
}

Expected<Tensor> Node::gatherND() {
  auto data = need(0), idx = need(1);
  if (!data || !idx)
    return data ? idx.takeError() : data.takeError();
  int64_t b = attrInt("batch_dims", 0), r = data->rank(), q = idx->rank();
  if (q < 1 || b < 0 || b >= std::min(r, q))
    return bad("indices of rank " + std::to_string(q) + " with batch_dims " +
               std::to_string(b) + " do not fit data of rank " +
               std::to_string(r));
  int64_t depth = idx->shape.back();
  if (depth < 1 || b + depth > r)
    return bad(llvm::formatv("an index of {0} coordinates does not fit data "
                             "of rank {1} with batch_dims {2}",
                             depth, r, b)
                   .str());
  for (int64_t d = 0; d < b; ++d)
    if (idx->shape[d] != data->shape[d])
      return bad("indices " + shapeString(idx->shape) + " and data " +
                 shapeString(data->shape) + " differ in the batch dimensions");
  // Output: batch dims, the indices' own dims, the data's remaining dims.
  std::vector<int64_t> shape(idx->shape.begin(), idx->shape.end() - 1);
  shape.insert(shape.end(), data->shape.begin() + b + depth, data->shape.end());
  if (auto size = fits(shape, data->size()); !size)
    return size.takeError();
  int64_t batches = 1, inner = 1, dataBatch = 1;
  for (int64_t d = 0; d < b; ++d)
    batches *= idx->shape[d];
  for (int64_t d = b + depth; d < r; ++d)
    inner *= data->shape[d];
  for (int64_t d = b; d < r; ++d)
    dataBatch *= data->shape[d];
  int64_t perBatch = 1;
  for (int64_t d = b; d < q - 1; ++d)
    perBatch *= idx->shape[d];
  std::vector<int64_t> ds = strides(data->shape), ids = intsOf(*idx);
  std::vector<float> f;
  std::vector<int64_t> i;
  for (int64_t bt = 0; bt < batches; ++bt)
    for (int64_t t = 0; t < perBatch; ++t) {
      int64_t base = bt * dataBatch;
      for (int64_t c = 0; c < depth; ++c) {
        int64_t dim = data->shape[b + c];
        int64_t id = ids[(bt * perBatch + t) * depth + c];
        if (id < 0)
          id += dim;
        if (id < 0 || id >= dim)
          return bad(llvm::formatv("index {0} is out of range for a "
                                   "dimension of {1}",
                                   id, dim)
                         .str());
        base += id * ds[b + c];
      }
      if (data->isFloat())
        append(f, data->f, base, inner);
      else
        append(i, data->i, base, inner);
    }
  return like(*data, shape, std::move(f), std::move(i));
}

Expected<Tensor> Node::scatterND() {
  auto data = need(0), idx = need(1), updates = need(2);
  if (!data || !idx || !updates)
    return bad("needs data, indices and updates");
  if (data->isFloat() != updates->isFloat())
    return bad("data and updates differ in type");
  int64_t r = data->rank(), q = idx->rank();
  int64_t depth = q ? idx->shape.back() : 0;
  if (q < 1 || depth < 1 || depth > r)
    return bad("indices of shape " + shapeString(idx->shape) +
               " do not fit data of rank " + std::to_string(r));
  std::string reduction = "none";
  for (const onnx::AttributeProto &a : n.attribute())
    if (a.name() == "reduction")
      reduction = a.s();
  if (reduction != "none" && reduction != "add" && reduction != "mul" &&
      reduction != "max" && reduction != "min")
    return bad("reduction '" + reduction + "' is not one ONNX defines");
  int64_t inner = 1, count = 1;
  for (int64_t d = depth; d < r; ++d)
    inner *= data->shape[d];
  for (int64_t d = 0; d < q - 1; ++d)
    count *= idx->shape[d];
  if (updates->size() != count * inner)
    return bad("updates of shape " + shapeString(updates->shape) +
               " do not match the indices and data");
  std::vector<int64_t> ds = strides(data->shape), ids = intsOf(*idx);
  Tensor out = *data;
  auto apply = [&](auto &values, const auto &from) {
    for (int64_t t = 0; t < count; ++t) {
      int64_t base = 0;
      for (int64_t c = 0; c < depth; ++c) {
        int64_t dim = data->shape[c], id = ids[t * depth + c];
        if (id < 0)
          id += dim;
        if (id < 0 || id >= dim)
          return false;
        base += id * ds[c];
      }
      for (int64_t e = 0; e < inner; ++e) {
        auto u = from[t * inner + e];
        auto &v = values[base + e];
        constexpr bool ints = std::is_same_v<decltype(u), int64_t>;
        if (reduction == "add") {
          if constexpr (ints)
            v = addWrap(v, u);
          else
            v = v + u;
        } else if (reduction == "mul") {
          if constexpr (ints)
            v = mulWrap(v, u);
          else
            v = v * u;
        } else if (reduction == "max") {
          v = std::max<decltype(u)>(v, u);
        } else if (reduction == "min") {
          v = std::min<decltype(u)>(v, u);
        } else {
          v = u;
        }
      }
    }
    return true;
  };
  bool inRange = out.isFloat() ? apply(out.f.values(), updates->f)
                               : apply(out.i.values(), updates->i);
  if (!inRange)
    return bad("an index is out of range of the data");
  if (!out.isFloat())
    for (int64_t &v : out.i.values())
      v = wrap(out.type, v);
  return out;
}

Expected<Tensor> Node::flatten() {
  auto x = need(0);
  if (!x)
    return x.takeError();
  int64_t axis = normAxis(attrInt("axis", 1), x->rank());
  if (axis < 0 || axis > x->rank())
    return bad("axis out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x->rank(); ++d)
    (d < axis ? outer : inner) *= x->shape[d];
  Tensor out = std::move(*x);
  out.shape = {outer, inner};
  return out;
}

Expected<Tensor> Node::cumSum() {
  auto x = need(0), a = need(1);
  if (!x || !a)
    return bad("needs data and axis");
  auto first = this->first(1);
  if (!first)
    return first.takeError();
  int64_t axis = normAxis(toInt64(*first), x->rank());
  if (axis < 0 || axis >= x->rank())
    return bad("axis out of range");
  bool exclusive = attrInt("exclusive", 0), reverse = attrInt("reverse", 0);
  int64_t dim = x->shape[axis], inner = 1, outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= x->shape[d];
  for (int64_t d = axis + 1; d < x->rank(); ++d)
    inner *= x->shape[d];
  Tensor out = *x;
  auto scan = [&](auto &values, auto zero) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        auto sum = zero;
        for (int64_t step = 0; step < dim; ++step) {
          int64_t j = reverse ? dim - 1 - step : step;
          int64_t at = (o * dim + j) * inner + in;
          auto v = values[at];
          if constexpr (std::is_same_v<decltype(sum), int64_t>)
            v = std::exchange(sum, addWrap(sum, v));
          else
            v = std::exchange(sum, sum + v);
          values[at] = exclusive ? v : sum;
        }
      }
  };
  if (out.isFloat())
    scan(out.f.values(), 0.0f);
  else {
    scan(out.i.values(), int64_t(0));
    for (int64_t &v : out.i.values())
      v = wrap(out.type, v);
  }
  return out;
}

/// Einsum without ellipses (torch.outer and friends): every label's index
/// visited once, products summed into the output's labels.
Expected<Tensor> Node::einsum() {
  const onnx::AttributeProto *a = attr("equation");
  std::string eq;
  for (char ch : a ? a->s() : "")
    if (ch != ' ')
      eq += ch;
  if (eq.find("...") != std::string::npos)
    return bad("has an ellipsis ('...') in its equation '" + eq +
               "', which Tern does not support");
  size_t arrow = eq.find("->");
  llvm::SmallVector<StringRef> terms;
  StringRef(eq).substr(0, arrow).split(terms, ',');
  if (terms.size() != in.size())
    return bad(llvm::formatv("has {0} operands for the {1} terms of '{2}'",
                             in.size(), terms.size(), eq)
                   .str());
  std::map<char, int64_t> size, count;
  for (auto [term, t] : llvm::zip(terms, in)) {
    if (!t || int64_t(term.size()) != t->rank())
      return bad("term '" + term + "' does not fit its operand");
    for (auto [k, ch] : llvm::enumerate(term)) {
      if (!llvm::isAlpha(ch))
        return bad("has an invalid equation '" + eq + "'");
      auto [it, fresh] = size.try_emplace(ch, t->shape[k]);
      if (!fresh && it->second != t->shape[k])
        return bad(llvm::formatv("gives label '{0}' sizes {1} and {2}", ch,
                                 it->second, t->shape[k])
                       .str());
      ++count[ch];
    }
  }
  std::string out;
  if (arrow != std::string::npos)
    out = eq.substr(arrow + 2);
  else // implicit: the labels used once, in alphabetical order
    for (auto [ch, n] : count)
      if (n == 1)
        out += ch;
  std::string labels = out;
  for (auto [ch, n] : size)
    if (out.find(ch) == std::string::npos)
      labels += ch;
  std::vector<int64_t> shape, dims;
  for (char ch : labels) {
    if (!size.count(ch))
      return bad(llvm::formatv("has output label '{0}' in no input", ch).str());
    dims.push_back(size[ch]);
  }
  shape.assign(dims.begin(), dims.begin() + out.size());
  // Every combination of the labels' indices is visited once.
  auto total = fits(dims);
  if (!total)
    return total.takeError();
  // Each operand's stride per label (repeated labels: the diagonal).
  std::vector<std::vector<int64_t>> strides(
      in.size(), std::vector<int64_t>(labels.size()));
  for (auto [k, term] : llvm::enumerate(terms)) {
    int64_t stride = 1;
    for (int64_t d = int64_t(term.size()) - 1; d >= 0; --d) {
      strides[k][labels.find(term[d])] += stride;
      stride *= in[k]->shape[d];
    }
  }
  int64_t outSize = 1;
  for (int64_t d : shape)
    outSize *= d;
  std::vector<double> acc(outSize, 0.0);
  std::vector<int64_t> index(labels.size(), 0), at(in.size(), 0);
  for (int64_t step = 0; step < *total; ++step) {
    double product = 1;
    for (size_t k = 0; k < in.size(); ++k)
      product *= in[k]->at(at[k]);
    int64_t o = 0;
    for (size_t d = 0; d < out.size(); ++d)
      o = o * dims[d] + index[d];
    acc[o] += product;
    for (int64_t d = int64_t(labels.size()) - 1; d >= 0; --d) {
      for (size_t k = 0; k < in.size(); ++k)
        at[k] += strides[k][d];
      if (++index[d] < dims[d])
        break;
      for (size_t k = 0; k < in.size(); ++k)
        at[k] -= strides[k][d] * dims[d];
      index[d] = 0;
    }
  }
  if (llvm::all_of(in, [](const Tensor *t) { return t->isFloat(); }))
    return Tensor::floats(shape, std::vector<float>(acc.begin(), acc.end()));
  std::vector<int64_t> ints;
  for (double v : acc)
    ints.push_back(wrap(in[0]->type, toInt64(v)));
  return Tensor::ints(in[0]->type, shape, std::move(ints));
}
