// Exact discrete optimal transport (the earth mover's distance) by the primal network simplex on
// the complete bipartite graph of the transportation problem.
//
//   minimise ⟨P, C⟩  subject to  P 1 = a,  Pᵀ 1 = b,  P ≥ 0
//
// C is n×m, row-major with leading dimension m; a (n) and b (m) are non-negative weights with the
// same total (normally 1). Costs may be any finite numbers (negative ones included).
//
// Masses. The solver works on exact integers: a and b are scaled to a total of 2⁶¹ and rounded
// (a_i ↦ round(a_i / Σa · 2⁶¹), the same for b), and the at most (n + m)/2 units by which the
// two rounded totals can differ are added to the largest entry of b. Every pivot is then exact:
// degenerate pivots are recognised exactly, flows never go negative, and the plan satisfies the
// rounded marginals exactly. The returned masses are flow · Σa / 2⁶¹, so the rows sum to a to
// within ~1e-18·Σa and the columns to b·(Σa/Σb) likewise. A weight below ~2⁻⁶²·Σa rounds to 0 and
// its node takes no part (as for weights that are exactly 0).
//
// Optimality. An arc enters only if its reduced cost is below −τ, τ = 1e-13·max|C_ij| (raised to
// 8 ulps of the largest potential should the potentials ever be that large); the potentials are
// recomputed from the tree every max(n + m, 1000) pivots and before optimality is declared. With
// every reduced cost ≥ −τ the returned plan is within τ·Σa of the optimum; in practice the cost
// agrees with LEMON's (POT's ot.emd2) to ~1e-15 relative.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/control.hpp"

namespace speedlimits::transport {

struct EmdResult {
  double cost = 0;                        // Σ_k mass_k · C[rows_k, cols_k]
  std::vector<std::int64_t> rows, cols;   // the plan's support, sorted by (row, col)
  std::vector<double> mass;               // > 0; at most n + m − 1 entries
  std::size_t iterations = 0;             // simplex pivots (degenerate ones included)
  bool optimal = false;                   // false: max_iter was hit; the plan is feasible, not optimal
};

// Default pivot cap used when max_iter = 0: 1000·(n + m) + 10⁶. Random dense problems need
// about 5–35·(n + m) pivots (n = m = 4000: ~8e4 in R², ~2.6e5 in R⁶⁴), so the cap only stops a
// pathological run.
std::size_t emd_default_max_iter(std::size_t n, std::size_t m) noexcept;

// Exact OT between a (n) and b (m) with cost C (n×m, ld = m). Initial basis from a greedy
// row-minimum allocation; block-search pricing (blocks of ~√(n·m) arcs, the most negative reduced
// cost in the block enters); a strongly feasible spanning tree with Cunningham's leaving-arc rule
// (no cycling); potentials updated on the moved subtree.
//
// Throws InvalidArgument for n = 0 or m = 0, null pointers, negative or non-finite weights, a
// weight total that is 0, totals Σa and Σb that differ by more than 1e-6 relative, non-finite
// costs, or n + m ≥ 2³¹. Throws Aborted when control's flag is raised (checked every 1024 pivots).
// When max_iter pivots are reached the current (feasible) plan is returned with optimal = false.
EmdResult emd(const double* C, std::size_t n, std::size_t m, const double* a, const double* b, std::size_t max_iter,
              const Control& control);

}  // namespace speedlimits::transport
