/* A stand-in libcuda.so.1 that reports one GPU ("Fake GPU", compute
 * capability 9.0) and checks what an NVIDIA executable's host code asks of
 * the driver, without running any kernel (test/Driver/gpu-host.test):
 *   - device memory is host memory; every copy must fall inside one
 *     allocation (the device side) and is logged with its direction and
 *     size;
 *   - the loaded image must be PTX text, and every kernel asked for must be
 *     one of its .entry functions;
 *   - every launch is logged with its kernel, grid and block, and each of
 *     the kernel's parameters (counted in the PTX) is read through the
 *     pointer the launch passes;
 *   - CUDA graphs: nodes are checked as launches are, when added, and a
 *     graph launch is logged with its number of kernels.
 * The log goes to $FAKE_CUDA_LOG; a failed check prints a line on stderr
 * and exits with status 3. $FAKE_CUDA_FAIL names one entry point (cuMemAlloc,
 * cuModuleLoadData, cuLaunchKernel) that fails as the driver would, for the
 * runtime's error messages. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *logFile(void) {
  static FILE *f;
  if (!f) {
    const char *path = getenv("FAKE_CUDA_LOG");
    f = path ? fopen(path, "w") : stderr;
  }
  return f;
}

static void fail(const char *what) {
  fprintf(stderr, "fake libcuda: %s\n", what);
  exit(3);
}

#define MAX_ALLOCS 4096
static struct {
  char *base;
  size_t size;
} allocs[MAX_ALLOCS];
static int nallocs;

/* The allocation holding [p, p + n), or -1. */
static int findAlloc(uint64_t p, size_t n) {
  for (int i = 0; i < nallocs; ++i) {
    uint64_t base = (uint64_t)(uintptr_t)allocs[i].base;
    if (p >= base && p + n <= base + allocs[i].size)
      return i;
  }
  return -1;
}

int cuInit(unsigned flags) {
  (void)flags;
  return 0;
}
int cuGetErrorName(int error, const char **text) {
  *text = error == 2     ? "CUDA_ERROR_OUT_OF_MEMORY"
          : error == 218 ? "CUDA_ERROR_INVALID_PTX"
          : error == 701 ? "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"
                         : "CUDA_ERROR_UNKNOWN";
  return 0;
}

/* The error `call` returns under $FAKE_CUDA_FAIL, else 0. */
static int injected(const char *call, int error) {
  const char *which = getenv("FAKE_CUDA_FAIL");
  return which && strcmp(which, call) == 0 ? error : 0;
}
int cuDeviceGetCount(int *count) {
  *count = 1;
  return 0;
}
int cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return 0;
}
int cuDeviceGetName(char *name, int len, int device) {
  (void)device;
  snprintf(name, (size_t)len, "Fake GPU");
  return 0;
}
int cuDeviceGetAttribute(int *value, int attribute, int device) {
  (void)device;
  *value = attribute == 75 ? 9 : 0; /* compute capability 9.0 */
  return 0;
}
int cuDevicePrimaryCtxRetain(void **context, int device) {
  (void)device;
  static int ctx;
  *context = &ctx;
  return 0;
}
int cuDevicePrimaryCtxRelease_v2(int device) {
  (void)device;
  return 0;
}
int cuCtxSetCurrent(void *context) {
  (void)context;
  return 0;
}
int cuCtxSynchronize(void) { return 0; }

static const char *image;
int cuModuleLoadData(void **module, const void *data) {
  if (injected("cuModuleLoadData", 218))
    return 218;
  image = data;
  if (!strstr(image, ".version") || !strstr(image, ".entry"))
    fail("cuModuleLoadData: the image is not PTX");
  fprintf(logFile(), "load PTX\n");
  *module = &image;
  return 0;
}
int cuModuleUnload(void *module) {
  (void)module;
  return 0;
}

typedef struct {
  char name[256];
  int params;
} Kernel;
static Kernel kernels[256];
static int nkernels;

int cuModuleGetFunction(void **function, void *module, const char *name) {
  (void)module;
  char entry[300];
  snprintf(entry, sizeof entry, ".entry %s(", name);
  const char *at = strstr(image, entry);
  if (!at)
    fail("cuModuleGetFunction: no such kernel in the PTX");
  if (nkernels == 256)
    fail("too many kernels");
  Kernel *k = &kernels[nkernels++];
  snprintf(k->name, sizeof k->name, "%s", name);
  const char *end = strchr(at, ')');
  for (const char *p = at; p && p < end; p = strstr(p + 1, ".param"))
    if (p != at)
      ++k->params;
  *function = k;
  return 0;
}

int cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                   unsigned bx, unsigned by, unsigned bz, unsigned shared,
                   void *stream, void **params, void **extra) {
  (void)shared, (void)stream, (void)extra;
  if (injected("cuLaunchKernel", 701))
    return 701;
  Kernel *k = function;
  uint64_t sum = 0;
  for (int i = 0; i < k->params; ++i) /* each parameter's value is readable */
    sum += *(volatile uint8_t *)params[i];
  (void)sum;
  fprintf(logFile(), "launch %s grid %u %u %u block %u %u %u params %d\n",
          k->name, gx, gy, gz, bx, by, bz, k->params);
  return 0;
}

typedef struct {
  void *func;
  unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void **kernelParams;
  void **extra;
} KernelNodeParams;

typedef struct {
  int nodes;
  int chained; /* every node after the one before */
} Graph;

int cuGraphCreate(void **graph, unsigned flags) {
  (void)flags;
  *graph = calloc(1, sizeof(Graph));
  return 0;
}
int cuGraphAddKernelNode(void **node, void *graph, void *const *deps,
                         size_t ndeps, const KernelNodeParams *p) {
  Graph *g = graph;
  Kernel *k = p->func;
  uint64_t sum = 0;
  for (int i = 0; i < k->params; ++i)
    sum += *(volatile uint8_t *)p->kernelParams[i];
  (void)sum;
  if ((g->nodes == 0) != (ndeps == 0) ||
      (ndeps && *deps != (void *)(intptr_t)g->nodes))
    fail("cuGraphAddKernelNode: nodes are not chained in order");
  *node = (void *)(intptr_t)++g->nodes;
  return 0;
}
int cuGraphInstantiateWithFlags(void **exec, void *graph,
                                unsigned long long flags) {
  (void)flags;
  Graph *copy = malloc(sizeof(Graph));
  *copy = *(Graph *)graph;
  *exec = copy;
  return 0;
}
int cuGraphLaunch(void *exec, void *stream) {
  (void)stream;
  fprintf(logFile(), "launch graph of %d kernels\n", ((Graph *)exec)->nodes);
  return 0;
}
int cuGraphExecDestroy(void *exec) {
  free(exec);
  return 0;
}
int cuGraphDestroy(void *graph) {
  free(graph);
  return 0;
}

int cuMemAlloc_v2(uint64_t *pointer, size_t bytes) {
  if (injected("cuMemAlloc", 2))
    return 2;
  if (nallocs == MAX_ALLOCS)
    fail("too many allocations");
  allocs[nallocs].base = calloc(1, bytes);
  allocs[nallocs].size = bytes;
  *pointer = (uint64_t)(uintptr_t)allocs[nallocs++].base;
  return 0;
}
int cuMemFree_v2(uint64_t pointer) {
  int i = findAlloc(pointer, 1);
  if (i < 0 || (uint64_t)(uintptr_t)allocs[i].base != pointer)
    fail("cuMemFree: not the start of an allocation");
  fprintf(logFile(), "free %zu bytes\n", allocs[i].size);
  free(allocs[i].base);
  allocs[i].base = NULL;
  allocs[i].size = 0;
  return 0;
}
int cuMemcpyHtoD_v2(uint64_t to, const void *from, size_t bytes) {
  if (findAlloc(to, bytes) < 0)
    fail("cuMemcpyHtoD: not device memory");
  memcpy((void *)(uintptr_t)to, from, bytes);
  return 0;
}
int cuMemcpyDtoH_v2(void *to, uint64_t from, size_t bytes) {
  if (findAlloc(from, bytes) < 0)
    fail("cuMemcpyDtoH: not device memory");
  memcpy(to, (const void *)(uintptr_t)from, bytes);
  return 0;
}
int cuMemcpy(uint64_t to, uint64_t from, size_t bytes) {
  int up = findAlloc(to, bytes) >= 0, down = findAlloc(from, bytes) >= 0;
  if (!up && !down)
    fail("cuMemcpy: neither side is device memory");
  memcpy((void *)(uintptr_t)to, (const void *)(uintptr_t)from, bytes);
  fprintf(logFile(), "copy %s %zu bytes\n",
          up && down ? "device"
          : up       ? "up"
                     : "down",
          bytes);
  return 0;
}
