//===- FuseProjections.cpp - one ternary_matmul per quantized input -------===//
//
// q/k/v read one normalized input, and so do gate/up (SPEC §10.5: four
// quantizations per layer, not seven). Once CSE has merged their equal
// act_quant ops, merging the matmuls lets a kernel stream several weights over
// the same int8 row.
//
//===----------------------------------------------------------------------===//

#include "Tern/Transforms/Passes.h"

#include "llvm/ADT/MapVector.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNFUSEPROJECTIONS
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

/// Merges the ternary_matmul ops of `group` (same input, same block) into one
/// placed at the first of them.
void mergeMatmuls(ArrayRef<TernaryMatmulOp> group) {
  TernaryMatmulOp front = group.front();
  SmallVector<Value> weights;
  SmallVector<Type> types;
  SmallVector<float> scales;
  for (TernaryMatmulOp op : group) {
    for (Value w : op.getWeights()) {
      // Weights are operand-free, so moving one up keeps the IR valid.
      Operation *def = w.getDefiningOp();
      if (def && def->getBlock() == front->getBlock() &&
          front->isBeforeInBlock(def))
        def->moveBefore(front);
      weights.push_back(w);
    }
    llvm::append_range(types, op.getResultTypes());
    llvm::append_range(scales, op.getScales());
  }
  OpBuilder builder(front);
  auto fused = builder.create<TernaryMatmulOp>(
      front.getLoc(), types, front.getInput(), front.getScale(), weights,
      Value(), builder.getDenseF32ArrayAttr(scales));
  unsigned next = 0;
  for (TernaryMatmulOp op : group) {
    unsigned n = op.getNumResults();
    op.replaceAllUsesWith(fused.getResults().slice(next, n));
    next += n;
    op.erase();
  }
}

/// Weights defined in this block by anything but tern.weight cannot be
/// moved up safely; such matmuls are left alone.
bool weightsMovable(TernaryMatmulOp op) {
  return llvm::all_of(op.getWeights(), [&](Value w) {
    Operation *def = w.getDefiningOp();
    return !def || def->getBlock() != op->getBlock() || isa<WeightOp>(def);
  });
}

struct FuseProjectionsPass
    : mlir::tern::impl::TernFuseProjectionsBase<FuseProjectionsPass> {
  void runOnOperation() override {
    getOperation().walk([&](Block *block) {
      llvm::MapVector<std::pair<Value, Value>, SmallVector<TernaryMatmulOp>>
          groups;
      for (auto op : block->getOps<TernaryMatmulOp>())
        if (weightsMovable(op) && !op.getResidual())
          groups[{op.getInput(), op.getScale()}].push_back(op);
      for (auto &entry : groups)
        if (entry.second.size() > 1)
          mergeMatmuls(entry.second);
    });
  }
};

} // namespace
