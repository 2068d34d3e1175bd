/**
 * Networks (FCN, CNN) of the NTK and Langevin engines: specs, parameter layout, initialisation,
 * forward pass and loss gradients, computed in the native core.
 *
 * Parameters are one flat Float64Array (Float32Array accepted where stated) in PyTorch's order
 * and shapes: FCN W1 [w1, d], b1, …, W_out [k, w_L], b_out; CNN conv1.W [C1, C, 3, 3], conv1.b, …,
 * W_out [k, C_L], b_out. `'ntk'` parameterisation: stored W, b ~ N(0, 1), the forward pass uses
 * σw/√fan_in·W and σb·b (fan_in of a conv = C_in·9); `'standard'`: W ~ N(0, σw²/fan_in),
 * b ~ N(0, σb²), used as is. No activation after the readout.
 */
import { resultArray } from './alloc.js';
import { checkMatrix, type Matrix } from './matrix.js';
import { native, type NativeNetSpec } from './native.js';
import { checkAllFinite, checkBoolean, checkEnum, checkFloatArray, checkInteger, checkNumberInRange, checkOptions, checkUint64, describeValue, type FloatArray } from './validate.js';

export type Activation = 'relu' | 'erf' | 'tanh' | 'linear' | 'gelu';
export type Parameterization = 'ntk' | 'standard';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'erf', 'tanh', 'linear', 'gelu'];

interface CommonSpec {
  activation: Activation;
  outputDim: number;
  /** Default true. */
  bias?: boolean;
  /** Default 'ntk'. */
  parameterization?: Parameterization;
  /** Weight scale σw. Default 1. */
  sigmaW?: number;
  /** Bias scale σb. Default 0. */
  sigmaB?: number;
}

/** A fully connected network: inputDim → widths… → outputDim. */
export interface FcnSpec extends CommonSpec {
  type: 'fcn';
  inputDim: number;
  /** Hidden widths (may be empty: a linear model). */
  widths: number[];
}

/** 3×3 same convolutions (stride 1, zero padding 1) → global average pooling → dense readout. */
export interface CnnSpec extends CommonSpec {
  type: 'cnn';
  /** [C, H, W] of one image; inputs are NCHW rows of length C·H·W. */
  inputShape: [number, number, number];
  /** Channels of each conv layer. */
  channels: number[];
  /** Only 3 is supported. */
  kernel?: 3;
}

export type NetSpec = FcnSpec | CnnSpec;

/** One tensor of the flat parameter vector. */
export interface TensorInfo {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  fanIn: number;
}

/** Validate a spec and fill its defaults; every error names the field. */
export function normalizeSpec(fn: string, spec: unknown): NativeNetSpec {
  const s = checkOptions<NetSpec & { type: string }>(fn, spec, 'spec');
  if (spec === undefined) throw new TypeError(`${fn}: spec must be an object, got undefined`);
  const type = checkEnum(fn, 'spec.type', s.type, ['fcn', 'cnn'] as const);
  const activation = checkEnum(fn, 'spec.activation', s.activation, ACTIVATIONS);
  const outputDim = checkInteger(fn, 'spec.outputDim', s.outputDim, 1, 1 << 20);
  const bias = s.bias === undefined ? true : checkBoolean(fn, 'spec.bias', s.bias);
  const parameterization = s.parameterization === undefined ? 'ntk' : checkEnum(fn, 'spec.parameterization', s.parameterization, ['ntk', 'standard'] as const);
  const sigmaW = s.sigmaW === undefined ? 1 : checkNumberInRange(fn, 'spec.sigmaW', s.sigmaW, { min: 0, exclusiveMin: true });
  const sigmaB = s.sigmaB === undefined ? 0 : checkNumberInRange(fn, 'spec.sigmaB', s.sigmaB, { min: 0 });
  const sizes = (name: string, v: unknown): number[] => {
    if (!Array.isArray(v)) throw new TypeError(`${fn}: spec.${name} must be an array of positive integers, got ${describeValue(v)}`);
    return v.map((w, i) => checkInteger(fn, `spec.${name}[${i}]`, w, 1, 1 << 24));
  };
  const common = { activation, outputDim, bias, parameterization, sigmaW, sigmaB };
  if (type === 'fcn') {
    const f = s as Partial<FcnSpec>;
    const inputDim = checkInteger(fn, 'spec.inputDim', f.inputDim, 1, 1 << 28);
    return { type, inputDim, widths: sizes('widths', f.widths), inChannels: 0, height: 0, width: 0, kernel: 3, ...common };
  }
  const c = s as Partial<CnnSpec>;
  if (!Array.isArray(c.inputShape) || c.inputShape.length !== 3)
    throw new TypeError(`${fn}: spec.inputShape must be [C, H, W], got ${describeValue(c.inputShape)}`);
  const [C, H, W] = c.inputShape.map((v, i) => checkInteger(fn, `spec.inputShape[${i}]`, v, 1, 1 << 16));
  const kernel = c.kernel === undefined ? 3 : checkInteger(fn, 'spec.kernel', c.kernel, 0, 1 << 16);
  if (kernel !== 3) throw new RangeError(`${fn}: spec.kernel must be 3 (3×3 convolutions), got ${kernel}`);
  const channels = sizes('channels', c.channels);
  if (channels.length === 0) throw new RangeError(`${fn}: spec.channels must list at least one conv layer`);
  return { type, inputDim: C * H * W, widths: channels, inChannels: C, height: H, width: W, kernel, ...common };
}

/**
 * A network: its spec (defaults filled), parameter layout and the core's forward/gradient.
 * @example
 * const net = createNetwork({ type: 'fcn', inputDim: 10, widths: [512, 512], outputDim: 1, activation: 'relu' });
 * const theta = net.init({ seed: 1 });
 * const f = net.forward(theta, X);
 */
export class Network {
  /** The validated spec passed to the core. */
  readonly spec: NativeNetSpec;
  /** Tensors of the flat parameter vector, in order. */
  readonly layout: TensorInfo[];
  /** Number of parameters P. */
  readonly numParams: number;
  /** Length of one input row (d, or C·H·W). */
  readonly inputSize: number;
  readonly outputDim: number;

  constructor(spec: NetSpec) {
    this.spec = normalizeSpec('createNetwork', spec);
    this.layout = native().netLayout(this.spec);
    const last = this.layout[this.layout.length - 1];
    this.numParams = last ? last.offset + last.size : 0;
    this.inputSize = this.spec.inputDim;
    this.outputDim = this.spec.outputDim;
  }

  /**
   * Parameters drawn with the engine's generator; `stream` (e.g. the replica index) gives
   * independent draws under one seed.
   * @example const theta = net.init({ seed: 7, stream: 3 });
   */
  init(options: { seed: number | bigint; stream?: number | bigint }): Float64Array {
    const o = checkOptions<{ seed: number | bigint; stream?: number | bigint }>('Network.init', options);
    if (options === undefined) throw new TypeError('Network.init: options { seed } are required');
    const seed = checkUint64('Network.init', 'seed', o.seed);
    const stream = checkUint64('Network.init', 'stream', o.stream ?? 0);
    const out = new Float64Array(this.numParams);
    native().netInit(this.spec, seed, stream, out);
    return out;
  }

  /** Validate (params, x) for this network; returns the matching dtype. */
  checkInputs(fn: string, params: unknown, x: unknown): { p: FloatArray; X: Matrix<Float64Array | Float32Array> } {
    const p = checkFloatArray(fn, 'params', params, this.numParams);
    const X = checkMatrix(fn, 'x', x, { dtype: 'any', cols: this.inputSize, finite: true });
    if (X.data.constructor !== p.constructor)
      throw new TypeError(`${fn}: params and x must have the same dtype, got ${p.constructor.name} and ${X.data.constructor.name}`);
    if (X.rows === 0) throw new RangeError(`${fn}: x must have at least one row`);
    checkAllFinite(fn, 'params', p);
    return { p, X };
  }

  /**
   * Outputs f(x) as an [n, k] matrix (dtype of params and x).
   * @example const out = net.forward(theta, X); // out.rows === X.rows
   */
  forward<T extends Float64Array | Float32Array>(params: T, x: Matrix<T>): Matrix<T> {
    const { p, X } = this.checkInputs('Network.forward', params, x);
    const Ctor = p.constructor as Float64ArrayConstructor | Float32ArrayConstructor;
    const out = { data: resultArray(Ctor, X.rows * this.outputDim), rows: X.rows, cols: this.outputDim };
    native().netForward(this.spec, p, X.data, X.rows, out.data);
    return out as Matrix<T>;
  }

  /**
   * Squared loss ½ Σ_i |f(x_i) − y_i|² and its gradient (summed over samples); with
   * `perSample`, also the [n, P] per-sample gradients.
   * @example const { loss, grad } = net.lossGradient(theta, X, Y);
   */
  lossGradient<T extends Float64Array | Float32Array>(params: T, x: Matrix<T>, y: Matrix<T>, options?: { perSample?: boolean }): { loss: number; grad: T; perSample?: Matrix<T> } {
    const fn = 'Network.lossGradient';
    const { p, X } = this.checkInputs(fn, params, x);
    const Y = checkMatrix(fn, 'y', y, { dtype: 'any', rows: X.rows, cols: this.outputDim, finite: true });
    if (Y.data.constructor !== p.constructor) throw new TypeError(`${fn}: y must have the dtype of params (${p.constructor.name})`);
    const o = checkOptions<{ perSample: boolean }>(fn, options);
    const per = o.perSample === undefined ? false : checkBoolean(fn, 'options.perSample', o.perSample);
    const Ctor = p.constructor as Float64ArrayConstructor | Float32ArrayConstructor;
    const grad = new Ctor(this.numParams);
    const perSample = per ? { data: resultArray(Ctor, X.rows * this.numParams), rows: X.rows, cols: this.numParams } : undefined;
    const loss = native().netLossGradient(this.spec, p, X.data, Y.data, X.rows, grad, perSample?.data ?? null);
    return perSample ? { loss, grad: grad as T, perSample: perSample as Matrix<T> } : { loss, grad: grad as T };
  }
}

/**
 * Build a network from its spec (validated; errors name the field).
 * @example const net = createNetwork({ type: 'cnn', inputShape: [3, 32, 32], channels: [64, 64], outputDim: 10, activation: 'relu' });
 */
export function createNetwork(spec: NetSpec): Network {
  return new Network(spec);
}
