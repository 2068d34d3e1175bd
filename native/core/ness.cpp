// Gaussian NESS of linear chains and exact stationary moments of the samplers (THEORY.md §4.2,
// §4.3, §4.6). See ness.hpp.
#include "core/ness.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/transport.hpp"

namespace speedlimits::ness {

namespace {

using linalg::Trans;
using std::size_t;
using Mat = std::vector<double>;

const double kEps = 2.220446049250313e-16;
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kSymTol = 1e-12;  // relative asymmetry tolerated in "symmetric" inputs
const size_t kMaxVecP = 16;    // the P²×P² systems of SGLD-WR / SGWORLD

void require(bool ok, const std::string& message) {
  if (!ok) throw InvalidArgument(message);
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void check_finite(const std::string& fn, const char* name, const double* p, size_t len, size_t cols) {
  for (size_t i = 0; i < len; ++i)
    if (!std::isfinite(p[i]))
      throw InvalidArgument(fn + ": " + name + " must contain only finite values, got " + num(p[i]) + " at (" +
                            std::to_string(i / cols) + ", " + std::to_string(i % cols) + ")");
}

double max_abs(const Mat& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

// A finite, symmetric (to kSymTol relative) P×P matrix, returned exactly symmetrised.
Mat symmetric(const std::string& fn, const char* name, const double* M, size_t P) {
  check_finite(fn, name, M, P * P, P);
  Mat S(M, M + P * P);
  const double scale = max_abs(S);
  for (size_t i = 0; i < P; ++i)
    for (size_t j = 0; j < i; ++j) {
      const double a = S[i * P + j], b = S[j * P + i];
      require(std::fabs(a - b) <= kSymTol * scale, fn + ": " + name + " must be symmetric, but (" + std::to_string(i) + ", " +
                                                       std::to_string(j) + ") = " + num(a) + " and (" + std::to_string(j) +
                                                       ", " + std::to_string(i) + ") = " + num(b));
      S[i * P + j] = S[j * P + i] = 0.5 * (a + b);
    }
  return S;
}

struct Eig {
  std::vector<double> w;  // ascending
  Mat V;                  // V[i*P + a] = component i of eigenvector a
};
Eig eig(const Mat& S, size_t P) {
  Eig e;
  e.V = S;
  e.w.assign(P, 0.0);
  if (P > 0) linalg::syevd(P, e.V.data(), P, e.w.data(), true);
  return e;
}

// C = op(A) op(B), all P×P.
Mat mul(const Mat& A, const Mat& B, size_t P, Trans ta = Trans::No, Trans tb = Trans::No) {
  Mat C(P * P, 0.0);
  linalg::gemm(ta, tb, P, P, P, 1.0, A.data(), P, B.data(), P, 0.0, C.data(), P);
  return C;
}
// Vᵀ M V (into the eigenbasis) and V M Vᵀ (back).
Mat to_basis(const Mat& M, const Mat& V, size_t P) { return mul(mul(V, M, P, Trans::Yes), V, P); }
Mat from_basis(const Mat& M, const Mat& V, size_t P) { return mul(mul(V, M, P), V, P, Trans::No, Trans::Yes); }

void symmetrize(Mat& S, size_t P) {
  for (size_t i = 0; i < P; ++i)
    for (size_t j = 0; j < i; ++j) S[i * P + j] = S[j * P + i] = 0.5 * (S[i * P + j] + S[j * P + i]);
}

// Solve A x = b in place (A N×N row-major, destroyed; b overwritten with x): LU with partial pivoting.
void lu_solve(size_t N, Mat& A, std::vector<double>& b, const std::string& fn) {
  double scale = 0;
  for (double v : A) scale = std::max(scale, std::fabs(v));
  for (size_t k = 0; k < N; ++k) {
    size_t p = k;
    for (size_t i = k + 1; i < N; ++i)
      if (std::fabs(A[i * N + k]) > std::fabs(A[p * N + k])) p = i;
    if (!(std::fabs(A[p * N + k]) > N * kEps * scale))
      throw NumericalError(fn + ": the stationary-moment system is singular (no unique stationary state)");
    if (p != k) {
      for (size_t j = 0; j < N; ++j) std::swap(A[k * N + j], A[p * N + j]);
      std::swap(b[k], b[p]);
    }
    const double piv = A[k * N + k];
    for (size_t i = k + 1; i < N; ++i) {
      const double f = A[i * N + k] / piv;
      if (f == 0) continue;
      A[i * N + k] = 0;
      for (size_t j = k + 1; j < N; ++j) A[i * N + j] -= f * A[k * N + j];
      b[i] -= f * b[k];
    }
  }
  for (size_t k = N; k-- > 0;) {
    double s = b[k];
    for (size_t j = k + 1; j < N; ++j) s -= A[k * N + j] * b[j];
    b[k] = s / A[k * N + k];
  }
}

double frob(const Mat& a) {
  double s = 0;
  for (double v : a) s += v * v;
  return std::sqrt(s);
}

}  // namespace

// ---- Lyapunov equations ----------------------------------------------------------------------

std::vector<double> discrete_lyapunov(size_t P, const double* A, const double* Q) {
  const std::string fn = "ness::discrete_lyapunov";
  if (P == 0) return {};
  check_finite(fn, "A", A, P * P, P);
  const Mat Qs = symmetric(fn, "Q", Q, P);
  Mat Am(A, A + P * P);
  const double scale = max_abs(Am);
  bool sym = true;
  for (size_t i = 0; i < P && sym; ++i)
    for (size_t j = 0; j < i; ++j)
      if (std::fabs(Am[i * P + j] - Am[j * P + i]) > kSymTol * scale) {
        sym = false;
        break;
      }
  const std::string unstable = fn + ": A must have spectral radius < 1 (no stationary state otherwise; for A = I − ηH " +
                               "this needs H positive definite and eta < 2/h_max)";
  if (sym) {  // eigenbasis of A: Λ̃_ab = Q̃_ab/(1 − a_a a_b)
    symmetrize(Am, P);
    const Eig e = eig(Am, P);
    const double rho = std::max(std::fabs(e.w.front()), std::fabs(e.w.back()));
    require(rho < 1, unstable + ", got spectral radius " + num(rho));
    Mat L = to_basis(Qs, e.V, P);
    for (size_t a = 0; a < P; ++a)
      for (size_t b = 0; b < P; ++b) L[a * P + b] /= 1 - e.w[a] * e.w[b];
    L = from_basis(L, e.V, P);
    symmetrize(L, P);
    return L;
  }
  // Doubling (Smith): after k rounds Λ = Σ_{j<2^k} A^j Q A^jᵀ and Aₖ = A^(2^k).
  Mat L = Qs, Ak = Am;
  for (int round = 0; round < 64; ++round) {
    const double a2 = frob(Ak);
    if (a2 * a2 <= kEps) {
      symmetrize(L, P);
      return L;
    }
    require(std::isfinite(a2) && a2 < 1e150, unstable);
    const Mat AL = mul(Ak, L, P);
    const Mat ALA = mul(AL, Ak, P, Trans::No, Trans::Yes);
    for (size_t i = 0; i < P * P; ++i) L[i] += ALA[i];
    Ak = mul(Ak, Ak, P);
  }
  throw InvalidArgument(unstable + " (the doubling iteration did not converge)");
}

namespace {

// H symmetric positive definite, eigendecomposed; names H in the errors.
Eig spd_hessian(const std::string& fn, const char* name, const double* H, size_t P) {
  const Mat Hs = symmetric(fn, name, H, P);
  Eig e = eig(Hs, P);
  require(e.w.front() > 0, fn + ": " + name + " must be positive definite, its smallest eigenvalue is " + num(e.w.front()));
  return e;
}

void check_eta(const std::string& fn, double eta) {
  require(std::isfinite(eta) && eta > 0, fn + ": eta must be a finite number > 0, got " + num(eta));
}

}  // namespace

std::vector<double> continuous_lyapunov(size_t P, const double* H, const double* D, double eta) {
  const std::string fn = "ness::continuous_lyapunov";
  check_eta(fn, eta);
  if (P == 0) return {};
  const Eig e = spd_hessian(fn, "H", H, P);
  const Mat Ds = symmetric(fn, "D", D, P);
  Mat L = to_basis(Ds, e.V, P);
  for (size_t a = 0; a < P; ++a)
    for (size_t b = 0; b < P; ++b) L[a * P + b] *= 2 / (eta * (e.w[a] + e.w[b]));
  L = from_basis(L, e.V, P);
  symmetrize(L, P);
  return L;
}

// ---- NESS (§4.6) -----------------------------------------------------------------------------

NessResult ness(const NessInput& in) {
  const std::string fn = in.caller ? in.caller : "ness::ness";
  const size_t P = in.P;
  require(P >= 1, fn + ": H must not be empty");
  require(in.H != nullptr, fn + ": H is required");
  check_eta(fn, in.eta);
  require(std::isfinite(in.temperature) && in.temperature >= 0,
          fn + ": temperature must be a finite number >= 0, got " + num(in.temperature));
  require(!(in.diffusion && in.gradient_covariance), fn + ": give gradientCovariance or diffusion, not both");
  require(!(in.diffusion && in.temperature > 0), fn + ": diffusion is the whole of 𝒟; temperature must be 0 with it");
  const double eta = in.eta;
  const Eig e = spd_hessian(fn, "H", in.H, P);
  const std::vector<double>& h = e.w;
  require(eta * h.back() < 2, fn + ": eta must be < 2/h_max = " + num(2 / h.back()) +
                                  " (A = I − ηH then has spectral radius >= 1 and no stationary state), got " + num(eta));

  NessResult r;
  r.P = P;
  // 𝒟 = ηT I + (η²/2) Cov (THEORY §4.2), or as given.
  Mat D(P * P, 0.0);
  if (in.diffusion) {
    D = symmetric(fn, "diffusion", in.diffusion, P);
  } else if (in.gradient_covariance) {
    D = symmetric(fn, "gradientCovariance", in.gradient_covariance, P);
    for (double& v : D) v *= 0.5 * eta * eta;
  }
  for (size_t i = 0; i < P; ++i) D[i * P + i] += eta * in.temperature;
  const char* dname = in.diffusion ? "diffusion" : "gradientCovariance";
  {
    const Eig de = eig(D, P);
    require(de.w.back() > 0, fn + ": there is no noise (𝒟 = 0): give temperature > 0 or a nonzero " + dname);
    require(de.w.front() >= -1e-12 * de.w.back(),
            fn + ": " + dname + " must be positive semidefinite, it has the eigenvalue " + num(de.w.front()));
  }
  r.diffusion = D;

  // Everything in the eigenbasis of H, where A = diag(1 − ηh).
  const Mat Dt = to_basis(D, e.V, P);
  Mat Lt(P * P), Lct(P * P);
  for (size_t a = 0; a < P; ++a)
    for (size_t b = 0; b < P; ++b) {
      const double d = 2 * Dt[a * P + b];
      Lt[a * P + b] = d / (eta * (h[a] + h[b] - eta * h[a] * h[b]));  // 1 − (1−ηh_a)(1−ηh_b), no cancellation
      Lct[a * P + b] = d / (eta * (h[a] + h[b]));
    }
  r.covariance = from_basis(Lt, e.V, P);
  r.covariance_continuous = from_basis(Lct, e.V, P);
  symmetrize(r.covariance, P);
  symmetrize(r.covariance_continuous, P);

  // 𝒟⁻¹ in the H basis; singular 𝒟 ⇒ infinite entropy production.
  const Eig dt = eig(Dt, P);
  const bool singular = !(dt.w.front() > 10 * P * kEps * dt.w.back());
  if (singular) {
    r.entropy_per_step = r.entropy_per_step_continuous = kInf;
  } else {
    Mat W = dt.V;  // columns scaled by 1/d: K = W diag(1/d) Wᵀ
    for (size_t i = 0; i < P; ++i)
      for (size_t a = 0; a < P; ++a) W[i * P + a] /= dt.w[a];
    const Mat K = mul(W, dt.V, P, Trans::No, Trans::Yes);
    double t1 = 0, t2 = 0, tc = 0, trM = 0;
    for (size_t a = 0; a < P; ++a) {
      const double Aa = 1 - eta * h[a], ka = eta * h[a] * (2 - eta * h[a]);  // (I − A²)_a
      trM += eta * h[a];
      for (size_t b = 0; b < P; ++b) {
        const double Ab = 1 - eta * h[b], kb = eta * h[b] * (2 - eta * h[b]);
        t1 += K[a * P + b] * kb * Lt[b * P + a] * ka;
        t2 += K[a * P + b] * Ab * Dt[b * P + a] * Aa;
        tc += eta * h[a] * K[a * P + b] * eta * h[b] * Lct[b * P + a];
      }
    }
    r.entropy_per_step = -0.5 * double(P) + 0.25 * t1 + 0.5 * t2;
    r.entropy_per_step_continuous = tc - trM;
  }

  // 𝒜 = (η/2)(HΛ − ΛH) = V[(η/2)(h_a − h_b) Λ̃_ab]Vᵀ.
  Mat At(P * P);
  for (size_t a = 0; a < P; ++a)
    for (size_t b = 0; b < P; ++b) At[a * P + b] = 0.5 * eta * (h[a] - h[b]) * Lt[a * P + b];
  r.area = from_basis(At, e.V, P);
  for (size_t i = 0; i < P; ++i) {  // exactly antisymmetric
    r.area[i * P + i] = 0;
    for (size_t j = 0; j < i; ++j) {
      const double a = 0.5 * (r.area[i * P + j] - r.area[j * P + i]);
      r.area[i * P + j] = a;
      r.area[j * P + i] = -a;
    }
  }

  // v = 𝒟Λ_c⁻¹ − ηH (continuous): in the H basis D̃ Λ̃c⁻¹ − η diag(h).
  const Eig lc = eig(Lct, P);
  if (!(lc.w.front() > 10 * P * kEps * lc.w.back())) {
    r.velocity.assign(P * P, kNaN);
  } else {
    Mat W = lc.V;
    for (size_t i = 0; i < P; ++i)
      for (size_t a = 0; a < P; ++a) W[i * P + a] /= lc.w[a];
    const Mat Linv = mul(W, lc.V, P, Trans::No, Trans::Yes);
    Mat Vt = mul(Dt, Linv, P);
    for (size_t a = 0; a < P; ++a) Vt[a * P + a] -= eta * h[a];
    r.velocity = from_basis(Vt, e.V, P);
  }

  // Detailed balance iff H𝒟 = 𝒟H: in the H basis (h_a − h_b) D̃_ab = 0.
  double c2 = 0, h2 = 0;
  for (size_t a = 0; a < P; ++a) {
    h2 += h[a] * h[a];
    for (size_t b = 0; b < P; ++b) c2 += std::pow((h[a] - h[b]) * Dt[a * P + b], 2);
  }
  r.commutator = std::sqrt(c2) / (std::sqrt(h2) * frob(D));
  r.equilibrium = r.commutator <= 1e-12;
  return r;
}

// ---- samplers on Bayesian linear regression (§4.3) -------------------------------------------

const char* sampler_name(Sampler s) noexcept {
  switch (s) {
    case Sampler::Ula: return "ula";
    case Sampler::SgldWr: return "sgld";
    case Sampler::Sgworld: return "sgworld";
  }
  return "?";
}

namespace {

// The regression problem after validation: H, its eigenbasis, θ*, residuals r_s = x_s·θ* − y_s.
struct Regression {
  std::string fn;
  size_t n = 0, P = 0, B = 0;
  const double* X = nullptr;
  double T = 0, gamma = 0, eta = 0;
  Mat H;
  Eig he;
  std::vector<double> theta, r;
};

Regression prepare(const RegressionInput& in, bool need_batch) {
  Regression g;
  g.fn = in.caller ? in.caller : "ness::sampler_moments";
  const std::string& fn = g.fn;
  g.n = in.n;
  g.P = in.P;
  const size_t n = in.n, P = in.P;
  require(n >= 1 && P >= 1, fn + ": X must not be empty, got " + std::to_string(n) + "x" + std::to_string(P));
  require(in.X && in.y, fn + ": X and y are required");
  check_finite(fn, "X", in.X, n * P, P);
  check_finite(fn, "y", in.y, n, 1);
  require(std::isfinite(in.temperature) && in.temperature > 0,
          fn + ": temperature must be a finite number > 0, got " + num(in.temperature));
  require(std::isfinite(in.gamma) && in.gamma >= 0, fn + ": gamma must be a finite number >= 0, got " + num(in.gamma));
  check_eta(fn, in.eta);
  if (need_batch)
    require(in.batch_size >= 1 && in.batch_size <= n,
            fn + ": batchSize must be an integer in [1, " + std::to_string(n) + "], got " + std::to_string(in.batch_size));
  g.X = in.X;
  g.T = in.temperature;
  g.gamma = in.gamma;
  g.eta = in.eta;
  g.B = in.batch_size;
  // H = XᵀX + γI (lower triangle by syrk, then mirrored).
  g.H.assign(P * P, 0.0);
  linalg::syrk(linalg::Uplo::Lower, Trans::Yes, P, n, 1.0, in.X, P, 0.0, g.H.data(), P);
  linalg::symmetrize(linalg::Uplo::Lower, P, g.H.data(), P);
  for (size_t i = 0; i < P; ++i) g.H[i * P + i] += in.gamma;
  g.he = eig(g.H, P);
  require(g.he.w.front() > 10 * P * kEps * g.he.w.back(),
          fn + ": H = XᵀX + γI must be positive definite (give gamma > 0 or X of full column rank), its smallest eigenvalue is " +
              num(g.he.w.front()));
  require(g.eta * g.he.w.back() < 2, fn + ": eta must be < 2/h_max = " + num(2 / g.he.w.back()) +
                                         " (the chain has no stationary state otherwise), got " + num(g.eta));
  // θ* = V diag(1/h) Vᵀ Xᵀy.
  std::vector<double> Xty(P, 0.0), u(P, 0.0);
  for (size_t s = 0; s < n; ++s)
    for (size_t i = 0; i < P; ++i) Xty[i] += in.X[s * P + i] * in.y[s];
  for (size_t a = 0; a < P; ++a) {
    double v = 0;
    for (size_t i = 0; i < P; ++i) v += g.he.V[i * P + a] * Xty[i];
    u[a] = v / g.he.w[a];
  }
  g.theta.assign(P, 0.0);
  for (size_t i = 0; i < P; ++i)
    for (size_t a = 0; a < P; ++a) g.theta[i] += g.he.V[i * P + a] * u[a];
  g.r.assign(n, 0.0);
  for (size_t s = 0; s < n; ++s) {
    double v = -in.y[s];
    for (size_t i = 0; i < P; ++i) v += in.X[s * P + i] * g.theta[i];
    g.r[s] = v;
  }
  return g;
}

// f(h) applied to H: V diag(f(h_a)) Vᵀ.
template <typename F>
Mat spectral_fn(const Regression& g, F f) {
  const size_t P = g.P;
  Mat W = g.he.V;
  for (size_t i = 0; i < P; ++i)
    for (size_t a = 0; a < P; ++a) W[i * P + a] *= f(g.he.w[a]);
  Mat out = mul(W, g.he.V, P, Trans::No, Trans::Yes);
  symmetrize(out, P);
  return out;
}

// Pair-sum weights of uniform B-subsets (THEORY §4.2): with c = n/B, U_S = Σ_{s∈S} u_s,
// c² E[U_S ⊗ V_S] = alpha Σ_s u_s⊗v_s + beta U⊗V; alpha = (n/B)(n−B)/(n−1), beta = n(B−1)/(B(n−1)).
void pair_weights(size_t n, size_t B, double& alpha, double& beta) {
  if (n == 1) {
    alpha = 0;
    beta = 1;
    return;
  }
  const double nn = double(n), b = double(B);
  alpha = (nn / b) * (nn - b) / (nn - 1);
  beta = nn * (b - 1) / (b * (nn - 1));
}

// vec of a symmetric P×P S solving (K) vec S = rhs; K P²×P², rhs P² (both destroyed).
Mat solve_vec(size_t P, Mat& K, std::vector<double>& rhs, const std::string& fn) {
  lu_solve(P * P, K, rhs, fn);
  Mat S(rhs.begin(), rhs.end());
  symmetrize(S, P);
  return S;
}

void require_stable_cov(const Regression& g, const Mat& C, const char* what) {
  for (double v : C)
    require(std::isfinite(v), g.fn + ": the " + std::string(what) + " moments are not finite (eta = " + num(g.eta) + " is too large)");
  const Eig e = eig(C, g.P);
  require(e.w.front() > 0, g.fn + ": eta = " + num(g.eta) + " is too large for " + what +
                               ": the chain is mean-square unstable (the solved covariance has the eigenvalue " + num(e.w.front()) +
                               ")");
}

// SGLD-WR in δ = θ − θ* coordinates: δ ← G_S δ − η g_S, g_S = A_Sθ* − b_S, E g_S = ∇L(θ*) ≈ 0, so the
// mean is θ* and, divided by η, [H⊗I + I⊗H − η E(A_S⊗A_S)] vec S = vec(η E[g_S g_Sᵀ] + 2T I).
Mat wr_covariance(const Regression& g) {
  const size_t n = g.n, P = g.P, P2 = P * P;
  double alpha, beta;
  pair_weights(n, g.B, alpha, beta);
  // F[(i,j),(k,l)] = Σ_s x_si x_sj x_sk x_sl by syrk over row chunks of W_s = x_s⊗x_s.
  Mat F(P2 * P2, 0.0);
  const size_t chunk = 4096;
  Mat W;
  for (size_t s0 = 0; s0 < n; s0 += chunk) {
    const size_t m = std::min(chunk, n - s0);
    W.assign(m * P2, 0.0);
    for (size_t s = 0; s < m; ++s) {
      const double* x = g.X + (s0 + s) * P;
      for (size_t i = 0; i < P; ++i)
        for (size_t j = 0; j < P; ++j) W[s * P2 + i * P + j] = x[i] * x[j];
    }
    linalg::syrk(linalg::Uplo::Lower, Trans::Yes, P2, m, 1.0, W.data(), P2, 1.0, F.data(), P2);
  }
  linalg::symmetrize(linalg::Uplo::Lower, P2, F.data(), P2);
  Mat U = g.H;  // XᵀX
  for (size_t i = 0; i < P; ++i) U[i * P + i] -= g.gamma;
  // E[A_ij A_kl] = alpha F + beta U_ij U_kl + γ(U_ij δ_kl + δ_ij U_kl) + γ² δ_ij δ_kl.
  Mat K(P2 * P2, 0.0);
  const double eta = g.eta, ga = g.gamma;
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k)
      for (size_t j = 0; j < P; ++j)
        for (size_t l = 0; l < P; ++l) {
          const double dij = i == j, dkl = k == l;
          const double EAA = alpha * F[(i * P + j) * P2 + k * P + l] + beta * U[i * P + j] * U[k * P + l] +
                             ga * (U[i * P + j] * dkl + dij * U[k * P + l]) + ga * ga * dij * dkl;
          K[(i * P + k) * P2 + j * P + l] = g.H[i * P + j] * dkl + dij * g.H[k * P + l] - eta * EAA;
        }
  // E[g gᵀ] = alpha Σ v vᵀ − ((n−B)/(B(n−1))) V Vᵀ + ∇L∇Lᵀ with v_s = x_s r_s, V = Σ v_s (§4.2).
  std::vector<double> V(P, 0.0), grad(P, 0.0);
  Mat Svv(P2, 0.0);
  for (size_t s = 0; s < n; ++s) {
    const double* x = g.X + s * P;
    for (size_t i = 0; i < P; ++i) {
      V[i] += x[i] * g.r[s];
      for (size_t j = 0; j < P; ++j) Svv[i * P + j] += x[i] * x[j] * g.r[s] * g.r[s];
    }
  }
  for (size_t i = 0; i < P; ++i) grad[i] = V[i] + ga * g.theta[i];
  const double wv = n == 1 ? 0.0 : double(n - g.B) / (double(g.B) * double(n - 1));
  std::vector<double> rhs(P2);
  for (size_t i = 0; i < P; ++i)
    for (size_t j = 0; j < P; ++j) {
      const double Egg = alpha * Svv[i * P + j] - wv * V[i] * V[j] + grad[i] * grad[j];
      rhs[i * P + j] = eta * Egg + (i == j ? 2 * g.T : 0.0);
    }
  return solve_vec(P, K, rhs, g.fn);
}

// SGWORLD: depth-first over ordered partitions (S_0, …, S_{M−1}) with shared prefixes. Level j holds
// D_j = I − Φ_j, ψ_j and Q_j of the first j steps (δ coordinates); a leaf adds z = [vec D; ψ] to
// Σ z zᵀ (syrk in batches), Σ z and Σ Q.
class WorEnumerator {
 public:
  WorEnumerator(const Regression& g, size_t M)
      : g_(g), P_(g.P), B_(g.B), M_(M), L_(g.P * g.P + g.P), c_(double(g.n) / double(g.B)),
        D_(M + 1, Mat(P_ * P_, 0.0)), psi_(M + 1, Mat(P_, 0.0)), Q_(M + 1, Mat(P_ * P_, 0.0)), rem_(M + 1) {
    ZZ.assign(L_ * L_, 0.0);
    zsum.assign(L_, 0.0);
    Qsum.assign(P_ * P_, 0.0);
    for (size_t s = 0; s < g.n; ++s) rem_[0].push_back(s);
    zbuf_.assign(kBatch * L_, 0.0);
    Phi_.assign(P_ * P_, 0.0);
    AF_.assign(P_ * P_, 0.0);
    AQ_.assign(P_ * P_, 0.0);
    AQA_.assign(P_ * P_, 0.0);
    w_.assign(P_, 0.0);
  }

  void run() {
    recurse(0);
    flush();
    linalg::symmetrize(linalg::Uplo::Lower, L_, ZZ.data(), L_);
  }

  Mat ZZ;                 // Σ z zᵀ
  std::vector<double> zsum, Qsum;
  double leaves = 0;

 private:
  static constexpr size_t kBatch = 256;
  const Regression& g_;
  size_t P_, B_, M_, L_;
  double c_;
  std::vector<Mat> D_, psi_, Q_;
  std::vector<std::vector<size_t>> rem_;
  Mat zbuf_, Phi_, AF_, AQ_, AQA_;
  std::vector<double> w_;
  size_t nb_ = 0;

  // out += c Σ_{s∈S} x_s (x_sᵀ Y) + γY for Y P×P (Ytrans: use Yᵀ).
  void apply_A(const size_t* S, const double* Y, bool Ytrans, double* out) {
    const size_t P = P_;
    for (size_t i = 0; i < P * P; ++i) out[i] = g_.gamma * (Ytrans ? Y[(i % P) * P + i / P] : Y[i]);
    for (size_t t = 0; t < B_; ++t) {
      const double* x = g_.X + S[t] * P;
      for (size_t j = 0; j < P; ++j) {
        double v = 0;
        for (size_t i = 0; i < P; ++i) v += x[i] * (Ytrans ? Y[j * P + i] : Y[i * P + j]);
        w_[j] = c_ * v;
      }
      for (size_t i = 0; i < P; ++i)
        for (size_t j = 0; j < P; ++j) out[i * P + j] += x[i] * w_[j];
    }
  }

  // Level j → j+1 with the batch S: δ ← (I − ηA_S)δ − η g_S plus noise 2ηT I.
  void step(size_t j, const size_t* S) {
    const size_t P = P_;
    const double eta = g_.eta;
    const Mat &D = D_[j], &psi = psi_[j], &Q = Q_[j];
    Mat &D1 = D_[j + 1], &psi1 = psi_[j + 1], &Q1 = Q_[j + 1];
    // D' = D + η A_S Φ, Φ = I − D.
    Mat& Phi = Phi_;
    for (size_t i = 0; i < P * P; ++i) Phi[i] = -D[i];
    for (size_t i = 0; i < P; ++i) Phi[i * P + i] += 1;
    apply_A(S, Phi.data(), false, AF_.data());
    for (size_t i = 0; i < P * P; ++i) D1[i] = D[i] + eta * AF_[i];
    // ψ' = ψ − η(A_S ψ + g_S), g_S = c Σ x_s r_s + γθ*.
    for (size_t i = 0; i < P; ++i) psi1[i] = g_.gamma * (psi[i] + g_.theta[i]);
    for (size_t t = 0; t < B_; ++t) {
      const double* x = g_.X + S[t] * P;
      double xp = 0;
      for (size_t i = 0; i < P; ++i) xp += x[i] * psi[i];
      const double f = c_ * (xp + g_.r[S[t]]);
      for (size_t i = 0; i < P; ++i) psi1[i] += f * x[i];
    }
    for (size_t i = 0; i < P; ++i) psi1[i] = psi[i] - eta * psi1[i];
    // Q' = Q − η(AQ + QA) + η² AQA + 2ηT I.
    apply_A(S, Q.data(), false, AQ_.data());
    apply_A(S, AQ_.data(), true, AQA_.data());
    for (size_t i = 0; i < P; ++i)
      for (size_t k = 0; k < P; ++k)
        Q1[i * P + k] = Q[i * P + k] - eta * (AQ_[i * P + k] + AQ_[k * P + i]) + eta * eta * AQA_[i * P + k];
    for (size_t i = 0; i < P; ++i) Q1[i * P + i] += 2 * eta * g_.T;
    symmetrize(Q1, P);
  }

  void leaf() {
    double* z = zbuf_.data() + nb_ * L_;
    const Mat &D = D_[M_], &psi = psi_[M_], &Q = Q_[M_];
    std::copy(D.begin(), D.end(), z);
    std::copy(psi.begin(), psi.end(), z + P_ * P_);
    for (size_t i = 0; i < L_; ++i) zsum[i] += z[i];
    for (size_t i = 0; i < P_ * P_; ++i) Qsum[i] += Q[i];
    leaves += 1;
    if (++nb_ == kBatch) flush();
  }

  void flush() {
    if (nb_ == 0) return;
    linalg::syrk(linalg::Uplo::Lower, Trans::Yes, L_, nb_, 1.0, zbuf_.data(), L_, 1.0, ZZ.data(), L_);
    nb_ = 0;
  }

  void recurse(size_t j) {
    if (j == M_) {
      leaf();
      return;
    }
    const std::vector<size_t>& rem = rem_[j];
    const size_t r = rem.size(), B = B_;
    std::vector<size_t> idx(B), S(B);
    std::vector<char> used(r);
    for (size_t t = 0; t < B; ++t) idx[t] = t;
    while (true) {
      std::fill(used.begin(), used.end(), 0);
      for (size_t t = 0; t < B; ++t) {
        S[t] = rem[idx[t]];
        used[idx[t]] = 1;
      }
      step(j, S.data());
      rem_[j + 1].clear();
      for (size_t i = 0; i < r; ++i)
        if (!used[i]) rem_[j + 1].push_back(rem[i]);
      recurse(j + 1);
      // next B-combination of 0..r−1 in lexicographic order
      size_t t = B;
      while (t > 0 && idx[t - 1] == r - B + (t - 1)) --t;
      if (t == 0) break;
      ++idx[t - 1];
      for (size_t u = t; u < B; ++u) idx[u] = idx[u - 1] + 1;
    }
  }
};

struct WorMoments {
  std::vector<double> m;  // mean of δ = θ − θ*
  Mat cov;
  double partitions = 0;
};

WorMoments wor_moments(const Regression& g, size_t M) {
  const size_t P = g.P, P2 = P * P, L = P2 + P;
  WorEnumerator en(g, M);
  en.run();
  const double N = en.leaves;
  auto ZZ = [&](size_t a, size_t b) { return en.ZZ[a * L + b] / N; };
  Mat ED(P2), EQ(P2);
  std::vector<double> Epsi(P);
  for (size_t i = 0; i < P2; ++i) {
    ED[i] = en.zsum[i] / N;
    EQ[i] = en.Qsum[i] / N;
  }
  for (size_t i = 0; i < P; ++i) Epsi[i] = en.zsum[P2 + i] / N;
  // m = (I − EΦ)⁻¹ Eψ = ED⁻¹ Eψ.
  WorMoments w;
  w.partitions = N;
  {
    Mat A = ED;
    std::vector<double> b = Epsi;
    lu_solve(P, A, b, g.fn);
    w.m = b;
  }
  const std::vector<double>& m = w.m;
  // I − E[Φ⊗Φ] = ED⊗I + I⊗ED − E[D⊗D];  E[D⊗D]_{(i,k),(j,l)} = E[D_ij D_kl].
  Mat K(P2 * P2);
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k)
      for (size_t j = 0; j < P; ++j)
        for (size_t l = 0; l < P; ++l)
          K[(i * P + k) * P2 + j * P + l] =
              ED[i * P + j] * (k == l) + (i == j) * ED[k * P + l] - ZZ(i * P + j, k * P + l);
  // R = E[Φmψᵀ + ψmᵀΦᵀ + ψψᵀ + Q], E[Φmψᵀ]_ik = m_i Eψ_k − Σ_j m_j E[D_ij ψ_k].
  Mat Xm(P2);  // E[Φ m ψᵀ]
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k) {
      double v = m[i] * Epsi[k];
      for (size_t j = 0; j < P; ++j) v -= m[j] * ZZ(i * P + j, P2 + k);
      Xm[i * P + k] = v;
    }
  std::vector<double> rhs(P2);
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k)
      rhs[i * P + k] = Xm[i * P + k] + Xm[k * P + i] + ZZ(P2 + i, P2 + k) + EQ[i * P + k];
  Mat S = solve_vec(P, K, rhs, g.fn);
  w.cov = S;
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k) w.cov[i * P + k] -= m[i] * m[k];
  return w;
}

// Π_{j<M} C(n − jB, B): ordered sequences of M disjoint B-subsets.
double count_partitions(size_t n, size_t B, size_t M) {
  double total = 1;
  for (size_t j = 0; j < M; ++j) {
    const size_t r = n - j * B;
    double c = 1;
    for (size_t t = 0; t < B; ++t) c = c * double(r - t) / double(t + 1);
    total *= std::round(c);
    if (total > 1e300) break;
  }
  return total;
}

std::vector<double> mean_shift(const Regression& g) {
  // E[A_S g_S] = alpha Σ_s u_s v_s + beta U V + γ(Uθ* + V + γθ*), u_s v_s = x_s |x_s|² r_s (§4.2).
  const size_t n = g.n, P = g.P;
  double alpha, beta;
  pair_weights(n, g.B, alpha, beta);
  std::vector<double> V(P, 0.0), E(P, 0.0);
  for (size_t s = 0; s < n; ++s) {
    const double* x = g.X + s * P;
    double x2 = 0;
    for (size_t i = 0; i < P; ++i) x2 += x[i] * x[i];
    for (size_t i = 0; i < P; ++i) {
      V[i] += x[i] * g.r[s];
      E[i] += alpha * x[i] * x2 * g.r[s];
    }
  }
  for (size_t i = 0; i < P; ++i) {
    double UV = 0, Ut = 0;
    for (size_t j = 0; j < P; ++j) {
      const double Uij = g.H[i * P + j] - (i == j ? g.gamma : 0.0);
      UV += Uij * V[j];
      Ut += Uij * g.theta[j];
    }
    E[i] += beta * UV + g.gamma * (Ut + V[i] + g.gamma * g.theta[i]);
  }
  // δθ = −(η/2) H⁻¹ E.
  const Mat Hinv = spectral_fn(g, [](double h) { return 1 / h; });
  std::vector<double> d(P, 0.0);
  for (size_t i = 0; i < P; ++i) {
    for (size_t j = 0; j < P; ++j) d[i] += Hinv[i * P + j] * E[j];
    d[i] *= -0.5 * g.eta;
  }
  return d;
}

}  // namespace

std::vector<double> first_order_mean_shift(const RegressionInput& input) {
  return mean_shift(prepare(input, true));
}

std::vector<double> gradient_noise_covariance(const RegressionInput& in) {
  const Regression g = prepare(in, true);
  const size_t n = g.n, P = g.P;
  double alpha, beta;
  pair_weights(n, g.B, alpha, beta);
  // u_s = x_s r_s, U = Σ u_s: Cov = alpha Σ u_s u_sᵀ + (beta − 1) U Uᵀ (c E[U_S] = U).
  Mat C(P * P, 0.0);
  std::vector<double> U(P, 0.0), u(P);
  for (size_t s = 0; s < n; ++s) {
    for (size_t i = 0; i < P; ++i) {
      u[i] = g.X[s * P + i] * g.r[s];
      U[i] += u[i];
    }
    for (size_t i = 0; i < P; ++i)
      for (size_t j = 0; j < P; ++j) C[i * P + j] += alpha * u[i] * u[j];
  }
  for (size_t i = 0; i < P; ++i)
    for (size_t j = 0; j < P; ++j) C[i * P + j] += (beta - 1) * U[i] * U[j];
  symmetrize(C, P);
  return C;
}

SamplerMoments sampler_moments(const RegressionInput& in) {
  const bool batched = in.sampler != Sampler::Ula;
  const Regression g = prepare(in, batched);
  const std::string& fn = g.fn;
  const size_t P = g.P;
  if (batched)
    require(P <= kMaxVecP, fn + ": the exact " + sampler_name(in.sampler) + " moments solve a P²×P² system; P must be <= " +
                               std::to_string(kMaxVecP) + ", got " + std::to_string(P));
  SamplerMoments out;
  out.posterior_mean = g.theta;
  out.posterior_covariance = spectral_fn(g, [&](double h) { return g.T / h; });
  switch (in.sampler) {
    case Sampler::Ula:
      out.mean = g.theta;
      out.covariance = spectral_fn(g, [&](double h) { return g.T / (h * (1 - 0.5 * g.eta * h)); });
      break;
    case Sampler::SgldWr: {
      out.mean = g.theta;
      out.covariance = wr_covariance(g);
      require_stable_cov(g, out.covariance, "sgld");
      break;
    }
    case Sampler::Sgworld: {
      const size_t n = g.n, B = g.B;
      require(n % B == 0 || in.drop_remainder,
              fn + ": batchSize = " + std::to_string(B) + " does not divide n = " + std::to_string(n) +
                  " (sgworld epochs are partitions); pass dropRemainder: true to leave the last " + std::to_string(n % B) +
                  " samples of each permutation unused");
      const size_t M = n / B;
      const double count = count_partitions(n, B, M);
      require(std::isfinite(in.max_partitions) && count <= in.max_partitions,
              fn + ": sgworld averages over all " + num(count) + " ordered partitions of n = " + std::to_string(n) +
                  " samples into batches of " + std::to_string(B) + ", more than the limit " + num(in.max_partitions) +
                  " (use fewer samples or larger batches)");
      const WorMoments w = wor_moments(g, M);
      out.mean.resize(P);
      for (size_t i = 0; i < P; ++i) out.mean[i] = g.theta[i] + w.m[i];
      out.covariance = w.cov;
      require_stable_cov(g, out.covariance, "sgworld");
      out.partitions = w.partitions;
      out.mean_shift_first_order = mean_shift(g);
      break;
    }
  }
  const transport::GaussianW2 d = transport::w2_gaussian(P, out.mean.data(), out.covariance.data(), out.posterior_mean.data(),
                                                         out.posterior_covariance.data());
  out.w2sq = std::max(0.0, d.w2sq);
  out.w2 = std::sqrt(out.w2sq);
  return out;
}

}  // namespace speedlimits::ness
