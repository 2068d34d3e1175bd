// FCN/CNN networks: spec validation, layout, init, forward, squared-loss gradients and the
// empirical NTK (see nets.hpp for the contract).
//
// Empirical NTK, structured (the n×P Jacobian is never formed):
//   one forward pass stores every layer input h_{l−1} (and z_l for erf/gelu, whose derivative
//   needs it; relu/tanh/linear derive φ′ from h); then one backward sweep from the readout down
//   keeps only the current Δ_l = ∂f_a/∂z_l for all outputs a (rows i·k + a) and adds layer l's
//   part of Θ before moving on:
//     dense layer: Θ += (s_l²·H_{l−1}H'ᵀ_{l−1} + sb_l²) ⊙ (Δ_l Δ'_lᵀ)   (row tiles of Θ; syrk
//                  for the symmetric case; trace mode contracts Δ as an n × k·w matrix),
//     readout:     Θ_(ia),(jb) += (s²·g_i·g_j + sb²)·δ_ab,
//     conv layer:  per-sample weight gradients G_(ia) = s·Δ_(ia)ᵀ·im2col(h_{i}) (+ bias:
//                  sb·Σ_p Δ), blocks of samples, Θ += G Gᵀ (syrk/gemm straight into Θ);
//                  Δ goes down through the transposed convolution as one im2col + gemm.
//   The symmetric case (x2 absent) computes the lower triangle and mirrors it (exact symmetry);
//   trace mode accumulates Σ_a Θ_aa and divides by k at the end.
//   Internally CNN activations are pixel-major (NHWC: rows (i, p), channels contiguous) and conv
//   weights are permuted to tap-major order, so an im2col row is 9 contiguous copies.
//
// Working memory of ntk() (elements of T unless stated; N = n1 (x2 absent) or n1 + n2, HW = 1
// for an FCN, c_j = widths[j], c_0' = input channels for a CNN (its NHWC copy of x) and 0 for an
// FCN, e = 2 for erf/gelu (z is kept for φ′) else 1, budgets of Budgets in nets.hpp):
//   activations  N·HW·(c_0' + e·Σ_j c_j) (+ N·c_L pooled, CNN), released layer by layer
//   deltas       k = 1: none (Δ_l overwrites h_l once h_l is used); k > 1: 2·N·HW·k·max_j c_j
//                (the current Δ and the next one)
//   dense tiles  ≤ tile budget (64 MiB): row tiles of H Hᵀ and Δ Δᵀ, n2·(1 + k²) elements per
//                row (n2·2 in trace mode), at least one sample row
//   CNN          ≤ grads budget (256 MiB) of per-sample gradients, k·(9·c_{j−1}·c_j + c_j) per
//                sample (beyond it: blocks of samples, recomputing the off-diagonal ones),
//                ≤ col budget (8 MiB, cache-sized: the gemm re-reads the im2col block at once) of
//                im2col (at least one sample), 2·P permuted weights
//   backprop     ≤ col budget of block scratch (k = 1, in-place Δ)
// Network::ntk_workspace_bytes() returns this bound (approximately, from above).
#include "core/nets.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace speedlimits::nets {

namespace {

using linalg::Trans;
using linalg::Uplo;
using std::size_t;

// Memory budgets (see Budgets in nets.hpp).
std::atomic<size_t> g_tile{Budgets{}.tile}, g_col{Budgets{}.col}, g_grads{Budgets{}.grads},
    g_forward{Budgets{}.forward};
size_t tile_bytes() { return std::max<size_t>(1, g_tile.load(std::memory_order_relaxed)); }
size_t col_bytes() { return std::max<size_t>(1, g_col.load(std::memory_order_relaxed)); }
size_t grads_bytes() { return std::max<size_t>(1, g_grads.load(std::memory_order_relaxed)); }
size_t forward_bytes() { return std::max<size_t>(1, g_forward.load(std::memory_order_relaxed)); }
constexpr size_t kParallelMin = 16384;              // elementwise work below which loops stay serial
constexpr size_t kGramBlock = 128;                  // float "syrk": recursive halving down to this

size_t mul_checked(size_t a, size_t b, const char* what) {
  if (a != 0 && b > std::numeric_limits<size_t>::max() / a)
    throw InvalidArgument(std::string(what) + ": size overflows size_t");
  return a * b;
}
size_t add_checked(size_t a, size_t b, const char* what) {
  if (b > std::numeric_limits<size_t>::max() - a)
    throw InvalidArgument(std::string(what) + ": size overflows size_t");
  return a + b;
}

bool go_parallel(size_t count, size_t work_each) {
  if (count < 2) return false;
  if (work_each != 0 && count > kParallelMin / work_each) return true;
  return count * work_each >= kParallelMin;
}

// f(i) for i in [0, count), static schedule (results never depend on the thread count: each
// index writes its own outputs).
template <class F>
void parallel_for(size_t count, size_t work_each, F&& f) {
  const bool par = go_parallel(count, work_each);
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (par)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i) f(static_cast<size_t>(i));
}

// Same with a per-thread scratch buffer of `buf` elements: f(i, T* scratch).
template <class T, class F>
void parallel_for_buf(size_t count, size_t work_each, size_t buf, F&& f) {
  const bool par = go_parallel(count, work_each);
#pragma omp parallel num_threads(get_threads()) if (par)
  {
    std::vector<T> scratch(buf);
#pragma omp for schedule(static)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i)
      f(static_cast<size_t>(i), scratch.data());
  }
}

// ---- activations ----------------------------------------------------------------------------
bool needs_preactivation(Activation a) { return a == Activation::Erf || a == Activation::Gelu; }

template <class T>
struct Consts {
  static constexpr T two_over_sqrt_pi = T(1.1283791670955125738961589031215452);
  static constexpr T inv_sqrt2 = T(0.7071067811865475244008443621048490);
  static constexpr T inv_sqrt_2pi = T(0.3989422804014326779399460599343819);
};

// h = φ(z); h may alias z.
template <class T>
void act_forward(Activation a, size_t m, const T* z, T* h) {
  switch (a) {
    case Activation::Relu:
      for (size_t i = 0; i < m; ++i) h[i] = z[i] > T(0) ? z[i] : T(0);
      break;
    case Activation::Erf:
      for (size_t i = 0; i < m; ++i) h[i] = std::erf(z[i]);
      break;
    case Activation::Tanh:
      for (size_t i = 0; i < m; ++i) h[i] = std::tanh(z[i]);
      break;
    case Activation::Linear:
      if (h != z) std::memcpy(h, z, m * sizeof(T));
      break;
    case Activation::Gelu:
      for (size_t i = 0; i < m; ++i) h[i] = z[i] * (T(0.5) * std::erfc(-z[i] * Consts<T>::inv_sqrt2));
      break;
  }
}

// d = φ′(z), from z (erf, gelu) or from h = φ(z) (relu: h > 0 ⇔ z > 0; tanh: 1 − h²; linear).
template <class T>
void act_deriv(Activation a, size_t m, const T* z, const T* h, T* d) {
  switch (a) {
    case Activation::Relu:
      for (size_t i = 0; i < m; ++i) d[i] = h[i] > T(0) ? T(1) : T(0);
      break;
    case Activation::Erf:
      for (size_t i = 0; i < m; ++i) d[i] = Consts<T>::two_over_sqrt_pi * std::exp(-z[i] * z[i]);
      break;
    case Activation::Tanh:
      for (size_t i = 0; i < m; ++i) d[i] = T(1) - h[i] * h[i];
      break;
    case Activation::Linear:
      for (size_t i = 0; i < m; ++i) d[i] = T(1);
      break;
    case Activation::Gelu:
      for (size_t i = 0; i < m; ++i) {
        const T x = z[i];
        d[i] = T(0.5) * std::erfc(-x * Consts<T>::inv_sqrt2) +
               x * Consts<T>::inv_sqrt_2pi * std::exp(T(-0.5) * x * x);
      }
      break;
  }
}

// ---- dense helpers --------------------------------------------------------------------------
// Lower triangle (diagonal included) of C = A Aᵀ + beta·C, A n×kd. double: syrk. float: recursive
// halving into gemms (the part above the diagonal inside the ≤ 128-row diagonal blocks is written
// too).
void gram_lower(size_t n, size_t kd, const double* A, size_t lda, double beta, double* C, size_t ldc) {
  linalg::syrk(Uplo::Lower, Trans::No, n, kd, 1.0, A, lda, beta, C, ldc);
}
void gram_lower(size_t n, size_t kd, const float* A, size_t lda, float beta, float* C, size_t ldc) {
  if (n <= kGramBlock) {
    linalg::gemm(Trans::No, Trans::Yes, n, n, kd, 1.0f, A, lda, A, lda, beta, C, ldc);
    return;
  }
  const size_t h = (n / 2 + 63) / 64 * 64;  // [A1; A2]: C11 = A1A1ᵀ, C21 = A2A1ᵀ, C22 = A2A2ᵀ
  gram_lower(h, kd, A, lda, beta, C, ldc);
  linalg::gemm(Trans::No, Trans::Yes, n - h, h, kd, 1.0f, A + h * lda, lda, A, lda, beta, C + h * ldc, ldc);
  gram_lower(n - h, kd, A + h * lda, lda, beta, C + h * ldc + h, ldc);
}

// Copy the strict lower triangle onto the upper one.
template <class T>
void mirror_lower(size_t n, T* C, size_t ldc) {
  constexpr size_t B = 64;
  const size_t nb = (n + B - 1) / B;
  parallel_for(nb, n * B, [&](size_t bi) {  // block row bi of the upper triangle
    const size_t r0 = bi * B, r1 = std::min(n, r0 + B);
    for (size_t c0 = r0; c0 < n; c0 += B) {
      const size_t c1 = std::min(n, c0 + B);
      for (size_t r = r0; r < r1; ++r)
        for (size_t c = std::max(c0, r + 1); c < c1; ++c) C[r * ldc + c] = C[c * ldc + r];
    }
  });
}

// out[c] = alpha · Σ_r A[r·lda + c] (fixed summation order).
template <class T>
void column_sums(const T* A, size_t rows, size_t cols, size_t lda, T alpha, T* out) {
  constexpr size_t B = 64;
  const size_t nb = (cols + B - 1) / B;
  parallel_for(nb, rows * B, [&](size_t bi) {
    const size_t c0 = bi * B, c1 = std::min(cols, c0 + B);
    T acc[B] = {};
    for (size_t r = 0; r < rows; ++r) {
      const T* row = A + r * lda;
      for (size_t c = c0; c < c1; ++c) acc[c - c0] += row[c];
    }
    for (size_t c = c0; c < c1; ++c) out[c] = alpha * acc[c - c0];
  });
}

// ---- buffers --------------------------------------------------------------------------------
// Uninitialised storage that only grows: the big per-call buffers are allocated once and reused
// across layers and blocks. On Linux, buffers of 4 MiB or more are 2 MiB-aligned and advised
// for transparent huge pages: a fresh 4 KiB page costs a fault and a kernel clear each, which
// was ~10 % of an FCN NTK.
void* big_alloc(size_t bytes) {
#if defined(__linux__)
  constexpr size_t kHuge = size_t(2) << 20;
  if (bytes >= 2 * kHuge) {
    const size_t sz = (bytes + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, sz);
    if (p == nullptr) throw std::bad_alloc();
    madvise(p, sz, MADV_HUGEPAGE);  // advisory: failure is harmless
    return p;
  }
#endif
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : p_(o.p_), cap_(o.cap_) {
    o.p_ = nullptr;
    o.cap_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(cap_, o.cap_);
    return *this;
  }
  ~Buffer() { std::free(p_); }
  T* ensure(size_t n) {
    if (n > cap_) {
      release();
      p_ = static_cast<T*>(big_alloc(mul_checked(n, sizeof(T), "nets: buffer")));
      cap_ = n;
    }
    return p_;
  }
  T* data() const { return p_; }
  void release() {
    std::free(p_);
    p_ = nullptr;
    cap_ = 0;
  }

 private:
  T* p_ = nullptr;
  size_t cap_ = 0;
};

// ---- forward state --------------------------------------------------------------------------
template <class T>
struct Acts {
  size_t n = 0;
  const T* x0 = nullptr;               // input of layer 0 (FCN: x; CNN: NHWC copy)
  Buffer<T> x0buf;
  std::vector<Buffer<T>> H, Z;         // per hidden layer: φ(z) and (erf/gelu) z, rows (i[, p])
  Buffer<T> pooled;                    // CNN: readout input [n, C]
  Buffer<T> f;                         // outputs [n, k]
};

template <class T>
class Engine {
 public:
  Engine(const Network& net, const T* params)
      : sp_(net.spec()), lay_(net.layers()), P_(params), L_(net.hidden_layers()), k_(net.output_dim()),
        cnn_(net.spec().type == NetType::Cnn), act_(net.spec().activation),
        need_z_(needs_preactivation(net.spec().activation)) {
    if (cnn_) {
      Hh_ = sp_.height;
      Ww_ = sp_.width;
      HW_ = Hh_ * Ww_;
      // Conv weights, t = 3·ky + kx:
      //   forward  W'[o][t·C_in + c] = W[o][c][t] (an im2col row is 9 contiguous pixel copies);
      //   backward Wb[t·C_out + o][c] = W[o][c][t] (the transposed conv as one gemm).
      wp_.resize(L_);
      wb_.resize(L_);
      for (size_t j = 0; j < L_; ++j) {
        const LayerPlan& l = lay_[j];
        const T* W = P_ + l.w_offset;
        wp_[j].resize(l.out * l.fan_in);
        if (j > 0) wb_[j].resize(l.out * l.fan_in);
        for (size_t o = 0; o < l.out; ++o)
          for (size_t c = 0; c < l.in; ++c)
            for (size_t t = 0; t < 9; ++t) {
              const T w = W[o * l.fan_in + c * 9 + t];
              wp_[j][o * l.fan_in + t * l.in + c] = w;
              if (j > 0) wb_[j][(t * l.out + o) * l.in + c] = w;
            }
      }
    }
  }

  size_t k() const { return k_; }
  size_t L() const { return L_; }
  bool cnn() const { return cnn_; }
  size_t HW() const { return HW_; }

  const T* layer_in(const Acts<T>& a, size_t j) const { return j == 0 ? a.x0 : a.H[j - 1].data(); }
  const T* readout_in(const Acts<T>& a) const { return cnn_ ? a.pooled.data() : layer_in(a, L_); }
  size_t readout_width() const { return lay_[L_].in; }

  // ---- forward ----
  void forward_store(const T* x, size_t n, Acts<T>& a) const {
    a.n = n;
    if (cnn_) {
      const size_t C0 = sp_.in_channels, hw = HW_;
      T* dst = a.x0buf.ensure(n * hw * C0);
      parallel_for(n, hw * C0, [&](size_t i) {
        for (size_t c = 0; c < C0; ++c) {
          const T* src = x + (i * C0 + c) * hw;
          for (size_t p = 0; p < hw; ++p) dst[(i * hw + p) * C0 + c] = src[p];
        }
      });
      a.x0 = dst;
    } else {
      a.x0 = x;
    }
    a.H.resize(L_);
    a.Z.resize(need_z_ ? L_ : 0);
    for (size_t j = 0; j < L_; ++j) {
      const LayerPlan& l = lay_[j];
      const size_t rows = n * HW_;
      T* h = a.H[j].ensure(rows * l.out);
      T* z = need_z_ ? a.Z[j].ensure(rows * l.out) : h;
      if (cnn_) {
        conv_forward(j, layer_in(a, j), n, z);
      } else {
        linalg::gemm(Trans::No, Trans::Yes, n, l.out, l.in, T(l.s), layer_in(a, j), l.in, P_ + l.w_offset, l.in,
                     T(0), z, l.out);
      }
      const T* b = l.has_bias ? P_ + l.b_offset : nullptr;
      const T sb = T(l.sb);
      const Activation act = act_;
      parallel_for(rows, l.out, [&](size_t r) {
        T* zr = z + r * l.out;
        if (b != nullptr)
          for (size_t o = 0; o < l.out; ++o) zr[o] += sb * b[o];
        act_forward(act, l.out, zr, h + r * l.out);
      });
    }
    if (cnn_) {
      const size_t C = readout_width(), hw = HW_;
      const T* src = layer_in(a, L_);
      T* pooled = a.pooled.ensure(n * C);
      const T thw = T(hw);
      parallel_for(n, hw * C, [&](size_t i) {
        T* acc = pooled + i * C;
        std::fill(acc, acc + C, T(0));
        for (size_t p = 0; p < hw; ++p) {
          const T* row = src + (i * hw + p) * C;
          for (size_t c = 0; c < C; ++c) acc[c] += row[c];
        }
        for (size_t c = 0; c < C; ++c) acc[c] /= thw;
      });
    }
    const LayerPlan& r = lay_[L_];
    T* f = a.f.ensure(n * k_);
    linalg::gemm(Trans::No, Trans::Yes, n, k_, r.in, T(r.s), readout_in(a), r.in, P_ + r.w_offset, r.in, T(0), f,
                 k_);
    if (r.has_bias) {
      const T* b = P_ + r.b_offset;
      const T sb = T(r.sb);
      for (size_t i = 0; i < n; ++i)
        for (size_t o = 0; o < k_; ++o) f[i * k_ + o] += sb * b[o];
    }
  }

  // Per-sample bytes of forward_store's activations (for forward() blocking).
  size_t sample_bytes() const {
    size_t e = cnn_ ? sp_.in_channels : 0;
    for (size_t j = 0; j < L_; ++j) e += lay_[j].out * (need_z_ ? 2 : 1);
    return (e * HW_ + readout_width() + k_) * sizeof(T);
  }

  // ---- derivative rows ----
  // d[0 .. count·c_j) = φ′ of hidden layer j on rows [r, r + count) (rows are samples or pixels).
  void dphi(const Acts<T>& a, size_t j, size_t r, size_t count, T* d) const {
    const size_t w = lay_[j].out;
    act_deriv(act_, count * w, need_z_ ? a.Z[j].data() + r * w : nullptr, a.H[j].data() + r * w, d);
  }

  // Δ of the top hidden layer for the NTK: ∂f_a/∂z_L, rows (i[, p], a), width c_L, into dst
  // (n·HW·k·c_L elements). With k = 1, dst may be a.H[L−1] itself (each row's φ′ is read first).
  void top_delta_ntk(const Acts<T>& a, T* dst) const {
    const size_t j = L_ - 1, w = lay_[j].out, rows = a.n * HW_;
    const LayerPlan& r = lay_[L_];
    std::vector<T> coef(k_ * w);  // s_out·W_out[a, c] (/ HW for the pooled CNN readout)
    for (size_t i = 0; i < k_ * w; ++i) {
      coef[i] = T(r.s) * P_[r.w_offset + i];
      if (cnn_) coef[i] /= T(HW_);
    }
    const size_t k = k_;
    parallel_for_buf<T>(rows, k * w, w, [&](size_t row, T* d) {
      dphi(a, j, row, 1, d);
      for (size_t o = 0; o < k; ++o) {
        T* out = dst + (row * k + o) * w;
        const T* cf = coef.data() + o * w;
        for (size_t c = 0; c < w; ++c) out[c] = cf[c] * d[c];
      }
    });
  }

  // Δ of the top hidden layer for the loss: ∂ℓ/∂z_L given the residual r [n, k]; rows (i[, p]),
  // into dst (may be a.H[L−1]).
  void top_delta_loss(const Acts<T>& a, const T* res, T* dst) const {
    const size_t j = L_ - 1, w = lay_[j].out, n = a.n;
    const LayerPlan& r = lay_[L_];
    std::vector<T> u(n * w);
    linalg::gemm(Trans::No, Trans::No, n, w, k_, T(r.s), res, k_, P_ + r.w_offset, w, T(0), u.data(), w);
    const size_t hw = HW_;
    const bool cnn = cnn_;
    parallel_for_buf<T>(n * hw, w, w, [&](size_t row, T* d) {
      dphi(a, j, row, 1, d);
      const T* ui = u.data() + (row / hw) * w;
      T* out = dst + row * w;
      if (cnn) {
        for (size_t c = 0; c < w; ++c) out[c] = (ui[c] / T(hw)) * d[c];
      } else {
        for (size_t c = 0; c < w; ++c) out[c] = ui[c] * d[c];
      }
    });
  }

  // Δ_{j−1} (into dst, n·HW·kk·c_{j−1} elements) from Δ_j (kk derivative rows per sample or
  // pixel): through W_j (the transposed convolution for a CNN), times φ′_{j−1}. In blocks of
  // samples; with kk = 1, dst may be a.H[j−1] itself (a block's φ′ is read before the block is
  // overwritten), which is how ntk() and loss_gradient() avoid a second Δ buffer.
  void backprop(const Acts<T>& a, size_t j, const T* D, size_t kk, T* dst) const {
    const LayerPlan& l = lay_[j];
    const size_t n = a.n, cin = l.in, cout = l.out, hw = HW_, K2 = 9 * cout;
    const bool alias = dst == a.H[j - 1].data();
    const size_t per = mul_checked(hw * kk, ((cnn_ ? K2 : 0) + (alias ? cin : 0) + 1) * sizeof(T), "backprop");
    const size_t B = std::max<size_t>(1, std::min(n, col_bytes() / per));
    T* col = cnn_ ? col_.ensure(B * hw * kk * K2) : nullptr;
    T* tmp = alias ? tmp_.ensure(B * hw * kk * cin) : nullptr;
    const bool lin = act_ == Activation::Linear;
    for (size_t i0 = 0; i0 < n; i0 += B) {
      const size_t nb = std::min(B, n - i0);
      T* out = alias ? tmp : dst + i0 * hw * kk * cin;
      if (cnn_) {
        // Δ_{j−1}[q, c] = s·Σ_{t,o} Δ_j[q − off_t, o]·W[o, c, t]
        im2col(D, cout, kk, i0, nb, true, col);
        linalg::gemm(Trans::No, Trans::No, nb * hw * kk, cin, K2, T(l.s), col, K2, wb_[j].data(), cin, T(0), out,
                     cin);
      } else {
        linalg::gemm(Trans::No, Trans::No, nb * kk, cin, cout, T(l.s), D + i0 * kk * cout, cout, P_ + l.w_offset, cin,
                     T(0), out, cin);
      }
      if (lin && !alias) continue;
      parallel_for_buf<T>(nb * hw, kk * cin, cin, [&](size_t rb, T* d) {  // rb: sample (FCN) or pixel in block
        const size_t r = i0 * hw + rb;
        if (!lin) dphi(a, j - 1, r, 1, d);
        for (size_t o = 0; o < kk; ++o) {
          const T* src = out + (rb * kk + o) * cin;
          T* row = dst + (r * kk + o) * cin;
          if (lin)
            std::memcpy(row, src, cin * sizeof(T));
          else
            for (size_t c = 0; c < cin; ++c) row[c] = src[c] * d[c];
        }
      });
    }
  }

  // ---- conv pieces ----
  // im2col over samples [i0, i0 + nb) of `in` (rows (i, p, a), kk rows per pixel, C channels):
  //   col[((i − i0)·HW + p)·kk + a][t·C + c] = in[i, p + off_t, a, c] (0 outside the image),
  // off_t = (ky − 1, kx − 1); back = true uses p − off_t (the transposed convolution).
  void im2col(const T* in, size_t C, size_t kk, size_t i0, size_t nb, bool back, T* col) const {
    const size_t hw = HW_, K = 9 * C;
    const std::ptrdiff_t H = static_cast<std::ptrdiff_t>(Hh_), W = static_cast<std::ptrdiff_t>(Ww_);
    const std::ptrdiff_t sg = back ? -1 : 1;
    parallel_for(nb * hw, kk * K, [&](size_t r) {
      const size_t i = i0 + r / hw, p = r % hw;
      const std::ptrdiff_t y = static_cast<std::ptrdiff_t>(p / Ww_), x = static_cast<std::ptrdiff_t>(p % Ww_);
      for (size_t t = 0; t < 9; ++t) {
        const std::ptrdiff_t yy = y + sg * (static_cast<std::ptrdiff_t>(t / 3) - 1);
        const std::ptrdiff_t xx = x + sg * (static_cast<std::ptrdiff_t>(t % 3) - 1);
        const bool inside = yy >= 0 && yy < H && xx >= 0 && xx < W;
        const T* src = inside ? in + ((i * hw + static_cast<size_t>(yy * W + xx)) * kk) * C : nullptr;
        for (size_t a = 0; a < kk; ++a) {
          T* dst = col + (r * kk + a) * K + t * C;
          if (inside)
            std::memcpy(dst, src + a * C, C * sizeof(T));
          else
            std::fill(dst, dst + C, T(0));
        }
      }
    });
  }

  size_t col_block(size_t j, size_t n) const {
    const size_t per = mul_checked(HW_, lay_[j].fan_in * sizeof(T), "im2col");
    return std::max<size_t>(1, std::min(n, col_bytes() / std::max<size_t>(per, 1)));
  }

  void conv_forward(size_t j, const T* in, size_t n, T* z) const {
    const LayerPlan& l = lay_[j];
    const size_t K = l.fan_in, B = col_block(j, n);
    T* col = col_.ensure(B * HW_ * K);
    for (size_t i0 = 0; i0 < n; i0 += B) {
      const size_t nb = std::min(B, n - i0);
      im2col(in, l.in, 1, i0, nb, false, col);
      linalg::gemm(Trans::No, Trans::Yes, nb * HW_, l.out, K, T(l.s), col, K, wp_[j].data(), K, T(0),
                   z + i0 * HW_ * l.out, l.out);
    }
  }

  // Σ over samples of conv layer j's weight gradient: gW' (c_out × 9·c_in, tap-major) =
  // s·Σ_{i,p} Δ[i, p, :] ⊗ col_i[p, :] (one derivative row per pixel).
  void conv_weight_grad_sum(const Acts<T>& a, size_t j, const T* D, T* gp) const {
    const LayerPlan& l = lay_[j];
    const size_t K = l.fan_in, n = a.n, B = col_block(j, n);
    T* col = col_.ensure(B * HW_ * K);
    for (size_t i0 = 0; i0 < n; i0 += B) {
      const size_t nb = std::min(B, n - i0);
      im2col(layer_in(a, j), l.in, 1, i0, nb, false, col);
      linalg::gemm(Trans::Yes, Trans::No, l.out, K, nb * HW_, T(l.s), D + i0 * HW_ * l.out, l.out, col, K,
                   i0 == 0 ? T(0) : T(1), gp, K);
    }
  }

  // Per-sample gradients of conv layer j for samples [i0, i0 + nb), kk rows per sample:
  // G[(i − i0)·kk + a] (c_out·9·c_in, tap-major order) = s·Σ_p Δ[i, p, a, :] ⊗ col_i[p, :],
  // Gb[(i − i0)·kk + a] (c_out, when bias) = sb·Σ_p Δ[i, p, a, :].
  void conv_grads(const Acts<T>& a, size_t j, const T* D, size_t kk, size_t i0, size_t nb, T* G, T* Gb) const {
    const LayerPlan& l = lay_[j];
    const size_t K = l.fan_in, cout = l.out, PW = cout * K, hw = HW_;
    const size_t B = col_block(j, nb);
    T* col = col_.ensure(B * hw * K);
    const T* in = layer_in(a, j);
    for (size_t b0 = i0; b0 < i0 + nb; b0 += B) {
      const size_t nbb = std::min(B, i0 + nb - b0);
      im2col(in, l.in, 1, b0, nbb, false, col);
      for (size_t i = b0; i < b0 + nbb; ++i)
        linalg::gemm(Trans::Yes, Trans::No, kk * cout, K, hw, T(l.s), D + i * hw * kk * cout, kk * cout,
                     col + (i - b0) * hw * K, K, T(0), G + (i - i0) * kk * PW, K);
    }
    if (Gb != nullptr) {
      const T sb = T(l.sb);
      parallel_for(nb, hw * kk * cout, [&](size_t ib) {
        T* dst = Gb + ib * kk * cout;
        std::fill(dst, dst + kk * cout, T(0));
        const T* src = D + (i0 + ib) * hw * kk * cout;
        for (size_t p = 0; p < hw; ++p)
          for (size_t e = 0; e < kk * cout; ++e) dst[e] += src[p * kk * cout + e];
        for (size_t e = 0; e < kk * cout; ++e) dst[e] *= sb;
      });
    }
  }

  // Tap-major W' [c_out][9·c_in] → PyTorch order [c_out][c_in][3][3].
  void unpermute(size_t j, const T* gp, T* g) const {
    const LayerPlan& l = lay_[j];
    for (size_t o = 0; o < l.out; ++o)
      for (size_t c = 0; c < l.in; ++c)
        for (size_t t = 0; t < 9; ++t) g[o * l.fan_in + c * 9 + t] = gp[o * l.fan_in + t * l.in + c];
  }

  // ---- NTK pieces ----
  // Θ += (s²·H1 H2ᵀ + sb²) ⊙ (D1 D2ᵀ) with the output structure; D1 == nullptr: the readout
  // (Δ = identity over outputs). same: H2 = H1, D2 = D1, lower triangle only.
  void dense_contrib(const T* H1, size_t n1, const T* H2, size_t n2, size_t fin, double s, double sb, const T* D1,
                     const T* D2, size_t w, bool same, bool trace, T* out, const Control& ctl) const {
    const size_t k = k_, kr = trace ? 1 : k, ldo = n2 * kr;
    const T s2 = T(s * s), sb2 = T(sb * sb);
    const bool has_d = D1 != nullptr;
    const size_t per_row = n2 * (1 + (has_d ? kr * kr : 0)) * sizeof(T);
    const size_t tr = std::max<size_t>(1, std::min(n1, tile_bytes() / std::max<size_t>(per_row, 1)));
    T* A = tileA_.ensure(tr * n2);
    T* Dm = has_d ? tileD_.ensure(tr * kr * n2 * kr) : nullptr;
    const size_t inner = trace ? k * w : w;  // Δ as (n·k × w) or (n × k·w): same memory
    for (size_t r0 = 0; r0 < n1; r0 += tr) {
      ctl.check();
      const size_t r1 = std::min(n1, r0 + tr), m = r1 - r0, nc = same ? r1 : n2;
      const T* Hr = H1 + r0 * fin;
      if (same) {
        if (r0 > 0) linalg::gemm(Trans::No, Trans::Yes, m, r0, fin, T(1), Hr, fin, H1, fin, T(0), A, nc);
        gram_lower(m, fin, Hr, fin, T(0), A + r0, nc);
      } else {
        linalg::gemm(Trans::No, Trans::Yes, m, n2, fin, T(1), Hr, fin, H2, fin, T(0), A, nc);
      }
      const size_t ldd = nc * kr;
      if (has_d) {
        const T* Dr = D1 + r0 * k * w;
        if (same) {
          if (r0 > 0)
            linalg::gemm(Trans::No, Trans::Yes, m * kr, r0 * kr, inner, T(1), Dr, inner, D1, inner, T(0), Dm, ldd);
          gram_lower(m * kr, inner, Dr, inner, T(0), Dm + r0 * kr, ldd);
        } else {
          linalg::gemm(Trans::No, Trans::Yes, m * kr, n2 * kr, inner, T(1), Dr, inner, D2, inner, T(0), Dm, ldd);
        }
      }
      parallel_for_buf<T>(m, nc * kr * kr, nc, [&](size_t ii, T* cv) {
        const size_t i = r0 + ii, jend = same ? i + 1 : n2;
        for (size_t j = 0; j < jend; ++j) cv[j] = s2 * A[ii * nc + j] + sb2;
        if (trace) {
          T* orow = out + i * ldo;
          if (has_d) {
            const T* drow = Dm + ii * ldd;
            for (size_t j = 0; j < jend; ++j) orow[j] += cv[j] * drow[j];
          } else {
            const T kk = T(k);
            for (size_t j = 0; j < jend; ++j) orow[j] += kk * cv[j];
          }
          return;
        }
        for (size_t a = 0; a < k; ++a) {
          T* orow = out + (i * k + a) * ldo;
          if (!has_d) {
            for (size_t j = 0; j < jend; ++j) orow[j * k + a] += cv[j];
            continue;
          }
          const T* drow = Dm + (ii * k + a) * ldd;
          const size_t jfull = same ? i : n2;  // same: the diagonal sample block only b ≤ a
          for (size_t j = 0; j < jfull; ++j)
            for (size_t b = 0; b < k; ++b) orow[j * k + b] += cv[j] * drow[j * k + b];
          if (same)
            for (size_t b = 0; b <= a; ++b) orow[i * k + b] += cv[i] * drow[i * k + b];
        }
      });
    }
  }

  // Θ += G1 G2ᵀ over conv layer j's weights (and bias), in blocks of samples.
  void conv_contrib(size_t j, const Acts<T>& a1, const T* D1, const Acts<T>* a2, const T* D2, bool trace, T* out,
                    const Control& ctl) const {
    const LayerPlan& l = lay_[j];
    const bool same = a2 == nullptr;
    const size_t n1 = a1.n, n2 = same ? n1 : a2->n, k = k_, kr = trace ? 1 : k;
    const size_t ldo = n2 * kr;
    const size_t PW = l.out * l.fan_in, PB = l.has_bias ? l.out : 0;
    const size_t bps = mul_checked(k * (PW + PB), sizeof(T), "ntk");
    const size_t total = same ? n1 : n1 + n2;
    size_t B1 = n1, B2 = n2;
    if (total > grads_bytes() / bps) B1 = B2 = std::max<size_t>(1, grads_bytes() / (2 * bps));
    B1 = std::min(B1, n1);
    B2 = std::min(B2, n2);
    T* G1 = G1_.ensure(B1 * k * PW);
    T* Gb1 = PB ? Gb1_.ensure(B1 * k * PB) : nullptr;
    const size_t B2buf = same ? (B1 < n1 ? B1 : 0) : B2;
    T* G2 = B2buf ? G2_.ensure(B2buf * k * PW) : nullptr;
    T* Gb2 = B2buf && PB ? Gb2_.ensure(B2buf * k * PB) : nullptr;
    const size_t innerW = trace ? k * PW : PW, innerB = trace ? k * PB : PB;
    // ra, rb: sample counts (the views have ra·kr, rb·kr rows)
    auto add = [&](const T* Ga, const T* Gba, size_t ra, const T* Gbm, const T* Gbb, size_t rb, T* C, bool diag) {
      if (diag) {
        gram_lower(ra * kr, innerW, Ga, innerW, T(1), C, ldo);
        if (PB) gram_lower(ra * kr, innerB, Gba, innerB, T(1), C, ldo);
      } else {
        linalg::gemm(Trans::No, Trans::Yes, ra * kr, rb * kr, innerW, T(1), Ga, innerW, Gbm, innerW, T(1), C, ldo);
        if (PB)
          linalg::gemm(Trans::No, Trans::Yes, ra * kr, rb * kr, innerB, T(1), Gba, innerB, Gbb, innerB, T(1), C, ldo);
      }
    };
    size_t cached = std::numeric_limits<size_t>::max();  // x2 block held in G2
    for (size_t i0 = 0; i0 < n1; i0 += B1) {
      ctl.check();
      const size_t ni = std::min(B1, n1 - i0);
      conv_grads(a1, j, D1, k, i0, ni, G1, Gb1);
      if (same) {
        add(G1, Gb1, ni, nullptr, nullptr, 0, out + (i0 * kr) * ldo + i0 * kr, true);
        for (size_t j0 = 0; j0 < i0; j0 += B1) {
          ctl.check();
          const size_t nj = std::min(B1, n1 - j0);
          conv_grads(a1, j, D1, k, j0, nj, G2, Gb2);
          add(G1, Gb1, ni, G2, Gb2, nj, out + (i0 * kr) * ldo + j0 * kr, false);
        }
      } else {
        for (size_t j0 = 0; j0 < n2; j0 += B2) {
          ctl.check();
          const size_t nj = std::min(B2, n2 - j0);
          if (cached != j0) {
            conv_grads(*a2, j, D2, k, j0, nj, G2, Gb2);
            cached = j0;
          }
          add(G1, Gb1, ni, G2, Gb2, nj, out + (i0 * kr) * ldo + j0 * kr, false);
        }
      }
    }
  }

  // Frees the scratch that is only needed by one layer kind (before the big allocations of
  // the next phase).
  void release_scratch() const {
    tileA_.release();
    tileD_.release();
  }

 private:
  const NetSpec& sp_;
  const std::vector<LayerPlan>& lay_;
  const T* P_;
  size_t L_, k_;
  bool cnn_;
  Activation act_;
  bool need_z_;
  size_t Hh_ = 1, Ww_ = 1, HW_ = 1;
  std::vector<std::vector<T>> wp_, wb_;
  mutable Buffer<T> col_, tmp_, tileA_, tileD_, G1_, G2_, Gb1_, Gb2_;
};

}  // namespace

Budgets budgets() noexcept {
  Budgets b;
  b.tile = g_tile.load();
  b.col = g_col.load();
  b.grads = g_grads.load();
  b.forward = g_forward.load();
  return b;
}
void set_budgets(const Budgets& b) noexcept {
  g_tile.store(b.tile);
  g_col.store(b.col);
  g_grads.store(b.grads);
  g_forward.store(b.forward);
}

// ---- spec ------------------------------------------------------------------------------------
const char* activation_name(Activation a) noexcept {
  switch (a) {
    case Activation::Relu: return "relu";
    case Activation::Erf: return "erf";
    case Activation::Tanh: return "tanh";
    case Activation::Linear: return "linear";
    case Activation::Gelu: return "gelu";
  }
  return "unknown";
}

void validate_spec(const NetSpec& s) {
  const int type = static_cast<int>(s.type);
  if (type != static_cast<int>(NetType::Fcn) && type != static_cast<int>(NetType::Cnn))
    throw InvalidArgument("NetSpec.type: unknown network type " + std::to_string(type));
  const int act = static_cast<int>(s.activation);
  if (act < static_cast<int>(Activation::Relu) || act > static_cast<int>(Activation::Gelu))
    throw InvalidArgument("NetSpec.activation: unknown activation " + std::to_string(act));
  const int par = static_cast<int>(s.parameterization);
  if (par != static_cast<int>(Parameterization::Ntk) && par != static_cast<int>(Parameterization::Standard))
    throw InvalidArgument("NetSpec.parameterization: unknown parameterization " + std::to_string(par));
  if (s.type == NetType::Fcn) {
    if (s.input_dim == 0) throw InvalidArgument("NetSpec.input_dim must be >= 1");
  } else {
    if (s.in_channels == 0) throw InvalidArgument("NetSpec.in_channels (inputShape[0]) must be >= 1");
    if (s.height == 0) throw InvalidArgument("NetSpec.height (inputShape[1]) must be >= 1");
    if (s.width == 0) throw InvalidArgument("NetSpec.width (inputShape[2]) must be >= 1");
    if (s.kernel != 3) throw InvalidArgument("NetSpec.kernel must be 3, got " + std::to_string(s.kernel));
  }
  for (size_t i = 0; i < s.widths.size(); ++i)
    if (s.widths[i] == 0) throw InvalidArgument("NetSpec.widths[" + std::to_string(i) + "] must be >= 1");
  if (s.output_dim == 0) throw InvalidArgument("NetSpec.output_dim must be >= 1");
  if (!std::isfinite(s.sigma_w) || s.sigma_w < 0)
    throw InvalidArgument("NetSpec.sigma_w must be finite and >= 0, got " + std::to_string(s.sigma_w));
  if (!std::isfinite(s.sigma_b) || s.sigma_b < 0)
    throw InvalidArgument("NetSpec.sigma_b must be finite and >= 0, got " + std::to_string(s.sigma_b));
}

Network::Network(const NetSpec& spec) : spec_(spec) {
  validate_spec(spec_);
  const bool cnn = spec_.type == NetType::Cnn;
  const bool ntk = spec_.parameterization == Parameterization::Ntk;
  if (cnn) {
    input_size_ = mul_checked(mul_checked(spec_.in_channels, spec_.height, "NetSpec input shape"), spec_.width,
                              "NetSpec input shape");
  } else {
    input_size_ = spec_.input_dim;
  }
  size_t offset = 0;
  auto add_layer = [&](bool conv, size_t in, size_t out, const std::string& wname, const std::string& bname) {
    LayerPlan l;
    l.conv = conv;
    l.in = in;
    l.out = out;
    l.fan_in = conv ? mul_checked(in, 9, "NetSpec") : in;
    l.has_bias = spec_.bias;
    l.s = ntk ? spec_.sigma_w / std::sqrt(static_cast<double>(l.fan_in)) : 1.0;
    l.sb = spec_.bias ? (ntk ? spec_.sigma_b : 1.0) : 0.0;
    TensorInfo w;
    w.name = wname;
    w.shape = conv ? std::vector<size_t>{out, in, 3, 3} : std::vector<size_t>{out, in};
    w.offset = offset;
    w.size = mul_checked(out, l.fan_in, "NetSpec parameter count");
    w.fan_in = l.fan_in;
    l.w_offset = offset;
    offset = add_checked(offset, w.size, "NetSpec parameter count");
    layout_.push_back(w);
    if (spec_.bias) {
      TensorInfo b;
      b.name = bname;
      b.shape = {out};
      b.offset = offset;
      b.size = out;
      b.fan_in = l.fan_in;
      l.b_offset = offset;
      offset = add_checked(offset, out, "NetSpec parameter count");
      layout_.push_back(b);
    }
    layers_.push_back(l);
  };
  size_t prev = cnn ? spec_.in_channels : spec_.input_dim;
  for (size_t j = 0; j < spec_.widths.size(); ++j) {
    const std::string idx = std::to_string(j + 1);
    if (cnn)
      add_layer(true, prev, spec_.widths[j], "conv" + idx + ".W", "conv" + idx + ".b");
    else
      add_layer(false, prev, spec_.widths[j], "W" + idx, "b" + idx);
    prev = spec_.widths[j];
  }
  add_layer(false, prev, spec_.output_dim, "W_out", "b_out");
  num_params_ = offset;
}

void Network::init(std::uint64_t seed, std::uint64_t stream, double* params) const {
  if (num_params_ == 0) return;
  if (params == nullptr) throw InvalidArgument("Network::init: params is null");
  // Parameter p is normal draw p of (seed, stream): tensor t uses draws [offset_t, offset_t + size_t).
  rng::normal(seed, stream, 0, num_params_, params);
  if (spec_.parameterization == Parameterization::Standard) {
    for (const LayerPlan& l : layers_) {
      const double sw = spec_.sigma_w / std::sqrt(static_cast<double>(l.fan_in));
      for (size_t i = 0; i < l.out * l.fan_in; ++i) params[l.w_offset + i] *= sw;
      if (l.has_bias)
        for (size_t i = 0; i < l.out; ++i) params[l.b_offset + i] *= spec_.sigma_b;
    }
  }
}

// ---- forward ---------------------------------------------------------------------------------
template <typename T>
void Network::forward(const T* params, const T* x, std::size_t n, T* out) const {
  if (n == 0) return;
  if (params == nullptr || x == nullptr || out == nullptr) throw InvalidArgument("Network::forward: null pointer");
  Engine<T> e(*this, params);
  const size_t B = std::max<size_t>(1, std::min(n, forward_bytes() / std::max<size_t>(e.sample_bytes(), 1)));
  const size_t k = spec_.output_dim;
  Acts<T> a;
  for (size_t i0 = 0; i0 < n; i0 += B) {
    const size_t nb = std::min(B, n - i0);
    e.forward_store(x + i0 * input_size_, nb, a);
    std::memcpy(out + i0 * k, a.f.data(), nb * k * sizeof(T));
  }
}

// ---- loss gradient ---------------------------------------------------------------------------
template <typename T>
double Network::loss_gradient(const T* params, const T* x, const T* y, std::size_t n, Nullable<T> grad,
                              Nullable<T> per_sample) const {
  const size_t P = num_params_, k = spec_.output_dim;
  if (n == 0) {
    if (grad != nullptr) std::fill(grad, grad + P, T(0));
    return 0.0;
  }
  if (params == nullptr || x == nullptr || y == nullptr)
    throw InvalidArgument("Network::loss_gradient: null pointer");
  if (per_sample != nullptr) mul_checked(n, P, "Network::loss_gradient per_sample");
  Engine<T> e(*this, params);
  Acts<T> a;
  e.forward_store(x, n, a);
  std::vector<T> r(n * k);
  double loss = 0;
  for (size_t i = 0; i < n * k; ++i) {
    r[i] = a.f.data()[i] - y[i];
    loss += 0.5 * static_cast<double>(r[i]) * static_cast<double>(r[i]);
  }
  a.f.release();
  if (grad == nullptr && per_sample == nullptr) return loss;
  const size_t L = e.L(), hw = e.HW();
  // readout
  {
    const LayerPlan& l = layers_[L];
    const T* hin = e.readout_in(a);
    const size_t C = l.in;
    if (grad != nullptr) {
      linalg::gemm(Trans::Yes, Trans::No, k, C, n, T(l.s), r.data(), k, hin, C, T(0), grad + l.w_offset, C);
      if (l.has_bias) column_sums(r.data(), n, k, k, T(l.sb), grad + l.b_offset);
    }
    if (per_sample != nullptr) {
      const T s = T(l.s), sb = T(l.sb);
      parallel_for(n, k * C, [&](size_t i) {
        T* row = per_sample + i * P;
        for (size_t o = 0; o < k; ++o) {
          const T ro = s * r[i * k + o];
          for (size_t c = 0; c < C; ++c) row[l.w_offset + o * C + c] = ro * hin[i * C + c];
          if (l.has_bias) row[l.b_offset + o] = sb * r[i * k + o];
        }
      });
    }
  }
  if (L == 0) return loss;
  // Δ_l lives in the storage of h_l (the top Δ overwrites h_L, each backprop step h_{l−1}):
  // every layer's input is used before it is overwritten.
  e.top_delta_loss(a, r.data(), a.H[L - 1].data());
  for (size_t jj = L; jj-- > 0;) {
    const LayerPlan& l = layers_[jj];
    const T* hin = e.layer_in(a, jj);
    const T* D = a.H[jj].data();
    const T s = T(l.s), sb = T(l.sb);
    if (!e.cnn()) {
      const size_t fin = l.in, w = l.out;
      if (grad != nullptr) {
        linalg::gemm(Trans::Yes, Trans::No, w, fin, n, s, D, w, hin, fin, T(0), grad + l.w_offset, fin);
        if (l.has_bias) column_sums(D, n, w, w, sb, grad + l.b_offset);
      }
      if (per_sample != nullptr) {
        parallel_for(n, w * fin, [&](size_t i) {
          T* row = per_sample + i * P;
          for (size_t u = 0; u < w; ++u) {
            const T du = s * D[i * w + u];
            T* dst = row + l.w_offset + u * fin;
            for (size_t v = 0; v < fin; ++v) dst[v] = du * hin[i * fin + v];
            if (l.has_bias) row[l.b_offset + u] = sb * D[i * w + u];
          }
        });
      }
    } else {
      const size_t cout = l.out, PW = cout * l.fan_in;
      if (grad != nullptr) {
        std::vector<T> gp(PW);
        e.conv_weight_grad_sum(a, jj, D, gp.data());
        e.unpermute(jj, gp.data(), grad + l.w_offset);
        if (l.has_bias) column_sums(D, n * hw, cout, cout, sb, grad + l.b_offset);
      }
      if (per_sample != nullptr) {
        const size_t B = std::max<size_t>(1, std::min(n, col_bytes() / std::max<size_t>(PW * sizeof(T), 1)));
        std::vector<T> G(B * PW), Gb(l.has_bias ? B * cout : 0);
        for (size_t i0 = 0; i0 < n; i0 += B) {
          const size_t nb = std::min(B, n - i0);
          e.conv_grads(a, jj, D, 1, i0, nb, G.data(), l.has_bias ? Gb.data() : nullptr);
          parallel_for(nb, PW, [&](size_t ib) {
            T* row = per_sample + (i0 + ib) * P;
            e.unpermute(jj, G.data() + ib * PW, row + l.w_offset);
            if (l.has_bias) std::memcpy(row + l.b_offset, Gb.data() + ib * cout, cout * sizeof(T));
          });
        }
      }
    }
    if (jj > 0) {
      e.backprop(a, jj, D, 1, a.H[jj - 1].data());
      a.H[jj].release();
      if (!a.Z.empty()) a.Z[jj].release();
    }
  }
  return loss;
}

// ---- empirical NTK ---------------------------------------------------------------------------
template <typename T>
void Network::ntk(const T* params, const T* x1, std::size_t n1, Nullable<const T> x2, std::size_t n2, bool trace,
                  T* out, const Control& control) const {
  bool same = x2 == nullptr;
  if (same) {
    if (n2 != 0 && n2 != n1)
      throw ShapeError("Network::ntk: x2 is absent (x2 = x1) but n2 = " + std::to_string(n2) + " != n1 = " +
                       std::to_string(n1));
    n2 = n1;
  } else if (x2 == x1 && n2 == n1) {
    same = true;
  }
  const size_t k = spec_.output_dim, kr = trace ? 1 : k;
  const size_t R = mul_checked(n1, kr, "Network::ntk"), C = mul_checked(n2, kr, "Network::ntk");
  const size_t total = mul_checked(R, C, "Network::ntk");
  if (total == 0) {
    control.report(1.0);
    return;
  }
  if (params == nullptr || x1 == nullptr || out == nullptr) throw InvalidArgument("Network::ntk: null pointer");
  control.check();
  Engine<T> e(*this, params);
  Acts<T> a1, a2;
  e.forward_store(x1, n1, a1);
  a1.f.release();
  if (!same) {
    e.forward_store(x2, n2, a2);
    a2.f.release();
  }
  const Acts<T>& b2 = same ? a1 : a2;
  parallel_for(R, C, [&](size_t i) { std::fill(out + i * C, out + (i + 1) * C, T(0)); });
  const size_t L = e.L();
  const double steps = static_cast<double>(L + 1);
  control.check();
  {
    const LayerPlan& l = layers_[L];
    e.dense_contrib(e.readout_in(a1), n1, e.readout_in(b2), n2, l.in, l.s, l.sb, nullptr, nullptr, 0, same, trace,
                    out, control);
    a1.pooled.release();
    a2.pooled.release();
    if (e.cnn()) e.release_scratch();
  }
  control.report(1.0 / steps);
  if (L > 0) {
    // Δ of the current layer for x1 (D1) and x2 (D2). k = 1: Δ_l lives in the storage of h_l (the
    // top Δ overwrites h_L, each backprop step h_{l−1}; every h is used before it is
    // overwritten), so no Δ buffers are allocated. k > 1: two ping-pong buffers per input.
    Buffer<T> B1[2], B2[2];
    int cur = 0;
    auto top = [&](Acts<T>& a, Buffer<T>* buf) -> T* {
      T* d = k == 1 ? a.H[L - 1].data() : buf[0].ensure(a.n * e.HW() * k * layers_[L - 1].out);
      e.top_delta_ntk(a, d);
      return d;
    };
    T* D1 = top(a1, B1);
    T* D2 = same ? nullptr : top(a2, B2);
    for (size_t jj = L; jj-- > 0;) {
      control.check();
      const LayerPlan& l = layers_[jj];
      if (e.cnn())
        e.conv_contrib(jj, a1, D1, same ? nullptr : &a2, D2, trace, out, control);
      else
        e.dense_contrib(e.layer_in(a1, jj), n1, e.layer_in(b2, jj), n2, l.in, l.s, l.sb, D1, D2, l.out, same, trace,
                        out, control);
      if (jj > 0) {
        auto down = [&](Acts<T>& a, const T* D, Buffer<T>* buf) -> T* {
          T* d = k == 1 ? a.H[jj - 1].data() : buf[1 - cur].ensure(a.n * e.HW() * k * l.in);
          e.backprop(a, jj, D, k, d);
          // h_jj (the input of layer jj + 1, or Δ_jj's storage when k = 1) is no longer needed.
          a.H[jj].release();
          if (!a.Z.empty()) a.Z[jj].release();
          return d;
        };
        D1 = down(a1, D1, B1);
        if (!same) D2 = down(a2, D2, B2);
        cur = 1 - cur;
      }
      control.report(static_cast<double>(L + 1 - jj) / steps);
    }
  }
  if (same) mirror_lower(R, out, C);
  if (trace && k > 1) {
    const T inv = T(1) / T(k);
    parallel_for(R, C, [&](size_t i) {
      for (size_t j = 0; j < C; ++j) out[i * C + j] *= inv;
    });
  }
  control.report(1.0);
}

std::size_t Network::ntk_workspace_bytes(std::size_t n1, std::size_t n2, bool same, bool trace,
                                         std::size_t elem_size) const {
  const bool cnn = spec_.type == NetType::Cnn;
  const size_t N = same ? n1 : n1 + n2, nn2 = same ? n1 : n2, k = spec_.output_dim, kr = trace ? 1 : k;
  const size_t hw = cnn ? spec_.height * spec_.width : 1;
  const size_t e = needs_preactivation(spec_.activation) ? 2 : 1;
  const size_t L = hidden_layers();
  size_t acts = cnn ? spec_.in_channels : 0, maxw = 0;
  for (size_t j = 0; j < L; ++j) {
    acts += e * layers_[j].out;
    maxw = std::max(maxw, layers_[j].out);
  }
  double bytes = static_cast<double>(N) * hw * acts + (cnn ? double(N) * layers_[L].in : 0.0) +
                 (k > 1 ? 2.0 * N * hw * k * maxw : 0.0);
  bytes *= static_cast<double>(elem_size);
  if (L > 1 && k == 1) bytes += static_cast<double>(col_bytes());
  {  // dense row tiles (FCN layers and every readout)
    const double per_row = static_cast<double>(nn2) * (1 + (L > 0 && !cnn ? kr * kr : 0)) * elem_size;
    bytes += std::min(static_cast<double>(tile_bytes()), per_row * n1) + per_row;
  }
  if (cnn && L > 0) {
    double g = 0, col = 0;  // per-sample conv gradients; per-sample im2col (forward and transposed)
    for (size_t j = 0; j < L; ++j) {
      const double c_out = static_cast<double>(layers_[j].out), fan = static_cast<double>(layers_[j].fan_in);
      g = std::max(g, static_cast<double>(k) * (c_out * fan + c_out) * elem_size);
      col = std::max(col, static_cast<double>(hw) * std::max(fan, 9.0 * c_out * static_cast<double>(k)) * elem_size);
    }
    bytes += std::min(static_cast<double>(grads_bytes()), g * N) + 2 * g + std::max(static_cast<double>(col_bytes()), col);
    bytes += 2.0 * static_cast<double>(num_params_) * elem_size;  // permuted weight copies
  }
  if (bytes > static_cast<double>(std::numeric_limits<size_t>::max())) return std::numeric_limits<size_t>::max();
  return static_cast<size_t>(bytes);
}

template void Network::forward<double>(const double*, const double*, std::size_t, double*) const;
template void Network::forward<float>(const float*, const float*, std::size_t, float*) const;
template double Network::loss_gradient<double>(const double*, const double*, const double*, std::size_t, double*,
                                               double*) const;
template double Network::loss_gradient<float>(const float*, const float*, const float*, std::size_t, float*,
                                              float*) const;
template void Network::ntk<double>(const double*, const double*, std::size_t, const double*, std::size_t, bool,
                                   double*, const Control&) const;
template void Network::ntk<float>(const float*, const float*, std::size_t, const float*, std::size_t, bool, float*,
                                  const Control&) const;

}  // namespace speedlimits::nets
