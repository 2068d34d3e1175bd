// FCN pieces shared by the GPU NTK and the GPU trainer: activations and their derivatives (the
// formulas of nets.cpp), and the forward pass keeping every layer's pre-activation z and output h.
#pragma once
#include <cuda_runtime.h>

#include <vector>

#include "core/cuda_backend.hpp"
#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace speedlimits::cuda::detail {

template <typename T>
__device__ __forceinline__ T act_forward(nets::Activation a, T z) {
  switch (a) {
    case nets::Activation::Relu: return z > T(0) ? z : T(0);
    case nets::Activation::Erf: return erf(z);
    case nets::Activation::Tanh: return tanh(z);
    case nets::Activation::Linear: return z;
    case nets::Activation::Gelu: return z * (T(0.5) * erfc(-z * T(0.7071067811865475244008443621048490)));
  }
  return z;
}

// φ′ from z (erf, gelu) or from h = φ(z) (relu: h > 0 ⇔ z > 0, so relu′(0) = 0; tanh: 1 − h²).
template <typename T>
__device__ __forceinline__ T act_deriv(nets::Activation a, T z, T h) {
  switch (a) {
    case nets::Activation::Relu: return h > T(0) ? T(1) : T(0);
    case nets::Activation::Erf: return T(1.1283791670955125738961589031215452) * exp(-z * z);
    case nets::Activation::Tanh: return T(1) - h * h;
    case nets::Activation::Linear: return T(1);
    case nets::Activation::Gelu:
      return T(0.5) * erfc(-z * T(0.7071067811865475244008443621048490)) +
             z * T(0.3989422804014326779399460599343819) * exp(T(-0.5) * z * z);
  }
  return T(1);
}

// z = s·acc + sb·b_o (b may be null: no bias), written to Z (ld = out) with batch stride.
template <typename T>
struct BiasEpilogue {
  T* Z;
  const T* b;
  long long out, batch_stride, bias_stride;
  T s, sb;
  __device__ __forceinline__ void operator()(int z, long long i, long long o, T acc) const {
    Z[z * batch_stride + i * out + o] = b != nullptr ? s * acc + sb * b[z * bias_stride + o] : s * acc;
  }
};

template <typename T>
__global__ void activation_kernel(nets::Activation a, const T* Z, T* H, std::size_t count) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < count; e += std::size_t(gridDim.x) * blockDim.x)
    H[e] = act_forward(a, Z[e]);
}

// Activations of a batch through an FCN: Z[l], H[l] = φ(Z[l]) for the hidden layers
// l = 0..L−1 ([batch·n, out_l]), and, when keep_output, the readout f ([batch·n, k]).
template <typename T>
struct FcnActs {
  const T* x = nullptr;  // [batch·n, d], on the device
  std::vector<Buffer<T>> Z, H;
  Buffer<T> f;
  // The input of layer l (x for l = 0).
  const T* input(std::size_t l) const { return l == 0 ? x : H[l - 1].get(); }
};

// Forward pass of `batch` networks (parameters params + z·param_stride, inputs x + z·n·d when
// x_stride, else the same x for all) on n samples each. Layers are launched as batched GEMMs.
template <typename T>
void fcn_forward(const FcnPlan& plan, const T* params, const T* x, std::size_t n, FcnActs<T>& a, bool keep_output = false,
                 std::size_t batch = 1, std::size_t param_stride = 0, bool x_batched = false) {
  const std::size_t L = plan.layers.size() - 1;
  a.x = x;
  a.Z.resize(L);
  a.H.resize(L);
  std::size_t in_w = plan.input_dim;
  const T* in = x;
  long long in_stride = x_batched ? static_cast<long long>(n * plan.input_dim) : 0;
  for (std::size_t l = 0; l <= L; ++l) {
    const nets::LayerPlan& lp = plan.layers[l];
    if (l == L && !keep_output) break;
    Buffer<T>& Z = l < L ? a.Z[l] : a.f;
    Z.ensure(batch * n * lp.out);
    const long long zs = static_cast<long long>(n * lp.out);
    launch_gemm<T>(n, lp.out, lp.in, batch, Strided<T>{in, static_cast<long long>(lp.in), in_stride, false},
                   Strided<T>{params + lp.w_offset, static_cast<long long>(lp.in), static_cast<long long>(param_stride), true},
                   BiasEpilogue<T>{Z.get(), lp.has_bias ? params + lp.b_offset : nullptr, static_cast<long long>(lp.out), zs,
                                   static_cast<long long>(param_stride), static_cast<T>(lp.s), static_cast<T>(lp.sb)});
    if (l < L) {
      a.H[l].ensure(batch * n * lp.out);
      activation_kernel<T><<<blocks_for(batch * n * lp.out, 256), 256>>>(plan.activation, Z.get(), a.H[l].get(),
                                                                         batch * n * lp.out);
      check_launch("activation_kernel");
      in = a.H[l].get();
      in_stride = zs;
    }
    in_w = lp.out;
  }
  (void)in_w;
}

}  // namespace speedlimits::cuda::detail
