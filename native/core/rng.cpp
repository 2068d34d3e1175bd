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

#include <cmath>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/threads.hpp"

namespace speedlimits::rng {

namespace {

constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;  // round multipliers
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments
constexpr int kRounds = 10;
// Blocks generated per inner batch: wide enough for 256/512-bit vectors, small enough for L1.
constexpr std::size_t kLanes = 32;
// Below this many draws the work is not split across threads.
constexpr std::size_t kParallelMin = std::size_t(1) << 16;

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
  // 8 blocks per register; _mm256_mul_epu32 multiplies the even 32-bit lanes, so even and odd
  // lanes are multiplied separately and the 64-bit products split back into hi/lo words.
  static_assert(kLanes % 8 == 0, "kLanes must be a multiple of 8");
  const __m256i m0 = _mm256_set1_epi64x(kMul0), m1 = _mm256_set1_epi64x(kMul1);
  // All groups advance round by round together: the multiply latency of one group is hidden
  // behind the others (a single group is latency-bound).
  constexpr std::size_t G = kLanes / 8;
  __m256i x0[G], x1[G], x2[G], x3[G];
  for (std::size_t g = 0; g < G; ++g) {
    x0[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + 8 * g));
    x1[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w1 + 8 * g));
    x2[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w2 + 8 * g));
    x3[g] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w3 + 8 * g));
  }
  for (int r = 0; r < kRounds; ++r) {
    const __m256i rk0 = _mm256_set1_epi32(static_cast<int>(k0)), rk1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (std::size_t g = 0; g < G; ++g) {
      __m256i pe0 = _mm256_mul_epu32(x0[g], m0), po0 = _mm256_mul_epu32(_mm256_srli_epi64(x0[g], 32), m0);
      __m256i pe1 = _mm256_mul_epu32(x2[g], m1), po1 = _mm256_mul_epu32(_mm256_srli_epi64(x2[g], 32), m1);
      __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
      __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
      __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
      __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
      x0[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, x1[g]), rk0);
      x2[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, x3[g]), rk1);
      x1[g] = lo1;
      x3[g] = lo0;
    }
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
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

// 1 + (52 random bits)·2^-52 in [1, 2), built in the exponent/mantissa bits.
__attribute__((always_inline)) inline double unit_interval_plus_one(std::uint32_t hi, std::uint32_t lo) noexcept {
  const std::uint64_t bits = 0x3FF0000000000000ull | ((std::uint64_t(hi) << 32 | lo) >> 12);
  double m;
  std::memcpy(&m, &bits, sizeof m);
  return m;
}

// ln(u) for u in (0, 1], via u = 2^e · m, m in [√½, √2), ln m = 2 atanh(s), s = (m−1)/(m+1);
// |s| <= 0.1716, so the odd series to s^19 leaves a truncation error below 1e-16 relative. Only basic IEEE operations.
__attribute__((always_inline)) inline double log_unit_impl(double u) noexcept {
  std::uint64_t bits;
  std::memcpy(&bits, &u, sizeof bits);
  // exponent as an exact double without int64 -> double conversion (not vectorisable on AVX2)
  std::uint64_t ebits = 0x4330000000000000ull | (bits >> 52);
  double ed;
  std::memcpy(&ed, &ebits, sizeof ed);
  ed -= 4503599627370496.0 + 1023.0;
  std::uint64_t mbits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
  double m;
  std::memcpy(&m, &mbits, sizeof m);
  const bool fold = m > 1.4142135623730951;  // fold m to [√½, √2)
  m = fold ? m * 0.5 : m;
  ed = fold ? ed + 1.0 : ed;
  double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double p = 1.0 / 19;
  p = std::fma(p, s2, 1.0 / 17);
  p = std::fma(p, s2, 1.0 / 15);
  p = std::fma(p, s2, 1.0 / 13);
  p = std::fma(p, s2, 1.0 / 11);
  p = std::fma(p, s2, 1.0 / 9);
  p = std::fma(p, s2, 1.0 / 7);
  p = std::fma(p, s2, 1.0 / 5);
  p = std::fma(p, s2, 1.0 / 3);
  p = std::fma(p, s2, 1.0);
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  return (ed * kLn2Hi) + (2.0 * s * p + ed * kLn2Lo);
}

// sin and cos of 2πu, u in [0, 1): quadrant q = round(4u), angle (4u − q)·π/2 in [−π/4, π/4],
// Taylor series to x^17 / x^18 (truncation < 1e-17 there).
__attribute__((always_inline)) inline void sincos_2pi_impl(double u, double& s, double& c) noexcept {
  double t = 4.0 * u;
  double qd = std::floor(t + 0.5);
  double x = (t - qd) * 1.5707963267948966;
  double x2 = x * x;
  // Taylor series in −x², truncated where the next term is < 5e-17 on [−π/4, π/4].
  double ps = 1.0 / 1307674368000.0;  // 1/15!
  ps = std::fma(ps, -x2, 1.0 / 6227020800.0);
  ps = std::fma(ps, -x2, 1.0 / 39916800.0);
  ps = std::fma(ps, -x2, 1.0 / 362880.0);
  ps = std::fma(ps, -x2, 1.0 / 5040.0);
  ps = std::fma(ps, -x2, 1.0 / 120.0);
  ps = std::fma(ps, -x2, 1.0 / 6.0);
  ps = std::fma(ps, -x2, 1.0);
  double sx = x * ps;
  double pc = 1.0 / 20922789888000.0;  // 1/16!
  pc = std::fma(pc, -x2, 1.0 / 87178291200.0);
  pc = std::fma(pc, -x2, 1.0 / 479001600.0);
  pc = std::fma(pc, -x2, 1.0 / 3628800.0);
  pc = std::fma(pc, -x2, 1.0 / 40320.0);
  pc = std::fma(pc, -x2, 1.0 / 720.0);
  pc = std::fma(pc, -x2, 1.0 / 24.0);
  pc = std::fma(pc, -x2, 0.5);
  double cx = 1.0 - x2 * pc;
  // sin(x + qπ/2) = sx, cx, −sx, −cx and cos(x + qπ/2) = cx, −sx, −cx, sx for q = 0..3;
  // selects on doubles (not ints) so the loop stays vectorised.
  double q = qd - 4.0 * std::floor(qd * 0.25);
  const bool odd = std::fabs(q - 2.0) == 1.0;     // q in {1, 3}
  const bool neg_sin = q >= 2.0;                  // q in {2, 3}
  const bool neg_cos = std::fabs(q - 1.5) < 1.0;  // q in {1, 2}
  double rs = odd ? cx : sx;
  double rc = odd ? sx : cx;
  s = neg_sin ? -rs : rs;
  c = neg_cos ? -rc : rc;
}

// Generic driver: `emit(w0, w1, w2, w3, tmp)` turns kLanes blocks into kLanes·PerBlock draws;
// each batch is generated into a scratch buffer and the part inside [offset, offset+n) copied out,
// so offsets that start or end mid-block need no special case.
template <typename T, std::size_t PerBlock, typename Emit>
void fill(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, T* out, Emit emit) {
  if (n == 0) return;
  // Batches are aligned to multiples of kLanes blocks: the normal layout is defined per batch.
  const std::uint64_t first_block = offset / PerBlock / kLanes * kLanes;
  const std::uint64_t last_block = (offset + n - 1) / PerBlock;
  const std::uint64_t nblocks = last_block - first_block + 1;
  const std::uint64_t nbatches = (nblocks + kLanes - 1) / kLanes;
  auto batch = [&](std::int64_t bi) {
    std::uint32_t w0[kLanes], w1[kLanes], w2[kLanes], w3[kLanes];
    const std::uint64_t b0 = first_block + std::uint64_t(bi) * kLanes;
    const std::uint64_t start = b0 * PerBlock;  // absolute index of the batch's first draw
    philox_lanes(seed, stream, b0, w0, w1, w2, w3);
    if (start >= offset && start + kLanes * PerBlock <= offset + n) {
      emit(w0, w1, w2, w3, out + (start - offset));  // whole batch inside [offset, offset+n)
      return;
    }
    T tmp[kLanes * PerBlock];
    emit(w0, w1, w2, w3, tmp);
    std::uint64_t lo = start < offset ? offset : start;
    std::uint64_t hi = start + kLanes * PerBlock;
    if (hi > offset + n) hi = offset + n;
    for (std::uint64_t i = lo; i < hi; ++i) out[i - offset] = tmp[i - start];
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

}  // namespace

void philox4x32_10(const std::uint32_t counter[4], const std::uint32_t key[2], std::uint32_t out[4]) noexcept {
  std::uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < kRounds; ++r) {
    std::uint64_t p0 = std::uint64_t(kMul0) * c0;
    std::uint64_t p1 = std::uint64_t(kMul1) * c2;
    std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ k0;
    std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<std::uint32_t>(p1);
    c3 = static_cast<std::uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
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

void normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out) {
  fill<double, 2>(seed, stream, offset, n, out,
                  [](const std::uint32_t* w0, const std::uint32_t* w1, const std::uint32_t* w2,
                     const std::uint32_t* w3, double* t) {
                    double r[kLanes], sn[kLanes], cs[kLanes];
#pragma omp simd
                    for (std::size_t j = 0; j < kLanes; ++j) {
                      // 52-bit uniforms straight from the bits (1.m − 1), no int→double conversion
                      const double u1 = 2.0 - unit_interval_plus_one(w0[j], w1[j]);  // (0, 1]
                      r[j] = std::sqrt(-2.0 * log_unit_impl(u1));
                      sincos_2pi_impl(unit_interval_plus_one(w2[j], w3[j]) - 1.0, sn[j], cs[j]);
                    }
                    // the cosines of the batch's blocks, then their sines (no interleaving shuffle)
                    for (std::size_t j = 0; j < kLanes; ++j) t[j] = r[j] * cs[j];
                    for (std::size_t j = 0; j < kLanes; ++j) t[kLanes + j] = r[j] * sn[j];
                  });
}

}  // namespace speedlimits::rng
