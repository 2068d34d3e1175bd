/**
 * Fluctuation theorems for training trajectories (THEORY.md §4.4–4.5): per-trajectory entropy
 * production of an ensemble and the integral / detailed fluctuation-theorem statistics. The
 * statistics are computed in native/core/fluctuation; this layer validates and shapes.
 */
import type { TrainHistory } from './dynamics.js';
import { native } from './native.js';
import { checkFloat64Array, checkInteger, checkNumberInRange, checkOptions, describeValue } from './validate.js';

export interface FluctuationOptions {
  /** Histogram bins for the detailed FT (even, ≥ 4). Default 30. */
  bins?: number;
  /** Histogram range [−sMax, sMax]; default: min(max Σ, −min Σ). */
  sMax?: number;
  /** Width of the confidence interval in standard errors. Default 1.96 (95 %). */
  z?: number;
}

export interface FluctuationResult {
  samples: number;
  /** ⟨Σ⟩ and its sample variance (a Gaussian Σ obeying the FTs has Var Σ = 2⟨Σ⟩). */
  mean: number;
  variance: number;
  /** P(Σ < 0). */
  fractionNegative: number;
  /** ⟨e^{−Σ}⟩ (= 1 by the integral FT) with its standard error and CI; a small `effectiveSamples` flags a tail-dominated mean. */
  integral: { value: number; stderr: number; ci: [number, number]; effectiveSamples: number };
  /**
   * ln[P(s)/P(−s)] against s (slope 1 by the detailed FT in a stationary state), weighted least
   * squares through the origin; null with `reason` when too few bins have samples at ±s.
   */
  detailed: {
    slope: number;
    stderr: number;
    points: { s: Float64Array; logRatio: Float64Array; weight: Float64Array };
    histogram: { centers: Float64Array; counts: Float64Array; binWidth: number };
  } | null;
  reason?: string;
}

function toFloat64(fn: string, name: string, v: unknown): Float64Array {
  if (v instanceof Float64Array) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Float64Array.from(v as number[]);
  throw new TypeError(`${fn}: ${name} must be a Float64Array or an array of numbers, got ${describeValue(v)}`);
}

/**
 * Integral and detailed fluctuation-theorem statistics of per-trajectory entropy productions.
 * @example
 * const ft = fluctuationTheorems(trajectoryEntropy(history, { logP0, logPT }));
 * ft.integral.value; // ≈ 1 within ft.integral.ci
 */
export function fluctuationTheorems(sigma: Float64Array | readonly number[], options?: FluctuationOptions): FluctuationResult {
  const fn = 'fluctuationTheorems';
  const s = toFloat64(fn, 'sigma', sigma);
  if (s.length < 2) throw new RangeError(`${fn}: sigma needs at least 2 values, got ${s.length}`);
  for (let i = 0; i < s.length; i++) if (!Number.isFinite(s[i])) throw new RangeError(`${fn}: sigma must contain only finite values, got ${s[i]} at index ${i}`);
  const o = checkOptions<FluctuationOptions>(fn, options);
  const bins = o.bins === undefined ? 30 : checkInteger(fn, 'options.bins', o.bins, 4, 100000);
  if (bins % 2 !== 0) throw new RangeError(`${fn}: options.bins must be even, got ${bins}`);
  const sMax = o.sMax === undefined ? 0 : checkNumberInRange(fn, 'options.sMax', o.sMax, { min: 0, exclusiveMin: true });
  const z = o.z === undefined ? 1.959963984540054 : checkNumberInRange(fn, 'options.z', o.z, { min: 0, exclusiveMin: true });
  const i = native().integralFT(s, z);
  const out: FluctuationResult = {
    samples: i.samples, mean: i.mean, variance: i.variance, fractionNegative: i.fractionNegative,
    integral: { value: i.value, stderr: i.stderr, ci: [i.ciLow, i.ciHigh], effectiveSamples: i.effectiveSamples },
    detailed: null,
  };
  try {
    const d = native().detailedFT(s, bins, sMax);
    out.detailed = {
      slope: d.slope, stderr: d.slopeStderr, points: { s: d.s, logRatio: d.logRatio, weight: d.weight },
      histogram: { centers: d.centers, counts: d.counts, binWidth: d.binWidth },
    };
  } catch (e) {
    // Not enough two-sided bins (e.g. a transient run with Σ > 0 almost always): say why.
    if (e instanceof RangeError) out.reason = e.message;
    else throw e;
  }
  return out;
}

export interface TrajectoryEntropyOptions {
  /** ln p0(θ0_i) per replica (exact initial density), with `logPT`. */
  logP0?: Float64Array;
  /** ln p_t(θt_i) per replica at the chosen time (exact marginal). */
  logPT?: Float64Array;
  /**
   * Without logP0/logPT: 'diagonal' fits a diagonal Gaussian to the ensemble at 0 and at t (an
   * approximation; exact only for diagonal Gaussian ensembles) or 'none' returns the medium part
   * alone. Default 'diagonal'.
   */
  boundary?: 'diagonal' | 'none';
}

/** ln N(x; m, diag(v)) per row of a [M, P] parameter matrix, with m, v fitted to the rows. */
function diagonalGaussianLogDensity(data: Float64Array, M: number, P: number): Float64Array {
  const m = new Float64Array(P), v = new Float64Array(P);
  for (let i = 0; i < M; i++) for (let p = 0; p < P; p++) m[p] += data[i * P + p] / M;
  for (let i = 0; i < M; i++) for (let p = 0; p < P; p++) v[p] += (data[i * P + p] - m[p]) ** 2 / M;
  let norm = 0;
  for (let p = 0; p < P; p++) norm += Math.log(2 * Math.PI * v[p]);
  const out = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    let q = 0;
    for (let p = 0; p < P; p++) q += (data[i * P + p] - m[p]) ** 2 / v[p];
    out[i] = -0.5 * (q + norm);
  }
  return out;
}

/**
 * Per-trajectory entropy production Σ_i = ln p0(θ0_i) − ln p_t(θt_i) + Δs_m,i at the history's
 * last log time (THEORY.md §4.4), the medium part Δs_m from the exact discrete-chain estimator the
 * Langevin run tracked (`entropy: true`). Pass the exact log densities when they are known
 * (linear models); otherwise the diagonal Gaussian fit is used (stated as approximate).
 */
export function trajectoryEntropy(history: TrainHistory, options?: TrajectoryEntropyOptions): Float64Array {
  const fn = 'trajectoryEntropy';
  const h = checkOptions<TrainHistory>(fn, history, 'history') as TrainHistory;
  if (history === undefined || !h.perReplica || !h.finalParams) throw new TypeError(`${fn}: history must be a TrainHistory (from train)`);
  const ent = h.perReplica.entropy;
  if (!ent) throw new RangeError(`${fn}: the history has no entropy tracker (train with method 'langevin', temperature > 0 and entropy: true)`);
  const M = ent.cols;
  const last = ent.rows - 1;
  if (h.times[last] !== h.stepsDone) throw new RangeError(`${fn}: the last log time (${h.times[last]}) must be the last step (${h.stepsDone}) so that θt is the final parameters`);
  const o = checkOptions<TrajectoryEntropyOptions>(fn, options);
  const out = Float64Array.from(ent.data.subarray(last * M, (last + 1) * M));
  if (o.logP0 !== undefined || o.logPT !== undefined) {
    const l0 = checkFloat64Array(fn, 'options.logP0', o.logP0, M);
    const lt = checkFloat64Array(fn, 'options.logPT', o.logPT, M);
    for (let i = 0; i < M; i++) out[i] += l0[i] - lt[i];
    return out;
  }
  const boundary = o.boundary ?? 'diagonal';
  if (boundary === 'none') return out;
  if (boundary !== 'diagonal') throw new RangeError(`${fn}: options.boundary must be 'diagonal' or 'none', got ${describeValue(boundary)}`);
  if (M < 2) throw new RangeError(`${fn}: the diagonal Gaussian boundary needs at least 2 replicas`);
  const P = h.numParams;
  const l0 = diagonalGaussianLogDensity(h.initialParams.data, M, P);
  const lt = diagonalGaussianLogDensity(h.finalParams.data, M, P);
  for (let i = 0; i < M; i++) out[i] += l0[i] - lt[i];
  return out;
}
