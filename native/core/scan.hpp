// Whole-array scans used to validate large inputs before the heavy work starts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace speedlimits::scan {

// Index of the first NaN or ±Inf in x[0..n), or −1 when every entry is finite. Reads the
// exponent bits (no floating-point compare, so it vectorises without fast-math) block by block,
// blocks split over the core's threads for large n; only a block that holds a non-finite value
// is searched element by element. Memory-bound: one read of the array.
std::int64_t first_non_finite(const double* x, std::size_t n) noexcept;
std::int64_t first_non_finite(const float* x, std::size_t n) noexcept;

}  // namespace speedlimits::scan
