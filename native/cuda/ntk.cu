// The NTK engine on the GPU: the tiled GEMM for host arrays, and the structured empirical NTK of
// an FCN (forward GEMMs, backward GEMMs for Δ_l, layer-wise Gram accumulation fused into the
// epilogue of the Δ Δᵀ GEMM). Mirrors nets.cpp's structured path (see its header comment).
#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/cuda_backend.hpp"
#include "core/errors.hpp"
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"
#include "cuda/nets.cuh"

namespace speedlimits::cuda {

using namespace detail;

namespace {

// Readout: Θ_(ia),(jb) += (s²·g_i·g_j + sb²)·δ_ab; trace mode: Θ_ij += k·(s²·g_i·g_j + sb²)
// (divided by k at the end, as on the CPU). One thread per (i, j): no two threads share an output.
template <typename T>
struct ReadoutEpilogue {
  T* out;
  long long C, k;
  bool trace;
  T s2, sb2;
  __device__ __forceinline__ void operator()(int, long long i, long long j, T acc) const {
    const T v = s2 * acc + sb2;
    if (trace) {
      out[i * C + j] += static_cast<T>(k) * v;
    } else {
      for (long long a = 0; a < k; ++a) out[(i * k + a) * C + j * k + a] += v;
    }
  }
};

// Dense hidden layer: Θ_rc += (s²·G_ij + sb²)·(Δ Δ'ᵀ)_rc with i = r/kr, j = c/kr (kr = k, or 1
// in trace mode where Δ is contracted as an n × k·w matrix). G = H H'ᵀ computed before.
template <typename T>
struct GramEpilogue {
  T* out;
  const T* G;
  long long C, n2, kr;
  T s2, sb2;
  __device__ __forceinline__ void operator()(int, long long r, long long c, T acc) const {
    const long long i = r / kr, j = c / kr;
    out[r * C + c] += (s2 * G[i * n2 + j] + sb2) * acc;
  }
};

// Δ_{l−1} = (s_l·Δ_l W_l) ⊙ φ′(z_{l−1}), rows (i·k + a): the φ′ row is sample i's.
template <typename T>
struct BackpropEpilogue {
  T* D;
  const T* Z;
  const T* H;
  long long w, k;
  T s;
  nets::Activation act;
  __device__ __forceinline__ void operator()(int, long long r, long long c, T acc) const {
    const long long i = r / k;
    D[r * w + c] = s * acc * act_deriv(act, Z[i * w + c], H[i * w + c]);
  }
};

// Top Δ: Δ_(ia),c = s_out·W_out[a, c]·φ′(z_L,ic).
template <typename T>
__global__ void top_delta_kernel(const T* Wout, T s, const T* Z, const T* H, std::size_t n, std::size_t k, std::size_t w,
                                 nets::Activation act, T* D) {
  const std::size_t total = n * k * w;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < total; e += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t c = e % w, row = e / w, a = row % k, i = row / k;
    D[e] = s * Wout[a * w + c] * act_deriv(act, Z[i * w + c], H[i * w + c]);
  }
}

template <typename T>
__global__ void scale_kernel(T* p, std::size_t count, T f) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < count; e += std::size_t(gridDim.x) * blockDim.x)
    p[e] *= f;
}

template <typename T>
__global__ void mirror_kernel(T* C, std::size_t n) {
  const std::size_t total = n * n;
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < total; e += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t i = e / n, j = e % n;
    if (i < j) C[e] = C[j * n + i];  // the lower triangle (diagonal included) is never written here
  }
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* A,
          std::size_t lda, const T* B, std::size_t ldb, T beta, T* C, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  use_device("gemm");
  const std::size_t a_rows = trans_a ? k : m, b_rows = trans_b ? n : k;
  const std::size_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  if (lda < a_cols || ldb < b_cols || ldc < n) throw ShapeError("cuda gemm: a leading dimension is too small");
  // The spans actually addressed: (rows − 1)·ld + cols.
  const std::size_t sa = a_rows == 0 ? 0 : (a_rows - 1) * lda + a_cols;
  const std::size_t sb = b_rows == 0 ? 0 : (b_rows - 1) * ldb + b_cols;
  const std::size_t sc = (m - 1) * ldc + n;
  Buffer<T> dA(sa), dB(sb), dC(sc);
  dA.upload(A, sa);
  dB.upload(B, sb);
  if (beta != T(0)) dC.upload(C, sc);
  gemm_device<T>(trans_a, trans_b, m, n, k, alpha, dA.get(), lda, dB.get(), ldb, beta, dC.get(), ldc);
  if (ldc == n) {
    dC.download(C, sc);
  } else {
    // Only the m×n block is ours: the gaps between rows of C keep the caller's values.
    check(cudaMemcpy2D(C, ldc * sizeof(T), dC.get(), ldc * sizeof(T), n * sizeof(T), m, cudaMemcpyDeviceToHost),
          "download C");
  }
}

template <typename T>
void ntk_fcn(const FcnPlan& plan, const T* params, const T* x1, std::size_t n1, const T* x2, std::size_t n2, bool trace,
             T* out, const Control& control) {
  bool same = x2 == nullptr;
  if (same) {
    if (n2 != 0 && n2 != n1) throw ShapeError("ntk: x2 is absent (x2 = x1) but n2 != n1");
    n2 = n1;
  } else if (x2 == x1 && n2 == n1) {
    same = true;
  }
  const std::size_t k = plan.output_dim, kr = trace ? 1 : k;
  const std::size_t R = n1 * kr, C = n2 * kr;
  if (R == 0 || C == 0) {
    control.report(1.0);
    return;
  }
  use_device("ntk");
  control.check();
  const std::size_t L = plan.layers.size() - 1, d = plan.input_dim;
  Buffer<T> dp(plan.num_params), dx1(n1 * d), dx2(same ? 0 : n2 * d), dout(R * C);
  dp.upload(params, plan.num_params);
  dx1.upload(x1, n1 * d);
  if (!same) dx2.upload(x2, n2 * d);
  dout.zero();
  FcnActs<T> a1, a2;
  fcn_forward<T>(plan, dp.get(), dx1.get(), n1, a1);
  if (!same) fcn_forward<T>(plan, dp.get(), dx2.get(), n2, a2);
  const FcnActs<T>& b2 = same ? a1 : a2;
  const double steps = static_cast<double>(L + 1);
  {
    const nets::LayerPlan& l = plan.layers[L];
    const T* g1 = a1.input(L);
    const T* g2 = b2.input(L);
    launch_gemm<T>(n1, n2, l.in, 1, Strided<T>{g1, static_cast<long long>(l.in), 0, false},
                   Strided<T>{g2, static_cast<long long>(l.in), 0, true},
                   ReadoutEpilogue<T>{dout.get(), static_cast<long long>(C), static_cast<long long>(k), trace,
                                      static_cast<T>(l.s * l.s), static_cast<T>(l.sb * l.sb)});
  }
  sync("ntk readout");
  control.report(1.0 / steps);
  if (L > 0) {
    // Δ of the current layer for x1 (D1) and x2 (D2), rows (i·k + a).
    Buffer<T> D1[2], D2[2];
    int cur = 0;
    auto top = [&](const FcnActs<T>& a, std::size_t n, Buffer<T>& D) {
      const nets::LayerPlan& r = plan.layers[L];
      const std::size_t w = plan.layers[L - 1].out;
      D.resize(n * k * w);
      top_delta_kernel<T><<<blocks_for(n * k * w, 256), 256>>>(dp.get() + r.w_offset, static_cast<T>(r.s), a.Z[L - 1].get(),
                                                                a.H[L - 1].get(), n, k, w, plan.activation, D.get());
      check_launch("top_delta_kernel");
    };
    top(a1, n1, D1[0]);
    if (!same) top(a2, n2, D2[0]);
    Buffer<T> G(n1 * n2);
    for (std::size_t jj = L; jj-- > 0;) {
      control.check();
      const nets::LayerPlan& l = plan.layers[jj];
      const T* d1 = D1[cur].get();
      const T* d2 = same ? d1 : D2[cur].get();
      // G = H_{jj} H'_{jj}ᵀ (the layer's inputs), then Θ += (s²G + sb²) ⊙ Δ Δ'ᵀ.
      gemm_device<T>(false, true, n1, n2, l.in, T(1), a1.input(jj), l.in, b2.input(jj), l.in, T(0), G.get(), n2);
      const std::size_t rows1 = trace ? n1 : n1 * k, rows2 = trace ? n2 : n2 * k, depth = trace ? k * l.out : l.out;
      launch_gemm<T>(rows1, rows2, depth, 1, Strided<T>{d1, static_cast<long long>(depth), 0, false},
                     Strided<T>{d2, static_cast<long long>(depth), 0, true},
                     GramEpilogue<T>{dout.get(), G.get(), static_cast<long long>(C), static_cast<long long>(n2),
                                     static_cast<long long>(kr), static_cast<T>(l.s * l.s), static_cast<T>(l.sb * l.sb)});
      if (jj > 0) {
        // Δ_{jj−1} = (s·Δ_jj W_jj) ⊙ φ′(z_{jj−1}); W_jj is [out, in] row-major.
        auto down = [&](const FcnActs<T>& a, std::size_t n, const T* D, Buffer<T>& Dn) {
          Dn.resize(n * k * l.in);
          launch_gemm<T>(n * k, l.in, l.out, 1, Strided<T>{D, static_cast<long long>(l.out), 0, false},
                         Strided<T>{dp.get() + l.w_offset, static_cast<long long>(l.in), 0, false},
                         BackpropEpilogue<T>{Dn.get(), a.Z[jj - 1].get(), a.H[jj - 1].get(), static_cast<long long>(l.in),
                                             static_cast<long long>(k), static_cast<T>(l.s), plan.activation});
        };
        down(a1, n1, d1, D1[1 - cur]);
        if (!same) down(a2, n2, d2, D2[1 - cur]);
        cur = 1 - cur;
      }
      sync("ntk layer");
      control.report(static_cast<double>(L + 1 - jj) / steps);
    }
  }
  if (same) {
    mirror_kernel<T><<<blocks_for(R * R, 256), 256>>>(dout.get(), R);
    check_launch("mirror_kernel");
  }
  if (trace && k > 1) {
    scale_kernel<T><<<blocks_for(R * C, 256), 256>>>(dout.get(), R * C, T(1) / static_cast<T>(k));
    check_launch("scale_kernel");
  }
  dout.download(out, R * C);
  control.report(1.0);
}

template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                          const float*, std::size_t, float, float*, std::size_t);
template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t,
                           const double*, std::size_t, double, double*, std::size_t);
template void ntk_fcn<float>(const FcnPlan&, const float*, const float*, std::size_t, const float*, std::size_t, bool,
                             float*, const Control&);
template void ntk_fcn<double>(const FcnPlan&, const double*, const double*, std::size_t, const double*, std::size_t,
                              bool, double*, const Control&);

}  // namespace speedlimits::cuda
