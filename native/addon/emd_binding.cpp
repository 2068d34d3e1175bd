// Exact OT by the network simplex: emd(C, n, m, a, b, options {maxIter, abort?, progress?}, async).
#include <memory>

#include "core/control.hpp"
#include "core/emd.hpp"
#include "glue.hpp"

namespace speedlimits::glue {

namespace {
Napi::Value Emd(const Napi::CallbackInfo& info) {
  const char* fn = "emd";
  Napi::Env env = info.Env();
  auto C = get_f64(info, 0, fn, "C");
  std::size_t n = get_size(info, 1, fn, "n"), m = get_size(info, 2, fn, "m");
  auto a = get_f64(info, 3, fn, "a"), b = get_f64(info, 4, fn, "b");
  Napi::Object o = get_object(info, 5, fn, "options");
  double max_iter = opt_number(o, fn, "maxIter");
  if (!(max_iter >= 0) || max_iter > 9007199254740991.0) throw Napi::RangeError::New(env, "emd: maxIter must be >= 0");
  bool async = get_bool(info, 6, fn, "async");
  check_matrix_span(env, fn, "C", C.length, n, m, m);
  if (a.length != n || b.length != m) throw Napi::RangeError::New(env, "emd: a needs n entries and b m");
  std::vector<Napi::Value> keep{C.value, a.value, b.value};
  Control control;
  get_control(o, fn, control, keep);
  auto out = std::make_shared<transport::EmdResult>();
  const double *pc = C.data, *pa = a.data, *pb = b.data;
  const auto cap = static_cast<std::size_t>(max_iter);
  return dispatch(
      env, async, [=] { *out = transport::emd(pc, n, m, pa, pb, cap, control); },
      [out](Napi::Env e) {
        Napi::Object r = Napi::Object::New(e);
        r.Set("cost", out->cost);
        set_sparse_plan(e, r, out->rows, out->cols, out->mass);
        r.Set("optimal", out->optimal);
        r.Set("iterations", static_cast<double>(out->iterations));
        return r;
      },
      keep);
}
}  // namespace

void register_emd(Napi::Env env, Napi::Object exports) { exports.Set("emd", Napi::Function::New(env, Emd, "emd")); }

}  // namespace speedlimits::glue
