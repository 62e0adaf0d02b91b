//===- GpuKernelEmitter.h - tern ops -> NVIDIA kernels ----------*- C++ -*-===//
//
// Device mode of the kernel lowering (families gpu-host and
// gpu-device-emulation): the model's host code keeps every activation in
// device memory and launches one or more kernels per op. GpuLayer.cpp builds
// the kernels and their launches, GpuAttention.cpp the attention's,
// GpuHost.cpp the host-side operations; GpuW2.cpp the ternary matmul's
// arithmetic, which the CPU's gpu-emulation family shares.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_TARGET_NVPTX_GPUKERNELEMITTER_H
#define TERN_TARGET_NVPTX_GPUKERNELEMITTER_H

#include "tern/Conversion/KernelEmitter.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <map>
#include <tuple>

namespace mlir::tern::kernels {

class BlockThreads;

class GpuKernelEmitter : public KernelEmitter {
public:
  using KernelEmitter::KernelEmitter;

  /// Launches `op`'s kernels (weights: the runtime's device copies).
  LogicalResult lower(Operation *op) override;
  void freeBuffers() override;
  /// Inputs are uploaded, the KV cache and weights are the runtime's
  /// device-resident copies, outputs are computed on the device and copied
  /// back.
  Value bindInput(Value host, Value rows) override;
  FailureOr<Value> bindKVCache(Value host) override;
  Value bindOutput(Value host) override;
  void writeOutput(Value result, Value host) override;
  FailureOr<Value> placeWeight(Value data) override;

private:
  // --- host side (GpuHost.cpp) ---
  /// A device buffer, freed by freeBuffers unless the caller frees it.
  Value deviceAlloc(MemRefType type, ValueRange sizes, bool freeAtEnd = true);
  void deviceFree(Value buffer);
  /// Copies between host and device memory.
  void copy(Value from, Value to);
  /// The device copy of a host buffer of static shape or memref<?xT>, made
  /// once per run by the runtime: with its contents (weights) or without
  /// (the KV cache).
  FailureOr<Value> resident(Value host, bool withContents);
  /// Host buffers of the device forward (RoPE's tables), freed at its end.
  SmallVector<Value> hostBuffers;
  gpu::GPUModuleOp gpuModule();

  // --- kernels (GpuLayer.cpp, GpuAttention.cpp) ---
  /// Emits `op` as launches of device kernels on device buffers.
  LogicalResult launch(Operation *op);
  /// A block's code: its threads, the block ids, the kernel's arguments.
  using BlockBody =
      function_ref<void(BlockThreads &, Value, Value, ValueRange)>;
  /// Launches kernel `name` (created on first use, one per name and
  /// argument types) on a gridX x gridY grid of `threads`-thread blocks.
  void launchKernel(StringRef name, ValueRange args, Value gridX, Value gridY,
                    int64_t threads, BlockBody body);
  void launchTernaryMatmul(TernaryMatmulOp op);
  void launchAttention(AttentionOp op);
  void launchRope(RopeOp op);
  void launchFloatMatmul(Value x, Value table, Value out, Value scales,
                         Value rows);
  /// 1 / sqrt(mean(element^2) + epsilon) over a row, by the block.
  Value blockRmsInverse(BlockThreads &threads, int64_t d, Value epsilon,
                        function_ref<Value(Value)> element);
  /// act_quant of a row of k elements into q[t, :] and s[t], by the block.
  void blockQuantizeRow(BlockThreads &threads, int64_t k, Value t, Value q,
                        Value s, function_ref<Value(Value)> element);
  /// RoPE's cos and sin tables of this call's positions, by (theta,
  /// head_dim, scaling and freq_factors attributes).
  std::map<std::tuple<float, int64_t, const void *, const void *>,
           std::pair<Value, Value>>
      ropeTables;
  /// Device kernels by name and signature.
  llvm::StringMap<Operation *> deviceKernels;
};

} // namespace mlir::tern::kernels

#endif // TERN_TARGET_NVPTX_GPUKERNELEMITTER_H
