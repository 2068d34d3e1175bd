/**
 * `speedlimits deeplinear`: deep linear networks (THEORY.md §5) — loss curves for widths (μP and
 * NTK, with the lazy-limit prediction) and depths (plain and residual), c_K against depth, and the
 * efficiency along the runs (src/deeplinear-study.ts). Writes report.html, report.json and CSVs.
 */
import { resolve } from 'node:path';
import { deepLinearStudy, type DeepLinearStudyOptions } from '../deeplinear-study.js';
import { writeReportFiles } from '../report/csv.js';
import { deepLinearStudyReportFiles } from '../report/deeplinear-report.js';
import { numberFlag, parseArgs, UsageError, type CliIO, type Command } from './args.js';
import { isPositiveInt } from './common.js';
import { createProgress } from './progress.js';

function intList(value: string, flag: string): number[] {
  const v = value.split(',').map((s) => Number(s.trim()));
  if (v.length === 0 || !v.every(isPositiveInt) || !v.every((x, i) => i === 0 || x > v[i - 1]))
    throw new UsageError(`--${flag} must be an increasing comma-separated list of positive integers, got '${value}'`);
  return v;
}

export const deepLinearCommand: Command = {
  summary: 'deep linear networks: loss vs time for widths (μP vs NTK, lazy limit) and depths (plain vs residual), c_K vs depth',
  usage: 'speedlimits deeplinear [--widths 64,128,…] [--depth L] [--depths 1,2,4,…] [--width N] [--dim D] [--residual] [--beta0 β] [--gamma0 γ] ' +
    '[--spectrum power-law|isotropic] [--alpha α] [--b b] [--noise σ] [--lr η] [--steps K] [--seeds S] [--ck-seeds S] [--seed S] [--out DIR] [--json] [--quiet]',
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseArgs(args, ['json', 'quiet', 'residual', 'help'],
      ['widths', 'depth', 'depths', 'width', 'dim', 'beta0', 'gamma0', 'spectrum', 'alpha', 'b', 'noise', 'lr', 'steps', 'seeds', 'ck-seeds', 'seed', 'out']);
    if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
    const positive = (v: number) => Number.isFinite(v) && v > 0;
    const o: DeepLinearStudyOptions = {};
    if (parsed.flags.has('widths')) o.widths = intList(String(parsed.flags.get('widths')), 'widths');
    if (parsed.flags.has('depths')) o.depths = intList(String(parsed.flags.get('depths')), 'depths');
    const ints = { depth: 'depth', width: 'width', inputDim: 'dim', steps: 'steps', seeds: 'seeds', ckSeeds: 'ck-seeds' } as const;
    for (const [key, flag] of Object.entries(ints)) {
      const v = numberFlag(parsed, flag, isPositiveInt, 'a positive integer');
      if (v !== undefined) o[key as keyof typeof ints] = v;
    }
    if (o.ckSeeds !== undefined && o.ckSeeds < 2) throw new UsageError('--ck-seeds must be at least 2 (a standard error needs two networks)');
    const seed = numberFlag(parsed, 'seed', (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
    if (seed !== undefined) o.seed = seed;
    for (const [key, flag] of [['beta0', 'beta0'], ['gamma0', 'gamma0'], ['learningRate', 'lr']] as const) {
      const v = numberFlag(parsed, flag, positive, 'a number > 0');
      if (v !== undefined) o[key] = v;
    }
    if (parsed.flags.has('residual')) o.residual = true;
    const spectrumFlag = String(parsed.flags.get('spectrum') ?? 'power-law');
    if (spectrumFlag !== 'power-law' && spectrumFlag !== 'isotropic') throw new UsageError(`--spectrum must be power-law or isotropic, got '${spectrumFlag}'`);
    const alpha = numberFlag(parsed, 'alpha', positive, 'a number > 0');
    const b = numberFlag(parsed, 'b', positive, 'a number > 0');
    const noise = numberFlag(parsed, 'noise', (v) => Number.isFinite(v) && v >= 0, 'a number >= 0');
    if (spectrumFlag === 'isotropic' && (alpha !== undefined || b !== undefined)) throw new UsageError('--alpha and --b apply to --spectrum power-law');
    o.data = spectrumFlag === 'isotropic' ? { spectrum: 'isotropic' } : { spectrum: 'powerLaw', ...(alpha !== undefined ? { alpha } : {}), ...(b !== undefined ? { b } : {}) };
    if (noise !== undefined) o.data.noise = noise;
    const out = resolve(String(parsed.flags.get('out') ?? './speedlimits-deeplinear'));
    const json = parsed.flags.has('json');
    const progress = createProgress(io, parsed.flags.has('quiet') || json);
    progress.stage('deep linear networks');
    const r = await deepLinearStudy({ ...o, onStage: (f) => progress.update(f) });
    progress.done();
    const written = await writeReportFiles(out, deepLinearStudyReportFiles(r));
    if (json) {
      io.out(JSON.stringify({
        out, files: written.map((f) => f.slice(out.length + 1)), seconds: r.seconds, learningRate: r.options.learningRate,
        mupMonotone: r.widthSweep.mupMonotone, lazySlope: r.widthSweep.lazySlope, cK: r.cK, findings: r.findings,
      }, null, 2) + '\n');
      return 0;
    }
    io.out(`speedlimits deeplinear — D = ${r.options.inputDim}, ${r.options.steps} steps × ${r.options.seeds} seeds per curve, η = ${r.options.learningRate.toPrecision(3)}, ${r.seconds.toFixed(1)} s\n\n`);
    for (const f of r.findings) io.out(`  • ${f}\n`);
    io.out(`\n  report: ${out}/report.html\n`);
    return 0;
  },
};
