//===- DeviceCode.cpp - NVIDIA kernels: lowering, PTX, embedding ----------===//

#include "tern/Target/NVPTX/DeviceCode.h"

#include "tern/Target/Emit.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::tern;

void nvptx::populateDeviceLoweringPasses(OpPassManager &pm) {
  // Structured control flow, then gpu/memref/arith to NVVM and the LLVM
  // dialect, 64-bit indices. math to LLVM intrinsics first: NVPTX has
  // instructions for the few the kernels use (sqrt, fma, roundeven, fabs),
  // where gpu-to-nvvm would call libdevice, which needs the CUDA toolkit.
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  device.addPass(createConvertSCFToCFPass());
  device.addPass(createConvertMathToLLVMPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.indexBitwidth = 64;
  device.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  pm.addPass(createReconcileUnrealizedCastsPass());
}

OwningOpRef<ModuleOp> nvptx::deviceFunctions(ModuleOp module) {
  OwningOpRef<ModuleOp> flat = ModuleOp::create(module.getLoc());
  OpBuilder b(flat->getBody(), flat->getBody()->begin());
  if (auto device = module.lookupSymbol<gpu::GPUModuleOp>("tern_gpu"))
    for (Operation &op : device.getBody()->without_terminator())
      b.clone(op);
  return flat;
}

llvm::Expected<nvptx::DeviceCode>
nvptx::compileDeviceCode(ModuleOp module, const ResolvedTarget &device,
                         unsigned optLevel) {
  MLIRContext &context = *module.getContext();
  OwningOpRef<ModuleOp> kernels = ModuleOp::create(module.getLoc());
  if (auto gpuModule = module.lookupSymbol<gpu::GPUModuleOp>("tern_gpu")) {
    (*kernels)->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                        UnitAttr::get(&context));
    gpuModule->moveBefore(kernels->getBody(), kernels->getBody()->end());
    // The host's gpu.launch_func ops name gpu.binary @tern_gpu. Its object
    // is a placeholder: the runtime's mgpuModuleLoad picks the embedded
    // cubin or PTX (tern_gpu_cubin, tern_gpu_ptx) once it knows the GPU.
    OpBuilder b(module.getBody(), module.getBody()->end());
    auto target = NVVM::NVVMTargetAttr::get(
        &context, 2, device.triple, device.cpu.empty() ? "sm_80" : device.cpu);
    b.create<gpu::BinaryOp>(
        module.getLoc(), "tern_gpu", Attribute(),
        ArrayRef<Attribute>{gpu::ObjectAttr::get(
            &context, target, gpu::CompilationTarget::Binary,
            b.getStringAttr("see tern_gpu_ptx"), DictionaryAttr())});
  }
  PassManager pm(&context);
  populateDeviceLoweringPasses(pm);
  if (failed(pm.run(*kernels)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "lowering the GPU kernels failed");
  OwningOpRef<ModuleOp> flat = deviceFunctions(*kernels);
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateAndOptimize(*flat, llvmContext, device, optLevel);
  if (!llvmModule)
    return llvmModule.takeError();
  DeviceCode code;
  llvm::raw_string_ostream params(code.params);
  const llvm::DataLayout &layout = (*llvmModule)->getDataLayout();
  for (llvm::Function &fn : **llvmModule) {
    if (fn.isDeclaration())
      continue;
    params << fn.getName();
    for (llvm::Argument &arg : fn.args())
      params << " " << layout.getTypeAllocSize(arg.getType()).getFixedValue();
    params << "\n";
  }
  llvm::SmallString<0> ptx;
  llvm::raw_svector_ostream os(ptx);
  if (llvm::Error e = emitMachineCode(**llvmModule, device, true, os))
    return std::move(e);
  code.ptx = std::string(ptx);
  return code;
}

/// The cubin ptxas makes of `ptx` for `arch`, or "" when ptxas is not
/// installed (PATH, or the CUDA toolkit's /usr/local/cuda/bin) or fails
/// (a warning says why: the PTX alone still runs).
static std::string assembleCubin(StringRef ptx, StringRef arch) {
  llvm::ErrorOr<std::string> ptxas = llvm::sys::findProgramByName("ptxas");
  if (!ptxas)
    ptxas = llvm::sys::findProgramByName("ptxas", {"/usr/local/cuda/bin"});
  if (!ptxas)
    return "";
  SmallString<128> in, out;
  if (llvm::sys::fs::createTemporaryFile("tern-kernels", "ptx", in) ||
      llvm::sys::fs::createTemporaryFile("tern-kernels", "cubin", out))
    return "";
  llvm::FileRemover removeIn(in), removeOut(out);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec)
      return "";
    os << ptx;
  }
  std::string arg = ("-arch=" + arch).str();
  StringRef args[] = {*ptxas, arg, in, "-o", out};
  std::string error;
  if (llvm::sys::ExecuteAndWait(*ptxas, args, std::nullopt, {}, 0, 0, &error) !=
      0) {
    llvm::errs() << "warning: " << *ptxas << " could not assemble the GPU "
                 << "kernels (" << (error.empty() ? "it failed" : error)
                 << "); the executable carries their PTX only\n";
    return "";
  }
  auto bytes = llvm::MemoryBuffer::getFile(out, /*IsText=*/false);
  return bytes ? (*bytes)->getBuffer().str() : "";
}

void nvptx::embedDeviceCode(ModuleOp module, DeviceCode code,
                            const ResolvedTarget &device) {
  // The PTX (the driver compiles it for any newer GPU) and, where the CUDA
  // toolkit's ptxas is installed, a cubin for the chosen architecture (no
  // compilation at start-up).
  OpBuilder b(module.getBody(), module.getBody()->end());
  auto embed = [&](StringRef name, StringRef bytes) {
    auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
    b.create<LLVM::GlobalOp>(module.getLoc(), type, /*isConstant=*/true,
                             LLVM::Linkage::External, name,
                             b.getStringAttr(bytes));
  };
  std::string cubin = assembleCubin(code.ptx, device.cpu);
  code.ptx.push_back('\0');
  embed("tern_gpu_ptx", code.ptx);
  code.params.push_back('\0');
  embed("tern_gpu_params", code.params);
  if (cubin.empty())
    return;
  embed("tern_gpu_cubin", cubin);
  // The compute capability it is for: sm_90a -> 90.
  unsigned capability = 0;
  StringRef(device.cpu)
      .drop_front(3)
      .take_while([](char c) { return c >= '0' && c <= '9'; })
      .getAsInteger(10, capability);
  b.create<LLVM::GlobalOp>(module.getLoc(), b.getI32Type(),
                           /*isConstant=*/true, LLVM::Linkage::External,
                           "tern_gpu_cubin_capability",
                           b.getI32IntegerAttr(capability));
}
