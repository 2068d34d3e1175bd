// Dense linear algebra for the whole core, row-major, double (and float for gemm).
// Two backends behind one interface:
//   * Blas    — OpenBLAS (CBLAS) + LAPACKE, when the build found them (SPEEDLIMITS_HAVE_BLAS);
//   * Builtin — the core's own cache-blocked kernels (linalg_builtin.cpp), always compiled.
// linalg.cpp is the only file that includes cblas.h / lapacke.h.
//
// Conventions (all routines): row-major storage, element (i, j) of a matrix with leading
// dimension ld is at p[i * ld + j]; ld >= number of columns as stored. Sizes of 0 are allowed
// (no-op). Outputs are caller-allocated.
#pragma once
#include <cstddef>

namespace speedlimits::linalg {

enum class Trans { No, Yes };
enum class Uplo { Lower, Upper };
enum class Backend { Builtin, Blas };

// True when compiled with OpenBLAS + LAPACKE.
bool blas_compiled() noexcept;
// Active backend (defaults to Blas when compiled, else Builtin). set_backend(Blas) throws
// InvalidArgument when BLAS was not compiled in. Process-wide; meant for tests and benchmarks.
Backend backend() noexcept;
void set_backend(Backend b);
const char* blas_name() noexcept;    // "OpenBLAS" or "builtin"
const char* lapack_name() noexcept;  // "LAPACKE" or "builtin"
// Threads used inside BLAS calls (no-op for the builtin backend, which uses OpenMP).
void set_blas_threads(int n) noexcept;

// C (m×n) = alpha · op(A) · op(B) + beta · C, with op(A) m×k and op(B) k×n.
// beta == 0 overwrites C (NaN in C is not propagated).
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta,
          double* C, std::size_t ldc);
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc);

// C (n×n) = alpha · op(A) · op(A)ᵀ + beta · C, op(A) n×k (trans == No: A is n×k; Yes: A is k×n).
// Only the `uplo` triangle of C (diagonal included) is read and written.
void syrk(Uplo uplo, Trans trans, std::size_t n, std::size_t k, double alpha, const double* A,
          std::size_t lda, double beta, double* C, std::size_t ldc);

// B (n×m) = alpha · op(L) · B in place, L (n×n) lower triangular (only its lower triangle,
// diagonal included, is read). Half the flops of the equivalent gemm.
void trmm_lower_left(Trans tl, std::size_t n, std::size_t m, double alpha, const double* L, std::size_t ldl,
                     double* B, std::size_t ldb);

// In-place Cholesky factorisation of the SPD matrix A (n×n), reading only the `uplo` triangle.
// Lower: A = L Lᵀ, L written to the lower triangle. Upper: A = Uᵀ U, U written to the upper.
// The other triangle is left untouched. Throws NotPositiveDefinite naming the failing column.
void potrf(Uplo uplo, std::size_t n, double* A, std::size_t lda);

// Symmetric eigendecomposition of A (n×n), reading only the lower triangle.
// w receives the eigenvalues in ascending order. When vectors is true, A is overwritten with
// the orthonormal eigenvectors as columns (A[i*lda + j] = component i of eigenvector j);
// otherwise A's contents are destroyed. Throws NoConvergence if the iteration fails.
void syevd(std::size_t n, double* A, std::size_t lda, double* w, bool vectors = true);

// Copy the `from` triangle of C onto the other one, making C exactly symmetric.
void symmetrize(Uplo from, std::size_t n, double* C, std::size_t ldc) noexcept;

// The portable kernels, same contracts as above. Always available.
namespace builtin {
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta,
          double* C, std::size_t ldc);
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc);
void syrk(Uplo uplo, Trans trans, std::size_t n, std::size_t k, double alpha, const double* A,
          std::size_t lda, double beta, double* C, std::size_t ldc);
void trmm_lower_left(Trans tl, std::size_t n, std::size_t m, double alpha, const double* L, std::size_t ldl,
                     double* B, std::size_t ldb);
void potrf(Uplo uplo, std::size_t n, double* A, std::size_t lda);
void syevd(std::size_t n, double* A, std::size_t lda, double* w, bool vectors);
}  // namespace builtin

#if defined(SPEEDLIMITS_HAVE_BLAS)
// Thin wrappers over CBLAS/LAPACKE, same contracts. Only when compiled with BLAS.
namespace blas {
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta,
          double* C, std::size_t ldc);
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc);
void syrk(Uplo uplo, Trans trans, std::size_t n, std::size_t k, double alpha, const double* A,
          std::size_t lda, double beta, double* C, std::size_t ldc);
void trmm_lower_left(Trans tl, std::size_t n, std::size_t m, double alpha, const double* L, std::size_t ldl,
                     double* B, std::size_t ldb);
void potrf(Uplo uplo, std::size_t n, double* A, std::size_t lda);
void syevd(std::size_t n, double* A, std::size_t lda, double* w, bool vectors);
}  // namespace blas
#endif

}  // namespace speedlimits::linalg
