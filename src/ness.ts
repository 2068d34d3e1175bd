/**
 * Exact non-equilibrium steady states (NESS) of SGD near a minimum and the exact stationary
 * moments of ULA, SGLD-WR and SGWORLD on Bayesian linear regression (THEORY.md §4.2, §4.3, §4.6).
 * The numerics live in native/core/ness; this layer validates and shapes.
 *
 * Conventions (THEORY §0, §4.1): one step is one unit of time; near a minimum the chain is
 * θ ← Aθ + noise with A = I − ηH and step covariance 2𝒟, 𝒟 = ηT·I + (η²/2)·Cov_S[ĝ_S(θ*)]; the
 * regression loss is L = ½|Xθ − y|² + (γ/2)|θ|² (a sum over samples) with posterior N(θ*, T·H⁻¹),
 * H = XᵀX + γI. Matrices are row-major `{ data, rows, cols }`.
 */
import { checkLongRunOptions, runLong, type LongRunOptions } from './long.js';
import { checkMatrix, type Matrix } from './matrix.js';
import { native } from './native.js';
import { checkBoolean, checkEnum, checkInteger, checkNumberInRange, checkOptions, describeValue } from './validate.js';

type Numbers = Float64Array | readonly number[];

/** Options of {@link ness}. */
export interface NessOptions {
  /** Hessian at the minimum, P×P, symmetric positive definite. */
  H: Matrix;
  /**
   * Cov_S[ĝ_S(θ*)]: covariance of the minibatch gradient at the minimum, P×P symmetric positive
   * semidefinite (THEORY §4.2: (n²/B)·(n−B)/(n−1)·C for B distinct samples). Default 0.
   */
  gradientCovariance?: Matrix;
  /** 𝒟 itself (P×P, symmetric PSD), instead of gradientCovariance and temperature. */
  diffusion?: Matrix;
  /** Learning rate η > 0, with η·h_max < 2 (otherwise there is no stationary state). */
  eta: number;
  /** T ≥ 0 (SGLD: adds ηT·I to 𝒟; pure SGD: 0). Default 0. */
  temperature?: number;
}

/** Result of {@link ness}: the stationary Gaussian N(θ*, Λ) and its currents. */
export interface NessResult {
  /** Λ of the exact chain: Λ = AΛAᵀ + 2𝒟. */
  covariance: Matrix;
  /** Λ_c of the continuous-time limit: HΛ + ΛH = 2𝒟/η. */
  covarianceContinuous: Matrix;
  /**
   * Entropy production per step of the exact chain (nats):
   * σ = −P/2 + ¼tr[𝒟⁻¹(I−A²)Λ(I−A²)ᵀ] + ½tr[𝒟⁻¹A𝒟Aᵀ]. Infinity when 𝒟 is singular.
   */
  entropyPerStep: number;
  /** The continuous formula σ = tr(Mᵀ𝒟⁻¹MΛ_c) − tr M, M = ηH. Infinity when 𝒟 is singular. */
  entropyPerStepContinuous: number;
  /** Stochastic-area matrix per step 𝒜 = (η/2)(HΛ − ΛH) (exact Λ; antisymmetric; 0 in equilibrium). */
  area: Matrix;
  /** Local mean velocity matrix 𝒟Λ_c⁻¹ − ηH: v(θ) = (that)·(θ − θ*) (continuous); NaN if Λ_c is singular. */
  velocity: Matrix;
  /** 𝒟 = ηT·I + (η²/2)·gradientCovariance (or as given). */
  diffusion: Matrix;
  /** |H𝒟 − 𝒟H|_F / (|H|_F·|𝒟|_F): 0 iff detailed balance holds. */
  commutator: number;
  /** commutator ≤ 1e-12: an equilibrium (reversible) stationary state. */
  equilibrium: boolean;
}

const SYM_TOL = 1e-12;

/** A finite square P×P Float64 matrix, symmetric to SYM_TOL relative (RangeError naming it). */
function symmetricMatrix(fn: string, name: string, value: unknown, P?: number): Matrix {
  const m = checkMatrix(fn, name, value, { square: true, finite: true, ...(P === undefined ? {} : { rows: P }) }) as Matrix;
  if (m.rows === 0) throw new RangeError(`${fn}: ${name} must not be empty`);
  const n = m.rows, d = m.data;
  let scale = 0;
  for (let i = 0; i < d.length; i++) scale = Math.max(scale, Math.abs(d[i]));
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      const a = d[i * n + j], b = d[j * n + i];
      if (Math.abs(a - b) > SYM_TOL * scale)
        throw new RangeError(`${fn}: ${name} must be symmetric, but (${i}, ${j}) = ${a} and (${j}, ${i}) = ${b}`);
    }
  return m;
}

function required(fn: string, options: unknown): Record<string, unknown> {
  if (options === undefined) throw new TypeError(`${fn}: options must be an object, got undefined`);
  return checkOptions<Record<string, unknown>>(fn, options);
}

const square = (data: Float64Array, P: number): Matrix => ({ data, rows: P, cols: P });

/**
 * The exact Gaussian NESS of SGD / SGLD-WR linearised at a minimum (THEORY §4.6): stationary
 * covariance of the chain and of its continuous limit, entropy production per step, stochastic
 * area and local mean velocity. Minibatch noise that does not commute with H (H𝒟 ≠ 𝒟H) sustains
 * probability currents: σ > 0 and 𝒜 ≠ 0 in the steady state. Cost O(P³).
 *
 * Throws RangeError naming H (not symmetric, not positive definite), eta (≤ 0 or η·h_max ≥ 2),
 * gradientCovariance / diffusion (wrong size, not symmetric or not PSD) or temperature.
 * @example
 * // THEORY §6 O7(b): pure SGD, 𝒟 = (η²/2)·Cov
 * const r = ness({ H: fromRows([[2, 0.6], [0.6, 0.8]]), gradientCovariance: fromRows([[1, 0.9], [0.9, 1.5]]), eta: 0.05 });
 * r.covariance.data;  // [0.0120111171, 0.0047759689, 0.0047759689, 0.0444606403]
 * r.entropyPerStep;   // 0.0504017531 (continuous formula: r.entropyPerStepContinuous = 0.0492857143)
 * r.area.data[1];     // 6.300219e-4
 */
export function ness(options: NessOptions): NessResult {
  const fn = 'ness';
  const o = required(fn, options);
  if (o.H === undefined) throw new TypeError(`${fn}: H is required`);
  const H = symmetricMatrix(fn, 'H', o.H);
  const P = H.rows;
  if (o.eta === undefined) throw new TypeError(`${fn}: eta is required`);
  const eta = checkNumberInRange(fn, 'eta', o.eta, { min: 0, exclusiveMin: true });
  const temperature = o.temperature === undefined ? 0 : checkNumberInRange(fn, 'temperature', o.temperature, { min: 0 });
  if (o.gradientCovariance !== undefined && o.diffusion !== undefined)
    throw new TypeError(`${fn}: give gradientCovariance or diffusion, not both`);
  const cov = o.gradientCovariance === undefined ? null : symmetricMatrix(fn, 'gradientCovariance', o.gradientCovariance, P).data;
  const diff = o.diffusion === undefined ? null : symmetricMatrix(fn, 'diffusion', o.diffusion, P).data;
  if (diff && temperature > 0)
    throw new RangeError(`${fn}: temperature must be 0 with diffusion (𝒟 is given whole), got ${temperature}`);
  if (!diff && !cov && temperature === 0)
    throw new RangeError(`${fn}: there is no noise: give temperature > 0, gradientCovariance or diffusion`);
  // Positive definiteness of H and η·h_max < 2 need H's spectrum: the core checks them (RangeError naming H / eta).
  const r = native().nessGaussian(H.data, P, cov, diff, { eta, temperature }, fn);
  return {
    covariance: square(r.covariance, P),
    covarianceContinuous: square(r.covarianceContinuous, P),
    entropyPerStep: r.entropyPerStep,
    entropyPerStepContinuous: r.entropyPerStepContinuous,
    area: square(r.area, P),
    velocity: square(r.velocity, P),
    diffusion: square(r.diffusion, P),
    commutator: r.commutator,
    equilibrium: r.equilibrium,
  };
}

/** The samplers of THEORY §4.1. */
export type Sampler = 'ula' | 'sgld' | 'sgworld';
export const SAMPLERS: readonly Sampler[] = ['ula', 'sgld', 'sgworld'];

/** Options of {@link samplerMoments}. */
export interface SamplerMomentsOptions {
  /** Inputs, n×P (Float64). */
  X: Matrix;
  /** Targets, n. */
  y: Numbers;
  /** T > 0: the posterior is N(θ*, T·H⁻¹) (Gaussian likelihood of variance T, prior N(0, (T/γ)·I)). */
  temperature: number;
  /** γ ≥ 0 (default 0); H = XᵀX + γI must be positive definite. */
  gamma?: number;
  /** Learning rate η > 0 with η·h_max < 2. */
  eta: number;
  /**
   * 'ula' (full batch), 'sgld' (SGLD-WR: B distinct samples drawn afresh every step) or 'sgworld'
   * (each epoch a random permutation cut into n/B batches; moments at epoch boundaries).
   */
  sampler: Sampler;
  /** B in 1..n, required for 'sgld' and 'sgworld' (ignored by 'ula'). */
  batchSize?: number;
  /** 'sgworld' with B ∤ n: use ⌊n/B⌋ batches per epoch and leave the rest unused. Default false (B ∤ n is an error). */
  dropRemainder?: boolean;
  /** 'sgworld': the most ordered partitions to enumerate (n!/(B!)^(n/B) for B | n). Default 1e6. */
  maxPartitions?: number;
}

/** Result of {@link samplerMoments}: the exact stationary Gaussian moments. */
export interface SamplerMoments {
  sampler: Sampler;
  /** Stationary mean (θ* for 'ula' and 'sgld'; shifted by O(η) for 'sgworld', at epoch boundaries). */
  mean: Float64Array;
  /** Stationary covariance, P×P. */
  covariance: Matrix;
  /** W2 (not squared) between N(mean, covariance) and the posterior. */
  w2ToPosterior: number;
  /** W2² of the same. */
  w2sqToPosterior: number;
  /** The target: N(θ*, T·H⁻¹), θ* = H⁻¹Xᵀy. */
  posterior: { mean: Float64Array; covariance: Matrix };
  /** 'sgworld': the number of ordered partitions averaged. */
  partitions?: number;
  /** 'sgworld': the first-order mean shift δθ = −(η/2)·H⁻¹·E_S[A_S ĝ_S(θ*)] (THEORY §4.2). */
  meanShiftFirstOrder?: Float64Array;
}

function numbers(fn: string, name: string, value: unknown): Float64Array {
  let out: Float64Array;
  if (value instanceof Float64Array) out = value;
  else if (Array.isArray(value) && value.every((v) => typeof v === 'number')) out = Float64Array.from(value as number[]);
  else throw new TypeError(`${fn}: ${name} must be a Float64Array or an array of numbers, got ${describeValue(value)}`);
  for (let i = 0; i < out.length; i++)
    if (!Number.isFinite(out[i])) throw new RangeError(`${fn}: ${name} must contain only finite values, got ${out[i]} at index ${i}`);
  return out;
}

const MAX_VEC_P = 16;

/**
 * The exact stationary moments of ULA, SGLD-WR or SGWORLD on Bayesian linear regression and their
 * W2 distance to the posterior (THEORY §4.3, the "oracle algorithm"; O8 of §6):
 * - 'ula': mean θ*, covariance T·H⁻¹(I − ηH/2)⁻¹ (O(P³));
 * - 'sgld': mean θ*, covariance from vec S = E[G⊗G] vec S + vec R over all C(n, B) subsets, with the
 *   subset averages in closed form (O(nP⁴ + P⁶), any n; P ≤ 16);
 * - 'sgworld': the epoch maps of all n!/(B!)^M ordered partitions are enumerated (P ≤ 16, at most
 *   `maxPartitions`; for n = 8, B = 2 that is 2520, a few ms).
 *
 * Throws RangeError naming the argument; those that need H's spectrum come from the core: H not
 * positive definite (names H and gamma), η·h_max ≥ 2 or a mean-square unstable chain (names eta),
 * too many partitions.
 * @example
 * // THEORY §6 O8 (n = 8, P = 2, T = γ = 0.25, B = 2)
 * const m = samplerMoments({ X, y, temperature: 0.25, gamma: 0.25, eta: 1e-2, batchSize: 2, sampler: 'sgworld' });
 * m.w2ToPosterior;     // 1.053372e-2 ('sgld': 2.056190e-2, 'ula': 3.328402e-3)
 * m.mean;              // [1.12017815, -0.24400677]; m.posterior.mean = [1.11102004, -0.23970218]
 */
export function samplerMoments(options: SamplerMomentsOptions): SamplerMoments {
  const fn = 'samplerMoments';
  const o = required(fn, options);
  if (o.X === undefined) throw new TypeError(`${fn}: X is required`);
  const X = checkMatrix(fn, 'X', o.X, { finite: true }) as Matrix;
  if (X.rows === 0 || X.cols === 0) throw new RangeError(`${fn}: X must not be empty, got ${X.rows}x${X.cols}`);
  const n = X.rows, P = X.cols;
  const y = numbers(fn, 'y', o.y);
  if (y.length !== n) throw new RangeError(`${fn}: y has ${y.length} entries but X has ${n} rows`);
  if (o.sampler === undefined) throw new TypeError(`${fn}: sampler is required ('ula', 'sgld' or 'sgworld')`);
  const sampler = checkEnum(fn, 'sampler', o.sampler, SAMPLERS);
  if (o.temperature === undefined) throw new TypeError(`${fn}: temperature is required`);
  const temperature = checkNumberInRange(fn, 'temperature', o.temperature, { min: 0, exclusiveMin: true });
  const gamma = o.gamma === undefined ? 0 : checkNumberInRange(fn, 'gamma', o.gamma, { min: 0 });
  if (o.eta === undefined) throw new TypeError(`${fn}: eta is required`);
  const eta = checkNumberInRange(fn, 'eta', o.eta, { min: 0, exclusiveMin: true });
  let batchSize = n;
  if (sampler !== 'ula') {
    if (o.batchSize === undefined) throw new TypeError(`${fn}: batchSize is required for sampler '${sampler}'`);
    batchSize = checkInteger(fn, 'batchSize', o.batchSize, 1, n);
    if (P > MAX_VEC_P)
      throw new RangeError(`${fn}: the exact '${sampler}' moments solve a P²×P² system; P (X.cols) must be <= ${MAX_VEC_P}, got ${P}`);
  } else if (o.batchSize !== undefined) {
    checkInteger(fn, 'batchSize', o.batchSize, 1, n);
  }
  const dropRemainder = o.dropRemainder === undefined ? false : checkBoolean(fn, 'dropRemainder', o.dropRemainder);
  if (sampler === 'sgworld' && n % batchSize !== 0 && !dropRemainder)
    throw new RangeError(
      `${fn}: batchSize = ${batchSize} does not divide n = ${n} (sgworld epochs are partitions); pass dropRemainder: true to leave ${n % batchSize} samples of each permutation unused`,
    );
  const maxPartitions = o.maxPartitions === undefined ? 1e6 : checkNumberInRange(fn, 'maxPartitions', o.maxPartitions, { min: 1 });
  const r = native().samplerStationaryMoments(X.data, n, P, y, {
    sampler, temperature, gamma, eta, batchSize, dropRemainder, maxPartitions,
  }, fn);
  const out: SamplerMoments = {
    sampler,
    mean: r.mean,
    covariance: square(r.covariance, P),
    w2ToPosterior: r.w2,
    w2sqToPosterior: r.w2sq,
    posterior: { mean: r.posteriorMean, covariance: square(r.posteriorCovariance, P) },
  };
  if (sampler === 'sgworld') {
    out.partitions = r.partitions;
    if (r.meanShiftFirstOrder) out.meanShiftFirstOrder = r.meanShiftFirstOrder;
  }
  return out;
}

/** Options of {@link gradientNoiseCovariance}. */
export interface GradientNoiseOptions {
  /** Inputs, n×P. */
  X: Matrix;
  /** Targets, n. */
  y: Numbers;
  /** γ ≥ 0 (default 0); H = XᵀX + γI must be positive definite (θ* = H⁻¹Xᵀy). */
  gamma?: number;
  /** B in 1..n: distinct samples per batch. */
  batchSize: number;
}

/**
 * The minibatch-gradient covariance at the posterior mean, Cov_S[ĝ_S(θ*)] = (n²/B)·(n−B)/(n−1)·C(θ*)
 * over uniform B-subsets (THEORY §4.2), C the covariance of the per-sample gradients
 * x_s(x_sᵀθ* − y_s). Its (η²/2)-multiple plus ηT·I is the diffusion 𝒟(θ*) of SGLD-WR.
 * @example
 * const C = gradientNoiseCovariance({ X, y, gamma: 0.25, batchSize: 2 });
 * ness({ H, gradientCovariance: C, eta: 0.05, temperature: 0.25 });
 */
export function gradientNoiseCovariance(options: GradientNoiseOptions): Matrix {
  const fn = 'gradientNoiseCovariance';
  const o = required(fn, options);
  const { X, y, n, P } = regressionData(fn, o);
  const gamma = o.gamma === undefined ? 0 : checkNumberInRange(fn, 'gamma', o.gamma, { min: 0 });
  if (o.batchSize === undefined) throw new TypeError(`${fn}: batchSize is required`);
  const batchSize = checkInteger(fn, 'batchSize', o.batchSize, 1, n);
  // T and η play no part here; the core validates them with the rest of the regression, so pass
  // harmless values (η tiny keeps the stability check η·h_max < 2 true).
  return square(native().gradientNoiseCovariance(X.data, n, P, y, { temperature: 1, gamma, eta: Number.MIN_VALUE, batchSize }, fn), P);
}

function regressionData(fn: string, o: Record<string, unknown>) {
  if (o.X === undefined) throw new TypeError(`${fn}: X is required`);
  const X = checkMatrix(fn, 'X', o.X, { finite: true }) as Matrix;
  if (X.rows === 0 || X.cols === 0) throw new RangeError(`${fn}: X must not be empty, got ${X.rows}x${X.cols}`);
  const y = numbers(fn, 'y', o.y);
  if (y.length !== X.rows) throw new RangeError(`${fn}: y has ${y.length} entries but X has ${X.rows} rows`);
  return { X, y, n: X.rows, P: X.cols };
}

interface StationaryCommon extends LongRunOptions {
  /** Learning rate η > 0 with η·h_max < 2. */
  eta: number;
  /** K ≥ 1 steps per trajectory. */
  steps: number;
  /** M ≥ 1 trajectories. */
  replicas: number;
  /** Generator key (replica r uses Philox streams r and 2^40 + r). Default 0. */
  seed?: number;
}

/** The linear chain θ ← θ − ηH(θ − θ*) + N(0, 2𝒟) (THEORY §4.6): Σ is exact. */
export interface GaussianChainOptions extends StationaryCommon {
  chain: 'gaussian';
  /** P×P, symmetric positive definite. */
  H: Matrix;
  /** 𝒟, P×P symmetric positive definite (step covariance 2𝒟). */
  diffusion: Matrix;
  /** θ*, P (default 0). */
  thetaStar?: Numbers;
}

/** SGLD-WR on Bayesian linear regression with real minibatches (THEORY §4.3): Σ is approximate. */
export interface SgldChainOptions extends StationaryCommon {
  chain: 'sgld';
  X: Matrix;
  y: Numbers;
  /** T > 0. */
  temperature: number;
  /** γ ≥ 0 (default 0). */
  gamma?: number;
  /** B in 1..n distinct samples, drawn afresh every step. */
  batchSize: number;
}

/** Result of {@link stationaryEntropyProduction}. */
export interface StationaryEntropyProduction {
  chain: 'gaussian' | 'sgld';
  /** Σ per trajectory (nats). */
  sigma: Float64Array;
  /** Its medium part Σ_k ln W(θ_{k+1}|θ_k)/W(θ_k|θ_{k+1}). */
  medium: Float64Array;
  /** The stationary Gaussian N(mean, covariance) trajectories start in and the boundary terms use. */
  mean: Float64Array;
  covariance: Matrix;
  hessian: Matrix;
  /** 𝒟 of the Gaussian kernel: the chain's own ('gaussian') or 𝒟(θ*) = ηT·I + (η²/2)·Cov_S[ĝ_S(θ*)] ('sgld'). */
  kernelDiffusion: Matrix;
  /** σ_step of the Gaussian chain with (H, 𝒟): ⟨Σ⟩ = K·σ_step exactly for 'gaussian'. */
  entropyPerStep: number;
  /** True for 'gaussian'; 'sgld' uses the practical estimator of THEORY §4.4 (approximate). */
  exact: boolean;
  steps: number;
  replicas: number;
}

function prepareStationary(fn: string, options: unknown) {
  const o = required(fn, options);
  checkLongRunOptions(fn, o);
  const chain = checkEnum(fn, 'chain', o.chain, ['gaussian', 'sgld'] as const);
  if (o.eta === undefined) throw new TypeError(`${fn}: eta is required`);
  const eta = checkNumberInRange(fn, 'eta', o.eta, { min: 0, exclusiveMin: true });
  const steps = checkInteger(fn, 'steps', o.steps, 1, 1e9);
  const replicas = checkInteger(fn, 'replicas', o.replicas, 1, 1e9);
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'seed', o.seed, 0);
  const nat: Record<string, unknown> = { kind: chain, eta, steps, replicas, seed, caller: fn, n: 0, temperature: 0, gamma: 0, batchSize: 0 };
  let P: number;
  if (chain === 'gaussian') {
    const H = checkMatrix(fn, 'H', o.H, { finite: true }) as Matrix;
    P = H.rows;
    if (P === 0 || H.cols !== P) throw new RangeError(`${fn}: H must be square and non-empty, got ${H.rows}x${H.cols}`);
    const D = checkMatrix(fn, 'diffusion', o.diffusion, { finite: true }) as Matrix;
    if (D.rows !== P || D.cols !== P) throw new RangeError(`${fn}: diffusion must be ${P}x${P} like H, got ${D.rows}x${D.cols}`);
    Object.assign(nat, { P, H: Float64Array.from(H.data), diffusion: Float64Array.from(D.data) });
    if (o.thetaStar !== undefined) {
      const t = numbers(fn, 'thetaStar', o.thetaStar);
      if (t.length !== P) throw new RangeError(`${fn}: thetaStar must have P = ${P} entries, got ${t.length}`);
      nat.thetaStar = t;
    }
  } else {
    const { X, y, n } = regressionData(fn, o);
    P = X.cols;
    if (P > MAX_VEC_P) throw new RangeError(`${fn}: the stationary moments solve a P²×P² system; P (X.cols) must be <= ${MAX_VEC_P}, got ${P}`);
    if (o.temperature === undefined) throw new TypeError(`${fn}: temperature is required`);
    const temperature = checkNumberInRange(fn, 'temperature', o.temperature, { min: 0, exclusiveMin: true });
    const gamma = o.gamma === undefined ? 0 : checkNumberInRange(fn, 'gamma', o.gamma, { min: 0 });
    if (o.batchSize === undefined) throw new TypeError(`${fn}: batchSize is required`);
    const batchSize = checkInteger(fn, 'batchSize', o.batchSize, 1, n);
    Object.assign(nat, { P, X: Float64Array.from(X.data), y: Float64Array.from(y), n, temperature, gamma, batchSize });
  }
  return { o, chain, nat, P, steps, replicas };
}

function shapeStationary(q: ReturnType<typeof prepareStationary>, r: {
  sigma: Float64Array; medium: Float64Array; mean: Float64Array; covariance: Float64Array; hessian: Float64Array; kernelDiffusion: Float64Array; entropyPerStep: number; exact: boolean;
}): StationaryEntropyProduction {
  return {
    chain: q.chain, sigma: r.sigma, medium: r.medium, mean: r.mean, covariance: square(r.covariance, q.P), hessian: square(r.hessian, q.P),
    kernelDiffusion: square(r.kernelDiffusion, q.P), entropyPerStep: r.entropyPerStep, exact: r.exact, steps: q.steps, replicas: q.replicas,
  };
}

/**
 * Per-trajectory entropy production in a non-equilibrium steady state (THEORY §4.4–4.6): M
 * trajectories start in the stationary Gaussian N(μ, Λ), run K steps, and each gets
 * Σ = ln p(θ_0) − ln p(θ_K) + Σ_k ln W(θ_{k+1}|θ_k)/W(θ_k|θ_{k+1}) with the Gaussian kernel
 * W(θ'|θ) = N(θ'; θ − ηH(θ − θ*), 2𝒟). Feed `sigma` to {@link fluctuationTheorems}.
 * - chain 'gaussian': the chain θ ← θ − ηH(θ − θ*) + N(0, 2𝒟) itself, (μ, Λ) = (θ*, exact
 *   discrete Lyapunov solution): Σ is exact, so ⟨e^{−Σ}⟩ = 1, the detailed FT holds with slope 1,
 *   and ⟨Σ⟩ = K·σ_step (an equilibrium 𝒟 ∝ I gives Σ ≡ 0 pathwise);
 * - chain 'sgld': SGLD-WR with real minibatches on Bayesian linear regression; the kernel uses
 *   𝒟(θ*) = ηT·I + (η²/2)·Cov_S[ĝ_S(θ*)] and (μ, Λ) the exact stationary moments — the practical
 *   estimator of THEORY §4.4, an APPROXIMATION (the true kernel is a mixture over batches).
 * Cost O(M·K·(P² + B·P)), off the event loop, threads over trajectories.
 * @example
 * const r = await stationaryEntropyProduction({ chain: 'sgld', X, y, temperature: 0.25, gamma: 0.25, batchSize: 2, eta: 0.05, steps: 20, replicas: 20000 });
 * fluctuationTheorems(r.sigma).detailed?.slope; // ≈ 1 (approximately, for 'sgld')
 */
export async function stationaryEntropyProduction(options: GaussianChainOptions | SgldChainOptions): Promise<StationaryEntropyProduction> {
  const q = prepareStationary('stationaryEntropyProduction', options);
  const r = await runLong('stationaryEntropyProduction', q.o as LongRunOptions, (control) => native().stationaryChainEntropy({ ...q.nat, ...control }, true));
  return shapeStationary(q, r);
}

/** Synchronous {@link stationaryEntropyProduction} (blocks the event loop). */
export function stationaryEntropyProductionSync(options: GaussianChainOptions | SgldChainOptions): StationaryEntropyProduction {
  const q = prepareStationary('stationaryEntropyProductionSync', options);
  return shapeStationary(q, native().stationaryChainEntropy({ ...q.nat, abort: new Int32Array(1), progress: new Float64Array(1) }, false));
}
