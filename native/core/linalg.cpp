// Backend dispatch and the CBLAS/LAPACKE wrappers. The only file that includes cblas.h/lapacke.h.
#include "core/linalg.hpp"

#include <atomic>
#include <string>
#include <vector>

#include "core/errors.hpp"

#if defined(SPEEDLIMITS_HAVE_BLAS)
#include <cblas.h>
#include <lapacke.h>
#endif

namespace speedlimits::linalg {

namespace {
#if defined(SPEEDLIMITS_HAVE_BLAS)
std::atomic<Backend> g_backend{Backend::Blas};
#else
std::atomic<Backend> g_backend{Backend::Builtin};
#endif
bool use_blas() noexcept { return g_backend.load(std::memory_order_relaxed) == Backend::Blas; }
}  // namespace

bool blas_compiled() noexcept {
#if defined(SPEEDLIMITS_HAVE_BLAS)
  return true;
#else
  return false;
#endif
}

Backend backend() noexcept { return g_backend.load(); }

void set_backend(Backend b) {
  if (b == Backend::Blas && !blas_compiled())
    throw InvalidArgument("linalg backend 'blas' is not available: the addon was built without OpenBLAS");
  g_backend.store(b);
}

const char* blas_name() noexcept { return use_blas() ? "OpenBLAS" : "builtin"; }
const char* lapack_name() noexcept { return use_blas() ? "LAPACKE" : "builtin"; }

void set_blas_threads(int n) noexcept {
#if defined(SPEEDLIMITS_HAVE_BLAS)
  openblas_set_num_threads(n < 1 ? 1 : n);
#else
  (void)n;
#endif
}

void symmetrize(Uplo from, std::size_t n, double* C, std::size_t ldc) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) {
      if (from == Uplo::Lower)
        C[j * ldc + i] = C[i * ldc + j];
      else
        C[i * ldc + j] = C[j * ldc + i];
    }
}

#if defined(SPEEDLIMITS_HAVE_BLAS)
namespace blas {
namespace {
CBLAS_TRANSPOSE ct(Trans t) { return t == Trans::Yes ? CblasTrans : CblasNoTrans; }
CBLAS_UPLO cu(Uplo u) { return u == Uplo::Lower ? CblasLower : CblasUpper; }
// CBLAS takes int sizes; refuse what would overflow rather than corrupt memory.
blasint as_int(std::size_t v, const char* what) {
  if (v > static_cast<std::size_t>(0x7fffffff))
    throw InvalidArgument(std::string("linalg: ") + what + " exceeds the 32-bit BLAS index range");
  return static_cast<blasint>(v);
}
// LAPACK/BLAS reject ld < 1 even for empty matrices.
blasint ld_of(std::size_t ld) { return ld == 0 ? 1 : as_int(ld, "leading dimension"); }
}  // namespace

void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta,
          double* C, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, ct(ta), ct(tb), as_int(m, "m"), as_int(n, "n"), as_int(k, "k"), alpha,
              A, ld_of(lda), B, ld_of(ldb), beta, C, ld_of(ldc));
}

void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ct(ta), ct(tb), as_int(m, "m"), as_int(n, "n"), as_int(k, "k"), alpha,
              A, ld_of(lda), B, ld_of(ldb), beta, C, ld_of(ldc));
}

void syrk(Uplo uplo, Trans trans, std::size_t n, std::size_t k, double alpha, const double* A,
          std::size_t lda, double beta, double* C, std::size_t ldc) {
  if (n == 0) return;
  cblas_dsyrk(CblasRowMajor, cu(uplo), ct(trans), as_int(n, "n"), as_int(k, "k"), alpha, A,
              ld_of(lda), beta, C, ld_of(ldc));
}

void trmm_lower_left(Trans tl, std::size_t n, std::size_t m, double alpha, const double* L, std::size_t ldl,
                     double* B, std::size_t ldb) {
  if (n == 0 || m == 0) return;
  cblas_dtrmm(CblasRowMajor, CblasLeft, CblasLower, ct(tl), CblasNonUnit, as_int(n, "n"), as_int(m, "m"), alpha, L,
              ld_of(ldl), B, ld_of(ldb));
}

void potrf(Uplo uplo, std::size_t n, double* A, std::size_t lda) {
  if (n == 0) return;
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, uplo == Uplo::Lower ? 'L' : 'U',
                                   as_int(n, "n"), A, ld_of(lda));
  if (info > 0)
    throw NotPositiveDefinite("potrf: the matrix is not positive definite (leading minor of order " +
                              std::to_string(info) + " is not positive)");
  // LAPACKE's own NaN check reports the matrix argument (4); the builtin backend calls a NaN
  // pivot "not positive definite", and so do we, so both backends fail alike.
  if (info == -4) throw NotPositiveDefinite("potrf: the matrix is not positive definite (it contains NaN)");
  if (info < 0) throw InvalidArgument("potrf: LAPACKE rejected argument " + std::to_string(-info));
}

void syevd(std::size_t n, double* A, std::size_t lda, double* w, bool vectors) {
  if (n == 0) return;
  // Eigenvalues only: the row-major lower triangle is the column-major upper one, so call the
  // column-major routine directly and skip LAPACKE's two transposed copies of A.
  lapack_int info = vectors ? LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', as_int(n, "n"), A, ld_of(lda), w)
                            : LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', as_int(n, "n"), A, ld_of(lda), w);
  if (info > 0) throw NoConvergence("syevd: the eigensolver did not converge");
  if (info < 0) throw InvalidArgument("syevd: LAPACKE rejected argument " + std::to_string(-info));
}
}  // namespace blas
#endif

// ---- dispatch ------------------------------------------------------------------------------
#if defined(SPEEDLIMITS_HAVE_BLAS)
#define SL_DISPATCH(call) (use_blas() ? blas::call : builtin::call)
#else
#define SL_DISPATCH(call) (builtin::call)
#endif

void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta,
          double* C, std::size_t ldc) {
  SL_DISPATCH(gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc) {
  SL_DISPATCH(gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}
void syrk(Uplo uplo, Trans trans, std::size_t n, std::size_t k, double alpha, const double* A,
          std::size_t lda, double beta, double* C, std::size_t ldc) {
  SL_DISPATCH(syrk(uplo, trans, n, k, alpha, A, lda, beta, C, ldc));
}
void trmm_lower_left(Trans tl, std::size_t n, std::size_t m, double alpha, const double* L, std::size_t ldl,
                     double* B, std::size_t ldb) {
  SL_DISPATCH(trmm_lower_left(tl, n, m, alpha, L, ldl, B, ldb));
}
void potrf(Uplo uplo, std::size_t n, double* A, std::size_t lda) {
  SL_DISPATCH(potrf(uplo, n, A, lda));
}
void syevd(std::size_t n, double* A, std::size_t lda, double* w, bool vectors) {
  SL_DISPATCH(syevd(n, A, lda, w, vectors));
}
#undef SL_DISPATCH

}  // namespace speedlimits::linalg
