/**
 * Deep linear networks (THEORY.md §5; Bordelon & Pehlevan, arXiv:2502.02531): gradient descent
 * of f(x) = w·h_L/(γ0 N) from random initialisation on Gaussian data, in μP or NTK
 * parameterisation, plain or residual; the NTK-at-initialisation constant c_K (closed form and
 * sampled); and the lazy (kernel) limit. The simulation runs in native/core/deeplinear, off the
 * event loop; this file validates, shapes and presents.
 *
 * Network (§5.1): h_1 = W_0 x, h_{ℓ+1} = M_ℓ h_ℓ (ℓ = 1..L−1), M_ℓ = W_ℓ/√N (plain) or
 * I + (β0/√L)W_ℓ/√N (residual), every weight N(0, 1) at init; 'mup' keeps γ0 fixed, 'ntk' sets
 * γ0 = γ̃0/√N (`gamma0` is then γ̃0). Parameters are one flat vector: W_0 [N×D], W_1..W_{L−1}
 * [N×N], w [N], row-major; seed index s starts at `random.normal({ seed, stream: s, length: P })`
 * (see {@link deepLinearInit}).
 *
 * Learning rate and time: every tensor takes the step η_eff = η·γ0²·N (`tensorLearningRate`),
 * θ ← θ − η_eff ĝ; one step is one unit of time.
 *
 * Speed-limit efficiency (THEORY §1.4, §1.6, with the per-tensor rate as the mobility), from the
 * means over seeds at each log step t ≥ 1:
 *   𝓔_loss(t) = ⟨|θ_t − θ_0|²⟩ / (η_eff · t · ⟨𝒪(θ_0) − 𝒪(θ_t)⟩),
 *   𝓔_kin(t)  = ⟨|θ_t − θ_0|²⟩ / (t · ⟨Σ_{k<t} |θ_{k+1} − θ_k|²⟩),
 * where |·|² runs over all weights (W_0, every W_ℓ and w, in their N(0,1)-initialised units) and
 * 𝒪 is the objective the run descends: the population loss ℒ for 'population' and 'online', the
 * train loss ℒ̂ for 'fixed'. 𝓔_kin ≤ 1 always (Cauchy–Schwarz); 𝓔_loss ≤ 1 for gradient flow and
 * exceeds it by O(η_eff λ) for discrete steps at small t.
 */
import { AbortError } from './errors.js';
import { geometricSteps } from './dynamics.js';
import { checkLongRunOptions, runLong, type LongRunOptions } from './long.js';
import type { Matrix } from './matrix.js';
import { native } from './native.js';
import { normal } from './random.js';
import {
  checkAllFinite,
  checkBoolean,
  checkEnum,
  checkFloat64Array,
  checkInteger,
  checkNumberInRange,
  checkOptions,
  describeValue,
} from './validate.js';

export type DeepLinearParameterization = 'mup' | 'ntk';
export type DeepLinearTraining = 'population' | 'fixed' | 'online';
export type DeepLinearSpectrum = 'isotropic' | 'powerLaw';
export const DEEP_LINEAR_TRAININGS: readonly DeepLinearTraining[] = ['population', 'fixed', 'online'];

/** The network (THEORY §5.1). */
export interface DeepLinearArchitecture {
  /** D ≥ 1, the input dimension. */
  inputDim: number;
  /** N ≥ 1, the hidden width. */
  width: number;
  /** L ≥ 1, the number of hidden layers (L − 1 hidden-to-hidden matrices). */
  depth: number;
  /** Residual blocks M_ℓ = I + (β0/√L) W_ℓ/√N. Default false. */
  residual?: boolean;
  /** β0 > 0, the residual branch scale (residual only). Default 1. */
  beta0?: number;
  /** 'mup' (γ0 fixed: feature learning at any width) or 'ntk' (γ0 = γ̃0/√N: lazy as N → ∞). Default 'mup'. */
  parameterization?: DeepLinearParameterization;
  /** γ0 > 0 ('mup') or γ̃0 > 0 ('ntk'): the richness. Default 1. */
  gamma0?: number;
}

/** Gaussian data x ~ N(0, diag λ), y = w*ᵀx + σε (THEORY §5.2). */
export interface DeepLinearData {
  /** 'isotropic': λ_k = 1/D, w*_k = 1; 'powerLaw': λ_k = k^−α, λ_k w*_k² = k^(−αb−1). Default 'isotropic'. */
  spectrum?: DeepLinearSpectrum;
  /** α > 0, the capacity exponent (power law). Default 1.5. */
  alpha?: number;
  /** b > 0, the source exponent (power law; b < 1 is a "hard" task). Default 0.5. */
  b?: number;
  /** σε ≥ 0, the label noise. Default 0. */
  noise?: number;
  /** λ [D] (≥ 0, not all 0), overriding the spectrum's. */
  eigenvalues?: Float64Array;
  /** w* [D], overriding the spectrum's. */
  target?: Float64Array;
}

/** Options of {@link deepLinear}. */
export interface DeepLinearOptions extends DeepLinearArchitecture, LongRunOptions {
  /** Default { spectrum: 'isotropic' }. */
  data?: DeepLinearData;
  /** η > 0; every tensor moves with η·γ0²·N. Required. */
  learningRate: number;
  /** Number of steps ≥ 1. Required. */
  steps: number;
  /**
   * 'population': GD on the exact population loss (rank-1 gradients, O(ND + LN²) per step);
   * 'fixed': full-batch GD on P fixed samples; 'online': SGD on a fresh batch of B samples each
   * step. Default 'population'.
   */
  training?: DeepLinearTraining;
  /** P ≥ 1 ('fixed', required there). */
  samples?: number;
  /** B ≥ 1 ('online', required there). */
  batchSize?: number;
  /** Number of initialisation seeds (seed indices 0..seeds−1, averaged). Default 1. */
  seeds?: number;
  /** Generator key of the weights (stream = seed index) and of the data. Default 0. */
  seed?: number;
  /** Steps at which everything is recorded (integers in [0, steps], increasing). Default: 0 and ~40 log-spaced steps up to `steps`. */
  logTimes?: readonly number[];
  /** Start from given weights: P entries (every seed) or seeds·P (one row per seed). Default: the seeded N(0,1) draws. */
  init?: Float64Array;
  /** Lazy-limit predictions with the sampled v_0 (and K_0): 'population' only. Default false. */
  lazy?: boolean;
  /** Return the final weights of every seed. Default false. */
  keepParams?: boolean;
}

/** Per-seed series: rows are log times, columns seeds (NaN after a seed diverged). */
export interface DeepLinearSeedSeries {
  /** Population (test) loss ℒ = ½(v − w*)ᵀΣ(v − w*) + ½σ². */
  loss: Matrix;
  /** Train loss ('fixed'). */
  trainLoss?: Matrix;
  /** |θ_t − θ_0|² over all weights. */
  dist2: Matrix;
  /** Σ_{k<t} |θ_{k+1} − θ_k|². */
  dissipation: Matrix;
  /** 𝒪(θ_0) − 𝒪(θ_t) of the objective the run descends. */
  heat: Matrix;
}

/** Lazy-limit predictions (THEORY §5.4.2), with their deviations from the simulation. */
export interface DeepLinearLazy {
  /** Mean over seeds of the linearised dynamics v_{t+1} = v_t − ηK_0Σ(v_t − w*) with the sampled K_0. */
  kernel: Float64Array;
  /** Mean over seeds of ½Σ_k λ_k(v_{0,k} − w*_k)²(1 − ηc_Kλ_k)^{2t} + ½σ² (closed-form c_K). */
  constant: Float64Array;
  perSeed: { kernel: Matrix; constant: Matrix };
  /** max_t |ℒ_sim − ℒ_lazy|/ℒ_lazy of the seed-mean curves. */
  deviation: { kernel: number; constant: number };
  /** The same per seed. */
  perSeedDeviation: { kernel: Float64Array; constant: Float64Array };
  /** tr(K_0)/D per seed: the sampled c_K. */
  kernelCK: Float64Array;
}

/** Result of {@link deepLinear}. */
export interface DeepLinearResult {
  architecture: Required<DeepLinearArchitecture>;
  training: DeepLinearTraining;
  learningRate: number;
  /** η_eff = η·γ0²·N, the step of every tensor. */
  tensorLearningRate: number;
  /** The effective γ0 (γ̃0/√N for 'ntk'). */
  gamma: number;
  steps: number;
  seeds: number;
  seed: number;
  samples?: number;
  batchSize?: number;
  numParams: number;
  /** Closed-form NTK constant c_K of the architecture. */
  cK: number;
  data: { eigenvalues: Float64Array; target: Float64Array; noise: number };
  times: Float64Array;
  /** Mean over seeds of the population loss. */
  loss: Float64Array;
  /** Mean over seeds of the train loss ('fixed'). */
  trainLoss?: Float64Array;
  perSeed: DeepLinearSeedSeries;
  mean: { dist2: Float64Array; dissipation: Float64Array; heat: Float64Array };
  /** 𝓔_loss and 𝓔_kin from the seed means (NaN at t = 0); see the module comment. */
  efficiency: { loss: Float64Array; kinematic: Float64Array };
  /** End-to-end vectors at initialisation, [seeds × D]. */
  v0: Matrix;
  lazy?: DeepLinearLazy;
  /** [seeds × P] with `keepParams`. */
  finalParams?: Matrix;
  status: 'completed' | 'diverged';
  /** Steps completed per seed. */
  stepsDone: Float64Array;
  /** The lowest seed index whose loss became non-finite. */
  diverged?: { seed: number; step: number };
}

interface NativeDeepLinearResult {
  status: 'completed' | 'aborted' | 'diverged';
  divergedSeed: number;
  divergedStep: number;
  seeds: number;
  params: number;
  loss: Float64Array;
  trainLoss: Float64Array;
  dist2: Float64Array;
  dissipation: Float64Array;
  heat: Float64Array;
  v0: Float64Array;
  lazyKernel: Float64Array;
  lazyConstant: Float64Array;
  kernelCK: Float64Array;
  finalParams: Float64Array;
  stepsDone: Float64Array;
}

const MAX_LENGTH = 2 ** 31 - 1;

/** N·D + (L−1)·N² + N. */
export function deepLinearNumParams(architecture: Pick<DeepLinearArchitecture, 'inputDim' | 'width' | 'depth'>): number {
  const fn = 'deepLinearNumParams';
  const a = checkOptions<DeepLinearArchitecture>(fn, architecture, 'architecture');
  const D = checkInteger(fn, 'inputDim', a.inputDim, 1);
  const N = checkInteger(fn, 'width', a.width, 1);
  const L = checkInteger(fn, 'depth', a.depth, 1);
  return N * D + (L - 1) * N * N + N;
}

function checkArch(fn: string, o: Partial<DeepLinearArchitecture>): Required<DeepLinearArchitecture> {
  const inputDim = checkInteger(fn, 'options.inputDim', o.inputDim, 1);
  const width = checkInteger(fn, 'options.width', o.width, 1);
  const depth = checkInteger(fn, 'options.depth', o.depth, 1);
  const residual = o.residual === undefined ? false : checkBoolean(fn, 'options.residual', o.residual);
  const beta0 = o.beta0 === undefined ? 1 : checkNumberInRange(fn, 'options.beta0', o.beta0, { min: 0, exclusiveMin: true });
  if (!residual && o.beta0 !== undefined)
    throw new RangeError(`${fn}: options.beta0 applies to residual networks (set residual: true), got ${beta0}`);
  const parameterization = o.parameterization === undefined ? 'mup' : checkEnum(fn, 'options.parameterization', o.parameterization, ['mup', 'ntk'] as const);
  const gamma0 = o.gamma0 === undefined ? 1 : checkNumberInRange(fn, 'options.gamma0', o.gamma0, { min: 0, exclusiveMin: true });
  const P = width * inputDim + (depth - 1) * width * width + width;
  if (!(P <= MAX_LENGTH)) throw new RangeError(`${fn}: the network has ${P} parameters (N·D + (L−1)·N² + N); at most ${MAX_LENGTH} are supported`);
  return { inputDim, width, depth, residual, beta0, parameterization, gamma0 };
}

function checkData(fn: string, d: unknown, D: number) {
  const o = checkOptions<DeepLinearData>(fn, d, 'options.data');
  const spectrum = o.spectrum === undefined ? 'isotropic' : checkEnum(fn, 'options.data.spectrum', o.spectrum, ['isotropic', 'powerLaw'] as const);
  const alpha = o.alpha === undefined ? 1.5 : checkNumberInRange(fn, 'options.data.alpha', o.alpha, { min: 0, exclusiveMin: true });
  const b = o.b === undefined ? 0.5 : checkNumberInRange(fn, 'options.data.b', o.b, { min: 0, exclusiveMin: true });
  if (spectrum !== 'powerLaw' && (o.alpha !== undefined || o.b !== undefined))
    throw new RangeError(`${fn}: options.data.alpha and options.data.b apply to spectrum 'powerLaw', got spectrum '${spectrum}'`);
  const noise = o.noise === undefined ? 0 : checkNumberInRange(fn, 'options.data.noise', o.noise, { min: 0 });
  let eigenvalues: Float64Array;
  if (o.eigenvalues !== undefined) {
    eigenvalues = checkFloat64Array(fn, 'options.data.eigenvalues', o.eigenvalues, D);
    let any = false;
    for (let k = 0; k < D; k++) {
      const l = eigenvalues[k];
      if (!(Number.isFinite(l) && l >= 0)) throw new RangeError(`${fn}: options.data.eigenvalues must be finite and >= 0, got ${l} at index ${k}`);
      any ||= l > 0;
    }
    if (!any) throw new RangeError(`${fn}: options.data.eigenvalues must not all be 0`);
    eigenvalues = Float64Array.from(eigenvalues);
  } else {
    eigenvalues = new Float64Array(D);
    for (let k = 0; k < D; k++) eigenvalues[k] = spectrum === 'isotropic' ? 1 / D : Math.pow(k + 1, -alpha);
  }
  let target: Float64Array;
  if (o.target !== undefined) {
    target = checkFloat64Array(fn, 'options.data.target', o.target, D);
    checkAllFinite(fn, 'options.data.target', target);
    target = Float64Array.from(target);
  } else {
    target = new Float64Array(D);
    for (let k = 0; k < D; k++) target[k] = spectrum === 'isotropic' ? 1 : Math.pow(k + 1, 0.5 * (alpha - alpha * b - 1));
  }
  return { eigenvalues, target, noise };
}

function checkTimes(fn: string, v: unknown, steps: number): Float64Array {
  if (!Array.isArray(v) && !(v instanceof Float64Array)) throw new TypeError(`${fn}: options.logTimes must be an array of step numbers, got ${describeValue(v)}`);
  const arr = Array.from(v as ArrayLike<number>);
  const out = new Float64Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    out[i] = checkInteger(fn, `options.logTimes[${i}]`, arr[i], 0, steps);
    if (i > 0 && !(out[i] > out[i - 1])) throw new RangeError(`${fn}: options.logTimes must be strictly increasing, got ${out[i - 1]} then ${out[i]}`);
  }
  return out;
}

/**
 * The closed-form NTK constant at initialisation (THEORY §5.4.1), K(x, x') → c_K xᵀx' as N → ∞:
 * c_K = L + 1 (plain), (1+β²)^{L−2}[2(1+β²) + (L−1)β²] with β = β0/√L (residual), and
 * e^{β0²}(2 + β0²) for a residual net with `depth: Infinity` (depth-stable). Independent of γ0 and
 * of the parameterisation.
 * @example
 * deepLinearCK({ depth: 3 });                              // 4
 * deepLinearCK({ depth: 4, residual: true, beta0: 1 });    // 5.078125
 * deepLinearCK({ depth: Infinity, residual: true });       // 3e = 8.1548454854…
 */
export function deepLinearCK(options: { depth: number; residual?: boolean; beta0?: number }): number {
  const fn = 'deepLinearCK';
  if (options === undefined) throw new TypeError(`${fn}: options { depth } are required`);
  const o = checkOptions<{ depth: number; residual?: boolean; beta0?: number }>(fn, options);
  const residual = o.residual === undefined ? false : checkBoolean(fn, 'options.residual', o.residual);
  const beta0 = o.beta0 === undefined ? 1 : checkNumberInRange(fn, 'options.beta0', o.beta0, { min: 0, exclusiveMin: true });
  if (o.depth === Infinity) {
    if (!residual) throw new RangeError(`${fn}: options.depth may be Infinity only for residual networks (plain: c_K = L + 1 grows without bound)`);
    return native().deepLinearCK(1, true, beta0).limit;
  }
  const depth = checkInteger(fn, 'options.depth', o.depth, 1);
  return native().deepLinearCK(depth, residual, beta0).value;
}

/** Options of {@link deepLinearCKEmpirical}. */
export interface DeepLinearCKOptions extends DeepLinearArchitecture, LongRunOptions {
  /** Networks sampled (seed indices 0..seeds−1, the same networks {@link deepLinear} starts from). Default 8. */
  seeds?: number;
  /** Generator key. Default 0. */
  seed?: number;
  /** Random inputs x ~ N(0, I_D) per network; c_K is fitted over all m² pairs. Default 8. */
  probes?: number;
}

/** Result of {@link deepLinearCKEmpirical}. */
export interface DeepLinearCKEstimate {
  /** Mean of the per-seed fits. */
  cK: number;
  /** Sample standard deviation of the per-seed fits (0 for one seed); ∝ N^{-1/2}. */
  sd: number;
  /** sd/√seeds. */
  standardError: number;
  /** (cK − closedForm)/standardError (NaN for one seed). */
  zScore: number;
  closedForm: number;
  /** Least-squares c with K(x_i, x_j) ≈ c·x_iᵀx_j over the probe pairs, per seed. */
  perSeed: Float64Array;
  /** ‖K − cG‖_F/‖cG‖_F per seed (G the Gram matrix of the probes). */
  fitResidual: Float64Array;
}

function prepareCK(fn: string, options: unknown) {
  if (options === undefined) throw new TypeError(`${fn}: options { inputDim, width, depth } are required`);
  const o = checkOptions<DeepLinearCKOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const arch = checkArch(fn, o);
  const seeds = o.seeds === undefined ? 8 : checkInteger(fn, 'options.seeds', o.seeds, 1, 1_000_000);
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'options.seed', o.seed, 0);
  const probes = o.probes === undefined ? 8 : checkInteger(fn, 'options.probes', o.probes, 2, 4096);
  return { o, nat: { ...arch, seeds, seed, probes } };
}

interface NativeCK { perSeed: Float64Array; fitResidual: Float64Array; mean: number; sd: number; standardError: number; closedForm: number }

function toCK(r: NativeCK): DeepLinearCKEstimate {
  return {
    cK: r.mean, sd: r.sd, standardError: r.standardError, zScore: r.standardError > 0 ? (r.mean - r.closedForm) / r.standardError : NaN,
    closedForm: r.closedForm, perSeed: r.perSeed, fitResidual: r.fitResidual,
  };
}

/**
 * The NTK constant of sampled networks: for each seed, K(x_i, x_j) = γ0²N Σ_θ ∂f(x_i)∂f(x_j) over
 * random probe inputs, from the analytic rank-1 gradients (exact at finite width, no finite
 * differences), fitted as K ≈ c·xᵀx'. Compare with {@link deepLinearCK}: the fluctuations shrink
 * as N^{-1/2} (THEORY O9: plain L = 3, N = 1000, 12 seeds: 4.019 ± 0.067).
 * @example
 * const est = await deepLinearCKEmpirical({ inputDim: 100, width: 1000, depth: 3, seeds: 6 });
 * console.log(est.cK, '±', est.standardError, 'vs', est.closedForm);
 */
export async function deepLinearCKEmpirical(options: DeepLinearCKOptions): Promise<DeepLinearCKEstimate> {
  const q = prepareCK('deepLinearCKEmpirical', options);
  const r = await runLong('deepLinearCKEmpirical', q.o, (control) =>
    native().deepLinearCKEmpirical({ ...q.nat, ...control }, true) as Promise<NativeCK>);
  return toCK(r);
}

/** Synchronous {@link deepLinearCKEmpirical} (blocks the event loop). */
export function deepLinearCKEmpiricalSync(options: DeepLinearCKOptions): DeepLinearCKEstimate {
  const q = prepareCK('deepLinearCKEmpiricalSync', options);
  return toCK(native().deepLinearCKEmpirical({ ...q.nat, abort: new Int32Array(1), progress: new Float64Array(1) }, false) as NativeCK);
}

/** The initial weights of one seed, split into tensors (views of `params`). */
export interface DeepLinearWeights {
  params: Float64Array;
  /** W_0 [N×D]. */
  W0: Matrix;
  /** W_1..W_{L−1} [N×N]. */
  hidden: Matrix[];
  /** w [N]. */
  readout: Float64Array;
}

/**
 * The weights {@link deepLinear} starts seed index `seedIndex` from (N(0,1) draws of stream
 * `seedIndex` under `seed`), split into tensors.
 * @example
 * const { W0, hidden, readout } = deepLinearInit({ inputDim: 10, width: 32, depth: 3, seed: 1 });
 */
export function deepLinearInit(options: { inputDim: number; width: number; depth: number; seed?: number; seedIndex?: number }): DeepLinearWeights {
  const fn = 'deepLinearInit';
  if (options === undefined) throw new TypeError(`${fn}: options { inputDim, width, depth } are required`);
  const o = checkOptions<{ inputDim: number; width: number; depth: number; seed?: number; seedIndex?: number }>(fn, options);
  const { inputDim: D, width: N, depth: L } = checkArch(fn, { inputDim: o.inputDim, width: o.width, depth: o.depth });
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'options.seed', o.seed, 0);
  const seedIndex = o.seedIndex === undefined ? 0 : checkInteger(fn, 'options.seedIndex', o.seedIndex, 0);
  const P = N * D + (L - 1) * N * N + N;
  const params = normal({ seed, stream: seedIndex, length: P });
  const hidden: Matrix[] = [];
  for (let l = 1; l < L; l++) {
    const off = N * D + (l - 1) * N * N;
    hidden.push({ data: params.subarray(off, off + N * N), rows: N, cols: N });
  }
  return { params, W0: { data: params.subarray(0, N * D), rows: N, cols: D }, hidden, readout: params.subarray(P - N) };
}

interface Prepared {
  o: Partial<DeepLinearOptions>;
  nat: Record<string, unknown>;
  summary: Omit<DeepLinearResult, 'times' | 'loss' | 'trainLoss' | 'perSeed' | 'mean' | 'efficiency' | 'v0' | 'lazy' | 'finalParams' | 'status' | 'stepsDone' | 'diverged'>;
  times: Float64Array;
}

function prepare(fn: string, options: unknown): Prepared {
  if (options === undefined) throw new TypeError(`${fn}: options { inputDim, width, depth, learningRate, steps } are required`);
  const o = checkOptions<DeepLinearOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const architecture = checkArch(fn, o);
  const { inputDim: D, width: N } = architecture;
  const P = N * D + (architecture.depth - 1) * N * N + N;
  const data = checkData(fn, o.data, D);
  const eta = checkNumberInRange(fn, 'options.learningRate', o.learningRate, { min: 0, exclusiveMin: true });
  const steps = checkInteger(fn, 'options.steps', o.steps, 1);
  const training = o.training === undefined ? 'population' : checkEnum(fn, 'options.training', o.training, DEEP_LINEAR_TRAININGS);
  let samples = 0;
  let batchSize = 0;
  if (training === 'fixed') {
    if (o.samples === undefined) throw new TypeError(`${fn}: options.samples is required for training 'fixed'`);
    samples = checkInteger(fn, 'options.samples', o.samples, 1);
  } else if (o.samples !== undefined) {
    throw new RangeError(`${fn}: options.samples applies to training 'fixed', got training '${training}'`);
  }
  if (training === 'online') {
    if (o.batchSize === undefined) throw new TypeError(`${fn}: options.batchSize is required for training 'online'`);
    batchSize = checkInteger(fn, 'options.batchSize', o.batchSize, 1);
    if (batchSize * (D + 1) > MAX_LENGTH) throw new RangeError(`${fn}: options.batchSize × (inputDim + 1) must be at most ${MAX_LENGTH}, got ${batchSize * (D + 1)}`);
  } else if (o.batchSize !== undefined) {
    throw new RangeError(`${fn}: options.batchSize applies to training 'online', got training '${training}'`);
  }
  if (training === 'fixed' && samples <= D && samples * (D + 1) > MAX_LENGTH)
    throw new RangeError(`${fn}: options.samples × (inputDim + 1) must be at most ${MAX_LENGTH}`);
  const seeds = o.seeds === undefined ? 1 : checkInteger(fn, 'options.seeds', o.seeds, 1, 1_000_000);
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'options.seed', o.seed, 0);
  const times = o.logTimes === undefined ? Float64Array.from(geometricSteps(steps)) : checkTimes(fn, o.logTimes, steps);
  let init: Float64Array | null = null;
  if (o.init !== undefined) {
    init = checkFloat64Array(fn, 'options.init', o.init);
    if (init.length !== P && init.length !== seeds * P)
      throw new RangeError(`${fn}: options.init must have ${P} (one start for every seed) or ${seeds * P} (one per seed) entries, got ${init.length}`);
    checkAllFinite(fn, 'options.init', init);
  }
  const lazy = o.lazy === undefined ? false : checkBoolean(fn, 'options.lazy', o.lazy);
  if (lazy && training !== 'population') throw new RangeError(`${fn}: options.lazy applies to training 'population', got training '${training}'`);
  const keepParams = o.keepParams === undefined ? false : checkBoolean(fn, 'options.keepParams', o.keepParams);
  if (keepParams && seeds * P > MAX_LENGTH) throw new RangeError(`${fn}: options.keepParams needs seeds × numParams <= ${MAX_LENGTH}, got ${seeds * P}`);
  const gamma = architecture.parameterization === 'ntk' ? architecture.gamma0 / Math.sqrt(N) : architecture.gamma0;
  const cK = native().deepLinearCK(architecture.depth, architecture.residual, architecture.beta0).value;
  const nat = {
    ...architecture, eigenvalues: data.eigenvalues, target: data.target, noise: data.noise, training, samples, batchSize,
    eta, steps, seed, seeds, logSteps: times, init, lazy, keepParams,
  };
  const summary: Prepared['summary'] = {
    architecture, training, learningRate: eta, tensorLearningRate: eta * gamma * gamma * N, gamma, steps, seeds, seed,
    numParams: P, cK, data,
  };
  if (training === 'fixed') summary.samples = samples;
  if (training === 'online') summary.batchSize = batchSize;
  return { o, nat, summary, times };
}

function rowMeans(data: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += data[i * cols + j];
    out[i] = s / cols;
  }
  return out;
}

/** max_t |sim − lazy|/lazy over the entries where both are finite. */
function maxRelDeviation(sim: Float64Array, lazy: Float64Array, stride = 1, offset = 0): number {
  let worst = 0;
  for (let i = offset; i < sim.length; i += stride) {
    const d = Math.abs(sim[i] - lazy[i]) / lazy[i];
    if (Number.isFinite(d)) worst = Math.max(worst, d);
    else if (!Number.isNaN(sim[i])) return Infinity;
  }
  return worst;
}

function toResult(q: Prepared, r: NativeDeepLinearResult): DeepLinearResult {
  const S = r.seeds;
  const t = q.times.length;
  const D = q.summary.architecture.inputDim;
  const m = (a: Float64Array): Matrix => ({ data: a, rows: t, cols: S });
  const perSeed: DeepLinearSeedSeries = { loss: m(r.loss), dist2: m(r.dist2), dissipation: m(r.dissipation), heat: m(r.heat) };
  if (q.summary.training === 'fixed') perSeed.trainLoss = m(r.trainLoss);
  const mean = { dist2: rowMeans(r.dist2, t, S), dissipation: rowMeans(r.dissipation, t, S), heat: rowMeans(r.heat, t, S) };
  const kinematic = new Float64Array(t);
  const lossEff = new Float64Array(t);
  const etaEff = q.summary.tensorLearningRate;
  for (let i = 0; i < t; i++) {
    const K = q.times[i];
    kinematic[i] = K > 0 ? mean.dist2[i] / (K * mean.dissipation[i]) : NaN;
    lossEff[i] = K > 0 ? mean.dist2[i] / (etaEff * K * mean.heat[i]) : NaN;
  }
  const out: DeepLinearResult = {
    ...q.summary, times: q.times, loss: rowMeans(r.loss, t, S), perSeed, mean, efficiency: { loss: lossEff, kinematic },
    v0: { data: r.v0, rows: S, cols: D }, status: r.status === 'diverged' ? 'diverged' : 'completed', stepsDone: r.stepsDone,
  };
  if (perSeed.trainLoss) out.trainLoss = rowMeans(r.trainLoss, t, S);
  if (r.lazyKernel.length > 0) {
    const kernel = rowMeans(r.lazyKernel, t, S);
    const constant = rowMeans(r.lazyConstant, t, S);
    const perK = new Float64Array(S);
    const perC = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      perK[s] = maxRelDeviation(r.loss, r.lazyKernel, S, s);
      perC[s] = maxRelDeviation(r.loss, r.lazyConstant, S, s);
    }
    out.lazy = {
      kernel, constant, perSeed: { kernel: m(r.lazyKernel), constant: m(r.lazyConstant) },
      deviation: { kernel: maxRelDeviation(out.loss, kernel), constant: maxRelDeviation(out.loss, constant) },
      perSeedDeviation: { kernel: perK, constant: perC }, kernelCK: r.kernelCK,
    };
  }
  if (r.finalParams.length > 0) out.finalParams = { data: r.finalParams, rows: S, cols: r.params };
  if (r.status === 'diverged') out.diverged = { seed: r.divergedSeed, step: r.divergedStep };
  return out;
}

/**
 * Train a deep linear network from random initialisation (THEORY §5) and record, at log-spaced
 * steps and for every seed, the population loss (and the train loss for 'fixed'), |θ_t − θ_0|²,
 * the dissipation Σ|Δθ|² and the objective's drop, with the speed-limit efficiencies of their
 * seed means (see the module comment for the exact definitions). 'population' is the fast path:
 * rank-1 gradients at O(ND + LN²) per step, never a D×N data product. With `lazy: true` the
 * lazy-limit predictions from the sampled v_0 (and NTK K_0) come with their deviation from the
 * simulation, which shrinks with N in NTK parameterisation (THEORY O9).
 * A seed whose loss becomes non-finite stops there (`status: 'diverged'`, NaN afterwards);
 * aborting rejects with an {@link AbortError}.
 * @example
 * const r = await deepLinear({
 *   inputDim: 200, width: 500, depth: 2, parameterization: 'mup', gamma0: 1,
 *   data: { spectrum: 'powerLaw', alpha: 1.5, b: 0.5 }, learningRate: 0.2, steps: 1000, seeds: 4,
 * });
 * console.log(r.times, r.loss, r.efficiency.loss);
 */
export async function deepLinear(options: DeepLinearOptions): Promise<DeepLinearResult> {
  const q = prepare('deepLinear', options);
  const r = await runLong('deepLinear', q.o, (control) =>
    native().deepLinear({ ...q.nat, ...control }, true) as Promise<NativeDeepLinearResult>);
  if (r.status === 'aborted') throw new AbortError('deepLinear: aborted');
  return toResult(q, r);
}

/** Synchronous {@link deepLinear} for small problems (blocks the event loop). */
export function deepLinearSync(options: DeepLinearOptions): DeepLinearResult {
  const q = prepare('deepLinearSync', options);
  const r = native().deepLinear({ ...q.nat, abort: new Int32Array(1), progress: new Float64Array(1) }, false) as NativeDeepLinearResult;
  return toResult(q, r);
}
