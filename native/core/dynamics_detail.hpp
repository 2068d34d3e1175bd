// Pieces of the Langevin engine shared by the CPU loop (dynamics.cpp) and the GPU loop
// (dynamics_cuda.cpp), so both draw the same initial parameters and minibatches and compute the
// trackers that need only θ_0 and θ_k with the same code (hence the same rounding).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dynamics.hpp"

namespace speedlimits::dynamics::detail {

bool full_batch(Method m);

// θ_0 of replica i of this call (global index cfg.replica_begin + i) into theta [P].
void init_params(const nets::Network& net, const TrainConfig& cfg, std::size_t i, double* theta);

// Minibatch selection state of one replica: the persistent index array and the uniform draws.
struct BatchOrder {
  std::vector<std::uint32_t> order;
  std::vector<double> u;
};
void init_batch_order(const TrainConfig& cfg, std::size_t n, std::size_t B, BatchOrder& o);
// The batch of replica rid at `step` is o.order[first .. first + B); returns first.
std::size_t select_batch(const TrainConfig& cfg, std::size_t n, std::size_t B, std::size_t rid, std::size_t step,
                         BatchOrder& o);

// The random projection [P, q] of the w2_projected tracker (empty when projection_dim == 0).
std::vector<double> projection(const TrainConfig& cfg, std::size_t P);

// Sizes the series of res for M replicas of P parameters, filled with NaN.
void init_result(const TrainConfig& cfg, std::size_t M, std::size_t P, TrainResult& res);

// The ensemble trackers (w2, w2_projected and, when log_var, log_var_ratio) at log index li from
// the clouds start = {θ_0} and cur = {θ_k}, both [M, P]. The CPU loop computes log_var_ratio on
// its per-replica arrays itself (log_var = false here), the GPU loop here: same formula, equal
// to rounding (the compilers contract the two loops differently).
void ensemble_trackers(const TrainConfig& cfg, std::size_t M, std::size_t P, const double* start, const double* cur,
                       const std::vector<double>& projection, TrainResult& res, std::size_t li, bool log_var);

}  // namespace speedlimits::dynamics::detail
