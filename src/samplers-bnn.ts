/**
 * The sampler study on a small Bayesian neural network (THEORY.md §4.1–4.3 beyond the linear
 * case): ULA, SGLD (fresh B-subsets each step) and SGWORLD (epoch-wise reshuffling) sample the
 * posterior p(θ) ∝ exp(−[½Σ_i (f(x_i; θ) − y_i)² + (γ/2)|θ|²]/T) of a one-hidden-layer tanh network;
 * each sampler's stationary predictive distribution at two test inputs is compared with a
 * reference by Sinkhorn W2 on samples (and the Bures W2 of Gaussian fits).
 *
 * There is no closed-form posterior, so the reference is ULA at a learning rate well below the
 * study's (its own O(η_ref) bias is stated), run from the prior to stationarity; the sampling
 * floor of W2 is measured by splitting the reference samples in two halves. The comparison is in
 * function space (predictions), where the posterior is unimodal enough for finite chains to
 * sample: weight space has the network's permutation and sign symmetries.
 */
import { train, type TrainHistory } from './dynamics.js';
import { AbortError } from './errors.js';
import { checkLongRunOptions, type LongRunOptions } from './long.js';
import { matrix, type Matrix } from './matrix.js';
import { createNetwork, type Network, type NetSpec } from './nets.js';
import { normal } from './random.js';
import { sinkhornDivergence, w2GaussianSync } from './transport.js';
import { checkInteger, checkNumberInRange, checkOptions, describeValue } from './validate.js';
import type { Sampler } from './ness.js';

/** Options of {@link bayesianNetSamplers}; every field has a default. */
export interface BayesianNetSamplerOptions extends LongRunOptions {
  /** Learning rates compared (increasing). Default [2.5e-3, 5e-3, 1e-2]. */
  etas?: readonly number[];
  /** B for SGLD and SGWORLD (a divisor of n = 32). Default 4. */
  batchSize?: number;
  /** Chains per sampler. Default 400. */
  replicas?: number;
  /** Steps before the first snapshot (from the reference's final states). Default 1000. */
  burnIn?: number;
  /** Snapshots per chain, `spacing` steps apart. Defaults 5 and 200. */
  snapshots?: number;
  spacing?: number;
  /** ULA learning rate of the reference. Default min(etas)/8. */
  referenceEta?: number;
  /** Steps of the reference run from the prior before its snapshots. Default 15000. */
  referenceSteps?: number;
  /** Generator key. Default 0. */
  seed?: number;
  /** Called with (fraction, stage). */
  onStage?: (fraction: number, stage: string) => void;
}

/** Result of {@link bayesianNetSamplers}. */
export interface BayesianNetSamplerResult {
  spec: NetSpec;
  numParams: number;
  data: { x: Float64Array; y: Float64Array };
  /** The two test inputs whose predictions are compared. */
  testInputs: [number, number];
  temperature: number;
  gamma: number;
  batchSize: number;
  etas: number[];
  reference: { eta: number; steps: number; samples: number; predictiveMean: [number, number]; predictiveSd: [number, number] };
  /** The same between the two halves of the reference samples: the sampling floor. */
  floor: number;
  /** √(Sinkhorn divergence S_ε) of each sampler's predictive samples to the reference (≈ W2 for small ε, see `epsilon`), per η. */
  w2: Record<Sampler, number[]>;
  /** Bures W2 between Gaussian fits of the same samples. */
  w2Gaussian: Record<Sampler, number[]>;
  epsilon: number;
  /** Chains per sampler and snapshots per chain. */
  replicas: number;
  snapshots: number;
  seconds: number;
}

const SAMPLERS: readonly Sampler[] = ['ula', 'sgld', 'sgworld'];
const METHOD = { ula: 'langevin', sgld: 'sgld', sgworld: 'sgworld' } as const;
const N_DATA = 32;
const TEST_INPUTS: [number, number] = [0.3, 2.5];

/** The data: 32 inputs on [−2, 2], y = sin(1.5x) + 0.1·noise (fixed draw). */
function dataset(): { x: Float64Array; y: Float64Array } {
  const x = Float64Array.from({ length: N_DATA }, (_, i) => -2 + (4 * i) / (N_DATA - 1));
  const e = normal({ seed: 20261124, stream: 0, length: N_DATA });
  return { x, y: x.map((v, i) => Math.sin(1.5 * v) + 0.1 * e[i]) };
}

/** Predictions at the test inputs of every snapshot of every chain: [samples × 2]. */
function predictive(net: Network, h: TrainHistory, test: Matrix): Matrix {
  const P = net.numParams;
  const rows: number[] = [];
  for (const s of h.snapshots)
    for (let r = 0; r < s.params.rows; r++) {
      const f = net.forward(s.params.data.subarray(r * P, (r + 1) * P), test);
      rows.push(f.data[0], f.data[1]);
    }
  return matrix(rows.length / 2, 2, Float64Array.from(rows));
}

function moments(S: Matrix): { mean: Float64Array; cov: Matrix } {
  const n = S.rows, mean = new Float64Array(2), cov = new Float64Array(4);
  for (let i = 0; i < n; i++) for (let a = 0; a < 2; a++) mean[a] += S.data[2 * i + a] / n;
  for (let i = 0; i < n; i++)
    for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) cov[2 * a + b] += ((S.data[2 * i + a] - mean[a]) * (S.data[2 * i + b] - mean[b])) / (n - 1);
  return { mean, cov: matrix(2, 2, cov) };
}

function increasing(fn: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0) throw new TypeError(`${fn}: options.etas must be a non-empty array of numbers, got ${describeValue(v)}`);
  return v.map((x, i) => {
    const e = checkNumberInRange(fn, `options.etas[${i}]`, x, { min: 0, exclusiveMin: true });
    if (i > 0 && !(e > v[i - 1])) throw new RangeError(`${fn}: options.etas must be increasing, got ${v[i - 1]} then ${e}`);
    return e;
  });
}

/**
 * Run the Bayesian-neural-network sampler study. About 2.5 minutes at the defaults on
 * 2 cores (the chains of a 25-parameter network on 32 points are overhead-bound: ≈ 10 µs per chain-step).
 * @example
 * const r = await bayesianNetSamplers({ replicas: 100 });
 * r.w2.sgworld[0] < r.w2.sgld[0]; // SGWORLD closer to the reference than SGLD at the same η
 */
export async function bayesianNetSamplers(options: BayesianNetSamplerOptions = {}): Promise<BayesianNetSamplerResult> {
  const fn = 'bayesianNetSamplers';
  const o = checkOptions<BayesianNetSamplerOptions>(fn, options);
  checkLongRunOptions(fn, o);
  if (o.onStage !== undefined && typeof o.onStage !== 'function') throw new TypeError(`${fn}: options.onStage must be a function`);
  const t0 = performance.now();
  const etas = o.etas === undefined ? [2.5e-3, 5e-3, 1e-2] : increasing(fn, o.etas);
  const batchSize = o.batchSize === undefined ? 4 : checkInteger(fn, 'options.batchSize', o.batchSize, 1, N_DATA);
  if (N_DATA % batchSize !== 0) throw new RangeError(`${fn}: options.batchSize must divide n = ${N_DATA} (SGWORLD epochs are partitions), got ${batchSize}`);
  const replicas = o.replicas === undefined ? 400 : checkInteger(fn, 'options.replicas', o.replicas, 2, 1e6);
  const burnIn = o.burnIn === undefined ? 1000 : checkInteger(fn, 'options.burnIn', o.burnIn, 0, 1e8);
  const snapshots = o.snapshots === undefined ? 5 : checkInteger(fn, 'options.snapshots', o.snapshots, 1, 1e4);
  const spacing = o.spacing === undefined ? 200 : checkInteger(fn, 'options.spacing', o.spacing, 1, 1e8);
  const referenceEta = o.referenceEta === undefined ? etas[0] / 8 : checkNumberInRange(fn, 'options.referenceEta', o.referenceEta, { min: 0, exclusiveMin: true });
  const referenceSteps = o.referenceSteps === undefined ? 15000 : checkInteger(fn, 'options.referenceSteps', o.referenceSteps, 1, 1e9);
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'options.seed', o.seed, 0);

  // Prior N(0, (T/γ)·I) on the stored ('ntk'-parameterised) weights; γ = 0.5 keeps the slowest
  // (prior-dominated) directions relaxing within 1/(η_ref·γ) ≈ 6·10³ reference steps.
  const temperature = 0.05, gamma = 0.5;
  const spec: NetSpec = { type: 'fcn', inputDim: 1, widths: [8], outputDim: 1, activation: 'tanh', parameterization: 'ntk', sigmaW: 1.5, sigmaB: 0.5 };
  const net = createNetwork(spec);
  const P = net.numParams;
  const { x, y } = dataset();
  const data = { x: matrix(N_DATA, 1, x), y: matrix(N_DATA, 1, y) };
  const test = matrix(2, 1, Float64Array.from(TEST_INPUTS));
  const snapTimes = (start: number) => Array.from({ length: snapshots }, (_, i) => start + i * spacing);
  const runSteps = burnIn + (snapshots - 1) * spacing;
  const totalWork = replicas * (referenceSteps + (snapshots - 1) * spacing + etas.length * SAMPLERS.length * runSteps);
  let done = 0;
  const stage = (f: number, name: string) => {
    o.onStage?.(f, name);
    o.onProgress?.(f);
  };
  const run = async (sampler: Sampler, eta: number, init: Float64Array, steps: number, snaps: number[], name: string) => {
    const work = replicas * steps;
    const h = await train(net, data, {
      method: METHOD[sampler], learningRate: eta, temperature, weightDecay: gamma, ...(sampler === 'ula' ? {} : { batchSize }),
      steps, replicas, seed, init, snapshotTimes: snaps, logTimes: [0, steps], w2: false, logVar: false, entropy: false,
      ...(o.signal ? { signal: o.signal } : {}), onProgress: (f) => stage((done + f * work) / totalWork, name),
    });
    done += work;
    if (h.status !== 'completed') throw new RangeError(`${fn}: ${sampler} at η = ${eta} diverged; use smaller learning rates`);
    return h;
  };

  // Reference: ULA at η_ref from the prior (stored weights N(0, 1)).
  const prior = normal({ seed, stream: 1 << 20, length: replicas * P });
  const refSteps = referenceSteps + (snapshots - 1) * spacing;
  const ref = await run('ula', referenceEta, prior, refSteps, snapTimes(referenceSteps), 'reference (ULA at small η)');
  const refSamples = predictive(net, ref, test);
  const start = ref.finalParams.data;
  const half = Math.floor(refSamples.rows / 2);
  const refA = matrix(half, 2, refSamples.data.slice(0, 2 * half)), refB = matrix(refSamples.rows - half, 2, refSamples.data.slice(2 * half));
  const refMoments = moments(refSamples);
  // ε: 1 % of the predictive variance. The debiased divergence S_ε = W2² − O(ε²) converges in a few
  // hundred iterations at this ε, where the plain entropic cost would need ε ≪ W2² and 10⁴+ iterations.
  const epsilon = 1e-2 * (refMoments.cov.data[0] + refMoments.cov.data[3]);
  const sinkW2 = async (a: Matrix, b: Matrix) => {
    if (o.signal?.aborted) throw new AbortError(`${fn}: aborted`);
    const r = await sinkhornDivergence(a, b, { epsilon, center: false, maxIter: 5000, ...(o.signal ? { signal: o.signal } : {}) });
    return Math.sqrt(Math.max(0, r.divergence));
  };
  const floor = await sinkW2(refA, refB);

  const w2: Record<Sampler, number[]> = { ula: [], sgld: [], sgworld: [] };
  const w2Gaussian: Record<Sampler, number[]> = { ula: [], sgld: [], sgworld: [] };
  for (const eta of etas)
    for (const s of SAMPLERS) {
      const h = await run(s, eta, start, runSteps, snapTimes(burnIn), `${s} at η = ${eta}`);
      const samples = predictive(net, h, test);
      w2[s].push(await sinkW2(samples, refSamples));
      const m = moments(samples);
      w2Gaussian[s].push(Math.sqrt(w2GaussianSync(m.mean, m.cov, refMoments.mean, refMoments.cov).w2sq));
    }
  stage(1, 'done');
  return {
    spec, numParams: P, data: { x, y }, testInputs: TEST_INPUTS, temperature, gamma, batchSize, etas,
    reference: {
      eta: referenceEta, steps: refSteps, samples: refSamples.rows,
      predictiveMean: [refMoments.mean[0], refMoments.mean[1]],
      predictiveSd: [Math.sqrt(refMoments.cov.data[0]), Math.sqrt(refMoments.cov.data[3])],
    },
    floor, w2, w2Gaussian, epsilon, replicas, snapshots, seconds: (performance.now() - t0) / 1000,
  };
}
