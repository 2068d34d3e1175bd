// Analytic NTK / NNGP kernels: dual activations (closed forms and quadrature), the FCN and the
// CNN recursions. Formulas and references in ntk_analytic.hpp.
#include "core/ntk_analytic.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/errors.hpp"
#include "core/threads.hpp"

namespace speedlimits::nets {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/√(2π)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;  // 2/√π

// ---------------------------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------------------------

struct Relu {
  static double f(double x) noexcept { return x > 0 ? x : 0.0; }
  static double d(double x) noexcept { return x > 0 ? 1.0 : 0.0; }  // φ'(0) = 0 (PyTorch)
  static constexpr double width = 0.0;                                // a kink, no smooth scale
};
struct Erf {
  static double f(double x) noexcept { return std::erf(x); }
  static double d(double x) noexcept { return kTwoOverSqrtPi * std::exp(-x * x); }
  static constexpr double width = 1.0;
};
struct Tanh {
  static double f(double x) noexcept { return std::tanh(x); }
  static double d(double x) noexcept {
    const double ax = std::fabs(x);
    if (ax < 0.5) {
      const double t = std::tanh(x);
      return 1.0 - t * t;
    }
    const double e = std::exp(-2.0 * ax);  // sech²x = 4e^{-2|x|}/(1 + e^{-2|x|})²
    return 4.0 * e / ((1.0 + e) * (1.0 + e));
  }
  static constexpr double width = 1.0;
};
struct Gelu {
  static double cdf(double x) noexcept { return 0.5 * std::erfc(-x * kInvSqrt2); }
  static double f(double x) noexcept { return x * cdf(x); }
  static double d(double x) noexcept { return cdf(x) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x); }
  static constexpr double width = 1.0;
};
struct Linear {
  static double f(double x) noexcept { return x; }
  static double d(double) noexcept { return 1.0; }
  static constexpr double width = -1.0;  // smooth everywhere, no transition to resolve
};

// ---------------------------------------------------------------------------------------------
// Quadrature: composite Gauss–Legendre panels graded away from a split point (see the header).
// ---------------------------------------------------------------------------------------------

constexpr int kGl = 14;              // nodes per panel
constexpr double kZ = 8.3;           // truncation of each standard-normal coordinate
constexpr double kRatio = 4.0;       // geometric growth of the panels away from the split point
constexpr double kHmax = 5.0;        // largest panel
constexpr double kCapTol = 1e-9;     // per-panel error target relative to the local Gaussian weight
constexpr double kEllFloor = 1e-14;  // smallest first panel

template <int N>
struct GaussLegendre {
  double x[N], w[N];
  GaussLegendre() {
    // Newton on P_N from the usual cosine initial guesses; P_N by the three-term recurrence.
    auto legendre = [](double z, double& p1, double& p2) {
      p1 = 1;
      p2 = 0;
      for (int j = 1; j <= N; ++j) {
        const double p3 = p2;
        p2 = p1;
        p1 = ((2.0 * j - 1.0) * z * p2 - (j - 1.0) * p3) / j;
      }
    };
    for (int i = 0; i < (N + 1) / 2; ++i) {
      double z = std::cos(kPi * (i + 0.75) / (N + 0.5)), p1, p2;
      for (int it = 0; it < 100; ++it) {
        legendre(z, p1, p2);
        const double dz = p1 / (N * (z * p1 - p2) / (z * z - 1.0));
        z -= dz;
        if (std::fabs(dz) < 1e-16) break;
      }
      legendre(z, p1, p2);
      const double pp = N * (z * p1 - p2) / (z * z - 1.0);
      x[i] = -z;
      x[N - 1 - i] = z;
      w[i] = w[N - 1 - i] = 2.0 / ((1.0 - z * z) * pp * pp);
    }
  }
};
template <int N>
const GaussLegendre<N>& gl() {
  static const GaussLegendre<N> rule;
  return rule;
}

// Largest panel at distance |z| from the centre such that the panel's Gauss–Legendre error on the
// Gaussian factor stays ≤ kCapTol of the local weight: h ≤ (2/|z|)·((2m)!·tol·e^{z²/2})^{1/(2m)}.
double tail_cap(double z) noexcept {
  static const double c0 = (std::lgamma(2.0 * kGl + 1.0) + std::log(kCapTol)) / (2.0 * kGl);
  const double az = std::fabs(z);
  if (az < 1e-9) return kHmax;
  return std::min(kHmax, (2.0 / az) * std::exp(c0 + az * az / (4.0 * kGl)));
}

// Nodes z and weights W (Gaussian density included) of ∫ N(z) g(z) dz over [−kZ, kZ], split at
// p, first panels of width ell on both sides (ell <= 0: no grading).
struct Rule1 {
  std::vector<double> z, w;
  void clear() {
    z.clear();
    w.clear();
  }
  void panel(double lo, double hi) {
    const GaussLegendre<kGl>& g = gl<kGl>();
    const double c = 0.5 * (lo + hi), h = 0.5 * (hi - lo);
    for (int k = 0; k < kGl; ++k) {
      const double zz = c + h * g.x[k];
      z.push_back(zz);
      w.push_back(h * g.w[k] * kInvSqrt2Pi * std::exp(-0.5 * zz * zz));
    }
  }
  void side(double p, double ell, double end) {
    const double sg = end > p ? 1.0 : -1.0;
    double pos = p, width = ell > 0 ? std::max(ell, kEllFloor) : 1.0;
    while (sg * (end - pos) > 1e-14) {
      const double cap = sg * pos >= 0 ? tail_cap(pos) : kHmax;  // moving outwards: tail cap
      const double ww = std::min(width, cap);
      double nxt = pos + sg * ww;
      if (sg * (end - nxt) < 0.3 * ww) nxt = end;
      panel(std::min(pos, nxt), std::max(pos, nxt));
      pos = nxt;
      width *= kRatio;
    }
  }
  void build(double p, double ell) {
    clear();
    p = std::min(kZ, std::max(-kZ, p));
    side(p, ell, kZ);
    side(p, ell, -kZ);
  }
};

template <class A>
DualExpectations dual_quadrature(double s1, double s2, double rho) {
  const double a = s2 * rho, c = s2 * std::sqrt(std::max(0.0, (1.0 - rho) * (1.0 + rho)));
  const double wphi = A::width;
  double wo = 1.0;
  if (wphi > 0 && s1 > 0) wo = std::min(wo, wphi / s1);
  if (wphi >= 0 && a != 0) {
    const double e = std::sqrt(wphi * wphi + c * c) / std::fabs(a);
    if (e > 0) wo = std::min(wo, e);
  }
  const double wi = (wphi > 0 && c > 0) ? std::min(1.0, wphi / c) : 1.0;
  Rule1 outer, inner;
  outer.build(0.0, wo);
  double k = 0, kd = 0;
  for (std::size_t i = 0; i < outer.z.size(); ++i) {
    const double z1 = outer.z[i], u = s1 * z1, m = a * z1;
    double h, hd;
    if (c == 0) {
      h = A::f(m);
      hd = A::d(m);
    } else {
      inner.build(-m / c, wi);
      h = 0;
      hd = 0;
      for (std::size_t j = 0; j < inner.z.size(); ++j) {
        const double v = m + c * inner.z[j];
        h += inner.w[j] * A::f(v);
        hd += inner.w[j] * A::d(v);
      }
    }
    k += outer.w[i] * A::f(u) * h;
    kd += outer.w[i] * A::d(u) * hd;
  }
  return {k, kd};
}

// ---------------------------------------------------------------------------------------------
// tanh by the Mehler (Hermite) expansion. With h_k = He_k/√k! (orthonormal under N(0,1)) and
// z1, z2 standard normals of correlation ρ (Mehler 1866; the "dual activation" series of Daniely,
// Frostig & Singer 2016):
//   E[φ(s1 z1) φ(s2 z2)] = Σ_k ρ^k a_k(s1) a_k(s2),   a_k(s) = E[φ(s z) h_k(z)],
//   E[φ'(s1 z1) φ'(s2 z2)] = Σ_k ρ^k b_k(s1) b_k(s2), b_k(s) = E[φ'(s z) h_k(z)].
// tanh is odd (a_k = 0 for even k) and sech² even (b_k = 0 for odd k). The coefficients of one
// variance are computed once (per point and layer in the drivers) by composite 16-point
// Gauss–Legendre on [0, 12] with the Hermite functions f_k = √N·h_k from their stable three-term
// recurrence (a_k = ∫ φ(sz) √N(z) f_k(z) dz, |√N f_k| ≤ e^{−z²/4}); panels resolve both the
// tanh transition (width 1/s) and the oscillations of f_K (1.5 wavelengths per panel). The
// series is cut where |a_k|, |b_k| < 1e-9 for good (K ≈ 220, 780, 1650, 2800 for s = 1, 2, 3, 4);
// a pair then costs K/2 multiply-adds per series instead of ~10⁴ quadrature nodes. Measured
// against the quadrature: |error| ≤ 6e-11 for s ≤ 5.5, ρ ∈ [−1, 1]. Beyond s = kMehlerMaxS
// the quadrature is used.
// ---------------------------------------------------------------------------------------------

constexpr double kMehlerTol = 1e-9;
constexpr double kMehlerMaxS = 6.0;
constexpr std::size_t kMehlerMaxK = 8192;

struct HermiteCoeffs {
  std::vector<double> a, b;  // a[j] = a_{2j+1}, b[j] = b_{2j}
  bool ok = false;           // false: use the quadrature
};

HermiteCoeffs tanh_hermite(double s) {
  HermiteCoeffs h;
  if (!(s <= kMehlerMaxS)) return h;
  if (s == 0) {  // φ(0) = 0, φ'(0) = 1
    h.b.assign(1, 1.0);
    h.ok = true;
    return h;
  }
  const GaussLegendre<16>& g = gl<16>();
  std::size_t K0 = static_cast<std::size_t>(150.0 * s * s) + 60;
  std::vector<double> z, fa, fb, pm, p, A, B;
  while (K0 <= kMehlerMaxK) {
    const double lambda = 2.0 * kPi / std::sqrt(4.0 * static_cast<double>(K0) + 2.0);
    const double pw = std::min({0.5, 1.0 / s, 1.5 * lambda});
    const std::size_t npan = static_cast<std::size_t>(std::ceil(12.0 / pw));
    const double hw = 6.0 / static_cast<double>(npan);  // half-width of a panel
    const std::size_t nn = npan * 16;
    z.resize(nn);
    fa.resize(nn);
    fb.resize(nn);
    pm.assign(nn, 0.0);
    p.resize(nn);
    for (std::size_t q = 0; q < npan; ++q)
      for (int k = 0; k < 16; ++k) {
        const std::size_t m = q * 16 + k;
        const double zz = (2.0 * static_cast<double>(q) + 1.0) * hw + hw * g.x[k];
        const double wt = 2.0 * hw * g.w[k];  // both halves of the symmetric integrand
        const double sq = std::exp(-0.25 * zz * zz) * 0.63161877774606470129;  // √N(z) = (2π)^{-1/4} e^{-z²/4}
        z[m] = zz;
        p[m] = sq;
        fa[m] = wt * sq * Tanh::f(s * zz);
        fb[m] = wt * sq * Tanh::d(s * zz);
      }
    A.assign(K0 + 1, 0.0);
    B.assign(K0 + 1, 0.0);
    {
      double acc = 0;
      for (std::size_t m = 0; m < nn; ++m) acc += fb[m] * p[m];
      B[0] = acc;
    }
    for (std::size_t k = 0; k < K0; ++k) {
      const double c1 = 1.0 / std::sqrt(static_cast<double>(k + 1)), c2 = std::sqrt(static_cast<double>(k)) * c1;
      const double* f = (k + 1) % 2 ? fa.data() : fb.data();
      double acc = 0;
      for (std::size_t m = 0; m < nn; ++m) {
        const double pn = z[m] * c1 * p[m] - c2 * pm[m];
        pm[m] = p[m];
        p[m] = pn;
        acc += f[m] * pn;
      }
      ((k + 1) % 2 ? A : B)[k + 1] = acc;
    }
    std::size_t last = 0;
    for (std::size_t k = 0; k <= K0; ++k)
      if (std::fabs(A[k]) > kMehlerTol || std::fabs(B[k]) > kMehlerTol) last = k;
    if (last + 8 < K0) {
      h.a.clear();
      h.b.clear();
      for (std::size_t k = 1; k <= last; k += 2) h.a.push_back(A[k]);
      for (std::size_t k = 0; k <= last; k += 2) h.b.push_back(B[k]);
      h.ok = true;
      return h;
    }
    K0 *= 2;
  }
  return h;
}

DualExpectations tanh_mehler(const HermiteCoeffs& h1, const HermiteCoeffs& h2, double rho) {
  const double r2 = rho * rho;
  double k = 0, kd = 0;
  for (std::size_t j = std::min(h1.a.size(), h2.a.size()); j-- > 0;) k = k * r2 + h1.a[j] * h2.a[j];
  for (std::size_t j = std::min(h1.b.size(), h2.b.size()); j-- > 0;) kd = kd * r2 + h1.b[j] * h2.b[j];
  return {rho * k, kd};
}

// ---------------------------------------------------------------------------------------------
// Closed forms. a = Σ11, b = Σ22, c = Σ12, s1 = √a, s2 = √b, rho = clamp(c/√(ab)).
// ---------------------------------------------------------------------------------------------

DualExpectations relu_closed(double a, double b, double c, double rho) {
  if (a <= 0 || b <= 0) return {0.0, 0.0};  // u ≡ 0 or v ≡ 0, φ(0) = φ'(0) = 0
  const double theta = std::acos(rho);
  const double sin_t = std::sqrt(std::max(0.0, (1.0 - rho) * (1.0 + rho)));
  const double k = (std::sqrt(a * b) * sin_t + (kPi - theta) * c) / (2.0 * kPi);
  return {std::max(k, 0.0), (kPi - theta) / (2.0 * kPi)};
}

DualExpectations erf_closed(double a, double b, double c) {
  const double arg = std::min(1.0, std::max(-1.0, 2.0 * c / std::sqrt((1.0 + 2.0 * a) * (1.0 + 2.0 * b))));
  const double det = std::max(0.0, a * b - c * c);
  return {(2.0 / kPi) * std::asin(arg), (4.0 / kPi) / std::sqrt(1.0 + 2.0 * (a + b) + 4.0 * det)};
}

DualExpectations gelu_closed(double a, double b, double c) {
  const double S11 = 1.0 + a, S22 = 1.0 + b;
  const double D = std::max(S11 * S22 - c * c, 1.0);  // ≥ 1 + a + b exactly; guards rounding
  const double q = std::sqrt(S11 * S22);
  const double r = std::min(1.0, std::max(-1.0, c / q));
  const double P = 0.25 + std::asin(r) / (2.0 * kPi);
  const double kq = std::sqrt(std::max(0.0, (1.0 - r) * (1.0 + r))) / (2.0 * kPi);
  // B = I − S⁻¹, S⁻¹ = [[S22, −c], [−c, S11]]/D; Q = [[r S11, q], [q, r S22]].
  const double B11 = 1.0 - S22 / D, B12 = c / D, B21 = c / D, B22 = 1.0 - S11 / D;
  const double Q11 = r * S11, Q22 = r * S22;
  // [B Q Bᵀ]_12 = Σ_ij B_1i Q_ij B_2j
  const double bqb = B11 * (Q11 * B21 + q * B22) + B12 * (q * B21 + Q22 * B22);
  const double k = c * P + kq * bqb;
  const double sd = std::sqrt(D);
  const double kd = P + c * (1.0 / S11 + 1.0 / S22) / (2.0 * kPi * sd) + c / (2.0 * kPi * D * sd);
  return {k, kd};
}

// The dispatcher: canonical argument order (bitwise symmetry), ρ computed once for both paths.
// ha/hb: precomputed tanh Hermite coefficients of √a and √b (computed here when null).
DualExpectations dual(Activation act, double a, double b, double c, DualMethod method,
                      const HermiteCoeffs* ha = nullptr, const HermiteCoeffs* hb = nullptr) {
  if (a > b) {
    std::swap(a, b);
    std::swap(ha, hb);
  }
  a = std::max(a, 0.0);
  b = std::max(b, 0.0);
  const double s1 = std::sqrt(a), s2 = std::sqrt(b);
  double rho = 0;
  if (a > 0 && b > 0) {
    const double den = std::sqrt(a * b);  // sqrt(a·a) == a exactly: ρ = 1 on the diagonal
    const double r = (den > 0 && std::isfinite(den)) ? c / den : (c / s1) / s2;  // a·b under/overflow
    rho = std::min(1.0, std::max(-1.0, r));
  } else {
    c = 0;
  }
  if (method == DualMethod::Quadrature) {
    switch (act) {
      case Activation::Relu: return dual_quadrature<Relu>(s1, s2, rho);
      case Activation::Erf: return dual_quadrature<Erf>(s1, s2, rho);
      case Activation::Tanh: return dual_quadrature<Tanh>(s1, s2, rho);
      case Activation::Gelu: return dual_quadrature<Gelu>(s1, s2, rho);
      case Activation::Linear: return dual_quadrature<Linear>(s1, s2, rho);
    }
  }
  switch (act) {
    case Activation::Relu: return relu_closed(a, b, c, rho);
    case Activation::Erf: return erf_closed(a, b, c);
    case Activation::Tanh: {
      HermiteCoeffs la, lb;
      if (ha == nullptr) {
        la = tanh_hermite(s1);
        ha = &la;
      }
      if (hb == nullptr) {
        if (b == a) {
          hb = ha;
        } else {
          lb = tanh_hermite(s2);
          hb = &lb;
        }
      }
      if (ha->ok && hb->ok) return tanh_mehler(*ha, *hb, rho);
      return dual_quadrature<Tanh>(s1, s2, rho);
    }
    case Activation::Gelu: return gelu_closed(a, b, c);
    case Activation::Linear: return {c, 1.0};
  }
  return {};
}

// Tanh coefficient sets for the variances met in a kernel computation, one per distinct value.
class HermiteTable {
 public:
  explicit HermiteTable(bool active) : active_(active) {}
  bool active() const noexcept { return active_; }
  // Registers v (serially); returns its slot.
  std::size_t add(double v) {
    std::uint64_t key;
    std::memcpy(&key, &v, sizeof key);
    auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    const std::size_t slot = values_.size();
    index_.emplace(key, slot);
    values_.push_back(v);
    return slot;
  }
  // Computes the sets registered since the last call (in parallel).
  void compute(const Control& control) {
    const std::size_t from = sets_.size(), to = values_.size();
    sets_.resize(to);
    std::exception_ptr error;
    std::mutex mu;
#pragma omp parallel for schedule(dynamic, 1) num_threads(get_threads()) if (to - from > 1)
    for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(from); i < static_cast<std::ptrdiff_t>(to); ++i) {
      if (control.aborted()) continue;
      try {
        sets_[static_cast<std::size_t>(i)] = tanh_hermite(std::sqrt(std::max(values_[static_cast<std::size_t>(i)], 0.0)));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    control.check();
  }
  const HermiteCoeffs* get(std::size_t slot) const noexcept { return active_ ? &sets_[slot] : nullptr; }

 private:
  bool active_;
  std::unordered_map<std::uint64_t, std::size_t> index_;
  std::vector<double> values_;
  std::vector<HermiteCoeffs> sets_;
};

// ---------------------------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------------------------

// Deterministic dot product, symmetric in its arguments bit for bit.
double dot(const double* x, const double* y, std::size_t d) noexcept {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t k = 0;
  for (; k + 4 <= d; k += 4) {
    s0 += x[k] * y[k];
    s1 += x[k + 1] * y[k + 1];
    s2 += x[k + 2] * y[k + 2];
    s3 += x[k + 3] * y[k + 3];
  }
  for (; k < d; ++k) s0 += x[k] * y[k];
  return (s0 + s1) + (s2 + s3);
}

void check_finite(const double* x, std::size_t count, const char* name) {
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(x[i]))
      throw InvalidArgument(std::string("ntk_analytic: ") + name + " has a non-finite entry at index " +
                            std::to_string(i));
}

// Runs body(i) for i in [0, rows) in parallel (dynamic schedule), polling the abort flag once per
// row, reporting progress, and carrying the first exception out of the parallel region.
template <class Body>
void parallel_rows(std::size_t rows, const Control& control, Body&& body) {
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> done{0};
  std::exception_ptr error;
  std::mutex mu;
#pragma omp parallel for schedule(dynamic, 1) num_threads(get_threads()) if (rows > 1)
  for (std::ptrdiff_t ii = 0; ii < static_cast<std::ptrdiff_t>(rows); ++ii) {
    if (stop.load(std::memory_order_relaxed)) continue;
    if (control.aborted()) {
      stop = true;
      continue;
    }
    try {
      body(static_cast<std::size_t>(ii));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
      stop = true;
      continue;
    }
    const std::size_t n = done.fetch_add(1) + 1;
    std::lock_guard<std::mutex> lock(mu);
    control.report(static_cast<double>(n) / static_cast<double>(rows));
  }
  if (error) std::rethrow_exception(error);
  control.check();
}

struct Scales {
  double sw2, sb2;
  Activation act;
  DualMethod method;
};

// ---- FCN -------------------------------------------------------------------------------------

// Σ_l(x, x) for l = 1..max(L, 1) of the points of x1 and x2 ([l][i]), layer by layer, and the
// tanh coefficient slots of the variances that enter the activations (layers 1..L).
struct FcnDiagonals {
  std::vector<double> D1, D2;
  std::vector<std::size_t> slot1, slot2;
};

FcnDiagonals fcn_diagonals(const Scales& s, const double* x1, std::size_t n1, const double* x2, std::size_t n2,
                           std::size_t d, std::size_t L, HermiteTable& tab, const Control& control) {
  const std::size_t depth = std::max<std::size_t>(L, 1);
  FcnDiagonals r;
  r.D1.resize(depth * n1);
  r.D2.resize(depth * n2);
  r.slot1.resize(depth * n1);
  r.slot2.resize(depth * n2);
  for (std::size_t i = 0; i < n1; ++i) r.D1[i] = s.sw2 * dot(x1 + i * d, x1 + i * d, d) / static_cast<double>(d) + s.sb2;
  for (std::size_t j = 0; j < n2; ++j) r.D2[j] = s.sw2 * dot(x2 + j * d, x2 + j * d, d) / static_cast<double>(d) + s.sb2;
  for (std::size_t l = 0; l < L; ++l) {
    if (tab.active()) {
      for (std::size_t i = 0; i < n1; ++i) r.slot1[l * n1 + i] = tab.add(r.D1[l * n1 + i]);
      for (std::size_t j = 0; j < n2; ++j) r.slot2[l * n2 + j] = tab.add(r.D2[l * n2 + j]);
      tab.compute(control);
    }
    if (l + 1 == L) break;
    auto next = [&](std::vector<double>& D, const std::vector<std::size_t>& slot, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        const double v = D[l * n + i];
        const HermiteCoeffs* h = tab.get(slot[l * n + i]);
        D[(l + 1) * n + i] = s.sw2 * dual(s.act, v, v, v, s.method, h, h).k + s.sb2;
      }
    };
    next(r.D1, r.slot1, n1);
    next(r.D2, r.slot2, n2);
  }
  return r;
}

void fcn(const NetSpec& spec, const Scales& s, const double* x1, std::size_t n1, const double* x2, std::size_t n2,
         bool same, double* ntk, double* nngp, const Control& control) {
  const std::size_t d = spec.input_dim, L = spec.widths.size();
  HermiteTable tab(s.act == Activation::Tanh && s.method == DualMethod::Auto);
  const double* y = same ? x1 : x2;
  const std::size_t ny = same ? n1 : n2;
  const FcnDiagonals G = fcn_diagonals(s, x1, n1, y, same ? 0 : ny, d, L, tab, control);
  const std::vector<double>& Dy = same ? G.D1 : G.D2;
  const std::vector<std::size_t>& Sy = same ? G.slot1 : G.slot2;
  parallel_rows(n1, control, [&](std::size_t i) {
    const double* xi = x1 + i * d;
    const std::size_t jend = same ? i + 1 : ny;
    for (std::size_t j = 0; j < jend; ++j) {
      double sig = s.sw2 * dot(xi, y + j * d, d) / static_cast<double>(d) + s.sb2;
      double th = sig;
      for (std::size_t l = 0; l < L; ++l) {
        const DualExpectations e = dual(s.act, G.D1[l * n1 + i], Dy[l * ny + j], sig, s.method,
                                        tab.get(G.slot1[l * n1 + i]), tab.get(Sy[l * ny + j]));
        const double next = s.sw2 * e.k + s.sb2;
        th = next + s.sw2 * e.kdot * th;
        sig = next;
      }
      if (nngp) nngp[i * ny + j] = sig;
      if (ntk) ntk[i * ny + j] = th;
      if (same && j != i) {
        if (nngp) nngp[j * ny + i] = sig;
        if (ntk) ntk[j * ny + i] = th;
      }
    }
  });
}

// ---- CNN -------------------------------------------------------------------------------------

struct Grid {
  std::size_t C, H, W, HW;
};

// Σ_δ M(p+δ, p'+δ) over the 3×3 offsets with both positions inside the image. The same loop
// (same order) serves the position-pair maps and the per-position diagonals, so that the map of
// an image with itself reproduces the diagonals bit for bit.
template <class Get>
double conv_sum(const Grid& g, std::size_t h, std::size_t w, std::size_t h2, std::size_t w2, Get&& get) {
  double acc = 0;
  for (int dh = -1; dh <= 1; ++dh) {
    const std::ptrdiff_t a = static_cast<std::ptrdiff_t>(h) + dh, a2 = static_cast<std::ptrdiff_t>(h2) + dh;
    if (a < 0 || a2 < 0 || a >= static_cast<std::ptrdiff_t>(g.H) || a2 >= static_cast<std::ptrdiff_t>(g.H)) continue;
    for (int dw = -1; dw <= 1; ++dw) {
      const std::ptrdiff_t b = static_cast<std::ptrdiff_t>(w) + dw, b2 = static_cast<std::ptrdiff_t>(w2) + dw;
      if (b < 0 || b2 < 0 || b >= static_cast<std::ptrdiff_t>(g.W) || b2 >= static_cast<std::ptrdiff_t>(g.W)) continue;
      acc += get(static_cast<std::size_t>(a) * g.W + static_cast<std::size_t>(b),
                 static_cast<std::size_t>(a2) * g.W + static_cast<std::size_t>(b2));
    }
  }
  return acc;
}

// K0[q, q'] = (1/C) Σ_c x[c,q] x'[c,q'].
double k0(const Grid& g, const double* x, const double* y, std::size_t q, std::size_t q2) noexcept {
  double acc = 0;
  for (std::size_t c = 0; c < g.C; ++c) acc += x[c * g.HW + q] * y[c * g.HW + q2];
  return acc / static_cast<double>(g.C);
}

// Per-position variances Σ_l(x,x)[q,q], l = 1..L, of every image ([i][l][q]), layer by layer, with
// the tanh coefficient slots of each (same layout).
struct CnnDiagonals {
  std::vector<double> V;
  std::vector<std::size_t> slot;
};

CnnDiagonals cnn_diagonals(const Scales& s, const Grid& g, const double* x, std::size_t n, std::size_t L,
                           HermiteTable& tab, const Control& control) {
  CnnDiagonals r;
  r.V.resize(n * L * g.HW);
  r.slot.resize(n * L * g.HW);
  std::vector<double> prev(n * g.HW);
  const double c9 = s.sw2 / 9.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* xi = x + i * g.C * g.HW;
    for (std::size_t q = 0; q < g.HW; ++q) prev[i * g.HW + q] = k0(g, xi, xi, q, q);
  }
  for (std::size_t l = 0; l < L; ++l) {
    for (std::size_t i = 0; i < n; ++i) {
      const double* pi = prev.data() + i * g.HW;
      double* Vil = r.V.data() + (i * L + l) * g.HW;
      for (std::size_t h = 0; h < g.H; ++h)
        for (std::size_t w = 0; w < g.W; ++w)
          Vil[h * g.W + w] = c9 * conv_sum(g, h, w, h, w, [&](std::size_t q, std::size_t) { return pi[q]; }) + s.sb2;
      if (tab.active())
        for (std::size_t q = 0; q < g.HW; ++q) r.slot[(i * L + l) * g.HW + q] = tab.add(Vil[q]);
    }
    if (tab.active()) tab.compute(control);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t q = 0; q < g.HW; ++q) {
        const std::size_t m = (i * L + l) * g.HW + q;
        const double v = r.V[m];
        const HermiteCoeffs* h = tab.get(r.slot[m]);
        prev[i * g.HW + q] = dual(s.act, v, v, v, s.method, h, h).k;
      }
  }
  return r;
}

struct CnnWork {
  std::vector<double> S, T, E, Ed;
  explicit CnnWork(std::size_t m) : S(m), T(m), E(m), Ed(m) {}
};

// Kernels between image x (variances vx) and image y (variances vy).
void cnn_pair(const Scales& s, const Grid& g, std::size_t L, const double* x, const double* y, const double* vx,
              const double* vy, const std::size_t* sx, const std::size_t* sy, const HermiteTable& tab, CnnWork& wk,
              double& nngp, double& ntk) {
  const std::size_t HW = g.HW, M = HW * HW;
  const double c9 = s.sw2 / 9.0, inv = 1.0 / static_cast<double>(M);
  if (L == 0) {
    double acc = 0;
    for (std::size_t q = 0; q < HW; ++q)
      for (std::size_t q2 = 0; q2 < HW; ++q2) acc += k0(g, x, y, q, q2);
    nngp = ntk = s.sw2 * (acc * inv) + s.sb2;
    return;
  }
  double* S = wk.S.data();
  double* T = wk.T.data();
  double* E = wk.E.data();
  double* Ed = wk.Ed.data();
  for (std::size_t q = 0; q < HW; ++q)
    for (std::size_t q2 = 0; q2 < HW; ++q2) E[q * HW + q2] = k0(g, x, y, q, q2);
  auto map_sum = [&](const double* Mp, std::size_t h, std::size_t w, std::size_t h2, std::size_t w2) {
    return conv_sum(g, h, w, h2, w2, [&](std::size_t q, std::size_t q2) { return Mp[q * HW + q2]; });
  };
  for (std::size_t h = 0; h < g.H; ++h)
    for (std::size_t w = 0; w < g.W; ++w)
      for (std::size_t h2 = 0; h2 < g.H; ++h2)
        for (std::size_t w2 = 0; w2 < g.W; ++w2) {
          const std::size_t idx = (h * g.W + w) * HW + h2 * g.W + w2;
          S[idx] = c9 * map_sum(E, h, w, h2, w2) + s.sb2;
          T[idx] = S[idx];
        }
  for (std::size_t l = 0; l < L; ++l) {
    const double* vxl = vx + l * HW;
    const double* vyl = vy + l * HW;
    const std::size_t* sxl = sx + l * HW;
    const std::size_t* syl = sy + l * HW;
    for (std::size_t q = 0; q < HW; ++q)
      for (std::size_t q2 = 0; q2 < HW; ++q2) {
        const DualExpectations e =
            dual(s.act, vxl[q], vyl[q2], S[q * HW + q2], s.method, tab.get(sxl[q]), tab.get(syl[q2]));
        E[q * HW + q2] = e.k;
        Ed[q * HW + q2] = e.kdot * T[q * HW + q2];
      }
    if (l + 1 == L) break;
    for (std::size_t h = 0; h < g.H; ++h)
      for (std::size_t w = 0; w < g.W; ++w)
        for (std::size_t h2 = 0; h2 < g.H; ++h2)
          for (std::size_t w2 = 0; w2 < g.W; ++w2) {
            const std::size_t idx = (h * g.W + w) * HW + h2 * g.W + w2;
            S[idx] = c9 * map_sum(E, h, w, h2, w2) + s.sb2;
            T[idx] = S[idx] + c9 * map_sum(Ed, h, w, h2, w2);
          }
  }
  double se = 0, sd = 0;
  for (std::size_t m = 0; m < M; ++m) {
    se += E[m];
    sd += Ed[m];
  }
  nngp = s.sw2 * (se * inv) + s.sb2;
  ntk = nngp + s.sw2 * (sd * inv);
}

void cnn(const NetSpec& spec, const Scales& s, const double* x1, std::size_t n1, const double* x2, std::size_t n2,
         bool same, double* ntk, double* nngp, const Control& control) {
  const Grid g{spec.in_channels, spec.height, spec.width, spec.height * spec.width};
  const std::size_t L = spec.widths.size(), per = g.C * g.HW;
  HermiteTable tab(s.act == Activation::Tanh && s.method == DualMethod::Auto);
  const CnnDiagonals V1 = cnn_diagonals(s, g, x1, n1, L, tab, control);
  const CnnDiagonals V2 = same ? CnnDiagonals() : cnn_diagonals(s, g, x2, n2, L, tab, control);
  const CnnDiagonals& Vy = same ? V1 : V2;
  const double* y = same ? x1 : x2;
  const std::size_t ny = same ? n1 : n2, stride = L * g.HW;
  parallel_rows(n1, control, [&](std::size_t i) {
    CnnWork wk(g.HW * g.HW);
    const std::size_t jend = same ? i + 1 : ny;
    for (std::size_t j = 0; j < jend; ++j) {
      if (control.aborted()) return;
      double k = 0, t = 0;
      cnn_pair(s, g, L, x1 + i * per, y + j * per, V1.V.data() + i * stride, Vy.V.data() + j * stride,
               V1.slot.data() + i * stride, Vy.slot.data() + j * stride, tab, wk, k, t);
      if (nngp) nngp[i * ny + j] = k;
      if (ntk) ntk[i * ny + j] = t;
      if (same && j != i) {
        if (nngp) nngp[j * ny + i] = k;
        if (ntk) ntk[j * ny + i] = t;
      }
    }
  });
}

void validate(const NetSpec& spec) {
  if (spec.parameterization != Parameterization::Ntk)
    throw InvalidArgument("ntk_analytic: the analytic kernels need parameterization 'ntk'");
  if (!std::isfinite(spec.sigma_w) || spec.sigma_w < 0)
    throw InvalidArgument("ntk_analytic: sigmaW must be finite and >= 0");
  if (!std::isfinite(spec.sigma_b) || spec.sigma_b < 0)
    throw InvalidArgument("ntk_analytic: sigmaB must be finite and >= 0");
  for (std::size_t l = 0; l < spec.widths.size(); ++l)
    if (spec.widths[l] == 0)
      throw InvalidArgument("ntk_analytic: widths[" + std::to_string(l) + "] is 0");
  if (spec.type == NetType::Fcn) {
    if (spec.input_dim == 0) throw InvalidArgument("ntk_analytic: inputDim must be >= 1");
  } else {
    if (spec.kernel != 3) throw InvalidArgument("ntk_analytic: only 3x3 convolutions are supported");
    if (spec.in_channels == 0 || spec.height == 0 || spec.width == 0)
      throw InvalidArgument("ntk_analytic: inputShape has a zero dimension");
    if (spec.height > 32 || spec.width > 32)
      throw InvalidArgument("ntk_analytic: the analytic CNN kernels cost O((H·W)²) per image pair and layer; images up to "
                            "32x32 are accepted (16x16 is the practical CPU limit), got " +
                            std::to_string(spec.height) + "x" + std::to_string(spec.width));
  }
}

}  // namespace

DualExpectations dual_activation(Activation act, double s11, double s22, double s12, DualMethod method) {
  if (!std::isfinite(s11) || !std::isfinite(s22) || !std::isfinite(s12) || s11 < 0 || s22 < 0)
    throw InvalidArgument("dual_activation: the variances must be finite and >= 0 and the covariance finite");
  return dual(act, s11, s22, s12, method);
}

void ntk_analytic(const NetSpec& spec, const double* x1, std::size_t n1, const double* x2, std::size_t n2,
                  double* ntk, double* nngp, const Control& control, const AnalyticOptions& options) {
  validate(spec);
  const bool same = x2 == nullptr;
  if (same) n2 = n1;
  const std::size_t dim =
      spec.type == NetType::Fcn ? spec.input_dim : spec.in_channels * spec.height * spec.width;
  if (n1 > 0 && x1 == nullptr) throw InvalidArgument("ntk_analytic: x1 is null");
  if (n1 > 0) check_finite(x1, n1 * dim, "x1");
  if (!same && n2 > 0) check_finite(x2, n2 * dim, "x2");
  if (n1 == 0 || n2 == 0) {
    control.report(1.0);
    return;
  }
  const Scales s{spec.sigma_w * spec.sigma_w, spec.bias ? spec.sigma_b * spec.sigma_b : 0.0, spec.activation,
                 options.method};
  if (spec.type == NetType::Fcn)
    fcn(spec, s, x1, n1, x2, n2, same, ntk, nngp, control);
  else
    cnn(spec, s, x1, n1, x2, n2, same, ntk, nngp, control);
}

AnalyticKernels ntk_analytic(const NetSpec& spec, const double* x1, std::size_t n1, const double* x2,
                             std::size_t n2, const Control& control, const AnalyticOptions& options) {
  AnalyticKernels r;
  r.n1 = n1;
  r.n2 = x2 == nullptr ? n1 : n2;
  r.ntk.assign(r.n1 * r.n2, 0.0);
  r.nngp.assign(r.n1 * r.n2, 0.0);
  ntk_analytic(spec, x1, n1, x2, n2, r.ntk.data(), r.nngp.data(), control, options);
  return r;
}

}  // namespace speedlimits::nets
