// Module entry: per-environment data and the registration of every binding.
#include "glue.hpp"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new speedlimits::glue::InstanceData());
  speedlimits::glue::register_info(env, exports);
  speedlimits::glue::register_linalg(env, exports);
  speedlimits::glue::register_rng(env, exports);
  speedlimits::glue::register_transport(env, exports);
  speedlimits::glue::register_emd(env, exports);
  speedlimits::glue::register_nets(env, exports);
  speedlimits::glue::register_spectral(env, exports);
  speedlimits::glue::register_thermo(env, exports);
  speedlimits::glue::register_dynamics(env, exports);
  speedlimits::glue::register_ness(env, exports);
  speedlimits::glue::register_fluctuation(env, exports);
  speedlimits::glue::register_deeplinear(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(speedlimits_native, Init)
