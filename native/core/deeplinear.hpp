// Deep linear networks (THEORY.md §5; Bordelon & Pehlevan, arXiv:2502.02531): a simulator of
// gradient descent from random initialisation, the NTK-at-initialisation constant c_K, and the
// lazy (kernel) limit of §5.4.
//
// ---- network (§5.1) -----------------------------------------------------------------------------
//   inputs x ∈ R^D, width N, depth L ≥ 1 (hidden layers), every weight N(0, 1) at init:
//     h_1 = W_0 x,   h_{ℓ+1} = M_ℓ h_ℓ (ℓ = 1..L−1),   f(x) = w·h_L / (γ0 N)
//     M_ℓ = W_ℓ/√N (plain)   or   M_ℓ = I + β W_ℓ/√N, β = β0/√L (residual)
//   γ0 fixed ('mup') or γ0 = γ̃0/√N ('ntk'; the `gamma0` field is then γ̃0). f(x) = vᵀx with the
//   end-to-end vector v = W_0ᵀ M_1ᵀ ⋯ M_{L−1}ᵀ w / (γ0 N).
//   Parameters, one flat vector θ (P = N·D + (L−1)·N² + N entries, all row-major):
//     W_0 [N×D] at 0,  W_ℓ [N×N] at N·D + (ℓ−1)·N² (ℓ = 1..L−1),  w [N] at N·D + (L−1)·N².
//   Initialisation: θ = normal(seed, stream = seed index, draws 0..P−1) — the whole vector in
//   the order above, so seed index s is reproducible from TS with random.normal.
//
// ---- data (§5.2) --------------------------------------------------------------------------------
//   x ~ N(0, Σ), Σ = diag(λ), y = w*ᵀx + σ ε. Isotropic: λ_k = 1/D, w*_k = 1 (½w*ᵀΣw* = ½);
//   power law: λ_k = k^−α, w*_k = k^{(α − αb − 1)/2} (so λ_k w*_k² = k^{−αb−1}); or given λ, w*.
//   Samples come from stream kDataStream + seed index: sample μ takes draws
//   [μ(D+1), (μ+1)(D+1)): z (D draws, x = √λ∘z) then ε. 'fixed' uses samples 0..P−1;
//   'online' step k uses samples kB..kB+B−1 (a fresh batch each step).
//
// ---- training -----------------------------------------------------------------------------------
//   Objective 𝒪: 'population' and 'online' descend the population loss
//     ℒ(θ) = ½(v − w*)ᵀΣ(v − w*) + ½σ²  (exact for Gaussian x; the test loss of every mode);
//   'fixed' descends the train loss ℒ̂ = (1/2P) Σ_μ (f(x_μ) − y_μ)².
//   Every tensor moves with the same learning rate η_eff = η γ0² N:  θ ← θ − η_eff ĝ, where ĝ is
//   ∇ℒ ('population'), ∇ℒ̂ ('fixed') or the batch gradient (1/B)Σ_{μ∈batch} (f − y)∇f ('online').
//   All three are rank-1 per tensor (f is linear in x): with e = Σ(v − w*) (population),
//   e = (1/P)Xᵀ(Xv − y) (fixed) or (1/B)X_bᵀ(X_b v − y_b) (online), backward vectors u_L = w,
//   u_ℓ = M_ℓᵀu_{ℓ+1}, forward a_1 = W_0 e, a_{ℓ+1} = M_ℓ a_ℓ:
//     ∇W_0 = u_1 eᵀ/(γ0N),  ∇W_ℓ = c u_{ℓ+1} a_ℓᵀ/(γ0N√N) (c = 1 or β),  ∇w = a_L/(γ0N).
//   Population GD costs O(ND + LN²) per step: a backward pass of transposed products and a
//   forward pass, both reading the weights; the rank-1 updates are kept as pending terms (a ring
//   of 8 per tensor, W = B − Σ_k x_k y_kᵀ) and applied to one eighth of the rows per step inside
//   the forward pass, and the top matrix is read once per step (see deeplinear.cpp). 'fixed' adds
//   O(PD) (P ≤ D: X kept) or O(D²) (P > D: Σ̂ = XᵀX/P kept, X never stored); 'online' adds O(BD)
//   and B(D+1) draws.
//   One seed at a time with all threads inside the step (large nets), or seeds in parallel with
//   one thread each (small nets); the numbers do not depend on the thread count nor on which.
//
// ---- recorded at each log step t (per seed, θ_t before update t) --------------------------------
//   loss        ℒ(θ_t) (population test loss)
//   train_loss  ℒ̂(θ_t) ('fixed' only)
//   dist2       |θ_t − θ_0|² over all weights
//   dissipation Σ_{k<t} |θ_{k+1} − θ_k|² (exact for the rank-1 steps: Σ_tensors α²|u|²|a|²)
//   heat        𝒪(θ_0) − 𝒪(θ_t)
//   From these the TS layer forms the speed-limit efficiencies (means over seeds)
//     𝓔_loss = ⟨dist2⟩/(η_eff t ⟨heat⟩),   𝓔_kin = ⟨dist2⟩/(t ⟨dissipation⟩)
//   (𝓔_kin ≤ 1 by Cauchy–Schwarz; 𝓔_loss ≤ 1 for gradient flow and, to first order in η, for GD).
//
// ---- NTK at initialisation (§5.4.1) -------------------------------------------------------------
//   K(x, x') = γ0²N Σ_θ ∂f(x)∂f(x') = (1/N)[ |u_1|² xᵀx' + Σ_{ℓ=1}^{L−1} (c²/N)|u_{ℓ+1}|² a_ℓ(x)·a_ℓ(x')
//              + a_L(x)·a_L(x') ]  with a_ℓ(x) = h_ℓ(x)  (exact at any width; γ0 cancels)
//   = xᵀK_0x' with K_0 = (1/N)[|u_1|² I + Σ_ℓ (c²/N)|u_{ℓ+1}|² A_ℓᵀA_ℓ + A_LᵀA_L], A_ℓ = M_{ℓ−1}⋯M_1W_0.
//   N → ∞: K_0 → c_K I, c_K = L + 1 (plain), (1+β²)^{L−2}[2(1+β²) + (L−1)β²] (residual),
//   → e^{β0²}(2 + β0²) as L → ∞.
//
// ---- lazy limit (§5.4.2), population training only ----------------------------------------------
//   kernel:   v_{t+1} = v_t − ηK_0Σ(v_t − w*) with the sampled K_0, solved exactly through the
//             eigendecomposition of H = Σ^{½}K_0Σ^{½}: ℒ(t) = ½Σ_j (1 − ηh_j)^{2t}(q_jᵀΣ^{½}(v_0 − w*))² + ½σ²
//   constant: K_0 → c_K I:  ℒ(t) = ½Σ_k λ_k(v_{0,k} − w*_k)²(1 − ηc_Kλ_k)^{2t} + ½σ²
//   both with the sampled v_0; deviation = max over log steps of |ℒ_sim − ℒ_lazy|/ℒ_lazy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/control.hpp"

namespace speedlimits::deeplinear {

enum class Param { Mup, Ntk };
enum class Training { Population, Fixed, Online };
enum class Spectrum { Isotropic, PowerLaw };
enum class Status { Completed, Aborted, Diverged };

constexpr std::uint64_t kDataStream = std::uint64_t(1) << 62;   // + seed index
constexpr std::uint64_t kProbeStream = std::uint64_t(2) << 62;  // + seed index (c_K probe inputs)

struct Arch {
  std::size_t input_dim = 0;  // D ≥ 1
  std::size_t width = 0;      // N ≥ 1
  std::size_t depth = 1;      // L ≥ 1
  bool residual = false;
  double beta0 = 1;           // residual branch scale β0 > 0 (branches β0/√L)
  Param param = Param::Mup;
  double gamma0 = 1;          // γ0 ('mup') or γ̃0 ('ntk'), > 0
};

// Throws InvalidArgument naming the option (inputDim, width, depth, beta0, gamma0).
void validate(const Arch& a, const char* fn = "deepLinear");
std::size_t num_params(const Arch& a);
double effective_gamma(const Arch& a);  // γ0, or γ̃0/√N for 'ntk'
double branch_scale(const Arch& a);     // c: 1 (plain) or β0/√L (residual)
double tensor_rate(const Arch& a, double eta);  // η_eff = η γ0² N
std::size_t hidden_offset(const Arch& a, std::size_t l);  // W_l, l = 1..L−1
std::size_t readout_offset(const Arch& a);                // w

// θ = normal(seed, stream = seed_index, 0..P−1).
void init_params(const Arch& a, std::uint64_t seed, std::uint64_t seed_index, double* theta);
// The end-to-end vector v [D].
void end_to_end(const Arch& a, const double* theta, double* v);
// λ [D] and w* [D] of the built-in spectra (alpha > 0 and b for the power law).
void make_spectrum(Spectrum s, std::size_t D, double alpha, double b, double* lambda, double* target);
// ℒ(θ) and, when grad != nullptr, ∇ℒ [P] by the rank-1 formulas (single-threaded reference).
double population_loss_gradient(const Arch& a, const double* theta, const double* lambda, const double* target,
                                 double noise, double* grad);

// c_K closed forms (throw InvalidArgument for depth < 1 or beta0 not finite and > 0 when residual).
double ck_closed_form(std::size_t depth, bool residual, double beta0);
double ck_limit(double beta0);  // e^{β0²}(2 + β0²)
// K(x_i, x_j) [m×m] for inputs x [m×D] at θ (analytic gradients, no finite differences).
void ntk_gram(const Arch& a, const double* theta, const double* x, std::size_t m, double* out);
// K_0 [D×D] with K(x, x') = xᵀK_0x'.
void ntk_matrix(const Arch& a, const double* theta, double* K0);

struct CkEmpirical {
  std::vector<double> per_seed;  // least-squares c with K(x_i,x_j) ≈ c x_iᵀx_j over all probe pairs
  std::vector<double> fit_residual;  // per seed: ‖K − cG‖_F / ‖cG‖_F
  double mean = 0, sd = 0, standard_error = 0;  // over seeds (sd: sample, n − 1; 0 for one seed)
  double closed_form = 0;
};
// Probe inputs x ~ N(0, I_D) from (seed, kProbeStream + s); the network of seed index s is
// init_params(seed, s), the same as deepLinear's. Seeds run in parallel.
CkEmpirical ck_empirical(const Arch& a, std::size_t seeds, std::uint64_t seed, std::size_t probes,
                         const Control& control = Control{});

struct RunConfig {
  Arch arch;
  std::vector<double> lambda, target;  // [D], λ ≥ 0 (not all 0), finite
  double noise = 0;                    // σ ≥ 0
  Training training = Training::Population;
  std::size_t samples = 0;     // P ≥ 1 ('fixed')
  std::size_t batch_size = 0;  // B ≥ 1 ('online')
  double eta = 0;              // η > 0
  std::size_t steps = 0;       // ≥ 1
  std::uint64_t seed = 0;
  std::size_t seeds = 1;       // seed indices 0..seeds−1
  std::vector<std::size_t> log_steps;  // strictly increasing in [0, steps]
  const double* init = nullptr;  // optional given start: [init_count, P], init_count 1 or seeds
  std::size_t init_count = 0;
  bool lazy = false;         // 'population' only
  bool keep_params = false;  // final θ per seed
};

// Per-seed series are [log index][seed] (row-major, `seeds` columns); NaN where not reached.
struct RunResult {
  std::size_t seeds = 0, params = 0, logs = 0;
  std::vector<double> loss, train_loss, dist2, dissipation, heat;
  std::vector<double> v0;                       // [seed][D]
  std::vector<double> lazy_kernel, lazy_constant;  // [log][seed] when lazy
  std::vector<double> kernel_ck;                // per seed tr(K_0)/D when lazy
  std::vector<double> final_params;             // [seed][P] when keep_params
  std::vector<std::size_t> steps_done;          // per seed
  Status status = Status::Completed;
  std::size_t diverged_seed = 0, diverged_step = 0;  // the lowest diverged seed index
};

// Throws InvalidArgument naming the option.
void validate(const RunConfig& c);
// Runs every seed. Progress in [0, 1]; a raised abort flag returns with status Aborted; a
// non-finite loss stops that seed (status Diverged, the other seeds run on).
void run(const RunConfig& c, RunResult& r, const Control& control = Control{});

}  // namespace speedlimits::deeplinear
