// Kernel spectra, label projections and the power-law exponents of THEORY.md §3.
//
// Notation (THEORY.md §0, §2.1, §3.1): K = Σ_k λ_k u_k u_kᵀ with λ_1 ≥ λ_2 ≥ …; label (or
// initial-residual) projections y_k = u_kᵀ y and their shares p_k = y_k²/|y|² (Σ_k p_k = 1 over a
// complete eigenbasis). §3.1's power-law model:
//   λ_k = λ_1 k^{−α}                (capacity / eigenvalue decay exponent α)
//   r_k(0)² = r_1² k^{−β}           (residue exponent β: per-mode label power p_k ∝ k^{−β}, which is
//                                   r_k(0)² up to the factor |y|² when the network's initial output
//                                   is 0, r(0) = −y)
//   ν = (1 + α − β)/α, the scaling regime being 1 − α < β < 1 (THEORY §3.2).
// The residual label power after the first k modes, R_k = 1 − Σ_{i≤k} p_i (the share of |y|² the
// top-k modes do not capture), is also offered with its own exponent, R_k ∝ k^{−β_res}. The two are
// related by β_res = β − 1 when β > 1; for β < 1 (THEORY's scaling regime) R_k is not a power law
// of a finite spectrum (it is ≈ 1 − (k/N)^{1−β}), so β_res is only meaningful for β > 1.
#pragma once
#include <cstddef>
#include <limits>
#include <vector>

namespace speedlimits::spectral {

struct SpectrumResult {
  std::vector<double> values;       // eigenvalues, descending (λ_1 ≥ λ_2 ≥ …)
  std::vector<double> vectors;      // n×n row-major, column k = u_k (vectors[i*n + k]); empty unless asked
  std::vector<double> projections;  // p_k = (u_kᵀ y)²/|y|², k = 1..n; empty when y == nullptr
  std::size_t negative_count = 0;   // eigenvalues < −tol·max|λ|, tol = n·1e-15 (a warning, not an error)
  double most_negative = 0;         // the smallest eigenvalue when it is negative, else 0
};

// Symmetric eigendecomposition of K (n×n, row-major; only the lower triangle is read) via
// linalg::syevd, reordered descending; eigenvector signs are whatever the eigensolver returns.
// y (length n, one output) may be null. Throws InvalidArgument for non-finite entries in the
// lower triangle of K or in y, for y = 0, or for K == nullptr with n > 0; NoConvergence from the
// eigensolver. n = 0 gives an empty result.
SpectrumResult spectrum(const double* K, std::size_t n, const double* y, bool vectors);

struct PowerLawFit {
  double exponent = std::numeric_limits<double>::quiet_NaN();   // a in v_k ≈ A k^{−a}
  double prefactor = std::numeric_limits<double>::quiet_NaN();  // A
  double r2 = std::numeric_limits<double>::quiet_NaN();         // R² of the log-log fit
  std::size_t k1 = 0, k2 = 0;                                   // the rank range asked for (1-based)
  std::size_t points = 0;                                       // ranks used (positive finite values)
};

// Least squares of log v_k = log A − a·log k over the 1-based ranks k ∈ [k1, k2] with v_k > 0 and
// finite (others are skipped). Fewer than 2 usable ranks: NaN fields, points says how many.
// R² = 1 − SS_res/SS_tot (1 when all the used values are equal). Throws InvalidArgument unless
// 1 ≤ k1 ≤ k2 ≤ count, or for values == nullptr with count > 0.
PowerLawFit power_law_fit(const double* values, std::size_t count, std::size_t k1, std::size_t k2);

// R_k = missing + Σ_{i>k} p_i for k = 1..n, i.e. 1 − Σ_{i≤k} p_i when the projections cover the
// whole space (missing = 0; accumulated from the tail, so small R_k keep full relative accuracy).
// For a truncated spectrum (top-m eigenpairs) pass missing = 1 − Σ_{i≤m} p_i.
std::vector<double> residual_power(const double* projections, std::size_t n, double missing = 0.0);

struct FitRange {
  std::size_t k1 = 1, k2 = 1;
};
// The default rank window: k ∈ [2, ⌊n/2⌋] for n ≥ 4 (skips the top mode, often an isolated outlier
// such as the label-mean mode of THEORY §3.3, and the bottom half, where a finite Gram matrix's
// eigenvalues leave the bulk power law); [1, n] for smaller n.
FitRange default_fit_range(std::size_t n) noexcept;

struct SpectralExponents {
  PowerLawFit alpha;          // λ_k ≈ A k^{−α}
  PowerLawFit beta;           // p_k ≈ B k^{−β} (THEORY §3.1 residue exponent)
  PowerLawFit beta_residual;  // R_k ≈ C k^{−β_res}, R = residual_power(projections) (ranks ≥ n excluded: R_n = 0)
  double nu = std::numeric_limits<double>::quiet_NaN();  // (1 + α − β)/α
  bool scaling_regime = false;  // 1 − α < β < 1: THEORY §3.2's "optimal in a scaling sense" window
};

// α, β, β_res over the same rank window [k1, k2] (1 ≤ k1 ≤ k2 ≤ n, else InvalidArgument).
// values: descending eigenvalues; projections: p_k in the same order (Σ p_k = 1).
SpectralExponents fit_alpha_beta(const double* values, const double* projections, std::size_t n, std::size_t k1,
                                 std::size_t k2);
inline SpectralExponents fit_alpha_beta(const double* values, const double* projections, std::size_t n,
                                        FitRange range) {
  return fit_alpha_beta(values, projections, n, range.k1, range.k2);
}

}  // namespace speedlimits::spectral
