// Counter-based random streams: rngNormal / rngUniform / rngBits(seed, stream, offset, out, async).
#include <cstdint>
#include <type_traits>

#include "core/rng.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {
template <typename T, typename Fill>
Napi::Value fill_stream(const Napi::CallbackInfo& info, const char* fn, Fill fill) {
  std::uint64_t seed = get_u64(info, 0, fn, "seed");
  std::uint64_t stream = get_u64(info, 1, fn, "stream");
  std::uint64_t offset = get_u64(info, 2, fn, "offset");
  ArrayArg<T> out;
  if constexpr (std::is_same<T, double>::value)
    out = get_f64(info, 3, fn, "out");
  else
    out = get_u32(info, 3, fn, "out");
  bool async = get_bool(info, 4, fn, "async");
  if (out.length > 0 && offset > UINT64_MAX - (out.length - 1))
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": offset + length exceeds the stream (2^64 draws)");
  T* p = out.data;
  std::size_t n = out.length;
  return dispatch(info.Env(), async, [=] { fill(seed, stream, offset, n, p); }, nullptr, {out.value});
}

Napi::Value Normal(const Napi::CallbackInfo& info) {
  return fill_stream<double>(info, "rngNormal", [](auto... a) { rng::normal(a...); });
}
Napi::Value Uniform(const Napi::CallbackInfo& info) {
  return fill_stream<double>(info, "rngUniform", [](auto... a) { rng::uniform(a...); });
}
Napi::Value Bits(const Napi::CallbackInfo& info) {
  return fill_stream<std::uint32_t>(info, "rngBits", [](auto... a) { rng::bits(a...); });
}
}  // namespace

void register_rng(Napi::Env env, Napi::Object exports) {
  exports.Set("rngNormal", Napi::Function::New(env, Normal, "rngNormal"));
  exports.Set("rngUniform", Napi::Function::New(env, Uniform, "rngUniform"));
  exports.Set("rngBits", Napi::Function::New(env, Bits, "rngBits"));
}

}  // namespace speedlimits::glue
