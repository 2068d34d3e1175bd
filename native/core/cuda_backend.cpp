// The parts of the CUDA host API that need no CUDA, and, in builds without CUDA, the entry
// points themselves: each throws CudaUnavailable, so callers link in every configuration.
#include "core/cuda_backend.hpp"

#include <string>

#include "core/cuda_info.hpp"
#include "core/errors.hpp"

namespace speedlimits::cuda {

bool available() noexcept { return compiled() && device_count() > 0; }

void require(const char* caller) {
  if (!compiled())
    throw CudaUnavailable(std::string(caller) +
                          ": backend 'cuda' was requested but this build has no CUDA kernels (nvcc was not found "
                          "at build time or SPEEDLIMITS_CUDA=OFF); use backend 'auto' or 'cpu'");
  if (device_count() == 0)
    throw CudaUnavailable(std::string(caller) +
                          ": backend 'cuda' was requested but no CUDA device is visible (no GPU or no driver); "
                          "use backend 'auto' or 'cpu'");
}

FcnPlan fcn_plan(const nets::Network& net) {
  if (net.spec().type != nets::NetType::Fcn)
    throw InvalidArgument("cuda: only FCN networks run on the CUDA backend (got a CNN)");
  FcnPlan p;
  p.layers = net.layers();
  p.activation = net.spec().activation;
  p.input_dim = net.input_size();
  p.output_dim = net.output_dim();
  p.num_params = net.num_params();
  return p;
}

#if !defined(SPEEDLIMITS_WITH_CUDA)

namespace {
[[noreturn]] void unavailable(const char* what) { require(what); throw CudaUnavailable(what); }
}  // namespace

template <typename T>
void cost_matrix(const T*, std::size_t, const T*, std::size_t, std::size_t, bool, bool, T*) {
  unavailable("costMatrix");
}
template <typename T>
transport::SinkhornResult sinkhorn_log(const T*, std::size_t, std::size_t, const double*, const double*, double*,
                                       double*, double*, const transport::SinkhornOptions&) {
  unavailable("sinkhorn");
}
template <typename T>
transport::SinkhornResult sinkhorn_log_symmetric(const T*, std::size_t, const double*, double*,
                                                 const transport::SinkhornOptions&) {
  unavailable("sinkhorn");
}
void normal(std::uint64_t, std::uint64_t, std::uint64_t, std::size_t, double*) { unavailable("normal"); }
void langevin_update(std::size_t, std::size_t, double*, const double*, const UpdateParams&, double*, double*) {
  unavailable("train");
}
void ensemble_loss_gradient(const FcnPlan&, std::size_t, const double*, const double*, const double*, std::size_t,
                            double*, double*) {
  unavailable("train");
}
// Never constructed without CUDA (the constructor throws), so the members below are unreachable.
struct TrainSession::Impl {};
TrainSession::TrainSession(const FcnPlan&, std::size_t, const double*, const double*, std::size_t, std::size_t) {
  unavailable("train");
}
TrainSession::~TrainSession() = default;
void TrainSession::set_params(const double*) { unavailable("train"); }
void TrainSession::get_params(double*) const { unavailable("train"); }
void TrainSession::gradient_full(double*) { unavailable("train"); }
void TrainSession::gradient_batch(const std::uint32_t*, double*) { unavailable("train"); }
void TrainSession::loss_full(double*) { unavailable("train"); }
void TrainSession::sq_norms(double*) { unavailable("train"); }
void TrainSession::entropy_terms(double, double*, double*) { unavailable("train"); }
void TrainSession::update(const UpdateParams&, double*, double*) { unavailable("train"); }
template <typename T>
void gemm(bool, bool, std::size_t, std::size_t, std::size_t, T, const T*, std::size_t, const T*, std::size_t, T, T*,
          std::size_t) {
  unavailable("gemm");
}
template <typename T>
void ntk_fcn(const FcnPlan&, const T*, const T*, std::size_t, const T*, std::size_t, bool, T*, const Control&) {
  unavailable("ntk");
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
template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,
                          const float*, std::size_t, float, float*, std::size_t);
template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t,
                           const double*, std::size_t, double, double*, std::size_t);
template void ntk_fcn<float>(const FcnPlan&, const float*, const float*, std::size_t, const float*, std::size_t, bool,
                             float*, const Control&);
template void ntk_fcn<double>(const FcnPlan&, const double*, const double*, std::size_t, const double*, std::size_t,
                              bool, double*, const Control&);

#endif

}  // namespace speedlimits::cuda
