/**
 * `speedlimits ntk`: the NTK of a network at initialisation on a data set, its spectrum, label
 * projections and power-law exponents; writes kernel.npy, eigenvalues.npy, projections.npy and
 * summary.json (all atomically) to --out.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextAtomic } from '../atomic.js';
import { createNetwork } from '../nets.js';
import { fitExponents, ntk, ntkAnalytic, spectrum } from '../ntk.js';
import { writeNpy } from '../npy.js';
import type { Matrix } from '../matrix.js';
import { parseArgs, UsageError, type CliIO, type Command } from './args.js';
import { MODEL_FLAGS, modelAndData } from './common.js';

export const ntkCommand: Command = {
  summary: 'NTK at initialisation, its spectrum and power-law exponents (writes .npy and JSON)',
  usage:
    'speedlimits ntk [--model fcn|cnn] [--data synthetic|X.npy] [--labels y.npy] [--n N] [--dim D] [--input-shape C,H,W] ' +
    '[--width W] [--depth L] [--activation relu|erf|tanh|linear|gelu] [--analytic] [--seed S] [--out DIR] [--json]',
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseArgs(args, ['json', 'analytic', 'help'], [...MODEL_FLAGS, 'out']);
    if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
    const out = String(parsed.flags.get('out') ?? './speedlimits-ntk');
    const { model, activation, width, depth, seed, spec, x, y } = await modelAndData(parsed, { n: 256, width: 512, depth: 2 });
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
