// Closed-form speed-limit thermodynamics of linear models (THEORY.md §1.4–§3). See thermo.hpp.
#include "core/thermo.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/spectrum.hpp"

namespace speedlimits::thermo {

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

void require(bool ok, const std::string& message) {
  if (!ok) throw InvalidArgument(message);
}

// A finite scalar ≥ 0 (or > 0 when strict), named in the error.
void check_scalar(const char* fn, const char* name, double v, bool strict) {
  const bool ok = std::isfinite(v) && (strict ? v > 0 : v >= 0);
  require(ok, std::string(fn) + ": " + name + " must be a finite number " + (strict ? "> 0" : ">= 0") +
                  ", got " + std::to_string(v));
}

void check_array(const char* fn, const char* name, Span a, bool nonnegative) {
  for (std::size_t i = 0; i < a.size; ++i) {
    const double v = a[i];
    if (!std::isfinite(v) || (nonnegative && v < 0))
      throw InvalidArgument(std::string(fn) + ": " + name + " must contain only finite" +
                            (nonnegative ? " non-negative" : "") + " values, got " + std::to_string(v) +
                            " at index " + std::to_string(i));
  }
}

// log(1 + x) − x without cancellation for small |x| (the series −x²/2 + x³/3 − …).
double log1p_minus_x(double x) {
  if (std::fabs(x) > 0.1) return std::log1p(x) - x;
  double term = -x * x / 2, sum = term;
  for (int k = 3; k < 40; ++k) {
    term *= -x * (k - 1) / k;
    sum += term;
    if (std::fabs(term) < 1e-17 * std::fabs(sum)) break;
  }
  return sum;
}

// 20-point Gauss–Legendre rule on [−1, 1] (Newton on P_20; computed once).
struct Gauss {
  static const int n = 20;
  double x[n], w[n];
  Gauss() {
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < n; ++i) {
      double z = std::cos(pi * (i + 0.75) / (n + 0.5)), dp = 1;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = z;
        for (int k = 2; k <= n; ++k) {
          const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = n * (z * p1 - p0) / (z * z - 1);
        const double dz = p1 / dp;
        z -= dz;
        if (std::fabs(dz) < 1e-16) break;
      }
      x[i] = z;
      w[i] = 2 / ((1 - z * z) * dp * dp);
    }
  }
};
const Gauss& gauss() {
  static const Gauss g;
  return g;
}

double gl(const std::function<double(double)>& f, double a, double b) {
  const Gauss& g = gauss();
  const double c = 0.5 * (a + b), r = 0.5 * (b - a);
  double s = 0;
  for (int i = 0; i < Gauss::n; ++i) s += g.w[i] * f(c + r * g.x[i]);
  return r * s;
}

// ℓ(t_j) = ∫0^{t_j} √v(s) ds for every t_j, v the squared metric speed. The speed is smooth
// on the scale `fast` (the shortest relaxation time), then decays over decades: Gauss–Legendre on
// [0, fast/10], then panels of width 1/4 in log s (THEORY §2.2 recommends quadrature in log s).
std::vector<double> path_lengths(const std::function<double(double)>& v, const std::vector<double>& times,
                                 double fast) {
  std::vector<double> out(times.size(), 0.0);
  if (!(fast < kInf)) return out;  // nothing moves
  auto speed = [&](double s) { return std::sqrt(std::max(0.0, v(s))); };
  auto speed_log = [&](double u) {
    const double s = std::exp(u);
    return s * speed(s);
  };
  const double s0 = 0.1 * fast, u0 = std::log(s0), panel = 0.25;
  std::vector<std::size_t> order(times.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return times[a] < times[b]; });
  double acc = kNaN, u = u0;
  for (std::size_t idx : order) {
    const double t = times[idx];
    if (t <= s0) {
      out[idx] = t > 0 ? gl(speed, 0, t) : 0.0;
      continue;
    }
    if (std::isnan(acc)) acc = gl(speed, 0, s0);
    const double ut = std::log(t);
    const int panels = std::max(1, static_cast<int>(std::ceil((ut - u) / panel)));
    const double width = (ut - u) / panels;
    for (int p = 0; p < panels; ++p) acc += gl(speed_log, u + p * width, u + (p + 1) * width);
    u = ut;
    out[idx] = acc;
  }
  return out;
}

// Per-time sums of the gradient-flow series (§2.2 with the ensemble E of §2.5).
struct FlowSums {
  double w2 = 0, drop = 0, tail = 0, motion = 0;  // tail = Σ (h/2) E e^{−2κt}; motion = Σ E κ
};
FlowSums flow_at(const Modes& m, double eta, double t) {
  FlowSums s;
  for (std::size_t a = 0; a < m.h.size(); ++a) {
    const double E = m.offset2[a] + m.count[a] * m.var0;
    if (E == 0 || m.h[a] == 0) continue;
    const double k = eta * m.h[a], em1 = std::expm1(-k * t), em2 = std::expm1(-2 * k * t);
    s.w2 += E * em1 * em1;                // E g1(κt)
    s.drop += 0.5 * m.h[a] * E * (-em2);  // (h/2) E (1 − e^{−2κt})
    s.tail += 0.5 * m.h[a] * E * (1 + em2);
    s.motion += E * k;
  }
  return s;
}

// Per-time sums of the OU series (§2.4).
struct OuSums {
  double w2 = 0, heat = 0, sys = 0, tsigma = 0, rate = 0, tail = 0;  // tsigma = T Σ_t; tail = ⟨L⟩ − L*
};
OuSums ou_at(const Modes& m, double eta, double T, double t) {
  OuSums s;
  const double v0 = m.var0;
  for (std::size_t a = 0; a < m.h.size(); ++a) {
    const double h = m.h[a], d2 = m.offset2[a], c = m.count[a];
    if (h == 0) {  // free diffusion (γ = 0 null directions); the mean does not move
      if (c == 0) continue;
      const double ds2 = 2 * eta * T * t, s2 = v0 + ds2, sp = std::sqrt(s2) + std::sqrt(v0);
      s.w2 += c * ds2 * ds2 / (sp * sp);
      const double dsys = 0.5 * c * std::log1p(ds2 / v0);
      s.sys += dsys;
      s.tsigma += T * dsys;
      s.rate += eta * c * T / s2;
      continue;
    }
    const double k = eta * h, em1 = std::expm1(-k * t), em2 = std::expm1(-2 * k * t), e2 = 1 + em2;
    const double seq = T / h, ds2 = (seq - v0) * (-em2), s2 = v0 + ds2;
    const double sp = std::sqrt(s2) + std::sqrt(v0);
    s.w2 += d2 * em1 * em1 + (c > 0 ? c * ds2 * ds2 / (sp * sp) : 0.0);
    s.heat += 0.5 * h * (-em2) * (d2 + c * (v0 - seq));
    s.tail += 0.5 * h * (d2 * e2 + c * s2);
    const double x = c > 0 ? ds2 / v0 : 0.0;
    s.sys += 0.5 * c * std::log1p(x);
    // T Σ_a = (h/2)(1 − e2) d2 + (c/2)[T (ln(1+x) − x) + h σ0² x²/(1 − e2)]: both parts ≥ 0-dominated,
    // unlike ΔS_m + ΔS_sys, whose terms cancel at small t.
    if (em2 != 0) s.tsigma += 0.5 * h * (-em2) * d2 + (c > 0 ? 0.5 * c * (T * log1p_minus_x(x) + h * v0 * x * x / (-em2)) : 0.0);
    const double g = h * v0 - T;
    s.rate += (eta / T) * (h * h * d2 * e2 + (c > 0 ? c * g * g * e2 * e2 / s2 : 0.0));
  }
  return s;
}

void check_modes(const Modes& m) {
  const char* fn = "thermo::evaluate";
  const std::size_t G = m.h.size();
  require(m.offset2.size() == G && m.count.size() == G,
          std::string(fn) + ": modes.h, modes.offset2 and modes.count must have the same size, got " +
              std::to_string(G) + ", " + std::to_string(m.offset2.size()) + ", " + std::to_string(m.count.size()));
  check_array(fn, "modes.h", m.h, true);
  check_array(fn, "modes.offset2", m.offset2, true);
  check_array(fn, "modes.count", m.count, true);
  check_scalar(fn, "sigma0^2", m.var0, false);
  require(std::isfinite(m.loss_min), std::string(fn) + ": loss_min must be finite");
}

void check_times(const char* fn, Span times, bool integers) {
  for (std::size_t i = 0; i < times.size; ++i) {
    const double t = times[i];
    require(std::isfinite(t) && t >= 0, std::string(fn) + ": times must be finite and >= 0, got " + std::to_string(t) +
                                            " at index " + std::to_string(i));
    require(!integers || t == std::floor(t), std::string(fn) + ": times must be integer step counts for discrete GD, got " +
                                                 std::to_string(t) + " at index " + std::to_string(i));
  }
}

void check_options(const char* fn, const EvalOptions& o) {
  check_scalar(fn, "eta", o.eta, true);
  check_scalar(fn, "temperature", o.temperature, false);
}

double ratio_or_limit(double num, double den, double t, bool moving) {
  if (t == 0) return moving ? 1.0 : kNaN;  // 𝓔 → 1 as t → 0 (§1.4)
  return den > 0 ? num / den : kNaN;
}

}  // namespace

Series evaluate(const Modes& m, Span times, const EvalOptions& o) {
  const char* fn = "thermo::evaluate";
  check_options(fn, o);
  check_modes(m);
  check_times(fn, times, o.discrete);
  const double eta = o.eta, T = o.temperature;
  const std::size_t G = m.h.size(), nt = times.size;
  bool carries = false;
  double hmax = 0, kfast = 0;
  for (std::size_t a = 0; a < G; ++a) {
    carries = carries || m.count[a] > 0;
    hmax = std::max(hmax, m.h[a]);
    if (m.offset2[a] + m.count[a] > 0) kfast = std::max(kfast, eta * m.h[a]);
  }
  require(!(T > 0 && carries && m.var0 == 0),
          std::string(fn) + ": sigma0 must be > 0 when temperature > 0 (a point mass has entropy −∞, so Σ_t = +∞ "
                            "and 𝓔 = 0; THEORY §2.4)");

  Series s;
  s.times.assign(times.data, times.data + nt);
  FlowSeries& f = s.flow;
  for (auto* v : {&f.w2sq, &f.dissipation, &f.loss_drop, &f.loss, &f.efficiency}) v->resize(nt);
  for (std::size_t j = 0; j < nt; ++j) {
    const double t = times[j];
    const FlowSums q = flow_at(m, eta, t);
    f.w2sq[j] = q.w2;
    f.loss_drop[j] = q.drop;
    f.dissipation[j] = eta * q.drop;
    f.loss[j] = m.loss_min + q.tail;
    f.efficiency[j] = ratio_or_limit(q.w2, t * eta * q.drop, t, q.motion > 0);
  }
  if (o.path_length) {
    auto v = [&](double t) {  // |ṗ|_W² = Σ E κ² e^{−2κt}
      double sum = 0;
      for (std::size_t a = 0; a < G; ++a) {
        const double k = eta * m.h[a];
        sum += (m.offset2[a] + m.count[a] * m.var0) * k * k * std::exp(-2 * k * t);
      }
      return sum;
    };
    f.path_length = path_lengths(v, s.times, kfast > 0 ? 1 / kfast : kInf);
    f.straightness.resize(nt);
    f.uniformity.resize(nt);
    for (std::size_t j = 0; j < nt; ++j) {
      const double l2 = f.path_length[j] * f.path_length[j], t = times[j];
      f.straightness[j] = t == 0 ? (f.efficiency[j] == f.efficiency[j] ? 1.0 : kNaN) : (l2 > 0 ? f.w2sq[j] / l2 : kNaN);
      f.uniformity[j] = t == 0 ? f.straightness[j] : (f.dissipation[j] > 0 ? l2 / (t * f.dissipation[j]) : kNaN);
    }
  }

  if (T > 0) {
    s.has_langevin = true;
    LangevinSeries& L = s.langevin;
    for (auto* v : {&L.w2sq, &L.entropy_production, &L.heat, &L.system_entropy, &L.rate, &L.loss, &L.efficiency})
      v->resize(nt);
    for (std::size_t j = 0; j < nt; ++j) {
      const double t = times[j];
      const OuSums q = ou_at(m, eta, T, t);
      L.w2sq[j] = q.w2;
      L.entropy_production[j] = q.tsigma / T;
      L.heat[j] = q.heat;
      L.system_entropy[j] = q.sys;
      L.rate[j] = q.rate;
      L.loss[j] = m.loss_min + q.tail;
      L.efficiency[j] = ratio_or_limit(q.w2, t * eta * q.tsigma, t, q.rate > 0);
    }
    // Σ∞ = D_KL(p0‖π) = Σ_a (c/2)(u − ln(1+u)) + h d2/(2T), u = h σ0²/T − 1 (§2.4)
    double kl = 0;
    for (std::size_t a = 0; a < G; ++a) {
      if (m.count[a] == 0 && m.offset2[a] == 0) continue;
      if (m.h[a] == 0) {
        kl = kInf;
        break;
      }
      kl += -0.5 * m.count[a] * log1p_minus_x(m.h[a] * m.var0 / T - 1) + m.h[a] * m.offset2[a] / (2 * T);
    }
    L.total_entropy_production = kl;
    if (o.path_length) {
      double fast = kfast > 0 ? 1 / kfast : kInf;
      for (std::size_t a = 0; a < G; ++a)
        if (m.h[a] == 0 && m.count[a] > 0) fast = std::min(fast, m.var0 / (eta * T));  // free-diffusion scale
      auto v = [&](double t) { return eta * T * ou_at(m, eta, T, t).rate; };  // |ṗ|_W² = η T σ (§1.4)
      L.path_length = path_lengths(v, s.times, fast);
      L.straightness.resize(nt);
      L.uniformity.resize(nt);
      for (std::size_t j = 0; j < nt; ++j) {
        const double l2 = L.path_length[j] * L.path_length[j], t = times[j];
        const double work = t * eta * T * L.entropy_production[j];
        L.straightness[j] = t == 0 ? (L.efficiency[j] == L.efficiency[j] ? 1.0 : kNaN) : (l2 > 0 ? L.w2sq[j] / l2 : kNaN);
        L.uniformity[j] = t == 0 ? L.straightness[j] : (work > 0 ? l2 / work : kNaN);
      }
    }
  }

  if (o.discrete) {
    s.has_discrete = true;
    DiscreteSeries& D = s.discrete;
    D.stable = eta * hmax < 2;
    for (auto* v : {&D.displacement, &D.step_sum, &D.loss_drop, &D.loss, &D.efficiency_kinetic, &D.efficiency_loss})
      v->resize(nt);
    for (std::size_t j = 0; j < nt; ++j) {
      const double K = times[j];
      double disp = 0, steps = 0, drop = 0, tail = 0;
      for (std::size_t a = 0; a < G; ++a) {
        const double E = m.offset2[a] + m.count[a] * m.var0;
        const double k = eta * m.h[a], q = 1 - k;
        if (E == 0 || k == 0) continue;
        // 1 − q^K and 1 − q^{2K} via expm1 when 0 < q < 1 (small κ: no cancellation)
        double one_m_qK, one_m_q2K;
        if (q > 0) {
          const double lq = std::log1p(-k);
          one_m_qK = -std::expm1(K * lq);
          one_m_q2K = -std::expm1(2 * K * lq);
        } else {
          one_m_qK = 1 - std::pow(q, K);
          one_m_q2K = 1 - std::pow(q, 2 * K);
        }
        disp += E * one_m_qK * one_m_qK;
        // Σ_{k<K} κ² q^{2k} = κ (1 − q^{2K})/(2 − κ), since 1 − q² = κ(2 − κ); K κ² at κ = 2
        steps += E * (k == 2 ? k * k * K : k * one_m_q2K / (2 - k));
        drop += 0.5 * m.h[a] * E * one_m_q2K;
        tail += 0.5 * m.h[a] * E * (1 - one_m_q2K);
      }
      D.displacement[j] = disp;
      D.step_sum[j] = steps;
      D.loss_drop[j] = drop;
      D.loss[j] = m.loss_min + tail;
      D.efficiency_kinetic[j] = K > 0 && steps > 0 ? disp / (K * steps) : kNaN;
      D.efficiency_loss[j] = K > 0 && drop != 0 ? disp / (eta * K * drop) : kNaN;
    }
  }
  return s;
}

Modes modes_from_spectrum(const SpectrumInput& in) {
  const char* fn = "thermo::analytic_efficiency";
  const std::size_t n = in.eigenvalues.size;
  require(in.eigenvalues.given() || n == 0, std::string(fn) + ": eigenvalues is null");
  check_array(fn, "eigenvalues", in.eigenvalues, true);
  require(in.residuals.given() != in.offsets2.given(),
          std::string(fn) + ": give exactly one of residuals and offsets2");
  const Span given = in.residuals.given() ? in.residuals : in.offsets2;
  const char* gname = in.residuals.given() ? "residuals" : "offsets2";
  require(given.size == n, std::string(fn) + ": " + gname + " has " + std::to_string(given.size) +
                               " entries but eigenvalues has " + std::to_string(n));
  check_array(fn, gname, given, in.offsets2.given());
  check_scalar(fn, "gamma", in.gamma, false);
  check_scalar(fn, "sigma0", in.sigma0, false);
  check_scalar(fn, "null_directions", in.null_directions, false);

  Modes m;
  m.var0 = in.sigma0 * in.sigma0;
  const double g = in.gamma;
  for (std::size_t k = 0; k < n; ++k) {
    const double lam = in.eigenvalues[k];
    if (in.offsets2.given()) {
      m.h.push_back(lam + g);
      m.offset2.push_back(in.offsets2[k]);
      m.count.push_back(1);
      continue;
    }
    const double r2 = in.residuals[k] * in.residuals[k];
    if (lam == 0) {  // frozen function-space mode: J u_k = 0, its residual never changes
      m.loss_min += 0.5 * r2;
      continue;
    }
    // θ̄0 = 0 convention for γ > 0 (thermo.hpp); γ = 0 gives E = r²/λ (§2.2)
    m.h.push_back(lam + g);
    m.offset2.push_back(r2 * lam / ((lam + g) * (lam + g)));
    m.count.push_back(1);
    m.loss_min += 0.5 * g * r2 / (lam + g);
  }
  if (in.null_directions > 0) {
    m.h.push_back(g);
    m.offset2.push_back(0);
    m.count.push_back(in.null_directions);
  }
  return m;
}

Series analytic_efficiency(const SpectrumInput& input, Span times, const EvalOptions& options) {
  check_options("thermo::analytic_efficiency", options);
  check_times("thermo::analytic_efficiency", times, options.discrete);
  return evaluate(modes_from_spectrum(input), times, options);
}

LinearDynamicsResult linear_dynamics(const LinearProblem& p, Span times, const EvalOptions& o) {
  const char* fn = "thermo::linear_dynamics";
  check_options(fn, o);
  check_times(fn, times, o.discrete);
  check_scalar(fn, "gamma", p.gamma, false);
  check_scalar(fn, "sigma0", p.sigma0, false);
  require(p.J.given() != p.K.given(), std::string(fn) + ": give exactly one of J and K");
  const std::size_t n = p.n;
  std::size_t P = p.P;
  require(n > 0, std::string(fn) + ": n must be > 0");
  const bool hasJ = p.J.given();
  if (hasJ) {
    require(P > 0, std::string(fn) + ": P must be > 0");
    require(p.J.size == n * P, std::string(fn) + ": J has " + std::to_string(p.J.size) + " entries, expected n*P = " +
                                   std::to_string(n * P));
    check_array(fn, "J", p.J, false);
    require(!p.f0.given(), std::string(fn) + ": f0 is for the K-only form (with J, pass theta0)");
  } else {
    require(p.K.size == n * n, std::string(fn) + ": K has " + std::to_string(p.K.size) + " entries, expected n*n = " +
                                   std::to_string(n * n));
    require(!p.theta0.given(), std::string(fn) + ": theta0 needs J (with K only, pass f0)");
  }
  require(p.y.given() && p.y.size == n, std::string(fn) + ": y must have n = " + std::to_string(n) + " entries, got " +
                                            std::to_string(p.y.size));
  check_array(fn, "y", p.y, false);
  if (p.theta0.given()) {
    require(p.theta0.size == P, std::string(fn) + ": theta0 must have P = " + std::to_string(P) + " entries, got " +
                                    std::to_string(p.theta0.size));
    check_array(fn, "theta0", p.theta0, false);
  }
  if (p.f0.given()) {
    require(p.f0.size == n, std::string(fn) + ": f0 must have n = " + std::to_string(n) + " entries, got " +
                                std::to_string(p.f0.size));
    check_array(fn, "f0", p.f0, false);
  }

  // K = J Jᵀ (lower triangle) and its eigendecomposition, descending.
  std::vector<double> Kmat(n * n, 0.0);
  if (hasJ)
    linalg::syrk(linalg::Uplo::Lower, linalg::Trans::No, n, P, 1.0, p.J.data, P, 0.0, Kmat.data(), n);
  else
    std::copy(p.K.data, p.K.data + n * n, Kmat.begin());
  spectral::SpectrumResult sp = spectral::spectrum(Kmat.data(), n, nullptr, true);
  const std::vector<double>& U = sp.vectors;  // U[i*n + k] = (u_k)_i
  const double lmax = std::max(sp.values.front(), 0.0);
  const double tol = 10.0 * static_cast<double>(std::max(n, hasJ ? P : n)) * 2.220446049250313e-16 * lmax;
  require(hasJ || sp.values.back() >= -tol,
          std::string(fn) + ": K must be positive semidefinite, it has the eigenvalue " + std::to_string(sp.values.back()));
  LinearDynamicsResult r;
  r.eigenvalues = sp.values;
  std::size_t rank = 0;
  for (double& v : r.eigenvalues) {
    if (v > tol) ++rank;
    else v = 0;
  }
  r.rank = rank;
  if (!hasJ && P == 0) P = rank;
  require(P >= rank, std::string(fn) + ": P = " + std::to_string(P) + " is below the rank of K (" + std::to_string(rank) + ")");
  r.null_directions = P - rank;

  // Mean initial predictions F0 = J θ̄0 (or f0) and the mode projections y_k, F0_k.
  std::vector<double> F0(n, 0.0);
  if (hasJ && p.theta0.given())
    linalg::gemm(linalg::Trans::No, linalg::Trans::No, n, 1, P, 1.0, p.J.data, P, p.theta0.data, 1, 0.0, F0.data(), 1);
  else if (p.f0.given())
    std::copy(p.f0.data, p.f0.data + n, F0.begin());
  std::vector<double> yk(n, 0.0), fk(n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < n; ++k) {
      yk[k] += U[i * n + k] * p.y[i];
      fk[k] += U[i * n + k] * F0[i];
    }
  const double g = p.gamma;
  std::vector<double> sq(rank), zstar(rank), z0(rank);
  r.hessian.resize(rank);
  r.offsets.resize(rank);
  for (std::size_t a = 0; a < rank; ++a) {
    const double lam = r.eigenvalues[a];
    sq[a] = std::sqrt(lam);
    z0[a] = fk[a] / sq[a];                  // v_aᵀθ̄0 = u_aᵀJθ̄0/√λ_a
    zstar[a] = sq[a] * yk[a] / (lam + g);   // v_aᵀθ*, θ* = H⁻¹Jᵀy (γ = 0: min-norm)
    r.hessian[a] = lam + g;
    r.offsets[a] = z0[a] - zstar[a];
    r.loss_min += 0.5 * g * yk[a] * yk[a] / (lam + g);
  }
  for (std::size_t k = rank; k < n; ++k) r.loss_min += 0.5 * (fk[k] - yk[k]) * (fk[k] - yk[k]);  // frozen residuals

  // v_a = Jᵀu_a/√λ_a (P×rank) and the null part θ̄0⊥ = θ̄0 − Σ_a v_a (v_aᵀθ̄0).
  std::vector<double> V, perp;
  if (hasJ) {
    V.assign(P * rank, 0.0);
    if (rank > 0)
      linalg::gemm(linalg::Trans::Yes, linalg::Trans::No, P, rank, n, 1.0, p.J.data, P, U.data(), n, 0.0, V.data(), rank);
    for (std::size_t i = 0; i < P; ++i)
      for (std::size_t a = 0; a < rank; ++a) V[i * rank + a] /= sq[a];
    perp.assign(P, 0.0);
    if (p.theta0.given()) {
      for (std::size_t i = 0; i < P; ++i) {
        double s = p.theta0[i];
        for (std::size_t a = 0; a < rank; ++a) s -= V[i * rank + a] * z0[a];
        perp[i] = s;
      }
      if (g > 0)
        for (double v : perp) r.null_offset2 += v * v;
    }
  }

  Modes m;
  m.var0 = p.sigma0 * p.sigma0;
  m.loss_min = r.loss_min;
  for (std::size_t a = 0; a < rank; ++a) {
    m.h.push_back(r.hessian[a]);
    m.offset2.push_back(r.offsets[a] * r.offsets[a]);
    m.count.push_back(1);
  }
  if (r.null_directions > 0 || r.null_offset2 > 0) {
    m.h.push_back(g);
    m.offset2.push_back(r.null_offset2);
    m.count.push_back(static_cast<double>(r.null_directions));
  }
  r.series = evaluate(m, times, o);

  // Moments along the dynamics. decay(h, t): the mean factor; var(h, t): one direction's variance.
  const double eta = o.eta, T = o.temperature, v0 = m.var0;
  const std::size_t nt = times.size;
  auto fill = [&](Trajectory& tr, const std::function<double(double, double)>& decay,
                  const std::function<double(double, double)>& var) {
    tr.residual.assign(nt * n, 0.0);
    tr.variance.assign(nt * rank, 0.0);
    tr.null_variance.assign(nt, 0.0);
    if (hasJ) tr.mean.assign(nt * P, 0.0);
    std::vector<double> mt(rank), rk(n);
    for (std::size_t j = 0; j < nt; ++j) {
      const double t = times[j];
      for (std::size_t a = 0; a < rank; ++a) {
        mt[a] = zstar[a] + r.offsets[a] * decay(r.hessian[a], t);
        rk[a] = sq[a] * mt[a] - yk[a];
        tr.variance[j * rank + a] = var(r.hessian[a], t);
      }
      for (std::size_t k = rank; k < n; ++k) rk[k] = fk[k] - yk[k];
      tr.null_variance[j] = var(g, t);
      for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t k = 0; k < n; ++k) s += U[i * n + k] * rk[k];
        tr.residual[j * n + i] = s;
      }
      if (hasJ) {
        const double dn = decay(g, t);
        for (std::size_t i = 0; i < P; ++i) {
          double s = perp[i] * dn;
          for (std::size_t a = 0; a < rank; ++a) s += V[i * rank + a] * mt[a];
          tr.mean[j * P + i] = s;
        }
      }
    }
  };
  fill(
      r.continuous, [&](double h, double t) { return std::exp(-eta * h * t); },
      [&](double h, double t) {
        if (T == 0) return v0 * std::exp(-2 * eta * h * t);
        if (h == 0) return v0 + 2 * eta * T * t;
        return T / h + (v0 - T / h) * std::exp(-2 * eta * h * t);  // OU (§2.4)
      });
  if (o.discrete) {
    r.has_gd = true;
    fill(
        r.gd, [&](double h, double K) { return std::pow(1 - eta * h, K); },
        [&](double h, double K) { return v0 * std::pow(1 - eta * h, 2 * K); });
  }
  return r;
}

Plateau power_law_plateau(double alpha, double beta) {
  require(std::isfinite(alpha) && alpha > 0, "power_law_plateau: alpha must be a finite number > 0, got " + std::to_string(alpha));
  require(std::isfinite(beta), "power_law_plateau: beta must be finite, got " + std::to_string(beta));
  Plateau p;
  p.nu = (1 + alpha - beta) / alpha;
  if (beta <= 1 - alpha) {
    p.regime = PlateauRegime::TailDominated;
  } else if (beta < 1) {
    p.regime = PlateauRegime::Scaling;
    p.applies = true;
    p.value = (4 / p.nu) * (-std::expm1((1 - p.nu) * std::log(2.0)));  // (4/ν)(1 − 2^{1−ν}), §3.2
  } else if (beta < 1 + alpha) {
    p.regime = PlateauRegime::NonOptimal;
    p.decay_exponent = (beta - 1) / alpha;
  } else {
    p.regime = PlateauRegime::Saturated;
    p.decay_exponent = 1;
  }
  return p;
}

const char* regime_name(PlateauRegime r) noexcept {
  switch (r) {
    case PlateauRegime::Scaling: return "scaling";
    case PlateauRegime::NonOptimal: return "non-optimal";
    case PlateauRegime::Saturated: return "saturated";
    case PlateauRegime::TailDominated: return "tail-dominated";
  }
  return "unknown";
}

RegimeBoundaries regime_boundaries(double lambda_max, double lambda_min, double eta) {
  const char* fn = "regime_boundaries";
  check_scalar(fn, "lambda_max", lambda_max, true);
  check_scalar(fn, "lambda_min", lambda_min, true);
  check_scalar(fn, "eta", eta, true);
  require(lambda_min <= lambda_max, std::string(fn) + ": lambda_min must be <= lambda_max");
  RegimeBoundaries b;
  b.early_end = 1 / (eta * lambda_max);
  b.saturation_start = 1 / (eta * lambda_min);
  b.tau_saturation = lambda_max / lambda_min;
  b.decades = std::log10(b.tau_saturation);
  return b;
}

}  // namespace speedlimits::thermo
