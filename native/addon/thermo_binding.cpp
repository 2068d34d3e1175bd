// Closed-form speed-limit thermodynamics (core/thermo.hpp). Glue only: unpack, call, pack.
// All calls are synchronous: the work is O(modes × times) (plus an n×n eigendecomposition for
// linearDynamics), far below the cost of a thread hop for the sizes the TS layer allows.
#include <string>
#include <vector>

#include "core/thermo.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {

thermo::Span optional_f64(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  if (is_nullish(info, i)) return {};
  auto a = get_f64(info, i, fn, name);
  return {a.data, a.length};
}

thermo::Span required_f64(const Napi::CallbackInfo& info, std::size_t i, const char* fn, const char* name) {
  auto a = get_f64(info, i, fn, name);
  return {a.data, a.length};
}

// { eta, temperature, discrete, pathLength } of an options object.
thermo::EvalOptions eval_options(Napi::Object o, const char* fn) {
  thermo::EvalOptions e;
  e.eta = opt_number(o, fn, "eta");
  e.temperature = opt_number(o, fn, "temperature");
  e.discrete = opt_bool(o, fn, "discrete");
  e.path_length = opt_bool(o, fn, "pathLength");
  return e;
}

void set_path(Napi::Env env, Napi::Object o, const std::vector<double>& l, const std::vector<double>& s,
              const std::vector<double>& u) {
  if (l.empty()) return;
  o.Set("pathLength", to_f64(env, l));
  o.Set("straightness", to_f64(env, s));
  o.Set("uniformity", to_f64(env, u));
}

Napi::Object series_object(Napi::Env env, const thermo::Series& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("times", to_f64(env, s.times));
  Napi::Object f = Napi::Object::New(env);
  f.Set("efficiency", to_f64(env, s.flow.efficiency));
  f.Set("w2sq", to_f64(env, s.flow.w2sq));
  f.Set("dissipation", to_f64(env, s.flow.dissipation));
  f.Set("lossDrop", to_f64(env, s.flow.loss_drop));
  f.Set("loss", to_f64(env, s.flow.loss));
  set_path(env, f, s.flow.path_length, s.flow.straightness, s.flow.uniformity);
  o.Set("gradientFlow", f);
  if (s.has_langevin) {
    const auto& L = s.langevin;
    Napi::Object l = Napi::Object::New(env);
    l.Set("efficiency", to_f64(env, L.efficiency));
    l.Set("w2sq", to_f64(env, L.w2sq));
    l.Set("entropyProduction", to_f64(env, L.entropy_production));
    l.Set("heat", to_f64(env, L.heat));
    l.Set("systemEntropy", to_f64(env, L.system_entropy));
    l.Set("rate", to_f64(env, L.rate));
    l.Set("loss", to_f64(env, L.loss));
    l.Set("totalEntropyProduction", L.total_entropy_production);
    set_path(env, l, L.path_length, L.straightness, L.uniformity);
    o.Set("langevin", l);
  }
  if (s.has_discrete) {
    const auto& D = s.discrete;
    Napi::Object d = Napi::Object::New(env);
    d.Set("displacement", to_f64(env, D.displacement));
    d.Set("stepSum", to_f64(env, D.step_sum));
    d.Set("lossDrop", to_f64(env, D.loss_drop));
    d.Set("loss", to_f64(env, D.loss));
    d.Set("efficiencyKinetic", to_f64(env, D.efficiency_kinetic));
    d.Set("efficiencyLoss", to_f64(env, D.efficiency_loss));
    d.Set("stable", D.stable);
    o.Set("discrete", d);
  }
  return o;
}

Napi::Object trajectory_object(Napi::Env env, const thermo::Trajectory& t) {
  Napi::Object o = Napi::Object::New(env);
  if (!t.mean.empty()) o.Set("mean", to_f64(env, t.mean));
  o.Set("residual", to_f64(env, t.residual));
  o.Set("variance", to_f64(env, t.variance));
  o.Set("nullVariance", to_f64(env, t.null_variance));
  return o;
}

// analyticEfficiency(eigenvalues, residuals | null, offsets2 | null, times,
//                    { eta, temperature, gamma, sigma0, nullDirections, discrete, pathLength })
Napi::Value AnalyticEfficiency(const Napi::CallbackInfo& info) {
  const char* fn = "analyticEfficiency";
  Napi::Env env = info.Env();
  thermo::SpectrumInput in;
  in.eigenvalues = required_f64(info, 0, fn, "eigenvalues");
  in.residuals = optional_f64(info, 1, fn, "residuals");
  in.offsets2 = optional_f64(info, 2, fn, "offsets2");
  thermo::Span times = required_f64(info, 3, fn, "times");
  Napi::Object o = get_object(info, 4, fn, "options");
  thermo::EvalOptions e = eval_options(o, fn);
  in.gamma = opt_number(o, fn, "gamma");
  in.sigma0 = opt_number(o, fn, "sigma0");
  in.null_directions = opt_number(o, fn, "nullDirections");
  thermo::Series s;
  Failure f;
  if (!run_guarded([&] { s = thermo::analytic_efficiency(in, times, e); }, f)) throw make_error(env, f);
  return series_object(env, s);
}

// linearDynamics(J | null, K | null, n, P, y, theta0 | null, f0 | null, times,
//                { eta, temperature, gamma, sigma0, discrete, pathLength })
Napi::Value LinearDynamics(const Napi::CallbackInfo& info) {
  const char* fn = "linearDynamics";
  Napi::Env env = info.Env();
  thermo::LinearProblem p;
  p.J = optional_f64(info, 0, fn, "J");
  p.K = optional_f64(info, 1, fn, "K");
  p.n = get_size(info, 2, fn, "n");
  p.P = get_size(info, 3, fn, "P");
  p.y = required_f64(info, 4, fn, "y");
  p.theta0 = optional_f64(info, 5, fn, "theta0");
  p.f0 = optional_f64(info, 6, fn, "f0");
  thermo::Span times = required_f64(info, 7, fn, "times");
  Napi::Object o = get_object(info, 8, fn, "options");
  thermo::EvalOptions e = eval_options(o, fn);
  p.gamma = opt_number(o, fn, "gamma");
  p.sigma0 = opt_number(o, fn, "sigma0");
  thermo::LinearDynamicsResult r;
  Failure f;
  if (!run_guarded([&] { r = thermo::linear_dynamics(p, times, e); }, f)) throw make_error(env, f);
  Napi::Object out = Napi::Object::New(env);
  out.Set("series", series_object(env, r.series));
  out.Set("eigenvalues", to_f64(env, r.eigenvalues));
  out.Set("rank", static_cast<double>(r.rank));
  out.Set("hessian", to_f64(env, r.hessian));
  out.Set("offsets", to_f64(env, r.offsets));
  out.Set("nullDirections", static_cast<double>(r.null_directions));
  out.Set("nullOffsetSquared", r.null_offset2);
  out.Set("lossMin", r.loss_min);
  out.Set("continuous", trajectory_object(env, r.continuous));
  if (r.has_gd) out.Set("gd", trajectory_object(env, r.gd));
  return out;
}

// powerLawPlateau(alpha, beta) -> { value, applies, nu, regime, decayExponent }
Napi::Value PowerLawPlateau(const Napi::CallbackInfo& info) {
  const char* fn = "powerLawPlateau";
  Napi::Env env = info.Env();
  const double alpha = get_number(info, 0, fn, "alpha"), beta = get_number(info, 1, fn, "beta");
  thermo::Plateau p;
  Failure f;
  if (!run_guarded([&] { p = thermo::power_law_plateau(alpha, beta); }, f)) throw make_error(env, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("value", p.value);
  o.Set("applies", p.applies);
  o.Set("nu", p.nu);
  o.Set("regime", thermo::regime_name(p.regime));
  o.Set("decayExponent", p.decay_exponent);
  return o;
}

// regimeBoundaries(lambdaMax, lambdaMin, eta) -> { earlyEnd, saturationStart, tauSaturation, decades }
Napi::Value RegimeBoundaries(const Napi::CallbackInfo& info) {
  const char* fn = "regimeBoundaries";
  Napi::Env env = info.Env();
  const double hi = get_number(info, 0, fn, "lambdaMax"), lo = get_number(info, 1, fn, "lambdaMin"),
               eta = get_number(info, 2, fn, "eta");
  thermo::RegimeBoundaries b;
  Failure f;
  if (!run_guarded([&] { b = thermo::regime_boundaries(hi, lo, eta); }, f)) throw make_error(env, f);
  Napi::Object o = Napi::Object::New(env);
  o.Set("earlyEnd", b.early_end);
  o.Set("saturationStart", b.saturation_start);
  o.Set("tauSaturation", b.tau_saturation);
  o.Set("decades", b.decades);
  return o;
}

}  // namespace

void register_thermo(Napi::Env env, Napi::Object exports) {
  exports.Set("analyticEfficiency", Napi::Function::New(env, AnalyticEfficiency, "analyticEfficiency"));
  exports.Set("linearDynamics", Napi::Function::New(env, LinearDynamics, "linearDynamics"));
  exports.Set("powerLawPlateau", Napi::Function::New(env, PowerLawPlateau, "powerLawPlateau"));
  exports.Set("regimeBoundaries", Napi::Function::New(env, RegimeBoundaries, "regimeBoundaries"));
}

}  // namespace speedlimits::glue
