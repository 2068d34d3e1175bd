/**
 * Flags shared by the subcommands that build a network on a data set (ntk, train): the model
 * (--model, --width, --depth, --activation, --input-shape) and the data (--data synthetic or a
 * .npy file, --labels, --n, --dim, --seed).
 */
import type { Matrix } from '../matrix.js';
import type { NetSpec } from '../nets.js';
import { npyToMatrix, readNpy } from '../npy.js';
import * as random from '../random.js';
import { numberFlag, UsageError, type ParsedArgs } from './args.js';

export const ACTS = ['relu', 'erf', 'tanh', 'linear', 'gelu'] as const;
export const MODEL_FLAGS = ['model', 'data', 'labels', 'n', 'dim', 'input-shape', 'width', 'depth', 'activation', 'seed'] as const;

export const isPositiveInt = (v: number) => Number.isInteger(v) && v >= 1;

/** Synthetic inputs x ~ N(0, I) and a linear teacher y = x·w/√d (w ~ N(0, I)), from the engine stream. */
export function synthetic(n: number, d: number, seed: number): { x: Matrix; y: Float64Array } {
  const x = { data: random.normal({ seed, stream: 1, length: n * d }), rows: n, cols: d };
  const w = random.normal({ seed, stream: 2, length: d });
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += x.data[i * d + k] * w[k];
    y[i] = s / Math.sqrt(d);
  }
  return { x, y };
}

export interface ModelAndData {
  model: 'fcn' | 'cnn';
  activation: (typeof ACTS)[number];
  width: number;
  depth: number;
  seed: number;
  spec: NetSpec;
  x: Matrix;
  /** Labels (synthetic teacher or --labels); undefined when a .npy input came without labels. */
  y?: Float64Array;
}

/** Parse the model and data flags, load the data and build the spec. */
export async function modelAndData(parsed: ParsedArgs, defaults: { n: number; width: number; depth: number }): Promise<ModelAndData> {
  const model = String(parsed.flags.get('model') ?? 'fcn');
  if (model !== 'fcn' && model !== 'cnn') throw new UsageError(`--model must be fcn or cnn, got '${model}'`);
  const activation = String(parsed.flags.get('activation') ?? 'relu') as (typeof ACTS)[number];
  if (!ACTS.includes(activation)) throw new UsageError(`--activation must be one of ${ACTS.join(', ')}, got '${activation}'`);
  const n = numberFlag(parsed, 'n', isPositiveInt, 'a positive integer') ?? defaults.n;
  const width = numberFlag(parsed, 'width', isPositiveInt, 'a positive integer') ?? defaults.width;
  const depth = numberFlag(parsed, 'depth', isPositiveInt, 'a positive integer') ?? defaults.depth;
  const seed = numberFlag(parsed, 'seed', (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer') ?? 0;
  let shape: [number, number, number] = [3, 8, 8];
  if (parsed.flags.has('input-shape')) {
    const parts = String(parsed.flags.get('input-shape')).split(',').map(Number);
    if (parts.length !== 3 || !parts.every(isPositiveInt)) throw new UsageError(`--input-shape must be C,H,W, got '${String(parsed.flags.get('input-shape'))}'`);
    shape = parts as [number, number, number];
  }
  const data = String(parsed.flags.get('data') ?? 'synthetic');
  let x: Matrix;
  let y: Float64Array | undefined;
  if (data === 'synthetic') {
    const dim = numberFlag(parsed, 'dim', isPositiveInt, 'a positive integer') ?? (model === 'fcn' ? 32 : shape[0] * shape[1] * shape[2]);
    ({ x, y } = synthetic(n, model === 'cnn' ? shape[0] * shape[1] * shape[2] : dim, seed));
  } else {
    x = npyToMatrix(await readNpy(data));
    if (parsed.flags.has('labels')) {
      const lab = npyToMatrix(await readNpy(String(parsed.flags.get('labels'))));
      if (lab.rows !== x.rows || lab.cols !== 1) throw new UsageError(`--labels must hold ${x.rows} values (one per row of ${data}), got ${lab.rows}x${lab.cols}`);
      y = lab.data;
    }
  }
  if (model === 'cnn' && x.cols !== shape[0] * shape[1] * shape[2])
    throw new UsageError(`--input-shape ${shape.join(',')} needs ${shape[0] * shape[1] * shape[2]} values per row, the data has ${x.cols}`);
  const widths = Array.from({ length: depth }, () => width);
  const sigmaW = activation === 'relu' ? Math.SQRT2 : 1;
  const spec: NetSpec = model === 'fcn'
    ? { type: 'fcn', inputDim: x.cols, widths, outputDim: 1, activation, sigmaW, sigmaB: 0.1 }
    : { type: 'cnn', inputShape: shape, channels: widths, outputDim: 1, activation, sigmaW, sigmaB: 0.1 };
  return { model, activation, width, depth, seed, spec, x, y };
}
