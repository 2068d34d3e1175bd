/**
 * Measured speed-limit efficiencies of a training history (THEORY.md §1.6) and the location of
 * the efficiency regimes on an 𝓔(t) curve (THEORY.md §3.2–§3.3).
 */
import type { TrainHistory } from './dynamics.js';
import { checkOptions, describeValue } from './validate.js';

/** Result of {@link measuredEfficiency}; every array is indexed like `times` (steps). */
export interface MeasuredEfficiency {
  times: Float64Array;
  /** 𝓔_kin = ⟨|θt−θ0|²⟩ / (t ⟨Σ_k |Δθ_k|²⟩) ∈ [0, 1] (NaN at t = 0). Meaningful at T = 0 only. */
  kinematic: Float64Array;
  /** 𝓔_loss = ⟨|θt−θ0|²⟩ / (η t ⟨L0 − Lt⟩); can exceed 1 by O(ηλ_max) (NaN at t = 0). */
  loss: Float64Array;
  /**
   * T > 0, distribution level: Gaussian fits at 0 and t, W2² by Bures (the history's ensemble
   * W2²), Σ̂ = ⟨L0 − Lt⟩/T + ΔŜ_sys with ΔŜ_sys from the diagonal Gaussian fit, and
   * 𝓔 = W2²/(t η T Σ̂). With M replicas in P ≫ M dimensions the sample W2² carries an upward
   * bias of order P·Var/M: read it as an estimate, exact only for large M.
   */
  distribution?: {
    w2sq: Float64Array;
    heat: Float64Array;
    systemEntropy: Float64Array;
    entropyProduction: Float64Array;
    /** Σ from the exact discrete-chain medium term (history.mean.entropy) + ΔŜ_sys, when tracked. */
    entropyProductionChain?: Float64Array;
    efficiency: Float64Array;
  };
}

/**
 * 𝓔_kin, 𝓔_loss and (for T > 0) the distribution-level 𝓔 of a {@link TrainHistory}.
 * @example const m = measuredEfficiency(await train(net, data, { learningRate: 0.01, steps: 1000, replicas: 8 }));
 */
export function measuredEfficiency(history: TrainHistory): MeasuredEfficiency {
  const fn = 'measuredEfficiency';
  const h = checkOptions<TrainHistory>(fn, history, 'history') as TrainHistory;
  if (history === undefined || !(h.times instanceof Float64Array) || !h.mean || !h.ensemble)
    throw new TypeError(`${fn}: history must be a TrainHistory (from train), got ${describeValue(history)}`);
  const t = h.times.length;
  const out: MeasuredEfficiency = { times: h.times, kinematic: h.efficiency.kinematic, loss: h.efficiency.loss };
  if (h.temperature > 0) {
    const T = h.temperature;
    const w2sq = h.ensemble.w2;
    const heat = h.mean.heat;
    const systemEntropy = h.ensemble.logVarRatio;
    const entropyProduction = new Float64Array(t);
    const efficiency = new Float64Array(t);
    let chain: Float64Array | undefined;
    if (h.mean.entropy) chain = new Float64Array(t);
    for (let i = 0; i < t; i++) {
      entropyProduction[i] = heat[i] / T + systemEntropy[i];
      if (chain) chain[i] = h.mean.entropy![i] + systemEntropy[i];
      const tt = h.times[i];
      efficiency[i] = tt > 0 ? w2sq[i] / (tt * h.learningRate * T * entropyProduction[i]) : NaN;
    }
    out.distribution = { w2sq, heat, systemEntropy, entropyProduction, efficiency };
    if (chain) out.distribution.entropyProductionChain = chain;
  }
  return out;
}

/** A contiguous range of log times. */
export interface RegimeSpan {
  /** First and last time of the span (steps). */
  start: number;
  end: number;
  /** Indices into the times array. */
  from: number;
  to: number;
  /** Mean and minimum of 𝓔 over the span. */
  mean: number;
  min: number;
}

export interface Regimes {
  /** The longest run where 𝓔 is roughly constant (|d ln𝓔/d ln t| ≤ slopeTolerance) and ≥ floor: "optimal in a scaling sense". */
  optimal: RegimeSpan | null;
  /** The times before `optimal` where 𝓔 is below `dip` × the optimal level: the early non-optimal regime. */
  earlyNonOptimal: RegimeSpan | null;
}

/**
 * Locate the regimes of an efficiency curve on a (geometric) time grid. Definitions, chosen to
 * match THEORY.md §3.2–3.3 and stated in the report: the optimal regime is the longest run of
 * consecutive log times (t ≥ minTime, default 0) over which the local slope d ln𝓔/d ln t stays within
 * ±slopeTolerance (default 0.15) and 𝓔 ≥ floor (default 0.05); the early non-optimal regime is the
 * set of earlier times where 𝓔 < dip × (the optimal regime's mean 𝓔) (default dip 0.75).
 */
export function locateRegimes(times: ArrayLike<number>, efficiency: ArrayLike<number>,
  options?: { slopeTolerance?: number; floor?: number; dip?: number; minTime?: number }): Regimes {
  const o = checkOptions<{ slopeTolerance: number; floor: number; dip: number; minTime: number }>('locateRegimes', options);
  const tol = o.slopeTolerance ?? 0.15, floor = o.floor ?? 0.05, dip = o.dip ?? 0.75, minTime = o.minTime ?? 0;
  const idx: number[] = [];
  for (let i = 0; i < times.length; i++) if (times[i] > 0 && Number.isFinite(efficiency[i]) && efficiency[i] > 0) idx.push(i);
  // The optimal regime is searched from minTime on (e.g. after theory's early regime, where 𝓔 ≈ 1 trivially).
  const first = Math.max(0, idx.findIndex((i) => times[i] >= minTime));
  const span = (a: number, b: number): RegimeSpan => {
    let s = 0, m = Infinity;
    for (let k = a; k <= b; k++) {
      s += efficiency[idx[k]];
      m = Math.min(m, efficiency[idx[k]]);
    }
    return { start: times[idx[a]], end: times[idx[b]], from: idx[a], to: idx[b], mean: s / (b - a + 1), min: m };
  };
  // Steps between consecutive points that keep the slope small and the level above the floor.
  let best: [number, number] | null = null;
  let runStart = -1;
  for (let k = first; k + 1 < idx.length; k++) {
    const i = idx[k], j = idx[k + 1];
    const slope = Math.log(efficiency[j] / efficiency[i]) / Math.log(times[j] / times[i]);
    const ok = Math.abs(slope) <= tol && efficiency[i] >= floor && efficiency[j] >= floor;
    if (ok && runStart < 0) runStart = k;
    if ((!ok || k + 2 === idx.length) && runStart >= 0) {
      const end = ok ? k + 1 : k;
      if (end > runStart && (!best || times[idx[end]] / times[idx[runStart]] > times[idx[best[1]]] / times[idx[best[0]]])) best = [runStart, end];
      runStart = -1;
    }
  }
  if (!best) return { optimal: null, earlyNonOptimal: null };
  const optimal = span(best[0], best[1]);
  let a = -1, b = -1;
  for (let k = 0; k < best[0]; k++)
    if (efficiency[idx[k]] < dip * optimal.mean) {
      if (a < 0) a = k;
      b = k;
    }
  return { optimal, earlyNonOptimal: a >= 0 ? span(a, b) : null };
}
