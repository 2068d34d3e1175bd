// The W2 engine on the GPU: cost matrices and log-domain Sinkhorn (see core/cuda_backend.hpp).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/cuda_backend.hpp"
#include "core/errors.hpp"
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace speedlimits::cuda {

using namespace detail;

namespace {

constexpr double kNegInf = -HUGE_VAL;

// ---- cost matrix ------------------------------------------------------------------------------

// centre[k] = mean of x's column k (same) or the midpoint of both clouds' column means, summed
// in the CPU's order (rows in sequence), so the centre is the CPU's to the bit.
template <typename T>
__global__ void centre_kernel(const T* x, std::size_t n, const T* y, std::size_t m, std::size_t d, bool same,
                              double* centre) {
  for (std::size_t k = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; k < d; k += std::size_t(gridDim.x) * blockDim.x) {
    double sx = 0;
    for (std::size_t i = 0; i < n; ++i) sx += static_cast<double>(x[i * d + k]);
    if (same) {
      centre[k] = sx / static_cast<double>(n);
    } else {
      double sy = 0;
      for (std::size_t j = 0; j < m; ++j) sy += static_cast<double>(y[j * d + k]);
      centre[k] = 0.5 * (sx / static_cast<double>(n) + sy / static_cast<double>(m));
    }
  }
}

// norms[i] = Σ_k (x_ik − centre_k)², one warp per row (grid-stride over rows), in double.
template <typename T>
__global__ void row_norms_kernel(const T* x, std::size_t rows, std::size_t d, const double* centre, double* norms) {
  const std::size_t warps = std::size_t(gridDim.x) * blockDim.x / 32;
  const int lane = threadIdx.x % 32;
  for (std::size_t w = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / 32; w < rows; w += warps) {
    const T* row = x + w * d;
    double s = 0;
    for (std::size_t k = lane; k < d; k += 32) {
      const double v = static_cast<double>(row[k]) - centre[k];
      s += v * v;
    }
    for (int off = 16; off > 0; off /= 2) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) norms[w] = s;
  }
}

// The centred entry, rounded to T as the CPU's centred copy is.
template <typename T>
struct CentredLoader {
  const T* p;
  const double* centre;
  long long d;
  bool by_column;  // false: element (r, k) = p[r·d + k] (A); true: element (k, c) = p[c·d + k] (Bᵀ)
  __device__ __forceinline__ T operator()(int, long long r, long long c) const {
    const long long row = by_column ? c : r, k = by_column ? r : c;
    return static_cast<T>(static_cast<double>(p[row * d + k]) - centre[k]);
  }
};

// C_ij = max(0, |x̃_i|² + |ỹ_j|² − 2 x̃_i·ỹ_j), the dot product in T as on the CPU.
template <typename T>
struct CostEpilogue {
  T* C;
  const double *nx, *ny;
  long long ldc;
  __device__ __forceinline__ void operator()(int, long long i, long long j, T acc) const {
    const double v = nx[i] + ny[j] + static_cast<double>(T(-2) * acc);
    C[i * ldc + j] = static_cast<T>(v > 0 ? v : 0);
  }
};

// Exact symmetry and a 0 diagonal: the upper triangle takes the lower one's values.
template <typename T>
__global__ void symmetrise_kernel(T* C, std::size_t n) {
  const std::size_t total = n * n;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < total; e += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t i = e / n, j = e % n;
    if (i == j) C[e] = T(0);
    else if (i < j) C[e] = C[j * n + i];  // reads the lower triangle only, which is never written
  }
}

// ---- Sinkhorn ---------------------------------------------------------------------------------

// Online log-sum-exp state: Σ exp(v − mx) = s. mx = −∞ means no term yet.
struct Lse {
  double mx, s;
};
__device__ __forceinline__ void lse_add(Lse& a, double v) {
  if (v > a.mx) {
    a.s = a.s * exp(a.mx - v) + 1.0;  // a.mx = −∞ gives 0·0 + 1
    a.mx = v;
  } else if (v > kNegInf) {
    a.s += exp(v - a.mx);
  }
}
__device__ __forceinline__ Lse lse_merge(Lse a, Lse b) {
  if (b.mx == kNegInf) return a;
  if (a.mx == kNegInf) return b;
  const double mx = a.mx > b.mx ? a.mx : b.mx;
  return Lse{mx, a.s * exp(a.mx - mx) + b.s * exp(b.mx - mx)};
}
__device__ __forceinline__ double lse_value(Lse a) { return a.mx == kNegInf ? kNegInf : a.mx + log(a.s); }

constexpr int kRowThreads = 256;

// out_i = −ε LSE_j(H_j − C_ij/ε): one block per row, one pass over the row (coalesced).
template <typename T>
__global__ void __launch_bounds__(kRowThreads) row_lse_kernel(const T* C, std::size_t n, std::size_t m,
                                                                const double* H, double inv, double eps, double* out) {
  __shared__ Lse part[kRowThreads / 32];
  for (std::size_t i = blockIdx.x; i < n; i += gridDim.x) {
    const T* row = C + i * m;
    Lse acc{kNegInf, 0.0};
    for (std::size_t j = threadIdx.x; j < m; j += kRowThreads) lse_add(acc, H[j] - static_cast<double>(row[j]) * inv);
    for (int off = 16; off > 0; off /= 2) {
      Lse o{__shfl_down_sync(0xffffffffu, acc.mx, off), __shfl_down_sync(0xffffffffu, acc.s, off)};
      acc = lse_merge(acc, o);
    }
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
      Lse t = part[0];
      for (int w = 1; w < kRowThreads / 32; ++w) t = lse_merge(t, part[w]);
      out[i] = -eps * lse_value(t);
    }
    __syncthreads();  // part is reused by the next row
  }
}

constexpr int kColTile = 32, kColRows = 8;

// Partial column LSE over a slice of rows: block (32 columns) × (8 row lanes); row slice
// blockIdx.y of `splits`. partial[split·m + j] = LSE over the slice of (Hcol_i − C_ij/ε).
template <typename T>
__global__ void __launch_bounds__(kColTile * kColRows) col_lse_kernel(const T* C, std::size_t n, std::size_t m,
                                                                        const double* Hcol, double inv,
                                                                        std::size_t rows_per_split, Lse* partial) {
  __shared__ Lse part[kColRows][kColTile];
  const std::size_t j = blockIdx.x * std::size_t(kColTile) + threadIdx.x;
  const std::size_t r0 = blockIdx.y * rows_per_split;
  const std::size_t r1 = r0 + rows_per_split < n ? r0 + rows_per_split : n;
  Lse acc{kNegInf, 0.0};
  if (j < m)
    for (std::size_t i = r0 + threadIdx.y; i < r1; i += kColRows)
      lse_add(acc, Hcol[i] - static_cast<double>(C[i * m + j]) * inv);
  part[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && j < m) {
    Lse t = part[0][threadIdx.x];
    for (int y = 1; y < kColRows; ++y) t = lse_merge(t, part[y][threadIdx.x]);
    partial[blockIdx.y * m + j] = t;
  }
}

// Column j: L_j = LSE_i(Hcol_i − C_ij/ε) from the partials; the column sum of the current plan
// over b_j is S_j = exp(L_j + g_j/ε); err_j = b_j |S_j − 1|; update: g_j ← −ε L_j.
__global__ void col_finish_kernel(const Lse* partial, std::size_t splits, std::size_t m, const double* b, double* g,
                                  double inv, double eps, bool update, double* err) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < m; j += std::size_t(gridDim.x) * blockDim.x) {
    Lse t = partial[j];
    for (std::size_t s = 1; s < splits; ++s) t = lse_merge(t, partial[s * m + j]);
    const double L = lse_value(t);
    const double log_s = L + g[j] * inv;
    // Clamp written so that NaN passes through (as std::min(log_s, 700.0) does on the CPU): a
    // NaN error must reach the host's isfinite check and throw, not become e^700 and iterate on.
    const double sj = exp(log_s > 700.0 ? 700.0 : log_s);
    err[j] = b[j] > 0 ? b[j] * fabs(sj - 1.0) : 0.0;
    if (update) g[j] = -eps * L;
  }
}

// H_i = log w_i + p_i/ε (−∞ for a zero weight).
__global__ void shift_kernel(const double* logw, const double* p, std::size_t count, double inv, double* H) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count; i += std::size_t(gridDim.x) * blockDim.x)
    H[i] = logw[i] + p[i] * inv;
}

// Symmetric: err_i = a_i |exp((f_i − t_i)/ε) − 1|.
__global__ void sym_err_kernel(const double* a, const double* f, const double* t, std::size_t n, double inv, double* err) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    const double e = (f[i] - t[i]) * inv;
    // NaN passes through the clamp (see col_finish_kernel), as on the CPU.
    err[i] = a[i] > 0 ? a[i] * fabs(exp(e > 700.0 ? 700.0 : e) - 1.0) : 0.0;
  }
}
__global__ void average_kernel(double* f, const double* t, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    f[i] = 0.5 * (f[i] + t[i]);
}

// Row i of the plan P_ij = exp(Hrow_i + Hcol_j − C_ij/ε): cost[i] = Σ_j P_ij C_ij, mass[i] = Σ_j P_ij,
// and the plan itself when requested.
template <typename T>
__global__ void __launch_bounds__(kRowThreads) finish_kernel(const T* C, std::size_t n, std::size_t m, const double* Hrow,
                                                               const double* Hcol, double inv, double* plan,
                                                               double* cost, double* mass) {
  __shared__ double pc[kRowThreads], pm[kRowThreads];
  for (std::size_t i = blockIdx.x; i < n; i += gridDim.x) {
    const T* row = C + i * m;
    const double base = Hrow[i];
    double c = 0, p = 0;
    for (std::size_t j = threadIdx.x; j < m; j += kRowThreads) {
      const double cij = static_cast<double>(row[j]);
      const double v = exp(base + Hcol[j] - cij * inv);
      if (plan != nullptr) plan[i * m + j] = v;
      c += v * cij;
      p += v;
    }
    pc[threadIdx.x] = c;
    pm[threadIdx.x] = p;
    __syncthreads();
    for (int w = kRowThreads / 2; w > 0; w /= 2) {
      if (static_cast<int>(threadIdx.x) < w) {
        pc[threadIdx.x] += pc[threadIdx.x + w];
        pm[threadIdx.x] += pm[threadIdx.x + w];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      cost[i] = pc[0];
      mass[i] = pm[0];
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void max_kernel(const T* C, std::size_t count, double* out) {
  __shared__ double part[256];
  double mx = 0;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < count; e += std::size_t(gridDim.x) * blockDim.x)
    mx = fmax(mx, static_cast<double>(C[e]));
  part[threadIdx.x] = mx;
  __syncthreads();
  for (int w = 128; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) part[threadIdx.x] = fmax(part[threadIdx.x], part[threadIdx.x + w]);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

int sm_count() {
  int dev = 0, sms = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  return sms > 0 ? sms : 1;
}

void check_options(const transport::SinkhornOptions& opt) {
  if (!(opt.epsilon > 0) || !std::isfinite(opt.epsilon))
    throw InvalidArgument("sinkhorn: epsilon must be a finite number > 0");
  if (!(opt.tol > 0)) throw InvalidArgument("sinkhorn: tol must be > 0");
  if (opt.eps_scaling && !(opt.eps_factor > 0 && opt.eps_factor < 1))
    throw InvalidArgument("sinkhorn: the epsilon-scaling factor must be in (0, 1)");
}

// The CPU's ε schedule and stage limits (core/transport.hpp).
std::vector<double> schedule(const transport::SinkhornOptions& opt, double cmax) { return transport::sinkhorn_schedule(opt, cmax); }
constexpr double kStageTol = transport::kSinkhornStageTol;
constexpr std::size_t kStageMaxIter = transport::kSinkhornStageMaxIter;

std::vector<double> log_weights(const double* w, std::size_t count) {
  std::vector<double> l(count);
  for (std::size_t i = 0; i < count; ++i) l[i] = w[i] > 0 ? std::log(w[i]) : -HUGE_VAL;
  return l;
}

// Device state of one Sinkhorn solve on C (n×m, already on the device).
template <typename T>
struct DeviceSinkhorn {
  const T* C;
  std::size_t n, m, splits, rows_per_split;
  unsigned row_grid;
  Buffer<double> log_a, log_b, b, H, err, sum1;
  Buffer<Lse> partial;

  DeviceSinkhorn(const T* C_, std::size_t n_, std::size_t m_, const double* a_host, const double* b_host)
      : C(C_), n(n_), m(m_) {
    const auto la = log_weights(a_host, n), lb = log_weights(b_host, m);
    log_a.resize(n);
    log_a.upload(la.data(), n);
    log_b.resize(m);
    log_b.upload(lb.data(), m);
    b.resize(m);
    b.upload(b_host, m);
    H.resize(std::max(n, m));
    err.resize(std::max(n, m));
    sum1.resize(1);
    // Enough column blocks × row slices to fill the device (≥ 4 blocks per SM), slices ≥ 64 rows.
    const std::size_t tiles = (m + kColTile - 1) / kColTile, want = 4 * static_cast<std::size_t>(sm_count());
    splits = std::max<std::size_t>(1, std::min<std::size_t>((want + tiles - 1) / tiles, (n + 63) / 64));
    splits = std::min<std::size_t>(splits, 65535);
    rows_per_split = (n + splits - 1) / splits;
    splits = (n + rows_per_split - 1) / rows_per_split;
    partial.resize(splits * m);
    row_grid = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 20));
  }

  // out = −ε LSE_j(log w_j + p_j/ε − C_ij/ε) for every row i (w, p over columns).
  void rows(double eps, const double* logw_cols, const double* p_cols, double* out) {
    const double inv = 1.0 / eps;
    shift_kernel<<<blocks_for(m, 256), 256>>>(logw_cols, p_cols, m, inv, H.get());
    check_launch("shift_kernel");
    row_lse_kernel<T><<<row_grid, kRowThreads>>>(C, n, m, H.get(), inv, eps, out);
    check_launch("row_lse_kernel");
  }

  // The column pass: the error of (f, g) and, when update, g ← −ε LSE_i(log a_i + (f_i − C_ij)/ε).
  double cols(double eps, const double* f, double* g, bool update) {
    const double inv = 1.0 / eps;
    shift_kernel<<<blocks_for(n, 256), 256>>>(log_a.get(), f, n, inv, H.get());
    check_launch("shift_kernel");
    dim3 grid(static_cast<unsigned>((m + kColTile - 1) / kColTile), static_cast<unsigned>(splits));
    col_lse_kernel<T><<<grid, dim3(kColTile, kColRows)>>>(C, n, m, H.get(), inv, rows_per_split, partial.get());
    check_launch("col_lse_kernel");
    col_finish_kernel<<<blocks_for(m, 256), 256>>>(partial.get(), splits, m, b.get(), g, inv, eps, update, err.get());
    check_launch("col_finish_kernel");
    return device_sum(err.get(), m, sum1.get());
  }

  // ⟨P, C⟩ and Σ P at (f, g), and the plan when plan_host is not null.
  void finish(double eps, const double* f, const double* g, double* plan_host, double& cost, double& mass) {
    const double inv = 1.0 / eps;
    Buffer<double> hrow(n), rc(n), rm(n), plan;
    shift_kernel<<<blocks_for(n, 256), 256>>>(log_a.get(), f, n, inv, hrow.get());
    check_launch("shift_kernel");
    shift_kernel<<<blocks_for(m, 256), 256>>>(log_b.get(), g, m, inv, H.get());
    check_launch("shift_kernel");
    if (plan_host != nullptr) plan.resize(n * m);
    finish_kernel<T><<<row_grid, kRowThreads>>>(C, n, m, hrow.get(), H.get(), inv, plan_host ? plan.get() : nullptr,
                                                rc.get(), rm.get());
    check_launch("finish_kernel");
    cost = device_sum(rc.get(), n);
    mass = device_sum(rm.get(), n);
    if (plan_host != nullptr) plan.download(plan_host, n * m);
  }
};

template <typename T>
double device_max(const T* C, std::size_t count) {
  const unsigned blocks = blocks_for(count, 256, 4096);
  Buffer<double> part(blocks);
  max_kernel<T><<<blocks, 256>>>(C, count, part.get());
  check_launch("max_kernel");
  std::vector<double> h(blocks);
  part.download(h.data(), blocks);
  return *std::max_element(h.begin(), h.end());
}

}  // namespace

template <typename T>
void cost_matrix(const T* x, std::size_t n, const T* y, std::size_t m, std::size_t d, bool center, bool same, T* C) {
  if (same && (x != y || n != m)) throw InvalidArgument("cost_matrix: same=true needs y == x");
  if (n == 0 || m == 0) return;
  use_device("costMatrix");
  Buffer<T> dx(n * d), dy(same ? 0 : m * d), dC(n * m);
  dx.upload(x, n * d);
  if (!same) dy.upload(y, m * d);
  const T* py = same ? dx.get() : dy.get();
  Buffer<double> centre(d), nx(n), ny(same ? 0 : m);
  centre.zero();
  if (center && d > 0) {
    centre_kernel<T><<<blocks_for(d, 128), 128>>>(dx.get(), n, py, m, d, same, centre.get());
    check_launch("centre_kernel");
  }
  row_norms_kernel<T><<<blocks_for(n * 32, 256), 256>>>(dx.get(), n, d, centre.get(), nx.get());
  check_launch("row_norms_kernel");
  if (!same) {
    row_norms_kernel<T><<<blocks_for(m * 32, 256), 256>>>(py, m, d, centre.get(), ny.get());
    check_launch("row_norms_kernel");
  }
  const long long ld = static_cast<long long>(d);
  launch_gemm<T>(n, m, d, 1, CentredLoader<T>{dx.get(), centre.get(), ld, false},
                 CentredLoader<T>{py, centre.get(), ld, true},
                 CostEpilogue<T>{dC.get(), nx.get(), same ? nx.get() : ny.get(), static_cast<long long>(m)});
  if (same) {
    symmetrise_kernel<T><<<blocks_for(n * n, 256), 256>>>(dC.get(), n);
    check_launch("symmetrise_kernel");
  }
  dC.download(C, n * m);
}

template <typename T>
transport::SinkhornResult sinkhorn_log(const T* C, std::size_t n, std::size_t m, const double* a, const double* b,
                                       double* f, double* g, double* plan, const transport::SinkhornOptions& opt) {
  check_options(opt);
  if (n == 0 || m == 0) throw InvalidArgument("sinkhorn: the cost matrix is empty");
  use_device("sinkhorn");
  Buffer<T> dC(n * m);
  dC.upload(C, n * m);
  DeviceSinkhorn<T> s(dC.get(), n, m, a, b);
  if (!opt.warm_start) {
    std::fill(f, f + n, 0.0);
    std::fill(g, g + m, 0.0);
  }
  Buffer<double> df(n), dg(m), dg_prev(m);
  df.upload(f, n);
  dg.upload(g, m);
  const std::vector<double> eps_list = schedule(opt, opt.eps_scaling && !(opt.eps_start > 0) ? device_max(dC.get(), n * m) : 0);
  double err = HUGE_VAL;
  std::size_t it = 0;
  for (std::size_t stage = 0; stage < eps_list.size(); ++stage) {
    const bool last = stage + 1 == eps_list.size();
    const double eps = eps_list[stage];
    const double tol = last ? opt.tol : std::max(opt.tol, kStageTol);
    for (std::size_t k = 0; it < opt.max_iter && (last || k < kStageMaxIter); ++k) {
      opt.control.check();
      s.rows(eps, s.log_b.get(), dg.get(), df.get());
      ++it;
      // One column pass measures the error of (f, g) and updates g; on convergence the previous
      // g is restored so that the returned plan is the one whose error was measured.
      check(cudaMemcpy(dg_prev.get(), dg.get(), m * sizeof(double), cudaMemcpyDeviceToDevice), "copy g");
      err = s.cols(eps, df.get(), dg.get(), true);
      if (!std::isfinite(err)) throw NumericalError("sinkhorn: the marginal error is not finite");
      if (err < tol) {
        check(cudaMemcpy(dg.get(), dg_prev.get(), m * sizeof(double), cudaMemcpyDeviceToDevice), "restore g");
        break;
      }
      opt.control.report(std::min(1.0, static_cast<double>(it) / static_cast<double>(opt.max_iter)));
    }
  }
  if (!(err < opt.tol)) {
    // Out of iterations: end on an f-update (exact rows) and measure the columns again.
    s.rows(opt.epsilon, s.log_b.get(), dg.get(), df.get());
    err = s.cols(opt.epsilon, df.get(), dg.get(), false);
  }
  df.download(f, n);
  dg.download(g, m);
  transport::SinkhornResult res;
  res.iterations = it;
  res.marginal_error = err;
  res.converged = err < opt.tol;
  double obj = 0;
  for (std::size_t i = 0; i < n; ++i) obj += a[i] > 0 ? a[i] * f[i] : 0.0;
  for (std::size_t j = 0; j < m; ++j) obj += b[j] > 0 ? b[j] * g[j] : 0.0;
  res.objective = obj;
  s.finish(opt.epsilon, df.get(), dg.get(), plan, res.transport_cost, res.plan_mass);
  opt.control.report(1.0);
  return res;
}

template <typename T>
transport::SinkhornResult sinkhorn_log_symmetric(const T* C, std::size_t n, const double* a, double* f,
                                                 const transport::SinkhornOptions& opt) {
  check_options(opt);
  if (n == 0) throw InvalidArgument("sinkhorn: the cost matrix is empty");
  use_device("sinkhorn");
  Buffer<T> dC(n * n);
  dC.upload(C, n * n);
  DeviceSinkhorn<T> s(dC.get(), n, n, a, a);
  if (!opt.warm_start) std::fill(f, f + n, 0.0);
  Buffer<double> df(n), dt(n), da(n);
  df.upload(f, n);
  da.upload(a, n);
  const std::vector<double> eps_list = schedule(opt, opt.eps_scaling && !(opt.eps_start > 0) ? device_max(dC.get(), n * n) : 0);
  double err = HUGE_VAL;
  std::size_t it = 0;
  for (std::size_t stage = 0; stage < eps_list.size(); ++stage) {
    const bool last = stage + 1 == eps_list.size();
    const double eps = eps_list[stage];
    const double tol = last ? opt.tol : std::max(opt.tol, kStageTol);
    for (std::size_t k = 0; it < opt.max_iter && (last || k < kStageMaxIter); ++k) {
      opt.control.check();
      // t = T(f), the f-update against g = f; the row marginal at f is a_i exp((f_i − t_i)/ε).
      s.rows(eps, s.log_a.get(), df.get(), dt.get());
      ++it;
      sym_err_kernel<<<blocks_for(n, 256), 256>>>(da.get(), df.get(), dt.get(), n, 1.0 / eps, s.err.get());
      check_launch("sym_err_kernel");
      err = device_sum(s.err.get(), n, s.sum1.get());
      if (!std::isfinite(err)) throw NumericalError("sinkhorn: the marginal error is not finite");
      if (err < tol) break;
      average_kernel<<<blocks_for(n, 256), 256>>>(df.get(), dt.get(), n);
      check_launch("average_kernel");
    }
  }
  df.download(f, n);
  transport::SinkhornResult res;
  res.iterations = it;
  res.marginal_error = err;
  res.converged = err < opt.tol;
  double obj = 0;
  for (std::size_t i = 0; i < n; ++i) obj += a[i] > 0 ? 2 * a[i] * f[i] : 0.0;
  res.objective = obj;
  s.finish(opt.epsilon, df.get(), df.get(), nullptr, res.transport_cost, res.plan_mass);
  return res;
}

template void cost_matrix<float>(const float*, std::size_t, const float*, std::size_t, std::size_t, bool, bool, float*);
template void cost_matrix<double>(const double*, std::size_t, const double*, std::size_t, std::size_t, bool, bool,
                                  double*);
template transport::SinkhornResult sinkhorn_log<float>(const float*, std::size_t, std::size_t, const double*,
                                                       const double*, double*, double*, double*,
                                                       const transport::SinkhornOptions&);
template transport::SinkhornResult sinkhorn_log<double>(const double*, std::size_t, std::size_t, const double*,
                                                        const double*, double*, double*, double*,
                                                        const transport::SinkhornOptions&);
template transport::SinkhornResult sinkhorn_log_symmetric<float>(const float*, std::size_t, const double*, double*,
                                                                 const transport::SinkhornOptions&);
template transport::SinkhornResult sinkhorn_log_symmetric<double>(const double*, std::size_t, const double*, double*,
                                                                  const transport::SinkhornOptions&);

}  // namespace speedlimits::cuda
