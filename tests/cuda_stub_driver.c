/* A stand-in libcuda.so.1 for machines without a GPU: every driver entry point the CUDA
 * backend looks up exists; cuInit fails as the real driver does when it finds no device
 * (CUDA_ERROR_NO_DEVICE, 100), and cuGetErrorString gives the driver's message. The test
 * checks that the artifact passes that message through. */
#include <stddef.h>

#define NO_DEVICE 100
#define NOT_INITIALIZED 3

int cuInit(unsigned flags) { (void)flags; return NO_DEVICE; }
int cuGetErrorString(int error, const char** text) {
  *text = error == NO_DEVICE ? "no CUDA-capable device is detected" : "initialization error";
  return 0;
}
#define STUB(name) int name(void) { return NOT_INITIALIZED; }
STUB(cuDeviceGet)
STUB(cuDevicePrimaryCtxRetain)
STUB(cuCtxSetCurrent)
STUB(cuModuleLoadData)
STUB(cuModuleGetFunction)
STUB(cuMemAlloc_v2)
STUB(cuMemFree_v2)
STUB(cuMemcpyHtoDAsync_v2)
STUB(cuMemcpyDtoHAsync_v2)
STUB(cuLaunchKernel)
STUB(cuStreamSynchronize)
STUB(cuModuleUnload)
STUB(cuDevicePrimaryCtxRelease_v2)
STUB(cuModuleGetGlobal_v2)
STUB(cuMemcpyHtoD_v2)
