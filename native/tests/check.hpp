// A minimal test harness for the core's C++ tests (ctest runs each executable; exit code 0 = pass).
#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace sltest {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}
inline int& failures() {
  static int n = 0;
  return n;
}
// A case that cannot run here (e.g. no CUDA device) throws Skip; it counts as skipped, not passed.
struct Skip {
  std::string reason;
};
struct Register {
  Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
  ++failures();
}

// |a - b| <= atol + rtol * max(|a|, |b|)
inline bool close(double a, double b, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  return std::fabs(a - b) <= atol + rtol * std::fmax(std::fabs(a), std::fabs(b));
}

inline int run_all() {
  int failed_cases = 0, skipped_cases = 0;
  for (auto& c : registry()) {
    int before = failures();
    try {
      c.fn();
    } catch (const Skip& s) {
      if (failures() == before) {
        ++skipped_cases;
        std::printf("skip %s: %s\n", c.name, s.reason.c_str());
        continue;
      }
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    }
    bool ok = failures() == before;
    if (!ok) ++failed_cases;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", c.name);
  }
  // "N cases, K failed[, S skipped]": scripts/test.mjs parses this line.
  if (skipped_cases > 0)
    std::printf("%zu cases, %d failed, %d skipped\n", registry().size(), failed_cases, skipped_cases);
  else
    std::printf("%zu cases, %d failed\n", registry().size(), failed_cases);
  return failed_cases == 0 ? 0 : 1;
}

}  // namespace sltest

#define SL_CONCAT2(a, b) a##b
#define SL_CONCAT(a, b) SL_CONCAT2(a, b)
#define TEST_CASE(name)                                                       \
  static void SL_CONCAT(sl_test_fn_, __LINE__)();                             \
  static sltest::Register SL_CONCAT(sl_test_reg_, __LINE__)(name, SL_CONCAT(sl_test_fn_, __LINE__)); \
  static void SL_CONCAT(sl_test_fn_, __LINE__)()
#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) sltest::fail(__FILE__, __LINE__, "CHECK(" #cond ")");        \
  } while (0)
#define CHECK_CLOSE(a, b, rtol, atol)                                         \
  do {                                                                        \
    double sl_a_ = (a), sl_b_ = (b);                                          \
    if (!sltest::close(sl_a_, sl_b_, (rtol), (atol))) {                       \
      char sl_buf_[256];                                                      \
      std::snprintf(sl_buf_, sizeof sl_buf_, "%s = %.17g vs %s = %.17g", #a, sl_a_, #b, sl_b_); \
      sltest::fail(__FILE__, __LINE__, sl_buf_);                              \
    }                                                                         \
  } while (0)
#define CHECK_THROWS(expr, Type)                                              \
  do {                                                                        \
    bool sl_thrown_ = false;                                                  \
    try { expr; } catch (const Type&) { sl_thrown_ = true; }                  \
    if (!sl_thrown_) sltest::fail(__FILE__, __LINE__, "expected " #Type " from " #expr); \
  } while (0)
// Ends the current case as skipped, printing why (checks that already failed still count).
#define SKIP(reason) throw sltest::Skip{std::string(reason)}
#define TEST_MAIN() int main() { return sltest::run_all(); }
