import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { createNetwork, random, readNpySync, trainSync, writeNpySync } from '../src/index.js';

async function cli(argv: string[], isTTY = false) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), isTTY });
  return { code, out, err };
}
const dir = mkdtempSync(join(tmpdir(), 'speedlimits-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('speedlimits train', () => {
  it('langevin on synthetic data: history and params match the API run, progress lines on a non-TTY', async () => {
    const out = join(dir, 'a');
    const r = await cli(['train', '--method', 'langevin', '--replicas', '3', '--steps', '40', '--n', '32', '--dim', '5',
      '--width', '16', '--depth', '1', '--lr', '0.01', '--temperature', '0.001', '--seed', '2', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/langevin on a FCN/);
    expect(r.err).toMatch(/100%/);
    const h = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
    const fin = readNpySync(join(out, 'final_params.npy'));
    expect(fin.shape).toEqual([3, h.numParams]);
    // The same run through the API gives the same numbers.
    const x = { data: random.normal({ seed: 2, stream: 1, length: 32 * 5 }), rows: 32, cols: 5 };
    const w = random.normal({ seed: 2, stream: 2, length: 5 });
    const y = new Float64Array(32).map((_, i) => x.data.subarray(i * 5, i * 5 + 5).reduce((s, v, k) => s + v * w[k], 0) / Math.sqrt(5));
    const api = trainSync(createNetwork(h.spec), { x, y: { data: y, rows: 32, cols: 1 } },
      { method: 'langevin', learningRate: 0.01, temperature: 0.001, steps: 40, replicas: 3, seed: 2 });
    expect(Array.from(fin.data as Float64Array)).toEqual(Array.from(api.finalParams.data));
    expect(h.history.loss).toEqual(Array.from(api.mean.loss));
    const csv = readFileSync(join(out, 'history.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^step,loss,dist2,dissipation,heat,entropy_medium,w2_gaussian/);
    expect(csv.length).toBe(api.times.length + 1);
    expect(readdirSync(out).some((f) => f.includes('.tmp'))).toBe(false);
  });

  it('sgworld from .npy data as a shard, --json summary, a bar on a TTY', async () => {
    const xPath = join(dir, 'x.npy');
    const yPath = join(dir, 'y.npy');
    writeNpySync(xPath, { data: random.normal({ seed: 1, length: 24 * 3 }), shape: [24, 3] });
    writeNpySync(yPath, { data: random.normal({ seed: 2, length: 24 }) });
    const out = join(dir, 'b');
    const r = await cli(['train', '--method', 'sgworld', '--batch-size', '6', '--replicas', '2:4', '--steps', '12', '--data', xPath,
      '--labels', yPath, '--width', '8', '--out', out, '--json'], true);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.replicas).toEqual([2, 4]);
    expect(s.batchSize).toBe(6);
    expect(s.status).toBe('completed');
    expect(existsSync(join(out, 'initial_params.npy'))).toBe(true);
  });

  it('usage errors and engine errors exit non-zero with a message', async () => {
    expect((await cli(['train', '--method', 'adam'])).code).toBe(2);
    expect((await cli(['train', '--replicas', '4:2'])).code).toBe(2);
    expect((await cli(['train', '--steps', '0'])).code).toBe(2);
    const r = await cli(['train', '--method', 'sgld', '--batch-size', '999', '--n', '16', '--out', join(dir, 'c')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/batchSize/);
    const d = await cli(['train', '--lr', '100', '--n', '16', '--steps', '200', '--out', join(dir, 'd')]);
    expect(d.code).toBe(1);
    expect(d.out).toMatch(/diverged at step/);
  });
});
