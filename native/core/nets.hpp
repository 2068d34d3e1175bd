// Networks of the NTK and Langevin engines: FCN and CNN of net_spec.hpp — parameter layout,
// initialisation, forward pass, squared-loss gradients and the empirical NTK Θ = J Jᵀ.
//
// Conventions (see net_spec.hpp for the spec and the flat parameter layout):
//   * Inputs are row-major: FCN x [n, d]; CNN x [n, C, H, W] (NCHW). Outputs f [n, k].
//   * Hidden layer l (1-based) computes z_l = s_l · W_l h_{l−1} + sb_l · b_l, h_l = φ(z_l), with
//     s_l = σw/√fan_in, sb_l = σb for 'ntk' and s_l = 1, sb_l = 1 for 'standard' (sb_l = 0 when
//     bias = false). The readout is the same affine map without φ. CNN: W_l h is the 3×3
//     cross-correlation (stride 1, zero padding 1); the readout input is the mean over H·W of the
//     last conv's activations (or of the input when there is no conv layer).
//   * Empty `widths` is allowed: the network is then the affine readout alone (on the input for
//     an FCN, on the channel means of the input for a CNN).
//   * relu′(0) = 0 (PyTorch); gelu(x) = x·Φ(x) (exact form); erf(x) is the plain error function.
//   * Everything is templated on T = double | float; the float path computes in float (the
//     returned loss is accumulated in double). Results do not depend on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/control.hpp"
#include "core/net_spec.hpp"

namespace speedlimits::nets {

// Nullable pointer arguments are non-deduced (so `nullptr` can be passed without a cast).
template <typename T>
using Nullable = typename std::enable_if<true, T>::type*;

// Throws InvalidArgument naming the offending NetSpec field (type, input_dim, widths[i],
// in_channels/height/width, kernel, output_dim, activation, parameterization, sigma_w, sigma_b)
// or when the parameter count overflows size_t.
void validate_spec(const NetSpec& spec);

// Memory budgets (bytes) of the blocked paths: dense Θ row tiles, im2col/col2im blocks, per-sample
// conv gradients held at once, and forward()'s sample blocks. Process-wide (atomics); the
// defaults suit normal use, tests shrink them to exercise the tiling on small problems. Values
// of 0 are treated as 1 (one row / one sample per block).
struct Budgets {
  std::size_t tile = std::size_t(64) << 20;
  std::size_t col = std::size_t(8) << 20;
  std::size_t grads = std::size_t(256) << 20;
  std::size_t forward = std::size_t(64) << 20;
};
Budgets budgets() noexcept;
void set_budgets(const Budgets& b) noexcept;

// Names used in messages and by the glue: "relu", "erf", "tanh", "linear", "gelu".
const char* activation_name(Activation a) noexcept;

// One affine layer of the network, derived from the spec (the L hidden layers, then the readout).
struct LayerPlan {
  bool conv = false;              // 3×3 convolution (CNN hidden layer) or dense
  std::size_t in = 0, out = 0;    // features (dense) or channels (conv)
  std::size_t fan_in = 0;         // in (dense) or 9·in (conv)
  std::size_t w_offset = 0;       // offset of W in the flat parameter vector
  std::size_t b_offset = 0;       // offset of b (meaningless when !has_bias)
  bool has_bias = false;
  double s = 1.0;                 // forward scale of W: σw/√fan_in ('ntk') or 1 ('standard')
  double sb = 0.0;                // forward scale of b: σb ('ntk'), 1 ('standard'), 0 (no bias)
};

// Immutable after construction: one Network may be used from several threads at once.
class Network {
 public:
  explicit Network(const NetSpec& spec);

  const NetSpec& spec() const noexcept { return spec_; }
  std::size_t num_params() const noexcept { return num_params_; }
  const std::vector<TensorInfo>& layout() const noexcept { return layout_; }
  std::size_t input_size() const noexcept { return input_size_; }  // d, or C·H·W
  std::size_t output_dim() const noexcept { return spec_.output_dim; }
  // The hidden layers (dense or conv) followed by the readout: hidden_layers() + 1 entries.
  const std::vector<LayerPlan>& layers() const noexcept { return layers_; }
  std::size_t hidden_layers() const noexcept { return layers_.size() - 1; }

  // Draws the parameters of replica `stream` with Philox: parameter p (flat index) is scaled
  // normal draw number p of (seed, stream), i.e. tensor t uses draws
  // [offset_t, offset_t + size_t) where offset_t, size_t are its layout() entries.
  // 'ntk': every entry N(0, 1). 'standard': W ~ N(0, σw²/fan_in), b ~ N(0, σb²) (the same draws
  // times σw/√fan_in, resp. σb). params has num_params() entries.
  void init(std::uint64_t seed, std::uint64_t stream, double* params) const;

  // out [n, k] = f(x_i). Works in blocks of samples (bounded memory, whatever n).
  template <typename T>
  void forward(const T* params, const T* x, std::size_t n, T* out) const;

  // Squared loss ½ Σ_i |f(x_i) − y_i|² (sum over samples and outputs); y [n, k].
  // grad [P] = Σ_i ∇ℓ_i (may be null); per_sample [n, P] (may be null) = ∇ℓ_i.
  // Returns the loss (accumulated in double). Holds the activations of all n samples
  // (n·HW·Σ_l c_l elements, ×2 for erf/gelu), so callers batch very large n.
  template <typename T>
  double loss_gradient(const T* params, const T* x, const T* y, std::size_t n, Nullable<T> grad,
                       Nullable<T> per_sample) const;

  // Empirical NTK Θ = J Jᵀ on (x1, x2), J the Jacobian of the outputs w.r.t. the parameters.
  //   trace = false: out [n1·k, n2·k], out[(i·k + a)·(n2·k) + j·k + b] = ∂f_a(x1_i)·∂f_b(x2_j).
  //   trace = true:  out [n1, n2] = (1/k) Σ_a Θ_aa (equal to the full kernel when k = 1).
  // x2 == nullptr (or x2 == x1 with n2 == n1) means x2 = x1: the result is then exactly
  // symmetric (one triangle computed and mirrored); with x2 == nullptr, n2 must be 0 or n1
  // (else ShapeError). Polls control between layers and tiles (throws Aborted) and reports
  // progress in [0, 1]. n1·k and n2·k must fit the 32-bit BLAS index range.
  template <typename T>
  void ntk(const T* params, const T* x1, std::size_t n1, Nullable<const T> x2, std::size_t n2,
           bool trace, T* out, const Control& control = Control{}) const;

  // Upper estimate of the working memory ntk() allocates (bytes, excluding params, inputs and
  // out) for elem_size = sizeof(T). `same`: x2 absent. See the report in nets.cpp's header.
  std::size_t ntk_workspace_bytes(std::size_t n1, std::size_t n2, bool same, bool trace,
                                  std::size_t elem_size) const;

 private:
  NetSpec spec_;
  std::vector<TensorInfo> layout_;
  std::vector<LayerPlan> layers_;
  std::size_t num_params_ = 0, input_size_ = 0;
};

}  // namespace speedlimits::nets
