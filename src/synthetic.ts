/**
 * The embedded synthetic task of `speedlimits run`: Gaussian inputs whose covariance has a
 * power-law spectrum and a linear teacher whose per-direction label power is a power law too
 * (the setting of THEORY.md §3 and §5.2), plus optional label noise. Deterministic in the seed.
 */
import type { Matrix } from './matrix.js';
import * as random from './random.js';
import { checkInteger, checkNumberInRange, checkOptions } from './validate.js';

export interface SyntheticTaskOptions {
  /** Samples (default 256). */
  n?: number;
  /** Input dimension (default 64). */
  dim?: number;
  /** Input covariance λ_k ∝ k^(−capacity) (default 1.5). */
  capacity?: number;
  /** Teacher label power per direction λ_k w_k² ∝ k^(−1−source) (default −0.5). */
  source?: number;
  /** Label noise standard deviation, relative to the unit-variance teacher (default 0.1). */
  noise?: number;
  seed?: number;
}

export interface SyntheticTask {
  x: Matrix;
  /** Targets, standardised teacher plus noise. */
  y: Float64Array;
  /** The input covariance spectrum (scaled so that Σ_k λ_k = dim: unit mean square entries). */
  inputSpectrum: Float64Array;
  options: Required<SyntheticTaskOptions>;
}

/**
 * x_i = diag(√λ) z_i with z ~ N(0, I), λ_k ∝ k^(−capacity); y_i = Σ_k w_k x_ik with
 * λ_k w_k² ∝ k^(−1−source), standardised, plus noise·N(0, 1). Streams: inputs 11, teacher
 * noise 12 of the seed.
 * @example const { x, y } = syntheticPowerLawTask({ n: 256, dim: 64, seed: 1 });
 */
export function syntheticPowerLawTask(options?: SyntheticTaskOptions): SyntheticTask {
  const fn = 'syntheticPowerLawTask';
  const o = checkOptions<SyntheticTaskOptions>(fn, options);
  const n = o.n === undefined ? 256 : checkInteger(fn, 'options.n', o.n, 2);
  const d = o.dim === undefined ? 64 : checkInteger(fn, 'options.dim', o.dim, 1);
  const a = o.capacity === undefined ? 1.5 : checkNumberInRange(fn, 'options.capacity', o.capacity, { min: 0, max: 8 });
  const b = o.source === undefined ? -0.5 : checkNumberInRange(fn, 'options.source', o.source, { min: -1, max: 8 });
  const noise = o.noise === undefined ? 0.1 : checkNumberInRange(fn, 'options.noise', o.noise, { min: 0 });
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'options.seed', o.seed, 0);
  const lam = new Float64Array(d);
  for (let k = 0; k < d; k++) lam[k] = Math.pow(k + 1, -a);
  const scale = d / lam.reduce((s, v) => s + v, 0);
  for (let k = 0; k < d; k++) lam[k] *= scale;
  const z = random.normal({ seed, stream: 11, length: n * d });
  const x = new Float64Array(n * d);
  const w = new Float64Array(d);
  for (let k = 0; k < d; k++) w[k] = Math.pow(k + 1, -(1 + b) / 2) / Math.sqrt(lam[k]);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) {
      const v = Math.sqrt(lam[k]) * z[i * d + k];
      x[i * d + k] = v;
      s += w[k] * v;
    }
    y[i] = s;
  }
  let mean = 0;
  for (const v of y) mean += v / n;
  let sd = 0;
  for (const v of y) sd += (v - mean) ** 2 / n;
  sd = Math.sqrt(sd) || 1;
  const eps = random.normal({ seed, stream: 12, length: n });
  for (let i = 0; i < n; i++) y[i] = (y[i] - mean) / sd + noise * eps[i];
  return { x: { data: x, rows: n, cols: d }, y, inputSpectrum: lam, options: { n, dim: d, capacity: a, source: b, noise, seed } };
}
