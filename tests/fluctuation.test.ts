import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import {
  AbortError, createNetwork, fluctuationTheorems, fromRows, gradientNoiseCovariance, matrix, ness, random, samplerMoments,
  stationaryEntropyProduction, stationaryEntropyProductionSync, train, trajectoryEntropy,
} from '../src/index.js';
import { expectClose } from './support/reference.js';

type Mat = number[][];
const mul = (A: Mat, B: Mat): Mat => A.map((r) => B[0].map((_, j) => r.reduce((s, a, k) => s + a * B[k][j], 0)));
const mv = (A: Mat, v: number[]) => A.map((r) => r.reduce((s, a, k) => s + a * v[k], 0));
const inv2 = (B: Mat): Mat => {
  const d = B[0][0] * B[1][1] - B[0][1] * B[1][0];
  return [[B[1][1] / d, -B[0][1] / d], [-B[1][0] / d, B[0][0] / d]];
};
const chol2 = (S: Mat) => {
  const l11 = Math.sqrt(S[0][0]), l21 = S[1][0] / l11;
  return [l11, l21, Math.sqrt(S[1][1] - l21 * l21)];
};
const quad = (Q: Mat, a: number, b: number) => a * (Q[0][0] * a + Q[0][1] * b) + b * (Q[1][0] * a + Q[1][1] * b);

describe('fluctuation theorems (THEORY.md O7)', () => {
  it('O7(a) transient ULA through train(): ⟨e^{−Σ}⟩ = 1 within its CI and ⟨Σ_K⟩ ≈ 0.3225279305', async () => {
    // L = ½(θ−θ*)ᵀH(θ−θ*) as least squares (X = Rᵀ, H = R Rᵀ), p0 = N(θ* + (0.3, −0.2), Λ_ULA).
    const H: Mat = [[2, 0.6], [0.6, 0.8]];
    const [r11, r21, r22] = chol2(H);
    const X = fromRows([[r11, r21], [0, r22]]);
    const thStar = [0.5, -1];
    const y = matrix(2, 1, Float64Array.from(mv([[r11, r21], [0, r22]], thStar)));
    const eta = 0.05, T = 0.2, K = 40, M = 60000;
    const Lam = mul(inv2(H), inv2([[1 - (eta / 2) * H[0][0], -(eta / 2) * H[0][1]], [-(eta / 2) * H[1][0], 1 - (eta / 2) * H[1][1]]])).map((r) => r.map((v) => T * v));
    const [l11, l21, l22] = chol2(Lam);
    const m0 = [thStar[0] + 0.3, thStar[1] - 0.2];
    const z = random.normal({ seed: 23, length: 2 * M });
    const init = new Float64Array(2 * M);
    for (let i = 0; i < M; i++) {
      init[2 * i] = m0[0] + l11 * z[2 * i];
      init[2 * i + 1] = m0[1] + l21 * z[2 * i] + l22 * z[2 * i + 1];
    }
    const net = createNetwork({ type: 'fcn', inputDim: 2, widths: [], outputDim: 1, activation: 'linear', bias: false, parameterization: 'standard' });
    const h = await train(net, { x: X, y }, { method: 'langevin', learningRate: eta, temperature: T, steps: K, replicas: M, init, seed: 8, logTimes: [0, K], w2: false, logVar: false });
    let dm = [m0[0] - thStar[0], m0[1] - thStar[1]];
    const A: Mat = [[1 - eta * H[0][0], -eta * H[0][1]], [-eta * H[1][0], 1 - eta * H[1][1]]];
    for (let k = 0; k < K; k++) dm = mv(A, dm);
    const mK = [thStar[0] + dm[0], thStar[1] + dm[1]];
    const Li = inv2(Lam);
    const logP0 = new Float64Array(M), logPT = new Float64Array(M);
    for (let i = 0; i < M; i++) {
      logP0[i] = -0.5 * quad(Li, init[2 * i] - m0[0], init[2 * i + 1] - m0[1]);
      logPT[i] = -0.5 * quad(Li, h.finalParams.data[2 * i] - mK[0], h.finalParams.data[2 * i + 1] - mK[1]);
    }
    const ft = fluctuationTheorems(trajectoryEntropy(h, { logP0, logPT }));
    expect(ft.integral.ci[0]).toBeLessThan(1);
    expect(ft.integral.ci[1]).toBeGreaterThan(1);
    expect(Math.abs(ft.mean - 0.3225279305)).toBeLessThan(4 * Math.sqrt(ft.variance / M));
    // Var Σ ≈ 2⟨Σ⟩ (nearly Gaussian Σ).
    expect(ft.variance / (2 * ft.mean)).toBeGreaterThan(0.8);
    expect(ft.variance / (2 * ft.mean)).toBeLessThan(1.2);
    // The diagonal-Gaussian boundary is an approximation: close to, not equal to, the exact one.
    const approx = fluctuationTheorems(trajectoryEntropy(h));
    expect(Math.abs(approx.mean - ft.mean)).toBeLessThan(0.1);
  });

  it('O7(b) NESS of pure SGD (anisotropic Gaussian noise): detailed FT slope 1 ± 0.05 and ⟨e^{−Σ}⟩ = 1', () => {
    // The linear chain θ ← Aθ + ξ, ξ ~ N(0, 2D), D = (η²/2)·Cov, A = I − ηH, started in its exact
    // stationary state N(0, Λ); Σ over K = 20 steps with the Gaussian kernel of THEORY.md §4.4.
    const H: Mat = [[2, 0.6], [0.6, 0.8]];
    const eta = 0.05, K = 20, M = 40000;
    const Cov: Mat = [[1, 0.9], [0.9, 1.5]];
    const D = Cov.map((r) => r.map((v) => (eta * eta / 2) * v));
    const Di = inv2(D);
    const Lam: Mat = [[0.0120111171, 0.0047759689], [0.0047759689, 0.0444606403]];
    const Li = inv2(Lam);
    const [d11, d21, d22] = chol2(D.map((r) => r.map((v) => 2 * v)));
    const [l11, l21, l22] = chol2(Lam);
    const z = random.normal({ seed: 31, length: 2 * M * (K + 1) });
    const sigma = new Float64Array(M);
    const g = (t: number[]) => mv(H, t);
    for (let i = 0; i < M; i++) {
      const o = 2 * i * (K + 1);
      let th = [l11 * z[o], l21 * z[o] + l22 * z[o + 1]];
      // Σ = ln p(θ0) − ln p(θK) + Σ_k ln W(θ_{k+1}|θ_k)/W(θ_k|θ_{k+1}); the normalisations cancel.
      let s = -0.5 * quad(Li, th[0], th[1]);
      for (let k = 1; k <= K; k++) {
        const a = z[o + 2 * k], b = z[o + 2 * k + 1];
        const gk = g(th);
        const next = [th[0] - eta * gk[0] + d11 * a, th[1] - eta * gk[1] + d21 * a + d22 * b];
        const gn = g(next);
        const delta = [next[0] - th[0], next[1] - th[1]];
        s += -0.25 * quad(Di, delta[0] + eta * gk[0], delta[1] + eta * gk[1]) + 0.25 * quad(Di, delta[0] - eta * gn[0], delta[1] - eta * gn[1]);
        th = next;
      }
      s += 0.5 * quad(Li, th[0], th[1]);
      sigma[i] = s;
    }
    const ft = fluctuationTheorems(sigma, { bins: 24 });
    expect(ft.detailed).not.toBeNull();
    expect(Math.abs(ft.detailed!.slope - 1)).toBeLessThan(0.05);
    expect(ft.integral.ci[0]).toBeLessThan(1);
    expect(ft.integral.ci[1]).toBeGreaterThan(1);
    expect(ft.mean).toBeGreaterThan(0);
  });

  it('bad input', () => {
    expect(() => fluctuationTheorems([1])).toThrow(RangeError);
    expect(() => fluctuationTheorems([1, NaN, 2])).toThrow(/finite/);
    expect(() => fluctuationTheorems([1, 2, 3], { bins: 5 })).toThrow(/even/);
    expect(() => fluctuationTheorems('x' as never)).toThrow(TypeError);
    const r = fluctuationTheorems([0.5, 1, 2, 3]);
    expect(r.detailed).toBeNull();
    expect(r.reason).toMatch(/both sides/);
    expect(() => trajectoryEntropy({} as never)).toThrow(TypeError);
  });
});

describe('speedlimits ft', () => {
  it('writes the report and the JSON summary; ⟨e^{−Σ}⟩ = 1 within its CI; usage errors exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'speedlimits-ft-'));
    try {
      let out = '';
      const code = await main(['ft', '--replicas', '5000', '--out', dir, '--json'], { out: (t) => (out += t), err: () => {} });
      expect(code).toBe(0);
      const s = JSON.parse(out);
      expect(s.exactBoundary).toBe(true);
      expect(s.integral.ci[0]).toBeLessThan(1);
      expect(s.integral.ci[1]).toBeGreaterThan(1);
      const html = readFileSync(join(dir, 'report.html'), 'utf8');
      expect(html).toContain('data-plot-id="plot-detailed-ft"');
      expect(html).not.toMatch(/https?:|\/\//);
      expect(readFileSync(join(dir, 'sigma.csv'), 'utf8').split('\n').length).toBe(5002);
      expect(await main(['ft', '--bins', '5'], { out: () => {}, err: () => {} })).toBe(2);
      expect(await main(['ft', '--lr', '1'], { out: () => {}, err: () => {} })).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stationaryEntropyProduction (NESS set-ups of THEORY.md §4.4–4.6)', () => {
  const H = fromRows([[2, 0.6], [0.6, 0.8]]);
  const X = fromRows([[0.001, 0.299], [-0.274, -0.891], [-0.455, -0.992], [0.06, 1.34], [-0.492, -0.62], [0.49, 0.357], [0.105, -0.93], [-0.029, 0.695]]);
  const y = [-0.791, -0.064, -0.872, -1.139, -1.017, 0.083, -0.188, -0.163];

  it('Gaussian chain: ⟨Σ⟩ = K·σ_step (σ_step of ness()) within MC error; integral and detailed FT', async () => {
    const eta = 0.05, K = 20;
    const cov = fromRows([[1, 0.9], [0.9, 1.5]]);
    const D = { data: cov.data.map((v) => (eta * eta / 2) * v), rows: 2, cols: 2 };
    const r = await stationaryEntropyProduction({ chain: 'gaussian', H, diffusion: D, eta, steps: K, replicas: 30000, seed: 3 });
    const n = ness({ H, gradientCovariance: cov, eta });
    expect(r.exact).toBe(true);
    expectClose([r.entropyPerStep], [n.entropyPerStep], { rtol: 1e-12 });
    expectClose(Array.from(r.covariance.data), Array.from(n.covariance.data), { rtol: 1e-12 });
    const ft = fluctuationTheorems(r.sigma, { bins: 24 });
    expect(Math.abs(ft.mean - K * n.entropyPerStep)).toBeLessThan(4 * Math.sqrt(ft.variance / ft.samples));
    expect(ft.integral.ci[0]).toBeLessThan(1);
    expect(ft.integral.ci[1]).toBeGreaterThan(1);
    expect(Math.abs(ft.detailed!.slope - 1)).toBeLessThan(0.06);
  });

  it('equilibrium 𝒟 = ηT·I: Σ ≡ 0 pathwise; SGLD with B = n is ULA: Σ ≡ 0 too', () => {
    const eq = stationaryEntropyProductionSync({ chain: 'gaussian', H, diffusion: fromRows([[0.02, 0], [0, 0.02]]), thetaStar: [1, -2], eta: 0.1, steps: 10, replicas: 100 });
    expect(Math.max(...eq.medium.map(Math.abs))).toBeGreaterThan(0.05);
    expect(Math.max(...eq.sigma.map(Math.abs))).toBeLessThan(1e-9);
    const ula = stationaryEntropyProductionSync({ chain: 'sgld', X, y, temperature: 0.25, gamma: 0.25, batchSize: 8, eta: 0.05, steps: 10, replicas: 100 });
    expect(ula.exact).toBe(false);
    expect(Math.max(...ula.sigma.map(Math.abs))).toBeLessThan(1e-9);
  });

  it('minibatch SGLD: kernel 𝒟(θ*) = ηT·I + (η²/2)·Cov_S from gradientNoiseCovariance (= enumeration over the 28 pairs)', () => {
    const C = gradientNoiseCovariance({ X, y, gamma: 0.25, batchSize: 2 });
    const post = samplerMoments({ X, y, temperature: 0.25, gamma: 0.25, eta: 0.01, sampler: 'ula' }).posterior.mean;
    const gs: number[][] = [];
    for (let a = 0; a < 8; a++)
      for (let b = a + 1; b < 8; b++) {
        const g = [0.25 * post[0], 0.25 * post[1]];
        for (const s of [a, b]) {
          const res = X.data[2 * s] * post[0] + X.data[2 * s + 1] * post[1] - y[s];
          g[0] += 4 * X.data[2 * s] * res;
          g[1] += 4 * X.data[2 * s + 1] * res;
        }
        gs.push(g);
      }
    const m = [0, 1].map((i) => gs.reduce((s, g) => s + g[i], 0) / gs.length);
    const brute = [0, 1].flatMap((i) => [0, 1].map((j) => gs.reduce((s, g) => s + g[i] * g[j], 0) / gs.length - m[i] * m[j]));
    expectClose(Array.from(C.data), brute, { rtol: 1e-10, atol: 1e-14 });
    const eta = 0.1;
    const r = stationaryEntropyProductionSync({ chain: 'sgld', X, y, temperature: 0.25, gamma: 0.25, batchSize: 2, eta, steps: 5, replicas: 10 });
    expectClose(Array.from(r.kernelDiffusion.data), brute.map((v, k) => (eta * eta / 2) * v + (k % 3 === 0 ? eta * 0.25 : 0)), { rtol: 1e-10 });
    const sm = samplerMoments({ X, y, temperature: 0.25, gamma: 0.25, eta, sampler: 'sgld', batchSize: 2 });
    expectClose(Array.from(r.covariance.data), Array.from(sm.covariance.data), { rtol: 1e-12 });
  });

  it('bad input and abort', async () => {
    const D = fromRows([[0.01, 0], [0, 0.01]]);
    expect(() => stationaryEntropyProductionSync({ chain: 'gaussian', H, diffusion: D, eta: 1.5, steps: 5, replicas: 5 })).toThrow(/eta/);
    expect(() => stationaryEntropyProductionSync({ chain: 'gaussian', H: fromRows([[1, 2], [2, 1]]), diffusion: D, eta: 0.1, steps: 5, replicas: 5 })).toThrow(/H/);
    expect(() => stationaryEntropyProductionSync({ chain: 'gaussian', H, diffusion: fromRows([[1]]), eta: 0.1, steps: 5, replicas: 5 })).toThrow(/diffusion must be 2x2/);
    expect(() => stationaryEntropyProductionSync({ chain: 'other' as never, H, diffusion: D, eta: 0.1, steps: 5, replicas: 5 })).toThrow(/chain/);
    expect(() => stationaryEntropyProductionSync({ chain: 'gaussian', H, diffusion: D, eta: 0.1, steps: 0, replicas: 5 })).toThrow(/steps/);
    expect(() => stationaryEntropyProductionSync({ chain: 'sgld', X, y, temperature: 0.25, batchSize: 9, eta: 0.1, steps: 5, replicas: 5 } as never)).toThrow(/batchSize/);
    expect(() => stationaryEntropyProductionSync({ chain: 'sgld', X, y: [1, 2], temperature: 0.25, batchSize: 2, eta: 0.1, steps: 5, replicas: 5 })).toThrow(/y has 2 entries/);
    expect(() => gradientNoiseCovariance({ X, y, batchSize: 0 })).toThrow(/batchSize/);
    const ac = new AbortController();
    ac.abort();
    await expect(stationaryEntropyProduction({ chain: 'gaussian', H, diffusion: D, eta: 0.1, steps: 5, replicas: 5, signal: ac.signal })).rejects.toThrow(AbortError);
  });
});

describe('speedlimits ft stationary set-ups', () => {
  it('--setup ness (exact) and --setup sgld (approximate); usage errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'speedlimits-ft-ness-'));
    try {
      let out = '';
      expect(await main(['ft', '--setup', 'ness', '--replicas', '20000', '--out', dir, '--json'], { out: (t) => (out += t), err: () => {} })).toBe(0);
      const s = JSON.parse(out);
      expect(s).toMatchObject({ setup: 'ness', exact: true, steps: 20 });
      expect(Math.abs(s.mean - s.expectedMean)).toBeLessThan(4 * Math.sqrt(s.variance / 20000));
      expect(Math.abs(s.detailedSlope - 1)).toBeLessThan(0.06);
      expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/Non-equilibrium steady state of SGD/);
      out = '';
      expect(await main(['ft', '--setup', 'sgld', '--replicas', '4000', '--batch-size', '4', '--out', dir, '--json'], { out: (t) => (out += t), err: () => {} })).toBe(0);
      const g = JSON.parse(out);
      expect(g).toMatchObject({ setup: 'sgld', exact: false, temperature: 0.25 });
      expect(Math.abs(g.integral.value - 1)).toBeLessThan(0.05);
      expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/APPROXIMATION/);
      let err = '';
      expect(await main(['ft', '--setup', 'steady'], { out: () => {}, err: (t) => (err += t) })).toBe(2);
      expect(err).toMatch(/--setup must be one of transient, ness, sgld/);
      expect(await main(['ft', '--batch-size', '2'], { out: () => {}, err: () => {} })).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('speedlimits samplers', () => {
  it('exact W2 to the posterior reproduces the THEORY.md O8 table; SGWORLD below SGLD at every η', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'speedlimits-samplers-'));
    try {
      let out = '';
      expect(await main(['samplers', '--out', dir, '--json'], { out: (t) => (out += t), err: () => {} })).toBe(0);
      const s = JSON.parse(out);
      const table = { ula: [3.266852e-4, 9.840842e-4, 3.328402e-3, 1.042888e-2], sgld: [2.073703e-3, 6.207438e-3, 2.05619e-2, 6.12167e-2], sgworld: [1.070395e-3, 3.198079e-3, 1.053372e-2, 3.164109e-2] };
      for (const k of ['ula', 'sgld', 'sgworld'] as const)
        (s.exact[k] as number[]).forEach((v, i) => expect(Math.abs(v / table[k][i] - 1)).toBeLessThan(1e-6));
      (s.exact.sgworld as number[]).forEach((v, i) => expect(v).toBeLessThan(s.exact.sgld[i]));
      expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('data-plot-id="plot-sampler-w2"');
      // Batch-size sweep: B = 8 = n is full-batch ULA for both samplers; below it SGWORLD stays closer.
      expect(s.batchSweep.sizes).toEqual([1, 2, 4, 8]);
      s.exact.ula.forEach((u: number, i: number) => {
        expect(Math.abs(s.batchSweep.sgld[i][3] / u - 1)).toBeLessThan(1e-9);
        expect(Math.abs(s.batchSweep.sgworld[i][3] / u - 1)).toBeLessThan(1e-9);
        expect(Math.abs(s.batchSweep.sgld[i][1] / s.exact.sgld[i] - 1)).toBeLessThan(1e-12);  // B = 2 is the main table
        for (let j = 0; j < 3; j++) expect(s.batchSweep.sgworld[i][j]).toBeLessThan(s.batchSweep.sgld[i][j]);
      });
      expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('data-plot-id="plot-sampler-batch"');
      expect(await main(['samplers', '--batch-size', '3'], { out: () => {}, err: () => {} })).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
