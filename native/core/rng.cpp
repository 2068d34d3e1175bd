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

// The scalar pieces are shared with the CUDA kernels (core/philox.hpp), so both produce the
// same bits.
__attribute__((always_inline)) inline double unit_interval_plus_one(std::uint32_t hi, std::uint32_t lo) noexcept {
  return philox::unit_plus_one(hi, lo);
}
__attribute__((always_inline)) inline double log_unit_impl(double u) noexcept { return philox::log_unit(u); }
__attribute__((always_inline)) inline void sincos_2pi_impl(double u, double& s, double& c) noexcept {
  philox::sincos_2pi(u, s, c);
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
