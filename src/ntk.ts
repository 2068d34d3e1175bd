/**
 * The NTK engine: empirical neural tangent kernels of the networks in src/nets.ts, computed by
 * layer-wise Gram products in the core (the n×P Jacobian is never formed).
 */
import { resultArray } from './alloc.js';
import { resolveBackend, type Backend } from './backend.js';
import { checkLongRunOptions, runLong, type LongRunOptions } from './long.js';
import { checkMatrix, type Matrix } from './matrix.js';
import { native } from './native.js';
import { Network, normalizeSpec, type NetSpec } from './nets.js';
import { checkAllFinite, checkBoolean, checkEnum, checkFloat64Array, checkInteger, checkOptions } from './validate.js';

/** Options of {@link ntk}. */
export interface NtkOptions extends LongRunOptions {
  /**
   * 'full': Θ with rows i·k + a, [n1·k, n2·k]; 'trace': the mean over outputs of the diagonal
   * blocks, [n1, n2] (the same as 'full' when k = 1). Default 'full'.
   */
  outputs?: 'full' | 'trace';
  /**
   * Where to compute: 'auto' (default: the GPU when one is visible and the network is an FCN),
   * 'cpu' or 'cuda' (FCN only).
   */
  backend?: Backend;
}

function prepareNtk(fn: string, net: unknown, params: unknown, x1: unknown, x2: unknown, options: unknown) {
  if (!(net instanceof Network)) throw new TypeError(`${fn}: net must be a Network (from createNetwork)`);
  const { p, X } = net.checkInputs(fn, params, x1);
  let X2: Matrix<Float64Array | Float32Array> | null = null;
  if (x2 !== undefined && x2 !== null && x2 !== x1) {
    X2 = checkMatrix(fn, 'x2', x2, { dtype: 'any', cols: net.inputSize, finite: true });
    if (X2.data.constructor !== p.constructor) throw new TypeError(`${fn}: x2 must have the dtype of params (${p.constructor.name})`);
    if (X2.rows === 0) throw new RangeError(`${fn}: x2 must have at least one row`);
  }
  const o = checkOptions<NtkOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const trace = (o.outputs === undefined ? 'full' : checkEnum(fn, 'options.outputs', o.outputs, ['full', 'trace'] as const)) === 'trace';
  const k = trace ? 1 : net.outputDim;
  const n2 = X2 ? X2.rows : X.rows;
  const cuda = resolveBackend(fn, o.backend, net.spec.type === 'fcn' ? undefined : 'the NTK of a CNN (FCN only)');
  const Ctor = p.constructor as Float64ArrayConstructor | Float32ArrayConstructor;
  const out = { data: resultArray(Ctor, X.rows * k * n2 * k), rows: X.rows * k, cols: n2 * k };
  return { net, p, X, X2, n2, trace, out, o, cuda };
}

/**
 * The empirical NTK Θ = J Jᵀ of `net` at `params` between the rows of x1 and x2 (default x1,
 * then Θ is exactly symmetric). FCN: one forward and one backward pass, then per layer
 * (s²·H Hᵀ + sb²) ⊙ (Δ Δᵀ) by GEMM; CNN: per-layer per-sample gradients (im2col + GEMM) streamed
 * into G Gᵀ. Float32 params and inputs compute in float.
 * @example
 * const net = createNetwork({ type: 'fcn', inputDim: 8, widths: [256], outputDim: 1, activation: 'relu' });
 * const K = await ntk(net, net.init({ seed: 1 }), X);
 */
export async function ntk<T extends Float64Array | Float32Array>(net: Network, params: T, x1: Matrix<T>, x2?: Matrix<T> | null, options?: NtkOptions): Promise<Matrix<T>> {
  const q = prepareNtk('ntk', net, params, x1, x2, options);
  await runLong('ntk', q.o, (control) =>
    native().ntk(q.net.spec, q.p, q.X.data, q.X.rows, q.X2?.data ?? null, q.n2, q.trace, q.out.data, { ...control, cuda: q.cuda }, true),
  );
  return q.out as Matrix<T>;
}

/**
 * Synchronous {@link ntk} (for small inputs).
 * @example const K = ntkSync(net, theta, X, null, { outputs: 'trace' });
 */
export function ntkSync<T extends Float64Array | Float32Array>(net: Network, params: T, x1: Matrix<T>, x2?: Matrix<T> | null, options?: NtkOptions): Matrix<T> {
  const q = prepareNtk('ntkSync', net, params, x1, x2, options);
  native().ntk(q.net.spec, q.p, q.X.data, q.X.rows, q.X2?.data ?? null, q.n2, q.trace, q.out.data, { cuda: q.cuda }, false);
  return q.out as Matrix<T>;
}

// ---- analytic kernels ------------------------------------------------------------------------

/** Infinite-width kernels (per output; the full kernel over k outputs is K ⊗ I_k). */
export interface AnalyticKernels {
  ntk: Matrix;
  nngp: Matrix;
}

function prepareAnalytic(fn: string, spec: unknown, x1: unknown, x2: unknown, options: unknown) {
  const s = normalizeSpec(fn, spec);
  if (s.parameterization !== 'ntk') throw new RangeError(`${fn}: spec.parameterization must be 'ntk' (the infinite-width limit is that of the NTK parameterisation)`);
  const X = checkMatrix(fn, 'x1', x1, { cols: s.inputDim, finite: true }) as Matrix;
  if (X.rows === 0) throw new RangeError(`${fn}: x1 must have at least one row`);
  let X2: Matrix | null = null;
  if (x2 !== undefined && x2 !== null && x2 !== x1) {
    X2 = checkMatrix(fn, 'x2', x2, { cols: s.inputDim, finite: true }) as Matrix;
    if (X2.rows === 0) throw new RangeError(`${fn}: x2 must have at least one row`);
  }
  if (s.type === 'cnn' && (s.height > 32 || s.width > 32))
    throw new RangeError(`${fn}: spec.inputShape must be at most 32×32 for the analytic CNN kernel (cost ∝ (H·W)²), got ${s.height}×${s.width}`);
  const o = checkOptions<LongRunOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const n2 = X2 ? X2.rows : X.rows;
  const out: AnalyticKernels = {
    ntk: { data: resultArray(Float64Array, X.rows * n2), rows: X.rows, cols: n2 },
    nngp: { data: resultArray(Float64Array, X.rows * n2), rows: X.rows, cols: n2 },
  };
  return { s, X, X2, n2, out, o };
}

/**
 * The infinite-width NTK and NNGP of exactly this network (NTK parameterisation): closed forms
 * for relu, erf, gelu and linear, a Hermite series / graded quadrature for tanh; CNNs (3×3 same
 * convolutions, global average pooling) through position-pair covariance maps, cost
 * O(n1·n2·(H·W)²·9·L) — practical up to 16×16 images on a CPU (32×32 at most).
 * @example const { ntk: K, nngp } = await ntkAnalytic({ type: 'fcn', inputDim: 8, widths: [1, 1], outputDim: 1, activation: 'relu' }, X);
 */
export async function ntkAnalytic(spec: NetSpec, x1: Matrix, x2?: Matrix | null, options?: LongRunOptions): Promise<AnalyticKernels> {
  const q = prepareAnalytic('ntkAnalytic', spec, x1, x2, options);
  await runLong('ntkAnalytic', q.o, (control) =>
    native().ntkAnalytic(q.s, q.X.data, q.X.rows, q.X2?.data ?? null, q.n2, q.out.ntk.data, q.out.nngp.data, { ...control }, true),
  );
  return q.out;
}

/**
 * Synchronous {@link ntkAnalytic}.
 * @example const { ntk } = ntkAnalyticSync(spec, X);
 */
export function ntkAnalyticSync(spec: NetSpec, x1: Matrix, x2?: Matrix | null): AnalyticKernels {
  const q = prepareAnalytic('ntkAnalyticSync', spec, x1, x2, undefined);
  native().ntkAnalytic(q.s, q.X.data, q.X.rows, q.X2?.data ?? null, q.n2, q.out.ntk.data, q.out.nngp.data, {}, false);
  return q.out;
}

// ---- spectra and power laws --------------------------------------------------------------------

/** Result of {@link spectrum}. */
export interface Spectrum {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Eigenvectors as columns (with `vectors: true`). */
  vectors?: Matrix;
  /** Label projections p_k = (u_kᵀ y)²/|y|² (with `y`); they sum to 1. */
  projections?: Float64Array;
  /** Eigenvalues below −n·1e-15·max|λ| (a kernel that should be PSD: rounding or a bug upstream). */
  negativeCount: number;
  mostNegative: number;
  /** A human-readable warning when negativeCount > 0. */
  warning?: string;
}

function prepareSpectrum(fn: string, K: unknown, options: unknown) {
  const k = checkMatrix(fn, 'K', K, { square: true, finite: true }) as Matrix;
  const o = checkOptions<{ y?: Float64Array; vectors?: boolean }>(fn, options);
  let y: Float64Array | null = null;
  if (o.y !== undefined) {
    y = checkFloat64Array(fn, 'options.y', o.y, k.rows);
    checkAllFinite(fn, 'options.y', y);
    if (y.every((v) => v === 0)) throw new RangeError(`${fn}: options.y must not be all zeros`);
  }
  const vectors = o.vectors === undefined ? false : checkBoolean(fn, 'options.vectors', o.vectors);
  return { k, y, vectors };
}

function shapeSpectrum(raw: { values: Float64Array; vectors?: Float64Array; projections?: Float64Array; negativeCount: number; mostNegative: number }, n: number): Spectrum {
  const r: Spectrum = { values: raw.values, negativeCount: raw.negativeCount, mostNegative: raw.mostNegative };
  if (raw.vectors) r.vectors = { data: raw.vectors, rows: n, cols: n };
  if (raw.projections) r.projections = raw.projections;
  if (raw.negativeCount > 0) r.warning = `${raw.negativeCount} eigenvalue(s) below rounding level (most negative ${raw.mostNegative}): the kernel is not positive semidefinite`;
  return r;
}

/**
 * Eigenvalues (descending), optional eigenvectors and label projections of a symmetric kernel
 * (reads the lower triangle). Negative eigenvalues beyond rounding are reported, not thrown.
 * @example const { values, projections } = await spectrum(K, { y });
 */
export async function spectrum(K: Matrix, options?: { y?: Float64Array; vectors?: boolean }): Promise<Spectrum> {
  const q = prepareSpectrum('spectrum', K, options);
  return shapeSpectrum(await native().spectrum(q.k.data, q.k.rows, q.y, q.vectors, true), q.k.rows);
}

/**
 * Synchronous {@link spectrum}.
 * @example spectrumSync(K).values[0] // the largest eigenvalue
 */
export function spectrumSync(K: Matrix, options?: { y?: Float64Array; vectors?: boolean }): Spectrum {
  const q = prepareSpectrum('spectrumSync', K, options);
  return shapeSpectrum(native().spectrum(q.k.data, q.k.rows, q.y, q.vectors, false), q.k.rows);
}

/** A fit v_k ≈ prefactor · k^(−exponent) over the 1-based ranks [k1, k2]. */
export interface PowerLawFit {
  exponent: number;
  prefactor: number;
  /** R² of the log-log least-squares fit. */
  r2: number;
  k1: number;
  k2: number;
  /** Ranks used (positive finite values); fewer than 2 gives NaN fields. */
  points: number;
}

function checkRange(fn: string, count: number, range: unknown): [number, number] {
  if (range === undefined) return count >= 4 ? [2, Math.floor(count / 2)] : [1, Math.max(1, count)];
  if (!Array.isArray(range) || range.length !== 2) throw new TypeError(`${fn}: options.range must be [k1, k2]`);
  const k1 = checkInteger(fn, 'options.range[0]', range[0], 1, count);
  const k2 = checkInteger(fn, 'options.range[1]', range[1], k1, count);
  return [k1, k2];
}

/**
 * Least-squares power law of the values against their 1-based rank over `range` (default
 * [2, ⌊n/2⌋]: skips the top outlier mode and the finite-size tail).
 * @example const { exponent: alpha } = powerLawFit(spectrumSync(K).values);
 */
export function powerLawFit(values: Float64Array, options?: { range?: [number, number] }): PowerLawFit {
  const fn = 'powerLawFit';
  const v = checkFloat64Array(fn, 'values', values);
  if (v.length === 0) throw new RangeError(`${fn}: values must not be empty`);
  const o = checkOptions<{ range: [number, number] }>(fn, options);
  const [k1, k2] = checkRange(fn, v.length, o.range);
  return native().powerLawFit(v, k1, k2);
}

/** The spectral exponents of THEORY.md §3. */
export interface SpectralExponents {
  /** λ_k ~ k^(−α). */
  alpha: PowerLawFit;
  /** Per-mode label power p_k ~ k^(−β) (THEORY §3.1's β; use this one in §3.2's formulas). */
  beta: PowerLawFit;
  /** Residual label power 1 − Σ_{i≤k} p_i ~ k^(−β_res). */
  betaResidual: PowerLawFit;
  /** ν = (1 + α − β)/α. */
  nu: number;
  /** 1 − α < β < 1: the window where training is optimal in a scaling sense (THEORY §3.2). */
  scalingRegime: boolean;
}

/**
 * Fit α (eigenvalue decay) and β (label power decay) from a spectrum and its label projections.
 * @example const { alpha, beta } = fitExponents(s.values, s.projections!);
 */
export function fitExponents(values: Float64Array, projections: Float64Array, options?: { range?: [number, number] }): SpectralExponents {
  const fn = 'fitExponents';
  const v = checkFloat64Array(fn, 'values', values);
  const p = checkFloat64Array(fn, 'projections', projections, v.length);
  if (v.length === 0) throw new RangeError(`${fn}: values must not be empty`);
  const o = checkOptions<{ range: [number, number] }>(fn, options);
  const [k1, k2] = checkRange(fn, v.length, o.range);
  return native().fitAlphaBeta(v, p, k1, k2);
}
