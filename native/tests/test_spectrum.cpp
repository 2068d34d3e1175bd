// Tests of spectrum(), power_law_fit(), residual_power() and fit_alpha_beta() (THEORY.md §3):
// K = Q diag(λ) Qᵀ recovered, exact synthetic power laws recovered to 1e-10, noisy ones close,
// negative-eigenvalue reporting, argument errors, and the spectrum of an analytic NTK.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "check.hpp"
#include "core/control.hpp"
#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/net_spec.hpp"
#include "core/ntk_analytic.hpp"
#include "core/spectrum.hpp"

namespace sp = speedlimits::spectral;
using std::size_t;

namespace {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ULL + 99) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }
  double normal() {
    return std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
  }
};

// A random orthogonal Q (columns): eigenvectors of a random symmetric matrix.
std::vector<double> random_orthogonal(size_t n, uint64_t seed) {
  Rng r(seed);
  std::vector<double> A(n * n), w(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) A[i * n + j] = A[j * n + i] = r.normal();
  speedlimits::linalg::syevd(n, A.data(), n, w.data(), true);
  return A;
}

// K = Q diag(lam) Qᵀ
std::vector<double> compose(const std::vector<double>& Q, const std::vector<double>& lam, size_t n) {
  std::vector<double> K(n * n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t k = 0; k < n; ++k) s += Q[i * n + k] * lam[k] * Q[j * n + k];
      K[i * n + j] = s;
    }
  return K;
}

}  // namespace

TEST_CASE("K = Q diag(lambda) Q^T: values to 1e-12, vectors, projections sum to 1") {
  const size_t n = 60;
  const auto Q = random_orthogonal(n, 1);
  std::vector<double> lam(n);
  for (size_t k = 0; k < n; ++k) lam[k] = std::pow(double(n - k), -1.5);  // ascending in storage order
  const auto K = compose(Q, lam, n);
  Rng r(2);
  std::vector<double> y(n);
  for (auto& v : y) v = r.normal();
  const auto S = sp::spectrum(K.data(), n, y.data(), true);
  CHECK(S.values.size() == n && S.vectors.size() == n * n && S.projections.size() == n);
  for (size_t k = 0; k < n; ++k) CHECK_CLOSE(S.values[k], std::pow(double(k + 1), -1.5), 0, 1e-12);
  double total = 0, yy = 0;
  for (double v : y) yy += v * v;
  for (size_t k = 0; k < n; ++k) {
    total += S.projections[k];
    // u_k = ±Q[:, n−1−k]: the projections agree with Q's.
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += Q[i * n + (n - 1 - k)] * y[i];
    CHECK_CLOSE(S.projections[k], s * s / yy, 1e-8, 1e-14);
    // K u_k = λ_k u_k, |u_k| = 1
    double nrm = 0, res = 0;
    for (size_t i = 0; i < n; ++i) {
      double Ku = 0;
      for (size_t j = 0; j < n; ++j) Ku += K[i * n + j] * S.vectors[j * n + k];
      res = std::max(res, std::fabs(Ku - S.values[k] * S.vectors[i * n + k]));
      nrm += S.vectors[i * n + k] * S.vectors[i * n + k];
    }
    CHECK(res < 1e-13);
    CHECK_CLOSE(nrm, 1.0, 1e-13, 0);
  }
  CHECK_CLOSE(total, 1.0, 1e-12, 0);
  CHECK(S.negative_count == 0 && S.most_negative == 0);
  // vectors = false, y = null: values only
  const auto V = sp::spectrum(K.data(), n, nullptr, false);
  CHECK(V.vectors.empty() && V.projections.empty());
  for (size_t k = 0; k < n; ++k) CHECK_CLOSE(V.values[k], S.values[k], 0, 1e-14);
  // projections without vectors
  const auto P = sp::spectrum(K.data(), n, y.data(), false);
  CHECK(P.vectors.empty() && P.projections.size() == n);
  // only the lower triangle is read
  auto Kl = K;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) Kl[i * n + j] = std::numeric_limits<double>::quiet_NaN();
  const auto L = sp::spectrum(Kl.data(), n, nullptr, false);
  for (size_t k = 0; k < n; ++k) CHECK(L.values[k] == V.values[k]);
}

TEST_CASE("negative eigenvalues are counted and reported, not thrown") {
  const size_t n = 20;
  const auto Q = random_orthogonal(n, 5);
  std::vector<double> lam(n);
  for (size_t k = 0; k < n; ++k) lam[k] = 1.0 / double(k + 1);
  lam[0] = -1e-3;
  lam[1] = -1e-17;  // within tolerance: rounding noise, not counted
  const auto S = sp::spectrum(compose(Q, lam, n).data(), n, nullptr, false);
  CHECK(S.negative_count == 1);
  CHECK_CLOSE(S.most_negative, -1e-3, 1e-10, 0);
  CHECK_CLOSE(S.values.back(), -1e-3, 1e-10, 0);
}

TEST_CASE("exact power laws: alpha = 1.5 and beta_residual = 0.5 to 1e-10; beta (THEORY 3.1) exact") {
  const size_t n = 500;
  std::vector<double> lam(n), p(n), R(n);
  for (size_t k = 0; k < n; ++k) lam[k] = 3.0 * std::pow(double(k + 1), -1.5);
  // residual label power R_k = 0.5 k^{-0.5} for k < n, R_n = 0: p_1 = 1 − R_1, p_k = R_{k−1} − R_k.
  for (size_t k = 0; k + 1 < n; ++k) R[k] = 0.5 * std::pow(double(k + 1), -0.5);
  R[n - 1] = 0;
  p[0] = 1 - R[0];
  for (size_t k = 1; k < n; ++k) p[k] = R[k - 1] - R[k];
  const auto fa = sp::power_law_fit(lam.data(), n, 1, n);
  CHECK_CLOSE(fa.exponent, 1.5, 0, 1e-10);
  CHECK_CLOSE(fa.prefactor, 3.0, 1e-10, 0);
  CHECK_CLOSE(fa.r2, 1.0, 0, 1e-12);
  CHECK(fa.points == n && fa.k1 == 1 && fa.k2 == n);
  const auto Rc = sp::residual_power(p.data(), n);
  for (size_t k = 0; k < n; ++k) CHECK_CLOSE(Rc[k], R[k], 1e-12, 1e-17);
  const auto e = sp::fit_alpha_beta(lam.data(), p.data(), n, 1, n);
  CHECK_CLOSE(e.alpha.exponent, 1.5, 0, 1e-10);
  CHECK_CLOSE(e.beta_residual.exponent, 0.5, 0, 1e-10);
  CHECK(e.beta_residual.points == n - 1);  // R_n = 0 skipped
  // THEORY's per-mode β: p_k = 0.5((k−1)^{-1/2} − k^{-1/2}) ≈ ¼ k^{-3/2} (not an exact power law)
  const auto eb = sp::fit_alpha_beta(lam.data(), p.data(), n, 50, n - 1);  // p_n carries R_{n−1}: excluded
  CHECK_CLOSE(eb.beta.exponent, 1.5, 0, 0.01);
  // An exact per-mode power law p_k ∝ k^{-β}: β recovered exactly, ν = (1 + α − β)/α.
  const double beta = 0.6;
  double Z = 0;
  for (size_t k = 0; k < n; ++k) Z += std::pow(double(k + 1), -beta);
  for (size_t k = 0; k < n; ++k) p[k] = std::pow(double(k + 1), -beta) / Z;
  const auto e2 = sp::fit_alpha_beta(lam.data(), p.data(), n, sp::default_fit_range(n));
  CHECK_CLOSE(e2.beta.exponent, beta, 0, 1e-10);
  CHECK_CLOSE(e2.alpha.exponent, 1.5, 0, 1e-10);
  CHECK_CLOSE(e2.nu, (1 + 1.5 - beta) / 1.5, 0, 1e-10);
  CHECK(e2.scaling_regime);  // 1 − α < β < 1
  CHECK(e2.alpha.k1 == 2 && e2.alpha.k2 == n / 2);
}

TEST_CASE("noisy power laws: exponents close") {
  const size_t n = 2000;
  Rng r(7);
  std::vector<double> lam(n), p(n);
  for (size_t k = 0; k < n; ++k) lam[k] = std::pow(double(k + 1), -1.2) * std::exp(0.05 * r.normal());
  const auto fa = sp::power_law_fit(lam.data(), n, 2, n);
  CHECK_CLOSE(fa.exponent, 1.2, 0, 0.01);
  CHECK(fa.r2 > 0.99);
  // Projections with χ²₁ fluctuations around k^{-1.5} (as label projections of a random teacher).
  double Z = 0;
  for (size_t k = 0; k < n; ++k) {
    const double g = r.normal();
    p[k] = std::pow(double(k + 1), -1.5) * g * g;
    Z += p[k];
  }
  for (auto& v : p) v /= Z;
  const auto eb = sp::fit_alpha_beta(lam.data(), p.data(), n, 2, n / 2);
  CHECK_CLOSE(eb.beta.exponent, 1.5, 0, 0.2);
  // Residual power 0.5 k^{-1/2} whose increments carry χ²₁ fluctuations (the last mode holds the rest,
  // as in the exact construction). A finite spectrum of p_k ∝ k^{-1.5} would instead bend R_k down
  // near k ~ n (R_k ∝ k^{-1/2} − n^{-1/2}).
  std::vector<double> R(n);
  for (size_t k = 0; k + 1 < n; ++k) R[k] = 0.5 * std::pow(double(k + 1), -0.5);
  p[0] = 1 - R[0];
  for (size_t k = 1; k + 1 < n; ++k) {
    const double g = r.normal();
    p[k] = (R[k - 1] - R[k]) * g * g;
  }
  p[n - 1] = R[n - 2];
  const auto e = sp::fit_alpha_beta(lam.data(), p.data(), n, 2, n / 2);
  std::printf("  noisy: alpha %.4f, beta %.4f, beta_residual %.4f\n", e.alpha.exponent, e.beta.exponent,
              e.beta_residual.exponent);
  CHECK_CLOSE(e.alpha.exponent, 1.2, 0, 0.02);
  CHECK_CLOSE(e.beta_residual.exponent, 0.5, 0, 0.05);
}

TEST_CASE("power_law_fit edge cases and argument errors") {
  std::vector<double> v = {1.0, 0.0, -2.0, std::numeric_limits<double>::quiet_NaN(), 0.25};
  auto f = sp::power_law_fit(v.data(), v.size(), 1, 5);  // k = 1 and 5 usable
  CHECK(f.points == 2);
  CHECK_CLOSE(f.exponent, std::log(4.0) / std::log(5.0), 1e-14, 0);
  f = sp::power_law_fit(v.data(), v.size(), 2, 4);
  CHECK(f.points == 0 && std::isnan(f.exponent) && std::isnan(f.r2));
  std::vector<double> flat(10, 2.0);
  f = sp::power_law_fit(flat.data(), 10, 1, 10);
  CHECK_CLOSE(f.exponent, 0.0, 0, 1e-15);
  CHECK(f.r2 == 1.0);
  CHECK_THROWS(sp::power_law_fit(v.data(), 5, 0, 3), speedlimits::InvalidArgument);
  CHECK_THROWS(sp::power_law_fit(v.data(), 5, 3, 2), speedlimits::InvalidArgument);
  CHECK_THROWS(sp::power_law_fit(v.data(), 5, 1, 6), speedlimits::InvalidArgument);
  CHECK_THROWS(sp::fit_alpha_beta(v.data(), v.data(), 5, 1, 9), speedlimits::InvalidArgument);
  std::vector<double> K = {1, 0, 0, 1}, y0 = {0, 0};
  CHECK_THROWS(sp::spectrum(K.data(), 2, y0.data(), false), speedlimits::InvalidArgument);
  K[2] = std::numeric_limits<double>::infinity();
  CHECK_THROWS(sp::spectrum(K.data(), 2, nullptr, false), speedlimits::InvalidArgument);
  CHECK(sp::spectrum(nullptr, 0, nullptr, true).values.empty());
  const auto d = sp::default_fit_range(3);
  CHECK(d.k1 == 1 && d.k2 == 3);
}

TEST_CASE("spectrum of an analytic relu NTK: PSD, projections sum to 1, decaying power law") {
  namespace nets = speedlimits::nets;
  const size_t n = 120, d = 10;
  Rng r(3);
  std::vector<double> x(n * d), y(n);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t k = 0; k < d; ++k) {
      x[i * d + k] = r.normal();
      s += x[i * d + k] * x[i * d + k];
    }
    for (size_t k = 0; k < d; ++k) x[i * d + k] *= std::sqrt(double(d) / s);  // on the sphere of radius √d
    y[i] = x[i * d] * x[i * d + 1] + 0.5 * x[i * d + 2];
  }
  nets::NetSpec spec;
  spec.input_dim = d;
  spec.widths = {64, 64};
  spec.activation = nets::Activation::Relu;
  spec.sigma_w = std::sqrt(2.0);
  spec.sigma_b = 0.1;
  const auto K = nets::ntk_analytic(spec, x.data(), n, nullptr, 0, speedlimits::Control{});
  const auto S = sp::spectrum(K.ntk.data(), n, y.data(), false);
  CHECK(S.negative_count == 0);
  double total = 0;
  for (double p : S.projections) total += p;
  CHECK_CLOSE(total, 1.0, 1e-12, 0);
  for (size_t k = 1; k < n; ++k) CHECK(S.values[k] <= S.values[k - 1]);
  const auto e = sp::fit_alpha_beta(S.values.data(), S.projections.data(), n, sp::default_fit_range(n));
  std::printf("  relu NTK on S^9: alpha %.3f (r2 %.3f), beta %.3f, beta_residual %.3f\n", e.alpha.exponent,
              e.alpha.r2, e.beta.exponent, e.beta_residual.exponent);
  CHECK(e.alpha.exponent > 0 && std::isfinite(e.beta.exponent));
}

TEST_MAIN()
