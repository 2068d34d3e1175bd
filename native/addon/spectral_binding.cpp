// Analytic NTK/NNGP kernels, spectra and power-law fits.
#include <memory>

#include "core/control.hpp"
#include "core/net_spec.hpp"
#include "core/ntk_analytic.hpp"
#include "core/spectrum.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

nets::NetSpec parse_spec(Napi::Value value, const char* fn);  // nets_binding.cpp

namespace {

Napi::Float64Array to_f64(Napi::Env env, const std::vector<double>& v) {
  auto a = Napi::Float64Array::New(env, v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a[i] = v[i];
  return a;
}

Napi::Object fit_object(Napi::Env env, const spectral::PowerLawFit& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("exponent", f.exponent);
  o.Set("prefactor", f.prefactor);
  o.Set("r2", f.r2);
  o.Set("k1", static_cast<double>(f.k1));
  o.Set("k2", static_cast<double>(f.k2));
  o.Set("points", static_cast<double>(f.points));
  return o;
}

// ntkAnalytic(spec, x1, n1, x2 | null, n2, ntk, nngp, options {abort?, progress?}, async)
Napi::Value NtkAnalytic(const Napi::CallbackInfo& info) {
  const char* fn = "ntkAnalytic";
  Napi::Env env = info.Env();
  nets::NetSpec spec = parse_spec(info[0], fn);
  auto x1 = get_f64(info, 1, fn, "x1");
  std::size_t n1 = get_size(info, 2, fn, "n1");
  const bool same = is_nullish(info, 3);
  std::vector<Napi::Value> keep{x1.value};
  const double* px2 = nullptr;
  std::size_t n2 = n1;
  const std::size_t in = spec.type == nets::NetType::Fcn ? spec.input_dim : spec.in_channels * spec.height * spec.width;
  if (!same) {
    auto x2 = get_f64(info, 3, fn, "x2");
    n2 = get_size(info, 4, fn, "n2");
    check_matrix_span(env, fn, "x2", x2.length, n2, in, in);
    px2 = x2.data;
    keep.push_back(x2.value);
  }
  check_matrix_span(env, fn, "x1", x1.length, n1, in, in);
  auto K = get_f64(info, 5, fn, "ntk"), G = get_f64(info, 6, fn, "nngp");
  check_matrix_span(env, fn, "ntk", K.length, n1, n2, n2);
  check_matrix_span(env, fn, "nngp", G.length, n1, n2, n2);
  keep.push_back(K.value);
  keep.push_back(G.value);
  Control control;
  get_control(get_object(info, 7, fn, "options"), fn, control, keep);
  bool async = get_bool(info, 8, fn, "async");
  const double* p1 = x1.data;
  double *pk = K.data, *pg = G.data;
  return dispatch(
      env, async, [=] { nets::ntk_analytic(spec, p1, n1, px2, n2, pk, pg, control); }, nullptr, keep);
}

// spectrum(K, n, y | null, vectors, async) -> { values, vectors?, projections?, negativeCount, mostNegative }
Napi::Value Spectrum(const Napi::CallbackInfo& info) {
  const char* fn = "spectrum";
  Napi::Env env = info.Env();
  auto K = get_f64(info, 0, fn, "K");
  std::size_t n = get_size(info, 1, fn, "n");
  check_matrix_span(env, fn, "K", K.length, n, n, n);
  std::vector<Napi::Value> keep{K.value};
  const double* py = nullptr;
  if (!is_nullish(info, 2)) {
    auto y = get_f64(info, 2, fn, "y");
    if (y.length != n) throw Napi::RangeError::New(env, "spectrum: y must have n entries");
    py = y.data;
    keep.push_back(y.value);
  }
  bool vectors = get_bool(info, 3, fn, "vectors");
  bool async = get_bool(info, 4, fn, "async");
  auto out = std::make_shared<spectral::SpectrumResult>();
  const double* pk = K.data;
  return dispatch(
      env, async, [=] { *out = spectral::spectrum(pk, n, py, vectors); },
      [out](Napi::Env e) {
        Napi::Object o = Napi::Object::New(e);
        o.Set("values", to_f64(e, out->values));
        if (!out->vectors.empty()) o.Set("vectors", to_f64(e, out->vectors));
        if (!out->projections.empty()) o.Set("projections", to_f64(e, out->projections));
        o.Set("negativeCount", static_cast<double>(out->negative_count));
        o.Set("mostNegative", out->most_negative);
        return o;
      },
      keep);
}

// powerLawFit(values, k1, k2)
Napi::Value PowerLaw(const Napi::CallbackInfo& info) {
  const char* fn = "powerLawFit";
  auto v = get_f64(info, 0, fn, "values");
  std::size_t k1 = get_size(info, 1, fn, "k1"), k2 = get_size(info, 2, fn, "k2");
  spectral::PowerLawFit fit;
  Failure f;
  if (!run_guarded([&] { fit = spectral::power_law_fit(v.data, v.length, k1, k2); }, f)) throw make_error(info.Env(), f);
  return fit_object(info.Env(), fit);
}

// fitAlphaBeta(values, projections, k1, k2) -> { alpha, beta, betaResidual, nu, scalingRegime }
Napi::Value FitAlphaBeta(const Napi::CallbackInfo& info) {
  const char* fn = "fitAlphaBeta";
  Napi::Env env = info.Env();
  auto v = get_f64(info, 0, fn, "values"), p = get_f64(info, 1, fn, "projections");
  if (p.length != v.length) throw Napi::RangeError::New(env, "fitAlphaBeta: projections must have as many entries as values");
  std::size_t k1 = get_size(info, 2, fn, "k1"), k2 = get_size(info, 3, fn, "k2");
  spectral::SpectralExponents r;
  Failure f;
  if (!run_guarded([&] { r = spectral::fit_alpha_beta(v.data, p.data, v.length, k1, k2); }, f)) throw make_error(env, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("alpha", fit_object(env, r.alpha));
  o.Set("beta", fit_object(env, r.beta));
  o.Set("betaResidual", fit_object(env, r.beta_residual));
  o.Set("nu", r.nu);
  o.Set("scalingRegime", r.scaling_regime);
  return o;
}

}  // namespace

void register_spectral(Napi::Env env, Napi::Object exports) {
  exports.Set("ntkAnalytic", Napi::Function::New(env, NtkAnalytic, "ntkAnalytic"));
  exports.Set("spectrum", Napi::Function::New(env, Spectrum, "spectrum"));
  exports.Set("powerLawFit", Napi::Function::New(env, PowerLaw, "powerLawFit"));
  exports.Set("fitAlphaBeta", Napi::Function::New(env, FitAlphaBeta, "fitAlphaBeta"));
}

}  // namespace speedlimits::glue
