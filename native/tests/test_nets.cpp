// Tests of the network core (nets.hpp): spec validation, layout, init, forward against a naive
// reference and hand-computed examples, squared-loss gradients against central finite
// differences (FCN and CNN, all activations, both parameterisations, k ∈ {1, 3}, bias on/off),
// per-sample gradients, float vs double, blocking and thread-count independence.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "check.hpp"
#include "net_fixtures.hpp"
#include "core/errors.hpp"
#include "core/nets.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"

namespace nt = speedlimits::nets;
using nt::Activation;
using nt::NetSpec;
using nt::NetType;
using nt::Parameterization;
using std::size_t;
using speedlimits::InvalidArgument;

namespace {

const Activation kActs[] = {Activation::Relu, Activation::Erf, Activation::Tanh, Activation::Linear,
                            Activation::Gelu};
const Parameterization kPars[] = {Parameterization::Ntk, Parameterization::Standard};

double act_ref(Activation a, double z) {
  switch (a) {
    case Activation::Relu: return z > 0 ? z : 0.0;
    case Activation::Erf: return std::erf(z);
    case Activation::Tanh: return std::tanh(z);
    case Activation::Linear: return z;
    case Activation::Gelu: return z * 0.5 * (1.0 + std::erf(z / std::sqrt(2.0)));
  }
  return 0;
}

NetSpec fcn(size_t d, std::vector<size_t> widths, size_t k, Activation act, Parameterization par, bool bias,
            double sw = 1.3, double sb = 0.4) {
  return sltest::fcn_spec(d, std::move(widths), k, act, par, bias, sw, sb);
}

NetSpec cnn(size_t C, size_t H, size_t W, std::vector<size_t> channels, size_t k, Activation act,
            Parameterization par, bool bias, double sw = 1.3, double sb = 0.4) {
  return sltest::cnn_spec(C, H, W, std::move(channels), k, act, par, bias, sw, sb);
}

std::vector<double> normals(uint64_t seed, size_t n, double scale = 1.0) {
  return sltest::normal_draws(seed, 77, n, scale);
}

// Naive reference forward, straight from the definitions (independent of nets.cpp): PyTorch
// layout, NCHW, 3×3 cross-correlation with zero padding, GAP, readout. Also reports the smallest
// |pre-activation| (to keep finite differences away from relu's kink).
struct Ref {
  std::vector<double> f;
  double min_abs_z = INFINITY;
};

Ref ref_forward(const NetSpec& s, const std::vector<double>& p, const double* x, size_t n) {
  const bool ntk = s.parameterization == Parameterization::Ntk;
  const size_t k = s.output_dim;
  Ref r;
  r.f.assign(n * k, 0.0);
  size_t off = 0;
  auto scales = [&](size_t fan_in, double& sw, double& sbias) {
    sw = ntk ? s.sigma_w / std::sqrt(double(fan_in)) : 1.0;
    sbias = ntk ? s.sigma_b : 1.0;
  };
  for (size_t i = 0; i < n; ++i) {
    off = 0;
    std::vector<double> h;  // FCN: [features]; CNN: [C][H][W]
    size_t C = 0;
    const size_t H = s.height, W = s.width;
    if (s.type == NetType::Fcn) {
      h.assign(x + i * s.input_dim, x + (i + 1) * s.input_dim);
    } else {
      C = s.in_channels;
      h.assign(x + i * C * H * W, x + (i + 1) * C * H * W);
    }
    for (size_t l = 0; l < s.widths.size(); ++l) {
      const size_t out = s.widths[l];
      std::vector<double> z;
      double sw, sbias;
      if (s.type == NetType::Fcn) {
        const size_t in = h.size();
        scales(in, sw, sbias);
        const double* Wt = p.data() + off;
        off += out * in;
        z.assign(out, 0.0);
        for (size_t u = 0; u < out; ++u) {
          double acc = 0;
          for (size_t v = 0; v < in; ++v) acc += Wt[u * in + v] * h[v];
          z[u] = sw * acc;
        }
        if (s.bias) {
          for (size_t u = 0; u < out; ++u) z[u] += sbias * p[off + u];
          off += out;
        }
      } else {
        scales(C * 9, sw, sbias);
        const double* Wt = p.data() + off;
        off += out * C * 9;
        z.assign(out * H * W, 0.0);
        for (size_t o = 0; o < out; ++o)
          for (size_t y = 0; y < H; ++y)
            for (size_t xx = 0; xx < W; ++xx) {
              double acc = 0;
              for (size_t c = 0; c < C; ++c)
                for (size_t ky = 0; ky < 3; ++ky)
                  for (size_t kx = 0; kx < 3; ++kx) {
                    const long yy = long(y) + long(ky) - 1, xs = long(xx) + long(kx) - 1;
                    if (yy < 0 || yy >= long(H) || xs < 0 || xs >= long(W)) continue;
                    acc += Wt[((o * C + c) * 3 + ky) * 3 + kx] * h[(c * H + size_t(yy)) * W + size_t(xs)];
                  }
              z[(o * H + y) * W + xx] = sw * acc;
            }
        if (s.bias) {
          for (size_t o = 0; o < out; ++o)
            for (size_t q = 0; q < H * W; ++q) z[o * H * W + q] += sbias * p[off + o];
          off += out;
        }
        C = out;
      }
      for (double v : z) r.min_abs_z = std::min(r.min_abs_z, std::fabs(v));
      h.resize(z.size());
      for (size_t u = 0; u < z.size(); ++u) h[u] = act_ref(s.activation, z[u]);
    }
    if (s.type == NetType::Cnn) {  // global average pooling
      std::vector<double> g(C, 0.0);
      for (size_t c = 0; c < C; ++c) {
        for (size_t q = 0; q < H * W; ++q) g[c] += h[c * H * W + q];
        g[c] /= double(H * W);
      }
      h = g;
    }
    const size_t in = h.size();
    double sw, sbias;
    scales(in, sw, sbias);
    for (size_t a = 0; a < k; ++a) {
      double acc = 0;
      for (size_t v = 0; v < in; ++v) acc += p[off + a * in + v] * h[v];
      r.f[i * k + a] = sw * acc + (s.bias ? sbias * p[off + k * in + a] : 0.0);
    }
  }
  return r;
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

// Inputs for which no pre-activation is within 1e-3 of 0 (relu's kink), found by retrying seeds.
std::vector<double> safe_inputs(const NetSpec& s, const std::vector<double>& p, size_t n, size_t in_size,
                                uint64_t seed) {
  for (uint64_t t = 0; t < 200; ++t) {
    std::vector<double> x = normals(seed + 1000 * t, n * in_size);
    if (ref_forward(s, p, x.data(), n).min_abs_z > 1e-3) return x;
  }
  return normals(seed, n * in_size);
}

}  // namespace

// ---- spec, layout, init ----------------------------------------------------------------------

TEST_CASE("nets: spec validation names the field") {
  auto expect = [](NetSpec s, const char* field) {
    bool thrown = false;
    try {
      nt::Network net(s);
    } catch (const InvalidArgument& e) {
      thrown = std::string(e.what()).find(field) != std::string::npos;
      if (!thrown) std::fprintf(stderr, "  message '%s' does not name %s\n", e.what(), field);
    }
    CHECK(thrown);
  };
  const NetSpec f = fcn(3, {4}, 1, Activation::Relu, Parameterization::Ntk, true);
  const NetSpec c = cnn(2, 4, 4, {3}, 1, Activation::Relu, Parameterization::Ntk, true);
  { NetSpec s = f; s.type = static_cast<NetType>(7); expect(s, "type"); }
  { NetSpec s = f; s.input_dim = 0; expect(s, "input_dim"); }
  { NetSpec s = f; s.widths = {4, 0, 2}; expect(s, "widths[1]"); }
  { NetSpec s = c; s.widths = {0}; expect(s, "widths[0]"); }
  { NetSpec s = f; s.output_dim = 0; expect(s, "output_dim"); }
  { NetSpec s = f; s.activation = static_cast<Activation>(9); expect(s, "activation"); }
  { NetSpec s = f; s.parameterization = static_cast<Parameterization>(5); expect(s, "parameterization"); }
  { NetSpec s = f; s.sigma_w = -1; expect(s, "sigma_w"); }
  { NetSpec s = f; s.sigma_w = NAN; expect(s, "sigma_w"); }
  { NetSpec s = f; s.sigma_w = INFINITY; expect(s, "sigma_w"); }
  { NetSpec s = f; s.sigma_b = -0.5; expect(s, "sigma_b"); }
  { NetSpec s = f; s.sigma_b = NAN; expect(s, "sigma_b"); }
  { NetSpec s = c; s.kernel = 5; expect(s, "kernel"); }
  { NetSpec s = c; s.in_channels = 0; expect(s, "in_channels"); }
  { NetSpec s = c; s.height = 0; expect(s, "height"); }
  { NetSpec s = c; s.width = 0; expect(s, "width"); }
  { NetSpec s = f; s.widths = {size_t(1) << 40, size_t(1) << 40}; expect(s, "overflow"); }
  // valid corner cases: empty widths, zero sigmas, FCN ignores kernel
  { NetSpec s = f; s.widths = {}; nt::Network net(s); CHECK(net.num_params() == 3 + 1); }
  { NetSpec s = c; s.widths = {}; nt::Network net(s); CHECK(net.num_params() == 2 + 1); }
  { NetSpec s = f; s.sigma_w = 0; s.sigma_b = 0; s.kernel = 7; nt::Network net(s); CHECK(net.num_params() == 21); }
}

TEST_CASE("nets: layout follows PyTorch order and shapes") {
  {
    nt::Network net(fcn(5, {7, 3}, 2, Activation::Tanh, Parameterization::Ntk, true));
    const auto& L = net.layout();
    CHECK(L.size() == 6);
    const char* names[] = {"W1", "b1", "W2", "b2", "W_out", "b_out"};
    const size_t sizes[] = {35, 7, 21, 3, 6, 2};
    const size_t fans[] = {5, 5, 7, 7, 3, 3};
    size_t off = 0;
    for (size_t t = 0; t < 6; ++t) {
      CHECK(L[t].name == names[t]);
      CHECK(L[t].offset == off);
      CHECK(L[t].size == sizes[t]);
      CHECK(L[t].fan_in == fans[t]);
      off += sizes[t];
    }
    CHECK((L[0].shape == std::vector<size_t>{7, 5}));
    CHECK((L[4].shape == std::vector<size_t>{2, 3}));
    CHECK((L[5].shape == std::vector<size_t>{2}));
    CHECK(net.num_params() == off);
    CHECK(net.input_size() == 5);
    CHECK(net.output_dim() == 2);
    CHECK(net.hidden_layers() == 2);
  }
  {
    nt::Network net(cnn(3, 8, 6, {4, 5}, 10, Activation::Relu, Parameterization::Standard, false));
    const auto& L = net.layout();
    CHECK(L.size() == 3);
    CHECK(L[0].name == "conv1.W");
    CHECK((L[0].shape == std::vector<size_t>{4, 3, 3, 3}));
    CHECK(L[0].fan_in == 27);
    CHECK(L[1].name == "conv2.W");
    CHECK((L[1].shape == std::vector<size_t>{5, 4, 3, 3}));
    CHECK(L[1].offset == 108);
    CHECK(L[1].fan_in == 36);
    CHECK(L[2].name == "W_out");
    CHECK((L[2].shape == std::vector<size_t>{10, 5}));
    CHECK(net.num_params() == 108 + 180 + 50);
    CHECK(net.input_size() == 3 * 8 * 6);
  }
  {
    nt::Network net(cnn(1, 2, 2, {2}, 1, Activation::Relu, Parameterization::Ntk, true));
    CHECK(net.layout()[1].name == "conv1.b");
    CHECK(net.layout()[3].name == "b_out");
    CHECK(std::fabs(net.layers()[0].s - 1.3 / 3.0) < 1e-15);
    CHECK(net.layers()[0].sb == 0.4);
  }
}

TEST_CASE("nets: init is deterministic, stream-keyed and has the documented statistics") {
  const NetSpec sn = fcn(200, {300}, 4, Activation::Relu, Parameterization::Ntk, true, 1.5, 0.7);
  const NetSpec ss = fcn(200, {300}, 4, Activation::Relu, Parameterization::Standard, true, 1.5, 0.7);
  nt::Network a(sn), b(ss);
  const size_t P = a.num_params();
  std::vector<double> p1(P), p2(P), p3(P), q(P);
  a.init(42, 3, p1.data());
  a.init(42, 3, p2.data());
  a.init(42, 4, p3.data());
  CHECK(p1 == p2);
  size_t same = 0;
  for (size_t i = 0; i < P; ++i) same += p1[i] == p3[i];
  CHECK(same == 0);
  // the documented mapping: parameter p is normal draw p of (seed, stream)
  std::vector<double> draws(P);
  speedlimits::rng::normal(42, 3, 0, P, draws.data());
  CHECK(p1 == draws);
  // 'standard': the same draws, scaled per tensor
  b.init(42, 3, q.data());
  for (const auto& t : b.layout()) {
    const bool w = t.name[0] == 'W';
    const double sc = w ? 1.5 / std::sqrt(double(t.fan_in)) : 0.7;
    for (size_t i = t.offset; i < t.offset + t.size; ++i) CHECK_CLOSE(q[i], sc * draws[i], 1e-15, 0);
  }
  // statistics of the big tensors
  auto moments = [](const double* v, size_t n, double& mean, double& var) {
    mean = 0;
    for (size_t i = 0; i < n; ++i) mean += v[i];
    mean /= double(n);
    var = 0;
    for (size_t i = 0; i < n; ++i) var += (v[i] - mean) * (v[i] - mean);
    var /= double(n);
  };
  double m, v;
  moments(p1.data(), 60000, m, v);  // W1 'ntk': N(0, 1)
  CHECK(std::fabs(m) < 0.02);
  CHECK(std::fabs(v - 1.0) < 0.03);
  moments(q.data(), 60000, m, v);  // W1 'standard': N(0, σw²/200)
  CHECK(std::fabs(m) < 0.02 * 1.5 / std::sqrt(200.0));
  CHECK(std::fabs(v / (1.5 * 1.5 / 200) - 1.0) < 0.03);
  moments(q.data() + 60000, 300, m, v);  // b1 'standard': N(0, σb²)
  CHECK(std::fabs(v / (0.7 * 0.7) - 1.0) < 0.25);
}

// ---- forward ---------------------------------------------------------------------------------

TEST_CASE("nets: forward of a hand-computed 2-2-1 FCN") {
  // W1 = [[0.5, -1], [2, 0.25]], b1 = [0.1, -0.2], W_out = [[1.5, -0.5]], b_out = [0.3], x = [1, 2]
  const std::vector<double> p = {0.5, -1, 2, 0.25, 0.1, -0.2, 1.5, -0.5, 0.3};
  const double x[2] = {1, 2};
  {
    nt::Network net(fcn(2, {2}, 1, Activation::Tanh, Parameterization::Standard, true));
    double f = 0;
    net.forward(p.data(), x, 1, &f);
    // z1 = [0.5 − 2 + 0.1, 2 + 0.5 − 0.2] = [−1.4, 2.3]
    CHECK_CLOSE(f, 1.5 * std::tanh(-1.4) - 0.5 * std::tanh(2.3) + 0.3, 1e-15, 0);
  }
  {
    nt::Network net(fcn(2, {2}, 1, Activation::Relu, Parameterization::Standard, true));
    double f = 0;
    net.forward(p.data(), x, 1, &f);
    CHECK_CLOSE(f, -0.5 * 2.3 + 0.3, 1e-15, 0);
  }
  {
    // 'ntk', σw = 2, σb = 0.5: z1 = (2/√2)·W1 x + 0.5·b1, f = (2/√2)·W_out h + 0.5·b_out
    nt::Network net(fcn(2, {2}, 1, Activation::Tanh, Parameterization::Ntk, true, 2.0, 0.5));
    double f = 0;
    net.forward(p.data(), x, 1, &f);
    const double s = 2.0 / std::sqrt(2.0);
    const double h1 = std::tanh(s * -1.5 + 0.05), h2 = std::tanh(s * 2.5 - 0.1);
    CHECK_CLOSE(f, s * (1.5 * h1 - 0.5 * h2) + 0.15, 1e-15, 0);
  }
  {
    // gelu(z) = z·Φ(z); Φ(0.5) from erfc
    nt::Network net(fcn(1, {1}, 1, Activation::Gelu, Parameterization::Standard, false));
    const double q[2] = {1.0, 1.0}, xi = 0.5;
    double f = 0;
    net.forward(q, &xi, 1, &f);
    CHECK_CLOSE(f, 0.5 * 0.5 * std::erfc(-0.5 / std::sqrt(2.0)), 1e-15, 0);
  }
}

TEST_CASE("nets: CNN forward is a padded cross-correlation with average pooling") {
  // one 3×3 channel, one conv channel with a single tap at (ky, kx) = (0, 0): out[y][x] =
  // in[y−1][x−1] (cross-correlation; a true convolution would read in[y+1][x+1]); linear
  // activation, W_out = 1: f = mean(out).
  nt::Network net(cnn(1, 3, 3, {1}, 1, Activation::Linear, Parameterization::Standard, false));
  std::vector<double> p(10, 0.0);
  p[0] = 1.0;  // conv1.W[0][0][0][0]
  p[9] = 1.0;  // W_out
  double x[9];
  for (int i = 0; i < 9; ++i) x[i] = i + 1;
  double f = 0;
  net.forward(p.data(), x, 1, &f);
  CHECK_CLOSE(f, (1 + 2 + 4 + 5) / 9.0, 1e-15, 0);
  // all-ones kernel on all-ones input: corners 4, edges 6, centre 9
  std::fill(p.begin(), p.begin() + 9, 1.0);
  std::fill(x, x + 9, 1.0);
  net.forward(p.data(), x, 1, &f);
  CHECK_CLOSE(f, 49.0 / 9.0, 1e-15, 0);
}

TEST_CASE("nets: forward matches the naive reference (all activations, FCN and CNN)") {
  for (Activation act : kActs)
    for (Parameterization par : kPars)
      for (bool bias : {true, false}) {
        const NetSpec specs[] = {fcn(6, {5, 4}, 3, act, par, bias), cnn(2, 5, 4, {3, 4}, 3, act, par, bias),
                                 fcn(3, {}, 2, act, par, bias), cnn(3, 2, 3, {}, 2, act, par, bias)};
        for (const NetSpec& s : specs) {
          nt::Network net(s);
          std::vector<double> p(net.num_params());
          net.init(5, 1, p.data());
          const size_t n = 4;
          std::vector<double> x = normals(9, n * net.input_size()), f(n * s.output_dim);
          net.forward(p.data(), x.data(), n, f.data());
          Ref r = ref_forward(s, p, x.data(), n);
          const double sc = max_abs(r.f);
          bool ok = true;
          for (size_t i = 0; i < f.size(); ++i) ok = ok && std::fabs(f[i] - r.f[i]) <= 1e-13 * sc;
          if (!ok) std::fprintf(stderr, "  forward mismatch: %s\n", describe(s).c_str());
          CHECK(ok);
          // float path
          std::vector<float> pf(p.begin(), p.end()), xf(x.begin(), x.end()), ff(f.size());
          net.forward(pf.data(), xf.data(), n, ff.data());
          for (size_t i = 0; i < f.size(); ++i) CHECK_CLOSE(ff[i], f[i], 0, 2e-5 * sc);
        }
      }
}

TEST_CASE("nets: forward blocks of samples give the same result") {
  nt::Network net(cnn(2, 6, 5, {4, 3}, 2, Activation::Gelu, Parameterization::Ntk, true));
  std::vector<double> p(net.num_params());
  net.init(1, 0, p.data());
  const size_t n = 13;
  std::vector<double> x = normals(3, n * net.input_size()), f1(n * 2), f2(n * 2);
  net.forward(p.data(), x.data(), n, f1.data());
  const nt::Budgets saved = nt::budgets();
  nt::Budgets tiny;
  tiny.forward = 1;
  tiny.col = 1;
  nt::set_budgets(tiny);
  net.forward(p.data(), x.data(), n, f2.data());
  nt::set_budgets(saved);
  for (size_t i = 0; i < f1.size(); ++i) CHECK_CLOSE(f2[i], f1[i], 1e-14, 1e-15);
}

// ---- gradients -------------------------------------------------------------------------------

namespace {

double loss_of(const nt::Network& net, const std::vector<double>& p, const std::vector<double>& x,
               const std::vector<double>& y, size_t n) {
  std::vector<double> f(y.size());
  net.forward(p.data(), x.data(), n, f.data());
  double l = 0;
  for (size_t i = 0; i < f.size(); ++i) l += 0.5 * (f[i] - y[i]) * (f[i] - y[i]);
  return l;
}

// Central differences of the loss, every parameter; returns false on a mismatch (and prints it).
bool check_fd(const NetSpec& s, uint64_t seed) {
  nt::Network net(s);
  const size_t P = net.num_params(), n = 3, k = s.output_dim;
  std::vector<double> p(P);
  net.init(seed, 2, p.data());
  if (s.parameterization == Parameterization::Standard)
    for (auto& v : p) v *= 1.5;  // bigger standard-param weights: more curvature
  std::vector<double> x = safe_inputs(s, p, n, net.input_size(), seed + 17);
  std::vector<double> y = normals(seed + 99, n * k);
  std::vector<double> g(P), ps(n * P);
  const double loss = net.loss_gradient(p.data(), x.data(), y.data(), n, g.data(), ps.data());
  bool ok = std::fabs(loss - loss_of(net, p, x, y, n)) <= 1e-13 * std::max(1.0, loss);
  const double gs = std::max(max_abs(g), 1e-3);
  double worst = 0;
  size_t worst_p = 0;
  for (size_t q = 0; q < P; ++q) {
    const double h = 1e-6 * std::max(1.0, std::fabs(p[q]));
    std::vector<double> pp = p, pm = p;
    pp[q] += h;
    pm[q] -= h;
    const double fd = (loss_of(net, pp, x, y, n) - loss_of(net, pm, x, y, n)) / (2 * h);
    const double err = std::fabs(fd - g[q]) / (gs + std::fabs(g[q]));
    if (err > worst) worst = err, worst_p = q;
  }
  if (worst > 1e-6) ok = false;
  // per-sample rows sum to the gradient and equal single-sample gradients
  double ps_err = 0;
  for (size_t q = 0; q < P; ++q) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += ps[i * P + q];
    ps_err = std::max(ps_err, std::fabs(sum - g[q]) / gs);
  }
  std::vector<double> g1(P), ps1(P);
  net.loss_gradient(p.data(), x.data() + net.input_size(), y.data() + k, 1, g1.data(), ps1.data());
  for (size_t q = 0; q < P; ++q) ps_err = std::max(ps_err, std::fabs(g1[q] - ps[P + q]) / gs);
  for (size_t q = 0; q < P; ++q) ps_err = std::max(ps_err, std::fabs(g1[q] - ps1[q]) / gs);
  if (ps_err > 1e-13) ok = false;
  // null outputs: loss only / grad only
  std::vector<double> g2(P);
  const double l2 = net.loss_gradient(p.data(), x.data(), y.data(), n, g2.data(), nullptr);
  const double l3 = net.loss_gradient<double>(p.data(), x.data(), y.data(), n, nullptr, nullptr);
  if (l2 != loss || l3 != loss || g2 != g) ok = false;
  // float path
  std::vector<float> pf(p.begin(), p.end()), xf(x.begin(), x.end()), yf(y.begin(), y.end()), gf(P);
  net.loss_gradient(pf.data(), xf.data(), yf.data(), n, gf.data(), nullptr);
  double ferr = 0;
  for (size_t q = 0; q < P; ++q) ferr = std::max(ferr, std::fabs(double(gf[q]) - g[q]) / gs);
  if (ferr > 1e-4) ok = false;
  if (!ok || std::getenv("SL_TEST_VERBOSE") != nullptr)
    std::fprintf(stderr, "  %s: fd rel err %.3g at p=%zu, per-sample %.3g, float %.3g\n", describe(s).c_str(), worst,
                 worst_p, ps_err, ferr);
  return ok;
}

}  // namespace

TEST_CASE("nets: FCN loss gradients match finite differences") {
  uint64_t seed = 100;
  for (Activation act : kActs)
    for (Parameterization par : kPars)
      for (size_t k : {size_t(1), size_t(3)})
        for (bool bias : {true, false}) CHECK(check_fd(fcn(4, {5, 3}, k, act, par, bias), seed++));
  CHECK(check_fd(fcn(3, {}, 2, Activation::Tanh, Parameterization::Ntk, true), 7));
}

TEST_CASE("nets: CNN loss gradients match finite differences") {
  uint64_t seed = 300;
  for (Activation act : kActs)
    for (Parameterization par : kPars)
      for (size_t k : {size_t(1), size_t(3)})
        for (bool bias : {true, false}) CHECK(check_fd(cnn(2, 4, 3, {3, 2}, k, act, par, bias), seed++));
  CHECK(check_fd(cnn(2, 3, 2, {}, 2, Activation::Relu, Parameterization::Ntk, true), 8));
}

TEST_CASE("nets: relu'(0) = 0 (PyTorch)") {
  // z1 = W1·x = 1 − 1 = 0 exactly; with relu′(0) = 1 the W1 gradient would be nonzero.
  nt::Network net(fcn(2, {1}, 1, Activation::Relu, Parameterization::Standard, false));
  const double p[3] = {1.0, -1.0, 1.0}, x[2] = {1.0, 1.0}, y = 1.0;
  double g[3], f;
  net.forward(p, x, 1, &f);
  CHECK(f == 0.0);
  net.loss_gradient(p, x, &y, 1, g, nullptr);
  CHECK(g[0] == 0.0);
  CHECK(g[1] == 0.0);
  CHECK(g[2] == 0.0);  // h = 0
}

TEST_CASE("nets: gradients do not depend on the thread count or the blocking") {
  nt::Network net(cnn(3, 5, 5, {4, 4}, 2, Activation::Erf, Parameterization::Ntk, true));
  const size_t P = net.num_params(), n = 7;
  std::vector<double> p(P);
  net.init(3, 3, p.data());
  std::vector<double> x = normals(4, n * net.input_size()), y = normals(5, n * 2);
  std::vector<double> g1(P), g2(P), s1(n * P), s2(n * P), g3(P), s3(n * P);
  const int saved = speedlimits::get_threads();
  speedlimits::set_threads(1);
  net.loss_gradient(p.data(), x.data(), y.data(), n, g1.data(), s1.data());
  speedlimits::set_threads(2);
  net.loss_gradient(p.data(), x.data(), y.data(), n, g2.data(), s2.data());
  speedlimits::set_threads(saved);
  CHECK(g1 == g2);
  CHECK(s1 == s2);
  const nt::Budgets b = nt::budgets();
  nt::Budgets tiny;
  tiny.col = 1;
  nt::set_budgets(tiny);
  net.loss_gradient(p.data(), x.data(), y.data(), n, g3.data(), s3.data());
  nt::set_budgets(b);
  const double gs = max_abs(g1);
  for (size_t q = 0; q < P; ++q) CHECK_CLOSE(g3[q], g1[q], 1e-13, 1e-14 * gs);
  for (size_t q = 0; q < n * P; ++q) CHECK_CLOSE(s3[q], s1[q], 1e-13, 1e-14 * gs);
}

TEST_CASE("nets: empty batches and null pointers") {
  nt::Network net(fcn(3, {4}, 2, Activation::Relu, Parameterization::Ntk, true));
  std::vector<double> p(net.num_params(), 0.1), g(net.num_params(), 5.0);
  CHECK(net.loss_gradient<double>(p.data(), nullptr, nullptr, 0, g.data(), nullptr) == 0.0);
  CHECK(max_abs(g) == 0.0);
  net.forward<double>(p.data(), nullptr, 0, nullptr);
  double x[3] = {1, 2, 3}, f[2];
  CHECK_THROWS(net.forward<double>(nullptr, x, 1, f), InvalidArgument);
  CHECK_THROWS(net.init(1, 1, nullptr), InvalidArgument);
}

TEST_MAIN()
