// Wasserstein-2 between Gaussians (Bures metric), full-rank and sample forms.
// tr (C1^½ C2 C1^½)^½ = Σ √λ(C1 C2), and for any factor C1 = S Sᵀ the matrix Sᵀ C2 S has the
// same non-zero eigenvalues as C1 C2, so no matrix square root is ever formed.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/threads.hpp"
#include "core/transport.hpp"

namespace speedlimits::transport {

namespace {

using linalg::Trans;
using linalg::Uplo;

void check_symmetric(const char* name, std::size_t d, const double* C) {
  double scale = 0;
  for (std::size_t k = 0; k < d * d; ++k) scale = std::max(scale, std::fabs(C[k]));
  // Tiles of 64×64 so the transposed reads stay in cache.
  constexpr std::size_t kTile = 64;
  for (std::size_t i0 = 0; i0 < d; i0 += kTile)
    for (std::size_t j0 = 0; j0 <= i0; j0 += kTile)
      for (std::size_t i = i0; i < std::min(d, i0 + kTile); ++i)
        for (std::size_t j = j0; j < std::min(i, j0 + kTile); ++j)
          if (std::fabs(C[i * d + j] - C[j * d + i]) > 1e-10 * scale)
            throw InvalidArgument(std::string("w2Gaussian: ") + name + " must be symmetric (entries (" +
                                  std::to_string(i) + ", " + std::to_string(j) + ") and (" + std::to_string(j) +
                                  ", " + std::to_string(i) + ") differ)");
}

// Σ √max(λ, 0) of a symmetric matrix (destroyed); throws naming `name` when it has an
// eigenvalue below −tol·max|λ|.
double trace_sqrt_psd(std::size_t d, double* M, const char* name, double tol) {
  std::vector<double> w(d);
  linalg::syevd(d, M, d, w.data(), false);
  double mx = 0;
  for (double v : w) mx = std::max(mx, std::fabs(v));
  if (d > 0 && w[0] < -tol * mx)
    throw InvalidArgument(std::string("w2Gaussian: ") + name + " is not positive semidefinite (eigenvalue " +
                          std::to_string(w[0]) + ")");
  const double floor = 16.0 * static_cast<double>(d) * 2.220446049250313e-16 * mx;  // noise of a zero eigenvalue
  double s = 0;
  for (double v : w) s += v > floor ? std::sqrt(v) : 0.0;
  return s;
}

}  // namespace

GaussianW2 w2_gaussian(std::size_t d, const double* m1, const double* C1, const double* m2, const double* C2,
                       double psd_tol) {
  GaussianW2 r;
  check_symmetric("C1", d, C1);
  check_symmetric("C2", d, C2);
  for (std::size_t k = 0; k < d; ++k) r.mean_term += (m1[k] - m2[k]) * (m1[k] - m2[k]);
  double tr1 = 0, tr2 = 0;
  for (std::size_t k = 0; k < d; ++k) {
    tr1 += C1[k * d + k];
    tr2 += C2[k * d + k];
  }
  if (d == 0) return r;
  // S with C1 = S Sᵀ: Cholesky when C1 is positive definite, else V·diag(√max(λ, 0)).
  std::vector<double> S(C1, C1 + d * d);
  bool s_is_cholesky = true;
  try {
    linalg::potrf(Uplo::Lower, d, S.data(), d);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = i + 1; j < d; ++j) S[i * d + j] = 0;
  } catch (const NotPositiveDefinite&) {
    s_is_cholesky = false;
    std::copy(C1, C1 + d * d, S.begin());
    std::vector<double> w(d);
    linalg::syevd(d, S.data(), d, w.data(), true);
    double mx = 0;
    for (double v : w) mx = std::max(mx, std::fabs(v));
    if (w[0] < -psd_tol * mx)
      throw InvalidArgument("w2Gaussian: C1 is not positive semidefinite (eigenvalue " + std::to_string(w[0]) + ")");
    const double floor = 16.0 * static_cast<double>(d) * 2.220446049250313e-16 * mx;  // rank-deficiency noise
    for (std::size_t j = 0; j < d; ++j) {
      double sc = w[j] > floor ? std::sqrt(w[j]) : 0.0;
      for (std::size_t i = 0; i < d; ++i) S[i * d + j] *= sc;
    }
  }
  // Both positive definite (the common case): with C2 = L2 L2ᵀ, A = L2ᵀ S has singular values
  // √λ(C1 C2), so tr(...)^½ = Σ √λ(A Aᵀ): one more Cholesky, one triangular product and a syrk
  // (≈ 2.3 d³ flops instead of the 4 d³ of two gemms).
  double cross = 0;
  bool done = false;
  if (s_is_cholesky) {
    std::vector<double> L2(C2, C2 + d * d);
    try {
      linalg::potrf(Uplo::Lower, d, L2.data(), d);
      linalg::trmm_lower_left(Trans::Yes, d, d, 1.0, L2.data(), d, S.data(), d);  // S ← L2ᵀ S
      std::vector<double> M(d * d);
      linalg::syrk(Uplo::Lower, Trans::No, d, d, 1.0, S.data(), d, 0.0, M.data(), d);
      cross = trace_sqrt_psd(d, M.data(), "C2", psd_tol);
      done = true;
    } catch (const NotPositiveDefinite&) {
      // C2 only semidefinite: the general route below (S is intact: trmm ran only after potrf).
    }
  }
  if (!done) {
    // M = Sᵀ C2 S (symmetric); its eigenvalues are those of C1 C2.
    std::vector<double> T(d * d), M(d * d);
    linalg::gemm(Trans::No, Trans::No, d, d, d, 1.0, C2, d, S.data(), d, 0.0, T.data(), d);
    linalg::gemm(Trans::Yes, Trans::No, d, d, d, 1.0, S.data(), d, T.data(), d, 0.0, M.data(), d);
    cross = trace_sqrt_psd(d, M.data(), "C2", psd_tol);
  }
  r.cov_term = std::max(0.0, tr1 + tr2 - 2 * cross);
  r.w2sq = r.mean_term + r.cov_term;
  return r;
}

namespace {
// Columns of P per chunk in the sample form: bounds the centred copies at (M + N)·kChunk.
constexpr std::size_t kChunk = 512;  // (M + N)·kChunk doubles: 512 KB at M = N = 64, about one L2 (measured: 256 → 512 saves ~10 %)
constexpr std::size_t kGroup = 4;    // chunks per parallel work item (fixed: results independent of threads)
}  // namespace

// Weighted mean and covariance (P×P, scaled by `scale`) of a cloud: the covariance form used
// when the dimension is below the number of points.
template <typename T>
void cloud_moments(const T* x, std::size_t M, std::size_t P, const double* a, double scale, std::vector<double>& mean,
                   std::vector<double>& cov) {
  mean.assign(P, 0.0);
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t k = 0; k < P; ++k) mean[k] += a[i] * static_cast<double>(x[i * P + k]);
  std::vector<double> xc(M * P);
  for (std::size_t i = 0; i < M; ++i) {
    const double s = std::sqrt(a[i]);
    for (std::size_t k = 0; k < P; ++k) xc[i * P + k] = s * (static_cast<double>(x[i * P + k]) - mean[k]);
  }
  cov.assign(P * P, 0.0);
  linalg::syrk(Uplo::Lower, Trans::Yes, P, M, scale, xc.data(), P, 0.0, cov.data(), P);
  linalg::symmetrize(Uplo::Lower, P, cov.data(), P);
}

template <typename T>
GaussianW2 w2_gaussian_samples(const T* x, std::size_t M, const T* y, std::size_t N, std::size_t P,
                               const double* a, const double* b, bool unbiased, const Control& control) {
  GaussianW2 r;
  if (M == 0 || N == 0) throw InvalidArgument("w2GaussianSamples: both clouds need at least one point");
  if (P < std::min(M, N) && P <= 4096) {
    // Fewer dimensions than points: the P×P covariances are the smaller problem (same value).
    double a2 = 0, b2 = 0;
    for (std::size_t i = 0; i < M; ++i) a2 += a[i] * a[i];
    for (std::size_t j = 0; j < N; ++j) b2 += b[j] * b[j];
    if (unbiased && (a2 >= 1 - 1e-15 || b2 >= 1 - 1e-15))
      throw InvalidArgument("w2GaussianSamples: the unbiased covariance needs at least two points with weight in each cloud");
    std::vector<double> m1, C1, m2, C2;
    cloud_moments(x, M, P, a, unbiased ? 1.0 / (1.0 - a2) : 1.0, m1, C1);
    cloud_moments(y, N, P, b, unbiased ? 1.0 / (1.0 - b2) : 1.0, m2, C2);
    control.report(1.0);
    return w2_gaussian(P, m1.data(), C1.data(), m2.data(), C2.data());
  }
  std::vector<double> sa(M), sb(N);
  double a2 = 0, b2 = 0;
  for (std::size_t i = 0; i < M; ++i) {
    sa[i] = std::sqrt(a[i]);
    a2 += a[i] * a[i];
  }
  for (std::size_t j = 0; j < N; ++j) {
    sb[j] = std::sqrt(b[j]);
    b2 += b[j] * b[j];
  }
  if (unbiased && (a2 >= 1 - 1e-15 || b2 >= 1 - 1e-15))
    throw InvalidArgument("w2GaussianSamples: the unbiased covariance needs at least two points with weight in each cloud");
  const double s1 = unbiased ? 1.0 / (1.0 - a2) : 1.0, s2 = unbiased ? 1.0 / (1.0 - b2) : 1.0;
  const std::size_t pc = std::min(kChunk, std::max<std::size_t>(P, 1));
  // Chunks are processed in fixed groups, in parallel; each group's partial sums are combined in
  // group order afterwards, so the result does not depend on the thread count. The small GEMMs
  // inside the parallel region use the builtin kernels (single-threaded there), never a
  // multithreaded BLAS from several threads at once.
  const std::size_t nchunks = (P + pc - 1) / pc;
  const std::size_t ngroups = (nchunks + kGroup - 1) / kGroup;
  struct Partial {
    std::vector<double> G;
    double tr1 = 0, tr2 = 0, mean_term = 0;
  };
  std::vector<Partial> parts(ngroups);
  std::atomic<bool> aborted{false};
#pragma omp parallel num_threads(get_threads()) if (ngroups > 1)
  {
    std::vector<double> xc(M * pc), yc(N * pc), mx(pc), my(pc);
#pragma omp for schedule(dynamic)
    for (std::ptrdiff_t g = 0; g < static_cast<std::ptrdiff_t>(ngroups); ++g) {
      if (control.aborted()) {
        aborted.store(true);
        continue;
      }
      Partial& part = parts[static_cast<std::size_t>(g)];
      part.G.assign(M * N, 0.0);
      const std::size_t c1 = std::min(nchunks, (static_cast<std::size_t>(g) + 1) * kGroup);
      for (std::size_t c = static_cast<std::size_t>(g) * kGroup; c < c1; ++c) {
        const std::size_t p0 = c * pc, w = std::min(pc, P - p0);
        // One pass over each cloud's chunk in main memory: copy it, then take the weighted mean
        // and centre it while the copy is still in cache.
        auto centre = [w, p0, P](const T* src, std::size_t rows, const double* wt, const double* swt, double* dst,
                                 double* mean, double& trace) {
          std::fill(mean, mean + w, 0.0);
          for (std::size_t i = 0; i < rows; ++i) {
            const T* row = src + i * P + p0;
            double* d = dst + i * w;
            for (std::size_t k = 0; k < w; ++k) {
              d[k] = static_cast<double>(row[k]);
              mean[k] += wt[i] * d[k];
            }
          }
          for (std::size_t i = 0; i < rows; ++i) {
            double* d = dst + i * w;
            double t = 0;
            for (std::size_t k = 0; k < w; ++k) {
              d[k] = swt[i] * (d[k] - mean[k]);
              t += d[k] * d[k];
            }
            trace += t;
          }
        };
        centre(x, M, a, sa.data(), xc.data(), mx.data(), part.tr1);
        centre(y, N, b, sb.data(), yc.data(), my.data(), part.tr2);
        for (std::size_t k = 0; k < w; ++k) part.mean_term += (mx[k] - my[k]) * (mx[k] - my[k]);
        linalg::builtin::gemm(Trans::No, Trans::Yes, M, N, w, 1.0, xc.data(), w, yc.data(), w, 1.0, part.G.data(), N);
      }
    }
  }
  if (aborted.load()) throw Aborted();
  std::vector<double> G(M * N, 0.0);
  double tr1 = 0, tr2 = 0, mean_term = 0;
  for (const Partial& part : parts) {
    for (std::size_t q = 0; q < M * N; ++q) G[q] += part.G[q];
    tr1 += part.tr1;
    tr2 += part.tr2;
    mean_term += part.mean_term;
  }
  control.report(1.0);
  // Nuclear norm of G: Σ √λ(G Gᵀ) on the smaller side.
  const bool rows = M <= N;
  const std::size_t k = rows ? M : N;
  std::vector<double> GG(k * k);
  linalg::syrk(Uplo::Lower, rows ? Trans::No : Trans::Yes, k, rows ? N : M, 1.0, G.data(), N, 0.0, GG.data(), k);
  std::vector<double> ev(k);
  linalg::syevd(k, GG.data(), k, ev.data(), false);
  // Eigenvalues at the eigensolver's noise level (~k·ε·λmax) are zeros of a rank-deficient G
  // (M or N > rank): their square roots (~√ε·σmax each) would bias the sum.
  const double floor = 16.0 * static_cast<double>(k) * 2.220446049250313e-16 * (k > 0 ? std::max(0.0, ev[k - 1]) : 0.0);
  double nuclear = 0;
  for (double v : ev) nuclear += v > floor ? std::sqrt(v) : 0.0;
  r.mean_term = mean_term;
  r.cov_term = std::max(0.0, s1 * tr1 + s2 * tr2 - 2 * std::sqrt(s1 * s2) * nuclear);
  r.w2sq = r.mean_term + r.cov_term;
  return r;
}

template GaussianW2 w2_gaussian_samples<double>(const double*, std::size_t, const double*, std::size_t, std::size_t,
                                                const double*, const double*, bool, const Control&);
template GaussianW2 w2_gaussian_samples<float>(const float*, std::size_t, const float*, std::size_t, std::size_t,
                                               const double*, const double*, bool, const Control&);

}  // namespace speedlimits::transport
