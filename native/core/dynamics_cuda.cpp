// The GPU training loop (cuda::train, see cuda_backend.hpp): Runner::run of dynamics.cpp step for
// step, with the replicas' parameters, gradients and update on the device (cuda::TrainSession).
// What the host keeps: the minibatch index arrays (drawn here by the CPU's own code, so both
// backends pick the same rows), θ_0, and the per-replica scalars the trackers need. In builds
// without CUDA the session's constructor throws CudaUnavailable, so this file links everywhere.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/cuda_backend.hpp"
#include "core/dynamics.hpp"
#include "core/dynamics_detail.hpp"
#include "core/errors.hpp"

namespace speedlimits::cuda {

using std::size_t;

void train(const nets::Network& net, const double* x, const double* y, size_t n, const dynamics::TrainConfig& cfg,
           dynamics::TrainResult& res, const Control& control) {
  using dynamics::detail::full_batch;
  dynamics::validate(net, n, cfg);
  if (x == nullptr || y == nullptr) throw InvalidArgument("train: null data");
  require("train");
  if (net.spec().type != nets::NetType::Fcn)
    throw CudaUnsupported("train: backend 'cuda' does not support training a CNN (FCN only); use backend 'auto' or 'cpu'");
  const size_t M = cfg.replica_end - cfg.replica_begin, P = net.num_params();
  if (M > 65535)
    throw CudaUnsupported("train: backend 'cuda' runs at most 65535 replicas per call, got " + std::to_string(M) +
                          "; use backend 'auto' or 'cpu'");
  const bool minibatch = !full_batch(cfg.method);
  const size_t B = minibatch ? cfg.batch_size : n;
  const size_t nlog = cfg.log_steps.size();
  dynamics::detail::init_result(cfg, M, P, res);

  std::vector<double> theta0(M * P);
  for (size_t i = 0; i < M; ++i) dynamics::detail::init_params(net, cfg, i, theta0.data() + i * P);
  res.initial_params = theta0;
  const std::vector<double> projection = dynamics::detail::projection(cfg, P);

  TrainSession s(fcn_plan(net), M, x, y, n, minibatch ? B : 0);
  s.set_params(theta0.data());
  std::vector<dynamics::detail::BatchOrder> orders(minibatch ? M : 0);
  for (auto& o : orders) dynamics::detail::init_batch_order(cfg, n, B, o);
  std::vector<std::uint32_t> idx(minibatch ? M * B : 0);

  const double gamma = cfg.weight_decay;
  UpdateParams u;
  u.eta = cfg.eta;
  u.gamma = gamma;
  u.scale = static_cast<double>(n) / static_cast<double>(B);
  u.sd = std::sqrt(2.0 * cfg.eta * cfg.temperature);
  u.seed = cfg.seed;
  u.replica_begin = cfg.replica_begin;

  std::vector<double> loss(M, 0.0), loss0(M, 0.0), data(M), sq(M, 0.0), diss(M, 0.0), dg_prev(M, 0.0), dg_next(M, 0.0),
      gsq(M, 0.0), g0sq(M, 0.0), cur(M * P);
  std::vector<char> finite(M, 1);
  // L(θ) = data loss + γ/2 |θ|², as Runner::objective.
  auto objective = [&](size_t i) { return gamma == 0 ? data[i] : data[i] + 0.5 * gamma * sq[i]; };

  size_t next_log = 0, next_snap = 0;
  for (size_t step = 0; step <= cfg.steps; ++step) {
    if (control.aborted()) {
      res.status = dynamics::Status::Aborted;
      break;
    }
    const bool log_now = next_log < nlog && cfg.log_steps[next_log] == step;
    const bool last = step == cfg.steps;
    const bool full_loss_now = minibatch && (log_now || step == 0);
    if (gamma != 0 && (!minibatch || full_loss_now)) s.sq_norms(sq.data());
    if (!last || !minibatch) {
      if (!minibatch) {
        s.gradient_full(data.data());
        for (size_t i = 0; i < M; ++i) {
          loss[i] = objective(i);
          finite[i] = std::isfinite(loss[i]);
        }
      } else {
        for (size_t i = 0; i < M; ++i) {
          const size_t first = dynamics::detail::select_batch(cfg, n, B, cfg.replica_begin + i, step, orders[i]);
          std::memcpy(idx.data() + i * B, orders[i].order.data() + first, B * sizeof(std::uint32_t));
        }
        s.gradient_batch(idx.data(), data.data());
        for (size_t i = 0; i < M; ++i) finite[i] = std::isfinite(data[i]);
      }
    }
    if (full_loss_now) {
      s.loss_full(data.data());
      for (size_t i = 0; i < M; ++i) {
        loss[i] = objective(i);
        finite[i] = finite[i] && std::isfinite(loss[i]);
      }
    }
    if (step == 0) loss0 = loss;
    if (cfg.entropy) {
      s.entropy_terms(gamma, gsq.data(), dg_next.data());
      if (step == 0) g0sq = gsq;
    }
    for (size_t i = 0; i < M; ++i) {
      if (!finite[i]) {
        res.status = dynamics::Status::Diverged;
        res.diverged_step = step;
        res.diverged_replica = cfg.replica_begin + i;
        break;
      }
    }
    if (res.status == dynamics::Status::Diverged) break;
    bool have_cur = false;
    if (log_now) {
      s.get_params(cur.data());
      have_cur = true;
      const size_t li = next_log;
      for (size_t i = 0; i < M; ++i) {
        double dist = 0;
        for (size_t p = 0; p < P; ++p) {
          const double d = cur[i * P + p] - theta0[i * P + p];
          dist += d * d;
        }
        res.loss[li * M + i] = loss[i];
        res.dist2[li * M + i] = dist;
        res.dissipation[li * M + i] = diss[i];
        res.heat[li * M + i] = loss0[i] - loss[i];
        if (cfg.entropy) {
          const double T = cfg.temperature;
          res.entropy[li * M + i] = -(dg_prev[i] + dg_next[i]) / (2 * T) + cfg.eta * (gsq[i] - g0sq[i]) / (4 * T);
        }
      }
      if (cfg.w2 || cfg.projection_dim > 0 || cfg.log_var)
        dynamics::detail::ensemble_trackers(cfg, M, P, theta0.data(), cur.data(), projection, res, li, true);
      res.logged = ++next_log;
    }
    if (next_snap < cfg.snapshot_steps.size() && cfg.snapshot_steps[next_snap] == step) {
      if (!have_cur) s.get_params(cur.data());
      res.snapshots[next_snap] = cur;
      res.snapshots_taken = ++next_snap;
    }
    if (last) break;
    u.step = step;
    s.update(u, diss.data(), dg_prev.data());
    res.steps_done = step + 1;
    control.report(static_cast<double>(step + 1) / static_cast<double>(cfg.steps));
  }
  res.final_params.resize(M * P);
  s.get_params(res.final_params.data());
}

}  // namespace speedlimits::cuda
