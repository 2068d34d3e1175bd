/**
 * `speedlimits ntk`: the NTK of a network at initialisation on a data set, its spectrum, label
 * projections and power-law exponents; writes kernel.npy, eigenvalues.npy, projections.npy and
 * summary.json (all atomically) to --out.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextAtomic } from '../atomic.js';
import { createNetwork, type NetSpec } from '../nets.js';
import { fitExponents, ntk, ntkAnalytic, spectrum } from '../ntk.js';
import { npyToMatrix, readNpy, writeNpy } from '../npy.js';
import * as random from '../random.js';
import type { Matrix } from '../matrix.js';
import { numberFlag, parseArgs, UsageError, type CliIO, type Command } from './args.js';

const ACTS = ['relu', 'erf', 'tanh', 'linear', 'gelu'] as const;

/** Synthetic inputs x ~ N(0, I) and a linear teacher y = x·w/√d (w ~ N(0, I)), from the engine stream. */
function synthetic(n: number, d: number, seed: number): { x: Matrix; y: Float64Array } {
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

export const ntkCommand: Command = {
  summary: 'NTK at initialisation, its spectrum and power-law exponents (writes .npy and JSON)',
  usage:
    'speedlimits ntk [--model fcn|cnn] [--data synthetic|X.npy] [--labels y.npy] [--n N] [--dim D] [--input-shape C,H,W] ' +
    '[--width W] [--depth L] [--activation relu|erf|tanh|linear|gelu] [--analytic] [--seed S] [--out DIR] [--json]',
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseArgs(args, ['json', 'analytic', 'help'], ['model', 'data', 'labels', 'n', 'dim', 'input-shape', 'width', 'depth', 'activation', 'seed', 'out']);
    if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
    const model = String(parsed.flags.get('model') ?? 'fcn');
    if (model !== 'fcn' && model !== 'cnn') throw new UsageError(`--model must be fcn or cnn, got '${model}'`);
    const activation = String(parsed.flags.get('activation') ?? 'relu') as (typeof ACTS)[number];
    if (!ACTS.includes(activation)) throw new UsageError(`--activation must be one of ${ACTS.join(', ')}, got '${activation}'`);
    const isInt = (v: number) => Number.isInteger(v) && v >= 1;
    const n = numberFlag(parsed, 'n', isInt, 'a positive integer') ?? 256;
    const width = numberFlag(parsed, 'width', isInt, 'a positive integer') ?? 512;
    const depth = numberFlag(parsed, 'depth', isInt, 'a positive integer') ?? 2;
    const seed = numberFlag(parsed, 'seed', (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer') ?? 0;
    const out = String(parsed.flags.get('out') ?? './speedlimits-ntk');
    let shape: [number, number, number] = [3, 8, 8];
    if (parsed.flags.has('input-shape')) {
      const parts = String(parsed.flags.get('input-shape')).split(',').map(Number);
      if (parts.length !== 3 || !parts.every(isInt)) throw new UsageError(`--input-shape must be C,H,W, got '${String(parsed.flags.get('input-shape'))}'`);
      shape = parts as [number, number, number];
    }
    const data = String(parsed.flags.get('data') ?? 'synthetic');
    let x: Matrix;
    let y: Float64Array | undefined;
    if (data === 'synthetic') {
      const dim = numberFlag(parsed, 'dim', isInt, 'a positive integer') ?? (model === 'fcn' ? 32 : shape[0] * shape[1] * shape[2]);
      ({ x, y } = synthetic(n, model === 'cnn' ? shape[0] * shape[1] * shape[2] : dim, seed));
    } else {
      x = npyToMatrix(await readNpy(data));
      if (parsed.flags.has('labels')) {
        const lab = npyToMatrix(await readNpy(String(parsed.flags.get('labels'))));
        if (lab.rows !== x.rows || lab.cols !== 1) throw new UsageError(`--labels must hold ${x.rows} values (one per row of ${data}), got ${lab.rows}x${lab.cols}`);
        y = lab.data;
      }
    }
    const widths = Array.from({ length: depth }, () => width);
    const spec: NetSpec = model === 'fcn'
      ? { type: 'fcn', inputDim: x.cols, widths, outputDim: 1, activation, sigmaW: activation === 'relu' ? Math.SQRT2 : 1, sigmaB: 0.1 }
      : { type: 'cnn', inputShape: shape, channels: widths, outputDim: 1, activation, sigmaW: activation === 'relu' ? Math.SQRT2 : 1, sigmaB: 0.1 };
    const started = performance.now();
    let K: Matrix;
    if (parsed.flags.has('analytic')) {
      K = (await ntkAnalytic(spec, x)).ntk;
    } else {
      const net = createNetwork(spec);
      K = await ntk(net, net.init({ seed }), x);
    }
    const s = await spectrum(K, y ? { y } : {});
    const fit = s.projections ? fitExponents(s.values, s.projections) : null;
    mkdirSync(out, { recursive: true });
    await writeNpy(join(out, 'kernel.npy'), { data: K.data, shape: [K.rows, K.cols] });
    await writeNpy(join(out, 'eigenvalues.npy'), { data: s.values });
    if (s.projections) await writeNpy(join(out, 'projections.npy'), { data: s.projections });
    const summary = {
      spec, n: x.rows, analytic: parsed.flags.has('analytic'), seed,
      lambdaMax: s.values[0], lambdaMin: s.values[s.values.length - 1], negativeEigenvalues: s.negativeCount,
      alpha: fit?.alpha.exponent ?? null, alphaR2: fit?.alpha.r2 ?? null,
      beta: fit?.beta.exponent ?? null, betaResidual: fit?.betaResidual.exponent ?? null, nu: fit?.nu ?? null,
      scalingRegime: fit?.scalingRegime ?? null, fitRange: fit ? [fit.alpha.k1, fit.alpha.k2] : null,
      seconds: (performance.now() - started) / 1000, out,
    };
    await writeTextAtomic('speedlimits ntk', join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    if (parsed.flags.has('json')) {
      io.out(JSON.stringify(summary, null, 2) + '\n');
      return 0;
    }
    io.out(`NTK of a ${model.toUpperCase()} (${depth}×${width}, ${activation}) on ${x.rows} inputs${summary.analytic ? ' (infinite width)' : ''}\n`);
    io.out(`  eigenvalues  ${s.values[0].toPrecision(6)} … ${summary.lambdaMin.toPrecision(6)}${s.warning ? `  (${s.warning})` : ''}\n`);
    if (fit) io.out(`  α = ${fit.alpha.exponent.toFixed(4)} (R² ${fit.alpha.r2.toFixed(3)}), β = ${fit.beta.exponent.toFixed(4)}, ν = ${fit.nu.toFixed(4)}, ranks ${fit.alpha.k1}–${fit.alpha.k2}\n`);
    io.out(`  wrote ${out}/kernel.npy, eigenvalues.npy${s.projections ? ', projections.npy' : ''}, summary.json (${summary.seconds.toFixed(2)} s)\n`);
    return 0;
  },
};
