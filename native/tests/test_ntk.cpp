// Tests of the empirical NTK (Network::ntk): against a naive J Jᵀ built from explicit per-sample,
// per-output gradients (loss_gradient with a one-hot residual), for FCN/CNN × all activations ×
// both parameterisations × k ∈ {1, 3}; exact symmetry, PSD, rectangular kernels, full vs trace,
// float vs double, tiled/blocked paths vs single-shot, thread-count independence, backends,
// abort and progress, argument errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "check.hpp"
#include "net_fixtures.hpp"
#include "core/control.hpp"
#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/nets.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"

namespace nt = speedlimits::nets;
namespace la = speedlimits::linalg;
using nt::Activation;
using nt::NetSpec;
using nt::NetType;
using nt::Parameterization;
using std::size_t;

namespace {

const Activation kActs[] = {Activation::Relu, Activation::Erf, Activation::Tanh, Activation::Linear,
                            Activation::Gelu};
const Parameterization kPars[] = {Parameterization::Ntk, Parameterization::Standard};

NetSpec fcn(size_t d, std::vector<size_t> widths, size_t k, Activation act, Parameterization par, bool bias,
            double sw = 1.4, double sb = 0.3) {
  return sltest::fcn_spec(d, std::move(widths), k, act, par, bias, sw, sb);
}

NetSpec cnn(size_t C, size_t H, size_t W, std::vector<size_t> channels, size_t k, Activation act,
            Parameterization par, bool bias, double sw = 1.4, double sb = 0.3) {
  return sltest::cnn_spec(C, H, W, std::move(channels), k, act, par, bias, sw, sb);
}

std::vector<double> normals(uint64_t seed, size_t n, double scale = 1.0) {
  return sltest::normal_draws(seed, 5, n, scale);
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

std::string describe(const NetSpec& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s act=%s par=%s k=%zu bias=%d", s.type == NetType::Fcn ? "fcn" : "cnn",
                nt::activation_name(s.activation), s.parameterization == Parameterization::Ntk ? "ntk" : "standard",
                s.output_dim, int(s.bias));
  return buf;
}

// J [n·k, P], row i·k + a = ∂f_a(x_i)/∂θ, by loss_gradient on one sample with y = f − e_a
// (residual e_a).
std::vector<double> jacobian(const nt::Network& net, const std::vector<double>& p, const double* x, size_t n) {
  const size_t P = net.num_params(), k = net.output_dim(), d = net.input_size();
  std::vector<double> J(n * k * P), f(k), y(k);
  for (size_t i = 0; i < n; ++i) {
    net.forward(p.data(), x + i * d, 1, f.data());
    for (size_t a = 0; a < k; ++a) {
      for (size_t b = 0; b < k; ++b) y[b] = f[b] - (a == b ? 1.0 : 0.0);
      net.loss_gradient(p.data(), x + i * d, y.data(), 1, J.data() + (i * k + a) * P, nullptr);
    }
  }
  return J;
}

// Naive Θ from two Jacobians: full [n1·k, n2·k] or trace [n1, n2].
std::vector<double> naive_ntk(const std::vector<double>& J1, size_t n1, const std::vector<double>& J2, size_t n2,
                              size_t k, size_t P, bool trace) {
  const size_t R = trace ? n1 : n1 * k, C = trace ? n2 : n2 * k;
  std::vector<double> out(R * C, 0.0);
  for (size_t i = 0; i < n1; ++i)
    for (size_t a = 0; a < k; ++a)
      for (size_t j = 0; j < n2; ++j)
        for (size_t b = 0; b < k; ++b) {
          if (trace && a != b) continue;
          const double* u = J1.data() + (i * k + a) * P;
          const double* v = J2.data() + (j * k + b) * P;
          double s = 0;
          for (size_t q = 0; q < P; ++q) s += u[q] * v[q];
          if (trace)
            out[i * C + j] += s / double(k);
          else
            out[(i * k + a) * C + j * k + b] = s;
        }
  return out;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  const double sc = std::max(max_abs(b), 1e-300);
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]) / sc);
  return m;
}

bool exactly_symmetric(const std::vector<double>& K, size_t n) {
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j)
      if (K[i * n + j] != K[j * n + i]) return false;
  return true;
}

double min_eig_ratio(std::vector<double> K, size_t n) {
  std::vector<double> w(n);
  la::syevd(n, K.data(), n, w.data(), false);
  const double mx = std::max(std::fabs(w.front()), std::fabs(w.back()));
  return w.front() / mx;
}

struct Case {
  NetSpec spec;
  std::vector<double> p, x1, x2;
  size_t n1, n2;
};

Case make_case(const NetSpec& s, uint64_t seed, size_t n1, size_t n2) {
  nt::Network net(s);
  Case c{s, std::vector<double>(net.num_params()), {}, {}, n1, n2};
  net.init(seed, 1, c.p.data());
  c.x1 = normals(seed + 11, n1 * net.input_size());
  c.x2 = normals(seed + 12, n2 * net.input_size());
  return c;
}

// Full check of one configuration against the naive J Jᵀ; returns false on failure (printed).
bool check_config(const NetSpec& s, uint64_t seed) {
  const bool cnn_net = s.type == NetType::Cnn;
  Case c = make_case(s, seed, cnn_net ? 3 : 4, cnn_net ? 2 : 3);
  nt::Network net(s);
  const size_t k = s.output_dim, P = net.num_params(), n1 = c.n1, n2 = c.n2;
  const std::vector<double> J1 = jacobian(net, c.p, c.x1.data(), n1), J2 = jacobian(net, c.p, c.x2.data(), n2);
  bool ok = true;
  double worst = 0;
  for (bool trace : {false, true}) {
    const size_t R = trace ? n1 : n1 * k, C2 = trace ? n2 : n2 * k;
    // symmetric
    std::vector<double> K(R * R), ref = naive_ntk(J1, n1, J1, n1, k, P, trace);
    net.ntk(c.p.data(), c.x1.data(), n1, static_cast<const double*>(nullptr), 0, trace, K.data());
    worst = std::max(worst, max_rel_diff(K, ref));
    if (!exactly_symmetric(K, R)) ok = false;
    if (min_eig_ratio(K, R) < -1e-10) ok = false;
    // rectangular
    std::vector<double> Kr(R * C2), refr = naive_ntk(J1, n1, J2, n2, k, P, trace);
    net.ntk(c.p.data(), c.x1.data(), n1, c.x2.data(), n2, trace, Kr.data());
    worst = std::max(worst, max_rel_diff(Kr, refr));
  }
  if (worst > 1e-10) ok = false;
  // full vs trace consistency: trace = mean of the diagonal output blocks
  std::vector<double> F(n1 * k * n1 * k), T(n1 * n1);
  net.ntk(c.p.data(), c.x1.data(), n1, static_cast<const double*>(nullptr), 0, false, F.data());
  net.ntk(c.p.data(), c.x1.data(), n1, static_cast<const double*>(nullptr), 0, true, T.data());
  double tr_err = 0;
  for (size_t i = 0; i < n1; ++i)
    for (size_t j = 0; j < n1; ++j) {
      double m = 0;
      for (size_t a = 0; a < k; ++a) m += F[(i * k + a) * n1 * k + j * k + a];
      tr_err = std::max(tr_err, std::fabs(m / double(k) - T[i * n1 + j]) / max_abs(T));
    }
  if (tr_err > 1e-13) ok = false;
  // float path vs double
  std::vector<float> pf(c.p.begin(), c.p.end()), xf(c.x1.begin(), c.x1.end()), x2f(c.x2.begin(), c.x2.end());
  std::vector<float> Ff(F.size()), Rf(n1 * k * n2 * k);
  net.ntk(pf.data(), xf.data(), n1, static_cast<const float*>(nullptr), 0, false, Ff.data());
  std::vector<double> Fd(Ff.begin(), Ff.end());
  const double ferr = max_rel_diff(Fd, F);
  if (ferr > 1e-4) ok = false;
  for (size_t i = 0; i < Ff.size(); ++i)
    if (Ff[i] != Ff[(i % (n1 * k)) * n1 * k + i / (n1 * k)]) ok = false;  // exact symmetry in float too
  net.ntk(pf.data(), xf.data(), n1, x2f.data(), n2, false, Rf.data());
  std::vector<double> Rd(Rf.begin(), Rf.end()), Rdd(Rf.size());
  net.ntk(c.p.data(), c.x1.data(), n1, c.x2.data(), n2, false, Rdd.data());
  const double ferr2 = max_rel_diff(Rd, Rdd);
  if (ferr2 > 1e-4) ok = false;
  if (!ok || std::getenv("SL_TEST_VERBOSE") != nullptr)
    std::fprintf(stderr, "  %s: rel err vs naive %.3g, trace %.3g, float %.3g / %.3g\n", describe(s).c_str(), worst,
                 tr_err, ferr, ferr2);
  return ok;
}

}  // namespace

TEST_CASE("ntk: FCN against naive J Jᵀ (all activations, parameterisations, k)") {
  uint64_t seed = 1;
  for (Activation act : kActs)
    for (Parameterization par : kPars)
      for (size_t k : {size_t(1), size_t(3)}) {
        CHECK(check_config(fcn(5, {6, 4}, k, act, par, (seed & 1) != 0), seed));
        ++seed;
      }
  CHECK(check_config(fcn(5, {6, 4}, 3, Activation::Tanh, Parameterization::Ntk, false), 99));
  CHECK(check_config(fcn(4, {}, 3, Activation::Relu, Parameterization::Ntk, true), 98));
  CHECK(check_config(fcn(4, {7}, 2, Activation::Gelu, Parameterization::Standard, true), 97));
}

TEST_CASE("ntk: CNN against naive J Jᵀ (all activations, parameterisations, k)") {
  uint64_t seed = 200;
  for (Activation act : kActs)
    for (Parameterization par : kPars)
      for (size_t k : {size_t(1), size_t(3)}) {
        CHECK(check_config(cnn(2, 3, 4, {3, 2}, k, act, par, (seed & 1) != 0), seed));
        ++seed;
      }
  CHECK(check_config(cnn(2, 4, 3, {3}, 3, Activation::Erf, Parameterization::Ntk, false), 299));
  CHECK(check_config(cnn(3, 2, 2, {}, 2, Activation::Relu, Parameterization::Standard, true), 298));
}

TEST_CASE("ntk: x2 == x1 (same pointer) takes the symmetric path; x2 copy agrees") {
  const NetSpec s = fcn(6, {8, 5}, 2, Activation::Erf, Parameterization::Ntk, true);
  Case c = make_case(s, 5, 7, 1);
  nt::Network net(s);
  const size_t R = 14;
  std::vector<double> A(R * R), B(R * R), C(R * R);
  net.ntk(c.p.data(), c.x1.data(), 7, static_cast<const double*>(nullptr), 0, false, A.data());
  net.ntk(c.p.data(), c.x1.data(), 7, c.x1.data(), 7, false, B.data());
  std::vector<double> copy = c.x1;
  net.ntk(c.p.data(), c.x1.data(), 7, copy.data(), 7, false, C.data());
  CHECK(A == B);
  CHECK(max_rel_diff(C, A) < 1e-14);
}

TEST_CASE("ntk: tiled and blocked paths equal the single-shot kernel") {
  const nt::Budgets saved = nt::budgets();
  nt::Budgets tiny;
  tiny.tile = 1;   // one sample row per Θ tile
  tiny.col = 1;    // one sample per im2col block
  tiny.grads = 1;  // one sample of conv gradients at a time (recomputation)
  const NetSpec specs[] = {fcn(5, {6, 4}, 3, Activation::Gelu, Parameterization::Ntk, true),
                           fcn(5, {6}, 1, Activation::Relu, Parameterization::Standard, true),
                           cnn(2, 3, 3, {3, 2}, 3, Activation::Tanh, Parameterization::Ntk, true),
                           cnn(2, 3, 3, {2}, 1, Activation::Relu, Parameterization::Standard, false)};
  for (const NetSpec& s : specs) {
    nt::Network net(s);
    Case c = make_case(s, 17, 5, 4);
    const size_t k = s.output_dim;
    for (bool trace : {false, true}) {
      const size_t kr = trace ? 1 : k;
      std::vector<double> a(25 * kr * kr), b(a.size()), ra(20 * kr * kr), rb(ra.size());
      net.ntk(c.p.data(), c.x1.data(), 5, static_cast<const double*>(nullptr), 0, trace, a.data());
      net.ntk(c.p.data(), c.x1.data(), 5, c.x2.data(), 4, trace, ra.data());
      std::vector<float> pf(c.p.begin(), c.p.end()), xf(c.x1.begin(), c.x1.end());
      std::vector<float> af(a.size()), bf(a.size());
      net.ntk(pf.data(), xf.data(), 5, static_cast<const float*>(nullptr), 0, trace, af.data());
      nt::set_budgets(tiny);
      net.ntk(c.p.data(), c.x1.data(), 5, static_cast<const double*>(nullptr), 0, trace, b.data());
      net.ntk(c.p.data(), c.x1.data(), 5, c.x2.data(), 4, trace, rb.data());
      net.ntk(pf.data(), xf.data(), 5, static_cast<const float*>(nullptr), 0, trace, bf.data());
      nt::set_budgets(saved);
      CHECK(max_rel_diff(b, a) < 1e-14);
      CHECK(max_rel_diff(rb, ra) < 1e-14);
      CHECK(exactly_symmetric(b, 5 * kr));
      std::vector<double> afd(af.begin(), af.end()), bfd(bf.begin(), bf.end());
      CHECK(max_rel_diff(bfd, afd) < 1e-6);
    }
  }
}

TEST_CASE("ntk: float gram on several row blocks (n·k > 256) matches double") {
  const NetSpec s = fcn(10, {12, 9}, 1, Activation::Tanh, Parameterization::Ntk, true);
  nt::Network net(s);
  Case c = make_case(s, 23, 600, 1);
  const size_t n = 600;
  std::vector<double> K(n * n);
  net.ntk(c.p.data(), c.x1.data(), n, static_cast<const double*>(nullptr), 0, false, K.data());
  std::vector<float> pf(c.p.begin(), c.p.end()), xf(c.x1.begin(), c.x1.end()), Kf(n * n);
  net.ntk(pf.data(), xf.data(), n, static_cast<const float*>(nullptr), 0, false, Kf.data());
  std::vector<double> Kd(Kf.begin(), Kf.end());
  CHECK(max_rel_diff(Kd, K) < 1e-4);
  CHECK(exactly_symmetric(Kd, n));
  CHECK(exactly_symmetric(K, n));
  CHECK(min_eig_ratio(K, n) > -1e-10);
  // rows of the symmetric kernel = the rectangular kernel of a row subset against all
  std::vector<double> Kr(50 * n);
  net.ntk(c.p.data(), c.x1.data() + 500 * 10, 50, c.x1.data(), n, false, Kr.data());
  double e = 0;
  for (size_t i = 0; i < 50; ++i)
    for (size_t j = 0; j < n; ++j) e = std::max(e, std::fabs(Kr[i * n + j] - K[(500 + i) * n + j]));
  CHECK(e <= 1e-13 * max_abs(K));
}

TEST_CASE("ntk: result does not depend on the thread count; builtin backend agrees") {
  const NetSpec specs[] = {fcn(7, {9, 6}, 3, Activation::Gelu, Parameterization::Ntk, true),
                           cnn(3, 4, 4, {4, 3}, 2, Activation::Erf, Parameterization::Standard, true)};
  for (const NetSpec& s : specs) {
    nt::Network net(s);
    Case c = make_case(s, 31, 6, 5);
    const size_t k = s.output_dim, R = 6 * k;
    std::vector<double> a(R * R), b(R * R), r1(R * 5 * k), r2(R * 5 * k);
    const int saved = speedlimits::get_threads();
    speedlimits::set_threads(1);
    net.ntk(c.p.data(), c.x1.data(), 6, static_cast<const double*>(nullptr), 0, false, a.data());
    net.ntk(c.p.data(), c.x1.data(), 6, c.x2.data(), 5, false, r1.data());
    speedlimits::set_threads(2);
    net.ntk(c.p.data(), c.x1.data(), 6, static_cast<const double*>(nullptr), 0, false, b.data());
    net.ntk(c.p.data(), c.x1.data(), 6, c.x2.data(), 5, false, r2.data());
    speedlimits::set_threads(saved);
    CHECK(a == b);
    CHECK(r1 == r2);
    if (la::blas_compiled()) {
      const la::Backend be = la::backend();
      la::set_backend(la::Backend::Builtin);
      net.ntk(c.p.data(), c.x1.data(), 6, static_cast<const double*>(nullptr), 0, false, b.data());
      la::set_backend(be);
      CHECK(max_rel_diff(b, a) < 1e-13);
    }
  }
}

TEST_CASE("ntk: abort, progress and argument errors") {
  const NetSpec s = fcn(4, {5, 5}, 2, Activation::Relu, Parameterization::Ntk, true);
  nt::Network net(s);
  Case c = make_case(s, 41, 4, 3);
  std::vector<double> K(8 * 8);
  std::int32_t flag = 1;
  double progress = -1;
  speedlimits::Control ctl;
  ctl.abort_flag = &flag;
  ctl.progress = &progress;
  CHECK_THROWS(net.ntk(c.p.data(), c.x1.data(), 4, static_cast<const double*>(nullptr), 0, false, K.data(), ctl),
               speedlimits::Aborted);
  flag = 0;
  net.ntk(c.p.data(), c.x1.data(), 4, static_cast<const double*>(nullptr), 0, false, K.data(), ctl);
  CHECK(progress == 1.0);
  CHECK_THROWS(net.ntk(c.p.data(), c.x1.data(), 4, static_cast<const double*>(nullptr), 3, false, K.data()),
               speedlimits::ShapeError);
  CHECK_THROWS(net.ntk(static_cast<const double*>(nullptr), c.x1.data(), 4, static_cast<const double*>(nullptr), 0,
                       false, K.data()),
               speedlimits::InvalidArgument);
  // empty inputs are a no-op
  net.ntk(c.p.data(), c.x1.data(), 0, static_cast<const double*>(nullptr), 0, false, static_cast<double*>(nullptr));
  net.ntk(c.p.data(), c.x1.data(), 4, c.x2.data(), 0, true, static_cast<double*>(nullptr));
  // workspace estimate: positive, grows with n, includes the CNN gradient buffers
  CHECK(net.ntk_workspace_bytes(10, 0, true, false, 8) > 0);
  CHECK(net.ntk_workspace_bytes(1000, 0, true, false, 8) > net.ntk_workspace_bytes(10, 0, true, false, 8));
  nt::Network cn(cnn(3, 8, 8, {16}, 10, Activation::Relu, Parameterization::Ntk, true));
  CHECK(cn.ntk_workspace_bytes(100, 0, true, false, 8) > size_t(100) * 10 * 16 * 27 * 8);
}

TEST_MAIN()
