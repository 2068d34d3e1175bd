// Typed exceptions of the core. Each carries a stable code that the Node glue copies
// onto the JS error (err.code), so callers can branch on it without parsing messages.
#pragma once
#include <stdexcept>
#include <string>

namespace speedlimits {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

// A caller broke a documented precondition (size, range, finiteness). The TS layer
// validates first, so reaching one of these from JS is a bug in the TS layer.
struct InvalidArgument : Error {
  explicit InvalidArgument(const std::string& m) : Error("ERR_INVALID_ARG", m) {}
};
// Incompatible dimensions between arguments.
struct ShapeError : Error {
  explicit ShapeError(const std::string& m) : Error("ERR_SHAPE", m) {}
};
// Cholesky met a non-positive pivot.
struct NotPositiveDefinite : Error {
  explicit NotPositiveDefinite(const std::string& m) : Error("ERR_NOT_SPD", m) {}
};
// An iterative kernel that has no meaningful partial result failed (e.g. eigensolver).
struct NoConvergence : Error {
  explicit NoConvergence(const std::string& m) : Error("ERR_NO_CONVERGENCE", m) {}
};
// NaN/Inf appeared where the algorithm cannot continue.
struct NumericalError : Error {
  explicit NumericalError(const std::string& m) : Error("ERR_NUMERICAL", m) {}
};
// Long work stopped because the caller asked for it (AbortSignal).
struct Aborted : Error {
  explicit Aborted(const std::string& m = "the operation was aborted") : Error("ERR_ABORTED", m) {}
};
// A CUDA path was requested but no device or no CUDA build is available.
struct CudaUnavailable : Error {
  explicit CudaUnavailable(const std::string& m) : Error("ERR_CUDA_UNAVAILABLE", m) {}
};
// A CUDA device is there, but the call has no GPU path for these arguments.
struct CudaUnsupported : Error {
  explicit CudaUnsupported(const std::string& m) : Error("ERR_CUDA_UNSUPPORTED", m) {}
};

}  // namespace speedlimits
