// Langevin engine: THEORY.md O3 (discrete GD), the telescoping identity of the discrete-chain
// entropy production for a quadratic loss, determinism (threads, shards), batch schedules,
// divergence, abort and bad input.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "core/dynamics.hpp"
#include "core/errors.hpp"
#include "core/threads.hpp"
#include "net_fixtures.hpp"

using namespace speedlimits;
using dynamics::Method;

namespace {

// The O2/O3 linear model as a network: f(x) = θ·x (no hidden layer, no bias, 'standard').
nets::Network linear_net(std::size_t d) {
  return nets::Network(sltest::fcn_spec(d, {}, 1, nets::Activation::Linear, nets::Parameterization::Standard, false, 1, 0));
}
const std::vector<double> kJ = {1, 0, 1, 0, 0, 2, 0, 1, 1, 1, 0, 0};
const std::vector<double> kY = {1, -1, 0.5};
const std::vector<double> kTheta0 = {0.2, -0.1, 0, 0.3};

dynamics::TrainConfig base(Method m, std::size_t steps, std::size_t M) {
  dynamics::TrainConfig c;
  c.method = m;
  c.eta = 0.1;
  c.steps = steps;
  c.replica_end = M;
  c.log_steps = {0, steps};
  c.seed = 7;
  return c;
}

// A small relu network and data for the determinism checks.
struct Small {
  nets::Network net{sltest::fcn_spec(5, {7, 6}, 2, nets::Activation::Relu, nets::Parameterization::Ntk, true, 1.3, 0.2)};
  std::vector<double> x = sltest::normal_draws(3, 0, 12 * 5), y = sltest::normal_draws(3, 1, 12 * 2);
  std::size_t n = 12;
};

dynamics::TrainResult run(const nets::Network& net, const std::vector<double>& x, const std::vector<double>& y,
                          std::size_t n, const dynamics::TrainConfig& c, const Control& control = Control{}) {
  dynamics::TrainResult r;
  dynamics::train(net, x.data(), y.data(), n, c, r, control);
  return r;
}

}  // namespace

TEST_CASE("dynamics: GD reproduces THEORY.md O3") {
  auto net = linear_net(4);
  auto c = base(Method::Gd, 100, 1);
  c.init.kind = dynamics::InitKind::Given;
  c.init.params = kTheta0.data();
  c.init.count = 1;
  auto r = run(net, kJ, kY, 3, c);
  CHECK(r.status == dynamics::Status::Completed);
  CHECK(r.logged == 2);
  CHECK_CLOSE(r.dist2[1], 0.8356142898, 1e-9, 0);
  CHECK_CLOSE(r.dissipation[1], 0.1212379150, 1e-9, 0);
  CHECK_CLOSE(r.heat[1], 1.0049970704, 1e-9, 0);
  CHECK_CLOSE(r.loss[0], 1.005, 1e-12, 0);
  const double ekin = r.dist2[1] / (100 * r.dissipation[1]);
  const double eloss = r.dist2[1] / (0.1 * 100 * r.heat[1]);
  CHECK_CLOSE(ekin, 0.0689235121, 1e-8, 0);
  CHECK_CLOSE(eloss, 0.0831459428, 1e-8, 0);
}

TEST_CASE("dynamics: discrete-chain entropy telescopes for a quadratic loss") {
  // For quadratic L: Σ_K(medium) = [L(θ0) − L(θK)]/T + η(|g_K|² − |g_0|²)/(4T) (THEORY.md §4.4).
  auto net = linear_net(4);
  auto c = base(Method::Langevin, 60, 3);
  c.temperature = 0.1;
  c.weight_decay = 0.5;
  c.entropy = true;
  c.log_steps = {0, 1, 17, 60};
  c.init.kind = dynamics::InitKind::Gaussian;
  c.init.theta0 = kTheta0.data();
  c.init.sigma0 = 0.2;
  c.init.seed = 11;
  auto r = run(net, kJ, kY, 3, c);
  CHECK(r.status == dynamics::Status::Completed);
  // Full gradients at the recorded points need θ_k: rerun with snapshots at the log steps.
  c.snapshot_steps = c.log_steps;
  auto s = run(net, kJ, kY, 3, c);
  for (std::size_t li = 0; li < c.log_steps.size(); ++li)
    for (std::size_t i = 0; i < 3; ++i) {
      auto grad_sq = [&](const double* th) {
        std::vector<double> g(4);
        net.loss_gradient<double>(th, kJ.data(), kY.data(), 3, g.data(), nullptr);
        double q = 0;
        for (int p = 0; p < 4; ++p) q += (g[p] + 0.5 * th[p]) * (g[p] + 0.5 * th[p]);
        return q;
      };
      const double gk = grad_sq(s.snapshots[li].data() + i * 4), g0 = grad_sq(s.initial_params.data() + i * 4);
      const double expect = r.heat[li * 3 + i] / 0.1 + 0.1 * (gk - g0) / (4 * 0.1);
      CHECK_CLOSE(r.entropy[li * 3 + i], expect, 1e-12, 1e-12);
    }
  CHECK(r.entropy[0] == 0);
}

TEST_CASE("dynamics: replicas equal separate runs and shards, bit for bit, with 1 or 2 threads") {
  Small s;
  const int threads = get_threads();
  for (Method m : {Method::Langevin, Method::Sgld, Method::Sgworld}) {
    auto c = base(m, 23, 4);
    c.temperature = 0.05;
    c.weight_decay = 0.01;
    c.batch_size = 5;
    c.log_steps = {0, 3, 10, 23};
    c.init.seed = 5;
    set_threads(2);
    auto all = run(s.net, s.x, s.y, s.n, c);
    set_threads(1);
    auto one = run(s.net, s.x, s.y, s.n, c);
    CHECK(all.final_params == one.final_params);
    CHECK(all.loss == one.loss);
    CHECK(all.dissipation == one.dissipation);
    set_threads(2);
    for (std::size_t rep = 0; rep < 4; ++rep) {
      auto c1 = c;
      c1.replica_begin = rep;
      c1.replica_end = rep + 1;
      auto single = run(s.net, s.x, s.y, s.n, c1);
      const std::size_t P = s.net.num_params();
      CHECK(std::vector<double>(all.final_params.begin() + rep * P, all.final_params.begin() + (rep + 1) * P) ==
            single.final_params);
      for (std::size_t li = 0; li < 4; ++li) {
        CHECK(all.loss[li * 4 + rep] == single.loss[li]);
        CHECK(all.dist2[li * 4 + rep] == single.dist2[li]);
      }
    }
    // Replicas differ from one another and training lowered the loss on average.
    CHECK(all.final_params[0] != all.final_params[s.net.num_params()]);
  }
  set_threads(threads);
}

TEST_CASE("dynamics: network init matches Network::init per replica stream") {
  Small s;
  auto c = base(Method::Gd, 1, 3);
  c.replica_begin = 4;
  c.replica_end = 7;
  c.init.seed = 99;
  auto r = run(s.net, s.x, s.y, s.n, c);
  const std::size_t P = s.net.num_params();
  std::vector<double> p(P);
  for (std::size_t i = 0; i < 3; ++i) {
    s.net.init(99, 4 + i, p.data());
    CHECK(std::vector<double>(r.initial_params.begin() + i * P, r.initial_params.begin() + (i + 1) * P) == p);
  }
}

TEST_CASE("dynamics: SGWORLD visits every sample once per epoch (B | n, T = 0: equals GD epoch sums)") {
  // With a linear model and T = 0, η small, one SGWORLD epoch applies the n/B batch gradients
  // in some order; with B = n it is exactly GD.
  auto net = linear_net(4);
  auto c = base(Method::Sgworld, 10, 1);
  c.batch_size = 3;
  c.init.kind = dynamics::InitKind::Given;
  c.init.params = kTheta0.data();
  c.init.count = 1;
  auto w = run(net, kJ, kY, 3, c);
  c.method = Method::Gd;
  auto g = run(net, kJ, kY, 3, c);
  for (std::size_t p = 0; p < 4; ++p) CHECK_CLOSE(w.final_params[p], g.final_params[p], 1e-14, 1e-15);
  c.method = Method::Sgld;  // B = n with WR also takes every sample each step
  auto l = run(net, kJ, kY, 3, c);
  for (std::size_t p = 0; p < 4; ++p) CHECK_CLOSE(l.final_params[p], g.final_params[p], 1e-14, 1e-15);
}

TEST_CASE("dynamics: minibatch gradient is unbiased (mean SGD step equals the GD step)") {
  // One SGLD step from a fixed θ at T = 0: the average over many replicas of Δθ equals −η∇L.
  auto net = linear_net(4);
  const std::size_t M = 4000;
  auto c = base(Method::Sgld, 1, M);
  c.batch_size = 1;
  c.init.kind = dynamics::InitKind::Given;
  c.init.params = kTheta0.data();
  c.init.count = 1;
  auto r = run(net, kJ, kY, 3, c);
  std::vector<double> g(4);
  net.loss_gradient<double>(kTheta0.data(), kJ.data(), kY.data(), 3, g.data(), nullptr);
  for (std::size_t p = 0; p < 4; ++p) {
    double mean = 0, sq = 0;
    for (std::size_t i = 0; i < M; ++i) {
      const double d = r.final_params[i * 4 + p] - kTheta0[p];
      mean += d;
      sq += d * d;
    }
    mean /= M;
    const double se = std::sqrt((sq / M - mean * mean) / M);
    CHECK(std::fabs(mean - (-0.1 * g[p])) <= 5 * se + 1e-15);
  }
}

TEST_CASE("dynamics: a diverging run stops and reports the step") {
  auto net = linear_net(4);
  auto c = base(Method::Gd, 500, 2);
  c.eta = 5;  // η·h_max ≈ 30: GD explodes
  c.log_steps = {0, 1, 2, 500};
  auto r = run(net, kJ, kY, 3, c);
  CHECK(r.status == dynamics::Status::Diverged);
  CHECK(r.diverged_step > 2 && r.diverged_step < 500);
  CHECK(r.logged == 3);
  CHECK(std::isfinite(r.loss[2 * 2]));
}

TEST_CASE("dynamics: abort stops the run with what was recorded") {
  Small s;
  std::int32_t flag = 1;
  Control control;
  control.abort_flag = &flag;
  auto c = base(Method::Gd, 50, 2);
  auto r = run(s.net, s.x, s.y, s.n, c, control);
  CHECK(r.status == dynamics::Status::Aborted);
  CHECK(r.logged == 0);
}

TEST_CASE("dynamics: ensemble W2 trackers are zero at the start and grow") {
  Small s;
  auto c = base(Method::Langevin, 30, 6);
  c.temperature = 0.01;
  c.w2 = true;
  c.projection_dim = 8;
  c.log_var = true;
  c.log_steps = {0, 10, 30};
  auto r = run(s.net, s.x, s.y, s.n, c);
  CHECK_CLOSE(r.w2[0], 0.0, 0, 1e-9);
  CHECK_CLOSE(r.w2_projected[0], 0.0, 0, 1e-6);
  CHECK_CLOSE(r.log_var_ratio[0], 0.0, 0, 1e-12);
  CHECK(r.w2[2] > 0 && r.w2_projected[2] > 0);
  CHECK_CLOSE(r.w2[2], r.w2_mean[2] + r.w2_cov[2], 1e-10, 1e-14);
  // Gaussian W2² never exceeds the mean squared displacement (a coupling's cost).
  double msd = 0;
  for (std::size_t i = 0; i < 6; ++i) msd += r.dist2[2 * 6 + i] / 6;
  CHECK(r.w2[2] <= msd * (1 + 1e-9));
}

TEST_CASE("dynamics: bad configurations name the option") {
  Small s;
  auto expect = [&](dynamics::TrainConfig c) {
    dynamics::TrainResult r;
    CHECK_THROWS(dynamics::train(s.net, s.x.data(), s.y.data(), s.n, c, r), InvalidArgument);
  };
  auto c = base(Method::Sgld, 10, 2);
  c.batch_size = 3;
  auto bad = c; bad.eta = 0; expect(bad);
  bad = c; bad.eta = NAN; expect(bad);
  bad = c; bad.temperature = -1; expect(bad);
  bad = c; bad.batch_size = 0; expect(bad);
  bad = c; bad.batch_size = 13; expect(bad);
  bad = c; bad.steps = 0; bad.log_steps = {0}; expect(bad);
  bad = c; bad.replica_end = 0; expect(bad);
  bad = c; bad.log_steps = {0, 11}; expect(bad);
  bad = c; bad.log_steps = {3, 3}; expect(bad);
  bad = c; bad.entropy = true; expect(bad);
  bad = c; bad.replica_end = 1; bad.w2 = true; expect(bad);
  bad = c; bad.method = Method::Gd; bad.temperature = 0.1; expect(bad);
  bad = c; bad.init.kind = dynamics::InitKind::Gaussian; expect(bad);
}

int main() { return sltest::run_all(); }
