/**
 * `speedlimits train`: an ensemble trained by gd / langevin / sgld / sgworld on a data set;
 * writes history.json (options, trackers, efficiencies), history.csv (ensemble means per log
 * time), initial_params.npy and final_params.npy ([M, P]) to --out, all atomically.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeTextAtomic } from '../atomic.js';
import { train, TRAIN_METHODS, type TrainHistory, type TrainMethod } from '../dynamics.js';
import { createNetwork } from '../nets.js';
import { writeNpy } from '../npy.js';
import { numberFlag, parseArgs, UsageError, type CliIO, type Command } from './args.js';
import { MODEL_FLAGS, isPositiveInt, modelAndData } from './common.js';
import { createProgress } from './progress.js';

/** `--replicas 8` or a shard `--replicas 8:16` → [start, end). */
function replicaRange(v: string | true | undefined): [number, number] {
  if (v === undefined) return [0, 4];
  const s = String(v);
  const m = /^(\d+)(?::(\d+))?$/.exec(s);
  if (!m) throw new UsageError(`--replicas must be a count M or a shard a:b, got '${s}'`);
  const range: [number, number] = m[2] === undefined ? [0, Number(m[1])] : [Number(m[1]), Number(m[2])];
  if (!(range[1] > range[0])) throw new UsageError(`--replicas must name at least one replica, got '${s}'`);
  return range;
}

function csv(h: TrainHistory): string {
  const cols: [string, ArrayLike<number>][] = [
    ['step', h.times], ['loss', h.mean.loss], ['dist2', h.mean.dist2], ['dissipation', h.mean.dissipation], ['heat', h.mean.heat],
  ];
  if (h.mean.entropy) cols.push(['entropy_medium', h.mean.entropy]);
  cols.push(['w2_gaussian', h.ensemble.w2], ['efficiency_kinematic', h.efficiency.kinematic], ['efficiency_loss', h.efficiency.loss]);
  const lines = [cols.map(([k]) => k).join(',')];
  for (let i = 0; i < h.times.length; i++) lines.push(cols.map(([, v]) => (Number.isNaN(v[i]) ? '' : String(v[i]))).join(','));
  return lines.join('\n') + '\n';
}

export const trainCommand: Command = {
  summary: 'train an ensemble (gd, langevin, sgld, sgworld) and track loss, dissipation, entropy, W2',
  usage:
    'speedlimits train [--method gd|langevin|sgld|sgworld] [--replicas M|a:b] [--steps K] [--lr η] [--temperature T] ' +
    '[--weight-decay γ] [--batch-size B] [--model fcn|cnn] [--data synthetic|X.npy --labels y.npy] [--n N] [--dim D] ' +
    '[--input-shape C,H,W] [--width W] [--depth L] [--activation A] [--seed S] [--out DIR] [--json] [--quiet]',
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseArgs(args, ['json', 'quiet', 'help'], [...MODEL_FLAGS, 'method', 'replicas', 'steps', 'lr', 'temperature', 'weight-decay', 'batch-size', 'out']);
    if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
    const method = String(parsed.flags.get('method') ?? 'gd') as TrainMethod;
    if (!TRAIN_METHODS.includes(method)) throw new UsageError(`--method must be one of ${TRAIN_METHODS.join(', ')}, got '${method}'`);
    const replicas = replicaRange(parsed.flags.get('replicas'));
    const steps = numberFlag(parsed, 'steps', isPositiveInt, 'a positive integer') ?? 500;
    const positive = (v: number) => Number.isFinite(v) && v > 0;
    const nonNegative = (v: number) => Number.isFinite(v) && v >= 0;
    const temperature = numberFlag(parsed, 'temperature', nonNegative, 'a number >= 0') ?? (method === 'gd' ? 0 : 1e-4);
    const weightDecay = numberFlag(parsed, 'weight-decay', nonNegative, 'a number >= 0') ?? 0;
    const batchSize = numberFlag(parsed, 'batch-size', isPositiveInt, 'a positive integer');
    const out = String(parsed.flags.get('out') ?? './speedlimits-train');
    const quiet = parsed.flags.has('quiet') || parsed.flags.has('json');
    const { model, activation, width, depth, seed, spec, x, y } = await modelAndData(parsed, { n: 256, width: 256, depth: 2 });
    if (!y) throw new UsageError('training needs targets: pass --labels y.npy with a .npy --data');
    const net = createNetwork(spec);
    // Default η: a stable fraction of 2/λ_max is not known before the NTK; 0.5/n keeps the
    // summed-loss GD step of order one for unit-scale inputs and NTK parameterisation.
    const lr = numberFlag(parsed, 'lr', positive, 'a number > 0') ?? 0.5 / x.rows;
    const progress = createProgress(io, quiet);
    progress.stage(`training ${replicas[1] - replicas[0]} × ${method}`);
    const started = performance.now();
    const h = await train(net, { x, y: { data: y, rows: y.length, cols: 1 } }, {
      method, learningRate: lr, temperature, weightDecay, steps, replicas, seed,
      ...(batchSize !== undefined ? { batchSize } : method === 'sgld' || method === 'sgworld' ? { batchSize: Math.min(32, x.rows) } : {}),
      onProgress: (f) => progress.update(f),
    });
    progress.done();
    const seconds = (performance.now() - started) / 1000;
    mkdirSync(out, { recursive: true });
    await writeNpy(join(out, 'initial_params.npy'), { data: h.initialParams.data, shape: [h.initialParams.rows, h.initialParams.cols] });
    await writeNpy(join(out, 'final_params.npy'), { data: h.finalParams.data, shape: [h.finalParams.rows, h.finalParams.cols] });
    await writeTextAtomic('speedlimits train', join(out, 'history.csv'), csv(h));
    const arr = (a: ArrayLike<number>) => Array.from(a, (v) => (Number.isFinite(v) ? v : null));
    const last = h.times.length - 1;
    const summary = {
      spec, n: x.rows, method, learningRate: lr, temperature, weightDecay, batchSize: h.batchSize, steps, replicas, seed,
      numParams: h.numParams, status: h.status, diverged: h.diverged ?? null, seconds,
      final: {
        loss: h.mean.loss[last], dist2: h.mean.dist2[last], w2: Number.isFinite(h.ensemble.w2[last]) ? h.ensemble.w2[last] : null,
        efficiencyKinematic: h.efficiency.kinematic[last], efficiencyLoss: h.efficiency.loss[last],
      },
      history: {
        steps: arr(h.times), loss: arr(h.mean.loss), dist2: arr(h.mean.dist2), dissipation: arr(h.mean.dissipation), heat: arr(h.mean.heat),
        entropyMedium: h.mean.entropy ? arr(h.mean.entropy) : null, w2: arr(h.ensemble.w2), w2Mean: arr(h.ensemble.w2Mean), w2Cov: arr(h.ensemble.w2Cov),
        logVarRatio: arr(h.ensemble.logVarRatio), efficiencyKinematic: arr(h.efficiency.kinematic), efficiencyLoss: arr(h.efficiency.loss),
        perReplicaLoss: { rows: h.perReplica.loss.rows, cols: h.perReplica.loss.cols, data: arr(h.perReplica.loss.data) },
      },
      out,
    };
    await writeTextAtomic('speedlimits train', join(out, 'history.json'), JSON.stringify(summary, null, 2) + '\n');
    if (parsed.flags.has('json')) {
      io.out(JSON.stringify({ ...summary, history: undefined }, null, 2) + '\n');
      return h.status === 'completed' ? 0 : 1;
    }
    io.out(`${method} on a ${model.toUpperCase()} (${depth}×${width}, ${activation}, P = ${h.numParams}), ${x.rows} samples, replicas ${replicas[0]}–${replicas[1] - 1}\n`);
    io.out(`  loss ${h.mean.loss[0].toPrecision(5)} → ${h.mean.loss[last].toPrecision(5)} in ${h.times[last]} steps (η = ${lr.toPrecision(3)}, T = ${temperature})\n`);
    io.out(`  |θt − θ0|² ${h.mean.dist2[last].toPrecision(5)}, 𝓔_kin ${h.efficiency.kinematic[last].toPrecision(4)}, 𝓔_loss ${h.efficiency.loss[last].toPrecision(4)}` +
      `${Number.isFinite(h.ensemble.w2[last]) ? `, W2² to start ${h.ensemble.w2[last].toPrecision(5)}` : ''}\n`);
    if (h.status === 'diverged') io.out(`  diverged at step ${h.diverged!.step} (replica ${h.diverged!.replica}): lower --lr\n`);
    io.out(`  wrote ${out}/history.json, history.csv, initial_params.npy, final_params.npy (${seconds.toFixed(2)} s)\n`);
    return h.status === 'completed' ? 0 : 1;
  },
};
