// Optimal transport between point clouds (the W2 engine). Conventions (docs/api.md pins them):
//   cost        C_ij = |x_i − y_j|² (squared Euclidean, not halved); ε is absolute, on C as given.
//   entropic OT OT_ε(a,b) = min_P ⟨P,C⟩ + ε·KL(P | a⊗b), potentials f, g with
//               P_ij = a_i b_j exp((f_i + g_j − C_ij)/ε); at convergence OT_ε = ⟨a,f⟩ + ⟨b,g⟩.
//   divergence  S_ε = OT_ε(a,b) − ½OT_ε(a,a) − ½OT_ε(b,b).
//   Gaussians   W2² = |m1 − m2|² + tr C1 + tr C2 − 2 tr (C1^½ C2 C1^½)^½.
// Matrices are row-major with the leading dimension equal to the number of columns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/control.hpp"

namespace speedlimits::transport {

// ---- cost matrix ----------------------------------------------------------------------------
// C (n×m) = |x_i − y_j|² for x (n×d) and y (m×d), computed as |x̃|² + |ỹ|² − 2 x̃ ỹᵀ with x̃, ỹ
// the points minus a common centre (the mean of both clouds' means) when `center`, by GEMM over
// chunks of the feature dimension. Clamped at 0. When `same` (y is x), the result is exactly
// symmetric with an exact 0 diagonal. T = float computes the GEMM in float (norms and centre in
// double); T = double throughout.
template <typename T>
void cost_matrix(const T* x, std::size_t n, const T* y, std::size_t m, std::size_t d, bool center,
                 bool same, T* C);

// ---- Sinkhorn -------------------------------------------------------------------------------
struct SinkhornOptions {
  double epsilon = 0;         // > 0, absolute
  double tol = 1e-9;          // stop when the L1 marginal error is below
  std::size_t max_iter = 10000;
  bool eps_scaling = false;   // anneal ε from eps_start down to epsilon
  double eps_start = 0;       // 0: the largest cost
  double eps_factor = 0.5;    // ε_{k+1} = max(ε, factor·ε_k)
  bool warm_start = false;    // f, g hold initial potentials
  bool newton = true;         // polish a slow tail with Sinkhorn–Newton (needs n·m ≤ 4e7)
  bool kernel = true;         // kernel-mode fast path while it is safe (needs n·m ≤ 4e7)
  Control control;
};

// The ε schedule shared by the CPU and GPU solvers: with eps_scaling, annealed stages from
// eps_start (0: max(cmax, ε), cmax the largest cost) down by eps_factor, each run to
// kSinkhornStageTol or kSinkhornStageMaxIter iterations; then the target ε to opt.tol.
constexpr double kSinkhornStageTol = 1e-3;
constexpr std::size_t kSinkhornStageMaxIter = 200;
inline std::vector<double> sinkhorn_schedule(const SinkhornOptions& opt, double cmax) {
  std::vector<double> eps;
  if (opt.eps_scaling) {
    double e = opt.eps_start > 0 ? opt.eps_start : (cmax > opt.epsilon ? cmax : opt.epsilon);
    while (e > opt.epsilon * 1.000001 && eps.size() < 200) {
      eps.push_back(e);
      e *= opt.eps_factor;
    }
  }
  eps.push_back(opt.epsilon);
  return eps;
}

struct SinkhornResult {
  double transport_cost = 0;  // ⟨P, C⟩
  double objective = 0;       // OT_ε = ⟨a,f⟩ + ⟨b,g⟩
  double marginal_error = 0;  // Σ_j |Σ_i P_ij − b_j| (rows are exact after the last update)
  double plan_mass = 0;       // Σ P
  std::size_t iterations = 0;
  bool converged = false;
};

// Log-domain Sinkhorn on C (n×m) with weights a (n), b (m) summing to 1. f (n), g (m) receive
// the potentials; plan (n×m, may be null) receives P. T is the cost's storage type.
template <typename T>
SinkhornResult sinkhorn_log(const T* C, std::size_t n, std::size_t m, const double* a, const double* b,
                            double* f, double* g, double* plan, const SinkhornOptions& opt);

// OT_ε(a, a) on a symmetric C (n×n) by the symmetric (averaged) fixed point f ← ½(f + T(f)).
// f receives the potential (g = f). transport_cost and objective as above.
template <typename T>
SinkhornResult sinkhorn_log_symmetric(const T* C, std::size_t n, const double* a, double* f,
                                      const SinkhornOptions& opt);

// ---- Gaussian (Bures) W2 ----------------------------------------------------------------------
struct GaussianW2 {
  double w2sq = 0;
  double mean_term = 0;  // |m1 − m2|²
  double cov_term = 0;   // tr C1 + tr C2 − 2 tr (C1^½ C2 C1^½)^½
};

// Full-rank form: Cholesky C1 = L Lᵀ, eigenvalues of Lᵀ C2 L (no matrix square root); when C1
// is only semidefinite, C1 = S Sᵀ from its clamped eigendecomposition. Throws InvalidArgument
// naming C1/C2 when one is not positive semidefinite (eigenvalue < −psd_tol·max|eig|).
GaussianW2 w2_gaussian(std::size_t d, const double* m1, const double* C1, const double* m2, const double* C2,
                       double psd_tol = 1e-10);

// Sample form: the Gaussian moments of the clouds x (M×P, weights a) and y (N×P, weights b),
// covariance normalised by the weight sum (unbiased: divided by 1 − Σw² instead). The trace of
// the cross term is the nuclear norm of the weighted, centred M×N cross-Gram, accumulated over
// chunks of P, so no P×P matrix is formed. When P is below both point counts (and ≤ 4096) the
// P×P covariances are the smaller problem and the full-rank form above is used instead.
template <typename T>
GaussianW2 w2_gaussian_samples(const T* x, std::size_t M, const T* y, std::size_t N, std::size_t P,
                               const double* a, const double* b, bool unbiased, const Control& control);

// ---- exact 1-D --------------------------------------------------------------------------------
// W2² between weighted samples on the line by merging the two quantile functions. When plan_*
// are non-null they receive the monotone coupling (at most n + m − 1 entries).
double w2_exact_1d(const double* x, std::size_t n, const double* a, const double* y, std::size_t m,
                   const double* b, std::vector<std::int64_t>* plan_rows, std::vector<std::int64_t>* plan_cols,
                   std::vector<double>* plan_mass);

}  // namespace speedlimits::transport
