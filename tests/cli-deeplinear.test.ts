// `speedlimits deeplinear` and deepLinearStudy: the files, the numbers behind them (each curve is
// the deepLinear run it names; c_K against the closed form), the findings, the rendered report,
// and clear errors for bad options.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { AbortError, deepLinear, deepLinearCK, deepLinearStudy } from '../src/index.js';
import { findChromium, loadPageInChromium, plotFailures, DESCRIBE_PLOTS_JS, type PlotDescription } from './support/chromium.js';

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), isTTY: false });
  return { code, out, err };
}
const dir = mkdtempSync(join(tmpdir(), 'speedlimits-deeplinear-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SMALL = ['--widths', '32,64,128', '--depths', '1,2,4', '--width', '64', '--dim', '32', '--steps', '200', '--seeds', '2', '--ck-seeds', '3'];

describe('speedlimits deeplinear', () => {
  it('writes the report, JSON and CSVs; every curve is the deepLinear run it names', async () => {
    const out = join(dir, 'a');
    const r = await cli(['deeplinear', ...SMALL, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/speedlimits deeplinear — D = 32, 200 steps × 2 seeds/);
    expect(r.err).toMatch(/100%/);
    expect(readdirSync(out).sort()).toEqual(['ck.csv', 'loss-depth.csv', 'loss-width.csv', 'report.html', 'report.json']);
    const j = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const eta = j.options.learningRate;
    // η = ½/(λmax · max c_K): residual L = 4 has the largest c_K (5.078125) of this study, λmax = 1 (power law).
    expect(eta).toBeCloseTo(0.5 / 5.078125, 14);
    const api = await deepLinear({ inputDim: 32, width: 64, depth: 3, parameterization: 'ntk', data: { spectrum: 'powerLaw' }, learningRate: eta, steps: 200, seeds: 2, lazy: true });
    const ntk64 = j.widthSweep.ntk[1];
    expect(ntk64.width).toBe(64);
    expect(ntk64.loss).toEqual(Array.from(api.loss));
    expect(ntk64.lazyDeviation).toBe(api.lazy!.deviation.kernel);
    const res4 = await deepLinear({ inputDim: 32, width: 64, depth: 4, residual: true, beta0: 1, data: { spectrum: 'powerLaw' }, learningRate: eta, steps: 200, seeds: 2 });
    expect(j.depthSweep.residual[2].loss).toEqual(Array.from(res4.loss));
    // c_K: the closed forms (O9) and sampled values near them.
    expect(j.cK.plain.map((c: { closedForm: number }) => c.closedForm)).toEqual([2, 3, 5]);
    expect(j.cK.residual[2].closedForm).toBeCloseTo(5.078125, 12);
    expect(j.cK.residualLimit).toBeCloseTo(3 * Math.E, 12);
    for (const c of [...j.cK.plain, ...j.cK.residual]) expect(Math.abs(c.sampled - c.closedForm)).toBeLessThan(5 * c.standardError + 1e-12);
    // μP wider is better, NTK approaches the lazy limit.
    expect(j.widthSweep.mupMonotone).toBe(true);
    expect(j.widthSweep.lazySlope).toBeLessThan(-0.3);
    expect(j.findings[0]).toMatch(/decreases monotonically with width/);
    // The CSVs hold the JSON's numbers.
    const width = readFileSync(join(out, 'loss-width.csv'), 'utf8').trim().split('\n');
    const head = width[0].split(',');
    expect(head.slice(0, 4)).toEqual(['step', 'mup_N32', 'mup_N64', 'mup_N128']);
    expect(head).toContain('ntk_N128_lazy');
    expect(width.length).toBe(j.widthSweep.mup[0].times.length + 1);
    const last = width[width.length - 1].split(',').map(Number);
    expect(last[head.indexOf('ntk_N64')]).toBeCloseTo(api.loss[api.loss.length - 1], 12);
    const ck = readFileSync(join(out, 'ck.csv'), 'utf8').trim().split('\n');
    expect(ck[0]).toBe('depth,plain_closed_form,plain_sampled,plain_stderr,residual_closed_form,residual_sampled,residual_stderr');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const id of ['plot-width-mup', 'plot-width-ntk', 'plot-lazy-deviation', 'plot-depth-plain', 'plot-depth-residual', 'plot-ck', 'plot-deeplinear-efficiency'])
      expect(html).toContain(`data-plot-id="${id}"`);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('renders in headless Chromium: 7 plots, each series drew its points, no errors', async () => {
    const chromium = findChromium();
    if (!chromium) {
      if (process.env.CI) throw new Error('Chromium is required on CI (apt-get install -y chromium)');
      console.warn('cli-deeplinear: Chromium not found, render check skipped');
      return;
    }
    const file = join(dir, 'a', 'report.html');
    expect(existsSync(file)).toBe(true);
    const page = await loadPageInChromium(file, { evaluate: DESCRIBE_PLOTS_JS, timeoutMs: 30_000 });
    expect(page.problems).toEqual([]);
    const plots = page.value as PlotDescription[];
    expect(plots.length).toBe(7);
    expect(plotFailures(plots)).toEqual([]);
  });

  it('--json, --isotropic data and --residual', async () => {
    const r = await cli(['deeplinear', ...SMALL, '--spectrum', 'isotropic', '--residual', '--json', '--out', join(dir, 'b')]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    // λmax = 1/D: η = ½ D / max c_K (residual L = 4: 5.078125).
    expect(j.learningRate).toBeCloseTo((0.5 * 32) / 5.078125, 12);
    expect(j.files).toContain('report.html');
    expect(r.err).toBe('');
  });

  it('usage errors name the flag', async () => {
    for (const [args, re] of [
      [['--widths', '64,32'], /--widths must be an increasing/],
      [['--depths', '0,1'], /--depths must be an increasing/],
      [['--spectrum', 'isotropic', '--alpha', '2'], /--alpha and --b apply to --spectrum power-law/],
      [['--spectrum', 'cubic'], /--spectrum must be power-law or isotropic/],
      [['--ck-seeds', '1'], /--ck-seeds must be at least 2/],
      [['--lr', '-1'], /--lr/],
      [['extra'], /unexpected argument 'extra'/],
    ] as const) {
      const r = await cli(['deeplinear', ...args]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
    }
  });
});

describe('deepLinearStudy', () => {
  it('validates its options', async () => {
    await expect(deepLinearStudy({ widths: [] })).rejects.toThrow(TypeError);
    await expect(deepLinearStudy({ widths: [8, 8] })).rejects.toThrow(/strictly increasing/);
    await expect(deepLinearStudy({ depth: 0 })).rejects.toThrow(RangeError);
    await expect(deepLinearStudy({ learningRate: NaN })).rejects.toThrow(/learningRate/);
    await expect(deepLinearStudy({ data: { spectrum: 'cubic' as never } })).rejects.toThrow(/spectrum/);
    await expect(deepLinearStudy({ onStage: 3 as never })).rejects.toThrow(/onStage/);
  });

  it('aborts with an AbortError, and reports a diverged run in its findings', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(deepLinearStudy({ widths: [16], depths: [1], width: 16, inputDim: 8, steps: 50, seeds: 1, signal: ac.signal })).rejects.toThrow(AbortError);
    const r = await deepLinearStudy({ widths: [16], depths: [1], width: 16, inputDim: 8, steps: 200, seeds: 1, ckSeeds: 2, learningRate: 50 / deepLinearCK({ depth: 3 }) });
    expect(r.widthSweep.mup[0].status).toBe('diverged');
    expect(r.findings.at(-1)).toMatch(/diverged at η = .*lower the learning rate/);
  });
});
