// Deep linear networks: THEORY.md O9 (c_K closed forms, empirical c_K, lazy-limit deviation,
// μP width monotonicity), the rank-1 population gradient against finite differences, one step of
// every training mode against the formulas, determinism across thread counts, bad input, abort
// and divergence.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "core/deeplinear.hpp"
#include "core/errors.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"

using namespace speedlimits;
using namespace speedlimits::deeplinear;

namespace {

Arch arch(std::size_t D, std::size_t N, std::size_t L, bool residual = false, Param p = Param::Mup, double g = 1,
          double beta0 = 1) {
  Arch a;
  a.input_dim = D;
  a.width = N;
  a.depth = L;
  a.residual = residual;
  a.param = p;
  a.gamma0 = g;
  a.beta0 = beta0;
  return a;
}

RunConfig config(const Arch& a, Spectrum sp, double eta, std::size_t steps, double alpha = 1.5, double b = 0.5) {
  RunConfig c;
  c.arch = a;
  c.lambda.resize(a.input_dim);
  c.target.resize(a.input_dim);
  make_spectrum(sp, a.input_dim, alpha, b, c.lambda.data(), c.target.data());
  c.eta = eta;
  c.steps = steps;
  c.log_steps = {0, steps};
  return c;
}

RunResult run_config(const RunConfig& c, const Control& control = Control{}) {
  RunResult r;
  run(c, r, control);
  return r;
}

// Train loss (1/2P)Σ(vᵀx − y)² and its data vector e = Xᵀ(Xv − y)/P from the dataset draws.
double train_loss(const RunConfig& c, std::size_t s, const double* v, std::size_t first, std::size_t count,
                  std::vector<double>* e) {
  const std::size_t D = c.arch.input_dim, D1 = D + 1;
  std::vector<double> z(count * D1);
  rng::normal(c.seed, kDataStream + s, std::uint64_t(first) * D1, count * D1, z.data());
  double loss = 0;
  if (e) e->assign(D, 0.0);
  for (std::size_t i = 0; i < count; ++i) {
    double f = 0, y = 0;
    for (std::size_t k = 0; k < D; ++k) {
      const double x = std::sqrt(c.lambda[k]) * z[i * D1 + k];
      f += v[k] * x;
      y += c.target[k] * x;
    }
    y += c.noise * z[i * D1 + D];
    const double r = f - y;
    loss += r * r;
    if (e)
      for (std::size_t k = 0; k < D; ++k) (*e)[k] += r * std::sqrt(c.lambda[k]) * z[i * D1 + k] / double(count);
  }
  return 0.5 * loss / double(count);
}

// ∇θ of the train loss through the population routine: ∇ℒ̂ = ∇θ f(e) with e the data vector,
// obtained as ∇ℒ for Σ = I and w* = v − e.
std::vector<double> grad_of_f(const Arch& a, const double* theta, const std::vector<double>& e) {
  const std::size_t D = a.input_dim;
  std::vector<double> v(D), ones(D, 1.0), target(D), g(num_params(a));
  end_to_end(a, theta, v.data());
  for (std::size_t k = 0; k < D; ++k) target[k] = v[k] - e[k];
  population_loss_gradient(a, theta, ones.data(), target.data(), 0, g.data());
  return g;
}

struct ThreadGuard {
  int saved = get_threads();
  ~ThreadGuard() { set_threads(saved); }
};

}  // namespace

TEST_CASE("deeplinear: O9 c_K closed forms") {
  CHECK_CLOSE(ck_closed_form(3, false, 1), 4.0, 1e-12, 0);
  CHECK_CLOSE(ck_closed_form(4, true, 1), 5.078125, 1e-12, 0);
  CHECK_CLOSE(ck_closed_form(2, true, 1), 3.5, 1e-12, 0);
  CHECK_CLOSE(ck_closed_form(16, true, 1), 7.1561797299, 1e-9, 0);
  CHECK_CLOSE(ck_limit(1), 8.1548454854, 1e-9, 0);
  CHECK_CLOSE(ck_limit(1), 3 * std::exp(1.0), 1e-14, 0);
  CHECK_CLOSE(ck_closed_form(100000, true, 1), ck_limit(1), 1e-4, 0);  // depth-stable: → 3e
  CHECK_CLOSE(ck_closed_form(1, true, 0.7), 2.0, 1e-14, 0);            // no hidden matrix: W_0 and w
  CHECK_THROWS(ck_closed_form(0, false, 1), InvalidArgument);
  CHECK_THROWS(ck_closed_form(3, true, 0), InvalidArgument);
  CHECK_THROWS(ck_limit(-1), InvalidArgument);
}

TEST_CASE("deeplinear: population gradient against finite differences") {
  for (int variant = 0; variant < 4; ++variant) {
    const bool residual = variant & 1;
    const Param p = variant & 2 ? Param::Ntk : Param::Mup;
    const Arch a = arch(3, 4, 3, residual, p, 0.7, 1.3);
    const std::size_t P = num_params(a);
    std::vector<double> theta(P), g(P), lambda = {1.0, 0.5, 0.25}, target = {0.3, -1.1, 0.6};
    init_params(a, 11, variant, theta.data());
    const double loss = population_loss_gradient(a, theta.data(), lambda.data(), target.data(), 0.2, g.data());
    // ℒ from v directly
    std::vector<double> v(3);
    end_to_end(a, theta.data(), v.data());
    double direct = 0.5 * 0.2 * 0.2;
    for (int k = 0; k < 3; ++k) direct += 0.5 * lambda[k] * (v[k] - target[k]) * (v[k] - target[k]);
    CHECK_CLOSE(loss, direct, 1e-13, 0);
    double worst = 0;
    for (std::size_t q = 0; q < P; ++q) {
      const double h = 1e-5, keep = theta[q];
      theta[q] = keep + h;
      const double lp = population_loss_gradient(a, theta.data(), lambda.data(), target.data(), 0.2, nullptr);
      theta[q] = keep - h;
      const double lm = population_loss_gradient(a, theta.data(), lambda.data(), target.data(), 0.2, nullptr);
      theta[q] = keep;
      worst = std::fmax(worst, std::fabs((lp - lm) / (2 * h) - g[q]));
    }
    CHECK(worst < 1e-8);
  }
}

TEST_CASE("deeplinear: the analytic NTK equals γ0²N ∇f(x)·∇f(x') and xᵀK_0x'") {
  for (int variant = 0; variant < 2; ++variant) {
    const Arch a = arch(5, 6, 3, variant == 1, Param::Ntk, 1.7, 0.8);
    const std::size_t P = num_params(a), D = 5, m = 3;
    std::vector<double> theta(P), x(m * D), K(m * m), K0(D * D);
    init_params(a, 5, 0, theta.data());
    rng::normal(9, 0, 0, m * D, x.data());
    ntk_gram(a, theta.data(), x.data(), m, K.data());
    ntk_matrix(a, theta.data(), K0.data());
    const double g = effective_gamma(a), scale = g * g * double(a.width);
    for (std::size_t i = 0; i < m; ++i) {
      const auto gi = grad_of_f(a, theta.data(), std::vector<double>(x.begin() + i * D, x.begin() + (i + 1) * D));
      for (std::size_t j = 0; j < m; ++j) {
        const auto gj = grad_of_f(a, theta.data(), std::vector<double>(x.begin() + j * D, x.begin() + (j + 1) * D));
        double k = 0, q = 0;
        for (std::size_t p = 0; p < P; ++p) k += gi[p] * gj[p];
        for (std::size_t r = 0; r < D; ++r)
          for (std::size_t s = 0; s < D; ++s) q += x[i * D + r] * K0[r * D + s] * x[j * D + s];
        CHECK_CLOSE(K[i * m + j], scale * k, 1e-12, 1e-12);
        CHECK_CLOSE(K[i * m + j], q, 1e-12, 1e-12);
      }
    }
  }
}

TEST_CASE("deeplinear: empirical c_K within 3 standard errors of the closed form (O9)") {
  // plain L = 3 → 4 (O9: 4.019 ± 0.067 at N = 1000, 12 seeds); residual L = 4, β0 = 1 → 5.078125
  const CkEmpirical plain = ck_empirical(arch(100, 1000, 3), 6, 2024, 8);
  CHECK_CLOSE(plain.closed_form, 4.0, 1e-15, 0);
  CHECK(plain.per_seed.size() == 6);
  CHECK(plain.standard_error > 0.01 && plain.standard_error < 0.2);
  CHECK(std::fabs(plain.mean - 4.0) < 3 * plain.standard_error);
  const CkEmpirical res = ck_empirical(arch(100, 1000, 4, true, Param::Mup, 1, 1), 4, 7, 8);
  CHECK(std::fabs(res.mean - 5.078125) < 3 * res.standard_error);
  CHECK(res.fit_residual[0] < 0.3);
  // fluctuations shrink with width: per-seed sd ∝ N^{-1/2}
  const CkEmpirical narrow = ck_empirical(arch(100, 100, 3), 6, 2024, 8);
  CHECK(narrow.sd > 1.5 * plain.sd);
}

TEST_CASE("deeplinear: one population step is θ − η_eff ∇ℒ; losses, distances and dissipation") {
  for (int variant = 0; variant < 3; ++variant) {
    const Arch a = arch(7, 9, 3, variant == 1, variant == 2 ? Param::Ntk : Param::Mup, 0.9, 1.2);
    RunConfig c = config(a, Spectrum::PowerLaw, 0.05, 1);
    c.noise = 0.1;
    c.seed = 3;
    c.keep_params = true;
    const RunResult r = run_config(c);
    const std::size_t P = num_params(a);
    std::vector<double> theta(P), g(P);
    init_params(a, 3, 0, theta.data());
    const double l0 = population_loss_gradient(a, theta.data(), c.lambda.data(), c.target.data(), 0.1, g.data());
    CHECK_CLOSE(r.loss[0], l0, 1e-13, 0);
    const double lr = tensor_rate(a, c.eta);
    double worst = 0, dist = 0;
    for (std::size_t p = 0; p < P; ++p) {
      const double next = theta[p] - lr * g[p];
      worst = std::fmax(worst, std::fabs(next - r.final_params[p]) / (1 + std::fabs(next)));
      dist += (lr * g[p]) * (lr * g[p]);
    }
    CHECK(worst < 1e-13);
    CHECK_CLOSE(r.dist2[1], dist, 1e-10, 0);
    CHECK_CLOSE(r.dissipation[1], dist, 1e-10, 0);
    const double l1 = population_loss_gradient(a, r.final_params.data(), c.lambda.data(), c.target.data(), 0.1, nullptr);
    CHECK_CLOSE(r.loss[1], l1, 1e-12, 0);
    CHECK_CLOSE(r.heat[1], l0 - l1, 1e-9, 1e-15);
    CHECK(r.dist2[0] == 0 && r.dissipation[0] == 0 && r.heat[0] == 0);
    CHECK(r.steps_done[0] == 1 && r.status == Status::Completed);
  }
}

TEST_CASE("deeplinear: fixed-data steps (P <= D and the Σ̂ form) and online batches") {
  const Arch a = arch(6, 5, 2, false, Param::Mup, 1.0);
  const std::size_t P = num_params(a);
  for (std::size_t samples : {4u, 40u}) {  // X kept (P ≤ D) and Σ̂ = XᵀX/P (P > D)
    RunConfig c = config(a, Spectrum::PowerLaw, 0.05, 1);
    c.training = Training::Fixed;
    c.samples = samples;
    c.noise = 0.3;
    c.seed = 8;
    c.keep_params = true;
    const RunResult r = run_config(c);
    std::vector<double> theta(P), v(6), e;
    init_params(a, 8, 0, theta.data());
    end_to_end(a, theta.data(), v.data());
    const double l0 = train_loss(c, 0, v.data(), 0, samples, &e);
    CHECK_CLOSE(r.train_loss[0], l0, 1e-12, 0);
    const auto g = grad_of_f(a, theta.data(), e);
    const double lr = tensor_rate(a, c.eta);
    double worst = 0;
    for (std::size_t p = 0; p < P; ++p) worst = std::fmax(worst, std::fabs(theta[p] - lr * g[p] - r.final_params[p]));
    CHECK(worst < 1e-12);
    end_to_end(a, r.final_params.data(), v.data());
    CHECK_CLOSE(r.train_loss[1], train_loss(c, 0, v.data(), 0, samples, nullptr), 1e-11, 0);
    CHECK_CLOSE(r.heat[1], l0 - r.train_loss[1], 1e-9, 1e-14);  // 'fixed' descends the train loss
    CHECK(r.train_loss[1] < l0);
  }
  // online step k uses samples kB..kB+B−1 of the same stream: B = P, one step equals 'fixed'
  RunConfig f = config(a, Spectrum::Isotropic, 0.05, 1);
  f.training = Training::Fixed;
  f.samples = 3;
  f.keep_params = true;
  RunConfig o = f;
  o.training = Training::Online;
  o.batch_size = 3;
  const RunResult rf = run_config(f), ro = run_config(o);
  for (std::size_t p = 0; p < P; ++p) CHECK(rf.final_params[p] == ro.final_params[p]);
  CHECK(ro.train_loss.empty());
  // the second online step draws the next batch (samples 3..5)
  o.steps = 2;
  o.log_steps = {0, 2};
  const RunResult ro2 = run_config(o);
  std::vector<double> v(6), e;
  end_to_end(a, ro.final_params.data(), v.data());
  train_loss(o, 0, v.data(), 3, 3, &e);
  const auto g = grad_of_f(a, ro.final_params.data(), e);
  const double lr = tensor_rate(a, o.eta);
  double worst = 0;
  for (std::size_t p = 0; p < P; ++p) worst = std::fmax(worst, std::fabs(ro.final_params[p] - lr * g[p] - ro2.final_params[p]));
  CHECK(worst < 1e-12);
}

TEST_CASE("deeplinear: results do not depend on the thread count (team and per-seed paths)") {
  ThreadGuard guard;
  // a large net (one seed, all threads in the step) and a small one (seeds in parallel)
  for (int which = 0; which < 4; ++which) {
    const bool big = which < 2;
    RunConfig c = config(arch(big ? 300 : 20, big ? 400 : 24, 3, which % 2 == 1), Spectrum::PowerLaw, 0.1, 12);
    c.seeds = big ? 1 : 3;
    c.log_steps = {0, 5, 12};
    c.keep_params = true;
    if (which == 3) {
      c.training = Training::Online;
      c.batch_size = 7;
    }
    if (which == 1) {
      c.training = Training::Fixed;
      c.samples = 33;
    }
    set_threads(1);
    const RunResult r1 = run_config(c);
    set_threads(2);
    const RunResult r2 = run_config(c);
    set_threads(3);
    const RunResult r3 = run_config(c);
    bool same = r1.final_params == r2.final_params && r1.final_params == r3.final_params;
    for (std::size_t i = 0; i < r1.loss.size(); ++i)
      same = same && r1.loss[i] == r2.loss[i] && r1.loss[i] == r3.loss[i] && r1.dist2[i] == r2.dist2[i] &&
             r1.dist2[i] == r3.dist2[i] && r1.dissipation[i] == r2.dissipation[i] && r1.heat[i] == r3.heat[i];
    CHECK(same);
  }
}

TEST_CASE("deeplinear: the trajectory does not depend on the log times") {
  RunConfig c = config(arch(30, 40, 3, true), Spectrum::PowerLaw, 0.05, 37);
  c.keep_params = true;
  c.seeds = 2;
  const RunResult few = run_config(c);
  c.log_steps.clear();
  for (std::size_t t = 0; t <= 37; t += 3) c.log_steps.push_back(t);
  c.log_steps.push_back(37);
  const RunResult many = run_config(c);
  CHECK(few.final_params == many.final_params);
  const std::size_t last = c.log_steps.size() - 1;
  for (std::size_t s = 0; s < 2; ++s) {
    CHECK(few.loss[2 + s] == many.loss[last * 2 + s]);
    CHECK(few.dist2[2 + s] == many.dist2[last * 2 + s]);
    CHECK(few.dissipation[2 + s] == many.dissipation[last * 2 + s]);
  }
}

TEST_CASE("deeplinear: speed-limit efficiencies: kinematic <= 1, loss efficiency 1 + O(η) at t = 1, then decaying") {
  for (double eta : {0.05, 0.002}) {
    RunConfig c = config(arch(50, 64, 2), Spectrum::PowerLaw, eta, 400);
    c.log_steps = {0, 1, 10, 100, 400};
    c.seeds = 2;
    const RunResult r = run_config(c);
    const double lr = tensor_rate(c.arch, c.eta);
    double prev = 2;
    for (std::size_t li = 1; li < 5; ++li) {
      const double t = double(c.log_steps[li]);
      for (std::size_t s = 0; s < 2; ++s) {
        const std::size_t at = li * 2 + s;
        const double kin = r.dist2[at] / (t * r.dissipation[at]);
        const double eff = r.dist2[at] / (lr * t * r.heat[at]);
        CHECK(kin <= 1 + 1e-12);
        if (li == 1) CHECK_CLOSE(kin, 1.0, 1e-12, 0);
        // one GD step: |Δθ|²/(η_eff ΔL) = 1 + O(η_eff λ): above 1 by a discretisation term
        if (li == 1) CHECK(eff > 1 && eff < 1 + 30 * eta);
        if (li > 1) CHECK(eff < 1 + 30 * eta);
        if (s == 0) {
          CHECK(eff < prev);
          prev = eff;
        }
      }
    }
    CHECK(r.loss[4 * 2] < 0.9 * r.loss[0]);
  }
}

TEST_CASE("deeplinear: lazy-limit deviation shrinks with width (O9, NTK parameterisation)") {
  // O9: L = 2, D = 100, power law α = 1.5, b = 0.5, η = 0.3, 300 steps: 0.162 (N = 250), 0.056 (N = 1000)
  double dev[2] = {0, 0}, dev_c[2] = {0, 0};
  const std::size_t widths[2] = {250, 1000};
  for (int k = 0; k < 2; ++k) {
    RunConfig c = config(arch(100, widths[k], 2, false, Param::Ntk, 1.0), Spectrum::PowerLaw, 0.3, 300);
    c.seeds = 2;
    c.lazy = true;
    c.log_steps.clear();
    for (std::size_t t : {0, 1, 3, 10, 30, 100, 200, 300}) c.log_steps.push_back(t);
    const RunResult r = run_config(c);
    for (std::size_t s = 0; s < 2; ++s) {
      CHECK_CLOSE(r.lazy_kernel[s], r.loss[s], 1e-10, 0);  // t = 0: same v_0
      CHECK_CLOSE(r.lazy_constant[s], r.loss[s], 1e-10, 0);
      CHECK(std::fabs(r.kernel_ck[s] - 3.0) < 0.6);
      for (std::size_t li = 0; li < c.log_steps.size(); ++li) {
        const std::size_t at = li * 2 + s;
        dev[k] = std::fmax(dev[k], std::fabs(r.loss[at] - r.lazy_kernel[at]) / r.lazy_kernel[at] / 2);
        dev_c[k] = std::fmax(dev_c[k], std::fabs(r.loss[at] - r.lazy_constant[at]) / r.lazy_constant[at] / 2);
      }
    }
  }
  std::printf("  lazy deviation (kernel) N=250: %.3f, N=1000: %.3f; (c_K I) %.3f, %.3f\n", 2 * dev[0], 2 * dev[1], 2 * dev_c[0], 2 * dev_c[1]);
  CHECK(dev[1] < 0.6 * dev[0]);
  CHECK(2 * dev[1] < 0.15);
  CHECK(2 * dev[0] > 0.05);
}

TEST_CASE("deeplinear: μP loss at fixed time improves monotonically with width (O9)") {
  // O9: γ0 = 1, L = 1, D = 200, α = 1.5, b = 0.5, η = 0.2, 4 seeds, t = 1000:
  // 2.248e-3 (N = 125), 1.937e-3 (250), 1.784e-3 (500)
  const double o9[3] = {2.248e-3, 1.937e-3, 1.784e-3};
  double prev = 1;
  int k = 0;
  for (std::size_t N : {125u, 250u, 500u}) {
    RunConfig c = config(arch(200, N, 1), Spectrum::PowerLaw, 0.2, 1000);
    c.seeds = 4;
    const RunResult r = run_config(c);
    double mean = 0;
    for (std::size_t s = 0; s < 4; ++s) mean += r.loss[4 + s] / 4;
    std::printf("  N = %zu: %.4e (O9 %.3e)\n", N, mean, o9[k]);
    CHECK(mean < prev);
    CHECK(std::fabs(mean - o9[k]) < 0.12 * o9[k]);
    prev = mean;
    ++k;
  }
}

TEST_CASE("deeplinear: bad input names the option") {
  const RunConfig good = config(arch(4, 5, 2), Spectrum::Isotropic, 0.1, 3);
  auto expect = [&](auto mutate, const char* needle) {
    RunConfig c = good;
    mutate(c);
    bool thrown = false;
    try {
      validate(c);
    } catch (const InvalidArgument& e) {
      thrown = std::string(e.what()).find(needle) != std::string::npos;
      if (!thrown) std::fprintf(stderr, "  message without '%s': %s\n", needle, e.what());
    }
    CHECK(thrown);
  };
  expect([](RunConfig& c) { c.arch.width = 0; }, "width");
  expect([](RunConfig& c) { c.arch.depth = 0; }, "depth");
  expect([](RunConfig& c) { c.arch.input_dim = 0; }, "inputDim");
  expect([](RunConfig& c) { c.arch.gamma0 = 0; }, "gamma0");
  expect([](RunConfig& c) { c.arch.residual = true; c.arch.beta0 = NAN; }, "beta0");
  expect([](RunConfig& c) { c.eta = -1; }, "learningRate");
  expect([](RunConfig& c) { c.steps = 0; }, "steps");
  expect([](RunConfig& c) { c.seeds = 0; }, "seeds");
  expect([](RunConfig& c) { c.noise = -1; }, "noise");
  expect([](RunConfig& c) { c.lambda[1] = -1; }, "eigenvalues");
  expect([](RunConfig& c) { c.lambda.assign(4, 0.0); }, "eigenvalues");
  expect([](RunConfig& c) { c.target.pop_back(); }, "target");
  expect([](RunConfig& c) { c.training = Training::Fixed; }, "samples");
  expect([](RunConfig& c) { c.training = Training::Online; }, "batchSize");
  expect([](RunConfig& c) { c.log_steps = {0, 5}; }, "logTimes");
  expect([](RunConfig& c) { c.log_steps = {2, 1}; }, "logTimes");
  expect([](RunConfig& c) { c.training = Training::Online; c.batch_size = 2; c.lazy = true; }, "lazy");
  expect([](RunConfig& c) { static double x[3]; c.init = x; c.init_count = 2; }, "init");
  CHECK_THROWS(ck_empirical(arch(4, 5, 2), 0, 0, 4), InvalidArgument);
  CHECK_THROWS(ck_empirical(arch(4, 5, 2), 2, 0, 1), InvalidArgument);
}

TEST_CASE("deeplinear: abort and divergence") {
  RunConfig c = config(arch(10, 12, 2), Spectrum::Isotropic, 0.1, 50);
  c.seeds = 3;
  std::int32_t flag = 1;
  double progress = -1;
  Control control;
  control.abort_flag = &flag;
  control.progress = &progress;
  const RunResult ra = run_config(c, control);
  CHECK(ra.status == Status::Aborted);
  flag = 0;
  const RunResult ok = run_config(c, control);
  CHECK(ok.status == Status::Completed);
  CHECK_CLOSE(progress, 1.0, 1e-15, 0);
  c.eta = 1e6;  // far beyond the stability edge
  c.steps = 400;
  c.log_steps = {0, 400};
  const RunResult rd = run_config(c);
  CHECK(rd.status == Status::Diverged);
  CHECK(rd.diverged_seed == 0 && rd.diverged_step > 0);
  CHECK(std::isnan(rd.loss[3]) && !std::isnan(rd.loss[0]));
}

TEST_MAIN()
