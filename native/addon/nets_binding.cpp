// Networks: layout, init, forward, loss gradient; the spec object is parsed on every call (cheap
// next to the work) so no native handle has to outlive a JS object.
#include <memory>
#include <string>
#include <type_traits>

#include "core/cuda_backend.hpp"
#include "core/net_spec.hpp"
#include "core/nets.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {

std::string opt_string(Napi::Object o, const char* fn, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), where(fn, key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::size_t opt_size(Napi::Object o, const char* fn, const char* key) {
  double v = opt_number(o, fn, key);
  if (!(v >= 0) || v > 9007199254740991.0 || v != static_cast<double>(static_cast<std::size_t>(v)))
    throw Napi::RangeError::New(o.Env(), where(fn, key) + " must be a non-negative integer");
  return static_cast<std::size_t>(v);
}

}  // namespace

nets::NetSpec parse_spec(Napi::Value value, const char* fn) {
  if (!value.IsObject()) throw Napi::TypeError::New(value.Env(), where(fn, "spec") + " must be an object");
  Napi::Object o = value.As<Napi::Object>();
  nets::NetSpec s;
  const std::string type = opt_string(o, fn, "type");
  if (type != "fcn" && type != "cnn") throw Napi::RangeError::New(o.Env(), where(fn, "spec.type") + " must be 'fcn' or 'cnn'");
  s.type = type == "fcn" ? nets::NetType::Fcn : nets::NetType::Cnn;
  s.input_dim = opt_size(o, fn, "inputDim");
  Napi::Value widths = o.Get("widths");
  if (!widths.IsArray()) throw Napi::TypeError::New(o.Env(), where(fn, "spec.widths") + " must be an array");
  Napi::Array arr = widths.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value w = arr.Get(i);
    if (!w.IsNumber()) throw Napi::TypeError::New(o.Env(), where(fn, "spec.widths") + " must hold numbers");
    s.widths.push_back(static_cast<std::size_t>(w.As<Napi::Number>().DoubleValue()));
  }
  s.in_channels = opt_size(o, fn, "inChannels");
  s.height = opt_size(o, fn, "height");
  s.width = opt_size(o, fn, "width");
  s.kernel = opt_size(o, fn, "kernel");
  s.output_dim = opt_size(o, fn, "outputDim");
  const std::string act = opt_string(o, fn, "activation");
  if (act == "relu") s.activation = nets::Activation::Relu;
  else if (act == "erf") s.activation = nets::Activation::Erf;
  else if (act == "tanh") s.activation = nets::Activation::Tanh;
  else if (act == "linear") s.activation = nets::Activation::Linear;
  else if (act == "gelu") s.activation = nets::Activation::Gelu;
  else throw Napi::RangeError::New(o.Env(), where(fn, "spec.activation") + " is not a known activation");
  s.bias = opt_bool(o, fn, "bias");
  const std::string par = opt_string(o, fn, "parameterization");
  if (par != "ntk" && par != "standard") throw Napi::RangeError::New(o.Env(), where(fn, "spec.parameterization") + " must be 'ntk' or 'standard'");
  s.parameterization = par == "ntk" ? nets::Parameterization::Ntk : nets::Parameterization::Standard;
  s.sigma_w = opt_number(o, fn, "sigmaW");
  s.sigma_b = opt_number(o, fn, "sigmaB");
  return s;
}

std::unique_ptr<nets::Network> make_network(Napi::Env env, const nets::NetSpec& spec) {
  Failure f;
  std::unique_ptr<nets::Network> net;
  if (!run_guarded([&] { net = std::make_unique<nets::Network>(spec); }, f)) throw make_error(env, f);
  return net;
}

namespace {

Napi::Value NetLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto net = make_network(env, parse_spec(info[0], "netLayout"));
  Napi::Array out = Napi::Array::New(env);
  uint32_t t = 0;
  for (const auto& ti : net->layout()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", ti.name);
    Napi::Array shape = Napi::Array::New(env, ti.shape.size());
    for (uint32_t k = 0; k < ti.shape.size(); ++k) shape.Set(k, static_cast<double>(ti.shape[k]));
    o.Set("shape", shape);
    o.Set("offset", static_cast<double>(ti.offset));
    o.Set("size", static_cast<double>(ti.size));
    o.Set("fanIn", static_cast<double>(ti.fan_in));
    out.Set(t++, o);
  }
  return out;
}

Napi::Value NetInit(const Napi::CallbackInfo& info) {
  const char* fn = "netInit";
  Napi::Env env = info.Env();
  auto net = make_network(env, parse_spec(info[0], fn));
  std::uint64_t seed = get_u64(info, 1, fn, "seed"), stream = get_u64(info, 2, fn, "stream");
  auto out = get_f64(info, 3, fn, "out");
  if (out.length != net->num_params()) throw Napi::RangeError::New(env, "netInit: out must have numParams entries");
  Failure f;
  if (!run_guarded([&] { net->init(seed, stream, out.data); }, f)) throw make_error(env, f);
  return env.Undefined();
}

template <typename T>
Napi::Value forward_typed(const Napi::CallbackInfo& info, const nets::Network& net) {
  const char* fn = "netForward";
  Napi::Env env = info.Env();
  auto p = get_floats<T>(info, 1, fn, "params"), x = get_floats<T>(info, 2, fn, "x");
  std::size_t n = get_size(info, 3, fn, "n");
  auto out = get_floats<T>(info, 4, fn, "out");
  if (p.length != net.num_params()) throw Napi::RangeError::New(env, "netForward: params must have numParams entries");
  check_matrix_span(env, fn, "x", x.length, n, net.input_size(), net.input_size());
  check_matrix_span(env, fn, "out", out.length, n, net.output_dim(), net.output_dim());
  Failure f;
  if (!run_guarded([&] { net.forward<T>(p.data, x.data, n, out.data); }, f)) throw make_error(env, f);
  return env.Undefined();
}

Napi::Value NetForward(const Napi::CallbackInfo& info) {
  auto net = make_network(info.Env(), parse_spec(info[0], "netForward"));
  return is_f32(info, 1) ? forward_typed<float>(info, *net) : forward_typed<double>(info, *net);
}

template <typename T>
Napi::Value loss_typed(const Napi::CallbackInfo& info, const nets::Network& net) {
  const char* fn = "netLossGradient";
  Napi::Env env = info.Env();
  auto p = get_floats<T>(info, 1, fn, "params"), x = get_floats<T>(info, 2, fn, "x"), y = get_floats<T>(info, 3, fn, "y");
  std::size_t n = get_size(info, 4, fn, "n");
  auto grad = get_floats<T>(info, 5, fn, "grad");
  const std::size_t P = net.num_params();
  if (p.length != P || grad.length != P) throw Napi::RangeError::New(env, "netLossGradient: params and grad must have numParams entries");
  check_matrix_span(env, fn, "x", x.length, n, net.input_size(), net.input_size());
  check_matrix_span(env, fn, "y", y.length, n, net.output_dim(), net.output_dim());
  T* per = nullptr;
  if (!is_nullish(info, 6)) {
    auto ps = get_floats<T>(info, 6, fn, "perSample");
    check_matrix_span(env, fn, "perSample", ps.length, n, P, P);
    per = ps.data;
  }
  double loss = 0;
  Failure f;
  if (!run_guarded([&] { loss = net.loss_gradient<T>(p.data, x.data, y.data, n, grad.data, per); }, f))
    throw make_error(env, f);
  return Napi::Number::New(env, loss);
}

Napi::Value NetLossGradient(const Napi::CallbackInfo& info) {
  auto net = make_network(info.Env(), parse_spec(info[0], "netLossGradient"));
  return is_f32(info, 1) ? loss_typed<float>(info, *net) : loss_typed<double>(info, *net);
}

// ntk(spec, params, x1, n1, x2 | null, n2, trace, out, options {abort?, progress?, cuda?}, async)
template <typename T>
Napi::Value ntk_typed(const Napi::CallbackInfo& info, std::shared_ptr<nets::Network> net) {
  const char* fn = "ntk";
  Napi::Env env = info.Env();
  auto p = get_floats<T>(info, 1, fn, "params"), x1 = get_floats<T>(info, 2, fn, "x1");
  std::size_t n1 = get_size(info, 3, fn, "n1");
  const bool same = is_nullish(info, 4);
  std::vector<Napi::Value> keep{p.value, x1.value};
  const T* px2 = nullptr;
  if (!same) {
    auto x2 = get_floats<T>(info, 4, fn, "x2");
    px2 = x2.data;
    keep.push_back(x2.value);
    check_matrix_span(env, fn, "x2", x2.length, get_size(info, 5, fn, "n2"), net->input_size(), net->input_size());
  }
  std::size_t n2 = same ? n1 : get_size(info, 5, fn, "n2");
  bool trace = get_bool(info, 6, fn, "trace");
  auto out = get_floats<T>(info, 7, fn, "out");
  keep.push_back(out.value);
  Control control;
  Napi::Object options = get_object(info, 8, fn, "options");
  get_control(options, fn, control, keep);
  // options.cuda (optional): the FCN path on the CUDA backend (resolved by src/backend.ts)
  const Napi::Value cuda_flag = options.Get("cuda");
  const bool on_gpu = cuda_flag.IsBoolean() && cuda_flag.As<Napi::Boolean>().Value();
  bool async = get_bool(info, 9, fn, "async");
  if (p.length != net->num_params()) throw Napi::RangeError::New(env, "ntk: params must have numParams entries");
  check_matrix_span(env, fn, "x1", x1.length, n1, net->input_size(), net->input_size());
  const std::size_t k = trace ? 1 : net->output_dim();
  check_matrix_span(env, fn, "out", out.length, n1 * k, n2 * k, n2 * k);
  const T *pp = p.data, *px1 = x1.data;
  T* po = out.data;
  return dispatch(
      env, async,
      [=] {
        if (on_gpu)
          cuda::ntk_fcn<T>(cuda::fcn_plan(*net), pp, px1, n1, px2, same ? 0 : n2, trace, po, control);
        else
          net->ntk<T>(pp, px1, n1, px2, same ? 0 : n2, trace, po, control);
      },
      nullptr, keep);
}

Napi::Value Ntk(const Napi::CallbackInfo& info) {
  std::shared_ptr<nets::Network> net = make_network(info.Env(), parse_spec(info[0], "ntk"));
  return is_f32(info, 1) ? ntk_typed<float>(info, net) : ntk_typed<double>(info, net);
}

}  // namespace

void register_nets(Napi::Env env, Napi::Object exports) {
  exports.Set("netLayout", Napi::Function::New(env, NetLayout, "netLayout"));
  exports.Set("netInit", Napi::Function::New(env, NetInit, "netInit"));
  exports.Set("netForward", Napi::Function::New(env, NetForward, "netForward"));
  exports.Set("netLossGradient", Napi::Function::New(env, NetLossGradient, "netLossGradient"));
  exports.Set("ntk", Napi::Function::New(env, Ntk, "ntk"));
}

}  // namespace speedlimits::glue
