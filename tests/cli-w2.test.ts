import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { costMatrixSync, emdSync, random, sinkhornDivergence, w2Exact1DSync, w2GaussianSamplesSync, writeNpySync } from '../src/index.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'speedlimits-w2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const X = { data: random.normal({ seed: 1, length: 40 * 3 }), rows: 40, cols: 3 };
const Y = { data: random.normal({ seed: 2, length: 30 * 3 }).map((v) => v + 1), rows: 30, cols: 3 };
const xPath = join(dir, 'x.npy');
const yPath = join(dir, 'y.npy');
writeNpySync(xPath, { data: X.data, shape: [40, 3] });
writeNpySync(yPath, { data: Y.data, shape: [30, 3] });
const x1 = join(dir, 'x1.npy');
const y1 = join(dir, 'y1.npy');
writeNpySync(x1, { data: random.normal({ seed: 3, length: 50 }) });
writeNpySync(y1, { data: random.uniform({ seed: 4, length: 20 }) });

describe('speedlimits w2', () => {
  it('sinkhorn (default) prints the debiased divergence', async () => {
    const r = await cli('w2', xPath, yPath, '--epsilon', '0.5', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    const ref = await sinkhornDivergence(X, Y, { epsilon: 0.5 });
    expect(out.method).toBe('sinkhorn');
    expect(out.w2sq).toBeCloseTo(ref.divergence, 10);
    expect(out.w2).toBeCloseTo(Math.sqrt(ref.divergence), 10);
    expect(out.x).toEqual({ path: xPath, points: 40, dim: 3 });
  });
  it('gaussian, exact and 1d methods agree with the API', async () => {
    const g = JSON.parse((await cli('w2', xPath, yPath, '--method', 'gaussian', '--json')).out);
    expect(g.w2sq).toBeCloseTo(w2GaussianSamplesSync(X, Y).w2sq, 12);
    const e = JSON.parse((await cli('w2', xPath, yPath, '--method=exact', '--json')).out);
    expect(e.w2sq).toBeCloseTo(emdSync(costMatrixSync(X, Y)).cost, 12);
    expect(e.optimal).toBe(true);
    const d = JSON.parse((await cli('w2', x1, y1, '--method', '1d', '--json')).out);
    const xs = random.normal({ seed: 3, length: 50 });
    const ys = random.uniform({ seed: 4, length: 20 });
    expect(d.w2sq).toBeCloseTo(w2Exact1DSync(xs, ys).cost, 12);
  });
  it('prints a readable summary without --json', async () => {
    const r = await cli('w2', xPath, yPath, '--method', 'gaussian');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/W2²\s+[0-9.]+/);
    expect(r.out).toMatch(/mean term/);
  });
  it('usage and file errors', async () => {
    expect((await cli('w2', xPath)).code).toBe(2);
    const bad = await cli('w2', xPath, yPath, '--method', 'magic');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--method must be one of sinkhorn, gaussian, exact, 1d/);
    expect((await cli('w2', xPath, yPath, '--epsilon', '-1')).err).toMatch(/--epsilon must be a number > 0/);
    expect((await cli('w2', xPath, yPath, '--method', '1d')).err).toMatch(/needs 1-d samples/);
    const missing = await cli('w2', join(dir, 'nope.npy'), yPath);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.npy/);
    expect(missing.err).toMatch(/ERR_IO/);
    const mismatch = await cli('w2', xPath, x1);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toMatch(/features/);
  });
});
