//===- Emit.cpp - LLVM dialect -> LLVM IR -> assembly / object ------------===//

#include "tern/Target/Emit.h"
#include "tern/Runtime/Parallel.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/InstrTypes.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

/// The parallel loops call libomp's ABI (__kmpc_*), which the runtime's
/// thread team implements as tern_kmpc_* (lib/Runtime/Parallel.cpp): with
/// libomp's names, a host program that uses OpenMP and links an --emit=lib
/// archive would get two definitions of each. Renamed after optimization,
/// so that LLVM's OpenMP passes still recognise the calls.
static Error renameOpenMPEntryPoints(Module &module) {
  for (Function &fn : module) {
    StringRef name = fn.getName();
    if (!name.starts_with("__kmpc_"))
      continue;
    if (name == "__kmpc_fork_call")
      for (User *user : fn.users())
        if (auto *call = dyn_cast<CallBase>(user))
          if (auto *argc = dyn_cast<ConstantInt>(call->getArgOperand(1)))
            if (argc->getSExtValue() > tern::rt::kMaxParallelArgs)
              return createStringError(
                  inconvertibleErrorCode(),
                  "internal error: a parallel loop captures " +
                      Twine(argc->getSExtValue()) +
                      " values; the runtime's thread team takes at most " +
                      Twine(tern::rt::kMaxParallelArgs));
    fn.setName("tern_kmpc_" + name.drop_front(strlen("__kmpc_")));
  }
  return Error::success();
}

Expected<std::unique_ptr<Module>>
mlir::tern::translateAndOptimize(mlir::ModuleOp module, LLVMContext &context,
                                 const ResolvedTarget &target,
                                 unsigned optLevel) {
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "tern_model");
  if (!llvmModule)
    return createStringError(inconvertibleErrorCode(),
                             "translation to LLVM IR failed");
  llvmModule->setTargetTriple(target.triple);
  llvmModule->setDataLayout(target.machine->createDataLayout());
  // Weights get their own read-only section: the loader maps them straight
  // from the executable file, and tools can find and measure them.
  for (GlobalVariable &global : llvmModule->globals()) {
    bool region = global.getName() == kWeightsRegion;
    if (!region && !global.getName().starts_with("tern_weight_"))
      continue;
    if (!region) {
      global.setSection(kWeightsSection);
      global.setAlignment(Align(kWeightAlign));
    }
    // Weights can exceed the 2 GB the small code model reaches: on x86-64
    // they are "large" data, addressed with 64-bit relocations and laid out
    // by the linker beyond the code and small data (the region in .lbss).
    if (Triple(target.triple).getArch() == Triple::x86_64)
      global.setCodeModel(CodeModel::Large);
  }
  if (verifyModule(*llvmModule, &errs()))
    return createStringError(inconvertibleErrorCode(),
                             "internal error: invalid LLVM IR was produced");
  auto optimize = mlir::makeOptimizingTransformer(optLevel, /*sizeLevel=*/0,
                                                  target.machine.get());
  if (Error error = optimize(llvmModule.get()))
    return std::move(error);
  if (Error error = renameOpenMPEntryPoints(*llvmModule))
    return std::move(error);
  return llvmModule;
}

Error mlir::tern::emitMachineCode(Module &module, const ResolvedTarget &target,
                                  bool assembly, raw_pwrite_stream &os) {
  legacy::PassManager pm;
  if (target.machine->addPassesToEmitFile(pm, os, nullptr,
                                          assembly
                                              ? CodeGenFileType::AssemblyFile
                                              : CodeGenFileType::ObjectFile))
    return createStringError(inconvertibleErrorCode(),
                             "target " + target.triple +
                                 " cannot emit this file type");
  pm.run(module);
  return Error::success();
}
