//===- QuantizeWeights.cpp - absmean quantization of latent weights -------===//
//
// SPEC §2.1: m = max(mean|W|, 1e-5); T = clamp(round_half_even(W * (1/m)),
// -1, 1). The mean is accumulated in double so that it does not depend on the
// summation order; the scale kept on the op is m (a multiplier).
//
//===----------------------------------------------------------------------===//

#include "Tern/IR/WeightData.h"
#include "Tern/Transforms/Passes.h"

#include <cmath>

namespace mlir::tern {
#define GEN_PASS_DEF_TERNQUANTIZEWEIGHTS
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

struct Quantized {
  WeightOp weight;
  float scale;
};

FailureOr<Quantized> quantize(WeightOp latent) {
  auto type = cast<RankedTensorType>(latent.getResult().getType());
  FailureOr<ArrayRef<char>> bytes = getWeightBytes(latent);
  if (failed(bytes))
    return failure();
  size_t count = type.getNumElements();
  std::vector<float> w(count);
  convertToF32(type.getElementType(), bytes->data(), count, w.data());

  double sum = 0;
  for (float v : w) {
    if (!std::isfinite(v))
      return latent.emitOpError()
             << "weight '" << latent.getName()
             << "' contains a non-finite value; cannot quantize it";
    sum += std::fabs(v);
  }
  float mean = std::max(float(sum / double(count)), 1e-5f);
  float inv = 1.0f / mean;

  OpBuilder builder(latent);
  MLIRContext *ctx = latent.getContext();
  auto i8 = IntegerType::get(ctx, 8);
  auto result = RankedTensorType::get(type.getShape(), TritType::get(ctx));
  auto storage = RankedTensorType::get(type.getShape(), i8);
  WeightOp ternary = createWeight(
      builder, latent.getLoc(), latent.getName(), result, storage,
      [&](MutableArrayRef<char> out) {
        for (size_t i = 0; i < count; ++i)
          out[i] = char(std::clamp(std::nearbyint(w[i] * inv), -1.0f, 1.0f));
      });
  return Quantized{ternary, mean};
}

struct QuantizeWeightsPass
    : mlir::tern::impl::TernQuantizeWeightsBase<QuantizeWeightsPass> {
  void runOnOperation() override {
    // A latent weight used by several layers is quantized once.
    llvm::DenseMap<Operation *, Quantized> done;
    WalkResult walk = getOperation().walk([&](BitLinearOp op) {
      Value weight = op.getWeight();
      if (isTernaryTensor(weight.getType()))
        return WalkResult::advance();
      auto latent = weight.getDefiningOp<WeightOp>();
      if (!latent) {
        op.emitOpError() << "latent weight must come from tern.weight to be "
                            "quantized at compile time";
        return WalkResult::interrupt();
      }
      auto it = done.find(latent);
      if (it == done.end()) {
        FailureOr<Quantized> q = quantize(latent);
        if (failed(q))
          return WalkResult::interrupt();
        it = done.try_emplace(latent, *q).first;
      }
      op.getWeightMutable().assign(it->second.weight.getResult());
      op.setScaleAttr(
          FloatAttr::get(Float32Type::get(op.getContext()), it->second.scale));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    SmallVector<Attribute> dropped;
    for (auto &entry : done)
      if (entry.first->use_empty()) {
        dropped.push_back(cast<WeightOp>(entry.first).getValue());
        entry.first->erase();
      }
    releaseUnusedWeightData(getOperation(), dropped);
  }
};

} // namespace
