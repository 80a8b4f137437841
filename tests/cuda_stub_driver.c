/* A stand-in libcuda.so.1 for machines without a GPU: every driver entry point the CUDA
 * backend looks up exists. By default cuInit fails as the real driver does when it finds
 * no device (CUDA_ERROR_NO_DEVICE, 100). Built with -DSTUB_REACHES_MODULE_LOAD, the driver
 * "finds" a device and the PTX load fails as on a GPU too old for it
 * (CUDA_ERROR_NO_BINARY_FOR_GPU, 209). cuGetErrorString gives the driver's messages; the
 * tests check that the artifact passes them through. */
#include <stddef.h>
#include <stdint.h>

#define SUCCESS 0
#define NOT_INITIALIZED 3
#define NO_DEVICE 100
#define NO_BINARY_FOR_GPU 209

int cuGetErrorString(int error, const char** text) {
  switch (error) {
    case NO_DEVICE: *text = "no CUDA-capable device is detected"; return SUCCESS;
    case NO_BINARY_FOR_GPU: *text = "no kernel image is available for execution on the device"; return SUCCESS;
    default: *text = "initialization error"; return SUCCESS;
  }
}

#ifdef STUB_REACHES_MODULE_LOAD
int cuInit(unsigned flags) { (void)flags; return SUCCESS; }
int cuDeviceGet(int* device, int ordinal) { *device = ordinal; return SUCCESS; }
int cuDevicePrimaryCtxRetain(void** context, int device) {
  (void)device;
  *context = (void*)0x1;
  return SUCCESS;
}
int cuCtxSetCurrent(void* context) { (void)context; return SUCCESS; }
int cuModuleLoadData(void** module, const void* image) {
  (void)module;
  return image == NULL ? NOT_INITIALIZED : NO_BINARY_FOR_GPU;
}
#else
int cuInit(unsigned flags) { (void)flags; return NO_DEVICE; }
#define STUB(name) int name(void) { return NOT_INITIALIZED; }
STUB(cuDeviceGet)
STUB(cuDevicePrimaryCtxRetain)
STUB(cuCtxSetCurrent)
STUB(cuModuleLoadData)
#undef STUB
#endif

#define STUB(name) int name(void) { return NOT_INITIALIZED; }
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
