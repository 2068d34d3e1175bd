// Squared-Euclidean cost matrices by GEMM over feature chunks, after centring.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/threads.hpp"
#include "core/transport.hpp"

namespace speedlimits::transport {

namespace {
// The centred copies of one feature chunk take at most this many bytes. Few, wide chunks keep
// the GEMM efficient: every chunk re-reads and re-writes all of C (beta = 1).
constexpr std::size_t kChunkBytes = std::size_t(96) << 20;
}  // namespace

template <typename T>
void cost_matrix(const T* x, std::size_t n, const T* y, std::size_t m, std::size_t d, bool center, bool same,
                 T* C) {
  if (same && (x != y || n != m)) throw InvalidArgument("cost_matrix: same=true needs y == x");
  if (n == 0 || m == 0) return;
  // Centre: the midpoint of the two clouds' means, so clouds far from the origin (ensembles that
  // share an initialisation) do not lose their differences to cancellation.
  std::vector<double> centre(d, 0.0);
  if (center) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < d; ++k) centre[k] += static_cast<double>(x[i * d + k]);
    std::vector<double> cy(d, 0.0);
    if (!same)
      for (std::size_t j = 0; j < m; ++j)
        for (std::size_t k = 0; k < d; ++k) cy[k] += static_cast<double>(y[j * d + k]);
    for (std::size_t k = 0; k < d; ++k)
      centre[k] = same ? centre[k] / n : 0.5 * (centre[k] / n + cy[k] / m);
  }
  std::vector<double> nx(n, 0.0), ny(m, 0.0);
  const std::size_t kc = std::min(std::max<std::size_t>(d, 1),
                                  std::max<std::size_t>(64, kChunkBytes / ((n + m) * sizeof(T))));
  std::vector<T> xb(n * kc), yb(same ? 0 : m * kc);
  bool first = true;
  if (d == 0) std::fill(C, C + n * m, T(0));
  for (std::size_t k0 = 0; k0 < d; k0 += kc) {
    const std::size_t w = std::min(kc, d - k0);
    auto fill = [&](const T* src, std::size_t rows, T* dst, std::vector<double>& norms) {
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (rows * w > 65536)
      for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(rows); ++i) {
        double s = 0;
        for (std::size_t k = 0; k < w; ++k) {
          double v = static_cast<double>(src[i * d + k0 + k]) - centre[k0 + k];
          dst[i * w + k] = static_cast<T>(v);
          s += v * v;
        }
        norms[i] += s;
      }
    };
    fill(x, n, xb.data(), nx);
    if (!same) fill(y, m, yb.data(), ny);
    const T beta = first ? T(0) : T(1);
    if constexpr (std::is_same<T, double>::value) {
      if (same) {
        linalg::syrk(linalg::Uplo::Lower, linalg::Trans::No, n, w, -2.0, xb.data(), w, beta, C, m);
      } else {
        linalg::gemm(linalg::Trans::No, linalg::Trans::Yes, n, m, w, -2.0, xb.data(), w, yb.data(), w, beta, C, m);
      }
    } else {
      const T* yp = same ? xb.data() : yb.data();
      linalg::gemm(linalg::Trans::No, linalg::Trans::Yes, n, m, w, T(-2), xb.data(), w, yp, w, beta, C, m);
    }
    first = false;
  }
  if (same) ny = nx;
  // C_ij += |x̃_i|² + |ỹ_j|², clamped at 0 (rounding can make a tiny distance negative).
#pragma omp parallel for schedule(static) num_threads(get_threads()) if (n * m > 65536)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
    const std::size_t jend = same ? static_cast<std::size_t>(i) + 1 : m;  // same: lower triangle
    for (std::size_t j = 0; j < jend; ++j) {
      double v = nx[i] + ny[j] + static_cast<double>(C[i * m + j]);
      C[i * m + j] = static_cast<T>(v > 0 ? v : 0);
    }
  }
  if (same) {
    for (std::size_t i = 0; i < n; ++i) {
      C[i * m + i] = T(0);
      for (std::size_t j = 0; j < i; ++j) C[j * m + i] = C[i * m + j];
    }
  }
}

template void cost_matrix<double>(const double*, std::size_t, const double*, std::size_t, std::size_t, bool, bool, double*);
template void cost_matrix<float>(const float*, std::size_t, const float*, std::size_t, std::size_t, bool, bool, float*);

}  // namespace speedlimits::transport
