#include "core/threads.hpp"

#include <atomic>
#include <string>
#include <thread>

#include "core/errors.hpp"
#include "core/linalg.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace speedlimits {

namespace {
int initial_threads() noexcept {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}
std::atomic<int> g_threads{initial_threads()};
}  // namespace

int hardware_threads() noexcept {
  unsigned h = std::thread::hardware_concurrency();
  return h == 0 ? 1 : static_cast<int>(h);
}

void set_threads(int n) {
  if (n < 1) throw InvalidArgument("set_threads: n must be an integer >= 1, got " + std::to_string(n));
  g_threads.store(n);
#if defined(_OPENMP)
  omp_set_num_threads(n);
#endif
  linalg::set_blas_threads(n);
}

int get_threads() noexcept { return g_threads.load(); }

bool openmp_compiled() noexcept {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

}  // namespace speedlimits
