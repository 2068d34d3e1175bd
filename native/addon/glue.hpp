// Glue helpers shared by every binding: argument unpacking with checks, one Promise worker
// whose Execute catches everything, and core exception -> JS error (with `code`) mapping.
// No math here.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace speedlimits {
struct Control;
}

namespace speedlimits::glue {

// Per-environment state (the addon works in worker threads: nothing global).
struct InstanceData {
  Napi::FunctionReference error_class;  // SpeedlimitsError, registered by src/native.ts
};

// A failure captured off the main thread, turned into a JS error later.
struct Failure {
  std::string code;
  std::string message;
};

// Run `work`, converting any exception into a Failure. Returns true on success.
bool run_guarded(const std::function<void()>& work, Failure& failure) noexcept;

// Build the JS error for a failure: RangeError for argument/shape codes, else the registered
// SpeedlimitsError class (or Error) — always with `code` set.
Napi::Error make_error(Napi::Env env, const Failure& failure);

// ---- argument unpacking (throw Napi::TypeError / RangeError naming `fn: name`) -------------
std::string where(const char* fn, const char* name);
double get_number(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
bool get_bool(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
// A non-negative safe integer.
std::size_t get_size(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
// A bigint in [0, 2^64) or a non-negative safe integer number.
std::uint64_t get_u64(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);

template <typename T>
struct ArrayArg {
  T* data = nullptr;
  std::size_t length = 0;
  Napi::Value value;  // to keep alive while async work runs
};
ArrayArg<double> get_f64(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
ArrayArg<float> get_f32(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
ArrayArg<std::uint32_t> get_u32(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
ArrayArg<std::int32_t> get_i32(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
bool is_f32(const Napi::CallbackInfo& info, std::size_t i);
// Float64Array for T = double, Float32Array for T = float.
template <typename T>
ArrayArg<T> get_floats(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if constexpr (std::is_same<T, float>::value)
    return get_f32(info, i, fn, name);
  else
    return get_f64(info, i, fn, name);
}
// { rows: Int32Array, cols: Int32Array, mass: Float64Array } set on `o` from a sparse plan.
void set_sparse_plan(Napi::Env env, Napi::Object o, const std::vector<std::int64_t>& rows,
                     const std::vector<std::int64_t>& cols, const std::vector<double>& mass);
bool is_nullish(const Napi::CallbackInfo& info, std::size_t i);
// A new Float64Array holding a copy of v (results built on the main thread).
Napi::Float64Array to_f64(Napi::Env env, const std::vector<double>& v);

// Scalar fields of an options object (validated by the TS layer; checked again here).
Napi::Object get_object(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name);
double opt_number(Napi::Object o, const char* fn, const char* key);
bool opt_bool(Napi::Object o, const char* fn, const char* key);

// The Control (abort flag, progress slot) from an options object's `abort` (Int32Array) and
// `progress` (Float64Array) fields; both optional. The arrays are appended to `keep`.
void get_control(Napi::Object o, const char* fn, speedlimits::Control& control, std::vector<Napi::Value>& keep);

// Throws RangeError "fn: name must contain only finite values, got NaN at (i, j)" (cols > 0) or
// "… at index i" (cols == 0) for the first non-finite entry; one vectorised pass.
template <typename T>
void check_finite(Napi::Env env, const char* fn, const char* name, const T* p, std::size_t len, std::size_t cols);
// The same check without Napi (usable off the main thread): the message, or "" when all finite.
template <typename T>
std::string non_finite_message(const char* fn, const char* name, const T* p, std::size_t len, std::size_t cols);

// Throws RangeError unless a rows×cols matrix with leading dimension ld fits in `length`.
void check_matrix_span(Napi::Env env, const char* fn, const char* name, std::size_t length,
                       std::size_t rows, std::size_t cols, std::size_t ld);

// ---- execution --------------------------------------------------------------------------
using Work = std::function<void()>;
using Result = std::function<Napi::Value(Napi::Env)>;

// Run `work` now (async == false: throws the mapped JS error) or on the libuv pool
// (async == true: returns a Promise). `keep` holds JS values alive until the work is done;
// `result` builds the resolved value on the main thread (undefined when empty).
Napi::Value dispatch(Napi::Env env, bool async, Work work, Result result, std::vector<Napi::Value> keep);

// Registration helpers implemented by each binding file.
void register_info(Napi::Env env, Napi::Object exports);
void register_linalg(Napi::Env env, Napi::Object exports);
void register_rng(Napi::Env env, Napi::Object exports);
void register_transport(Napi::Env env, Napi::Object exports);
void register_emd(Napi::Env env, Napi::Object exports);
void register_nets(Napi::Env env, Napi::Object exports);
void register_spectral(Napi::Env env, Napi::Object exports);
void register_thermo(Napi::Env env, Napi::Object exports);
void register_dynamics(Napi::Env env, Napi::Object exports);
void register_ness(Napi::Env env, Napi::Object exports);
void register_fluctuation(Napi::Env env, Napi::Object exports);
void register_deeplinear(Napi::Env env, Napi::Object exports);

}  // namespace speedlimits::glue
