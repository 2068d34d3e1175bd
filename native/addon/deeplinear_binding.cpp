// Deep linear networks (see core/deeplinear.hpp):
//   deepLinear(options, async)              → the run's series
//   deepLinearCK(depth, residual, beta0)    → { value, limit } (closed forms)
//   deepLinearCKEmpirical(options, async)   → { perSeed, fitResidual, mean, sd, standardError, closedForm }
// The options objects are built and validated by src/deeplinear.ts; here they are unpacked and
// checked again.
#include <limits>
#include <memory>
#include <string>

#include "core/control.hpp"
#include "core/deeplinear.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {

namespace dl = speedlimits::deeplinear;

std::string field_string(Napi::Object o, const char* fn, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), where(fn, key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::size_t field_size(Napi::Object o, const char* fn, const char* key) {
  const double v = opt_number(o, fn, key);
  if (!(v >= 0) || v > 9007199254740991.0 || v != static_cast<double>(static_cast<std::uint64_t>(v)))
    throw Napi::RangeError::New(o.Env(), where(fn, key) + " must be a non-negative safe integer");
  return static_cast<std::size_t>(v);
}

// A Float64Array field (absent/null → empty), kept alive in `keep`.
ArrayArg<double> field_f64(Napi::Object o, const char* fn, const char* key, std::vector<Napi::Value>& keep) {
  ArrayArg<double> a;
  Napi::Value v = o.Get(key);
  if (v.IsNull() || v.IsUndefined()) return a;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(o.Env(), where(fn, key) + " must be a Float64Array");
  auto t = v.As<Napi::Float64Array>();
  a.data = t.Data();
  a.length = t.ElementLength();
  a.value = v;
  keep.push_back(v);
  return a;
}

dl::Arch parse_arch(Napi::Object o, const char* fn) {
  dl::Arch a;
  a.input_dim = field_size(o, fn, "inputDim");
  a.width = field_size(o, fn, "width");
  a.depth = field_size(o, fn, "depth");
  a.residual = opt_bool(o, fn, "residual");
  a.beta0 = opt_number(o, fn, "beta0");
  a.gamma0 = opt_number(o, fn, "gamma0");
  const std::string p = field_string(o, fn, "parameterization");
  if (p == "mup") a.param = dl::Param::Mup;
  else if (p == "ntk") a.param = dl::Param::Ntk;
  else throw Napi::RangeError::New(o.Env(), where(fn, "parameterization") + " must be 'mup' or 'ntk'");
  return a;
}

const char* status_name(dl::Status s) {
  switch (s) {
    case dl::Status::Completed: return "completed";
    case dl::Status::Aborted: return "aborted";
    case dl::Status::Diverged: return "diverged";
  }
  return "?";
}

Napi::Value DeepLinear(const Napi::CallbackInfo& info) {
  const char* fn = "deepLinear";
  Napi::Env env = info.Env();
  Napi::Object o = get_object(info, 0, fn, "options");
  const bool async = get_bool(info, 1, fn, "async");
  std::vector<Napi::Value> keep;
  auto cfg = std::make_shared<dl::RunConfig>();
  cfg->arch = parse_arch(o, fn);
  auto lambda = field_f64(o, fn, "eigenvalues", keep), target = field_f64(o, fn, "target", keep);
  cfg->lambda.assign(lambda.data, lambda.data + lambda.length);
  cfg->target.assign(target.data, target.data + target.length);
  cfg->noise = opt_number(o, fn, "noise");
  const std::string tr = field_string(o, fn, "training");
  if (tr == "population") cfg->training = dl::Training::Population;
  else if (tr == "fixed") cfg->training = dl::Training::Fixed;
  else if (tr == "online") cfg->training = dl::Training::Online;
  else throw Napi::RangeError::New(env, where(fn, "training") + " must be 'population', 'fixed' or 'online'");
  cfg->samples = field_size(o, fn, "samples");
  cfg->batch_size = field_size(o, fn, "batchSize");
  cfg->eta = opt_number(o, fn, "eta");
  cfg->steps = field_size(o, fn, "steps");
  cfg->seed = field_size(o, fn, "seed");
  cfg->seeds = field_size(o, fn, "seeds");
  auto logs = field_f64(o, fn, "logSteps", keep);
  for (std::size_t i = 0; i < logs.length; ++i) {
    const double v = logs.data[i];
    if (!(v >= 0) || v > 9007199254740991.0 || v != static_cast<double>(static_cast<std::uint64_t>(v)))
      throw Napi::RangeError::New(env, where(fn, "logSteps") + " must hold non-negative integers");
    cfg->log_steps.push_back(static_cast<std::size_t>(v));
  }
  auto init = field_f64(o, fn, "init", keep);
  if (init.length > 0) {
    const std::size_t P = dl::num_params(cfg->arch);
    if (P == 0 || init.length % P != 0)
      throw Napi::RangeError::New(env, where(fn, "init") + " must hold whole parameter vectors of " + std::to_string(P) + " entries");
    check_finite<double>(env, fn, "init", init.data, init.length, 0);
    cfg->init = init.data;
    cfg->init_count = init.length / P;
  }
  cfg->lazy = opt_bool(o, fn, "lazy");
  cfg->keep_params = opt_bool(o, fn, "keepParams");
  auto control = std::make_shared<Control>();
  get_control(o, fn, *control, keep);
  {
    Failure f;  // configuration errors surface synchronously, before any work is queued
    if (!run_guarded([&] { dl::validate(*cfg); }, f)) throw make_error(env, f);
  }
  auto res = std::make_shared<dl::RunResult>();
  return dispatch(
      env, async, [=] { dl::run(*cfg, *res, *control); },
      [=](Napi::Env e) -> Napi::Value {
        Napi::Object r = Napi::Object::New(e);
        r.Set("status", status_name(res->status));
        r.Set("divergedSeed", static_cast<double>(res->diverged_seed));
        r.Set("divergedStep", static_cast<double>(res->diverged_step));
        r.Set("seeds", static_cast<double>(res->seeds));
        r.Set("params", static_cast<double>(res->params));
        r.Set("loss", to_f64(e, res->loss));
        r.Set("trainLoss", to_f64(e, res->train_loss));
        r.Set("dist2", to_f64(e, res->dist2));
        r.Set("dissipation", to_f64(e, res->dissipation));
        r.Set("heat", to_f64(e, res->heat));
        r.Set("v0", to_f64(e, res->v0));
        r.Set("lazyKernel", to_f64(e, res->lazy_kernel));
        r.Set("lazyConstant", to_f64(e, res->lazy_constant));
        r.Set("kernelCK", to_f64(e, res->kernel_ck));
        r.Set("finalParams", to_f64(e, res->final_params));
        std::vector<double> done(res->steps_done.begin(), res->steps_done.end());
        r.Set("stepsDone", to_f64(e, done));
        return r;
      },
      keep);
}

Napi::Value DeepLinearCK(const Napi::CallbackInfo& info) {
  const char* fn = "deepLinearCK";
  Napi::Env env = info.Env();
  const std::size_t depth = get_size(info, 0, fn, "depth");
  const bool residual = get_bool(info, 1, fn, "residual");
  const double beta0 = get_number(info, 2, fn, "beta0");
  double value = 0, limit = 0;
  Failure f;
  if (!run_guarded([&] {
        value = dl::ck_closed_form(depth, residual, beta0);
        limit = residual ? dl::ck_limit(beta0) : std::numeric_limits<double>::infinity();
      }, f))
    throw make_error(env, f);
  Napi::Object r = Napi::Object::New(env);
  r.Set("value", value);
  r.Set("limit", limit);
  return r;
}

Napi::Value DeepLinearCKEmpirical(const Napi::CallbackInfo& info) {
  const char* fn = "deepLinearCKEmpirical";
  Napi::Env env = info.Env();
  Napi::Object o = get_object(info, 0, fn, "options");
  const bool async = get_bool(info, 1, fn, "async");
  std::vector<Napi::Value> keep;
  const dl::Arch arch = parse_arch(o, fn);
  const std::size_t seeds = field_size(o, fn, "seeds"), probes = field_size(o, fn, "probes");
  const std::uint64_t seed = field_size(o, fn, "seed");
  auto control = std::make_shared<Control>();
  get_control(o, fn, *control, keep);
  {
    Failure f;
    if (!run_guarded([&] { dl::validate(arch, fn); }, f)) throw make_error(env, f);
  }
  auto res = std::make_shared<dl::CkEmpirical>();
  return dispatch(
      env, async, [=] { *res = dl::ck_empirical(arch, seeds, seed, probes, *control); },
      [=](Napi::Env e) -> Napi::Value {
        Napi::Object r = Napi::Object::New(e);
        r.Set("perSeed", to_f64(e, res->per_seed));
        r.Set("fitResidual", to_f64(e, res->fit_residual));
        r.Set("mean", res->mean);
        r.Set("sd", res->sd);
        r.Set("standardError", res->standard_error);
        r.Set("closedForm", res->closed_form);
        return r;
      },
      keep);
}

}  // namespace

void register_deeplinear(Napi::Env env, Napi::Object exports) {
  exports.Set("deepLinear", Napi::Function::New(env, DeepLinear, "deepLinear"));
  exports.Set("deepLinearCK", Napi::Function::New(env, DeepLinearCK, "deepLinearCK"));
  exports.Set("deepLinearCKEmpirical", Napi::Function::New(env, DeepLinearCKEmpirical, "deepLinearCKEmpirical"));
}

}  // namespace speedlimits::glue
