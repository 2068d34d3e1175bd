/**
 * Dense linear algebra on {@link Matrix} values, computed by the native core (OpenBLAS +
 * LAPACKE when the build found them, otherwise the core's own blocked kernels). Every
 * operation has a Promise form (off the event loop) and a `…Sync` twin for small inputs.
 * Inputs are never modified; do not mutate or transfer them while a promise is pending.
 */
import { resultArray } from './alloc.js';
import { checkMatrix, type Matrix } from './matrix.js';
import { native } from './native.js';
import { checkBoolean, checkEnum, checkFinite, checkOptions } from './validate.js';

type AnyMatrix = Matrix<Float64Array | Float32Array>;

/** Options of {@link gemm}. */
export interface GemmOptions<T extends Float64Array | Float32Array = Float64Array> {
  /** Use Aᵀ. Default false. */
  transA?: boolean;
  /** Use Bᵀ. Default false. */
  transB?: boolean;
  /** Scale of the product. Default 1. */
  alpha?: number;
  /** Scale of the existing C (needs `C`). Default 0. */
  beta?: number;
  /** Output (and, with beta ≠ 0, input) matrix; allocated when absent. */
  C?: Matrix<T>;
}

function prepareGemm(fn: string, A: unknown, B: unknown, options: unknown) {
  const a = checkMatrix(fn, 'A', A, { dtype: 'any' });
  const b = checkMatrix(fn, 'B', B, { dtype: 'any' });
  if (a.data.constructor !== b.data.constructor)
    throw new TypeError(`${fn}: A and B must have the same dtype, got ${a.data.constructor.name} and ${b.data.constructor.name}`);
  const o = checkOptions<GemmOptions<Float64Array | Float32Array>>(fn, options);
  const transA = o.transA === undefined ? false : checkBoolean(fn, 'options.transA', o.transA);
  const transB = o.transB === undefined ? false : checkBoolean(fn, 'options.transB', o.transB);
  const alpha = o.alpha === undefined ? 1 : checkFinite(fn, 'options.alpha', o.alpha);
  const beta = o.beta === undefined ? 0 : checkFinite(fn, 'options.beta', o.beta);
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb)
    throw new RangeError(`${fn}: inner dimensions differ: op(A) is ${m}x${k} but op(B) is ${kb}x${n}`);
  let c: AnyMatrix;
  if (o.C !== undefined) {
    c = checkMatrix(fn, 'options.C', o.C, { dtype: 'any', rows: m, cols: n });
    if (c.data.constructor !== a.data.constructor) throw new TypeError(`${fn}: options.C must have the dtype of A (${a.data.constructor.name})`);
  } else {
    if (beta !== 0) throw new RangeError(`${fn}: options.beta is ${beta} but no options.C was given`);
    const Ctor = a.data.constructor as Float64ArrayConstructor | Float32ArrayConstructor;
    c = { data: resultArray(Ctor, m * n), rows: m, cols: n };
  }
  const args = [transA, transB, m, n, k, alpha, a.data, Math.max(1, a.cols), b.data, Math.max(1, b.cols), beta, c.data, Math.max(1, n)] as const;
  return { args, c };
}

/**
 * C = alpha · op(A) · op(B) + beta · C, off the event loop. Float64 or Float32 (all operands alike).
 * @example
 * const C = await gemm(A, B);                  // A·B
 * await gemm(A, A, { transB: true, C: G });   // G = A·Aᵀ into an existing matrix
 */
export async function gemm<T extends Float64Array | Float32Array>(A: Matrix<T>, B: Matrix<T>, options?: GemmOptions<T>): Promise<Matrix<T>> {
  const { args, c } = prepareGemm('gemm', A, B, options);
  await native().gemm(...args, true);
  return c as Matrix<T>;
}

/**
 * Synchronous {@link gemm}.
 * @example const C = gemmSync(A, B, { transA: true });
 */
export function gemmSync<T extends Float64Array | Float32Array>(A: Matrix<T>, B: Matrix<T>, options?: GemmOptions<T>): Matrix<T> {
  const { args, c } = prepareGemm('gemmSync', A, B, options);
  native().gemm(...args, false);
  return c as Matrix<T>;
}

/** Options of {@link syrk}. */
export interface SyrkOptions {
  /** Compute Aᵀ·A instead of A·Aᵀ. Default false. */
  trans?: boolean;
  /** Scale. Default 1. */
  alpha?: number;
}

function prepareSyrk(fn: string, A: unknown, options: unknown) {
  const a = checkMatrix(fn, 'A', A) as Matrix;
  const o = checkOptions<SyrkOptions>(fn, options);
  const trans = o.trans === undefined ? false : checkBoolean(fn, 'options.trans', o.trans);
  const alpha = o.alpha === undefined ? 1 : checkFinite(fn, 'options.alpha', o.alpha);
  const n = trans ? a.cols : a.rows;
  const k = trans ? a.rows : a.cols;
  const c: Matrix = { data: resultArray(Float64Array, n * n), rows: n, cols: n };
  const args = [true, trans, n, k, alpha, a.data, Math.max(1, a.cols), 0, c.data, Math.max(1, n)] as const;
  return { args, c };
}

// syrk fills the lower triangle; mirror it so callers get an exactly symmetric matrix.
function mirrorLower(c: Matrix): Matrix {
  const n = c.rows;
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) c.data[j * n + i] = c.data[i * n + j];
  return c;
}

/**
 * The Gram matrix alpha · A·Aᵀ (or alpha · Aᵀ·A with `trans`), exactly symmetric.
 * @example const K = await syrk(J); // n×n Gram of the rows of J
 */
export async function syrk(A: Matrix, options?: SyrkOptions): Promise<Matrix> {
  const { args, c } = prepareSyrk('syrk', A, options);
  await native().syrk(...args, true);
  return mirrorLower(c);
}

/**
 * Synchronous {@link syrk}.
 * @example const G = syrkSync(X, { trans: true }); // XᵀX
 */
export function syrkSync(A: Matrix, options?: SyrkOptions): Matrix {
  const { args, c } = prepareSyrk('syrkSync', A, options);
  native().syrk(...args, false);
  return mirrorLower(c);
}

function copySquare(fn: string, A: unknown): Matrix {
  const a = checkMatrix(fn, 'A', A, { square: true, finite: true }) as Matrix;
  return { data: Float64Array.from(a.data), rows: a.rows, cols: a.cols };
}

function zeroUpper(l: Matrix): Matrix {
  const n = l.rows;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) l.data[i * n + j] = 0;
  return l;
}

/**
 * Cholesky factor L (lower triangular, A = L·Lᵀ) of a symmetric positive-definite matrix.
 * Reads the lower triangle of A. Rejects with `SpeedlimitsError` code `ERR_NOT_SPD` when A is
 * not positive definite.
 * @example const L = await cholesky(fromRows([[4, 2], [2, 3]]));
 */
export async function cholesky(A: Matrix): Promise<Matrix> {
  const l = copySquare('cholesky', A);
  await native().potrf(true, l.rows, l.data, Math.max(1, l.cols), true);
  return zeroUpper(l);
}

/**
 * Synchronous {@link cholesky}.
 * @example const L = choleskySync(A);
 */
export function choleskySync(A: Matrix): Matrix {
  const l = copySquare('choleskySync', A);
  native().potrf(true, l.rows, l.data, Math.max(1, l.cols), false);
  return zeroUpper(l);
}

/** Result of {@link eigh}. */
export interface Eigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** Orthonormal eigenvectors as columns (absent with `vectors: false`). */
  vectors?: Matrix;
}

function prepareEigh(fn: string, A: unknown, options: unknown) {
  const a = copySquare(fn, A);
  const o = checkOptions<{ vectors: boolean }>(fn, options);
  const vectors = o.vectors === undefined ? true : checkBoolean(fn, 'options.vectors', o.vectors);
  const w = new Float64Array(a.rows);
  const args = [a.rows, a.data, Math.max(1, a.cols), w, vectors] as const;
  return { args, a, w, vectors };
}

/**
 * Symmetric eigendecomposition (reads the lower triangle): A = V·diag(values)·Vᵀ.
 * @example const { values, vectors } = await eigh(K);
 */
export async function eigh(A: Matrix, options?: { vectors?: boolean }): Promise<Eigen> {
  const { args, a, w, vectors } = prepareEigh('eigh', A, options);
  await native().syevd(...args, true);
  return vectors ? { values: w, vectors: a } : { values: w };
}

/**
 * Synchronous {@link eigh}.
 * @example const { values } = eighSync(A, { vectors: false });
 */
export function eighSync(A: Matrix, options?: { vectors?: boolean }): Eigen {
  const { args, a, w, vectors } = prepareEigh('eighSync', A, options);
  native().syevd(...args, false);
  return vectors ? { values: w, vectors: a } : { values: w };
}

/**
 * Choose the linear-algebra backend at run time ('blas' needs a build with OpenBLAS).
 * Meant for tests and benchmarks; process-wide.
 * @example setLinalgBackend('builtin');
 */
export function setLinalgBackend(backend: 'blas' | 'builtin'): void {
  native().setLinalgBackend(checkEnum('setLinalgBackend', 'backend', backend, ['blas', 'builtin'] as const));
}

/**
 * The active linear-algebra backend.
 * @example getLinalgBackend() // 'blas'
 */
export function getLinalgBackend(): 'blas' | 'builtin' {
  return native().getLinalgBackend();
}
