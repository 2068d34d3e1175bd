// Closed-form speed-limit thermodynamics of linear and linearised models (THEORY.md §1.4–§3).
//
// Everything is evaluated in the Hessian eigenbasis, O(modes × times); nothing is P×P.
// Model (THEORY §0, §2.1): L(θ) = ½|Jθ − y|² + (γ/2)|θ|², K = J Jᵀ = Σ_k λ_k u_k u_kᵀ, Hessian
// eigenpairs h_a = λ_a + γ, v_a = Jᵀu_a/√λ_a on the range of Jᵀ and h = γ on the null space of J;
// rates κ_a = η h_a; one gradient step is one unit of time. The ensemble starts at
// θ(0) ~ N(θ̄0, σ0² I) (σ0 = 0: a deterministic start).
//
// Modes with equal h can be pooled into a group: every formula is linear in the group's total
// squared mean offset Σ(m_a(0) − z*_a)² and in its number of directions (each carrying the initial
// variance σ0²). This is how the P − rank null directions of J enter without P×P work: one group
// of `count` = P − rank directions with h = γ.
#pragma once
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace speedlimits::thermo {

// A borrowed read-only array (no copy across the boundary). An empty span means "not given".
struct Span {
  const double* data = nullptr;
  std::size_t size = 0;
  Span() = default;
  Span(const double* d, std::size_t n) : data(d), size(n) {}
  Span(const std::vector<double>& v) : data(v.data()), size(v.size()) {}  // NOLINT: implicit on purpose
  bool given() const noexcept { return data != nullptr; }
  double operator[](std::size_t i) const noexcept { return data[i]; }
};

// Groups of Hessian eigendirections (struct of arrays, one entry per group).
struct Modes {
  std::vector<double> h;        // Hessian eigenvalue h_a ≥ 0 (κ_a = η h_a)
  std::vector<double> offset2;  // Σ over the group of (m_a(0) − z*_a)²: the squared mean offset
  std::vector<double> count;    // directions in the group (each carries variance σ0² at t = 0)
  double var0 = 0;              // σ0²
  double loss_min = 0;          // L* = min L, so that ⟨L⟩_t = L* + Σ_a (h_a/2)[offset2·e^{−2κt} + count·s_a(t)²]
};

struct EvalOptions {
  double eta = 0;            // learning rate = mobility, > 0
  double temperature = 0;    // T ≥ 0; T > 0 adds the Langevin (OU) series and needs σ0 > 0
  bool discrete = false;     // add the GD closed forms of §2.3 (every time must be an integer step count)
  bool path_length = false;  // add ℓ(t) by Gauss–Legendre quadrature in log t (≈ 2·10³ mode sweeps)
};

// Gradient flow (T = 0) of the ensemble (§2.2, §2.5). At t = 0 the efficiency is its limit 1
// (NaN when nothing moves, 0/0).
struct FlowSeries {
  std::vector<double> w2sq;         // W2²(p0, pt) = E|θt − θ0|² (the GF map is an optimal transport map)
  std::vector<double> dissipation;  // ∫0^t E|θ̇|² ds = η (⟨L⟩0 − ⟨L⟩t)
  std::vector<double> loss_drop;    // ⟨L⟩0 − ⟨L⟩t
  std::vector<double> loss;         // ⟨L⟩t
  std::vector<double> efficiency;   // 𝓔 = W2² / (t · dissipation) = Σ E g1 / Σ E g2, E_a = offset2 + count·σ0²
  // With EvalOptions::path_length: ℓ(t) = ∫0^t |ṗ|_W ds and the split 𝓔 = straightness × uniformity
  // (§1.4): straightness = W2²/ℓ², uniformity = ℓ²/(t · dissipation).
  std::vector<double> path_length, straightness, uniformity;
};

// Langevin, T > 0: the Ornstein–Uhlenbeck solution per mode (§2.4). Null modes with h = 0 (γ = 0)
// diffuse freely. Σ_t is computed in a cancellation-free form; it equals ΔS_m + ΔS_sys to rounding.
struct LangevinSeries {
  std::vector<double> w2sq;                // Σ_a (m_a(t) − m_a(0))² + (s_a(t) − s_a(0))²  (Bures, commuting covariances)
  std::vector<double> entropy_production;  // Σ_t (nats)
  std::vector<double> heat;                // T ΔS_m = ⟨L⟩0 − ⟨L⟩t
  std::vector<double> system_entropy;      // ΔS_sys = S[p_t] − S[p_0]
  std::vector<double> rate;                // σ(t), nats per unit time; η T σ = |ṗ|_W²
  std::vector<double> loss;                // ⟨L⟩t
  std::vector<double> efficiency;          // W2² / (t η T Σ_t); 1 at t = 0 (limit), NaN when nothing moves
  std::vector<double> path_length, straightness, uniformity;  // as in FlowSeries (uniformity = ℓ²/(t η T Σ_t))
  // Σ∞ = D_KL(p0 ‖ π) with π = N(θ*, T H⁻¹); +∞ when a group with h = 0 carries directions
  // (free diffusion: no stationary state).
  double total_entropy_production = std::numeric_limits<double>::quiet_NaN();
};

// Discrete gradient descent θ_{k+1} = θ_k − η∇L(θ_k) (T = 0, the ensemble mean over θ(0)), at
// integer step counts K (§1.6, §2.3). Step 0 gives NaN efficiencies (an empty path).
struct DiscreteSeries {
  std::vector<double> displacement;         // E|θ_K − θ0|² (= W2² when η h_max ≤ 1, an upper bound otherwise)
  std::vector<double> step_sum;             // Σ_{k<K} E|θ_{k+1} − θ_k|²
  std::vector<double> loss_drop;            // ⟨L⟩0 − ⟨L⟩K
  std::vector<double> loss;                 // ⟨L⟩K
  std::vector<double> efficiency_kinetic;   // displacement / (K · step_sum) ∈ [0, 1]
  std::vector<double> efficiency_loss;      // displacement / (η K · loss_drop); may exceed 1 by O(η λ_max)
  bool stable = true;                       // η h_max < 2 (otherwise GD diverges or oscillates)
};

struct Series {
  std::vector<double> times;
  FlowSeries flow;
  bool has_langevin = false;
  LangevinSeries langevin;  // when T > 0
  bool has_discrete = false;
  DiscreteSeries discrete;  // when EvalOptions::discrete
};

// The engine: all series for the given mode groups at the given times (t ≥ 0, any order).
// Throws InvalidArgument for η ≤ 0, T < 0, negative or non-finite h / offset2 / count / σ0²,
// T > 0 with σ0 = 0 while some group carries directions, negative or non-finite times,
// non-integer times with `discrete`, or mismatched group array sizes.
Series evaluate(const Modes& modes, Span times, const EvalOptions& options);

// ---- from a kernel spectrum (NTK-only form, §2.2, §2.5, §3) ------------------------------------
struct SpectrumInput {
  Span eigenvalues;  // λ_k ≥ 0 of K = J Jᵀ
  // Exactly one of:
  Span residuals;    // r_k(0) = u_kᵀ(F(θ̄0) − y): mean initial residual projections, or
  Span offsets2;     // E_k = (z_k(0) − z*_k)² directly: each entry is a parameter direction with h = λ_k + γ
  double gamma = 0;  // weight decay γ ≥ 0
  double sigma0 = 0;  // initial ensemble width σ0 ≥ 0
  // Parameter directions outside J's row space (P − number of λ_k > 0 for `residuals`; P − n for
  // `offsets2`). They carry σ0² with h = γ and no mean offset, so they matter only when σ0 > 0
  // and (T > 0 or γ > 0).
  double null_directions = 0;
};

// How the spectrum becomes mode groups:
//  * residuals, γ = 0: E_k = r_k²/λ_k (THEORY §2.2); λ_k = 0 modes are frozen function-space
//    directions (J u_k = 0): they contribute ½ r_k² to L* and nothing else.
//  * residuals, γ > 0: the residuals do not fix the offsets by themselves; we take the linear model
//    F = Jθ with ensemble mean θ̄0 = 0 (THEORY §2.5), so r(0) = −y, m_k(0) − z*_k = r_k √λ_k/(λ_k + γ)
//    and L* = Σ_{λ>0} γ r_k²/(2(λ_k + γ)) + Σ_{λ=0} ½ r_k². Any other start: use linear_dynamics.
//  * offsets2: mean offsets given directly; L* is unknown and taken as 0 (losses are excess losses).
Modes modes_from_spectrum(const SpectrumInput& input);

// modes_from_spectrum + evaluate. Throws InvalidArgument naming the argument (negative or NaN
// eigenvalues, both or neither of residuals/offsets2, size mismatches, γ < 0, σ0 < 0, …).
Series analytic_efficiency(const SpectrumInput& input, Span times, const EvalOptions& options);

// ---- linear models from J (or K) ---------------------------------------------------------------
struct LinearProblem {
  std::size_t n = 0;  // samples
  // Parameters: J's columns. With K only, P is the parameter count used for the null directions
  // (P − rank K of them) and must be ≥ rank K; P = 0 means P = rank K (no null directions).
  std::size_t P = 0;
  Span J;       // n×P row-major; or
  Span K;       // n×n (only the lower triangle is read), when J is not given
  Span y;       // n targets
  Span theta0;  // P: the ensemble mean θ̄0 (J only; default 0)
  Span f0;      // n: mean initial predictions F(θ̄0) (K only; default 0). With K only and γ > 0,
                // θ̄0 is taken to lie in J's row space (its null part is invisible to K).
  double gamma = 0;
  double sigma0 = 0;
};

// Moments of the ensemble along the dynamics (row-major times × size).
struct Trajectory {
  std::vector<double> mean;           // times × P: E θ_t (J given; empty with K only)
  std::vector<double> residual;       // times × n: F(E θ_t) − y
  std::vector<double> variance;       // times × rank: s_a(t)² per range mode (descending λ)
  std::vector<double> null_variance;  // times: the variance of each null direction
};

struct LinearDynamicsResult {
  std::vector<double> eigenvalues;  // λ_k of K, descending (n); values ≤ tol are set to 0
  std::size_t rank = 0;             // number of λ_k > tol, tol = 10·max(n, P)·ε·λ_1
  std::vector<double> hessian;      // h_a = λ_a + γ, a < rank
  std::vector<double> offsets;      // m_a(0) − z*_a, a < rank
  std::size_t null_directions = 0;  // P − rank
  double null_offset2 = 0;          // |null part of θ̄0|² if γ > 0 (it decays at rate ηγ); 0 if γ = 0 (it stays put)
  double loss_min = 0;              // L*
  Trajectory continuous;            // GF (T = 0) or OU (T > 0)
  bool has_gd = false;
  Trajectory gd;                    // GD iterates (EvalOptions::discrete, T ignored)
  Series series;
};

// Exact dynamics of the linear model (THEORY §2.1–§2.5): K = J Jᵀ (or the given K) is
// eigendecomposed (n×n, linalg::syevd), v_a = Jᵀu_a/√λ_a, and
//   E θ_t = Σ_a v_a (z*_a + (m_a(0) − z*_a) e^{−κ_a t}) + θ̄0⊥ e^{−ηγt},
// z*_a = √λ_a y_a/(λ_a + γ) (y_a = u_aᵀy; γ = 0: the min-norm solution, null part kept).
// Cost O(n²P + n³ + times·(nP + n²)). Throws InvalidArgument for the errors of evaluate, for
// neither or both of J/K, size mismatches, non-finite inputs, K not positive semidefinite, P < rank K.
LinearDynamicsResult linear_dynamics(const LinearProblem& problem, Span times, const EvalOptions& options);

// ---- power-law spectra (§3) ---------------------------------------------------------------------
enum class PlateauRegime {
  Scaling,        // 1 − α < β < 1: 𝓔 → 𝓔∞ = (4/ν)(1 − 2^{1−ν}) for 1 ≪ τ ≪ N^α ("optimal in a scaling sense")
  NonOptimal,     // 1 ≤ β < 1 + α: the loss drop saturates, 𝓔 ∝ τ^{−(β−1)/α} (β = 1: 1/log τ)
  Saturated,      // β ≥ 1 + α: W2² and ΔL both saturate early, 𝓔 ∝ 1/τ
  TailDominated,  // β ≤ 1 − α: the still-unlearned tail k ~ N dominates; 𝓔 ≈ 1 up to N-dependent times
};
struct Plateau {
  double value = std::numeric_limits<double>::quiet_NaN();  // 𝓔∞ when applies, else NaN
  bool applies = false;                                      // regime == Scaling
  double nu = std::numeric_limits<double>::quiet_NaN();     // (1 + α − β)/α
  PlateauRegime regime = PlateauRegime::Scaling;
  // 𝓔 ∝ τ^{−decay_exponent} in the window 1 ≪ τ ≪ N^α: 0 (Scaling, TailDominated), (β−1)/α
  // (NonOptimal), 1 (Saturated).
  double decay_exponent = 0;
};
// Throws InvalidArgument unless α > 0 and β are finite.
Plateau power_law_plateau(double alpha, double beta);
const char* regime_name(PlateauRegime r) noexcept;  // "scaling", "non-optimal", "saturated", "tail-dominated"

// The time windows of §3.2 for a spectrum λ_max = λ_1 ≥ λ_min = λ_N > 0 at learning rate η, in
// units of steps (τ = η λ_1 t is the dimensionless time):
//   early regime       t ≲ early_end = 1/(η λ_1)          (τ ≲ 1: 𝓔 = 1 − O(τ²))
//   scaling regime     early_end ≪ t ≪ saturation_start
//   late regime        t ≳ saturation_start = 1/(η λ_N)   (τ ≳ λ_1/λ_N = N^α for λ_k = λ_1 k^{−α}: 𝓔 ∝ 1/t)
struct RegimeBoundaries {
  double early_end = 0;
  double saturation_start = 0;
  double tau_saturation = 0;  // λ_1/λ_N
  double decades = 0;         // log10(saturation_start/early_end), the width of the scaling window
};
// Throws InvalidArgument unless 0 < λ_min ≤ λ_max and η > 0 (all finite).
RegimeBoundaries regime_boundaries(double lambda_max, double lambda_min, double eta);

}  // namespace speedlimits::thermo
