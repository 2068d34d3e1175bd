/**
 * The analytic speed limit: closed-form efficiency 𝓔(t) = W2²/(t·η T Σ_t) of linear and
 * linearised (NTK) models under gradient flow, gradient descent and Langevin dynamics
 * (THEORY.md §1.4–§3). The numerics live in native/core/thermo; this layer validates and shapes.
 *
 * Conventions (THEORY §0): the loss is the *sum* of squared errors plus (γ/2)|θ|², η is the
 * learning rate (= mobility), one gradient step is one unit of time, T is in loss units, and the
 * ensemble starts at θ(0) ~ N(θ̄0, σ0² I).
 */
import { checkMatrix, type Matrix } from './matrix.js';
import { native, type NativeThermoSeries } from './native.js';
import { checkBoolean, checkInteger, checkNumberInRange, checkOptions, describeValue } from './validate.js';

/** Gradient flow (T = 0) of the initial ensemble; every array is indexed like `times`. */
export interface GradientFlowSeries {
  /** 𝓔(t) = W2²/(t·dissipation) ∈ [0, 1]; 1 at t = 0 (the limit), NaN when nothing moves. */
  efficiency: Float64Array;
  /** W2²(p0, pt) = E|θt − θ0|² (the flow map is an optimal transport map for a linear model). */
  w2sq: Float64Array;
  /** ∫0^t E|θ̇|² ds = η·lossDrop (the gradient-flow limit of η T Σ_t). */
  dissipation: Float64Array;
  /** ⟨L⟩0 − ⟨L⟩t. */
  lossDrop: Float64Array;
  /** ⟨L⟩t (an excess over the unknown minimum when the input was `offsetsSquared`). */
  loss: Float64Array;
  /** With `pathLength: true`: ℓ(t) = ∫0^t |ṗ|_W ds by quadrature. */
  pathLength?: Float64Array;
  /** W2²/ℓ² (path straightness; 𝓔 = straightness × uniformity, THEORY §1.4). */
  straightness?: Float64Array;
  /** ℓ²/(t·dissipation) (speed uniformity). */
  uniformity?: Float64Array;
}

/** Langevin dynamics at T > 0: the exact Ornstein–Uhlenbeck solution per mode (THEORY §2.4). */
export interface LangevinSeries {
  /** 𝓔(t) = W2²/(t η T Σ_t); 1 at t = 0 (the limit). */
  efficiency: Float64Array;
  /** W2²(p0, pt) between the Gaussian ensembles (Bures). */
  w2sq: Float64Array;
  /** Σ_t = ΔS_sys + heat/T, total entropy production in nats. */
  entropyProduction: Float64Array;
  /** T ΔS_m = ⟨L⟩0 − ⟨L⟩t (heat released into the bath, loss units). */
  heat: Float64Array;
  /** ΔS_sys = S[p_t] − S[p_0] (nats). */
  systemEntropy: Float64Array;
  /** σ(t) = dΣ/dt (nats per step); η T σ is the squared W2 speed. */
  rate: Float64Array;
  /** ⟨L⟩t. */
  loss: Float64Array;
  /** Σ∞ = D_KL(p0 ‖ π) with π = N(θ*, T H⁻¹); Infinity when some direction has h = 0 (γ = 0 null space). */
  totalEntropyProduction: number;
  pathLength?: Float64Array;
  straightness?: Float64Array;
  uniformity?: Float64Array;
}

/** Discrete gradient descent (T = 0) at integer step counts K (THEORY §1.6, §2.3). */
export interface DiscreteSeries {
  /** E|θ_K − θ0|² (W2² when η h_max ≤ 1, an upper bound otherwise). */
  displacement: Float64Array;
  /** Σ_{k<K} E|θ_{k+1} − θ_k|². */
  stepSum: Float64Array;
  /** ⟨L⟩0 − ⟨L⟩K. */
  lossDrop: Float64Array;
  /** ⟨L⟩K. */
  loss: Float64Array;
  /** displacement/(K·stepSum) ∈ [0, 1]; NaN at K = 0. */
  efficiencyKinetic: Float64Array;
  /** displacement/(η K·lossDrop); can exceed 1 by O(η λ_max); NaN at K = 0. */
  efficiencyLoss: Float64Array;
  /** η h_max < 2 (otherwise GD does not converge). */
  stable: boolean;
}

/** Result of {@link analyticEfficiency}. */
export interface SpeedLimitSeries {
  times: Float64Array;
  gradientFlow: GradientFlowSeries;
  /** Present when T > 0. */
  langevin?: LangevinSeries;
  /** Present with `discrete: true`. */
  discrete?: DiscreteSeries;
}

type Numbers = Float64Array | readonly number[];

/** Options of {@link analyticEfficiency}. */
export interface AnalyticEfficiencyOptions {
  /** λ_k ≥ 0, eigenvalues of the NTK Gram matrix K = J Jᵀ (summed loss; divide by n for a mean loss). */
  eigenvalues: Numbers;
  /**
   * r_k(0) = u_kᵀ(F(θ̄0) − y), the mean initial residual in K's eigenbasis (from spectrum's label
   * shares p_k: r_k² = p_k |r(0)|²). λ_k = 0 modes are frozen. With γ > 0 the model is taken to be
   * F = Jθ with θ̄0 = 0 (so r(0) = −y); use {@link linearDynamics} for any other start.
   */
  residualProjections?: Numbers;
  /** Alternative to residualProjections: E_k = (z_k(0) − z*_k)², each a parameter direction with h = λ_k + γ. */
  offsetsSquared?: Numbers;
  /** Learning rate η > 0. */
  eta: number;
  /** T ≥ 0 (default 0). `T` is accepted as an alias. */
  temperature?: number;
  T?: number;
  /** Weight decay γ ≥ 0 (default 0). */
  gamma?: number;
  /** Times t ≥ 0 in steps; integers with `discrete`. */
  times: Numbers;
  /** The initial ensemble N(θ̄0, σ0² I); σ0 > 0 is required when T > 0. Default σ0 = 0. */
  init?: { sigma0?: number };
  /**
   * P, the number of parameters: the P − rank directions outside J's row space carry σ0² (they
   * matter when σ0 > 0 and T > 0 or γ > 0). Default: no such directions.
   */
  numParams?: number;
  /** Add the discrete-GD closed forms (default false). */
  discrete?: boolean;
  /** Add ℓ(t), straightness and uniformity by quadrature (default false). */
  pathLength?: boolean;
}

/** A Float64Array or plain number array, copied to a Float64Array, every entry finite (and ≥ 0). */
function numbers(fn: string, name: string, value: unknown, nonNegative: boolean): Float64Array {
  let out: Float64Array;
  if (value instanceof Float64Array) out = value;
  else if (Array.isArray(value) && value.every((v) => typeof v === 'number')) out = Float64Array.from(value as number[]);
  else throw new TypeError(`${fn}: ${name} must be a Float64Array or an array of numbers, got ${describeValue(value)}`);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (!Number.isFinite(v) || (nonNegative && v < 0))
      throw new RangeError(`${fn}: ${name} must contain only finite${nonNegative ? ' non-negative' : ''} values, got ${v} at index ${i}`);
  }
  return out;
}

function checkTimes(fn: string, value: unknown, integers: boolean): Float64Array {
  const t = numbers(fn, 'times', value, true);
  if (t.length === 0) throw new RangeError(`${fn}: times must not be empty`);
  if (integers)
    t.forEach((v, i) => {
      if (!Number.isInteger(v)) throw new RangeError(`${fn}: times must be integer step counts with discrete: true, got ${v} at index ${i}`);
    });
  return t;
}

/** η, T (or temperature), γ, σ0, discrete, pathLength shared by both entry points. */
function commonOptions(fn: string, o: Record<string, unknown>, sigma0: unknown, sigmaName: string) {
  if (o.eta === undefined) throw new TypeError(`${fn}: eta is required`);
  const eta = checkNumberInRange(fn, 'eta', o.eta, { min: 0, exclusiveMin: true });
  if (o.T !== undefined && o.temperature !== undefined && o.T !== o.temperature)
    throw new RangeError(`${fn}: T and temperature are the same option, got both (${describeValue(o.T)}, ${describeValue(o.temperature)})`);
  const tName = o.T !== undefined ? 'T' : 'temperature';
  const temperature = o[tName] === undefined ? 0 : checkNumberInRange(fn, tName, o[tName], { min: 0 });
  const gamma = o.gamma === undefined ? 0 : checkNumberInRange(fn, 'gamma', o.gamma, { min: 0 });
  const s0 = sigma0 === undefined ? 0 : checkNumberInRange(fn, sigmaName, sigma0, { min: 0 });
  if (temperature > 0 && s0 === 0)
    throw new RangeError(`${fn}: ${sigmaName} must be > 0 when ${tName} > 0 (a point-mass start has infinite entropy production, so 𝓔 = 0; THEORY §2.4)`);
  const discrete = o.discrete === undefined ? false : checkBoolean(fn, 'discrete', o.discrete);
  const pathLength = o.pathLength === undefined ? false : checkBoolean(fn, 'pathLength', o.pathLength);
  return { eta, temperature, gamma, sigma0: s0, discrete, pathLength };
}

function required(fn: string, options: unknown): Record<string, unknown> {
  if (options === undefined) throw new TypeError(`${fn}: options must be an object, got undefined`);
  return checkOptions<Record<string, unknown>>(fn, options);
}

function shapeSeries(s: NativeThermoSeries): SpeedLimitSeries {
  const out: SpeedLimitSeries = { times: s.times, gradientFlow: s.gradientFlow };
  if (s.langevin) out.langevin = s.langevin;
  if (s.discrete) out.discrete = s.discrete;
  return out;
}

/**
 * The analytic efficiency 𝓔(t) of gradient flow (and, with T > 0, of Langevin dynamics; with
 * `discrete`, of gradient descent) predicted by a kernel spectrum, O(modes × times)
 * (THEORY §2.2–§2.5, §3). Single mode: 𝓔 = (2/x)·tanh(x/2), x = ηλt.
 * @example
 * const lam = Float64Array.from({ length: 1000 }, (_, k) => (k + 1) ** -1.5);
 * const r = lam.map((_, k) => (k + 1) ** -0.25);
 * const { gradientFlow } = analyticEfficiency({ eigenvalues: lam, residualProjections: r, eta: 1, times: [1, 10, 100] });
 * gradientFlow.efficiency; // ≈ [0.964, 0.769, 0.677]
 */
export function analyticEfficiency(options: AnalyticEfficiencyOptions): SpeedLimitSeries {
  const fn = 'analyticEfficiency';
  const o = required(fn, options);
  const lam = numbers(fn, 'eigenvalues', o.eigenvalues, true);
  if (lam.length === 0) throw new RangeError(`${fn}: eigenvalues must not be empty`);
  const hasR = o.residualProjections !== undefined, hasE = o.offsetsSquared !== undefined;
  if (hasR === hasE) throw new TypeError(`${fn}: give exactly one of residualProjections and offsetsSquared`);
  const name = hasR ? 'residualProjections' : 'offsetsSquared';
  const given = numbers(fn, name, hasR ? o.residualProjections : o.offsetsSquared, hasE);
  if (given.length !== lam.length) throw new RangeError(`${fn}: ${name} has ${given.length} entries but eigenvalues has ${lam.length}`);
  const init = checkOptions<{ sigma0: number }>(fn, o.init, 'init');
  const c = commonOptions(fn, o, init.sigma0, 'init.sigma0');
  const times = checkTimes(fn, o.times, c.discrete);
  // Parameter directions already represented: the positive eigenvalues (residuals) or every entry (offsets).
  const represented = hasR ? lam.reduce((n, v) => n + (v > 0 ? 1 : 0), 0) : lam.length;
  const P = o.numParams === undefined ? represented : checkInteger(fn, 'numParams', o.numParams, represented);
  const s = native().analyticEfficiency(lam, hasR ? given : null, hasE ? given : null, times, {
    eta: c.eta, temperature: c.temperature, gamma: c.gamma, sigma0: c.sigma0, nullDirections: P - represented,
    discrete: c.discrete, pathLength: c.pathLength,
  });
  return shapeSeries(s);
}

/** Result of {@link powerLawPlateau}. */
export interface PowerLawPlateau {
  /** 𝓔∞ = (4/ν)(1 − 2^(1−ν)) when `applies`, else NaN. */
  value: number;
  /** 1 − α < β < 1: training is "optimal in a scaling sense" (THEORY §3.2). */
  applies: boolean;
  /** ν = (1 + α − β)/α. */
  nu: number;
  /**
   * 'scaling' (1 − α < β < 1, plateau 𝓔∞); 'non-optimal' (1 ≤ β < 1 + α, 𝓔 ∝ τ^(−(β−1)/α), β = 1: ∝ 1/log τ);
   * 'saturated' (β ≥ 1 + α, 𝓔 ∝ 1/τ); 'tail-dominated' (β ≤ 1 − α, 𝓔 ≈ 1 up to N-dependent times, no plateau).
   */
  regime: 'scaling' | 'non-optimal' | 'saturated' | 'tail-dominated';
  /** 𝓔 ∝ τ^(−decayExponent) for 1 ≪ τ ≪ N^α: 0, (β−1)/α or 1. */
  decayExponent: number;
}

/**
 * The scaling-regime plateau of the efficiency for λ_k ∝ k^(−α), r_k(0)² ∝ k^(−β) (THEORY §3.2).
 * @example powerLawPlateau(1.5, 0.5) // { value: 0.6188984220…, applies: true, nu: 1.333…, regime: 'scaling', decayExponent: 0 }
 */
export function powerLawPlateau(alpha: number, beta: number): PowerLawPlateau {
  const fn = 'powerLawPlateau';
  const a = checkNumberInRange(fn, 'alpha', alpha, { min: 0, exclusiveMin: true });
  const b = checkNumberInRange(fn, 'beta', beta, {});
  return native().powerLawPlateau(a, b) as PowerLawPlateau;
}

/** Result of {@link regimeBoundaries} (times in steps; τ = η λ_max t). */
export interface RegimeBoundaries {
  /** t = 1/(η λ_max), τ = 1: the early regime (𝓔 = 1 − O(τ²)) ends here. */
  earlyEnd: number;
  /** t = 1/(η λ_min): every mode is learned from here on (late regime, 𝓔 ∝ 1/t). */
  saturationStart: number;
  /** λ_max/λ_min (= N^α for λ_k = λ_1 k^(−α)). */
  tauSaturation: number;
  /** log10(saturationStart/earlyEnd): the width of the scaling window in decades. */
  decades: number;
}

/**
 * Where the early, scaling and late regimes of THEORY §3.2 lie in time, from the extreme
 * eigenvalues: `eigenvalues` (largest and smallest positive), or `lambdaMax` with `lambdaMin`, or
 * `lambdaMax` with `alpha` and `modes` (λ_N = λ_max N^(−α)).
 * @example regimeBoundaries({ eta: 1, lambdaMax: 1, alpha: 1.5, modes: 1000 }) // { earlyEnd: 1, saturationStart: 31622.7…, … }
 */
export function regimeBoundaries(options: {
  eta: number; eigenvalues?: Numbers; lambdaMax?: number; lambdaMin?: number; alpha?: number; modes?: number;
}): RegimeBoundaries {
  const fn = 'regimeBoundaries';
  const o = required(fn, options);
  const eta = checkNumberInRange(fn, 'eta', o.eta, { min: 0, exclusiveMin: true });
  let hi: number, lo: number;
  if (o.eigenvalues !== undefined) {
    const lam = numbers(fn, 'eigenvalues', o.eigenvalues, true).filter((v) => v > 0);
    if (lam.length === 0) throw new RangeError(`${fn}: eigenvalues must contain a positive value`);
    hi = Math.max(...lam);
    lo = Math.min(...lam);
  } else {
    hi = checkNumberInRange(fn, 'lambdaMax', o.lambdaMax, { min: 0, exclusiveMin: true });
    if (o.lambdaMin !== undefined) {
      lo = checkNumberInRange(fn, 'lambdaMin', o.lambdaMin, { min: 0, exclusiveMin: true, max: hi });
    } else {
      const alpha = checkNumberInRange(fn, 'alpha', o.alpha, { min: 0, exclusiveMin: true });
      const N = checkInteger(fn, 'modes', o.modes, 1);
      lo = hi * N ** -alpha;
    }
  }
  return native().regimeBoundaries(hi, lo, eta);
}

// ---- linear models from J or K ---------------------------------------------------------------

/** Options of {@link linearDynamics}: give `J` (n×P) or `K` (n×n), not both. */
export interface LinearDynamicsOptions {
  /** Jacobian of the linear (or linearised) model F = Jθ, n×P. For a linearisation at θ0 pass y − F(θ0) + Jθ0 as y. */
  J?: Matrix;
  /** NTK Gram matrix J Jᵀ, n×n (lower triangle read), when J is not at hand: mode-space results only. */
  K?: Matrix;
  /** Targets, n. */
  y: Numbers;
  /** Ensemble mean θ̄0 (J only; default 0). */
  theta0?: Numbers;
  /** Mean initial predictions F(θ̄0) (K only; default 0). With γ > 0, θ̄0 is taken to lie in J's row space. */
  f0?: Numbers;
  /** K only: P, the number of parameters (≥ rank K); P − rank null directions carry σ0². Default rank K. */
  numParams?: number;
  /** Initial ensemble width σ0 ≥ 0 (default 0; > 0 when T > 0). */
  sigma0?: number;
  eta: number;
  /** Temperature T ≥ 0 (default 0). `temperature` is accepted as an alias. */
  T?: number;
  temperature?: number;
  gamma?: number;
  times: Numbers;
  /** Add gradient descent: the `discrete` series and the `gd` trajectory (integer times). */
  discrete?: boolean;
  pathLength?: boolean;
}

/** Ensemble moments along the dynamics; row j belongs to times[j]. */
export interface LinearTrajectory {
  /** E θ_t, times × P (J given). */
  mean?: Matrix;
  /** F(E θ_t) − y, times × n. */
  residual: Matrix;
  /** Variance s_a(t)² of each range mode v_a (descending λ), times × rank. */
  variance: Matrix;
  /** Variance of each of the P − rank null directions. */
  nullVariance: Float64Array;
}

/** Result of {@link linearDynamics}. */
export interface LinearDynamicsResult extends SpeedLimitSeries {
  /** Eigenvalues of K, descending; those below 10·max(n, P)·ε·λ_1 are set to 0. */
  eigenvalues: Float64Array;
  rank: number;
  /** h_a = λ_a + γ for the rank range modes. */
  hessian: Float64Array;
  /** m_a(0) − z*_a, mean offsets from the minimiser along v_a = Jᵀu_a/√λ_a. */
  offsets: Float64Array;
  /** P − rank. */
  nullDirections: number;
  /** |null part of θ̄0|² when γ > 0 (it decays at rate ηγ); 0 when γ = 0 (it stays put). */
  nullOffsetSquared: number;
  /** L* = min L. */
  lossMin: number;
  /** Gradient flow (T = 0) or the OU solution (T > 0). */
  continuous: LinearTrajectory;
  /** Gradient-descent iterates (with `discrete`; noise-free whatever T). */
  gd?: LinearTrajectory;
}

/**
 * The exact dynamics of a linear model L = ½|Jθ − y|² + (γ/2)|θ|² from θ(0) ~ N(θ̄0, σ0² I):
 * means, per-mode variances, W2², entropy production and efficiency for gradient flow, the
 * Langevin (OU) solution at T > 0 and, with `discrete`, gradient descent (THEORY §2). Cost
 * O(n²P + n³ + times·(nP + n²)); nothing is P×P.
 * @example
 * const J = fromRows([[1, 0, 1, 0], [0, 2, 0, 1], [1, 1, 0, 0]]);
 * const r = linearDynamics({ J, y: [1, -1, 0.5], theta0: [0.2, -0.1, 0, 0.3], eta: 0.1, times: [1, 10, 100] });
 * r.gradientFlow.efficiency; // [0.98597…, 0.60341…, 0.08311…]
 */
export function linearDynamics(options: LinearDynamicsOptions): LinearDynamicsResult {
  const fn = 'linearDynamics';
  const o = required(fn, options);
  if ((o.J === undefined) === (o.K === undefined)) throw new TypeError(`${fn}: give exactly one of J and K`);
  let n: number, P: number, J: Float64Array | null = null, K: Float64Array | null = null;
  let theta0: Float64Array | null = null, f0: Float64Array | null = null;
  if (o.J !== undefined) {
    const m = checkMatrix(fn, 'J', o.J, { finite: true }) as Matrix;
    if (m.rows === 0 || m.cols === 0) throw new RangeError(`${fn}: J must not be empty, got ${m.rows}x${m.cols}`);
    n = m.rows;
    P = m.cols;
    J = m.data;
    if (o.f0 !== undefined) throw new TypeError(`${fn}: f0 is for the K-only form (with J, pass theta0)`);
    if (o.numParams !== undefined && o.numParams !== P) throw new RangeError(`${fn}: numParams must equal J.cols (${P}) when J is given`);
    if (o.theta0 !== undefined) {
      theta0 = numbers(fn, 'theta0', o.theta0, false);
      if (theta0.length !== P) throw new RangeError(`${fn}: theta0 has ${theta0.length} entries but J has ${P} columns`);
    }
  } else {
    const m = checkMatrix(fn, 'K', o.K, { square: true, finite: true }) as Matrix;
    if (m.rows === 0) throw new RangeError(`${fn}: K must not be empty`);
    n = m.rows;
    K = m.data;
    if (o.theta0 !== undefined) throw new TypeError(`${fn}: theta0 needs J (with K only, pass f0)`);
    if (o.f0 !== undefined) {
      f0 = numbers(fn, 'f0', o.f0, false);
      if (f0.length !== n) throw new RangeError(`${fn}: f0 has ${f0.length} entries but K is ${n}x${n}`);
    }
    // 0 asks the core for P = rank K (no null directions); it checks P ≥ rank once it knows the rank.
    P = o.numParams === undefined ? 0 : checkInteger(fn, 'numParams', o.numParams, 1);
  }
  const y = numbers(fn, 'y', o.y, false);
  if (y.length !== n) throw new RangeError(`${fn}: y has ${y.length} entries but ${J ? 'J' : 'K'} has ${n} rows`);
  const c = commonOptions(fn, o, o.sigma0, 'sigma0');
  const times = checkTimes(fn, o.times, c.discrete);
  const nativeOptions = { eta: c.eta, temperature: c.temperature, gamma: c.gamma, sigma0: c.sigma0, discrete: c.discrete, pathLength: c.pathLength };
  const r = native().linearDynamics(J, K, n, P, y, theta0, f0, times, nativeOptions);
  const nt = times.length;
  const traj = (t: { mean?: Float64Array; residual: Float64Array; variance: Float64Array; nullVariance: Float64Array }): LinearTrajectory => {
    const out: LinearTrajectory = {
      residual: { data: t.residual, rows: nt, cols: n },
      variance: { data: t.variance, rows: nt, cols: r.rank },
      nullVariance: t.nullVariance,
    };
    if (t.mean) out.mean = { data: t.mean, rows: nt, cols: J ? P : 0 };
    return out;
  };
  const result: LinearDynamicsResult = {
    ...shapeSeries(r.series),
    eigenvalues: r.eigenvalues,
    rank: r.rank,
    hessian: r.hessian,
    offsets: r.offsets,
    nullDirections: r.nullDirections,
    nullOffsetSquared: r.nullOffsetSquared,
    lossMin: r.lossMin,
    continuous: traj(r.continuous),
  };
  if (r.gd) result.gd = traj(r.gd);
  return result;
}
