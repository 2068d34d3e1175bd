// Vectorisable elementary functions for the hot loops of the core. Only IEEE basic operations,
// fma and bit manipulation (no libm calls, no int64 <-> double conversions), so GCC/Clang
// vectorise loops that call them, and the results are the same on every machine.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace speedlimits::vmath {

#if defined(__GNUC__) || defined(__clang__)
#define SL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SL_ALWAYS_INLINE inline
#endif

// e^x, within 2 ulp on [−707.7, 709.78]; 0 below (including −inf; e^−707.7 ≈ 1e−307),
// +inf above, NaN for NaN.
// x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its Taylor series to r^13
// (truncation < 5e-18), scaled by 2^n built directly in the exponent bits.
SL_ALWAYS_INLINE double exp(double x) noexcept {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kShift = 6755399441055744.0;  // 1.5·2^52: adding it rounds to an integer
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kMin = -707.7032713517042, kMax = 709.782712893384;  // −1021·ln2, ln(DBL_MAX)
  const double xc = x < kMin ? kMin : (x > kMax ? kMax : x);
  const double t = std::fma(xc, kLog2e, kShift);
  const double nd = t - kShift;
  double r = std::fma(nd, -kLn2Hi, xc);
  r = std::fma(nd, -kLn2Lo, r);
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = std::fma(p, r, 1.0 / 479001600.0);
  p = std::fma(p, r, 1.0 / 39916800.0);
  p = std::fma(p, r, 1.0 / 3628800.0);
  p = std::fma(p, r, 1.0 / 362880.0);
  p = std::fma(p, r, 1.0 / 40320.0);
  p = std::fma(p, r, 1.0 / 5040.0);
  p = std::fma(p, r, 1.0 / 720.0);
  p = std::fma(p, r, 1.0 / 120.0);
  p = std::fma(p, r, 1.0 / 24.0);
  p = std::fma(p, r, 1.0 / 6.0);
  p = std::fma(p, r, 0.5);
  p = std::fma(p, r, 1.0);
  p = std::fma(p, r, 1.0);
  std::uint64_t tb, sb;
  std::memcpy(&tb, &t, sizeof tb);
  const double shift = kShift;
  std::uint64_t kb;
  std::memcpy(&kb, &shift, sizeof kb);
  sb = (tb - kb + 1022u) << 52;  // 2^(n−1), valid for n in [−1021, 1024]
  double scale;
  std::memcpy(&scale, &sb, sizeof scale);
  double y = (p * scale) * 2.0;
  y = x < kMin ? 0.0 : y;
  y = x > kMax ? HUGE_VAL : y;
  return x != x ? x : y;
}

}  // namespace speedlimits::vmath
