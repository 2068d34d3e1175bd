#include "glue.hpp"

#include <algorithm>
#include <cmath>
#include <new>

#include "core/control.hpp"
#include "core/errors.hpp"

namespace speedlimits::glue {

bool run_guarded(const std::function<void()>& work, Failure& failure) noexcept {
  try {
    work();
    return true;
  } catch (const speedlimits::Error& e) {
    failure = {e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    failure = {"ERR_OUT_OF_MEMORY", "out of memory: the native engine could not allocate its working memory"};
  } catch (const std::exception& e) {
    failure = {"ERR_NATIVE", std::string("native engine error: ") + e.what()};
  } catch (...) {
    failure = {"ERR_NATIVE", "native engine error of unknown type"};
  }
  return false;
}

Napi::Error make_error(Napi::Env env, const Failure& f) {
  Napi::Error err;
  if (f.code == "ERR_INVALID_ARG" || f.code == "ERR_SHAPE") {
    err = Napi::RangeError::New(env, f.message);
  } else {
    auto* data = env.GetInstanceData<InstanceData>();
    if (data != nullptr && !data->error_class.IsEmpty()) {
      Napi::Value obj = data->error_class.New({Napi::String::New(env, f.code), Napi::String::New(env, f.message)});
      err = Napi::Error(env, obj);
    } else {
      err = Napi::Error::New(env, f.message);
    }
  }
  err.Set("code", Napi::String::New(env, f.code));
  return err;
}

std::string where(const char* fn, const char* name) { return std::string(fn) + ": " + name; }

double get_number(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), where(fn, name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

bool get_bool(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean())
    throw Napi::TypeError::New(info.Env(), where(fn, name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::size_t get_size(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  double v = get_number(info, i, fn, name);
  if (!(v >= 0) || v > 9007199254740991.0 || std::floor(v) != v)
    throw Napi::RangeError::New(info.Env(), where(fn, name) + " must be a non-negative integer");
  return static_cast<std::size_t>(v);
}

std::uint64_t get_u64(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if (i < info.Length() && info[i].IsBigInt()) {
    auto big = info[i].As<Napi::BigInt>();
    int sign = 0;
    std::size_t words = 1;
    std::uint64_t w = 0;
    big.ToWords(&sign, &words, &w);
    if (sign != 0 || words > 1)
      throw Napi::RangeError::New(info.Env(), where(fn, name) + " must be in [0, 2^64)");
    return words == 0 ? 0 : w;
  }
  return static_cast<std::uint64_t>(get_size(info, i, fn, name));
}

namespace {
template <typename T, napi_typedarray_type Kind>
ArrayArg<T> get_typed(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name,
                      const char* type_name) {
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != Kind)
    throw Napi::TypeError::New(info.Env(), where(fn, name) + " must be a " + type_name);
  auto arr = info[i].As<Napi::TypedArrayOf<T>>();
  ArrayArg<T> out;
  out.data = arr.Data();  // already includes the byte offset of a subarray view
  out.length = arr.ElementLength();
  out.value = info[i];
  return out;
}
}  // namespace

ArrayArg<double> get_f64(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  return get_typed<double, napi_float64_array>(info, i, fn, name, "Float64Array");
}
ArrayArg<float> get_f32(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  return get_typed<float, napi_float32_array>(info, i, fn, name, "Float32Array");
}
ArrayArg<std::uint32_t> get_u32(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  return get_typed<std::uint32_t, napi_uint32_array>(info, i, fn, name, "Uint32Array");
}
ArrayArg<std::int32_t> get_i32(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  return get_typed<std::int32_t, napi_int32_array>(info, i, fn, name, "Int32Array");
}
Napi::Float64Array to_f64(Napi::Env env, const std::vector<double>& v) {
  auto a = Napi::Float64Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

bool is_nullish(const Napi::CallbackInfo& info, std::size_t i) {
  return i >= info.Length() || info[i].IsNull() || info[i].IsUndefined();
}

Napi::Object get_object(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if (i >= info.Length() || !info[i].IsObject()) throw Napi::TypeError::New(info.Env(), where(fn, name) + " must be an object");
  return info[i].As<Napi::Object>();
}

double opt_number(Napi::Object o, const char* fn, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), where(fn, key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool opt_bool(Napi::Object o, const char* fn, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), where(fn, key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

void get_control(Napi::Object o, const char* fn, speedlimits::Control& control, std::vector<Napi::Value>& keep) {
  Napi::Value abort = o.Get("abort");
  if (abort.IsTypedArray() && abort.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto arr = abort.As<Napi::Int32Array>();
    if (arr.ElementLength() < 1) throw Napi::RangeError::New(o.Env(), where(fn, "abort") + " must have one entry");
    control.abort_flag = arr.Data();
    keep.push_back(abort);
  } else if (!abort.IsUndefined() && !abort.IsNull()) {
    throw Napi::TypeError::New(o.Env(), where(fn, "abort") + " must be an Int32Array");
  }
  Napi::Value progress = o.Get("progress");
  if (progress.IsTypedArray() && progress.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    auto arr = progress.As<Napi::Float64Array>();
    if (arr.ElementLength() < 1) throw Napi::RangeError::New(o.Env(), where(fn, "progress") + " must have one entry");
    control.progress = arr.Data();
    keep.push_back(progress);
  } else if (!progress.IsUndefined() && !progress.IsNull()) {
    throw Napi::TypeError::New(o.Env(), where(fn, "progress") + " must be a Float64Array");
  }
}

void set_sparse_plan(Napi::Env env, Napi::Object o, const std::vector<std::int64_t>& rows,
                     const std::vector<std::int64_t>& cols, const std::vector<double>& mass) {
  const std::size_t k = mass.size();
  auto r = Napi::Int32Array::New(env, k), c = Napi::Int32Array::New(env, k);
  auto w = Napi::Float64Array::New(env, k);
  for (std::size_t t = 0; t < k; ++t) {
    r[t] = static_cast<std::int32_t>(rows[t]);
    c[t] = static_cast<std::int32_t>(cols[t]);
    w[t] = mass[t];
  }
  o.Set("rows", r);
  o.Set("cols", c);
  o.Set("mass", w);
}

bool is_f32(const Napi::CallbackInfo& info, std::size_t i) {
  return i < info.Length() && info[i].IsTypedArray() &&
         info[i].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
}

template <typename T>
std::string non_finite_message(const char* fn, const char* name, const T* p, std::size_t len, std::size_t cols) {
  // x − x is 0 for finite x and NaN for ±inf/NaN: a branch-free sum the compiler vectorises.
  constexpr std::size_t kBlock = 4096;
  for (std::size_t b0 = 0; b0 < len; b0 += kBlock) {
    const std::size_t b1 = std::min(len, b0 + kBlock);
    T acc = 0;
    for (std::size_t i = b0; i < b1; ++i) acc += p[i] - p[i];
    if (acc == acc) continue;
    for (std::size_t i = b0; i < b1; ++i) {
      if (std::isfinite(p[i])) continue;
      const std::string v = std::isnan(p[i]) ? "NaN" : (p[i] > 0 ? "Infinity" : "-Infinity");
      const std::string at = cols > 0 ? "(" + std::to_string(i / cols) + ", " + std::to_string(i % cols) + ")"
                                      : "index " + std::to_string(i);
      return where(fn, name) + " must contain only finite values, got " + v + " at " + at;
    }
  }
  return std::string();
}
template std::string non_finite_message<double>(const char*, const char*, const double*, std::size_t, std::size_t);
template std::string non_finite_message<float>(const char*, const char*, const float*, std::size_t, std::size_t);

template <typename T>
void check_finite(Napi::Env env, const char* fn, const char* name, const T* p, std::size_t len, std::size_t cols) {
  const std::string m = non_finite_message(fn, name, p, len, cols);
  if (!m.empty()) throw Napi::RangeError::New(env, m);
}
template void check_finite<double>(Napi::Env, const char*, const char*, const double*, std::size_t, std::size_t);
template void check_finite<float>(Napi::Env, const char*, const char*, const float*, std::size_t, std::size_t);

void check_matrix_span(Napi::Env env, const char* fn, const char* name, std::size_t length,
                       std::size_t rows, std::size_t cols, std::size_t ld) {
  if (rows == 0 || cols == 0) return;
  if (ld < cols)
    throw Napi::RangeError::New(env, where(fn, name) + ": leading dimension " + std::to_string(ld) +
                                       " is smaller than the number of columns " + std::to_string(cols));
  // (rows - 1) * ld + cols <= length, without overflow
  if (rows - 1 > (length - cols) / ld || cols > length)
    throw Napi::RangeError::New(env, where(fn, name) + ": a " + std::to_string(rows) + "x" + std::to_string(cols) +
                                       " matrix with leading dimension " + std::to_string(ld) +
                                       " does not fit in " + std::to_string(length) + " entries");
}

namespace {
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, Work work, Result result, std::vector<Napi::Value> keep)
      : Napi::AsyncWorker(env, "speedlimits"), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), result_(std::move(result)) {
    for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    if (!run_guarded(work_, failure_)) SetError(failure_.message);
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Value value = env.Undefined();
    try {
      if (result_) value = result_(env);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(value);
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(make_error(Env(), failure_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Result result_;
  Failure failure_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
};
}  // namespace

Napi::Value dispatch(Napi::Env env, bool async, Work work, Result result, std::vector<Napi::Value> keep) {
  if (!async) {
    Failure failure;
    if (!run_guarded(work, failure)) throw make_error(env, failure);
    return result ? result(env) : env.Undefined();
  }
  auto* worker = new PromiseWorker(env, std::move(work), std::move(result), std::move(keep));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK/OnError
  return promise;
}

}  // namespace speedlimits::glue
