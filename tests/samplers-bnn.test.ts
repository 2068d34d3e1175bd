// The Bayesian-neural-network sampler study (src/samplers-bnn.ts) at a tiny size: its shape, the
// chains it runs are train() runs (the reference's predictive mean is reproduced from a direct
// train() call), the Gaussian and Sinkhorn distances agree in size, and bad options are refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { AbortError, bayesianNetSamplers, createNetwork, matrix, random, trainSync } from '../src/index.js';

const TINY = { etas: [5e-3, 2e-2], replicas: 16, burnIn: 40, snapshots: 3, spacing: 20, referenceSteps: 400, seed: 3 };

describe('bayesianNetSamplers', () => {
  it('runs the reference and every sampler; distances are finite, positive and consistent', async () => {
    const stages = new Set<string>();
    const r = await bayesianNetSamplers({ ...TINY, onStage: (_f, s) => stages.add(s) });
    expect(r.numParams).toBe(25);
    expect(r.data.x.length).toBe(32);
    expect(r.reference.samples).toBe(16 * 3);
    expect(r.reference.eta).toBeCloseTo(5e-3 / 8, 15);
    for (const s of ['ula', 'sgld', 'sgworld'] as const) {
      expect(r.w2[s].length).toBe(2);
      for (const v of [...r.w2[s], ...r.w2Gaussian[s]]) expect(Number.isFinite(v) && v >= 0).toBe(true);
    }
    expect(r.floor).toBeGreaterThan(0);
    expect([...stages]).toEqual(expect.arrayContaining(['reference (ULA at small η)', 'sgworld at η = 0.02', 'done']));
    // The reference is the ULA run it says it is: replay it with train() and compare the predictive mean.
    const net = createNetwork(r.spec);
    const prior = random.normal({ seed: 3, stream: 1 << 20, length: 16 * 25 });
    const steps = 400 + 2 * 20;
    const h = trainSync(net, { x: matrix(32, 1, r.data.x), y: matrix(32, 1, r.data.y) }, {
      method: 'langevin', learningRate: 5e-3 / 8, temperature: 0.05, weightDecay: 0.5, steps, replicas: 16, seed: 3, init: prior,
      snapshotTimes: [400, 420, 440], logTimes: [0, steps], w2: false, logVar: false, entropy: false,
    });
    let m0 = 0;
    for (const snap of h.snapshots)
      for (let i = 0; i < 16; i++) m0 += net.forward(snap.params.data.subarray(i * 25, (i + 1) * 25), matrix(2, 1, Float64Array.from([0.3, 2.5]))).data[0] / 48;
    expect(r.reference.predictiveMean[0]).toBeCloseTo(m0, 12);
  });

  it('validates its options and aborts', async () => {
    await expect(bayesianNetSamplers({ etas: [] })).rejects.toThrow(TypeError);
    await expect(bayesianNetSamplers({ etas: [0.01, 0.005] })).rejects.toThrow(/increasing/);
    await expect(bayesianNetSamplers({ batchSize: 5 })).rejects.toThrow(/divide n = 32/);
    await expect(bayesianNetSamplers({ replicas: 1 })).rejects.toThrow(/replicas/);
    await expect(bayesianNetSamplers({ ...TINY, etas: [0.5] })).rejects.toThrow(/diverged/);
    const ac = new AbortController();
    ac.abort();
    await expect(bayesianNetSamplers({ ...TINY, signal: ac.signal })).rejects.toThrow(AbortError);
  });
});

describe('speedlimits samplers --bnn', () => {
  it('adds the Bayesian-net section, bnn.csv and the JSON block', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'speedlimits-bnn-'));
    try {
      let out = '';
      const code = await main(['samplers', '--bnn-replicas', '4', '--out', dir, '--json'], { out: (t) => (out += t), err: () => {} });
      expect(code).toBe(0);
      const j = JSON.parse(out);
      expect(j.bayesianNet.replicas).toBe(4);
      expect(j.bayesianNet.etas).toEqual([2.5e-3, 5e-3, 1e-2]);
      const html = readFileSync(join(dir, 'report.html'), 'utf8');
      expect(html).toContain('data-plot-id="plot-bnn-w2"');
      expect(html).toMatch(/sampling floor/);
      const csv = readFileSync(join(dir, 'bnn.csv'), 'utf8').trim().split('\n');
      expect(csv[0]).toBe('eta,ula,sgld,sgworld,ula_gaussian,sgld_gaussian,sgworld_gaussian');
      expect(csv.length).toBe(4);
      let err = '';
      expect(await main(['samplers', '--bnn-replicas', '1'], { out: () => {}, err: (t) => (err += t) })).toBe(2);
      expect(err).toMatch(/--bnn-replicas/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
