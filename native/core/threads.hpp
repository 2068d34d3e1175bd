// Thread control for the whole core: one number drives OpenMP regions and BLAS calls.
// OpenMP's own thread-count setting is per calling thread, and async work runs on libuv's
// pool threads, so every parallel region in the core says
//   #pragma omp parallel for num_threads(speedlimits::get_threads())
// instead of relying on omp_set_num_threads.
#pragma once

namespace speedlimits {

// Number of threads the core uses (OpenMP regions and BLAS). n >= 1, else InvalidArgument.
void set_threads(int n);
int get_threads() noexcept;
// Hardware concurrency as seen by the process (>= 1).
int hardware_threads() noexcept;
bool openmp_compiled() noexcept;

}  // namespace speedlimits
