// The W2 engine: cost matrices, Sinkhorn (plain and symmetric), Gaussian W2, exact 1-D W2.
#include <cmath>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>

#include "core/control.hpp"
#include "core/cuda_backend.hpp"
#include "core/errors.hpp"
#include "core/transport.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {

std::string caller_name(const Napi::CallbackInfo& info, std::size_t i, const char* fallback);

Napi::Object sinkhorn_result(Napi::Env env, const transport::SinkhornResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("transportCost", r.transport_cost);
  o.Set("objective", r.objective);
  o.Set("marginalError", r.marginal_error);
  o.Set("planMass", r.plan_mass);
  o.Set("iterations", static_cast<double>(r.iterations));
  o.Set("converged", r.converged);
  return o;
}

Napi::Object gaussian_result(Napi::Env env, const transport::GaussianW2& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("w2sq", r.w2sq);
  o.Set("meanTerm", r.mean_term);
  o.Set("covTerm", r.cov_term);
  return o;
}

// costMatrix(x, n, y, m, d, center, same, out, async); x, y, out all Float64Array or all Float32Array.
template <typename T>
Napi::Value cost_typed(const Napi::CallbackInfo& info, const char* fn_name) {
  const char* fn = "costMatrix";
  Napi::Env env = info.Env();
  auto x = get_floats<T>(info, 0, fn, "x"), y = get_floats<T>(info, 2, fn, "y");
  auto out = get_floats<T>(info, 7, fn, "out");
  std::size_t n = get_size(info, 1, fn, "n"), m = get_size(info, 3, fn, "m"), d = get_size(info, 4, fn, "d");
  bool center = get_bool(info, 5, fn, "center"), same = get_bool(info, 6, fn, "same");
  bool async = get_bool(info, 8, fn, "async");
  // optional argument 10: run on the CUDA backend (resolved by src/backend.ts)
  const bool on_gpu = info.Length() > 10 && info[10].IsBoolean() && info[10].As<Napi::Boolean>().Value();
  check_matrix_span(env, fn, "x", x.length, n, d, d);
  check_matrix_span(env, fn, "y", y.length, m, d, d);
  check_matrix_span(env, fn, "out", out.length, n, m, m);
  if (same && (x.data != y.data || n != m)) throw Napi::RangeError::New(env, "costMatrix: same=true needs y to be x");
  check_finite(env, fn_name, "x", x.data, n * d, d);
  if (!same) check_finite(env, fn_name, "y", y.data, m * d, d);
  const T* px = x.data;
  const T* py = y.data;
  T* po = out.data;
  return dispatch(
      env, async,
      [=] {
        if (on_gpu)
          cuda::cost_matrix<T>(px, n, py, m, d, center, same, po);
        else
          transport::cost_matrix<T>(px, n, py, m, d, center, same, po);
      },
      nullptr, {x.value, y.value, out.value});
}

// Error messages name the TS caller (e.g. costMatrixSync), passed as an optional last argument.
std::string caller_name(const Napi::CallbackInfo& info, std::size_t i, const char* fallback) {
  return i < info.Length() && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : fallback;
}

// costMatrix(x, n, y, m, d, center, same, out, async, caller?, cuda?)
Napi::Value CostMatrix(const Napi::CallbackInfo& info) {
  const std::string name = caller_name(info, 9, "costMatrix");
  return is_f32(info, 0) ? cost_typed<float>(info, name.c_str()) : cost_typed<double>(info, name.c_str());
}

// options.cuda (optional): run on the CUDA backend.
bool use_cuda(const Napi::CallbackInfo& info, std::size_t i) {
  if (i >= info.Length() || !info[i].IsObject()) return false;
  Napi::Value v = info[i].As<Napi::Object>().Get("cuda");
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

transport::SinkhornOptions sinkhorn_options(Napi::Object o, const char* fn, std::vector<Napi::Value>& keep) {
  transport::SinkhornOptions opt;
  opt.epsilon = opt_number(o, fn, "epsilon");
  opt.tol = opt_number(o, fn, "tol");
  double max_iter = opt_number(o, fn, "maxIter");
  if (!(max_iter >= 1) || max_iter > 1e12) throw Napi::RangeError::New(o.Env(), std::string(fn) + ": maxIter must be >= 1");
  opt.max_iter = static_cast<std::size_t>(max_iter);
  opt.eps_scaling = opt_bool(o, fn, "epsilonScaling");
  opt.eps_start = opt_number(o, fn, "epsilonStart");
  opt.eps_factor = opt_number(o, fn, "epsilonFactor");
  opt.warm_start = opt_bool(o, fn, "warmStart");
  opt.newton = opt_bool(o, fn, "newton");
  opt.kernel = opt_bool(o, fn, "kernel");
  get_control(o, fn, opt.control, keep);
  return opt;
}

// sinkhorn(C, n, m, a, b, f, g, plan | null, options, async)
template <typename T>
Napi::Value sinkhorn_typed(const Napi::CallbackInfo& info) {
  const char* fn = "sinkhorn";
  Napi::Env env = info.Env();
  auto C = get_floats<T>(info, 0, fn, "C");
  std::size_t n = get_size(info, 1, fn, "n"), m = get_size(info, 2, fn, "m");
  auto a = get_f64(info, 3, fn, "a"), b = get_f64(info, 4, fn, "b");
  auto f = get_f64(info, 5, fn, "f"), g = get_f64(info, 6, fn, "g");
  check_matrix_span(env, fn, "C", C.length, n, m, m);
  if (a.length != n || f.length != n) throw Napi::RangeError::New(env, "sinkhorn: a and f must have n entries");
  if (b.length != m || g.length != m) throw Napi::RangeError::New(env, "sinkhorn: b and g must have m entries");
  std::vector<Napi::Value> keep{C.value, a.value, b.value, f.value, g.value};
  double* plan = nullptr;
  if (!is_nullish(info, 7)) {
    auto p = get_f64(info, 7, fn, "plan");
    check_matrix_span(env, fn, "plan", p.length, n, m, m);
    plan = p.data;
    keep.push_back(p.value);
  }
  transport::SinkhornOptions opt = sinkhorn_options(get_object(info, 8, fn, "options"), fn, keep);
  bool async = get_bool(info, 9, fn, "async");
  const bool on_gpu = use_cuda(info, 8);
  check_finite(env, caller_name(info, 10, fn).c_str(), "C", C.data, n * m, m);
  auto result = std::make_shared<transport::SinkhornResult>();
  const T* pc = C.data;
  const double *pa = a.data, *pb = b.data;
  double *pf = f.data, *pg = g.data;
  return dispatch(
      env, async,
      [=] {
        *result = on_gpu ? cuda::sinkhorn_log<T>(pc, n, m, pa, pb, pf, pg, plan, opt)
                       : transport::sinkhorn_log<T>(pc, n, m, pa, pb, pf, pg, plan, opt);
      },
      [result](Napi::Env e) { return sinkhorn_result(e, *result); }, keep);
}

Napi::Value Sinkhorn(const Napi::CallbackInfo& info) {
  return is_f32(info, 0) ? sinkhorn_typed<float>(info) : sinkhorn_typed<double>(info);
}

// sinkhornSymmetric(C, n, a, f, options, async)
template <typename T>
Napi::Value sinkhorn_sym_typed(const Napi::CallbackInfo& info) {
  const char* fn = "sinkhornSymmetric";
  Napi::Env env = info.Env();
  auto C = get_floats<T>(info, 0, fn, "C");
  std::size_t n = get_size(info, 1, fn, "n");
  auto a = get_f64(info, 2, fn, "a"), f = get_f64(info, 3, fn, "f");
  check_matrix_span(env, fn, "C", C.length, n, n, n);
  if (a.length != n || f.length != n) throw Napi::RangeError::New(env, "sinkhornSymmetric: a and f must have n entries");
  std::vector<Napi::Value> keep{C.value, a.value, f.value};
  transport::SinkhornOptions opt = sinkhorn_options(get_object(info, 4, fn, "options"), fn, keep);
  bool async = get_bool(info, 5, fn, "async");
  const bool on_gpu = use_cuda(info, 4);
  check_finite(env, caller_name(info, 6, fn).c_str(), "C", C.data, n * n, n);
  auto result = std::make_shared<transport::SinkhornResult>();
  const T* pc = C.data;
  const double* pa = a.data;
  double* pf = f.data;
  return dispatch(
      env, async,
      [=] {
        *result = on_gpu ? cuda::sinkhorn_log_symmetric<T>(pc, n, pa, pf, opt)
                       : transport::sinkhorn_log_symmetric<T>(pc, n, pa, pf, opt);
      },
      [result](Napi::Env e) { return sinkhorn_result(e, *result); }, keep);
}

Napi::Value SinkhornSymmetric(const Napi::CallbackInfo& info) {
  return is_f32(info, 0) ? sinkhorn_sym_typed<float>(info) : sinkhorn_sym_typed<double>(info);
}

// w2Gaussian(d, m1, C1, m2, C2, async)
Napi::Value W2Gaussian(const Napi::CallbackInfo& info) {
  const char* fn = "w2Gaussian";
  Napi::Env env = info.Env();
  std::size_t d = get_size(info, 0, fn, "d");
  auto m1 = get_f64(info, 1, fn, "m1"), C1 = get_f64(info, 2, fn, "C1");
  auto m2 = get_f64(info, 3, fn, "m2"), C2 = get_f64(info, 4, fn, "C2");
  bool async = get_bool(info, 5, fn, "async");
  if (m1.length != d || m2.length != d) throw Napi::RangeError::New(env, "w2Gaussian: m1 and m2 must have d entries");
  check_matrix_span(env, fn, "C1", C1.length, d, d, d);
  check_matrix_span(env, fn, "C2", C2.length, d, d, d);
  auto result = std::make_shared<transport::GaussianW2>();
  const double *p1 = m1.data, *q1 = C1.data, *p2 = m2.data, *q2 = C2.data;
  return dispatch(
      env, async, [=] { *result = transport::w2_gaussian(d, p1, q1, p2, q2); },
      [result](Napi::Env e) { return gaussian_result(e, *result); }, {m1.value, C1.value, m2.value, C2.value});
}

// w2GaussianSamples(x, M, y, N, P, a, b, options {unbiased, abort?, progress?}, async)
template <typename T>
Napi::Value samples_typed(const Napi::CallbackInfo& info) {
  const char* fn = "w2GaussianSamples";
  Napi::Env env = info.Env();
  auto x = get_floats<T>(info, 0, fn, "x"), y = get_floats<T>(info, 2, fn, "y");
  std::size_t M = get_size(info, 1, fn, "M"), N = get_size(info, 3, fn, "N"), P = get_size(info, 4, fn, "P");
  auto a = get_f64(info, 5, fn, "a"), b = get_f64(info, 6, fn, "b");
  Napi::Object o = get_object(info, 7, fn, "options");
  bool unbiased = opt_bool(o, fn, "unbiased");
  bool async = get_bool(info, 8, fn, "async");
  check_matrix_span(env, fn, "x", x.length, M, P, P);
  check_matrix_span(env, fn, "y", y.length, N, P, P);
  if (a.length != M || b.length != N) throw Napi::RangeError::New(env, "w2GaussianSamples: a needs M entries and b N");
  const std::string caller = caller_name(info, 9, fn);
  std::vector<Napi::Value> keep{x.value, y.value, a.value, b.value};
  Control control;
  get_control(o, fn, control, keep);
  auto result = std::make_shared<transport::GaussianW2>();
  const T *px = x.data, *py = y.data;
  const double *pa = a.data, *pb = b.data;
  // Finiteness is checked after the fact, off the main thread: a NaN or ±Inf input always ends in
  // a non-finite result or a numerical failure, and only then are the clouds scanned (saves a
  // full pass over M·P + N·P values on the common, clean path).
  auto work = [=] {
    std::exception_ptr failure;
    try {
      *result = transport::w2_gaussian_samples<T>(px, M, py, N, P, pa, pb, unbiased, control);
      if (std::isfinite(result->w2sq)) return;
    } catch (const Aborted&) {
      throw;
    } catch (...) {
      failure = std::current_exception();
    }
    const std::string mx = non_finite_message(caller.c_str(), "x", px, M * P, P);
    if (!mx.empty()) throw InvalidArgument(mx);
    const std::string my = non_finite_message(caller.c_str(), "y", py, N * P, P);
    if (!my.empty()) throw InvalidArgument(my);
    if (failure) std::rethrow_exception(failure);
  };
  return dispatch(env, async, work, [result](Napi::Env e) { return gaussian_result(e, *result); }, keep);
}

Napi::Value W2GaussianSamples(const Napi::CallbackInfo& info) {
  return is_f32(info, 0) ? samples_typed<float>(info) : samples_typed<double>(info);
}

// w2Exact1D(x, a, y, b, wantPlan, async) -> { cost, rows?, cols?, mass? }
Napi::Value W2Exact1D(const Napi::CallbackInfo& info) {
  const char* fn = "w2Exact1D";
  Napi::Env env = info.Env();
  auto x = get_f64(info, 0, fn, "x"), a = get_f64(info, 1, fn, "a");
  auto y = get_f64(info, 2, fn, "y"), b = get_f64(info, 3, fn, "b");
  bool want_plan = get_bool(info, 4, fn, "wantPlan");
  bool async = get_bool(info, 5, fn, "async");
  if (a.length != x.length || b.length != y.length) throw Napi::RangeError::New(env, "w2Exact1D: weights must match the samples");
  struct Out {
    double cost = 0;
    std::vector<std::int64_t> rows, cols;
    std::vector<double> mass;
  };
  auto out = std::make_shared<Out>();
  const double *px = x.data, *pa = a.data, *py = y.data, *pb = b.data;
  std::size_t n = x.length, m = y.length;
  return dispatch(
      env, async,
      [=] {
        out->cost = transport::w2_exact_1d(px, n, pa, py, m, pb, want_plan ? &out->rows : nullptr,
                                           want_plan ? &out->cols : nullptr, want_plan ? &out->mass : nullptr);
      },
      [out, want_plan](Napi::Env e) {
        Napi::Object o = Napi::Object::New(e);
        o.Set("cost", out->cost);
        if (want_plan) set_sparse_plan(e, o, out->rows, out->cols, out->mass);
        return o;
      },
      {x.value, a.value, y.value, b.value});
}

}  // namespace

void register_transport(Napi::Env env, Napi::Object exports) {
  exports.Set("costMatrix", Napi::Function::New(env, CostMatrix, "costMatrix"));
  exports.Set("sinkhorn", Napi::Function::New(env, Sinkhorn, "sinkhorn"));
  exports.Set("sinkhornSymmetric", Napi::Function::New(env, SinkhornSymmetric, "sinkhornSymmetric"));
  exports.Set("w2Gaussian", Napi::Function::New(env, W2Gaussian, "w2Gaussian"));
  exports.Set("w2GaussianSamples", Napi::Function::New(env, W2GaussianSamples, "w2GaussianSamples"));
  exports.Set("w2Exact1D", Napi::Function::New(env, W2Exact1D, "w2Exact1D"));
}

}  // namespace speedlimits::glue
