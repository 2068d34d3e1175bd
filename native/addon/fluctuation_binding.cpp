// Fluctuation-theorem statistics (see core/fluctuation.hpp): sync, glue only.
#include "core/fluctuation.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {

Napi::Value IntegralFT(const Napi::CallbackInfo& info) {
  const char* fn = "integralFT";
  Napi::Env env = info.Env();
  auto s = get_f64(info, 0, fn, "sigma");
  const double z = get_number(info, 1, fn, "z");
  fluctuation::IntegralFt r;
  Failure f;
  if (!run_guarded([&] { r = fluctuation::integral_ft(s.data, s.length, z); }, f)) throw make_error(env, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("samples", static_cast<double>(r.samples));
  o.Set("mean", r.mean);
  o.Set("variance", r.variance);
  o.Set("value", r.value);
  o.Set("stderr", r.stderr_);
  o.Set("ciLow", r.ci_low);
  o.Set("ciHigh", r.ci_high);
  o.Set("effectiveSamples", r.effective_samples);
  o.Set("fractionNegative", r.fraction_negative);
  return o;
}

Napi::Value DetailedFT(const Napi::CallbackInfo& info) {
  const char* fn = "detailedFT";
  Napi::Env env = info.Env();
  auto s = get_f64(info, 0, fn, "sigma");
  const std::size_t bins = get_size(info, 1, fn, "bins");
  const double s_max = get_number(info, 2, fn, "sMax");
  fluctuation::DetailedFt r;
  Failure f;
  if (!run_guarded([&] { r = fluctuation::detailed_ft(s.data, s.length, bins, s_max); }, f)) throw make_error(env, f);
  Napi::Object o = Napi::Object::New(env);
  std::vector<double> counts(r.counts.begin(), r.counts.end());
  o.Set("centers", to_f64(env, r.centers));
  o.Set("counts", to_f64(env, counts));
  o.Set("s", to_f64(env, r.s));
  o.Set("logRatio", to_f64(env, r.log_ratio));
  o.Set("weight", to_f64(env, r.weight));
  o.Set("slope", r.slope);
  o.Set("slopeStderr", r.slope_stderr);
  o.Set("binWidth", r.bin_width);
  return o;
}

}  // namespace

void register_fluctuation(Napi::Env env, Napi::Object exports) {
  exports.Set("integralFT", Napi::Function::New(env, IntegralFT, "integralFT"));
  exports.Set("detailedFT", Napi::Function::New(env, DetailedFT, "detailedFT"));
}

}  // namespace speedlimits::glue
