#include "core/version.hpp"

#ifndef SPEEDLIMITS_VERSION
#define SPEEDLIMITS_VERSION "unknown"
#endif

namespace speedlimits {
const char* version() noexcept { return SPEEDLIMITS_VERSION; }
}  // namespace speedlimits
