//===- Cuda.cpp - The CUDA driver API, opened at run time -----------------===//
//
// The few driver entry points Tern needs, declared here by their documented
// C signatures (handles are opaque pointers, device pointers 64-bit
// integers) and resolved with dlsym: no CUDA header or library at build
// time.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Cuda.h"

#include <dlfcn.h>

using namespace tern::rt;

namespace {
// CUresult values the messages name (cuda.h).
constexpr int kSuccess = 0, kNoDevice = 100;
constexpr int kComputeMajor = 75, kComputeMinor = 76;
} // namespace

struct CudaDriver::Api {
  int (*init)(unsigned);
  int (*deviceGetCount)(int *);
  int (*deviceGet)(int *, int);
  int (*deviceGetName)(char *, int, int);
  int (*deviceGetAttribute)(int *, int, int);
  int (*primaryCtxRetain)(void **, int);
  int (*primaryCtxRelease)(int);
  int (*ctxSetCurrent)(void *);
  int (*ctxSynchronize)();
  int (*moduleLoadData)(void **, const void *);
  int (*moduleUnload)(void *);
  int (*moduleGetFunction)(void **, void *, const char *);
  int (*launchKernel)(void *, unsigned, unsigned, unsigned, unsigned, unsigned,
                      unsigned, unsigned, void *, void **, void **);
  int (*memAlloc)(uint64_t *, size_t);
  int (*memFree)(uint64_t);
  int (*memcpyHtoD)(uint64_t, const void *, size_t);
  int (*memcpyDtoH)(void *, uint64_t, size_t);
  int (*memcpy)(uint64_t, uint64_t, size_t);
  int (*getErrorName)(int, const char **);
  // Optional: CUDA graphs.
  int (*graphCreate)(void **, unsigned);
  int (*graphAddKernelNode)(void **, void *, void *const *, size_t,
                            const void *);
  int (*graphInstantiate)(void **, void *, unsigned long long);
  int (*graphLaunch)(void *, void *);
  int (*graphExecDestroy)(void *);
  int (*graphDestroy)(void *);
};

namespace {
/// cuda.h's CUDA_KERNEL_NODE_PARAMS_v2 (CUDA 12), whose first fields are
/// the first version's: cuGraphAddKernelNode_v2 reads it whole, the
/// unversioned cuGraphAddKernelNode of older drivers up to `extra`.
struct KernelNodeParams {
  void *func;
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void **kernelParams;
  void **extra;
  void *kern; ///< null: func is the kernel
  void *ctx;  ///< null: the current context
};
} // namespace

CudaDriver::~CudaDriver() {
  if (api && module)
    api->moduleUnload(module);
  if (api && context)
    api->primaryCtxRelease(device);
  if (handle)
    dlclose(handle);
}

bool CudaDriver::check(int result, const char *call, std::string &error) const {
  if (result == kSuccess)
    return true;
  const char *text = nullptr;
  if (api && api->getErrorName)
    api->getErrorName(result, &text);
  error = std::string(call) + " failed: CUDA error " + std::to_string(result) +
          (text ? std::string(" (") + text + ")" : "");
  return false;
}

std::unique_ptr<CudaDriver> CudaDriver::open(std::string &error,
                                             const char *library) {
  std::unique_ptr<CudaDriver> d(new CudaDriver());
  d->handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!d->handle) {
    error = std::string("no CUDA driver: ") + library +
            " is not installed (install the NVIDIA driver; no CUDA toolkit "
            "is needed)";
    return nullptr;
  }
  d->api = std::make_unique<Api>();
  Api &a = *d->api;
  const char *missing = nullptr;
  auto get = [&](auto &fn, const char *symbol) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        dlsym(d->handle, symbol));
    if (!fn && !missing)
      missing = symbol;
  };
  get(a.init, "cuInit");
  get(a.deviceGetCount, "cuDeviceGetCount");
  get(a.deviceGet, "cuDeviceGet");
  get(a.deviceGetName, "cuDeviceGetName");
  get(a.deviceGetAttribute, "cuDeviceGetAttribute");
  get(a.primaryCtxRetain, "cuDevicePrimaryCtxRetain");
  get(a.primaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  get(a.ctxSetCurrent, "cuCtxSetCurrent");
  get(a.ctxSynchronize, "cuCtxSynchronize");
  get(a.moduleLoadData, "cuModuleLoadData");
  get(a.moduleUnload, "cuModuleUnload");
  get(a.moduleGetFunction, "cuModuleGetFunction");
  get(a.launchKernel, "cuLaunchKernel");
  get(a.memAlloc, "cuMemAlloc_v2");
  get(a.memFree, "cuMemFree_v2");
  get(a.memcpyHtoD, "cuMemcpyHtoD_v2");
  get(a.memcpyDtoH, "cuMemcpyDtoH_v2");
  get(a.memcpy, "cuMemcpy");
  get(a.getErrorName, "cuGetErrorName");
  if (missing) {
    error = std::string("no usable CUDA driver: ") + library + " lacks " +
            missing + " (the NVIDIA driver is too old)";
    return nullptr;
  }
  // Graphs are an optimization: without them every kernel is launched
  // on its own.
  get(a.graphCreate, "cuGraphCreate");
  // The _v2 entry point where the driver has it (CUDA 12), whose
  // parameters' layout is certain; the unversioned one before.
  get(a.graphAddKernelNode, "cuGraphAddKernelNode_v2");
  if (!a.graphAddKernelNode)
    get(a.graphAddKernelNode, "cuGraphAddKernelNode");
  get(a.graphInstantiate, "cuGraphInstantiateWithFlags");
  get(a.graphLaunch, "cuGraphLaunch");
  get(a.graphExecDestroy, "cuGraphExecDestroy");
  get(a.graphDestroy, "cuGraphDestroy");
  int result = a.init(0);
  int count = 0;
  if (result == kNoDevice ||
      (result == kSuccess && a.deviceGetCount(&count) == kSuccess &&
       count == 0)) {
    error = "no CUDA device: the NVIDIA driver is installed but finds no GPU";
    return nullptr;
  }
  int major = 0, minor = 0;
  char name[256] = {0};
  if (!d->check(result, "cuInit", error) ||
      !d->check(a.deviceGet(&d->device, 0), "cuDeviceGet", error) ||
      !d->check(a.deviceGetName(name, sizeof name - 1, d->device),
                "cuDeviceGetName", error) ||
      !d->check(a.deviceGetAttribute(&major, kComputeMajor, d->device),
                "cuDeviceGetAttribute", error) ||
      !d->check(a.deviceGetAttribute(&minor, kComputeMinor, d->device),
                "cuDeviceGetAttribute", error) ||
      !d->check(a.primaryCtxRetain(&d->context, d->device),
                "cuDevicePrimaryCtxRetain", error) ||
      !d->check(a.ctxSetCurrent(d->context), "cuCtxSetCurrent", error))
    return nullptr;
  d->name = name;
  d->capability = 10 * major + minor;
  return d;
}

bool CudaDriver::loadModule(const void *image, std::string &error) {
  return check(api->moduleLoadData(&module, image), "cuModuleLoadData", error);
}

void *CudaDriver::kernel(const char *name, std::string &error) {
  void *fn = nullptr;
  if (!check(api->moduleGetFunction(&fn, module, name), "cuModuleGetFunction",
             error))
    return nullptr;
  return fn;
}

bool CudaDriver::launch(void *kernel, unsigned gridX, unsigned gridY,
                        unsigned blockX, void **args, std::string &error,
                        bool wait) {
  return check(api->launchKernel(kernel, gridX, gridY, 1, blockX, 1, 1, 0,
                                 nullptr, args, nullptr),
               "cuLaunchKernel", error) &&
         (!wait || check(api->ctxSynchronize(), "cuCtxSynchronize", error));
}

uint64_t CudaDriver::alloc(size_t bytes, std::string &error) {
  uint64_t pointer = 0;
  if (!check(api->memAlloc(&pointer, bytes), "cuMemAlloc", error))
    return 0;
  return pointer;
}

bool CudaDriver::copyToDevice(uint64_t to, const void *from, size_t bytes,
                              std::string &error) {
  return check(api->memcpyHtoD(to, from, bytes), "cuMemcpyHtoD", error);
}

bool CudaDriver::copyToHost(void *to, uint64_t from, size_t bytes,
                            std::string &error) {
  return check(api->memcpyDtoH(to, from, bytes), "cuMemcpyDtoH", error);
}

bool CudaDriver::copy(void *to, const void *from, size_t bytes,
                      std::string &error) {
  return check(api->memcpy(reinterpret_cast<uint64_t>(to),
                           reinterpret_cast<uint64_t>(from), bytes),
               "cuMemcpy", error);
}

void CudaDriver::free(uint64_t pointer) {
  if (pointer)
    api->memFree(pointer);
}

bool CudaDriver::hasGraphs() const {
  return api->graphCreate && api->graphAddKernelNode && api->graphInstantiate &&
         api->graphLaunch && api->graphExecDestroy && api->graphDestroy;
}

void *CudaDriver::buildGraph(const std::vector<Launch> &launches,
                             std::string &error) {
  void *graph = nullptr, *exec = nullptr, *previous = nullptr;
  if (!check(api->graphCreate(&graph, 0), "cuGraphCreate", error))
    return nullptr;
  bool ok = true;
  for (const Launch &l : launches) {
    KernelNodeParams params = {l.kernel, l.gridX, l.gridY, 1,      l.blockX,
                               1,        1,       0,       l.args, nullptr};
    void *node = nullptr;
    ok = check(api->graphAddKernelNode(&node, graph,
                                       previous ? &previous : nullptr,
                                       previous ? 1 : 0, &params),
               "cuGraphAddKernelNode", error);
    if (!ok)
      break;
    previous = node;
  }
  ok = ok && check(api->graphInstantiate(&exec, graph, 0),
                   "cuGraphInstantiateWithFlags", error);
  api->graphDestroy(graph);
  return ok ? exec : nullptr;
}

bool CudaDriver::launchGraph(void *graph, std::string &error) {
  return check(api->graphLaunch(graph, nullptr), "cuGraphLaunch", error);
}

void CudaDriver::destroyGraph(void *graph) {
  if (graph)
    api->graphExecDestroy(graph);
}
