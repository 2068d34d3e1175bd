/**
 * The files of a study report: report.html (self-contained, inline SVG plots), report.json (every
 * number behind the plots, the options, buildInfo and timings) and one CSV per plotted group of
 * series. Pure presentation of a {@link StudyResult}.
 */
import type { StudyResult } from '../study.js';
import { toCsv } from './csv.js';
import { renderReport, type ReportSection } from './html.js';
import { formatNumber, linePlot, type PlotAnnotation, type PlotSeries } from './svg.js';

type Num = ArrayLike<number>;

/** Positive-time part of a series (log time axes start at the first step). */
const pos = (t: Num, y: Num): { x: number[]; y: number[] } => {
  const x: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < t.length; i++)
    if (t[i] > 0) {
      x.push(t[i]);
      v.push(y[i]);
    }
  return { x, y: v };
};

const series = (name: string, t: Num, y: Num, style: PlotSeries['style'] = 'line', color?: string): PlotSeries =>
  ({ name, ...pos(t, y), style, ...(color ? { color } : {}) });

const ranks = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

/** Every series of the report, by CSV file and column (the JSON holds the same arrays). */
export function studySeries(s: StudyResult): Record<string, Record<string, Num>> {
  const t = s.analytic.times;
  const gd = s.gd.history, lv = s.langevin.history;
  const md = s.langevin.measured.distribution!;
  const al = s.analytic.langevin!;
  const n = s.ntk.eigenvalues.length;
  const total = s.ntk.residualPower.reduce((a, b) => a + b, 0);
  return {
    spectrum: {
      k: ranks(n),
      eigenvalue: s.ntk.eigenvalues,
      residual_power: s.ntk.residualPower,
      residual_share: s.ntk.residualPower.map((v) => v / total),
      residual_tail: s.ntk.residualTail,
    },
    loss: {
      step: t,
      gd_measured: gd.mean.loss,
      langevin_measured: lv.mean.loss,
      gd_linearised: s.analytic.discrete!.loss,
      gradient_flow_linearised: s.analytic.gradientFlow.loss,
      langevin_linearised: al.loss,
    },
    efficiency: {
      step: t,
      gd_loss_measured: s.gd.measured.loss,
      gd_kinematic_measured: s.gd.measured.kinematic,
      gd_loss_linearised: s.analytic.discrete!.efficiencyLoss,
      gradient_flow_linearised: s.analytic.gradientFlow.efficiency,
      langevin_measured: md.efficiency,
      langevin_linearised: al.efficiency,
    },
    w2: {
      step: t,
      gd_displacement_measured: gd.mean.dist2,
      gd_w2sq_gaussian_measured: gd.ensemble.w2,
      gd_w2sq_linearised: s.analytic.discrete!.displacement,
      langevin_w2sq_measured: md.w2sq,
      langevin_w2sq_linearised: al.w2sq,
    },
    entropy: {
      step: t,
      langevin_entropy_production_measured: md.entropyProduction,
      langevin_entropy_production_chain_measured: md.entropyProductionChain ?? new Float64Array(t.length).fill(NaN),
      langevin_system_entropy_measured: md.systemEntropy,
      langevin_heat_over_T_measured: md.heat.map((v) => v / s.options.temperature),
      langevin_entropy_production_linearised: al.entropyProduction,
      langevin_system_entropy_linearised: al.systemEntropy,
    },
  };
}

/** JSON-safe copy: typed arrays → arrays, non-finite numbers → null. */
function jsonSafe(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => (Number.isFinite(x) ? x : null));
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'function') out[k] = jsonSafe(x);
    return out;
  }
  return v;
}

/** report.json: the study without per-replica parameters (they can be large), plus every plotted series. */
export function studyJson(s: StudyResult, extra: Record<string, unknown> = {}): string {
  const strip = (h: StudyResult['gd']['history']) => ({ ...h, initialParams: undefined, finalParams: undefined, snapshots: undefined });
  const body = {
    ...s,
    gd: { history: strip(s.gd.history), measured: s.gd.measured },
    langevin: { history: strip(s.langevin.history), measured: s.langevin.measured },
    series: studySeries(s),
    ...extra,
  };
  return JSON.stringify(jsonSafe(body), null, 1) + '\n';
}

function regimeMarks(s: StudyResult): PlotAnnotation[] {
  const out: PlotAnnotation[] = [];
  const m = s.regimes.measured;
  if (m.earlyNonOptimal) out.push({ x: m.earlyNonOptimal.end, label: 'end of early non-optimal regime' });
  if (m.optimal) {
    out.push({ x: m.optimal.start, label: 'optimal regime starts' });
    out.push({ x: m.optimal.end, label: 'optimal regime ends' });
  }
  return out;
}

/** The HTML report. */
export function studyHtml(s: StudyResult, meta: Record<string, unknown> = {}): string {
  const c = studySeries(s);
  const t = s.analytic.times;
  const f = s.ntk.fit;
  const k = ranks(s.ntk.eigenvalues.length);
  const fitLine = (fit: typeof f.alpha, values: Num) => {
    const xs = k.filter((r) => r >= fit.k1 && r <= fit.k2);
    return { x: xs, y: xs.map((r) => fit.prefactor * Math.pow(r, -fit.exponent)), v: values };
  };
  const la = fitLine(f.alpha, s.ntk.eigenvalues);
  const lb = fitLine(f.beta, c.spectrum.residual_share);
  const plateau = s.ntk.plateau.applies ? [series(`plateau 𝓔∞ = ${formatNumber(s.ntk.plateau.value, 3)}`, t, Array.from(t, () => s.ntk.plateau.value), 'dashed', '#999999')] : [];
  const sections: ReportSection[] = [
    {
      id: 'setup', heading: 'Setup',
      text: `${s.dataset.name}: ${s.dataset.n} samples, input shape ${s.dataset.inputShape.join('×')}, ${s.dataset.outputs} output(s). ` +
        `${s.options.model.toUpperCase()} with ${s.options.depth} hidden layers of width ${s.options.width} (ReLU, NTK parameterisation), P = ${s.network.numParams} parameters. ` +
        `Loss L = ½ Σ (f − y)² (summed); one gradient step is one unit of time. Both ensembles start at θ0 + σ0·ξ around one initialisation` +
        (s.options.readout === 'centered' ? '; the network is centred (targets y + f(θ0)), so the initial residual is the task.' : s.options.readout === 'zero' ? ' with a zero readout (f(θ0) = 0).' : ' as drawn (the residual includes the random initial function).'),
      table: {
        columns: ['quantity', 'value'],
        rows: [
          ['learning rate η', s.options.lr], ['η·λ_max', s.options.lr * s.ntk.eigenvalues[0]], ['temperature T (Langevin)', s.options.temperature],
          ['σ0', s.options.sigma0], ['replicas per ensemble', s.options.replicas], ['steps', s.options.steps], ['seed', s.options.seed],
          ['fitted α', f.alpha.exponent], ['fitted β', f.beta.exponent], ['ν = (1+α−β)/α', f.nu],
        ],
      },
    },
    {
      id: 'spectrum', heading: 'NTK spectrum at initialisation',
      text: `Eigenvalues of the empirical NTK Gram matrix (summed loss) with the least-squares power law over ranks ${f.alpha.k1}–${f.alpha.k2}: λ_k ∝ k^−α, α = ${formatNumber(f.alpha.exponent, 4)} (R² ${formatNumber(f.alpha.r2, 3)}).`,
      plots: [linePlot({
        id: 'plot-spectrum', title: 'NTK eigenvalues', xLabel: 'mode k', yLabel: 'λ_k', xScale: 'log', yScale: 'log',
        series: [{ name: 'λ_k', x: k, y: s.ntk.eigenvalues, style: 'points' }, { name: `fit k^−${formatNumber(f.alpha.exponent, 3)}`, x: la.x, y: la.y, style: 'dashed' }],
      })],
    },
    {
      id: 'labels', heading: 'Residual label power',
      text: `Share of the initial residual r(0) = f(θ0) − y on each NTK mode, p_k = (u_kᵀr)²/|r|², with its power law p_k ∝ k^−β (β = ${formatNumber(f.beta.exponent, 4)}), and the residual left after the first k modes.`,
      plots: [linePlot({
        id: 'plot-labels', title: 'Residual power per mode', xLabel: 'mode k', yLabel: 'share of |r(0)|²', xScale: 'log', yScale: 'log',
        series: [
          { name: 'p_k', x: k, y: c.spectrum.residual_share, style: 'points' },
          { name: `fit k^−${formatNumber(f.beta.exponent, 3)}`, x: lb.x, y: lb.y, style: 'dashed' },
          { name: '1 − Σ_{i≤k} p_i', x: k, y: s.ntk.residualTail, style: 'line' },
        ],
      })],
    },
    {
      id: 'loss', heading: 'Training loss',
      text: 'Ensemble-mean loss of the trained networks against the linearised (fixed-kernel) model started at the same point.',
      plots: [linePlot({
        id: 'plot-loss', title: 'Loss L(t)', xLabel: 'step t', yLabel: 'loss', xScale: 'log', yScale: 'log',
        series: [
          series('GD (measured)', t, c.loss.gd_measured), series('Langevin (measured)', t, c.loss.langevin_measured),
          series('GD (linearised)', t, c.loss.gd_linearised, 'dashed'), series('Langevin (linearised)', t, c.loss.langevin_linearised, 'dashed'),
        ],
      })],
    },
    {
      id: 'efficiency', heading: 'Speed-limit efficiency 𝓔(t)',
      text: '𝓔 = W2²(p0, pt) / (t · η T Σ_t) ∈ [0, 1]; for gradient descent η T Σ → η·(L0 − Lt) (𝓔_loss) or Σ|Δθ|² (𝓔_kin). ' +
        'The measured Langevin 𝓔 uses the Bures W2² of Gaussian fits to the replicas, which is biased upward when P ≫ replicas (values above 1 at early times are this bias; the plot is cut at 1.5). ' +
        'Markers: the regimes located on the measured GD curve (optimal: the longest stretch with |d ln𝓔/d ln t| ≤ 0.15 once τ = ηλ₁t ≥ 10, i.e. after theory\'s early regime; early non-optimal: earlier times below 75 % of that level).',
      plots: [linePlot({
        id: 'plot-efficiency', title: 'Efficiency 𝓔(t)', xLabel: 'step t', yLabel: '𝓔', xScale: 'log', yScale: 'linear', yDomain: [0, 1.5],
        series: [
          series('GD 𝓔_loss (measured)', t, c.efficiency.gd_loss_measured), series('GD 𝓔_kin (measured)', t, c.efficiency.gd_kinematic_measured, 'points'),
          series('GD (linearised)', t, c.efficiency.gd_loss_linearised, 'dashed'), series('gradient flow (linearised)', t, c.efficiency.gradient_flow_linearised, 'dashed'),
          series('Langevin (measured)', t, c.efficiency.langevin_measured), series('Langevin (linearised)', t, c.efficiency.langevin_linearised, 'dashed'),
          ...plateau,
        ],
        annotations: regimeMarks(s),
      })],
      table: {
        columns: ['regime', 'from step', 'to step', 'mean 𝓔', 'min 𝓔'],
        rows: [
          ...(s.regimes.measured.earlyNonOptimal ? [['early non-optimal (measured)', s.regimes.measured.earlyNonOptimal.start, s.regimes.measured.earlyNonOptimal.end, s.regimes.measured.earlyNonOptimal.mean, s.regimes.measured.earlyNonOptimal.min]] : []),
          ...(s.regimes.measured.optimal ? [['optimal (measured)', s.regimes.measured.optimal.start, s.regimes.measured.optimal.end, s.regimes.measured.optimal.mean, s.regimes.measured.optimal.min]] : []),
          ...(s.regimes.analytic.optimal ? [['optimal (linearised)', s.regimes.analytic.optimal.start, s.regimes.analytic.optimal.end, s.regimes.analytic.optimal.mean, s.regimes.analytic.optimal.min]] : []),
        ] as (string | number)[][],
      },
    },
    {
      id: 'transport', heading: 'W2 distance and entropy production',
      text: 'Left: squared W2 distance of the ensemble to its start (GD: mean |θt − θ0|², exact for a linear model; Langevin: Bures distance of the Gaussian fits, biased upward when P ≫ replicas). ' +
        'Right: Langevin entropy production Σ = ⟨L0 − Lt⟩/T + ΔS_sys (diagonal Gaussian fit) and from the exact discrete-chain estimator, against the linearised model.',
      plots: [
        linePlot({
          id: 'plot-w2', title: 'W2²(p0, pt)', xLabel: 'step t', yLabel: 'W2²', xScale: 'log', yScale: 'log',
          series: [
            series('GD (measured)', t, c.w2.gd_displacement_measured), series('GD (linearised)', t, c.w2.gd_w2sq_linearised, 'dashed'),
            series('Langevin (measured)', t, c.w2.langevin_w2sq_measured), series('Langevin (linearised)', t, c.w2.langevin_w2sq_linearised, 'dashed'),
          ],
        }),
        linePlot({
          id: 'plot-entropy', title: 'Entropy production Σ(t)', xLabel: 'step t', yLabel: 'nats', xScale: 'log', yScale: 'log',
          series: [
            series('Σ (measured)', t, c.entropy.langevin_entropy_production_measured),
            series('Σ, discrete chain (measured)', t, c.entropy.langevin_entropy_production_chain_measured, 'points'),
            series('Σ (linearised)', t, c.entropy.langevin_entropy_production_linearised, 'dashed'),
          ],
        }),
      ],
    },
  ];
  return renderReport({
    title: 'speedlimits — how close does training come to the speed limit?',
    subtitle: `${s.dataset.name} · ${s.options.model.toUpperCase()} ${s.options.depth}×${s.options.width} · ${s.options.replicas} replicas × ${s.options.steps} steps`,
    summary: s.findings,
    sections,
    meta: { options: s.options, timings: s.timings, build: s.buildInfo, ...meta },
  });
}

/** Every file of the report directory, by name. */
export function studyReportFiles(s: StudyResult, meta: Record<string, unknown> = {}): Record<string, string> {
  const files: Record<string, string> = {
    'report.html': studyHtml(s, meta),
    'report.json': studyJson(s, meta),
  };
  for (const [name, cols] of Object.entries(studySeries(s))) files[`${name}.csv`] = toCsv(cols);
  return files;
}
