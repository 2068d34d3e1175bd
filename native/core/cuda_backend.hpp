// The CUDA backend's host API: plain C++ (no CUDA types), implemented in native/cuda/*.cu when
// the build has CUDA (SPEEDLIMITS_WITH_CUDA) and by cuda_backend.cpp otherwise, where every
// entry point throws CudaUnavailable (code ERR_CUDA_UNAVAILABLE). So the core, the addon and the
// tests compile and link in every configuration.
//
// Every function takes and returns host arrays with the same contract as the CPU function it
// mirrors (named in its comment): it copies the inputs to device 0, computes there, and copies
// the results back before returning. Results agree with the CPU path to rounding (the kernels
// sum in a different order), except where a comment says bit-identical.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/control.hpp"
#include "core/dynamics.hpp"
#include "core/net_spec.hpp"
#include "core/nets.hpp"
#include "core/transport.hpp"

namespace speedlimits::cuda {

// Compiled with CUDA and at least one device visible.
bool available() noexcept;
// Throws CudaUnavailable "<caller>: backend 'cuda' …" saying why (not compiled / no device).
void require(const char* caller);

// ---- W2 engine --------------------------------------------------------------------------------
// transport::cost_matrix: centre (double), norms (double), the GEMM in T (fp32 FMA for float,
// never TF32), clamped at 0; same = true gives an exactly symmetric result with a 0 diagonal.
template <typename T>
void cost_matrix(const T* x, std::size_t n, const T* y, std::size_t m, std::size_t d, bool center, bool same, T* C);

// transport::sinkhorn_log with the same options, ε schedule, stage tolerances and stopping rule
// (L1 column-marginal error, rows exact after the last f-update). Each half-step is one fused
// pass over C: an exact online log-sum-exp in double per row (f) or per column (g); the column
// pass also yields the marginal error. Kernel mode and the Newton polish are CPU-only
// (opt.kernel/opt.newton are ignored), so iteration counts differ from the CPU's; the converged
// potentials, plan and objective agree to the tolerance.
template <typename T>
transport::SinkhornResult sinkhorn_log(const T* C, std::size_t n, std::size_t m, const double* a, const double* b,
                                       double* f, double* g, double* plan, const transport::SinkhornOptions& opt);
// transport::sinkhorn_log_symmetric (the averaged fixed point on a symmetric C).
template <typename T>
transport::SinkhornResult sinkhorn_log_symmetric(const T* C, std::size_t n, const double* a, double* f,
                                                 const transport::SinkhornOptions& opt);

// ---- random numbers ---------------------------------------------------------------------------
// rng::normal computed on the device (Philox in-kernel): bit-identical to the CPU.
void normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out);

// ---- Langevin engine --------------------------------------------------------------------------
// One ensemble update, the body of the CPU engine's update step (dynamics.cpp), for replicas
// r = 0..M−1 (global index replica_begin + r) of P parameters each, theta and grad [M, P]:
//   gp = scale·grad + γ·θ,  δ = −η·gp + sd·ξ,  θ += δ,
//   ξ_p = normal draw step·P + p of (seed, kNoiseStream + replica) (bit-identical to the CPU's),
// and per replica dissipation[r] += Σ_p δ², dg_prev[r] += Σ_p δ·gp. sd = 0: no noise.
struct UpdateParams {
  double eta = 0, gamma = 0, scale = 1, sd = 0;
  std::uint64_t seed = 0, replica_begin = 0, step = 0;
};
void langevin_update(std::size_t M, std::size_t P, double* theta, const double* grad, const UpdateParams& u,
                     double* dissipation, double* dg_prev);

// The FCN forward/backward pass of the Langevin engine for M replicas at once: replica r has
// parameters params[r·P ..] and its own batch x [M, B, d], y [M, B, k]; grad [M, P] receives
// Σ_i ∇ℓ_i (Network::loss_gradient's grad) and loss[r] the squared loss ½ Σ_i |f(x_i) − y_i|².
// Layers run as batched GEMMs over the replicas.
struct FcnPlan;
void ensemble_loss_gradient(const FcnPlan& plan, std::size_t M, const double* params, const double* x, const double* y,
                            std::size_t B, double* grad, double* loss);

// The device-resident state of the GPU training loop (cuda::train below): the data, the M
// replicas' parameters and every work buffer stay on the device across steps; only per-replica
// scalars (and the parameters, when asked) cross to the host. Calls run in order on the default
// stream; each returns after its results are on the host.
class TrainSession {
 public:
  // x [n, d], y [n, k] (copied once); batch > 0 reserves minibatch buffers of that many rows.
  TrainSession(const FcnPlan& plan, std::size_t M, const double* x, const double* y, std::size_t n, std::size_t batch);
  ~TrainSession();
  TrainSession(const TrainSession&) = delete;
  TrainSession& operator=(const TrainSession&) = delete;

  // θ ← theta [M, P] (and the entropy tracker's θ_prev ← θ); get_params copies θ back.
  void set_params(const double* theta);
  void get_params(double* theta) const;
  // grad ← Σ_i ∇ℓ_i over all n samples; data_loss[r] = ½ Σ_i |f(x_i) − y_i|² (Network::loss_gradient).
  void gradient_full(double* data_loss);
  // The same over replica r's minibatch: rows idx[r·B .. r·B + B) of x, y (B = the constructor's batch).
  void gradient_batch(const std::uint32_t* idx, double* data_loss);
  // data_loss over all n samples, without a gradient.
  void loss_full(double* data_loss);
  // sq[r] = |θ_r|².
  void sq_norms(double* sq);
  // The entropy pieces at θ_k with gp = grad + γθ (full-batch grad): gsq[r] = |gp|²,
  // dnext[r] += (θ − θ_prev)·gp, then θ_prev ← θ.
  void entropy_terms(double gamma, double* gsq, double* dnext);
  // langevin_update on the resident θ and grad.
  void update(const UpdateParams& u, double* dissipation, double* dg_prev);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// dynamics::train with the replicas on GPU 0 (FCN networks, every method): the same
// initialisation, minibatch indices (drawn on the host from the same Philox stream), in-kernel
// noise stream and trackers, so a CPU and a GPU run of the same seed agree to rounding. θ is
// copied back only at log and snapshot steps and at the end; the trackers that need only θ_0
// and θ_k (dist2, w2, w2_projected, log_var_ratio) are computed there by the CPU's code.
// Throws CudaUnavailable without a device, CudaUnsupported for a CNN or more than 65535
// replicas; otherwise the contract of dynamics::train (status Aborted/Diverged, progress).
void train(const nets::Network& net, const double* x, const double* y, std::size_t n,
           const dynamics::TrainConfig& cfg, dynamics::TrainResult& result, const Control& control = Control{});

// ---- NTK engine -------------------------------------------------------------------------------
// linalg::gemm (row-major, op = transpose when the flag is set) by the tiled device GEMM.
template <typename T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* A,
          std::size_t lda, const T* B, std::size_t ldb, T beta, T* C, std::size_t ldc);

// Everything the device needs of an FCN (from a nets::Network; fcn_plan throws InvalidArgument
// for a CNN).
struct FcnPlan {
  std::vector<nets::LayerPlan> layers;  // hidden layers, then the readout
  nets::Activation activation = nets::Activation::Relu;
  std::size_t input_dim = 0, output_dim = 1, num_params = 0;
};
FcnPlan fcn_plan(const nets::Network& net);

// nets::Network::ntk for an FCN (same layout, trace mode and x2 == nullptr meaning x2 = x1, then
// exactly symmetric): forward GEMMs, backward GEMMs for Δ_l, and the layer-wise accumulation
// Θ += (s_l² H Hᵀ + sb_l²) ⊙ (Δ_l Δ_lᵀ) on the device. Polls control between layers.
template <typename T>
void ntk_fcn(const FcnPlan& plan, const T* params, const T* x1, std::size_t n1, const T* x2, std::size_t n2, bool trace,
             T* out, const Control& control = Control{});

}  // namespace speedlimits::cuda
