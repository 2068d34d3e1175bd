// Philox4x32-10 against the Random123 known-answer vectors, and the draws built on it.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"

using namespace speedlimits;

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
  struct Kat {
    std::uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const auto& k : kats) {
    std::uint32_t out[4];
    rng::philox4x32_10(k.ctr, k.key, out);
    for (int i = 0; i < 4; ++i) CHECK(out[i] == k.out[i]);
  }
}

TEST_CASE("bits: stream layout is key=(seed), counter=(block, stream)") {
  const std::uint64_t seed = 0x299f31d0a4093822ull, stream = 0x0370734413198a2eull;
  const std::uint64_t block = 0x05a308d3243f6a88ull;
  const std::uint32_t ctr[4] = {0x243f6a88u, 0x05a308d3u, 0x13198a2eu, 0x03707344u};
  const std::uint32_t key[2] = {0xa4093822u, 0x299f31d0u};
  std::uint32_t expect[4], w[6];
  rng::philox4x32_10(ctr, key, expect);
  rng::bits(seed, stream, block * 4 - 1, 6, w);
  for (int i = 0; i < 4; ++i) CHECK(w[i + 1] == expect[i]);
}

TEST_CASE("offsets: any window of a stream equals the same slice of the whole stream") {
  const std::size_t n = 1000;
  std::vector<double> all(n), part(n);
  std::vector<std::uint32_t> ball(n), bpart(n);
  rng::normal(7, 3, 0, n, all.data());
  rng::bits(7, 3, 0, n, ball.data());
  for (std::size_t off : {1u, 2u, 3u, 17u, 31u, 32u, 33u, 500u}) {
    std::size_t len = n - off;
    rng::normal(7, 3, off, len, part.data());
    for (std::size_t i = 0; i < len; ++i) CHECK(part[i] == all[off + i]);
    rng::bits(7, 3, off, len, bpart.data());
    for (std::size_t i = 0; i < len; ++i) CHECK(bpart[i] == ball[off + i]);
  }
  std::vector<double> u(n), u2(n);
  rng::uniform(7, 3, 0, n, u.data());
  rng::uniform(7, 3, 5, n - 5, u2.data());
  for (std::size_t i = 0; i + 5 < n; ++i) CHECK(u2[i] == u[i + 5]);
}

TEST_CASE("normals are identical with 1 and 2 threads") {
  const std::size_t n = (1u << 18) + 13;
  std::vector<double> a(n), b(n);
  int before = get_threads();
  set_threads(1);
  rng::normal(42, 9, 3, n, a.data());
  set_threads(2);
  rng::normal(42, 9, 3, n, b.data());
  set_threads(before);
  std::size_t diff = 0;
  for (std::size_t i = 0; i < n; ++i) diff += a[i] != b[i];
  CHECK(diff == 0);
}

TEST_CASE("log_unit and sincos_2pi agree with libm to a few ulp") {
  double worst_log = 0, worst_trig = 0;
  std::vector<double> u(200000);
  rng::uniform(1, 1, 0, u.size(), u.data());
  for (double x : u) {
    double v = 1.0 - x;
    double ref = std::log(v);
    double err = std::fabs(rng::log_unit(v) - ref) / (std::fabs(ref) + 1e-300);
    if (ref != 0 && err > worst_log) worst_log = err;
    double s, c;
    rng::sincos_2pi(x, &s, &c);
    double a = 2 * M_PI * x;
    worst_trig = std::fmax(worst_trig, std::fmax(std::fabs(s - std::sin(a)), std::fabs(c - std::cos(a))));
  }
  std::printf("  worst relative error: log %.3g, sin/cos %.3g\n", worst_log, worst_trig);
  CHECK(worst_log < 1e-15);  // ~4 ulp
  CHECK(worst_trig < 4e-15);  // 2πx itself is rounded in the libm reference
  CHECK(rng::log_unit(1.0) == 0.0);
  CHECK_CLOSE(rng::log_unit(0x1.0p-53), -53 * std::log(2.0), 1e-15, 0);
}

TEST_CASE("moments of 1e6 normals and uniforms") {
  const std::size_t n = 1000000;
  std::vector<double> z(n), u(n);
  rng::normal(2024, 0, 0, n, z.data());
  rng::uniform(2024, 1, 0, n, u.data());
  double m = 0, v = 0, k4 = 0, mu = 0, vu = 0;
  for (std::size_t i = 0; i < n; ++i) {
    m += z[i];
    mu += u[i];
  }
  m /= n;
  mu /= n;
  for (std::size_t i = 0; i < n; ++i) {
    double d = z[i] - m;
    v += d * d;
    k4 += d * d * d * d;
    vu += (u[i] - mu) * (u[i] - mu);
  }
  v /= n;
  k4 /= n;
  vu /= n;
  // 5-sigma bands: sd(mean)=1e-3, sd(var)=sqrt(2/n)=1.4e-3, sd(4th moment)=sqrt(96/n)≈9.8e-3
  CHECK(std::fabs(m) < 5e-3);
  CHECK(std::fabs(v - 1) < 7.1e-3);
  CHECK(std::fabs(k4 - 3) < 4.9e-2);
  CHECK(std::fabs(mu - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::fabs(vu - 1.0 / 12) < 5 * std::sqrt(1.0 / 180 / n));
  for (double x : u) CHECK(x >= 0.0 && x < 1.0);
}
TEST_MAIN()
