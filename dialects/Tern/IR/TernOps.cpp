//===- TernOps.cpp - Tern operation verifiers -----------------------------===//
//
// Verifiers name the offending operand (by weight name where there is one)
// and print the shapes involved, so that a frontend bug or a hand-edited IR
// file points straight at the tensor that is wrong.
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/TernOps.h"
#include "Tern/IR/PackedLayouts.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::tern;

#define GET_OP_CLASSES
#include "Tern/IR/TernOps.cpp.inc"

namespace {

/// "weight 'q_proj'" for values made by tern.weight, `role` otherwise.
std::string describe(Value value, StringRef role) {
  if (auto weight = value.getDefiningOp<WeightOp>())
    return (role + " (weight '" + weight.getName() + "')").str();
  return role.str();
}

bool sameDim(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Checks that `result` is [tokens of `input`, n].
LogicalResult verifyRows(Operation *op, Value input, Value result, int64_t n,
                         StringRef what) {
  auto in = tensorType(input), out = tensorType(result);
  if (!sameDim(in.getDimSize(0), out.getDimSize(0)))
    return op->emitOpError()
           << "result has " << dimStr(out.getDimSize(0))
           << " tokens but the input has " << dimStr(in.getDimSize(0));
  if (!sameDim(out.getDimSize(1), n))
    return op->emitOpError()
           << "result has " << dimStr(out.getDimSize(1)) << " features but "
           << what << " gives " << dimStr(n);
  return success();
}

/// Checks act_quant-style results: int8 codes shaped like the input and one
/// scale per token.
LogicalResult verifyQuantResults(Operation *op, RankedTensorType in,
                                 Value quantized, Value scale) {
  auto q = tensorType(quantized);
  if (!sameDim(in.getDimSize(0), q.getDimSize(0)) ||
      !sameDim(in.getDimSize(1), q.getDimSize(1)))
    return op->emitOpError() << "quantized result " << q
                             << " does not match the input shape " << in;
  int64_t scales = tensorType(scale).getDimSize(0);
  if (!sameDim(in.getDimSize(0), scales))
    return op->emitOpError()
           << "scale has " << dimStr(scales) << " entries for "
           << dimStr(in.getDimSize(0)) << " tokens";
  return success();
}

/// Checks that an [n, k] weight fits an input of `k` features.
LogicalResult verifyWeightK(Operation *op, Value input, Value weight,
                            StringRef role) {
  int64_t k = tensorType(input).getDimSize(1);
  int64_t wk = tensorType(weight).getDimSize(1);
  if (!sameDim(k, wk))
    return op->emitOpError()
           << describe(weight, role) << " has " << dimStr(wk)
           << " input features but the input has " << dimStr(k);
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

/// A resource blob must hold exactly the bytes its type describes; a short
/// one would read past its end in every later phase.
static LogicalResult verifyBlobSize(WeightOp op, ShapedType type) {
  auto resource = dyn_cast<DenseResourceElementsAttr>(op.getValue());
  AsmResourceBlob *blob =
      resource ? resource.getRawHandle().getBlob() : nullptr;
  if (!blob)
    return success();
  int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
  if (int64_t(blob->getData().size()) != bytes)
    return op.emitOpError() << "weight '" << op.getName() << "': resource '"
                            << resource.getRawHandle().getKey() << "' holds "
                            << blob->getData().size() << " bytes, but " << type
                            << " needs " << bytes;
  return success();
}

/// A packed encoding's data is `bytes` i8 values; `what` names the encoding.
static LogicalResult verifyPackedBytes(WeightOp op, ShapedType valueType,
                                       int64_t bytes, const Twine &what) {
  if (valueType.getRank() == 1 && valueType.getElementType().isInteger(8) &&
      valueType.getNumElements() == bytes)
    return success();
  return op.emitOpError() << "weight '" << op.getName() << "': " << what
                          << " needs tensor<" << bytes
                          << "xi8> of packed bytes, got " << valueType;
}

LogicalResult WeightOp::verify() {
  auto resultType = cast<RankedTensorType>(getResult().getType());
  auto valueType = cast<ShapedType>(getValue().getType());
  if (failed(verifyBlobSize(*this, valueType)))
    return failure();
  if (!resultType.hasStaticShape())
    return emitOpError() << "weight '" << getName()
                         << "' must have a static shape, got " << resultType;
  if (PackedAttr packed = getPackedEncoding(resultType)) {
    if (!isa<TritType>(resultType.getElementType()) ||
        resultType.getRank() != 2)
      return emitOpError() << "weight '" << getName()
                           << "': a packed encoding needs a 2-D !tern.trit "
                              "tensor, got "
                           << resultType;
    if (packed.getLayout() == PackedLayout::HFRows &&
        resultType.getDimSize(0) % 4 != 0)
      return emitOpError() << "weight '" << getName()
                           << "': layout hf_rows needs a row count divisible "
                              "by 4, got "
                           << resultType;
    return verifyPackedBytes(
        *this, valueType,
        packed.getNumBytes(resultType.getDimSize(0), resultType.getDimSize(1)),
        "layout " + stringifyPackedLayout(packed.getLayout()));
  }
  if (PackedBF16Attr packed = getPackedBF16Encoding(resultType)) {
    if (!resultType.getElementType().isBF16() || resultType.getRank() != 2 ||
        !layouts::packed_bf16::fits(resultType.getDimSize(1)))
      return emitOpError() << "weight '" << getName()
                           << "': #tern.packed_bf16 needs a 2-D bf16 tensor "
                              "whose rows are 64 to 4096 values, a multiple "
                              "of 64; got "
                           << resultType;
    if (packed.getBase() < 0 || packed.getBase() > 120 ||
        packed.getEscapes() < 0 ||
        packed.getEscapes() >
            resultType.getNumElements() / layouts::packed_bf16::kBlock)
      return emitOpError() << "weight '" << getName() << "': " << packed
                           << " is out of range (base 0 to 120, escapes at "
                              "most the table's blocks)";
    std::string name;
    llvm::raw_string_ostream(name) << packed;
    return verifyPackedBytes(
        *this, valueType,
        packed.getNumBytes(resultType.getDimSize(0), resultType.getDimSize(1)),
        name);
  }
  if (resultType.getEncoding())
    return emitOpError() << "weight '" << getName()
                         << "' has an unknown encoding "
                         << resultType.getEncoding();
  // Unpacked trits are stored one per byte.
  Type storedElement = isa<TritType>(resultType.getElementType())
                           ? IntegerType::get(getContext(), 8)
                           : resultType.getElementType();
  if (valueType.getShape() != resultType.getShape() ||
      valueType.getElementType() != storedElement)
    return emitOpError() << "weight '" << getName() << "' of type "
                         << resultType << " cannot hold data of type "
                         << valueType;
  return success();
}

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  auto table = tensorType(getTable());
  if (!sameDim(tensorType(getIds()).getDimSize(0),
               tensorType(getResult()).getDimSize(0)))
    return emitOpError() << "result has "
                         << dimStr(tensorType(getResult()).getDimSize(0))
                         << " tokens but there are "
                         << dimStr(tensorType(getIds()).getDimSize(0))
                         << " ids";
  if (!sameDim(table.getDimSize(1), tensorType(getResult()).getDimSize(1)))
    return emitOpError() << "result has "
                         << dimStr(tensorType(getResult()).getDimSize(1))
                         << " features but " << describe(getTable(), "table")
                         << " rows have " << dimStr(table.getDimSize(1));
  return success();
}

LogicalResult RMSNormOp::verify() {
  int64_t d = tensorType(getInput()).getDimSize(1);
  int64_t g = tensorType(getGamma()).getDimSize(0);
  if (!sameDim(d, g))
    return emitOpError() << describe(getGamma(), "gamma") << " has "
                         << dimStr(g) << " elements but the input has "
                         << dimStr(d) << " features";
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError() << "epsilon must be positive, got "
                         << getEpsilon().convertToFloat();
  return success();
}

LogicalResult BitLinearOp::verify() {
  auto weight = tensorType(getWeight());
  if (failed(verifyWeightK(*this, getInput(), getWeight(), "weight")) ||
      failed(verifyRows(*this, getInput(), getResult(), weight.getDimSize(0),
                        describe(getWeight(), "the weight"))))
    return failure();
  bool ternary = isa<TritType>(weight.getElementType());
  std::optional<float> scale;
  if (auto attr = getScaleAttr())
    scale = attr.getValue().convertToFloat();
  if (ternary && !scale)
    return emitOpError() << "ternary " << describe(getWeight(), "weight")
                         << " needs a 'scale'";
  if (!ternary && scale)
    return emitOpError() << "latent float " << describe(getWeight(), "weight")
                         << " must not have a 'scale' (tern-quantize-weights "
                            "computes it)";
  if (scale && !(std::isfinite(*scale) && *scale > 0.0f))
    return emitOpError() << "scale of " << describe(getWeight(), "weight")
                         << " must be positive and finite, got " << *scale;
  return success();
}

LogicalResult RopeOp::verify() {
  int64_t headDim = getHeadDimAttr().getInt();
  int64_t d = tensorType(getInput()).getDimSize(1);
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError() << "head_dim must be positive and even, got "
                         << headDim;
  if (!ShapedType::isDynamic(d) && d % headDim != 0)
    return emitOpError() << "input has " << d
                         << " features, not a multiple of head_dim " << headDim;
  if (!sameDim(tensorType(getPositions()).getDimSize(0),
               tensorType(getInput()).getDimSize(0)))
    return emitOpError() << "positions and input disagree on the token count";
  if (!(getTheta().convertToFloat() > 0.0f))
    return emitOpError() << "theta must be positive, got "
                         << getTheta().convertToFloat();
  if (RopeScalingAttr s = getScalingAttr())
    if (!(s.getFactor().getValueAsDouble() > 0) ||
        !(s.getLowFreqFactor().getValueAsDouble() > 0) ||
        !(s.getHighFreqFactor().getValueAsDouble() >
          s.getLowFreqFactor().getValueAsDouble()) ||
        s.getOriginalContext() <= 0)
      return emitOpError() << "llama3 scaling needs factor > 0, "
                              "0 < low_freq_factor < high_freq_factor and "
                              "original_context > 0";
  if (std::optional<ArrayRef<float>> factors = getFreqFactors()) {
    if (int64_t(factors->size()) != headDim / 2)
      return emitOpError() << "has " << factors->size()
                           << " freq_factors for head_dim " << headDim
                           << " (one per frequency: head_dim / 2)";
    if (!llvm::all_of(*factors, [](float f) { return f > 0; }))
      return emitOpError() << "freq_factors must be positive";
  }
  return success();
}

LogicalResult AttentionOp::verify() {
  // Read the attributes as signed: a negative value must be reported.
  int64_t h = getNumHeadsAttr().getInt(), hkv = getNumKvHeadsAttr().getInt(),
          d = getHeadDimAttr().getInt(), layer = getLayerAttr().getInt();
  if (h <= 0 || hkv <= 0 || d <= 0)
    return emitOpError() << "num_heads (" << h << "), num_kv_heads (" << hkv
                         << ") and head_dim (" << d << ") must be positive";
  if (h % hkv != 0)
    return emitOpError() << "num_heads " << h
                         << " is not a multiple of num_kv_heads " << hkv;
  if (layer < 0)
    return emitOpError() << "layer must be non-negative, got " << layer;
  auto check = [&](Value v, StringRef role, int64_t heads) -> LogicalResult {
    int64_t f = tensorType(v).getDimSize(1);
    if (!sameDim(f, heads * d))
      return emitOpError() << role << " has " << dimStr(f)
                           << " features, expected " << heads << " heads x "
                           << d << " = " << heads * d;
    if (!sameDim(tensorType(v).getDimSize(0),
                 tensorType(getQuery()).getDimSize(0)))
      return emitOpError() << role << " and query disagree on the token count";
    return success();
  };
  return success(succeeded(check(getQuery(), "query", h)) &&
                 succeeded(check(getKey(), "key", hkv)) &&
                 succeeded(check(getValue(), "value", hkv)) &&
                 succeeded(check(getResult(), "result", h)));
}

LogicalResult LMHeadOp::verify() {
  auto table = tensorType(getTable());
  if (failed(verifyWeightK(*this, getInput(), getTable(), "table")))
    return failure();
  bool int8 = table.getElementType().isInteger(8);
  if (int8 != bool(getScales()))
    return emitOpError() << (int8 ? "an i8 table needs per-row scales"
                                  : "scales need an i8 table");
  if (int8 &&
      !sameDim(tensorType(getScales()).getDimSize(0), table.getDimSize(0)))
    return emitOpError() << "has "
                         << dimStr(tensorType(getScales()).getDimSize(0))
                         << " scales for " << dimStr(table.getDimSize(0))
                         << " table rows";
  return verifyRows(*this, getInput(), getResult(), table.getDimSize(0),
                    describe(getTable(), "the table"));
}

LogicalResult BinaryOp::verify() {
  auto result = tensorType(getResult());
  int64_t n = result.getDimSize(1);
  bool rows = false;
  for (Value operand : {getLhs(), getRhs()}) {
    auto type = tensorType(operand);
    if (type.getRank() == 2) {
      if (type != result && type.getDimSize(1) != 1)
        return emitOpError()
               << "operand " << type << " differs from the result " << result
               << " (and is not one column)";
      rows |= type == result;
    } else if (type.isDynamicDim(0) ||
               (type.getDimSize(0) != 1 && type.getDimSize(0) != n)) {
      return emitOpError() << "vector operand " << type << " must have 1 or "
                           << n << " elements";
    }
  }
  if (!rows)
    return emitOpError() << "needs an operand of the result's type";
  return success();
}

LogicalResult ReduceOp::verify() {
  auto result = tensorType(getResult());
  if (result.getDimSize(1) != 1)
    return emitOpError() << "result " << result << " must have one column";
  return success();
}

LogicalResult LinearOp::verify() {
  auto weight = tensorType(getWeight());
  if (failed(verifyWeightK(*this, getInput(), getWeight(), "weight")))
    return failure();
  return verifyRows(*this, getInput(), getResult(), weight.getDimSize(0),
                    describe(getWeight(), "the weight"));
}

//===----------------------------------------------------------------------===//
// Quantized-level ops
//===----------------------------------------------------------------------===//

LogicalResult ActQuantOp::verify() {
  return verifyQuantResults(*this, tensorType(getInput()), getQuantized(),
                            getScale());
}

LogicalResult NormQuantOp::verify() {
  size_t n = getInputs().size();
  if (n != 1 && n != 2)
    return emitOpError() << "takes one input, or a gate and an up input; got "
                         << n;
  if ((n == 2) != bool(getActivation()))
    return emitOpError() << (n == 2 ? "gate and up inputs need an activation"
                                    : "an activation needs gate and up inputs");
  auto in = tensorType(getInputs()[0]);
  if (n == 2 && tensorType(getInputs()[1]) != in)
    return emitOpError() << "gate " << in << " and up "
                         << tensorType(getInputs()[1]) << " differ";
  int64_t g = tensorType(getGamma()).getDimSize(0);
  if (!sameDim(in.getDimSize(1), g))
    return emitOpError() << describe(getGamma(), "gamma") << " has "
                         << dimStr(g) << " elements but the input has "
                         << dimStr(in.getDimSize(1)) << " features";
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError() << "epsilon must be positive, got "
                         << getEpsilon().convertToFloat();
  return verifyQuantResults(*this, in, getQuantized(), getScale());
}

LogicalResult TernaryMatmulOp::verify() {
  size_t n = getWeights().size();
  if (n == 0)
    return emitOpError() << "needs at least one weight";
  if (getResults().size() != n || getScales().size() != n)
    return emitOpError() << "has " << n << " weights, " << getResults().size()
                         << " results and " << getScales().size()
                         << " scales; the three counts must match";
  if (!sameDim(tensorType(getInput()).getDimSize(0),
               tensorType(getScale()).getDimSize(0)))
    return emitOpError() << "scale and input disagree on the token count";
  for (size_t i = 0; i < n; ++i) {
    Value w = getWeights()[i];
    std::string role = "weight #" + std::to_string(i);
    if (failed(verifyWeightK(*this, getInput(), w, role)) ||
        failed(verifyRows(*this, getInput(), getResults()[i],
                          tensorType(w).getDimSize(0), describe(w, role))))
      return failure();
    float s = getScales()[i];
    if (!(std::isfinite(s) && s > 0.0f))
      return emitOpError() << "scale of " << describe(w, role)
                           << " must be positive and finite, got " << s;
  }
  if (Value residual = getResidual()) {
    if (n != 1)
      return emitOpError() << "a residual needs exactly one weight, got " << n;
    if (residual.getType() != getResults()[0].getType())
      return emitOpError() << "residual " << residual.getType()
                           << " does not match the result "
                           << getResults()[0].getType();
  }
  return success();
}
