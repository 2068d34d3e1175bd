// gemm / syrk / potrf / syevd and whole-array utilities. The TS layer validates shapes; these checks are the last line
// that keeps a wrong call from reading or writing outside a typed array.
#include <cstdint>
#include <type_traits>

#include "core/linalg.hpp"
#include "core/memory.hpp"
#include "core/scan.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {
using linalg::Trans;
using linalg::Uplo;

// gemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, async)
template <typename T>
Napi::Value gemm_typed(const Napi::CallbackInfo& info) {
  const char* fn = "gemm";
  Napi::Env env = info.Env();
  bool ta = get_bool(info, 0, fn, "transA"), tb = get_bool(info, 1, fn, "transB");
  std::size_t m = get_size(info, 2, fn, "m"), n = get_size(info, 3, fn, "n"), k = get_size(info, 4, fn, "k");
  T alpha = static_cast<T>(get_number(info, 5, fn, "alpha"));
  auto a = get_floats<T>(info, 6, fn, "A"), b = get_floats<T>(info, 8, fn, "B"), c = get_floats<T>(info, 11, fn, "C");
  std::size_t lda = get_size(info, 7, fn, "lda"), ldb = get_size(info, 9, fn, "ldb"), ldc = get_size(info, 12, fn, "ldc");
  T beta = static_cast<T>(get_number(info, 10, fn, "beta"));
  bool async = get_bool(info, 13, fn, "async");
  if (k > 0) {
    check_matrix_span(env, fn, "A", a.length, ta ? k : m, ta ? m : k, lda);
    check_matrix_span(env, fn, "B", b.length, tb ? n : k, tb ? k : n, ldb);
  }
  check_matrix_span(env, fn, "C", c.length, m, n, ldc);
  T* pa = a.data;
  T* pb = b.data;
  T* pc = c.data;
  return dispatch(
      env, async,
      [=] {
        linalg::gemm(ta ? Trans::Yes : Trans::No, tb ? Trans::Yes : Trans::No, m, n, k, alpha, pa, lda, pb, ldb,
                     beta, pc, ldc);
      },
      nullptr, {a.value, b.value, c.value});
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  return is_f32(info, 6) ? gemm_typed<float>(info) : gemm_typed<double>(info);
}

// syrk(lower, trans, n, k, alpha, A, lda, beta, C, ldc, async)
Napi::Value Syrk(const Napi::CallbackInfo& info) {
  const char* fn = "syrk";
  Napi::Env env = info.Env();
  bool lower = get_bool(info, 0, fn, "lower"), trans = get_bool(info, 1, fn, "trans");
  std::size_t n = get_size(info, 2, fn, "n"), k = get_size(info, 3, fn, "k");
  double alpha = get_number(info, 4, fn, "alpha");
  auto a = get_f64(info, 5, fn, "A");
  std::size_t lda = get_size(info, 6, fn, "lda");
  double beta = get_number(info, 7, fn, "beta");
  auto c = get_f64(info, 8, fn, "C");
  std::size_t ldc = get_size(info, 9, fn, "ldc");
  bool async = get_bool(info, 10, fn, "async");
  if (k > 0) check_matrix_span(env, fn, "A", a.length, trans ? k : n, trans ? n : k, lda);
  check_matrix_span(env, fn, "C", c.length, n, n, ldc);
  const double* pa = a.data;
  double* pc = c.data;
  return dispatch(
      env, async,
      [=] { linalg::syrk(lower ? Uplo::Lower : Uplo::Upper, trans ? Trans::Yes : Trans::No, n, k, alpha, pa, lda, beta, pc, ldc); },
      nullptr, {a.value, c.value});
}

// potrf(lower, n, A, lda, async)
Napi::Value Potrf(const Napi::CallbackInfo& info) {
  const char* fn = "potrf";
  Napi::Env env = info.Env();
  bool lower = get_bool(info, 0, fn, "lower");
  std::size_t n = get_size(info, 1, fn, "n");
  auto a = get_f64(info, 2, fn, "A");
  std::size_t lda = get_size(info, 3, fn, "lda");
  bool async = get_bool(info, 4, fn, "async");
  check_matrix_span(env, fn, "A", a.length, n, n, lda);
  double* pa = a.data;
  return dispatch(
      env, async, [=] { linalg::potrf(lower ? Uplo::Lower : Uplo::Upper, n, pa, lda); }, nullptr, {a.value});
}

// syevd(n, A, lda, w, vectors, async)
Napi::Value Syevd(const Napi::CallbackInfo& info) {
  const char* fn = "syevd";
  Napi::Env env = info.Env();
  std::size_t n = get_size(info, 0, fn, "n");
  auto a = get_f64(info, 1, fn, "A");
  std::size_t lda = get_size(info, 2, fn, "lda");
  auto w = get_f64(info, 3, fn, "w");
  bool vectors = get_bool(info, 4, fn, "vectors");
  bool async = get_bool(info, 5, fn, "async");
  check_matrix_span(env, fn, "A", a.length, n, n, lda);
  if (w.length < n) throw Napi::RangeError::New(env, "syevd: w must have at least n entries");
  double* pa = a.data;
  double* pw = w.data;
  return dispatch(env, async, [=] { linalg::syevd(n, pa, lda, pw, vectors); }, nullptr, {a.value, w.value});
}

// firstNonFinite(Float64Array | Float32Array) -> index of the first NaN or ±Inf, or −1.
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  const char* fn = "firstNonFinite";
  if (is_f32(info, 0)) {
    auto a = get_f32(info, 0, fn, "data");
    return Napi::Number::New(info.Env(), static_cast<double>(scan::first_non_finite(a.data, a.length)));
  }
  auto a = get_f64(info, 0, fn, "data");
  return Napi::Number::New(info.Env(), static_cast<double>(scan::first_non_finite(a.data, a.length)));
}

// adviseHugePages(TypedArray) -> whether the kernel was asked to back it with huge pages
// (core/memory.hpp); for fresh, untouched outputs of at least 4 MiB.
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(info.Env(), "adviseHugePages: data must be a TypedArray");
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  auto* base = static_cast<std::uint8_t*>(a.ArrayBuffer().Data());
  const bool advised = base != nullptr && memory::advise_huge_pages(base + a.ByteOffset(), a.ByteLength());
  return Napi::Boolean::New(info.Env(), advised);
}

}  // namespace

void register_linalg(Napi::Env env, Napi::Object exports) {
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite, "firstNonFinite"));
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("syrk", Napi::Function::New(env, Syrk, "syrk"));
  exports.Set("potrf", Napi::Function::New(env, Potrf, "potrf"));
  exports.Set("syevd", Napi::Function::New(env, Syevd, "syevd"));
}

}  // namespace speedlimits::glue
