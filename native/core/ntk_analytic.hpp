// Analytic (infinite-width) NTK and NNGP of the networks of net_spec.hpp in the 'ntk'
// parameterisation: the limits, as every hidden width / channel count → ∞, of the empirical
// kernels of exactly those networks (same σw, σb, bias flag, activation, zero padding, GAP).
// The kernels are per output: the same for every output and 0 across outputs, so [n1, n2].
//
// ---- FCN (Neal 1996; Lee et al. 2018; Jacot, Gabriel & Hongler 2018) -------------------------
//   z_1 = (σw/√d) W_1 x + σb b_1,   z_{l+1} = (σw/√w_l) W_{l+1} φ(z_l) + σb b_{l+1},  readout z_{L+1}
//   Σ_1(x,x')     = σw² x·x'/d + σb²
//   Σ_{l+1}(x,x') = σw² E[φ(u)φ(v)] + σb²,     Σ̇_{l+1}(x,x') = σw² E[φ'(u)φ'(v)],
//                   (u, v) ~ N(0, [[Σ_l(x,x), Σ_l(x,x')], [Σ_l(x,x'), Σ_l(x',x')]])
//   Θ_1 = Σ_1,    Θ_{l+1} = Σ_{l+1} + Σ̇_{l+1} Θ_l
//   NNGP = Σ_{L+1}, NTK = Θ_{L+1} (L = widths.size() hidden layers; no activation after the
//   readout; L = 0 is the linear model, NNGP = NTK = Σ_1). bias = false drops every σb² term.
//   Cost: O(n1·n2·(d + L·c_φ)) (c_φ below); one core, d = 100, L = 3: ~0.25 µs per pair for
//   relu/erf/gelu; tanh ~1 µs per pair plus ~1 ms per point for its coefficient sets (n = 1000:
//   ~3.5 s in all).
//
// ---- CNN (Novak et al. 2019; Arora et al. 2019, "On exact computation with an infinitely wide
// neural net") ------------------------------------------------------------------------------------
//   3×3 convolutions, stride 1, zero padding 1, activation after every conv, global average
//   pooling, dense readout. Between two images the kernels are [HW × HW] maps over position
//   pairs (p, p'); with δ running over the 3×3 offsets for which both p+δ and p'+δ lie inside
//   the image (zero padding: the padded activations are 0, not φ(0)):
//   Σ_1[p,p']     = (σw²/9) Σ_δ K0[p+δ, p'+δ] + σb²,   K0[q,q'] = (1/C) Σ_c x[c,q] x'[c,q']
//   Σ_{l+1}[p,p'] = (σw²/9) Σ_δ E_l[p+δ, p'+δ] + σb²,  E_l[q,q'] = E[φ(u)φ(v)] with the 2×2
//                   covariance (Σ_l(x,x)[q,q], Σ_l(x,x')[q,q'], Σ_l(x',x')[q',q'])
//   Θ_1 = Σ_1,    Θ_{l+1}[p,p'] = Σ_{l+1}[p,p'] + (σw²/9) Σ_δ Ė_l[p+δ,p'+δ] Θ_l[p+δ,p'+δ]
//   readout (fan-in C_L, after GAP):  NNGP = σw² mean_{p,p'} E_L + σb²,
//                                      NTK  = NNGP + σw² mean_{p,p'} (Ė_L ∘ Θ_L).
//   With no conv layer (widths empty) the readout acts on GAP(x): NNGP = NTK = σw² mean K0 + σb².
//   Cost: O(n1·n2·(HW)²·(9 + c_φ)·L) time and 4·(HW)² doubles per thread, c_φ the cost of one
//   dual-activation evaluation (tens of flops for relu/erf/gelu/linear; K/2 ≈ 100–400 multiply-adds
//   for tanh at preactivation variances 1–4, plus one Hermite coefficient set per image, layer and
//   position, ~0.1–1 ms each and K doubles of memory each). Measured on one core: 3×8×8 images,
//   L = 3, relu: ~0.7 ms per image pair; 3×16×16: ~12 ms per pair (16× more per doubling of the
//   side). Images larger than 32×32 are refused (InvalidArgument); ≤ 16×16 is the practical CPU limit.
//
// ---- dual activations E[φ(u)φ(v)], E[φ'(u)φ'(v)] --------------------------------------------
//   relu   : arc-cosine kernels of degree 1 and 0 (Cho & Saul 2009), θ = acos ρ:
//            (√(Σ11Σ22) sinθ + (π−θ) Σ12)/(2π) and (π−θ)/(2π). φ'(0) = 0 (PyTorch's
//            convention): a zero variance (zero input and no bias) gives 0 for both.
//   erf    : Williams 1997: (2/π) asin(2Σ12/√((1+2Σ11)(1+2Σ22))) and
//            (4/π)/√(1 + 2(Σ11+Σ22) + 4(Σ11Σ22 − Σ12²)).
//   gelu   : x·Φ(x), exact closed forms derived here with Φ(u) = P(g ≤ u), g ~ N(0,1)
//            (orthant moments of the 4-D Gaussian (u, v, u−g1, v−g2); cf. Tsuchida, Pearce, van
//            der Heide, Roosta & Gallagher 2021 for the NNGP part). With S = Σ + I,
//            D = det S, r = Σ12/√(S11 S22), P = 1/4 + asin(r)/(2π):
//              E[φφ]   = Σ12·P + (√(1−r²)/(2π)) [B Q Bᵀ]_12,  B = I − S⁻¹,
//                        Q = [[r S11, √(S11S22)], [√(S11S22), r S22]]
//              E[φ'φ'] = P + Σ12 (1/S11 + 1/S22)/(2π√D) + Σ12/(2π D^{3/2}).
//   linear : Σ12 and 1.
//   tanh   : no closed form. Mehler (Hermite) series (Mehler 1866; Daniely, Frostig & Singer 2016):
//            E[φ(s1z1)φ(s2z2)] = Σ_k ρ^k a_k(s1) a_k(s2), a_k(s) = E[φ(sz) He_k(z)]/√k!, and the
//            same with φ' and b_k; the coefficients of each variance are computed once (composite
//            16-point Gauss–Legendre of the Hermite functions) and the series is cut where
//            |a_k|, |b_k| < 1e-9 (K ≈ 220, 780, 1650, 2800 terms for s = √Σ = 1, 2, 3, 4).
//            Accuracy ≤ 6e-11 absolute against the quadrature below for Σ ≤ 36. For s > 6 (where
//            K would pass ~6000) the quadrature is used instead.
//   Every result is symmetric in (Σ11, Σ22) bit for bit (the arguments are put in a canonical
//   order first), so K(x, x') == K(x', x) exactly.
//
// ---- quadrature (tanh with s > 6; any activation with DualMethod::Quadrature) -----------------
//   E[F(u,v)] with u = s1 z1, v = s2(ρ z1 + √(1−ρ²) z2), z ~ N(0, I₂), as an iterated integral.
//   Each 1-D Gaussian integral over [−8.3, 8.3] is split at the point where its integrand has its
//   kink or transition (z1 = 0 outside; z2 = −ρ z1/√(1−ρ²) inside) and covered by composite
//   14-point Gauss–Legendre panels, graded geometrically (ratio 4) away from the split point
//   from the width of the transition (1/s for tanh/erf/gelu-like φ; for relu the width
//   √(1−ρ²)/|ρ| of the inner-smoothed kink), and capped in the Gaussian tail so that each panel's
//   Gauss–Legendre error is ≤ 1e-9 of the local Gaussian weight (maximum panel width 5).
//   That is ~84 nodes per dimension for s ≤ 1, ~120 for s ~ 10, ~250 for nearly collinear pairs
//   of kinked activations: ~10⁴ integrand evaluations (~0.3 ms) per pair and layer.
//   Accuracy (against the erf/relu/gelu closed forms and an independent fine tensor grid,
//   Σ11, Σ22 ∈ [0.01, 100], ρ ∈ [−1, 1]): absolute error ≤ 1e-10·max(1, Σ11, Σ22). (Plain 2-D
//   Gauss–Hermite, by contrast, needs ~120² nodes for 1e-12 at Σ = 1 and does not reach 1e-6 at
//   Σ = 9 for tanh, whose poles at ±iπ/2s limit its convergence.)
#pragma once
#include <cstddef>
#include <vector>

#include "core/control.hpp"
#include "core/net_spec.hpp"

namespace speedlimits::nets {

enum class DualMethod {
  Auto,        // closed form where one exists (relu, erf, gelu, linear); tanh: Mehler series (quadrature for s > 6)
  Quadrature,  // the quadrature path for every activation (for tests and cross-checks)
};

struct AnalyticOptions {
  DualMethod method = DualMethod::Auto;
};

// Row-major [n1, n2] each.
struct AnalyticKernels {
  std::size_t n1 = 0, n2 = 0;
  std::vector<double> ntk, nngp;
};

// E[φ(u)φ(v)] (k) and E[φ'(u)φ'(v)] (kdot) for (u, v) ~ N(0, [[s11, s12], [s12, s22]]).
struct DualExpectations {
  double k = 0, kdot = 0;
};
// s11, s22 ≥ 0 and finite (else InvalidArgument); ρ = s12/√(s11 s22) is clamped to [−1, 1].
DualExpectations dual_activation(Activation act, double s11, double s22, double s12,
                                 DualMethod method = DualMethod::Auto);

// Infinite-width NTK and NNGP of `spec` between x1 [n1, input] and x2 [n2, input] (FCN input =
// input_dim; CNN input = C·H·W in NCHW order). x2 == nullptr: x2 = x1 (n2 is then ignored) and
// the results are exactly symmetric (the lower triangle is computed and mirrored). ntk or nngp
// may be nullptr (not written). Parallel over rows (threads.hpp); control's abort flag is polled
// once per row and progress reports rows done / n1.
// Throws InvalidArgument for a 'standard' parameterisation, input_dim = 0, a zero hidden width,
// a CNN with kernel ≠ 3 or an image larger than 32×32 (or with a zero dimension), negative or
// non-finite σw/σb, null inputs with n > 0, non-finite inputs; Aborted when asked to stop.
void ntk_analytic(const NetSpec& spec, const double* x1, std::size_t n1, const double* x2, std::size_t n2,
                  double* ntk, double* nngp, const Control& control, const AnalyticOptions& options = {});

// Convenience form returning owned arrays.
AnalyticKernels ntk_analytic(const NetSpec& spec, const double* x1, std::size_t n1, const double* x2,
                             std::size_t n2, const Control& control, const AnalyticOptions& options = {});

}  // namespace speedlimits::nets
