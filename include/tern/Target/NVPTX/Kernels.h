//===- Kernels.h - the NVIDIA target's kernel emitter -----------*- C++ -*-===//

#ifndef TERN_TARGET_NVPTX_KERNELS_H
#define TERN_TARGET_NVPTX_KERNELS_H

#include "tern/Conversion/KernelEmitter.h"

#include <memory>

namespace mlir::tern::nvptx {

/// The emitter of the NVIDIA families (gpu-host, and its CPU emulation
/// gpu-device-emulation): every op becomes launches of gpu.func kernels in
/// gpu.module @tern_gpu on device buffers (lib/Target/NVPTX/Gpu*.cpp).
std::unique_ptr<kernels::KernelEmitter>
createGpuKernelEmitter(ImplicitLocOpBuilder &b, ModuleOp module,
                       Operation *forward, const KernelFamily &family);

} // namespace mlir::tern::nvptx

#endif // TERN_TARGET_NVPTX_KERNELS_H
