// Shared helpers of the CUDA equivalence tests (test_cuda_*.cpp): they call the CUDA host API
// (core/cuda_backend.hpp) and the CPU core on the same inputs. Without a device (or without a
// CUDA build) every such case skips with the reason.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check.hpp"
#include "core/cuda_backend.hpp"
#include "core/cuda_info.hpp"
#include "core/rng.hpp"

namespace cudatest {

inline void need_device() {
  if (!speedlimits::cuda::compiled())
    SKIP("no CUDA in this build (SPEEDLIMITS_WITH_CUDA undefined: nvcc not found or SPEEDLIMITS_CUDA=OFF)");
  if (speedlimits::cuda::device_count() == 0) SKIP("CUDA build, but no CUDA device is visible (no GPU or no driver)");
}

// n×d normal draws, scaled and shifted (a cloud away from the origin exercises the centring).
inline std::vector<double> cloud(std::uint64_t seed, std::size_t n, std::size_t d, double scale, double shift) {
  std::vector<double> v(n * d);
  speedlimits::rng::normal(seed, 1, 0, v.size(), v.data());
  for (auto& x : v) x = shift + scale * x;
  return v;
}

template <typename T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// max |a − b| / max(max |b|, floor): the error relative to the result's scale.
template <typename A, typename B>
double rel_max_diff(const std::vector<A>& a, const std::vector<B>& b, double floor = 1e-300) {
  double diff = 0, scale = floor;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    if (std::isnan(x) || std::isnan(y)) return HUGE_VAL;
    diff = std::max(diff, std::fabs(x - y));
    scale = std::max(scale, std::fabs(y));
  }
  return diff / scale;
}

}  // namespace cudatest
