/**
 * The W2 engine: cost matrices, entropic optimal transport (log-domain Sinkhorn and the debiased
 * Sinkhorn divergence), Gaussian (Bures) W2 in full-rank and sample form, and exact 1-D W2.
 *
 * Conventions (tests pin them):
 * - cost `C_ij = |x_i − y_j|²`, squared Euclidean, not halved; ε is absolute, on C as given;
 * - `OT_ε(a,b) = min_P ⟨P,C⟩ + ε·KL(P | a⊗b)`, potentials with `P_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)`,
 *   and at convergence `OT_ε = ⟨a,f⟩ + ⟨b,g⟩`;
 * - `S_ε = OT_ε(a,b) − ½OT_ε(a,a) − ½OT_ε(b,b)` (0 for identical clouds);
 * - weights default to uniform; they must be ≥ 0, finite and sum to 1 (within 1e-12 relative);
 * - sample moments are weighted, covariance normalised by the weight sum (`unbiased`: by 1 − Σw²).
 */
import { resultArray } from './alloc.js';
import { resolveBackend, type Backend } from './backend.js';
import { checkLongRunOptions, runLong, type LongRunOptions } from './long.js';
import { checkMatrix, type Matrix } from './matrix.js';
import { native, type NativeSinkhornResult } from './native.js';
import { checkBoolean, checkFloat64Array, checkInteger, checkNumberInRange, checkOptions, type FloatArray } from './validate.js';

type AnyMatrix = Matrix<Float64Array | Float32Array>;

/** Validate weights (or make uniform ones): ≥ 0, finite, summing to 1 within 1e-12 relative. */
export function checkWeights(fn: string, name: string, w: unknown, n: number): Float64Array {
  if (w === undefined) return new Float64Array(n).fill(1 / n);
  const a = checkFloat64Array(fn, name, w, n);
  // Compensated (Kahan) sum, so the check measures the weights and not the summation.
  let s = 0;
  let comp = 0;
  for (let i = 0; i < n; i++) {
    const v = a[i];
    if (!Number.isFinite(v)) throw new RangeError(`${fn}: ${name} must contain only finite values, got ${v} at index ${i}`);
    if (v < 0) throw new RangeError(`${fn}: ${name} must be non-negative, got ${v} at index ${i}`);
    const yk = v - comp;
    const t = s + yk;
    comp = t - s - yk;
    s = t;
  }
  if (!(Math.abs(s - 1) <= 1e-12)) throw new RangeError(`${fn}: ${name} must sum to 1 (within 1e-12), got ${s}`);
  return a;
}

// ---- cost matrix --------------------------------------------------------------------------

/** Options of {@link costMatrix}. */
export interface CostMatrixOptions {
  /** Subtract a common centre before the GEMM (keeps accuracy for clouds far from 0). Default true. */
  center?: boolean;
  /** Where to compute: 'auto' (default: the GPU when one is visible), 'cpu' or 'cuda'. */
  backend?: Backend;
}

function prepareCost(fn: string, x: unknown, y: unknown, options: unknown) {
  const X = checkMatrix(fn, 'x', x, { dtype: 'any' });
  const Y = y === undefined || y === x ? X : checkMatrix(fn, 'y', y, { dtype: 'any' });
  if (X.data.constructor !== Y.data.constructor)
    throw new TypeError(`${fn}: x and y must have the same dtype, got ${X.data.constructor.name} and ${Y.data.constructor.name}`);
  if (X.cols !== Y.cols) throw new RangeError(`${fn}: x has ${X.cols} features but y has ${Y.cols}`);
  if (X.rows === 0 || Y.rows === 0) throw new RangeError(`${fn}: the clouds must not be empty (x has ${X.rows} points, y ${Y.rows})`);
  const o = checkOptions<CostMatrixOptions>(fn, options);
  const center = o.center === undefined ? true : checkBoolean(fn, 'options.center', o.center);
  const cuda = resolveBackend(fn, o.backend);
  const Ctor = X.data.constructor as Float64ArrayConstructor | Float32ArrayConstructor;
  const out: AnyMatrix = { data: resultArray(Ctor, X.rows * Y.rows), rows: X.rows, cols: Y.rows };
  // finiteness is checked by the core (one vectorised pass), with the same message
  const args = [X.data, X.rows, Y.data, Y.rows, X.cols, center, Y === X, out.data] as const;
  return { args, out, fn, cuda };
}

/**
 * Squared-Euclidean cost matrix `C_ij = |x_i − y_j|²` between the rows of x (n×d) and y (m×d),
 * by GEMM over chunks of the features after subtracting a common centre; clamped at 0; exactly
 * symmetric with a 0 diagonal when y is omitted or is x. Float32 inputs give a Float32 result
 * (relative accuracy ~1e-6 of the spread, whatever the offset from the origin).
 * @example const C = await costMatrix(X, Y);
 */
export async function costMatrix<T extends Float64Array | Float32Array>(x: Matrix<T>, y?: Matrix<T>, options?: CostMatrixOptions): Promise<Matrix<T>> {
  const { args, out, fn, cuda } = prepareCost('costMatrix', x, y, options);
  await native().costMatrix(...args, true, fn, cuda);
  return out as Matrix<T>;
}

/**
 * Synchronous {@link costMatrix}.
 * @example const C = costMatrixSync(X); // pairwise within X
 */
export function costMatrixSync<T extends Float64Array | Float32Array>(x: Matrix<T>, y?: Matrix<T>, options?: CostMatrixOptions): Matrix<T> {
  const { args, out, fn, cuda } = prepareCost('costMatrixSync', x, y, options);
  native().costMatrix(...args, false, fn, cuda);
  return out as Matrix<T>;
}

// ---- Sinkhorn ----------------------------------------------------------------------------

/** ε-scaling: anneal ε from `start` (default: the largest cost) by `factor` (default 0.5). */
export interface EpsilonScaling {
  start?: number;
  factor?: number;
}

/** Options of {@link sinkhorn}. */
export interface SinkhornOptions extends LongRunOptions {
  /** Source weights (n), default uniform. */
  a?: Float64Array;
  /** Target weights (m), default uniform. */
  b?: Float64Array;
  /** Entropic regularisation ε > 0, absolute (same units as C). Required. */
  epsilon: number;
  /** Stop when the L1 marginal error is below. Default 1e-9. */
  tol?: number;
  /** Iteration cap (one iteration = an f and a g update). Default 10000. */
  maxIter?: number;
  /** Anneal ε (warm starts through a decreasing sequence). Default: on when ε < 0.01·max C. */
  epsilonScaling?: boolean | EpsilonScaling;
  /** Initial potentials. */
  warmStart?: { f: Float64Array; g: Float64Array };
  /** Also return the plan P (n×m). Default false. */
  returnPlan?: boolean;
  /**
   * Polish a slow tail (after 300 iterations at the target ε) with Sinkhorn–Newton steps
   * (conjugate gradients on the marginal equations, P held in memory; used when n·m ≤ 4e7).
   * Default true.
   */
  newton?: boolean;
  /**
   * Kernel-mode fast path: iterate on scalings u, v of a kernel built from the current
   * potentials (two matrix-vector products per iteration, no exp) while they stay in a safe
   * range, falling back to the log domain when they leave it. Needs n·m ≤ 4e7. Default true.
   */
  kernel?: boolean;
  /**
   * Where to compute: 'auto' (default: the GPU when one is visible), 'cpu' or 'cuda'. On the GPU
   * every iteration is a fused log-domain pass over C (`newton` and `kernel` are CPU-only).
   */
  backend?: Backend;
}

/** Result of {@link sinkhorn}. Non-convergence is reported here (`converged: false`), not thrown. */
export interface SinkhornResult {
  /** ⟨P, C⟩. */
  transportCost: number;
  /** OT_ε = ⟨a,f⟩ + ⟨b,g⟩. */
  objective: number;
  f: Float64Array;
  g: Float64Array;
  plan?: Matrix;
  iterations: number;
  /** L1 error of the column marginals (rows are exact after the final f-update). */
  marginalError: number;
  converged: boolean;
  /** The ε used. */
  epsilon: number;
}


function maxOf(d: FloatArray): number {
  let m = 0;
  for (let i = 0; i < d.length; i++) if (d[i] > m) m = d[i];
  return m;
}

function prepareSinkhorn(fn: string, C: unknown, options: unknown, symmetric = false) {
  const c = checkMatrix(fn, 'C', C, { dtype: 'any' });
  if (c.rows === 0 || c.cols === 0) throw new RangeError(`${fn}: C must not be empty, got ${c.rows}x${c.cols}`);
  if (options === undefined) throw new TypeError(`${fn}: options { epsilon } are required`);
  const o = checkOptions<SinkhornOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const epsilon = checkNumberInRange(fn, 'options.epsilon', o.epsilon, { min: 0, exclusiveMin: true });
  const tol = o.tol === undefined ? 1e-9 : checkNumberInRange(fn, 'options.tol', o.tol, { min: 0, exclusiveMin: true });
  const maxIter = o.maxIter === undefined ? 10000 : checkInteger(fn, 'options.maxIter', o.maxIter, 1, 1e9);
  const a = checkWeights(fn, 'options.a', o.a, c.rows);
  const b = symmetric ? a : checkWeights(fn, 'options.b', o.b, c.cols);
  const cmax = maxOf(c.data);
  let scaling = epsilon < 0.01 * cmax;
  let epsilonStart = 0;
  let epsilonFactor = 0.5;
  if (o.epsilonScaling !== undefined) {
    if (typeof o.epsilonScaling === 'boolean') scaling = o.epsilonScaling;
    else {
      const s = checkOptions<EpsilonScaling>(fn, o.epsilonScaling, 'options.epsilonScaling');
      scaling = true;
      if (s.start !== undefined) epsilonStart = checkNumberInRange(fn, 'options.epsilonScaling.start', s.start, { min: 0, exclusiveMin: true });
      if (s.factor !== undefined)
        epsilonFactor = checkNumberInRange(fn, 'options.epsilonScaling.factor', s.factor, { min: 0, max: 0.999, exclusiveMin: true });
    }
  }
  const f = new Float64Array(c.rows);
  const g = new Float64Array(c.cols);
  let warmStart = false;
  if (o.warmStart !== undefined) {
    const w = checkOptions<{ f: Float64Array; g: Float64Array }>(fn, o.warmStart, 'options.warmStart');
    f.set(checkFloat64Array(fn, 'options.warmStart.f', w.f, c.rows));
    if (!symmetric) g.set(checkFloat64Array(fn, 'options.warmStart.g', w.g, c.cols));
    if (!f.every(Number.isFinite) || !g.every(Number.isFinite)) throw new RangeError(`${fn}: options.warmStart must contain only finite values`);
    warmStart = true;
  }
  const returnPlan = o.returnPlan === undefined ? false : checkBoolean(fn, 'options.returnPlan', o.returnPlan);
  const plan: Matrix | undefined = returnPlan ? { data: resultArray(Float64Array, c.rows * c.cols), rows: c.rows, cols: c.cols } : undefined;
  const newton = o.newton === undefined ? true : checkBoolean(fn, 'options.newton', o.newton);
  const kernel = o.kernel === undefined ? true : checkBoolean(fn, 'options.kernel', o.kernel);
  const cuda = resolveBackend(fn, o.backend);
  const nativeOptions = { epsilon, tol, maxIter, epsilonScaling: scaling, epsilonStart, epsilonFactor, warmStart, newton, kernel, cuda };
  // finiteness of C is checked by the core (one vectorised pass), with the same message
  return { c, o, a, b, f, g, plan, epsilon, nativeOptions, fn };
}

function shapeSinkhorn(raw: NativeSinkhornResult, p: ReturnType<typeof prepareSinkhorn>): SinkhornResult {
  const r: SinkhornResult = {
    transportCost: raw.transportCost,
    objective: raw.objective,
    f: p.f,
    g: p.g,
    iterations: raw.iterations,
    marginalError: raw.marginalError,
    converged: raw.converged,
    epsilon: p.epsilon,
  };
  if (p.plan) r.plan = p.plan;
  return r;
}

/**
 * Entropic optimal transport by log-domain Sinkhorn: stable for any ε > 0 (no underflow), with
 * a fused single-pass log-sum-exp, optional ε-scaling, and a stop on the L1 marginal error.
 * Float32 C is read as is and computed in double.
 * @example
 * const C = await costMatrix(X, Y);
 * const { objective, transportCost, converged } = await sinkhorn(C, { epsilon: 0.01 * maxC });
 */
export async function sinkhorn(C: AnyMatrix, options: SinkhornOptions): Promise<SinkhornResult> {
  const p = prepareSinkhorn('sinkhorn', C, options);
  const raw = await runLong('sinkhorn', p.o, (control) =>
    native().sinkhorn(p.c.data, p.c.rows, p.c.cols, p.a, p.b, p.f, p.g, p.plan?.data ?? null, { ...p.nativeOptions, ...control }, true, p.fn),
  );
  return shapeSinkhorn(raw, p);
}

/**
 * Synchronous {@link sinkhorn} (no signal/progress).
 * @example const r = sinkhornSync(C, { epsilon: 0.1, returnPlan: true });
 */
export function sinkhornSync(C: AnyMatrix, options: SinkhornOptions): SinkhornResult {
  const p = prepareSinkhorn('sinkhornSync', C, options);
  const raw = native().sinkhorn(p.c.data, p.c.rows, p.c.cols, p.a, p.b, p.f, p.g, p.plan?.data ?? null, p.nativeOptions, false, p.fn);
  return shapeSinkhorn(raw, p);
}

// ---- Sinkhorn divergence --------------------------------------------------------------------

/** Options of {@link sinkhornDivergence}. */
export interface SinkhornDivergenceOptions extends LongRunOptions {
  a?: Float64Array;
  b?: Float64Array;
  /** ε > 0 (absolute). Default 0.01 × the largest cross cost. */
  epsilon?: number;
  tol?: number;
  maxIter?: number;
  epsilonScaling?: boolean | EpsilonScaling;
  newton?: boolean;
  kernel?: boolean;
  /** Centre the clouds before forming the costs. Default true. */
  center?: boolean;
  /** Where the cost matrices and the three Sinkhorn solves run ('auto' by default, as in {@link sinkhorn}). */
  backend?: Backend;
}

/** Result of {@link sinkhornDivergence}. */
export interface SinkhornDivergenceResult {
  /** S_ε = OT_ε(a,b) − ½OT_ε(a,a) − ½OT_ε(b,b). */
  divergence: number;
  ab: number;
  aa: number;
  bb: number;
  epsilon: number;
  converged: boolean;
  iterations: { ab: number; aa: number; bb: number };
  marginalError: number;
}

/**
 * The debiased Sinkhorn divergence between two weighted clouds (rows of x and y), 0 for
 * identical clouds; OT_ε(a,a) and OT_ε(b,b) use the symmetric (averaged) updates.
 * @example const { divergence } = await sinkhornDivergence(X, Y, { epsilon: 0.5 });
 */
export async function sinkhornDivergence<T extends Float64Array | Float32Array>(
  x: Matrix<T>,
  y: Matrix<T>,
  options: SinkhornDivergenceOptions = {},
): Promise<SinkhornDivergenceResult> {
  const fn = 'sinkhornDivergence';
  const o = checkOptions<SinkhornDivergenceOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const X = checkMatrix(fn, 'x', x, { dtype: 'any' });
  const Y = checkMatrix(fn, 'y', y, { dtype: 'any' });
  const a = checkWeights(fn, 'options.a', o.a, X.rows);
  const b = checkWeights(fn, 'options.b', o.b, Y.rows);
  const center = o.center ?? true;
  const backend = o.backend ?? 'auto';
  resolveBackend(fn, backend);
  const cxy = await costMatrix(X, Y, { center, backend });
  const epsilon = o.epsilon === undefined ? 0.01 * maxOf(cxy.data) || 1 : checkNumberInRange(fn, 'options.epsilon', o.epsilon, { min: 0, exclusiveMin: true });
  const common = { epsilon, tol: o.tol, maxIter: o.maxIter, epsilonScaling: o.epsilonScaling, newton: o.newton, kernel: o.kernel, signal: o.signal, backend };
  const ab = await sinkhorn(cxy, { ...common, a, b, onProgress: o.onProgress && ((p: number) => o.onProgress!(p / 3)) });
  const cxx = await costMatrix(X, undefined, { center, backend });
  const aa = await sinkhornSymmetricAsync(cxx, a, common);
  const cyy = await costMatrix(Y, undefined, { center, backend });
  const bb = await sinkhornSymmetricAsync(cyy, b, common);
  o.onProgress?.(1);
  return {
    divergence: ab.objective - 0.5 * aa.objective - 0.5 * bb.objective,
    ab: ab.objective,
    aa: aa.objective,
    bb: bb.objective,
    epsilon,
    converged: ab.converged && aa.converged && bb.converged,
    iterations: { ab: ab.iterations, aa: aa.iterations, bb: bb.iterations },
    marginalError: Math.max(ab.marginalError, aa.marginalError, bb.marginalError),
  };
}

/**
 * OT_ε(a, a) on a symmetric cost matrix with the symmetric fixed point f ← ½(f + T(f)).
 * @example const r = await sinkhornSymmetric(costMatrixSync(X), { epsilon: 0.1 });
 */
export async function sinkhornSymmetric(C: AnyMatrix, options: Omit<SinkhornOptions, 'b' | 'returnPlan'>): Promise<SinkhornResult> {
  const p = prepareSinkhorn('sinkhornSymmetric', C, options, true);
  if (p.c.rows !== p.c.cols) throw new RangeError(`sinkhornSymmetric: C must be square, got ${p.c.rows}x${p.c.cols}`);
  const raw = await runLong('sinkhornSymmetric', p.o, (control) =>
    native().sinkhornSymmetric(p.c.data, p.c.rows, p.a, p.f, { ...p.nativeOptions, ...control }, true, p.fn),
  );
  const r = shapeSinkhorn(raw, p);
  r.g = r.f;
  return r;
}

function sinkhornSymmetricAsync(C: AnyMatrix, a: Float64Array, common: Omit<SinkhornOptions, 'a' | 'b'>) {
  return sinkhornSymmetric(C, { ...common, a });
}

// ---- Gaussian W2 --------------------------------------------------------------------------

/** W2² between two Gaussians and its two parts. */
export interface GaussianW2Result {
  w2sq: number;
  /** |m1 − m2|². */
  meanTerm: number;
  /** tr C1 + tr C2 − 2 tr (C1^½ C2 C1^½)^½. */
  covTerm: number;
}

function prepareGaussian(fn: string, m1: unknown, C1: unknown, m2: unknown, C2: unknown) {
  const a = checkFloat64Array(fn, 'm1', m1);
  const d = a.length;
  const b = checkFloat64Array(fn, 'm2', m2, d);
  const c1 = checkMatrix(fn, 'C1', C1, { rows: d, cols: d, finite: true }) as Matrix;
  const c2 = checkMatrix(fn, 'C2', C2, { rows: d, cols: d, finite: true }) as Matrix;
  for (const [name, v] of [['m1', a], ['m2', b]] as const)
    for (let i = 0; i < d; i++) if (!Number.isFinite(v[i])) throw new RangeError(`${fn}: ${name} must contain only finite values, got ${v[i]} at index ${i}`);
  return [d, a, c1.data, b, c2.data] as const;
}

/**
 * W2² between N(m1, C1) and N(m2, C2): Cholesky of C1, eigenvalues of L1ᵀ C2 L1 — no matrix
 * square root; a clamped eigen route when C1 is only semidefinite. Non-symmetric or non-PSD
 * covariances are a RangeError naming C1 or C2.
 * @example const { w2sq } = await w2Gaussian(m1, C1, m2, C2);
 */
export async function w2Gaussian(m1: Float64Array, C1: Matrix, m2: Float64Array, C2: Matrix): Promise<GaussianW2Result> {
  const args = prepareGaussian('w2Gaussian', m1, C1, m2, C2);
  return native().w2Gaussian(...args, true);
}

/**
 * Synchronous {@link w2Gaussian}.
 * @example w2GaussianSync(m, C, m, C).w2sq // 0
 */
export function w2GaussianSync(m1: Float64Array, C1: Matrix, m2: Float64Array, C2: Matrix): GaussianW2Result {
  const args = prepareGaussian('w2GaussianSync', m1, C1, m2, C2);
  return native().w2Gaussian(...args, false);
}

/** Options of {@link w2GaussianSamples}. */
export interface GaussianSamplesOptions extends LongRunOptions {
  a?: Float64Array;
  b?: Float64Array;
  /** Covariances divided by 1 − Σw² (M − 1 for uniform weights) instead of the weight sum. */
  unbiased?: boolean;
}

function prepareSamples(fn: string, x: unknown, y: unknown, options: unknown) {
  const X = checkMatrix(fn, 'x', x, { dtype: 'any' });
  const Y = checkMatrix(fn, 'y', y, { dtype: 'any' });
  if (X.data.constructor !== Y.data.constructor)
    throw new TypeError(`${fn}: x and y must have the same dtype, got ${X.data.constructor.name} and ${Y.data.constructor.name}`);
  if (X.cols !== Y.cols) throw new RangeError(`${fn}: x has ${X.cols} features but y has ${Y.cols}`);
  if (X.rows === 0 || Y.rows === 0) throw new RangeError(`${fn}: the clouds must not be empty (x has ${X.rows} points, y ${Y.rows})`);
  const o = checkOptions<GaussianSamplesOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const a = checkWeights(fn, 'options.a', o.a, X.rows);
  const b = checkWeights(fn, 'options.b', o.b, Y.rows);
  const unbiased = o.unbiased === undefined ? false : checkBoolean(fn, 'options.unbiased', o.unbiased);
  if (unbiased && (X.rows < 2 || Y.rows < 2)) throw new RangeError(`${fn}: options.unbiased needs at least 2 points per cloud`);
  return { X, Y, a, b, unbiased, o };
}

/**
 * W2² between the Gaussian moments of two clouds x (M×P) and y (N×P), through the nuclear norm
 * of the weighted, centred M×N cross-Gram, streamed over chunks of P — never a P×P matrix, so
 * P can be the parameter count of a network. Exact when M, N < P (rank-deficient covariances).
 * @example const { w2sq } = await w2GaussianSamples(thetaStart, thetaEnd);
 */
export async function w2GaussianSamples<T extends Float64Array | Float32Array>(x: Matrix<T>, y: Matrix<T>, options?: GaussianSamplesOptions): Promise<GaussianW2Result> {
  const p = prepareSamples('w2GaussianSamples', x, y, options);
  return runLong('w2GaussianSamples', p.o, (control) =>
    native().w2GaussianSamples(p.X.data, p.X.rows, p.Y.data, p.Y.rows, p.X.cols, p.a, p.b, { unbiased: p.unbiased, ...control }, true, 'w2GaussianSamples'),
  );
}

/**
 * Synchronous {@link w2GaussianSamples}.
 * @example w2GaussianSamplesSync(X, Y, { unbiased: true })
 */
export function w2GaussianSamplesSync<T extends Float64Array | Float32Array>(x: Matrix<T>, y: Matrix<T>, options?: GaussianSamplesOptions): GaussianW2Result {
  const p = prepareSamples('w2GaussianSamplesSync', x, y, options);
  return native().w2GaussianSamples(p.X.data, p.X.rows, p.Y.data, p.Y.rows, p.X.cols, p.a, p.b, { unbiased: p.unbiased }, false, 'w2GaussianSamplesSync');
}

// ---- exact 1-D ------------------------------------------------------------------------------

/** A sparse transport plan: entry k moves `mass[k]` from source `rows[k]` to target `cols[k]`. */
export interface SparsePlan {
  rows: Int32Array;
  cols: Int32Array;
  mass: Float64Array;
}

/** Result of an exact transport computation. */
export interface ExactTransportResult {
  /** The optimal ⟨P, C⟩ (for 1-D: W2²). */
  cost: number;
  plan?: SparsePlan;
}

function prepare1D(fn: string, x: unknown, y: unknown, options: unknown) {
  const X = checkFloat64Array(fn, 'x', x);
  const Y = checkFloat64Array(fn, 'y', y);
  if (X.length === 0 || Y.length === 0) throw new RangeError(`${fn}: x and y must not be empty (got ${X.length} and ${Y.length} points)`);
  for (const [name, v] of [['x', X], ['y', Y]] as const)
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new RangeError(`${fn}: ${name} must contain only finite values, got ${v[i]} at index ${i}`);
  const o = checkOptions<{ a?: Float64Array; b?: Float64Array; returnPlan?: boolean }>(fn, options);
  const a = checkWeights(fn, 'options.a', o.a, X.length);
  const b = checkWeights(fn, 'options.b', o.b, Y.length);
  const returnPlan = o.returnPlan === undefined ? false : checkBoolean(fn, 'options.returnPlan', o.returnPlan);
  return [X, a, Y, b, returnPlan] as const;
}

function shape1D(raw: { cost: number; rows?: Int32Array; cols?: Int32Array; mass?: Float64Array }): ExactTransportResult {
  return raw.rows ? { cost: raw.cost, plan: { rows: raw.rows, cols: raw.cols!, mass: raw.mass! } } : { cost: raw.cost };
}

/**
 * Exact W2² between weighted samples on the line (merge of the quantile functions),
 * O((n + m) log(n + m)); `returnPlan` gives the monotone coupling.
 * @example const { cost } = await w2Exact1D(new Float64Array([0, 1]), new Float64Array([2, 3])); // 4
 */
export async function w2Exact1D(x: Float64Array, y: Float64Array, options?: { a?: Float64Array; b?: Float64Array; returnPlan?: boolean }): Promise<ExactTransportResult> {
  const args = prepare1D('w2Exact1D', x, y, options);
  return shape1D(await native().w2Exact1D(...args, true));
}

/**
 * Synchronous {@link w2Exact1D}.
 * @example w2Exact1DSync(x, y, { returnPlan: true }).plan
 */
export function w2Exact1DSync(x: Float64Array, y: Float64Array, options?: { a?: Float64Array; b?: Float64Array; returnPlan?: boolean }): ExactTransportResult {
  const args = prepare1D('w2Exact1DSync', x, y, options);
  return shape1D(native().w2Exact1D(...args, false));
}

// ---- exact OT (network simplex) --------------------------------------------------------------

/** Options of {@link emd}. */
export interface EmdOptions extends LongRunOptions {
  a?: Float64Array;
  b?: Float64Array;
  /** Pivot cap (0: the solver's default). When reached, `optimal` is false. */
  maxIter?: number;
}

/** Result of {@link emd}. */
export interface EmdResult extends ExactTransportResult {
  plan: SparsePlan;
  /** False when the pivot cap stopped the solver (the plan is feasible, not proven optimal). */
  optimal: boolean;
  iterations: number;
}

function prepareEmd(fn: string, C: unknown, options: unknown) {
  const c = checkMatrix(fn, 'C', C, { finite: true }) as Matrix;
  if (c.rows === 0 || c.cols === 0) throw new RangeError(`${fn}: C must not be empty, got ${c.rows}x${c.cols}`);
  const o = checkOptions<EmdOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const a = checkWeights(fn, 'options.a', o.a, c.rows);
  const b = checkWeights(fn, 'options.b', o.b, c.cols);
  const maxIter = o.maxIter === undefined ? 0 : checkInteger(fn, 'options.maxIter', o.maxIter, 0, Number.MAX_SAFE_INTEGER);
  return { c, a, b, maxIter, o };
}

function shapeEmd(raw: { cost: number; rows: Int32Array; cols: Int32Array; mass: Float64Array; optimal: boolean; iterations: number }): EmdResult {
  return { cost: raw.cost, plan: { rows: raw.rows, cols: raw.cols, mass: raw.mass }, optimal: raw.optimal, iterations: raw.iterations };
}

/**
 * Exact optimal transport (earth mover's distance) by the network simplex: the minimal ⟨P, C⟩
 * over plans with marginals a and b, and the optimal plan as a sparse list (≤ n + m − 1 entries).
 * For n, m up to a few thousand.
 * @example const { cost, plan } = await emd(await costMatrix(X, Y));
 */
export async function emd(C: Matrix, options?: EmdOptions): Promise<EmdResult> {
  const p = prepareEmd('emd', C, options);
  return shapeEmd(await runLong('emd', p.o, (control) => native().emd(p.c.data, p.c.rows, p.c.cols, p.a, p.b, { maxIter: p.maxIter, ...control }, true)));
}

/**
 * Synchronous {@link emd}.
 * @example emdSync(C, { a, b }).cost
 */
export function emdSync(C: Matrix, options?: EmdOptions): EmdResult {
  const p = prepareEmd('emdSync', C, options);
  return shapeEmd(native().emd(p.c.data, p.c.rows, p.c.cols, p.a, p.b, { maxIter: p.maxIter }, false));
}
