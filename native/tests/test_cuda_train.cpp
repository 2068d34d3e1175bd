// The GPU training loop (cuda::train) against dynamics::train on the same configuration: every
// method, with every tracker, snapshots, weight decay, minibatches, divergence and abort. Both
// use the same initialisation, minibatch indices and Philox noise, so they agree to rounding
// (the device sums in another order); the cases skip without a CUDA device, except the one
// that checks the error without a device.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "core/cuda_backend.hpp"
#include "core/dynamics.hpp"
#include "core/errors.hpp"
#include "core/nets.hpp"
#include "core/rng.hpp"
#include "cuda_fixtures.hpp"
#include "net_fixtures.hpp"

using namespace speedlimits;
using cudatest::need_device;
using cudatest::rel_max_diff;

namespace {

struct Data {
  std::size_t n, d, k;
  std::vector<double> x, y;
};

Data make_data(std::size_t n, std::size_t d, std::size_t k) {
  Data D{n, d, k, std::vector<double>(n * d), std::vector<double>(n * k)};
  rng::normal(41, 3, 0, D.x.size(), D.x.data());
  rng::normal(42, 3, 0, D.y.size(), D.y.data());
  return D;
}

dynamics::TrainConfig config(dynamics::Method m) {
  dynamics::TrainConfig c;
  c.method = m;
  c.eta = 0.01;
  c.temperature = m == dynamics::Method::Gd ? 0.0 : 0.03;
  c.weight_decay = 0.02;
  c.batch_size = 7;
  c.steps = 25;
  c.seed = 1234;
  c.replica_begin = 3;
  c.replica_end = 7;
  c.log_steps = {0, 1, 10, 25};
  c.snapshot_steps = {0, 12, 25};
  c.entropy = m == dynamics::Method::Langevin;
  c.w2 = true;
  c.projection_dim = 3;
  c.log_var = m != dynamics::Method::Gd;
  c.init.kind = dynamics::InitKind::Network;
  c.init.seed = 17;
  return c;
}

// Per-entry |a − b| ≤ atol + rtol·|b|, NaNs must match.
bool close_series(const std::vector<double>& a, const std::vector<double>& b, double rtol, double atol) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (std::isnan(a[i]) != std::isnan(b[i])) return false;
      continue;
    }
    if (!(std::fabs(a[i] - b[i]) <= atol + rtol * std::fabs(b[i]))) {
      std::fprintf(stderr, "  entry %zu: %.17g vs %.17g\n", i, a[i], b[i]);
      return false;
    }
  }
  return true;
}

void compare_runs(const nets::Network& net, const Data& D, const dynamics::TrainConfig& c) {
  dynamics::TrainResult cpu, gpu;
  dynamics::train(net, D.x.data(), D.y.data(), D.n, c, cpu);
  cuda::train(net, D.x.data(), D.y.data(), D.n, c, gpu);
  CHECK(gpu.status == cpu.status);
  CHECK(gpu.steps_done == cpu.steps_done);
  CHECK(gpu.logged == cpu.logged);
  CHECK(gpu.snapshots_taken == cpu.snapshots_taken);
  CHECK(gpu.replicas == cpu.replicas && gpu.params == cpu.params);
  CHECK(gpu.initial_params == cpu.initial_params);  // the same init code on the host: bit-identical
  const double perr = rel_max_diff(gpu.final_params, cpu.final_params);
  if (!(perr < 1e-10)) std::fprintf(stderr, "  %s: final params rel err %.3g\n", dynamics::method_name(c.method), perr);
  CHECK(perr < 1e-10);
  CHECK(gpu.snapshots.size() == cpu.snapshots.size());
  for (std::size_t s = 0; s < cpu.snapshots.size() && s < gpu.snapshots.size(); ++s)
    CHECK(rel_max_diff(gpu.snapshots[s], cpu.snapshots[s]) < 1e-10);
  CHECK(close_series(gpu.loss, cpu.loss, 1e-10, 1e-12));
  CHECK(close_series(gpu.dist2, cpu.dist2, 1e-9, 1e-14));
  CHECK(close_series(gpu.dissipation, cpu.dissipation, 1e-9, 1e-14));
  CHECK(close_series(gpu.heat, cpu.heat, 1e-8, 1e-10));
  CHECK(close_series(gpu.entropy, cpu.entropy, 1e-7, 1e-8));
  CHECK(close_series(gpu.w2, cpu.w2, 1e-8, 1e-12));
  CHECK(close_series(gpu.w2_mean, cpu.w2_mean, 1e-8, 1e-12));
  CHECK(close_series(gpu.w2_cov, cpu.w2_cov, 1e-8, 1e-12));
  CHECK(close_series(gpu.w2_projected, cpu.w2_projected, 1e-6, 1e-10));
  CHECK(close_series(gpu.log_var_ratio, cpu.log_var_ratio, 1e-8, 1e-9));
  // Sanity: the runs moved and the trackers were filled where the CPU filled them.
  CHECK(cpu.dist2.back() > 0);
}

}  // namespace

TEST_CASE("cuda::train without a device throws ERR_CUDA_UNAVAILABLE") {
  if (cuda::available()) SKIP("a CUDA device is visible: the unavailable path cannot be exercised here");
  nets::Network net(sltest::fcn_spec(3, {8}, 1, nets::Activation::Tanh, nets::Parameterization::Ntk, true, 1.4, 0.3));
  const Data D = make_data(12, 3, 1);
  dynamics::TrainResult r;
  CHECK_THROWS(cuda::train(net, D.x.data(), D.y.data(), D.n, config(dynamics::Method::Gd), r), CudaUnavailable);
  // A bad configuration is still InvalidArgument first (the same validation as the CPU).
  auto bad = config(dynamics::Method::Gd);
  bad.eta = 0;
  CHECK_THROWS(cuda::train(net, D.x.data(), D.y.data(), D.n, bad, r), InvalidArgument);
}

TEST_CASE("cuda::train matches dynamics::train: gd and langevin (entropy, w2, projection, logVar, snapshots)") {
  need_device();
  const Data D = make_data(30, 4, 2);
  nets::Network net(sltest::fcn_spec(4, {24, 16}, 2, nets::Activation::Tanh, nets::Parameterization::Ntk, true, 1.4, 0.3));
  compare_runs(net, D, config(dynamics::Method::Gd));
  compare_runs(net, D, config(dynamics::Method::Langevin));
}

TEST_CASE("cuda::train matches dynamics::train: sgld and sgworld minibatches (the host draws the same indices)") {
  need_device();
  const Data D = make_data(30, 4, 2);
  nets::Network net(sltest::fcn_spec(4, {24}, 2, nets::Activation::Gelu, nets::Parameterization::Ntk, true, 1.4, 0.3));
  compare_runs(net, D, config(dynamics::Method::Sgld));
  compare_runs(net, D, config(dynamics::Method::Sgworld));
  // No weight decay, one replica, a given init broadcast to all replicas, no bias.
  nets::Network nb(sltest::fcn_spec(4, {33}, 1, nets::Activation::Relu, nets::Parameterization::Standard, false, 1.0, 0.0));
  const Data D1 = make_data(29, 4, 1);
  auto c = config(dynamics::Method::Sgld);
  c.weight_decay = 0;
  c.replica_end = c.replica_begin + 1;
  c.w2 = false;
  c.projection_dim = 0;
  c.log_var = false;
  std::vector<double> init(nb.num_params());
  nb.init(5, 0, init.data());
  c.init.kind = dynamics::InitKind::Given;
  c.init.params = init.data();
  c.init.count = 1;
  compare_runs(nb, D1, c);
}

TEST_CASE("cuda::train diverges at the same step and replica as the CPU, and honours abort") {
  need_device();
  const Data D = make_data(20, 3, 1);
  nets::Network net(sltest::fcn_spec(3, {16}, 1, nets::Activation::Linear, nets::Parameterization::Standard, true, 1.0, 1.0));
  auto c = config(dynamics::Method::Gd);
  c.eta = 5.0;  // far beyond the stability limit: the loss overflows within a few hundred steps
  c.steps = 2000;
  c.log_steps = {0, 2000};
  c.snapshot_steps = {};
  c.w2 = false;
  c.projection_dim = 0;
  dynamics::TrainResult cpu, gpu;
  dynamics::train(net, D.x.data(), D.y.data(), D.n, c, cpu);
  cuda::train(net, D.x.data(), D.y.data(), D.n, c, gpu);
  CHECK(cpu.status == dynamics::Status::Diverged);
  CHECK(gpu.status == dynamics::Status::Diverged);
  CHECK(gpu.diverged_step == cpu.diverged_step);
  CHECK(gpu.diverged_replica == cpu.diverged_replica);
  std::int32_t flag = 1;
  Control ctl;
  ctl.abort_flag = &flag;
  dynamics::TrainResult ab;
  cuda::train(net, D.x.data(), D.y.data(), D.n, config(dynamics::Method::Langevin), ab, ctl);
  CHECK(ab.status == dynamics::Status::Aborted);
  CHECK(ab.steps_done == 0);
  CHECK(ab.final_params == ab.initial_params);
}

TEST_CASE("cuda::train rejects a CNN with ERR_CUDA_UNSUPPORTED") {
  need_device();
  nets::Network cnn(sltest::cnn_spec(1, 4, 4, {2}, 1, nets::Activation::Relu, nets::Parameterization::Ntk, true, 1.4, 0.1));
  std::vector<double> x(3 * 16, 0.5), y(3, 0.1);
  dynamics::TrainResult r;
  bool thrown = false;
  try {
    cuda::train(cnn, x.data(), y.data(), 3, config(dynamics::Method::Gd), r);
  } catch (const CudaUnsupported& e) {
    thrown = true;
    CHECK(e.code() == "ERR_CUDA_UNSUPPORTED");
  }
  CHECK(thrown);
}

TEST_MAIN()
