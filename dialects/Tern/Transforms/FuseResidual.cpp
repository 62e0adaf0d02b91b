//===- FuseResidual.cpp - residual adds in the matmul epilogue -----------===//
//
// h + o_proj(...) and h + down(...) (SPEC §3): the add becomes the matmul's
// residual operand, so the kernel writes y + h directly instead of y, then
// a second pass writing the sum. Float addition is commutative, so the
// values are the same whichever side of the add the matmul was.
//
//===----------------------------------------------------------------------===//

#include "Tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNFUSERESIDUAL
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

/// `v` if it is the only use of a one-weight matmul without a residual.
TernaryMatmulOp fusableMatmul(Value v) {
  auto mm = v.getDefiningOp<TernaryMatmulOp>();
  if (!mm || mm.getWeights().size() != 1 || mm.getResidual() || !v.hasOneUse())
    return {};
  return mm;
}

struct FuseResidualPass
    : mlir::tern::impl::TernFuseResidualBase<FuseResidualPass> {
  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp op) { adds.push_back(op); });
    for (AddOp add : adds) {
      Value residual = add.getRhs();
      TernaryMatmulOp mm = fusableMatmul(add.getLhs());
      if (!mm) {
        residual = add.getLhs();
        mm = fusableMatmul(add.getRhs());
      }
      if (!mm)
        continue;
      // At the add: the residual and the matmul's operands all dominate it.
      OpBuilder builder(add);
      auto fused = builder.create<TernaryMatmulOp>(
          mm.getLoc(), mm.getResultTypes(), mm.getInput(), mm.getScale(),
          mm.getWeights(), residual, mm.getScalesAttr());
      add.replaceAllUsesWith(fused.getResult(0));
      add.erase();
      mm.erase();
    }
  }
};

} // namespace
