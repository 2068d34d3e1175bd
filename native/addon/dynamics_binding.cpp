// Langevin engine: train(spec, x, y, n, options, async) → the run's trackers (see dynamics.hpp).
// The options object is built and validated by src/dynamics.ts; here it is unpacked and the
// shapes are checked again.
#include <memory>
#include <string>

#include "core/control.hpp"
#include "core/cuda_backend.hpp"
#include "core/dynamics.hpp"
#include "core/nets.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

nets::NetSpec parse_spec(Napi::Value value, const char* fn);                                 // nets_binding.cpp
std::unique_ptr<nets::Network> make_network(Napi::Env env, const nets::NetSpec& spec);      // nets_binding.cpp

namespace {

const char* kFn = "train";

std::string field_string(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), where(kFn, key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::size_t field_size(Napi::Object o, const char* key) {
  const double v = opt_number(o, kFn, key);
  if (!(v >= 0) || v > 9007199254740991.0 || v != static_cast<double>(static_cast<std::uint64_t>(v)))
    throw Napi::RangeError::New(o.Env(), where(kFn, key) + " must be a non-negative safe integer");
  return static_cast<std::size_t>(v);
}

// A Float64Array field (absent/null → empty) kept alive in `keep`.
ArrayArg<double> field_f64(Napi::Object o, const char* key, std::vector<Napi::Value>& keep) {
  ArrayArg<double> a;
  Napi::Value v = o.Get(key);
  if (v.IsNull() || v.IsUndefined()) return a;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(o.Env(), where(kFn, key) + " must be a Float64Array");
  auto t = v.As<Napi::Float64Array>();
  a.data = t.Data();
  a.length = t.ElementLength();
  a.value = v;
  keep.push_back(v);
  return a;
}

std::vector<std::size_t> field_steps(Napi::Object o, const char* key, std::vector<Napi::Value>& keep) {
  auto a = field_f64(o, key, keep);
  std::vector<std::size_t> out(a.length);
  for (std::size_t i = 0; i < a.length; ++i) {
    const double v = a.data[i];
    if (!(v >= 0) || v != static_cast<double>(static_cast<std::uint64_t>(v)))
      throw Napi::RangeError::New(o.Env(), where(kFn, key) + " must hold non-negative integers");
    out[i] = static_cast<std::size_t>(v);
  }
  return out;
}

dynamics::Method parse_method(Napi::Object o) {
  const std::string m = field_string(o, "method");
  if (m == "gd") return dynamics::Method::Gd;
  if (m == "langevin") return dynamics::Method::Langevin;
  if (m == "sgld") return dynamics::Method::Sgld;
  if (m == "sgworld") return dynamics::Method::Sgworld;
  throw Napi::RangeError::New(o.Env(), where(kFn, "method") + " must be 'gd', 'langevin', 'sgld' or 'sgworld'");
}

const char* status_name(dynamics::Status s) {
  switch (s) {
    case dynamics::Status::Completed: return "completed";
    case dynamics::Status::Aborted: return "aborted";
    case dynamics::Status::Diverged: return "diverged";
  }
  return "?";
}

Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<nets::Network> net = make_network(env, parse_spec(info[0], kFn));
  auto x = get_f64(info, 1, kFn, "x"), y = get_f64(info, 2, kFn, "y");
  const std::size_t n = get_size(info, 3, kFn, "n");
  Napi::Object o = get_object(info, 4, kFn, "options");
  const bool async = get_bool(info, 5, kFn, "async");
  check_matrix_span(env, kFn, "x", x.length, n, net->input_size(), net->input_size());
  check_matrix_span(env, kFn, "y", y.length, n, net->output_dim(), net->output_dim());
  std::vector<Napi::Value> keep{x.value, y.value};

  auto cfg = std::make_shared<dynamics::TrainConfig>();
  cfg->method = parse_method(o);
  cfg->eta = opt_number(o, kFn, "eta");
  cfg->temperature = opt_number(o, kFn, "temperature");
  cfg->weight_decay = opt_number(o, kFn, "weightDecay");
  cfg->batch_size = field_size(o, "batchSize");
  cfg->steps = field_size(o, "steps");
  cfg->seed = field_size(o, "seed");
  cfg->replica_begin = field_size(o, "replicaBegin");
  cfg->replica_end = field_size(o, "replicaEnd");
  cfg->log_steps = field_steps(o, "logSteps", keep);
  cfg->snapshot_steps = field_steps(o, "snapshotSteps", keep);
  cfg->entropy = opt_bool(o, kFn, "entropy");
  cfg->w2 = opt_bool(o, kFn, "w2");
  cfg->projection_dim = field_size(o, "projectionDim");
  cfg->log_var = opt_bool(o, kFn, "logVar");
  const std::string kind = field_string(o, "initKind");
  const std::size_t P = net->num_params();
  if (kind == "given") {
    auto p = field_f64(o, "initParams", keep);
    if (p.length == 0 || p.length % P != 0)
      throw Napi::RangeError::New(env, "train: init params must hold whole parameter vectors of numParams entries");
    cfg->init.kind = dynamics::InitKind::Given;
    cfg->init.params = p.data;
    cfg->init.count = p.length / P;
  } else if (kind == "network") {
    cfg->init.kind = dynamics::InitKind::Network;
  } else if (kind == "gaussian") {
    auto t = field_f64(o, "theta0", keep);
    if (t.length != P) throw Napi::RangeError::New(env, "train: init.theta0 must have numParams entries");
    cfg->init.kind = dynamics::InitKind::Gaussian;
    cfg->init.theta0 = t.data;
    cfg->init.sigma0 = opt_number(o, kFn, "sigma0");
  } else {
    throw Napi::RangeError::New(env, "train: initKind must be 'given', 'network' or 'gaussian'");
  }
  cfg->init.seed = field_size(o, "initSeed");
  auto control = std::make_shared<Control>();
  get_control(o, kFn, *control, keep);
  check_finite<double>(env, kFn, "x", x.data, x.length, net->input_size());
  check_finite<double>(env, kFn, "y", y.data, y.length, net->output_dim());
  {
    Failure f;  // configuration errors surface synchronously, before any work is queued
    if (!run_guarded([&] { dynamics::validate(*net, n, *cfg); }, f)) throw make_error(env, f);
  }
  // options.cuda (optional): the GPU loop (resolved by src/dynamics.ts via src/backend.ts)
  const Napi::Value cuda_flag = o.Get("cuda");
  const bool on_gpu = cuda_flag.IsBoolean() && cuda_flag.As<Napi::Boolean>().Value();
  auto res = std::make_shared<dynamics::TrainResult>();
  const double *px = x.data, *py = y.data;
  return dispatch(
      env, async,
      [=] {
        if (on_gpu)
          cuda::train(*net, px, py, n, *cfg, *res, *control);
        else
          dynamics::train(*net, px, py, n, *cfg, *res, *control);
      },
      [=](Napi::Env e) -> Napi::Value {
        Napi::Object r = Napi::Object::New(e);
        r.Set("status", status_name(res->status));
        r.Set("divergedStep", static_cast<double>(res->diverged_step));
        r.Set("divergedReplica", static_cast<double>(res->diverged_replica));
        r.Set("logged", static_cast<double>(res->logged));
        r.Set("stepsDone", static_cast<double>(res->steps_done));
        r.Set("replicas", static_cast<double>(res->replicas));
        r.Set("params", static_cast<double>(res->params));
        r.Set("loss", to_f64(e, res->loss));
        r.Set("dist2", to_f64(e, res->dist2));
        r.Set("dissipation", to_f64(e, res->dissipation));
        r.Set("heat", to_f64(e, res->heat));
        r.Set("entropy", to_f64(e, res->entropy));
        r.Set("w2", to_f64(e, res->w2));
        r.Set("w2Mean", to_f64(e, res->w2_mean));
        r.Set("w2Cov", to_f64(e, res->w2_cov));
        r.Set("w2Projected", to_f64(e, res->w2_projected));
        r.Set("logVarRatio", to_f64(e, res->log_var_ratio));
        r.Set("finalParams", to_f64(e, res->final_params));
        r.Set("initialParams", to_f64(e, res->initial_params));
        Napi::Array snaps = Napi::Array::New(e, res->snapshots_taken);
        for (std::size_t i = 0; i < res->snapshots_taken; ++i) snaps.Set(static_cast<uint32_t>(i), to_f64(e, res->snapshots[i]));
        r.Set("snapshots", snaps);
        return r;
      },
      keep);
}

}  // namespace

void register_dynamics(Napi::Env env, Napi::Object exports) {
  exports.Set("train", Napi::Function::New(env, Train, "train"));
}

}  // namespace speedlimits::glue
