import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { encodeIdx, locateRegimes, measuredEfficiency, study, studyReportFiles, trainSync, createNetwork, fromRows, matrix, type StudyResult } from '../src/index.js';
import { DESCRIBE_PLOTS_JS, findChromium, loadPageInChromium, plotFailures, type PlotDescription } from './support/chromium.js';

const dir = mkdtempSync(join(tmpdir(), 'speedlimits-study-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

describe('study on a linear model (depth 0): measured 𝓔 equals the analytic one', () => {
  let s: StudyResult;
  beforeAll(async () => {
    s = await study({ depth: 0, n: 64, replicas: 4, steps: 300, sigma0: 1e-6, seed: 3 });
  });
  it('GD: 𝓔_loss and |θt − θ0|² match the discrete closed form; 𝓔 is within the §1.6 discretisation bound of gradient flow', () => {
    const m = s.gd.measured;
    const d = s.analytic.discrete!;
    const g = s.analytic.gradientFlow;
    const etaLam = s.options.lr * s.ntk.eigenvalues[0];
    expect(etaLam).toBeCloseTo(0.5, 12);
    for (let i = 1; i < m.times.length; i++) {
      // The model is linear in θ: the linearisation is exact; the σ0² terms carry 4-replica sampling noise (~1e-7 at σ0 = 1e-6).
      expect(Math.abs(m.loss[i] / d.efficiencyLoss[i] - 1)).toBeLessThan(1e-6);
      expect(Math.abs(s.gd.history.mean.dist2[i] / d.displacement[i] - 1)).toBeLessThan(1e-6);
      // Per mode the discrete and continuous dissipations differ by (1 − ηh/2) (THEORY §1.6): bound ηλmax.
      expect(Math.abs(m.loss[i] - g.efficiency[i])).toBeLessThanOrEqual(etaLam * g.efficiency[i] + 1e-12);
    }
  });
  it('Langevin: the ensemble heat matches the OU prediction to within sampling error', () => {
    const last = s.langevin.history.times.length - 1;
    const heatMeasured = s.langevin.history.mean.heat[last];
    const heatLinear = s.analytic.langevin!.heat[last];
    // Discrete ULA vs continuous OU plus 4-replica noise: a few per cent.
    expect(Math.abs(heatMeasured / heatLinear - 1)).toBeLessThan(0.05);
  });
  it('the result carries options, fits, regimes and findings with numbers', () => {
    expect(s.network.numParams).toBe(65);
    expect(s.ntk.eigenvalues.length).toBe(64);
    expect(s.findings.length).toBeGreaterThanOrEqual(5);
    expect(s.findings[0]).toMatch(/k\^−\d/);
    expect(s.timings.gd).toBeGreaterThan(0);
    expect(s.buildInfo.version).toBeTypeOf('string');
  });
});

describe('the report files', () => {
  let files: Record<string, string>;
  let s: StudyResult;
  beforeAll(async () => {
    s = await study({ n: 48, width: 32, replicas: 3, steps: 60, seed: 1 });
    files = studyReportFiles(s, { command: 'test' });
  });
  it('report.json has every series the HTML plots, and the CSVs the same columns', () => {
    const json = JSON.parse(files['report.json']);
    const html = files['report.html'];
    for (const [group, cols] of Object.entries(json.series as Record<string, Record<string, unknown[]>>)) {
      const csv = files[`${group}.csv`];
      expect(csv.split('\n')[0].split(',')).toEqual(Object.keys(cols));
      for (const v of Object.values(cols)) expect(v.length).toBe(group === 'spectrum' ? 48 : s.analytic.times.length);
    }
    // Every plotted series has a JSON counterpart with at least as many values.
    const plotted = [...html.matchAll(/data-series="([^"]+)" data-points="(\d+)"/g)];
    expect(plotted.length).toBeGreaterThan(15);
    const lengths = Object.values(json.series as Record<string, Record<string, unknown[]>>).flatMap((c) => Object.values(c).map((v) => v.length));
    for (const [, , points] of plotted) expect(Number(points)).toBeLessThanOrEqual(Math.max(...lengths));
    for (const id of ['plot-spectrum', 'plot-labels', 'plot-loss', 'plot-efficiency', 'plot-w2', 'plot-entropy']) expect(html).toContain(`data-plot-id="${id}"`);
  });
  it('the HTML has no external references', () => {
    expect(files['report.html']).not.toMatch(/https?:|\/\/|src=|href="(?!#)/);
  });
  it.skipIf(!findChromium() && !process.env.CI)('renders in headless Chromium: every plot drew its data, no errors', async () => {
    const file = join(dir, 'report.html');
    writeFileSync(file, files['report.html']);
    const shot = join(tmpdir(), 'speedlimits-study-report.png');
    const r = await loadPageInChromium(file, { evaluate: DESCRIBE_PLOTS_JS, screenshotPath: shot, timeoutMs: 60_000 });
    expect(r.problems).toEqual([]);
    const plots = r.value as PlotDescription[];
    expect(plots.length).toBe(6);
    expect(plotFailures(plots)).toEqual([]);
  }, 90_000);
});

describe('measuredEfficiency and locateRegimes', () => {
  it('measuredEfficiency reproduces THEORY.md O3 from a GD history and adds the distribution level at T > 0', () => {
    const net = createNetwork({ type: 'fcn', inputDim: 4, widths: [], outputDim: 1, activation: 'linear', bias: false, parameterization: 'standard' });
    const J = fromRows([[1, 0, 1, 0], [0, 2, 0, 1], [1, 1, 0, 0]]);
    const y = matrix(3, 1, Float64Array.from([1, -1, 0.5]));
    const h = trainSync(net, { x: J, y }, { learningRate: 0.1, steps: 100, init: Float64Array.from([0.2, -0.1, 0, 0.3]), logTimes: [0, 100] });
    const m = measuredEfficiency(h);
    expect(m.kinematic[1]).toBeCloseTo(0.0689235121, 9);
    expect(m.loss[1]).toBeCloseTo(0.0831459428, 9);
    expect(m.distribution).toBeUndefined();
    const lv = trainSync(net, { x: J, y }, { method: 'langevin', learningRate: 0.1, temperature: 0.1, steps: 10, replicas: 200,
      init: { theta0: new Float64Array(4), sigma0: 0.2 }, logTimes: [0, 10] });
    const d = measuredEfficiency(lv).distribution!;
    expect(d.entropyProduction[1]).toBeCloseTo(lv.mean.heat[1] / 0.1 + lv.ensemble.logVarRatio[1], 12);
    expect(d.efficiency[1]).toBeCloseTo(lv.ensemble.w2[1] / (10 * 0.1 * 0.1 * d.entropyProduction[1]), 12);
    expect(d.entropyProductionChain).toBeDefined();
    expect(() => measuredEfficiency({} as never)).toThrow(TypeError);
  });
  it('locateRegimes finds a dip and a plateau on a synthetic curve', () => {
    const t = Array.from({ length: 41 }, (_, i) => Math.round(10 ** (i / 10)));
    const e = t.map((x) => (x < 10 ? 1 - 0.08 * x : x < 30 ? 0.3 : 0.6));
    const r = locateRegimes(t, e, { minTime: 5 });
    expect(r.optimal!.start).toBeGreaterThanOrEqual(30);
    expect(r.optimal!.mean).toBeCloseTo(0.6, 12);
    expect(r.earlyNonOptimal!.min).toBeCloseTo(0.3, 12);
    expect(locateRegimes([0, 1, 2], [NaN, NaN, NaN])).toEqual({ optimal: null, earlyNonOptimal: null });
  });
});

describe('speedlimits run', () => {
  it('writes the report atomically and prints a summary (--json)', async () => {
    const out = join(dir, 'run');
    const r = await cli(['run', '--n', '40', '--width', '24', '--replicas', '2', '--steps', '40', '--out', out, '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.files.sort()).toEqual(['efficiency.csv', 'entropy.csv', 'loss.csv', 'report.html', 'report.json', 'spectrum.csv', 'w2.csv']);
    expect(readdirSync(out).some((f) => f.includes('.tmp'))).toBe(false);
    expect(s.findings.length).toBeGreaterThan(3);
  });
  it('plain output: findings and progress lines', async () => {
    const r = await cli(['run', '--n', '32', '--width', '16', '--replicas', '2', '--steps', '30', '--out', join(dir, 'run2')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/report: .*report\.html/);
    expect(r.err).toMatch(/Langevin ensemble: 100%/);
  });
  it('runs on Fashion-MNIST IDX files and CIFAR-10 batches written by the test', async () => {
    const fm = join(dir, 'fm');
    mkdirSync(fm);
    const n = 40;
    const pixels = new Uint8Array(n * 784).map((_, i) => (i * 37 + (i >> 7)) % 256);
    const labels = new Uint8Array(n).map((_, i) => [0, 6, 3][i % 3]);
    writeFileSync(join(fm, 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx({ type: 'uint8', shape: [n, 28, 28], data: pixels })));
    writeFileSync(join(fm, 'train-labels-idx1-ubyte'), encodeIdx({ type: 'uint8', shape: [n], data: labels }));
    const r = await cli(['run', '--data', 'fashion-mnist', '--path', fm, '--classes', '0,6', '--n', '20', '--width', '16', '--replicas', '2', '--steps', '20', '--out', join(dir, 'fmout'), '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).dataset).toMatch(/Fashion-MNIST \(T-shirt\/top vs Shirt\)/);
    const cf = join(dir, 'cifar');
    mkdirSync(cf);
    const rec = new Uint8Array(30 * 3073).map((_, i) => (i % 3073 === 0 ? (i / 3073) % 3 : (i * 13) % 256));
    writeFileSync(join(cf, 'data_batch_1.bin'), rec);
    const c = await cli(['run', '--data', 'cifar10', '--path', cf, '--model', 'cnn', '--width', '4', '--depth', '1', '--classes', '0,1,2', '--n', '12', '--replicas', '2', '--steps', '10', '--out', join(dir, 'cfout'), '--json']);
    expect(c.err).toBe('');
    expect(c.code).toBe(0);
    expect(JSON.parse(c.out).dataset).toMatch(/CIFAR-10/);
    expect(existsSync(join(dir, 'cfout', 'report.html'))).toBe(true);
  }, 60_000);
  it('bad flags and missing data give clear errors', async () => {
    expect((await cli(['run', '--data', 'mnist'])).code).toBe(2);
    expect((await cli(['run', '--readout', 'bogus'])).err).toMatch(/--readout must be/);
    expect((await cli(['run', '--data', 'cifar10'])).err).toMatch(/needs --path/);
    expect((await cli(['run', '--classes', '0,1'])).code).toBe(2);
    const missing = await cli(['run', '--data', 'fashion-mnist', '--path', join(dir, 'nope'), '--out', join(dir, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope/);
    expect(readFileSync(join(dir, 'run', 'report.json'), 'utf8').length).toBeGreaterThan(1000);
  });
});
