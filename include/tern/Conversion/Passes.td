//===- Passes.td - Tern conversion passes ------------------*- tablegen -*-===//

#ifndef TERN_CONVERSION_PASSES
#define TERN_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def TernLowerToKernels : Pass<"tern-lower-to-kernels", "ModuleOp"> {
  let summary = "Lower tern ops on tensors to loops on memrefs";
  let description = [{
    Generates the code of the kernel family the module's `#tern.target`
    names (`tern-set-target`; without one, `variant`, default scalar); the
    ternary weights must be in the layout that family reads.
    Rewrites the model function `@forward(ids, positions) -> logits` into
    `@tern_forward(ids, positions, kv_cache, logits_out)` on memrefs with the
    C interface the runtime calls. Weights become constant `memref.global`s
    (named `tern_weight_*`, stored as bytes and placed in the weights section
    at emission). Every other tern op becomes a call to a kernel function
    (`scf`/`arith`/`math` loops, `i32` accumulation for ternary matmuls), one
    per distinct op signature: layers of the same shape share one kernel and
    pass what differs (weight scales, the attention layer) as arguments.
    `tern.attention` appends to and reads the `kv_cache` buffer, laid out
    `[layer][k, v][kv_head][position][head_dim]` for as many positions as
    the runtime allocated. Intermediates are allocated in `@tern_forward`
    (see `tern-plan-memory`). Also emits `@tern_vocab_size()`,
    `@tern_kv_floats_per_position()` and `@tern_context_length()` (from the
    module attribute `tern.context_length`, default 2048).
  }];
  let options = [
    Option<"variant", "variant", "std::string", /*default=*/"\"\"",
           "kernel family, for modules without a #tern.target (tests): "
           "scalar (i2 weights), vector (portable), avx2, avxvnni or "
           "avx512vnni (x86), neon, dotprod or i8mm (AArch64), all on i2_k64 "
           "weights; gpu-host: every op a kernel in gpu.module @tern_gpu, "
           "launched (gpu.launch_func) on device buffers by the host code. "
           "Test aids on gpu_w2 weights: gpu-emulation (the NVIDIA matmul "
           "kernels' arithmetic on the CPU), gpu-device-emulation (the "
           "gpu-host kernels and launches run on the CPU). Default: the "
           "module's #tern.target, else scalar">,
    Option<"mcaMarkers", "mca-markers", "bool", /*default=*/"false",
           "mark each ternary matmul tile's block loop for llvm-mca "
           "(# LLVM-MCA-BEGIN/END comments in the assembly)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::gpu::GPUDialect"
  ];
}

def TernLowerToGpu : Pass<"tern-lower-to-gpu", "ModuleOp"> {
  let summary = "Lower tern ops to NVIDIA device kernels and their launches";
  let description = [{
    The NVIDIA target's lowering: every op becomes a kernel in
    `gpu.module @tern_gpu` (the NVIDIA emitter, `lib/Target/NVPTX`:
    `GpuLayer.cpp`, `GpuAttention.cpp`, `GpuW2.cpp`), launched by
    `gpu.launch_func` on device buffers from the host code of
    `@tern_forward` (`GpuHost.cpp`), with the runtime ABI of
    `tern-lower-to-kernels`. The module's `#tern.target` must name an NVIDIA
    family (`gpu-host`; `gpu-device-emulation`, the test aid that runs the
    same kernels and launches on the CPU); ternc runs this pass for
    `--target=nvptx`. PTX, cubin and their embedding follow in the llvm
    phase (`lib/Target/NVPTX/DeviceCode.cpp`).
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::gpu::GPUDialect"
  ];
}

#endif // TERN_CONVERSION_PASSES
