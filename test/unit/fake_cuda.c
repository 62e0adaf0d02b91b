/* A stand-in libcuda.so.1 for CudaTest: the driver API's entry points, with
 * cuInit answering CUDA_ERROR_NO_DEVICE (100), as the real driver does on a
 * machine without a GPU. */
#include <stddef.h>
#include <stdint.h>

#define STUB(name)                                                             \
  int name() { return 0; }
int cuInit(unsigned flags) {
  (void)flags;
  return 100;
}
int cuGetErrorName(int error, const char **text) {
  *text = error == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN";
  return 0;
}
STUB(cuDeviceGetCount)
STUB(cuDeviceGet)
STUB(cuDeviceGetName)
STUB(cuDeviceGetAttribute)
STUB(cuDevicePrimaryCtxRetain)
STUB(cuDevicePrimaryCtxRelease_v2)
STUB(cuCtxSetCurrent)
STUB(cuCtxSynchronize)
STUB(cuModuleLoadData)
STUB(cuModuleUnload)
STUB(cuModuleGetFunction)
STUB(cuLaunchKernel)
STUB(cuMemAlloc_v2)
STUB(cuMemFree_v2)
STUB(cuMemcpyHtoD_v2)
STUB(cuMemcpyDtoH_v2)
STUB(cuMemcpy)
