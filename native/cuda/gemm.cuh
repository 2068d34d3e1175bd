// A plain tiled GEMM for the CUDA kernels (no cuBLAS: the build must work with cudart alone).
//
// C(z) = A(z)·B(z) for a batch of z = blockIdx.z problems, M×N×K. The operands are read through
// loader functors, la(z, i, k) = A_ik and lb(z, k, j) = B_kj, so transposes, strides, batch
// offsets and on-the-fly transforms (the cost matrix's centring) need no copies; the epilogue
// functor epi(z, i, j, acc) writes each result. 64×64 output tiles, 16-deep k slabs staged in
// shared memory, 16×16 threads computing 4×4 outputs each, accumulated with fma in Acc (float
// for fp32 inputs: true fp32, never TF32; double for fp64). Every output is one sequential fma
// chain over k, so results are deterministic.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/common.cuh"

namespace speedlimits::cuda::detail {

constexpr int kTile = 64, kSlab = 16;

__device__ __forceinline__ double fma_acc(double a, double b, double c) { return fma(a, b, c); }
__device__ __forceinline__ float fma_acc(float a, float b, float c) { return fmaf(a, b, c); }

template <typename Acc, typename LA, typename LB, typename Epi>
__global__ void __launch_bounds__(256) gemm_kernel(long long M, long long N, long long K, LA la, LB lb, Epi epi) {
  __shared__ Acc As[kSlab][kTile + 1];  // As[k][i]
  __shared__ Acc Bs[kSlab][kTile + 1];  // Bs[k][j]
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;
  const int z = blockIdx.z;
  const long long i0 = static_cast<long long>(blockIdx.y) * kTile, j0 = static_cast<long long>(blockIdx.x) * kTile;
  Acc acc[4][4];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < 4; ++c) acc[r][c] = Acc(0);
  for (long long k0 = 0; k0 < K; k0 += kSlab) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int e = tid + 256 * q;  // 0..1023: one 64×16 slab of A and one 16×64 slab of B
      const int ra = e / kSlab, ka = e % kSlab;  // consecutive threads walk k (row-major A)
      const long long gi = i0 + ra, gka = k0 + ka;
      As[ka][ra] = (gi < M && gka < K) ? static_cast<Acc>(la(z, gi, gka)) : Acc(0);
      const int kb = e / kTile, cb = e % kTile;  // consecutive threads walk j (row-major B)
      const long long gj = j0 + cb, gkb = k0 + kb;
      Bs[kb][cb] = (gj < N && gkb < K) ? static_cast<Acc>(lb(z, gkb, gj)) : Acc(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kSlab; ++kk) {
      Acc a[4], b[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) a[r] = As[kk][ty + 16 * r];
#pragma unroll
      for (int c = 0; c < 4; ++c) b[c] = Bs[kk][tx + 16 * c];
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] = fma_acc(a[r], b[c], acc[r][c]);
    }
    __syncthreads();  // the slab is overwritten by the next iteration
  }
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const long long i = i0 + ty + 16 * r, j = j0 + tx + 16 * c;
      if (i < M && j < N) epi(z, i, j, acc[r][c]);
    }
}

template <typename Acc, typename LA, typename LB, typename Epi>
void launch_gemm(std::size_t M, std::size_t N, std::size_t K, std::size_t batch, LA la, LB lb, Epi epi) {
  if (M == 0 || N == 0 || batch == 0) return;
  const std::size_t gy = (M + kTile - 1) / kTile, gx = (N + kTile - 1) / kTile;
  if (gy > 65535 || batch > 65535) throw InvalidArgument("cuda gemm: too many rows or batches for one launch");
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(batch));
  gemm_kernel<Acc><<<grid, dim3(16, 16)>>>(static_cast<long long>(M), static_cast<long long>(N),
                                           static_cast<long long>(K), la, lb, epi);
  check_launch("gemm_kernel");
}

// Element (r, c) of a row-major matrix, optionally transposed, with a batch stride.
template <typename T>
struct Strided {
  const T* p;
  long long ld, batch_stride;
  bool trans;  // element (r, c) is p[c·ld + r]
  __device__ __forceinline__ T operator()(int z, long long r, long long c) const {
    return trans ? p[z * batch_stride + c * ld + r] : p[z * batch_stride + r * ld + c];
  }
};

// C = alpha·acc + beta·C (beta == 0: C is not read, so it may hold garbage or NaN).
template <typename T>
struct StoreAxpby {
  T* C;
  long long ldc, batch_stride;
  T alpha, beta;
  __device__ __forceinline__ void operator()(int z, long long i, long long j, T acc) const {
    T* c = C + z * batch_stride + i * ldc + j;
    *c = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
  }
};

// Row-major C (m×n) = alpha·op(A)·op(B) + beta·C on device pointers, as linalg::gemm.
template <typename T>
void gemm_device(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda,
                 const T* B, std::size_t ldb, T beta, T* C, std::size_t ldc, std::size_t batch = 1,
                 std::size_t sa = 0, std::size_t sb = 0, std::size_t sc = 0) {
  launch_gemm<T>(m, n, k, batch, Strided<T>{A, static_cast<long long>(lda), static_cast<long long>(sa), ta},
                 Strided<T>{B, static_cast<long long>(ldb), static_cast<long long>(sb), tb},
                 StoreAxpby<T>{C, static_cast<long long>(ldc), static_cast<long long>(sc), alpha, beta});
}

// Deterministic sum of the device array v[0..count), returned to the host (one block, a fixed
// order for a fixed count; util.cu).
// Σ v[0..count) on the device. scratch: one device double the caller owns (loops that sum every
// iteration pass one, so no cudaMalloc/cudaFree — which synchronises — runs per iteration);
// null: a temporary is allocated.
double device_sum(const double* v, std::size_t count, double* scratch = nullptr);

}  // namespace speedlimits::cuda::detail
