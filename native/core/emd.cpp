// Primal network simplex for the transportation problem (Ahuja–Magnanti–Orlin, "Network Flows",
// ch. 11; Kelly & O'Neill 1991), written for the complete bipartite graph:
//
// Nodes. Supply i is node i, demand j is node n + j, and an artificial root R = n + m closes the
// spanning tree. Nodes with zero (rounded) weight take no part. Real arcs i → n + j have the cost
// C_ij and no upper bound; the only other arcs are the tree's artificial arcs x → R (cost 0).
// R has zero supply and only incoming arcs, so those arcs carry no flow in any feasible flow: they
// only tie the components of the initial forest together and never change the objective.
//
// Tree. parent / thread (preorder successor, cyclic through R) / rev (predecessor) / last (last
// node of the subtree in preorder) / size (subtree size). Every tree arc is stored at its child:
// up (the arc points child → parent), flow, cost. Non-tree arcs are at flow 0, so no per-arc
// state or flow array exists: pricing streams through C and the column potentials only.
//
// Potentials. rc(s → t) = c + π_s − π_t, zero on tree arcs; π_R = 0 after each recomputation.
//
// Anti-cycling. The tree is kept strongly feasible (every zero-flow tree arc points up, toward R)
// and the leaving arc is the last blocking arc met when the cycle is traversed in the entering
// arc's direction from the apex (Cunningham's rule); with exact integer flows this guarantees a
// finite number of pivots.
#include "core/emd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/errors.hpp"

namespace speedlimits::transport {

namespace {

using idx_t = std::int32_t;
using flow_t = std::int64_t;

constexpr double kMassScale = 2305843009213693952.0;  // 2^61
constexpr double kInf = std::numeric_limits<double>::infinity();

// min over t in [0, len) of c[t] − v[t] (len ≥ 1). Rounding is monotone, so the caller may add a
// row constant after the minimum and obtain exactly the minimum of the per-element sums.
inline double segment_min(const double* c, const double* v, std::size_t len) {
  std::size_t t = 0;
#if defined(__AVX2__)
  if (len >= 16) {
    __m256d m0 = _mm256_set1_pd(kInf), m1 = m0, m2 = m0, m3 = m0;
    for (; t + 16 <= len; t += 16) {
      m0 = _mm256_min_pd(m0, _mm256_sub_pd(_mm256_loadu_pd(c + t), _mm256_loadu_pd(v + t)));
      m1 = _mm256_min_pd(m1, _mm256_sub_pd(_mm256_loadu_pd(c + t + 4), _mm256_loadu_pd(v + t + 4)));
      m2 = _mm256_min_pd(m2, _mm256_sub_pd(_mm256_loadu_pd(c + t + 8), _mm256_loadu_pd(v + t + 8)));
      m3 = _mm256_min_pd(m3, _mm256_sub_pd(_mm256_loadu_pd(c + t + 12), _mm256_loadu_pd(v + t + 12)));
    }
    m0 = _mm256_min_pd(_mm256_min_pd(m0, m1), _mm256_min_pd(m2, m3));
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, m0);
    double r = std::min(std::min(lanes[0], lanes[1]), std::min(lanes[2], lanes[3]));
    for (; t < len; ++t) r = std::min(r, c[t] - v[t]);
    return r;
  }
#endif
  double r0 = kInf, r1 = kInf, r2 = kInf, r3 = kInf;
  for (; t + 4 <= len; t += 4) {
    r0 = std::min(r0, c[t] - v[t]);
    r1 = std::min(r1, c[t + 1] - v[t + 1]);
    r2 = std::min(r2, c[t + 2] - v[t + 2]);
    r3 = std::min(r3, c[t + 3] - v[t + 3]);
  }
  for (; t < len; ++t) r0 = std::min(r0, c[t] - v[t]);
  return std::min(std::min(r0, r1), std::min(r2, r3));
}

// The first t with c[t] − v[t] == target (target was produced by segment_min on the same data).
inline std::size_t segment_find(const double* c, const double* v, std::size_t len, double target) {
  std::size_t t = 0;
#if defined(__AVX2__)
  const __m256d tv = _mm256_set1_pd(target);
  for (; t + 4 <= len; t += 4) {
    const __m256d x = _mm256_sub_pd(_mm256_loadu_pd(c + t), _mm256_loadu_pd(v + t));
    const int mask = _mm256_movemask_pd(_mm256_cmp_pd(x, tv, _CMP_EQ_OQ));
    if (mask != 0) return t + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; t < len; ++t)
    if (c[t] - v[t] == target) return t;
  return len;  // not reached
}

class Simplex {
 public:
  Simplex(const double* C, std::size_t n, std::size_t m, std::vector<flow_t> A, std::vector<flow_t> B,
          double tol, const Control& control)
      : C_(C), n_(n), m_(m), A_(std::move(A)), B_(std::move(B)), tol_(tol), control_(control) {
    root_ = static_cast<idx_t>(n + m);
    const std::size_t N = n + m + 1;
    parent_.assign(N, -1);
    thread_.assign(N, -1);
    rev_.assign(N, -1);
    last_.assign(N, -1);
    size_.assign(N, 0);
    up_.assign(N, 1);
    flow_.assign(N, 0);
    pcost_.assign(N, 0.0);
    pi_.assign(N, 0.0);
    for (std::size_t i = 0; i < n; ++i)
      if (A_[i] > 0) rows_.push_back(static_cast<idx_t>(i));
    for (std::size_t j = 0; j < m; ++j)
      if (B_[j] > 0) ++active_cols_;
    tree_nodes_ = rows_.size() + active_cols_ + 1;
    // Unused columns price at +inf (π = −inf): they can never enter.
    for (std::size_t j = 0; j < m; ++j)
      if (B_[j] == 0) pi_[n + j] = -kInf;
    const double arcs = static_cast<double>(rows_.size()) * static_cast<double>(m);
    block_ = std::max<std::size_t>(static_cast<std::size_t>(std::sqrt(arcs)), std::min<std::size_t>(m, 64));
    stem_.resize(N);
    a_first_.resize(N);
    a_last_.resize(N);
    b_first_.resize(N);
    b_last_.resize(N);
    osize_.resize(N);
  }

  void initial_basis();
  // Runs pivots until optimal (true) or max_iter pivots were made (false).
  bool solve(std::size_t max_iter);
  std::size_t iterations() const { return iterations_; }
  void extract(EmdResult& out, double mass_unit) const;

 private:
  void build_tree(const std::vector<idx_t>& ai, const std::vector<idx_t>& aj, const std::vector<flow_t>& af);
  void recompute_potentials();
  bool find_entering(idx_t& ei, idx_t& ej, double& rc);
  void pivot(idx_t ei, idx_t ej, double rc);
#ifdef SPEEDLIMITS_EMD_VERIFY
  void verify() const;
#endif

  const double* C_;
  std::size_t n_, m_;
  std::vector<flow_t> A_, B_;
  double tol_;
  const Control& control_;

  idx_t root_;
  std::vector<idx_t> rows_;  // rows with positive weight
  std::size_t active_cols_ = 0, tree_nodes_ = 0;
  std::vector<idx_t> parent_, thread_, rev_, last_, size_;
  std::vector<std::uint8_t> up_;
  std::vector<flow_t> flow_;
  std::vector<double> pcost_, pi_;

  // block search state
  std::size_t block_ = 1, scan_row_ = 0, scan_col_ = 0;
  std::size_t iterations_ = 0, since_recompute_ = 0;

  // scratch for the tree update
  std::vector<idx_t> stem_, a_first_, a_last_, b_first_, b_last_, osize_;

  void link(idx_t x, idx_t y) {
    thread_[x] = y;
    rev_[y] = x;
  }
};

// Greedy row-minimum allocation: each row in turn sends its mass to its cheapest columns that still
// have room, rows in decreasing order of regret (second-smallest minus smallest cost, as in Vogel's
// method: the rows that lose most by missing their best column choose first). Every allocation
// exhausts its row or its column, so the support is a forest. On random dense problems this start
// needs about half the pivots of the northwest corner rule.
void Simplex::initial_basis() {
  std::vector<double> regret(n_, 0.0);
  for (idx_t i : rows_) {
    const double* Crow = C_ + static_cast<std::size_t>(i) * m_;
    double m1 = kInf, m2 = kInf;
    for (std::size_t j = 0; j < m_; ++j) {
      if (B_[j] == 0) continue;
      const double c = Crow[j];
      if (c < m1) {
        m2 = m1;
        m1 = c;
      } else if (c < m2) {
        m2 = c;
      }
    }
    regret[i] = m2 < kInf ? m2 - m1 : 0.0;
  }
  std::vector<idx_t> order(rows_);
  std::stable_sort(order.begin(), order.end(), [&](idx_t p, idx_t q) { return regret[p] > regret[q]; });
  std::vector<idx_t> ai, aj;
  std::vector<flow_t> af;
  ai.reserve(rows_.size() + active_cols_);
  aj.reserve(rows_.size() + active_cols_);
  af.reserve(rows_.size() + active_cols_);
  std::vector<flow_t> remB(B_);
  std::vector<double> pen(m_);  // −inf for full columns, 0 otherwise (segment_min subtracts it)
  for (std::size_t j = 0; j < m_; ++j) pen[j] = remB[j] > 0 ? 0.0 : -kInf;
  for (idx_t i : order) {
    flow_t rem = A_[i];
    const double* Crow = C_ + static_cast<std::size_t>(i) * m_;
    while (rem > 0) {
      const double mn = segment_min(Crow, pen.data(), m_);
      std::size_t j = segment_find(Crow, pen.data(), m_, mn);
      if (j >= m_) {  // cannot happen: Σ remB = remaining row mass > 0
        for (j = 0; j < m_ && remB[j] == 0; ++j) {
        }
      }
      const flow_t f = std::min(rem, remB[j]);
      ai.push_back(i);
      aj.push_back(static_cast<idx_t>(j));
      af.push_back(f);
      rem -= f;
      remB[j] -= f;
      if (remB[j] == 0) pen[j] = -kInf;
    }
  }
  build_tree(ai, aj, af);
}

// Spanning tree from a forest of positive-flow arcs: every component hangs from R by an artificial
// up arc with zero flow, so the tree is strongly feasible.
void Simplex::build_tree(const std::vector<idx_t>& ai, const std::vector<idx_t>& aj, const std::vector<flow_t>& af) {
  const std::size_t N = n_ + m_ + 1, E = ai.size();
  std::vector<idx_t> deg(N + 1, 0), adj(2 * E);
  for (std::size_t e = 0; e < E; ++e) {
    ++deg[ai[e] + 1];
    ++deg[n_ + aj[e] + 1];
  }
  for (std::size_t k = 0; k < N; ++k) deg[k + 1] += deg[k];
  {
    std::vector<idx_t> fill(deg.begin(), deg.end() - 1);
    for (std::size_t e = 0; e < E; ++e) {
      adj[fill[ai[e]]++] = static_cast<idx_t>(e);
      adj[fill[n_ + aj[e]]++] = static_cast<idx_t>(e);
    }
  }
  std::vector<idx_t> order;  // preorder
  order.reserve(tree_nodes_);
  order.push_back(root_);
  parent_[root_] = -1;
  std::vector<std::uint8_t> seen(N, 0);
  seen[root_] = 1;
  std::vector<idx_t> stack;
  auto visit_component = [&](idx_t start) {
    seen[start] = 1;
    parent_[start] = root_;
    up_[start] = 1;
    flow_[start] = 0;
    pcost_[start] = 0.0;
    stack.push_back(start);
    while (!stack.empty()) {
      const idx_t k = stack.back();
      stack.pop_back();
      order.push_back(k);
      for (idx_t p = deg[k]; p < deg[k + 1]; ++p) {
        const idx_t e = adj[p];
        const idx_t i = ai[e], jn = static_cast<idx_t>(n_) + aj[e];
        const idx_t other = (k == i) ? jn : i;
        if (seen[other]) continue;
        seen[other] = 1;
        parent_[other] = k;
        up_[other] = (other == i) ? 1 : 0;  // supply child: arc i → parent; demand child: arc parent → jn
        flow_[other] = af[e];
        pcost_[other] = C_[static_cast<std::size_t>(i) * m_ + static_cast<std::size_t>(aj[e])];
        stack.push_back(other);
      }
    }
  };
  for (idx_t i : rows_)
    if (!seen[i]) visit_component(i);
  for (std::size_t j = 0; j < m_; ++j)
    if (B_[j] > 0 && !seen[n_ + j]) visit_component(static_cast<idx_t>(n_ + j));
  // A depth-first stack order is a preorder only if children are pushed after their parent is
  // emitted, which holds above; subtree sizes from the reverse preorder.
  const std::size_t T = order.size();
  std::vector<idx_t> pos(N, -1);
  for (std::size_t t = 0; t < T; ++t) pos[order[t]] = static_cast<idx_t>(t);
  for (std::size_t t = 0; t < T; ++t) size_[order[t]] = 1;
  for (std::size_t t = T; t-- > 1;) size_[parent_[order[t]]] += size_[order[t]];
  for (std::size_t t = 0; t < T; ++t) {
    const idx_t k = order[t];
    link(k, order[(t + 1) % T]);
    last_[k] = order[t + size_[k] - 1];
  }
  recompute_potentials();
#ifdef SPEEDLIMITS_EMD_VERIFY
  verify();
#endif
}

#ifdef SPEEDLIMITS_EMD_VERIFY
// Debug build only (-DSPEEDLIMITS_EMD_VERIFY): every invariant of the tree after each pivot.
void Simplex::verify() const {
  auto fail = [](const char* what) { throw NumericalError(std::string("emd verify: ") + what); };
  const std::size_t N = n_ + m_ + 1;
  std::vector<idx_t> pos(N, -1), order;
  idx_t k = root_;
  do {
    if (pos[k] >= 0) fail("thread revisits a node");
    pos[k] = static_cast<idx_t>(order.size());
    order.push_back(k);
    if (rev_[thread_[k]] != k) fail("rev");
    k = thread_[k];
  } while (k != root_ && order.size() <= N);
  if (order.size() != tree_nodes_) fail("thread length");
  std::vector<idx_t> sz(N, 0);
  std::vector<flow_t> net(N, 0);
  for (std::size_t t = order.size(); t-- > 0;) {
    const idx_t x = order[t];
    sz[x] += 1;
    if (x == root_) continue;
    const idx_t p = parent_[x];
    if (p < 0 || pos[p] < 0 || pos[p] >= pos[x]) fail("parent after child");
    sz[p] += sz[x];
    const bool supply = x < static_cast<idx_t>(n_);
    if (p == root_) {
      if (!up_[x] || flow_[x] != 0 || pcost_[x] != 0.0) fail("artificial arc");
    } else {
      if ((p < static_cast<idx_t>(n_)) == supply) fail("arc within one side");
      if (static_cast<bool>(up_[x]) != supply) fail("arc direction");
      const idx_t i = supply ? x : p, j = (supply ? p : x) - static_cast<idx_t>(n_);
      if (pcost_[x] != C_[static_cast<std::size_t>(i) * m_ + static_cast<std::size_t>(j)]) fail("arc cost");
      const double rc = pcost_[x] + pi_[i] - pi_[n_ + j];
      if (std::fabs(rc) > 1e-9 * (1 + std::fabs(pcost_[x]) + std::fabs(pi_[i]))) fail("tree arc reduced cost");
    }
    if (flow_[x] < 0) fail("negative flow");
    if (flow_[x] == 0 && !up_[x]) fail("not strongly feasible");
    if (up_[x]) {
      net[x] += flow_[x];
      net[p] -= flow_[x];
    } else {
      net[p] += flow_[x];
      net[x] -= flow_[x];
    }
  }
  for (idx_t x : order) {
    if (sz[x] != size_[x]) fail("size");
    if (last_[x] != order[pos[x] + sz[x] - 1]) fail("last");
    if (x == root_) {
      if (net[x] != 0) fail("root balance");
    } else if (x < static_cast<idx_t>(n_)) {
      if (net[x] != A_[x]) fail("supply balance");
    } else if (net[x] != -B_[x - n_]) {
      fail("demand balance");
    }
  }
}
#endif

// π from the tree in preorder (π_R = 0). The pricing tolerance never falls below a few ulps of
// the largest potential, so rounding alone cannot make an arc look improving.
void Simplex::recompute_potentials() {
  pi_[root_] = 0.0;
  double pmax = 0;
  for (idx_t k = thread_[root_]; k != root_; k = thread_[k]) {
    const idx_t p = parent_[k];
    pi_[k] = up_[k] ? pi_[p] - pcost_[k] : pi_[p] + pcost_[k];
    pmax = std::max(pmax, std::fabs(pi_[k]));
  }
  tol_ = std::max(tol_, 8 * std::numeric_limits<double>::epsilon() * pmax);
  since_recompute_ = 0;
}

// Block search: scan the arcs cyclically from where the last search stopped, a block of ~√(arcs)
// at a time; return the most negative reduced cost of the first block that has one below −tol.
bool Simplex::find_entering(idx_t& ei, idx_t& ej, double& rc) {
  const std::size_t R = rows_.size(), total = R * m_;
  const double* v = pi_.data() + n_;
  double best = -tol_;
  std::size_t best_row = 0, best_start = 0, best_len = 0;
  double best_seg = 0;
  bool found = false;
  std::size_t r = scan_row_, j = scan_col_, scanned = 0, in_block = 0;
  while (scanned < total) {
    const std::size_t len = std::min(std::min(m_ - j, block_ - in_block), total - scanned);
    const idx_t i = rows_[r];
    const double* Crow = C_ + static_cast<std::size_t>(i) * m_;
    const double seg = segment_min(Crow + j, v + j, len);
    const double val = seg + pi_[i];
    if (val < best) {
      best = val;
      best_seg = seg;
      best_row = r;
      best_start = j;
      best_len = len;
      found = true;
    }
    j += len;
    scanned += len;
    in_block += len;
    if (j == m_) {
      j = 0;
      if (++r == R) r = 0;
    }
    if (in_block == block_) {
      if (found) break;
      in_block = 0;
    }
  }
  scan_row_ = r;
  scan_col_ = j;
  if (!found) return false;
  const idx_t i = rows_[best_row];
  const double* Crow = C_ + static_cast<std::size_t>(i) * m_;
  const std::size_t t = segment_find(Crow + best_start, v + best_start, best_len, best_seg);
  ei = i;
  ej = static_cast<idx_t>(best_start + t);
  rc = best;
  return true;
}

void Simplex::pivot(idx_t ei, idx_t ej, double rc) {
  const idx_t in = ei, jn = static_cast<idx_t>(n_) + ej;
  // apex of the cycle
  idx_t x = in, y = jn;
  while (x != y) {
    if (size_[x] < size_[y])
      x = parent_[x];
    else
      y = parent_[y];
  }
  const idx_t join = x;
  // Ratio test with Cunningham's rule. The cycle runs join → … → in → jn → … → join. On the in
  // side the arcs are crossed downward (an up arc is crossed backward and blocks); on the jn side
  // upward (a down arc blocks). Ties go to the last blocking arc of that traversal: on the in side
  // the one nearest in (strict <, walking up from in), otherwise on the jn side the one nearest
  // the apex (≤, walking up from jn).
  flow_t delta = std::numeric_limits<flow_t>::max();
  idx_t u_out = -1;
  bool out_on_in_side = true;
  for (idx_t k = in; k != join; k = parent_[k])
    if (up_[k] && flow_[k] < delta) {
      delta = flow_[k];
      u_out = k;
    }
  for (idx_t k = jn; k != join; k = parent_[k])
    if (!up_[k] && flow_[k] <= delta) {
      delta = flow_[k];
      u_out = k;
      out_on_in_side = false;
    }
  if (delta > 0) {
    for (idx_t k = in; k != join; k = parent_[k]) flow_[k] += up_[k] ? -delta : delta;
    for (idx_t k = jn; k != join; k = parent_[k]) flow_[k] += up_[k] ? delta : -delta;
  }
  // The entering arc in → jn replaces the leaving arc (u_out, parent(u_out)). The subtree S of
  // u_out is re-rooted at u_in (its endpoint inside S) and hung below v_in.
  const idx_t u_in = out_on_in_side ? in : jn, v_in = out_on_in_side ? jn : in;
  const double sigma = out_on_in_side ? -rc : rc;  // potential shift of S
  const double c_in = C_[static_cast<std::size_t>(ei) * m_ + static_cast<std::size_t>(ej)];

  // stem s_0 = u_in, …, s_K = u_out
  std::size_t K = 0;
  stem_[0] = u_in;
  while (stem_[K] != u_out) {
    stem_[K + 1] = parent_[stem_[K]];
    ++K;
  }
  const idx_t p_out = parent_[u_out];
  const idx_t S = size_[u_out];
  const idx_t lastS = last_[u_out];
  const idx_t X = rev_[u_out], Y = thread_[lastS];
  const idx_t last0 = last_[u_in];

  // Potentials first (the old thread still lists S contiguously from u_out).
  if (sigma != 0.0) {
    if (2 * static_cast<std::size_t>(S) <= tree_nodes_) {
      idx_t k = u_out;
      for (idx_t c = 0; c < S; ++c, k = thread_[k]) pi_[k] += sigma;
    } else {  // shift the complement instead: same reduced costs, fewer nodes
      idx_t k = Y;
      const idx_t rest = static_cast<idx_t>(tree_nodes_) - S;
      for (idx_t c = 0; c < rest; ++c, k = thread_[k]) pi_[k] -= sigma;
    }
  }

  // Read everything the new preorder of S needs before writing. In the old preorder the subtree
  // of s_t is  s_t, A_t, subtree(s_{t−1}), B_t; re-rooted at s_0 the new preorder of S is
  // subtree(s_0), then for t = 1..K: s_t, A_t, B_t.
  for (std::size_t t = 1; t <= K; ++t) {
    const idx_t st = stem_[t], sp = stem_[t - 1];
    a_first_[t] = thread_[st] == sp ? -1 : thread_[st];
    a_last_[t] = rev_[sp];
    b_first_[t] = last_[sp] == last_[st] ? -1 : thread_[last_[sp]];
    b_last_[t] = last_[st];
    osize_[t - 1] = size_[sp];
  }
  idx_t prev_end = last0;
  for (std::size_t t = 1; t <= K; ++t) {
    const idx_t st = stem_[t];
    link(prev_end, st);
    idx_t cur = st;
    if (a_first_[t] >= 0) cur = a_last_[t];  // s_t → A_t is already linked
    if (b_first_[t] >= 0) {
      link(cur, b_first_[t]);
      cur = b_last_[t];
    }
    prev_end = cur;
  }
  const idx_t L = prev_end;  // last node of the new preorder of S

  // Cut S out after X and splice it in directly after v_in (as its first child).
  link(X, Y);
  const idx_t Z = thread_[v_in];
  link(v_in, u_in);
  link(L, Z);

  // last[]: the stem, the old ancestors that ended with S, the new ones that end with v_in.
  for (std::size_t t = 0; t <= K; ++t) last_[stem_[t]] = L;
  for (idx_t a = p_out; a >= 0 && last_[a] == lastS; a = parent_[a]) last_[a] = X;
  for (idx_t a = v_in; a >= 0 && last_[a] == v_in; a = parent_[a]) last_[a] = L;

  // sizes
  for (std::size_t t = K; t >= 1; --t) size_[stem_[t]] = S - osize_[t - 1];
  size_[u_in] = S;
  for (idx_t a = p_out; a != join; a = parent_[a]) size_[a] -= S;
  for (idx_t a = v_in; a != join; a = parent_[a]) size_[a] += S;

  // Reverse the stem: the arc between s_{t−1} and s_t now hangs at s_t, pointing the other way.
  for (std::size_t t = K; t >= 1; --t) {
    const idx_t st = stem_[t], sp = stem_[t - 1];
    parent_[st] = sp;
    up_[st] = up_[sp] ? 0 : 1;
    flow_[st] = flow_[sp];
    pcost_[st] = pcost_[sp];
  }
  parent_[u_in] = v_in;
  up_[u_in] = out_on_in_side ? 1 : 0;  // in → jn: up when in is the child
  flow_[u_in] = delta;
  pcost_[u_in] = c_in;
}

bool Simplex::solve(std::size_t max_iter) {
  const std::size_t period = std::max<std::size_t>(tree_nodes_, 1000);
  for (;;) {
    idx_t ei, ej;
    double rc;
    if (!find_entering(ei, ej, rc)) {
      if (since_recompute_ == 0) return true;
      recompute_potentials();  // confirm with drift-free potentials
      continue;
    }
    if (iterations_ >= max_iter) return false;
    const idx_t jn = static_cast<idx_t>(n_) + ej;
    if (parent_[ei] == jn || parent_[jn] == ei) {  // a tree arc priced negative: rounding drift
      if (since_recompute_ == 0) tol_ *= 2;         // even with fresh potentials: widen the tolerance
      recompute_potentials();
      continue;
    }
    pivot(ei, ej, rc);
#ifdef SPEEDLIMITS_EMD_VERIFY
    verify();
#endif
    ++iterations_;
    if (++since_recompute_ >= period) recompute_potentials();
    if ((iterations_ & 1023) == 0) control_.check();
  }
}

void Simplex::extract(EmdResult& out, double mass_unit) const {
  std::vector<std::pair<std::int64_t, std::int64_t>> arcs;
  std::vector<double> masses;
  std::vector<std::size_t> idx;
  const idx_t n = static_cast<idx_t>(n_);
  for (idx_t k = thread_[root_]; k != root_; k = thread_[k]) {
    const idx_t p = parent_[k];
    if (p == root_ || flow_[k] <= 0) continue;
    const idx_t i = k < n ? k : p, j = (k < n ? p : k) - n;
    arcs.emplace_back(i, j);
    masses.push_back(static_cast<double>(flow_[k]) * mass_unit);
  }
  idx.resize(arcs.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](std::size_t p, std::size_t q) { return arcs[p] < arcs[q]; });
  out.rows.resize(idx.size());
  out.cols.resize(idx.size());
  out.mass.resize(idx.size());
  double cost = 0;
  for (std::size_t t = 0; t < idx.size(); ++t) {
    const auto& e = arcs[idx[t]];
    out.rows[t] = e.first;
    out.cols[t] = e.second;
    out.mass[t] = masses[idx[t]];
    cost += out.mass[t] * C_[static_cast<std::size_t>(e.first) * m_ + static_cast<std::size_t>(e.second)];
  }
  out.cost = cost;
}

// Weights → integers summing to 2^61 (see emd.hpp).
std::vector<flow_t> quantise(const double* w, std::size_t len, double total) {
  std::vector<flow_t> q(len);
  for (std::size_t k = 0; k < len; ++k) q[k] = static_cast<flow_t>(std::llround(w[k] / total * kMassScale));
  return q;
}

double checked_sum(const double* w, std::size_t len, const char* name) {
  double s = 0;
  for (std::size_t k = 0; k < len; ++k) {
    if (!std::isfinite(w[k]) || w[k] < 0)
      throw InvalidArgument(std::string("emd: the weights ") + name + " must be finite and non-negative");
    s += w[k];
  }
  if (!(s > 0) || !std::isfinite(s)) throw InvalidArgument(std::string("emd: the weights ") + name + " sum to 0");
  return s;
}

}  // namespace

std::size_t emd_default_max_iter(std::size_t n, std::size_t m) noexcept { return 1000 * (n + m) + 1000000; }

EmdResult emd(const double* C, std::size_t n, std::size_t m, const double* a, const double* b, std::size_t max_iter,
              const Control& control) {
  if (n == 0 || m == 0) throw InvalidArgument("emd: both distributions need at least one point");
  if (C == nullptr || a == nullptr || b == nullptr) throw InvalidArgument("emd: null input");
  if (n + m + 1 >= static_cast<std::size_t>(std::numeric_limits<idx_t>::max()))
    throw InvalidArgument("emd: n + m is too large");
  const double sa = checked_sum(a, n, "a"), sb = checked_sum(b, m, "b");
  if (std::fabs(sa - sb) > 1e-6 * std::max(sa, sb))
    throw InvalidArgument("emd: the weights a and b must have the same total (" + std::to_string(sa) + " vs " +
                          std::to_string(sb) + ")");
  double cmax = 0;
  const std::size_t nm = n * m;
  for (std::size_t k = 0; k < nm; ++k) {
    const double c = std::fabs(C[k]);
    if (!(c <= std::numeric_limits<double>::max())) throw InvalidArgument("emd: the cost matrix must be finite");
    cmax = std::max(cmax, c);
  }
  control.check();

  std::vector<flow_t> A = quantise(a, n, sa), B = quantise(b, m, sb);
  const flow_t SA = std::accumulate(A.begin(), A.end(), flow_t{0});
  const flow_t SB = std::accumulate(B.begin(), B.end(), flow_t{0});
  if (SA != SB) {  // at most (n + m)/2 units: put them on the largest demand
    const std::size_t jmax = static_cast<std::size_t>(std::max_element(B.begin(), B.end()) - B.begin());
    B[jmax] += SA - SB;
  }

  if (max_iter == 0) max_iter = emd_default_max_iter(n, m);
  const double tol = 1e-13 * cmax;
  Simplex simplex(C, n, m, std::move(A), std::move(B), tol, control);
  simplex.initial_basis();
  EmdResult out;
  out.optimal = simplex.solve(max_iter);
  out.iterations = simplex.iterations();
  simplex.extract(out, sa / kMassScale);
  control.report(1.0);
  return out;
}

}  // namespace speedlimits::transport
