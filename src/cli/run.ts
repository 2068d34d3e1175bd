/**
 * `speedlimits run`: the main job — a complete speed-limit study (see src/study.ts) written as
 * report.html, report.json and one CSV per series group in --out (each file atomically).
 */
import { resolve } from 'node:path';
import { writeReportFiles } from '../report/csv.js';
import { studyReportFiles } from '../report/study-report.js';
import { study, type StudyData, type StudyOptions } from '../study.js';
import { numberFlag, parseArgs, UsageError, type CliIO, type Command } from './args.js';
import { isPositiveInt } from './common.js';
import { createProgress } from './progress.js';

const DATA: readonly StudyData[] = ['synthetic', 'fashion-mnist', 'cifar10'];

export const runCommand: Command = {
  summary: 'the main job: NTK spectrum, analytic speed limit and trained ensembles → HTML report',
  usage:
    'speedlimits run [--data synthetic|fashion-mnist|cifar10] [--path DIR] [--model fcn|cnn] [--width W] [--depth L] [--n N] ' +
    '[--classes a,b,…] [--replicas M] [--steps K] [--lr η] [--temperature T] [--readout centered|zero|random] [--seed S] [--out DIR] [--json] [--quiet]',
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseArgs(args, ['json', 'quiet', 'help'],
      ['data', 'path', 'model', 'width', 'depth', 'n', 'classes', 'replicas', 'steps', 'lr', 'temperature', 'seed', 'readout', 'out']);
    if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
    const data = String(parsed.flags.get('data') ?? 'synthetic') as StudyData;
    if (!DATA.includes(data)) throw new UsageError(`--data must be one of ${DATA.join(', ')}, got '${data}'`);
    const model = String(parsed.flags.get('model') ?? 'fcn');
    if (model !== 'fcn' && model !== 'cnn') throw new UsageError(`--model must be fcn or cnn, got '${model}'`);
    const positive = (v: number) => Number.isFinite(v) && v > 0;
    const o: StudyOptions = { data, model };
    const ints = ['width', 'n', 'replicas', 'steps'] as const;
    for (const name of ints) {
      const v = numberFlag(parsed, name, isPositiveInt, 'a positive integer');
      if (v !== undefined) o[name] = v;
    }
    const depth = numberFlag(parsed, 'depth', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    if (depth !== undefined) o.depth = depth;
    const lr = numberFlag(parsed, 'lr', positive, 'a number > 0');
    if (lr !== undefined) o.lr = lr;
    const temperature = numberFlag(parsed, 'temperature', positive, 'a number > 0');
    if (temperature !== undefined) o.temperature = temperature;
    const seed = numberFlag(parsed, 'seed', (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
    if (seed !== undefined) o.seed = seed;
    if (parsed.flags.has('path')) o.path = String(parsed.flags.get('path'));
    if (parsed.flags.has('readout')) {
      const r = String(parsed.flags.get('readout'));
      if (r !== 'centered' && r !== 'zero' && r !== 'random') throw new UsageError(`--readout must be centered, zero or random, got '${r}'`);
      o.readout = r;
    }
    if (parsed.flags.has('classes')) {
      const cls = String(parsed.flags.get('classes')).split(',').map((c) => Number(c.trim()));
      if (cls.length < 2 || !cls.every((c) => Number.isInteger(c) && c >= 0 && c <= 9))
        throw new UsageError(`--classes must list at least two class labels 0–9, e.g. 0,6; got '${String(parsed.flags.get('classes'))}'`);
      o.classes = cls;
    }
    if (data === 'synthetic' && (o.classes || o.path)) throw new UsageError('--classes and --path apply to --data fashion-mnist or cifar10');
    if (data === 'cifar10' && !o.path) throw new UsageError('--data cifar10 needs --path DIR (the directory with data_batch_*.bin)');
    const out = resolve(String(parsed.flags.get('out') ?? './speedlimits-report'));
    const json = parsed.flags.has('json');
    const progress = createProgress(io, parsed.flags.has('quiet') || json);
    let current = '';
    const started = performance.now();
    const s = await study({
      ...o,
      onStage: (f, stage) => {
        if (stage !== current && stage !== 'done') {
          current = stage;
          progress.stage(stage);
        }
        progress.update(stage === 'gradient descent ensemble' ? (f - 0.1) / 0.4 : stage === 'Langevin ensemble' ? (f - 0.5) / 0.5 : 1);
      },
    });
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    const written = await writeReportFiles(out, studyReportFiles(s, { command: `speedlimits run ${args.join(' ')}`.trim(), seconds }));
    const last = s.gd.measured.times.length - 1;
    const summary = {
      out, files: written.map((f) => f.slice(out.length + 1)), seconds,
      dataset: s.dataset.name, n: s.dataset.n, numParams: s.network.numParams,
      alpha: s.ntk.fit.alpha.exponent, beta: s.ntk.fit.beta.exponent, nu: s.ntk.fit.nu, plateau: Number.isFinite(s.ntk.plateau.value) ? s.ntk.plateau.value : null,
      efficiencyMeasured: s.gd.measured.loss[last], efficiencyLinearised: s.analytic.discrete?.efficiencyLoss[last] ?? null,
      regimes: { measured: s.regimes.measured, analytic: s.regimes.analytic },
      findings: s.findings,
    };
    if (json) {
      io.out(JSON.stringify(summary, null, 2) + '\n');
      return 0;
    }
    io.out(`speedlimits run — ${s.dataset.name}, ${s.options.model.toUpperCase()} ${s.options.depth}×${s.options.width} (P = ${s.network.numParams}), ` +
      `${s.options.replicas} replicas × ${s.options.steps} steps, ${seconds.toFixed(1)} s\n\n`);
    for (const f of s.findings) io.out(`  • ${f}\n`);
    io.out(`\n  report: ${out}/report.html (also report.json and ${Object.keys(summary.files).length - 2} CSV files)\n`);
    return 0;
  },
};
