//===- FloatWeights.cpp - the bf16 float baseline of a BitNet model -------===//

#include "Tern/IR/PackedLayouts.h"
#include "Tern/IR/WeightData.h"
#include "Tern/Transforms/Passes.h"

#include <cstring>

namespace mlir::tern {
#define GEN_PASS_DEF_TERNFLOATWEIGHTS
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

/// f32 -> bf16 bits, round to nearest even.
uint16_t toBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/// The bf16 weight of `op`'s BitLinear: latent values rounded, or T * scale.
FailureOr<WeightOp> floatWeight(BitLinearOp op, WeightOp weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  FailureOr<ArrayRef<char>> bytes = getWeightBytes(weight);
  if (failed(bytes))
    return failure();
  std::vector<float> values(n * k);
  if (!isTernaryTensor(type)) {
    convertToF32(type.getElementType(), bytes->data(), n * k, values.data());
  } else {
    std::vector<char> trits;
    ArrayRef<char> t = *bytes;
    if (PackedAttr packed = getPackedEncoding(type)) {
      if (packed.getLayout() != PackedLayout::HFRows)
        return op.emitOpError() << "cannot read weight '" << weight.getName()
                                << "' packed as " << packed;
      trits.resize(n * k);
      layouts::hf_rows::decode(*bytes, n, k, trits);
      t = trits;
    }
    // The verifier guarantees ternary BitLinears a scale.
    float scale = op.getScale()->convertToFloat();
    for (int64_t i = 0; i < n * k; ++i)
      values[i] = float(t[i]) * scale;
  }
  OpBuilder builder(weight);
  auto bf16 = RankedTensorType::get({n, k}, builder.getBF16Type());
  return createWeight(builder, weight.getLoc(), weight.getName(), bf16, bf16,
                      [&](MutableArrayRef<char> out) {
                        for (int64_t i = 0; i < n * k; ++i) {
                          uint16_t h = toBF16(values[i]);
                          std::memcpy(out.data() + 2 * i, &h, 2);
                        }
                      });
}

struct FloatWeightsPass
    : mlir::tern::impl::TernFloatWeightsBase<FloatWeightsPass> {
  void runOnOperation() override {
    DenseMap<Operation *, WeightOp> converted;
    SmallVector<BitLinearOp> ops;
    getOperation().walk([&](BitLinearOp op) { ops.push_back(op); });
    for (BitLinearOp op : ops) {
      auto weight = op.getWeight().getDefiningOp<WeightOp>();
      if (!weight) {
        op.emitOpError() << "weight must come from tern.weight";
        return signalPassFailure();
      }
      auto it = converted.find(weight);
      if (it == converted.end()) {
        FailureOr<WeightOp> w = floatWeight(op, weight);
        if (failed(w))
          return signalPassFailure();
        it = converted.try_emplace(weight, *w).first;
      }
      OpBuilder builder(op);
      auto linear = builder.create<LinearOp>(op.getLoc(), op.getType(),
                                             op.getInput(), it->second);
      op.replaceAllUsesWith(linear.getResult());
      op.erase();
    }
    SmallVector<Attribute> dropped;
    for (auto &entry : converted)
      if (entry.first->use_empty()) {
        dropped.push_back(cast<WeightOp>(entry.first).getValue());
        entry.first->erase();
      }
    releaseUnusedWeightData(getOperation(), dropped);
  }
};

} // namespace
