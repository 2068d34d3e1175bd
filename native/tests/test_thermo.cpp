// Tests of thermo:: (THEORY.md §1.4–§3) against the oracles of THEORY §6: O1 (single mode), O2
// (gradient flow on a 3×4 linear regression, γ = 0 and 0.5, path lengths), O3 (discrete GD), O4
// (Langevin / OU), O6 (power-law efficiency, plateaus, N = 10⁶ sums, the late regime), O6c (outlier
// and warm start, straightness × uniformity); plus naive GD iteration, ∫σ dt = Σ_t, equilibrium
// starts, free diffusion of null directions, and argument errors.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "check.hpp"
#include "core/errors.hpp"
#include "core/spectrum.hpp"
#include "core/thermo.hpp"

namespace th = speedlimits::thermo;
using speedlimits::InvalidArgument;
using std::size_t;

namespace {

const double kTol = 1e-8;  // THEORY §6: closed forms to 1e-8 relative

// The O2 instance.
const std::vector<double> kJ = {1, 0, 1, 0, 0, 2, 0, 1, 1, 1, 0, 0};
const std::vector<double> kY = {1, -1, 0.5};
const std::vector<double> kTheta0 = {0.2, -0.1, 0, 0.3};

th::LinearProblem o2(double gamma, double sigma0 = 0) {
  th::LinearProblem p;
  p.n = 3;
  p.P = 4;
  p.J = kJ;
  p.y = kY;
  p.theta0 = kTheta0;
  p.gamma = gamma;
  p.sigma0 = sigma0;
  return p;
}

th::EvalOptions opts(double eta, double T = 0, bool discrete = false, bool path = false) {
  th::EvalOptions o;
  o.eta = eta;
  o.temperature = T;
  o.discrete = discrete;
  o.path_length = path;
  return o;
}

// Power-law spectrum of §3.1: λ_k = k^{−α}, r_k = k^{−β/2} (η = λ_1 = r_1 = 1), optional outlier.
th::SpectrumInput power_law(double alpha, double beta, size_t N, std::vector<double>& lam, std::vector<double>& r) {
  lam.resize(N);
  r.resize(N);
  for (size_t k = 0; k < N; ++k) {
    lam[k] = std::pow(double(k + 1), -alpha);
    r[k] = std::pow(double(k + 1), -beta / 2);
  }
  th::SpectrumInput in;
  in.eigenvalues = lam;
  in.residuals = r;
  return in;
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ULL + 7) {}
  double uniform() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return double(z >> 11) * 0x1.0p-53 * 2 - 1;
  }
};

}  // namespace

TEST_CASE("O1: single-mode efficiency (2/x) tanh(x/2)") {
  const std::vector<double> lam = {1}, r = {1}, x = {0.5, 1, 2, 10};
  const double expected[] = {0.9796746496, 0.9242343145, 0.7615941560, 0.1999818409};
  th::SpectrumInput in;
  in.eigenvalues = lam;
  in.residuals = r;
  const auto s = th::analytic_efficiency(in, x, opts(1));
  for (size_t j = 0; j < 4; ++j) {
    CHECK_CLOSE(s.flow.efficiency[j], expected[j], kTol, 0);
    CHECK_CLOSE(s.flow.efficiency[j], 2 / x[j] * std::tanh(x[j] / 2), 1e-14, 0);
  }
  // η scales time only: η = 0.25 at 4× the times gives the same numbers
  const std::vector<double> x4 = {2, 4, 8, 40};
  const auto s4 = th::analytic_efficiency(in, x4, opts(0.25));
  for (size_t j = 0; j < 4; ++j) CHECK_CLOSE(s4.flow.efficiency[j], expected[j], kTol, 0);
  // t = 0: the limit 1; small t: 1 − x²/12
  const std::vector<double> t0 = {0, 1e-4};
  const auto z = th::analytic_efficiency(in, t0, opts(1));
  CHECK(z.flow.efficiency[0] == 1.0);
  CHECK_CLOSE(z.flow.efficiency[1], 1 - 1e-8 / 12, 1e-15, 0);
}

TEST_CASE("O2: gradient flow on the 3x4 linear regression, gamma = 0 and 0.5, with path lengths") {
  const std::vector<double> times = {1, 10, 100};
  const double rows[2][3][5] = {
      {{0.0448745266, 0.0455129649, 0.4551296487, 0.9859723878, 0.2120988360},
       {0.5936682969, 0.0983853627, 0.9838536271, 0.6034111991, 0.7948486140},
       {0.8352653684, 0.1004996335, 1.0049963346, 0.0831112851, 1.0730814257}},
      {{0.0422766276, 0.0430380761, 0.4303807608, 0.9823075613, 0.2058831539},
       {0.4542714164, 0.0839049822, 0.8390498225, 0.5414117305, 0.7030950245},
       {0.6257413406, 0.0855396038, 0.8553960375, 0.0731522375, 0.9379907757}}};
  const double gammas[2] = {0, 0.5}, L0[2] = {1.005, 1.040};
  for (int gi = 0; gi < 2; ++gi) {
    const auto r = th::linear_dynamics(o2(gammas[gi]), times, opts(0.1, 0, false, true));
    CHECK(r.rank == 3 && r.null_directions == 1);
    for (size_t j = 0; j < 3; ++j) {
      CHECK_CLOSE(r.series.flow.w2sq[j], rows[gi][j][0], kTol, 0);
      CHECK_CLOSE(r.series.flow.dissipation[j], rows[gi][j][1], kTol, 0);
      CHECK_CLOSE(r.series.flow.loss_drop[j], rows[gi][j][2], kTol, 0);
      CHECK_CLOSE(r.series.flow.efficiency[j], rows[gi][j][3], kTol, 0);
      CHECK_CLOSE(r.series.flow.path_length[j], rows[gi][j][4], kTol, 0);
      CHECK_CLOSE(r.series.flow.loss[j], L0[gi] - rows[gi][j][2], kTol, 1e-10);  // the table has 10 decimals
      CHECK_CLOSE(r.series.flow.straightness[j] * r.series.flow.uniformity[j], r.series.flow.efficiency[j], 1e-13, 0);
      CHECK(r.series.flow.straightness[j] <= 1 + 1e-12 && r.series.flow.uniformity[j] <= 1 + 1e-12);
    }
    // L(θ0) from the t = 0 point; the parameter-space mean matches |Δθ|²
    const std::vector<double> t0 = {0, 10};
    const auto z = th::linear_dynamics(o2(gammas[gi]), t0, opts(0.1));
    CHECK_CLOSE(z.series.flow.loss[0], L0[gi], 1e-13, 0);
    for (size_t i = 0; i < 4; ++i) CHECK_CLOSE(z.continuous.mean[i], kTheta0[i], 0, 1e-14);
    double d2 = 0;
    for (size_t i = 0; i < 4; ++i) d2 += std::pow(z.continuous.mean[4 + i] - kTheta0[i], 2);
    CHECK_CLOSE(d2, rows[gi][1][0], kTol, 0);
  }
  // Nonzero eigenvalues of JᵀJ
  const auto r = th::linear_dynamics(o2(0), std::vector<double>{1}, opts(0.1));
  CHECK_CLOSE(r.eigenvalues[0], 6.0513742417, kTol, 0);
  CHECK_CLOSE(r.eigenvalues[1], 2.4826959550, kTol, 0);
  CHECK_CLOSE(r.eigenvalues[2], 0.4659298033, kTol, 0);
  // Minimizers: from θ̄0 = 0 the γ = 0 flow ends at the min-norm solution; γ = 0.5 ends at θ* from anywhere
  const double star0[] = {0.7857142857, -0.2857142857, 0.2142857143, -0.4285714286};
  const double star5[] = {0.6026490066, -0.2715231788, 0.2649006623, -0.3046357616};
  auto p = o2(0);
  p.theta0 = th::Span();
  const auto a = th::linear_dynamics(p, std::vector<double>{1e4}, opts(0.1));
  const auto b = th::linear_dynamics(o2(0.5), std::vector<double>{1e4}, opts(0.1));
  for (size_t i = 0; i < 4; ++i) {
    CHECK_CLOSE(a.continuous.mean[i], star0[i], kTol, 1e-12);
    CHECK_CLOSE(b.continuous.mean[i], star5[i], kTol, 1e-12);
  }
  // The residual is J·mean − y
  for (size_t i = 0; i < 3; ++i) {
    double f = 0;
    for (size_t c = 0; c < 4; ++c) f += kJ[i * 4 + c] * b.continuous.mean[c];
    CHECK_CLOSE(b.continuous.residual[i], f - kY[i], 0, 1e-13);
  }
}

TEST_CASE("O2 through the NTK-only form: eigenvalues of K and residual projections (gamma = 0)") {
  std::vector<double> K(9, 0.0), F0(3, 0.0);
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = 0; j < 3; ++j)
      for (size_t c = 0; c < 4; ++c) K[i * 3 + j] += kJ[i * 4 + c] * kJ[j * 4 + c];
    for (size_t c = 0; c < 4; ++c) F0[i] += kJ[i * 4 + c] * kTheta0[c];
  }
  const auto sp = speedlimits::spectral::spectrum(K.data(), 3, nullptr, true);
  std::vector<double> rk(3, 0.0);
  for (size_t k = 0; k < 3; ++k)
    for (size_t i = 0; i < 3; ++i) rk[k] += sp.vectors[i * 3 + k] * (F0[i] - kY[i]);
  th::SpectrumInput in;
  in.eigenvalues = sp.values;
  in.residuals = rk;
  const std::vector<double> times = {1, 10, 100};
  const auto s = th::analytic_efficiency(in, times, opts(0.1, 0, true));
  const double eff[] = {0.9859723878, 0.6034111991, 0.0831112851};
  const double w2[] = {0.0448745266, 0.5936682969, 0.8352653684};
  for (size_t j = 0; j < 3; ++j) {
    CHECK_CLOSE(s.flow.efficiency[j], eff[j], kTol, 0);
    CHECK_CLOSE(s.flow.w2sq[j], w2[j], kTol, 0);
  }
  CHECK_CLOSE(s.flow.loss[0] + s.flow.loss_drop[0], 1.005, 1e-13, 0);  // L0 = ½|r(0)|²
  CHECK_CLOSE(s.discrete.efficiency_loss[2], 0.0831459428, kTol, 0);    // O3 again
  // A frozen mode (λ = 0) only adds ½ r² to the loss
  const std::vector<double> lam4 = {sp.values[0], sp.values[1], sp.values[2], 0}, r4 = {rk[0], rk[1], rk[2], 0.7};
  in.eigenvalues = lam4;
  in.residuals = r4;
  const auto f = th::analytic_efficiency(in, times, opts(0.1));
  for (size_t j = 0; j < 3; ++j) {
    CHECK(f.flow.efficiency[j] == s.flow.efficiency[j]);
    CHECK_CLOSE(f.flow.loss[j], s.flow.loss[j] + 0.245, 1e-14, 0);
  }
}

TEST_CASE("O3: discrete GD closed forms (gamma = 0, eta = 0.1, K = 100)") {
  const auto r = th::linear_dynamics(o2(0), std::vector<double>{100}, opts(0.1, 0, true));
  const auto& d = r.series.discrete;
  CHECK(r.series.has_discrete && d.stable);
  CHECK_CLOSE(d.displacement[0], 0.8356142898, kTol, 0);
  CHECK_CLOSE(d.step_sum[0], 0.1212379150, kTol, 0);
  CHECK_CLOSE(d.loss_drop[0], 1.0049970704, kTol, 0);
  CHECK_CLOSE(d.efficiency_kinetic[0], 0.0689235121, kTol, 0);
  CHECK_CLOSE(d.efficiency_loss[0], 0.0831459428, kTol, 0);
  CHECK_CLOSE(r.series.flow.efficiency[0], 0.0831112851, kTol, 0);
}

TEST_CASE("discrete GD against naive iteration (random 4x7 J, gamma = 0.3, ensemble sigma0 = 0.2)") {
  const size_t n = 4, P = 7;
  Rng g(3);
  std::vector<double> J(n * P), y(n), th0(P);
  for (auto& v : J) v = g.uniform();
  for (auto& v : y) v = g.uniform();
  for (auto& v : th0) v = g.uniform();
  const double eta = 0.15, gamma = 0.3, s0 = 0.2;
  th::LinearProblem p;
  p.n = n;
  p.P = P;
  p.J = J;
  p.y = y;
  p.theta0 = th0;
  p.gamma = gamma;
  p.sigma0 = s0;
  const std::vector<double> steps = {0, 1, 2, 5, 17, 40};
  const auto r = th::linear_dynamics(p, steps, opts(eta, 0, true));
  CHECK(r.has_gd && r.rank == n && r.null_directions == P - n);
  // H = JᵀJ + γI; mean iterate θ ← θ − η(H θ − Jᵀy); deviations A = I − ηH act on the ensemble:
  // E|θ_K − θ0|² = |m_K − m_0|² + σ0² ‖A^K − I‖_F², and Σ_k E|Δθ_k|² likewise.
  std::vector<double> H(P * P, 0.0), b(P, 0.0);
  for (size_t i = 0; i < P; ++i) {
    for (size_t j = 0; j < P; ++j)
      for (size_t k = 0; k < n; ++k) H[i * P + j] += J[k * P + i] * J[k * P + j];
    H[i * P + i] += gamma;
    for (size_t k = 0; k < n; ++k) b[i] += J[k * P + i] * y[k];
  }
  auto loss = [&](const std::vector<double>& th) {
    double L = 0;
    for (size_t k = 0; k < n; ++k) {
      double f = -y[k];
      for (size_t i = 0; i < P; ++i) f += J[k * P + i] * th[i];
      L += 0.5 * f * f;
    }
    for (double v : th) L += 0.5 * gamma * v * v;
    return L;
  };
  std::vector<double> m = th0, Ak(P * P, 0.0);  // A^k
  for (size_t i = 0; i < P; ++i) Ak[i * P + i] = 1;
  double steps_sum = 0, trH0 = 0;
  for (size_t i = 0; i < P; ++i) trH0 += H[i * P + i];
  size_t next = 0;
  for (int k = 0; k <= 40; ++k) {
    if (k == int(steps[next])) {
      double disp = 0, fro = 0, trHA = 0;  // trHA = tr(A^k H A^k) for ⟨L⟩ = L(m) + (σ0²/2) tr(A^k H A^k)
      for (size_t i = 0; i < P; ++i) disp += (m[i] - th0[i]) * (m[i] - th0[i]);
      for (size_t i = 0; i < P; ++i)
        for (size_t j = 0; j < P; ++j) {
          fro += std::pow(Ak[i * P + j] - (i == j ? 1 : 0), 2);
          double s = 0;
          for (size_t l = 0; l < P; ++l) s += H[i * P + l] * Ak[l * P + j];
          trHA += Ak[i * P + j] * s;  // Σ_ij A_ij (H A)_ij = tr(Aᵀ H A)
        }
      const double Lk = loss(m) + 0.5 * s0 * s0 * trHA, L0 = loss(th0) + 0.5 * s0 * s0 * trH0;
      CHECK_CLOSE(r.series.discrete.displacement[next], disp + s0 * s0 * fro, 1e-10, 1e-15);
      CHECK_CLOSE(r.series.discrete.step_sum[next], steps_sum, 1e-10, 1e-15);
      CHECK_CLOSE(r.series.discrete.loss[next], Lk, 1e-10, 0);
      CHECK_CLOSE(r.series.discrete.loss_drop[next], L0 - Lk, 1e-10, 1e-15);
      for (size_t i = 0; i < P; ++i) CHECK_CLOSE(r.gd.mean[next * P + i], m[i], 1e-10, 1e-13);
      ++next;
      if (next == steps.size()) break;
    }
    // one step of the mean and of A^k; Δθ_k = −ηH(θ_k − θ*) ⇒ E|Δθ_k|² = |Δm|² + σ0² ‖(A−I)A^k‖_F²
    std::vector<double> mn(P), An(P * P, 0.0);
    double dm = 0, fro = 0;
    for (size_t i = 0; i < P; ++i) {
      double s = 0;
      for (size_t j = 0; j < P; ++j) s += H[i * P + j] * m[j];
      mn[i] = m[i] - eta * (s - b[i]);
      dm += (mn[i] - m[i]) * (mn[i] - m[i]);
      for (size_t j = 0; j < P; ++j) {
        double t = 0;
        for (size_t l = 0; l < P; ++l) t += H[i * P + l] * Ak[l * P + j];
        An[i * P + j] = Ak[i * P + j] - eta * t;
        fro += eta * eta * t * t;
      }
    }
    steps_sum += dm + s0 * s0 * fro;
    m = mn;
    Ak = An;
  }
  // GD variances: σ0² q^{2K}; the K = 0 efficiencies are NaN (an empty path), K = 1 is one straight step
  CHECK(std::isnan(r.series.discrete.efficiency_kinetic[0]));
  CHECK_CLOSE(r.series.discrete.efficiency_kinetic[1], 1.0, 1e-14, 0);
  CHECK_CLOSE(r.gd.variance[2 * n + 0], s0 * s0 * std::pow(1 - eta * r.hessian[0], 4), 1e-13, 0);
  CHECK_CLOSE(r.gd.null_variance[3], s0 * s0 * std::pow(1 - eta * gamma, 10), 1e-13, 0);
}

TEST_CASE("O4: Langevin / OU on the O2 instance (gamma = 0.5, T = 0.1, sigma0 = 0.2)") {
  const std::vector<double> times = {1, 10, 100};
  const auto r = th::linear_dynamics(o2(0.5, 0.2), times, opts(0.1, 0.1, false, true));
  CHECK(r.series.has_langevin);
  const auto& L = r.series.langevin;
  const double rows[3][6] = {{0.0469349687, 4.7931304677, 0.4846924351, -0.0537938828, 2.9837966979, 0.9792132516},
                             {0.5027405699, 9.2714994145, 0.8781851393, 0.4896480220, 0.0345251360, 0.5422430045},
                             {0.7078070119, 9.4641962813, 0.8753978536, 0.7102177449, 1.3137e-6, 0.0747878627}};
  for (size_t j = 0; j < 3; ++j) {
    CHECK_CLOSE(L.w2sq[j], rows[j][0], kTol, 0);
    CHECK_CLOSE(L.entropy_production[j], rows[j][1], kTol, 0);
    CHECK_CLOSE(L.heat[j], rows[j][2], kTol, 0);
    CHECK_CLOSE(L.system_entropy[j], rows[j][3], kTol, 0);
    CHECK_CLOSE(L.rate[j], rows[j][4], j == 2 ? 1e-4 : kTol, 0);  // 5 digits given at t = 100
    CHECK_CLOSE(L.efficiency[j], rows[j][5], kTol, 0);
    // Σ_t = ΔS_m + ΔS_sys
    CHECK_CLOSE(L.entropy_production[j], L.heat[j] / 0.1 + L.system_entropy[j], 1e-12, 0);
    CHECK_CLOSE(L.straightness[j] * L.uniformity[j], L.efficiency[j], 1e-12, 0);
  }
  CHECK_CLOSE(L.total_entropy_production, 9.4642094164, kTol, 0);
  // W2 speed at t = 10: √(η T σ)
  CHECK_CLOSE(std::sqrt(0.1 * 0.1 * L.rate[1]), 0.01858093, 1e-6, 0);
  // The mean at t = 10
  const double mean10[] = {0.6180925287, -0.3570777213, 0.2404119625, -0.0944403469};
  for (size_t i = 0; i < 4; ++i) CHECK_CLOSE(r.continuous.mean[4 + i], mean10[i], kTol, 0);
  // GF limit of the same ensemble
  const double gf[] = {0.9800868851, 0.5242636463, 0.0730149004};
  for (size_t j = 0; j < 3; ++j) CHECK_CLOSE(r.series.flow.efficiency[j], gf[j], kTol, 0);
  // Stationary variances T/h_a (range) and T/γ (null)
  const auto inf = th::linear_dynamics(o2(0.5, 0.2), std::vector<double>{1e4}, opts(0.1, 0.1));
  for (size_t a = 0; a < 3; ++a) CHECK_CLOSE(inf.continuous.variance[a], 0.1 / inf.hessian[a], 1e-12, 0);
  CHECK_CLOSE(inf.continuous.null_variance[0], 0.1 / 0.5, 1e-12, 0);
  CHECK_CLOSE(inf.series.langevin.entropy_production[0], 9.4642094164, kTol, 0);
}

TEST_CASE("Langevin: the integral of sigma(t) is Sigma_t; an equilibrium-width start gives the GF efficiency") {
  // ∫0^10 σ dt by composite Simpson on a log-spaced mesh is too fussy; σ is smooth: 20000 uniform panels.
  const size_t M = 20000;
  std::vector<double> ts(M + 1);
  for (size_t i = 0; i <= M; ++i) ts[i] = 10.0 * double(i) / double(M);
  const auto r = th::linear_dynamics(o2(0.5, 0.2), ts, opts(0.1, 0.1));
  double integral = 0;
  for (size_t i = 0; i < M; i += 2)
    integral += (r.series.langevin.rate[i] + 4 * r.series.langevin.rate[i + 1] + r.series.langevin.rate[i + 2]) * (10.0 / M) / 3;
  CHECK_CLOSE(integral, 9.2714994145, 1e-7, 0);
  // s0² = T/h for every mode: only the means move and 𝓔 is the deterministic GF formula (§2.4)
  std::vector<double> lam = {3, 1, 0.2}, r0 = {0.5, -1, 2};
  const double T = 0.3;
  for (size_t k = 0; k < 3; ++k) {
    th::Modes one;
    one.h = {lam[k]};
    one.offset2 = {r0[k] * r0[k] / lam[k]};
    one.count = {1};
    one.var0 = T / lam[k];
    const std::vector<double> t = {0.5, 5, 50};
    const auto s = th::evaluate(one, t, opts(0.7, T));
    for (size_t j = 0; j < 3; ++j) {
      const double x = 0.7 * lam[k] * t[j];
      CHECK_CLOSE(s.langevin.efficiency[j], 2 / x * std::tanh(x / 2), 1e-12, 0);
      CHECK_CLOSE(s.langevin.system_entropy[j], 0.0, 0, 1e-15);
    }
  }
}

TEST_CASE("null directions: free diffusion for gamma = 0 (no stationary state), frozen under GF") {
  th::LinearProblem p = o2(0, 0.2);
  const std::vector<double> times = {0, 1, 10};
  const auto r = th::linear_dynamics(p, times, opts(0.1, 0.1, false, true));
  for (size_t j = 0; j < 3; ++j) CHECK_CLOSE(r.continuous.null_variance[j], 0.04 + 2 * 0.1 * 0.1 * times[j], 1e-14, 0);
  CHECK(std::isinf(r.series.langevin.total_entropy_production));
  CHECK(r.series.langevin.efficiency[0] == 1.0);
  // the null component of θ̄0 stays put under γ = 0
  const auto far = th::linear_dynamics(p, std::vector<double>{1e5}, opts(0.1));
  double along = 0;  // θ(∞) − θ* is the null part of θ0, orthogonal to J's rows
  for (size_t i = 0; i < 3; ++i) {
    double s = 0;
    for (size_t c = 0; c < 4; ++c) s += kJ[i * 4 + c] * far.continuous.mean[c];
    along += std::fabs(s - (kY[i] + far.continuous.residual[i]));
  }
  CHECK(along < 1e-12);
  // GF with σ0 > 0 and γ = 0: null directions carry variance but never move; only E_a = d² + σ0² on the range counts
  const auto a = th::linear_dynamics(p, std::vector<double>{10}, opts(0.1));
  th::Modes m;
  for (size_t k = 0; k < 3; ++k) {
    m.h.push_back(a.hessian[k]);
    m.offset2.push_back(a.offsets[k] * a.offsets[k] + 0.04);
    m.count.push_back(0);
  }
  const auto s = th::evaluate(m, std::vector<double>{10}, opts(0.1));
  CHECK_CLOSE(a.series.flow.efficiency[0], s.flow.efficiency[0], 1e-14, 0);
  CHECK_CLOSE(a.series.flow.w2sq[0], s.flow.w2sq[0], 1e-14, 0);
}

TEST_CASE("K-only form matches the J form (gamma = 0.5, theta0 in the row space)") {
  std::vector<double> K(9, 0.0), f0(3, 0.0);
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j)
      for (size_t c = 0; c < 4; ++c) K[i * 3 + j] += kJ[i * 4 + c] * kJ[j * 4 + c];
  // θ̄0 = Jᵀ w lies in the row space; f0 = J θ̄0
  const std::vector<double> w = {0.3, -0.2, 0.1};
  std::vector<double> th0(4, 0.0);
  for (size_t c = 0; c < 4; ++c)
    for (size_t i = 0; i < 3; ++i) th0[c] += kJ[i * 4 + c] * w[i];
  for (size_t i = 0; i < 3; ++i)
    for (size_t c = 0; c < 4; ++c) f0[i] += kJ[i * 4 + c] * th0[c];
  auto pj = o2(0.5, 0.1);
  pj.theta0 = th0;
  th::LinearProblem pk;
  pk.n = 3;
  pk.P = 4;
  pk.K = K;
  pk.y = kY;
  pk.f0 = f0;
  pk.gamma = 0.5;
  pk.sigma0 = 0.1;
  const std::vector<double> times = {0.5, 7, 80};
  const auto a = th::linear_dynamics(pj, times, opts(0.1, 0.05));
  const auto b = th::linear_dynamics(pk, times, opts(0.1, 0.05));
  CHECK(b.continuous.mean.empty() && b.null_directions == 1);
  for (size_t j = 0; j < 3; ++j) {
    CHECK_CLOSE(b.series.langevin.entropy_production[j], a.series.langevin.entropy_production[j], 1e-11, 0);
    CHECK_CLOSE(b.series.langevin.w2sq[j], a.series.langevin.w2sq[j], 1e-11, 0);
    CHECK_CLOSE(b.series.flow.loss[j], a.series.flow.loss[j], 1e-11, 0);
    for (size_t i = 0; i < 3; ++i) CHECK_CLOSE(b.continuous.residual[j * 3 + i], a.continuous.residual[j * 3 + i], 1e-10, 1e-13);
  }
}

TEST_CASE("O6: power-law efficiency at all 8 times, W2^2 and L0 - L at t = 1e3, late regime") {
  const std::vector<double> times = {0.1, 1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  const double rowA[] = {0.9993422796, 0.9475296466, 0.5516433628, 0.3139489341,
                         0.1937643415, 0.1128378896, 0.0277693807, 0.0028202154};
  const double rowB[] = {0.9994899855, 0.9639404226, 0.7686998530, 0.6771624041,
                         0.6238309875, 0.5114810971, 0.1584676418, 0.0161971466};
  std::vector<double> lam, r;
  const auto a = th::analytic_efficiency(power_law(1.5, 1.2, 1000, lam, r), times, opts(1));
  // 10 decimals are given: 1e-8 relative, or half a unit in the last place for the small late values
  for (size_t j = 0; j < 8; ++j) CHECK_CLOSE(a.flow.efficiency[j], rowA[j], kTol, 5e-11);
  const std::vector<double> t3 = {0, 1e3, 1e7};
  const auto w = th::analytic_efficiency(power_law(1.5, 1.2, 1000, lam, r), t3, opts(1));
  CHECK_CLOSE(w.flow.w2sq[1], 375.78192920, kTol, 0);
  CHECK_CLOSE(w.flow.loss_drop[1], 1.9393760810, kTol, 0);
  CHECK_CLOSE(w.flow.loss[0], 2.1678823973, kTol, 0);
  CHECK_CLOSE(w.flow.efficiency[2], 2.820215e-4, 1e-6, 0);
  const auto b = th::analytic_efficiency(power_law(1.5, 0.5, 1000, lam, r), times, opts(1));
  for (size_t j = 0; j < 8; ++j) CHECK_CLOSE(b.flow.efficiency[j], rowB[j], kTol, 5e-11);
  // N = 10⁶ finite sums (6 decimals given)
  const std::vector<double> t4 = {10, 100, 1e3, 1e4};
  const double bigA[] = {0.551660, 0.314144, 0.195668, 0.129085}, bigB[] = {0.769484, 0.681641, 0.646544, 0.631340};
  const auto A = th::analytic_efficiency(power_law(1.5, 1.2, 1000000, lam, r), t4, opts(1));
  const auto B = th::analytic_efficiency(power_law(1.5, 0.5, 1000000, lam, r), t4, opts(1));
  for (size_t j = 0; j < 4; ++j) {
    CHECK_CLOSE(A.flow.efficiency[j], bigA[j], 0, 6e-7);
    CHECK_CLOSE(B.flow.efficiency[j], bigB[j], 0, 6e-7);
  }
}

TEST_CASE("O6: plateau values, regimes and regime boundaries") {
  const double ab[4][3] = {{1.5, 0.5, 0.6188984220}, {1.5, 0.8, 0.3115676874}, {2, 0.5, 0.5091314712}, {1.2, 0.3, 0.8402022895}};
  for (const auto& c : ab) {
    const auto p = th::power_law_plateau(c[0], c[1]);
    CHECK(p.applies && p.regime == th::PlateauRegime::Scaling && p.decay_exponent == 0);
    CHECK_CLOSE(p.value, c[2], kTol, 0);
    CHECK_CLOSE(p.nu, (1 + c[0] - c[1]) / c[0], 1e-15, 0);
  }
  const auto q = th::power_law_plateau(1.5, 1.2);
  CHECK(!q.applies && std::isnan(q.value) && q.regime == th::PlateauRegime::NonOptimal);
  CHECK_CLOSE(q.decay_exponent, 0.2 / 1.5, 1e-14, 0);
  CHECK_CLOSE(q.nu, 0.8666666666666667, 1e-14, 0);
  CHECK(th::power_law_plateau(1.5, 1.0).regime == th::PlateauRegime::NonOptimal);
  CHECK(th::power_law_plateau(1.5, 2.5).regime == th::PlateauRegime::Saturated);
  CHECK(th::power_law_plateau(1.5, 2.5).decay_exponent == 1);
  CHECK(th::power_law_plateau(0.5, 0.4).regime == th::PlateauRegime::TailDominated);
  CHECK(std::string(th::regime_name(th::PlateauRegime::NonOptimal)) == "non-optimal");
  // 𝓔∞ → 1 as β → 1 − α, → 0 as β → 1
  CHECK_CLOSE(th::power_law_plateau(1.5, -0.5 + 1e-9).value, 1.0, 1e-8, 0);
  CHECK(th::power_law_plateau(1.5, 1 - 1e-9).value < 1e-8);
  CHECK_THROWS(th::power_law_plateau(0, 0.5), InvalidArgument);
  CHECK_THROWS(th::power_law_plateau(1.5, std::nan("")), InvalidArgument);
  // λ_k = k^{−1.5}, N = 1000, η = 0.5: early regime ends at t = 2, saturation at t = 2·N^α
  const auto b = th::regime_boundaries(1, std::pow(1000.0, -1.5), 0.5);
  CHECK_CLOSE(b.early_end, 2, 1e-15, 0);
  CHECK_CLOSE(b.saturation_start, 2 * std::pow(1000.0, 1.5), 1e-12, 0);
  CHECK_CLOSE(b.tau_saturation, std::pow(1000.0, 1.5), 1e-12, 0);
  CHECK_CLOSE(b.decades, 4.5, 1e-12, 0);
  CHECK_THROWS(th::regime_boundaries(1, 2, 0.5), InvalidArgument);
  CHECK_THROWS(th::regime_boundaries(1, 0, 0.5), InvalidArgument);
  CHECK_THROWS(th::regime_boundaries(1, 0.5, 0), InvalidArgument);
}

TEST_CASE("O6c: outlier dip, warm start, straightness x uniformity") {
  const std::vector<double> s = {1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5};
  const double dip[] = {0.999168, 0.924291, 0.204870, 0.055279, 0.082565, 0.149751, 0.237270, 0.266264, 0.087594};
  const double warm[] = {1.000000, 0.999995, 0.999521, 0.966886, 0.788162, 0.689708, 0.629885, 0.514364, 0.159256};
  const double bulk[] = {1, 0.999995, 0.999490, 0.963940, 0.768700, 0.677162, 0.623831, 0.511481, 0.158468};
  std::vector<double> lam, r;
  power_law(1.5, 0.5, 1000, lam, r);
  lam.insert(lam.begin(), 100.0);
  r.insert(r.begin(), std::sqrt(50.0));
  th::SpectrumInput in;
  in.eigenvalues = lam;
  in.residuals = r;
  const auto a = th::analytic_efficiency(in, s, opts(1));
  for (size_t j = 0; j < s.size(); ++j) CHECK_CLOSE(a.flow.efficiency[j], dip[j], 0, 6e-7);
  // Warm start at t_w = 0.1: the flow from θ(t_w) has offsets E_k e^{−2λ_k t_w}. "Bulk alone" is
  // the bulk from t = 0 (no outlier, no warm start), for comparison.
  for (int withOutlier = 1; withOutlier >= 0; --withOutlier) {
    const double tw = withOutlier ? 0.1 : 0.0;
    std::vector<double> l2, e2;
    for (size_t k = withOutlier ? 0 : 1; k < lam.size(); ++k) {
      l2.push_back(lam[k]);
      e2.push_back(r[k] * r[k] / lam[k] * std::exp(-2 * lam[k] * tw));
    }
    th::SpectrumInput w;
    w.eigenvalues = l2;
    w.offsets2 = e2;
    const auto ws = th::analytic_efficiency(w, s, opts(1));
    for (size_t j = 0; j < s.size(); ++j) CHECK_CLOSE(ws.flow.efficiency[j], withOutlier ? warm[j] : bulk[j], 0, 6e-7);
  }
  // Straightness × uniformity at t = 10³ (N = 1000)
  const std::vector<double> t3 = {1e3};
  const auto b = th::analytic_efficiency(power_law(1.5, 0.5, 1000, lam, r), t3, opts(1, 0, false, true));
  CHECK_CLOSE(b.flow.straightness[0], 0.821942, 0, 6e-7);
  CHECK_CLOSE(b.flow.uniformity[0], 0.758972, 0, 6e-7);
  const auto c = th::analytic_efficiency(power_law(1.5, 1.2, 1000, lam, r), t3, opts(1, 0, false, true));
  CHECK_CLOSE(c.flow.efficiency[0], 0.193764, 0, 6e-7);
  CHECK_CLOSE(c.flow.straightness[0], 0.651388, 0, 6e-7);
  CHECK_CLOSE(c.flow.uniformity[0], 0.297464, 0, 6e-7);
}

TEST_CASE("analytic_efficiency: gamma > 0 with residuals follows the theta0 = 0 convention") {
  // F = Jθ with θ̄0 = 0 ⇒ r(0) = −y; linear_dynamics from θ̄0 = 0 must agree (σ0 > 0, T > 0, null directions).
  auto p = o2(0.5, 0.2);
  p.theta0 = th::Span();
  const std::vector<double> times = {0, 2, 20};
  const auto a = th::linear_dynamics(p, times, opts(0.1, 0.1, true));
  std::vector<double> K(9, 0.0);
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j)
      for (size_t c = 0; c < 4; ++c) K[i * 3 + j] += kJ[i * 4 + c] * kJ[j * 4 + c];
  const auto sp = speedlimits::spectral::spectrum(K.data(), 3, nullptr, true);
  std::vector<double> rk(3, 0.0);
  for (size_t k = 0; k < 3; ++k)
    for (size_t i = 0; i < 3; ++i) rk[k] -= sp.vectors[i * 3 + k] * kY[i];
  th::SpectrumInput in;
  in.eigenvalues = sp.values;
  in.residuals = rk;
  in.gamma = 0.5;
  in.sigma0 = 0.2;
  in.null_directions = 1;
  const auto s = th::analytic_efficiency(in, times, opts(0.1, 0.1, true));
  for (size_t j = 0; j < 3; ++j) {
    CHECK_CLOSE(s.flow.loss[j], a.series.flow.loss[j], 1e-12, 0);
    CHECK_CLOSE(s.langevin.loss[j], a.series.langevin.loss[j], 1e-12, 0);
    CHECK_CLOSE(s.langevin.entropy_production[j], a.series.langevin.entropy_production[j], 1e-12, 1e-15);
    CHECK_CLOSE(s.langevin.w2sq[j], a.series.langevin.w2sq[j], 1e-12, 1e-15);
    CHECK_CLOSE(s.discrete.displacement[j], a.series.discrete.displacement[j], 1e-12, 1e-15);
  }
  CHECK_CLOSE(s.langevin.total_entropy_production, a.series.langevin.total_entropy_production, 1e-12, 0);
}

TEST_CASE("argument errors name the argument") {
  const std::vector<double> lam = {1, 0.5}, r = {1, 1}, t = {1}, bad = {-1, 1}, nan = {std::nan(""), 1}, one = {1};
  th::SpectrumInput in;
  in.eigenvalues = lam;
  in.residuals = r;
  CHECK_THROWS(th::analytic_efficiency(in, t, opts(0)), InvalidArgument);     // η ≤ 0
  CHECK_THROWS(th::analytic_efficiency(in, t, opts(-1)), InvalidArgument);
  CHECK_THROWS(th::analytic_efficiency(in, t, opts(1, -0.1)), InvalidArgument);  // T < 0
  CHECK_THROWS(th::analytic_efficiency(in, t, opts(1, 0.1)), InvalidArgument);   // T > 0 with σ0 = 0
  CHECK_THROWS(th::analytic_efficiency(in, std::vector<double>{-1}, opts(1)), InvalidArgument);
  CHECK_THROWS(th::analytic_efficiency(in, std::vector<double>{1.5}, opts(1, 0, true)), InvalidArgument);  // non-integer GD step
  auto g = in;
  g.gamma = -1;
  CHECK_THROWS(th::analytic_efficiency(g, t, opts(1)), InvalidArgument);
  g = in;
  g.sigma0 = -1;
  CHECK_THROWS(th::analytic_efficiency(g, t, opts(1)), InvalidArgument);
  g = in;
  g.eigenvalues = bad;
  CHECK_THROWS(th::analytic_efficiency(g, t, opts(1)), InvalidArgument);
  g.eigenvalues = nan;
  CHECK_THROWS(th::analytic_efficiency(g, t, opts(1)), InvalidArgument);
  g = in;
  g.residuals = one;  // size mismatch
  CHECK_THROWS(th::analytic_efficiency(g, t, opts(1)), InvalidArgument);
  g = in;
  g.offsets2 = r;  // both given
  CHECK_THROWS(th::analytic_efficiency(g, t, opts(1)), InvalidArgument);
  try {
    th::analytic_efficiency(in, t, opts(0));
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()).find("eta") != std::string::npos);
  }
  try {
    th::analytic_efficiency(in, t, opts(1, 0.1));
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()).find("sigma0") != std::string::npos);
  }
  // linear_dynamics
  auto p = o2(0);
  p.K = kY;  // both J and K
  CHECK_THROWS(th::linear_dynamics(p, t, opts(1)), InvalidArgument);
  p = o2(0);
  p.P = 5;  // J size mismatch
  CHECK_THROWS(th::linear_dynamics(p, t, opts(1)), InvalidArgument);
  p = o2(0);
  p.y = one;
  CHECK_THROWS(th::linear_dynamics(p, t, opts(1)), InvalidArgument);
  p = o2(0);
  p.theta0 = one;
  CHECK_THROWS(th::linear_dynamics(p, t, opts(1)), InvalidArgument);
  p = o2(-0.5);
  CHECK_THROWS(th::linear_dynamics(p, t, opts(1)), InvalidArgument);
  th::LinearProblem k;
  k.n = 2;
  k.P = 2;
  const std::vector<double> notpsd = {1, 0, 0, -1}, y2 = {1, 1};
  k.K = notpsd;
  k.y = y2;
  CHECK_THROWS(th::linear_dynamics(k, t, opts(1)), InvalidArgument);
  const std::vector<double> psd = {1, 0, 0, 2};
  k.K = psd;
  k.P = 1;  // P below rank
  CHECK_THROWS(th::linear_dynamics(k, t, opts(1)), InvalidArgument);
  // modes
  th::Modes m;
  m.h = {1};
  m.offset2 = {1, 2};
  m.count = {1};
  CHECK_THROWS(th::evaluate(m, t, opts(1)), InvalidArgument);
}

TEST_MAIN()
