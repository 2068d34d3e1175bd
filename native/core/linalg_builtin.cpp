// The builtin (portable) dense kernels behind linalg.hpp's `builtin` namespace:
//   * gemm  — BLIS-style blocking: B panels packed into L3-sized slabs, A blocks into L2-sized
//             blocks, and an MR×NR register-blocked micro-kernel written with GCC/Clang vector
//             extensions (plain scalar loops elsewhere);
//   * syrk  — the same driver restricted to one triangle of C (tiles outside are skipped);
//   * potrf — recursive Cholesky whose work is in trsm/syrk, both built on the gemm driver;
//   * syevd — blocked Householder tridiagonalisation; the tridiagonal is solved by divide and
//             conquer (implicit QL/QR with Wilkinson shifts for small orders and for the
//             leaves, and for eigenvalues only); eigenvectors are back-transformed with
//             compact-WY blocks of reflectors (gemm).
// Threading never changes the arithmetic: work is split only along independent outputs, and the
// blocking that fixes the summation order does not depend on the thread count, so results are
// bitwise identical for any speedlimits::set_threads value.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/threads.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SL_VEC 1
#define SL_RESTRICT __restrict__
#define SL_INLINE inline __attribute__((always_inline))
#if defined(__AVX512F__)
#define SL_VEC_BYTES 64
#elif defined(__AVX__) || !(defined(__x86_64__) || defined(__i386__))
#define SL_VEC_BYTES 32
#else
#define SL_VEC_BYTES 16  // x86 without AVX: SSE registers
#endif
// The vector helpers are internal and always inlined, so their ABI is irrelevant.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#else
#define SL_VEC 0
#define SL_RESTRICT
#define SL_INLINE inline
#endif

namespace speedlimits::linalg::builtin {
namespace {

using std::size_t;

enum class Tri { None, Lower, Upper };

inline size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
inline size_t round_up(size_t a, size_t b) { return ceil_div(a, b) * b; }

// Threads for a region doing `work` multiply-adds: tiny problems stay serial because a parallel
// region costs microseconds. The choice never affects results (see the file comment).
inline int threads_for(double work) {
  int nt = speedlimits::get_threads();
  if (nt < 1) nt = 1;
  if (work < 1.5e5) return 1;
  return nt;
}

inline int thread_id() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Grow-only 64-byte-aligned scratch, one per thread and slot. Packing buffers are reused across
// calls because the recursive algorithms issue many gemms and fresh large allocations would be
// mmap-backed, paying page faults every time.
class Scratch {
 public:
  ~Scratch() { release(); }
  void* get(size_t bytes) {
    if (bytes > cap_) {
      release();
      size_t cap = round_up(bytes < 4096 ? 4096 : bytes, 4096);
      p_ = ::operator new(cap, std::align_val_t(64));
      cap_ = cap;
    }
    return p_;
  }

 private:
  void release() {
    if (p_) ::operator delete(p_, std::align_val_t(64));
    p_ = nullptr;
    cap_ = 0;
  }
  void* p_ = nullptr;
  size_t cap_ = 0;
};
enum ScratchSlot { kSlotPackA, kSlotPackB, kSlotCount };
template <class T>
T* scratch(ScratchSlot slot, size_t count) {
  thread_local Scratch bufs[kSlotCount];
  return static_cast<T*>(bufs[slot].get(count * sizeof(T)));
}

// ---- vector helpers ----------------------------------------------------------------------------
#if SL_VEC
typedef double vdouble __attribute__((vector_size(SL_VEC_BYTES)));
typedef float vfloat __attribute__((vector_size(SL_VEC_BYTES)));

template <class V, class T>
SL_INLINE V vload(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V, class T>
SL_INLINE void vstore(T* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}
// A brace-initialised broadcast compiles to a single vbroadcast (lane-by-lane assignment does not).
template <class V, class T, size_t... I>
SL_INLINE V vsplat_impl(T x, std::index_sequence<I...>) {
  return V{((void)I, x)...};
}
template <class V, class T>
SL_INLINE V vsplat(T x) {
  return vsplat_impl<V>(x, std::make_index_sequence<sizeof(V) / sizeof(T)>{});
}
template <class V>
SL_INLINE double vsum(const V& v) {
  double s = 0;
  for (size_t i = 0; i < sizeof(V) / sizeof(double); ++i) s += v[i];
  return s;
}
constexpr size_t kVD = SL_VEC_BYTES / sizeof(double);  // doubles per vector
#endif

// Dot product with several independent accumulators (a plain loop would not vectorise without
// -ffast-math). Fixed summation order for given n.
inline double dot(const double* SL_RESTRICT a, const double* SL_RESTRICT b, size_t n) {
  size_t i = 0;
  double s = 0;
#if SL_VEC
  vdouble a0 = {}, a1 = {};
  for (; i + 2 * kVD <= n; i += 2 * kVD) {
    a0 += vload<vdouble>(a + i) * vload<vdouble>(b + i);
    a1 += vload<vdouble>(a + i + kVD) * vload<vdouble>(b + i + kVD);
  }
  s = vsum(a0 + a1);
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline void axpy(size_t n, double a, const double* SL_RESTRICT x, double* SL_RESTRICT y) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// ---- gemm --------------------------------------------------------------------------------------
// Blocking parameters. KC bounds the packed micro-panels (A: MR×KC, B: KC×NR) so the B micro-panel
// stays in L1 while the A block (MC×KC) lives in L2 and the B slab (KC×NC) in L3.
template <class T>
struct Blk;
#if SL_VEC
template <>
struct Blk<double> {
  using V = vdouble;
  static constexpr size_t VL = SL_VEC_BYTES / sizeof(double);
  static constexpr size_t MR = 6, NR = 2 * VL, KC = 256, MC = 120, NC = 2048;
};
template <>
struct Blk<float> {
  using V = vfloat;
  static constexpr size_t VL = SL_VEC_BYTES / sizeof(float);
  static constexpr size_t MR = 6, NR = 2 * VL, KC = 384, MC = 120, NC = 3072;
};
#else
template <>
struct Blk<double> {
  static constexpr size_t MR = 4, NR = 4, KC = 256, MC = 128, NC = 2048;
};
template <>
struct Blk<float> {
  static constexpr size_t MR = 4, NR = 4, KC = 256, MC = 128, NC = 2048;
};
#endif

// c (MR×NR, row stride ldc) = alpha·(a·b) + beta·c, or alpha·(a·b) when beta == 0 (c not read).
// a: kc columns of MR packed values; b: kc rows of NR packed values.
template <class T>
SL_INLINE void micro_kernel(size_t kc, const T* SL_RESTRICT a, const T* SL_RESTRICT b,
                            T* SL_RESTRICT c, size_t ldc, T alpha, T beta) {
  constexpr size_t MR = Blk<T>::MR, NR = Blk<T>::NR;
#if SL_VEC
  using V = typename Blk<T>::V;
  constexpr size_t VL = Blk<T>::VL, NV = NR / VL;
  // Start pulling the C tile in now; the k loop hides the latency.
  for (size_t r = 0; r < MR; ++r) {
    __builtin_prefetch(c + r * ldc, 1, 3);
    __builtin_prefetch(c + r * ldc + NR - 1, 1, 3);
  }
  V acc[MR][NV];
  for (size_t r = 0; r < MR; ++r)
    for (size_t v = 0; v < NV; ++v) acc[r][v] = V{};
  for (size_t p = 0; p < kc; ++p) {
    V bv[NV];
    for (size_t v = 0; v < NV; ++v) bv[v] = vload<V>(b + v * VL);
    for (size_t r = 0; r < MR; ++r) {
      const V ar = vsplat<V>(a[r]);
      for (size_t v = 0; v < NV; ++v) acc[r][v] += ar * bv[v];
    }
    a += MR;
    b += NR;
  }
  if (beta == T(0)) {
    for (size_t r = 0; r < MR; ++r)
      for (size_t v = 0; v < NV; ++v) vstore(c + r * ldc + v * VL, acc[r][v] * alpha);
  } else {
    for (size_t r = 0; r < MR; ++r)
      for (size_t v = 0; v < NV; ++v) {
        T* cp = c + r * ldc + v * VL;
        vstore(cp, acc[r][v] * alpha + vload<V>(cp) * beta);
      }
  }
#else
  T acc[MR][NR] = {};
  for (size_t p = 0; p < kc; ++p) {
    for (size_t r = 0; r < MR; ++r)
      for (size_t j = 0; j < NR; ++j) acc[r][j] += a[r] * b[j];
    a += MR;
    b += NR;
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t j = 0; j < NR; ++j) {
      T* cp = c + r * ldc + j;
      *cp = beta == T(0) ? alpha * acc[r][j] : alpha * acc[r][j] + beta * *cp;
    }
#endif
}

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] as MR-row micro-panels (column by column), zero padded.
template <class T>
void pack_a(Trans ta, const T* A, size_t lda, size_t i0, size_t mc, size_t p0, size_t kc,
            T* SL_RESTRICT dst) {
  constexpr size_t MR = Blk<T>::MR;
  for (size_t ir = 0; ir < mc; ir += MR) {
    const size_t mr = std::min(MR, mc - ir);
    if (ta == Trans::No) {
      const T* src = A + (i0 + ir) * lda + p0;
      if (mr == MR) {
        for (size_t p = 0; p < kc; ++p)
          for (size_t r = 0; r < MR; ++r) dst[p * MR + r] = src[r * lda + p];
      } else {
        for (size_t p = 0; p < kc; ++p)
          for (size_t r = 0; r < MR; ++r) dst[p * MR + r] = r < mr ? src[r * lda + p] : T(0);
      }
    } else {
      const T* src = A + p0 * lda + i0 + ir;
      for (size_t p = 0; p < kc; ++p)
        for (size_t r = 0; r < MR; ++r) dst[p * MR + r] = r < mr ? src[p * lda + r] : T(0);
    }
    dst += MR * kc;
  }
}

// Packs one NR-column micro-panel op(B)[p0 : p0+kc, j0 : j0+nr], zero padded to NR columns.
template <class T>
void pack_b(Trans tb, const T* B, size_t ldb, size_t p0, size_t kc, size_t j0, size_t nr,
            T* SL_RESTRICT dst) {
  constexpr size_t NR = Blk<T>::NR;
  if (tb == Trans::No) {
    const T* src = B + p0 * ldb + j0;
    if (nr == NR) {
      for (size_t p = 0; p < kc; ++p) std::memcpy(dst + p * NR, src + p * ldb, NR * sizeof(T));
    } else {
      for (size_t p = 0; p < kc; ++p)
        for (size_t j = 0; j < NR; ++j) dst[p * NR + j] = j < nr ? src[p * ldb + j] : T(0);
    }
  } else {
    const T* src = B + j0 * ldb + p0;
    for (size_t p = 0; p < kc; ++p)
      for (size_t j = 0; j < NR; ++j) dst[p * NR + j] = j < nr ? src[j * ldb + p] : T(0);
  }
}

inline bool in_tri(Tri tri, size_t i, size_t j) {
  return tri == Tri::None || (tri == Tri::Lower ? j <= i : j >= i);
}

// C = beta·C over the selected part of C (beta == 0 writes zeros without reading).
template <class T>
void scale_c(size_t m, size_t n, T beta, T* C, size_t ldc, Tri tri) {
  if (beta == T(1)) return;
  for (size_t i = 0; i < m; ++i) {
    size_t j0 = tri == Tri::Upper ? std::min(i, n) : 0;
    size_t j1 = tri == Tri::Lower ? std::min(i + 1, n) : n;
    T* c = C + i * ldc;
    if (beta == T(0))
      for (size_t j = j0; j < j1; ++j) c[j] = T(0);
    else
      for (size_t j = j0; j < j1; ++j) c[j] *= beta;
  }
}

// Direct path for small products: no packing, no threads.
template <class T>
void gemm_small(Trans ta, Trans tb, size_t m, size_t n, size_t k, T alpha, const T* A, size_t lda,
                const T* B, size_t ldb, T beta, T* C, size_t ldc, Tri tri) {
  const size_t ars = ta == Trans::No ? lda : 1, acs = ta == Trans::No ? 1 : lda;
  for (size_t i = 0; i < m; ++i) {
    const size_t j0 = tri == Tri::Upper ? std::min(i, n) : 0;
    const size_t j1 = tri == Tri::Lower ? std::min(i + 1, n) : n;
    T* c = C + i * ldc;
    const T* a = A + i * ars;
    if (tb == Trans::No) {
      // Row-oriented (axpy) form: the inner loop runs along contiguous rows of B and C.
      if (beta == T(0))
        for (size_t j = j0; j < j1; ++j) c[j] = T(0);
      else if (beta != T(1))
        for (size_t j = j0; j < j1; ++j) c[j] *= beta;
      for (size_t p = 0; p < k; ++p) {
        const T ap = alpha * a[p * acs];
        const T* b = B + p * ldb;
        for (size_t j = j0; j < j1; ++j) c[j] += ap * b[j];
      }
    } else {
      for (size_t j = j0; j < j1; ++j) {
        const T* b = B + j * ldb;
        T s = 0;
        for (size_t p = 0; p < k; ++p) s += a[p * acs] * b[p];
        c[j] = beta == T(0) ? alpha * s : alpha * s + beta * c[j];
      }
    }
  }
}

// C (m×n) [restricted to a triangle when tri != None; then m == n] = alpha·op(A)·op(B) + beta·C.
template <class T>
void gemm_impl(Trans ta, Trans tb, size_t m, size_t n, size_t k, T alpha, const T* A, size_t lda,
               const T* B, size_t ldb, T beta, T* C, size_t ldc, Tri tri) {
  if (m == 0 || n == 0) return;
  if (alpha == T(0) || k == 0) {
    scale_c(m, n, beta, C, ldc, tri);
    return;
  }
  const double work = double(m) * double(n) * double(k);
  if (work < 32.0 * 32.0 * 32.0) {
    gemm_small(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, tri);
    return;
  }
  constexpr size_t MR = Blk<T>::MR, NR = Blk<T>::NR, KC = Blk<T>::KC, MC = Blk<T>::MC,
                   NC = Blk<T>::NC;
  const int nt = threads_for(tri == Tri::None ? work : work / 2);

  // Row blocks: as many as MC asks for, rounded to a multiple of the thread count so the
  // threads get equal shares. MC never affects the summation order, only KC does.
  size_t nmb = ceil_div(m, MC);
  if (nt > 1 && tri == Tri::None) nmb = round_up(nmb, size_t(nt));
  const size_t mce = round_up(ceil_div(m, nmb), MR);
  nmb = ceil_div(m, mce);
  const size_t ncw = std::min(n, NC), kcw = std::min(k, KC);
  // All buffers are taken before the parallel region (an exception must not escape a region).
  T* bpack = scratch<T>(kSlotPackB, kcw * round_up(ncw, NR));
  const size_t asize = round_up(mce * kcw, 64 / sizeof(T));
  T* apack_all = scratch<T>(kSlotPackA, asize * size_t(nt));

#if defined(_OPENMP)
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
  {
    T* apack = apack_all + asize * size_t(thread_id());
    alignas(64) T tmp[MR * NR];
    for (size_t jc = 0; jc < n; jc += NC) {
      const size_t nc = std::min(NC, n - jc);
      const size_t npan = ceil_div(nc, NR);
      // Few row blocks (short, wide C): also split the column panels among the threads.
      size_t nsplit = 1;
      if (size_t(nt) > nmb) nsplit = std::min(npan, ceil_div(size_t(nt) * 2, nmb));
      const size_t pan_per = ceil_div(npan, nsplit);
      const size_t items = nmb * nsplit;
      for (size_t pc = 0; pc < k; pc += KC) {
        const size_t kc = std::min(KC, k - pc);
        const T beta_eff = pc == 0 ? beta : T(1);
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
        for (size_t jp = 0; jp < npan; ++jp)
          pack_b(tb, B, ldb, pc, kc, jc + jp * NR, std::min(NR, nc - jp * NR), bpack + jp * NR * kc);
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
        for (size_t it = 0; it < items; ++it) {
          const size_t ib = it / nsplit, js = it % nsplit;
          const size_t ic = ib * mce;
          const size_t mc = std::min(mce, m - ic);
          const size_t jp0 = js * pan_per, jp1 = std::min(npan, jp0 + pan_per);
          if (jp0 >= jp1) continue;
          // Triangular C: skip blocks that miss the triangle entirely.
          if (tri == Tri::Lower && ic + mc <= jc + jp0 * NR) continue;
          if (tri == Tri::Upper && ic > jc + std::min(nc, jp1 * NR) - 1) continue;
          pack_a(ta, A, lda, ic, mc, pc, kc, apack);
          for (size_t jp = jp0; jp < jp1; ++jp) {
            const size_t jr = jp * NR;
            const size_t nr = std::min(NR, nc - jr);
            const size_t gj = jc + jr;
            const T* bp = bpack + jp * NR * kc;
            for (size_t ir = 0; ir < mc; ir += MR) {
              const size_t mr = std::min(MR, mc - ir);
              const size_t gi = ic + ir;
              bool full = mr == MR && nr == NR;
              if (tri == Tri::Lower) {
                if (gj >= gi + mr) continue;
                full = full && gj + nr <= gi + 1;
              } else if (tri == Tri::Upper) {
                if (gj + nr <= gi) continue;
                full = full && gj >= gi + mr - 1;
              }
              T* cp = C + gi * ldc + gj;
              const T* ap = apack + ir * kc;
              if (full) {
                micro_kernel<T>(kc, ap, bp, cp, ldc, alpha, beta_eff);
              } else {
                micro_kernel<T>(kc, ap, bp, tmp, NR, T(1), T(0));
                for (size_t r = 0; r < mr; ++r)
                  for (size_t j = 0; j < nr; ++j) {
                    if (!in_tri(tri, gi + r, gj + j)) continue;
                    T& cv = cp[r * ldc + j];
                    const T t = tmp[r * NR + j];
                    cv = beta_eff == T(0) ? alpha * t : alpha * t + beta_eff * cv;
                  }
              }
            }
          }
        }
      }
    }
  }
}

// ---- triangular solves and Cholesky ------------------------------------------------------------
constexpr size_t kTrsmLeaf = 32;
constexpr size_t kPotrfLeaf = 48;

[[noreturn]] void throw_not_spd(size_t order) {
  throw NotPositiveDefinite("potrf: the matrix is not positive definite (leading minor of order " +
                            std::to_string(order) + " is not positive)");
}

// Recursion split: about half, rounded to a multiple of 8 so inner blocks line up with tiles.
inline size_t split_half(size_t n) {
  size_t n1 = round_up(n / 2, 8);
  return n1 >= n ? n / 2 : n1;
}

// Solves M·Y = Y in place for Y (nb×m, row stride ldy), M lower triangular with M(c,t) at
// Mp[c*rs + t*cs]. Columns of Y are independent, so they are processed in cache-sized chunks
// (in parallel when large), each with axpys along contiguous rows.
void lower_solve_rows(size_t nb, const double* Mp, size_t rs, size_t cs, double* Y, size_t ldy,
                      size_t m) {
  constexpr size_t W = 256;
  const size_t nchunks = ceil_div(m, W);
  const int nt = threads_for(0.5 * double(nb) * double(nb) * double(m));
  (void)nt;  // only read by OpenMP pragmas
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && nchunks > 1)
#endif
  for (size_t ch = 0; ch < nchunks; ++ch) {
    const size_t j0 = ch * W, w = std::min(W, m - j0);
    for (size_t c = 0; c < nb; ++c) {
      double* yc = Y + c * ldy + j0;
      const double dc = Mp[c * rs + c * cs];
      for (size_t j = 0; j < w; ++j) yc[j] /= dc;
      for (size_t t = c + 1; t < nb; ++t) axpy(w, -Mp[t * rs + c * cs], yc, Y + t * ldy + j0);
    }
  }
}

// B (m×n) := B·L⁻ᵀ, i.e. solves X·Lᵀ = B; L (n×n) lower.
void trsm_right_lower_t(size_t m, size_t n, const double* L, size_t ldl, double* B, size_t ldb) {
  if (m == 0 || n == 0) return;
  if (n > kTrsmLeaf) {
    const size_t n1 = split_half(n), n2 = n - n1;
    trsm_right_lower_t(m, n1, L, ldl, B, ldb);
    gemm_impl<double>(Trans::No, Trans::Yes, m, n2, n1, -1.0, B, ldb, L + n1 * ldl, ldl, 1.0, B + n1,
                      ldb, Tri::None);
    trsm_right_lower_t(m, n2, L + n1 * ldl + n1, ldl, B + n1, ldb);
    return;
  }
  // Leaf: solve L·Xᵀ = Bᵀ on transposed row chunks so the inner loops run along contiguous memory.
  constexpr size_t W = 256;
  const size_t nchunks = ceil_div(m, W);
  const int nt = threads_for(0.5 * double(n) * double(n) * double(m));
  std::vector<double> bufs(size_t(nt) * kTrsmLeaf * W);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && nchunks > 1)
#endif
  for (size_t ch = 0; ch < nchunks; ++ch) {
    const size_t i0 = ch * W, w = std::min(W, m - i0);
    double* buf = bufs.data() + size_t(thread_id()) * kTrsmLeaf * W;
    for (size_t i = 0; i < w; ++i)
      for (size_t c = 0; c < n; ++c) buf[c * W + i] = B[(i0 + i) * ldb + c];
    for (size_t c = 0; c < n; ++c) {
      double* yc = buf + c * W;
      const double dc = L[c * ldl + c];
      for (size_t j = 0; j < w; ++j) yc[j] /= dc;
      for (size_t t = c + 1; t < n; ++t) axpy(w, -L[t * ldl + c], yc, buf + t * W);
    }
    for (size_t i = 0; i < w; ++i)
      for (size_t c = 0; c < n; ++c) B[(i0 + i) * ldb + c] = buf[c * W + i];
  }
}

// B (n×m) := U⁻ᵀ·B, i.e. solves Uᵀ·X = B; U (n×n) upper.
void trsm_left_upper_t(size_t n, size_t m, const double* U, size_t ldu, double* B, size_t ldb) {
  if (m == 0 || n == 0) return;
  if (n > kTrsmLeaf) {
    const size_t n1 = split_half(n), n2 = n - n1;
    trsm_left_upper_t(n1, m, U, ldu, B, ldb);
    gemm_impl<double>(Trans::Yes, Trans::No, n2, m, n1, -1.0, U + n1, ldu, B, ldb, 1.0, B + n1 * ldb,
                      ldb, Tri::None);
    trsm_left_upper_t(n2, m, U + n1 * ldu + n1, ldu, B + n1 * ldb, ldb);
    return;
  }
  lower_solve_rows(n, U, 1, ldu, B, ldb, m);
}

// Unblocked row-oriented Cholesky (lower): row j of L from the rows above it, all by dot products
// along contiguous rows.
void potf2_lower(size_t n, double* A, size_t lda, size_t off) {
  for (size_t j = 0; j < n; ++j) {
    double* rj = A + j * lda;
    for (size_t c = 0; c < j; ++c) rj[c] = (rj[c] - dot(rj, A + c * lda, c)) / A[c * lda + c];
    const double d = rj[j] - dot(rj, rj, j);
    if (!(d > 0)) throw_not_spd(off + j + 1);
    rj[j] = std::sqrt(d);
  }
}

// Unblocked right-looking Cholesky (upper, A = UᵀU): scale row j, then update the trailing rows.
void potf2_upper(size_t n, double* A, size_t lda, size_t off) {
  for (size_t j = 0; j < n; ++j) {
    double* rj = A + j * lda;
    const double d = rj[j];
    if (!(d > 0)) throw_not_spd(off + j + 1);
    const double u = std::sqrt(d);
    rj[j] = u;
    for (size_t c = j + 1; c < n; ++c) rj[c] /= u;
    for (size_t r = j + 1; r < n; ++r) axpy(n - r, -rj[r], rj + r, A + r * lda + r);
  }
}

void potrf_lower_rec(size_t n, double* A, size_t lda, size_t off) {
  if (n <= kPotrfLeaf) {
    potf2_lower(n, A, lda, off);
    return;
  }
  const size_t n1 = split_half(n), n2 = n - n1;
  double* A21 = A + n1 * lda;
  double* A22 = A21 + n1;
  potrf_lower_rec(n1, A, lda, off);
  trsm_right_lower_t(n2, n1, A, lda, A21, lda);
  gemm_impl<double>(Trans::No, Trans::Yes, n2, n2, n1, -1.0, A21, lda, A21, lda, 1.0, A22, lda,
                    Tri::Lower);
  potrf_lower_rec(n2, A22, lda, off + n1);
}

void potrf_upper_rec(size_t n, double* A, size_t lda, size_t off) {
  if (n <= kPotrfLeaf) {
    potf2_upper(n, A, lda, off);
    return;
  }
  const size_t n1 = split_half(n), n2 = n - n1;
  double* A12 = A + n1;
  double* A22 = A + n1 * lda + n1;
  potrf_upper_rec(n1, A, lda, off);
  trsm_left_upper_t(n1, n2, A, lda, A12, lda);
  gemm_impl<double>(Trans::Yes, Trans::No, n2, n2, n1, -1.0, A12, lda, A12, lda, 1.0, A22, lda,
                    Tri::Upper);
  potrf_upper_rec(n2, A22, lda, off + n1);
}

// ---- symmetric eigensolver ---------------------------------------------------------------------
// The reduction works on the lower triangle in row-major memory, which is the upper triangle of
// the same matrix viewed column-major; in that view "column c" is memory row c (contiguous), so
// every reflector and every level-2 operation below runs along contiguous rows. Reflector j
// (j = 0..n-2) acts on indices 0..j, has v[j] = 1 and v[0..j-1] stored in memory row j+1.

constexpr double kEps = std::numeric_limits<double>::epsilon() * 0.5;  // unit roundoff
constexpr double kSafMin = std::numeric_limits<double>::min();

// 2-norm without overflow or harmful underflow.
double nrm2(const double* x, size_t n) {
  const double ss = dot(x, x, n);
  if (ss > 1e-280 && ss < 1e280) return std::sqrt(ss);
  double scale = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(x[i]));
  if (scale == 0 || !std::isfinite(scale)) return scale;
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = x[i] / scale;
    s += t * t;
  }
  return scale * std::sqrt(s);
}

// Householder reflector H = I - tau·v·vᵀ mapping (x, alpha) to (0, beta): v is 1 at alpha's
// position and x' elsewhere (x' overwrites x). Returns tau; alpha becomes beta.
double make_reflector(size_t len, double& alpha, double* x) {
  if (len <= 1) return 0;
  double xnorm = nrm2(x, len - 1);
  if (xnorm == 0) return 0;
  double beta = -std::copysign(std::hypot(alpha, xnorm), alpha);
  const double small = kSafMin / kEps;
  int rescaled = 0;
  // Tiny beta: scale up so 1/(alpha - beta) below stays representable.
  while (std::fabs(beta) < small && rescaled < 20) {
    ++rescaled;
    for (size_t i = 0; i + 1 < len; ++i) x[i] *= 1 / small;
    beta *= 1 / small;
    alpha *= 1 / small;
  }
  if (rescaled) {
    xnorm = nrm2(x, len - 1);
    beta = -std::copysign(std::hypot(alpha, xnorm), alpha);
  }
  const double tau = (beta - alpha) / beta;
  const double s = 1 / (alpha - beta);
  for (size_t i = 0; i + 1 < len; ++i) x[i] *= s;
  for (int r = 0; r < rescaled; ++r) beta *= small;
  alpha = beta;
  return tau;
}

// y = S·x for the symmetric S (n×n) held in the lower triangle of row-major memory. One pass over
// the triangle: row r contributes a dot product to y[r] and an axpy to y[0..r-1]. The rows are
// cut into a fixed number of chunks of equal area (independent of the thread count, so the
// summation order is too); each chunk accumulates its axpys privately, summed in chunk order.
class Symv {
 public:
  void operator()(size_t n, const double* S, size_t lds, const double* x, double* y) {
    const size_t K = n >= 384 ? 8 : 1;
    if (K == 1) {
      std::fill(y, y + n, 0.0);
      rows(0, n, S, lds, x, y, y);
      return;
    }
    part_.resize(K * n);
    size_t bnd[9];
    for (size_t k = 0; k <= K; ++k) bnd[k] = size_t(std::lround(double(n) * std::sqrt(double(k) / K)));
    bnd[K] = n;
    const int nt = threads_for(0.5 * double(n) * double(n));
    (void)nt;  // only read by OpenMP pragmas
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
    for (size_t k = 0; k < K; ++k) {
      double* yp = part_.data() + k * n;
      std::fill(yp, yp + bnd[k + 1], 0.0);
      rows(bnd[k], bnd[k + 1], S, lds, x, yp, yp);
    }
    for (size_t c = 0; c < n; ++c) {
      double s = 0;
      for (size_t k = 0; k < K; ++k)
        if (c < bnd[k + 1]) s += part_[k * n + c];
      y[c] = s;
    }
  }

 private:
  // Rows [r0, r1): ydot[r] += S[r][0..r]·x, yax[0..r-1] += x[r]·S[r][0..r-1].
  static void rows(size_t r0, size_t r1, const double* S, size_t lds, const double* SL_RESTRICT x,
                   double* ydot, double* yax) {
    for (size_t r = r0; r < r1; ++r) {
      const double* SL_RESTRICT row = S + r * lds;
      const double xr = x[r];
      size_t c = 0;
      double s = 0;
#if SL_VEC
      const vdouble xv = vsplat<vdouble>(xr);
      vdouble a0 = {}, a1 = {};
      for (; c + 2 * kVD <= r; c += 2 * kVD) {
        const vdouble s0 = vload<vdouble>(row + c), s1 = vload<vdouble>(row + c + kVD);
        a0 += s0 * vload<vdouble>(x + c);
        a1 += s1 * vload<vdouble>(x + c + kVD);
        vstore(yax + c, vload<vdouble>(yax + c) + xv * s0);
        vstore(yax + c + kVD, vload<vdouble>(yax + c + kVD) + xv * s1);
      }
      s = vsum(a0 + a1);
#endif
      for (; c < r; ++c) {
        s += row[c] * x[c];
        yax[c] += xr * row[c];
      }
      ydot[r] += s + row[r] * xr;
    }
  }
  std::vector<double> part_;
};

constexpr size_t kTrdBlock = 32;   // panel width of the blocked reduction
constexpr size_t kTrdCross = 128;  // below this order the reduction is unblocked

// Reduces the last nb columns (column-major view) of the leading nn×nn block, accumulating
// W (stored transposed: Wt row iw = column iw of W) so the rest of the block can then be updated
// by a rank-2nb update A -= V·Wᵀ + W·Vᵀ.
void reduce_panel(size_t nn, size_t nb, double* A, size_t lda, double* d, double* e, double* tau,
                  double* Wt, size_t ldw, Symv& symv, std::vector<double>& t12) {
  const size_t c0 = nn - nb;
  t12.resize(2 * nb);
  for (size_t i = nn; i-- > c0;) {
    const size_t iw = i - c0;
    double* ai = A + i * lda;
    // Bring column i up to date with the reflectors already taken in this panel.
    for (size_t c = i + 1; c < nn; ++c) {
      const size_t iwc = c - c0;
      const double* ac = A + c * lda;
      const double* wc = Wt + iwc * ldw;
      const double w1 = wc[i], a2 = ac[i];
      for (size_t r = 0; r <= i; ++r) ai[r] -= w1 * ac[r] + a2 * wc[r];
    }
    d[i] = ai[i];
    if (i == 0) continue;
    double alpha = ai[i - 1];
    const double t = make_reflector(i, alpha, ai);
    e[i - 1] = alpha;
    tau[i - 1] = t;
    ai[i - 1] = 1;
    double* wi = Wt + iw * ldw;
    symv(i, A, lda, ai, wi);
    const size_t nrest = nn - 1 - i;
    if (nrest > 0) {
      double* t1 = t12.data();
      double* t2 = t1 + nb;
      for (size_t c = i + 1; c < nn; ++c) {
        t1[c - i - 1] = dot(Wt + (c - c0) * ldw, ai, i);
        t2[c - i - 1] = dot(A + c * lda, ai, i);
      }
      for (size_t c = i + 1; c < nn; ++c) {
        axpy(i, -t1[c - i - 1], A + c * lda, wi);
        axpy(i, -t2[c - i - 1], Wt + (c - c0) * ldw, wi);
      }
    }
    for (size_t r = 0; r < i; ++r) wi[r] *= t;
    const double a = -0.5 * t * dot(wi, ai, i);
    axpy(i, a, ai, wi);
  }
}

// Householder tridiagonalisation of the symmetric matrix in A's lower triangle: d (n) diagonal,
// e (n-1) off-diagonal, tau (n-1) and the reflector vectors left in A (see above).
void tridiagonalize(size_t n, double* A, size_t lda, double* d, double* e, double* tau) {
  Symv symv;
  size_t nn = n;
  if (n > kTrdCross) {
    std::vector<double> Wt(kTrdBlock * n), t12;
    const size_t ldw = n;
    while (nn > kTrdCross) {
      const size_t nb = kTrdBlock, c0 = nn - nb;
      reduce_panel(nn, nb, A, lda, d, e, tau, Wt.data(), ldw, symv, t12);
      // Leading c0×c0 block -= V·Wᵀ + W·Vᵀ, lower triangle only (Vᵀ are memory rows c0..nn-1).
      gemm_impl<double>(Trans::Yes, Trans::No, c0, c0, nb, -1.0, A + c0 * lda, lda, Wt.data(), ldw,
                        1.0, A, lda, Tri::Lower);
      gemm_impl<double>(Trans::Yes, Trans::No, c0, c0, nb, -1.0, Wt.data(), ldw, A + c0 * lda, lda,
                        1.0, A, lda, Tri::Lower);
      nn = c0;
    }
  }
  std::vector<double> w(nn);
  for (size_t i = nn; i-- > 1;) {
    double* ai = A + i * lda;
    double alpha = ai[i - 1];
    const double t = make_reflector(i, alpha, ai);
    e[i - 1] = alpha;
    tau[i - 1] = t;
    if (t != 0) {
      ai[i - 1] = 1;
      symv(i, A, lda, ai, w.data());
      for (size_t r = 0; r < i; ++r) w[r] *= t;
      const double a = -0.5 * t * dot(w.data(), ai, i);
      axpy(i, a, ai, w.data());
      for (size_t r = 0; r < i; ++r) {
        double* row = A + r * lda;
        const double vr = ai[r], wr = w[r];
        for (size_t c = 0; c <= r; ++c) row[c] -= vr * w[c] + wr * ai[c];
      }
      ai[i - 1] = alpha;
    }
    d[i] = ai[i];
  }
  d[0] = A[0];
}

// Plane rotations recorded by the QL/QR sweeps and applied later to the rows of Zt, a batch of
// sweeps at a time. Rotation j acts on rows j, j+1:
//   row j+1 <- c·row j+1 - s·row j,   row j <- s·row j+1 + c·row j.
// Applying sweep after sweep would stream all of Zt through the cache once per sweep. Instead each
// thread takes a strip of columns and runs the batch as a wavefront: sweep s handles rotation j
// at time u(j) + 2s (u = distance from the sweep's starting end), which respects every data
// dependency between consecutive sweeps, so a window of a few dozen time steps touches only
// about (window + 2·sweeps) rows of the strip, and those stay in L1.
class RotationBatch {
 public:
  RotationBatch(double* Zt, size_t ldz, size_t n) : Zt_(Zt), ldz_(ldz) {}
  // Starts recording a sweep over rotations lo..hi-1; returns where to put its c and s values.
  std::pair<double*, double*> sweep(size_t lo, size_t hi, bool forward) {
    if (!sweeps_.empty() && (sweeps_.size() >= kMaxSweeps || forward != sweeps_[0].forward)) flush();
    const size_t len = hi - lo;
    sweeps_.push_back({lo, hi, cs_.size(), forward});
    cs_.resize(cs_.size() + len);
    sn_.resize(sn_.size() + len);
    return {cs_.data() + sweeps_.back().off, sn_.data() + sweeps_.back().off};
  }
  // Columns that the pending rotations may touch (eigenvectors of an unreduced block of T are
  // supported on that block).
  void columns(size_t lo, size_t hi) {
    if (!sweeps_.empty() && (lo != clo_ || hi != chi_)) flush();
    clo_ = lo;
    chi_ = hi;
  }
  void flush() {
    if (sweeps_.empty()) return;
    const size_t ncols = chi_ - clo_ + 1;
    const size_t nstrips = ceil_div(ncols, kStrip);
    const int nt = threads_for(double(cs_.size()) * double(ncols) * 2);
    (void)nt;  // only read by OpenMP pragmas
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && nstrips > 1)
#endif
    for (size_t st = 0; st < nstrips; ++st) {
      const size_t c0 = clo_ + st * kStrip, w = std::min(kStrip, chi_ + 1 - c0);
      if (w == kStrip)
        strip<kStrip>(c0, w);
      else
        strip<0>(c0, w);
    }
    sweeps_.clear();
    cs_.clear();
    sn_.clear();
  }

 private:
  static constexpr size_t kStrip = 16;      // columns per strip
  static constexpr size_t kWindow = 32;     // wavefront time steps per window
  static constexpr size_t kMaxSweeps = 48;  // sweeps per batch

  struct Sweep {
    size_t lo, hi, off;
    bool forward;
  };

  template <size_t WF>
  void strip(size_t c0, size_t w) {
    const bool forward = sweeps_[0].forward;
    size_t lo = sweeps_[0].lo, hi = sweeps_[0].hi;
    for (const Sweep& sw : sweeps_) {
      lo = std::min(lo, sw.lo);
      hi = std::max(hi, sw.hi);
    }
    // u: position of a rotation along its sweep's direction, from the end the sweeps start at.
    size_t tmax = 0;
    for (size_t s = 0; s < sweeps_.size(); ++s) {
      const Sweep& sw = sweeps_[s];
      tmax = std::max(tmax, (forward ? sw.hi - lo : hi - sw.lo) + 2 * s);
    }
    for (size_t t0 = 0; t0 < tmax; t0 += kWindow) {
      for (size_t s = 0; s < sweeps_.size(); ++s) {
        const Sweep& sw = sweeps_[s];
        const size_t ua = forward ? sw.lo - lo : hi - sw.hi;
        const size_t ub = forward ? sw.hi - lo : hi - sw.lo;
        const size_t u0 = std::max(ua, t0 > 2 * s ? t0 - 2 * s : 0);
        const size_t u1 = std::min(ub, t0 + kWindow > 2 * s ? t0 + kWindow - 2 * s : 0);
        if (u0 >= u1) continue;
        if (forward)
          segment<WF>(sw, lo + u0, lo + u1, c0, w);
        else
          segment<WF>(sw, hi - u1, hi - u0, c0, w);
      }
    }
  }

  // Rotations j in [jlo, jhi) of one sweep, in the sweep's order, on columns [c0, c0 + w). The
  // row shared by consecutive rotations is carried in registers.
  template <size_t WF>
  void segment(const Sweep& sw, size_t jlo, size_t jhi, size_t c0, size_t w) {
    const double* cs = cs_.data() + sw.off - sw.lo;
    const double* sn = sn_.data() + sw.off - sw.lo;
    // Locals, not members: the stores below go through memcpy, which may alias the members.
    double* const Zt = Zt_;
    const size_t ldz = ldz_;
#if SL_VEC
    if constexpr (WF > 0) {
      constexpr size_t NV = WF / kVD;
      vdouble carry[NV];
      if (!sw.forward) {
        const double* src = Zt + jhi * ldz + c0;
        for (size_t v = 0; v < NV; ++v) carry[v] = vload<vdouble>(src + v * kVD);
        for (size_t j = jhi; j-- > jlo;) {
          const double c = cs[j], s = sn[j];
          double* rj = Zt + j * ldz + c0;
          for (size_t v = 0; v < NV; ++v) {
            // x·s and x·c are off the carried dependency chain, leaving one FMA on it.
            const vdouble x = vload<vdouble>(rj + v * kVD), xs = x * s, xc = x * c;
            vstore(rj + ldz + v * kVD, carry[v] * c - xs);
            carry[v] = carry[v] * s + xc;
          }
        }
        double* dst = Zt + jlo * ldz + c0;
        for (size_t v = 0; v < NV; ++v) vstore(dst + v * kVD, carry[v]);
      } else {
        const double* src = Zt + jlo * ldz + c0;
        for (size_t v = 0; v < NV; ++v) carry[v] = vload<vdouble>(src + v * kVD);
        for (size_t j = jlo; j < jhi; ++j) {
          const double c = cs[j], s = sn[j];
          double* rj = Zt + j * ldz + c0;
          for (size_t v = 0; v < NV; ++v) {
            const vdouble x = vload<vdouble>(rj + ldz + v * kVD), xs = x * s, xc = x * c;
            vstore(rj + v * kVD, carry[v] * c + xs);
            carry[v] = xc - carry[v] * s;
          }
        }
        double* dst = Zt + jhi * ldz + c0;
        for (size_t v = 0; v < NV; ++v) vstore(dst + v * kVD, carry[v]);
      }
      return;
    }
#endif
    for (size_t q = 0; q < w; ++q) {
      double* z = Zt + c0 + q;
      if (!sw.forward) {
        double carry = z[jhi * ldz];
        for (size_t j = jhi; j-- > jlo;) {
          const double c = cs[j], s = sn[j], x = z[j * ldz];
          z[(j + 1) * ldz] = c * carry - s * x;
          carry = s * carry + c * x;
        }
        z[jlo * ldz] = carry;
      } else {
        double carry = z[jlo * ldz];
        for (size_t j = jlo; j < jhi; ++j) {
          const double c = cs[j], s = sn[j], x = z[(j + 1) * ldz];
          z[j * ldz] = s * x + c * carry;
          carry = c * x - s * carry;
        }
        z[jhi * ldz] = carry;
      }
    }
  }

  double* Zt_;
  size_t ldz_;
  size_t clo_ = 0, chi_ = 0;
  std::vector<Sweep> sweeps_;
  std::vector<double> cs_, sn_;
};

// Plane rotation with c·f + s·g = r, c·g - s·f = 0.
inline void rotg(double f, double g, double& c, double& s, double& r) {
  if (g == 0) {
    c = 1;
    s = 0;
    r = f;
  } else if (f == 0) {
    c = 0;
    s = 1;
    r = g;
  } else if (std::fabs(f) > std::fabs(g)) {
    const double t = g / f, u = std::sqrt(1 + t * t);
    c = 1 / u;
    s = t * c;
    r = f * u;
  } else {
    const double t = f / g, u = std::sqrt(1 + t * t);
    s = 1 / u;
    c = t * s;
    r = g * u;
  }
}

// Eigen-decomposition of [[a, b], [b, c]]: rt1 (larger magnitude), rt2, and (cs, sn) the unit
// eigenvector of rt1.
void eig2(double a, double b, double c, double& rt1, double& rt2, double& cs, double& sn) {
  const double sm = a + c, df = a - c, adf = std::fabs(df), tb = b + b, ab = std::fabs(tb);
  const double acmx = std::fabs(a) > std::fabs(c) ? a : c;
  const double acmn = std::fabs(a) > std::fabs(c) ? c : a;
  double rt;
  if (adf > ab)
    rt = adf * std::sqrt(1 + (ab / adf) * (ab / adf));
  else if (adf < ab)
    rt = ab * std::sqrt(1 + (adf / ab) * (adf / ab));
  else
    rt = ab * std::sqrt(2.0);
  int sgn1;
  if (sm < 0) {
    rt1 = 0.5 * (sm - rt);
    sgn1 = -1;
    rt2 = (acmx / rt1) * acmn - (b / rt1) * b;  // avoids cancellation in sm - rt1
  } else if (sm > 0) {
    rt1 = 0.5 * (sm + rt);
    sgn1 = 1;
    rt2 = (acmx / rt1) * acmn - (b / rt1) * b;
  } else {
    rt1 = 0.5 * rt;
    rt2 = -0.5 * rt;
    sgn1 = 1;
  }
  int sgn2;
  double cv;
  if (df >= 0) {
    cv = df + rt;
    sgn2 = 1;
  } else {
    cv = df - rt;
    sgn2 = -1;
  }
  if (std::fabs(cv) > ab) {
    const double ct = -tb / cv;
    sn = 1 / std::sqrt(1 + ct * ct);
    cs = ct * sn;
  } else if (ab == 0) {
    cs = 1;
    sn = 0;
  } else {
    const double tn = -cv / tb;
    cs = 1 / std::sqrt(1 + tn * tn);
    sn = tn * cs;
  }
  if (sgn1 == sgn2) {
    const double tn = cs;
    cs = -sn;
    sn = tn;
  }
}

// Implicit QL/QR with Wilkinson shifts on the tridiagonal (d, e). QL is used when the block's
// larger diagonal end is at the bottom, QR otherwise, so graded matrices converge from the right
// end. Rotations go to `rot` when eigenvectors are wanted. d is left unsorted.
void tridiagonal_ql(size_t n, double* d, double* e, RotationBatch* rot) {
  const double eps2 = kEps * kEps;
  const double ssfmax = std::sqrt(1 / kSafMin) / 3, ssfmin = std::sqrt(kSafMin) / eps2;
  const size_t maxit = 30 * n;
  size_t jtot = 0;
  auto fail = [] { throw NoConvergence("syevd: the eigensolver did not converge"); };
  size_t l1 = 0;
  while (l1 < n) {
    if (l1 > 0) e[l1 - 1] = 0;
    size_t m = l1;
    for (; m + 1 < n; ++m) {
      const double tst = std::fabs(e[m]);
      if (tst == 0) break;
      if (tst <= std::sqrt(std::fabs(d[m])) * std::sqrt(std::fabs(d[m + 1])) * kEps) {
        e[m] = 0;
        break;
      }
    }
    size_t l = l1;
    const size_t lsv = l, lendsv = m;
    size_t lend = m;
    l1 = m + 1;
    if (lend == l) continue;

    // Scale the block into a safe range for the shift computations.
    double anorm = 0;
    for (size_t i = lsv; i <= lendsv; ++i) anorm = std::max(anorm, std::fabs(d[i]));
    for (size_t i = lsv; i < lendsv; ++i) anorm = std::max(anorm, std::fabs(e[i]));
    if (anorm == 0) continue;
    double scale = 1;
    if (anorm > ssfmax) scale = ssfmax / anorm;
    if (anorm < ssfmin) scale = ssfmin / anorm;
    if (scale != 1) {
      for (size_t i = lsv; i <= lendsv; ++i) d[i] *= scale;
      for (size_t i = lsv; i < lendsv; ++i) e[i] *= scale;
    }
    if (rot) rot->columns(lsv, lendsv);
    if (std::fabs(d[lend]) < std::fabs(d[l])) std::swap(l, lend);

    if (lend > l) {
      // QL: deflate from the top (l upwards).
      for (;;) {
        size_t mm = lend;
        if (l != lend)
          for (mm = l; mm < lend; ++mm) {
            const double t = std::fabs(e[mm]);
            if (t * t <= (eps2 * std::fabs(d[mm])) * std::fabs(d[mm + 1]) + kSafMin) break;
          }
        m = mm;
        if (m < lend) e[m] = 0;
        double p = d[l];
        if (m == l) {
          if (++l > lend) break;
          continue;
        }
        if (m == l + 1) {
          double rt1, rt2, c, s;
          eig2(d[l], e[l], d[l + 1], rt1, rt2, c, s);
          if (rot) {
            auto cs = rot->sweep(l, l + 1, false);
            cs.first[0] = c;
            cs.second[0] = s;
          }
          d[l] = rt1;
          d[l + 1] = rt2;
          e[l] = 0;
          l += 2;
          if (l > lend) break;
          continue;
        }
        if (jtot == maxit) fail();
        ++jtot;
        double g = (d[l + 1] - p) / (2 * e[l]);
        double r = std::hypot(g, 1.0);
        g = d[m] - p + (e[l] / (g + std::copysign(r, g)));
        double s = 1, c = 1;
        p = 0;
        double *rc = nullptr, *rs = nullptr;
        if (rot) std::tie(rc, rs) = rot->sweep(l, m, false);
        for (size_t i = m; i-- > l;) {
          const double f = s * e[i], b = c * e[i];
          rotg(g, f, c, s, r);
          if (i != m - 1) e[i + 1] = r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
          if (rot) {
            rc[i - l] = c;
            rs[i - l] = -s;
          }
        }
        d[l] -= p;
        e[l] = g;
      }
    } else {
      // QR: deflate from the bottom (l downwards).
      for (;;) {
        size_t mm = lend;
        if (l != lend)
          for (mm = l; mm > lend; --mm) {
            const double t = std::fabs(e[mm - 1]);
            if (t * t <= (eps2 * std::fabs(d[mm])) * std::fabs(d[mm - 1]) + kSafMin) break;
          }
        m = mm;
        if (m > lend) e[m - 1] = 0;
        double p = d[l];
        if (m == l) {
          if (l == lend) break;
          --l;
          continue;
        }
        if (m + 1 == l) {
          double rt1, rt2, c, s;
          eig2(d[l - 1], e[l - 1], d[l], rt1, rt2, c, s);
          if (rot) {
            auto cs = rot->sweep(l - 1, l, true);
            cs.first[0] = c;
            cs.second[0] = s;
          }
          d[l - 1] = rt1;
          d[l] = rt2;
          e[l - 1] = 0;
          if (l < lend + 2) break;
          l -= 2;
          continue;
        }
        if (jtot == maxit) fail();
        ++jtot;
        double g = (d[l - 1] - p) / (2 * e[l - 1]);
        double r = std::hypot(g, 1.0);
        g = d[m] - p + (e[l - 1] / (g + std::copysign(r, g)));
        double s = 1, c = 1;
        p = 0;
        double *rc = nullptr, *rs = nullptr;
        if (rot) std::tie(rc, rs) = rot->sweep(m, l, true);
        for (size_t i = m; i < l; ++i) {
          const double f = s * e[i], b = c * e[i];
          rotg(g, f, c, s, r);
          if (i != m) e[i - 1] = r;
          g = d[i] - p;
          r = (d[i + 1] - g) * s + 2 * c * b;
          p = s * r;
          d[i] = g + p;
          g = c * r - b;
          if (rot) {
            rc[i - m] = c;
            rs[i - m] = s;
          }
        }
        d[l] -= p;
        e[l - 1] = g;
      }
    }
    if (scale != 1) {
      for (size_t i = lsv; i <= lendsv; ++i) d[i] /= scale;
      for (size_t i = lsv; i < lendsv; ++i) e[i] /= scale;
    }
  }
  if (rot) rot->flush();
}

// ---- divide and conquer on the tridiagonal --------------------------------------------------
// T = diag(T1, T2) + β·(e_a e_bᵀ + e_b e_aᵀ) (a, b the two middle indices) is rewritten as
// diag(T1', T2') + ρ·v·vᵀ with ρ = |β|, v = e_a + sign(β)·e_b and T1', T2' having ρ taken off
// their touching diagonal entries. With T1' = Q1·D1·Q1ᵀ and T2' = Q2·D2·Q2ᵀ solved recursively,
// T = Q̂·(D + ρ·z·zᵀ)·Q̂ᵀ, Q̂ = diag(Q1, Q2), z = Q̂ᵀ·v, and the eigenvectors of the rank-one
// update come from the secular equation. Eigenvectors are columns of Z (row-major, ld ldz).

// Root j of 1/rho + Σ z_i²/(d_i − λ) = 0, for ascending distinct d, nonzero z, rho > 0. Root j
// lies in (d_j, d_{j+1}) (the last one in (d_{K-1}, d_{K-1} + rho·zᵀz)). The iteration runs on
// τ = λ − d_org, org the pole nearer to the root, and returns delta[i] = d_i − λ computed as
// (d_i − d_org) − τ: differences accurate to working precision, which is what makes the
// eigenvectors below orthogonal.
double secular_root(size_t K, const double* d, const double* z, double rho, size_t j, double* delta) {
  const double invrho = 1 / rho;
  size_t org;
  double lo, hi;
  if (j + 1 < K) {
    const double h = 0.5 * (d[j + 1] - d[j]);
    double g = invrho;
    for (size_t i = 0; i < K; ++i) g += z[i] * z[i] / ((d[i] - d[j]) - h);
    if (g >= 0) {
      org = j;
      lo = 0;
      hi = h;
    } else {
      org = j + 1;
      lo = -h;
      hi = 0;
    }
  } else {
    org = j;
    lo = 0;
    hi = rho * dot(z, z, K);
  }
  double* dk = delta;
  for (size_t i = 0; i < K; ++i) dk[i] = d[i] - d[org];
  double tau = 0.5 * (lo + hi);
  for (int it = 0; it < 300; ++it) {
    double psi = 0, dpsi = 0, phi = 0, dphi = 0;
    for (size_t i = 0; i <= j; ++i) {
      const double t = z[i] / (dk[i] - tau);
      psi += z[i] * t;
      dpsi += t * t;
    }
    for (size_t i = j + 1; i < K; ++i) {
      const double t = z[i] / (dk[i] - tau);
      phi += z[i] * t;
      dphi += t * t;
    }
    const double g = invrho + psi + phi;
    const double err = 8 * (invrho + phi - psi) + std::fabs(tau) * (dpsi + dphi);
    if (std::fabs(g) <= kEps * err) break;
    if (g < 0)
      lo = tau;
    else
      hi = tau;
    // Model: psi ≈ a1 + b1/(p − x), phi ≈ a2 + b2/(q − x) matching value and slope at tau, with
    // p, q the poles bounding the root; the model's root is the next iterate.
    double cand = std::numeric_limits<double>::quiet_NaN();
    const double p = dk[j], dp = p - tau;
    const double b1 = dpsi * dp * dp, a1 = psi - dpsi * dp;
    if (j + 1 < K) {
      const double q = dk[j + 1], dq = q - tau;
      const double b2 = dphi * dq * dq, a2 = phi - dphi * dq;
      const double C = invrho + a1 + a2;
      const double B = C * (p + q) + b1 + b2, Cc = C * p * q + b1 * q + b2 * p;
      if (C == 0) {
        cand = Cc / B;
      } else {
        const double disc = B * B - 4 * C * Cc;
        if (disc >= 0) {
          const double den = B + std::copysign(std::sqrt(disc), B);
          const double x1 = den / (2 * C), x2 = den != 0 ? 2 * Cc / den : x1;
          cand = (x2 > lo && x2 < hi) ? x2 : x1;
        }
      }
    } else {
      const double den = invrho + a1;
      if (den > 0) cand = p + b1 / den;
    }
    // Safeguard: bisect when the model leaves the bracket or converges too slowly.
    if (!(cand > lo && cand < hi) || it >= 40) cand = 0.5 * (lo + hi);
    if (cand == tau || hi - lo <= 4 * kEps * std::max(std::fabs(lo), std::fabs(hi))) {
      tau = cand;
      break;
    }
    tau = cand;
  }
  for (size_t i = 0; i < K; ++i) delta[i] = dk[i] - tau;
  return d[org] + tau;
}

class DivideConquer {
 public:
  DivideConquer(size_t n, double* d, double* e, double* Z, size_t ldz)
      : n_(n), d_(d), e_(e), Z_(Z), ldz_(ldz) {}

  void run() {
    for (size_t i = 0; i < n_; ++i)
      for (size_t j = 0; j < n_; ++j) Z_[i * ldz_ + j] = 0;
    solve(0, n_);
  }

  static constexpr size_t kLeaf = 48;

 private:
  void solve(size_t off, size_t m) {
    if (m <= kLeaf) {
      leaf(off, m);
      return;
    }
    const size_t n1 = m / 2;
    const double beta = e_[off + n1 - 1];
    const double rho = std::fabs(beta);
    d_[off + n1 - 1] -= rho;
    d_[off + n1] -= rho;
    solve(off, n1);
    solve(off + n1, m - n1);
    merge(off, m, n1, beta);
  }

  void leaf(size_t off, size_t m) {
    std::vector<double> zt(m * m, 0.0);
    for (size_t i = 0; i < m; ++i) zt[i * m + i] = 1;
    RotationBatch rot(zt.data(), m, m);
    tridiagonal_ql(m, d_ + off, e_ + off, &rot);
    for (size_t i = 0; i < m; ++i)
      for (size_t k = 0; k < m; ++k) Z_[(off + i) * ldz_ + off + k] = zt[k * m + i];
  }

  void merge(size_t off, size_t m, size_t n1, double beta) {
    double* Zb = Z_ + off * ldz_ + off;
    double* d = d_ + off;
    double rho = std::fabs(beta);
    const double sigma = beta < 0 ? -1.0 : 1.0;
    // z = Q̂ᵀ·v: last row of Q1 and ±first row of Q2 (zeros elsewhere in those rows), scaled to
    // unit norm (each row of an orthogonal matrix has norm 1).
    std::vector<double> z(m);
    const double r2 = std::sqrt(0.5);
    for (size_t c = 0; c < m; ++c)
      z[c] = (Zb[(n1 - 1) * ldz_ + c] + sigma * Zb[n1 * ldz_ + c]) * r2;
    rho *= 2;

    std::vector<size_t> order(m);
    for (size_t i = 0; i < m; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d[a] < d[b]; });
    double dmax = 0, zmax = 0;
    for (size_t i = 0; i < m; ++i) {
      dmax = std::max(dmax, std::fabs(d[i]));
      zmax = std::max(zmax, std::fabs(z[i]));
    }
    const double tol = 8 * kEps * std::max(dmax, zmax);
    if (rho * zmax <= tol) return;  // the coupling is negligible: Q̂ and d already diagonalise T

    // Deflation: a negligible z component leaves (d_i, column i) as an eigenpair; two nearly
    // equal d are rotated so one of them gets a zero z component and deflates.
    std::vector<size_t> kept, defl;
    kept.reserve(m);
    // Row support of each column of Q̂: top block only, bottom only, or both (after a rotation
    // across the halves). The final product skips the zero blocks.
    enum : unsigned char { kTop = 1, kBottom = 2, kBoth = 3 };
    std::vector<unsigned char> support(m);
    for (size_t c = 0; c < m; ++c) support[c] = c < n1 ? kTop : kBottom;
    size_t pj = m;
    for (size_t idx : order) {
      if (rho * std::fabs(z[idx]) <= tol) {
        defl.push_back(idx);
        continue;
      }
      if (pj == m) {
        pj = idx;
        continue;
      }
      double s = z[pj], c = z[idx];
      const double tau = std::hypot(c, s), t = d[idx] - d[pj];
      c /= tau;
      s = -s / tau;
      if (std::fabs(t * c * s) <= tol) {
        z[idx] = tau;
        z[pj] = 0;
        for (size_t r = 0; r < m; ++r) {
          double* row = Zb + r * ldz_;
          const double x = row[pj], y = row[idx];
          row[pj] = c * x + s * y;
          row[idx] = c * y - s * x;
        }
        support[pj] = support[idx] = static_cast<unsigned char>(support[pj] | support[idx]);
        const double dp = d[pj] * c * c + d[idx] * s * s;
        d[idx] = d[pj] * s * s + d[idx] * c * c;
        d[pj] = dp;
        defl.push_back(pj);
        pj = idx;
      } else {
        kept.push_back(pj);
        pj = idx;
      }
    }
    if (pj != m) kept.push_back(pj);
    const size_t K = kept.size();
    if (K == 0) return;

    std::vector<double> dl(K), zl(K), lam(K), U(K * K), zhat(K, 1.0);
    for (size_t k = 0; k < K; ++k) {
      dl[k] = d[kept[k]];
      zl[k] = z[kept[k]];
    }
    const int nt = threads_for(20.0 * double(K) * double(K));
    (void)nt;  // only read by OpenMP pragmas
#if defined(_OPENMP)
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
      // Row j of U: deltas d_i − λ_j of root j, then its eigenvector.
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 16)
#endif
      for (size_t j = 0; j < K; ++j) lam[j] = secular_root(K, dl.data(), zl.data(), rho, j, U.data() + j * K);
      // Recompute z from the computed roots (Löwner): D + ρ·ẑ·ẑᵀ has exactly these roots, so the
      // vectors ẑ_i/(d_i − λ_j) are orthogonal to working precision.
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
      for (size_t i = 0; i < K; ++i) {
        double w = U[i * K + i];
        for (size_t j = 0; j < K; ++j)
          if (j != i) w *= U[j * K + i] / (dl[i] - dl[j]);
        zhat[i] = std::copysign(std::sqrt(std::max(0.0, -w)), zl[i]);
      }
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
      for (size_t j = 0; j < K; ++j) {
        double* u = U.data() + j * K;
        for (size_t i = 0; i < K; ++i) u[i] = zhat[i] / u[i];
        const double inv = 1 / nrm2(u, K);
        for (size_t i = 0; i < K; ++i) u[i] *= inv;
      }
    }

    // New eigenvectors: Q̂(:, kept)·Uᵀ into the first K columns of the block, deflated columns
    // after them. The top rows only involve columns supported there, likewise the bottom rows.
    const size_t nd = defl.size();
    std::vector<double> Qd(m * nd), dd(nd);
    for (size_t r = 0; r < m; ++r)
      for (size_t c = 0; c < nd; ++c) Qd[r * nd + c] = Zb[r * ldz_ + defl[c]];
    for (size_t c = 0; c < nd; ++c) dd[c] = d[defl[c]];
    std::vector<double> Qh, Uh;
    for (int half = 0; half < 2; ++half) {
      const unsigned char bit = half == 0 ? kTop : kBottom;
      const size_t r0 = half == 0 ? 0 : n1, rows = half == 0 ? n1 : m - n1;
      std::vector<size_t> cols;
      for (size_t k = 0; k < K; ++k)
        if (support[kept[k]] & bit) cols.push_back(k);
      const size_t kh = cols.size();
      Qh.resize(rows * kh);
      Uh.resize(K * kh);
      for (size_t r = 0; r < rows; ++r)
        for (size_t t = 0; t < kh; ++t) Qh[r * kh + t] = Zb[(r0 + r) * ldz_ + kept[cols[t]]];
      for (size_t j = 0; j < K; ++j)
        for (size_t t = 0; t < kh; ++t) Uh[j * kh + t] = U[j * K + cols[t]];
      gemm_impl<double>(Trans::No, Trans::Yes, rows, K, kh, 1.0, Qh.data(), kh, Uh.data(), kh, 0.0,
                        Zb + r0 * ldz_, ldz_, Tri::None);
    }
    for (size_t r = 0; r < m; ++r)
      for (size_t c = 0; c < nd; ++c) Zb[r * ldz_ + K + c] = Qd[r * nd + c];
    for (size_t k = 0; k < K; ++k) d[k] = lam[k];
    for (size_t c = 0; c < nd; ++c) d[K + c] = dd[c];
  }

  size_t n_;
  double* d_;
  double* e_;
  double* Z_;
  size_t ldz_;
};

// Z := Q·Z with Q = H(n-2)···H(0), a block of reflectors at a time in compact WY form: for
// F = H(j0)···H(j1) = I − V·T·Vᵀ (T upper triangular), Q contains Fᵀ, and
// Fᵀ·Z = Z − V·(Tᵀ·(Vᵀ·Z)) is three gemms.
void back_transform(size_t n, const double* A, size_t lda, const double* tau, double* Z, size_t ldz) {
  constexpr size_t NB = 64;
  const size_t nref = n - 1;
  std::vector<double> Vt(NB * n), T(NB * NB), W1(NB * n), W2(NB * n), tmp(NB);
  for (size_t j0 = 0; j0 < nref; j0 += NB) {
    const size_t kb = std::min(NB, nref - j0), len = j0 + kb;  // reflectors j0..j0+kb-1
    for (size_t q = 0; q < kb; ++q) {
      const size_t j = j0 + q;
      double* v = Vt.data() + q * len;
      std::memcpy(v, A + (j + 1) * lda, j * sizeof(double));
      v[j] = 1;
      std::fill(v + j + 1, v + len, 0.0);
    }
    std::fill(T.begin(), T.end(), 0.0);
    for (size_t q = 0; q < kb; ++q) {
      const double tq = tau[j0 + q];
      const double* vq = Vt.data() + q * len;
      for (size_t p = 0; p < q; ++p) tmp[p] = dot(Vt.data() + p * len, vq, j0 + q + 1);
      for (size_t r = 0; r < q; ++r) {
        double s = 0;
        for (size_t p = r; p < q; ++p) s += T[r * NB + p] * tmp[p];
        T[r * NB + q] = -tq * s;
      }
      T[q * NB + q] = tq;
    }
    gemm_impl<double>(Trans::No, Trans::No, kb, n, len, 1.0, Vt.data(), len, Z, ldz, 0.0, W1.data(),
                      n, Tri::None);
    gemm_impl<double>(Trans::Yes, Trans::No, kb, n, kb, 1.0, T.data(), NB, W1.data(), n, 0.0,
                      W2.data(), n, Tri::None);
    gemm_impl<double>(Trans::Yes, Trans::No, len, n, kb, -1.0, Vt.data(), len, W2.data(), n, 1.0, Z,
                      ldz, Tri::None);
  }
}

constexpr size_t kDcMin = 96;  // below this order the tridiagonal is solved by QL alone

void syevd_impl(size_t n, double* A, size_t lda, double* w, bool vectors) {
  if (n == 0) return;
  double anrm = 0;
  bool finite = true;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j <= i; ++j) {
      const double v = A[i * lda + j];
      finite = finite && std::isfinite(v);
      anrm = std::max(anrm, std::fabs(v));
    }
  if (!finite) throw InvalidArgument("syevd: the matrix contains NaN or infinite entries");
  if (n == 1) {
    w[0] = A[0];
    if (vectors) A[0] = 1;
    return;
  }
  auto set_identity = [&] {
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) A[i * lda + j] = i == j ? 1.0 : 0.0;
  };
  if (anrm == 0) {
    std::fill(w, w + n, 0.0);
    if (vectors) set_identity();
    return;
  }
  // Keep the norm away from overflow/underflow thresholds; undone on the eigenvalues.
  const double smlnum = kSafMin / kEps, rmin = std::sqrt(smlnum), rmax = std::sqrt(1 / smlnum);
  double sigma = 1;
  if (anrm < rmin) sigma = rmin / anrm;
  if (anrm > rmax) sigma = rmax / anrm;
  if (sigma != 1)
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j <= i; ++j) A[i * lda + j] *= sigma;

  std::vector<double> d(n), e(n - 1), tau(n - 1);
  tridiagonalize(n, A, lda, d.data(), e.data(), tau.data());

  std::vector<double> Z;
  if (vectors) {
    Z.assign(n * n, 0.0);
    if (n < kDcMin) {
      std::vector<double> Zt(n * n, 0.0);
      for (size_t i = 0; i < n; ++i) Zt[i * n + i] = 1;
      RotationBatch rot(Zt.data(), n, n);
      tridiagonal_ql(n, d.data(), e.data(), &rot);
      for (size_t i = 0; i < n; ++i)
        for (size_t k = 0; k < n; ++k) Z[i * n + k] = Zt[k * n + i];
    } else {
      // The tridiagonal is scaled to unit max-norm for the deflation tolerances.
      double tn = 0;
      for (size_t i = 0; i < n; ++i) tn = std::max(tn, std::fabs(d[i]));
      for (size_t i = 0; i + 1 < n; ++i) tn = std::max(tn, std::fabs(e[i]));
      if (tn > 0) {
        for (size_t i = 0; i < n; ++i) d[i] /= tn;
        for (size_t i = 0; i + 1 < n; ++i) e[i] /= tn;
      }
      DivideConquer(n, d.data(), e.data(), Z.data(), n).run();
      if (tn > 0)
        for (size_t i = 0; i < n; ++i) d[i] *= tn;
    }
    back_transform(n, A, lda, tau.data(), Z.data(), n);
  } else {
    tridiagonal_ql(n, d.data(), e.data(), nullptr);
  }

  std::vector<size_t> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = i;
  std::stable_sort(perm.begin(), perm.end(), [&](size_t a, size_t b) { return d[a] < d[b]; });
  for (size_t j = 0; j < n; ++j) w[j] = sigma == 1 ? d[perm[j]] : d[perm[j]] / sigma;
  if (vectors)
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) A[i * lda + j] = Z[i * n + perm[j]];
}

}  // namespace

void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta,
          double* C, std::size_t ldc) {
  gemm_impl<double>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, Tri::None);
}

void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc) {
  gemm_impl<float>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, Tri::None);
}

void syrk(Uplo uplo, Trans trans, std::size_t n, std::size_t k, double alpha, const double* A,
          std::size_t lda, double beta, double* C, std::size_t ldc) {
  const Tri tri = uplo == Uplo::Lower ? Tri::Lower : Tri::Upper;
  if (trans == Trans::No)
    gemm_impl<double>(Trans::No, Trans::Yes, n, n, k, alpha, A, lda, A, lda, beta, C, ldc, tri);
  else
    gemm_impl<double>(Trans::Yes, Trans::No, n, n, k, alpha, A, lda, A, lda, beta, C, ldc, tri);
}

// Reference route through the gemm driver: a zero-padded copy of L, one gemm into a temporary.
// Same result contract as BLAS trmm; the flop saving is left to the BLAS backend.
void trmm_lower_left(Trans tl, std::size_t n, std::size_t m, double alpha, const double* L, std::size_t ldl,
                     double* B, std::size_t ldb) {
  if (n == 0 || m == 0) return;
  std::vector<double> Lz(n * n, 0.0), T(n * m);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) Lz[i * n + j] = L[i * ldl + j];
  for (std::size_t i = 0; i < n; ++i) std::memcpy(T.data() + i * m, B + i * ldb, m * sizeof(double));
  builtin::gemm(tl, Trans::No, n, m, n, alpha, Lz.data(), n, T.data(), m, 0.0, B, ldb);
}

void potrf(Uplo uplo, std::size_t n, double* A, std::size_t lda) {
  if (n == 0) return;
  if (uplo == Uplo::Lower)
    potrf_lower_rec(n, A, lda, 0);
  else
    potrf_upper_rec(n, A, lda, 0);
}

void syevd(std::size_t n, double* A, std::size_t lda, double* w, bool vectors) {
  syevd_impl(n, A, lda, w, vectors);
}

}  // namespace speedlimits::linalg::builtin
