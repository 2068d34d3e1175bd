#include "core/scan.hpp"

#include <cstring>

#include "core/threads.hpp"

namespace speedlimits::scan {

namespace {

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kParallelMin = std::size_t(1) << 20;  // below this one thread is faster

// Bits of the exponent field and the value that marks NaN/Inf (all ones).
template <typename T> struct Bits;
template <> struct Bits<double> {
  using U = std::uint64_t;
  static constexpr U kExp = 0x7ff0000000000000ull;
};
template <> struct Bits<float> {
  using U = std::uint32_t;
  static constexpr U kExp = 0x7f800000u;
};

// True when x[0..n) holds a non-finite value: an OR over the blocks, vectorisable.
template <typename T>
bool any_non_finite(const T* x, std::size_t n) noexcept {
  using U = typename Bits<T>::U;
  U bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    U b;
    std::memcpy(&b, x + i, sizeof b);
    bad |= static_cast<U>((b & Bits<T>::kExp) == Bits<T>::kExp);
  }
  return bad != 0;
}

template <typename T>
std::int64_t first_in_block(const T* x, std::size_t begin, std::size_t end) noexcept {
  for (std::size_t i = begin; i < end; ++i) {
    typename Bits<T>::U b;
    std::memcpy(&b, x + i, sizeof b);
    if ((b & Bits<T>::kExp) == Bits<T>::kExp) return static_cast<std::int64_t>(i);
  }
  return -1;
}

template <typename T>
std::int64_t first(const T* x, std::size_t n) noexcept {
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  std::int64_t found = -1;
  // The first bad block wins; each thread scans its blocks in order and stops at its first.
#if defined(_OPENMP)
  const int threads = n >= kParallelMin ? get_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
    std::int64_t mine = -1;
#pragma omp for schedule(static) nowait
    for (std::int64_t b = 0; b < static_cast<std::int64_t>(blocks); ++b) {
      if (mine >= 0) continue;
      const std::size_t lo = std::size_t(b) * kBlock, hi = lo + kBlock < n ? lo + kBlock : n;
      if (any_non_finite(x + lo, hi - lo)) mine = first_in_block(x, lo, hi);
    }
#pragma omp critical(speedlimits_scan)
    if (mine >= 0 && (found < 0 || mine < found)) found = mine;
  }
#else
  for (std::size_t b = 0; b < blocks && found < 0; ++b) {
    const std::size_t lo = b * kBlock, hi = lo + kBlock < n ? lo + kBlock : n;
    if (any_non_finite(x + lo, hi - lo)) found = first_in_block(x, lo, hi);
  }
#endif
  return found;
}

}  // namespace

std::int64_t first_non_finite(const double* x, std::size_t n) noexcept { return first(x, n); }
std::int64_t first_non_finite(const float* x, std::size_t n) noexcept { return first(x, n); }

}  // namespace speedlimits::scan
