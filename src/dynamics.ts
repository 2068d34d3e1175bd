/**
 * The Langevin engine: ensembles of M replicas trained by gradient descent, full-batch Langevin,
 * SGLD (with-replacement minibatches) and SGWORLD (epoch-wise reshuffling), with the trackers of
 * the speed limit (THEORY.md §1.6, §4.1, §4.4). The integration runs in the core, off the event
 * loop; this file validates, shapes and presents.
 */
import { resolveBackend, type Backend } from './backend.js';
import { AbortError } from './errors.js';
import { checkLongRunOptions, runLong, type LongRunOptions } from './long.js';
import { checkMatrix, type Matrix } from './matrix.js';
import { native } from './native.js';
import { Network } from './nets.js';
import {
  checkBoolean,
  checkEnum,
  checkFloat64Array,
  checkInteger,
  checkNumberInRange,
  checkOptions,
  describeValue,
} from './validate.js';

export type TrainMethod = 'gd' | 'langevin' | 'sgld' | 'sgworld';
export const TRAIN_METHODS: readonly TrainMethod[] = ['gd', 'langevin', 'sgld', 'sgworld'];

/** Training data: inputs x [n, inputSize] and targets y [n, outputDim] (Float64). */
export interface TrainData {
  x: Matrix;
  y: Matrix;
}

/**
 * Where replicas start: `'network'` — `net.init({ seed: initSeed, stream: r })` for replica r;
 * a Float64Array of P entries (every replica starts there) or M·P entries (one row per replica
 * of the run); or `{ theta0, sigma0 }` — θ0 + σ0·ξ with ξ from the replica's own stream.
 */
export type TrainInit = 'network' | Float64Array | { theta0: Float64Array; sigma0: number };

export interface TrainOptions extends LongRunOptions {
  /** Default 'gd'. 'gd' and 'langevin' use the full batch; 'sgld' draws B distinct samples each step, 'sgworld' reshuffles each epoch. */
  method?: TrainMethod;
  /** η > 0 (the mobility; one step is one unit of time). Required. */
  learningRate: number;
  /** T ≥ 0 (0 for 'gd'). Default 0. */
  temperature?: number;
  /** γ ≥ 0: L = Σ ℓ_i + γ/2 |θ|². Default 0. */
  weightDecay?: number;
  /** B in 1..n for 'sgld' / 'sgworld' (required there). */
  batchSize?: number;
  /** Number of steps K ≥ 1. Required. */
  steps: number;
  /** M replicas (indices 0..M−1), or a shard [start, end) of a larger ensemble. Default 1. */
  replicas?: number | [number, number];
  /** Seed of the step noise and the batches. Default 0. */
  seed?: number;
  /** Start of the replicas. Default 'network'. */
  init?: TrainInit;
  /** Seed of the initial draws ('network' and { theta0, sigma0 }). Default `seed`. */
  initSeed?: number;
  /**
   * Where to compute: 'auto' (default), 'cpu' or 'cuda'. On the GPU the whole loop runs with the
   * replicas' parameters on the device (FCN networks, every method, every tracker) and agrees with
   * the CPU to rounding for the same seed; a CNN or more than 65535 replicas run on the CPU under
   * 'auto' and throw ERR_CUDA_UNSUPPORTED under 'cuda' (docs/api.md, CUDA backend).
   */
  backend?: Backend;
  /** Steps at which the trackers are recorded (integers in [0, steps]). Default: 0 and a geometric grid of ~40 steps up to `steps`. */
  logTimes?: readonly number[];
  /** Steps at which all replicas' parameters are kept. Default none. */
  snapshotTimes?: readonly number[];
  /** Exact discrete-chain entropy production (medium part). Default: true for 'langevin' with T > 0. */
  entropy?: boolean;
  /** Gaussian (Bures) W2² of the ensemble to its start at each log time. Default: true when M ≥ 2. */
  w2?: boolean;
  /** Sinkhorn W2² on a random q-dimensional projection at each log time (q > 0). Default 0 (off). */
  projectionDim?: number;
  /** System-entropy change of the diagonal Gaussian fit. Default: true when M ≥ 2 and T > 0. */
  logVar?: boolean;
}

/** Per-replica series: rows are log times, columns replicas. */
export interface ReplicaSeries {
  loss: Matrix;
  dist2: Matrix;
  dissipation: Matrix;
  heat: Matrix;
  entropy?: Matrix;
}

/** Ensemble means over the replicas (in index order) at each log time. */
export interface MeanSeries {
  loss: Float64Array;
  dist2: Float64Array;
  dissipation: Float64Array;
  heat: Float64Array;
  entropy?: Float64Array;
}

export interface TrainHistory {
  method: TrainMethod;
  learningRate: number;
  temperature: number;
  weightDecay: number;
  batchSize: number;
  steps: number;
  seed: number;
  /** Global replica indices [start, end). */
  replicas: [number, number];
  numParams: number;
  /** Log steps recorded (a prefix of the requested grid when the run stopped early). */
  times: Float64Array;
  perReplica: ReplicaSeries;
  mean: MeanSeries;
  /**
   * Ensemble trackers at each log time (NaN where not computed): Gaussian W2² to the start with
   * its mean and covariance terms, projected Sinkhorn W2², and ½Σ_p ln(v_t,p / v_0,p).
   */
  ensemble: { w2: Float64Array; w2Mean: Float64Array; w2Cov: Float64Array; w2Projected: Float64Array; logVarRatio: Float64Array };
  /** THEORY.md §1.6 from the ensemble means: 𝓔_kin = ⟨|θt−θ0|²⟩/(t⟨Σ|Δθ|²⟩), 𝓔_loss = ⟨|θt−θ0|²⟩/(η t ⟨L0−Lt⟩) (NaN at t = 0). */
  efficiency: { kinematic: Float64Array; loss: Float64Array };
  initialParams: Matrix;
  finalParams: Matrix;
  snapshots: { time: number; params: Matrix }[];
  status: 'completed' | 'aborted' | 'diverged';
  stepsDone: number;
  /** Set when a non-finite loss stopped the run. */
  diverged?: { step: number; replica: number };
}

/** An AbortError that carries the history recorded before the abort. */
export class TrainAbortError extends AbortError {
  constructor(message: string, readonly history: TrainHistory) {
    super(message);
    this.name = 'AbortError';
  }
}

/** 0 and ~count geometrically spaced integer steps in [1, steps] (always ending at steps). */
export function geometricSteps(steps: number, count = 40): number[] {
  checkInteger('geometricSteps', 'steps', steps, 1);
  checkInteger('geometricSteps', 'count', count, 2);
  const out = new Set<number>([0]);
  for (let i = 0; i < count; i++) out.add(Math.max(1, Math.round(Math.pow(steps, i / (count - 1)))));
  out.add(steps);
  return [...out].sort((a, b) => a - b);
}

function checkSteps(fn: string, name: string, v: unknown, steps: number): Float64Array {
  if (!Array.isArray(v) && !(v instanceof Float64Array)) throw new TypeError(`${fn}: ${name} must be an array of step numbers, got ${describeValue(v)}`);
  const arr = Array.from(v as ArrayLike<number>);
  const out = new Float64Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    out[i] = checkInteger(fn, `${name}[${i}]`, arr[i], 0, steps);
    if (i > 0 && !(out[i] > out[i - 1])) throw new RangeError(`${fn}: ${name} must be strictly increasing, got ${out[i - 1]} then ${out[i]}`);
  }
  return out;
}

interface Prepared {
  spec: Network['spec'];
  x: Float64Array;
  y: Float64Array;
  n: number;
  native: Record<string, unknown>;
  summary: Omit<TrainHistory, 'times' | 'perReplica' | 'mean' | 'ensemble' | 'efficiency' | 'initialParams' | 'finalParams' | 'snapshots' | 'status' | 'stepsDone' | 'diverged'>;
  logTimes: Float64Array;
  snapshotTimes: Float64Array;
  o: Partial<TrainOptions>;
}

function prepare(fn: string, net: unknown, data: unknown, options: unknown): Prepared {
  if (!(net instanceof Network)) throw new TypeError(`${fn}: net must be a Network (from createNetwork)`);
  const d = checkOptions<TrainData>(fn, data, 'data');
  if (data === undefined) throw new TypeError(`${fn}: data { x, y } is required`);
  const X = checkMatrix(fn, 'data.x', d.x, { cols: net.inputSize, finite: true });
  if (X.rows === 0) throw new RangeError(`${fn}: data.x must have at least one row`);
  const Y = checkMatrix(fn, 'data.y', d.y, { rows: X.rows, cols: net.outputDim, finite: true });
  const o = checkOptions<TrainOptions>(fn, options);
  if (options === undefined) throw new TypeError(`${fn}: options { learningRate, steps } are required`);
  checkLongRunOptions(fn, o);
  const method = o.method === undefined ? 'gd' : checkEnum(fn, 'options.method', o.method, TRAIN_METHODS);
  const eta = checkNumberInRange(fn, 'options.learningRate', o.learningRate, { min: 0, exclusiveMin: true });
  const T = o.temperature === undefined ? 0 : checkNumberInRange(fn, 'options.temperature', o.temperature, { min: 0 });
  if (method === 'gd' && T !== 0) throw new RangeError(`${fn}: options.temperature must be 0 for method 'gd' (use 'langevin'), got ${T}`);
  const gamma = o.weightDecay === undefined ? 0 : checkNumberInRange(fn, 'options.weightDecay', o.weightDecay, { min: 0 });
  const steps = checkInteger(fn, 'options.steps', o.steps, 1);
  const n = X.rows;
  const fullBatch = method === 'gd' || method === 'langevin';
  let B = n;
  if (!fullBatch) {
    if (o.batchSize === undefined) throw new TypeError(`${fn}: options.batchSize is required for method '${method}'`);
    B = checkInteger(fn, 'options.batchSize', o.batchSize, 1, n);
  } else if (o.batchSize !== undefined && o.batchSize !== n) {
    throw new RangeError(`${fn}: options.batchSize applies to 'sgld' and 'sgworld'; method '${method}' uses the full batch (n = ${n}), got ${describeValue(o.batchSize)}`);
  }
  let start = 0;
  let end = 1;
  if (Array.isArray(o.replicas)) {
    if (o.replicas.length !== 2) throw new TypeError(`${fn}: options.replicas must be a count or [start, end)`);
    start = checkInteger(fn, 'options.replicas[0]', o.replicas[0], 0);
    end = checkInteger(fn, 'options.replicas[1]', o.replicas[1], start + 1);
  } else if (o.replicas !== undefined) {
    end = checkInteger(fn, 'options.replicas', o.replicas, 1);
  }
  const M = end - start;
  // The GPU loop runs FCNs, with the replicas as the batch dimension of its GEMMs (gridDim.z).
  const cuda = resolveBackend(fn, o.backend, net.spec.type !== 'fcn' ? 'training a CNN (FCN networks only)'
    : M > 65535 ? `more than 65535 replicas per call (got ${M})` : undefined);
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'options.seed', o.seed, 0);
  const initSeed = o.initSeed === undefined ? seed : checkInteger(fn, 'options.initSeed', o.initSeed, 0);
  const P = net.numParams;
  const nat: Record<string, unknown> = { initKind: 'network' };
  const init = o.init ?? 'network';
  if (init === 'network') {
    nat.initKind = 'network';
  } else if (init instanceof Float64Array) {
    if (init.length !== P && init.length !== M * P)
      throw new RangeError(`${fn}: options.init must have ${P} (one start for all) or ${M * P} (one per replica) entries, got ${init.length}`);
    for (let i = 0; i < init.length; i++)
      if (!Number.isFinite(init[i])) throw new RangeError(`${fn}: options.init must contain only finite values, got ${init[i]} at index ${i}`);
    Object.assign(nat, { initKind: 'given', initParams: init });
  } else if (typeof init === 'object' && init !== null && !ArrayBuffer.isView(init)) {
    const g = init as { theta0?: unknown; sigma0?: unknown };
    const theta0 = checkFloat64Array(fn, 'options.init.theta0', g.theta0, P);
    for (let i = 0; i < P; i++) if (!Number.isFinite(theta0[i])) throw new RangeError(`${fn}: options.init.theta0 must be finite, got ${theta0[i]} at index ${i}`);
    const sigma0 = checkNumberInRange(fn, 'options.init.sigma0', g.sigma0, { min: 0 });
    Object.assign(nat, { initKind: 'gaussian', theta0, sigma0 });
  } else {
    throw new TypeError(`${fn}: options.init must be 'network', a Float64Array or { theta0, sigma0 }, got ${describeValue(init)}`);
  }
  const logTimes = o.logTimes === undefined ? Float64Array.from(geometricSteps(steps)) : checkSteps(fn, 'options.logTimes', o.logTimes, steps);
  const snapshotTimes = o.snapshotTimes === undefined ? new Float64Array(0) : checkSteps(fn, 'options.snapshotTimes', o.snapshotTimes, steps);
  const entropy = o.entropy === undefined ? method === 'langevin' && T > 0 : checkBoolean(fn, 'options.entropy', o.entropy);
  if (entropy && !(method === 'langevin' && T > 0))
    throw new RangeError(`${fn}: options.entropy needs method 'langevin' with temperature > 0 (the exact chain estimator needs the full-batch Gaussian kernel)`);
  const ensembleOk = M >= 2;
  const w2 = o.w2 === undefined ? ensembleOk : checkBoolean(fn, 'options.w2', o.w2);
  const projectionDim = o.projectionDim === undefined ? 0 : checkInteger(fn, 'options.projectionDim', o.projectionDim, 0, 4096);
  const logVar = o.logVar === undefined ? ensembleOk && T > 0 : checkBoolean(fn, 'options.logVar', o.logVar);
  if (!ensembleOk && (w2 || projectionDim > 0 || logVar))
    throw new RangeError(`${fn}: options.w2, projectionDim and logVar need at least 2 replicas, got ${M}`);
  Object.assign(nat, {
    method, eta, temperature: T, weightDecay: gamma, batchSize: B, steps, seed, initSeed,
    replicaBegin: start, replicaEnd: end, logSteps: logTimes, snapshotSteps: snapshotTimes,
    entropy, w2, projectionDim, logVar, cuda,
  });
  return {
    spec: net.spec, x: X.data as Float64Array, y: Y.data as Float64Array, n, native: nat, logTimes, snapshotTimes, o,
    summary: { method, learningRate: eta, temperature: T, weightDecay: gamma, batchSize: B, steps, seed, replicas: [start, end], numParams: P },
  };
}

interface NativeTrainResult {
  status: 'completed' | 'aborted' | 'diverged';
  divergedStep: number;
  divergedReplica: number;
  logged: number;
  stepsDone: number;
  replicas: number;
  params: number;
  loss: Float64Array;
  dist2: Float64Array;
  dissipation: Float64Array;
  heat: Float64Array;
  entropy: Float64Array;
  w2: Float64Array;
  w2Mean: Float64Array;
  w2Cov: Float64Array;
  w2Projected: Float64Array;
  logVarRatio: Float64Array;
  finalParams: Float64Array;
  initialParams: Float64Array;
  snapshots: Float64Array[];
}

function rowMeans(data: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += data[i * cols + j];
    out[i] = s / cols;
  }
  return out;
}

/** History from per-replica series (used by train and by mergeHistories). */
function assemble(summary: Prepared['summary'], times: Float64Array, per: ReplicaSeries, ensemble: TrainHistory['ensemble'],
  initialParams: Matrix, finalParams: Matrix, snapshots: TrainHistory['snapshots'], status: TrainHistory['status'], stepsDone: number,
  diverged?: TrainHistory['diverged']): TrainHistory {
  const t = times.length;
  const M = summary.replicas[1] - summary.replicas[0];
  const mean: MeanSeries = {
    loss: rowMeans(per.loss.data, t, M),
    dist2: rowMeans(per.dist2.data, t, M),
    dissipation: rowMeans(per.dissipation.data, t, M),
    heat: rowMeans(per.heat.data, t, M),
  };
  if (per.entropy) mean.entropy = rowMeans(per.entropy.data, t, M);
  const kinematic = new Float64Array(t);
  const lossEff = new Float64Array(t);
  for (let i = 0; i < t; i++) {
    const K = times[i];
    kinematic[i] = K > 0 ? mean.dist2[i] / (K * mean.dissipation[i]) : NaN;
    lossEff[i] = K > 0 ? mean.dist2[i] / (summary.learningRate * K * mean.heat[i]) : NaN;
  }
  const h: TrainHistory = {
    ...summary, times, perReplica: per, mean, ensemble, efficiency: { kinematic, loss: lossEff },
    initialParams, finalParams, snapshots, status, stepsDone,
  };
  if (diverged) h.diverged = diverged;
  return h;
}

function toHistory(q: Prepared, r: NativeTrainResult): TrainHistory {
  const M = r.replicas;
  const t = r.logged;
  const P = r.params;
  const cut = (a: Float64Array): Matrix => ({ data: a.slice(0, t * M), rows: t, cols: M });
  const per: ReplicaSeries = { loss: cut(r.loss), dist2: cut(r.dist2), dissipation: cut(r.dissipation), heat: cut(r.heat) };
  if (r.entropy.length > 0) per.entropy = cut(r.entropy);
  const ensemble = {
    w2: r.w2.slice(0, t), w2Mean: r.w2Mean.slice(0, t), w2Cov: r.w2Cov.slice(0, t),
    w2Projected: r.w2Projected.slice(0, t), logVarRatio: r.logVarRatio.slice(0, t),
  };
  const snapshots = r.snapshots.map((s, i) => ({ time: q.snapshotTimes[i], params: { data: s, rows: M, cols: P } }));
  return assemble(q.summary, q.logTimes.slice(0, t), per, ensemble, { data: r.initialParams, rows: M, cols: P },
    { data: r.finalParams, rows: M, cols: P }, snapshots, r.status, r.stepsDone,
    r.status === 'diverged' ? { step: r.divergedStep, replica: r.divergedReplica } : undefined);
}

/**
 * Train an ensemble of `replicas` copies of `net` on (x, y) with the update of THEORY.md §4.1,
 * θ ← θ − η[(n/B)Σ_{i∈S}∇ℓ_i + γθ] + √(2ηT)ξ, each replica with its own Philox streams keyed by
 * (seed, replica index): results do not depend on the thread count or on how replicas are split
 * into shards. A diverging run (non-finite loss) resolves with `status: 'diverged'` and the
 * history so far; an aborted one rejects with a {@link TrainAbortError} carrying it.
 * @example
 * const h = await train(net, { x, y }, { method: 'langevin', learningRate: 1e-3, temperature: 1e-4, steps: 1000, replicas: 16 });
 * console.log(h.mean.loss, h.ensemble.w2, h.efficiency.loss);
 */
export async function train(net: Network, data: TrainData, options: TrainOptions): Promise<TrainHistory> {
  const q = prepare('train', net, data, options);
  const r = await runLong('train', q.o, (control) =>
    native().train(q.spec, q.x, q.y, q.n, { ...q.native, ...control }, true) as Promise<NativeTrainResult>);
  const h = toHistory(q, r);
  if (r.status === 'aborted') throw new TrainAbortError(`train: aborted after ${r.stepsDone} of ${q.summary.steps} steps`, h);
  return h;
}

/** Synchronous {@link train} for small problems (blocks the event loop). */
export function trainSync(net: Network, data: TrainData, options: TrainOptions): TrainHistory {
  const q = prepare('trainSync', net, data, options);
  const r = native().train(q.spec, q.x, q.y, q.n, { ...q.native, abort: new Int32Array(1), progress: new Float64Array(1) }, false) as NativeTrainResult;
  return toHistory(q, r);
}

/**
 * Merge the histories of contiguous shards of one ensemble (same options, replica ranges that
 * tile [start, end)) into the history of the whole ensemble: per-replica series and parameters
 * are concatenated and the means recomputed in replica order, so the result equals one run over
 * all replicas bit for bit. The ensemble trackers (W2, log-variance), which need all replicas at
 * once, are NaN in the merge; compute them from snapshots when needed.
 */
export function mergeHistories(histories: readonly TrainHistory[]): TrainHistory {
  const fn = 'mergeHistories';
  if (!Array.isArray(histories) || histories.length === 0) throw new TypeError(`${fn}: histories must be a non-empty array`);
  const hs: TrainHistory[] = [...(histories as TrainHistory[])].sort((a, b) => a.replicas[0] - b.replicas[0]);
  const first = hs[0];
  for (let i = 1; i < hs.length; i++) {
    const h = hs[i];
    if (h.replicas[0] !== hs[i - 1].replicas[1]) throw new RangeError(`${fn}: shards must be contiguous, got [${hs[i - 1].replicas}] then [${h.replicas}]`);
    for (const k of ['method', 'learningRate', 'temperature', 'weightDecay', 'batchSize', 'steps', 'seed', 'numParams'] as const)
      if (h[k] !== first[k]) throw new RangeError(`${fn}: shards differ in ${k}`);
    if (h.times.length !== first.times.length || h.times.some((v, j) => v !== first.times[j])) throw new RangeError(`${fn}: shards differ in their log times`);
  }
  const t = first.times.length;
  const M = hs.reduce((s, h) => s + (h.replicas[1] - h.replicas[0]), 0);
  const P = first.numParams;
  const joinSeries = (get: (h: TrainHistory) => Matrix | undefined): Matrix | undefined => {
    if (hs.some((h) => get(h) === undefined)) return undefined;
    const out = new Float64Array(t * M);
    let c0 = 0;
    for (const h of hs) {
      const m = get(h)!;
      for (let i = 0; i < t; i++) out.set(m.data.subarray(i * m.cols, (i + 1) * m.cols), i * M + c0);
      c0 += m.cols;
    }
    return { data: out, rows: t, cols: M };
  };
  const joinRows = (get: (h: TrainHistory) => Matrix): Matrix => {
    const out = new Float64Array(M * P);
    let off = 0;
    for (const h of hs) {
      out.set(get(h).data, off);
      off += get(h).data.length;
    }
    return { data: out, rows: M, cols: P };
  };
  const per: ReplicaSeries = {
    loss: joinSeries((h) => h.perReplica.loss)!, dist2: joinSeries((h) => h.perReplica.dist2)!,
    dissipation: joinSeries((h) => h.perReplica.dissipation)!, heat: joinSeries((h) => h.perReplica.heat)!,
  };
  const ent = joinSeries((h) => h.perReplica.entropy);
  if (ent) per.entropy = ent;
  const nan = () => new Float64Array(t).fill(NaN);
  const ensemble = { w2: nan(), w2Mean: nan(), w2Cov: nan(), w2Projected: nan(), logVarRatio: nan() };
  const snapshots = first.snapshots.map((s, i) => ({ time: s.time, params: joinRows((h) => h.snapshots[i].params) }));
  const status = hs.find((h) => h.status !== 'completed')?.status ?? 'completed';
  const diverged = hs.find((h) => h.diverged)?.diverged;
  const { method, learningRate, temperature, weightDecay, batchSize, steps, seed } = first;
  return assemble({ method, learningRate, temperature, weightDecay, batchSize, steps, seed, replicas: [hs[0].replicas[0], hs[hs.length - 1].replicas[1]], numParams: P },
    first.times, per, ensemble, joinRows((h) => h.initialParams), joinRows((h) => h.finalParams), snapshots, status,
    Math.min(...hs.map((h) => h.stepsDone)), diverged);
}
