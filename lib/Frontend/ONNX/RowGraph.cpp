//===- RowGraph.cpp - ONNX graphs other than language models --------------===//
//
// The generic path compiles row-wise graphs: every input and every value the
// graph computes from them has the same leading dimensions (batch, sequence,
// ...) and a last dimension of features, and every node works on each row
// alone. MLPs, classifier heads and BitLinear stacks are such graphs. Each
// row is a token row of tern ops, so the kernels are the language models'
// ones: BitLinears and the RMSNorms before them (found and checked as in
// Patterns.h), matrix products by constant weights,
// SimplifiedLayerNormalization (or opset 23's RMSNormalization), elementwise
// ops whose constant operands broadcast along the rows, and reductions over the
// row (one column, which broadcasts back along it): Softmax and
// LayerNormalization are spelled in those.
//
//===----------------------------------------------------------------------===//

#include "RowGraph.h"
#include "Patterns.h"

#include "Tern/IR/TernDialect.h"
#include "Tern/IR/TernOps.h"
#include "Tern/IR/WeightData.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "tern/Frontend/BitNetModel.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <map>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::onnx_frontend;
using llvm::Expected;
using llvm::StringRef;

namespace {

class RowGraphBuilder : public Matcher {
public:
  RowGraphBuilder(const GraphValues &g, MLIRContext &context)
      : Matcher(g), b(&context), loc(UnknownLoc::get(&context)) {}

  Expected<OwningOpRef<ModuleOp>> run(llvm::ArrayRef<GraphInput> inputs);

private:
  RankedTensorType acts(int64_t n) {
    return RankedTensorType::get({ShapedType::kDynamic, n}, b.getF32Type());
  }
  /// The rows' leading shape holds for `name`: [lead..., n].
  llvm::Error checkRows(StringRef name, const onnx::NodeProto &n);
  Expected<Value> operand(StringRef name, const onnx::NodeProto &n,
                          int64_t width);
  Value vector(StringRef name, llvm::ArrayRef<float> data);
  llvm::Error translate(const onnx::NodeProto &n);
  llvm::Error unsupported(const onnx::NodeProto &n, const llvm::Twine &why) {
    return fail(name(n) + ": " + why +
                "; the generic path compiles row-wise graphs (BitLinears, "
                "products by constant weights, elementwise ops, reductions, "
                "softmax and normalizations over the last axis)");
  }

  OpBuilder b;
  Location loc;
  std::vector<int64_t> lead;
  /// ONNX values computed so far, as [rows, features] tern values.
  std::map<std::string, Value> env;
};

llvm::Error RowGraphBuilder::checkRows(StringRef v, const onnx::NodeProto &n) {
  const Tensor &t = val(v);
  if (t.rank() == int64_t(lead.size()) + 1 &&
      std::equal(lead.begin(), lead.end(), t.shape.begin()))
    return llvm::Error::success();
  return unsupported(n, "'" + v + "' has shape " + shapeString(t.shape) +
                            ", not the inputs' rows " + shapeString(lead) +
                            " times features");
}

Value RowGraphBuilder::vector(StringRef name, llvm::ArrayRef<float> data) {
  auto type = RankedTensorType::get({int64_t(data.size())}, b.getF32Type());
  return createWeight(b, loc, name, type, type, [&](MutableArrayRef<char> out) {
    std::memcpy(out.data(), data.data(), data.size() * 4);
  });
}

/// A dynamic value, or a constant broadcast along the rows: one value, or
/// one per feature.
Expected<Value> RowGraphBuilder::operand(StringRef v, const onnx::NodeProto &n,
                                         int64_t width) {
  if (g.isDynamic(v)) {
    auto it = env.find(v.str());
    if (it == env.end())
      return unsupported(n, "reads '" + v + "', which is not a row value");
    return it->second;
  }
  const Tensor &t = val(v);
  if (!t.isFloat())
    return unsupported(n, "has an integer operand '" + v + "'");
  bool perFeature = t.size() == width && t.rank() && t.shape.back() == width;
  if (t.size() != 1 && !perFeature)
    return unsupported(n, "constant '" + v + "' of shape " +
                              shapeString(t.shape) +
                              " does not broadcast along the rows");
  return vector(v, t.f.vec());
}

llvm::Error RowGraphBuilder::translate(const onnx::NodeProto &n) {
  StringRef op = n.op_type();
  if (n.output_size() != 1)
    return unsupported(n, "has several outputs");
  std::string out = n.output(0);
  if (llvm::Error e = checkRows(out, n))
    return e;
  int64_t width = val(out).shape.back();
  auto define = [&](Value v) {
    env[out] = v;
    return llvm::Error::success();
  };
  if (op == "Identity" || op == "Cast") {
    if (!val(out).isFloat())
      return unsupported(n, "makes integers of row values");
    Expected<Value> x = operand(n.input(0), n, width);
    if (!x)
      return x.takeError();
    return define(*x);
  }
  std::optional<UnaryFn> unary = llvm::StringSwitch<std::optional<UnaryFn>>(op)
                                     .Case("Relu", UnaryFn::Relu)
                                     .Case("Sigmoid", UnaryFn::Sigmoid)
                                     .Case("Tanh", UnaryFn::Tanh)
                                     .Case("Neg", UnaryFn::Neg)
                                     .Case("Abs", UnaryFn::Abs)
                                     .Case("Sqrt", UnaryFn::Sqrt)
                                     .Case("Reciprocal", UnaryFn::Reciprocal)
                                     .Case("Exp", UnaryFn::Exp)
                                     .Case("Round", UnaryFn::Round)
                                     .Case("Erf", UnaryFn::Erf)
                                     .Default(std::nullopt);
  if (unary) {
    Expected<Value> x = operand(n.input(0), n, width);
    if (!x)
      return x.takeError();
    return define(b.create<UnaryOp>(loc, acts(width), *x, *unary));
  }
  std::optional<BinaryFn> binary =
      llvm::StringSwitch<std::optional<BinaryFn>>(op)
          .Case("Add", BinaryFn::Add)
          .Case("Sub", BinaryFn::Sub)
          .Case("Mul", BinaryFn::Mul)
          .Case("Div", BinaryFn::Div)
          .Case("Pow", BinaryFn::Pow)
          .Case("Max", BinaryFn::Max)
          .Case("Min", BinaryFn::Min)
          .Default(std::nullopt);
  if (binary) {
    if (n.input_size() != 2)
      return unsupported(n, "does not have two inputs");
    // x^2 is x * x: exact, where powf need not be.
    if (*binary == BinaryFn::Pow && !g.isDynamic(n.input(1)) &&
        val(n.input(1)).size() == 1 && val(n.input(1)).at(0) == 2) {
      Expected<Value> x = operand(n.input(0), n, width);
      if (!x)
        return x.takeError();
      return define(
          b.create<BinaryOp>(loc, acts(width), *x, *x, BinaryFn::Mul));
    }
    Expected<Value> l = operand(n.input(0), n, width),
                    r = operand(n.input(1), n, width);
    if (!l || !r)
      return l ? r.takeError() : l.takeError();
    return define(b.create<BinaryOp>(loc, acts(width), *l, *r, *binary));
  }
  if (op == "Gelu") { // opset 20: 0.5 x (1 + erf(x / sqrt 2)), or tanh form
    const onnx::AttributeProto *a = nullptr;
    for (const onnx::AttributeProto &at : n.attribute())
      if (at.name() == "approximate")
        a = &at;
    bool tanh = a && a->s() == "tanh";
    Expected<Value> x = operand(n.input(0), n, width);
    if (!x)
      return x.takeError();
    return define(buildGelu(b, loc, *x, tanh));
  }
  if (op == "Clip") {
    Expected<Value> x = operand(n.input(0), n, width);
    if (!x)
      return x.takeError();
    Value y = *x;
    for (auto [k, fn] :
         {std::pair(1, BinaryFn::Max), std::pair(2, BinaryFn::Min)})
      if (n.input_size() > k && !n.input(k).empty()) {
        Expected<Value> bound = operand(n.input(k), n, width);
        if (!bound)
          return bound.takeError();
        y = b.create<BinaryOp>(loc, acts(width), y, *bound, fn);
      }
    return define(y);
  }
  if (op == "MatMul" || op == "Gemm") {
    std::vector<const Tensor *> args;
    for (const std::string &in : n.input()) {
      if (in != n.input(0) && g.isDynamic(in))
        return unsupported(n, "multiplies two row values");
      args.push_back(in.empty() ? nullptr : g.get(in));
    }
    if (op == "Gemm")
      for (const onnx::AttributeProto &a : n.attribute())
        if (a.name() == "transA" && a.i())
          return unsupported(n, "transposes the rows (transA)");
    Expected<Tensor> w = matmulWeight(n, args);
    if (!w)
      return w.takeError();
    Expected<Value> x = operand(n.input(0), n, w->shape[0]);
    if (!x)
      return x.takeError();
    int64_t k = w->shape[0];
    std::vector<float> rows(width * k);
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < width; ++c)
        rows[c * k + r] = w->f[r * width + c];
    auto type = RankedTensorType::get({width, k}, b.getF32Type());
    Value weight = createWeight(
        b, loc, n.input(1), type, type, [&](MutableArrayRef<char> o) {
          std::memcpy(o.data(), rows.data(), rows.size() * 4);
        });
    Value y = b.create<LinearOp>(loc, acts(width), *x, weight);
    if (op == "Gemm" && n.input_size() > 2 && !n.input(2).empty()) {
      float beta = 1;
      for (const onnx::AttributeProto &a : n.attribute())
        if (a.name() == "beta")
          beta = a.f();
      Tensor c = val(n.input(2));
      for (float &v : c.f.values())
        v *= beta;
      if (c.size() != 1 && c.size() != width)
        return unsupported(n, "has a bias that does not broadcast along rows");
      y = b.create<BinaryOp>(loc, acts(width), y, vector(n.input(2), c.f.vec()),
                             BinaryFn::Add);
    }
    return define(y);
  }
  // Row reductions (one column) and what is built from them.
  auto lastAxisOnly = [&](int64_t defaultAxis) {
    std::vector<int64_t> axes;
    for (const onnx::AttributeProto &a : n.attribute()) {
      if (a.name() == "axes")
        axes.assign(a.ints().begin(), a.ints().end());
      if (a.name() == "axis")
        axes = {a.i()};
    }
    if (n.input_size() > 1 && !n.input(1).empty() && op.starts_with("Reduce"))
      axes = val(n.input(1)).i.vec();
    if (axes.empty())
      axes = {defaultAxis};
    int64_t last = int64_t(lead.size());
    return axes.size() == 1 && (axes[0] == -1 || axes[0] == last);
  };
  auto reduce = [&](Value x, ReduceFn fn) -> Value {
    return b.create<ReduceOp>(loc, acts(1), x, fn);
  };
  auto combine = [&](Value x, Value y, BinaryFn fn) -> Value {
    // The wider activations (constants are rank 1).
    int64_t w = 1;
    for (Value v : {x, y})
      if (auto t = cast<RankedTensorType>(v.getType()); t.getRank() == 2)
        w = std::max(w, t.getDimSize(1));
    return b.create<BinaryOp>(loc, acts(w), x, y, fn);
  };
  std::optional<ReduceFn> reduceFn =
      llvm::StringSwitch<std::optional<ReduceFn>>(op)
          .Case("ReduceSum", ReduceFn::Sum)
          .Case("ReduceMean", ReduceFn::Mean)
          .Case("ReduceMax", ReduceFn::Max)
          .Default(std::nullopt);
  if (reduceFn) {
    if (!lastAxisOnly(-2) || width != 1)
      return unsupported(n, "reduces over more than the last axis, or drops "
                            "it (keepdims=0)");
    int64_t features = val(n.input(0)).shape.back();
    Expected<Value> x = operand(n.input(0), n, features);
    if (!x)
      return x.takeError();
    return define(reduce(*x, *reduceFn));
  }
  if (op == "Softmax") {
    if (!lastAxisOnly(-1))
      return unsupported(n, "normalizes over another axis than the last");
    Expected<Value> x = operand(n.input(0), n, width);
    if (!x)
      return x.takeError();
    // exp(x - max) / sum, as the reference implementations do.
    Value e = b.create<UnaryOp>(
        loc, acts(width), combine(*x, reduce(*x, ReduceFn::Max), BinaryFn::Sub),
        UnaryFn::Exp);
    return define(combine(e, reduce(e, ReduceFn::Sum), BinaryFn::Div));
  }
  if (op == "LayerNormalization") {
    if (!lastAxisOnly(-1) || n.output_size() > 1)
      return unsupported(n, "normalizes over more than the last axis, or "
                            "returns its mean and variance");
    float eps = 1e-5f;
    for (const onnx::AttributeProto &a : n.attribute())
      if (a.name() == "epsilon")
        eps = a.f();
    Expected<Value> x = operand(n.input(0), n, width);
    if (!x)
      return x.takeError();
    // (x - mean) / sqrt(var + eps) * scale + bias.
    Value d = combine(*x, reduce(*x, ReduceFn::Mean), BinaryFn::Sub);
    Value var = reduce(combine(d, d, BinaryFn::Mul), ReduceFn::Mean);
    Value sd = b.create<UnaryOp>(
        loc, acts(1), combine(var, vector("epsilon", {eps}), BinaryFn::Add),
        UnaryFn::Sqrt);
    Value y = combine(d, sd, BinaryFn::Div);
    for (int k = 1; k < 3 && k < n.input_size(); ++k) {
      if (n.input(k).empty())
        continue;
      Expected<Value> c = operand(n.input(k), n, width);
      if (!c)
        return c.takeError();
      y = combine(y, *c, k == 1 ? BinaryFn::Mul : BinaryFn::Add);
    }
    return define(y);
  }
  if (op == "SimplifiedLayerNormalization" || op == "RMSNormalization") {
    float eps = 1e-5f;
    for (const onnx::AttributeProto &a : n.attribute()) {
      if (a.name() == "epsilon")
        eps = a.f();
      if (a.name() == "axis" && a.i() != -1 && a.i() != int64_t(lead.size()))
        return unsupported(n, "normalizes over more than the last axis");
    }
    Expected<Value> x = operand(n.input(0), n, width);
    if (!x)
      return x.takeError();
    const Tensor &gain = val(n.input(1));
    if (g.isDynamic(n.input(1)) || gain.size() != width)
      return unsupported(n, "has a scale that is not one constant per "
                            "feature");
    return define(b.create<RMSNormOp>(loc, acts(width), *x,
                                      vector(n.input(1), gain.f.vec()),
                                      b.getF32FloatAttr(eps)));
  }
  return unsupported(n, "is not a row-wise op Tern compiles");
}

Expected<OwningOpRef<ModuleOp>>
RowGraphBuilder::run(llvm::ArrayRef<GraphInput> inputs) {
  MLIRContext &context = *b.getContext();
  context.loadDialect<TernDialect, func::FuncDialect>();
  const Tensor &first = val(inputs[0].name);
  lead.assign(first.shape.begin(), first.shape.end() - 1);

  // Every BitLinear, and the nodes inside it (from its input to its output)
  // that it replaces.
  Expected<std::vector<Linear>> found = matchLinears();
  if (!found)
    return found.takeError();
  std::vector<Linear> &linears = *found;
  llvm::DenseMap<const onnx::NodeProto *, const Linear *> lastNode;
  llvm::DenseSet<const onnx::NodeProto *> inside;
  // What a part replaces: the nodes from its input `from` to its output
  // `to`, which must depend on nothing else.
  auto enclose = [&](StringRef from, StringRef to,
                     const onnx::NodeProto &part) -> llvm::Error {
    std::vector<std::string> stack{to.str()};
    llvm::StringSet<> seen;
    while (!stack.empty()) {
      std::string v = stack.back();
      stack.pop_back();
      if (v == from || !seen.insert(v).second)
        continue;
      const onnx::NodeProto *p = g.producer(v);
      if (!p)
        return fail(name(part) + ": '" + to + "' depends on '" + v +
                    "' besides '" + from + "'");
      inside.insert(p);
      for (const std::string &in : p->input())
        if (!in.empty() && g.isDynamic(in))
          stack.push_back(in);
    }
    return llvm::Error::success();
  };
  for (const Linear &l : linears) {
    if (llvm::Error e = enclose(l.x, l.y, *l.node))
      return std::move(e);
    lastNode[g.producer(l.y)] = &l;
  }
  // RMSNorms before BitLinears (the BitLinear of the BitNet papers and
  // courses normalizes its own input): a tern.rms_norm each.
  std::vector<std::pair<std::string, Norm>> norms;
  llvm::DenseMap<const onnx::NodeProto *, size_t> normAt;
  for (const Linear &l : linears) {
    std::string v = source(l.x);
    const onnx::NodeProto *p = g.producer(v);
    if (!p || normAt.count(p))
      continue;
    Expected<Norm> norm = matchNorm(v);
    if (!norm || !norm->present) {
      if (!norm)
        llvm::consumeError(norm.takeError()); // not a norm: plain ops
      continue;
    }
    if (llvm::Error e = enclose(norm->input, v, *p))
      return std::move(e);
    normAt[p] = norms.size();
    norms.emplace_back(v, std::move(*norm));
  }

  // The function: inputs and outputs as [rows, features].
  std::vector<Type> argTypes, resultTypes;
  for (const GraphInput &in : inputs)
    argTypes.push_back(acts(in.dims.back()));
  for (const onnx::ValueInfoProto &o : g.graph.output()) {
    if (!g.isDynamic(o.name()))
      return fail("graph output '" + o.name() +
                  "' does not depend on the inputs");
    const Tensor &t = val(o.name());
    if (t.rank() != int64_t(lead.size()) + 1 ||
        !std::equal(lead.begin(), lead.end(), t.shape.begin()))
      return fail("graph output '" + o.name() + "' has shape " +
                  shapeString(t.shape) + ", not the inputs' rows " +
                  shapeString(lead) + " times features");
    resultTypes.push_back(acts(t.shape.back()));
  }
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<func::FuncOp>(loc, "forward",
                                     b.getFunctionType(argTypes, resultTypes));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  for (auto [in, arg] : llvm::zip(inputs, entry->getArguments()))
    env[in.name] = arg;

  // Nodes no output depends on are left out (exporters and rewriting tools
  // leave some behind).
  llvm::DenseSet<const onnx::NodeProto *> live;
  std::vector<std::string> work;
  for (const onnx::ValueInfoProto &o : g.graph.output())
    work.push_back(o.name());
  while (!work.empty()) {
    const onnx::NodeProto *p = g.producer(work.back());
    work.pop_back();
    if (p && live.insert(p).second)
      for (const std::string &in : p->input())
        if (!in.empty())
          work.push_back(in);
  }

  for (const onnx::NodeProto &n : g.graph.node()) {
    bool dynamic = llvm::any_of(
        n.output(), [&](const std::string &o) { return g.isDynamic(o); });
    if (!dynamic || !live.contains(&n))
      continue; // folded (its value is known), or dead
    if (const Linear *l = lastNode.lookup(&n)) {
      auto x = env.find(l->x);
      if (x == env.end())
        return fail(name(*l->node) + ": its input '" + l->x +
                    "' is not a row value");
      MLIRContext *ctx = b.getContext();
      auto type = RankedTensorType::get({l->n, l->k}, TritType::get(ctx));
      auto storage = RankedTensorType::get({l->n, l->k}, b.getI8Type());
      Value w = createWeight(b, loc, l->node->name(), type, storage,
                             [&](MutableArrayRef<char> out) {
                               std::memcpy(out.data(), l->trits.data(),
                                           l->trits.size());
                             });
      Value y = b.create<BitLinearOp>(loc, acts(l->n), x->second, w,
                                      b.getF32FloatAttr(l->scale));
      if (!l->bias.empty())
        y = b.create<BinaryOp>(loc, acts(l->n), y,
                               vector(l->node->name() + ".bias", l->bias),
                               BinaryFn::Add);
      env[l->y] = y;
      continue;
    }
    if (auto it = normAt.find(&n); it != normAt.end()) {
      auto &[out, norm] = norms[it->second];
      auto x = env.find(norm.input);
      if (x == env.end())
        return fail(name(n) + ": the RMSNorm's input '" + norm.input +
                    "' is not a row value");
      int64_t width = int64_t(norm.gain.size());
      env[out] = b.create<RMSNormOp>(loc, acts(width), x->second,
                                     vector(out, norm.gain),
                                     b.getF32FloatAttr(norm.eps));
      continue;
    }
    if (inside.contains(&n)) {
      // Only the part itself may read what is computed inside it.
      for (const std::string &o : n.output())
        for (const onnx::NodeProto *user : g.consumers(o))
          if (!inside.contains(user) && live.contains(user))
            return fail(name(*user) + " reads '" + o +
                        "', a value inside a BitLinear or RMSNorm");
      continue;
    }
    if (llvm::Error e = translate(n))
      return std::move(e);
  }
  std::vector<Value> results;
  for (const onnx::ValueInfoProto &o : g.graph.output())
    results.push_back(env.at(o.name()));
  b.create<func::ReturnOp>(loc, results);

  // The signature the runtime checks its .npy files against.
  std::string signature;
  auto line = [&](StringRef kind, StringRef name, int64_t width) {
    signature +=
        (kind + " " + name + " " + std::to_string(inputs[0].dims.size())).str();
    for (size_t d = 0; d + 1 < inputs[0].dims.size(); ++d)
      signature += " " + std::to_string(inputs[0].dims[d]);
    signature += " " + std::to_string(width) + "\n";
  };
  for (const GraphInput &in : inputs)
    line("in", in.name, in.dims.back());
  for (auto [o, type] : llvm::zip(g.graph.output(), resultTypes))
    line("out", o.name(), cast<RankedTensorType>(type).getDimSize(1));
  (*module)->setAttr("tern.graph", b.getStringAttr(signature));
  return module;
}

} // namespace

Expected<OwningOpRef<ModuleOp>>
mlir::tern::onnx_frontend::buildRowGraph(const GraphValues &values,
                                         llvm::ArrayRef<GraphInput> inputs,
                                         MLIRContext &context) {
  return RowGraphBuilder(values, context).run(inputs);
}
