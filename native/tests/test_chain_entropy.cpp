// Tests of ness::stationary_chain_entropy and ness::gradient_noise_covariance (THEORY.md §4.2,
// §4.4–4.6): exact identities (Σ ≡ 0 pathwise in equilibrium; B = n minibatch SGLD is ULA),
// ⟨Σ⟩ = K·σ_step and the fluctuation theorems on the O7(b) NESS within Monte-Carlo error,
// subset enumeration for the gradient-noise covariance, thread-count independence, and errors.
#include <cmath>
#include <string>
#include <vector>

#include "check.hpp"
#include "core/control.hpp"
#include "core/errors.hpp"
#include "core/fluctuation.hpp"
#include "core/ness.hpp"
#include "core/threads.hpp"

namespace ns = speedlimits::ness;
namespace fl = speedlimits::fluctuation;
using speedlimits::Control;
using speedlimits::InvalidArgument;
using std::size_t;
using Mat = std::vector<double>;

namespace {

const Mat kH = {2, 0.6, 0.6, 0.8};  // O7
const Mat kCov = {1, 0.9, 0.9, 1.5};
const Mat kX = {0.001, 0.299, -0.274, -0.891, -0.455, -0.992, 0.06,  1.34,  // O8
                -0.492, -0.62, 0.49,  0.357,  0.105,  -0.93,  -0.029, 0.695};
const Mat kY = {-0.791, -0.064, -0.872, -1.139, -1.017, 0.083, -0.188, -0.163};

ns::StationaryChainInput gaussian(const Mat& D, double eta, size_t steps, size_t replicas) {
  ns::StationaryChainInput in;
  in.kind = ns::ChainKind::Gaussian;
  in.P = 2;
  in.H = kH.data();
  in.diffusion = D.data();
  in.eta = eta;
  in.steps = steps;
  in.replicas = replicas;
  in.seed = 5;
  return in;
}

ns::StationaryChainInput sgld(size_t B, double eta, size_t steps, size_t replicas) {
  ns::StationaryChainInput in;
  in.kind = ns::ChainKind::SgldMinibatch;
  in.regression.n = 8;
  in.regression.P = 2;
  in.regression.X = kX.data();
  in.regression.y = kY.data();
  in.regression.temperature = 0.25;
  in.regression.gamma = 0.25;
  in.regression.eta = eta;
  in.regression.batch_size = B;
  in.steps = steps;
  in.replicas = replicas;
  in.seed = 9;
  return in;
}

double mean(const Mat& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
double sd(const Mat& v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

}  // namespace

TEST_CASE("O7(b) NESS, Gaussian chain: ⟨Σ⟩ = K·σ_step within MC error, integral FT, detailed FT slope 1 ± 0.05") {
  const double eta = 0.05;
  Mat D(4);
  for (size_t i = 0; i < 4; ++i) D[i] = 0.5 * eta * eta * kCov[i];
  const size_t K = 20, M = 40000;
  const auto r = ns::stationary_chain_entropy(gaussian(D, eta, K, M), Control{});
  CHECK(r.exact);
  // THEORY O7(b): Λ and σ_step (closed forms, also checked in test_ness).
  CHECK_CLOSE(r.covariance[0], 0.0120111171, 1e-8, 0);
  CHECK_CLOSE(r.covariance[3], 0.0444606403, 1e-8, 0);
  const double m = mean(r.sigma), se = sd(r.sigma) / std::sqrt(double(M));
  CHECK(std::fabs(m - K * r.entropy_per_step) < 4 * se);
  const auto ift = fl::integral_ft(r.sigma.data(), M);
  CHECK(ift.ci_low < 1 && ift.ci_high > 1);
  const auto dft = fl::detailed_ft(r.sigma.data(), M, 24);
  CHECK(std::fabs(dft.slope - 1) < 0.05);
}

TEST_CASE("equilibrium (isotropic 𝒟 = ηT I): Σ ≡ 0 pathwise") {
  const double eta = 0.1, T = 0.3;
  const Mat D = {eta * T, 0, 0, eta * T};
  auto in = gaussian(D, eta, 15, 200);
  const Mat th = {0.5, -1};
  in.theta_star = th.data();
  const auto r = ns::stationary_chain_entropy(in, Control{});
  double worst = 0, scale = 0;
  for (size_t i = 0; i < r.sigma.size(); ++i) {
    worst = std::fmax(worst, std::fabs(r.sigma[i]));
    scale = std::fmax(scale, std::fabs(r.medium[i]));
  }
  CHECK(scale > 0.1);         // the medium part itself is not small …
  CHECK(worst < 1e-10 * (1 + scale));  // … the boundary terms cancel it exactly
  CHECK(std::fabs(r.entropy_per_step) < 1e-12);
  CHECK_CLOSE(r.mean[0], 0.5, 0, 0);
}

TEST_CASE("minibatch SGLD with B = n is ULA: exact kernel, Σ ≡ 0 pathwise") {
  const auto r = ns::stationary_chain_entropy(sgld(8, 0.05, 12, 300), Control{});
  CHECK(!r.exact);
  CHECK_CLOSE(r.kernel_diffusion[0], 0.05 * 0.25, 1e-12, 0);
  CHECK(std::fabs(r.kernel_diffusion[1]) < 1e-15);
  double worst = 0;
  for (double s : r.sigma) worst = std::fmax(worst, std::fabs(s));
  CHECK(worst < 1e-9);
}

TEST_CASE("minibatch SGLD (B = 2): the approximate estimator stays near the theorems") {
  const size_t K = 20, M = 40000;
  const auto r = ns::stationary_chain_entropy(sgld(2, 0.05, K, M), Control{});
  const auto ift = fl::integral_ft(r.sigma.data(), M);
  // Approximate (mixture kernel, non-Gaussian stationary law): within 10 % of the exact values.
  CHECK(std::fabs(ift.value - 1) < 0.1);
  CHECK(ift.mean > 0);
  CHECK(std::fabs(mean(r.sigma) - K * r.entropy_per_step) < 0.3 * K * r.entropy_per_step);
}

TEST_CASE("gradient_noise_covariance equals the covariance over all C(n, B) subsets") {
  ns::RegressionInput in;
  in.n = 8;
  in.P = 2;
  in.X = kX.data();
  in.y = kY.data();
  in.temperature = 0.25;
  in.gamma = 0.25;
  in.eta = 0.01;
  in.batch_size = 3;
  const Mat C = ns::gradient_noise_covariance(in);
  const auto post = ns::sampler_moments(in).posterior_mean;
  // Brute force: ĝ_S(θ*) = (n/B) Σ_{s∈S} x_s(x_s·θ* − y_s) + γθ* over every 3-subset.
  Mat m(2, 0.0), S(4, 0.0);
  size_t count = 0;
  for (size_t a = 0; a < 8; ++a)
    for (size_t b = a + 1; b < 8; ++b)
      for (size_t c = b + 1; c < 8; ++c) {
        Mat g = {0.25 * post[0], 0.25 * post[1]};
        for (size_t s : {a, b, c}) {
          const double res = kX[2 * s] * post[0] + kX[2 * s + 1] * post[1] - kY[s];
          for (size_t i = 0; i < 2; ++i) g[i] += (8.0 / 3.0) * kX[2 * s + i] * res;
        }
        for (size_t i = 0; i < 2; ++i) {
          m[i] += g[i];
          for (size_t j = 0; j < 2; ++j) S[2 * i + j] += g[i] * g[j];
        }
        ++count;
      }
  for (size_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < 2; ++j) {
      const double cov = S[2 * i + j] / count - (m[i] / count) * (m[j] / count);
      CHECK_CLOSE(C[2 * i + j], cov, 1e-10, 1e-14);
    }
}

TEST_CASE("stationary_chain_entropy: independent of the thread count") {
  const int before = speedlimits::get_threads();
  speedlimits::set_threads(1);
  const auto a = ns::stationary_chain_entropy(sgld(2, 0.05, 10, 700), Control{});
  speedlimits::set_threads(2);
  const auto b = ns::stationary_chain_entropy(sgld(2, 0.05, 10, 700), Control{});
  speedlimits::set_threads(before);
  CHECK(a.sigma == b.sigma);
}

TEST_CASE("stationary_chain_entropy: argument errors and abort") {
  const Mat D = {0.01, 0, 0, 0.01};
  auto expect_throw = [](ns::StationaryChainInput in, const std::string& needle) {
    try {
      ns::stationary_chain_entropy(in, Control{});
      CHECK(false);
    } catch (const InvalidArgument& e) {
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  expect_throw(gaussian(D, 0.05, 0, 10), "steps");
  expect_throw(gaussian(D, 0.05, 10, 0), "replicas");
  expect_throw(gaussian(D, 1.5, 10, 10), "eta");
  const Mat notPd = {1, 2, 2, 1};
  auto bad = gaussian(D, 0.05, 10, 10);
  bad.H = notPd.data();
  expect_throw(bad, "H");
  auto noD = gaussian(D, 0.05, 10, 10);
  noD.diffusion = nullptr;
  expect_throw(noD, "diffusion");
  expect_throw(sgld(9, 0.05, 10, 10), "batchSize");
  // B ∤ n is fine for with-replacement batches.
  CHECK(ns::stationary_chain_entropy(sgld(3, 0.05, 10, 10), Control{}).sigma.size() == 10);
  const std::int32_t flag = 1;
  Control aborted;
  aborted.abort_flag = &flag;
  bool threw = false;
  try {
    ns::stationary_chain_entropy(gaussian(D, 0.05, 10, 1000), aborted);
  } catch (const speedlimits::Aborted&) {
    threw = true;
  }
  CHECK(threw);
}
int main() { return sltest::run_all(); }
