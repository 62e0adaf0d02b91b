//===- FuseNormQuant.cpp - RMSNorm + act_quant as one row pass -----------===//
//
// Every quantized BitLinear input is a normalized row: act_quant(rms_norm(x))
// (SPEC §3: the input norms, and the sub-norms before o_proj and down). The
// fused op reads x and writes only the int8 row and its scale; before a down
// projection x is itself glu(gate, up) and joins the fusion, so the glu row
// is never written either.
//
//===----------------------------------------------------------------------===//

#include "Tern/Transforms/Passes.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNFUSENORMQUANT
#include "Tern/Transforms/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

struct FuseNormQuantPass
    : mlir::tern::impl::TernFuseNormQuantBase<FuseNormQuantPass> {
  void runOnOperation() override {
    SmallVector<ActQuantOp> quants;
    getOperation().walk([&](ActQuantOp op) { quants.push_back(op); });
    for (ActQuantOp quant : quants) {
      auto norm = quant.getInput().getDefiningOp<RMSNormOp>();
      if (!norm || !norm->hasOneUse())
        continue;
      SmallVector<Value> inputs{norm.getInput()};
      GluActivationAttr activation;
      auto glu = norm.getInput().getDefiningOp<GluOp>();
      if (glu && glu->hasOneUse()) {
        inputs = {glu.getGate(), glu.getUp()};
        activation = glu.getActivationAttr();
      }
      OpBuilder builder(quant);
      auto fused = builder.create<NormQuantOp>(
          quant.getLoc(), quant.getResultTypes(), inputs, norm.getGamma(),
          norm.getEpsilonAttr(), activation);
      quant.replaceAllUsesWith(fused.getResults());
      quant.erase();
      norm.erase();
      if (activation)
        glu.erase();
    }
  }
};

} // namespace
