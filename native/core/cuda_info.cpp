#include "core/cuda_info.hpp"

#if defined(SPEEDLIMITS_WITH_CUDA)
// Implemented in native/cuda/device.cu (compiled by nvcc).
namespace speedlimits::cuda::detail {
int device_count_impl() noexcept;
std::string device_name_impl(int index);
}  // namespace speedlimits::cuda::detail
#endif

namespace speedlimits::cuda {

bool compiled() noexcept {
#if defined(SPEEDLIMITS_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

int device_count() noexcept {
#if defined(SPEEDLIMITS_WITH_CUDA)
  return detail::device_count_impl();
#else
  return 0;
#endif
}

std::string device_name(int index) {
#if defined(SPEEDLIMITS_WITH_CUDA)
  return detail::device_name_impl(index);
#else
  (void)index;
  return "";
#endif
}

}  // namespace speedlimits::cuda
