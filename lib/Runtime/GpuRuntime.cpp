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
// the stream functions have nothing to do. Repeated steps (decoding) run
// as one CUDA graph each (Gpu::flush); --no-gpu-graphs launches every
// kernel on its own.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Cuda.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

using namespace tern::rt;

extern "C" const char tern_gpu_ptx[] __attribute__((weak));
// Where ternc found ptxas: the kernels assembled for one architecture.
extern "C" const char tern_gpu_cubin[] __attribute__((weak));
extern "C" const int32_t tern_gpu_cubin_capability __attribute__((weak));
// Each kernel's parameter sizes (for CUDA graphs): "name size size...\n".
extern "C" const char tern_gpu_params[] __attribute__((weak));

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

/// A launch as the host code made it: kernel, grid, and a copy of its
/// arguments' bytes.
struct Recorded {
  void *kernel;
  unsigned gridX, gridY, blockX;
  std::vector<char> bytes;
  std::vector<size_t> offsets;
  bool operator==(const Recorded &o) const {
    return kernel == o.kernel && gridX == o.gridX && gridY == o.gridY &&
           blockX == o.blockX && bytes == o.bytes;
  }
  /// Pointers to each argument, as cuLaunchKernel takes them.
  std::vector<void *> args() {
    std::vector<void *> out;
    for (size_t offset : offsets)
      out.push_back(bytes.data() + offset);
    return out;
  }
};

/// False after the executable's --no-gpu-graphs.
bool graphsWanted = true;

struct Gpu {
  std::unique_ptr<CudaDriver> cuda;
  bool loaded = false;
  std::unordered_map<std::string, void *> kernels;
  /// Kernel names by handle, for error messages.
  std::unordered_map<void *, std::string> names;
  /// The byte size of each kernel's parameters (tern_gpu_params).
  std::unordered_map<std::string, std::vector<size_t>> paramSizes;
  /// Device copies of host buffers (weights, the KV cache), by host address.
  std::unordered_map<const void *, void *> resident;
  /// Freed buffers by size, reused by later allocations of that size, the
  /// lowest address first: a token step allocates the same sizes in the
  /// same order every time, so it gets the same buffers (and cuMemAlloc,
  /// which costs far more than a kernel, runs on the first steps only).
  std::map<size_t, std::set<void *>> freeBuffers;
  /// Every device allocation: address -> size.
  std::map<char *, size_t> sizes;
  /// Sizes allocated since the last copy to the host: pooled buffers of
  /// other sizes (a prompt's, once decoding) go back to the driver then,
  /// so that prompts of many lengths do not pile up.
  std::set<size_t> used;

  /// CUDA graphs. Launches are recorded, not made, until the step's logits
  /// are copied back (flush); a step that repeats the previous one launch
  /// for launch, argument for argument (decode steps do: positions are read
  /// from device memory), runs as one graph, built the first time it
  /// repeats. Buffers freed before the flush are reused only after it.
  bool graphs = false;
  std::vector<Recorded> step, last;
  void *graph = nullptr;
  std::vector<void *> pendingFree;

  static Gpu &get() {
    static Gpu gpu;
    if (!gpu.cuda) {
      std::string error;
      gpu.cuda = CudaDriver::open(error);
      if (!gpu.cuda)
        die(error);
      gpu.graphs = gpu.cuda->hasGraphs() && graphsWanted;
    }
    return gpu;
  }

  void *alloc(size_t bytes) {
    bytes = bytes ? bytes : 1;
    used.insert(bytes);
    auto reuse = freeBuffers.find(bytes);
    if (reuse != freeBuffers.end() && !reuse->second.empty()) {
      void *p = *reuse->second.begin();
      reuse->second.erase(reuse->second.begin());
      return p;
    }
    std::string error;
    uint64_t p = cuda->alloc(bytes, error);
    if (!p)
      die("allocating " + std::to_string(bytes) + " bytes on " +
          cuda->deviceName() + ": " + error);
    char *pointer = reinterpret_cast<char *>(p);
    sizes[pointer] = bytes;
    return pointer;
  }
  void free(void *p) {
    if (!p)
      return;
    if (!step.empty())
      pendingFree.push_back(p);
    else
      freeBuffers[sizes[static_cast<char *>(p)]].insert(p);
  }
  /// Whether p is in device memory.
  bool onDevice(const void *p) const {
    auto at =
        sizes.upper_bound(const_cast<char *>(static_cast<const char *>(p)));
    if (at == sizes.begin())
      return false;
    --at;
    return static_cast<const char *>(p) < at->first + at->second;
  }
  void copy(void *to, const void *from, size_t bytes) {
    // Copies to the host wait for the step's kernels, and end the step.
    bool toHost = onDevice(from) && !onDevice(to);
    if (toHost)
      flush();
    std::string error;
    if (bytes && !cuda->copy(to, from, bytes, error))
      die(error);
    if (toHost)
      trim();
  }

  void launchNow(Recorded &l) {
    std::string error;
    std::vector<void *> args = l.args();
    if (!cuda->launch(l.kernel, l.gridX, l.gridY, l.blockX, args.data(), error,
                      /*wait=*/false))
      die("launching " + names[l.kernel] + " on " + cuda->deviceName() + ": " +
          error);
  }

  void flush() {
    if (step.empty())
      return;
    std::string error;
    if (step == last) {
      if (!graph) {
        std::vector<std::vector<void *>> args;
        std::vector<CudaDriver::Launch> nodes;
        for (Recorded &l : step) {
          args.push_back(l.args());
          nodes.push_back(
              {l.kernel, l.gridX, l.gridY, l.blockX, args.back().data()});
        }
        graph = cuda->buildGraph(nodes, error);
        if (!graph)
          die("building a CUDA graph of " + std::to_string(step.size()) +
              " kernels on " + cuda->deviceName() + ": " + error);
      }
      if (!cuda->launchGraph(graph, error))
        die("launching a CUDA graph on " + cuda->deviceName() + ": " + error);
    } else {
      cuda->destroyGraph(graph);
      graph = nullptr;
      for (Recorded &l : step)
        launchNow(l);
    }
    last = std::move(step);
    step.clear();
    for (void *p : pendingFree)
      freeBuffers[sizes[static_cast<char *>(p)]].insert(p);
    pendingFree.clear();
  }

  /// Returns pooled buffers of sizes this step did not use to the driver.
  void trim() {
    for (auto it = freeBuffers.begin(); it != freeBuffers.end();) {
      if (used.count(it->first)) {
        ++it;
        continue;
      }
      for (void *p : it->second) {
        cuda->free(reinterpret_cast<uint64_t>(p));
        sizes.erase(static_cast<char *>(p));
      }
      it = freeBuffers.erase(it);
    }
    used.clear();
  }

  /// Parameter sizes of `kernel`, from the table ternc embeds.
  const std::vector<size_t> &parameterSizes(void *kernel) {
    if (paramSizes.empty() && tern_gpu_params) {
      std::istringstream lines(tern_gpu_params);
      std::string line;
      while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string name;
        fields >> name;
        std::vector<size_t> &list = paramSizes[name];
        size_t size;
        while (fields >> size)
          list.push_back(size);
      }
    }
    auto found = paramSizes.find(names[kernel]);
    if (found == paramSizes.end())
      die("the executable lists no parameters for GPU kernel " + names[kernel]);
    return found->second;
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

// The executable's --no-gpu-graphs (lib/Runtime/Main.cpp), before the first
// launch.
void tern_gpu_use_graphs(int on) { graphsWanted = on != 0; }

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
  (void)sharedBytes, (void)stream, (void)extra;
  // Tern's kernels use 2-D grids of 1-D blocks (KernelEmitter's launches).
  if (gridZ != 1 || blockY != 1 || blockZ != 1)
    die("a GPU kernel launch with a 3-D grid or block, which Tern never "
        "emits");
  Gpu &g = Gpu::get();
  Recorded l{kernel, unsigned(gridX), unsigned(gridY), unsigned(blockX), {},
             {}};
  if (!g.graphs) {
    std::string error;
    if (!g.cuda->launch(kernel, l.gridX, l.gridY, l.blockX, params, error,
                        /*wait=*/false))
      die("launching " + g.names[kernel] + " on " + g.cuda->deviceName() +
          ": " + error);
    return;
  }
  const std::vector<size_t> &sizes = g.parameterSizes(kernel);
  if (sizes.size() != paramCount)
    die("GPU kernel " + g.names[kernel] + " takes " +
        std::to_string(sizes.size()) + " parameters; the launch passes " +
        std::to_string(paramCount));
  for (size_t i = 0; i < paramCount; ++i) {
    l.offsets.push_back(l.bytes.size());
    const char *value = static_cast<const char *>(params[i]);
    l.bytes.insert(l.bytes.end(), value, value + sizes[i]);
  }
  g.step.push_back(std::move(l));
}

void *mgpuMemAlloc(uint64_t bytes, void *, bool) {
  return Gpu::get().alloc(bytes);
}
void mgpuMemFree(void *pointer, void *) { Gpu::get().free(pointer); }
void mgpuMemcpy(void *to, void *from, size_t bytes, void *) {
  Gpu::get().copy(to, from, bytes);
}

} // extern "C"
