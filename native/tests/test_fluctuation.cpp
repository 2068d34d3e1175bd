// Fluctuation-theorem statistics: Gaussian Σ with Var = 2⟨Σ⟩ satisfies both theorems exactly
// (THEORY.md §4.5), so the estimators must return 1 within their own stated errors.
#include <cmath>
#include <vector>

#include "check.hpp"
#include "core/errors.hpp"
#include "core/fluctuation.hpp"
#include "core/rng.hpp"

using namespace speedlimits;

namespace {
std::vector<double> gaussian_sigma(double mu, std::size_t n, std::uint64_t seed) {
  std::vector<double> s(n);
  rng::normal(seed, 0, 0, n, s.data());
  for (double& v : s) v = mu + std::sqrt(2 * mu) * v;
  return s;
}
}  // namespace

TEST_CASE("fluctuation: integral FT of Gaussian Σ with Var = 2⟨Σ⟩ is 1 within its error") {
  for (double mu : {0.1, 0.5, 1.5}) {
    auto s = gaussian_sigma(mu, 200000, 3);
    auto r = fluctuation::integral_ft(s.data(), s.size());
    CHECK(std::fabs(r.value - 1) <= 4 * r.stderr_);
    CHECK(r.ci_low < 1 && r.ci_high > 1);
    CHECK_CLOSE(r.mean, mu, 0, 5 * std::sqrt(2 * mu / 200000));
    CHECK_CLOSE(r.variance, 2 * mu, 0.02, 0);
    CHECK(r.effective_samples > 1000);
    // P(Σ < 0) = Φ(−μ/√(2μ))
    CHECK_CLOSE(r.fraction_negative, 0.5 * std::erfc(std::sqrt(mu / 2) / std::sqrt(2.0)), 0, 0.005);
  }
}

TEST_CASE("fluctuation: integral FT against a naive mean on small data; large Σ does not overflow") {
  std::vector<double> s{0.3, -0.2, 1.1, 0.0, 2.5};
  auto r = fluctuation::integral_ft(s.data(), s.size());
  double m = 0;
  for (double v : s) m += std::exp(-v) / 5;
  CHECK_CLOSE(r.value, m, 1e-14, 0);
  std::vector<double> big{700, 705, 710, 720};
  auto b = fluctuation::integral_ft(big.data(), big.size());
  CHECK(std::isfinite(b.mean) && b.value >= 0 && b.value < 1e-300);
}

TEST_CASE("fluctuation: detailed FT slope is 1 for Gaussian Σ with Var = 2⟨Σ⟩, and 0 for a symmetric Σ") {
  auto s = gaussian_sigma(0.8, 400000, 7);
  auto r = fluctuation::detailed_ft(s.data(), s.size(), 40);
  CHECK(std::fabs(r.slope - 1) <= 4 * r.slope_stderr);
  CHECK(r.slope_stderr < 0.05);
  std::size_t total = 0;
  for (auto c : r.counts) total += c;
  CHECK(total <= s.size() && total > s.size() / 2);
  std::vector<double> sym(100000);
  rng::normal(9, 0, 0, sym.size(), sym.data());
  auto z = fluctuation::detailed_ft(sym.data(), sym.size(), 20);
  CHECK(std::fabs(z.slope) <= 4 * z.slope_stderr);
}

TEST_CASE("fluctuation: bad input") {
  std::vector<double> s{1, 2, 3, 4, 5};
  CHECK_THROWS(fluctuation::integral_ft(s.data(), 1), InvalidArgument);
  std::vector<double> nan{1, NAN, 2};
  CHECK_THROWS(fluctuation::integral_ft(nan.data(), 3), InvalidArgument);
  CHECK_THROWS(fluctuation::detailed_ft(s.data(), s.size(), 3), InvalidArgument);   // odd bins
  CHECK_THROWS(fluctuation::detailed_ft(s.data(), s.size(), 10), InvalidArgument);  // all positive
}

int main() { return sltest::run_all(); }
