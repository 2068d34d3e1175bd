// What the CUDA side of the build can do. Without SPEEDLIMITS_WITH_CUDA the answers are
// "not compiled, 0 devices"; with it, the static cudart is asked at run time (0 when no driver).
#pragma once
#include <string>

namespace speedlimits::cuda {

bool compiled() noexcept;
int device_count() noexcept;
// Name of device `index`, or "" when unavailable.
std::string device_name(int index);

}  // namespace speedlimits::cuda
