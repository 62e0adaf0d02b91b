//===- GpuMatmul.cpp - ternary matmuls on an NVIDIA GPU -------------------===//
//
// NVIDIA executables call tern_gpu_matmul for every ternary matmul (the
// rest of the model still runs on the CPU: the first step of the GPU
// target, see docs/GPU.md). On the first call the CUDA driver is opened
// and the embedded PTX (tern_gpu_ptx) loaded; each weight is uploaded once;
// activations go up and results come back per call. Without a driver or a
// GPU the executable stops with one line saying which.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Cuda.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

using namespace tern::rt;

extern "C" const char tern_gpu_ptx[] __attribute__((weak));
// Where ternc found ptxas: the kernels assembled for one architecture.
extern "C" const char tern_gpu_cubin[] __attribute__((weak));
extern "C" const int32_t tern_gpu_cubin_capability __attribute__((weak));

namespace {

/// MLIR memref descriptors of rank 1 and 2.
template <typename T> struct Desc1 {
  T *allocated, *aligned;
  int64_t offset, size, stride;
};
template <typename T> struct Desc2 {
  T *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

struct Gpu {
  std::unique_ptr<CudaDriver> cuda;
  std::map<std::string, void *> kernels;
  std::map<const void *, uint64_t> weights;
  /// Grow-only device buffers: activations, their scales, the output and
  /// the residual.
  uint64_t buffers[4] = {0, 0, 0, 0};
  size_t sizes[4] = {0, 0, 0, 0};

  static Gpu &get() {
    static Gpu gpu;
    if (!gpu.cuda) {
      std::string error;
      gpu.cuda = CudaDriver::open(error);
      if (!gpu.cuda)
        die(error);
      if (!tern_gpu_ptx)
        die("this executable has no GPU kernels");
      // The cubin if it is this GPU's architecture, else the PTX (which
      // the driver compiles for it).
      bool cubin = tern_gpu_cubin && &tern_gpu_cubin_capability &&
                   tern_gpu_cubin_capability == gpu.cuda->computeCapability();
      if (!gpu.cuda->loadModule(cubin ? tern_gpu_cubin : tern_gpu_ptx, error))
        die("loading the GPU kernels on " + gpu.cuda->deviceName() + ": " +
            error);
    }
    return gpu;
  }

  uint64_t buffer(int which, size_t bytes) {
    if (sizes[which] < bytes) {
      cuda->free(buffers[which]);
      std::string error;
      buffers[which] = cuda->alloc(bytes, error);
      if (!buffers[which])
        die(error);
      sizes[which] = bytes;
    }
    return buffers[which];
  }
};

} // namespace

extern "C" void _mlir_ciface_tern_gpu_matmul(Desc2<int8_t> *q, Desc1<float> *s,
                                             Desc1<int32_t> *words,
                                             Desc2<float> *out,
                                             Desc2<float> *residual,
                                             float scale, int64_t hasResidual) {
  Gpu &g = Gpu::get();
  std::string error;
  // The kernels' names, tiles and block size are those tern-lower-to-gpu-
  // kernels gives them (lib/Conversion/TernToKernels/GpuKernels.cpp,
  // GpuW2.h's kPrefillTile).
  int64_t tokens = q->sizes[0], k = q->sizes[1], n = out->sizes[1];
  int64_t tile = tokens == 1 ? 1 : 4;
  std::string name = "tern_gpu_w2a8_k" + std::to_string(k) + "_n" +
                     std::to_string(n) + (hasResidual ? "_residual" : "") +
                     "_t" + std::to_string(tile);
  void *&kernel = g.kernels[name];
  if (!kernel && !(kernel = g.cuda->kernel(name.c_str(), error)))
    die(error);

  // Weights: uploaded on first use.
  const int32_t *w = words->aligned + words->offset;
  uint64_t &dw = g.weights[w];
  size_t wBytes = size_t(words->size) * 4;
  if (!dw) {
    if (!(dw = g.cuda->alloc(wBytes, error)) ||
        !g.cuda->copyToDevice(dw, w, wBytes, error))
      die(error);
  }
  size_t qBytes = size_t(tokens * k), sBytes = size_t(tokens) * 4,
         oBytes = size_t(tokens * n) * 4;
  uint64_t dq = g.buffer(0, qBytes), ds = g.buffer(1, sBytes),
           dout = g.buffer(2, oBytes), dres = dout;
  if (!g.cuda->copyToDevice(dq, q->aligned + q->offset, qBytes, error) ||
      !g.cuda->copyToDevice(ds, s->aligned + s->offset, sBytes, error))
    die(error);
  if (hasResidual) {
    dres = g.buffer(3, oBytes);
    if (!g.cuda->copyToDevice(dres, residual->aligned + residual->offset,
                              oBytes, error))
      die(error);
  }

  // The kernel's parameters: each memref as its expanded descriptor
  // (allocated, aligned, offset, sizes, strides), then the scale.
  int64_t zero = 0, one = 1, wWords = words->size;
  void *params[] = {&dq,     &dq,     &zero, &tokens, &k,    &k,    &one,
                    &ds,     &ds,     &zero, &tokens, &one,  &dw,   &dw,
                    &zero,   &wWords, &one,  &dout,   &dout, &zero, &tokens,
                    &n,      &n,      &one,  &scale,  &dres, &dres, &zero,
                    &tokens, &n,      &n,    &one};
  unsigned grid = unsigned((n + 127) / 128),
           rows = unsigned((tokens + tile - 1) / tile);
  if (!g.cuda->launch(kernel, grid, rows, 128, params, error) ||
      !g.cuda->copyToHost(out->aligned + out->offset, dout, oBytes, error))
    die(error);
}
