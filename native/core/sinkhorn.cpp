// Log-domain Sinkhorn (KL form) with a fused single-pass log-sum-exp.
//
// Each half-iteration needs LSE over a row (f-update) or a column (g-update) of (h − C)/ε. Rather
// than a max pass and a sum pass, the previous potential is used as the shift: at a fixed point
// the shifted terms are log(P_ij/a_i) ≤ 0, so one pass of exp-and-add is safe almost always. A row
// or column whose sum leaves [1e-200, 1e200] is recomputed exactly (max pass + sum pass): this
// happens at the first iteration and after an ε change, never silently.
// The g-update reads C row by row (contiguous) and accumulates a block of columns at a time, so
// both half-iterations stream through C once. The column sums it forms are the column marginals
// of the current plan, so the L1 marginal error comes for free.
// Work is split only across independent rows/columns, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/threads.hpp"
#include "core/transport.hpp"
#include "core/vmath.hpp"

namespace speedlimits::transport {

namespace {

constexpr double kSafeLo = 1e-200, kSafeHi = 1e200;
constexpr std::size_t kRowChunk = 64;    // partial sums per row (vectorised, fixed summation order)
constexpr std::size_t kColBlock = 256;   // columns accumulated together in the g-update

inline bool safe(double s) { return s >= kSafeLo && s <= kSafeHi; }

// Σ_j exp(H_j − C_j·inv + shift) over one row. The row is consumed in chunks of kRowChunk
// accumulated element-wise into acc[] (a loop the compiler vectorises), and acc is summed in a
// fixed order at the end: deterministic for any vector width or thread count.
template <typename T>
double row_sum_exp(const T* Crow, const double* H, std::size_t m, double inv, double shift) {
  double acc[kRowChunk];
  const std::size_t first = std::min(m, kRowChunk);
  for (std::size_t k = 0; k < first; ++k) acc[k] = vmath::exp(std::fma(-static_cast<double>(Crow[k]), inv, H[k] + shift));
  for (std::size_t k = first; k < kRowChunk; ++k) acc[k] = 0;
  for (std::size_t j0 = kRowChunk; j0 < m; j0 += kRowChunk) {
    const std::size_t w = std::min(kRowChunk, m - j0);
    const T* c = Crow + j0;
    const double* h = H + j0;
    for (std::size_t k = 0; k < w; ++k) acc[k] += vmath::exp(std::fma(-static_cast<double>(c[k]), inv, h[k] + shift));
  }
  double s = 0;
  for (std::size_t k = 0; k < kRowChunk; ++k) s += acc[k];
  return s;
}

// Exact LSE_j (H_j − C_{j·stride}·inv) by a max pass and a sum pass (strided for columns).
template <typename T>
double exact_lse(const T* Cstart, std::size_t stride, const double* H, std::size_t len, double inv) {
  double mx = -std::numeric_limits<double>::infinity();
  for (std::size_t j = 0; j < len; ++j) mx = std::max(mx, H[j] - static_cast<double>(Cstart[j * stride]) * inv);
  if (!std::isfinite(mx)) return mx;  // every term has zero weight
  double s = 0;
  for (std::size_t j = 0; j < len; ++j) s += vmath::exp(H[j] - static_cast<double>(Cstart[j * stride]) * inv - mx);
  return mx + std::log(s);
}

template <typename T>
struct Solver {
  const T* C;
  std::size_t n, m;
  const double* a;
  const double* b;
  std::vector<double> log_a, log_b, H, s;

  Solver(const T* C_, std::size_t n_, std::size_t m_, const double* a_, const double* b_)
      : C(C_), n(n_), m(m_), a(a_), b(b_), log_a(n_), log_b(m_), H(std::max(n_, m_)), s(m_) {
    for (std::size_t i = 0; i < n; ++i) log_a[i] = a[i] > 0 ? std::log(a[i]) : -HUGE_VAL;
    for (std::size_t j = 0; j < m; ++j) log_b[j] = b[j] > 0 ? std::log(b[j]) : -HUGE_VAL;
  }

  // f_i ← −ε LSE_j(log b_j + (g_j − C_ij)/ε). Rows of P then sum exactly to a.
  void update_f(double eps, double* f, const double* g) {
    const double inv = 1.0 / eps;
    for (std::size_t j = 0; j < m; ++j) H[j] = log_b[j] + g[j] * inv;
    const double* Hp = H.data();
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
      const T* row = C + static_cast<std::size_t>(i) * m;
      double sum = row_sum_exp(row, Hp, m, inv, f[i] * inv);
      if (safe(sum))
        f[i] -= eps * std::log(sum);
      else
        f[i] = -eps * exact_lse(row, 1, Hp, m, inv);
    }
  }

  // Column sums S_j = Σ_i a_i exp((f_i + g_j − C_ij)/ε) = (column marginal)/b_j at the current
  // (f, g); returns Σ_j b_j |S_j − 1| and, when update, sets g_j ← g_j − ε log S_j.
  double update_g(double eps, const double* f, double* g, bool update) {
    const double inv = 1.0 / eps;
    for (std::size_t i = 0; i < n; ++i) H[i] = log_a[i] + f[i] * inv;
    const double* Hp = H.data();
    double* sp = s.data();
    const std::size_t nblocks = (m + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t blk = 0; blk < static_cast<std::ptrdiff_t>(nblocks); ++blk) {
      const std::size_t j0 = static_cast<std::size_t>(blk) * kColBlock, j1 = std::min(m, j0 + kColBlock);
      const std::size_t w = j1 - j0;
      double G[kColBlock], acc[kColBlock];
      for (std::size_t j = 0; j < w; ++j) {
        G[j] = g[j0 + j] * inv;
        acc[j] = 0;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const T* row = C + i * m + j0;
        const double hi = Hp[i];
        for (std::size_t j = 0; j < w; ++j) acc[j] += vmath::exp(std::fma(-static_cast<double>(row[j]), inv, hi + G[j]));
      }
      for (std::size_t j = 0; j < w; ++j) sp[j0 + j] = acc[j];
    }
    double err = 0;
    for (std::size_t j = 0; j < m; ++j) {
      double sj = sp[j];
      if (!safe(sj)) {
        // Exact: LSE_i(H_i − C_ij/ε) + g_j/ε = log S_j.
        double lse = exact_lse(C + j, m, Hp, n, inv);
        double log_s = lse + g[j] * inv;
        sj = std::exp(std::min(log_s, 700.0));
        if (update) g[j] = -eps * lse;
      } else if (update) {
        g[j] -= eps * std::log(sj);
      }
      if (b[j] > 0) err += b[j] * std::fabs(sj - 1.0);
    }
    return err;
  }

  // Kernel-mode iterations (the fast path): with K̃_ij = exp((f_i + g_j − C_ij)/ε) built once
  // from the current potentials, P = diag(a∘u) K̃ diag(b∘v) and Sinkhorn is two matrix-vector
  // products per iteration — no exp. Safe while the scalings u, v stay in [1e-200, 1e200]
  // (entries of K̃ that underflow carry mass below e^−707 relative to the plan); the iteration
  // stops when they leave it, and u, v are always absorbed back into f, g (f += ε log u,
  // g += ε log v), so the log-domain iterations continue from there. Returns true on
  // convergence (err < tol, rows exact).
  bool kernel_iterations(double eps, double* f, double* g, double tol, std::size_t max_it, std::size_t& it,
                         double& err, const Control& control) {
    const double inv = 1.0 / eps;
    std::vector<double> K(n * m), u(n, 1.0), v(m, 1.0), v_prev(m), bv(m), au(n), t(m);
    for (std::size_t j = 0; j < m; ++j) H[j] = g[j] * inv;
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
      const T* row = C + static_cast<std::size_t>(i) * m;
      double* kr = K.data() + static_cast<std::size_t>(i) * m;
      const double fi = f[i] * inv;
      for (std::size_t j = 0; j < m; ++j) kr[j] = vmath::exp(fi + H[j] - static_cast<double>(row[j]) * inv);
    }
    bool converged = false, ok = true;
    std::size_t k = 0;
    for (; k < max_it; ++k) {
      if ((k & 15) == 0) control.check();
      for (std::size_t j = 0; j < m; ++j) bv[j] = b[j] * v[j];
      // u_i = 1 / Σ_j K̃_ij b_j v_j
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
      for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
        const double* kr = K.data() + static_cast<std::size_t>(i) * m;
        double acc[kRowChunk] = {};
        for (std::size_t j0 = 0; j0 < m; j0 += kRowChunk) {
          const std::size_t w = std::min(kRowChunk, m - j0);
          for (std::size_t q = 0; q < w; ++q) acc[q] += kr[j0 + q] * bv[j0 + q];
        }
        double sum = 0;
        for (std::size_t q = 0; q < kRowChunk; ++q) sum += acc[q];
        u[i] = 1.0 / sum;
      }
      for (std::size_t i = 0; i < n; ++i) au[i] = a[i] > 0 ? a[i] * u[i] : 0.0;
      // t_j = Σ_i K̃_ij a_i u_i; the column marginal of (u, v) is b_j v_j t_j
      const std::size_t nblocks = (m + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
      for (std::ptrdiff_t blk = 0; blk < static_cast<std::ptrdiff_t>(nblocks); ++blk) {
        const std::size_t j0 = static_cast<std::size_t>(blk) * kColBlock, j1 = std::min(m, j0 + kColBlock);
        double acc[kColBlock] = {};
        for (std::size_t i = 0; i < n; ++i) {
          const double* kr = K.data() + i * m;
          const double x = au[i];
          for (std::size_t j = j0; j < j1; ++j) acc[j - j0] += kr[j] * x;
        }
        for (std::size_t j = j0; j < j1; ++j) t[j] = acc[j - j0];
      }
      double e = 0;
      for (std::size_t j = 0; j < m; ++j)
        if (b[j] > 0) e += b[j] * std::fabs(v[j] * t[j] - 1.0);
      for (std::size_t i = 0; i < n && ok; ++i) ok = a[i] <= 0 || safe(u[i]);
      if (!ok || !std::isfinite(e)) break;  // u left the safe range: absorb the last good state
      ++it;
      err = e;
      if (e < tol) {
        converged = true;
        break;
      }
      std::copy(v.begin(), v.end(), v_prev.begin());
      for (std::size_t j = 0; j < m; ++j) v[j] = b[j] > 0 ? 1.0 / t[j] : 1.0;
      for (std::size_t j = 0; j < m && ok; ++j) ok = b[j] <= 0 || safe(v[j]);
      if (!ok) {
        std::copy(v_prev.begin(), v_prev.end(), v.begin());
        break;
      }
    }
    if (!ok) {
      // the u of this iteration may be out of range: recompute the rows in the log domain below
      std::fill(u.begin(), u.end(), 1.0);
    }
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] > 0) f[i] += eps * std::log(u[i]);
    for (std::size_t j = 0; j < m; ++j)
      if (b[j] > 0) g[j] += eps * std::log(v[j]);
    return converged;
  }

  // ⟨P, C⟩, Σ P, and the plan itself when requested.
  void finish(double eps, const double* f, const double* g, double* plan, double& cost, double& mass) {
    const double inv = 1.0 / eps;
    for (std::size_t j = 0; j < m; ++j) H[j] = log_b[j] + g[j] * inv;
    std::vector<double> rc(n), rm(n);
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
      const T* row = C + static_cast<std::size_t>(i) * m;
      const double base = log_a[i] + f[i] * inv;
      double c = 0, p = 0;
      for (std::size_t j = 0; j < m; ++j) {
        double v = vmath::exp(base + H[j] - static_cast<double>(row[j]) * inv);
        c += v * static_cast<double>(row[j]);
        p += v;
        if (plan != nullptr) plan[static_cast<std::size_t>(i) * m + j] = v;
      }
      rc[i] = c;
      rm[i] = p;
    }
    cost = 0;
    mass = 0;
    for (std::size_t i = 0; i < n; ++i) {
      cost += rc[i];
      mass += rm[i];
    }
  }
};

// Adaptive over-relaxation (after Thibault, Chizat, Dossal, Papadakis, "Overrelaxed
// Sinkhorn–Knopp algorithm for regularized optimal transport", 2017): x ← x_old + ω (T(x) − x_old).
// Plain Sinkhorn contracts the marginal error by r per iteration, r → 1 as ε → 0; the optimal
// ω = 2/(1 + √(1 − r)) turns that rate into ~ω − 1. ω starts at 1; each window of iterations
// measures the rate: a slow window moves ω halfway towards 2 (capped), an error that keeps
// growing moves it halfway back to 1.
struct Relaxation {
  double omega = 1.0;
  double window_start = HUGE_VAL, best = HUGE_VAL;
  int count = 0, stalled = 0;
  bool estimated = false;
  static constexpr int kWindow = 50;
  static constexpr double kMaxOmega = 1.95;

  void apply(const double* old, double* x, std::size_t len) const {
    if (omega == 1.0) return;
    for (std::size_t i = 0; i < len; ++i) x[i] = old[i] + omega * (x[i] - old[i]);
  }
  // The plain rate r is measured over one window of plain iterations, then ω is fixed. Under
  // over-relaxation the error is not monotone, so only a window ending 10× above the best error
  // seen counts as divergence, which halves ω − 1 (and allows a new estimate).
  void observe(double err) {
    if (err < best) {
      best = err;
      stalled = 0;
    }
    if (++count < kWindow) return;
    if (!estimated && window_start < HUGE_VAL && err < window_start) {
      const double r = std::pow(err / window_start, 1.0 / kWindow);
      if (r > 0.5) omega = std::min(kMaxOmega, 2.0 / (1.0 + std::sqrt(1.0 - r)));
      estimated = true;
    } else if (estimated && (err > 10 * best || ++stalled >= 4)) {
      // Diverging, or no new best error for 4 windows (a limit cycle): back off.
      omega = 1.0 + 0.5 * (omega - 1.0);
      best = err;
      stalled = 0;
    }
    window_start = err;
    count = 0;
  }
  void reset() {
    omega = 1.0;
    count = 0;
    estimated = false;
    stalled = 0;
    window_start = best = HUGE_VAL;
  }
};

// Sinkhorn–Newton polish (Brauer, Clason, Lorenz, Wirth, "A Sinkhorn–Newton method for entropic
// optimal transport", 2017). Plain Sinkhorn slows to a crawl at small ε on near-degenerate
// instances (sublinear error decay); Newton on the marginal equations F(f, g) = (P1 − a, Pᵀ1 − b)
// converges quadratically from the point Sinkhorn reached. The Newton system
//   [diag(r) P; Pᵀ diag(c)] (δf, δg) = −ε (r − a, c − b),  r = P1, c = Pᵀ1,
// is positive semidefinite (null vector (1, −1), orthogonal to the right side) and is solved by
// Jacobi-preconditioned conjugate gradients with P held in memory; a backtracking line search
// on the L1 marginal error keeps every step a descent step.
// Largest Schur complement (min(n, m)) factorised directly; larger systems use CG.
constexpr std::size_t kDirectMax = 3000;

template <typename T>
struct NewtonPolish {
  Solver<T>& s;
  std::size_t n, m;
  std::vector<double> P, r, c;
  double last_step = 0;  // length of the last accepted step (1 = full Newton step)

  NewtonPolish(Solver<T>& solver) : s(solver), n(solver.n), m(solver.m), P(solver.n * solver.m), r(solver.n), c(solver.m) {}

  // P, r, c at (f, g); returns Σ|r − a| + Σ|c − b|.
  double build(double eps, const double* f, const double* g) {
    const double inv = 1.0 / eps;
    std::vector<double>& H = s.H;
    for (std::size_t j = 0; j < m; ++j) H[j] = s.log_b[j] + g[j] * inv;
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
      const T* row = s.C + static_cast<std::size_t>(i) * m;
      double* pr = P.data() + static_cast<std::size_t>(i) * m;
      const double base = s.log_a[i] + f[i] * inv;
      double acc = 0;
      for (std::size_t j = 0; j < m; ++j) {
        double v = vmath::exp(base + H[j] - static_cast<double>(row[j]) * inv);
        pr[j] = v;
        acc += v;
      }
      r[i] = acc;
    }
    transpose_times(nullptr, c.data(), true);
    double err = 0;
    for (std::size_t i = 0; i < n; ++i) err += std::fabs(r[i] - s.a[i]);
    for (std::size_t j = 0; j < m; ++j) err += std::fabs(c[j] - s.b[j]);
    return err;
  }

  // y = Pᵀ x (ones = true: y = Pᵀ 1), column blocks in parallel, rows in a fixed order.
  void transpose_times(const double* x, double* y, bool ones) {
    const std::size_t nblocks = (m + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t blk = 0; blk < static_cast<std::ptrdiff_t>(nblocks); ++blk) {
      const std::size_t j0 = static_cast<std::size_t>(blk) * kColBlock, j1 = std::min(m, j0 + kColBlock);
      double acc[kColBlock] = {};
      for (std::size_t i = 0; i < n; ++i) {
        const double* pr = P.data() + i * m;
        const double xi = ones ? 1.0 : x[i];
        for (std::size_t j = j0; j < j1; ++j) acc[j - j0] += pr[j] * xi;
      }
      for (std::size_t j = j0; j < j1; ++j) y[j] = acc[j - j0];
    }
  }

  // (yf, yg) = [diag(r) P; Pᵀ diag(c)] (xf, xg)
  void apply(const double* xf, const double* xg, double* yf, double* yg) {
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
      const double* pr = P.data() + static_cast<std::size_t>(i) * m;
      double acc = 0;
      for (std::size_t j = 0; j < m; ++j) acc += pr[j] * xg[j];
      yf[i] = r[i] * xf[i] + acc;
    }
    transpose_times(xf, yg, false);
    for (std::size_t j = 0; j < m; ++j) yg[j] += c[j] * xg[j];
  }

  // Solve the Newton system by its Schur complement on the smaller side, e.g. for m ≤ n
  //   (diag(c) − Pᵀ diag(1/r) P) y = v − Pᵀ diag(1/r) u,  x = diag(1/r)(u − P y),
  // by Cholesky. The complement is singular along 1 (the gauge f + t, g − t); adding α·11ᵀ
  // removes that without changing the solution for a right side orthogonal to 1.
  // Returns false when the factorisation fails (then CG is used).
  bool solve_direct(const std::vector<double>& rhs, std::vector<double>& x) {
    const bool keep_g = m <= n;  // eliminate the larger side
    const std::size_t k = keep_g ? m : n;
    std::vector<double> Q(n * m), S(k * k, 0.0), w(n + m);
    for (std::size_t i = 0; i < n; ++i) w[i] = r[i] > 1e-300 ? 1.0 / r[i] : 0.0;
    for (std::size_t j = 0; j < m; ++j) w[n + j] = c[j] > 1e-300 ? 1.0 / c[j] : 0.0;
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 32768)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i)
      for (std::size_t j = 0; j < m; ++j) {
        const double sc = keep_g ? std::sqrt(w[i]) : std::sqrt(w[n + j]);
        Q[static_cast<std::size_t>(i) * m + j] = P[static_cast<std::size_t>(i) * m + j] * sc;
      }
    // S = diag(kept marginal) − QᵀQ (keep g) or − QQᵀ (keep f), lower triangle
    linalg::syrk(linalg::Uplo::Lower, keep_g ? linalg::Trans::Yes : linalg::Trans::No, k, keep_g ? n : m, -1.0,
                 Q.data(), m, 0.0, S.data(), k);
    double alpha = 0;
    for (std::size_t q = 0; q < k; ++q) {
      S[q * k + q] += keep_g ? c[q] : r[q];
      alpha = std::max(alpha, S[q * k + q]);
    }
    for (std::size_t q = 0; q < k; ++q)
      for (std::size_t t = 0; t <= q; ++t) S[q * k + t] += alpha / static_cast<double>(k);
    // right side: v − Pᵀ diag(1/r) u (keep g) or u − P diag(1/c) v (keep f)
    std::vector<double> z(k);
    if (keep_g) {
      std::vector<double> u(n);
      for (std::size_t i = 0; i < n; ++i) u[i] = w[i] * rhs[i];
      transpose_times(u.data(), z.data(), false);
      for (std::size_t j = 0; j < m; ++j) z[j] = rhs[n + j] - z[j];
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::size_t j = 0; j < m; ++j) acc += P[i * m + j] * w[n + j] * rhs[n + j];
        z[i] = rhs[i] - acc;
      }
    }
    try {
      linalg::potrf(linalg::Uplo::Lower, k, S.data(), k);
    } catch (const NotPositiveDefinite&) {
      return false;
    }
    for (std::size_t q = 0; q < k; ++q) {  // L y = z
      double acc = z[q];
      for (std::size_t t = 0; t < q; ++t) acc -= S[q * k + t] * z[t];
      z[q] = acc / S[q * k + q];
    }
    for (std::size_t q = k; q-- > 0;) {  // Lᵀ y = z
      double acc = z[q];
      for (std::size_t t = q + 1; t < k; ++t) acc -= S[t * k + q] * z[t];
      z[q] = acc / S[q * k + q];
    }
    x.assign(n + m, 0.0);
    if (keep_g) {
      for (std::size_t j = 0; j < m; ++j) x[n + j] = z[j];
      for (std::size_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::size_t j = 0; j < m; ++j) acc += P[i * m + j] * z[j];
        x[i] = w[i] * (rhs[i] - acc);
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) x[i] = z[i];
      std::vector<double> ptx(m);
      transpose_times(z.data(), ptx.data(), false);
      for (std::size_t j = 0; j < m; ++j) x[n + j] = w[n + j] * (rhs[n + j] - ptx[j]);
    }
    return std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); });
  }

  // Jacobi-preconditioned conjugate gradients on the full system (for large problems).
  void solve_cg(const std::vector<double>& rhs, std::vector<double>& x, double forcing) {
    const std::size_t N = n + m;
    std::vector<double> res(N), z(N), p(N), Ap(N), dinv(N);
    x.assign(N, 0.0);
    for (std::size_t i = 0; i < n; ++i) dinv[i] = r[i] > 1e-300 ? 1.0 / r[i] : 1.0;
    for (std::size_t j = 0; j < m; ++j) dinv[n + j] = c[j] > 1e-300 ? 1.0 / c[j] : 1.0;
    auto dot = [](const std::vector<double>& u, const std::vector<double>& v) {
      double acc = 0;
      for (std::size_t q = 0; q < u.size(); ++q) acc += u[q] * v[q];
      return acc;
    };
    res = rhs;
    for (std::size_t q = 0; q < N; ++q) z[q] = dinv[q] * res[q];
    p = z;
    double rz = dot(res, z);
    const double rhs_norm = std::sqrt(dot(rhs, rhs));
    for (std::size_t it = 0; it < 300 && std::sqrt(dot(res, res)) > forcing * rhs_norm; ++it) {
      apply(p.data(), p.data() + n, Ap.data(), Ap.data() + n);
      const double pAp = dot(p, Ap);
      if (!(pAp > 0)) break;
      const double alpha = rz / pAp;
      for (std::size_t q = 0; q < N; ++q) {
        x[q] += alpha * p[q];
        res[q] -= alpha * Ap[q];
      }
      for (std::size_t q = 0; q < N; ++q) z[q] = dinv[q] * res[q];
      const double rz_new = dot(res, z);
      const double beta = rz_new / rz;
      rz = rz_new;
      for (std::size_t q = 0; q < N; ++q) p[q] = z[q] + beta * p[q];
    }
  }

  // One damped Newton step from (f, g) with error err (P, r, c current). Returns the new error,
  // or err unchanged when no step length decreased it.
  double step(double eps, double* f, double* g, double err) {
    std::vector<double> rhs(n + m), x;
    for (std::size_t i = 0; i < n; ++i) rhs[i] = -eps * (r[i] - s.a[i]);
    for (std::size_t j = 0; j < m; ++j) rhs[n + j] = -eps * (c[j] - s.b[j]);
    if (std::min(n, m) > kDirectMax || !solve_direct(rhs, x)) solve_cg(rhs, x, std::max(1e-14, std::min(0.1, err)));
    std::vector<double> f0(f, f + n), g0(g, g + m);
    double t = 1.0;
    for (int ls = 0; ls < 30; ++ls, t *= 0.5) {
      for (std::size_t i = 0; i < n; ++i) f[i] = f0[i] + t * x[i];
      for (std::size_t j = 0; j < m; ++j) g[j] = g0[j] + t * x[n + j];
      const double e2 = build(eps, f, g);
      if (e2 < err) {
        last_step = t;
        return e2;
      }
    }
    std::copy(f0.begin(), f0.end(), f);
    std::copy(g0.begin(), g0.end(), g);
    last_step = 0;
    return err;
  }
};

// Newton holds P in memory: used up to this many entries (320 MB).
// (kDirectMax, the largest Schur complement factorised directly, is declared before NewtonPolish.)
constexpr std::size_t kNewtonMaxEntries = std::size_t(40) * 1000 * 1000;
// Kernel-mode iterations per ε stage before the log-domain loop takes over.
constexpr std::size_t kKernelMaxIter = 1000;
// Sinkhorn iterations at the target ε before the Newton polish takes over.
constexpr std::size_t kNewtonAfter = 300;

void check_options(const SinkhornOptions& opt) {
  if (!(opt.epsilon > 0) || !std::isfinite(opt.epsilon))
    throw InvalidArgument("sinkhorn: epsilon must be a finite number > 0");
  if (!(opt.tol > 0)) throw InvalidArgument("sinkhorn: tol must be > 0");
  if (opt.eps_scaling && !(opt.eps_factor > 0 && opt.eps_factor < 1))
    throw InvalidArgument("sinkhorn: the epsilon-scaling factor must be in (0, 1)");
}

template <typename T>
double max_cost(const T* C, std::size_t count) {
  double mx = 0;
  for (std::size_t k = 0; k < count; ++k) mx = std::max(mx, static_cast<double>(C[k]));
  return mx;
}

// The ε schedule and stage limits live in transport.hpp (shared with the CUDA solver).
std::vector<double> schedule(const SinkhornOptions& opt, double cmax) { return sinkhorn_schedule(opt, cmax); }
constexpr double kStageTol = kSinkhornStageTol;
constexpr std::size_t kStageMaxIter = kSinkhornStageMaxIter;

}  // namespace

template <typename T>
SinkhornResult sinkhorn_log(const T* C, std::size_t n, std::size_t m, const double* a, const double* b, double* f,
                            double* g, double* plan, const SinkhornOptions& opt) {
  check_options(opt);
  if (n == 0 || m == 0) throw InvalidArgument("sinkhorn: the cost matrix is empty");
  Solver<T> solver(C, n, m, a, b);
  if (!opt.warm_start) {
    std::fill(f, f + n, 0.0);
    std::fill(g, g + m, 0.0);
  }
  SinkhornResult res;
  std::vector<double> g_prev(m), f_prev(n);
  const std::vector<double> eps_list = schedule(opt, opt.eps_scaling ? max_cost(C, n * m) : 0);
  double err = HUGE_VAL;
  std::size_t it = 0;
  for (std::size_t stage = 0; stage < eps_list.size(); ++stage) {
    const bool last = stage + 1 == eps_list.size();
    const double eps = eps_list[stage];
    const double tol = last ? opt.tol : std::max(opt.tol, kStageTol);
    Relaxation relax;
    std::size_t since_newton = 0;
    if (opt.kernel && n * m <= kNewtonMaxEntries) {
      // Plain (un-relaxed) iterations: after kKernelMaxIter the log-domain loop, with
      // over-relaxation and the Newton polish, takes over the slow tail.
      const std::size_t budget = std::min(last ? kKernelMaxIter : kStageMaxIter, opt.max_iter - it);
      if (solver.kernel_iterations(eps, f, g, tol, budget, it, err, opt.control)) continue;
    }
    for (std::size_t k = 0; it < opt.max_iter && (last || k < kStageMaxIter); ++k) {
      opt.control.check();
      std::copy(f, f + n, f_prev.begin());
      solver.update_f(eps, f, g);
      relax.apply(f_prev.data(), f, n);
      ++it;
      // One column pass both measures the error of (f, g) and updates g; on convergence the
      // previous g is restored so that the returned plan is the one whose error was measured.
      std::copy(g, g + m, g_prev.begin());
      err = solver.update_g(eps, f, g, true);
      if (!std::isfinite(err)) throw NumericalError("sinkhorn: the marginal error is not finite");
      if (err < tol) {
        std::copy(g_prev.begin(), g_prev.end(), g);
        if (relax.omega == 1.0) break;
        // An over-relaxed f leaves the rows inexact: take a plain step and measure again.
        solver.update_f(eps, f, g);
        err = solver.update_g(eps, f, g, false);
        if (err < tol) break;
        relax.reset();
        continue;
      }
      relax.apply(g_prev.data(), g, m);
      relax.observe(err);
      opt.control.report(std::min(1.0, static_cast<double>(it) / static_cast<double>(opt.max_iter)));
      if (last && opt.newton && ++since_newton >= kNewtonAfter && n * m <= kNewtonMaxEntries) {
        // Slow tail: Newton steps while they are (nearly) full steps — once rounding in the
        // ill-conditioned Newton system forces short steps, Sinkhorn takes over again and
        // Newton is retried kNewtonAfter iterations later. Ends on an f-update (exact rows).
        NewtonPolish<T> newton(solver);
        double e = newton.build(eps, f, g);
        while (it < opt.max_iter && e >= 0.1 * opt.tol) {
          opt.control.check();
          const double e2 = newton.step(eps, f, g, e);
          ++it;
          if (!(e2 < e)) break;
          e = e2;
          if (newton.last_step < 0.25) break;
        }
        since_newton = 0;
        relax.reset();
        solver.update_f(eps, f, g);
        err = solver.update_g(eps, f, g, false);
        if (err < opt.tol) break;
      }
    }
  }
  if (!(err < opt.tol)) {
    // Out of iterations: end on an f-update (exact rows) and measure the columns again.
    solver.update_f(opt.epsilon, f, g);
    err = solver.update_g(opt.epsilon, f, g, false);
  }
  res.iterations = it;
  res.marginal_error = err;
  res.converged = err < opt.tol;
  double obj = 0;
  for (std::size_t i = 0; i < n; ++i) obj += a[i] > 0 ? a[i] * f[i] : 0.0;
  for (std::size_t j = 0; j < m; ++j) obj += b[j] > 0 ? b[j] * g[j] : 0.0;
  res.objective = obj;
  solver.finish(opt.epsilon, f, g, plan, res.transport_cost, res.plan_mass);
  opt.control.report(1.0);
  return res;
}

template <typename T>
SinkhornResult sinkhorn_log_symmetric(const T* C, std::size_t n, const double* a, double* f,
                                      const SinkhornOptions& opt) {
  check_options(opt);
  if (n == 0) throw InvalidArgument("sinkhorn: the cost matrix is empty");
  Solver<T> solver(C, n, n, a, a);
  if (!opt.warm_start) std::fill(f, f + n, 0.0);
  std::vector<double> t(n);
  SinkhornResult res;
  const std::vector<double> eps_list = schedule(opt, opt.eps_scaling ? max_cost(C, n * n) : 0);
  double err = HUGE_VAL;
  std::size_t it = 0;
  for (std::size_t stage = 0; stage < eps_list.size(); ++stage) {
    const bool last = stage + 1 == eps_list.size();
    const double eps = eps_list[stage];
    const double tol = last ? opt.tol : std::max(opt.tol, kStageTol);
    for (std::size_t k = 0; it < opt.max_iter && (last || k < kStageMaxIter); ++k) {
      opt.control.check();
      // t = T(f): the f-update against g = f. Row marginal of P at f is a_i exp((f_i − t_i)/ε).
      std::copy(f, f + n, t.begin());
      solver.update_f(eps, t.data(), f);
      ++it;
      err = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (a[i] > 0) err += a[i] * std::fabs(std::exp(std::min((f[i] - t[i]) / eps, 700.0)) - 1.0);
      if (!std::isfinite(err)) throw NumericalError("sinkhorn: the marginal error is not finite");
      if (err < tol) break;
      for (std::size_t i = 0; i < n; ++i) f[i] = 0.5 * (f[i] + t[i]);
    }
  }
  res.iterations = it;
  res.marginal_error = err;
  res.converged = err < opt.tol;
  double obj = 0;
  for (std::size_t i = 0; i < n; ++i) obj += a[i] > 0 ? 2 * a[i] * f[i] : 0.0;
  res.objective = obj;
  solver.finish(opt.epsilon, f, f, nullptr, res.transport_cost, res.plan_mass);
  return res;
}

template SinkhornResult sinkhorn_log<double>(const double*, std::size_t, std::size_t, const double*, const double*,
                                             double*, double*, double*, const SinkhornOptions&);
template SinkhornResult sinkhorn_log<float>(const float*, std::size_t, std::size_t, const double*, const double*,
                                            double*, double*, double*, const SinkhornOptions&);
template SinkhornResult sinkhorn_log_symmetric<double>(const double*, std::size_t, const double*, double*,
                                                       const SinkhornOptions&);
template SinkhornResult sinkhorn_log_symmetric<float>(const float*, std::size_t, const double*, double*,
                                                      const SinkhornOptions&);

}  // namespace speedlimits::transport
