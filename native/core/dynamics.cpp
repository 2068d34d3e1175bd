// Ensemble training (see dynamics.hpp for the contract). Replicas advance in lock step: one
// parallel pass over replicas per step, then the ensemble trackers at log steps.
#include "core/dynamics.hpp"
#include "core/dynamics_detail.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"
#include "core/transport.hpp"

namespace speedlimits::dynamics {

namespace detail {

using std::size_t;

bool full_batch(Method m) { return m == Method::Gd || m == Method::Langevin; }

void init_params(const nets::Network& net, const TrainConfig& cfg, size_t i, double* theta) {
  const size_t P = net.num_params(), rid = cfg.replica_begin + i;
  const InitSpec& in = cfg.init;
  switch (in.kind) {
    case InitKind::Given:
      std::memcpy(theta, in.params + (in.count == 1 ? 0 : i) * P, P * sizeof(double));
      break;
    case InitKind::Network:
      net.init(in.seed, rid, theta);
      break;
    case InitKind::Gaussian: {
      rng::normal(in.seed, kInitStream + rid, 0, P, theta);
      for (size_t p = 0; p < P; ++p) theta[p] = in.theta0[p] + in.sigma0 * theta[p];
      break;
    }
  }
}

void init_batch_order(const TrainConfig& cfg, size_t n, size_t B, BatchOrder& o) {
  o.order.resize(n);
  std::iota(o.order.begin(), o.order.end(), 0u);
  o.u.resize(cfg.method == Method::Sgld ? B : n);
}

// B distinct indices: WR draws a fresh subset every step (partial Fisher–Yates on the persistent
// array: uniform over subsets whatever the array's current order); WOR reshuffles fully at the
// start of each epoch and takes consecutive slices.
size_t select_batch(const TrainConfig& cfg, size_t n, size_t B, size_t rid, size_t step, BatchOrder& o) {
  size_t first = 0;
  if (cfg.method == Method::Sgld) {
    rng::uniform(cfg.seed, kBatchStream + rid, std::uint64_t(step) * B, B, o.u.data());
    for (size_t j = 0; j < B; ++j) {
      const size_t pick = j + std::min(n - j - 1, static_cast<size_t>(o.u[j] * static_cast<double>(n - j)));
      std::swap(o.order[j], o.order[pick]);
    }
  } else {
    const size_t per_epoch = n / B, epoch = step / per_epoch, slot = step % per_epoch;
    if (slot == 0) {
      rng::uniform(cfg.seed, kBatchStream + rid, std::uint64_t(epoch) * n, n, o.u.data());
      std::iota(o.order.begin(), o.order.end(), 0u);
      for (size_t j = 0; j + 1 < n; ++j) {
        const size_t pick = j + std::min(n - j - 1, static_cast<size_t>(o.u[j] * static_cast<double>(n - j)));
        std::swap(o.order[j], o.order[pick]);
      }
    }
    first = slot * B;
  }
  return first;
}

std::vector<double> projection(const TrainConfig& cfg, size_t P) {
  std::vector<double> pr;
  if (cfg.projection_dim > 0) {
    const size_t q = cfg.projection_dim;
    pr.resize(P * q);
    rng::normal(cfg.seed, kProjectionStream, 0, P * q, pr.data());
    const double s = 1.0 / std::sqrt(static_cast<double>(q));
    for (double& v : pr) v *= s;
  }
  return pr;
}

void init_result(const TrainConfig& cfg, size_t M, size_t P, TrainResult& res) {
  const size_t nlog = cfg.log_steps.size();
  res = TrainResult{};
  res.replicas = M;
  res.params = P;
  for (auto* v : {&res.loss, &res.dist2, &res.dissipation, &res.heat})
    v->assign(nlog * M, std::numeric_limits<double>::quiet_NaN());
  if (cfg.entropy) res.entropy.assign(nlog * M, std::numeric_limits<double>::quiet_NaN());
  for (auto* v : {&res.w2, &res.w2_mean, &res.w2_cov, &res.w2_projected, &res.log_var_ratio})
    v->assign(nlog, std::numeric_limits<double>::quiet_NaN());
  res.snapshots.resize(cfg.snapshot_steps.size());
}

void ensemble_trackers(const TrainConfig& cfg, size_t M, size_t P, const double* start, const double* cur,
                       const std::vector<double>& projection, TrainResult& res, size_t li, bool log_var) {
  if (M < 2) return;
  std::vector<double> w(M, 1.0 / static_cast<double>(M));
  if (cfg.w2) {
    const auto g = transport::w2_gaussian_samples<double>(start, M, cur, M, P, w.data(), w.data(), false, Control{});
    res.w2[li] = g.w2sq;
    res.w2_mean[li] = g.mean_term;
    res.w2_cov[li] = g.cov_term;
  }
  if (cfg.projection_dim > 0) {
    const size_t q = cfg.projection_dim;
    std::vector<double> a(M * q), b(M * q), C(M * M), f(M), gg(M);
    linalg::gemm(linalg::Trans::No, linalg::Trans::No, M, q, P, 1.0, start, P, projection.data(), q, 0.0, a.data(), q);
    linalg::gemm(linalg::Trans::No, linalg::Trans::No, M, q, P, 1.0, cur, P, projection.data(), q, 0.0, b.data(), q);
    transport::cost_matrix<double>(a.data(), M, b.data(), M, q, true, false, C.data());
    double mean = 0;
    for (double c : C) mean += c;
    mean /= static_cast<double>(C.size());
    if (mean > 0) {
      transport::SinkhornOptions opt;
      opt.epsilon = 1e-3 * mean;
      opt.eps_scaling = true;
      opt.tol = 1e-9;
      opt.max_iter = 100000;
      const auto s = transport::sinkhorn_log<double>(C.data(), M, M, w.data(), w.data(), f.data(), gg.data(), nullptr, opt);
      res.w2_projected[li] = s.transport_cost;
    } else {
      res.w2_projected[li] = 0;
    }
  }
  if (log_var && cfg.log_var) {
    // Two-pass per-parameter variances over replicas (population normalisation).
    double acc = 0;
    for (size_t p = 0; p < P; ++p) {
      double m0 = 0, m1 = 0;
      for (size_t i = 0; i < M; ++i) {
        m0 += start[i * P + p];
        m1 += cur[i * P + p];
      }
      m0 /= static_cast<double>(M);
      m1 /= static_cast<double>(M);
      double v0 = 0, v1 = 0;
      for (size_t i = 0; i < M; ++i) {
        const double a0 = start[i * P + p] - m0, a1 = cur[i * P + p] - m1;
        v0 += a0 * a0;
        v1 += a1 * a1;
      }
      acc += std::log(v1 / v0);
    }
    res.log_var_ratio[li] = 0.5 * acc;
  }
}

}  // namespace detail

namespace {

using std::size_t;
using detail::full_batch;
constexpr size_t kChunk = 2048;  // noise draws generated and applied at once (stays in L1)

void check_steps(const std::vector<size_t>& v, size_t steps, const char* name) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > steps)
      throw InvalidArgument(std::string("train: ") + name + " must lie in [0, steps], got " + std::to_string(v[i]));
    if (i > 0 && v[i] <= v[i - 1]) throw InvalidArgument(std::string("train: ") + name + " must be strictly increasing");
  }
}

// Per-replica working state.
struct Replica {
  std::vector<double> theta, theta0, prev, grad, xb, yb;
  detail::BatchOrder batch;  // index array and uniform draws for batch selection
  double loss0 = 0, loss = 0, dissipation = 0;
  double g0sq = 0, gsq = 0;          // |g_0|², |g_k|² (entropy)
  double dg_prev = 0, dg_next = 0;   // Σ Δ_j·g_j, Σ Δ_j·g_{j+1}
  bool finite = true;
};

class Runner {
 public:
  Runner(const nets::Network& net, const double* x, const double* y, size_t n, const TrainConfig& cfg,
         TrainResult& res, const Control& control)
      : net_(net), x_(x), y_(y), n_(n), cfg_(cfg), res_(res), control_(control),
        P_(net.num_params()), d_(net.input_size()), k_(net.output_dim()),
        M_(cfg.replica_end - cfg.replica_begin),
        B_(full_batch(cfg.method) ? n : cfg.batch_size) {}

  void run();

 private:
  void init_replica(size_t i);
  void select_batch(Replica& r, size_t rid, size_t step);
  double objective(const Replica& r, double data_loss) const;
  void gradient(Replica& r, size_t rid, size_t step);
  void update(Replica& r, size_t rid, size_t step);
  void entropy_terms(Replica& r);
  void record(size_t li);
  void ensemble_trackers(size_t li);
  template <class F>
  void for_replicas(F&& f);

  const nets::Network& net_;
  const double *x_, *y_;
  size_t n_;
  const TrainConfig& cfg_;
  TrainResult& res_;
  const Control& control_;
  size_t P_, d_, k_, M_, B_;
  bool parallel_ = false;
  std::vector<Replica> reps_;
  std::vector<double> projection_;  // [P, q] when projection_dim > 0
};

template <class F>
void Runner::for_replicas(F&& f) {
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (parallel_)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(M_); ++i) f(static_cast<size_t>(i));
}

void Runner::init_replica(size_t i) {
  Replica& r = reps_[i];
  r.theta.resize(P_);
  detail::init_params(net_, cfg_, i, r.theta.data());
  r.theta0 = r.theta;
  r.grad.assign(P_, 0.0);
  if (cfg_.entropy) r.prev = r.theta;
  if (!full_batch(cfg_.method)) {
    r.xb.resize(B_ * d_);
    r.yb.resize(B_ * k_);
    detail::init_batch_order(cfg_, n_, B_, r.batch);
  }
}

void Runner::select_batch(Replica& r, size_t rid, size_t step) {
  const size_t first = detail::select_batch(cfg_, n_, B_, rid, step, r.batch);
  for (size_t j = 0; j < B_; ++j) {
    const size_t i = r.batch.order[first + j];
    std::memcpy(r.xb.data() + j * d_, x_ + i * d_, d_ * sizeof(double));
    std::memcpy(r.yb.data() + j * k_, y_ + i * k_, k_ * sizeof(double));
  }
}

double Runner::objective(const Replica& r, double data_loss) const {
  if (cfg_.weight_decay == 0) return data_loss;
  double s = 0;
  for (size_t p = 0; p < P_; ++p) s += r.theta[p] * r.theta[p];
  return data_loss + 0.5 * cfg_.weight_decay * s;
}

// r.grad = Σ_{i∈S} ∇ℓ_i (unscaled, without weight decay); r.loss = L(θ) for full-batch methods.
void Runner::gradient(Replica& r, size_t rid, size_t step) {
  if (full_batch(cfg_.method)) {
    r.loss = objective(r, net_.loss_gradient<double>(r.theta.data(), x_, y_, n_, r.grad.data(), nullptr));
    r.finite = std::isfinite(r.loss);
  } else {
    select_batch(r, rid, step);
    const double batch = net_.loss_gradient<double>(r.theta.data(), r.xb.data(), r.yb.data(), B_, r.grad.data(), nullptr);
    r.finite = std::isfinite(batch);
  }
}

// θ ← θ − η(scale·grad + γθ) + √(2ηT) ξ, fused with the noise generation and the trackers.
void Runner::update(Replica& r, size_t rid, size_t step) {
  const double eta = cfg_.eta, gamma = cfg_.weight_decay;
  const double scale = static_cast<double>(n_) / static_cast<double>(B_);
  const double sd = std::sqrt(2.0 * eta * cfg_.temperature);
  const bool noise = sd > 0;
  double xi[kChunk];
  double diss = 0, dprev = 0;
  double* th = r.theta.data();
  const double* g = r.grad.data();
  for (size_t p0 = 0; p0 < P_; p0 += kChunk) {
    const size_t len = std::min(kChunk, P_ - p0);
    if (noise) rng::normal(cfg_.seed, kNoiseStream + rid, std::uint64_t(step) * P_ + p0, len, xi);
    for (size_t j = 0; j < len; ++j) {
      const size_t p = p0 + j;
      const double gp = scale * g[p] + gamma * th[p];
      const double delta = noise ? -eta * gp + sd * xi[j] : -eta * gp;
      dprev += delta * gp;
      diss += delta * delta;
      th[p] += delta;
    }
  }
  r.dissipation += diss;
  r.dg_prev += dprev;
}

// Entropy pieces at θ_k (full-batch gradient g_k = ∇L): |g_k|² and Δ_{k−1}·g_k, then θ_k is
// remembered for the next step (prev starts at θ_0, so the k = 0 term is 0).
void Runner::entropy_terms(Replica& r) {
  const double gamma = cfg_.weight_decay;
  double gsq = 0, dnext = 0;
  for (size_t p = 0; p < P_; ++p) {
    const double gp = r.grad[p] + gamma * r.theta[p];
    gsq += gp * gp;
    dnext += (r.theta[p] - r.prev[p]) * gp;
    r.prev[p] = r.theta[p];
  }
  r.gsq = gsq;
  r.dg_next += dnext;
}

void Runner::record(size_t li) {
  const size_t M = M_;
  for (size_t i = 0; i < M; ++i) {
    const Replica& r = reps_[i];
    double dist = 0;
    for (size_t p = 0; p < P_; ++p) {
      const double d = r.theta[p] - r.theta0[p];
      dist += d * d;
    }
    res_.loss[li * M + i] = r.loss;
    res_.dist2[li * M + i] = dist;
    res_.dissipation[li * M + i] = r.dissipation;
    res_.heat[li * M + i] = r.loss0 - r.loss;
    if (cfg_.entropy) {
      const double T = cfg_.temperature;
      res_.entropy[li * M + i] = -(r.dg_prev + r.dg_next) / (2 * T) + cfg_.eta * (r.gsq - r.g0sq) / (4 * T);
    }
  }
  ensemble_trackers(li);
}

void Runner::ensemble_trackers(size_t li) {
  if (M_ < 2) return;
  if (cfg_.w2 || cfg_.projection_dim > 0) {
    std::vector<double> cur(M_ * P_), start(M_ * P_);
    for (size_t i = 0; i < M_; ++i) {
      std::memcpy(cur.data() + i * P_, reps_[i].theta.data(), P_ * sizeof(double));
      std::memcpy(start.data() + i * P_, reps_[i].theta0.data(), P_ * sizeof(double));
    }
    detail::ensemble_trackers(cfg_, M_, P_, start.data(), cur.data(), projection_, res_, li, false);
  }
  if (cfg_.log_var) {
    // Two-pass per-parameter variances over replicas (population normalisation). Kept on the
    // replicas' own arrays rather than detail::ensemble_trackers' [M, P] copies: the compiler
    // contracts and vectorises the two loops differently, and this path must keep its bits.
    double acc = 0;
    for (size_t p = 0; p < P_; ++p) {
      double m0 = 0, m1 = 0;
      for (size_t i = 0; i < M_; ++i) {
        m0 += reps_[i].theta0[p];
        m1 += reps_[i].theta[p];
      }
      m0 /= static_cast<double>(M_);
      m1 /= static_cast<double>(M_);
      double v0 = 0, v1 = 0;
      for (size_t i = 0; i < M_; ++i) {
        const double a0 = reps_[i].theta0[p] - m0, a1 = reps_[i].theta[p] - m1;
        v0 += a0 * a0;
        v1 += a1 * a1;
      }
      acc += std::log(v1 / v0);
    }
    res_.log_var_ratio[li] = 0.5 * acc;
  }
}

void Runner::run() {
  const size_t nlog = cfg_.log_steps.size();
  detail::init_result(cfg_, M_, P_, res_);

  // Replicas in parallel with single-threaded BLAS, or one after another with threaded BLAS.
  // Either way each replica computes the same numbers (the core's kernels do not depend on the
  // thread count), which the tests check.
  parallel_ = get_threads() > 1 && M_ > 1;
  struct BlasThreads {
    bool on;
    explicit BlasThreads(bool o) : on(o) { if (on) linalg::set_blas_threads(1); }
    ~BlasThreads() { if (on) linalg::set_blas_threads(get_threads()); }
  } blas_guard(parallel_);

  reps_.resize(M_);
  for_replicas([&](size_t i) { init_replica(i); });
  res_.initial_params.resize(M_ * P_);
  for (size_t i = 0; i < M_; ++i) std::memcpy(res_.initial_params.data() + i * P_, reps_[i].theta0.data(), P_ * sizeof(double));
  projection_ = detail::projection(cfg_, P_);

  const bool minibatch = !full_batch(cfg_.method);
  size_t next_log = 0, next_snap = 0;
  for (size_t step = 0; step <= cfg_.steps; ++step) {
    if (control_.aborted()) {
      res_.status = Status::Aborted;
      break;
    }
    const bool log_now = next_log < nlog && cfg_.log_steps[next_log] == step;
    const bool last = step == cfg_.steps;
    // Gradient at θ_step (the full-batch methods get L(θ_step) with it); the minibatch methods
    // evaluate the full objective only where it is recorded.
    for_replicas([&](size_t i) {
      Replica& r = reps_[i];
      const size_t rid = cfg_.replica_begin + i;
      if (!last || !minibatch) gradient(r, rid, step);
      if (minibatch && (log_now || step == 0)) {
        r.loss = objective(r, net_.loss_gradient<double>(r.theta.data(), x_, y_, n_, nullptr, nullptr));
        r.finite = r.finite && std::isfinite(r.loss);
      }
      if (step == 0) r.loss0 = r.loss;
      if (cfg_.entropy) {
        entropy_terms(r);
        if (step == 0) r.g0sq = r.gsq;
      }
    });
    for (size_t i = 0; i < M_; ++i) {
      if (!reps_[i].finite) {
        res_.status = Status::Diverged;
        res_.diverged_step = step;
        res_.diverged_replica = cfg_.replica_begin + i;
        break;
      }
    }
    if (res_.status == Status::Diverged) break;
    if (log_now) {
      record(next_log);
      res_.logged = ++next_log;
    }
    if (next_snap < cfg_.snapshot_steps.size() && cfg_.snapshot_steps[next_snap] == step) {
      auto& s = res_.snapshots[next_snap];
      s.resize(M_ * P_);
      for (size_t i = 0; i < M_; ++i) std::memcpy(s.data() + i * P_, reps_[i].theta.data(), P_ * sizeof(double));
      res_.snapshots_taken = ++next_snap;
    }
    if (last) break;
    for_replicas([&](size_t i) { update(reps_[i], cfg_.replica_begin + i, step); });
    res_.steps_done = step + 1;
    control_.report(static_cast<double>(step + 1) / static_cast<double>(cfg_.steps));
  }
  res_.final_params.resize(M_ * P_);
  for (size_t i = 0; i < M_; ++i) std::memcpy(res_.final_params.data() + i * P_, reps_[i].theta.data(), P_ * sizeof(double));
}

}  // namespace

const char* method_name(Method m) noexcept {
  switch (m) {
    case Method::Gd: return "gd";
    case Method::Langevin: return "langevin";
    case Method::Sgld: return "sgld";
    case Method::Sgworld: return "sgworld";
  }
  return "?";
}

void validate(const nets::Network& net, size_t n, const TrainConfig& c) {
  if (!(c.eta > 0) || !std::isfinite(c.eta)) throw InvalidArgument("train: eta (learningRate) must be a finite number > 0");
  if (!(c.temperature >= 0) || !std::isfinite(c.temperature))
    throw InvalidArgument("train: temperature must be a finite number >= 0");
  if (c.method == Method::Gd && c.temperature != 0) throw InvalidArgument("train: temperature must be 0 for method 'gd'");
  if (!(c.weight_decay >= 0) || !std::isfinite(c.weight_decay))
    throw InvalidArgument("train: weightDecay must be a finite number >= 0");
  if (c.steps < 1) throw InvalidArgument("train: steps must be >= 1");
  if (c.replica_end <= c.replica_begin) throw InvalidArgument("train: replicas must be a non-empty range");
  if (n < 1) throw ShapeError("train: the data must have at least one sample");
  if (!full_batch(c.method) && (c.batch_size < 1 || c.batch_size > n))
    throw InvalidArgument("train: batchSize must be in 1.." + std::to_string(n) + ", got " + std::to_string(c.batch_size));
  check_steps(c.log_steps, c.steps, "logSteps");
  check_steps(c.snapshot_steps, c.steps, "snapshotSteps");
  if (c.entropy && (c.method != Method::Langevin || !(c.temperature > 0)))
    throw InvalidArgument("train: entropy tracking needs method 'langevin' with temperature > 0");
  const size_t M = c.replica_end - c.replica_begin;
  if ((c.w2 || c.projection_dim > 0 || c.log_var) && M < 2)
    throw InvalidArgument("train: ensemble trackers (w2, projection, logVar) need at least 2 replicas");
  const InitSpec& in = c.init;
  if (in.kind == InitKind::Given && (in.params == nullptr || (in.count != 1 && in.count != M)))
    throw InvalidArgument("train: init params must hold 1 or " + std::to_string(M) + " parameter vectors");
  if (in.kind == InitKind::Gaussian && (in.theta0 == nullptr || !(in.sigma0 >= 0) || !std::isfinite(in.sigma0)))
    throw InvalidArgument("train: init needs theta0 and a finite sigma0 >= 0");
  (void)net;
}

void train(const nets::Network& net, const double* x, const double* y, size_t n, const TrainConfig& cfg,
           TrainResult& result, const Control& control) {
  validate(net, n, cfg);
  if (x == nullptr || y == nullptr) throw InvalidArgument("train: null data");
  Runner(net, x, y, n, cfg, result, control).run();
}

}  // namespace speedlimits::dynamics
