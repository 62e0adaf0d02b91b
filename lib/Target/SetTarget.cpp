//===- SetTarget.cpp - the tern-set-target pass ---------------------------===//

#include "tern/Target/KernelFamilies.h"
#include "tern/Target/Passes.h"

#include "llvm/TargetParser/Host.h"

namespace mlir::tern {
#define GEN_PASS_DEF_TERNSETTARGET
#include "tern/Target/Passes.h.inc"
} // namespace mlir::tern

using namespace mlir;
using namespace mlir::tern;

namespace {

struct SetTargetPass : mlir::tern::impl::TernSetTargetBase<SetTargetPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    const KernelFamily *family = lookupKernelFamily(kernels);
    if (!family) {
      module.emitError() << "tern-set-target: unknown kernels '" << kernels
                         << "' (known: " << kernelFamilyNames(false) << ")";
      return signalPassFailure();
    }
    std::string normalized = llvm::Triple::normalize(
        triple.empty() ? llvm::sys::getDefaultTargetTriple() : triple);
    if (!family->runsOn(llvm::Triple(normalized))) {
      module.emitError() << "tern-set-target: the " << family->name
                         << " kernels are " << kernelArchName(family->arch)
                         << " code; they cannot run on " << normalized;
      return signalPassFailure();
    }
    TernDialect::TargetAttrHelper(&getContext())
        .setAttr(module,
                 TargetAttr::get(&getContext(), normalized, cpu, features,
                                 family->name, family->layout));
  }
};

} // namespace
