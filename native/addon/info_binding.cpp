// buildInfo, thread control, backend switch, error-class registration.
#include <string>

#include "core/cuda_info.hpp"
#include "core/linalg.hpp"
#include "core/threads.hpp"
#include "core/version.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {

const char* simd_level() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#elif defined(__AVX__)
  return "avx";
#elif defined(__SSE2__) || defined(_M_X64)
  return "sse2";
#elif defined(__ARM_NEON)
  return "neon";
#else
  return "scalar";
#endif
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", speedlimits::version());
  o.Set("blas", linalg::blas_name());
  o.Set("lapack", linalg::lapack_name());
  o.Set("blasCompiled", linalg::blas_compiled());
  o.Set("openmp", openmp_compiled());
  o.Set("threads", get_threads());
  o.Set("hardwareThreads", hardware_threads());
  o.Set("simd", simd_level());
  o.Set("cudaCompiled", cuda::compiled());
  int devices = cuda::device_count();
  o.Set("cudaDevices", devices);
  Napi::Array names = Napi::Array::New(env);
  for (int i = 0; i < devices; ++i) names.Set(static_cast<uint32_t>(i), cuda::device_name(i));
  o.Set("cudaDeviceNames", names);
  o.Set("napiVersion", NAPI_VERSION);
  o.Set("compiler",
#if defined(__clang__)
        std::string("clang ") + __clang_version__
#elif defined(__GNUC__)
        std::string("gcc ") + __VERSION__
#else
        std::string("unknown")
#endif
  );
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  std::size_t n = get_size(info, 0, "setThreads", "n");
  if (n < 1 || n > 4096) throw Napi::RangeError::New(info.Env(), "setThreads: n must be an integer in [1, 4096]");
  set_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), get_threads()); }

Napi::Value SetLinalgBackend(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(info.Env(), "setLinalgBackend: backend must be 'blas' or 'builtin'");
  std::string b = info[0].As<Napi::String>().Utf8Value();
  if (b != "blas" && b != "builtin")
    throw Napi::RangeError::New(info.Env(), "setLinalgBackend: backend must be 'blas' or 'builtin', got '" + b + "'");
  Failure f;
  if (!run_guarded([&] { linalg::set_backend(b == "blas" ? linalg::Backend::Blas : linalg::Backend::Builtin); }, f))
    throw make_error(info.Env(), f);
  return info.Env().Undefined();
}

Napi::Value GetLinalgBackend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), linalg::backend() == linalg::Backend::Blas ? "blas" : "builtin");
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "setErrorClass: expected a constructor");
  auto* data = info.Env().GetInstanceData<InstanceData>();
  data->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

void register_info(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  exports.Set("setLinalgBackend", Napi::Function::New(env, SetLinalgBackend, "setLinalgBackend"));
  exports.Set("getLinalgBackend", Napi::Function::New(env, GetLinalgBackend, "getLinalgBackend"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
}

}  // namespace speedlimits::glue
