// Philox4x32-10 and the draws built on it. Compiled with -ffp-contract=off (see CMakeLists.txt)
// and written with explicit std::fma, which is correctly rounded everywhere (hardware FMA or
// libm), so the polynomial evaluations round identically on every machine.
#include "core/rng.hpp"

// Keep the no-contraction guarantee even when a build system forgets -ffp-contract=off.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/philox.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/threads.hpp"

namespace speedlimits::rng {

namespace {

using philox::kMul0;
using philox::kMul1;
using philox::kRounds;
using philox::kWeyl0;
using philox::kWeyl1;
// Blocks generated per inner batch: wide enough for 256/512-bit vectors, small enough for L1.
constexpr std::size_t kLanes = 32;
// Below this many draws the work is not split across threads.
constexpr std::size_t kParallelMin = std::size_t(1) << 16;

#if defined(__AVX2__)
// The ten rounds on G registers of 8 blocks (one block per 32-bit lane). _mm256_mul_epu32
// multiplies the even 32-bit lanes, so even and odd lanes are multiplied separately and the
// 64-bit products split back into hi/lo words. All G registers advance round by round together:
// the multiply latency of one is hidden behind the others (a single register is latency-bound).
template <std::size_t G>
__attribute__((always_inline)) inline void philox_rounds(__m256i* x0, __m256i* x1, __m256i* x2, __m256i* x3,
                                                         std::uint32_t k0, std::uint32_t k1) noexcept {
  const __m256i m0 = _mm256_set1_epi64x(kMul0), m1 = _mm256_set1_epi64x(kMul1);
  for (int r = 0; r < kRounds; ++r) {
    const __m256i rk0 = _mm256_set1_epi32(static_cast<int>(k0)), rk1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (std::size_t g = 0; g < G; ++g) {
      __m256i pe0 = _mm256_mul_epu32(x0[g], m0), po0 = _mm256_mul_epu32(_mm256_srli_epi64(x0[g], 32), m0);
      __m256i pe1 = _mm256_mul_epu32(x2[g], m1), po1 = _mm256_mul_epu32(_mm256_srli_epi64(x2[g], 32), m1);
      __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
      __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
      __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
      __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
      // hi ^ (x ^ key): the xor with the key stays off the multiply chain
      x0[g] = _mm256_xor_si256(hi1, _mm256_xor_si256(x1[g], rk0));
      x2[g] = _mm256_xor_si256(hi0, _mm256_xor_si256(x3[g], rk1));
      x1[g] = lo1;
      x3[g] = lo0;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
}
#endif

// Philox on kLanes consecutive blocks starting at block `first`. Written as independent lane
// loops over local arrays so the compiler vectorises the 32×32→64 multiplies.
inline void philox_lanes(std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                         std::uint32_t* __restrict o0, std::uint32_t* __restrict o1,
                         std::uint32_t* __restrict o2, std::uint32_t* __restrict o3) noexcept {
  std::uint32_t w0[kLanes], w1[kLanes], w2[kLanes], w3[kLanes];
  const std::uint32_t s_lo = static_cast<std::uint32_t>(stream), s_hi = static_cast<std::uint32_t>(stream >> 32);
  const std::uint32_t b_lo = static_cast<std::uint32_t>(first);
  for (std::size_t j = 0; j < kLanes; ++j) {
    std::uint64_t b = first + j;
    w0[j] = b_lo + static_cast<std::uint32_t>(j);
    w1[j] = static_cast<std::uint32_t>(b >> 32);
    w2[j] = s_lo;
    w3[j] = s_hi;
  }
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
#if defined(__AVX2__)
  static_assert(kLanes % 8 == 0, "kLanes must be a multiple of 8");
  constexpr std::size_t G = kLanes / 8;
  __m256i x0[G], x1[G], x2[G], x3[G];
  for (std::size_t g = 0; g < G; ++g) {
    x0[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + 8 * g));
    x1[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w1 + 8 * g));
    x2[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w2 + 8 * g));
    x3[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w3 + 8 * g));
  }
  philox_rounds<G>(x0, x1, x2, x3, k0, k1);
  for (std::size_t g = 0; g < G; ++g) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w0 + 8 * g), x0[g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w1 + 8 * g), x1[g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w2 + 8 * g), x2[g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w3 + 8 * g), x3[g]);
  }
#else
  for (int r = 0; r < kRounds; ++r) {
    for (std::size_t j = 0; j < kLanes; ++j) {
      std::uint64_t p0 = std::uint64_t(kMul0) * w0[j];
      std::uint64_t p1 = std::uint64_t(kMul1) * w2[j];
      std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ w1[j] ^ k0;
      std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ w3[j] ^ k1;
      w1[j] = static_cast<std::uint32_t>(p1);
      w3[j] = static_cast<std::uint32_t>(p0);
      w0[j] = n0;
      w2[j] = n2;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
#endif
  for (std::size_t j = 0; j < kLanes; ++j) {
    o0[j] = w0[j];
    o1[j] = w1[j];
    o2[j] = w2[j];
    o3[j] = w3[j];
  }
}

// 53 random bits from two words -> [0, 1): (hi >> 11)·2^32 + lo, scaled by 2^-53. Built from
// int32-range conversions, which vectorise on every SIMD ISA (unlike uint64 -> double).
__attribute__((always_inline)) inline double to_unit(std::uint32_t hi, std::uint32_t lo) noexcept {
  double h = static_cast<double>(static_cast<std::int32_t>(hi >> 11));
  double l = static_cast<double>(static_cast<std::int32_t>(lo >> 1)) * 2.0 +
             static_cast<double>(static_cast<std::int32_t>(lo & 1u));
  return (h * 4294967296.0 + l) * 0x1.0p-53;
}

// The scalar pieces are shared with the CUDA kernels (core/philox.hpp), so both produce the
// same bits.
__attribute__((always_inline)) inline double unit_interval_plus_one(std::uint32_t hi, std::uint32_t lo) noexcept {
  return philox::unit_plus_one(hi, lo);
}
__attribute__((always_inline)) inline double log_unit_impl(double u) noexcept { return philox::log_unit(u); }
__attribute__((always_inline)) inline void sincos_2pi_impl(double u, double& s, double& c) noexcept {
  philox::sincos_2pi(u, s, c);
}

// Generic driver: `gen(b0, dst)` writes the kLanes·PerBlock draws of the batch of kLanes blocks
// starting at block b0; each batch that straddles [offset, offset+n) is generated into a scratch
// buffer and the part inside copied out, so offsets that start or end mid-block need no special case.
template <typename T, std::size_t PerBlock, typename Gen>
void fill_batches(std::uint64_t offset, std::size_t n, T* out, Gen gen) {
  if (n == 0) return;
  constexpr std::uint64_t kBatch = kLanes * PerBlock;  // draws per batch
  // Batches are aligned to multiples of kLanes blocks: the normal layout is defined per batch.
  const std::uint64_t first_block = offset / PerBlock / kLanes * kLanes;
  const std::uint64_t last_block = (offset + (n - 1)) / PerBlock;  // offset + n − 1 < 2^64 (caller's contract)
  const std::uint64_t nblocks = last_block - first_block + 1;
  const std::uint64_t nbatches = (nblocks + kLanes - 1) / kLanes;
  // Positions relative to `offset` (never offset + n itself, which is 2^64 at the end of a stream):
  // batch bi covers draws [bi·kBatch − skip, bi·kBatch − skip + kBatch) of out.
  const std::uint64_t skip = offset - first_block * PerBlock;  // < kBatch
  auto batch = [&](std::int64_t bi) {
    const std::uint64_t b0 = first_block + std::uint64_t(bi) * kLanes;
    const std::int64_t rel = bi * static_cast<std::int64_t>(kBatch) - static_cast<std::int64_t>(skip);
    if (rel >= 0 && static_cast<std::uint64_t>(rel) + kBatch <= n) {
      gen(b0, out + rel);  // whole batch inside out[0, n)
      return;
    }
    T tmp[kBatch];
    gen(b0, tmp);
    const std::int64_t lo = rel < 0 ? -rel : 0;
    const std::int64_t hi = std::min<std::int64_t>(static_cast<std::int64_t>(kBatch), static_cast<std::int64_t>(n) - rel);
    for (std::int64_t j = lo; j < hi; ++j) out[rel + j] = tmp[j];
  };
  const std::int64_t nb = static_cast<std::int64_t>(nbatches);
#if defined(_OPENMP)
  if (n >= kParallelMin && get_threads() > 1) {
#pragma omp parallel for schedule(static) num_threads(get_threads())
    for (std::int64_t bi = 0; bi < nb; ++bi) batch(bi);
    return;
  }
#endif
  for (std::int64_t bi = 0; bi < nb; ++bi) batch(bi);
}

// The driver for draws made from the Philox words of a batch: `emit(w0, w1, w2, w3, dst)`.
template <typename T, std::size_t PerBlock, typename Emit>
void fill(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, T* out, Emit emit) {
  fill_batches<T, PerBlock>(offset, n, out, [&](std::uint64_t b0, T* dst) {
    std::uint32_t w0[kLanes], w1[kLanes], w2[kLanes], w3[kLanes];
    philox_lanes(seed, stream, b0, w0, w1, w2, w3);
    emit(w0, w1, w2, w3, dst);
  });
}

#if !(defined(__AVX2__) && defined(__FMA__))
// Box–Muller on the words of kLanes blocks (scalar reference: philox::box_muller), written so
// the compiler vectorises it: the cosines of the blocks to t[0..kLanes), their sines after.
void box_muller_lanes(const std::uint32_t* w0, const std::uint32_t* w1, const std::uint32_t* w2,
                      const std::uint32_t* w3, double* t) noexcept {
  double r[kLanes], sn[kLanes], cs[kLanes];
#pragma omp simd
  for (std::size_t j = 0; j < kLanes; ++j) {
    // 52-bit uniforms straight from the bits (1.m − 1), no int→double conversion
    const double u1 = 2.0 - unit_interval_plus_one(w0[j], w1[j]);  // (0, 1]
    r[j] = std::sqrt(-2.0 * log_unit_impl(u1));
    sincos_2pi_impl(unit_interval_plus_one(w2[j], w3[j]) - 1.0, sn[j], cs[j]);
  }
  for (std::size_t j = 0; j < kLanes; ++j) t[j] = r[j] * cs[j];
  for (std::size_t j = 0; j < kLanes; ++j) t[kLanes + j] = r[j] * sn[j];
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
// One batch of normals with Philox and Box–Muller fused in registers (no word arrays): Philox
// runs 8 blocks per register, the transform 4 blocks per register (one per 64-bit lane), and
// N = 4 registers at a time. The floating-point operations are those of philox::box_muller, one
// intrinsic each, in the same order, so the draws are bit-identical to the scalar reference
// (test_philox checks it); only the integer work (bit assembly, quadrant selection) differs.
// 1.6× the speed of the compiler-vectorised loop (box_muller_lanes) on AVX2.
namespace avx2 {

// philox::unit_plus_one on a 64-bit lane holding hi·2^32 + lo: 1 + (that >> 12)·2^-52.
__attribute__((always_inline)) inline __m256d unit_plus_one(__m256i hilo) noexcept {
  return _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(hilo, 12), _mm256_set1_epi64x(0x3FF0000000000000ll)));
}

inline __m256d mul(__m256d a, __m256d b) noexcept { return _mm256_mul_pd(a, b); }
inline __m256d add(__m256d a, __m256d b) noexcept { return _mm256_add_pd(a, b); }
inline __m256d sub(__m256d a, __m256d b) noexcept { return _mm256_sub_pd(a, b); }
inline __m256d fma(__m256d a, __m256d b, __m256d c) noexcept { return _mm256_fmadd_pd(a, b, c); }
inline __m256d c(double v) noexcept { return _mm256_set1_pd(v); }

// The transform works on N registers at once, statement by statement, so the long dependency
// chains (divide, square root, two polynomials) of N independent groups are interleaved in the
// instruction stream: the out-of-order window alone does not cover one group's chain.
#define SL_EACH(N) _Pragma("GCC unroll 8") for (std::size_t k = 0; k < (N); ++k)

// philox::log_unit, u in (0, 1].
template <std::size_t N>
__attribute__((always_inline)) inline void log_unit(const __m256d* u, __m256d* out) noexcept {
  __m256d ed[N], m[N], s[N], s2[N], p[N];
  SL_EACH(N) {
    const __m256i bits = _mm256_castpd_si256(u[k]);
    ed[k] = sub(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), _mm256_set1_epi64x(0x4330000000000000ll))),
                c(4503599627370496.0 + 1023.0));
    m[k] = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffll)),
                                               _mm256_set1_epi64x(0x3ff0000000000000ll)));
    const __m256d fold = _mm256_cmp_pd(m[k], c(1.4142135623730951), _CMP_GT_OQ);
    m[k] = _mm256_blendv_pd(m[k], mul(m[k], c(0.5)), fold);
    ed[k] = _mm256_blendv_pd(ed[k], add(ed[k], c(1.0)), fold);
  }
  SL_EACH(N) s[k] = _mm256_div_pd(sub(m[k], c(1.0)), add(m[k], c(1.0)));
  SL_EACH(N) s2[k] = mul(s[k], s[k]);
  SL_EACH(N) p[k] = c(1.0 / 19);
  constexpr double kLog[] = {1.0 / 17, 1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0};
  for (const double coef : kLog) {
    SL_EACH(N) p[k] = fma(p[k], s2[k], c(coef));
  }
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  SL_EACH(N) out[k] = add(mul(ed[k], c(kLn2Hi)), add(mul(mul(c(2.0), s[k]), p[k]), mul(ed[k], c(kLn2Lo))));
}

// philox::sincos_2pi, u in [0, 1). The quadrant q = round(4u) mod 4 is read from the integer
// bits of round(4u) (exact: it is at most 4) instead of with floating-point selects.
template <std::size_t N>
__attribute__((always_inline)) inline void sincos_2pi(const __m256d* u, __m256d* s, __m256d* co) noexcept {
  __m256d qd[N], x[N], x2[N], nx2[N], ps[N], pc[N];
  SL_EACH(N) {
    const __m256d t = mul(c(4.0), u[k]);
    qd[k] = _mm256_floor_pd(add(t, c(0.5)));
    x[k] = mul(sub(t, qd[k]), c(1.5707963267948966));
    x2[k] = mul(x[k], x[k]);
    nx2[k] = _mm256_xor_pd(x2[k], c(-0.0));
    ps[k] = c(1.0 / 1307674368000.0);  // 1/15!
    pc[k] = c(1.0 / 20922789888000.0);  // 1/16!
  }
  constexpr double kSin[] = {1.0 / 6227020800.0, 1.0 / 39916800.0, 1.0 / 362880.0, 1.0 / 5040.0, 1.0 / 120.0, 1.0 / 6.0, 1.0};
  constexpr double kCos[] = {1.0 / 87178291200.0, 1.0 / 479001600.0, 1.0 / 3628800.0, 1.0 / 40320.0, 1.0 / 720.0, 1.0 / 24.0, 0.5};
  for (std::size_t i = 0; i < 7; ++i) {
    SL_EACH(N) {
      ps[k] = fma(ps[k], nx2[k], c(kSin[i]));
      pc[k] = fma(pc[k], nx2[k], c(kCos[i]));
    }
  }
  const __m256i top = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
  SL_EACH(N) {
    const __m256d sx = mul(x[k], ps[k]);
    const __m256d cx = sub(c(1.0), mul(x2[k], pc[k]));
    // q in the low bits: qd + 2^52 puts the integer qd in the mantissa.
    const __m256i q = _mm256_castpd_si256(add(qd[k], c(4503599627370496.0)));
    const __m256d odd = _mm256_castsi256_pd(_mm256_slli_epi64(q, 63));  // q in {1, 3}: swap sin and cos
    const __m256d neg_sin = _mm256_castsi256_pd(_mm256_and_si256(_mm256_slli_epi64(q, 62), top));  // q in {2, 3}
    const __m256d neg_cos = _mm256_castsi256_pd(
        _mm256_and_si256(_mm256_slli_epi64(_mm256_add_epi64(q, _mm256_set1_epi64x(1)), 62), top));  // q in {1, 2}
    s[k] = _mm256_xor_pd(_mm256_blendv_pd(sx, cx, odd), neg_sin);
    co[k] = _mm256_xor_pd(_mm256_blendv_pd(cx, sx, odd), neg_cos);
  }
}

// Box–Muller on N groups of four blocks, given as 64-bit lanes w0·2^32 + w1 (c01) and
// w2·2^32 + w3 (c23): group k's cosine draws to cs + 4k, its sine draws to sn + 4k.
template <std::size_t N>
__attribute__((always_inline)) inline void box_muller(const __m256i* c01, const __m256i* c23, double* cs,
                                                      double* sn) noexcept {
  __m256d u1[N], u2[N], lg[N], s[N], co[N];
  SL_EACH(N) {
    u1[k] = sub(c(2.0), unit_plus_one(c01[k]));
    u2[k] = sub(unit_plus_one(c23[k]), c(1.0));
  }
  log_unit<N>(u1, lg);
  sincos_2pi<N>(u2, s, co);
  SL_EACH(N) {
    const __m256d r = _mm256_sqrt_pd(mul(c(-2.0), lg[k]));
    _mm256_storeu_pd(cs + 4 * k, mul(r, co[k]));
    _mm256_storeu_pd(sn + 4 * k, mul(r, s[k]));
  }
}
#undef SL_EACH

// The 2·kLanes normals of the batch of kLanes blocks starting at b0 (layout of rng::normal).
void normal_batch(std::uint64_t seed, std::uint64_t stream, std::uint64_t b0, double* t) noexcept {
  constexpr std::size_t G = kLanes / 8;  // registers of 8 blocks
  __m256i x0[G], x1[G], x2[G], x3[G];
  // 32-bit lane i of register g holds block b0 + 8g + perm[i], so that interleaving its words
  // (below) gives blocks 8g..8g+3 and 8g+4..8g+7 in order. b0 is a multiple of kLanes: the
  // block's low word never carries inside a batch.
  const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  for (std::size_t g = 0; g < G; ++g) {
    x0[g] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b0 + 8 * g))), perm);
    x1[g] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(b0 >> 32)));
    x2[g] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
    x3[g] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  }
  philox_rounds<G>(x0, x1, x2, x3, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  __m256i c01[2 * G], c23[2 * G];
  for (std::size_t g = 0; g < G; ++g) {
    c01[2 * g] = _mm256_unpacklo_epi32(x1[g], x0[g]);
    c01[2 * g + 1] = _mm256_unpackhi_epi32(x1[g], x0[g]);
    c23[2 * g] = _mm256_unpacklo_epi32(x3[g], x2[g]);
    c23[2 * g + 1] = _mm256_unpackhi_epi32(x3[g], x2[g]);
  }
  constexpr std::size_t N = 4;  // groups of 4 blocks transformed together (measured best of 1, 2, 4, 8)
  for (std::size_t i = 0; i < 2 * G; i += N) box_muller<N>(c01 + i, c23 + i, t + 4 * i, t + kLanes + 4 * i);
}

}  // namespace avx2
#endif

}  // namespace

void philox4x32_10(const std::uint32_t counter[4], const std::uint32_t key[2], std::uint32_t out[4]) noexcept {
  const philox::Block b = philox::rounds(counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
  for (int i = 0; i < 4; ++i) out[i] = b.w[i];
}

double log_unit(double u) noexcept { return log_unit_impl(u); }
void sincos_2pi(double u, double* s, double* c) noexcept { sincos_2pi_impl(u, *s, *c); }

void bits(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, std::uint32_t* out) {
  fill<std::uint32_t, 4>(seed, stream, offset, n, out,
                         [](const std::uint32_t* w0, const std::uint32_t* w1, const std::uint32_t* w2,
                            const std::uint32_t* w3, std::uint32_t* t) {
                           for (std::size_t j = 0; j < kLanes; ++j) {
                             t[4 * j] = w0[j];
                             t[4 * j + 1] = w1[j];
                             t[4 * j + 2] = w2[j];
                             t[4 * j + 3] = w3[j];
                           }
                         });
}

void uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out) {
  fill<double, 2>(seed, stream, offset, n, out,
                  [](const std::uint32_t* w0, const std::uint32_t* w1, const std::uint32_t* w2,
                     const std::uint32_t* w3, double* t) {
                    for (std::size_t j = 0; j < kLanes; ++j) {
                      t[2 * j] = to_unit(w0[j], w1[j]);
                      t[2 * j + 1] = to_unit(w2[j], w3[j]);
                    }
                  });
}

void box_muller_words(const std::uint32_t* words, std::size_t nblocks, double* out) noexcept {
  std::size_t b = 0;
#if defined(__AVX2__) && defined(__FMA__)
  for (; b + 4 <= nblocks; b += 4) {
    const std::uint32_t* w = words + 4 * b;
    // 64-bit lanes w0·2^32 + w1 and w2·2^32 + w3 of the four blocks, as normal_batch builds them
    __m256i c01 = _mm256_set_epi32(static_cast<int>(w[12]), static_cast<int>(w[13]), static_cast<int>(w[8]),
                                   static_cast<int>(w[9]), static_cast<int>(w[4]), static_cast<int>(w[5]),
                                   static_cast<int>(w[0]), static_cast<int>(w[1]));
    __m256i c23 = _mm256_set_epi32(static_cast<int>(w[14]), static_cast<int>(w[15]), static_cast<int>(w[10]),
                                   static_cast<int>(w[11]), static_cast<int>(w[6]), static_cast<int>(w[7]),
                                   static_cast<int>(w[2]), static_cast<int>(w[3]));
    double cs[4], sn[4];
    avx2::box_muller<1>(&c01, &c23, cs, sn);
    for (int j = 0; j < 4; ++j) {
      out[2 * (b + j)] = cs[j];
      out[2 * (b + j) + 1] = sn[j];
    }
  }
#endif
  for (; b < nblocks; ++b) {
    const philox::Block blk{{words[4 * b], words[4 * b + 1], words[4 * b + 2], words[4 * b + 3]}};
    double r, sn, cs;
    philox::box_muller(blk, r, sn, cs);
    out[2 * b] = r * cs;
    out[2 * b + 1] = r * sn;
  }
}

void normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out) {
#if defined(__AVX2__) && defined(__FMA__)
  fill_batches<double, 2>(offset, n, out,
                          [&](std::uint64_t b0, double* dst) { avx2::normal_batch(seed, stream, b0, dst); });
#else
  fill<double, 2>(seed, stream, offset, n, out, box_muller_lanes);
#endif
}

}  // namespace speedlimits::rng
