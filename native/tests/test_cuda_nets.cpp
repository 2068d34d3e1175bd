// CUDA kernels of the Langevin and NTK engines against the CPU core on the same inputs:
// in-kernel Philox normals (bit-identical), the ensemble update, the FCN forward/backward of an
// ensemble (against Network::loss_gradient), whole Langevin / gradient-descent steps against
// dynamics::train, the tiled GEMM (all transposes, fp32/fp64), and the FCN empirical NTK
// (full and trace, k = 1 and 3, every activation) against Network::ntk. Each case skips without
// a CUDA device.
#include <cmath>
#include <cstring>
#include <vector>

#include "check.hpp"
#include "core/cuda_backend.hpp"
#include "core/dynamics.hpp"
#include "core/linalg.hpp"
#include "core/nets.hpp"
#include "core/rng.hpp"
#include "cuda_fixtures.hpp"
#include "net_fixtures.hpp"

using namespace speedlimits;
using cudatest::cast;
using cudatest::need_device;
using cudatest::rel_max_diff;

namespace {

std::vector<double> normals(std::uint64_t seed, std::size_t n, double scale = 1.0) {
  std::vector<double> v(n);
  rng::normal(seed, 9, 0, n, v.data());
  for (auto& x : v) x *= scale;
  return v;
}

nets::NetSpec fcn(std::size_t d, std::vector<std::size_t> widths, std::size_t k, nets::Activation act, bool bias = true,
                  nets::Parameterization par = nets::Parameterization::Ntk) {
  return sltest::fcn_spec(d, std::move(widths), k, act, par, bias, 1.4, 0.3);
}

}  // namespace

TEST_CASE("cuda normal draws are bit-identical to rng::normal (noise streams, odd offsets)") {
  need_device();
  for (std::uint64_t stream : {dynamics::kNoiseStream, dynamics::kNoiseStream + 17, std::uint64_t(5)}) {
    for (std::uint64_t offset : {std::uint64_t(0), std::uint64_t(63), std::uint64_t(3072) * 11 + 5}) {
      std::vector<double> cpu(4099), gpu(4099);
      rng::normal(123, stream, offset, cpu.size(), cpu.data());
      cuda::normal(123, stream, offset, gpu.size(), gpu.data());
      CHECK(std::memcmp(cpu.data(), gpu.data(), cpu.size() * sizeof(double)) == 0);
    }
  }
}

TEST_CASE("cuda ensemble update equals the CPU update formula with the CPU noise stream") {
  need_device();
  const std::size_t M = 3, P = 5000;
  auto theta = normals(1, M * P), grad = normals(2, M * P, 0.1);
  cuda::UpdateParams u;
  u.eta = 0.01;
  u.gamma = 0.1;
  u.scale = 4.0;
  u.sd = std::sqrt(2 * u.eta * 0.5);
  u.seed = 77;
  u.replica_begin = 5;
  u.step = 3;
  std::vector<double> ref = theta, diss_ref(M, 1.0), dg_ref(M, 2.0);
  for (std::size_t r = 0; r < M; ++r) {
    std::vector<double> xi(P);
    rng::normal(u.seed, dynamics::kNoiseStream + u.replica_begin + r, u.step * P, P, xi.data());
    for (std::size_t p = 0; p < P; ++p) {
      double& th = ref[r * P + p];
      const double gp = u.scale * grad[r * P + p] + u.gamma * th;
      const double delta = -u.eta * gp + u.sd * xi[p];
      dg_ref[r] += delta * gp;
      diss_ref[r] += delta * delta;
      th += delta;
    }
  }
  std::vector<double> diss(M, 1.0), dg(M, 2.0);
  cuda::langevin_update(M, P, theta.data(), grad.data(), u, diss.data(), dg.data());
  CHECK(rel_max_diff(theta, ref) < 1e-15);
  for (std::size_t r = 0; r < M; ++r) {
    CHECK_CLOSE(diss[r], diss_ref[r], 1e-12, 0);
    CHECK_CLOSE(dg[r], dg_ref[r], 1e-12, 1e-15);
  }
  // sd = 0: the plain gradient step
  auto t2 = normals(1, M * P);
  u.sd = 0;
  cuda::langevin_update(M, P, t2.data(), grad.data(), u, nullptr, nullptr);
  double worst = 0;
  const auto t0 = normals(1, M * P);
  for (std::size_t e = 0; e < M * P; ++e)
    worst = std::max(worst, std::fabs(t2[e] - (t0[e] - u.eta * (u.scale * grad[e] + u.gamma * t0[e]))));
  CHECK(worst < 4e-15);
}

TEST_CASE("cuda ensemble loss gradient equals Network::loss_gradient per replica (all activations)") {
  need_device();
  for (auto act : {nets::Activation::Relu, nets::Activation::Erf, nets::Activation::Tanh, nets::Activation::Linear,
                   nets::Activation::Gelu}) {
    for (bool bias : {true, false}) {
      nets::Network net(fcn(7, {33, 20}, 3, act, bias, bias ? nets::Parameterization::Ntk : nets::Parameterization::Standard));
      const std::size_t M = 3, B = 37, P = net.num_params();
      std::vector<double> params(M * P);
      for (std::size_t r = 0; r < M; ++r) net.init(5, r, params.data() + r * P);
      const auto x = normals(3, M * B * 7), y = normals(4, M * B * 3);
      std::vector<double> grad(M * P), loss(M), gref(M * P);
      cuda::ensemble_loss_gradient(cuda::fcn_plan(net), M, params.data(), x.data(), y.data(), B, grad.data(), loss.data());
      for (std::size_t r = 0; r < M; ++r) {
        const double l = net.loss_gradient<double>(params.data() + r * P, x.data() + r * B * 7, y.data() + r * B * 3, B,
                                                   gref.data() + r * P, nullptr);
        CHECK_CLOSE(loss[r], l, 1e-12, 0);
      }
      const double err = rel_max_diff(grad, gref);
      if (!(err < 1e-11)) std::fprintf(stderr, "  act %s bias %d: rel err %.3g\n", nets::activation_name(act), bias, err);
      CHECK(err < 1e-11);
    }
  }
}

TEST_CASE("cuda Langevin and gd steps reproduce dynamics::train (same init, several steps)") {
  need_device();
  nets::Network net(fcn(4, {16}, 1, nets::Activation::Tanh));
  const std::size_t n = 24, M = 2, P = net.num_params(), steps = 6;
  const auto x = normals(11, n * 4), y = normals(12, n);
  std::vector<double> init(M * P);
  for (std::size_t r = 0; r < M; ++r) net.init(8, r, init.data() + r * P);
  for (auto method : {dynamics::Method::Gd, dynamics::Method::Langevin}) {
    dynamics::TrainConfig c;
    c.method = method;
    c.eta = 0.01;
    c.temperature = method == dynamics::Method::Gd ? 0.0 : 0.05;
    c.weight_decay = 0.01;
    c.steps = steps;
    c.seed = 99;
    c.replica_begin = 3;
    c.replica_end = 3 + M;
    c.log_steps = {steps};
    c.init.kind = dynamics::InitKind::Given;
    c.init.params = init.data();
    c.init.count = M;
    dynamics::TrainResult res;
    dynamics::train(net, x.data(), y.data(), n, c, res);
    CHECK(res.status == dynamics::Status::Completed);
    // The same steps on the device: gradients of the full batch, then the update.
    std::vector<double> theta = init, grad(M * P), loss(M), xs(M * n * 4), ys(M * n), diss(M, 0.0), dg(M, 0.0);
    for (std::size_t r = 0; r < M; ++r) {
      std::copy(x.begin(), x.end(), xs.begin() + r * n * 4);
      std::copy(y.begin(), y.end(), ys.begin() + r * n);
    }
    const auto plan = cuda::fcn_plan(net);
    for (std::size_t k = 0; k < steps; ++k) {
      cuda::ensemble_loss_gradient(plan, M, theta.data(), xs.data(), ys.data(), n, grad.data(), loss.data());
      cuda::UpdateParams u;
      u.eta = c.eta;
      u.gamma = c.weight_decay;
      u.scale = 1.0;
      u.sd = std::sqrt(2.0 * c.eta * c.temperature);
      u.seed = c.seed;
      u.replica_begin = c.replica_begin;
      u.step = k;
      cuda::langevin_update(M, P, theta.data(), grad.data(), u, diss.data(), dg.data());
    }
    CHECK(rel_max_diff(theta, res.final_params) < 1e-12);
    for (std::size_t r = 0; r < M; ++r) CHECK_CLOSE(diss[r], res.dissipation[r], 1e-9, 0);
  }
}

namespace {
template <typename T>
void compare_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double tol) {
  const std::size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
  const auto A = cast<T>(normals(1, (ta ? k : m) * lda)), B = cast<T>(normals(2, (tb ? n : k) * ldb));
  auto C0 = cast<T>(normals(3, m * ldc));
  auto Cg = C0, Cc = C0;
  linalg::gemm(ta ? linalg::Trans::Yes : linalg::Trans::No, tb ? linalg::Trans::Yes : linalg::Trans::No, m, n, k, T(0.7),
               A.data(), lda, B.data(), ldb, T(-0.5), Cc.data(), ldc);
  cuda::gemm<T>(ta, tb, m, n, k, T(0.7), A.data(), lda, B.data(), ldb, T(-0.5), Cg.data(), ldc);
  CHECK(rel_max_diff(Cg, Cc) < tol);
  bool gaps = true;  // entries between rows (columns n..ldc) are untouched
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = n; j < ldc && i + 1 < m; ++j) gaps = gaps && Cg[i * ldc + j] == C0[i * ldc + j];
  CHECK(gaps);
}
}  // namespace

TEST_CASE("cuda tiled gemm matches linalg::gemm for every transpose, edge tiles, fp64 and fp32") {
  need_device();
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      compare_gemm<double>(ta, tb, 67, 130, 45, 1e-13);
      compare_gemm<float>(ta, tb, 129, 65, 200, 1e-5);
    }
  compare_gemm<double>(false, false, 1, 1, 1, 1e-15);
  compare_gemm<double>(false, true, 5, 3, 0, 1e-15);  // k = 0: C = beta·C
}

namespace {
template <typename T>
void compare_ntk(const nets::NetSpec& spec, std::size_t n1, std::size_t n2, bool same, bool trace, double tol) {
  nets::Network net(spec);
  std::vector<double> pd(net.num_params());
  net.init(3, 0, pd.data());
  const auto p = cast<T>(pd);
  const auto x1 = cast<T>(normals(21, n1 * spec.input_dim)), x2 = cast<T>(normals(22, n2 * spec.input_dim));
  const std::size_t kr = trace ? 1 : spec.output_dim, c2 = same ? n1 : n2;
  std::vector<T> cpu(n1 * kr * c2 * kr), gpu(cpu.size(), T(-7));
  const T* px2 = same ? nullptr : x2.data();
  net.ntk<T>(p.data(), x1.data(), n1, px2, same ? 0 : n2, trace, cpu.data());
  cuda::ntk_fcn<T>(cuda::fcn_plan(net), p.data(), x1.data(), n1, px2, same ? 0 : n2, trace, gpu.data());
  const double err = rel_max_diff(gpu, cpu);
  if (!(err < tol))
    std::fprintf(stderr, "  ntk act=%s k=%zu same=%d trace=%d: rel err %.3g\n", nets::activation_name(spec.activation),
                 spec.output_dim, same, trace, err);
  CHECK(err < tol);
  if (same) {
    const std::size_t R = n1 * kr;
    bool sym = true;
    for (std::size_t i = 0; i < R; ++i)
      for (std::size_t j = 0; j < i; ++j) sym = sym && gpu[i * R + j] == gpu[j * R + i];
    CHECK(sym);
  }
}
}  // namespace

TEST_CASE("cuda FCN NTK fp64 matches Network::ntk (activations, k = 1 and 3, full and trace, x2 given or not)") {
  need_device();
  for (auto act : {nets::Activation::Relu, nets::Activation::Erf, nets::Activation::Tanh, nets::Activation::Linear,
                   nets::Activation::Gelu})
    for (std::size_t k : {std::size_t(1), std::size_t(3)})
      for (bool trace : {false, true}) {
        const auto spec = fcn(6, {40, 24}, k, act);
        compare_ntk<double>(spec, 37, 29, true, trace, 1e-11);
        compare_ntk<double>(spec, 37, 29, false, trace, 1e-11);
      }
}

TEST_CASE("cuda FCN NTK: no hidden layer, no bias, standard parameterisation, fp32") {
  need_device();
  compare_ntk<double>(fcn(5, {}, 2, nets::Activation::Relu), 20, 11, false, false, 1e-12);
  compare_ntk<double>(fcn(5, {70}, 1, nets::Activation::Relu, false, nets::Parameterization::Standard), 90, 90, true,
                      false, 1e-11);
  compare_ntk<float>(fcn(16, {128, 64}, 2, nets::Activation::Erf), 100, 70, false, false, 1e-4);
  compare_ntk<float>(fcn(16, {128}, 1, nets::Activation::Relu), 150, 0, true, true, 1e-4);
}

TEST_MAIN()
