// Fluctuation-theorem statistics of per-trajectory entropy productions Σ_i (THEORY.md §4.4–4.5).
//   Integral FT:  ⟨e^{−Σ}⟩ = 1 (any p0, exact for the discrete chain with the exact marginals).
//   Detailed FT:  P(Σ = s)/P(Σ = −s) = e^{s} in a stationary state: ln[P(s)/P(−s)] against s has slope 1.
#pragma once
#include <cstddef>
#include <vector>

namespace speedlimits::fluctuation {

struct IntegralFt {
  std::size_t samples = 0;
  double mean = 0, variance = 0;  // of Σ (variance with divisor n − 1)
  double value = 0;               // ⟨e^{−Σ}⟩
  double stderr_ = 0;             // standard error of ⟨e^{−Σ}⟩ (sample sd / √n)
  double ci_low = 0, ci_high = 0; // value ∓ z·stderr
  double effective_samples = 0;   // (Σ e^{−Σ})² / Σ e^{−2Σ}: small values flag a tail-dominated mean
  double fraction_negative = 0;   // P(Σ < 0)
};

// Throws InvalidArgument for n < 2, non-finite Σ, or z ≤ 0. e^{−Σ} is accumulated relative to
// min Σ so that large negative Σ does not overflow before the ratio is formed.
IntegralFt integral_ft(const double* sigma, std::size_t n, double z = 1.959963984540054);

struct DetailedFt {
  std::vector<double> centers;             // bin centres (symmetric about 0)
  std::vector<std::size_t> counts;         // per bin
  std::vector<double> s, log_ratio, weight;  // the points used: s > 0 with both P(s), P(−s) > 0
  double slope = 0, slope_stderr = 0;      // weighted least squares through the origin
  double bin_width = 0;
};

// Histogram of Σ on `bins` (even, ≥ 4) equal bins over [−s_max, s_max] (s_max ≤ 0: the largest
// |Σ| that still has samples on both sides, i.e. min(max Σ, −min Σ)); points s_k > 0 with
// counts on both sides give y_k = ln(c(s_k)/c(−s_k)) with weight 1/(1/c(s_k) + 1/c(−s_k)) (inverse
// Poisson variance), fitted by y = slope·s. Throws InvalidArgument for fewer than 2 usable points.
DetailedFt detailed_ft(const double* sigma, std::size_t n, std::size_t bins, double s_max = 0);

}  // namespace speedlimits::fluctuation
