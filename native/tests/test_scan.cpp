// scan::first_non_finite against a naive loop: NaN, ±Inf, subnormals and the largest finite
// values, at block edges and in the last partial block, float and double, 1 and 2 threads.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "check.hpp"
#include "core/scan.hpp"
#include "core/threads.hpp"

namespace sc = speedlimits::scan;

namespace {

template <typename T>
std::int64_t naive(const std::vector<T>& x) {
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i])) return static_cast<std::int64_t>(i);
  return -1;
}

template <typename T>
void check_positions(std::size_t n) {
  std::vector<T> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<T>(std::sin(double(i)) * 1e3);
  // Extreme finite values are not flagged.
  if (n > 3) {
    x[0] = std::numeric_limits<T>::max();
    x[1] = -std::numeric_limits<T>::max();
    x[2] = std::numeric_limits<T>::denorm_min();
  }
  CHECK(sc::first_non_finite(x.data(), n) == -1);
  const T bad[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity()};
  for (std::size_t pos : {std::size_t(0), std::size_t(4095), std::size_t(4096), n / 2, n - 1}) {
    if (pos >= n) continue;
    for (T v : bad) {
      std::vector<T> y = x;
      y[pos] = v;
      if (pos + 7 < n) y[pos + 7] = v;  // a later bad value does not win
      CHECK(sc::first_non_finite(y.data(), n) == naive(y));
      CHECK(sc::first_non_finite(y.data(), n) == static_cast<std::int64_t>(pos));
    }
  }
}

}  // namespace

TEST_CASE("first_non_finite: double and float, small and large, every position class") {
  for (std::size_t n : {std::size_t(1), std::size_t(5), std::size_t(4096), std::size_t(4097), std::size_t(100003), std::size_t(3) << 20}) {
    check_positions<double>(n);
    check_positions<float>(n);
  }
  CHECK(sc::first_non_finite(static_cast<const double*>(nullptr), 0) == -1);
}

TEST_CASE("first_non_finite: the first bad block wins whatever the thread count") {
  const std::size_t n = std::size_t(5) << 20;
  std::vector<double> x(n, 1.0);
  x[n - 10] = std::numeric_limits<double>::quiet_NaN();  // in the second thread's half
  x[n / 3] = std::numeric_limits<double>::infinity();    // in the first thread's half
  const int before = speedlimits::get_threads();
  for (int t : {1, 2, 3}) {
    speedlimits::set_threads(t);
    CHECK(sc::first_non_finite(x.data(), n) == static_cast<std::int64_t>(n / 3));
  }
  speedlimits::set_threads(before);
}

int main() { return sltest::run_all(); }
