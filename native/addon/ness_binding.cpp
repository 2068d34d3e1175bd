// Gaussian NESS and exact sampler moments (core/ness.hpp). Glue only: unpack, call, pack.
// Synchronous: the work is a few P×P eigendecompositions, or a P²×P² solve (P ≤ 16) plus at most
// ~1e6 enumerated SGWORLD epochs, which the TS layer documents.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/control.hpp"

#include "core/ness.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {

// The optional trailing caller name (the TS function) used in error messages.
std::string ness_caller(const Napi::CallbackInfo& info, std::size_t i, const char* fallback) {
  if (i < info.Length() && info[i].IsString()) return info[i].As<Napi::String>().Utf8Value();
  return fallback;
}

const double* square_f64(const Napi::CallbackInfo& info, std::size_t i, std::size_t P, const char* fn, const char* name,
                         bool optional) {
  if (optional && is_nullish(info, i)) return nullptr;
  auto a = get_f64(info, i, fn, name);
  if (a.length != P * P)
    throw Napi::RangeError::New(info.Env(), where(fn, name) + " must have P·P = " + std::to_string(P * P) +
                                                " entries, got " + std::to_string(a.length));
  return a.data;
}

// nessGaussian(H, P, gradientCovariance | null, diffusion | null, { eta, temperature }, caller?)
//   -> { diffusion, covariance, covarianceContinuous, entropyPerStep, entropyPerStepContinuous,
//        area, velocity, commutator, equilibrium }   (matrices as row-major Float64Arrays)
Napi::Value NessGaussian(const Napi::CallbackInfo& info) {
  const char* fn = "nessGaussian";
  Napi::Env env = info.Env();
  ness::NessInput in;
  in.P = get_size(info, 1, fn, "P");
  in.H = square_f64(info, 0, in.P, fn, "H", false);
  in.gradient_covariance = square_f64(info, 2, in.P, fn, "gradientCovariance", true);
  in.diffusion = square_f64(info, 3, in.P, fn, "diffusion", true);
  Napi::Object o = get_object(info, 4, fn, "options");
  in.eta = opt_number(o, fn, "eta");
  in.temperature = opt_number(o, fn, "temperature");
  const std::string caller = ness_caller(info, 5, fn);
  in.caller = caller.c_str();
  ness::NessResult r;
  Failure f;
  if (!run_guarded([&] { r = ness::ness(in); }, f)) throw make_error(env, f);
  Napi::Object out = Napi::Object::New(env);
  out.Set("diffusion", to_f64(env, r.diffusion));
  out.Set("covariance", to_f64(env, r.covariance));
  out.Set("covarianceContinuous", to_f64(env, r.covariance_continuous));
  out.Set("entropyPerStep", r.entropy_per_step);
  out.Set("entropyPerStepContinuous", r.entropy_per_step_continuous);
  out.Set("area", to_f64(env, r.area));
  out.Set("velocity", to_f64(env, r.velocity));
  out.Set("commutator", r.commutator);
  out.Set("equilibrium", r.equilibrium);
  return out;
}

// The leading (X, n, P, y, { temperature, gamma, eta, batchSize }) arguments of the regression
// functions. X and y are views of the caller's arrays: the calls using them are synchronous.
ness::RegressionInput regression_args(const Napi::CallbackInfo& info, const char* fn, Napi::Object& o) {
  Napi::Env env = info.Env();
  ness::RegressionInput in;
  auto X = get_f64(info, 0, fn, "X");
  in.n = get_size(info, 1, fn, "n");
  in.P = get_size(info, 2, fn, "P");
  auto y = get_f64(info, 3, fn, "y");
  if (X.length != in.n * in.P)
    throw Napi::RangeError::New(env, where(fn, "X") + " must have n·P = " + std::to_string(in.n * in.P) + " entries, got " +
                                         std::to_string(X.length));
  if (y.length != in.n)
    throw Napi::RangeError::New(env, where(fn, "y") + " must have n = " + std::to_string(in.n) + " entries, got " +
                                         std::to_string(y.length));
  in.X = X.data;
  in.y = y.data;
  o = get_object(info, 4, fn, "options");
  in.temperature = opt_number(o, fn, "temperature");
  in.gamma = opt_number(o, fn, "gamma");
  in.eta = opt_number(o, fn, "eta");
  const double B = opt_number(o, fn, "batchSize");
  if (!(B >= 0 && B <= 9007199254740991.0 && B == static_cast<double>(static_cast<std::size_t>(B))))
    throw Napi::RangeError::New(env, where(fn, "batchSize") + " must be a non-negative integer");
  in.batch_size = static_cast<std::size_t>(B);
  return in;
}

// samplerStationaryMoments(X, n, P, y,
//   { sampler: 'ula' | 'sgld' | 'sgworld', temperature, gamma, eta, batchSize, dropRemainder, maxPartitions }, caller?)
//   -> { mean, covariance, posteriorMean, posteriorCovariance, w2sq, w2, partitions, meanShiftFirstOrder? }
Napi::Value SamplerStationaryMoments(const Napi::CallbackInfo& info) {
  const char* fn = "samplerStationaryMoments";
  Napi::Env env = info.Env();
  Napi::Object o;
  ness::RegressionInput in = regression_args(info, fn, o);
  Napi::Value s = o.Get("sampler");
  const std::string sampler = s.IsString() ? s.As<Napi::String>().Utf8Value() : "";
  if (sampler == "ula")
    in.sampler = ness::Sampler::Ula;
  else if (sampler == "sgld")
    in.sampler = ness::Sampler::SgldWr;
  else if (sampler == "sgworld")
    in.sampler = ness::Sampler::Sgworld;
  else
    throw Napi::RangeError::New(env, where(fn, "sampler") + " must be one of 'ula', 'sgld', 'sgworld'");
  in.drop_remainder = opt_bool(o, fn, "dropRemainder");
  in.max_partitions = opt_number(o, fn, "maxPartitions");
  const std::string caller = ness_caller(info, 5, fn);
  in.caller = caller.c_str();
  ness::SamplerMoments r;
  Failure f;
  if (!run_guarded([&] { r = ness::sampler_moments(in); }, f)) throw make_error(env, f);
  Napi::Object out = Napi::Object::New(env);
  out.Set("mean", to_f64(env, r.mean));
  out.Set("covariance", to_f64(env, r.covariance));
  out.Set("posteriorMean", to_f64(env, r.posterior_mean));
  out.Set("posteriorCovariance", to_f64(env, r.posterior_covariance));
  out.Set("w2sq", r.w2sq);
  out.Set("w2", r.w2);
  out.Set("partitions", r.partitions);
  if (!r.mean_shift_first_order.empty()) out.Set("meanShiftFirstOrder", to_f64(env, r.mean_shift_first_order));
  return out;
}

// gradientNoiseCovariance(X, n, P, y, { temperature, gamma, eta, batchSize }, caller?) -> Float64Array P×P
Napi::Value GradientNoiseCovariance(const Napi::CallbackInfo& info) {
  const char* fn = "gradientNoiseCovariance";
  Napi::Env env = info.Env();
  Napi::Object o;
  ness::RegressionInput in = regression_args(info, fn, o);
  const std::string caller = ness_caller(info, 5, fn);
  in.caller = caller.c_str();
  std::vector<double> r;
  Failure f;
  if (!run_guarded([&] { r = ness::gradient_noise_covariance(in); }, f)) throw make_error(env, f);
  return to_f64(env, r);
}

// stationaryChainEntropy({ kind: 'gaussian' | 'sgld', P, H?, thetaStar?, diffusion?, X?, n, y?,
//   eta, temperature, gamma, batchSize, steps, replicas, seed, abort, progress, caller }, async)
//   -> { sigma, medium, mean, covariance, hessian, kernelDiffusion, entropyPerStep, exact }
// The arrays are copied before the work is queued, so the caller may reuse them at once.
Napi::Value StationaryChainEntropy(const Napi::CallbackInfo& info) {
  const char* fn = "stationaryChainEntropy";
  Napi::Env env = info.Env();
  Napi::Object o = get_object(info, 0, fn, "options");
  const bool async = get_bool(info, 1, fn, "async");
  struct Owned {
    std::vector<double> H, theta, D, X, y;
    std::string caller;
    ness::StationaryChainInput in;
  };
  auto own = std::make_shared<Owned>();
  auto copy = [&](const char* key, std::vector<double>& into) -> const double* {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw Napi::TypeError::New(env, where(fn, key) + " must be a Float64Array");
    auto a = v.As<Napi::Float64Array>();
    into.assign(a.Data(), a.Data() + a.ElementLength());
    return into.data();
  };
  auto size = [&](const char* key) {
    const double v = opt_number(o, fn, key);
    if (!(v >= 0 && v <= 9007199254740991.0 && v == std::floor(v)))
      throw Napi::RangeError::New(env, where(fn, key) + " must be a non-negative integer");
    return static_cast<std::size_t>(v);
  };
  ness::StationaryChainInput& in = own->in;
  Napi::Value kind = o.Get("kind");
  const std::string k = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "";
  if (k != "gaussian" && k != "sgld") throw Napi::RangeError::New(env, where(fn, "kind") + " must be 'gaussian' or 'sgld'");
  in.kind = k == "sgld" ? ness::ChainKind::SgldMinibatch : ness::ChainKind::Gaussian;
  const std::size_t P = size("P");
  in.P = P;
  in.H = copy("H", own->H);
  in.theta_star = copy("thetaStar", own->theta);
  in.diffusion = copy("diffusion", own->D);
  in.eta = opt_number(o, fn, "eta");
  in.regression.n = size("n");
  in.regression.P = P;
  in.regression.X = copy("X", own->X);
  in.regression.y = copy("y", own->y);
  in.regression.temperature = opt_number(o, fn, "temperature");
  in.regression.gamma = opt_number(o, fn, "gamma");
  in.regression.eta = in.eta;
  in.regression.batch_size = size("batchSize");
  in.steps = size("steps");
  in.replicas = size("replicas");
  in.seed = size("seed");
  if (in.kind == ness::ChainKind::Gaussian) {
    if ((in.H && own->H.size() != P * P) || (in.diffusion && own->D.size() != P * P) || (in.theta_star && own->theta.size() != P))
      throw Napi::RangeError::New(env, where(fn, "H") + ", diffusion (P·P) and thetaStar (P) must match P = " + std::to_string(P));
  } else if (!in.regression.X || !in.regression.y || own->X.size() != in.regression.n * P || own->y.size() != in.regression.n) {
    throw Napi::RangeError::New(env, where(fn, "X") + " and y must have n·P and n entries");
  }
  Napi::Value c = o.Get("caller");
  own->caller = c.IsString() ? c.As<Napi::String>().Utf8Value() : fn;
  in.caller = own->caller.c_str();
  std::vector<Napi::Value> keep;
  auto control = std::make_shared<Control>();
  get_control(o, fn, *control, keep);
  auto res = std::make_shared<ness::StationaryChainEntropy>();
  return dispatch(
      env, async, [=] { *res = ness::stationary_chain_entropy(own->in, *control); },
      [=](Napi::Env e) -> Napi::Value {
        Napi::Object r = Napi::Object::New(e);
        r.Set("sigma", to_f64(e, res->sigma));
        r.Set("medium", to_f64(e, res->medium));
        r.Set("mean", to_f64(e, res->mean));
        r.Set("covariance", to_f64(e, res->covariance));
        r.Set("hessian", to_f64(e, res->hessian));
        r.Set("kernelDiffusion", to_f64(e, res->kernel_diffusion));
        r.Set("entropyPerStep", res->entropy_per_step);
        r.Set("exact", res->exact);
        return r;
      },
      keep);
}

}  // namespace

void register_ness(Napi::Env env, Napi::Object exports) {
  exports.Set("nessGaussian", Napi::Function::New(env, NessGaussian, "nessGaussian"));
  exports.Set("samplerStationaryMoments", Napi::Function::New(env, SamplerStationaryMoments, "samplerStationaryMoments"));
  exports.Set("gradientNoiseCovariance", Napi::Function::New(env, GradientNoiseCovariance, "gradientNoiseCovariance"));
  exports.Set("stationaryChainEntropy", Napi::Function::New(env, StationaryChainEntropy, "stationaryChainEntropy"));
}

}  // namespace speedlimits::glue
