// Philox4x32-10 and the scalar draw functions of rng.hpp, header-only and usable from both host
// C++ and CUDA device code, so the CPU (rng.cpp) and the GPU kernels produce the same bits.
//
// Bit-identity needs every floating-point operation rounded on its own (no fused multiply-add
// contraction): on the device the operations go through the __d*_rn intrinsics, which nvcc never
// contracts; on the host the functions are compiled with contraction off (the GCC pragma below;
// clang contracts only within one expression, and every operation here is its own call), and
// the polynomials use explicit fma, which is correctly rounded on both.
#pragma once
#include <cstdint>
#include <cstring>

// Host: internal linkage, so a translation unit compiled with contraction on can never lend the
// linker its copy of a function for another unit (no ODR merging of differently compiled copies).
#if defined(__CUDACC__)
#define SL_HD static __host__ __device__ __forceinline__
#else
#define SL_HD static inline
#endif

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace speedlimits::philox {

constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;  // round multipliers
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments
constexpr int kRounds = 10;
// The normal layout is defined over batches of this many blocks (see rng.hpp).
constexpr std::uint64_t kNormalBatch = 32;

struct Block {
  std::uint32_t w[4];
};

// The ten rounds on one counter (c0..c3) with key (k0, k1).
SL_HD Block rounds(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, std::uint32_t k0,
                   std::uint32_t k1) {
  for (int r = 0; r < kRounds; ++r) {
    const std::uint64_t p0 = std::uint64_t(kMul0) * c0;
    const std::uint64_t p1 = std::uint64_t(kMul1) * c2;
    const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<std::uint32_t>(p1);
    c3 = static_cast<std::uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return Block{{c0, c1, c2, c3}};
}

// Block `block_index` of stream (seed, stream): counter (block lo, block hi, stream lo,
// stream hi), key (seed lo, seed hi).
SL_HD Block block(std::uint64_t seed, std::uint64_t stream, std::uint64_t block_index) {
  return rounds(static_cast<std::uint32_t>(block_index), static_cast<std::uint32_t>(block_index >> 32),
                static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32),
                static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// ---- IEEE operations that are never fused --------------------------------------------------
#if defined(__CUDA_ARCH__)
SL_HD double add(double a, double b) { return __dadd_rn(a, b); }
SL_HD double sub(double a, double b) { return __dsub_rn(a, b); }
SL_HD double mul(double a, double b) { return __dmul_rn(a, b); }
SL_HD double div(double a, double b) { return __ddiv_rn(a, b); }
SL_HD double fma(double a, double b, double c) { return __fma_rn(a, b, c); }
SL_HD double sqrt(double a) { return __dsqrt_rn(a); }
SL_HD double floor(double a) { return ::floor(a); }
SL_HD double fabs(double a) { return ::fabs(a); }
SL_HD double from_bits(std::uint64_t b) { return __longlong_as_double(static_cast<long long>(b)); }
SL_HD std::uint64_t to_bits(double d) { return static_cast<std::uint64_t>(__double_as_longlong(d)); }
#else
SL_HD double add(double a, double b) { return a + b; }
SL_HD double sub(double a, double b) { return a - b; }
SL_HD double mul(double a, double b) { return a * b; }
SL_HD double div(double a, double b) { return a / b; }
SL_HD double fma(double a, double b, double c) { return std::fma(a, b, c); }
SL_HD double sqrt(double a) { return std::sqrt(a); }
SL_HD double floor(double a) { return std::floor(a); }
SL_HD double fabs(double a) { return std::fabs(a); }
SL_HD double from_bits(std::uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}
SL_HD std::uint64_t to_bits(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}
#endif

// 1 + (52 random bits)·2^-52 in [1, 2), built in the exponent/mantissa bits.
SL_HD double unit_plus_one(std::uint32_t hi, std::uint32_t lo) {
  return from_bits(0x3FF0000000000000ull | ((std::uint64_t(hi) << 32 | lo) >> 12));
}

// ln(u) for u in (0, 1], via u = 2^e · m, m in [√½, √2), ln m = 2 atanh(s), s = (m−1)/(m+1);
// |s| <= 0.1716, so the odd series to s^19 leaves a truncation error below 1e-16 relative.
SL_HD double log_unit(double u) {
  const std::uint64_t bits = to_bits(u);
  // the exponent as an exact double without an int64 -> double conversion (vectorises on AVX2)
  double ed = sub(from_bits(0x4330000000000000ull | (bits >> 52)), 4503599627370496.0 + 1023.0);
  double m = from_bits((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);
  const bool fold = m > 1.4142135623730951;  // fold m to [√½, √2)
  m = fold ? mul(m, 0.5) : m;
  ed = fold ? add(ed, 1.0) : ed;
  const double s = div(sub(m, 1.0), add(m, 1.0)), s2 = mul(s, s);
  double p = 1.0 / 19;
  p = fma(p, s2, 1.0 / 17);
  p = fma(p, s2, 1.0 / 15);
  p = fma(p, s2, 1.0 / 13);
  p = fma(p, s2, 1.0 / 11);
  p = fma(p, s2, 1.0 / 9);
  p = fma(p, s2, 1.0 / 7);
  p = fma(p, s2, 1.0 / 5);
  p = fma(p, s2, 1.0 / 3);
  p = fma(p, s2, 1.0);
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  return add(mul(ed, kLn2Hi), add(mul(mul(2.0, s), p), mul(ed, kLn2Lo)));
}

// sin and cos of 2πu, u in [0, 1): quadrant q = round(4u), angle (4u − q)·π/2 in [−π/4, π/4],
// Taylor series to x^17 / x^18 (truncation < 1e-17 there).
SL_HD void sincos_2pi(double u, double& s, double& c) {
  const double t = mul(4.0, u);
  const double qd = floor(add(t, 0.5));
  const double x = mul(sub(t, qd), 1.5707963267948966);
  const double x2 = mul(x, x), nx2 = -x2;
  double ps = 1.0 / 1307674368000.0;  // 1/15!
  ps = fma(ps, nx2, 1.0 / 6227020800.0);
  ps = fma(ps, nx2, 1.0 / 39916800.0);
  ps = fma(ps, nx2, 1.0 / 362880.0);
  ps = fma(ps, nx2, 1.0 / 5040.0);
  ps = fma(ps, nx2, 1.0 / 120.0);
  ps = fma(ps, nx2, 1.0 / 6.0);
  ps = fma(ps, nx2, 1.0);
  const double sx = mul(x, ps);
  double pc = 1.0 / 20922789888000.0;  // 1/16!
  pc = fma(pc, nx2, 1.0 / 87178291200.0);
  pc = fma(pc, nx2, 1.0 / 479001600.0);
  pc = fma(pc, nx2, 1.0 / 3628800.0);
  pc = fma(pc, nx2, 1.0 / 40320.0);
  pc = fma(pc, nx2, 1.0 / 720.0);
  pc = fma(pc, nx2, 1.0 / 24.0);
  pc = fma(pc, nx2, 0.5);
  const double cx = sub(1.0, mul(x2, pc));
  // sin(x + qπ/2) = sx, cx, −sx, −cx and cos(x + qπ/2) = cx, −sx, −cx, sx for q = 0..3;
  // selects on doubles (not ints) so the CPU loop stays vectorised.
  const double q = sub(qd, mul(4.0, floor(mul(qd, 0.25))));
  const bool odd = fabs(sub(q, 2.0)) == 1.0;     // q in {1, 3}
  const bool neg_sin = q >= 2.0;                 // q in {2, 3}
  const bool neg_cos = fabs(sub(q, 1.5)) < 1.0;  // q in {1, 2}
  const double rs = odd ? cx : sx;
  const double rc = odd ? sx : cx;
  s = neg_sin ? -rs : rs;
  c = neg_cos ? -rc : rc;
}

// Box–Muller radius and angle of one block: r = sqrt(−2 ln u1), u1 = 2 − unit_plus_one(w0, w1)
// in (0, 1]; the draws are r·cos(2πu2) and r·sin(2πu2), u2 = unit_plus_one(w2, w3) − 1.
SL_HD void box_muller(const Block& b, double& r, double& sn, double& cs) {
  const double u1 = sub(2.0, unit_plus_one(b.w[0], b.w[1]));
  r = sqrt(mul(-2.0, log_unit(u1)));
  sincos_2pi(sub(unit_plus_one(b.w[2], b.w[3]), 1.0), sn, cs);
}

// Normal draw number `index` of stream (seed, stream), as rng::normal produces it: batch
// B = index/64, j = index%64, block 32·B + (j mod 32), cosine half for j < 32, sine for j ≥ 32.
SL_HD double normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const std::uint64_t batch = index / (2 * kNormalBatch), j = index % (2 * kNormalBatch);
  const Block b = block(seed, stream, batch * kNormalBatch + (j % kNormalBatch));
  double r, sn, cs;
  box_muller(b, r, sn, cs);
  return mul(r, j < kNormalBatch ? cs : sn);
}

// Uniform draw number `index` in [0, 1) with 53 bits, as rng::uniform: block index/2, words
// (0,1) or (2,3), (hi >> 11)·2^32 + lo scaled by 2^-53 (exact in double).
SL_HD double uniform_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const Block b = block(seed, stream, index / 2);
  const std::uint32_t hi = (index & 1) ? b.w[2] : b.w[0], lo = (index & 1) ? b.w[3] : b.w[1];
  return static_cast<double>((std::uint64_t(hi >> 11) << 32) | lo) * 0x1.0p-53;
}

}  // namespace speedlimits::philox

#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
