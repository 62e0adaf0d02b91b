//===- GpuRuntime.cpp - what NVIDIA executables call on the host ----------===//
//
// An NVIDIA executable's forward function (tern-lower-to-kernels, variant
// gpu-host) allocates device buffers, copies, and launches the kernels of
// gpu.binary @tern_gpu with MLIR's gpu dialect; gpu-to-llvm turns those into
// calls to the mgpu* functions below (the interface of MLIR's CUDA runtime
// wrappers, which Debian does not ship), here on the driver API opened with
// dlopen (Cuda.h). Weights and the KV cache live on the device for the
// whole run (tern_gpu_resident_*). Without a driver or a GPU the first call
// stops the executable with one line saying which.
//
// Every launch and copy goes to the default stream, so they run in order,
// and the one copy the host waits for (the logits) waits for all of them:
// the stream functions have nothing to do.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Cuda.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

using namespace tern::rt;

extern "C" const char tern_gpu_ptx[] __attribute__((weak));
// Where ternc found ptxas: the kernels assembled for one architecture.
extern "C" const char tern_gpu_cubin[] __attribute__((weak));
extern "C" const int32_t tern_gpu_cubin_capability __attribute__((weak));

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

struct Gpu {
  std::unique_ptr<CudaDriver> cuda;
  bool loaded = false;
  std::unordered_map<std::string, void *> kernels;
  /// Kernel names by handle, for error messages.
  std::unordered_map<void *, std::string> names;
  /// Device copies of host buffers (weights, the KV cache), by host address.
  std::unordered_map<const void *, void *> resident;
  /// Freed buffers by size, reused by the next step's allocations of that
  /// size: a token step allocates the same sizes every time, and
  /// cuMemAlloc costs far more than a kernel.
  std::multimap<size_t, void *> freeBuffers;
  std::unordered_map<void *, size_t> sizes;

  static Gpu &get() {
    static Gpu gpu;
    if (!gpu.cuda) {
      std::string error;
      gpu.cuda = CudaDriver::open(error);
      if (!gpu.cuda)
        die(error);
    }
    return gpu;
  }

  void *alloc(size_t bytes) {
    bytes = bytes ? bytes : 1;
    auto reuse = freeBuffers.find(bytes);
    if (reuse != freeBuffers.end()) {
      void *p = reuse->second;
      freeBuffers.erase(reuse);
      return p;
    }
    std::string error;
    uint64_t p = cuda->alloc(bytes, error);
    if (!p)
      die("allocating " + std::to_string(bytes) + " bytes on " +
          cuda->deviceName() + ": " + error);
    void *pointer = reinterpret_cast<void *>(p);
    sizes[pointer] = bytes;
    return pointer;
  }
  void free(void *p) {
    if (p)
      freeBuffers.emplace(sizes[p], p);
  }
  void copy(void *to, const void *from, size_t bytes) {
    std::string error;
    if (bytes && !cuda->copy(to, from, bytes, error))
      die(error);
  }
};

/// MLIR's rank-1 memref descriptor.
template <typename T> struct Desc1 {
  T *allocated, *aligned;
  int64_t offset, size, stride;
};

template <typename T>
void resident(Desc1<T> *result, Desc1<T> *host, int64_t copy) {
  Gpu &g = Gpu::get();
  const T *data = host->aligned + host->offset;
  void *&device = g.resident[data];
  size_t bytes = size_t(host->size) * sizeof(T);
  if (!device) {
    device = g.alloc(bytes);
    if (copy)
      g.copy(device, data, bytes);
  }
  T *d = static_cast<T *>(device);
  *result = {d, d, 0, host->size, 1};
}

} // namespace

// The device copy of a host buffer, made on first use: with its contents
// (weights, copy = 1) or without (the KV cache, which kernels write before
// they read it).
#define TERN_RESIDENT(suffix, type)                                            \
  extern "C" void _mlir_ciface_tern_gpu_resident_##suffix(                     \
      Desc1<type> *result, Desc1<type> *host, int64_t copy) {                  \
    resident(result, host, copy);                                              \
  }
TERN_RESIDENT(f32, float)
TERN_RESIDENT(f16, uint16_t)
TERN_RESIDENT(bf16, uint16_t)
TERN_RESIDENT(i8, int8_t)
TERN_RESIDENT(i32, int32_t)
#undef TERN_RESIDENT

extern "C" {

// gpu.binary @tern_gpu holds a placeholder: which image the driver gets is
// decided here, at run time, once the GPU is known: the cubin ternc made
// with ptxas if it is for this GPU's architecture, else the PTX, which the
// driver compiles for any newer GPU.
void *mgpuModuleLoad(void *, size_t) {
  Gpu &g = Gpu::get();
  if (!g.loaded) {
    if (!tern_gpu_ptx)
      die("this executable has no GPU kernels");
    bool cubin = tern_gpu_cubin && &tern_gpu_cubin_capability &&
                 tern_gpu_cubin_capability == g.cuda->computeCapability();
    std::string error;
    if (!g.cuda->loadModule(cubin ? tern_gpu_cubin : tern_gpu_ptx, error))
      die("loading the GPU kernels on " + g.cuda->deviceName() + ": " + error);
    g.loaded = true;
  }
  return &g;
}

// The module stays loaded for the whole run.
void mgpuModuleUnload(void *) {}

void *mgpuModuleGetFunction(void *, const char *name) {
  Gpu &g = Gpu::get();
  void *&kernel = g.kernels[name];
  std::string error;
  if (!kernel) {
    if (!(kernel = g.cuda->kernel(name, error)))
      die(error);
    g.names[kernel] = name;
  }
  return kernel;
}

void *mgpuStreamCreate() { return nullptr; }
void mgpuStreamSynchronize(void *) {}
void mgpuStreamDestroy(void *) {}

void mgpuLaunchKernel(void *kernel, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void **extra, size_t paramCount) {
  (void)sharedBytes, (void)stream, (void)extra, (void)paramCount;
  // Tern's kernels use 2-D grids of 1-D blocks (KernelEmitter's launches).
  if (gridZ != 1 || blockY != 1 || blockZ != 1)
    die("a GPU kernel launch with a 3-D grid or block, which Tern never "
        "emits");
  Gpu &g = Gpu::get();
  std::string error;
  if (!g.cuda->launch(kernel, unsigned(gridX), unsigned(gridY),
                      unsigned(blockX), params, error, /*wait=*/false))
    die("launching " + g.names[kernel] + " on " + g.cuda->deviceName() + ": " +
        error);
}

void *mgpuMemAlloc(uint64_t bytes, void *, bool) {
  return Gpu::get().alloc(bytes);
}
void mgpuMemFree(void *pointer, void *) { Gpu::get().free(pointer); }
void mgpuMemcpy(void *to, void *from, size_t bytes, void *) {
  Gpu::get().copy(to, from, bytes);
}

} // extern "C"
