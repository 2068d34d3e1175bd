// Tests of ness:: (THEORY.md §4.2, §4.3, §4.6) against the oracles O7(b) (NESS of pure SGD) and O8
// (ULA / SGLD-WR / SGWORLD stationary W2 to the posterior, the η = 1e-2 moments, the first-order
// WOR mean shift); plus the Lyapunov solvers against naive fixed-point iteration, the stationarity of
// the continuous current, the equilibrium case, brute-force enumeration of subsets and permutations
// (θ coordinates, §4.3 verbatim) against the closed forms, and argument errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "check.hpp"
#include "core/errors.hpp"
#include "core/linalg.hpp"
#include "core/ness.hpp"

namespace ns = speedlimits::ness;
using speedlimits::InvalidArgument;
using std::size_t;
using Mat = std::vector<double>;

namespace {

const double kTol = 1e-8;  // THEORY §6: closed forms to 1e-8 relative

// O7 instance.
const Mat kH = {2, 0.6, 0.6, 0.8};
const Mat kCov = {1, 0.9, 0.9, 1.5};

// O8 instance.
const Mat kX = {0.001, 0.299, -0.274, -0.891, -0.455, -0.992, 0.06,  1.34,
                -0.492, -0.62, 0.49,  0.357,  0.105,  -0.93,  -0.029, 0.695};
const Mat kY = {-0.791, -0.064, -0.872, -1.139, -1.017, 0.083, -0.188, -0.163};

ns::NessInput o7b(double eta = 0.05) {
  ns::NessInput in;
  in.P = 2;
  in.H = kH.data();
  in.gradient_covariance = kCov.data();
  in.eta = eta;
  return in;
}

ns::RegressionInput regression(const Mat& X, const Mat& y, size_t P, double eta, ns::Sampler s, size_t B = 2,
                               double T = 0.25, double gamma = 0.25) {
  ns::RegressionInput in;
  in.n = y.size();
  in.P = P;
  in.X = X.data();
  in.y = y.data();
  in.temperature = T;
  in.gamma = gamma;
  in.eta = eta;
  in.batch_size = B;
  in.sampler = s;
  return in;
}

Mat matmul(const Mat& A, const Mat& B, size_t P) {
  Mat C(P * P, 0.0);
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k)
      for (size_t j = 0; j < P; ++j) C[i * P + j] += A[i * P + k] * B[k * P + j];
  return C;
}
Mat transpose(const Mat& A, size_t P) {
  Mat T(P * P);
  for (size_t i = 0; i < P; ++i)
    for (size_t j = 0; j < P; ++j) T[j * P + i] = A[i * P + j];
  return T;
}

// Naive Λ = AΛAᵀ + Q by iterating the map.
Mat iterate_stein(const Mat& A, const Mat& Q, size_t P, int iters) {
  Mat L = Q;
  const Mat At = transpose(A, P);
  for (int t = 0; t < iters; ++t) {
    Mat N = matmul(matmul(A, L, P), At, P);
    for (size_t i = 0; i < P * P; ++i) N[i] += Q[i];
    L = N;
  }
  return L;
}

void check_mat(const Mat& a, const Mat& b, double rtol, double atol) {
  CHECK(a.size() == b.size());
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) CHECK_CLOSE(a[i], b[i], rtol, atol);
}

// Gaussian elimination with partial pivoting (test-local).
std::vector<double> solve(Mat A, std::vector<double> b) {
  const size_t N = b.size();
  for (size_t k = 0; k < N; ++k) {
    size_t p = k;
    for (size_t i = k + 1; i < N; ++i)
      if (std::fabs(A[i * N + k]) > std::fabs(A[p * N + k])) p = i;
    for (size_t j = 0; j < N; ++j) std::swap(A[k * N + j], A[p * N + j]);
    std::swap(b[k], b[p]);
    for (size_t i = k + 1; i < N; ++i) {
      const double f = A[i * N + k] / A[k * N + k];
      for (size_t j = k; j < N; ++j) A[i * N + j] -= f * A[k * N + j];
      b[i] -= f * b[k];
    }
  }
  std::vector<double> x(N);
  for (size_t k = N; k-- > 0;) {
    double s = b[k];
    for (size_t j = k + 1; j < N; ++j) s -= A[k * N + j] * x[j];
    x[k] = s / A[k * N + k];
  }
  return x;
}

// A_S = (n/B) X_Sᵀ X_S + γI and b_S = (n/B) X_Sᵀ y_S (THEORY §4.3).
void batch(const Mat& X, const Mat& y, size_t P, const std::vector<size_t>& S, double gamma, Mat& A, Mat& b) {
  const double c = double(y.size()) / double(S.size());
  A.assign(P * P, 0.0);
  b.assign(P, 0.0);
  for (size_t s : S)
    for (size_t i = 0; i < P; ++i) {
      b[i] += c * X[s * P + i] * y[s];
      for (size_t j = 0; j < P; ++j) A[i * P + j] += c * X[s * P + i] * X[s * P + j];
    }
  for (size_t i = 0; i < P; ++i) A[i * P + i] += gamma;
}

// S solving vec S = K vec S + vec R: (I − K) vec S = vec R; K given as a function of (i,k),(j,l).
Mat solve_second_moment(const Mat& Kkron, const Mat& R, size_t P) {
  const size_t P2 = P * P;
  Mat M(P2 * P2);
  for (size_t a = 0; a < P2; ++a)
    for (size_t b = 0; b < P2; ++b) M[a * P2 + b] = (a == b) - Kkron[a * P2 + b];
  return solve(M, R);
}

void add_kron(Mat& K, const Mat& G, double w, size_t P) {  // K += w G⊗G, (G⊗G)_{(i,k),(j,l)} = G_ij G_kl
  const size_t P2 = P * P;
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k)
      for (size_t j = 0; j < P; ++j)
        for (size_t l = 0; l < P; ++l) K[(i * P + k) * P2 + j * P + l] += w * G[i * P + j] * G[k * P + l];
}

// SGLD-WR by enumerating all C(n,B) subsets, θ coordinates, mean m = θ* (§4.3 verbatim).
Mat brute_wr(const Mat& X, const Mat& y, size_t P, double eta, double T, double gamma, size_t B, const Mat& m) {
  const size_t n = y.size();
  std::vector<std::vector<size_t>> subsets;
  std::vector<size_t> idx(B);
  std::iota(idx.begin(), idx.end(), size_t{0});
  while (true) {
    subsets.push_back(idx);
    size_t t = B;
    while (t > 0 && idx[t - 1] == n - B + (t - 1)) --t;
    if (t == 0) break;
    ++idx[t - 1];
    for (size_t u = t; u < B; ++u) idx[u] = idx[u - 1] + 1;
  }
  const double w = 1.0 / double(subsets.size());
  Mat K(P * P * P * P, 0.0), R(P * P, 0.0), A, b;
  for (const auto& S : subsets) {
    batch(X, y, P, S, gamma, A, b);
    Mat G(P * P);
    for (size_t i = 0; i < P * P; ++i) G[i] = (i % (P + 1) == 0) - eta * A[i];
    add_kron(K, G, w, P);
    std::vector<double> Gm(P, 0.0);
    for (size_t i = 0; i < P; ++i)
      for (size_t j = 0; j < P; ++j) Gm[i] += G[i * P + j] * m[j];
    for (size_t i = 0; i < P; ++i)
      for (size_t k = 0; k < P; ++k) R[i * P + k] += w * (eta * (Gm[i] * b[k] + b[i] * Gm[k]) + eta * eta * b[i] * b[k]);
  }
  for (size_t i = 0; i < P; ++i) R[i * P + i] += 2 * eta * T;
  Mat S = solve_second_moment(K, R, P);
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k) S[i * P + k] -= m[i] * m[k];
  return S;
}

// SGWORLD by enumerating all n! permutations (each ordered partition equally often), θ coordinates.
void brute_wor(const Mat& X, const Mat& y, size_t P, double eta, double T, double gamma, size_t B, Mat& mean, Mat& cov) {
  const size_t n = y.size(), M = n / B;
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), size_t{0});
  Mat EPhi(P * P, 0.0), Epsi(P, 0.0), K(P * P * P * P, 0.0), EPhiPsi(P * P * P, 0.0), EPsiPsi(P * P, 0.0), EQ(P * P, 0.0);
  double count = 0;
  Mat A, b;
  do {
    Mat Phi(P * P, 0.0), psi(P, 0.0), Q(P * P, 0.0);
    for (size_t i = 0; i < P; ++i) Phi[i * P + i] = 1;
    for (size_t j = 0; j < M; ++j) {
      std::vector<size_t> S(perm.begin() + j * B, perm.begin() + (j + 1) * B);
      batch(X, y, P, S, gamma, A, b);
      Mat G(P * P);
      for (size_t i = 0; i < P * P; ++i) G[i] = (i % (P + 1) == 0) - eta * A[i];
      Phi = matmul(G, Phi, P);
      Mat psi1(P, 0.0);
      for (size_t i = 0; i < P; ++i) {
        for (size_t k = 0; k < P; ++k) psi1[i] += G[i * P + k] * psi[k];
        psi1[i] += eta * b[i];
      }
      psi = psi1;
      Q = matmul(matmul(G, Q, P), transpose(G, P), P);
      for (size_t i = 0; i < P; ++i) Q[i * P + i] += 2 * eta * T;
    }
    count += 1;
    for (size_t i = 0; i < P * P; ++i) {
      EPhi[i] += Phi[i];
      EQ[i] += Q[i];
    }
    for (size_t i = 0; i < P; ++i) {
      Epsi[i] += psi[i];
      for (size_t k = 0; k < P; ++k) {
        EPsiPsi[i * P + k] += psi[i] * psi[k];
        for (size_t j = 0; j < P; ++j) EPhiPsi[(i * P + j) * P + k] += Phi[i * P + j] * psi[k];
      }
    }
    add_kron(K, Phi, 1.0, P);
  } while (std::next_permutation(perm.begin(), perm.end()));
  for (double& v : EPhi) v /= count;
  for (double& v : Epsi) v /= count;
  for (double& v : K) v /= count;
  for (double& v : EPhiPsi) v /= count;
  for (double& v : EPsiPsi) v /= count;
  for (double& v : EQ) v /= count;
  Mat IA(P * P);
  for (size_t i = 0; i < P * P; ++i) IA[i] = (i % (P + 1) == 0) - EPhi[i];
  mean = solve(IA, Epsi);
  Mat R(P * P);
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k) {
      double a = 0, c = 0;
      for (size_t j = 0; j < P; ++j) {
        a += EPhiPsi[(i * P + j) * P + k] * mean[j];  // E[(Φm)_i ψ_k]
        c += EPhiPsi[(k * P + j) * P + i] * mean[j];  // E[ψ_i (Φm)_k]
      }
      R[i * P + k] = a + c + EPsiPsi[i * P + k] + EQ[i * P + k];
    }
  cov = solve_second_moment(K, R, P);
  for (size_t i = 0; i < P; ++i)
    for (size_t k = 0; k < P; ++k) cov[i * P + k] -= mean[i] * mean[k];
}

// A small random regression instance (deterministic).
void random_instance(size_t n, size_t P, uint64_t seed, Mat& X, Mat& y) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
  auto u = [&] {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return double(z >> 11) * 0x1.0p-53 * 2 - 1;
  };
  X.resize(n * P);
  y.resize(n);
  for (double& v : X) v = u();
  for (double& v : y) v = u();
}

template <typename F>
bool throws_mentioning(F f, const std::string& word) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return std::string(e.what()).find(word) != std::string::npos;
  }
  return false;
}

}  // namespace

TEST_CASE("O7(b): NESS of pure SGD — Λ exact and continuous, σ_step, 𝒜01") {
  const ns::NessResult r = ns::ness(o7b());
  check_mat(r.covariance, {0.0120111171, 0.0047759689, 0.0047759689, 0.0444606403}, kTol, 0);
  check_mat(r.covariance_continuous, {0.0112039171, 0.0043202765, 0.0043202765, 0.0436347926}, kTol, 0);
  CHECK_CLOSE(r.entropy_per_step, 0.0504017531, kTol, 0);
  CHECK_CLOSE(r.entropy_per_step_continuous, 0.0492857143, kTol, 0);
  CHECK_CLOSE(r.area[1], 6.300219e-4, 1e-6, 0);  // quoted to 7 digits
  CHECK_CLOSE(r.area[2], -r.area[1], 1e-15, 0);
  CHECK(r.area[0] == 0 && r.area[3] == 0);
  check_mat(r.diffusion, {0.00125, 0.001125, 0.001125, 0.001875}, 1e-15, 0);
  CHECK(!r.equilibrium);
  CHECK(r.commutator > 0.1);
}

TEST_CASE("NESS: Λ solves both Lyapunov equations; the continuous current is divergence-free") {
  const double eta = 0.05;
  const ns::NessResult r = ns::ness(o7b(eta));
  Mat A(4), Q(4);
  for (size_t i = 0; i < 4; ++i) {
    A[i] = (i % 3 == 0) - eta * kH[i];
    Q[i] = 2 * r.diffusion[i];
  }
  check_mat(iterate_stein(A, Q, 2, 4000), r.covariance, 1e-12, 1e-16);
  check_mat(ns::discrete_lyapunov(2, A.data(), Q.data()), r.covariance, 1e-12, 1e-16);
  check_mat(ns::continuous_lyapunov(2, kH.data(), r.diffusion.data(), eta), r.covariance_continuous, 1e-14, 0);
  // HΛc + ΛcH = 2𝒟/η
  const Mat HL = matmul(kH, r.covariance_continuous, 2), LH = matmul(r.covariance_continuous, kH, 2);
  for (size_t i = 0; i < 4; ++i) CHECK_CLOSE(HL[i] + LH[i], 2 * r.diffusion[i] / eta, 1e-13, 1e-17);
  // v = Ωθ with Ω = 𝒟Λc⁻¹ − ηH: ∇·(v p) = 0 ⇔ ΩΛc antisymmetric (THEORY §4.6)
  const Mat OL = matmul(r.velocity, r.covariance_continuous, 2);
  CHECK_CLOSE(OL[0], 0, 0, 1e-17);
  CHECK_CLOSE(OL[3], 0, 0, 1e-17);
  CHECK_CLOSE(OL[1], -OL[2], 1e-12, 1e-18);
  CHECK(std::fabs(OL[1]) > 1e-6);
}

TEST_CASE("discrete_lyapunov: non-symmetric A by doubling, symmetric A in its eigenbasis") {
  const Mat A = {0.5, 0.4, -0.3, 0.7, 0.1, 0.2, 0.0, -0.25, 0.6};
  const Mat Q = {2, 0.3, -0.1, 0.3, 1, 0.2, -0.1, 0.2, 0.5};
  check_mat(ns::discrete_lyapunov(3, A.data(), Q.data()), iterate_stein(A, Q, 3, 3000), 1e-12, 1e-15);
  const Mat As = {0.5, 0.2, 0.1, 0.2, -0.6, 0.0, 0.1, 0.0, 0.9};
  check_mat(ns::discrete_lyapunov(3, As.data(), Q.data()), iterate_stein(As, Q, 3, 6000), 1e-11, 1e-15);
  const Mat bad = {1.01, 0.0, 0.0, 0.3};
  const Mat bad_ns = {0.5, 2.0, -0.9, 0.9};  // non-symmetric, spectral radius > 1
  const Mat Q2 = {1, 0, 0, 1};
  CHECK(throws_mentioning([&] { ns::discrete_lyapunov(2, bad.data(), Q2.data()); }, "spectral radius"));
  CHECK(throws_mentioning([&] { ns::discrete_lyapunov(2, bad_ns.data(), Q2.data()); }, "spectral radius"));
  CHECK(ns::discrete_lyapunov(0, nullptr, nullptr).empty());
}

TEST_CASE("NESS: isotropic noise is equilibrium (σ = 0, no area), SGLD-WR adds ηT I") {
  ns::NessInput in;
  in.P = 2;
  in.H = kH.data();
  in.eta = 0.05;
  in.temperature = 0.2;
  const ns::NessResult r = ns::ness(in);
  CHECK(r.equilibrium);
  CHECK_CLOSE(r.entropy_per_step, 0, 0, 1e-14);
  CHECK_CLOSE(r.entropy_per_step_continuous, 0, 0, 1e-14);
  for (double v : r.area) CHECK_CLOSE(v, 0, 0, 1e-18);
  // ULA exact chain: Λ = T H⁻¹(I − ηH/2)⁻¹ (THEORY §4.2)
  const double h00 = 2, h01 = 0.6, h11 = 0.8, eta = 0.05, T = 0.2;
  const Mat M = {h00 * (1 - eta * h00 / 2) - eta * h01 * h01 / 2, h01 * (1 - eta * (h00 + h11) / 2),
                 h01 * (1 - eta * (h00 + h11) / 2), h11 * (1 - eta * h11 / 2) - eta * h01 * h01 / 2};  // H − ηH²/2
  const double det = M[0] * M[3] - M[1] * M[2];
  check_mat(r.covariance, {T * M[3] / det, -T * M[1] / det, -T * M[2] / det, T * M[0] / det}, 1e-12, 0);
  // SGLD-WR near a minimum: 𝒟 = ηT I + (η²/2)Cov, diffusion given directly gives the same Λ
  ns::NessInput w = o7b();
  w.temperature = 0.2;
  const ns::NessResult a = ns::ness(w);
  ns::NessInput d;
  d.P = 2;
  d.H = kH.data();
  d.eta = 0.05;
  d.diffusion = a.diffusion.data();
  const ns::NessResult b = ns::ness(d);
  check_mat(b.covariance, a.covariance, 1e-15, 0);
  CHECK_CLOSE(b.entropy_per_step, a.entropy_per_step, 1e-13, 0);
  CHECK(a.entropy_per_step > 0 && a.entropy_per_step < ns::ness(o7b()).entropy_per_step);
}

TEST_CASE("NESS: σ_step exact chain agrees with continuous σ to O(η)") {
  double prev = 1;
  for (double eta : {0.04, 0.02, 0.01}) {
    const ns::NessResult r = ns::ness(o7b(eta));
    const double rel = std::fabs(r.entropy_per_step / r.entropy_per_step_continuous - 1);
    CHECK(rel < prev * 0.6);  // shrinks ~linearly with η
    prev = rel;
  }
}

TEST_CASE("NESS: argument errors name the argument") {
  const Mat asym = {2, 0.6, 0.5, 0.8}, indef = {1, 2, 2, 1}, C = kCov;
  auto with = [](ns::NessInput in, auto mod) { mod(in); return in; };
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.H = asym.data(); })); }, "H must be symmetric"));
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.H = indef.data(); })); }, "H must be positive definite"));
  CHECK(throws_mentioning([&] { ns::ness(o7b(1.0)); }, "eta must be < 2/h_max"));
  CHECK(throws_mentioning([&] { ns::ness(o7b(0)); }, "eta must be a finite number > 0"));
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.temperature = -1; })); }, "temperature"));
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.gradient_covariance = nullptr; })); }, "no noise"));
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.gradient_covariance = indef.data(); })); },
                          "gradientCovariance must be positive semidefinite"));
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.diffusion = C.data(); })); }, "not both"));
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.caller = "myNess"; i.eta = -1; })); }, "myNess: eta"));
  const Mat nanH = {2, 0.6, 0.6, NAN};
  CHECK(throws_mentioning([&] { ns::ness(with(o7b(), [&](auto& i) { i.H = nanH.data(); })); }, "H must contain only finite"));
}

TEST_CASE("O8: stationary W2 to the posterior of ULA, SGLD-WR and SGWORLD") {
  const double etas[] = {1e-3, 3e-3, 1e-2, 3e-2};
  const double ula[] = {3.266852e-4, 9.840842e-4, 3.328402e-3, 1.042888e-2};
  const double wr[] = {2.073703e-3, 6.207438e-3, 2.056190e-2, 6.121670e-2};
  const double wor[] = {1.070395e-3, 3.198079e-3, 1.053372e-2, 3.164109e-2};
  for (int k = 0; k < 4; ++k) {
    const ns::SamplerMoments a = ns::sampler_moments(regression(kX, kY, 2, etas[k], ns::Sampler::Ula));
    const ns::SamplerMoments b = ns::sampler_moments(regression(kX, kY, 2, etas[k], ns::Sampler::SgldWr));
    const ns::SamplerMoments c = ns::sampler_moments(regression(kX, kY, 2, etas[k], ns::Sampler::Sgworld));
    CHECK_CLOSE(a.w2, ula[k], 1e-6, 0);
    CHECK_CLOSE(b.w2, wr[k], 1e-6, 0);
    CHECK_CLOSE(c.w2, wor[k], 1e-6, 0);
    CHECK(c.partitions == 2520);  // 8!/(2!)^4
    CHECK_CLOSE(a.w2 * a.w2, a.w2sq, 1e-14, 0);
  }
  const ns::SamplerMoments a = ns::sampler_moments(regression(kX, kY, 2, 1e-2, ns::Sampler::Ula));
  check_mat(a.posterior_mean, {1.11102004, -0.23970218}, 1e-7, 0);
  check_mat(a.posterior_covariance, {0.31046173, -0.06122185, -0.06122185, 0.05537985}, 1e-6, 0);
  check_mat(a.mean, a.posterior_mean, 0, 0);
  check_mat(a.covariance, {0.31171825, -0.06121449, -0.06121449, 0.05666705}, 1e-6, 0);
  const ns::SamplerMoments b = ns::sampler_moments(regression(kX, kY, 2, 1e-2, ns::Sampler::SgldWr));
  check_mat(b.mean, a.posterior_mean, 0, 0);
  check_mat(b.covariance, {0.31544985, -0.06109732, -0.06109732, 0.06406981}, 1e-6, 0);
  CHECK(b.mean_shift_first_order.empty() && b.partitions == 0);
  const ns::SamplerMoments c = ns::sampler_moments(regression(kX, kY, 2, 1e-2, ns::Sampler::Sgworld));
  check_mat(c.mean, {1.12017815, -0.24400677}, 1e-6, 0);
  check_mat(c.covariance, {0.3094653, -0.06047188, -0.06047188, 0.05624603}, 1e-6, 0);
}

TEST_CASE("O8: first-order WOR mean shift vs the exact SGWORLD mean at η = 1e-3") {
  const ns::SamplerMoments c = ns::sampler_moments(regression(kX, kY, 2, 1e-3, ns::Sampler::Sgworld));
  check_mat(c.mean_shift_first_order, {0.00094416, -0.00043078}, 1e-5, 0);  // quoted to 5 digits
  CHECK_CLOSE(c.mean[0] - c.posterior_mean[0], 0.00094128, 1e-4, 0);
  CHECK_CLOSE(c.mean[1] - c.posterior_mean[1], -0.00043073, 1e-4, 0);
  check_mat(ns::first_order_mean_shift(regression(kX, kY, 2, 1e-3, ns::Sampler::Sgworld)), c.mean_shift_first_order, 0, 0);
}

TEST_CASE("SGLD-WR closed-form subset averages equal enumeration of all C(n,B) subsets") {
  Mat X, y;
  random_instance(7, 3, 5, X, y);
  for (size_t B : {1, 2, 3, 6, 7}) {
    const ns::SamplerMoments r = ns::sampler_moments(regression(X, y, 3, 0.02, ns::Sampler::SgldWr, B, 0.3, 0.1));
    check_mat(r.covariance, brute_wr(X, y, 3, 0.02, 0.3, 0.1, B, r.posterior_mean), 1e-9, 1e-13);
  }
  // B = n is full-batch ULA
  const ns::SamplerMoments full = ns::sampler_moments(regression(X, y, 3, 0.02, ns::Sampler::SgldWr, 7, 0.3, 0.1));
  const ns::SamplerMoments ula = ns::sampler_moments(regression(X, y, 3, 0.02, ns::Sampler::Ula, 7, 0.3, 0.1));
  check_mat(full.covariance, ula.covariance, 1e-11, 0);
}

TEST_CASE("SGWORLD enumeration equals averaging over all n! permutations (also with dropRemainder)") {
  Mat X, y;
  random_instance(6, 2, 9, X, y);
  for (size_t B : {1, 2, 3, 4}) {
    ns::RegressionInput in = regression(X, y, 2, 0.03, ns::Sampler::Sgworld, B, 0.2, 0.3);
    in.drop_remainder = B == 4;
    const ns::SamplerMoments r = ns::sampler_moments(in);
    Mat mean, cov;
    brute_wor(X, y, 2, 0.03, 0.2, 0.3, B, mean, cov);
    for (size_t i = 0; i < 2; ++i) CHECK_CLOSE(r.mean[i], mean[i], 1e-9, 1e-13);
    check_mat(r.covariance, cov, 1e-8, 1e-13);
    const double expect_count = B == 1 ? 720 : B == 2 ? 90 : B == 3 ? 20 : 15;
    CHECK(r.partitions == expect_count);
  }
  // one batch per epoch (B = n) is ULA
  const ns::SamplerMoments wor = ns::sampler_moments(regression(X, y, 2, 0.03, ns::Sampler::Sgworld, 6, 0.2, 0.3));
  const ns::SamplerMoments ula = ns::sampler_moments(regression(X, y, 2, 0.03, ns::Sampler::Ula, 6, 0.2, 0.3));
  check_mat(wor.covariance, ula.covariance, 1e-11, 0);
  check_mat(wor.mean, ula.mean, 1e-11, 1e-14);
}

TEST_CASE("sampler_moments: argument errors name the argument") {
  auto in = [](ns::Sampler s) { return regression(kX, kY, 2, 1e-2, s); };
  auto with = [](ns::RegressionInput r, auto mod) { mod(r); return r; };
  CHECK(throws_mentioning([&] { ns::sampler_moments(with(in(ns::Sampler::Sgworld), [](auto& r) { r.batch_size = 3; })); },
                          "does not divide"));
  ns::RegressionInput dr = with(in(ns::Sampler::Sgworld), [](auto& r) { r.batch_size = 3; r.drop_remainder = true; });
  CHECK(ns::sampler_moments(dr).partitions == 560);  // C(8,3)·C(5,3)
  CHECK(throws_mentioning([&] { ns::sampler_moments(with(in(ns::Sampler::Sgworld), [](auto& r) { r.batch_size = 1; r.max_partitions = 1000; })); },
                          "40320 ordered partitions"));
  CHECK(throws_mentioning([&] { ns::sampler_moments(with(in(ns::Sampler::SgldWr), [](auto& r) { r.batch_size = 0; })); },
                          "batchSize"));
  CHECK(throws_mentioning([&] { ns::sampler_moments(with(in(ns::Sampler::SgldWr), [](auto& r) { r.batch_size = 9; })); },
                          "batchSize"));
  CHECK(throws_mentioning([&] { ns::sampler_moments(with(in(ns::Sampler::Ula), [](auto& r) { r.temperature = 0; })); },
                          "temperature"));
  CHECK(throws_mentioning([&] { ns::sampler_moments(with(in(ns::Sampler::Ula), [](auto& r) { r.eta = 0.6; })); },
                          "eta must be < 2/h_max"));
  CHECK(throws_mentioning([&] { ns::sampler_moments(with(in(ns::Sampler::Ula), [](auto& r) { r.gamma = -1; })); }, "gamma"));
  // rank-deficient X with γ = 0: H not positive definite
  const Mat X1 = {1, 2, 2, 4, -1, -2}, y1 = {1, 0, 2};
  CHECK(throws_mentioning([&] { ns::sampler_moments(regression(X1, y1, 2, 1e-2, ns::Sampler::Ula, 1, 0.25, 0.0)); },
                          "positive definite"));
  // P > 16 for the P²×P² systems
  Mat X17, y17;
  random_instance(20, 17, 3, X17, y17);
  CHECK(throws_mentioning([&] { ns::sampler_moments(regression(X17, y17, 17, 1e-3, ns::Sampler::SgldWr, 2)); }, "P must be <= 16"));
  CHECK(ns::sampler_moments(regression(X17, y17, 17, 1e-3, ns::Sampler::Ula, 2)).covariance.size() == 289);
  // mean-square unstable SGLD-WR although η h_max < 2: P = 1, n = 2, B = 1, A_S ∈ {2 + γ, γ}
  const Mat Xu = {1, 0}, yu = {0.5, 0.2};
  CHECK(throws_mentioning([&] { ns::sampler_moments(regression(Xu, yu, 1, 1.5, ns::Sampler::SgldWr, 1, 0.1, 0.1)); },
                          "mean-square unstable"));
  const Mat Xn = {0.1, NAN};
  CHECK(throws_mentioning([&] { ns::sampler_moments(regression(Xn, yu, 1, 0.1, ns::Sampler::Ula, 1)); }, "X must contain only finite"));
  CHECK(std::string(ns::sampler_name(ns::Sampler::Sgworld)) == "sgworld");
}

TEST_CASE("O7(b) and O8 on the builtin linear-algebra kernels too") {
  namespace la = speedlimits::linalg;
  const la::Backend before = la::backend();
  la::set_backend(la::Backend::Builtin);
  const ns::NessResult r = ns::ness(o7b());
  CHECK_CLOSE(r.covariance[1], 0.0047759689, kTol, 0);
  CHECK_CLOSE(r.entropy_per_step, 0.0504017531, kTol, 0);
  CHECK_CLOSE(ns::sampler_moments(regression(kX, kY, 2, 1e-2, ns::Sampler::SgldWr)).w2, 2.056190e-2, 1e-6, 0);
  CHECK_CLOSE(ns::sampler_moments(regression(kX, kY, 2, 1e-2, ns::Sampler::Sgworld)).w2, 1.053372e-2, 1e-6, 0);
  la::set_backend(before);
}

int main() { return sltest::run_all(); }
