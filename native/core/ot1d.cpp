// Exact W2 on the line: the optimal coupling is monotone, so merging the two sorted weighted
// samples (their quantile functions) gives it directly in O((n + m) log(n + m)).
#include <algorithm>
#include <numeric>
#include <vector>

#include "core/errors.hpp"
#include "core/transport.hpp"

namespace speedlimits::transport {

double w2_exact_1d(const double* x, std::size_t n, const double* a, const double* y, std::size_t m, const double* b,
                   std::vector<std::int64_t>* plan_rows, std::vector<std::int64_t>* plan_cols,
                   std::vector<double>* plan_mass) {
  if (n == 0 || m == 0) throw InvalidArgument("w2Exact1D: both samples need at least one point");
  std::vector<std::size_t> ix(n), iy(m);
  std::iota(ix.begin(), ix.end(), 0);
  std::iota(iy.begin(), iy.end(), 0);
  std::stable_sort(ix.begin(), ix.end(), [&](std::size_t p, std::size_t q) { return x[p] < x[q]; });
  std::stable_sort(iy.begin(), iy.end(), [&](std::size_t p, std::size_t q) { return y[p] < y[q]; });
  std::size_t i = 0, j = 0;
  double wa = a[ix[0]], wb = b[iy[0]], cost = 0;
  while (i < n && j < m) {
    const double mass = std::min(wa, wb);
    if (mass > 0) {
      const double dxy = x[ix[i]] - y[iy[j]];
      cost += mass * dxy * dxy;
      if (plan_rows != nullptr) {
        plan_rows->push_back(static_cast<std::int64_t>(ix[i]));
        plan_cols->push_back(static_cast<std::int64_t>(iy[j]));
        plan_mass->push_back(mass);
      }
    }
    // Advance the side that ran out (both on a tie) so rounding never strands a point.
    if (wa <= wb) {
      wb -= wa;
      if (++i < n) wa = a[ix[i]];
      if (wb <= 0 && j < m) {
        if (++j < m) wb = b[iy[j]];
      }
    } else {
      wa -= wb;
      if (++j < m) wb = b[iy[j]];
    }
  }
  return cost;
}

}  // namespace speedlimits::transport
