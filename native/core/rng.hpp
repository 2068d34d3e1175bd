// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11). A draw is a pure function of (seed, stream, index), so
// a stream is identical whatever the thread count, the chunking, or the device.
//
// Layout: key = (seed low 32 bits, seed high 32 bits); counter = (block low, block high,
// stream low, stream high). Block b gives four 32-bit words w0..w3:
//   bits    index i -> block i/4, word i%4
//   uniform index i -> block i/2, words (0,1) or (2,3) -> 53-bit double in [0, 1)
//   normal  batches of 32 blocks give 64 draws: draw i is in batch B = i/64, j = i%64; with
//           block b = 32·B + (j mod 32), u1 = 1 − U(w0,w1), u2 = U(w2,w3) (U: the top 52 bits of
//           the 64-bit word pair as a fraction), r = sqrt(−2 ln u1), the draw is r·cos(2πu2) for
//           j < 32 and r·sin(2πu2) for j ≥ 32 (Box–Muller; the two halves of a pair are 32 apart).
// The transcendental functions are the core's own (only +, −, ×, ÷, sqrt, fma; no FP contraction),
// so the numbers are bit-identical on every IEEE-754 machine.
#pragma once
#include <cstddef>
#include <cstdint>

namespace speedlimits::rng {

// One Philox4x32-10 block: out = Philox(counter, key).
void philox4x32_10(const std::uint32_t counter[4], const std::uint32_t key[2], std::uint32_t out[4]) noexcept;

// Fill out[0..n) with draws offset .. offset+n-1 of stream (seed, stream).
void bits(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, std::uint32_t* out);
void uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out);
void normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out);

// Scalar helpers exposed for tests and for code that needs a few values (same functions the
// vector paths use).
double log_unit(double u) noexcept;                       // ln(u), u in (0, 1]
void sincos_2pi(double u, double* s, double* c) noexcept;  // sin(2πu), cos(2πu), u in [0, 1)
// Box–Muller on given Philox words (4 per block), with the vectorised transform rng::normal uses:
// out[2b] = r·cos(2πu2), out[2b+1] = r·sin(2πu2) of block b. Lets tests feed extreme words.
void box_muller_words(const std::uint32_t* words, std::size_t nblocks, double* out) noexcept;

// A sequential cursor over one stream, for code that consumes draws a few at a time.
class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset = 0) noexcept
      : seed_(seed), stream_(stream), pos_(offset) {}
  void normal(double* out, std::size_t n) { rng::normal(seed_, stream_, pos_, n, out); pos_ += n; }
  void uniform(double* out, std::size_t n) { rng::uniform(seed_, stream_, pos_, n, out); pos_ += n; }
  std::uint64_t position() const noexcept { return pos_; }

 private:
  std::uint64_t seed_, stream_, pos_;
};

}  // namespace speedlimits::rng
