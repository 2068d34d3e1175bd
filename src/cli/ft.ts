/**
 * `speedlimits ft`: fluctuation theorems in three set-ups (--setup):
 *   transient (default) — a Langevin-trained ensemble on the quadratic loss of THEORY.md O7(a), see below;
 *   ness — the O7(b) steady state of SGD near a minimum (anisotropic Gaussian noise), Σ exact;
 *   sgld — SGLD-WR with real minibatches on the O8 regression in its steady state, Σ from the
 *          practical estimator of THEORY §4.4 (approximate).
 * transient: ULA on L = ½(θ−θ*)ᵀH(θ−θ*) started from N(θ* + offset, Λ_ULA). The marginals
 * are known exactly, so Σ is the exact discrete-chain entropy production of train()'s tracker plus
 * exact boundary terms, and ⟨e^{−Σ}⟩ = 1 holds exactly: a check of the whole pipeline. (For
 * networks, `trajectoryEntropy` offers diagonal-Gaussian boundary terms, an approximation that is
 * only meaningful near stationarity.)
 * Writes report.html (histogram and detailed-FT plots), report.json and sigma.csv to --out.
 */
import { resolve } from 'node:path';
import { train } from '../dynamics.js';
import { fluctuationTheorems, trajectoryEntropy, type FluctuationResult } from '../fluctuation.js';
import { fromRows, matrix } from '../matrix.js';
import { stationaryEntropyProduction } from '../ness.js';
import { createNetwork } from '../nets.js';
import * as random from '../random.js';
import { toCsv, writeReportFiles } from '../report/csv.js';
import { renderReport } from '../report/html.js';
import { formatNumber, linePlot } from '../report/svg.js';
import { numberFlag, parseArgs, UsageError, type CliIO, type Command } from './args.js';
import { isPositiveInt } from './common.js';
import { createProgress } from './progress.js';

interface Run {
  sigma: Float64Array;
  exact: boolean;
  description: string;
  /** 'transient' or a stationary set-up ('ness', 'sgld'), where the detailed FT applies. */
  setup: Setup;
  /** ⟨Σ⟩ predicted in closed form (stationary set-ups: K·σ_step of the Gaussian chain). */
  expectedMean?: number;
}

type Setup = 'transient' | 'ness' | 'sgld';
const SETUPS: readonly Setup[] = ['transient', 'ness', 'sgld'];
const H_O7 = [[2, 0.6], [0.6, 0.8]];
const COV_O7 = [[1, 0.9], [0.9, 1.5]];
const X_O8 = [[0.001, 0.299], [-0.274, -0.891], [-0.455, -0.992], [0.06, 1.34], [-0.492, -0.62], [0.49, 0.357], [0.105, -0.93], [-0.029, 0.695]];
const Y_O8 = [-0.791, -0.064, -0.872, -1.139, -1.017, 0.083, -0.188, -0.163];

/**
 * Stationary set-ups: 'ness' — the O7(b) chain θ ← θ − ηHθ + N(0, 2𝒟), 𝒟 = ηT I + (η²/2)·Cov,
 * exact; 'sgld' — SGLD-WR with real minibatches on the O8 regression, the approximate estimator.
 */
async function stationary(setup: 'ness' | 'sgld', replicas: number, steps: number, eta: number, T: number, B: number, seed: number, onProgress: (f: number) => void): Promise<Run> {
  if (setup === 'ness') {
    const D = COV_O7.flat().map((v, i) => (eta * eta / 2) * v + (i % 3 === 0 ? eta * T : 0));
    const r = await stationaryEntropyProduction({ chain: 'gaussian', H: fromRows(H_O7), diffusion: matrix(2, 2, Float64Array.from(D)), eta, steps, replicas, seed, onProgress });
    return {
      sigma: r.sigma, exact: true, setup, expectedMean: steps * r.entropyPerStep,
      description: `Non-equilibrium steady state of SGD near a minimum (THEORY.md §4.6, O7(b)): θ ← θ − ηHθ + N(0, 2𝒟), H = [[2, 0.6], [0.6, 0.8]], 𝒟 = ${T > 0 ? `${T}·η I + ` : ''}(η²/2)·[[1, 0.9], [0.9, 1.5]], η = ${eta}; ` +
        `${replicas} trajectories of ${steps} steps started in the exact stationary law. The noise is anisotropic and does not commute with H, so probability currents circulate and Σ > 0 on average; Σ is exact (Gaussian kernel).`,
    };
  }
  const r = await stationaryEntropyProduction({ chain: 'sgld', X: fromRows(X_O8), y: Y_O8, temperature: T, gamma: 0.25, batchSize: B, eta, steps, replicas, seed, onProgress });
  return {
    sigma: r.sigma, exact: false, setup, expectedMean: steps * r.entropyPerStep,
    description: `SGLD with real minibatches (B = ${B} of n = 8 distinct samples drawn afresh each step) on the Bayesian linear regression of THEORY.md O8, T = ${T}, γ = 0.25, η = ${eta}; ` +
      `${replicas} trajectories of ${steps} steps started in the exact stationary moments. Σ uses the practical estimator of THEORY §4.4: a Gaussian kernel with 𝒟(θ*) = ηT I + (η²/2)·Cov_S[ĝ_S(θ*)] and the stationary Gaussian for the boundary terms — an APPROXIMATION (the true kernel is a mixture over batches), so the theorems hold only approximately.`,
  };
}

/** O7(a): H = [[2, 0.6], [0.6, 0.8]], θ* = (0.5, −1), offset (0.3, −0.2), p0 = N(θ* + offset, Λ_ULA). */
async function quadratic(replicas: number, steps: number, eta: number, T: number, seed: number, onProgress: (f: number) => void): Promise<Omit<Run, 'setup'>> {
  const H = H_O7;
  if (!(eta * 2.5 < 2)) throw new UsageError(`--lr must keep η·h_max < 2 (h_max ≈ 2.2), got ${eta}`);
  const r11 = Math.sqrt(H[0][0]), r21 = H[1][0] / r11, r22 = Math.sqrt(H[1][1] - r21 * r21);
  const thStar = [0.5, -1];
  const X = fromRows([[r11, r21], [0, r22]]);
  const y = matrix(2, 1, Float64Array.from([r11 * thStar[0] + r21 * thStar[1], r22 * thStar[1]]));
  // Λ_ULA = T H⁻¹ (I − ηH/2)⁻¹ (2×2, in closed form).
  const inv = (B: number[][]) => {
    const d = B[0][0] * B[1][1] - B[0][1] * B[1][0];
    return [[B[1][1] / d, -B[0][1] / d], [-B[1][0] / d, B[0][0] / d]];
  };
  const mul = (A: number[][], B: number[][]) => A.map((r) => B[0].map((_, j) => r.reduce((s, a, k) => s + a * B[k][j], 0)));
  const Lam = mul(inv(H), inv(H.map((r, i) => r.map((v, j) => (i === j ? 1 : 0) - (eta / 2) * v)))).map((r) => r.map((v) => T * v));
  const l11 = Math.sqrt(Lam[0][0]), l21 = Lam[1][0] / l11, l22 = Math.sqrt(Lam[1][1] - l21 * l21);
  const m0 = [thStar[0] + 0.3, thStar[1] - 0.2];
  const z = random.normal({ seed, stream: 7, length: 2 * replicas });
  const init = new Float64Array(2 * replicas);
  for (let i = 0; i < replicas; i++) {
    init[2 * i] = m0[0] + l11 * z[2 * i];
    init[2 * i + 1] = m0[1] + l21 * z[2 * i] + l22 * z[2 * i + 1];
  }
  const net = createNetwork({ type: 'fcn', inputDim: 2, widths: [], outputDim: 1, activation: 'linear', bias: false, parameterization: 'standard' });
  const h = await train(net, { x: X, y }, { method: 'langevin', learningRate: eta, temperature: T, steps, replicas, init, seed, logTimes: [0, steps], w2: false, logVar: false, onProgress });
  // p_K = N(θ* + A^K(m0 − θ*), Λ): the exact marginal (Λ is stationary for the chain).
  let dm = [m0[0] - thStar[0], m0[1] - thStar[1]];
  for (let k = 0; k < steps; k++) dm = [dm[0] - eta * (H[0][0] * dm[0] + H[0][1] * dm[1]), dm[1] - eta * (H[1][0] * dm[0] + H[1][1] * dm[1])];
  const Li = inv(Lam);
  const logp = (a: number, b: number) => -0.5 * (a * (Li[0][0] * a + Li[0][1] * b) + b * (Li[1][0] * a + Li[1][1] * b));
  const logP0 = new Float64Array(replicas), logPT = new Float64Array(replicas);
  for (let i = 0; i < replicas; i++) {
    logP0[i] = logp(init[2 * i] - m0[0], init[2 * i + 1] - m0[1]);
    logPT[i] = logp(h.finalParams.data[2 * i] - thStar[0] - dm[0], h.finalParams.data[2 * i + 1] - thStar[1] - dm[1]);
  }
  return {
    sigma: trajectoryEntropy(h, { logP0, logPT }), exact: true,
    description: `ULA on the quadratic loss of THEORY.md O7(a) (H = [[2, 0.6], [0.6, 0.8]], θ* = (0.5, −1)), η = ${eta}, T = ${T}, ${steps} steps, ${replicas} trajectories started from N(θ* + (0.3, −0.2), Λ_ULA); exact initial and final marginals, so Σ is the exact discrete-chain entropy production.`,
  };
}

function report(run: Run, ft: FluctuationResult): Record<string, string> {
  const plots: string[] = [];
  if (ft.detailed) {
    const hgm = ft.detailed.histogram;
    plots.push(linePlot({
      id: 'plot-sigma-histogram', title: 'Distribution of Σ', xLabel: 'Σ (nats)', yLabel: 'trajectories per bin', xScale: 'linear', yScale: 'linear',
      series: [{ name: 'histogram', x: hgm.centers, y: hgm.counts, style: 'points' }],
    }));
    const s = ft.detailed.points.s;
    plots.push(linePlot({
      id: 'plot-detailed-ft', title: 'Detailed FT: ln P(Σ = s)/P(Σ = −s)', xLabel: 's', yLabel: 'log ratio', xScale: 'linear', yScale: 'linear',
      series: [
        { name: 'measured', x: s, y: ft.detailed.points.logRatio, style: 'points' },
        { name: `fit slope ${formatNumber(ft.detailed.slope, 3)}`, x: s, y: Array.from(s, (v) => ft.detailed!.slope * v), style: 'line' },
        { name: 'theory (slope 1)', x: s, y: s, style: 'dashed' },
      ],
    }));
  }
  const summary = [
    `⟨Σ⟩ = ${formatNumber(ft.mean, 5)} nats over ${ft.samples} trajectories (Var Σ = ${formatNumber(ft.variance, 4)}; a Gaussian Σ obeying the theorems has Var = 2⟨Σ⟩ = ${formatNumber(2 * ft.mean, 4)}).`,
    `Integral FT: ⟨e^{−Σ}⟩ = ${formatNumber(ft.integral.value, 5)} ± ${formatNumber(ft.integral.stderr, 2)} (95 % CI ${formatNumber(ft.integral.ci[0], 5)} – ${formatNumber(ft.integral.ci[1], 5)}; theory: 1${run.exact ? ', exact here' : ', approximate boundary terms'}).`,
    ft.detailed
      ? `Detailed FT: ln P(s)/P(−s) has slope ${formatNumber(ft.detailed.slope, 4)} ± ${formatNumber(ft.detailed.stderr, 2)} against s (theory: 1 in a stationary state; a transient run need not obey it).`
      : `Detailed FT: not evaluated (${ft.reason ?? 'too few two-sided bins'}).`,
    `P(Σ < 0) = ${formatNumber(ft.fractionNegative, 4)}.`,
    ...(run.expectedMean !== undefined
      ? [`Stationary entropy production: ⟨Σ⟩ = ${formatNumber(ft.mean, 5)} ± ${formatNumber(Math.sqrt(ft.variance / ft.samples), 2)} against K·σ_step = ${formatNumber(run.expectedMean, 5)} of the Gaussian chain (THEORY §4.6${run.exact ? ', exact' : ', the approximating chain'}).`]
      : []),
  ];
  const html = renderReport({
    title: 'speedlimits ft — fluctuation theorems', subtitle: run.description, summary,
    sections: [{ id: 'ft', heading: 'Entropy production per trajectory', text: run.description, plots }],
  });
  const json = JSON.stringify({ setup: run.setup, description: run.description, exact: run.exact, exactBoundary: run.exact, expectedMean: run.expectedMean ?? null, ...ft, sigma: Array.from(run.sigma),
    detailed: ft.detailed && { ...ft.detailed, points: { s: Array.from(ft.detailed.points.s), logRatio: Array.from(ft.detailed.points.logRatio), weight: Array.from(ft.detailed.points.weight) },
      histogram: { centers: Array.from(ft.detailed.histogram.centers), counts: Array.from(ft.detailed.histogram.counts), binWidth: ft.detailed.histogram.binWidth } } }, null, 1);
  return { 'report.html': html, 'report.json': json + '\n', 'sigma.csv': toCsv({ trajectory: Array.from(run.sigma, (_, i) => i), sigma: run.sigma }) };
}

export const ftCommand: Command = {
  summary: 'fluctuation theorems: transient Langevin (O7(a)), SGD NESS (O7(b)) or minibatch SGLD — ⟨e^{−Σ}⟩, detailed-FT slope, histogram',
  usage: 'speedlimits ft [--setup transient|ness|sgld] [--replicas M] [--steps K] [--lr η] [--temperature T] [--batch-size B] [--bins B] [--seed S] [--out DIR] [--json] [--quiet]',
  async run(args: string[], io: CliIO): Promise<number> {
    const parsed = parseArgs(args, ['json', 'quiet', 'help'], ['setup', 'replicas', 'steps', 'lr', 'temperature', 'batch-size', 'bins', 'seed', 'out']);
    if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
    const positive = (v: number) => Number.isFinite(v) && v > 0;
    const setup = String(parsed.flags.get('setup') ?? 'transient') as Setup;
    if (!SETUPS.includes(setup)) throw new UsageError(`--setup must be one of ${SETUPS.join(', ')}, got '${setup}'`);
    const replicas = numberFlag(parsed, 'replicas', isPositiveInt, 'a positive integer') ?? 20000;
    // ness: 20 steps keep ⟨Σ⟩ ≈ 1 (THEORY §4.5: larger ⟨Σ⟩ makes ⟨e^{−Σ}⟩ tail-dominated).
    const steps = numberFlag(parsed, 'steps', isPositiveInt, 'a positive integer') ?? (setup === 'ness' ? 20 : 40);
    const lr = numberFlag(parsed, 'lr', positive, 'a number > 0');
    const T = numberFlag(parsed, 'temperature', setup === 'ness' ? (v) => Number.isFinite(v) && v >= 0 : positive, setup === 'ness' ? 'a number >= 0' : 'a number > 0') ??
      { transient: 0.2, ness: 0, sgld: 0.25 }[setup];
    const B = numberFlag(parsed, 'batch-size', (v) => Number.isInteger(v) && v >= 1 && v <= 8, 'an integer in 1..8 (n = 8)');
    if (B !== undefined && setup !== 'sgld') throw new UsageError('--batch-size applies to --setup sgld');
    const bins = numberFlag(parsed, 'bins', (v) => Number.isInteger(v) && v >= 4 && v % 2 === 0, 'an even integer >= 4') ?? 30;
    const seed = numberFlag(parsed, 'seed', (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer') ?? 0;
    if (replicas < 2) throw new UsageError('--replicas must be at least 2');
    const out = resolve(String(parsed.flags.get('out') ?? './speedlimits-ft'));
    const progress = createProgress(io, parsed.flags.has('quiet') || parsed.flags.has('json'));
    progress.stage(`${replicas} ${setup === 'transient' ? 'Langevin' : setup === 'ness' ? 'stationary SGD' : 'stationary minibatch SGLD'} trajectories`);
    const onProgress = (f: number) => progress.update(f);
    const run = setup === 'transient'
      ? { ...(await quadratic(replicas, steps, lr ?? 0.05, T, seed, onProgress)), setup }
      : await stationary(setup, replicas, steps, lr ?? (setup === 'ness' ? 0.05 : 0.1), T, B ?? 2, seed, onProgress);
    progress.done();
    const ft = fluctuationTheorems(run.sigma, { bins });
    await writeReportFiles(out, report(run, ft));
    const summary = {
      setup, replicas, steps, temperature: T, exact: run.exact, exactBoundary: run.exact, expectedMean: run.expectedMean ?? null, mean: ft.mean, variance: ft.variance,
      integral: ft.integral, detailedSlope: ft.detailed?.slope ?? null, detailedStderr: ft.detailed?.stderr ?? null, out,
    };
    if (parsed.flags.has('json')) {
      io.out(JSON.stringify(summary, null, 2) + '\n');
      return 0;
    }
    io.out(`speedlimits ft — ${replicas} trajectories × ${steps} steps (${{ transient: 'transient Langevin, THEORY.md O7(a)', ness: 'SGD steady state, THEORY.md O7(b)', sgld: 'minibatch SGLD steady state, approximate Σ' }[setup]})\n`);
    io.out(`  ⟨Σ⟩ = ${ft.mean.toPrecision(5)}, ⟨e^{−Σ}⟩ = ${ft.integral.value.toPrecision(5)} (95 % CI ${ft.integral.ci[0].toPrecision(4)}–${ft.integral.ci[1].toPrecision(4)})` +
      `${ft.detailed ? `, detailed-FT slope ${ft.detailed.slope.toPrecision(4)} ± ${ft.detailed.stderr.toPrecision(2)}` : ''}\n`);
    io.out(`  report: ${out}/report.html\n`);
    return 0;
  },
};
