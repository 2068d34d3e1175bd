// Exact OT (network simplex): brute force on assignments, a problem solved by hand, and on random
// problems an independent optimality certificate — dual potentials from the returned plan that are
// feasible (u_i + v_j ≤ C_ij) and complementary (equality on the support), so ⟨a,u⟩ + ⟨b,v⟩ is a
// lower bound equal to the cost.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <numeric>
#include <vector>

#include "check.hpp"
#include "core/emd.hpp"
#include "core/errors.hpp"

using speedlimits::Control;
using speedlimits::transport::emd;
using speedlimits::transport::EmdResult;
using std::size_t;

namespace {

struct Rng {  // splitmix64
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

std::vector<double> random_points(Rng& rng, size_t n, size_t d) {
  std::vector<double> x(n * d);
  for (auto& v : x) v = rng.uniform();
  return x;
}

std::vector<double> sqeuclid(const std::vector<double>& x, size_t n, const std::vector<double>& y, size_t m, size_t d) {
  std::vector<double> C(n * m);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) {
      double s = 0;
      for (size_t k = 0; k < d; ++k) {
        const double t = x[i * d + k] - y[j * d + k];
        s += t * t;
      }
      C[i * m + j] = s;
    }
  return C;
}

std::vector<double> random_weights(Rng& rng, size_t n, double zero_fraction = 0) {
  std::vector<double> w(n);
  double s = 0;
  for (auto& v : w) {
    v = rng.uniform() < zero_fraction ? 0.0 : 0.05 + rng.uniform();
    s += v;
  }
  if (s == 0) w[0] = s = 1;
  for (auto& v : w) v /= s;
  return w;
}

std::vector<double> uniform_weights(size_t n) { return std::vector<double>(n, 1.0 / static_cast<double>(n)); }

double cmax_of(const std::vector<double>& C) {
  double c = 0;
  for (double v : C) c = std::max(c, std::fabs(v));
  return c;
}

// Structural checks: sorted, in range, positive masses, ≤ n + m − 1 entries, marginals to 1e-12,
// cost = Σ mass · C.
void check_plan(const EmdResult& r, const std::vector<double>& C, size_t n, size_t m, const std::vector<double>& a,
                const std::vector<double>& b, double marg_tol = 1e-12) {
  CHECK(r.rows.size() == r.mass.size() && r.cols.size() == r.mass.size());
  CHECK(r.mass.size() <= n + m - 1);
  std::vector<double> rs(n, 0.0), cs(m, 0.0);
  double cost = 0;
  for (size_t k = 0; k < r.mass.size(); ++k) {
    CHECK(r.rows[k] >= 0 && static_cast<size_t>(r.rows[k]) < n);
    CHECK(r.cols[k] >= 0 && static_cast<size_t>(r.cols[k]) < m);
    CHECK(r.mass[k] > 0);
    if (k > 0) CHECK(r.rows[k - 1] < r.rows[k] || (r.rows[k - 1] == r.rows[k] && r.cols[k - 1] < r.cols[k]));
    rs[r.rows[k]] += r.mass[k];
    cs[r.cols[k]] += r.mass[k];
    cost += r.mass[k] * C[r.rows[k] * m + r.cols[k]];
  }
  double er = 0, ec = 0;
  for (size_t i = 0; i < n; ++i) er = std::max(er, std::fabs(rs[i] - a[i]));
  for (size_t j = 0; j < m; ++j) ec = std::max(ec, std::fabs(cs[j] - b[j]));
  CHECK(er <= marg_tol);
  CHECK(ec <= marg_tol);
  CHECK_CLOSE(r.cost, cost, 1e-13, 1e-300);
}

// Certificate from the basis: when the support is a spanning tree (n + m − 1 entries, connected),
// u, v are fixed by u_i + v_j = C_ij on it (u_0 = 0). Returns false if the support is not a
// spanning tree. Checks dual feasibility and strong duality.
bool tree_certificate(const EmdResult& r, const std::vector<double>& C, size_t n, size_t m,
                      const std::vector<double>& a, const std::vector<double>& b) {
  if (r.mass.size() != n + m - 1) return false;
  std::vector<std::vector<size_t>> adj(n + m);
  for (size_t k = 0; k < r.mass.size(); ++k) {
    adj[r.rows[k]].push_back(k);
    adj[n + r.cols[k]].push_back(k);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> pot(n + m, nan);  // u = pot[0..n), v = pot[n..n+m)
  std::vector<size_t> stack{0};
  pot[0] = 0;
  size_t reached = 1;
  while (!stack.empty()) {
    const size_t x = stack.back();
    stack.pop_back();
    for (size_t k : adj[x]) {
      const size_t i = r.rows[k], jn = n + r.cols[k], other = x == i ? jn : i;
      if (!std::isnan(pot[other])) continue;
      pot[other] = C[i * m + r.cols[k]] - pot[x];
      ++reached;
      stack.push_back(other);
    }
  }
  if (reached != n + m) return false;
  const double tol = 1e-12 * std::max(1.0, cmax_of(C));
  double worst = 0, dual = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) worst = std::max(worst, pot[i] + pot[n + j] - C[i * m + j]);
  for (size_t i = 0; i < n; ++i) dual += a[i] * pot[i];
  for (size_t j = 0; j < m; ++j) dual += b[j] * pot[n + j];
  CHECK(worst <= tol);
  CHECK_CLOSE(dual, r.cost, 1e-11, 1e-13 * std::max(1.0, cmax_of(C)));
  return true;
}

// Certificate that also works for degenerate plans: potentials are shortest-path distances in the
// residual graph (arcs i → j of cost C_ij, and j → i of cost −C_ij where the plan is positive),
// found by a queue-based Bellman–Ford. They exist (no negative cycle) iff the plan is optimal; then
// u_i = −d_i, v_j = d_{n+j} is dual feasible and complementary.
void residual_certificate(const EmdResult& r, const std::vector<double>& C, size_t n, size_t m,
                          const std::vector<double>& a, const std::vector<double>& b) {
  const double tol = 1e-12 * std::max(1.0, cmax_of(C));
  std::vector<std::vector<size_t>> back(m);  // rows with positive mass in column j
  for (size_t k = 0; k < r.mass.size(); ++k) back[r.cols[k]].push_back(r.rows[k]);
  std::vector<double> d(n + m, 0.0);
  std::vector<size_t> relax(n + m, 0);
  std::vector<char> queued(n + m, 1);
  std::deque<size_t> q;
  for (size_t x = 0; x < n + m; ++x) q.push_back(x);
  bool negative_cycle = false;
  while (!q.empty() && !negative_cycle) {
    const size_t x = q.front();
    q.pop_front();
    queued[x] = 0;
    auto push = [&](size_t y, double dy) {
      if (dy < d[y] - tol) {
        d[y] = dy;
        if (++relax[y] > n + m + 1) negative_cycle = true;
        if (!queued[y]) {
          queued[y] = 1;
          q.push_back(y);
        }
      }
    };
    if (x < n) {
      for (size_t j = 0; j < m; ++j) push(n + j, d[x] + C[x * m + j]);
    } else {
      for (size_t i : back[x - n]) push(i, d[x] - C[i * m + (x - n)]);
    }
  }
  CHECK(!negative_cycle);
  if (negative_cycle) return;
  double worst = 0, slack = 0, dual = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < m; ++j) worst = std::max(worst, -d[i] + d[n + j] - C[i * m + j]);
  for (size_t k = 0; k < r.mass.size(); ++k)
    slack = std::max(slack, std::fabs(C[r.rows[k] * m + r.cols[k]] + d[r.rows[k]] - d[n + r.cols[k]]));
  for (size_t i = 0; i < n; ++i) dual -= a[i] * d[i];
  for (size_t j = 0; j < m; ++j) dual += b[j] * d[n + j];
  CHECK(worst <= 4 * tol);
  CHECK(slack <= 4 * tol);
  CHECK_CLOSE(dual, r.cost, 1e-10, 1e-12 * std::max(1.0, cmax_of(C)));
}

const Control kControl{};

}  // namespace

TEST_CASE("assignment: brute force over permutations for n = m ≤ 7") {
  Rng rng(1);
  for (size_t n = 1; n <= 7; ++n) {
    for (int rep = 0; rep < 6; ++rep) {
      std::vector<double> C(n * n);
      if (rep % 2 == 0) {
        for (auto& c : C) c = rng.uniform() * 10 - 3;  // negative costs too
      } else {
        auto x = random_points(rng, n, 2), y = random_points(rng, n, 2);
        C = sqeuclid(x, n, y, n, 2);
      }
      std::vector<size_t> p(n);
      std::iota(p.begin(), p.end(), 0);
      double best = std::numeric_limits<double>::infinity();
      do {
        double s = 0;
        for (size_t i = 0; i < n; ++i) s += C[i * n + p[i]];
        best = std::min(best, s);
      } while (std::next_permutation(p.begin(), p.end()));
      best /= static_cast<double>(n);
      auto w = uniform_weights(n);
      EmdResult r = emd(C.data(), n, n, w.data(), w.data(), 0, kControl);
      CHECK(r.optimal);
      CHECK_CLOSE(r.cost, best, 1e-13, 1e-14);
      check_plan(r, C, n, n, w, w);
      residual_certificate(r, C, n, n, w, w);
    }
  }
}

TEST_CASE("a 3x4 transportation problem solved by hand") {
  // Optimal basis (×1/100): (0,0)=10 (0,3)=20 (1,0)=10 (1,2)=15 (2,1)=30 (2,3)=15.
  // Potentials u = (0, −2, −1), v = (4, 4, 5, 5) satisfy u_i + v_j = C_ij on the basis and are
  // strictly below C_ij elsewhere, so this is the unique optimum; cost = 3.55 = ⟨a,u⟩ + ⟨b,v⟩.
  const std::vector<double> a{0.30, 0.25, 0.45}, b{0.20, 0.30, 0.15, 0.35};
  const std::vector<double> C{4, 6, 9, 5, 2, 8, 3, 7, 7, 3, 6, 4};
  EmdResult r = emd(C.data(), 3, 4, a.data(), b.data(), 0, kControl);
  CHECK(r.optimal);
  CHECK_CLOSE(r.cost, 3.55, 1e-14, 0);
  check_plan(r, C, 3, 4, a, b);
  const std::int64_t er[] = {0, 0, 1, 1, 2, 2}, ec[] = {0, 3, 0, 2, 1, 3};
  const double em[] = {0.10, 0.20, 0.10, 0.15, 0.30, 0.15};
  CHECK(r.mass.size() == 6);
  if (r.mass.size() == 6)
    for (size_t k = 0; k < 6; ++k) {
      CHECK(r.rows[k] == er[k] && r.cols[k] == ec[k]);
      CHECK_CLOSE(r.mass[k], em[k], 1e-15, 1e-17);
    }
  CHECK(tree_certificate(r, C, 3, 4, a, b));
}

TEST_CASE("n != m, random weights: marginals, support size, tree certificate") {
  Rng rng(2);
  const size_t shapes[][3] = {{5, 9, 2}, {9, 5, 3}, {40, 17, 2}, {17, 40, 5}, {64, 63, 8}, {2, 120, 2}, {120, 3, 4}};
  for (const auto& s : shapes) {
    const size_t n = s[0], m = s[1], d = s[2];
    auto x = random_points(rng, n, d), y = random_points(rng, m, d);
    auto C = sqeuclid(x, n, y, m, d);
    auto a = random_weights(rng, n), b = random_weights(rng, m);
    EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
    CHECK(r.optimal);
    check_plan(r, C, n, m, a, b);
    // Random real weights: no partial sums coincide, so the optimal basis is non-degenerate.
    CHECK(r.mass.size() == n + m - 1);
    CHECK(tree_certificate(r, C, n, m, a, b));
    residual_certificate(r, C, n, m, a, b);
  }
}

TEST_CASE("zero weights: the nodes take no part; same cost as the reduced problem") {
  Rng rng(3);
  for (int rep = 0; rep < 5; ++rep) {
    const size_t n = 30 + rep, m = 25 + 2 * rep;
    auto x = random_points(rng, n, 3), y = random_points(rng, m, 3);
    auto C = sqeuclid(x, n, y, m, 3);
    auto a = random_weights(rng, n, 0.3), b = random_weights(rng, m, 0.3);
    if (rep == 0) a[0] = 0, a[n - 1] = 0, b[0] = 0, b[m - 1] = 0;
    double sa = std::accumulate(a.begin(), a.end(), 0.0), sb = std::accumulate(b.begin(), b.end(), 0.0);
    for (auto& v : a) v /= sa;
    for (auto& v : b) v /= sb;
    EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
    CHECK(r.optimal);
    check_plan(r, C, n, m, a, b);
    for (size_t k = 0; k < r.mass.size(); ++k) CHECK(a[r.rows[k]] > 0 && b[r.cols[k]] > 0);
    residual_certificate(r, C, n, m, a, b);
    // reduced problem
    std::vector<size_t> ri, cj;
    for (size_t i = 0; i < n; ++i)
      if (a[i] > 0) ri.push_back(i);
    for (size_t j = 0; j < m; ++j)
      if (b[j] > 0) cj.push_back(j);
    std::vector<double> Cr(ri.size() * cj.size()), ar, br;
    for (size_t i = 0; i < ri.size(); ++i)
      for (size_t j = 0; j < cj.size(); ++j) Cr[i * cj.size() + j] = C[ri[i] * m + cj[j]];
    for (size_t i : ri) ar.push_back(a[i]);
    for (size_t j : cj) br.push_back(b[j]);
    EmdResult rr = emd(Cr.data(), ri.size(), cj.size(), ar.data(), br.data(), 0, kControl);
    CHECK(rr.optimal);
    CHECK_CLOSE(r.cost, rr.cost, 1e-12, 1e-15);
  }
  // all mass of b on one column
  const std::vector<double> C{1, 2, 3, 4, 5, 6}, a{0.5, 0.5}, b{0, 1, 0};
  EmdResult r = emd(C.data(), 2, 3, a.data(), b.data(), 0, kControl);
  CHECK(r.optimal && r.mass.size() == 2);
  CHECK_CLOSE(r.cost, 0.5 * 2 + 0.5 * 5, 1e-15, 0);
}

TEST_CASE("1x1, 1xm, nx1") {
  {
    const double C = 2.5, w = 1.0;
    EmdResult r = emd(&C, 1, 1, &w, &w, 0, kControl);
    CHECK(r.optimal && r.mass.size() == 1 && r.rows[0] == 0 && r.cols[0] == 0);
    CHECK_CLOSE(r.mass[0], 1.0, 1e-15, 0);
    CHECK_CLOSE(r.cost, 2.5, 1e-15, 0);
  }
  Rng rng(4);
  for (size_t m : {1u, 2u, 7u, 50u}) {
    std::vector<double> C(m);
    for (auto& c : C) c = rng.uniform() * 4 - 1;
    auto b = random_weights(rng, m);
    const std::vector<double> one{1.0};
    double expect = 0;
    for (size_t j = 0; j < m; ++j) expect += b[j] * C[j];
    EmdResult r = emd(C.data(), 1, m, one.data(), b.data(), 0, kControl);  // 1 × m
    CHECK(r.optimal && r.mass.size() == m);
    CHECK_CLOSE(r.cost, expect, 1e-14, 1e-15);
    check_plan(r, C, 1, m, one, b);
    EmdResult t = emd(C.data(), m, 1, b.data(), one.data(), 0, kControl);  // m × 1
    CHECK(t.optimal && t.mass.size() == m);
    CHECK_CLOSE(t.cost, expect, 1e-14, 1e-15);
    check_plan(t, C, m, 1, b, one);
  }
}

TEST_CASE("identical point sets cost 0; duplicated points (degenerate)") {
  Rng rng(5);
  for (size_t n : {1u, 2u, 10u, 80u}) {
    auto x = random_points(rng, n, 3);
    auto C = sqeuclid(x, n, x, n, 3);
    auto w = uniform_weights(n);
    EmdResult r = emd(C.data(), n, n, w.data(), w.data(), 0, kControl);
    CHECK(r.optimal);
    CHECK(r.cost == 0.0);
    CHECK(r.mass.size() == n);
    for (size_t k = 0; k < r.mass.size(); ++k) CHECK(r.rows[k] == r.cols[k]);
    check_plan(r, C, n, n, w, w);
    auto wr = random_weights(rng, n);
    EmdResult q = emd(C.data(), n, n, wr.data(), wr.data(), 0, kControl);
    CHECK(q.optimal && q.cost == 0.0);
  }
  // Clouds made of a few distinct points, each repeated: many ties in cost and in mass.
  for (int rep = 0; rep < 6; ++rep) {
    const size_t n = 40 + 7 * rep, m = 35 + 5 * rep, distinct = 3 + rep;
    auto base = random_points(rng, distinct, 2);
    std::vector<double> x(n * 2), y(m * 2);
    for (size_t i = 0; i < n; ++i) {
      const size_t k = rng.next() % distinct;
      x[2 * i] = base[2 * k], x[2 * i + 1] = base[2 * k + 1];
    }
    for (size_t j = 0; j < m; ++j) {
      const size_t k = rng.next() % distinct;
      y[2 * j] = base[2 * k], y[2 * j + 1] = base[2 * k + 1];
    }
    auto C = sqeuclid(x, n, y, m, 2);
    auto a = uniform_weights(n), b = uniform_weights(m);
    EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
    CHECK(r.optimal);
    check_plan(r, C, n, m, a, b);
    residual_certificate(r, C, n, m, a, b);
    if (n == m) {
      EmdResult s = emd(C.data(), n, n, a.data(), a.data(), 0, kControl);
      CHECK(s.optimal);
    }
  }
  // Equal weights n = m with duplicated points: the assignment LP at its most degenerate.
  for (size_t n : {16u, 64u}) {
    auto base = random_points(rng, 4, 2);
    std::vector<double> x(n * 2);
    for (size_t i = 0; i < n; ++i) x[2 * i] = base[2 * (i % 4)], x[2 * i + 1] = base[2 * (i % 4) + 1];
    auto y = random_points(rng, n, 2);
    auto C = sqeuclid(x, n, y, n, 2);
    auto w = uniform_weights(n);
    EmdResult r = emd(C.data(), n, n, w.data(), w.data(), 0, kControl);
    CHECK(r.optimal);
    check_plan(r, C, n, n, w, w);
    residual_certificate(r, C, n, n, w, w);
  }
}

TEST_CASE("integer costs with many ties") {
  Rng rng(6);
  for (int rep = 0; rep < 8; ++rep) {
    const size_t n = 20 + rep * 3, m = 15 + rep * 4;
    std::vector<double> C(n * m);
    for (auto& c : C) c = static_cast<double>(rng.next() % 4);
    auto a = uniform_weights(n), b = uniform_weights(m);
    EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
    CHECK(r.optimal);
    check_plan(r, C, n, m, a, b);
    residual_certificate(r, C, n, m, a, b);
  }
}

TEST_CASE("300x300 random: optimal, certified") {
  Rng rng(7);
  const size_t n = 300, m = 300;
  auto x = random_points(rng, n, 2), y = random_points(rng, m, 2);
  auto C = sqeuclid(x, n, y, m, 2);
  {
    auto a = random_weights(rng, n), b = random_weights(rng, m);
    EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
    CHECK(r.optimal);
    CHECK(r.iterations > 0);
    check_plan(r, C, n, m, a, b);
    CHECK(tree_certificate(r, C, n, m, a, b));
  }
  {
    auto w = uniform_weights(n);
    EmdResult r = emd(C.data(), n, m, w.data(), w.data(), 0, kControl);
    CHECK(r.optimal);
    CHECK(r.mass.size() == n);  // a permutation: each point keeps its whole mass
    check_plan(r, C, n, m, w, w);
    residual_certificate(r, C, n, m, w, w);
  }
}

TEST_CASE("cost shift and scale: emd(αC + β) = α emd(C) + β") {
  Rng rng(8);
  const size_t n = 45, m = 38;
  auto x = random_points(rng, n, 4), y = random_points(rng, m, 4);
  auto C = sqeuclid(x, n, y, m, 4);
  auto a = random_weights(rng, n), b = random_weights(rng, m);
  EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
  std::vector<double> D(C);
  for (auto& c : D) c = 3.0 * c - 7.0;
  EmdResult s = emd(D.data(), n, m, a.data(), b.data(), 0, kControl);
  CHECK(r.optimal && s.optimal);
  CHECK_CLOSE(s.cost, 3.0 * r.cost - 7.0, 1e-12, 1e-12);
  residual_certificate(s, D, n, m, a, b);
}

TEST_CASE("a large constant offset and a wide cost range") {
  Rng rng(11);
  const size_t n = 70, m = 55;
  auto x = random_points(rng, n, 2), y = random_points(rng, m, 2);
  auto C = sqeuclid(x, n, y, m, 2);
  auto a = random_weights(rng, n), b = random_weights(rng, m);
  EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
  std::vector<double> D(C);
  for (auto& c : D) c += 1e6;
  EmdResult s = emd(D.data(), n, m, a.data(), b.data(), 0, kControl);
  CHECK(r.optimal && s.optimal);
  double on_c = 0;  // the offset problem's plan, priced on C
  for (size_t k = 0; k < s.mass.size(); ++k) on_c += s.mass[k] * C[s.rows[k] * m + s.cols[k]];
  CHECK_CLOSE(on_c, r.cost, 1e-9, 1e-12);
  std::vector<double> E(C);
  for (auto& c : E) c = std::exp(20 * rng.uniform()) * 1e-4;  // 1e-4 … 5e4
  EmdResult t = emd(E.data(), n, m, a.data(), b.data(), 0, kControl);
  CHECK(t.optimal);
  check_plan(t, E, n, m, a, b);
  residual_certificate(t, E, n, m, a, b);
}

TEST_CASE("weights that do not sum exactly to 1") {
  Rng rng(9);
  const size_t n = 33, m = 21;
  auto x = random_points(rng, n, 2), y = random_points(rng, m, 2);
  auto C = sqeuclid(x, n, y, m, 2);
  auto a = random_weights(rng, n), b = random_weights(rng, m);
  a[0] += 3e-13;  // Σa = 1 + 3e-13
  for (auto& v : b) v *= 1 - 1e-12;
  EmdResult r = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
  CHECK(r.optimal);
  check_plan(r, C, n, m, a, b, 1e-12);
  // A total other than 1 is fine as long as both agree.
  std::vector<double> a2(a), b2(b);
  for (auto& v : a2) v *= 4;
  for (auto& v : b2) v *= 4;
  EmdResult r2 = emd(C.data(), n, m, a2.data(), b2.data(), 0, kControl);
  CHECK(r2.optimal);
  CHECK_CLOSE(r2.cost, 4 * r.cost, 1e-12, 0);
  check_plan(r2, C, n, m, a2, b2, 4e-12);
}

TEST_CASE("max_iter cap: optimal = false with a feasible plan") {
  Rng rng(10);
  const size_t n = 60, m = 50;
  auto x = random_points(rng, n, 2), y = random_points(rng, m, 2);
  auto C = sqeuclid(x, n, y, m, 2);
  auto a = random_weights(rng, n), b = random_weights(rng, m);
  EmdResult full = emd(C.data(), n, m, a.data(), b.data(), 0, kControl);
  CHECK(full.optimal);
  CHECK(full.iterations > 3);
  for (size_t cap : {1u, 3u}) {
    EmdResult r = emd(C.data(), n, m, a.data(), b.data(), cap, kControl);
    CHECK(!r.optimal);
    CHECK(r.iterations == cap);
    check_plan(r, C, n, m, a, b);
    CHECK(r.cost >= full.cost - 1e-15);
  }
  EmdResult exact = emd(C.data(), n, m, a.data(), b.data(), full.iterations, kControl);
  CHECK(exact.optimal);
  CHECK_CLOSE(exact.cost, full.cost, 0, 0);
}

TEST_CASE("invalid arguments and abort") {
  const std::vector<double> C{1, 2, 3, 4}, w{0.5, 0.5};
  CHECK_THROWS(emd(C.data(), 0, 2, w.data(), w.data(), 0, kControl), speedlimits::InvalidArgument);
  CHECK_THROWS(emd(C.data(), 2, 0, w.data(), w.data(), 0, kControl), speedlimits::InvalidArgument);
  CHECK_THROWS(emd(nullptr, 2, 2, w.data(), w.data(), 0, kControl), speedlimits::InvalidArgument);
  const std::vector<double> neg{1.5, -0.5}, nanw{std::nan(""), 1.0}, zero{0.0, 0.0}, other{0.5, 0.6};
  CHECK_THROWS(emd(C.data(), 2, 2, neg.data(), w.data(), 0, kControl), speedlimits::InvalidArgument);
  CHECK_THROWS(emd(C.data(), 2, 2, w.data(), nanw.data(), 0, kControl), speedlimits::InvalidArgument);
  CHECK_THROWS(emd(C.data(), 2, 2, zero.data(), zero.data(), 0, kControl), speedlimits::InvalidArgument);
  CHECK_THROWS(emd(C.data(), 2, 2, w.data(), other.data(), 0, kControl), speedlimits::InvalidArgument);
  const std::vector<double> Cbad{1, std::numeric_limits<double>::infinity(), 3, 4};
  CHECK_THROWS(emd(Cbad.data(), 2, 2, w.data(), w.data(), 0, kControl), speedlimits::InvalidArgument);
  std::int32_t flag = 1;
  Control aborting;
  aborting.abort_flag = &flag;
  CHECK_THROWS(emd(C.data(), 2, 2, w.data(), w.data(), 0, aborting), speedlimits::Aborted);
  double progress = 0;
  Control reporting;
  reporting.progress = &progress;
  EmdResult r = emd(C.data(), 2, 2, w.data(), w.data(), 0, reporting);
  CHECK(r.optimal && progress == 1.0);
  CHECK_CLOSE(r.cost, 0.5 * 1 + 0.5 * 4, 1e-15, 0);
}

TEST_MAIN()
