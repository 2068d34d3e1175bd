// Kernel spectra, label projections, power-law fits (THEORY.md §3). See spectrum.hpp.
#include "core/spectrum.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/errors.hpp"
#include "core/linalg.hpp"

namespace speedlimits::spectral {

SpectrumResult spectrum(const double* K, std::size_t n, const double* y, bool vectors) {
  SpectrumResult r;
  if (n == 0) return r;
  if (K == nullptr) throw InvalidArgument("spectrum: K is null");
  std::vector<double> A(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      const double v = K[i * n + j];
      if (!std::isfinite(v))
        throw InvalidArgument("spectrum: K has a non-finite entry at (" + std::to_string(i) + ", " +
                              std::to_string(j) + ")");
      A[i * n + j] = v;
    }
  double yy = 0;
  if (y != nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(y[i]))
        throw InvalidArgument("spectrum: y has a non-finite entry at index " + std::to_string(i));
      yy += y[i] * y[i];
    }
    if (yy == 0) throw InvalidArgument("spectrum: y is zero, its projections are undefined");
  }
  const bool need_vectors = vectors || y != nullptr;
  std::vector<double> w(n);
  linalg::syevd(n, A.data(), n, w.data(), need_vectors);
  r.values.resize(n);
  for (std::size_t k = 0; k < n; ++k) r.values[k] = w[n - 1 - k];
  if (vectors) {
    r.vectors.resize(n * n);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < n; ++k) r.vectors[i * n + k] = A[i * n + (n - 1 - k)];
  }
  if (y != nullptr) {
    r.projections.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t col = n - 1 - k;
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) s += A[i * n + col] * y[i];
      r.projections[k] = s * s / yy;
    }
  }
  const double maxabs = std::max(std::fabs(r.values.front()), std::fabs(r.values.back()));
  const double tol = static_cast<double>(n) * 1e-15 * maxabs;
  for (double v : r.values)
    if (v < -tol) ++r.negative_count;
  r.most_negative = r.values.back() < 0 ? r.values.back() : 0.0;
  return r;
}

PowerLawFit power_law_fit(const double* values, std::size_t count, std::size_t k1, std::size_t k2) {
  if (k1 < 1 || k1 > k2 || k2 > count)
    throw InvalidArgument("power_law_fit: need 1 <= k1 <= k2 <= count, got k1 = " + std::to_string(k1) +
                          ", k2 = " + std::to_string(k2) + ", count = " + std::to_string(count));
  if (values == nullptr) throw InvalidArgument("power_law_fit: values is null");
  PowerLawFit f;
  f.k1 = k1;
  f.k2 = k2;
  double sx = 0, sy = 0;
  std::size_t m = 0;
  for (std::size_t k = k1; k <= k2; ++k) {
    const double v = values[k - 1];
    if (!(v > 0) || !std::isfinite(v)) continue;
    sx += std::log(static_cast<double>(k));
    sy += std::log(v);
    ++m;
  }
  f.points = m;
  if (m < 2) return f;
  const double mx = sx / static_cast<double>(m), my = sy / static_cast<double>(m);
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t k = k1; k <= k2; ++k) {
    const double v = values[k - 1];
    if (!(v > 0) || !std::isfinite(v)) continue;
    const double X = std::log(static_cast<double>(k)) - mx, Y = std::log(v) - my;
    sxx += X * X;
    sxy += X * Y;
    syy += Y * Y;
  }
  const double slope = sxy / sxx;
  f.exponent = -slope;
  f.prefactor = std::exp(my - slope * mx);
  if (syy == 0) {
    f.r2 = 1.0;
  } else {
    double ssr = 0;
    for (std::size_t k = k1; k <= k2; ++k) {
      const double v = values[k - 1];
      if (!(v > 0) || !std::isfinite(v)) continue;
      const double e = (std::log(v) - my) - slope * (std::log(static_cast<double>(k)) - mx);
      ssr += e * e;
    }
    f.r2 = 1.0 - ssr / syy;
  }
  return f;
}

std::vector<double> residual_power(const double* projections, std::size_t n, double missing) {
  std::vector<double> R(n);
  if (n == 0) return R;
  if (projections == nullptr) throw InvalidArgument("residual_power: projections is null");
  double acc = missing;
  for (std::size_t k = n; k-- > 0;) {
    R[k] = acc;  // R_{k+1} (1-based) = missing + Σ_{i > k+1} p_i
    acc += projections[k];
  }
  return R;
}

FitRange default_fit_range(std::size_t n) noexcept {
  if (n >= 4) return {2, n / 2};
  return {1, std::max<std::size_t>(n, 1)};
}

SpectralExponents fit_alpha_beta(const double* values, const double* projections, std::size_t n, std::size_t k1,
                                 std::size_t k2) {
  if (k1 < 1 || k1 > k2 || k2 > n)
    throw InvalidArgument("fit_alpha_beta: need 1 <= k1 <= k2 <= n, got k1 = " + std::to_string(k1) +
                          ", k2 = " + std::to_string(k2) + ", n = " + std::to_string(n));
  if (values == nullptr || projections == nullptr) throw InvalidArgument("fit_alpha_beta: null input");
  SpectralExponents e;
  e.alpha = power_law_fit(values, n, k1, k2);
  e.beta = power_law_fit(projections, n, k1, k2);
  const std::vector<double> R = residual_power(projections, n);
  e.beta_residual = power_law_fit(R.data(), n, k1, k2);  // R_n = 0 is skipped as non-positive
  e.nu = (1.0 + e.alpha.exponent - e.beta.exponent) / e.alpha.exponent;
  e.scaling_regime = 1.0 - e.alpha.exponent < e.beta.exponent && e.beta.exponent < 1.0;
  return e;
}

}  // namespace speedlimits::spectral
