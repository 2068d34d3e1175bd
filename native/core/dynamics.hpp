// The Langevin engine: ensembles of M replicas of a network trained by gradient descent,
// full-batch Langevin (ULA), SGLD (with-replacement minibatches) and SGWORLD (epoch-wise
// reshuffling), with the thermodynamic trackers of THEORY.md §1.6 and §4.4.
//
// Update (THEORY.md §4.1), one step = one unit of time:
//     θ ← θ − η ĝ + √(2ηT) ξ,   ĝ = (n/B) Σ_{i∈S} ∇ℓ_i(θ) + γ θ,   ℓ_i = ½|f(x_i) − y_i|²
// ('gd': T = 0, S = all; 'langevin': S = all). The noise ξ is drawn in chunks while the update
// is applied (never a P-vector per step).
//
// Randomness: every draw is a pure function of (seed, stream, index), so a replica's trajectory
// depends only on (seed, global replica index r, data, options) — not on the thread count nor on
// how replicas are split into shards. Streams of replica r:
//     init 'network'   net.init(initSeed, stream r)            (same as Network::init)
//     init 'gaussian'  θ0 + σ0·normal(initSeed, kInitStream + r)
//     step noise       normal(seed, kNoiseStream + r), draws [k·P, (k+1)·P) at step k
//     batches          uniform(seed, kBatchStream + r): WR step k uses draws [k·B, (k+1)·B)
//                      (partial Fisher–Yates on a persistent index array: B distinct indices);
//                      WOR epoch e uses draws [e·n, (e+1)·n) for a full shuffle, then the
//                      batches are consecutive slices (⌊n/B⌋ per epoch, the remainder dropped)
//     projection       normal(seed, kProjectionStream), shared by all replicas
//
// Trackers, recorded at each log step k (θ = θ_k, before update k), per replica:
//     loss          L(θ_k) = Σ_i ℓ_i + γ/2 |θ_k|² on the full training set
//     dist2         |θ_k − θ_0|²
//     dissipation   Σ_{j<k} |θ_{j+1} − θ_j|²     (kinematic dissipation, §1.6)
//     heat          L(θ_0) − L(θ_k)
//     entropy       'langevin' only: the medium part of the exact discrete-chain entropy
//                   production (§4.4, Gaussian kernel, D = ηT I), in nats:
//                   Σ_{j<k} [−Δ_j·(g_j + g_{j+1})/(2T) + η(|g_{j+1}|² − |g_j|²)/(4T)], g = ∇L
// and for the ensemble (all replicas of this call):
//     w2            Gaussian (Bures) W2² between the clouds {θ_0} and {θ_k} (sample form)
//     w2_projected  W2² between the clouds projected on q random directions (entries
//                   N(0, 1/q), distances preserved in expectation), by log-domain Sinkhorn
//                   (ε = 1e-3 × the mean projected cost; the transport cost ⟨P, C⟩)
//     log_var_ratio ½ Σ_p ln(v_k,p / v_0,p), v the per-parameter variance over replicas: the
//                   system-entropy change of the diagonal Gaussian fit (an approximation)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/control.hpp"
#include "core/nets.hpp"

namespace speedlimits::dynamics {

enum class Method { Gd, Langevin, Sgld, Sgworld };
enum class InitKind { Given, Network, Gaussian };

constexpr std::uint64_t kNoiseStream = std::uint64_t(1) << 62;
constexpr std::uint64_t kBatchStream = std::uint64_t(2) << 62;
constexpr std::uint64_t kInitStream = std::uint64_t(3) << 62;
constexpr std::uint64_t kProjectionStream = std::uint64_t(1) << 61;

struct InitSpec {
  InitKind kind = InitKind::Network;
  const double* params = nullptr;  // Given: [count, P] with count = 1 (broadcast) or M
  std::size_t count = 0;
  const double* theta0 = nullptr;  // Gaussian: [P]
  double sigma0 = 0;               // Gaussian: ≥ 0
  std::uint64_t seed = 0;          // Network, Gaussian
};

struct TrainConfig {
  Method method = Method::Gd;
  double eta = 0;            // > 0
  double temperature = 0;    // ≥ 0 (0 for 'gd'; > 0 for the others unless plain SGD is wanted)
  double weight_decay = 0;   // γ ≥ 0
  std::size_t batch_size = 0;  // 1..n for sgld/sgworld (ignored for full-batch methods)
  std::size_t steps = 0;       // ≥ 1
  std::uint64_t seed = 0;
  std::size_t replica_begin = 0, replica_end = 0;  // global indices [begin, end), end > begin
  std::vector<std::size_t> log_steps;       // strictly increasing, within [0, steps]
  std::vector<std::size_t> snapshot_steps;  // strictly increasing, within [0, steps]
  bool entropy = false;      // 'langevin' with T > 0 only
  bool w2 = false;           // Gaussian W2² to the start at each log step (needs M ≥ 2)
  std::size_t projection_dim = 0;  // > 0: Sinkhorn W2² on a projection (needs M ≥ 2)
  bool log_var = false;      // diagonal-Gaussian system entropy change (needs M ≥ 2)
  InitSpec init;
};

enum class Status { Completed, Aborted, Diverged };

// Filled as the run goes, so a stopped run keeps what it had. Per-replica series are
// [log index][replica] (row-major, `replicas` columns).
struct TrainResult {
  std::size_t replicas = 0, params = 0;
  std::size_t logged = 0;  // log steps recorded so far
  std::vector<double> loss, dist2, dissipation, heat, entropy;
  std::vector<double> w2, w2_mean, w2_cov, w2_projected, log_var_ratio;  // [log index]
  std::vector<double> final_params;    // [M, P] at the last completed step
  std::vector<double> initial_params;  // [M, P]
  std::vector<std::vector<double>> snapshots;  // per snapshot step recorded: [M, P]
  std::size_t snapshots_taken = 0;
  std::size_t steps_done = 0;
  Status status = Status::Completed;
  std::size_t diverged_step = 0, diverged_replica = 0;
};

const char* method_name(Method m) noexcept;

// Checks the configuration against the network and data; throws InvalidArgument naming the
// option (eta, temperature, weightDecay, batchSize, steps, replicas, logSteps, snapshotSteps,
// entropy, init) or ShapeError for data that does not fit the network.
void validate(const nets::Network& net, std::size_t n, const TrainConfig& cfg);

// Runs the ensemble. x [n, input_size], y [n, output_dim] (finite; checked by the callers).
// Replicas run in parallel (BLAS single-threaded inside) when there are at least two threads and
// two replicas; otherwise they run one after another with threaded BLAS. Reports progress in
// [0, 1]; when the control's flag is raised the result has status Aborted (no exception), and a
// non-finite loss stops the run with status Diverged.
void train(const nets::Network& net, const double* x, const double* y, std::size_t n, const TrainConfig& cfg,
           TrainResult& result, const Control& control = Control{});

}  // namespace speedlimits::dynamics
