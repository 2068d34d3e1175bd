import { describe, expect, it } from 'vitest';
import {
  AbortError, createNetwork, fromRows, geometricSteps, getThreads, matrix, mergeHistories, random, setThreads, train, trainSync,
  w2GaussianSync, type Matrix,
} from '../src/index.js';

// A linear model f(x) = θ·x as a network: no hidden layer, no bias, 'standard' (θ used as is).
const linearNet = (d: number) =>
  createNetwork({ type: 'fcn', inputDim: d, widths: [], outputDim: 1, activation: 'linear', bias: false, parameterization: 'standard' });

// THEORY.md O2/O3 instance.
const J = fromRows([[1, 0, 1, 0], [0, 2, 0, 1], [1, 1, 0, 0]]);
const yO2 = matrix(3, 1, Float64Array.from([1, -1, 0.5]));
const theta0 = Float64Array.from([0.2, -0.1, 0, 0.3]);

type Mat = number[][];
const mul = (A: Mat, B: Mat): Mat => A.map((r) => B[0].map((_, j) => r.reduce((s, a, k) => s + a * B[k][j], 0)));
const tr = (A: Mat): Mat => A[0].map((_, j) => A.map((r) => r[j]));
const add = (A: Mat, B: Mat, s = 1): Mat => A.map((r, i) => r.map((v, j) => v + s * B[i][j]));
const eye = (n: number): Mat => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const mv = (A: Mat, v: number[]) => A.map((r) => r.reduce((s, a, k) => s + a * v[k], 0));
const rowsOf = (m: Matrix): Mat => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
const flat = (A: Mat) => Float64Array.from(A.flat());

/** Sample mean and covariance (population normalisation) of the rows of a [M, P] matrix. */
function moments(m: Matrix, rows?: number[]) {
  const idx = rows ?? Array.from({ length: m.rows }, (_, i) => i);
  const P = m.cols;
  const mean = new Array(P).fill(0);
  for (const i of idx) for (let p = 0; p < P; p++) mean[p] += m.data[i * P + p] / idx.length;
  const cov: Mat = Array.from({ length: P }, () => new Array(P).fill(0));
  for (const i of idx)
    for (let p = 0; p < P; p++)
      for (let q = 0; q < P; q++) cov[p][q] += ((m.data[i * P + p] - mean[p]) * (m.data[i * P + q] - mean[q])) / idx.length;
  return { mean, cov };
}

describe('train: deterministic oracles', () => {
  it('gradient descent reproduces THEORY.md O3 (1e-8)', () => {
    const h = trainSync(linearNet(4), { x: J, y: yO2 }, { learningRate: 0.1, steps: 100, init: theta0, logTimes: [0, 100] });
    expect(h.status).toBe('completed');
    expect(h.mean.dist2[1]).toBeCloseTo(0.8356142898, 9);
    expect(h.mean.dissipation[1]).toBeCloseTo(0.121237915, 9);
    expect(h.mean.heat[1]).toBeCloseTo(1.0049970704, 9);
    expect(Math.abs(h.efficiency.kinematic[1] / 0.0689235121 - 1)).toBeLessThan(1e-8);
    expect(Math.abs(h.efficiency.loss[1] / 0.0831459428 - 1)).toBeLessThan(1e-8);
    expect(h.efficiency.kinematic[0]).toBeNaN();
  });

  it('the default log grid is geometric, starts at 0 and ends at steps', () => {
    const g = geometricSteps(1000, 10);
    expect(g[0]).toBe(0);
    expect(g[1]).toBe(1);
    expect(g[g.length - 1]).toBe(1000);
    for (let i = 1; i < g.length; i++) expect(g[i]).toBeGreaterThan(g[i - 1]);
    const h = trainSync(linearNet(4), { x: J, y: yO2 }, { learningRate: 0.1, steps: 50, init: theta0 });
    expect(Array.from(h.times)).toEqual(geometricSteps(50));
  });
});

describe('train: Monte-Carlo Langevin against the exact chain moments', () => {
  it('O4 instance, 2e4 replicas: mean, covariance and Gaussian W2² match within statistical errors', async () => {
    // ULA on the O4 instance (γ = 0.5, T = 0.1, η = 0.1, θ(0) ~ N(θ0, 0.2² I)) is a Gaussian chain:
    // m ← m − η(H m − Jᵀy), C ← A C Aᵀ + 2ηT I with A = I − ηH (the exact discrete moments).
    const M = 20000;
    const K = 10;
    const eta = 0.1, T = 0.1, gamma = 0.5, s0 = 0.2;
    const h = await train(linearNet(4), { x: J, y: yO2 }, {
      method: 'langevin', learningRate: eta, temperature: T, weightDecay: gamma, steps: K, replicas: M, seed: 3,
      init: { theta0, sigma0: s0 }, logTimes: [0, K],
    });
    const Jm = rowsOf(J);
    const H = add(mul(tr(Jm), Jm), eye(4), gamma);
    const A = add(eye(4), H, -eta);
    const Jty = mv(tr(Jm), Array.from(yO2.data));
    let m = Array.from(theta0);
    let C = add(eye(4), eye(4), s0 * s0 - 1);
    for (let k = 0; k < K; k++) {
      m = mv(A, m).map((v, i) => v + eta * Jty[i]);
      C = add(mul(mul(A, C), tr(A)), eye(4), 2 * eta * T);
    }
    const got = moments(h.finalParams);
    for (let p = 0; p < 4; p++) {
      expect(Math.abs(got.mean[p] - m[p])).toBeLessThan(5 * Math.sqrt(C[p][p] / M));
      for (let q = 0; q < 4; q++) {
        const se = Math.sqrt((C[p][p] * C[q][q] + C[p][q] ** 2) / M);
        expect(Math.abs(got.cov[p][q] - C[p][q])).toBeLessThan(5 * se);
      }
    }
    const C0 = add(eye(4), eye(4), s0 * s0 - 1);
    const exact = w2GaussianSync(Float64Array.from(theta0), { data: flat(C0), rows: 4, cols: 4 }, Float64Array.from(m), { data: flat(C), rows: 4, cols: 4 });
    // Sampling error of a Bures W2² from 2e4 draws of 4-dim Gaussians is ~1e-3 relative here.
    expect(Math.abs(h.ensemble.w2[1] / exact.w2sq - 1)).toBeLessThan(0.02);
    expect(h.ensemble.w2[0]).toBeCloseTo(0, 12);
  });
});

describe('train: entropy production', () => {
  it('⟨e^{−Σ}⟩ = 1 on THEORY.md O7(a) and ⟨Σ⟩ matches 0.3225279305', async () => {
    // L = ½(θ−θ*)ᵀH(θ−θ*) as least squares: X = Rᵀ with H = R Rᵀ (Cholesky), y = Xθ*.
    const H = [[2, 0.6], [0.6, 0.8]];
    const r11 = Math.sqrt(2), r21 = 0.6 / r11, r22 = Math.sqrt(0.8 - r21 * r21);
    const X = fromRows([[r11, r21], [0, r22]]);
    const thStar = [0.5, -1];
    const y = matrix(2, 1, Float64Array.from(mv(rowsOf(X), thStar)));
    const eta = 0.05, T = 0.2, K = 40, M = 100000;
    // Λ_ULA = T H⁻¹ (I − ηH/2)⁻¹ (stationary covariance of the exact chain).
    const inv2 = (B: Mat): Mat => { const d = B[0][0] * B[1][1] - B[0][1] * B[1][0]; return [[B[1][1] / d, -B[0][1] / d], [-B[1][0] / d, B[0][0] / d]]; };
    const Lam = mul(inv2(H), inv2(add(eye(2), H, -eta / 2))).map((r) => r.map((v) => T * v));
    const l11 = Math.sqrt(Lam[0][0]), l21 = Lam[1][0] / l11, l22 = Math.sqrt(Lam[1][1] - l21 * l21);
    const m0 = [thStar[0] + 0.3, thStar[1] - 0.2];
    const z = random.normal({ seed: 17, length: 2 * M });
    const init = new Float64Array(2 * M);
    for (let i = 0; i < M; i++) {
      init[2 * i] = m0[0] + l11 * z[2 * i];
      init[2 * i + 1] = m0[1] + l21 * z[2 * i] + l22 * z[2 * i + 1];
    }
    const h = await train(linearNet(2), { x: X, y }, { method: 'langevin', learningRate: eta, temperature: T, steps: K, replicas: M, init, seed: 5, logTimes: [0, K], w2: false, logVar: false });
    // p_K = N(θ* + A^K (m0 − θ*), Λ): the exact marginal of the chain.
    let dm = [m0[0] - thStar[0], m0[1] - thStar[1]];
    const A = add(eye(2), H, -eta);
    for (let k = 0; k < K; k++) dm = mv(A, dm);
    const mK = [thStar[0] + dm[0], thStar[1] + dm[1]];
    const Li = inv2(Lam);
    const logp = (v: number[], mu: number[]) => {
      const a = v[0] - mu[0], b = v[1] - mu[1];
      return -0.5 * (a * (Li[0][0] * a + Li[0][1] * b) + b * (Li[1][0] * a + Li[1][1] * b));
    }; // normalisations cancel (same covariance)
    let sum = 0, sumExp = 0, sumExp2 = 0;
    const ent = h.perReplica.entropy!;
    for (let i = 0; i < M; i++) {
      const s = logp([init[2 * i], init[2 * i + 1]], m0) - logp([h.finalParams.data[2 * i], h.finalParams.data[2 * i + 1]], mK) + ent.data[M + i];
      sum += s;
      const e = Math.exp(-s);
      sumExp += e;
      sumExp2 += e * e;
    }
    const meanExp = sumExp / M;
    const se = Math.sqrt((sumExp2 / M - meanExp * meanExp) / M);
    expect(Math.abs(meanExp - 1)).toBeLessThan(4 * se);
    expect(Math.abs(sum / M - 0.3225279305)).toBeLessThan(0.01);
  });
});

describe('train: SGLD vs SGWORLD on Bayesian linear regression (THEORY.md O8)', () => {
  const X = fromRows([[0.001, 0.299], [-0.274, -0.891], [-0.455, -0.992], [0.06, 1.34], [-0.492, -0.62], [0.49, 0.357], [0.105, -0.93], [-0.029, 0.695]]);
  const y = matrix(8, 1, Float64Array.from([-0.791, -0.064, -0.872, -1.139, -1.017, 0.083, -0.188, -0.163]));
  const post = { mean: Float64Array.from([1.11102004, -0.23970218]), cov: { data: Float64Array.from([0.31046173, -0.06122185, -0.06122185, 0.05537985]), rows: 2, cols: 2 } };

  /** Stationary samples: M chains started at θ*, `burn` steps, then `count` snapshots `every` steps apart. */
  async function stationary(method: 'sgld' | 'sgworld', eta: number, burn: number, every: number, count: number) {
    const M = 2000;
    const snaps = Array.from({ length: count }, (_, i) => burn + i * every);
    const h = await train(linearNet(2), { x: X, y }, {
      method, learningRate: eta, temperature: 0.25, weightDecay: 0.25, batchSize: 2, steps: snaps[count - 1], replicas: M,
      init: post.mean, seed: 11, snapshotTimes: snaps, logTimes: [0], w2: false, logVar: false,
    });
    // 20 independent groups of replicas → standard errors of the moments.
    const groups = 20;
    const est = Array.from({ length: groups }, (_, g) => {
      const all: Matrix = { data: new Float64Array(h.snapshots.length * (M / groups) * 2), rows: h.snapshots.length * (M / groups), cols: 2 };
      let r = 0;
      for (const s of h.snapshots) for (let i = g; i < M; i += groups, r++) all.data.set(s.params.data.subarray(2 * i, 2 * i + 2), 2 * r);
      return moments(all);
    });
    const avg = (f: (e: ReturnType<typeof moments>) => number) => {
      const v = est.map(f);
      const mu = v.reduce((a, b) => a + b, 0) / groups;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (groups - 1));
      return { mu, se: sd / Math.sqrt(groups) };
    };
    const mean = [avg((e) => e.mean[0]), avg((e) => e.mean[1])];
    const cov = [avg((e) => e.cov[0][0]), avg((e) => e.cov[0][1]), avg((e) => e.cov[1][1])];
    const w2 = Math.sqrt(w2GaussianSync(Float64Array.from(mean.map((v) => v.mu)),
      { data: Float64Array.from([cov[0].mu, cov[1].mu, cov[1].mu, cov[2].mu]), rows: 2, cols: 2 }, post.mean, post.cov).w2sq);
    return { mean, cov, w2 };
  }

  it('stationary moments at η = 1e-2 match the exact values; SGWORLD is closer to the posterior at η = 1e-2 and 3e-2', async () => {
    const wr = await stationary('sgld', 1e-2, 1000, 100, 30);
    const wor = await stationary('sgworld', 1e-2, 1000, 100, 30);
    const within = (got: { mu: number; se: number }, exact: number) => expect(Math.abs(got.mu - exact)).toBeLessThan(4.5 * got.se + 1e-4);
    within(wr.mean[0], 1.11102004);
    within(wr.mean[1], -0.23970218);
    within(wr.cov[0], 0.31544985);
    within(wr.cov[1], -0.06109732);
    within(wr.cov[2], 0.06406981);
    within(wor.mean[0], 1.12017815);
    within(wor.mean[1], -0.24400677);
    within(wor.cov[0], 0.3094653);
    within(wor.cov[1], -0.06047188);
    within(wor.cov[2], 0.05624603);
    expect(wor.w2).toBeLessThan(wr.w2);
    const wr3 = await stationary('sgld', 3e-2, 400, 40, 30);
    const wor3 = await stationary('sgworld', 3e-2, 400, 40, 30);
    expect(wor3.w2).toBeLessThan(wr3.w2);
    // Exact values 6.12e-2 (WR) and 3.16e-2 (SGWORLD): the MC estimates land near them.
    expect(Math.abs(wr3.w2 - 6.121670e-2)).toBeLessThan(0.015);
    expect(Math.abs(wor3.w2 - 3.164109e-2)).toBeLessThan(0.015);
  }, 120_000);
});

describe('train: determinism, shards, threads', () => {
  const net = createNetwork({ type: 'fcn', inputDim: 5, widths: [9, 7], outputDim: 2, activation: 'tanh', sigmaB: 0.1 });
  const x: Matrix = { data: random.normal({ seed: 1, length: 16 * 5 }), rows: 16, cols: 5 };
  const y: Matrix = { data: random.normal({ seed: 2, length: 16 * 2 }), rows: 16, cols: 2 };
  const base = { method: 'sgld' as const, learningRate: 0.01, temperature: 1e-3, batchSize: 4, steps: 40, seed: 9, logTimes: [0, 5, 40] };

  it('shards merge into the full run bit for bit, and 1 vs 2 threads agree', () => {
    const threads = getThreads();
    try {
      setThreads(2);
      const full = trainSync(net, { x, y }, { ...base, replicas: 6, w2: false, logVar: false });
      const merged = mergeHistories([
        trainSync(net, { x, y }, { ...base, replicas: [3, 6], w2: false, logVar: false }),
        trainSync(net, { x, y }, { ...base, replicas: [0, 1] }),
        trainSync(net, { x, y }, { ...base, replicas: [1, 3], w2: false, logVar: false }),
      ]);
      expect(merged.replicas).toEqual([0, 6]);
      expect(Array.from(merged.finalParams.data)).toEqual(Array.from(full.finalParams.data));
      expect(Array.from(merged.perReplica.loss.data)).toEqual(Array.from(full.perReplica.loss.data));
      expect(Array.from(merged.mean.dist2)).toEqual(Array.from(full.mean.dist2));
      setThreads(1);
      const one = trainSync(net, { x, y }, { ...base, replicas: 6, w2: false, logVar: false });
      expect(Array.from(one.finalParams.data)).toEqual(Array.from(full.finalParams.data));
    } finally {
      setThreads(threads);
    }
  });

  it('mergeHistories rejects gaps and mismatched shards', () => {
    const a = trainSync(net, { x, y }, { ...base, replicas: [0, 1] });
    const c = trainSync(net, { x, y }, { ...base, replicas: [2, 3] });
    expect(() => mergeHistories([a, c])).toThrow(/contiguous/);
    const d = trainSync(net, { x, y }, { ...base, replicas: [1, 2], seed: 10 });
    expect(() => mergeHistories([a, d])).toThrow(/seed/);
    expect(() => mergeHistories([])).toThrow(TypeError);
  });
});

describe('train: long runs', () => {
  const net = createNetwork({ type: 'fcn', inputDim: 8, widths: [64], outputDim: 1, activation: 'relu' });
  const x: Matrix = { data: random.normal({ seed: 4, length: 64 * 8 }), rows: 64, cols: 8 };
  const y: Matrix = { data: random.normal({ seed: 5, length: 64 }), rows: 64, cols: 1 };

  it('reports progress and can be aborted; the error keeps the history so far', async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const p = train(net, { x, y }, {
      method: 'langevin', learningRate: 1e-3, temperature: 1e-4, steps: 2_000_000, replicas: 2, signal: ac.signal, progressInterval: 5,
      onProgress: (f) => {
        seen.push(f);
        if (f > 0) ac.abort();
      },
    });
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    const h = (err as { history: { status: string; stepsDone: number; times: Float64Array } }).history;
    expect(h.status).toBe('aborted');
    expect(h.stepsDone).toBeGreaterThan(0);
    expect(h.stepsDone).toBeLessThan(2_000_000);
    expect(h.times.length).toBeGreaterThan(0);
    expect(seen.some((f) => f > 0 && f < 1)).toBe(true);
  });

  it('a diverging run stops, reports the step and keeps the history', async () => {
    const h = await train(linearNet(4), { x: J, y: yO2 }, { learningRate: 5, steps: 1000, init: theta0, logTimes: [0, 1, 2, 1000] });
    expect(h.status).toBe('diverged');
    expect(h.diverged!.step).toBeGreaterThan(2);
    expect(h.times.length).toBe(3);
    expect(Number.isFinite(h.mean.loss[2])).toBe(true);
  });
});

describe('train: bad input', () => {
  const net = linearNet(4);
  const data = { x: J, y: yO2 };
  const ok = { learningRate: 0.1, steps: 5 };
  it.each([
    [{ ...ok, learningRate: 0 }, RangeError, /learningRate must be > 0/],
    [{ ...ok, learningRate: NaN }, RangeError, /learningRate/],
    [{ ...ok, method: 'langevin', temperature: -1 }, RangeError, /temperature must be >= 0/],
    [{ ...ok, temperature: 0.1 }, RangeError, /temperature must be 0 for method 'gd'/],
    [{ ...ok, method: 'sgld' }, TypeError, /batchSize is required/],
    [{ ...ok, method: 'sgld', batchSize: 0 }, RangeError, /batchSize/],
    [{ ...ok, method: 'sgworld', batchSize: 4 }, RangeError, /batchSize/],
    [{ ...ok, batchSize: 2 }, RangeError, /full batch/],
    [{ ...ok, steps: 0 }, RangeError, /steps/],
    [{ ...ok, replicas: 0 }, RangeError, /replicas/],
    [{ ...ok, replicas: [3, 3] }, RangeError, /replicas/],
    [{ ...ok, method: 'adam' }, RangeError, /method/],
    [{ ...ok, init: new Float64Array(3) }, RangeError, /init/],
    [{ ...ok, init: Float64Array.from([0, NaN, 0, 0]) }, RangeError, /finite/],
    [{ ...ok, init: { theta0: new Float64Array(4), sigma0: -1 } }, RangeError, /sigma0/],
    [{ ...ok, logTimes: [0, 6] }, RangeError, /logTimes/],
    [{ ...ok, logTimes: [2, 1] }, RangeError, /increasing/],
    [{ ...ok, entropy: true }, RangeError, /entropy/],
    [{ ...ok, w2: true }, RangeError, /at least 2 replicas/],
  ])('options %j → %s', (o, E, msg) => {
    expect(() => trainSync(net, data, o as never)).toThrow(E);
    expect(() => trainSync(net, data, o as never)).toThrow(msg);
  });
  it('rejects data that does not fit the network or is not finite', () => {
    expect(() => trainSync(net, { x: fromRows([[1, 2, 3]]), y: matrix(1, 1) }, ok)).toThrow(/data.x/);
    expect(() => trainSync(net, { x: J, y: matrix(2, 1) }, ok)).toThrow(/data.y/);
    const bad = fromRows([[1, 0, 1, 0], [0, NaN, 0, 1], [1, 1, 0, 0]]);
    expect(() => trainSync(net, { x: bad, y: yO2 }, ok)).toThrow(RangeError);
    expect(() => trainSync(net, undefined as never, ok)).toThrow(TypeError);
    expect(() => trainSync({} as never, data, ok)).toThrow(/Network/);
    expect(() => trainSync(net, data, undefined as never)).toThrow(/required/);
  });
});
