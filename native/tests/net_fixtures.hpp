// Spec builders and inputs shared by the network tests.
#pragma once
#include <cstdint>
#include <vector>

#include "core/net_spec.hpp"
#include "core/rng.hpp"

namespace sltest {

inline speedlimits::nets::NetSpec fcn_spec(std::size_t d, std::vector<std::size_t> widths, std::size_t k,
                                           speedlimits::nets::Activation act, speedlimits::nets::Parameterization par,
                                           bool bias, double sw, double sb) {
  speedlimits::nets::NetSpec s;
  s.type = speedlimits::nets::NetType::Fcn;
  s.input_dim = d;
  s.widths = std::move(widths);
  s.output_dim = k;
  s.activation = act;
  s.parameterization = par;
  s.bias = bias;
  s.sigma_w = sw;
  s.sigma_b = sb;
  return s;
}

inline speedlimits::nets::NetSpec cnn_spec(std::size_t C, std::size_t H, std::size_t W, std::vector<std::size_t> channels,
                                           std::size_t k, speedlimits::nets::Activation act,
                                           speedlimits::nets::Parameterization par, bool bias, double sw, double sb) {
  speedlimits::nets::NetSpec s = fcn_spec(0, std::move(channels), k, act, par, bias, sw, sb);
  s.type = speedlimits::nets::NetType::Cnn;
  s.in_channels = C;
  s.height = H;
  s.width = W;
  return s;
}

// n normal draws of stream `stream` under `seed`, times `scale`.
inline std::vector<double> normal_draws(std::uint64_t seed, std::uint64_t stream, std::size_t n, double scale = 1.0) {
  std::vector<double> v(n);
  speedlimits::rng::normal(seed, stream, 0, n, v.data());
  for (auto& x : v) x *= scale;
  return v;
}

}  // namespace sltest
