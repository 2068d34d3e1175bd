// Per-trajectory entropy production of linear chains started in their stationary Gaussian
// (THEORY.md §4.4–4.6); see core/ness.hpp for the contract.
#include <cmath>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/ness.hpp"
#include "core/rng.hpp"
#include "core/threads.hpp"

namespace speedlimits::ness {

namespace {

using Mat = std::vector<double>;
constexpr std::uint64_t kBatchStreamBase = std::uint64_t(1) << 40;

void require(bool ok, const std::string& message) {
  if (!ok) throw InvalidArgument(message);
}

// Lower Cholesky factor of the SPD matrix S (P×P), upper triangle zeroed.
Mat cholesky(const Mat& S, size_t P) {
  Mat L = S;
  linalg::potrf(linalg::Uplo::Lower, P, L.data(), P);
  for (size_t i = 0; i < P; ++i)
    for (size_t j = i + 1; j < P; ++j) L[i * P + j] = 0;
  return L;
}

// Inverse of the SPD matrix S from its Cholesky factor (P small: columns solved one by one).
Mat spd_inverse(const Mat& L, size_t P) {
  Mat inv(P * P, 0.0), col(P);
  for (size_t c = 0; c < P; ++c) {
    for (size_t i = 0; i < P; ++i) {  // L z = e_c
      double v = i == c ? 1.0 : 0.0;
      for (size_t k = 0; k < i; ++k) v -= L[i * P + k] * col[k];
      col[i] = v / L[i * P + i];
    }
    for (size_t i = P; i-- > 0;) {  // Lᵀ x = z
      double v = col[i];
      for (size_t k = i + 1; k < P; ++k) v -= L[k * P + i] * col[k];
      col[i] = v / L[i * P + i];
    }
    for (size_t i = 0; i < P; ++i) inv[i * P + c] = col[i];
  }
  return inv;
}

double quad(const Mat& A, const double* x, size_t P) {
  double s = 0;
  for (size_t i = 0; i < P; ++i) {
    double r = 0;
    for (size_t j = 0; j < P; ++j) r += A[i * P + j] * x[j];
    s += x[i] * r;
  }
  return s;
}

}  // namespace

StationaryChainEntropy stationary_chain_entropy(const StationaryChainInput& in, const Control& control) {
  const std::string fn = in.caller ? in.caller : "ness::stationary_chain_entropy";
  require(in.steps >= 1, fn + ": steps must be >= 1");
  require(in.replicas >= 1, fn + ": replicas must be >= 1");
  StationaryChainEntropy r;
  const bool sgld = in.kind == ChainKind::SgldMinibatch;
  Mat H, D, theta_star;
  double eta;
  size_t P;
  if (!sgld) {
    P = in.P;
    NessInput ni;
    ni.P = P;
    ni.H = in.H;
    ni.diffusion = in.diffusion;
    ni.eta = in.eta;
    ni.caller = fn.c_str();
    require(in.diffusion != nullptr, fn + ": diffusion is required for the Gaussian chain");
    const NessResult nr = ness(ni);  // validates H, 𝒟, η
    H.assign(in.H, in.H + P * P);
    D = nr.diffusion;
    theta_star.assign(P, 0.0);
    if (in.theta_star)
      for (size_t i = 0; i < P; ++i) {
        require(std::isfinite(in.theta_star[i]), fn + ": thetaStar must be finite");
        theta_star[i] = in.theta_star[i];
      }
    r.mean = theta_star;
    r.covariance = nr.covariance;
    r.entropy_per_step = nr.entropy_per_step;
    r.exact = true;
    eta = in.eta;
  } else {
    RegressionInput reg = in.regression;
    reg.caller = fn.c_str();
    reg.sampler = Sampler::SgldWr;
    P = reg.P;
    const SamplerMoments m = sampler_moments(reg);  // validates the regression, η, B
    const Mat cov = gradient_noise_covariance(reg);
    H.assign(P * P, 0.0);
    for (size_t s = 0; s < reg.n; ++s)
      for (size_t i = 0; i < P; ++i)
        for (size_t j = 0; j < P; ++j) H[i * P + j] += reg.X[s * P + i] * reg.X[s * P + j];
    for (size_t i = 0; i < P; ++i) H[i * P + i] += reg.gamma;
    NessInput ni;
    ni.P = P;
    ni.H = H.data();
    ni.gradient_covariance = cov.data();
    ni.eta = reg.eta;
    ni.temperature = reg.temperature;
    ni.caller = fn.c_str();
    const NessResult nr = ness(ni);
    D = nr.diffusion;
    theta_star = m.posterior_mean;
    r.mean = m.mean;
    r.covariance = m.covariance;
    r.entropy_per_step = nr.entropy_per_step;
    r.exact = false;
    eta = reg.eta;
  }
  r.P = P;
  r.hessian = H;
  r.kernel_diffusion = D;
  const Mat Lp = cholesky(r.covariance, P), Pinv = spd_inverse(Lp, P);
  const Mat Ld = cholesky(D, P), Dinv = spd_inverse(Ld, P);
  Mat Lnoise = Ld;  // noise N(0, 2𝒟) = √2·L_𝒟 z
  for (double& v : Lnoise) v *= std::sqrt(2.0);
  const size_t M = in.replicas, K = in.steps;
  r.sigma.assign(M, 0.0);
  r.medium.assign(M, 0.0);
  const RegressionInput& reg = in.regression;
  const size_t n = sgld ? reg.n : 0, B = sgld ? reg.batch_size : 0;
  const double noise_scale = sgld ? std::sqrt(2 * eta * reg.temperature) : 0;
  long long done = 0;
#pragma omp parallel for num_threads(speedlimits::get_threads()) schedule(dynamic, 64)
  for (long long ri = 0; ri < static_cast<long long>(M); ++ri) {
    if (control.aborted()) continue;  // cannot break out of an OpenMP loop: skip the rest
    const size_t rep = static_cast<size_t>(ri);
    rng::Stream noise(in.seed, rep), batches(in.seed, kBatchStreamBase + rep);
    std::vector<double> z(P), th(P), next(P), g(P), gn(P), delta(P), a(P), b(P), ghat(P), u;
    std::vector<size_t> perm;
    if (sgld) {
      perm.resize(n);
      u.resize(B);
    }
    // θ_0 = μ + L_Λ z.
    noise.normal(z.data(), P);
    for (size_t i = 0; i < P; ++i) {
      double v = r.mean[i];
      for (size_t k = 0; k <= i; ++k) v += Lp[i * P + k] * z[k];
      th[i] = v;
    }
    auto centred_quad = [&](const std::vector<double>& x) {
      for (size_t i = 0; i < P; ++i) a[i] = x[i] - r.mean[i];
      return quad(Pinv, a.data(), P);
    };
    auto grad = [&](const std::vector<double>& x, std::vector<double>& out) {
      for (size_t i = 0; i < P; ++i) {
        double v = 0;
        for (size_t j = 0; j < P; ++j) v += H[i * P + j] * (x[j] - theta_star[j]);
        out[i] = v;
      }
    };
    const double log_p0 = -0.5 * centred_quad(th);
    double medium = 0;
    grad(th, g);
    for (size_t k = 0; k < K; ++k) {
      noise.normal(z.data(), P);
      if (!sgld) {
        for (size_t i = 0; i < P; ++i) {
          double v = th[i] - eta * g[i];
          for (size_t j = 0; j <= i; ++j) v += Lnoise[i * P + j] * z[j];
          next[i] = v;
        }
      } else {
        // A uniform B-subset by a partial Fisher–Yates shuffle of 0..n−1.
        for (size_t s = 0; s < n; ++s) perm[s] = s;
        batches.uniform(u.data(), B);
        for (size_t j = 0; j < B; ++j) {
          size_t pick = j + static_cast<size_t>(u[j] * double(n - j));
          if (pick >= n) pick = n - 1;
          std::swap(perm[j], perm[pick]);
        }
        // ĝ_S(θ) = (n/B) Σ_{s∈S} x_s(x_sᵀθ − y_s) + γθ.
        for (size_t i = 0; i < P; ++i) ghat[i] = reg.gamma * th[i];
        for (size_t j = 0; j < B; ++j) {
          const double* x = reg.X + perm[j] * P;
          double res = -reg.y[perm[j]];
          for (size_t i = 0; i < P; ++i) res += x[i] * th[i];
          for (size_t i = 0; i < P; ++i) ghat[i] += (double(n) / double(B)) * x[i] * res;
        }
        for (size_t i = 0; i < P; ++i) next[i] = th[i] - eta * ghat[i] + noise_scale * z[i];
      }
      grad(next, gn);
      // ln W(θ'|θ)/W(θ|θ') = −¼(Δ+ηg)ᵀ𝒟⁻¹(Δ+ηg) + ¼(Δ−ηg')ᵀ𝒟⁻¹(Δ−ηg').
      for (size_t i = 0; i < P; ++i) {
        delta[i] = next[i] - th[i];
        a[i] = delta[i] + eta * g[i];
        b[i] = delta[i] - eta * gn[i];
      }
      medium += -0.25 * quad(Dinv, a.data(), P) + 0.25 * quad(Dinv, b.data(), P);
      th.swap(next);
      g.swap(gn);
    }
    r.medium[rep] = medium;
    r.sigma[rep] = log_p0 + 0.5 * centred_quad(th) + medium;
    long long d;
#pragma omp atomic capture
    d = ++done;
    if ((d & 255) == 0) control.report(double(d) / double(M));
  }
  control.check();
  control.report(1.0);
  return r;
}

}  // namespace speedlimits::ness
