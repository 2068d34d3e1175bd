// The CUDA backend's availability contract, which holds with and without a device: available()
// agrees with the build facts, and require() throws CudaUnavailable (ERR_CUDA_UNAVAILABLE) exactly
// when the backend cannot run; every entry point then throws the same error.
#include <string>
#include <vector>

#include "check.hpp"
#include "core/cuda_backend.hpp"
#include "core/cuda_info.hpp"
#include "core/errors.hpp"

using namespace speedlimits;

TEST_CASE("available() is compiled() && a device is visible") {
  CHECK(cuda::available() == (cuda::compiled() && cuda::device_count() > 0));
#if defined(SPEEDLIMITS_WITH_CUDA)
  CHECK(cuda::compiled());
#else
  CHECK(!cuda::compiled());
  CHECK(cuda::device_count() == 0);
#endif
}

TEST_CASE("require() throws ERR_CUDA_UNAVAILABLE naming the caller exactly when unavailable") {
  bool thrown = false;
  try {
    cuda::require("sinkhorn");
  } catch (const CudaUnavailable& e) {
    thrown = true;
    CHECK(e.code() == "ERR_CUDA_UNAVAILABLE");
    CHECK(std::string(e.what()).rfind("sinkhorn: backend 'cuda'", 0) == 0);
  }
  CHECK(thrown == !cuda::available());
}

TEST_CASE("entry points throw CudaUnavailable when the backend is unavailable") {
  if (cuda::available()) SKIP("a CUDA device is visible: the unavailable path cannot be exercised here");
  std::vector<double> x(6, 1.0), C(4);
  CHECK_THROWS(cuda::cost_matrix<double>(x.data(), 2, x.data(), 2, 3, true, true, C.data()), CudaUnavailable);
  std::vector<double> a(2, 0.5), f(2), g(2);
  transport::SinkhornOptions opt;
  opt.epsilon = 1;
  CHECK_THROWS(cuda::sinkhorn_log<double>(C.data(), 2, 2, a.data(), a.data(), f.data(), g.data(), nullptr, opt),
               CudaUnavailable);
  CHECK_THROWS(cuda::normal(1, 2, 0, 4, C.data()), CudaUnavailable);
  cuda::UpdateParams u;
  CHECK_THROWS(cuda::langevin_update(1, 2, f.data(), g.data(), u, nullptr, nullptr), CudaUnavailable);
  CHECK_THROWS(cuda::gemm<double>(false, false, 2, 2, 1, 1.0, a.data(), 1, a.data(), 2, 0.0, C.data(), 2),
               CudaUnavailable);
}

TEST_CASE("fcn_plan copies the layer plan and rejects CNNs") {
  nets::NetSpec s;
  s.input_dim = 3;
  s.widths = {4, 5};
  s.output_dim = 2;
  nets::Network net(s);
  const auto p = cuda::fcn_plan(net);
  CHECK(p.layers.size() == 3);
  CHECK(p.input_dim == 3 && p.output_dim == 2 && p.num_params == net.num_params());
  nets::NetSpec c;
  c.type = nets::NetType::Cnn;
  c.in_channels = 1;
  c.height = c.width = 4;
  c.widths = {2};
  nets::Network cnn(c);
  CHECK_THROWS(cuda::fcn_plan(cnn), InvalidArgument);
}

TEST_MAIN()
