// Cooperative cancellation and progress for long-running core routines. Both live in memory the
// caller owns (the TS layer passes a shared Int32Array / Float64Array), so no callback crosses
// threads: the core polls the flag and writes progress; JS polls the progress on a timer.
#pragma once
#include <cstdint>

#include "core/errors.hpp"

namespace speedlimits {

struct Control {
  const std::int32_t* abort_flag = nullptr;  // non-zero: stop at the next check
  double* progress = nullptr;                // written with a fraction in [0, 1]

  bool aborted() const noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return abort_flag != nullptr && __atomic_load_n(abort_flag, __ATOMIC_RELAXED) != 0;
#else
    return abort_flag != nullptr && *reinterpret_cast<const volatile std::int32_t*>(abort_flag) != 0;
#endif
  }
  void check() const {
    if (aborted()) throw Aborted();
  }
  void report(double fraction) const noexcept {
    if (progress != nullptr) *reinterpret_cast<volatile double*>(progress) = fraction;
  }
};

}  // namespace speedlimits
