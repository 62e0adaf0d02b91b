//===- LowerBitLinear.cpp - bitlinear -> act_quant + ternary_matmul -------===//

#include "Tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNLOWERBITLINEAR
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

struct LowerBitLinearPass
    : mlir::tern::impl::TernLowerBitLinearBase<LowerBitLinearPass> {
  void runOnOperation() override {
    WalkResult walk = getOperation().walk([&](BitLinearOp op) {
      if (!isTernaryTensor(op.getWeight().getType())) {
        op.emitOpError() << "weight is still latent float; run "
                            "tern-quantize-weights first";
        return WalkResult::interrupt();
      }
      OpBuilder builder(op);
      auto inType = cast<RankedTensorType>(op.getInput().getType());
      auto qType =
          RankedTensorType::get(inType.getShape(), builder.getI8Type());
      auto sType =
          RankedTensorType::get({inType.getDimSize(0)}, builder.getF32Type());
      auto quant =
          builder.create<ActQuantOp>(op.getLoc(), qType, sType, op.getInput());
      auto matmul = builder.create<TernaryMatmulOp>(
          op.getLoc(), TypeRange{op.getType()}, quant.getQuantized(),
          quant.getScale(), ValueRange{op.getWeight()}, Value(),
          builder.getDenseF32ArrayAttr({op.getScale()->convertToFloat()}));
      op.getResult().replaceAllUsesWith(matmul.getResult(0));
      op.erase();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
