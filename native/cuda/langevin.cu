// The Langevin engine's ensemble update on the GPU, with Philox noise generated in-kernel from
// core/philox.hpp: the same stream and the same bits as the CPU's rng::normal.
#include <cuda_runtime.h>

#include <vector>

#include "core/cuda_backend.hpp"
#include "core/dynamics.hpp"
#include "core/philox.hpp"
#include "cuda/common.cuh"
#include "cuda/device_api.cuh"
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

// ---- FCN loss gradients of an ensemble --------------------------------------------------------
#include "cuda/nets.cuh"

namespace speedlimits::cuda {

using namespace detail;

namespace {

// R = f − y ([M·B, k]) and loss[r] = ½ Σ R² over replica r's rows (one thread per replica:
// a fixed order).
__global__ void residual_kernel(const double* f, const double* y, std::size_t M, std::size_t rows_per, double* R,
                                double* loss) {
  const std::size_t r = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (r >= M) return;
  double s = 0;
  for (std::size_t e = r * rows_per; e < (r + 1) * rows_per; ++e) {
    const double v = f[e] - y[e];
    R[e] = v;
    s += v * v;
  }
  loss[r] = 0.5 * s;
}

// out[z·out_stride + o] = scale · Σ_i D[z][i, o] (bias gradients), i over `rows`, D [rows, w].
__global__ void column_sum_kernel(const double* D, std::size_t M, std::size_t rows, std::size_t w, double scale,
                                  double* out, std::size_t out_stride) {
  const std::size_t total = M * w;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < total; e += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t z = e / w, o = e % w;
    const double* d = D + z * rows * w + o;
    double s = 0;
    for (std::size_t i = 0; i < rows; ++i) s += d[i * w];
    out[z * out_stride + o] = scale * s;
  }
}

// Δ_{l−1} = (s·Δ_l W_l) ⊙ φ′(z_{l−1}) per replica z (Z, H, D have batch stride rows·w).
struct BatchedBackprop {
  double* D;
  const double* Z;
  const double* H;
  long long w, stride;
  double s;
  nets::Activation act;
  __device__ __forceinline__ void operator()(int z, long long i, long long c, double acc) const {
    const long long e = z * stride + i * w + c;
    D[e] = s * acc * act_deriv(act, Z[e], H[e]);
  }
};

}  // namespace

namespace detail {
// On device arrays: params [M, P], x [M, B, d], y [M, B, k] -> grad [M, P], loss [M].
void ensemble_loss_gradient_device(const FcnPlan& plan, std::size_t M, const double* params, const double* x,
                                   const double* y, std::size_t B, double* grad, double* loss) {
  const std::size_t L = plan.layers.size() - 1, k = plan.output_dim, P = plan.num_params;
  const long long Pl = static_cast<long long>(P);
  FcnActs<double> a;
  fcn_forward<double>(plan, params, x, B, a, true, M, P, true);
  Buffer<double> R(M * B * k);
  residual_kernel<<<blocks_for(M, 64), 64>>>(a.f.get(), y, M, B * k, R.get(), loss);
  check_launch("residual_kernel");
  // D holds ∂ℓ/∂z of the current layer ([M, B, w]); the readout's is R.
  Buffer<double> D[2];
  const double* cur = R.get();
  std::size_t cur_w = k;
  int slot = 0;
  for (std::size_t l = L + 1; l-- > 0;) {
    const nets::LayerPlan& lp = plan.layers[l];
    const double* in = l == 0 ? x : a.H[l - 1].get();
    const long long in_stride = static_cast<long long>(B * lp.in), d_stride = static_cast<long long>(B * cur_w);
    // grad W_l [out, in] = s · Dᵀ · input
    launch_gemm<double>(lp.out, lp.in, B, M, Strided<double>{cur, static_cast<long long>(cur_w), d_stride, true},
                        Strided<double>{in, static_cast<long long>(lp.in), in_stride, false},
                        StoreAxpby<double>{grad + lp.w_offset, static_cast<long long>(lp.in), Pl, lp.s, 0.0});
    if (lp.has_bias) {
      column_sum_kernel<<<blocks_for(M * lp.out, 256), 256>>>(cur, M, B, lp.out, lp.sb, grad + lp.b_offset, P);
      check_launch("column_sum_kernel");
    }
    if (l > 0) {
      Buffer<double>& next = D[slot];
      next.resize(M * B * lp.in);
      launch_gemm<double>(B, lp.in, lp.out, M, Strided<double>{cur, static_cast<long long>(cur_w), d_stride, false},
                          Strided<double>{params + lp.w_offset, static_cast<long long>(lp.in), Pl, false},
                          BatchedBackprop{next.get(), a.Z[l - 1].get(), a.H[l - 1].get(), static_cast<long long>(lp.in),
                                          in_stride, lp.s, plan.activation});
      cur = next.get();
      cur_w = lp.in;
      slot = 1 - slot;
    }
  }
}
}  // namespace detail

void ensemble_loss_gradient(const FcnPlan& plan, std::size_t M, const double* params, const double* x, const double* y,
                            std::size_t B, double* grad, double* loss) {
  if (M == 0) return;
  use_device("train");
  const std::size_t P = plan.num_params, d = plan.input_dim, k = plan.output_dim;
  Buffer<double> dp(M * P), dx(M * B * d), dy(M * B * k), dg(M * P), dl(M);
  dp.upload(params, M * P);
  dx.upload(x, M * B * d);
  dy.upload(y, M * B * k);
  dg.zero();
  detail::ensemble_loss_gradient_device(plan, M, dp.get(), dx.get(), dy.get(), B, dg.get(), dl.get());
  dg.download(grad, M * P);
  dl.download(loss, M);
}

}  // namespace speedlimits::cuda
