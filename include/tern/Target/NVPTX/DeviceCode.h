//===- DeviceCode.h - NVIDIA kernels: lowering, PTX, embedding --*- C++ -*-===//
//
// The NVIDIA target's part of the driver: the kernel lowering leaves every
// device kernel in gpu.module @tern_gpu; this lowers them to NVVM, compiles
// them to PTX (and a cubin where ptxas is installed) and embeds them in the
// host code that launches them.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_TARGET_NVPTX_DEVICECODE_H
#define TERN_TARGET_NVPTX_DEVICECODE_H

#include "tern/Target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir::tern::nvptx {

/// gpu.module @tern_gpu's device code to NVVM and the LLVM dialect.
void populateDeviceLoweringPasses(OpPassManager &pm);

/// The functions of `module`'s gpu.module @tern_gpu (lowered to the LLVM
/// dialect), in a module of their own: what LLVM compiles to PTX.
OwningOpRef<ModuleOp> deviceFunctions(ModuleOp module);

/// NVIDIA kernels as the executable embeds them.
struct DeviceCode {
  std::string ptx;
  /// One line per kernel: its name, then the byte size of each parameter
  /// (the runtime copies launches' arguments into CUDA graphs with them).
  std::string params;
};

/// Moves gpu.module @tern_gpu out of `module` (leaving the gpu.binary its
/// launches name), lowers it and compiles it to PTX for `device`.
llvm::Expected<DeviceCode> compileDeviceCode(ModuleOp module,
                                             const ResolvedTarget &device,
                                             unsigned optLevel);

/// Adds `code` to `module` (host code in the LLVM dialect) as the globals the
/// runtime loads: tern_gpu_ptx, tern_gpu_params and, where ptxas is
/// installed, tern_gpu_cubin with tern_gpu_cubin_capability.
void embedDeviceCode(ModuleOp module, DeviceCode code,
                     const ResolvedTarget &device);

} // namespace mlir::tern::nvptx

#endif // TERN_TARGET_NVPTX_DEVICECODE_H
