// GPU time vs the CPU core on the same inputs, for each CUDA kernel family. Not a test: run it by
// hand on a GPU machine (build-dir/bench_cuda [--quick]); it prints one line per workload.
//   log-Sinkhorn   n = 16384, fp32 C, time per iteration (difference of two runs with different
//                  iteration caps, so the upload of C is excluded), and the memory-bandwidth bound
//                  of reading C once per half-step from the device's memory clock and bus width
//   cost matrix    n = 4000, d = 1e5, fp32 (the GPU time includes copying x in and C out)
//   SGLD step      FCN d = 3072, widths 3×1024, M = 32 replicas, B = 128: forward/backward of
//                  every replica + the noisy update, device-resident on the GPU
//   FCN NTK        n = 4096, d = 512, widths 2×1024, fp64 (the GPU time includes copying Θ out)
// --quick divides the sizes (a smoke run).
#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/cuda_backend.hpp"
#include "core/cuda_info.hpp"
#include "core/dynamics.hpp"
#include "core/nets.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"
#include "core/transport.hpp"
#include "cuda/common.cuh"
#include "cuda/device_api.cuh"

using namespace speedlimits;

namespace {

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  cudaDeviceSynchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double best_of(int reps, const std::function<void()>& f) {
  double best = HUGE_VAL;
  for (int r = 0; r < reps; ++r) best = std::min(best, seconds(f));
  return best;
}

void line(const char* name, double gpu, double cpu, const char* note) {
  std::printf("%-34s GPU %10.4f ms   CPU %10.4f ms   CPU/GPU %7.1fx   %s\n", name, gpu * 1e3, cpu * 1e3, cpu / gpu, note);
}

std::vector<double> normals(std::uint64_t seed, std::size_t n, double scale = 1.0) {
  std::vector<double> v(n);
  rng::normal(seed, 1, 0, n, v.data());
  for (auto& x : v) x *= scale;
  return v;
}

void bench_sinkhorn(std::size_t n) {
  const std::size_t d = 16;
  const auto x = normals(1, n * d), y = normals(2, n * d);
  std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end()), C(n * n);
  transport::cost_matrix<float>(xf.data(), n, yf.data(), n, d, true, false, C.data());
  std::vector<double> a(n, 1.0 / n), f(n), g(n);
  transport::SinkhornOptions opt;
  opt.epsilon = 0.05 * 2 * d;  // a few per cent of the typical cost: no convergence within the caps
  opt.tol = 1e-300;
  opt.kernel = false;  // the CPU's log-domain loop, the same algorithm as the GPU's
  opt.newton = false;
  auto run_gpu = [&](std::size_t it) {
    opt.max_iter = it;
    return seconds([&] { cuda::sinkhorn_log<float>(C.data(), n, n, a.data(), a.data(), f.data(), g.data(), nullptr, opt); });
  };
  auto run_cpu = [&](std::size_t it) {
    opt.max_iter = it;
    return seconds([&] { transport::sinkhorn_log<float>(C.data(), n, n, a.data(), a.data(), f.data(), g.data(), nullptr, opt); });
  };
  run_gpu(2);  // context, first touch
  const std::size_t k1 = 5, k2 = 25;
  const double gpu = (run_gpu(k2) - run_gpu(k1)) / double(k2 - k1);
  const double cpu = (run_cpu(k1 + 4) - run_cpu(4)) / double(k1);
  int clock_khz = 0, bus_bits = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
  const double bw = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);  // bytes/s (double data rate)
  const double bytes = double(n) * double(n) * sizeof(float);
  char note[256];
  std::snprintf(note, sizeof note,
                "n=%zu fp32, per iteration (2 half-steps); bound: C read once per half-step = %.3f ms at %.0f GB/s "
                "(%d MHz x %d bit x 2) -> %.3f ms/iteration",
                n, bytes / bw * 1e3, bw / 1e9, clock_khz / 1000, bus_bits, 2 * bytes / bw * 1e3);
  line("log-Sinkhorn iteration", gpu, cpu, note);
}

void bench_cost(std::size_t n, std::size_t d) {
  std::vector<float> x(n * d), y(n * d), C(n * n);
  {
    const auto xd = normals(3, n * d), yd = normals(4, n * d);
    for (std::size_t i = 0; i < n * d; ++i) {
      x[i] = static_cast<float>(xd[i] + 3.0);
      y[i] = static_cast<float>(yd[i] + 3.5);
    }
  }
  cuda::cost_matrix<float>(x.data(), 8, y.data(), 8, d, true, false, C.data());  // warm-up
  const double gpu = best_of(2, [&] { cuda::cost_matrix<float>(x.data(), n, y.data(), n, d, true, false, C.data()); });
  const double cpu = seconds([&] { transport::cost_matrix<float>(x.data(), n, y.data(), n, d, true, false, C.data()); });
  char note[128];
  std::snprintf(note, sizeof note, "n=m=%zu d=%zu fp32 centred; GPU includes copying x, y in and C out", n, d);
  line("cost matrix", gpu, cpu, note);
}

void bench_sgld(std::size_t d, std::size_t width, std::size_t M, std::size_t B, std::size_t n) {
  nets::NetSpec s;
  s.input_dim = d;
  s.widths = {width, width, width};
  s.output_dim = 1;
  s.activation = nets::Activation::Relu;
  nets::Network net(s);
  const std::size_t P = net.num_params();
  const auto plan = cuda::fcn_plan(net);
  std::vector<double> theta(M * P), grad(M * P), loss(M);
  for (std::size_t r = 0; r < M; ++r) net.init(1, r, theta.data() + r * P);
  const auto xdata = normals(5, n * d), ydata = normals(6, n);
  // One step's batches (the CPU engine draws B distinct indices per replica; the data movement is
  // the same for any choice, so take consecutive slices).
  std::vector<double> xb(M * B * d), yb(M * B);
  for (std::size_t r = 0; r < M; ++r)
    for (std::size_t j = 0; j < B; ++j) {
      const std::size_t i = (r * B + j) % n;
      std::memcpy(xb.data() + (r * B + j) * d, xdata.data() + i * d, d * sizeof(double));
      yb[r * B + j] = ydata[i];
    }
  cuda::UpdateParams u;
  u.eta = 1e-3;
  u.scale = double(n) / double(B);
  u.sd = std::sqrt(2 * u.eta * 1e-4);
  u.seed = 7;
  cuda::detail::use_device("bench");
  cuda::detail::Buffer<double> dth(M * P), dg(M * P), dx(M * B * d), dy(M * B), dl(M);
  dth.upload(theta.data(), M * P);
  dx.upload(xb.data(), xb.size());
  dy.upload(yb.data(), yb.size());
  auto gpu_step = [&] {
    cuda::detail::ensemble_loss_gradient_device(plan, M, dth.get(), dx.get(), dy.get(), B, dg.get(), dl.get());
    cuda::detail::langevin_update_device(M, P, dth.get(), dg.get(), u, nullptr, nullptr);
    ++u.step;
  };
  gpu_step();
  const double gpu = best_of(3, gpu_step);
  // CPU: the engine's per-replica work (dynamics.cpp): minibatch gradient, then the noisy update.
  auto cpu_step = [&] {
    for (std::size_t r = 0; r < M; ++r) {
      double* th = theta.data() + r * P;
      double* g = grad.data() + r * P;
      net.loss_gradient<double>(th, xb.data() + r * B * d, yb.data() + r * B, B, g, nullptr);
      std::vector<double> xi(P);
      rng::normal(u.seed, dynamics::kNoiseStream + r, u.step * P, P, xi.data());
      for (std::size_t p = 0; p < P; ++p) th[p] += -u.eta * (u.scale * g[p]) + u.sd * xi[p];
    }
  };
  const double cpu = seconds(cpu_step);
  char note[160];
  std::snprintf(note, sizeof note, "FCN d=%zu widths 3x%zu (P=%zu), M=%zu replicas, B=%zu, fp64, device-resident", d, width, P,
                M, B);
  line("ensemble SGLD step", gpu, cpu, note);
}

void bench_ntk(std::size_t n, std::size_t d, std::size_t width) {
  nets::NetSpec s;
  s.input_dim = d;
  s.widths = {width, width};
  s.output_dim = 1;
  s.activation = nets::Activation::Relu;
  nets::Network net(s);
  std::vector<double> p(net.num_params());
  net.init(2, 0, p.data());
  const auto x = normals(8, n * d);
  std::vector<double> K(n * n);
  const auto plan = cuda::fcn_plan(net);
  cuda::ntk_fcn<double>(plan, p.data(), x.data(), 16, nullptr, 0, false, K.data());  // warm-up
  const double gpu = best_of(2, [&] { cuda::ntk_fcn<double>(plan, p.data(), x.data(), n, nullptr, 0, false, K.data()); });
  const double cpu = seconds([&] { net.ntk<double>(p.data(), x.data(), n, nullptr, 0, false, K.data()); });
  char note[128];
  std::snprintf(note, sizeof note, "n=%zu d=%zu widths 2x%zu fp64, symmetric; GPU includes copying the kernel out", n, d, width);
  line("FCN NTK", gpu, cpu, note);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  if (!cuda::available()) {
    std::printf("bench_cuda: no CUDA device is visible (compiled: %s); nothing to measure\n",
                cuda::compiled() ? "yes" : "no");
    return 0;
  }
  std::printf("device: %s; CPU threads: %d%s\n", cuda::device_name(0).c_str(), get_threads(), quick ? " (--quick sizes)" : "");
  try {
    bench_sinkhorn(quick ? 2048 : 16384);
    bench_cost(quick ? 500 : 4000, quick ? 10000 : 100000);
    bench_sgld(quick ? 512 : 3072, quick ? 256 : 1024, quick ? 8 : 32, 128, 4096);
    bench_ntk(quick ? 512 : 4096, 512, quick ? 256 : 1024);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
