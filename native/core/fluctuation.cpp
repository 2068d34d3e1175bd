#include "core/fluctuation.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/errors.hpp"

namespace speedlimits::fluctuation {

namespace {
void check_samples(const char* fn, const double* sigma, std::size_t n, std::size_t min_n) {
  if (sigma == nullptr || n < min_n)
    throw InvalidArgument(std::string(fn) + ": need at least " + std::to_string(min_n) + " entropy values, got " + std::to_string(n));
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(sigma[i]))
      throw InvalidArgument(std::string(fn) + ": sigma must contain only finite values (index " + std::to_string(i) + ")");
}
}  // namespace

IntegralFt integral_ft(const double* sigma, std::size_t n, double z) {
  check_samples("integralFT", sigma, n, 2);
  if (!(z > 0) || !std::isfinite(z)) throw InvalidArgument("integralFT: z must be a finite number > 0");
  IntegralFt r;
  r.samples = n;
  double sum = 0, lo = sigma[0];
  std::size_t neg = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sum += sigma[i];
    lo = std::min(lo, sigma[i]);
    neg += sigma[i] < 0;
  }
  r.mean = sum / static_cast<double>(n);
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) ss += (sigma[i] - r.mean) * (sigma[i] - r.mean);
  r.variance = ss / static_cast<double>(n - 1);
  r.fraction_negative = static_cast<double>(neg) / static_cast<double>(n);
  // w_i = e^{−(Σ_i − lo)} ∈ (0, 1]; ⟨e^{−Σ}⟩ = e^{−lo}·mean(w).
  double sw = 0, sw2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double w = std::exp(-(sigma[i] - lo));
    sw += w;
    sw2 += w * w;
  }
  const double scale = std::exp(-lo);
  const double mw = sw / static_cast<double>(n);
  const double var_w = std::max(0.0, (sw2 - static_cast<double>(n) * mw * mw) / static_cast<double>(n - 1));
  r.value = scale * mw;
  r.stderr_ = scale * std::sqrt(var_w / static_cast<double>(n));
  r.ci_low = r.value - z * r.stderr_;
  r.ci_high = r.value + z * r.stderr_;
  r.effective_samples = sw * sw / sw2;
  return r;
}

DetailedFt detailed_ft(const double* sigma, std::size_t n, std::size_t bins, double s_max) {
  check_samples("detailedFT", sigma, n, 4);
  if (bins < 4 || bins % 2 != 0 || bins > 100000) throw InvalidArgument("detailedFT: bins must be an even number in [4, 100000]");
  if (!std::isfinite(s_max)) throw InvalidArgument("detailedFT: sMax must be finite");
  double mx = sigma[0], mn = sigma[0];
  for (std::size_t i = 0; i < n; ++i) {
    mx = std::max(mx, sigma[i]);
    mn = std::min(mn, sigma[i]);
  }
  if (s_max <= 0) s_max = std::min(mx, -mn);
  if (!(s_max > 0)) throw InvalidArgument("detailedFT: sigma needs values on both sides of 0 (a stationary state has them)");
  DetailedFt r;
  r.bin_width = 2 * s_max / static_cast<double>(bins);
  r.counts.assign(bins, 0);
  r.centers.resize(bins);
  for (std::size_t b = 0; b < bins; ++b) r.centers[b] = -s_max + (static_cast<double>(b) + 0.5) * r.bin_width;
  for (std::size_t i = 0; i < n; ++i) {
    const double u = (sigma[i] + s_max) / r.bin_width;
    if (u < 0 || u >= static_cast<double>(bins)) continue;
    ++r.counts[static_cast<std::size_t>(u)];
  }
  double swss = 0, swsy = 0;
  for (std::size_t b = bins / 2; b < bins; ++b) {
    const std::size_t cp = r.counts[b], cm = r.counts[bins - 1 - b];
    if (cp == 0 || cm == 0) continue;
    const double s = r.centers[b], y = std::log(static_cast<double>(cp) / static_cast<double>(cm));
    const double w = 1.0 / (1.0 / static_cast<double>(cp) + 1.0 / static_cast<double>(cm));
    r.s.push_back(s);
    r.log_ratio.push_back(y);
    r.weight.push_back(w);
    swss += w * s * s;
    swsy += w * s * y;
  }
  if (r.s.size() < 2) throw InvalidArgument("detailedFT: fewer than 2 bins have samples at both +s and −s; use fewer bins or more samples");
  r.slope = swsy / swss;
  r.slope_stderr = 1.0 / std::sqrt(swss);
  return r;
}

}  // namespace speedlimits::fluctuation
