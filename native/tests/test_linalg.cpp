// Tests of the builtin dense kernels (against naive references and, when compiled, OpenBLAS),
// the backend dispatch, and thread-count independence.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "check.hpp"
#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/threads.hpp"

namespace la = speedlimits::linalg;
using la::Trans;
using la::Uplo;
using std::size_t;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kEps = std::numeric_limits<double>::epsilon();

// splitmix64 -> uniform in [-1, 1)
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53 * 2.0 - 1.0; }
};

template <class T>
std::vector<T> random_vec(size_t n, Rng& rng) {
  std::vector<T> v(n);
  for (auto& x : v) x = T(rng.uniform());
  return v;
}

// A matrix view (rows × cols, leading dimension ld > cols) placed inside a larger buffer whose
// surrounding elements hold a sentinel, so writes outside the view can be detected.
template <class T>
struct View {
  size_t rows, cols, ld, off;
  std::vector<T> buf;
  View(size_t r, size_t c, size_t pad, Rng& rng) : rows(r), cols(c), ld(c + pad), off(2 * (c + pad) + 1) {
    buf.assign(off + r * ld + ld + 3, T(-777.25));
    for (size_t i = 0; i < r; ++i)
      for (size_t j = 0; j < c; ++j) at(i, j) = T(rng.uniform());
  }
  T* p() { return buf.data() + off; }
  const T* p() const { return buf.data() + off; }
  T& at(size_t i, size_t j) { return buf[off + i * ld + j]; }
  T at(size_t i, size_t j) const { return buf[off + i * ld + j]; }
  bool inside(size_t idx) const {
    if (idx < off) return false;
    size_t q = idx - off, i = q / ld, j = q % ld;
    return i < rows && j < cols;
  }
  // Every element outside the view still holds the sentinel.
  bool surroundings_intact() const {
    for (size_t idx = 0; idx < buf.size(); ++idx)
      if (!inside(idx) && buf[idx] != T(-777.25)) return false;
    return true;
  }
};

double opv(const double* M, size_t ld, Trans t, size_t i, size_t j) {
  return t == Trans::No ? M[i * ld + j] : M[j * ld + i];
}
template <class T>
double opv(const T* M, size_t ld, Trans t, size_t i, size_t j) {
  return double(t == Trans::No ? M[i * ld + j] : M[j * ld + i]);
}

const char* tname(Trans t) { return t == Trans::No ? "N" : "T"; }

// Checks C (after) against alpha·op(A)·op(B) + beta·C0 with an error bound proportional to
// k·eps·(|alpha|·Σ|a||b| + |beta|·|c0|).
template <class T>
bool check_gemm_case(Trans ta, Trans tb, size_t m, size_t n, size_t k, double alpha, double beta,
                     bool nan_c, Rng& rng, const char* tag) {
  const double eps = std::numeric_limits<T>::epsilon();
  View<T> A(ta == Trans::No ? m : k, ta == Trans::No ? k : m, 3, rng);
  View<T> B(tb == Trans::No ? k : n, tb == Trans::No ? n : k, 5, rng);
  View<T> C(m, n, 2, rng);
  if (nan_c)
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) C.at(i, j) = std::numeric_limits<T>::quiet_NaN();
  View<T> C0 = C;
  la::builtin::gemm(ta, tb, m, n, k, T(alpha), A.p(), A.ld, B.p(), B.ld, T(beta), C.p(), C.ld);
  bool ok = C.surroundings_intact() && A.surroundings_intact() && B.surroundings_intact();
  for (size_t i = 0; i < m && ok; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = 0, sa = 0;
      for (size_t p = 0; p < k; ++p) {
        const double prod = opv(A.p(), A.ld, ta, i, p) * opv(B.p(), B.ld, tb, p, j);
        s += prod;
        sa += std::fabs(prod);
      }
      const double c0 = beta == 0 ? 0 : double(C0.at(i, j));
      const double ref = alpha * s + beta * c0;
      const double tol = 2 * (k + 2) * eps * (std::fabs(alpha) * sa + std::fabs(beta * c0)) + 1e-300;
      const double got = double(C.at(i, j));
      if (!(std::fabs(got - ref) <= tol)) {
        std::fprintf(stderr, "  %s %s%s m=%zu n=%zu k=%zu alpha=%g beta=%g: C(%zu,%zu)=%.17g ref=%.17g\n",
                     tag, tname(ta), tname(tb), m, n, k, alpha, beta, i, j, got, ref);
        ok = false;
        break;
      }
    }
  return ok;
}

struct Shape {
  size_t m, n, k;
};
const Shape kShapes[] = {{1, 1, 1},      {7, 3, 5},       {65, 33, 17}, {130, 257, 129},
                         {300, 200, 250}, {2, 600, 40},   {500, 7, 64}, {40, 40, 700}};

template <class T>
void gemm_suite(const char* tag) {
  Rng rng(42);
  const Trans ts[] = {Trans::No, Trans::Yes};
  for (const Shape& s : kShapes)
    for (Trans ta : ts)
      for (Trans tb : ts) {
        CHECK(check_gemm_case<T>(ta, tb, s.m, s.n, s.k, 1.0, 0.0, true, rng, tag));
        CHECK(check_gemm_case<T>(ta, tb, s.m, s.n, s.k, -0.75, 1.25, false, rng, tag));
        if (s.m * s.n * s.k < 200000) {
          CHECK(check_gemm_case<T>(ta, tb, s.m, s.n, s.k, 2.0, 1.0, false, rng, tag));
          CHECK(check_gemm_case<T>(ta, tb, s.m, s.n, s.k, 0.0, -3.0, false, rng, tag));
          CHECK(check_gemm_case<T>(ta, tb, s.m, s.n, s.k, 0.5, 0.0, true, rng, tag));
        }
      }
}

// A = B·Bᵀ + n·I, full (both triangles), n×n with leading dimension ld.
std::vector<double> random_spd(size_t n, size_t ld, Rng& rng) {
  std::vector<double> B = random_vec<double>(n * n, rng), A(n * ld, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) {
      double s = 0;
      for (size_t p = 0; p < n; ++p) s += B[i * n + p] * B[j * n + p];
      A[i * ld + j] = A[j * ld + i] = s + (i == j ? double(n) : 0.0);
    }
  return A;
}

// Symmetric random matrix, lower triangle filled, upper triangle NaN (must never be read).
std::vector<double> random_sym_lower(size_t n, size_t ld, Rng& rng) {
  std::vector<double> A(n * ld, kNaN);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) A[i * ld + j] = rng.uniform();
  return A;
}

double sym_at(const std::vector<double>& A, size_t ld, size_t i, size_t j) {
  return i >= j ? A[i * ld + j] : A[j * ld + i];
}

// Checks an eigendecomposition of the symmetric S (lower triangle of S0): ascending w,
// ‖S·V − V·diag(w)‖max and ‖VᵀV − I‖max within tol·n·‖S‖.
bool check_eig(size_t n, const std::vector<double>& S0, size_t lds, const std::vector<double>& V,
               size_t ldv, const std::vector<double>& w, double tol = 1e-12) {
  double snorm = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) snorm = std::max(snorm, std::fabs(S0[i * lds + j]));
  const double bound = tol * double(n) * std::max(snorm, 1e-300);
  bool ok = true;
  for (size_t j = 0; j + 1 < n; ++j) ok = ok && w[j] <= w[j + 1];
  double res = 0, orth = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = 0, o = 0;
      for (size_t p = 0; p < n; ++p) {
        s += sym_at(S0, lds, i, p) * V[p * ldv + j];
        o += V[p * ldv + i] * V[p * ldv + j];
      }
      res = std::max(res, std::fabs(s - w[j] * V[i * ldv + j]));
      orth = std::max(orth, std::fabs(o - (i == j ? 1.0 : 0.0)));
    }
  if (!(res <= bound) || !(orth <= tol * double(n))) {
    std::fprintf(stderr, "  eig n=%zu: residual %.3g orthogonality %.3g (bound %.3g)\n", n, res, orth, bound);
    ok = false;
  }
  return ok;
}

// Q = I - 2uuᵀ/uᵀu from a random u; returns Q·diag(d)·Qᵀ (full) with leading dimension n.
std::vector<double> known_spectrum(const std::vector<double>& d, Rng& rng) {
  const size_t n = d.size();
  std::vector<double> u = random_vec<double>(n, rng), Q(n * n), A(n * n, 0.0);
  double uu = 0;
  for (double x : u) uu += x * x;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) Q[i * n + j] = (i == j ? 1.0 : 0.0) - 2 * u[i] * u[j] / uu;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t p = 0; p < n; ++p) s += Q[i * n + p] * d[p] * Q[j * n + p];
      A[i * n + j] = s;
    }
  return A;
}

double max_rel_diff(const double* a, const double* b, size_t n) {
  double scale = 0, diff = 0;
  for (size_t i = 0; i < n; ++i) {
    scale = std::max(scale, std::fabs(b[i]));
    diff = std::max(diff, std::fabs(a[i] - b[i]));
  }
  return diff / std::max(scale, 1e-300);
}

// Restores the process-wide thread count and backend when a test ends.
struct StateGuard {
  int threads = speedlimits::get_threads();
  la::Backend backend = la::backend();
  ~StateGuard() {
    speedlimits::set_threads(threads);
    la::set_backend(backend);
  }
};

}  // namespace

// ---- gemm --------------------------------------------------------------------------------------
TEST_CASE("builtin dgemm matches the naive reference (all transposes, shapes, alpha/beta, views)") {
  gemm_suite<double>("dgemm");
}

TEST_CASE("builtin sgemm matches the naive reference (all transposes, shapes, alpha/beta, views)") {
  gemm_suite<float>("sgemm");
}

TEST_CASE("builtin gemm: k = 0 scales C by beta; m or n = 0 touches nothing") {
  Rng rng(7);
  for (Trans ta : {Trans::No, Trans::Yes})
    for (Trans tb : {Trans::No, Trans::Yes}) {
      CHECK(check_gemm_case<double>(ta, tb, 9, 11, 0, 1.0, 0.5, false, rng, "k=0"));
      CHECK(check_gemm_case<double>(ta, tb, 9, 11, 0, 1.0, 0.0, true, rng, "k=0"));
      CHECK(check_gemm_case<float>(ta, tb, 40, 50, 0, 1.0, -2.0, false, rng, "k=0"));
    }
  std::vector<double> C(16, 3.0), A(16, 1.0);
  la::builtin::gemm(Trans::No, Trans::No, 0, 4, 4, 1.0, A.data(), 4, A.data(), 4, 0.0, C.data(), 4);
  la::builtin::gemm(Trans::No, Trans::No, 4, 0, 4, 1.0, A.data(), 4, A.data(), 4, 0.0, C.data(), 4);
  la::builtin::gemm(Trans::No, Trans::No, 0, 0, 0, 1.0, nullptr, 1, nullptr, 1, 0.0, nullptr, 1);
  for (double x : C) CHECK(x == 3.0);
  // alpha == 0 must not read A or B (NaN there must not leak into C).
  std::vector<double> An(16, kNaN);
  la::builtin::gemm(Trans::No, Trans::No, 4, 4, 4, 0.0, An.data(), 4, An.data(), 4, 2.0, C.data(), 4);
  for (double x : C) CHECK(x == 6.0);
}

// ---- syrk --------------------------------------------------------------------------------------
TEST_CASE("builtin syrk matches the reference; the other triangle is untouched") {
  Rng rng(11);
  const size_t sizes[][2] = {{1, 1}, {5, 3}, {37, 20}, {130, 70}, {300, 129}, {64, 0}};
  const double ab[][2] = {{1.0, 0.0}, {-0.5, 2.0}, {0.0, 0.5}};
  for (auto& sz : sizes)
    for (Uplo uplo : {Uplo::Lower, Uplo::Upper})
      for (Trans tr : {Trans::No, Trans::Yes})
        for (auto& c : ab) {
          const size_t n = sz[0], k = sz[1];
          const double alpha = c[0], beta = c[1];
          View<double> A(tr == Trans::No ? n : k, tr == Trans::No ? k : n, 4, rng);
          View<double> C(n, n, 3, rng);
          const double sentinel = 12345.5;
          for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < n; ++j) {
              const bool in = uplo == Uplo::Lower ? j <= i : j >= i;
              if (!in) C.at(i, j) = sentinel;
              else if (beta == 0) C.at(i, j) = kNaN;
            }
          View<double> C0 = C;
          la::builtin::syrk(uplo, tr, n, k, alpha, A.p(), A.ld, beta, C.p(), C.ld);
          bool ok = C.surroundings_intact();
          for (size_t i = 0; i < n && ok; ++i)
            for (size_t j = 0; j < n; ++j) {
              const bool in = uplo == Uplo::Lower ? j <= i : j >= i;
              if (!in) {
                ok = ok && C.at(i, j) == sentinel;
                continue;
              }
              double s = 0, sa = 0;
              for (size_t p = 0; p < k; ++p) {
                const double prod = opv(A.p(), A.ld, tr, i, p) * opv(A.p(), A.ld, tr, j, p);
                s += prod;
                sa += std::fabs(prod);
              }
              const double c0 = beta == 0 ? 0 : C0.at(i, j);
              const double ref = alpha * s + beta * c0;
              const double tol = 2 * (k + 2) * kEps * (std::fabs(alpha) * sa + std::fabs(beta * c0)) + 1e-300;
              ok = ok && std::fabs(C.at(i, j) - ref) <= tol;
            }
          if (!ok)
            std::fprintf(stderr, "  syrk n=%zu k=%zu %s %s alpha=%g beta=%g\n", n, k,
                         uplo == Uplo::Lower ? "L" : "U", tname(tr), alpha, beta);
          CHECK(ok);
        }
}

// ---- potrf -------------------------------------------------------------------------------------
TEST_CASE("builtin potrf: L·Lᵀ and Uᵀ·U reconstruct A; the other triangle is untouched") {
  Rng rng(3);
  for (size_t n : {1, 2, 17, 100, 300})
    for (Uplo uplo : {Uplo::Lower, Uplo::Upper}) {
      const size_t ld = n + 3;
      std::vector<double> A0 = random_spd(n, ld, rng), F = A0;
      // The unread triangle holds NaN: it must neither be read nor written.
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
          if (uplo == Uplo::Lower ? j > i : j < i) F[i * ld + j] = kNaN;
      la::builtin::potrf(uplo, n, F.data(), ld);
      double anorm = 0, err = 0;
      bool other_ok = true;
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) {
          anorm = std::max(anorm, std::fabs(A0[i * ld + j]));
          if (uplo == Uplo::Lower ? j > i : j < i) {
            other_ok = other_ok && std::isnan(F[i * ld + j]);
            continue;
          }
          // (L·Lᵀ)(i,j) = Σ_p L(i,p)L(j,p); (Uᵀ·U)(i,j) = Σ_p U(p,i)U(p,j)
          double s = 0;
          for (size_t p = 0; p <= std::min(i, j); ++p)
            s += uplo == Uplo::Lower ? F[i * ld + p] * F[j * ld + p] : F[p * ld + i] * F[p * ld + j];
          err = std::max(err, std::fabs(s - A0[i * ld + j]));
        }
      CHECK(other_ok);
      if (!(err <= 1e-12 * anorm)) std::fprintf(stderr, "  potrf n=%zu: error %.3g\n", n, err / anorm);
      CHECK(err <= 1e-12 * anorm);
      for (size_t c = n; c < ld && n > 0; ++c) CHECK(F[c] == A0[c]);  // padding untouched
    }
}

TEST_CASE("builtin potrf throws NotPositiveDefinite naming the failing leading minor") {
  Rng rng(5);
  for (Uplo uplo : {Uplo::Lower, Uplo::Upper})
    for (size_t n : {6, 120}) {
      std::vector<double> A = random_spd(n, n, rng);
      // Make the leading minor of order 5 indefinite: A(4,4) below the Schur complement.
      A[4 * n + 4] = -1.0;
      std::string msg;
      try {
        la::builtin::potrf(uplo, n, A.data(), n);
      } catch (const speedlimits::NotPositiveDefinite& e) {
        msg = e.what();
        CHECK(e.code() == "ERR_NOT_SPD");
      }
      CHECK(msg.find("order 5 ") != std::string::npos);

      std::vector<double> B = random_spd(n, n, rng);
      const size_t i = n - 2, j = 3;
      (uplo == Uplo::Lower ? B[i * n + j] : B[j * n + i]) = kNaN;
      CHECK_THROWS(la::builtin::potrf(uplo, n, B.data(), n), speedlimits::NotPositiveDefinite);
      std::vector<double> D = random_spd(n, n, rng);
      D[0] = kNaN;
      CHECK_THROWS(la::builtin::potrf(uplo, n, D.data(), n), speedlimits::NotPositiveDefinite);
    }
  std::vector<double> z{0.0};
  CHECK_THROWS(la::builtin::potrf(Uplo::Lower, 1, z.data(), 1), speedlimits::NotPositiveDefinite);
  la::builtin::potrf(Uplo::Lower, 0, nullptr, 1);  // no-op
}

// ---- syevd -------------------------------------------------------------------------------------
TEST_CASE("builtin syevd: residual, orthogonality and ascending order on random matrices") {
  Rng rng(17);
  for (size_t n : {2, 3, 10, 64, 150, 257}) {
    const size_t ld = n + 2;
    std::vector<double> S = random_sym_lower(n, ld, rng), V = S, w(n);
    la::builtin::syevd(n, V.data(), ld, w.data(), true);
    CHECK(check_eig(n, S, ld, V, ld, w));
    // vectors = false takes a different route for the tridiagonal eigenvalues (QL instead of
    // divide and conquer), so the values agree to rounding, not bitwise.
    std::vector<double> V2 = S, w2(n);
    la::builtin::syevd(n, V2.data(), ld, w2.data(), false);
    double wmax = 0, wdiff = 0;
    for (size_t i = 0; i < n; ++i) {
      wmax = std::max(wmax, std::fabs(w[i]));
      wdiff = std::max(wdiff, std::fabs(w2[i] - w[i]));
    }
    CHECK(wdiff <= 1e-13 * double(n) * wmax);
  }
}

TEST_CASE("builtin syevd recovers known eigenvalues (including repeated ones)") {
  Rng rng(23);
  for (size_t n : {5, 40, 200}) {
    std::vector<double> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = double(int(i % 7) - 3) * 1.5 + (i % 3 == 0 ? 0.0 : 0.25 * double(i));
    std::vector<double> S = known_spectrum(d, rng), V = S, w(n);
    la::builtin::syevd(n, V.data(), n, w.data(), true);
    std::vector<double> ds = d;
    std::sort(ds.begin(), ds.end());
    double dmax = 0, err = 0;
    for (size_t i = 0; i < n; ++i) {
      dmax = std::max(dmax, std::fabs(ds[i]));
      err = std::max(err, std::fabs(w[i] - ds[i]));
    }
    if (!(err <= 1e-12 * dmax)) std::fprintf(stderr, "  known spectrum n=%zu: error %.3g\n", n, err / dmax);
    CHECK(err <= 1e-12 * dmax);
    CHECK(check_eig(n, S, n, V, n, w));
  }
  // Heavily repeated: 3·I + a rank-one term, and a diagonal matrix.
  for (size_t n : {30, 140}) {
    std::vector<double> u = random_vec<double>(n, rng), S(n * n), V, w(n);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) S[i * n + j] = (i == j ? 3.0 : 0.0) + u[i] * u[j];
    V = S;
    la::builtin::syevd(n, V.data(), n, w.data(), true);
    CHECK(check_eig(n, S, n, V, n, w));
    for (size_t i = 0; i + 1 < n; ++i) CHECK_CLOSE(w[i], 3.0, 1e-13, 1e-13);
    std::vector<double> D(n * n, 0.0);
    for (size_t i = 0; i < n; ++i) D[i * n + i] = double((i * 7) % 5);
    V = D;
    la::builtin::syevd(n, V.data(), n, w.data(), true);
    CHECK(check_eig(n, D, n, V, n, w));
    for (size_t i = 0; i < n; ++i) CHECK(w[i] == double((i * 5) / n));
  }
}

TEST_CASE("builtin syevd: n = 1, n = 0, zero matrix, non-finite input") {
  std::vector<double> a{-2.5}, w(1);
  la::builtin::syevd(1, a.data(), 1, w.data(), true);
  CHECK(w[0] == -2.5);
  CHECK(a[0] == 1.0);
  la::builtin::syevd(0, nullptr, 1, nullptr, true);
  const size_t n = 9;
  std::vector<double> Z(n * n, 0.0), wz(n, 7.0), Z0 = Z;
  la::builtin::syevd(n, Z.data(), n, wz.data(), true);
  for (double x : wz) CHECK(x == 0.0);
  CHECK(check_eig(n, Z0, n, Z, n, wz));
  std::vector<double> Bad(n * n, 1.0), wb(n);
  Bad[5 * n + 2] = kNaN;
  CHECK_THROWS(la::builtin::syevd(n, Bad.data(), n, wb.data(), true), speedlimits::InvalidArgument);
}

TEST_CASE("builtin syevd on badly scaled and graded matrices") {
  Rng rng(29);
  for (double scale : {1e-160, 1e150})
    for (size_t n : {20, 130}) {
    std::vector<double> S = random_sym_lower(n, n, rng);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j <= i; ++j) S[i * n + j] *= scale;
    std::vector<double> V = S, w(n);
    la::builtin::syevd(n, V.data(), n, w.data(), true);
    CHECK(check_eig(n, S, n, V, n, w));
  }
  for (size_t n : {50, 200}) {
    std::vector<double> G(n * n, kNaN);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j <= i; ++j) G[i * n + j] = rng.uniform() * std::pow(10.0, -0.1 * double(i + j));
    std::vector<double> V = G, w(n);
    la::builtin::syevd(n, V.data(), n, w.data(), true);
    CHECK(check_eig(n, G, n, V, n, w));
  }
}

TEST_CASE("builtin syevd on clustered spectra and special tridiagonals") {
  Rng rng(47);
  // Tight clusters (gaps of 1e-9 and 1e-14 relative) exercise deflation and the secular solver.
  for (size_t n : {60, 180, 400}) {
    std::vector<double> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = double(i % 5) + (i % 2 ? 1e-9 : 1e-14) * double(i);
    std::vector<double> S = known_spectrum(d, rng), V = S, w(n);
    la::builtin::syevd(n, V.data(), n, w.data(), true);
    CHECK(check_eig(n, S, n, V, n, w));
    std::sort(d.begin(), d.end());
    double err = 0;
    for (size_t i = 0; i < n; ++i) err = std::max(err, std::fabs(w[i] - d[i]));
    CHECK(err <= 1e-12 * 4);
  }
  // Wilkinson-type W+ (pairs of nearly equal eigenvalues), the 1-2-1 Laplacian (known spectrum),
  // and a tridiagonal with tiny off-diagonal entries, all already tridiagonal.
  for (size_t n : {21, 201, 300}) {
    std::vector<double> W(n * n, 0.0), L(n * n, 0.0), E(n * n, 0.0);
    const double half = double(n - 1) / 2;
    for (size_t i = 0; i < n; ++i) {
      W[i * n + i] = std::fabs(double(i) - half);
      L[i * n + i] = 2;
      E[i * n + i] = double(i % 3);
      if (i > 0) {
        W[i * n + i - 1] = 1;
        L[i * n + i - 1] = -1;
        E[i * n + i - 1] = i % 7 == 0 ? 0.0 : 1e-12 * double(i);
      }
    }
    for (auto* M : {&W, &L, &E}) {
      std::vector<double> V = *M, w(n);
      la::builtin::syevd(n, V.data(), n, w.data(), true);
      CHECK(check_eig(n, *M, n, V, n, w));
      if (M == &L) {
        const double pi = std::acos(-1.0);
        double err = 0;
        for (size_t k = 0; k < n; ++k)
          err = std::max(err, std::fabs(w[k] - (2 - 2 * std::cos(pi * double(k + 1) / double(n + 1)))));
        CHECK(err <= 1e-13 * double(n));
      }
    }
  }
}

// ---- threads and dispatch ----------------------------------------------------------------------
// The blocking that fixes every summation order is independent of the thread count, so the
// results are expected to be bitwise identical, not just close.
TEST_CASE("builtin results do not depend on the thread count") {
  StateGuard guard;
  Rng rng(31);
  const size_t n = 260, k = 190;
  std::vector<double> A = random_vec<double>(n * k, rng), B = random_vec<double>(k * n, rng);
  std::vector<float> Af(A.begin(), A.end()), Bf(B.begin(), B.end());
  std::vector<double> S = random_spd(n, n, rng), E = random_sym_lower(n, n, rng);
  struct Out {
    std::vector<double> c, s, l, u, v, w;
    std::vector<float> cf;
  } out[2];
  for (int t = 0; t < 2; ++t) {
    speedlimits::set_threads(t + 1);
    Out& o = out[t];
    o.c.assign(n * n, 0.0);
    la::builtin::gemm(Trans::No, Trans::Yes, n, n, k, 1.0, A.data(), k, A.data(), k, 0.0, o.c.data(), n);
    o.cf.assign(n * n, 0.0f);
    la::builtin::gemm(Trans::Yes, Trans::No, n, n, k, 1.0f, Af.data(), n, Bf.data(), n, 0.0f, o.cf.data(), n);
    o.s.assign(n * n, 1.0);
    la::builtin::syrk(Uplo::Lower, Trans::Yes, n, k, 1.0, B.data(), n, 0.5, o.s.data(), n);
    o.l = S;
    la::builtin::potrf(Uplo::Lower, n, o.l.data(), n);
    o.u = S;
    la::builtin::potrf(Uplo::Upper, n, o.u.data(), n);
    o.v = E;
    o.w.assign(n, 0.0);
    la::builtin::syevd(n, o.v.data(), n, o.w.data(), true);
  }
  CHECK(max_rel_diff(out[0].c.data(), out[1].c.data(), n * n) == 0.0);
  CHECK(out[0].cf == out[1].cf);
  CHECK(max_rel_diff(out[0].s.data(), out[1].s.data(), n * n) == 0.0);
  CHECK(max_rel_diff(out[0].l.data(), out[1].l.data(), n * n) == 0.0);
  CHECK(max_rel_diff(out[0].u.data(), out[1].u.data(), n * n) == 0.0);
  CHECK(max_rel_diff(out[0].v.data(), out[1].v.data(), n * n) == 0.0);
  CHECK(max_rel_diff(out[0].w.data(), out[1].w.data(), n) == 0.0);
}

TEST_CASE("dispatch routes to the builtin kernels under set_backend(Builtin)") {
  StateGuard guard;
  la::set_backend(la::Backend::Builtin);
  CHECK(la::backend() == la::Backend::Builtin);
  CHECK(std::string(la::blas_name()) == "builtin");
  Rng rng(37);
  const size_t m = 70, n = 45, k = 33;
  std::vector<double> A = random_vec<double>(m * k, rng), B = random_vec<double>(k * n, rng);
  std::vector<double> C1(m * n, 0.0), C2(m * n, 0.0);
  la::gemm(Trans::No, Trans::No, m, n, k, 1.5, A.data(), k, B.data(), n, 0.0, C1.data(), n);
  la::builtin::gemm(Trans::No, Trans::No, m, n, k, 1.5, A.data(), k, B.data(), n, 0.0, C2.data(), n);
  CHECK(C1 == C2);
  std::vector<double> S = random_spd(40, 40, rng), L1 = S, L2 = S;
  la::potrf(Uplo::Lower, 40, L1.data(), 40);
  la::builtin::potrf(Uplo::Lower, 40, L2.data(), 40);
  CHECK(L1 == L2);
  std::vector<double> E = random_sym_lower(30, 30, rng), V1 = E, V2 = E, w1(30), w2(30);
  la::syevd(30, V1.data(), 30, w1.data(), true);
  la::builtin::syevd(30, V2.data(), 30, w2.data(), true);
  CHECK(V1 == V2 && w1 == w2);
  if (la::blas_compiled()) {
    la::set_backend(la::Backend::Blas);
    CHECK(la::backend() == la::Backend::Blas);
  } else {
    CHECK_THROWS(la::set_backend(la::Backend::Blas), speedlimits::InvalidArgument);
  }
}

// ---- builtin vs OpenBLAS -----------------------------------------------------------------------
#if defined(SPEEDLIMITS_HAVE_BLAS)
TEST_CASE("builtin gemm/syrk agree with OpenBLAS") {
  Rng rng(41);
  const Shape shapes[] = {{1, 1, 1}, {13, 9, 31}, {200, 150, 120}, {333, 257, 190}};
  for (const Shape& s : shapes)
    for (Trans ta : {Trans::No, Trans::Yes})
      for (Trans tb : {Trans::No, Trans::Yes}) {
        View<double> A(ta == Trans::No ? s.m : s.k, ta == Trans::No ? s.k : s.m, 3, rng);
        View<double> B(tb == Trans::No ? s.k : s.n, tb == Trans::No ? s.n : s.k, 1, rng);
        View<double> C1(s.m, s.n, 2, rng);
        View<double> C2 = C1;
        la::builtin::gemm(ta, tb, s.m, s.n, s.k, 0.8, A.p(), A.ld, B.p(), B.ld, -0.3, C1.p(), C1.ld);
        la::blas::gemm(ta, tb, s.m, s.n, s.k, 0.8, A.p(), A.ld, B.p(), B.ld, -0.3, C2.p(), C2.ld);
        CHECK(max_rel_diff(C1.buf.data(), C2.buf.data(), C1.buf.size()) <= 1e-12);

        View<float> Af(A.rows, A.cols, 3, rng), Bf(B.rows, B.cols, 1, rng), Cf1(s.m, s.n, 2, rng);
        View<float> Cf2 = Cf1;
        la::builtin::gemm(ta, tb, s.m, s.n, s.k, 1.0f, Af.p(), Af.ld, Bf.p(), Bf.ld, 0.0f, Cf1.p(), Cf1.ld);
        la::blas::gemm(ta, tb, s.m, s.n, s.k, 1.0f, Af.p(), Af.ld, Bf.p(), Bf.ld, 0.0f, Cf2.p(), Cf2.ld);
        std::vector<double> d1(Cf1.buf.begin(), Cf1.buf.end()), d2(Cf2.buf.begin(), Cf2.buf.end());
        CHECK(max_rel_diff(d1.data(), d2.data(), d1.size()) <= 1e-5);
      }
  for (size_t n : {1, 50, 300})
    for (Uplo uplo : {Uplo::Lower, Uplo::Upper})
      for (Trans tr : {Trans::No, Trans::Yes}) {
        const size_t k = n / 2 + 1;
        View<double> A(tr == Trans::No ? n : k, tr == Trans::No ? k : n, 2, rng);
        View<double> C1(n, n, 1, rng);
        View<double> C2 = C1;
        la::builtin::syrk(uplo, tr, n, k, 1.1, A.p(), A.ld, 0.9, C1.p(), C1.ld);
        la::blas::syrk(uplo, tr, n, k, 1.1, A.p(), A.ld, 0.9, C2.p(), C2.ld);
        CHECK(max_rel_diff(C1.buf.data(), C2.buf.data(), C1.buf.size()) <= 1e-12);
      }
}

TEST_CASE("builtin potrf/syevd agree with LAPACKE") {
  Rng rng(43);
  for (size_t n : {1, 7, 130, 300})
    for (Uplo uplo : {Uplo::Lower, Uplo::Upper}) {
      const size_t ld = n + 5;
      std::vector<double> A = random_spd(n, ld, rng), F1 = A, F2 = A;
      la::builtin::potrf(uplo, n, F1.data(), ld);
      la::blas::potrf(uplo, n, F2.data(), ld);
      CHECK(max_rel_diff(F1.data(), F2.data(), F1.size()) <= 1e-12);
    }
  for (size_t n : {1, 2, 9, 140, 300}) {
    const size_t ld = n + 1;
    std::vector<double> S = random_sym_lower(n, ld, rng);
    std::vector<double> V1 = S, V2 = S, w1(n), w2(n);
    la::builtin::syevd(n, V1.data(), ld, w1.data(), true);
    la::blas::syevd(n, V2.data(), ld, w2.data(), true);
    double wmax = 0;
    for (double x : w2) wmax = std::max(wmax, std::fabs(x));
    double werr = 0;
    for (size_t i = 0; i < n; ++i) werr = std::max(werr, std::fabs(w1[i] - w2[i]));
    CHECK(werr <= 1e-12 * std::max(wmax, 1.0));
    // Eigenvectors agree up to sign, to within the perturbation bound eps·‖S‖/gap.
    bool vec_ok = true;
    for (size_t j = 0; j < n; ++j) {
      double gap = std::numeric_limits<double>::infinity();
      if (j > 0) gap = std::min(gap, w2[j] - w2[j - 1]);
      if (j + 1 < n) gap = std::min(gap, w2[j + 1] - w2[j]);
      double dp = 0;
      for (size_t i = 0; i < n; ++i) dp += V1[i * ld + j] * V2[i * ld + j];
      const double sgn = dp < 0 ? -1.0 : 1.0;
      double verr = 0;
      for (size_t i = 0; i < n; ++i) verr = std::max(verr, std::fabs(V1[i * ld + j] - sgn * V2[i * ld + j]));
      const double tol = 1e-12 + 1e-13 * double(n) * wmax / gap;
      if (!(verr <= tol)) {
        std::fprintf(stderr, "  syevd vs LAPACKE n=%zu: eigenvector %zu differs by %.3g (gap %.3g)\n", n, j, verr, gap);
        vec_ok = false;
      }
    }
    CHECK(vec_ok);
  }
}
#endif

TEST_CASE("trmm_lower_left matches the naive product on both backends (views, both transposes)") {
  Rng rng(47);
  std::vector<la::Backend> backends{la::Backend::Builtin};
  if (la::blas_compiled()) backends.push_back(la::Backend::Blas);
  for (la::Backend b : backends) {
    la::set_backend(b);
    for (size_t n : {1, 5, 67, 200})
      for (size_t m : {1, 3, 90})
        for (Trans tl : {Trans::No, Trans::Yes}) {
          View<double> L(n, n, 3, rng);  // the upper triangle holds junk that must be ignored
          View<double> B(n, m, 2, rng);
          std::vector<double> ref(n * m, 0.0);
          for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) {
              double s = 0;
              for (size_t k = 0; k < n; ++k) {
                const double l = tl == Trans::No ? (k <= i ? L.at(i, k) : 0.0) : (i <= k ? L.at(k, i) : 0.0);
                s += l * B.at(k, j);
              }
              ref[i * m + j] = 0.7 * s;
            }
          View<double> out = B;
          la::trmm_lower_left(tl, n, m, 0.7, L.p(), L.ld, out.p(), out.ld);
          double err = 0, scale = 0;
          for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < m; ++j) {
              err = std::max(err, std::fabs(out.at(i, j) - ref[i * m + j]));
              scale = std::max(scale, std::fabs(ref[i * m + j]));
            }
          CHECK(err <= 1e-13 * std::max(scale, 1.0) * static_cast<double>(n));
          // Nothing outside the view was written.
          for (size_t q = 0; q < out.off; ++q) CHECK(out.buf[q] == B.buf[q]);
        }
  }
  la::set_backend(la::blas_compiled() ? la::Backend::Blas : la::Backend::Builtin);
}

TEST_MAIN()
