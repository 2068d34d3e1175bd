import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { createNetwork, ntkSync, random, readNpySync, spectrumSync, writeNpySync } from '../src/index.js';
import { expectClose } from './support/reference.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}
const dir = mkdtempSync(join(tmpdir(), 'speedlimits-ntk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('speedlimits ntk', () => {
  it('synthetic FCN: writes the kernel, spectrum, projections and a summary that match the API', async () => {
    const out = join(dir, 'a');
    const r = await cli('ntk', '--n', '24', '--dim', '6', '--width', '64', '--depth', '2', '--seed', '3', '--out', out, '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).alpha).toBe(summary.alpha);
    const K = readNpySync(join(out, 'kernel.npy'));
    expect(K.shape).toEqual([24, 24]);
    const x = { data: random.normal({ seed: 3, stream: 1, length: 24 * 6 }), rows: 24, cols: 6 };
    const net = createNetwork(summary.spec);
    const ref = ntkSync(net, net.init({ seed: 3 }), x);
    expectClose(K.data as Float64Array, ref.data, { rtol: 1e-12 });
    const ev = readNpySync(join(out, 'eigenvalues.npy')).data as Float64Array;
    expectClose(ev, spectrumSync(ref).values, { rtol: 1e-10, atol: 1e-12 * ev[0] });
    expect(existsSync(join(out, 'projections.npy'))).toBe(true);
    expect(Number.isFinite(summary.alpha)).toBe(true);
  });
  it('analytic kernel from .npy inputs and labels; readable output', async () => {
    const xPath = join(dir, 'x.npy');
    const yPath = join(dir, 'y.npy');
    writeNpySync(xPath, { data: random.normal({ seed: 1, length: 20 * 4 }), shape: [20, 4] });
    writeNpySync(yPath, { data: random.normal({ seed: 2, length: 20 }) });
    const r = await cli('ntk', '--data', xPath, '--labels', yPath, '--analytic', '--activation', 'erf', '--out', join(dir, 'b'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/infinite width/);
    expect(r.out).toMatch(/α = /);
  });
  it('usage errors', async () => {
    expect((await cli('ntk', '--model', 'rnn')).err).toMatch(/--model must be fcn or cnn/);
    expect((await cli('ntk', '--activation', 'swish')).code).toBe(2);
    expect((await cli('ntk', '--n', '0')).err).toMatch(/--n must be a positive integer/);
    expect((await cli('ntk', '--input-shape', '3,8')).err).toMatch(/--input-shape must be C,H,W/);
    const missing = await cli('ntk', '--data', join(dir, 'none.npy'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/ERR_IO/);
  });
});
