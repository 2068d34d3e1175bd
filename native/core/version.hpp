#pragma once

namespace speedlimits {
// Package version baked in at build time (from package.json).
const char* version() noexcept;
}  // namespace speedlimits
