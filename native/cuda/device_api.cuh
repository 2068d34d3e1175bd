// Entry points on device-resident arrays (no copies), for the benchmark and for a device-resident
// training loop. Defined in langevin.cu.
#pragma once
#include <cstddef>

#include "core/cuda_backend.hpp"

namespace speedlimits::cuda::detail {

// cuda::langevin_update on device arrays theta, grad [M, P]; the per-replica sums are added to
// the host arrays diss, dg (may be null).
void langevin_update_device(std::size_t M, std::size_t P, double* theta, const double* grad, const UpdateParams& u,
                            double* diss, double* dg);
// cuda::ensemble_loss_gradient on device arrays (grad and loss on the device too).
void ensemble_loss_gradient_device(const FcnPlan& plan, std::size_t M, const double* params, const double* x,
                                   const double* y, std::size_t B, double* grad, double* loss);

}  // namespace speedlimits::cuda::detail
