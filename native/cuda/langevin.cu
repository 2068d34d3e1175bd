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

constexpr int kReduceThreads = 256;

// Block-wide sum of v (blockDim.x == kReduceThreads), returned to thread 0; a fixed tree, so
// the result depends only on the inputs.
__device__ double block_sum(double v, double* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int w = kReduceThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) sh[threadIdx.x] += sh[threadIdx.x + w];
    __syncthreads();
  }
  const double r = sh[0];
  __syncthreads();  // sh may be reused by the caller
  return r;
}

// R = f − y ([M·rows_per]) and loss[r] = ½ Σ R² over replica r's rows: one block per replica
// (blockIdx.x; M ≤ 65535 is checked by the callers). y is [M, rows_per] when y_batched, else
// one [rows_per] shared by all replicas.
__global__ void __launch_bounds__(kReduceThreads) residual_kernel(const double* f, const double* y, bool y_batched,
                                                                  std::size_t rows_per, double* R, double* loss) {
  __shared__ double sh[kReduceThreads];
  const std::size_t r = blockIdx.x, base = r * rows_per;
  const double* yr = y_batched ? y + base : y;
  double s = 0;
  for (std::size_t e = threadIdx.x; e < rows_per; e += kReduceThreads) {
    const double v = f[base + e] - yr[e];
    R[base + e] = v;
    s += v * v;
  }
  s = block_sum(s, sh);
  if (threadIdx.x == 0) loss[r] = 0.5 * s;
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

// Work buffers of the ensemble forward/backward pass, kept across calls by the training loop.
struct GradWorkspace {
  FcnActs<double> a;
  Buffer<double> R, D[2];
};

// On device arrays: params [M, P], x [M, B, d] (x_batched) or [B, d] shared by all replicas,
// y likewise -> grad [M, P] (when not null), loss [M]. M ≤ 65535 (the batched GEMMs' gridDim.z).
void ensemble_loss_gradient_ws(const FcnPlan& plan, std::size_t M, const double* params, const double* x,
                               const double* y, bool batched, std::size_t B, double* grad, double* loss,
                               GradWorkspace& ws) {
  if (M == 0) return;
  if (M > 65535) throw InvalidArgument("cuda ensemble_loss_gradient: at most 65535 replicas per call");
  const std::size_t L = plan.layers.size() - 1, k = plan.output_dim, P = plan.num_params;
  const long long Pl = static_cast<long long>(P);
  FcnActs<double>& a = ws.a;
  fcn_forward<double>(plan, params, x, B, a, true, M, P, batched);
  ws.R.ensure(M * B * k);
  residual_kernel<<<static_cast<unsigned>(M), kReduceThreads>>>(a.f.get(), y, batched, B * k, ws.R.get(), loss);
  check_launch("residual_kernel");
  if (grad == nullptr) return;
  // D holds ∂ℓ/∂z of the current layer ([M, B, w]); the readout's is R.
  const double* cur = ws.R.get();
  std::size_t cur_w = k;
  int slot = 0;
  for (std::size_t l = L + 1; l-- > 0;) {
    const nets::LayerPlan& lp = plan.layers[l];
    const double* in = l == 0 ? x : a.H[l - 1].get();
    // A shared x (not batched) has batch stride 0 for every replica.
    const long long in_stride = (l == 0 && !batched) ? 0 : static_cast<long long>(B * lp.in);
    const long long act_stride = static_cast<long long>(B * lp.in), d_stride = static_cast<long long>(B * cur_w);
    // grad W_l [out, in] = s · Dᵀ · input
    launch_gemm<double>(lp.out, lp.in, B, M, Strided<double>{cur, static_cast<long long>(cur_w), d_stride, true},
                        Strided<double>{in, static_cast<long long>(lp.in), in_stride, false},
                        StoreAxpby<double>{grad + lp.w_offset, static_cast<long long>(lp.in), Pl, lp.s, 0.0});
    if (lp.has_bias) {
      column_sum_kernel<<<blocks_for(M * lp.out, 256), 256>>>(cur, M, B, lp.out, lp.sb, grad + lp.b_offset, P);
      check_launch("column_sum_kernel");
    }
    if (l > 0) {
      Buffer<double>& next = ws.D[slot];
      next.ensure(M * B * lp.in);
      launch_gemm<double>(B, lp.in, lp.out, M, Strided<double>{cur, static_cast<long long>(cur_w), d_stride, false},
                          Strided<double>{params + lp.w_offset, static_cast<long long>(lp.in), Pl, false},
                          BatchedBackprop{next.get(), a.Z[l - 1].get(), a.H[l - 1].get(), static_cast<long long>(lp.in),
                                          act_stride, lp.s, plan.activation});
      cur = next.get();
      cur_w = lp.in;
      slot = 1 - slot;
    }
  }
}

void ensemble_loss_gradient_device(const FcnPlan& plan, std::size_t M, const double* params, const double* x,
                                   const double* y, std::size_t B, double* grad, double* loss) {
  GradWorkspace ws;
  ensemble_loss_gradient_ws(plan, M, params, x, y, true, B, grad, loss, ws);
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

// ---- the device-resident training loop's state ------------------------------------------------
namespace speedlimits::cuda {

using namespace detail;

namespace {

// out[i·d .. +d) = x[idx[i]·d .. +d) for i < rows (the minibatch rows of all replicas).
__global__ void gather_kernel(const double* x, std::size_t d, const std::uint32_t* idx, std::size_t rows, double* out) {
  const std::size_t total = rows * d;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < total; e += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t i = e / d, c = e % d;
    out[e] = x[static_cast<std::size_t>(idx[i]) * d + c];
  }
}

// Per-replica sums over p (replica blockIdx.y, p strided over blockIdx.x), partials to
// part[(r·gridDim.x + blockIdx.x)·2 + {0, 1}] and summed on the host in a fixed order:
//   mode 0: |θ|²                    (part 0)
//   mode 1: gp = grad + γθ: |gp|² (part 0), (θ − prev)·gp (part 1), then prev ← θ.
__global__ void __launch_bounds__(kReduceThreads) replica_sums_kernel(int mode, std::size_t P, const double* theta,
                                                                      const double* grad, double gamma, double* prev,
                                                                      double* part) {
  __shared__ double sh[kReduceThreads];
  const std::size_t r = blockIdx.y;
  const double* th = theta + r * P;
  double s0 = 0, s1 = 0;
  for (std::size_t p = blockIdx.x * std::size_t(kReduceThreads) + threadIdx.x; p < P; p += std::size_t(gridDim.x) * kReduceThreads) {
    const double t = th[p];
    if (mode == 0) {
      s0 += t * t;
    } else {
      const double gp = grad[r * P + p] + gamma * t;
      s0 += gp * gp;
      s1 += (t - prev[r * P + p]) * gp;
      prev[r * P + p] = t;
    }
  }
  s0 = block_sum(s0, sh);
  s1 = block_sum(s1, sh);
  if (threadIdx.x == 0) {
    double* out = part + (r * gridDim.x + blockIdx.x) * 2;
    out[0] = s0;
    out[1] = s1;
  }
}

}  // namespace

struct TrainSession::Impl {
  FcnPlan plan;
  std::size_t M = 0, P = 0, n = 0, d = 0, k = 0, B = 0;
  Buffer<double> x, y, theta, grad, prev, xb, yb, loss, part;
  Buffer<std::uint32_t> idx;
  GradWorkspace ws;

  // Per-replica sums of replica_sums_kernel, to the host.
  void replica_sums(int mode, double gamma, double* s0, double* s1) {
    const unsigned gx = blocks_for(P, kReduceThreads, 1024);
    part.ensure(M * gx * 2);
    replica_sums_kernel<<<dim3(gx, static_cast<unsigned>(M)), kReduceThreads>>>(mode, P, theta.get(), grad.get(), gamma,
                                                                                 prev.get(), part.get());
    check_launch("replica_sums_kernel");
    std::vector<double> h(M * gx * 2);
    part.download(h.data(), h.size());
    for (std::size_t r = 0; r < M; ++r) {
      double a = 0, b = 0;
      for (std::size_t q = 0; q < gx; ++q) {
        a += h[(r * gx + q) * 2];
        b += h[(r * gx + q) * 2 + 1];
      }
      if (s0 != nullptr) s0[r] = a;
      if (s1 != nullptr) s1[r] += b;
    }
  }
};

TrainSession::TrainSession(const FcnPlan& plan, std::size_t M, const double* x, const double* y, std::size_t n,
                           std::size_t batch)
    : impl_(std::make_unique<Impl>()) {
  if (M == 0 || n == 0) throw InvalidArgument("cuda train: no replicas or no data");
  if (M > 65535) throw CudaUnsupported("train: backend 'cuda' runs at most 65535 replicas per call");
  use_device("train");
  Impl& s = *impl_;
  s.plan = plan;
  s.M = M;
  s.P = plan.num_params;
  s.n = n;
  s.d = plan.input_dim;
  s.k = plan.output_dim;
  s.B = batch;
  s.x = to_device(x, n * s.d);
  s.y = to_device(y, n * s.k);
  s.theta.resize(M * s.P);
  s.grad.resize(M * s.P);
  s.grad.zero();
  s.prev.resize(M * s.P);
  s.loss.resize(M);
  if (batch > 0) {
    s.xb.resize(M * batch * s.d);
    s.yb.resize(M * batch * s.k);
    s.idx.resize(M * batch);
  }
}

TrainSession::~TrainSession() = default;

void TrainSession::set_params(const double* theta) {
  Impl& s = *impl_;
  s.theta.upload(theta, s.M * s.P);
  if (s.M * s.P > 0)
    check(cudaMemcpy(s.prev.get(), s.theta.get(), s.M * s.P * sizeof(double), cudaMemcpyDeviceToDevice), "copy theta");
}

void TrainSession::get_params(double* theta) const { impl_->theta.download(theta, impl_->M * impl_->P); }

void TrainSession::gradient_full(double* data_loss) {
  Impl& s = *impl_;
  ensemble_loss_gradient_ws(s.plan, s.M, s.theta.get(), s.x.get(), s.y.get(), false, s.n, s.grad.get(), s.loss.get(), s.ws);
  s.loss.download(data_loss, s.M);
}

void TrainSession::gradient_batch(const std::uint32_t* idx, double* data_loss) {
  Impl& s = *impl_;
  if (s.B == 0) throw InvalidArgument("cuda train: the session has no minibatch buffers");
  for (std::size_t e = 0; e < s.M * s.B; ++e)
    if (idx[e] >= s.n) throw InvalidArgument("cuda train: a minibatch index is out of range");
  s.idx.upload(idx, s.M * s.B);
  const std::size_t rows = s.M * s.B;
  gather_kernel<<<blocks_for(rows * s.d, 256), 256>>>(s.x.get(), s.d, s.idx.get(), rows, s.xb.get());
  check_launch("gather_kernel");
  gather_kernel<<<blocks_for(rows * s.k, 256), 256>>>(s.y.get(), s.k, s.idx.get(), rows, s.yb.get());
  check_launch("gather_kernel");
  ensemble_loss_gradient_ws(s.plan, s.M, s.theta.get(), s.xb.get(), s.yb.get(), true, s.B, s.grad.get(), s.loss.get(),
                            s.ws);
  s.loss.download(data_loss, s.M);
}

void TrainSession::loss_full(double* data_loss) {
  Impl& s = *impl_;
  ensemble_loss_gradient_ws(s.plan, s.M, s.theta.get(), s.x.get(), s.y.get(), false, s.n, nullptr, s.loss.get(), s.ws);
  s.loss.download(data_loss, s.M);
}

void TrainSession::sq_norms(double* sq) { impl_->replica_sums(0, 0.0, sq, nullptr); }

void TrainSession::entropy_terms(double gamma, double* gsq, double* dnext) { impl_->replica_sums(1, gamma, gsq, dnext); }

void TrainSession::update(const UpdateParams& u, double* dissipation, double* dg_prev) {
  Impl& s = *impl_;
  langevin_update_device(s.M, s.P, s.theta.get(), s.grad.get(), u, dissipation, dg_prev);
}

}  // namespace speedlimits::cuda
