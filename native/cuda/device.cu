// Device discovery through the CUDA runtime (linked statically, so a machine without CUDA
// loads the addon and simply reports 0 devices).
#include <cuda_runtime.h>

#include <string>

namespace speedlimits::cuda::detail {

int device_count_impl() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string device_name_impl(int index) {
  cudaDeviceProp prop;
  if (index < 0 || cudaGetDeviceProperties(&prop, index) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return std::string(prop.name);
}

}  // namespace speedlimits::cuda::detail
