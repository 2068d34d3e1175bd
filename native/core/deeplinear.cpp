// Deep linear networks (see deeplinear.hpp for the contract).
//
// A step of every training mode is a backward pass (u_ℓ = M_ℓᵀu_{ℓ+1}, then v = W_0ᵀu_1/(γ0N):
// transposed products, each thread owning a block of columns and streaming the rows bottom-up) and
// a forward pass (a_{ℓ+1} = M_ℓa_ℓ, each thread owning fixed blocks of rows). The rank-1 updates are
// kept pending and applied to one slice of rows per step inside the forward pass (see Sim), so a
// step mostly reads the weights. The passes alternate direction over the layers (…W_2ᵀ, W_1ᵀ, W_0ᵀ
// | W_0, W_1, W_2, W_3 | W_2ᵀ…), so the matrices touched last are touched first again while still
// in cache. Every output element is computed by the same operations in the same order whatever the
// team size, so the numbers do not depend on the thread count.
#include "core/deeplinear.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <thread>

#if defined(__linux__)
#include <cstdlib>
#include <sys/mman.h>
#endif

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace speedlimits::deeplinear {

namespace {

using std::size_t;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- kernels ------------------------------------------------------------------------------------

// Σ x_j y_j with sixteen interleaved partial sums (four independent vector chains: enough to hide
// the FMA latency when the data is in cache) combined in a fixed order.
inline double dot(const double* x, const double* y, size_t n) {
  double s[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  size_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (size_t k = 0; k < 16; ++k) s[k] += x[j + k] * y[j + k];
  double t = 0;
  for (; j < n; ++j) t += x[j] * y[j];
  double h[4];
  for (size_t k = 0; k < 4; ++k) h[k] = (s[k] + s[k + 4]) + (s[k + 8] + s[k + 12]);
  return ((h[0] + h[2]) + (h[1] + h[3])) + t;
}

// out[j] = Σ_i (scale·y_i) A[i][j] for j in [j0, j1), rows taken from the last to the first (the
// per-element order is fixed, so any column split gives the same numbers).
void gemv_t(const double* A, size_t rows, size_t ld, const double* y, double scale, size_t j0, size_t j1,
            double* __restrict out) {
  const size_t w = j1 - j0;
  if (w == 0) return;
  double* __restrict acc = out + j0;
  for (size_t j = 0; j < w; ++j) acc[j] = 0;
  size_t i = rows;
  while (i >= 4) {
    i -= 4;
    const double y3 = scale * y[i + 3], y2 = scale * y[i + 2], y1 = scale * y[i + 1], y0 = scale * y[i];
    const double* __restrict r3 = A + (i + 3) * ld + j0;
    const double* __restrict r2 = A + (i + 2) * ld + j0;
    const double* __restrict r1 = A + (i + 1) * ld + j0;
    const double* __restrict r0 = A + i * ld + j0;
    for (size_t j = 0; j < w; ++j) {
      double t = acc[j];
      t += y3 * r3[j];
      t += y2 * r2[j];
      t += y1 * r1[j];
      t += y0 * r0[j];
      acc[j] = t;
    }
  }
  while (i > 0) {
    --i;
    const double yi = scale * y[i];
    const double* __restrict r = A + i * ld + j0;
    for (size_t j = 0; j < w; ++j) acc[j] += yi * r[j];
  }
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Sense-counting barrier for a team inside one parallel region: spins briefly (the phases are
// short and balanced), then yields (a shared machine may deschedule the partner).
class Barrier {
 public:
  void reset(int n) { n_ = n; }
  void wait() {
    if (n_ <= 1) return;
    const unsigned g = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.store(g + 1, std::memory_order_release);
      return;
    }
    for (unsigned spins = 0; gen_.load(std::memory_order_acquire) == g; ++spins) {
      if (spins < 20000) cpu_relax();
      else std::this_thread::yield();
    }
  }

 private:
  int n_ = 1;
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
};

struct Range {
  size_t lo, hi;
};
// Thread `tid` of `T`'s share of [0, n) in blocks of `align` (block boundaries stay on cache lines).
inline Range share(size_t n, int tid, int T, size_t align) {
  const size_t blocks = (n + align - 1) / align;
  const size_t b0 = blocks * size_t(tid) / size_t(T), b1 = blocks * size_t(tid + 1) / size_t(T);
  return {std::min(n, b0 * align), std::min(n, b1 * align)};
}

struct BlasThreads {
  bool on;
  explicit BlasThreads(bool o) : on(o) {
    if (on) linalg::set_blas_threads(1);
  }
  ~BlasThreads() {
    if (on) linalg::set_blas_threads(get_threads());
  }
};

void check_arch(const Arch& a, const char* fn) {
  const std::string f(fn);
  if (a.input_dim < 1) throw InvalidArgument(f + ": inputDim must be an integer >= 1");
  if (a.width < 1) throw InvalidArgument(f + ": width must be an integer >= 1");
  if (a.depth < 1) throw InvalidArgument(f + ": depth must be an integer >= 1");
  if (a.residual && !(a.beta0 > 0 && std::isfinite(a.beta0))) throw InvalidArgument(f + ": beta0 must be a finite number > 0");
  if (!(a.gamma0 > 0 && std::isfinite(a.gamma0))) throw InvalidArgument(f + ": gamma0 must be a finite number > 0");
  const double N = double(a.width), D = double(a.input_dim), L = double(a.depth);
  if (N * D + (L - 1) * N * N + N > 9007199254740991.0 / 8)
    throw InvalidArgument(f + ": the network has too many parameters (N·D + (L−1)·N² + N)");
}

// u_ℓ [N] for ℓ = 1..L−1 into u + ℓN (u_L is w itself); returns a pointer to u_ℓ.
const double* backward(const Arch& a, const double* theta, double* u) {
  const size_t N = a.width, L = a.depth;
  const double s = branch_scale(a) / std::sqrt(double(N));
  const double* w = theta + readout_offset(a);
  for (size_t l = L - 1; l >= 1; --l) {
    const double* in = l + 1 == L ? w : u + (l + 1) * N;
    gemv_t(theta + hidden_offset(a, l), N, N, in, s, 0, N, u + l * N);
    if (a.residual)
      for (size_t j = 0; j < N; ++j) u[l * N + j] += in[j];
  }
  return L == 1 ? w : u + N;
}

// H ← M_l H for H [N×m] (row-major), tmp [N×m].
void apply_hidden(const Arch& a, const double* theta, size_t l, size_t m, double* H, double* tmp) {
  const size_t N = a.width;
  const double s = branch_scale(a) / std::sqrt(double(N));
  linalg::gemm(linalg::Trans::No, linalg::Trans::No, N, m, N, s, theta + hidden_offset(a, l), N, H, m, 0.0, tmp, m);
  if (a.residual)
    for (size_t i = 0; i < N * m; ++i) H[i] += tmp[i];
  else
    std::memcpy(H, tmp, N * m * sizeof(double));
}

double sq(const double* x, size_t n) { return dot(x, x, n); }

// ---- one seed's run -----------------------------------------------------------------------------

constexpr size_t kPendingTerms = 8;  // rank-1 terms kept per matrix before they are applied

#if defined(__GNUC__) || defined(__clang__)
typedef double v4d __attribute__((vector_size(32)));
inline v4d load4(const double* p) {
  v4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(double* p, v4d v) { std::memcpy(p, &v, sizeof v); }
#endif

// NR weight rows at once, column by column (the rows stay in registers across the terms, and
// every load of a y_k serves NR rows):
//   row_q ← row_q − Σ_{k<nt} x[q][k]·y_k      (apply)
//   part  ← part + Σ_q wq[q]·row_q (q in order) (part != nullptr; the rows after the update)
// Every element sees the same operations in the same order whatever NR.
template <int NR>
void update_rows(double* const* rows, size_t C, size_t nt, const double* const* ys, const double (*x)[kPendingTerms + 1],
                 bool apply, double* __restrict part, const double* wq) {
  size_t j = 0;
#if defined(__GNUC__) || defined(__clang__)
  for (; j + 8 <= C; j += 8) {
    v4d t[NR][2];
    for (int q = 0; q < NR; ++q) {
      t[q][0] = load4(rows[q] + j);
      t[q][1] = load4(rows[q] + j + 4);
    }
    if (apply) {
      for (size_t k = 0; k < nt; ++k) {
        const v4d y0 = load4(ys[k] + j), y1 = load4(ys[k] + j + 4);
        for (int q = 0; q < NR; ++q) {
          const double xk = x[q][k];
          t[q][0] -= xk * y0;
          t[q][1] -= xk * y1;
        }
      }
      for (int q = 0; q < NR; ++q) {
        store4(rows[q] + j, t[q][0]);
        store4(rows[q] + j + 4, t[q][1]);
      }
    }
    if (part != nullptr) {
      v4d p0 = load4(part + j), p1 = load4(part + j + 4);
      for (int q = 0; q < NR; ++q) {
        p0 += wq[q] * t[q][0];
        p1 += wq[q] * t[q][1];
      }
      store4(part + j, p0);
      store4(part + j + 4, p1);
    }
  }
#endif
  for (; j < C; ++j) {
    double t[NR];
    for (int q = 0; q < NR; ++q) t[q] = rows[q][j];
    if (apply) {
      for (size_t k = 0; k < nt; ++k)
        for (int q = 0; q < NR; ++q) t[q] -= x[q][k] * ys[k][j];
      for (int q = 0; q < NR; ++q) rows[q][j] = t[q];
    }
    if (part != nullptr) {
      double p = part[j];
      for (int q = 0; q < NR; ++q) p += wq[q] * t[q];
      part[j] = p;
    }
  }
}

void update_rows_n(int nr, double* const* rows, size_t C, size_t nt, const double* const* ys,
                   const double (*x)[kPendingTerms + 1], bool apply, double* part, const double* wq) {
  switch (nr) {
    case 4: update_rows<4>(rows, C, nt, ys, x, apply, part, wq); break;
    case 3: update_rows<3>(rows, C, nt, ys, x, apply, part, wq); break;
    case 2: update_rows<2>(rows, C, nt, ys, x, apply, part, wq); break;
    default: update_rows<1>(rows, C, nt, ys, x, apply, part, wq); break;
  }
}

// The weights of a seed, on transparent huge pages where the kernel offers them (Linux with THP in
// 'madvise' or 'always' mode; NumPy asks for the same): the passes stream the weights, and 2 MB
// pages keep the TLB and the hardware prefetchers going across 4 KB boundaries.
class WeightBuffer {
 public:
  WeightBuffer() = default;
  WeightBuffer(const WeightBuffer&) = delete;
  WeightBuffer& operator=(const WeightBuffer&) = delete;
  ~WeightBuffer() { std::free(p_); }
  void allocate(size_t n) {
    std::free(p_);
    p_ = nullptr;
    const size_t bytes = std::max<size_t>(1, n) * sizeof(double);
#if defined(__linux__)
    constexpr size_t kHuge = size_t(2) << 20;
    if (bytes >= 2 * kHuge) {
      const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
      void* p = nullptr;
      if (posix_memalign(&p, kHuge, rounded) == 0) {
        madvise(p, rounded, MADV_HUGEPAGE);  // advice only: ignored where THP is off
        p_ = static_cast<double*>(p);
        return;
      }
    }
#endif
    p_ = static_cast<double*>(std::malloc(bytes));
    if (p_ == nullptr) throw std::bad_alloc();
  }
  double* data() { return p_; }
  const double* data() const { return p_; }

 private:
  double* p_ = nullptr;
};

// The weights of a seed are kept as base matrices B_m (in θ) minus pending rank-1 terms,
//   W_m = B_m − Σ_k x_{m,k} y_{m,k}ᵀ   (m = 0: W_0, m = ℓ: W_ℓ; k over a ring of kPending slots),
// so the backward pass and most of the forward pass only read the weights. The term of step t
// goes to slot t mod kPending; at step t the forward pass applies every pending term to the rows
// of slice t mod kPending (groups of four rows, (i/4) mod kPending), which it has in cache for
// its dot products, and zeroes their entries of x. A row is thus written once every kPending
// steps, and a slot is free again when it is reused. The top matrix's forward pass also forms the
// next step's first transposed product from the rows it reads, so that matrix is read once per
// step. Products with W_m are products with B_m plus an O(kPending(N + cols)) correction; every
// element sees the same operations in the same order whatever the thread count.
class Sim {
 public:
  static constexpr size_t kPending = kPendingTerms;
  static constexpr size_t kBlocks = 16;  // fixed row blocks (forward pass, partial sums)

  Sim(const RunConfig& c, RunResult& r, size_t s)
      : c_(c), r_(r), a_(c.arch), s_(s), N_(a_.width), D_(a_.input_dim), L_(a_.depth), P_(num_params(a_)),
        S_(c.seeds), gamma_(effective_gamma(a_)), sN_(branch_scale(a_) / std::sqrt(double(N_))),
        lr_(tensor_rate(a_, c.eta)) {
    alpha0_ = lr_ / (gamma_ * double(N_));
    alphaL_ = alpha0_;
    alphaH_ = alpha0_ * sN_;
  }

  void prepare();
  // Thread tid of a team of T runs the steps (T = 1: alone).
  void loop(int tid, int T, const Control& control, std::atomic<size_t>* shared_progress, size_t total_steps);

  Barrier barrier;
  Status status = Status::Completed;
  size_t diverged_step = 0;

 private:
  double* W0() { return theta_.data(); }
  double* Wl(size_t l) { return theta_.data() + hidden_offset(a_, l); }
  double* w() { return theta_.data() + readout_offset(a_); }
  const double* U(size_t l) const { return l == L_ ? theta_.data() + readout_offset(a_) : u_.data() + l * N_; }
  double* A(size_t l) { return act_.data() + l * N_; }
  // matrix m = 0 (W_0, D columns) or m = ℓ (W_ℓ, N columns)
  size_t cols(size_t m) const { return m == 0 ? D_ : N_; }
  double* Bm(size_t m) { return m == 0 ? W0() : Wl(m); }
  double* X(size_t m, size_t k) { return xp_.data() + (m * kPending + k) * N_; }
  double* Y(size_t m, size_t k) {
    return yp_.data() + (m == 0 ? 0 : kPending * D_ + (m - 1) * kPending * N_) + k * cols(m);
  }
  Range block_rows(size_t b) const { return {b * N_ / kBlocks, (b + 1) * N_ / kBlocks}; }
  void prepare_data();
  void prepare_lazy();
  void down(size_t m, int tid, int T, bool fused);
  // The row blocks of a thread: tid, tid + T, … (block-cyclic, so that every thread gets rows the
  // backward pass read recently — still in cache — and rows it read long ago).
  struct Blocks {
    size_t first, stride;
  };
  void up(size_t m, int tid, int T, size_t step, Blocks blocks);
  void apply_pending(Blocks blocks);
  void distance_partials(Blocks blocks, int tid);
  void record(size_t li, double loss, double obj, double train);

  const RunConfig& c_;
  RunResult& r_;
  Arch a_;
  size_t s_, N_, D_, L_, P_, S_;
  double gamma_, sN_, lr_, alpha0_ = 0, alphaL_ = 0, alphaH_ = 0;
  WeightBuffer theta_;
  std::vector<double> theta0_, u_, act_, v_, d_, sd_, e_, sqrt_lambda_;
  std::vector<double> xp_, yp_, top_;  // pending terms; top matrix partial sums [kBlocks × cols]
  // data: Z [rows × (D+1)] (z then ε per sample) and residuals; or Σ̂ [D×D], c [D], q
  std::vector<double> Z_, res_, shat_, cvec_, partial_;
  size_t rows_ = 0;
  bool sigma_form_ = false;
  double qnoise_ = 0;
  // bookkeeping (thread 0)
  double obj0_ = 0, dissipation_ = 0, train_ = kNaN, enorm_ = 0;
  std::vector<double> unorm_;  // |u_ℓ|², ℓ = 1..L
  std::atomic<int> stop_{0};
};

void Sim::prepare() {
  theta_.allocate(P_);
  if (c_.init != nullptr)
    std::memcpy(theta_.data(), c_.init + (c_.init_count == 1 ? 0 : s_ * P_), P_ * sizeof(double));
  else
    init_params(a_, c_.seed, s_, theta_.data());
  theta0_.assign(theta_.data(), theta_.data() + P_);
  u_.assign((L_ + 1) * N_, 0.0);
  act_.assign((L_ + 1) * N_, 0.0);
  v_.assign(D_, 0.0);
  d_.assign(D_, 0.0);
  sd_.assign(D_, 0.0);
  e_.assign(D_, 0.0);
  unorm_.assign(L_ + 1, 0.0);
  sqrt_lambda_.resize(D_);
  for (size_t k = 0; k < D_; ++k) sqrt_lambda_[k] = std::sqrt(c_.lambda[k]);
  partial_.assign(L_ * kBlocks + 1, 0.0);
  xp_.assign(L_ * kPending * N_, 0.0);
  yp_.assign(kPending * (D_ + (L_ - 1) * N_), 0.0);
  top_.assign(kBlocks * cols(L_ - 1), 0.0);
  end_to_end(a_, theta_.data(), v_.data());
  std::memcpy(r_.v0.data() + s_ * D_, v_.data(), D_ * sizeof(double));
  prepare_data();
  if (c_.lazy) prepare_lazy();
}

void Sim::prepare_data() {
  const size_t D1 = D_ + 1;
  if (c_.training == Training::Online) {
    rows_ = c_.batch_size;
    Z_.assign(rows_ * D1, 0.0);
    res_.assign(rows_, 0.0);
  } else if (c_.training == Training::Fixed) {
    const size_t P = c_.samples;
    if (P <= D_) {
      rows_ = P;
      Z_.resize(P * D1);
      rng::normal(c_.seed, kDataStream + s_, 0, P * D1, Z_.data());
      res_.assign(P, 0.0);
    } else {
      // Σ̂ = XᵀX/P, c = σXᵀε/P, q = σ²|ε|²/P accumulated over chunks of samples (X never kept).
      sigma_form_ = true;
      shat_.assign(D_ * D_, 0.0);
      cvec_.assign(D_, 0.0);
      const size_t chunk = std::max<size_t>(1, std::min<size_t>(P, (size_t(1) << 22) / D1));
      std::vector<double> z(chunk * D1), x(chunk * D_);
      double eps2 = 0;
      for (size_t mu0 = 0; mu0 < P; mu0 += chunk) {
        const size_t m = std::min(chunk, P - mu0);
        rng::normal(c_.seed, kDataStream + s_, std::uint64_t(mu0) * D1, m * D1, z.data());
        for (size_t i = 0; i < m; ++i) {
          const double eps = z[i * D1 + D_];
          eps2 += eps * eps;
          for (size_t k = 0; k < D_; ++k) {
            const double xv = sqrt_lambda_[k] * z[i * D1 + k];
            x[i * D_ + k] = xv;
            cvec_[k] += eps * xv;
          }
        }
        linalg::syrk(linalg::Uplo::Lower, linalg::Trans::Yes, D_, m, 1.0, x.data(), D_, 1.0, shat_.data(), D_);
      }
      linalg::symmetrize(linalg::Uplo::Lower, D_, shat_.data(), D_);
      const double inv = 1.0 / double(P);
      for (double& v : shat_) v *= inv;
      for (double& v : cvec_) v *= c_.noise * inv;
      qnoise_ = c_.noise * c_.noise * eps2 * inv;
    }
  }
}

void Sim::prepare_lazy() {
  const size_t nlog = c_.log_steps.size();
  const double eta = c_.eta, half_noise = 0.5 * c_.noise * c_.noise;
  // constant kernel c_K I
  const double ck = ck_closed_form(L_, a_.residual, a_.beta0);
  for (size_t li = 0; li < nlog; ++li) {
    const double t2 = 2.0 * double(c_.log_steps[li]);
    double acc = 0;
    for (size_t k = 0; k < D_; ++k) {
      const double dk = v_[k] - c_.target[k];
      acc += c_.lambda[k] * dk * dk * std::pow(1.0 - eta * ck * c_.lambda[k], t2);
    }
    r_.lazy_constant[li * S_ + s_] = 0.5 * acc + half_noise;
  }
  // sampled K_0: H = Σ^½ K_0 Σ^½ = Q diag(h) Qᵀ, z_0 = Σ^½(v_0 − w*)
  std::vector<double> K(D_ * D_), h(D_), z0(D_), p(D_, 0.0);
  ntk_matrix(a_, theta_.data(), K.data());
  double tr = 0;
  for (size_t k = 0; k < D_; ++k) tr += K[k * D_ + k];
  r_.kernel_ck[s_] = tr / double(D_);
  for (size_t i = 0; i < D_; ++i)
    for (size_t j = 0; j < D_; ++j) K[i * D_ + j] *= sqrt_lambda_[i] * sqrt_lambda_[j];
  linalg::syevd(D_, K.data(), D_, h.data(), true);
  for (size_t k = 0; k < D_; ++k) z0[k] = sqrt_lambda_[k] * (v_[k] - c_.target[k]);
  for (size_t k = 0; k < D_; ++k) {
    const double zk = z0[k];
    for (size_t j = 0; j < D_; ++j) p[j] += K[k * D_ + j] * zk;  // column j of Q
  }
  for (size_t li = 0; li < nlog; ++li) {
    const double t2 = 2.0 * double(c_.log_steps[li]);
    double acc = 0;
    for (size_t j = 0; j < D_; ++j) acc += p[j] * p[j] * std::pow(1.0 - eta * h[j], t2);
    r_.lazy_kernel[li * S_ + s_] = 0.5 * acc + half_noise;
  }
}

void Sim::record(size_t li, double loss, double obj, double train) {
  double dist = 0;
  for (double pc : partial_) dist += pc;
  const size_t at = li * S_ + s_;
  r_.loss[at] = loss;
  if (c_.training == Training::Fixed) r_.train_loss[at] = train;
  r_.dist2[at] = dist;
  r_.dissipation[at] = dissipation_;
  r_.heat[at] = obj0_ - obj;
}

// Transposed product of matrix m (columns of this thread): u_m = M_mᵀu_{m+1} (m ≥ 1) or
// v = W_0ᵀu_1/(γ0N) (m = 0). `fused`: Σ_i u_{m+1,i}B_m[i][:] was summed by the last forward pass.
void Sim::down(size_t m, int tid, int T, bool fused) {
  const size_t C = cols(m);
  const double* in = U(m + 1);
  double* out = m == 0 ? v_.data() : u_.data() + m * N_;
  const double scale = m == 0 ? 1.0 / (gamma_ * double(N_)) : sN_;
  const Range c = share(C, tid, T, 8);
  double cf[kPending];
  for (size_t k = 0; k < kPending; ++k) cf[k] = dot(X(m, k), in, N_);
  if (fused) {
    for (size_t j = c.lo; j < c.hi; ++j) {
      double t = 0;
      for (size_t b = 0; b < kBlocks; ++b) t += top_[b * C + j];
      out[j] = t;
    }
  } else {
    gemv_t(Bm(m), N_, C, in, 1.0, c.lo, c.hi, out);
  }
  const bool res = m > 0 && a_.residual;
  for (size_t k = 0; k < kPending; ++k) {
    const double* y = Y(m, k);
    const double ck = cf[k];
    for (size_t j = c.lo; j < c.hi; ++j) out[j] -= ck * y[j];
  }
  for (size_t j = c.lo; j < c.hi; ++j) out[j] = res ? in[j] + scale * out[j] : scale * out[j];
}

// Forward product of matrix m over this thread's row blocks: a_{m+1} = M_m a_m (a_1 = W_0 e); this
// step's rank-1 term goes to slot step mod kPending, and the rows of slice step mod kPending get
// every pending term (oldest first, this step's last). On the top matrix the readout is updated,
// w ← w − α_L a_L, row by row, and the next step's Σ_i w_i B[i][:] is summed per block from the
// rows in cache.
void Sim::up(size_t m, int tid, int T, size_t step, Blocks blocks) {
  const size_t C = cols(m);
  const bool top = m == L_ - 1;
  const double* al = m == 0 ? e_.data() : A(m);
  double* an = A(m + 1);
  const double* ux = U(m + 1);
  const double alpha = m == 0 ? alpha0_ : alphaH_;
  const bool res = m > 0 && a_.residual;
  const size_t slot = step % kPending, slice = step % kPending;
  double df[kPending];
  for (size_t k = 0; k < kPending; ++k) df[k] = k == slot ? 0.0 : dot(Y(m, k), al, C);
  size_t ring[kPending];  // slots oldest first; this step's is last
  const double* ys[kPending];
  for (size_t j = 0; j < kPending; ++j) {
    ring[j] = (step + 1 + j) % kPending;
    ys[j] = j + 1 == kPending ? al : Y(m, ring[j]);
  }
  double* B = Bm(m);
  double* wv = w();
  for (size_t b = blocks.first; b < kBlocks; b += blocks.stride) {
    const Range rows = block_rows(b);
    double* part = top ? top_.data() + b * C : nullptr;
    if (top) std::fill(part, part + C, 0.0);
    for (size_t i0 = rows.lo; i0 < rows.hi;) {
      const size_t i1 = std::min(rows.hi, (i0 / 4 + 1) * 4);  // one group of four rows (or its part in this block)
      const int nr = static_cast<int>(i1 - i0);
      const bool flush = (i0 / 4) % kPending == slice;
      double* rp[4];
      double xr[4][kPending + 1];
      double wn[4] = {0, 0, 0, 0};
      for (int q = 0; q < nr; ++q) {
        const size_t i = i0 + size_t(q);
        rp[q] = B + i * C;
        double dd = dot(rp[q], al, C);
        for (size_t k = 0; k < kPending; ++k) dd -= X(m, k)[i] * df[k];
        const double ai = m == 0 ? dd : (res ? al[i] + sN_ * dd : sN_ * dd);
        an[i] = ai;
        const double g = alpha * ux[i];
        if (flush) {
          for (size_t j = 0; j + 1 < kPending; ++j) xr[q][j] = X(m, ring[j])[i];
          xr[q][kPending - 1] = g;
          for (size_t k = 0; k < kPending; ++k) X(m, k)[i] = 0;
        } else {
          X(m, slot)[i] = g;
        }
        if (top) {
          wn[q] = wv[i] - alphaL_ * ai;
          wv[i] = wn[q];
        }
      }
      if (flush || top) update_rows_n(nr, rp, C, kPending, ys, xr, flush, part, wn);
      i0 = i1;
    }
  }
  const Range c = share(C, tid, T, 8);
  std::memcpy(Y(m, slot) + c.lo, al + c.lo, (c.hi - c.lo) * sizeof(double));
}

// B_m ← W_m for every matrix (this thread's row blocks).
void Sim::apply_pending(Blocks blocks) {
  for (size_t m = 0; m < L_; ++m) {
    const size_t C = cols(m);
    double* B = Bm(m);
    const double* ys[kPending];
    for (size_t k = 0; k < kPending; ++k) ys[k] = Y(m, k);
    for (size_t b = blocks.first; b < kBlocks; b += blocks.stride) {
      const Range rows = block_rows(b);
      for (size_t i0 = rows.lo; i0 < rows.hi; i0 += 4) {
        const int nr = static_cast<int>(std::min<size_t>(4, rows.hi - i0));
        double* rp[4];
        double xr[4][kPending + 1];
        for (int q = 0; q < nr; ++q) {
          rp[q] = B + (i0 + size_t(q)) * C;
          for (size_t k = 0; k < kPending; ++k) {
            xr[q][k] = X(m, k)[i0 + size_t(q)];
            X(m, k)[i0 + size_t(q)] = 0;
          }
        }
        update_rows_n(nr, rp, C, kPending, ys, xr, true, nullptr, nullptr);
      }
    }
  }
}

// |θ − θ0|² in fixed pieces (matrix, row block) and the readout, pending terms included.
void Sim::distance_partials(Blocks blocks, int tid) {
  std::vector<double> row;
  for (size_t m = 0; m < L_; ++m) {
    const size_t C = cols(m);
    row.resize(C);
    const double* B = Bm(m);
    const double* B0 = theta0_.data() + (m == 0 ? 0 : hidden_offset(a_, m));
    for (size_t b = blocks.first; b < kBlocks; b += blocks.stride) {
      const Range rows = block_rows(b);
      double acc = 0;
      for (size_t i = rows.lo; i < rows.hi; ++i) {
        std::memcpy(row.data(), B + i * C, C * sizeof(double));
        for (size_t k = 0; k < kPending; ++k) {
          const double xk = X(m, k)[i];
          const double* y = Y(m, k);
          for (size_t j = 0; j < C; ++j) row[j] -= xk * y[j];
        }
        for (size_t j = 0; j < C; ++j) {
          const double dj = row[j] - B0[i * C + j];
          acc += dj * dj;
        }
      }
      partial_[m * kBlocks + b] = acc;
    }
  }
  if (tid == 0) {
    const size_t off = readout_offset(a_);
    double acc = 0;
    for (size_t i = 0; i < N_; ++i) {
      const double dj = theta_.data()[off + i] - theta0_[off + i];
      acc += dj * dj;
    }
    partial_[L_ * kBlocks] = acc;
  }
}

void Sim::loop(int tid, int T, const Control& control, std::atomic<size_t>* shared_progress, size_t total_steps) {
  const size_t N = N_, D = D_, L = L_, D1 = D_ + 1;
  const size_t nlog = c_.log_steps.size();
  const bool population = c_.training == Training::Population;
  const bool online = c_.training == Training::Online;
  const double* lambda = c_.lambda.data();
  const double* target = c_.target.data();
  const double sigma = c_.noise, half_noise = 0.5 * sigma * sigma;
  const Range colsD = share(D, tid, T, 8), rowsD = share(D, tid, T, 1), rowsB = share(rows_, tid, T, 1);
  const Blocks blocks{size_t(tid), size_t(T)};
  size_t next_log = 0;
  bool fused = false;
  for (size_t step = 0;; ++step) {
    // bookkeeping of the last update (thread 0): |ΔW_0|² = α0²|u_1|²|e|², |ΔW_ℓ|² = α²|u_{ℓ+1}|²|a_ℓ|²,
    // |Δw|² = α_L²|a_L|²; progress; the abort flag, read by all after the next barrier
    if (tid == 0 && step > 0) {
      double diss = alpha0_ * alpha0_ * unorm_[1] * enorm_;
      for (size_t l = 1; l < L; ++l) diss += alphaH_ * alphaH_ * unorm_[l + 1] * sq(A(l), N);
      diss += alphaL_ * alphaL_ * sq(A(L), N);
      dissipation_ += diss;
      if (shared_progress != nullptr) {
        const size_t done = shared_progress->fetch_add(1, std::memory_order_relaxed) + 1;
        control.report(double(done) / double(total_steps));
      }
      stop_.store(control.aborted() ? 1 : 0, std::memory_order_relaxed);
    }
    // ---- backward: u_ℓ = M_ℓᵀ u_{ℓ+1}, then v, d = v − w*, and e (population) or √λ∘d
    for (size_t l = L - 1; l >= 1; --l) {
      down(l, tid, T, fused && l == L - 1);
      barrier.wait();
      if (l == L - 1 && stop_.load(std::memory_order_relaxed) != 0) break;
    }
    if (L > 1 && stop_.load(std::memory_order_relaxed) != 0) {
      if (tid == 0) {
        status = Status::Aborted;
        r_.steps_done[s_] = step;
      }
      break;
    }
    down(0, tid, T, fused && L == 1);
    for (size_t j = colsD.lo; j < colsD.hi; ++j) {
      const double dj = v_[j] - target[j];
      d_[j] = dj;
      if (population) e_[j] = lambda[j] * dj;
      else sd_[j] = sqrt_lambda_[j] * dj;
    }
    barrier.wait();
    if (L == 1 && stop_.load(std::memory_order_relaxed) != 0) {
      if (tid == 0) {
        status = Status::Aborted;
        r_.steps_done[s_] = step;
      }
      break;
    }
    // every thread computes the loss the same way, so all agree on divergence
    double loss = 0;
    {
      double s4[4] = {0, 0, 0, 0};
      size_t j = 0;
      for (; j + 4 <= D; j += 4)
        for (size_t k = 0; k < 4; ++k) s4[k] += lambda[j + k] * d_[j + k] * d_[j + k];
      double t = 0;
      for (; j < D; ++j) t += lambda[j] * d_[j] * d_[j];
      loss = 0.5 * (((s4[0] + s4[2]) + (s4[1] + s4[3])) + t) + half_noise;
    }
    if (!std::isfinite(loss)) {
      if (tid == 0) {
        status = Status::Diverged;
        diverged_step = step;
        r_.steps_done[s_] = step;
      }
      break;
    }
    const bool last = step == c_.steps;
    const bool log_now = next_log < nlog && c_.log_steps[next_log] == step;
    // ---- data gradient vector e ('fixed', 'online')
    if (!population && !(online && last)) {
      if (sigma_form_) {
        for (size_t k = rowsD.lo; k < rowsD.hi; ++k) e_[k] = dot(shat_.data() + k * D, d_.data(), D) - cvec_[k];
        barrier.wait();
      } else {
        if (online && rowsB.hi > rowsB.lo)
          rng::normal(c_.seed, kDataStream + s_, (std::uint64_t(step) * rows_ + rowsB.lo) * D1,
                      (rowsB.hi - rowsB.lo) * D1, Z_.data() + rowsB.lo * D1);
        for (size_t i = rowsB.lo; i < rowsB.hi; ++i)
          res_[i] = dot(Z_.data() + i * D1, sd_.data(), D) - sigma * Z_[i * D1 + D];
        barrier.wait();
        gemv_t(Z_.data(), rows_, D1, res_.data(), 1.0 / double(rows_), colsD.lo, colsD.hi, e_.data());
        for (size_t j = colsD.lo; j < colsD.hi; ++j) e_[j] *= sqrt_lambda_[j];
        barrier.wait();
      }
    }
    // ---- objective and records
    if (step == 0 || log_now) {
      if (log_now) {
        distance_partials(blocks, tid);
        barrier.wait();
      }
      if (tid == 0) {
        double obj = loss;
        if (c_.training == Training::Fixed) {
          if (sigma_form_)
            train_ = 0.5 * dot(d_.data(), e_.data(), D) - 0.5 * dot(d_.data(), cvec_.data(), D) + 0.5 * qnoise_;
          else
            train_ = 0.5 * sq(res_.data(), rows_) / double(rows_);
          obj = train_;
        }
        if (step == 0) obj0_ = obj;
        if (log_now) record(next_log, loss, obj, train_);
      }
      if (log_now) ++next_log;
    }
    if (last) {
      if (tid == 0) r_.steps_done[s_] = step;
      break;
    }
    if (tid == 0) {
      for (size_t l = 1; l <= L; ++l) unorm_[l] = sq(U(l), N);
      enorm_ = sq(e_.data(), D);
    }
    // ---- forward: a_1 = W_0 e, a_{ℓ+1} = M_ℓ a_ℓ, with this step's rank-1 terms; w on the top
    for (size_t m = 0; m < L; ++m) {
      up(m, tid, T, step, blocks);
      barrier.wait();
    }
    fused = true;
  }
  // materialise the weights (pending terms applied) for the caller
  if (c_.keep_params) {
    apply_pending(blocks);
    barrier.wait();
    if (tid == 0) std::memcpy(r_.final_params.data() + s_ * P_, theta_.data(), P_ * sizeof(double));
  }
}

}  // namespace

// ---- architecture ---------------------------------------------------------------------------------

void validate(const Arch& a, const char* fn) { check_arch(a, fn); }

size_t num_params(const Arch& a) { return a.width * a.input_dim + (a.depth - 1) * a.width * a.width + a.width; }

double effective_gamma(const Arch& a) {
  return a.param == Param::Ntk ? a.gamma0 / std::sqrt(double(a.width)) : a.gamma0;
}

double branch_scale(const Arch& a) { return a.residual ? a.beta0 / std::sqrt(double(a.depth)) : 1.0; }

double tensor_rate(const Arch& a, double eta) {
  const double g = effective_gamma(a);
  return eta * g * g * double(a.width);
}

size_t hidden_offset(const Arch& a, size_t l) { return a.width * a.input_dim + (l - 1) * a.width * a.width; }
size_t readout_offset(const Arch& a) { return a.width * a.input_dim + (a.depth - 1) * a.width * a.width; }

void init_params(const Arch& a, std::uint64_t seed, std::uint64_t seed_index, double* theta) {
  rng::normal(seed, seed_index, 0, num_params(a), theta);
}

void end_to_end(const Arch& a, const double* theta, double* v) {
  const size_t N = a.width, D = a.input_dim;
  std::vector<double> u((a.depth + 1) * N);
  const double* u1 = backward(a, theta, u.data());
  gemv_t(theta, N, D, u1, 1.0 / (effective_gamma(a) * double(N)), 0, D, v);
}

void make_spectrum(Spectrum s, size_t D, double alpha, double b, double* lambda, double* target) {
  for (size_t k = 0; k < D; ++k) {
    if (s == Spectrum::Isotropic) {
      lambda[k] = 1.0 / double(D);
      target[k] = 1.0;
    } else {
      const double kk = double(k + 1);
      lambda[k] = std::pow(kk, -alpha);
      target[k] = std::pow(kk, 0.5 * (alpha - alpha * b - 1.0));
    }
  }
}

double population_loss_gradient(const Arch& a, const double* theta, const double* lambda, const double* target,
                                 double noise, double* grad) {
  const size_t N = a.width, D = a.input_dim, L = a.depth;
  const double g = effective_gamma(a), s = branch_scale(a) / std::sqrt(double(N));
  std::vector<double> u((L + 1) * N), v(D), e(D), act((L + 1) * N);
  const double* u1 = backward(a, theta, u.data());
  gemv_t(theta, N, D, u1, 1.0 / (g * double(N)), 0, D, v.data());
  double loss = 0;
  for (size_t k = 0; k < D; ++k) {
    const double dk = v[k] - target[k];
    e[k] = lambda[k] * dk;
    loss += lambda[k] * dk * dk;
  }
  loss = 0.5 * loss + 0.5 * noise * noise;
  if (grad == nullptr) return loss;
  const double* w = theta + readout_offset(a);
  auto U = [&](size_t l) { return l == L ? w : u.data() + l * N; };
  const double inv = 1.0 / (g * double(N));
  for (size_t i = 0; i < N; ++i) {
    act[N + i] = dot(theta + i * D, e.data(), D);
    for (size_t k = 0; k < D; ++k) grad[i * D + k] = inv * u1[i] * e[k];
  }
  for (size_t l = 1; l < L; ++l) {
    const double* Wl = theta + hidden_offset(a, l);
    double* G = grad + hidden_offset(a, l);
    const double* al = act.data() + l * N;
    const double* un = U(l + 1);
    for (size_t i = 0; i < N; ++i) {
      const double dd = dot(Wl + i * N, al, N);
      act[(l + 1) * N + i] = a.residual ? al[i] + s * dd : s * dd;
      for (size_t j = 0; j < N; ++j) G[i * N + j] = inv * s * un[i] * al[j];
    }
  }
  double* gw = grad + readout_offset(a);
  for (size_t i = 0; i < N; ++i) gw[i] = inv * act[L * N + i];
  return loss;
}

// ---- NTK ----------------------------------------------------------------------------------------

double ck_closed_form(size_t depth, bool residual, double beta0) {
  if (depth < 1) throw InvalidArgument("deepLinearCK: depth must be an integer >= 1");
  if (!residual) return double(depth) + 1.0;
  if (!(beta0 > 0 && std::isfinite(beta0))) throw InvalidArgument("deepLinearCK: beta0 must be a finite number > 0");
  const double L = double(depth), b2 = beta0 * beta0 / L;
  return std::pow(1.0 + b2, L - 2.0) * (2.0 * (1.0 + b2) + (L - 1.0) * b2);
}

double ck_limit(double beta0) {
  if (!(beta0 > 0 && std::isfinite(beta0))) throw InvalidArgument("deepLinearCK: beta0 must be a finite number > 0");
  return std::exp(beta0 * beta0) * (2.0 + beta0 * beta0);
}

void ntk_gram(const Arch& a, const double* theta, const double* x, size_t m, double* out) {
  const size_t N = a.width, D = a.input_dim, L = a.depth;
  const double c = branch_scale(a);
  std::vector<double> u((L + 1) * N), H(N * m), tmp(N * m), G(m * m);
  const double* w = theta + readout_offset(a);
  const double* u1 = backward(a, theta, u.data());
  auto U = [&](size_t l) { return l == L ? w : u.data() + l * N; };
  // input term |u_1|² xᵀx'
  linalg::gemm(linalg::Trans::No, linalg::Trans::Yes, m, m, D, sq(u1, N), x, D, x, D, 0.0, out, m);
  linalg::gemm(linalg::Trans::No, linalg::Trans::Yes, N, m, D, 1.0, theta, D, x, D, 0.0, H.data(), m);  // h_1
  for (size_t l = 1; l < L; ++l) {
    const double wt = c * c / double(N) * sq(U(l + 1), N);
    linalg::gemm(linalg::Trans::Yes, linalg::Trans::No, m, m, N, wt, H.data(), m, H.data(), m, 1.0, out, m);
    apply_hidden(a, theta, l, m, H.data(), tmp.data());
  }
  linalg::gemm(linalg::Trans::Yes, linalg::Trans::No, m, m, N, 1.0, H.data(), m, H.data(), m, 1.0, out, m);
  const double inv = 1.0 / double(N);
  for (size_t i = 0; i < m * m; ++i) out[i] *= inv;
  // exact symmetry (the gemms sum the two triangles in different orders)
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < i; ++j) out[j * m + i] = out[i * m + j];
}

void ntk_matrix(const Arch& a, const double* theta, double* K0) {
  const size_t N = a.width, D = a.input_dim, L = a.depth;
  const double c = branch_scale(a);
  std::vector<double> u((L + 1) * N), A(theta, theta + N * D), tmp(L > 1 ? N * D : 0);
  const double* w = theta + readout_offset(a);
  const double* u1 = backward(a, theta, u.data());
  auto U = [&](size_t l) { return l == L ? w : u.data() + l * N; };
  std::fill(K0, K0 + D * D, 0.0);
  for (size_t l = 1; l < L; ++l) {
    const double wt = c * c / double(N) * sq(U(l + 1), N);
    linalg::syrk(linalg::Uplo::Lower, linalg::Trans::Yes, D, N, wt, A.data(), D, 1.0, K0, D);
    apply_hidden(a, theta, l, D, A.data(), tmp.data());
  }
  linalg::syrk(linalg::Uplo::Lower, linalg::Trans::Yes, D, N, 1.0, A.data(), D, 1.0, K0, D);
  linalg::symmetrize(linalg::Uplo::Lower, D, K0, D);
  const double u2 = sq(u1, N), inv = 1.0 / double(N);
  for (size_t i = 0; i < D; ++i) K0[i * D + i] += u2;
  for (size_t i = 0; i < D * D; ++i) K0[i] *= inv;
}

CkEmpirical ck_empirical(const Arch& a, size_t seeds, std::uint64_t seed, size_t probes, const Control& control) {
  check_arch(a, "deepLinearCKEmpirical");
  if (seeds < 1) throw InvalidArgument("deepLinearCKEmpirical: seeds must be an integer >= 1");
  if (probes < 2) throw InvalidArgument("deepLinearCKEmpirical: probes must be an integer >= 2");
  const size_t D = a.input_dim, P = num_params(a), m = probes;
  CkEmpirical out;
  out.closed_form = ck_closed_form(a.depth, a.residual, a.beta0);
  std::vector<double> theta(P), x(m * D), K(m * m), G(m * m);
  for (size_t s = 0; s < seeds; ++s) {
    control.check();
    init_params(a, seed, s, theta.data());
    rng::normal(seed, kProbeStream + s, 0, m * D, x.data());
    ntk_gram(a, theta.data(), x.data(), m, K.data());
    linalg::gemm(linalg::Trans::No, linalg::Trans::Yes, m, m, D, 1.0, x.data(), D, x.data(), D, 0.0, G.data(), m);
    double kg = 0, gg = 0;
    for (size_t i = 0; i < m * m; ++i) {
      kg += K[i] * G[i];
      gg += G[i] * G[i];
    }
    const double cs = kg / gg;
    double rr = 0;
    for (size_t i = 0; i < m * m; ++i) rr += (K[i] - cs * G[i]) * (K[i] - cs * G[i]);
    out.per_seed.push_back(cs);
    out.fit_residual.push_back(std::sqrt(rr / (cs * cs * gg)));
    control.report(double(s + 1) / double(seeds));
  }
  double mean = 0;
  for (double v : out.per_seed) mean += v;
  mean /= double(seeds);
  double var = 0;
  for (double v : out.per_seed) var += (v - mean) * (v - mean);
  out.mean = mean;
  out.sd = seeds > 1 ? std::sqrt(var / double(seeds - 1)) : 0.0;
  out.standard_error = out.sd / std::sqrt(double(seeds));
  return out;
}

// ---- runs ---------------------------------------------------------------------------------------

void validate(const RunConfig& c) {
  check_arch(c.arch, "deepLinear");
  const size_t D = c.arch.input_dim;
  if (c.lambda.size() != D) throw InvalidArgument("deepLinear: data.eigenvalues must have inputDim entries");
  if (c.target.size() != D) throw InvalidArgument("deepLinear: data.target must have inputDim entries");
  bool any = false;
  for (double l : c.lambda) {
    if (!(l >= 0) || !std::isfinite(l)) throw InvalidArgument("deepLinear: data.eigenvalues must be finite and >= 0");
    any = any || l > 0;
  }
  if (!any) throw InvalidArgument("deepLinear: data.eigenvalues must not all be 0");
  for (double t : c.target)
    if (!std::isfinite(t)) throw InvalidArgument("deepLinear: data.target must be finite");
  if (!(c.noise >= 0) || !std::isfinite(c.noise)) throw InvalidArgument("deepLinear: data.noise must be a finite number >= 0");
  if (!(c.eta > 0) || !std::isfinite(c.eta)) throw InvalidArgument("deepLinear: learningRate must be a finite number > 0");
  if (c.steps < 1) throw InvalidArgument("deepLinear: steps must be an integer >= 1");
  if (c.seeds < 1) throw InvalidArgument("deepLinear: seeds must be an integer >= 1");
  if (c.training == Training::Fixed && c.samples < 1) throw InvalidArgument("deepLinear: samples must be an integer >= 1 for training 'fixed'");
  if (c.training == Training::Online && c.batch_size < 1) throw InvalidArgument("deepLinear: batchSize must be an integer >= 1 for training 'online'");
  for (size_t i = 0; i < c.log_steps.size(); ++i) {
    if (c.log_steps[i] > c.steps) throw InvalidArgument("deepLinear: logTimes must lie in [0, steps], got " + std::to_string(c.log_steps[i]));
    if (i > 0 && c.log_steps[i] <= c.log_steps[i - 1]) throw InvalidArgument("deepLinear: logTimes must be strictly increasing");
  }
  if (c.init != nullptr && c.init_count != 1 && c.init_count != c.seeds)
    throw InvalidArgument("deepLinear: init must hold 1 or seeds parameter vectors");
  if (c.lazy && c.training != Training::Population) throw InvalidArgument("deepLinear: lazy applies to training 'population' only");
}

void run(const RunConfig& c, RunResult& r, const Control& control) {
  validate(c);
  const size_t S = c.seeds, nlog = c.log_steps.size(), P = num_params(c.arch), D = c.arch.input_dim;
  r = RunResult{};
  r.seeds = S;
  r.params = P;
  r.logs = nlog;
  for (auto* v : {&r.loss, &r.dist2, &r.dissipation, &r.heat}) v->assign(nlog * S, kNaN);
  if (c.training == Training::Fixed) r.train_loss.assign(nlog * S, kNaN);
  r.v0.assign(S * D, kNaN);
  if (c.lazy) {
    r.lazy_kernel.assign(nlog * S, kNaN);
    r.lazy_constant.assign(nlog * S, kNaN);
    r.kernel_ck.assign(S, kNaN);
  }
  if (c.keep_params) r.final_params.assign(S * P, kNaN);
  r.steps_done.assign(S, 0);
  std::vector<Status> status(S, Status::Completed);
  std::vector<size_t> dstep(S, 0);
  std::atomic<size_t> progress{0};
  const size_t total = S * c.steps;
  const int T = get_threads();
  // Small nets: one seed per thread (a team's barriers would cost more than the step); large
  // nets: all threads inside each step (the weights stay in the shared cache).
  const bool by_seed = T > 1 && S > 1 && P <= (size_t(1) << 18);
  if (by_seed) {
    BlasThreads guard(true);
    std::atomic<int> aborted{0};
#pragma omp parallel for schedule(dynamic, 1) num_threads(T)
    for (std::ptrdiff_t si = 0; si < static_cast<std::ptrdiff_t>(S); ++si) {
      const size_t s = static_cast<size_t>(si);
      if (aborted.load() != 0 || control.aborted()) {
        status[s] = Status::Aborted;
        continue;
      }
      Sim sim(c, r, s);
      sim.prepare();
      sim.loop(0, 1, control, &progress, total);
      status[s] = sim.status;
      dstep[s] = sim.diverged_step;
      if (sim.status == Status::Aborted) aborted.store(1);
    }
  } else {
    for (size_t s = 0; s < S; ++s) {
      if (control.aborted()) {
        status[s] = Status::Aborted;
        break;
      }
      Sim sim(c, r, s);
      sim.prepare();
#if defined(_OPENMP)
#pragma omp parallel num_threads(T)
      {
#pragma omp single
        sim.barrier.reset(omp_get_num_threads());
        sim.loop(omp_get_thread_num(), omp_get_num_threads(), control, &progress, total);
      }
#else
      sim.loop(0, 1, control, &progress, total);
#endif
      status[s] = sim.status;
      dstep[s] = sim.diverged_step;
      if (sim.status == Status::Aborted) {
        for (size_t q = s + 1; q < S; ++q) status[q] = Status::Aborted;
        break;
      }
    }
  }
  for (size_t s = 0; s < S; ++s) {
    if (status[s] == Status::Aborted) {
      r.status = Status::Aborted;
      return;
    }
  }
  for (size_t s = 0; s < S; ++s) {
    if (status[s] == Status::Diverged) {
      r.status = Status::Diverged;
      r.diverged_seed = s;
      r.diverged_step = dstep[s];
      return;
    }
  }
}

}  // namespace speedlimits::deeplinear
