// Exact Gaussian non-equilibrium steady states of linear chains and the exact stationary moments
// of ULA, SGLD-WR and SGWORLD on Bayesian linear regression (THEORY.md §4.2, §4.3, §4.6; oracles
// O7(b) and O8 of §6).
//
// Conventions: matrices are row-major P×P (leading dimension P), double. One step is one unit of
// time. The chain θ ← Aθ + noise has noise covariance 2𝒟 (THEORY §4.6), A = I − ηH near a
// minimum, 𝒟 = ηT I + (η²/2) Cov_S[ĝ_S(θ*)] (pure SGD: T = 0).
// vec is row-major: vec(S)_{(i,k)} = S_ik at index i·P + k, so vec(Φ S Φᵀ) = (Φ⊗Φ) vec S with
// (Φ⊗Φ)_{(i,k),(j,l)} = Φ_ij Φ_kl.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/control.hpp"

namespace speedlimits::ness {

// Λ solving the discrete Lyapunov (Stein) equation Λ = A Λ Aᵀ + Q (P×P; Q symmetric).
// Symmetric A (e.g. A = I − ηH): in the eigenbasis of A, Λ̃_ab = Q̃_ab / (1 − a_a a_b).
// Otherwise: the doubling (Smith) iteration Λ ← Λ + AₖΛAₖᵀ, Aₖ₊₁ = Aₖ², until |Aₖ|_F² ≤ ε.
// Throws InvalidArgument naming A when its spectral radius is ≥ 1 (no stationary state; for
// A = I − ηH: η ≥ 2/h_max or H not positive definite) or an entry is not finite. P = 0 gives {}.
std::vector<double> discrete_lyapunov(std::size_t P, const double* A, const double* Q);

// Λ solving the continuous Lyapunov equation HΛ + ΛH = 2𝒟/η (THEORY §4.6), in the eigenbasis of
// the symmetric H: Λ = V [(Vᵀ𝒟V)_ab · 2/(η(h_a + h_b))] Vᵀ. Throws InvalidArgument naming H
// (not symmetric, not positive definite), D (not symmetric) or eta (≤ 0, non-finite).
std::vector<double> continuous_lyapunov(std::size_t P, const double* H, const double* D, double eta);

// ---- the NESS of SGD / SGLD-WR near a minimum (§4.6) -------------------------------------------
struct NessInput {
  std::size_t P = 0;
  const double* H = nullptr;                    // P×P Hessian, symmetric positive definite
  const double* gradient_covariance = nullptr;  // Cov_S[ĝ_S(θ*)], P×P symmetric PSD; null: 0
  const double* diffusion = nullptr;            // 𝒟 given directly (then gradient_covariance must be null, T = 0)
  double eta = 0;                               // η > 0 with η h_max < 2
  double temperature = 0;                       // T ≥ 0 (adds ηT I to 𝒟)
  const char* caller = "ness::ness";            // names the function in error messages
};

struct NessResult {
  std::size_t P = 0;
  std::vector<double> diffusion;              // 𝒟 (step covariance 2𝒟)
  std::vector<double> covariance;             // Λ exact: Λ = AΛAᵀ + 2𝒟
  std::vector<double> covariance_continuous;  // Λ_c: HΛ + ΛH = 2𝒟/η
  // σ_step = −P/2 + ¼tr[𝒟⁻¹(I−A²)Λ(I−A²)ᵀ] + ½tr[𝒟⁻¹A𝒟Aᵀ] (nats per step, exact chain);
  // +∞ when 𝒟 is singular (the reversed path has zero density).
  double entropy_per_step = 0;
  // σ = tr(Mᵀ𝒟⁻¹MΛ_c) − tr M, M = ηH (continuous-time formula); +∞ when 𝒟 is singular.
  double entropy_per_step_continuous = 0;
  std::vector<double> area;      // 𝒜 = (η/2)(HΛ − ΛH), exact Λ: stochastic area per step
  std::vector<double> velocity;  // 𝒟Λ_c⁻¹ − ηH: v(θ) = (that)·(θ − θ*) (continuous); NaN if Λ_c is singular
  // |H𝒟 − 𝒟H|_F / (|H|_F |𝒟|_F): 0 iff detailed balance (equilibrium) holds.
  double commutator = 0;
  bool equilibrium = false;  // commutator ≤ 1e-12
};

// Throws InvalidArgument naming H (not symmetric to 1e-12 relative, not positive definite),
// eta (≤ 0, or η h_max ≥ 2: the chain has no stationary state), temperature (< 0, or 𝒟 = 0:
// no noise), gradient_covariance / diffusion (not symmetric, not PSD, both given, or diffusion
// with T > 0), or any non-finite entry.
NessResult ness(const NessInput& input);

// ---- exact stationary moments of the samplers (§4.3) -------------------------------------------
enum class Sampler { Ula, SgldWr, Sgworld };
const char* sampler_name(Sampler s) noexcept;  // "ula", "sgld", "sgworld"

// Bayesian linear regression: L = ½|Xθ − y|² + (γ/2)|θ|², posterior N(θ*, T H⁻¹), H = XᵀX + γI.
struct RegressionInput {
  std::size_t n = 0, P = 0;
  const double* X = nullptr;     // n×P
  const double* y = nullptr;     // n
  double temperature = 0;        // T > 0
  double gamma = 0;              // γ ≥ 0; H must be positive definite
  double eta = 0;                // η > 0, η h_max < 2
  std::size_t batch_size = 0;    // B in 1..n (SGLD-WR, SGWORLD; ignored by ULA)
  Sampler sampler = Sampler::Ula;
  bool drop_remainder = false;   // SGWORLD with B ∤ n: M = ⌊n/B⌋ batches, the rest of each permutation unused
  double max_partitions = 1e6;   // SGWORLD: refuse to enumerate more ordered partitions than this
  const char* caller = "ness::sampler_moments";
};

struct SamplerMoments {
  std::vector<double> mean;                  // P: stationary mean (SGWORLD: at epoch boundaries)
  std::vector<double> covariance;            // P×P
  std::vector<double> posterior_mean;        // θ* = H⁻¹Xᵀy
  std::vector<double> posterior_covariance;  // T H⁻¹
  double w2sq = 0;                           // W2² of N(mean, covariance) to the posterior
  double w2 = 0;                             // √w2sq
  double partitions = 0;                     // SGWORLD: ordered partitions averaged (n!/(B!)^M for B | n); else 0
  std::vector<double> mean_shift_first_order;  // SGWORLD: δθ of first_order_mean_shift; else empty
};

// ULA: mean θ*, covariance T H⁻¹(I − ηH/2)⁻¹.
// SGLD-WR: mean θ*, vec S = E[G⊗G] vec S + vec R over uniform B-subsets (G = I − ηA_S), solved as
//   a P²×P² linear system. The subset averages are exact closed forms (pair sums over the samples,
//   O(nP⁴)), identical to enumerating all C(n,B) subsets.
// SGWORLD: the epoch maps θ ↦ Φθ + ψ + noise(Q) of every ordered partition are enumerated
//   depth-first (shared prefixes, O(B P²) per step) and averaged; m = (I − EΦ)⁻¹Eψ and
//   vec S = E[Φ⊗Φ] vec S + vec E[Φmψᵀ + ψmᵀΦᵀ + ψψᵀ + Q] at epoch boundaries.
// Everything is computed in θ − θ* coordinates with I − Φ tracked directly (no cancellation at
// small η). Throws InvalidArgument naming the argument: sizes, non-finite data, T ≤ 0, γ < 0,
// H not positive definite ("gamma"), η ≤ 0 or η h_max ≥ 2 or a mean-square unstable chain
// ("eta": the solved covariance is not positive definite), B outside 1..n, B ∤ n for SGWORLD
// without drop_remainder, P > 16 (SGLD-WR, SGWORLD), more than max_partitions partitions.
SamplerMoments sampler_moments(const RegressionInput& input);

// The first-order SGWORLD (WOR) mean shift δθ = −(η/2) H⁻¹ E_S[A_S ĝ_S(θ*)] (THEORY §4.2), E_S over
// uniform B-subsets in closed form (O(nP²)). Uses n, P, X, y, gamma, eta, batch_size of the input.
std::vector<double> first_order_mean_shift(const RegressionInput& input);

// Cov_S[ĝ_S(θ*)] over uniform B-subsets (THEORY §4.2): (n²/B)(n−B)/(n−1)·C(θ*), C the covariance of
// the per-sample gradients x_s(x_sᵀθ* − y_s) at the posterior mean (γθ is not random). Uses n, P,
// X, y, temperature (validated only), gamma, eta (validated only) and batch_size of the input.
std::vector<double> gradient_noise_covariance(const RegressionInput& input);

// ---- per-trajectory entropy production in a stationary state (§4.4–4.5) -------------------------
// Replicas start in the stationary Gaussian N(μ, Λ) and run K steps; for each,
//   Σ = ln p(θ_0) − ln p(θ_K) + Σ_k ln W(θ_{k+1}|θ_k)/W(θ_k|θ_{k+1})
// with p = N(μ, Λ) and the Gaussian kernel W(θ'|θ) = N(θ'; θ − ηg(θ), 2𝒟), g(θ) = H(θ − θ*).
//   Gaussian: the chain θ ← θ − ηH(θ − θ*) + N(0, 2𝒟) itself; μ = θ*, Λ the exact discrete
//     Lyapunov solution: Σ is exact (integral FT and detailed FT hold exactly; ⟨Σ⟩ = K·σ_step).
//   SgldMinibatch: SGLD-WR on Bayesian linear regression, θ ← θ − ηĝ_S(θ) + √(2ηT)ξ with a fresh
//     uniform B-subset S each step; the kernel uses 𝒟(θ*) = ηT I + (η²/2)Cov_S[ĝ_S(θ*)] and (μ, Λ)
//     the exact stationary moments: the practical estimator of THEORY §4.4, an approximation (the
//     true kernel is a mixture over batches and the stationary law is not exactly Gaussian).
// Random numbers: replica r draws θ_0 and its Gaussian noise from Philox stream (seed, r) and its
// batches from stream (seed, 2^40 + r), so results do not depend on the thread count.
// Cost O(M·K·(P² + B·P)); the work polls `control` (abort) and reports progress.
enum class ChainKind { Gaussian, SgldMinibatch };

struct StationaryChainInput {
  ChainKind kind = ChainKind::Gaussian;
  // Gaussian: P, H (SPD), theta_star (P; null = 0), diffusion 𝒟 (SPD), eta (η h_max < 2).
  std::size_t P = 0;
  const double* H = nullptr;
  const double* theta_star = nullptr;
  const double* diffusion = nullptr;
  double eta = 0;
  // SgldMinibatch: the regression (n, P, X, y, temperature, gamma, eta, batch_size).
  RegressionInput regression;
  std::size_t steps = 0, replicas = 0;
  std::uint64_t seed = 0;
  const char* caller = "ness::stationary_chain_entropy";
};

struct StationaryChainEntropy {
  std::size_t P = 0;
  std::vector<double> sigma;             // Σ per replica
  std::vector<double> medium;            // Σ_k ln W(θ_{k+1}|θ_k)/W(θ_k|θ_{k+1}) per replica
  std::vector<double> mean, covariance;  // μ, Λ of the stationary Gaussian
  std::vector<double> hessian;           // H
  std::vector<double> kernel_diffusion;  // 𝒟 of the kernel
  // σ_step of the Gaussian chain with (H, 𝒟) (ness::ness): ⟨Σ⟩/K exactly for ChainKind::Gaussian.
  double entropy_per_step = 0;
  bool exact = false;
};

// Throws InvalidArgument naming the argument (as ness / sampler_moments do), steps or replicas = 0,
// and Aborted when control asks.
StationaryChainEntropy stationary_chain_entropy(const StationaryChainInput& input, const Control& control);

}  // namespace speedlimits::ness
