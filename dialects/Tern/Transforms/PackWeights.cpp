//===- PackWeights.cpp - ternary weights -> packed byte layouts -----------===//

#include "Tern/IR/PackedLayouts.h"
#include "Tern/IR/WeightData.h"
#include "Tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNPACKWEIGHTS
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

struct PackWeightsPass
    : mlir::tern::impl::TernPackWeightsBase<PackWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    // The module's target decides; the option serves modules without one.
    TargetAttr target =
        TernDialect::TargetAttrHelper(&getContext()).getAttr(getOperation());
    std::string name = layout;
    if (name.empty())
      name = target ? stringifyPackedLayout(target.getTernaryLayout()).str()
                    : "i2";
    std::optional<PackedLayout> kind = symbolizePackedLayout(name);
    if (!kind || *kind == PackedLayout::HFRows) {
      getOperation().emitError()
          << "tern-pack-weights: '" << name
          << "' is not a kernel layout (known: i2, i2_k64, gpu_w2)";
      return signalPassFailure();
    }
    if (target && *kind != target.getTernaryLayout()) {
      getOperation().emitError()
          << "tern-pack-weights: layout=" << name << " disagrees with the "
          << "module's target, whose " << target.getKernels()
          << " kernels read "
          << stringifyPackedLayout(target.getTernaryLayout());
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    auto packedAttr = PackedAttr::get(ctx, *kind);
    SmallVector<WeightOp> todo;
    getOperation().walk([&](WeightOp op) {
      if (isTernaryTensor(op.getType()) &&
          getPackedEncoding(op.getType()) != packedAttr)
        todo.push_back(op);
    });
    SmallVector<Attribute> dropped;
    for (WeightOp op : todo) {
      auto type = cast<RankedTensorType>(op.getType());
      FailureOr<ArrayRef<char>> trits = getWeightBytes(op);
      if (failed(trits))
        return signalPassFailure();
      int64_t n = type.getDimSize(0), k = type.getDimSize(1);
      // Other packed layouts are decoded first; one matrix at a time.
      std::vector<char> decoded;
      if (PackedAttr from = getPackedEncoding(type)) {
        if (from.getLayout() != PackedLayout::HFRows) {
          op.emitOpError() << "weight '" << op.getName() << "' is already "
                           << "packed as " << from << "; cannot repack it";
          return signalPassFailure();
        }
        decoded.resize(n * k);
        layouts::hf_rows::decode(*trits, n, k, decoded);
        trits = ArrayRef<char>(decoded);
      }
      for (size_t i = 0; i < trits->size(); ++i)
        if ((*trits)[i] < -1 || (*trits)[i] > 1) {
          op.emitOpError() << "weight '" << op.getName() << "' element " << i
                           << " is " << int((*trits)[i])
                           << ", not a ternary value (-1, 0 or +1)";
          return signalPassFailure();
        }
      int64_t bytes = packedAttr.getNumBytes(n, k);
      auto result = RankedTensorType::get(type.getShape(),
                                          type.getElementType(), packedAttr);
      auto storage = RankedTensorType::get({bytes}, IntegerType::get(ctx, 8));
      OpBuilder builder(op);
      WeightOp packed =
          createWeight(builder, op.getLoc(), op.getName(), result, storage,
                       [&](MutableArrayRef<char> out) {
                         layouts::encode(*kind, *trits, n, k, out);
                       });
      op.replaceAllUsesWith(packed.getResult());
      dropped.push_back(op.getValue());
      op.erase();
    }
    releaseUnusedWeightData(getOperation(), dropped);
  }
};

} // namespace
