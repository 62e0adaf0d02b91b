//===- Phases.cpp - Tern's phase list and pass pipeline -------------------===//

#include "tern/Pipeline/Pipeline.h"

#include "Tern/IR/TernOps.h"
#include "Tern/Transforms/Passes.h"
#include "tern/Conversion/Passes.h"
#include "tern/Target/KernelFamilies.h"
#include "tern/Target/NVPTX/DeviceCode.h"
#include "tern/Target/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/OpenMPToLLVM/ConvertOpenMPToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace {
constexpr const char *kPhaseNames[] = {"import",  "tern", "quantized", "packed",
                                       "kernels", "llvm", "llvm-ir",   "asm",
                                       "obj",     "exe",  "lib"};
} // namespace

StringRef mlir::tern::phaseName(Phase phase) {
  return kPhaseNames[static_cast<int>(phase)];
}

std::optional<mlir::tern::Phase> mlir::tern::parsePhase(StringRef name) {
  for (auto [i, phaseName] : llvm::enumerate(kPhaseNames))
    if (name == phaseName)
      return static_cast<Phase>(i);
  return std::nullopt;
}

std::string mlir::tern::phaseNames() {
  return llvm::join(std::begin(kPhaseNames), std::end(kPhaseNames), ", ");
}

void mlir::tern::populateTernPasses(OpPassManager &pm) {
  // Frontends emit straightforward IR; fold and dedupe it once up front.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::tern::populateQuantizedPasses(OpPassManager &pm,
                                         const PipelineOptions &options) {
  // Opt-in: an int8 LM head with per-row scales (the head's table only).
  if (options.lmHeadInt8)
    pm.addPass(mlir::tern::createTernQuantizeLMHead());
  // The float baseline keeps 16-bit weights and quantizes nothing else.
  if (options.floatWeights) {
    pm.addPass(mlir::tern::createTernFloatWeights());
    return;
  }
  // Latent weights become ternary first: everything after reads trits.
  pm.addPass(mlir::tern::createTernQuantizeWeights());
  // Expose the activation quantization so that it can be shared.
  pm.addNestedPass<func::FuncOp>(mlir::tern::createTernLowerBitLinear());
  // One act_quant per normalized input (act_quant is pure: CSE merges it),
  // then one matmul per act_quant (q/k/v, gate/up).
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(mlir::tern::createTernFuseProjections());
  // Normalize (after a glu, for down) and quantize in one pass per row.
  // Residual adds in the o_proj and down epilogues.
  if (options.fuse) {
    pm.addNestedPass<func::FuncOp>(mlir::tern::createTernFuseNormQuant());
    pm.addNestedPass<func::FuncOp>(mlir::tern::createTernFuseResidual());
  }
}

void mlir::tern::populatePackedPasses(OpPassManager &pm,
                                      const PipelineOptions &options) {
  // From here on the module says what it is compiled for: the layout and
  // the kernels that read it come from one #tern.target.
  mlir::tern::TernSetTargetOptions target;
  target.triple = options.triple;
  target.cpu = options.cpu;
  target.features = options.features;
  target.kernels = options.kernels;
  pm.addPass(mlir::tern::createTernSetTarget(target));
  // Last step before kernels: layouts are what the kernels will read.
  pm.addPass(mlir::tern::createTernPackWeights());
  // The head's bf16 table in 3/4 of the bytes, losslessly: SIMD CPU kernels
  // decode it (tern-pack-lm-head).
  const KernelFamily *family = lookupKernelFamily(options.kernels);
  if (!options.lmHeadPlain && family && !family->isDeviceCode() &&
      family->layout == PackedLayout::I2K64)
    pm.addPass(mlir::tern::createTernPackLMHead());
}

void mlir::tern::populateKernelsPasses(OpPassManager &pm,
                                       const PipelineOptions &options) {
  // The module's #tern.target names the kernel family. NVIDIA (--emit=asm
  // and executables alike): every op a device kernel, launched by host code
  // (gpu-host); --emit=asm then prints the device code alone.
  const KernelFamily *family = lookupKernelFamily(options.kernels);
  if (family && family->isDeviceCode()) {
    pm.addPass(mlir::tern::createTernLowerToGpu());
  } else {
    mlir::tern::TernLowerToKernelsOptions kernels;
    kernels.mcaMarkers = options.mcaMarkers;
    pm.addPass(mlir::tern::createTernLowerToKernels(kernels));
  }
  // The loop builders leave repeated constants and dims behind; once they
  // are one value per size, buffers of equal size share planned arenas.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(mlir::tern::createTernPlanMemory());
}

void mlir::tern::populateLLVMPasses(OpPassManager &pm,
                                    const PipelineOptions &options) {
  if (options.deviceCodeOnly) {
    nvptx::populateDeviceLoweringPasses(pm);
    return;
  }
  // The standard MLIR-to-LLVM sequence (TOOLCHAIN.md); order matters:
  // structured control flow and math first, memrefs before their users.
  // Kernels' scf.parallel loops become OpenMP regions (run by the runtime's
  // thread team, lib/Runtime/Parallel.cpp).
  pm.addPass(createConvertSCFToOpenMPPass());
  // It wraps each loop body in a memref.alloca_scope, which must be a single
  // block; the kernels allocate nothing inside parallel loops, so the
  // canonicalizer inlines every scope before control flow is lowered.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  // NVIDIA executables: gpu.alloc/memcpy/launch_func become calls to the
  // runtime's mgpu* functions (lib/Runtime/GpuRuntime.cpp).
  const KernelFamily *family = lookupKernelFamily(options.kernels);
  if (family && family->mode == KernelMode::GPU)
    pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::tern::populatePhasePasses(OpPassManager &pm, Phase phase,
                                     const PipelineOptions &options) {
  switch (phase) {
  case Phase::Tern:
    return populateTernPasses(pm);
  case Phase::Quantized:
    return populateQuantizedPasses(pm, options);
  case Phase::Packed:
    return populatePackedPasses(pm, options);
  case Phase::Kernels:
    return populateKernelsPasses(pm, options);
  case Phase::LLVM:
    return populateLLVMPasses(pm, options);
  default:
    llvm_unreachable("not an MLIR pass phase");
  }
}

void mlir::tern::registerAllTernDialects(DialectRegistry &registry) {
  registry.insert<mlir::tern::TernDialect, func::FuncDialect,
                  arith::ArithDialect, math::MathDialect, memref::MemRefDialect,
                  scf::SCFDialect, cf::ControlFlowDialect,
                  affine::AffineDialect, vector::VectorDialect,
                  LLVM::LLVMDialect, gpu::GPUDialect, NVVM::NVVMDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  // gpu.binary and gpu.launch_func (NVIDIA executables' host code).
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

void mlir::tern::registerAllTernPasses() {
  // Upstream passes the pipeline uses, so that --mlir-print-ir-after and
  // friends can name them too.
  registerTransformsPasses();
  mlir::tern::registerTernPasses();
  mlir::tern::registerTernConversionPasses();
  mlir::tern::registerTernTargetPasses();
}
