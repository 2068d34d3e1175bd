// Renders a sample report and opens it in headless Chromium over the DevTools protocol (see
// tests/support/chromium.ts): no console errors or exceptions, no request for anything but the
// file itself, every plot drew its data, and a full-page screenshot for a human to look at.
//
// Without Chromium the test is skipped locally and fails on CI (where it must be installed:
// `apt-get install -y chromium` on Debian).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linePlot, renderReport, toCsv, writeReportFiles } from '../src/report/index.js';
import { findChromium, loadPageInChromium, plotFailures, DESCRIBE_PLOTS_JS, CHROMIUM_CANDIDATES, type PlotDescription } from './support/chromium.js';

const chromium = findChromium();
const onCi = Boolean(process.env.CI);
if (!chromium && !onCi)
  console.warn(`report-browser: skipped, no Chromium found (looked at $CHROMIUM_PATH and ${CHROMIUM_CANDIDATES.join(', ')}); install it with 'apt-get install -y chromium'`);

function sampleReport(): string {
  const t = Array.from({ length: 120 }, (_, i) => Math.pow(10, -1 + (4 * i) / 119));
  const gd = t.map((x) => 0.9 / (1 + x) ** 0.7);
  const langevin = t.map((x, i) => 0.9 / (1 + x) ** 0.7 + 0.02 * (1 + Math.sin(i)) * 0.05);
  const k = Array.from({ length: 200 }, (_, i) => i + 1);
  const lambda = k.map((j) => j ** -1.4);
  const power = k.map((j) => (j % 7 === 0 ? 0 : j ** -1.1)); // zeros are dropped on the log axis
  const eps = t.map((x) => 1 - Math.exp(-x / 10));
  const epsTheory = t.map((x) => 1 - Math.exp(-x / 12));
  const w2 = t.map((x) => Math.sqrt(x) * 0.05);
  return renderReport({
    title: 'speedlimits report (browser test)',
    subtitle: 'synthetic power-law task — sample data',
    summary: ['The loss decays as t^-0.7.', 'The measured 𝓔(t) joins the analytic curve after t ≈ 12.'],
    sections: [
      {
        id: 'loss',
        heading: 'Loss',
        text: 'Gradient descent and Langevin dynamics, mean over the ensemble.',
        plots: [
          linePlot({
            id: 'loss', title: 'Training loss', xLabel: 'time t', yLabel: 'loss', xScale: 'log', yScale: 'log',
            series: [{ name: 'gradient descent', x: t, y: gd }, { name: 'Langevin', x: t, y: langevin, style: 'dashed' }],
            annotations: [{ x: 12, label: 'optimal regime' }],
          }),
        ],
      },
      {
        id: 'spectrum',
        heading: 'NTK spectrum and label power',
        plots: [
          linePlot({ id: 'spectrum', title: 'NTK eigenvalues λk', xLabel: 'k', yLabel: 'λk', xScale: 'log', yScale: 'log', series: [{ name: 'λk', x: k, y: lambda, style: 'points' }] }),
          linePlot({ id: 'power', title: 'Label power', xLabel: 'k', yLabel: '|⟨φk, y⟩|²', xScale: 'log', yScale: 'log', series: [{ name: 'power', x: k, y: power, style: 'points', color: '#D55E00' }] }),
        ],
        table: { columns: ['fit', 'exponent', 'r²'], rows: [['λk ∝ k^-α', 1.4, 0.9991], ['power ∝ k^-β', 1.1, 0.987]] },
      },
      {
        id: 'speed',
        heading: 'Speed limit',
        plots: [
          linePlot({
            id: 'efficiency', title: '𝓔(t)', xLabel: 'time t', yLabel: '𝓔', xScale: 'log', yScale: 'linear', yDomain: [0, 1],
            series: [{ name: 'measured', x: t, y: eps }, { name: 'analytic', x: t, y: epsTheory, style: 'dashed', color: 'black' }],
          }),
          linePlot({ id: 'w2', title: 'W2 to the initial ensemble', xLabel: 'time t', yLabel: 'W2', xScale: 'linear', yScale: 'linear', series: [{ name: 'Gaussian', x: t, y: w2 }] }),
        ],
      },
    ],
    meta: { version: '0.1.0', seed: 42, seconds: 1.25 },
  });
}

describe.skipIf(!chromium && !onCi)('report in headless Chromium', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-report-browser-'));
  });
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('loads without errors or requests, and every plot drew its data', async () => {
    if (!chromium)
      throw new Error(
        `Chromium is required on CI for tests/report-browser.test.ts but none was found (looked at $CHROMIUM_PATH and ${CHROMIUM_CANDIDATES.join(', ')}); ` +
          `the CI script must run 'apt-get install -y chromium'`,
      );
    const [file] = await writeReportFiles(tmp, { 'report.html': sampleReport(), 'loss.csv': toCsv({ t: [1, 2], loss: [0.5, 0.25] }) });
    // One fixed name, overwritten by each run, kept after the test for a human to look at.
    const screenshotPath = path.join(os.tmpdir(), 'speedlimits-report-browser.png');
    const result = await loadPageInChromium(file, { evaluate: DESCRIBE_PLOTS_JS, screenshotPath, timeoutMs: 30_000 });
    console.log(`report-browser: screenshot at ${screenshotPath}`);

    expect(result.problems).toEqual([]);
    expect(result.requests).toEqual([`file://${file}`]);
    const plots = result.value as PlotDescription[];
    expect(plots.map((p) => p.id)).toEqual(['loss', 'spectrum', 'power', 'efficiency', 'w2']);
    expect(plotFailures(plots)).toEqual([]);
    const byId: Record<string, PlotDescription> = Object.fromEntries(plots.map((p) => [p.id ?? '', p]));
    expect(byId.spectrum.series[0]).toMatchObject({ tag: 'g', points: 200, circles: 200 });
    expect(byId.power.series[0]).toMatchObject({ points: 200 - 28, circles: 200 - 28 });
    expect(byId.loss.series.map((s) => s.points)).toEqual([120, 120]);
    // the curves span most of the plot area horizontally
    for (const s of byId.loss.series) expect(s.bbox.width).toBeGreaterThan(300);
    const png = fs.readFileSync(screenshotPath);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(10_000);
  });

  it('reports a page that throws (the checker itself works)', async () => {
    if (!chromium) throw new Error('Chromium is required on CI (apt-get install -y chromium)');
    const file = path.join(tmp, 'bad.html');
    fs.writeFileSync(file, '<!DOCTYPE html><title>bad</title><script>console.error("boom"); null.x;</script><svg class="sl-plot" data-plot-id="p"><path data-series="s" data-points="0" d=""/></svg>');
    const result = await loadPageInChromium(file, { evaluate: DESCRIBE_PLOTS_JS, timeoutMs: 30_000 });
    expect(result.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['console', 'exception']));
    expect(result.problems.find((p) => p.kind === 'console')?.text).toContain('boom');
    expect(plotFailures(result.value as PlotDescription[])).toEqual(["plot 'p', series 's': data-points is 0", "plot 'p', series 's': empty path d"]);
  });
});
