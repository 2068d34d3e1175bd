// The network description shared by the NTK engine (empirical and analytic kernels) and the
// Langevin engine. Mirrors the TS spec objects of docs/api.md:
//   FCN { type: 'fcn', inputDim, widths (hidden), outputDim, activation, bias, parameterization, sigmaW, sigmaB }
//   CNN { type: 'cnn', inputShape: [C, H, W], channels, kernel: 3, activation, outputDim, bias, ... }
// Parameter layout (one flat array, PyTorch order and shapes):
//   FCN: W1 [w1, d], b1 [w1], …, W_out [k, w_L], b_out [k]
//   CNN: conv1.W [C1, C, 3, 3], conv1.b [C1], …, W_out [k, C_L], b_out [k]
// (biases absent when bias = false). 'ntk': stored W, b ~ N(0, 1) and the forward pass uses
// σw/√fan_in · W and σb · b (fan_in of a conv = C_in·9); 'standard': stored W ~ N(0, σw²/fan_in),
// b ~ N(0, σb²), used as is. No activation after the readout. CNN: 3×3 cross-correlation
// (PyTorch conv2d), stride 1, zero padding 1, activation after every conv, global average pooling
// over H·W, then the dense readout. Inputs are row-major: FCN x [n, d]; CNN x [n, C, H, W].
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace speedlimits::nets {

enum class NetType { Fcn, Cnn };
enum class Activation { Relu, Erf, Tanh, Linear, Gelu };  // gelu: x·Φ(x) (exact, PyTorch default)
enum class Parameterization { Ntk, Standard };

struct NetSpec {
  NetType type = NetType::Fcn;
  std::size_t input_dim = 0;             // FCN
  std::vector<std::size_t> widths;       // FCN hidden widths / CNN conv channels
  std::size_t in_channels = 0, height = 0, width = 0;  // CNN input shape
  std::size_t kernel = 3;                // CNN (only 3 is supported)
  std::size_t output_dim = 1;
  Activation activation = Activation::Relu;
  bool bias = true;
  Parameterization parameterization = Parameterization::Ntk;
  double sigma_w = 1.0, sigma_b = 0.0;
};

// One tensor of the flat parameter vector.
struct TensorInfo {
  std::string name;                 // "W1", "b1", …, "W_out", "b_out" / "conv1.W", "conv1.b", …
  std::vector<std::size_t> shape;   // PyTorch shape
  std::size_t offset = 0, size = 0;
  std::size_t fan_in = 0;           // of the layer it belongs to
};

}  // namespace speedlimits::nets
