// The header-only Philox draws (core/philox.hpp, also compiled into the CUDA kernels) against
// the vectorised CPU generator (rng.cpp): bit-identical, at any index.
#include <cstdint>
#include <cmath>
#include <cstring>
#include <vector>

#include "check.hpp"
#include "core/philox.hpp"
#include "core/rng.hpp"

using namespace speedlimits;

namespace {
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
}  // namespace

TEST_CASE("philox block equals rng::philox4x32_10 and rng::bits") {
  const std::uint64_t seed = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull;
  std::vector<std::uint32_t> bits(4 * 200);
  rng::bits(seed, stream, 4 * 1000, bits.size(), bits.data());
  int bad = 0;
  for (std::uint64_t b = 0; b < 200; ++b) {
    const philox::Block blk = philox::block(seed, stream, 1000 + b);
    const std::uint32_t ctr[4] = {static_cast<std::uint32_t>(1000 + b), 0, static_cast<std::uint32_t>(stream),
                                  static_cast<std::uint32_t>(stream >> 32)};
    const std::uint32_t key[2] = {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
    std::uint32_t ref[4];
    rng::philox4x32_10(ctr, key, ref);
    for (int w = 0; w < 4; ++w) bad += blk.w[w] != ref[w] || blk.w[w] != bits[4 * b + w];
  }
  CHECK(bad == 0);
}

TEST_CASE("philox known-answer vector (Random123 kat: counter 0, key 0)") {
  // Random123's kat_vectors: philox4x32 10 rounds, ctr = key = 0 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8
  const philox::Block b = philox::rounds(0, 0, 0, 0, 0, 0);
  CHECK(b.w[0] == 0x6627e8d5u && b.w[1] == 0xe169c58du && b.w[2] == 0xbc57ac4cu && b.w[3] == 0x9b00dbd8u);
}

TEST_CASE("normal_at is bit-identical to rng::normal at any offset") {
  const std::uint64_t seed = 42;
  for (std::uint64_t stream : {std::uint64_t(0), std::uint64_t(1) << 62, (std::uint64_t(1) << 62) + 7}) {
    for (std::uint64_t offset : {std::uint64_t(0), std::uint64_t(13), std::uint64_t(64 * 1000 + 31),
                                 std::uint64_t(3072) * 1000 + 5, (std::uint64_t(1) << 33) + 3}) {
      std::vector<double> ref(517);
      rng::normal(seed, stream, offset, ref.size(), ref.data());
      int bad = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) bad += !same_bits(ref[i], philox::normal_at(seed, stream, offset + i));
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("normal draws are bit-identical over a large sample (covers the quadrant logic)") {
  std::vector<double> ref(1 << 16);
  rng::normal(7, 3, 0, ref.size(), ref.data());
  int bad = 0;
  double s = 0, s2 = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double v = philox::normal_at(7, 3, i);
    bad += !same_bits(ref[i], v);
    s += v;
    s2 += v * v;
  }
  CHECK(bad == 0);
  const double n = static_cast<double>(ref.size());
  CHECK_CLOSE(s / n, 0.0, 0, 0.02);
  CHECK_CLOSE(s2 / n, 1.0, 0, 0.02);
}

TEST_CASE("uniform_at is bit-identical to rng::uniform") {
  std::vector<double> ref(333);
  rng::uniform(99, 5, 1001, ref.size(), ref.data());
  int bad = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) bad += !same_bits(ref[i], philox::uniform_at(99, 5, 1001 + i));
  CHECK(bad == 0);
}

TEST_CASE("log_unit and sincos_2pi equal the exported rng helpers") {
  int bad = 0;
  for (int i = 1; i <= 1000; ++i) {
    const double u = i / 1000.0;
    bad += !same_bits(philox::log_unit(u), rng::log_unit(u));
    double s1, c1, s2, c2;
    philox::sincos_2pi(u - 0.0005, s1, c1);
    rng::sincos_2pi(u - 0.0005, &s2, &c2);
    bad += !same_bits(s1, s2) || !same_bits(c1, c2);
  }
  CHECK(bad == 0);
}

TEST_CASE("the vectorised Box-Muller transform equals the scalar one on extreme and boundary words") {
  // words per block: (w0, w1) -> u1 = 1 − U, (w2, w3) -> u2 = U, U = top 52 bits as a fraction
  std::vector<std::uint32_t> words;
  auto add = [&](std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
    words.insert(words.end(), {a, b, c, d});
  };
  const std::uint32_t ones = 0xffffffffu;
  add(0, 0, 0, 0);                    // u1 = 1 (r = 0), u2 = 0
  add(ones, ones, ones, ones);        // u1 = 2^-52 (largest r), u2 just below 1
  add(ones, 0xfffff000u, 0, 0x1000u);  // smallest nonzero U for u2
  add(0x6a09e667u, 0xf3bcd000u, 0, 0);  // m at the √2 fold of the logarithm
  add(0x6a09e667u, 0xf3bce000u, 0, 0);
  // u2 at and next to every quadrant and octant boundary k/8 (the quadrant is round(4·u2))
  for (std::uint32_t k = 0; k < 8; ++k) {
    const std::uint32_t hi = k << 29;
    add(0x12345678u, 0x9abcd000u, hi, 0);
    add(0x12345678u, 0x9abcd000u, hi - 1, 0xfffff000u);
    add(0x12345678u, 0x9abcd000u, hi, 0x1000u);
  }
  // u1 at every power of two (exponent edge of the logarithm)
  for (int e = 1; e < 52; ++e) {
    const std::uint64_t U = (std::uint64_t(1) << 52) - (std::uint64_t(1) << (52 - e));  // u1 = 2^-e
    const std::uint64_t bits = U << 12;
    add(static_cast<std::uint32_t>(bits >> 32), static_cast<std::uint32_t>(bits), 0x40000000u, 0);
  }
  std::vector<std::uint32_t> random_words(4 * 1001);
  rng::bits(5, 6, 0, random_words.size(), random_words.data());
  words.insert(words.end(), random_words.begin(), random_words.end());
  const std::size_t nblocks = words.size() / 4;  // not a multiple of 4: the scalar tail runs too
  std::vector<double> out(2 * nblocks);
  rng::box_muller_words(words.data(), nblocks, out.data());
  int bad = 0, nonfinite = 0;
  for (std::size_t b = 0; b < nblocks; ++b) {
    const philox::Block blk{{words[4 * b], words[4 * b + 1], words[4 * b + 2], words[4 * b + 3]}};
    double r, sn, cs;
    philox::box_muller(blk, r, sn, cs);
    bad += !same_bits(out[2 * b], philox::mul(r, cs)) || !same_bits(out[2 * b + 1], philox::mul(r, sn));
    nonfinite += !std::isfinite(out[2 * b]) || !std::isfinite(out[2 * b + 1]);
  }
  CHECK(bad == 0);
  CHECK(nonfinite == 0);
  CHECK(out[0] == 0.0 && out[1] == 0.0);                     // u1 = 1: r = 0
  CHECK_CLOSE(out[2], std::sqrt(2 * 52 * std::log(2.0)), 1e-12, 0);  // u1 = 2^-52, u2 ≈ 1: cos ≈ 1
}

TEST_CASE("normal draws are bit-identical where the block index carries and at the end of a stream") {
  const std::uint64_t seed = 0x9e3779b97f4a7c15ull, stream = 11;
  for (std::uint64_t offset : {(std::uint64_t(1) << 33) - 300, (std::uint64_t(1) << 34) - 77,
                               ~std::uint64_t(0) - 999}) {  // block 2^32 − 150 …; the last 1000 draws
    std::vector<double> ref(1000);
    rng::normal(seed, stream, offset, ref.size(), ref.data());
    int bad = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) bad += !same_bits(ref[i], philox::normal_at(seed, stream, offset + i));
    CHECK(bad == 0);
  }
  // uniforms and raw words up to the last draw of the stream as well
  const std::uint64_t last = ~std::uint64_t(0);
  std::vector<double> u(777);
  rng::uniform(seed, stream, last - 776, u.size(), u.data());
  std::vector<std::uint32_t> w(777);
  rng::bits(seed, stream, last - 776, w.size(), w.data());
  int bad = 0;
  for (std::uint64_t i = 0; i < 777; ++i) {
    const std::uint64_t index = last - 776 + i;
    bad += !same_bits(u[i], philox::uniform_at(seed, stream, index));
    bad += w[i] != philox::block(seed, stream, index / 4).w[index % 4];
  }
  CHECK(bad == 0);
}

TEST_MAIN()
