/**
 * The NTK engine: empirical neural tangent kernels of the networks in src/nets.ts, computed by
 * layer-wise Gram products in the core (the n×P Jacobian is never formed).
 */
import { checkLongRunOptions, runLong, type LongRunOptions } from './long.js';
import { checkMatrix, type Matrix } from './matrix.js';
import { native } from './native.js';
import { Network } from './nets.js';
import { checkEnum, checkOptions } from './validate.js';

/** Options of {@link ntk}. */
export interface NtkOptions extends LongRunOptions {
  /**
   * 'full': Θ with rows i·k + a, [n1·k, n2·k]; 'trace': the mean over outputs of the diagonal
   * blocks, [n1, n2] (the same as 'full' when k = 1). Default 'full'.
   */
  outputs?: 'full' | 'trace';
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
  const Ctor = p.constructor as Float64ArrayConstructor | Float32ArrayConstructor;
  const out = { data: new Ctor(X.rows * k * n2 * k), rows: X.rows * k, cols: n2 * k };
  return { net, p, X, X2, n2, trace, out, o };
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
    native().ntk(q.net.spec, q.p, q.X.data, q.X.rows, q.X2?.data ?? null, q.n2, q.trace, q.out.data, { ...control }, true),
  );
  return q.out as Matrix<T>;
}

/**
 * Synchronous {@link ntk} (for small inputs).
 * @example const K = ntkSync(net, theta, X, null, { outputs: 'trace' });
 */
export function ntkSync<T extends Float64Array | Float32Array>(net: Network, params: T, x1: Matrix<T>, x2?: Matrix<T> | null, options?: NtkOptions): Matrix<T> {
  const q = prepareNtk('ntkSync', net, params, x1, x2, options);
  native().ntk(q.net.spec, q.p, q.X.data, q.X.rows, q.X2?.data ?? null, q.n2, q.trace, q.out.data, {}, false);
  return q.out as Matrix<T>;
}
