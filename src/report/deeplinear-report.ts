/**
 * The files of a deep-linear study report (`speedlimits deeplinear`): report.html with the loss
 * curves for widths and depths (log-log), the lazy-limit comparison, c_K against depth and the
 * efficiency along the runs; report.json with every number; loss-width.csv, loss-depth.csv,
 * ck.csv. Pure presentation of a {@link DeepLinearStudyResult}.
 */
import type { DeepLinearCurve, DeepLinearStudyResult } from '../deeplinear-study.js';
import { toCsv } from './csv.js';
import { renderReport } from './html.js';
import { linePlot, type PlotSeries } from './svg.js';

const positive = (c: DeepLinearCurve, y: ArrayLike<number>) => {
  const x: number[] = [], v: number[] = [];
  for (let i = 0; i < c.times.length; i++)
    if (c.times[i] > 0) {
      x.push(c.times[i]);
      v.push(y[i]);
    }
  return { x, y: v };
};
const lossSeries = (name: string, c: DeepLinearCurve, style: PlotSeries['style'] = 'line'): PlotSeries => ({ name, ...positive(c, c.loss), style });

/** Columns of the CSV files (the JSON holds the same numbers). */
export function deepLinearStudySeries(r: DeepLinearStudyResult): Record<string, Record<string, ArrayLike<number>>> {
  const w = r.widthSweep, d = r.depthSweep;
  const width: Record<string, ArrayLike<number>> = { step: w.mup[0].times };
  for (const c of w.mup) width[`mup_N${c.width}`] = c.loss;
  for (const c of w.ntk) {
    width[`ntk_N${c.width}`] = c.loss;
    width[`ntk_N${c.width}_lazy`] = c.lazy!;
  }
  for (const c of w.mup) width[`mup_N${c.width}_efficiency`] = c.efficiency;
  const depth: Record<string, ArrayLike<number>> = { step: d.plain[0].times };
  for (const c of d.plain) depth[`plain_L${c.depth}`] = c.loss;
  for (const c of d.residual) depth[`residual_L${c.depth}`] = c.loss;
  const ck = {
    depth: r.cK.depths,
    plain_closed_form: r.cK.plain.map((c) => c.closedForm),
    plain_sampled: r.cK.plain.map((c) => c.sampled),
    plain_stderr: r.cK.plain.map((c) => c.standardError),
    residual_closed_form: r.cK.residual.map((c) => c.closedForm),
    residual_sampled: r.cK.residual.map((c) => c.sampled),
    residual_stderr: r.cK.residual.map((c) => c.standardError),
  };
  return { 'loss-width': width, 'loss-depth': depth, ck };
}

/** report.html, report.json and the CSVs of a deep-linear study. */
export function deepLinearStudyReportFiles(r: DeepLinearStudyResult): Record<string, string> {
  const o = r.options, w = r.widthSweep, d = r.depthSweep;
  // Least-squares power law through the measured deviations (its exponent is w.lazySlope).
  const logs = w.ntk.map((c) => Math.log(c.lazyDeviation!) - w.lazySlope * Math.log(c.width));
  const lazyFit = (N: number) => Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length + w.lazySlope * Math.log(N));
  const arch = `${o.residual ? 'residual' : 'plain'} depth ${o.depth}`;
  const dataText = o.data.spectrum === 'powerLaw'
    ? `power-law data λ_k = k^−${o.data.alpha}, source exponent b = ${o.data.b}`
    : 'isotropic data λ_k = 1/D';
  const setting = `Population gradient descent (exact expectation over x ~ N(0, diag λ), rank-1 gradients) on ${dataText}, D = ${o.inputDim}, ` +
    `η = ${o.learningRate.toPrecision(3)} for every run (each tensor moves with η·γ0²·N), γ0 = ${o.gamma0}, ${o.steps} steps, ${o.seeds} seeds per curve.`;
  const html = renderReport({
    title: 'speedlimits deeplinear — NTK vs μP, depth and c_K',
    subtitle: setting,
    summary: r.findings,
    sections: [
      {
        id: 'width', heading: 'Loss against time for widths',
        text: `μP (γ0 fixed: features move at every width) and NTK parameterisation (γ0 = γ̃0/√N: lazy as N → ∞), ${arch}. ` +
          'Dashed: the lazy (kernel) prediction of the NTK runs with the sampled K_0 (THEORY §5.4.2).',
        plots: [
          linePlot({ id: 'plot-width-mup', title: `μP, ${arch}`, xLabel: 'step t', yLabel: 'population loss', xScale: 'log', yScale: 'log',
            series: w.mup.map((c) => lossSeries(`N = ${c.width}`, c)) }),
          linePlot({ id: 'plot-width-ntk', title: `NTK parameterisation, ${arch}`, xLabel: 'step t', yLabel: 'population loss', xScale: 'log', yScale: 'log',
            series: [...w.ntk.map((c) => lossSeries(`N = ${c.width}`, c)),
              ...w.ntk.map((c) => ({ name: `lazy N = ${c.width}`, ...positive(c, c.lazy!), style: 'dashed' as const }))] }),
          linePlot({ id: 'plot-lazy-deviation', title: 'Deviation from the lazy limit (NTK)', xLabel: 'width N', yLabel: 'max_t |ℒ − ℒ_lazy|/ℒ_lazy', xScale: 'log', yScale: 'log',
            series: [
              { name: 'measured', x: w.ntk.map((c) => c.width), y: w.ntk.map((c) => c.lazyDeviation!), style: 'points' },
              { name: `fit ∝ N^${w.lazySlope.toPrecision(2)}`, x: w.ntk.map((c) => c.width), y: w.ntk.map((c) => lazyFit(c.width)), style: 'dashed' },
            ] }),
        ],
        table: {
          columns: ['N', 'μP final loss', 'NTK final loss', 'lazy deviation'],
          rows: w.mup.map((c, i) => [c.width, c.loss[c.loss.length - 1], w.ntk[i].loss[w.ntk[i].loss.length - 1], w.ntk[i].lazyDeviation!]),
        },
      },
      {
        id: 'depth', heading: 'Loss against time for depths',
        text: `μP networks of width ${r.cK.width}: plain (M_ℓ = W_ℓ/√N) and residual (M_ℓ = I + (β0/√L) W_ℓ/√N, β0 = ${o.beta0}).`,
        plots: [
          linePlot({ id: 'plot-depth-plain', title: 'plain', xLabel: 'step t', yLabel: 'population loss', xScale: 'log', yScale: 'log',
            series: d.plain.map((c) => lossSeries(`L = ${c.depth}`, c)) }),
          linePlot({ id: 'plot-depth-residual', title: `residual, β0 = ${o.beta0}`, xLabel: 'step t', yLabel: 'population loss', xScale: 'log', yScale: 'log',
            series: d.residual.map((c) => lossSeries(`L = ${c.depth}`, c)) }),
        ],
      },
      {
        id: 'ck', heading: 'NTK at initialisation: c_K against depth',
        text: `K(x, x′) → c_K xᵀx′ as N → ∞ (THEORY §5.4.1): c_K = L + 1 for plain networks; residual networks are depth-stable, c_K → e^{β0²}(2 + β0²) = ${r.cK.residualLimit.toPrecision(6)}. ` +
          `Points: ${o.ckSeeds} sampled networks of width ${r.cK.width} per depth (mean ± standard error in the table).`,
        plots: [linePlot({ id: 'plot-ck', title: 'c_K against depth', xLabel: 'depth L', yLabel: 'c_K', xScale: 'log', yScale: 'linear',
          series: [
            { name: 'plain (closed form)', x: r.cK.depths, y: r.cK.plain.map((c) => c.closedForm), style: 'line' },
            { name: 'plain (sampled)', x: r.cK.depths, y: r.cK.plain.map((c) => c.sampled), style: 'points' },
            { name: 'residual (closed form)', x: r.cK.depths, y: r.cK.residual.map((c) => c.closedForm), style: 'line' },
            { name: 'residual (sampled)', x: r.cK.depths, y: r.cK.residual.map((c) => c.sampled), style: 'points' },
            { name: 'residual L → ∞', x: [r.cK.depths[0], r.cK.depths[r.cK.depths.length - 1]], y: [r.cK.residualLimit, r.cK.residualLimit], style: 'dashed' },
          ] })],
        table: {
          columns: ['L', 'plain c_K', 'sampled', '± s.e.', 'residual c_K', 'sampled', '± s.e.'],
          rows: r.cK.depths.map((L, i) => [L, r.cK.plain[i].closedForm, r.cK.plain[i].sampled, r.cK.plain[i].standardError,
            r.cK.residual[i].closedForm, r.cK.residual[i].sampled, r.cK.residual[i].standardError]),
        },
      },
      {
        id: 'efficiency', heading: 'Speed-limit efficiency along the μP runs',
        text: '𝓔_loss(t) = ⟨|θ_t − θ_0|²⟩ / (η_eff · t · ⟨ℒ_0 − ℒ_t⟩), from the seed means (THEORY §1.6 with the per-tensor rate as the mobility); 1 is the bound of gradient flow.',
        plots: [linePlot({ id: 'plot-deeplinear-efficiency', title: `𝓔_loss, μP ${arch}`, xLabel: 'step t', yLabel: '𝓔_loss', xScale: 'log', yScale: 'linear',
          series: w.mup.map((c) => ({ name: `N = ${c.width}`, ...positive(c, c.efficiency), style: 'line' as const })) })],
      },
    ],
    meta: { seconds: r.seconds },
  });
  const files: Record<string, string> = { 'report.html': html, 'report.json': JSON.stringify(r, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v), 1) + '\n' };
  for (const [name, cols] of Object.entries(deepLinearStudySeries(r))) files[`${name}.csv`] = toCsv(cols);
  return files;
}
