//===- BitNetModel.cpp - SPEC.md section 3 in tern ops --------------------===//

#include "tern/Frontend/BitNetModel.h"

#include "Tern/IR/WeightData.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstring>

using namespace mlir;
using namespace mlir::tern;

WeightSource::~WeightSource() = default;

namespace {

class GraphBuilder {
public:
  GraphBuilder(OpBuilder &b, Location loc, const BitNetConfig &c,
               WeightSource &src)
      : b(b), loc(loc), c(c), src(src) {}

  /// [tokens, n] f32 activations.
  RankedTensorType acts(int64_t n) {
    return RankedTensorType::get({ShapedType::kDynamic, n}, b.getF32Type());
  }

  FailureOr<Value> rmsNorm(Value x, StringRef name, int64_t n) {
    return rmsNorm(x, name, n, c.epsilon);
  }
  FailureOr<Value> rmsNorm(Value x, StringRef name, int64_t n, float eps) {
    FailureOr<Value> gamma = src.vector(b, name, n);
    if (failed(gamma))
      return failure();
    return b
        .create<RMSNormOp>(loc, x.getType(), x, *gamma, b.getF32FloatAttr(eps))
        .getResult();
  }
  /// A sub-norm, where the family has them (`subNorm` is its name).
  FailureOr<Value> subNorm(Value x, StringRef pre, StringRef subNorm,
                           int64_t n) {
    if (subNorm.empty())
      return x;
    return rmsNorm(x, (pre + subNorm + ".weight").str(), n);
  }

  FailureOr<Value> bitLinear(Value x, StringRef name, int64_t n, int64_t k) {
    if (c.linearNormEpsilon) {
      FailureOr<Value> normed = rmsNorm(
          x, (name.drop_back(strlen("weight")) + "rms_norm.weight").str(), k,
          *c.linearNormEpsilon);
      if (failed(normed))
        return failure();
      x = *normed;
    }
    FailureOr<LinearWeight> w = src.linear(b, name, n, k);
    if (failed(w))
      return failure();
    FloatAttr scale = w->scale ? b.getF32FloatAttr(*w->scale) : FloatAttr();
    Value y = b.create<BitLinearOp>(loc, acts(n), x, w->weight, scale);
    FailureOr<Value> bias = src.bias(b, name, n);
    if (failed(bias))
      return failure();
    if (*bias)
      y = binary(y, *bias, BinaryFn::Add);
    return y;
  }

  Value binary(Value l, Value r, BinaryFn fn) {
    return b.create<BinaryOp>(loc, l.getType(), l, r, fn);
  }
  /// The feed-forward half's product: act(gate) * up, or act(up) alone.
  Value ffn(Value gate, Value up) {
    if (c.gatedFfn && (c.activation == FfnActivation::Relu2 ||
                       c.activation == FfnActivation::Silu))
      return b.create<GluOp>(loc, gate, up,
                             c.activation == FfnActivation::Relu2
                                 ? GluActivation::Relu2
                                 : GluActivation::Silu);
    Value x = c.gatedFfn ? gate : up, a;
    auto unary = [&](Value v, UnaryFn fn) -> Value {
      return b.create<UnaryOp>(loc, v.getType(), v, fn);
    };
    switch (c.activation) {
    case FfnActivation::Relu:
    case FfnActivation::Relu2:
      a = unary(x, UnaryFn::Relu);
      if (c.activation == FfnActivation::Relu2)
        a = binary(a, a, BinaryFn::Mul);
      break;
    case FfnActivation::Silu:
      a = binary(x, unary(x, UnaryFn::Sigmoid), BinaryFn::Mul);
      break;
    case FfnActivation::Gelu:
    case FfnActivation::GeluTanh:
      a = buildGelu(b, loc, x, c.activation == FfnActivation::GeluTanh);
      break;
    }
    return c.gatedFfn ? binary(a, up, BinaryFn::Mul) : a;
  }
  /// A block norm, where the model has them.
  FailureOr<Value> blockNorm(Value h, StringRef name) {
    if (!c.blockNorms)
      return h;
    return rmsNorm(h, name, c.hidden);
  }

  Value rope(Value x, Value positions) {
    if (c.ropeTheta == 0)
      return x;
    RopeScalingAttr scaling;
    if (const std::optional<RopeScaling> &s = c.ropeScaling)
      scaling = RopeScalingAttr::get(
          b.getContext(), b.getF32FloatAttr(s->factor),
          b.getF32FloatAttr(s->lowFreqFactor),
          b.getF32FloatAttr(s->highFreqFactor), s->originalContext);
    DenseF32ArrayAttr factors = c.ropeFreqFactors.empty()
                                    ? DenseF32ArrayAttr()
                                    : b.getDenseF32ArrayAttr(c.ropeFreqFactors);
    return b.create<RopeOp>(loc, x.getType(), x, positions, c.headDim,
                            APFloat(c.ropeTheta), RopeStyle::HalfSplit, scaling,
                            factors);
  }

  /// One transformer block (SPEC 3, lines 3-20).
  FailureOr<Value> layer(int64_t l, Value h, Value positions) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    int64_t d = c.hidden, f = c.intermediate, qDim = c.heads * c.headDim,
            kvDim = c.kvHeads * c.headDim;
    FailureOr<Value> x, q, k, v, o, gate, up, m, down;
    if (failed(x = blockNorm(h, pre + "input_layernorm.weight")) ||
        failed(q = bitLinear(*x, pre + "self_attn.q_proj.weight", qDim, d)) ||
        failed(k = bitLinear(*x, pre + "self_attn.k_proj.weight", kvDim, d)) ||
        failed(v = bitLinear(*x, pre + "self_attn.v_proj.weight", kvDim, d)))
      return failure();
    Value attn = b.create<AttentionOp>(loc, acts(qDim), rope(*q, positions),
                                       rope(*k, positions), *v, positions, l,
                                       c.heads, c.kvHeads, c.headDim);
    if (failed(o = subNorm(attn, pre, c.attnSubNorm, qDim)) ||
        failed(o = bitLinear(*o, pre + "self_attn.o_proj.weight", d, qDim)))
      return failure();
    h = b.create<AddOp>(loc, h, *o);

    if (failed(x = blockNorm(h, pre + "post_attention_layernorm.weight")))
      return failure();
    if (c.gatedFfn &&
        failed(gate = bitLinear(*x, pre + "mlp.gate_proj.weight", f, d)))
      return failure();
    if (failed(up = bitLinear(*x, pre + "mlp.up_proj.weight", f, d)))
      return failure();
    m = ffn(c.gatedFfn ? *gate : Value(), *up);
    if (failed(down = subNorm(*m, pre, c.ffnSubNorm, f)) ||
        failed(down = bitLinear(*down, pre + "mlp.down_proj.weight", d, f)))
      return failure();
    return b.create<AddOp>(loc, h, *down).getResult();
  }

  FailureOr<Value> model(Value ids, Value positions) {
    FailureOr<Value> embed =
        src.table(b, "model.embed_tokens.weight", c.vocab, c.hidden);
    if (failed(embed))
      return failure();
    Value h = b.create<EmbeddingOp>(loc, acts(c.hidden), *embed, ids);
    if (c.learnedPositions) {
      FailureOr<Value> table = src.table(b, "model.embed_positions.weight",
                                         c.maxPositions, c.hidden);
      if (failed(table))
        return failure();
      h = b.create<AddOp>(
          loc, h,
          b.create<EmbeddingOp>(loc, acts(c.hidden), *table, positions));
    }
    for (int64_t l = 0; l < c.layers; ++l) {
      FailureOr<Value> next = layer(l, h, positions);
      if (failed(next))
        return failure();
      h = *next;
    }
    FailureOr<Value> x = rmsNorm(h, "model.norm.weight", c.hidden);
    if (failed(x))
      return failure();
    FailureOr<Value> head =
        c.tiedEmbeddings ? embed
                         : src.table(b, "lm_head.weight", c.vocab, c.hidden);
    if (failed(head))
      return failure();
    return b.create<LMHeadOp>(loc, acts(c.vocab), *x, *head, Value())
        .getResult();
  }

private:
  OpBuilder &b;
  Location loc;
  const BitNetConfig &c;
  WeightSource &src;
};

} // namespace

Value mlir::tern::buildGelu(OpBuilder &b, Location loc, Value x, bool tanh) {
  auto bin = [&](Value l, Value r, BinaryFn fn) -> Value {
    return b.create<BinaryOp>(loc, x.getType(), l, r, fn);
  };
  auto c = [&](float v) -> Value {
    auto type = RankedTensorType::get({1}, b.getF32Type());
    return createWeight(
        b, loc, "gelu", type, type,
        [&](MutableArrayRef<char> out) { std::memcpy(out.data(), &v, 4); });
  };
  Value inner;
  if (tanh) {
    Value cube = bin(bin(x, x, BinaryFn::Mul), x, BinaryFn::Mul);
    inner = bin(bin(x, bin(cube, c(0.044715f), BinaryFn::Mul), BinaryFn::Add),
                c(0.7978845608f), BinaryFn::Mul);
  } else {
    inner = bin(x, c(0.70710678f), BinaryFn::Mul);
  }
  Value f = b.create<UnaryOp>(loc, x.getType(), inner,
                              tanh ? UnaryFn::Tanh : UnaryFn::Erf);
  return bin(bin(x, c(0.5f), BinaryFn::Mul), bin(f, c(1.0f), BinaryFn::Add),
             BinaryFn::Mul);
}

OwningOpRef<ModuleOp> mlir::tern::buildBitNetModel(MLIRContext &context,
                                                   const BitNetConfig &config,
                                                   WeightSource &source,
                                                   Location loc) {
  context.loadDialect<TernDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(&context);
  (*module)->setAttr("tern.context_length",
                     b.getI64IntegerAttr(config.maxPositions));
  if (!config.eosIds.empty())
    (*module)->setAttr("tern.eos_token_ids",
                       b.getDenseI64ArrayAttr(config.eosIds));
  b.setInsertionPointToEnd(module->getBody());
  auto ids = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  auto logits = RankedTensorType::get({ShapedType::kDynamic, config.vocab},
                                      b.getF32Type());
  auto func = b.create<func::FuncOp>(loc, "forward",
                                     b.getFunctionType({ids, ids}, {logits}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  GraphBuilder builder(b, loc, config, source);
  FailureOr<Value> result =
      builder.model(entry->getArgument(0), entry->getArgument(1));
  if (failed(result))
    return nullptr;
  b.create<func::ReturnOp>(loc, *result);
  return module;
}
