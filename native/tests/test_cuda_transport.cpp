// CUDA W2 kernels against the CPU core on the same inputs: cost matrices (fp32/fp64, centred or
// not, same cloud or two) and log-domain Sinkhorn (plain and symmetric, fp64 and fp32 C, with
// ε-scaling). Every case skips without a CUDA device.
#include <cmath>
#include <vector>

#include "check.hpp"
#include "core/cuda_backend.hpp"
#include "core/errors.hpp"
#include "core/transport.hpp"
#include "cuda_fixtures.hpp"

using namespace speedlimits;
using cudatest::cast;
using cudatest::cloud;
using cudatest::need_device;
using cudatest::rel_max_diff;

namespace {

template <typename T>
void compare_cost(std::size_t n, std::size_t m, std::size_t d, bool center, bool same, double shift, double tol) {
  const auto xd = cloud(11, n, d, 1.0, shift), yd = cloud(12, m, d, 1.3, shift + 0.5);
  const auto x = cast<T>(xd), y = cast<T>(yd);
  const T* py = same ? x.data() : y.data();
  const std::size_t mm = same ? n : m;
  std::vector<T> cpu(n * mm), gpu(n * mm, T(-1));
  transport::cost_matrix<T>(x.data(), n, py, mm, d, center, same, cpu.data());
  cuda::cost_matrix<T>(x.data(), n, py, mm, d, center, same, gpu.data());
  const double err = rel_max_diff(gpu, cpu);
  if (!(err <= tol)) std::fprintf(stderr, "  cost n=%zu m=%zu d=%zu: rel err %.3g > %.3g\n", n, mm, d, err, tol);
  CHECK(err <= tol);
  if (same) {
    bool sym = true;
    for (std::size_t i = 0; i < n; ++i) {
      sym = sym && gpu[i * n + i] == T(0);
      for (std::size_t j = 0; j < i; ++j) sym = sym && gpu[i * n + j] == gpu[j * n + i];
    }
    CHECK(sym);
  }
  bool nonneg = true;
  for (T v : gpu) nonneg = nonneg && v >= T(0);
  CHECK(nonneg);
}

// Uniform weights, or skewed ones with one zero entry.
std::vector<double> weights(std::size_t n, bool skew) {
  std::vector<double> w(n, 1.0 / n);
  if (skew && n > 2) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += (w[i] = i == 1 ? 0.0 : 1.0 + 0.5 * std::sin(double(i)));
    for (auto& v : w) v /= s;
  }
  return w;
}

}  // namespace

TEST_CASE("cuda cost matrix fp64 matches the CPU (two clouds, centred, odd sizes)") {
  need_device();
  compare_cost<double>(97, 131, 75, true, false, 10.0, 1e-12);
}

TEST_CASE("cuda cost matrix fp64: same cloud, exact symmetry and zero diagonal") {
  need_device();
  compare_cost<double>(150, 150, 33, true, true, 100.0, 1e-12);
}

TEST_CASE("cuda cost matrix fp64 without centring, d = 1 and d larger than a tile") {
  need_device();
  compare_cost<double>(64, 65, 1, false, false, 0.0, 1e-13);
  compare_cost<double>(40, 70, 300, false, false, 0.5, 1e-12);
}

TEST_CASE("cuda cost matrix fp32 matches the CPU fp32 path to fp32 rounding") {
  need_device();
  compare_cost<float>(129, 70, 200, true, false, 50.0, 2e-5);
  compare_cost<float>(100, 100, 64, true, true, 1000.0, 2e-5);
}

TEST_CASE("cuda cost matrix rejects same=true with a different y") {
  need_device();
  std::vector<double> x(6, 1.0), y(6, 1.0), C(4);
  CHECK_THROWS(cuda::cost_matrix<double>(x.data(), 2, y.data(), 2, 3, true, true, C.data()), InvalidArgument);
}

namespace {

template <typename T>
void compare_sinkhorn(std::size_t n, std::size_t m, double eps_rel, bool scaling, bool skew) {
  const auto xd = cloud(21, n, 3, 1.0, 0.0), yd = cloud(22, m, 3, 1.0, 1.0);
  std::vector<double> Cd(n * m);
  transport::cost_matrix<double>(xd.data(), n, yd.data(), m, 3, true, false, Cd.data());
  const auto C = cast<T>(Cd);
  double cmax = 0;
  for (T v : C) cmax = std::max(cmax, double(v));
  const auto a = weights(n, skew), b = weights(m, false);
  transport::SinkhornOptions opt;
  opt.epsilon = eps_rel * cmax;
  opt.tol = 1e-11;
  opt.max_iter = 20000;
  opt.eps_scaling = scaling;
  std::vector<double> f1(n), g1(m), f2(n), g2(m), p1(n * m), p2(n * m);
  const auto r1 = transport::sinkhorn_log<T>(C.data(), n, m, a.data(), b.data(), f1.data(), g1.data(), p1.data(), opt);
  const auto r2 = cuda::sinkhorn_log<T>(C.data(), n, m, a.data(), b.data(), f2.data(), g2.data(), p2.data(), opt);
  CHECK(r1.converged);
  CHECK(r2.converged);
  CHECK(r2.marginal_error < opt.tol);
  CHECK(r2.iterations > 0);
  // Both are the fixed point to 1e-11 in marginal error: plan, cost and objective agree.
  CHECK_CLOSE(r2.objective, r1.objective, 1e-8, 1e-10 * cmax);
  CHECK_CLOSE(r2.transport_cost, r1.transport_cost, 1e-8, 1e-10 * cmax);
  CHECK_CLOSE(r2.plan_mass, 1.0, 0, 1e-9);
  CHECK(rel_max_diff(p2, p1) < 1e-7);
  // The potentials are unique up to (f + t, g − t): compare after removing the gauge.
  const double t = f2[0] - f1[0];
  double df = 0, dg = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] > 0) df = std::max(df, std::fabs(f2[i] - t - f1[i]));
  for (std::size_t j = 0; j < m; ++j) dg = std::max(dg, std::fabs(g2[j] + t - g1[j]));
  CHECK(df < 1e-7 * cmax);
  CHECK(dg < 1e-7 * cmax);
  // The GPU's own measure: column marginals of its plan against b.
  double err = 0;
  for (std::size_t j = 0; j < m; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += p2[i * m + j];
    err += std::fabs(s - b[j]);
  }
  CHECK(err < 1e-9);
}

}  // namespace

TEST_CASE("cuda sinkhorn fp64 matches the CPU fixed point (n != m, moderate eps)") {
  need_device();
  compare_sinkhorn<double>(70, 93, 0.05, false, false);
}

TEST_CASE("cuda sinkhorn fp64 with eps-scaling, skewed weights with a zero entry") {
  need_device();
  compare_sinkhorn<double>(120, 77, 0.02, true, true);
}

TEST_CASE("cuda sinkhorn fp32 cost matrix (computed in double) matches the CPU") {
  need_device();
  compare_sinkhorn<float>(300, 260, 0.02, false, false);
}

TEST_CASE("cuda sinkhorn reports non-convergence as a result, not an exception") {
  need_device();
  const std::size_t n = 50;
  const auto xd = cloud(31, n, 2, 1.0, 0.0), yd = cloud(32, n, 2, 1.0, 2.0);
  std::vector<double> C(n * n), a(n, 1.0 / n), f(n), g(n);
  transport::cost_matrix<double>(xd.data(), n, yd.data(), n, 2, true, false, C.data());
  transport::SinkhornOptions opt;
  opt.epsilon = 1e-3;
  opt.tol = 1e-14;
  opt.max_iter = 3;
  const auto r = cuda::sinkhorn_log<double>(C.data(), n, n, a.data(), a.data(), f.data(), g.data(), nullptr, opt);
  CHECK(!r.converged);
  CHECK(r.iterations == 3);
  CHECK(r.marginal_error > 0 && std::isfinite(r.marginal_error));
  CHECK(std::isfinite(r.objective) && std::isfinite(r.transport_cost));
}

TEST_CASE("cuda symmetric sinkhorn matches the CPU (OT_eps(a, a))") {
  need_device();
  const std::size_t n = 140;
  const auto xd = cloud(41, n, 4, 1.0, 3.0);
  std::vector<double> C(n * n);
  transport::cost_matrix<double>(xd.data(), n, xd.data(), n, 4, true, true, C.data());
  const auto a = weights(n, true);
  transport::SinkhornOptions opt;
  opt.epsilon = 0.05;
  opt.tol = 1e-11;
  std::vector<double> f1(n), f2(n);
  const auto r1 = transport::sinkhorn_log_symmetric<double>(C.data(), n, a.data(), f1.data(), opt);
  const auto r2 = cuda::sinkhorn_log_symmetric<double>(C.data(), n, a.data(), f2.data(), opt);
  CHECK(r1.converged && r2.converged);
  CHECK_CLOSE(r2.objective, r1.objective, 1e-9, 1e-12);
  CHECK_CLOSE(r2.transport_cost, r1.transport_cost, 1e-9, 1e-12);
  double df = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] > 0) df = std::max(df, std::fabs(f2[i] - f1[i]));  // symmetric: no gauge freedom
  CHECK(df < 1e-8);
}

TEST_CASE("cuda sinkhorn rejects bad options with the CPU's errors") {
  need_device();
  std::vector<double> C(4, 1.0), a(2, 0.5), f(2), g(2);
  transport::SinkhornOptions opt;
  opt.epsilon = 0;
  CHECK_THROWS(cuda::sinkhorn_log<double>(C.data(), 2, 2, a.data(), a.data(), f.data(), g.data(), nullptr, opt),
               InvalidArgument);
}

TEST_MAIN()
