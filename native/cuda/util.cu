// Small device utilities shared by the kernels.
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace speedlimits::cuda::detail {

namespace {
constexpr int kSumThreads = 1024;

__global__ void __launch_bounds__(kSumThreads) sum_kernel(const double* v, std::size_t count, double* out) {
  __shared__ double part[kSumThreads];
  double s = 0;
  for (std::size_t i = threadIdx.x; i < count; i += kSumThreads) s += v[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = kSumThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = part[0];
}
}  // namespace

double device_sum(const double* v, std::size_t count, double* scratch) {
  Buffer<double> own;
  if (scratch == nullptr) {
    own.resize(1);
    scratch = own.get();
  }
  sum_kernel<<<1, kSumThreads>>>(v, count, scratch);
  check_launch("sum_kernel");
  double r = 0;
  check(cudaMemcpy(&r, scratch, sizeof r, cudaMemcpyDeviceToHost), "download");
  return r;
}

}  // namespace speedlimits::cuda::detail
