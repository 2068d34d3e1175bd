// The Langevin engine's ensemble update on the GPU, with Philox noise generated in-kernel from
// core/philox.hpp: the same stream and the same bits as the CPU's rng::normal.
#include <cuda_runtime.h>

#include <vector>

#include "core/cuda_backend.hpp"
#include "core/dynamics.hpp"
#include "core/philox.hpp"
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace speedlimits::cuda {

using namespace detail;

namespace {

__global__ void normal_kernel(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    out[i] = philox::normal_at(seed, stream, offset + i);
}

constexpr int kUpdateThreads = 256;

// Replica blockIdx.y, parameters strided over blockIdx.x; per-block partial sums of δ² and δ·gp
// go to part[(r·gridDim.x + blockIdx.x)·2 + {0, 1}].
__global__ void __launch_bounds__(kUpdateThreads) update_kernel(std::size_t P, double* theta, const double* grad,
                                                                 UpdateParams u, double* part) {
  __shared__ double s_diss[kUpdateThreads], s_dg[kUpdateThreads];
  const std::size_t r = blockIdx.y;
  double* th = theta + r * P;
  const double* g = grad + r * P;
  const std::uint64_t stream = dynamics::kNoiseStream + u.replica_begin + r;
  const std::uint64_t base = u.step * static_cast<std::uint64_t>(P);
  double diss = 0, dg = 0;
  for (std::size_t p = blockIdx.x * std::size_t(kUpdateThreads) + threadIdx.x; p < P; p += std::size_t(gridDim.x) * kUpdateThreads) {
    const double gp = u.scale * g[p] + u.gamma * th[p];
    const double delta = u.sd > 0 ? -u.eta * gp + u.sd * philox::normal_at(u.seed, stream, base + p) : -u.eta * gp;
    dg += delta * gp;
    diss += delta * delta;
    th[p] += delta;
  }
  s_diss[threadIdx.x] = diss;
  s_dg[threadIdx.x] = dg;
  __syncthreads();
  for (int w = kUpdateThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) {
      s_diss[threadIdx.x] += s_diss[threadIdx.x + w];
      s_dg[threadIdx.x] += s_dg[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    double* out = part + (r * gridDim.x + blockIdx.x) * 2;
    out[0] = s_diss[0];
    out[1] = s_dg[0];
  }
}

}  // namespace

void normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset, std::size_t n, double* out) {
  if (n == 0) return;
  use_device("normal");
  Buffer<double> d(n);
  normal_kernel<<<blocks_for(n, 256, 8192), 256>>>(seed, stream, offset, n, d.get());
  check_launch("normal_kernel");
  d.download(out, n);
}

namespace detail {
// The update on device arrays; the per-replica sums are added to the host arrays diss, dg.
void langevin_update_device(std::size_t M, std::size_t P, double* theta, const double* grad, const UpdateParams& u,
                            double* diss, double* dg) {
  if (M == 0 || P == 0) return;
  if (M > 65535) throw InvalidArgument("cuda langevin_update: at most 65535 replicas per call");
  const unsigned gx = blocks_for(P, kUpdateThreads, 1024);
  Buffer<double> part(M * gx * 2);
  update_kernel<<<dim3(gx, static_cast<unsigned>(M)), kUpdateThreads>>>(P, theta, grad, u, part.get());
  check_launch("update_kernel");
  std::vector<double> h(M * gx * 2);
  part.download(h.data(), h.size());
  for (std::size_t r = 0; r < M; ++r) {
    double a = 0, b = 0;
    for (std::size_t q = 0; q < gx; ++q) {
      a += h[(r * gx + q) * 2];
      b += h[(r * gx + q) * 2 + 1];
    }
    if (diss != nullptr) diss[r] += a;
    if (dg != nullptr) dg[r] += b;
  }
}
}  // namespace detail

void langevin_update(std::size_t M, std::size_t P, double* theta, const double* grad, const UpdateParams& u,
                     double* dissipation, double* dg_prev) {
  if (M == 0 || P == 0) return;
  use_device("train");
  Buffer<double> th(M * P), g(M * P);
  th.upload(theta, M * P);
  g.upload(grad, M * P);
  detail::langevin_update_device(M, P, th.get(), g.get(), u, dissipation, dg_prev);
  th.download(theta, M * P);
}

}  // namespace speedlimits::cuda
