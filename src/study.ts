/**
 * The main job as a function: one complete speed-limit study (what `speedlimits run` writes).
 *   1. data (embedded synthetic power-law task, Fashion-MNIST or CIFAR-10) and a network;
 *   2. the NTK at initialisation, its spectrum, the residual's power per mode, fitted α and β;
 *   3. the analytic 𝓔(t) of the linearised model (gradient flow, discrete GD, Langevin);
 *   4. ensembles trained by gradient descent and by Langevin dynamics around the same init;
 *   5. measured 𝓔(t) against the analytic curve and the regimes located on both.
 */
import { buildInfo, type BuildInfo } from './info.js';
import { loadCifar10, loadFashionMnist, labelsToTargets, standardize } from './data/index.js';
import { geometricSteps, train, type TrainHistory } from './dynamics.js';
import { AbortError } from './errors.js';
import * as linalg from './linalg.js';
import { checkLongRunOptions, type LongRunOptions } from './long.js';
import type { Matrix } from './matrix.js';
import { locateRegimes, measuredEfficiency, type MeasuredEfficiency, type Regimes } from './measured.js';
import { createNetwork, type NetSpec } from './nets.js';
import { fitExponents, ntk, spectrum, type SpectralExponents } from './ntk.js';
import { analyticEfficiency, powerLawPlateau, type PowerLawPlateau, type SpeedLimitSeries } from './speedlimit.js';
import { syntheticPowerLawTask } from './synthetic.js';
import { checkEnum, checkInteger, checkNumberInRange, checkOptions, describeValue } from './validate.js';

export type StudyData = 'synthetic' | 'fashion-mnist' | 'cifar10';

export interface StudyOptions extends LongRunOptions {
  /** Default 'synthetic' (embedded). */
  data?: StudyData;
  /** Directory of the data files (Fashion-MNIST: found with dpkg when absent; CIFAR-10: required). */
  path?: string;
  /** Default 'fcn'. */
  model?: 'fcn' | 'cnn';
  /** Hidden width (FCN) or channels (CNN). Default 128 (FCN), 8 (CNN). */
  width?: number;
  /** Hidden layers. Default 2. 0 gives the linear model f = Wx + b (the linearisation is then exact). */
  depth?: number;
  /** Training samples. Default 256 (FCN), 64 (CNN). */
  n?: number;
  /** Image classes to use (labels). Default [0, 1] (binary, targets ±1); more than two use centred one-hot targets. */
  classes?: number[];
  /** Replicas per ensemble. Default 8 (FCN), 4 (CNN). */
  replicas?: number;
  /** Training steps (one step = one unit of time). Default 2000 (FCN), 1500 (CNN). */
  steps?: number;
  /** Learning rate η. Default 0.5/λ_max of the NTK (so ηλ_max = 0.5). */
  lr?: number;
  /** Temperature of the Langevin ensemble. Default 0.05·L0/n (equilibrium excess loss ≈ 2.5 % of L0). */
  temperature?: number;
  /**
   * How the random initial function is handled: 'centered' (default; train f(θ) − f(θ0), i.e.
   * targets y + f(θ0), so the initial residual is the task), 'zero' (zero readout at init: f(θ0) = 0
   * but the NTK has rank ≤ width + 1) or 'random' (as drawn; the residual includes f(θ0)).
   */
  readout?: 'centered' | 'zero' | 'random';
  /** Spread σ0 of the ensembles around the common initialisation. Default 0.01. */
  sigma0?: number;
  seed?: number;
  /** Called with (fraction of the whole study, stage name); `onProgress` gets the fraction alone. */
  onStage?: (fraction: number, stage: string) => void;
}

export interface StudyResult {
  options: {
    data: StudyData; model: 'fcn' | 'cnn'; width: number; depth: number; n: number; classes: number[] | null; replicas: number;
    steps: number; lr: number; temperature: number; sigma0: number; seed: number; readout: 'centered' | 'zero' | 'random';
  };
  dataset: { name: string; n: number; inputShape: number[]; outputs: number; source: string };
  network: { spec: NetSpec; numParams: number };
  ntk: {
    eigenvalues: Float64Array;
    /** r_k² = Σ_a (u_kᵀ r_a(0))²: the initial residual's power per NTK mode. */
    residualPower: Float64Array;
    /** 1 − Σ_{i≤k} r_i²/|r|²: residual label power left after the first k modes. */
    residualTail: Float64Array;
    fit: SpectralExponents;
    plateau: PowerLawPlateau;
  };
  analytic: SpeedLimitSeries;
  gd: { history: TrainHistory; measured: MeasuredEfficiency };
  langevin: { history: TrainHistory; measured: MeasuredEfficiency };
  regimes: { measured: Regimes; analytic: Regimes; theory: { earlyEnd: number; saturationStart: number } };
  findings: string[];
  timings: Record<string, number>;
  buildInfo: BuildInfo;
}

interface Loaded {
  x: Matrix;
  Y: Matrix;
  name: string;
  shape: number[];
  source: string;
}

function loadData(fn: string, data: StudyData, o: Partial<StudyOptions>, n: number, model: 'fcn' | 'cnn', seed: number): Loaded {
  if (data === 'synthetic') {
    if (model === 'cnn') {
      // Images of 1×8×8 with the same power-law construction over the 64 pixels.
      const t = syntheticPowerLawTask({ n, dim: 64, seed });
      return { x: t.x, Y: { data: t.y, rows: n, cols: 1 }, name: 'synthetic power-law task (1×8×8 images)', shape: [1, 8, 8], source: 'embedded' };
    }
    const t = syntheticPowerLawTask({ n, dim: 64, seed });
    return { x: t.x, Y: { data: t.y, rows: n, cols: 1 }, name: 'synthetic power-law task', shape: [64], source: 'embedded' };
  }
  const classes = o.classes ?? [0, 1];
  const images = data === 'fashion-mnist'
    ? loadFashionMnist({ ...(o.path !== undefined ? { path: o.path } : {}), split: 'train', n, classes, balanced: true })
    : (() => {
      if (o.path === undefined) throw new TypeError(`${fn}: options.path (the directory of data_batch_*.bin) is required for cifar10`);
      return loadCifar10({ path: o.path, n, classes, balanced: true });
    })();
  // Per-feature standardisation (a constant pixel is only centred); inputs then have |x|² ≈ dim.
  const xs = standardize(images.x, images.n, images.dim, { mode: 'per-feature' }).x;
  const Y = labelsToTargets(images.labels, classes, { encoding: classes.length === 2 ? 'binary' : 'onehot-centered' });
  return {
    x: { data: xs, rows: images.n, cols: images.dim },
    Y,
    name: `${data === 'fashion-mnist' ? 'Fashion-MNIST' : 'CIFAR-10'} (${classes.map((c) => images.classNames[c]).join(' vs ')})`,
    shape: images.shape,
    source: 'dir' in images ? images.dir : images.files.join(', '),
  };
}

/**
 * Run the whole study and return every number behind the report.
 * @example const s = await study({ replicas: 4, steps: 500 });
 */
export async function study(options?: StudyOptions): Promise<StudyResult> {
  const fn = 'study';
  const o = checkOptions<StudyOptions>(fn, options);
  checkLongRunOptions(fn, o);
  const data = o.data === undefined ? 'synthetic' : checkEnum(fn, 'options.data', o.data, ['synthetic', 'fashion-mnist', 'cifar10'] as const);
  const model = o.model === undefined ? 'fcn' : checkEnum(fn, 'options.model', o.model, ['fcn', 'cnn'] as const);
  const width = o.width === undefined ? (model === 'fcn' ? 128 : 8) : checkInteger(fn, 'options.width', o.width, 1, 1 << 16);
  const depth = o.depth === undefined ? 2 : checkInteger(fn, 'options.depth', o.depth, 0, 64);
  // CNN defaults are smaller: per-sample convolutions make each step ~100× an FCN step.
  const cnn = model === 'cnn';
  const n = o.n === undefined ? (cnn ? 64 : 256) : checkInteger(fn, 'options.n', o.n, 8, 60000);
  const replicas = o.replicas === undefined ? (cnn ? 4 : 8) : checkInteger(fn, 'options.replicas', o.replicas, 2, 4096);
  const steps = o.steps === undefined ? (cnn ? 1500 : 2000) : checkInteger(fn, 'options.steps', o.steps, 10);
  const seed = o.seed === undefined ? 0 : checkInteger(fn, 'options.seed', o.seed, 0);
  const readout = o.readout === undefined ? 'centered' : checkEnum(fn, 'options.readout', o.readout, ['centered', 'zero', 'random'] as const);
  const sigma0 = o.sigma0 === undefined ? 0.01 : checkNumberInRange(fn, 'options.sigma0', o.sigma0, { min: 0, exclusiveMin: true });
  if (o.classes !== undefined && (!Array.isArray(o.classes) || o.classes.length < 2))
    throw new TypeError(`${fn}: options.classes must be an array of at least two class labels, got ${describeValue(o.classes)}`);
  if (o.onStage !== undefined && typeof o.onStage !== 'function') throw new TypeError(`${fn}: options.onStage must be a function`);
  const stage = (f: number, s: string) => {
    o.onStage?.(f, s);
    o.onProgress?.(f);
  };
  const timings: Record<string, number> = {};
  const clock = (name: string, t0: number) => (timings[name] = (performance.now() - t0) / 1000);
  const aborted = () => {
    if (o.signal?.aborted) throw new AbortError(`${fn}: aborted`);
  };

  // 1. Data and network.
  let t0 = performance.now();
  stage(0, 'loading data');
  const d = loadData(fn, data, o, n, model, seed);
  const k = d.Y.cols;
  const sigmaW = Math.SQRT2;
  const spec: NetSpec = model === 'fcn'
    ? { type: 'fcn', inputDim: d.x.cols, widths: Array(depth).fill(width), outputDim: k, activation: 'relu', sigmaW, sigmaB: 0.1 }
    : { type: 'cnn', inputShape: d.shape as [number, number, number], channels: Array(depth).fill(width), outputDim: k, activation: 'relu', sigmaW, sigmaB: 0.1 };
  const net = createNetwork(spec);
  const theta0 = net.init({ seed, stream: 0 });
  // The initial function f(θ0) is random; left in the residual, its power per mode follows the
  // kernel itself (β ≈ α > 1: the non-optimal side of THEORY.md §3.2) and hides the task.
  // 'centered' (default) trains the centred network f(θ) − f(θ0), i.e. targets y + f(θ0), so the
  // initial residual is the task's −y with the full NTK; 'zero' zeroes the readout (f(θ0) = 0,
  // but the NTK at init then has rank ≤ width + 1); 'random' keeps everything as drawn.
  if (readout === 'zero')
    for (const t of net.layout) if (t.name === 'W_out' || t.name === 'b_out') theta0.fill(0, t.offset, t.offset + t.size);
  if (readout === 'centered') {
    const f0 = net.forward(theta0, d.x);
    for (let i = 0; i < f0.data.length; i++) d.Y.data[i] += f0.data[i];
  }
  clock('data', t0);
  aborted();

  // 2. NTK at initialisation, spectrum, residual power per mode, exponents.
  t0 = performance.now();
  stage(0.02, 'NTK at initialisation');
  const K = await ntk(net, theta0, d.x, null, { outputs: 'trace', ...(o.signal ? { signal: o.signal } : {}) });
  if (k > 1) for (let i = 0; i < K.data.length; i++) K.data[i] *= k; // Σ_a Θ_aa: the kernel of the summed loss
  const spec0 = await spectrum(K, { vectors: true });
  const f0 = net.forward(theta0, d.x);
  const R: Matrix = { data: f0.data.map((v, i) => v - d.Y.data[i]), rows: f0.rows, cols: k };
  const proj = linalg.gemmSync(spec0.vectors!, R, { transA: true }); // [n, k]: u_kᵀ r_a
  const residualPower = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let a = 0; a < k; a++) residualPower[i] += proj.data[i * k + a] ** 2;
  const total = residualPower.reduce((s, v) => s + v, 0);
  const shares = residualPower.map((v) => v / total);
  const residualTail = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += shares[i];
    residualTail[i] = Math.max(0, 1 - acc);
  }
  const lambda = spec0.values.map((v) => Math.max(v, 0));
  const fit = fitExponents(lambda, shares);
  const plateau = powerLawPlateau(fit.alpha.exponent, fit.beta.exponent);
  clock('ntk', t0);
  aborted();

  // 3. Analytic efficiency of the linearised model (summed loss; modes with λ ≈ 0 frozen).
  const lr = o.lr === undefined ? 0.5 / lambda[0] : checkNumberInRange(fn, 'options.lr', o.lr, { min: 0, exclusiveMin: true });
  const L0 = 0.5 * total;
  const temperature = o.temperature === undefined ? (0.05 * L0) / n : checkNumberInRange(fn, 'options.temperature', o.temperature, { min: 0, exclusiveMin: true });
  const times = Float64Array.from(geometricSteps(steps, 40));
  const rk = residualPower.map(Math.sqrt);
  t0 = performance.now();
  const analytic = analyticEfficiency({
    eigenvalues: lambda, residualProjections: rk, eta: lr, temperature, times, init: { sigma0 }, numParams: net.numParams, discrete: true,
  });
  clock('analytic', t0);

  // 4. Ensembles: gradient descent and Langevin around θ0 (θ0 + σ0·ξ per replica).
  const common = {
    learningRate: lr, steps, replicas, seed, init: { theta0, sigma0 }, logTimes: Array.from(times),
    ...(o.signal ? { signal: o.signal } : {}),
  };
  const x = d.x;
  t0 = performance.now();
  stage(0.1, 'gradient descent ensemble');
  const gdHistory = await train(net, { x, y: d.Y }, { ...common, method: 'gd', w2: true, onProgress: (f) => stage(0.1 + 0.4 * f, 'gradient descent ensemble') });
  clock('gd', t0);
  t0 = performance.now();
  stage(0.5, 'Langevin ensemble');
  const lvHistory = await train(net, { x, y: d.Y }, {
    ...common, method: 'langevin', temperature, w2: true, logVar: true, entropy: true, seed: seed + 1,
    onProgress: (f) => stage(0.5 + 0.5 * f, 'Langevin ensemble'),
  });
  clock('langevin', t0);
  stage(1, 'done');

  // 5. Measured efficiencies and regimes.
  const gdMeasured = measuredEfficiency(gdHistory);
  const lvMeasured = measuredEfficiency(lvHistory);
  // Theory's scaling regime needs τ = ηλ1·t ≫ 1: the constant-efficiency search starts at τ = 10
  // (before it, 𝓔 ≈ 1 − O(τ²) is the trivially efficient early regime).
  const earlyEnd = 1 / (lr * lambda[0]);
  const regimes = {
    measured: locateRegimes(times, gdMeasured.loss, { minTime: 10 * earlyEnd }),
    analytic: locateRegimes(times, analytic.gradientFlow.efficiency, { minTime: 10 * earlyEnd }),
    theory: { earlyEnd, saturationStart: 1 / (lr * Math.max(lambda[Math.max(0, fit.alpha.k2 - 1)], 1e-300)) },
  };
  const result: StudyResult = {
    options: { data, model, width, depth, n: d.x.rows, classes: data === 'synthetic' ? null : o.classes ?? [0, 1], replicas, steps, lr, temperature, sigma0, seed, readout },
    dataset: { name: d.name, n: d.x.rows, inputShape: d.shape, outputs: k, source: d.source },
    network: { spec: net.spec as unknown as NetSpec, numParams: net.numParams },
    ntk: { eigenvalues: lambda, residualPower, residualTail, fit, plateau },
    analytic,
    gd: { history: gdHistory, measured: gdMeasured },
    langevin: { history: lvHistory, measured: lvMeasured },
    regimes,
    findings: [],
    timings,
    buildInfo: buildInfo(),
  };
  result.findings = findings(result);
  return result;
}

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? Number(v.toPrecision(digits)).toString() : 'n/a');

/** One sentence per result, with the numbers (what the report's summary says). */
export function findings(s: StudyResult): string[] {
  const out: string[] = [];
  const f = s.ntk.fit;
  out.push(`The NTK spectrum at initialisation decays as λ_k ∝ k^−${fmt(f.alpha.exponent)} (R² ${fmt(f.alpha.r2)}, ranks ${f.alpha.k1}–${f.alpha.k2}) and the initial residual's power per mode as k^−${fmt(f.beta.exponent)}, so ν = ${fmt(f.nu)}.`);
  out.push(s.ntk.plateau.applies
    ? `These exponents lie in the window 1 − α < β < 1, where theory predicts training is optimal in a scaling sense with a plateau efficiency 𝓔∞ = ${fmt(s.ntk.plateau.value)}.`
    : `These exponents lie outside the window 1 − α < β < 1 (${s.ntk.plateau.regime}), so theory predicts no efficiency plateau.`);
  const last = s.gd.measured.times.length - 1;
  const t = s.gd.measured.times[last];
  out.push(`Gradient descent (η = ${fmt(s.options.lr)}, ${s.options.replicas} replicas) reduced the mean loss from ${fmt(s.gd.history.mean.loss[0])} to ${fmt(s.gd.history.mean.loss[last])} in ${t} steps; its measured efficiency at the end is 𝓔_loss = ${fmt(s.gd.measured.loss[last])} against ${fmt(s.analytic.discrete?.efficiencyLoss[last] ?? NaN)} for the linearised model (gradient flow ${fmt(s.analytic.gradientFlow.efficiency[last])}).`);
  const m = s.regimes.measured;
  if (m.earlyNonOptimal)
    out.push(`Measured: an early non-optimal regime from step ${m.earlyNonOptimal.start} to ${m.earlyNonOptimal.end} (𝓔 as low as ${fmt(m.earlyNonOptimal.min)}), then`);
  else out.push('Measured: no early non-optimal dip below 75 % of the later level;');
  out.push(m.optimal
    ? `an optimal (constant-efficiency) regime from step ${m.optimal.start} to ${m.optimal.end} with mean 𝓔 = ${fmt(m.optimal.mean)} (${fmt(m.optimal.end / m.optimal.start, 2)}× in time).`
    : 'no extended constant-efficiency regime on this time grid.');
  const a = s.regimes.analytic;
  out.push(a.optimal
    ? `The linearised model's own constant-efficiency regime runs from step ${a.optimal.start} to ${a.optimal.end} (mean 𝓔 = ${fmt(a.optimal.mean)}); theory's early regime ends near t ≈ ${fmt(s.regimes.theory.earlyEnd)} and saturation starts near t ≈ ${fmt(s.regimes.theory.saturationStart)}.`
    : `The linearised model shows no constant-efficiency regime on this grid; theory's early regime ends near t ≈ ${fmt(s.regimes.theory.earlyEnd)}.`);
  const lv = s.langevin.measured.distribution;
  const lvl = s.langevin.history.times.length - 1;
  if (lv && s.analytic.langevin)
    out.push(`Langevin at T = ${fmt(s.options.temperature)}: measured W2²(p0, pt) = ${fmt(lv.w2sq[lvl])} and entropy production Σ = ${fmt(lv.entropyProduction[lvl])} nats give 𝓔 = ${fmt(lv.efficiency[lvl])}; the linearised model predicts W2² = ${fmt(s.analytic.langevin.w2sq[lvl])}, Σ = ${fmt(s.analytic.langevin.entropyProduction[lvl])}, 𝓔 = ${fmt(s.analytic.langevin.efficiency[lvl])}.`);
  return out;
}
