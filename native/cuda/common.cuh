// Shared pieces of the CUDA kernels: error mapping, device buffers, launch helpers.
// Every entry point (native/core/cuda_backend.hpp) works on host arrays: it copies its inputs to
// the device, runs on the default stream and copies the results back before returning, so the
// callers never see device pointers. CUDA failures become speedlimits::Error with a code.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "core/errors.hpp"

namespace speedlimits::cuda::detail {

[[noreturn]] inline void fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear a non-sticky error so later calls can run
  const std::string msg = std::string("CUDA: ") + what + ": " + cudaGetErrorString(e);
  if (e == cudaErrorMemoryAllocation) throw Error("ERR_OUT_OF_MEMORY", msg);
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) throw CudaUnavailable(msg);
  throw Error("ERR_CUDA", msg);
}

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(e, what);
}

// After a launch: configuration errors now, execution errors at the next synchronising call.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// Device memory owned by the host scope (freed on every exit path, exceptions included).
template <typename T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t count) { resize(count); }
  ~Buffer() {
    if (p_ != nullptr) cudaFree(p_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      if (p_ != nullptr) cudaFree(p_);
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }
  void resize(std::size_t count) {
    if (p_ != nullptr) cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
    if (count == 0) return;
    // Through a local: cudaMalloc does not promise to leave its output alone on failure, and the
    // buffer must stay empty (nothing to free, size 0) when it throws.
    void* p = nullptr;
    check(cudaMalloc(&p, count * sizeof(T)), "cudaMalloc");
    p_ = static_cast<T*>(p);
    n_ = count;
  }
  // Reallocates only when the count changes, so work buffers are reused across calls.
  void ensure(std::size_t count) {
    if (count != n_) resize(count);
  }
  T* get() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  void upload(const T* host, std::size_t count, std::size_t at = 0) {
    if (count > 0) check(cudaMemcpy(p_ + at, host, count * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  void download(T* host, std::size_t count, std::size_t at = 0) const {
    if (count > 0) check(cudaMemcpy(host, p_ + at, count * sizeof(T), cudaMemcpyDeviceToHost), "download");
  }
  void zero() {
    if (n_ > 0) check(cudaMemset(p_, 0, n_ * sizeof(T)), "cudaMemset");
  }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

template <typename T>
Buffer<T> to_device(const T* host, std::size_t count) {
  Buffer<T> b(count);
  b.upload(host, count);
  return b;
}

// Device 0 is used; selecting it also creates the context (the first call pays for that).
// Without a device: CudaUnavailable naming the caller (the same error as cuda::require, which
// lives in the core; the kernels do not call back into the core library).
inline void use_device(const char* caller) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw CudaUnavailable(std::string(caller) +
                          ": backend 'cuda' was requested but no CUDA device is visible (no GPU or no driver); "
                          "use backend 'auto' or 'cpu'");
  }
  check(cudaSetDevice(0), "cudaSetDevice");
}

inline void sync(const char* what) { check(cudaDeviceSynchronize(), what); }

inline unsigned blocks_for(std::size_t count, unsigned threads, std::size_t cap = 65535u * 32u) {
  std::size_t b = (count + threads - 1) / threads;
  if (b == 0) b = 1;
  return static_cast<unsigned>(b < cap ? b : cap);
}

}  // namespace speedlimits::cuda::detail
