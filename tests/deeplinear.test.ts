// Deep linear networks through the public API: THEORY.md O9 (c_K closed forms to 1e-9, sampled
// c_K within 3σ, lazy-limit deviation shrinking with N, μP loss monotone in width), the rank-1
// population step against finite differences of the population loss and against a plain-JS
// simulation (losses, distances, dissipation, efficiencies), 'fixed'/'online' data from the
// documented streams, and argument errors.
import { describe, expect, it } from 'vitest';
import {
  AbortError, deepLinear, deepLinearCK, deepLinearCKEmpirical, deepLinearCKEmpiricalSync, deepLinearInit, deepLinearNumParams,
  deepLinearSync, random, type DeepLinearOptions,
} from '../src/index.js';
import { expectClose } from './support/reference.js';

interface Arch { D: number; N: number; L: number; residual: boolean; beta0: number; gamma: number }

/** v = W_0ᵀ M_1ᵀ ⋯ M_{L−1}ᵀ w / (γN) in plain JS. */
function endToEnd(a: Arch, theta: Float64Array): Float64Array {
  const { D, N, L } = a;
  const s = (a.residual ? a.beta0 / Math.sqrt(L) : 1) / Math.sqrt(N);
  let u = Array.from(theta.subarray(theta.length - N));
  for (let l = L - 1; l >= 1; l--) {
    const off = N * D + (l - 1) * N * N;
    const next = new Array<number>(N).fill(0);
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) next[j] += s * theta[off + i * N + j] * u[i];
    if (a.residual) for (let j = 0; j < N; j++) next[j] += u[j];
    u = next;
  }
  const v = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let k = 0; k < D; k++) v[k] += theta[i * D + k] * u[i] / (a.gamma * N);
  return v;
}

function populationLoss(a: Arch, theta: Float64Array, lambda: Float64Array, target: Float64Array, noise = 0): number {
  const v = endToEnd(a, theta);
  let s = 0;
  for (let k = 0; k < a.D; k++) s += lambda[k] * (v[k] - target[k]) ** 2;
  return 0.5 * s + 0.5 * noise * noise;
}

function sq(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - y[i]) ** 2;
  return s;
}

const archOf = (o: { inputDim: number; width: number; depth: number; residual?: boolean; beta0?: number; gamma0?: number; parameterization?: string }): Arch => ({
  D: o.inputDim, N: o.width, L: o.depth, residual: o.residual ?? false, beta0: o.beta0 ?? 1,
  gamma: o.parameterization === 'ntk' ? (o.gamma0 ?? 1) / Math.sqrt(o.width) : o.gamma0 ?? 1,
});

describe('deepLinearCK', () => {
  it('O9 closed forms to 1e-9', () => {
    expectClose([deepLinearCK({ depth: 3 })], [4], { rtol: 1e-12 });
    expectClose([deepLinearCK({ depth: 4, residual: true, beta0: 1 })], [5.078125], { rtol: 1e-12 });
    expectClose([deepLinearCK({ depth: 2, residual: true, beta0: 1 })], [3.5], { rtol: 1e-12 });
    expectClose([deepLinearCK({ depth: 16, residual: true, beta0: 1 })], [7.1561797299], { rtol: 1e-9 });
    expectClose([deepLinearCK({ depth: Infinity, residual: true, beta0: 1 })], [8.1548454854], { rtol: 1e-9 });
    expectClose([deepLinearCK({ depth: Infinity, residual: true })], [3 * Math.E], { rtol: 1e-14 });
    expectClose([deepLinearCK({ depth: 1e6, residual: true })], [3 * Math.E], { rtol: 1e-5 });
  });

  it('sampled c_K within 3 standard errors of the closed form at N = 1000 (plain L = 3, residual L = 4)', async () => {
    const plain = await deepLinearCKEmpirical({ inputDim: 100, width: 1000, depth: 3, seeds: 6, seed: 5 });
    expect(plain.closedForm).toBe(4);
    expect(plain.perSeed.length).toBe(6);
    expect(Math.abs(plain.zScore)).toBeLessThan(3);
    expect(plain.standardError).toBeGreaterThan(0.01);
    expect(plain.standardError).toBeLessThan(0.2); // O9: per-seed sd 0.23 at N = 1000
    const res = deepLinearCKEmpiricalSync({ inputDim: 100, width: 1000, depth: 4, residual: true, beta0: 1, seeds: 4, seed: 1 });
    expect(res.closedForm).toBe(5.078125);
    expect(Math.abs(res.cK - 5.078125)).toBeLessThan(3 * res.standardError);
  });

  it('rejects bad arguments, naming them', () => {
    expect(() => deepLinearCK({ depth: 0 })).toThrow(/deepLinearCK: options\.depth/);
    expect(() => deepLinearCK({ depth: 2.5 })).toThrow(RangeError);
    expect(() => deepLinearCK({ depth: Infinity })).toThrow(/Infinity only for residual/);
    expect(() => deepLinearCK({ depth: 3, residual: true, beta0: -1 })).toThrow(/options\.beta0/);
    expect(() => deepLinearCK({ depth: 3, residual: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => deepLinearCKEmpiricalSync({ inputDim: 4, width: 4, depth: 2, probes: 1 })).toThrow(/options\.probes/);
    expect(() => deepLinearCKEmpiricalSync({ inputDim: 4, width: 0, depth: 2 })).toThrow(/options\.width/);
  });
});

describe('deepLinear', () => {
  it('one population step is θ − η_eff ∇ℒ with ∇ℒ from finite differences of the population loss', () => {
    for (const extra of [{}, { residual: true, beta0: 1.4 }, { parameterization: 'ntk' as const, gamma0: 1.3 }]) {
      const o = { inputDim: 3, width: 4, depth: 3, learningRate: 0.07, steps: 1, seed: 9, keepParams: true, ...extra,
        data: { spectrum: 'powerLaw' as const, alpha: 1.2, b: 0.7, noise: 0.2 } };
      const r = deepLinearSync(o);
      const a = archOf(o);
      const theta = deepLinearInit({ inputDim: 3, width: 4, depth: 3, seed: 9 }).params;
      const { eigenvalues, target } = r.data;
      expectClose([r.perSeed.loss.data[0]], [populationLoss(a, theta, eigenvalues, target, 0.2)], { rtol: 1e-13 });
      const expected = new Float64Array(theta.length);
      for (let p = 0; p < theta.length; p++) {
        const h = 1e-6;
        const tp = Float64Array.from(theta);
        const tm = Float64Array.from(theta);
        tp[p] += h;
        tm[p] -= h;
        const g = (populationLoss(a, tp, eigenvalues, target) - populationLoss(a, tm, eigenvalues, target)) / (2 * h);
        expected[p] = theta[p] - r.tensorLearningRate * g;
      }
      expectClose(r.finalParams!.data, expected, { atol: 1e-8 });
      expect(r.tensorLearningRate).toBeCloseTo(0.07 * a.gamma * a.gamma * 4, 14);
    }
  });

  it('matches a plain-JS rank-1 simulation: losses, |θt−θ0|², dissipation, heat and both efficiencies', () => {
    const o: DeepLinearOptions = {
      inputDim: 5, width: 6, depth: 3, residual: true, beta0: 0.8, gamma0: 0.9, learningRate: 0.05, steps: 20, seeds: 2, seed: 4,
      logTimes: [0, 1, 7, 20], data: { spectrum: 'powerLaw', noise: 0.1 },
    };
    const r = deepLinearSync(o);
    const a = archOf(o);
    const { eigenvalues: lam, target } = r.data;
    const { D, N, L } = a;
    const c = a.residual ? a.beta0 / Math.sqrt(L) : 1;
    for (let s = 0; s < 2; s++) {
      const theta = deepLinearInit({ inputDim: D, width: N, depth: L, seed: 4, seedIndex: s }).params;
      const theta0 = Float64Array.from(theta);
      let diss = 0;
      const l0 = populationLoss(a, theta, lam, target, 0.1);
      for (let t = 0, li = 0; t <= 20; t++) {
        if (t === o.logTimes![li]) {
          const at = li * 2 + s;
          const lt = populationLoss(a, theta, lam, target, 0.1);
          expectClose([r.perSeed.loss.data[at], r.perSeed.dist2.data[at], r.perSeed.dissipation.data[at], r.perSeed.heat.data[at]],
            [lt, sq(theta, theta0), diss, l0 - lt], { rtol: 1e-10, atol: 1e-15 });
          li++;
        }
        if (t === 20) break;
        // the rank-1 gradients of THEORY §5.3
        const s1 = c / Math.sqrt(N);
        const us: number[][] = [];
        us[L] = Array.from(theta.subarray(theta.length - N));
        for (let l = L - 1; l >= 1; l--) {
          const off = N * D + (l - 1) * N * N;
          const u = new Array<number>(N).fill(0);
          for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) u[j] += s1 * theta[off + i * N + j] * us[l + 1][i];
          for (let j = 0; j < N; j++) u[j] += us[l + 1][j];
          us[l] = u;
        }
        const v = endToEnd(a, theta);
        const e = Array.from(v, (vk, k) => lam[k] * (vk - target[k]));
        const as: number[][] = [];
        as[1] = new Array<number>(N).fill(0);
        for (let i = 0; i < N; i++) for (let k = 0; k < D; k++) as[1][i] += theta[i * D + k] * e[k];
        for (let l = 1; l < L; l++) {
          const off = N * D + (l - 1) * N * N;
          as[l + 1] = as[l].slice();
          for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) as[l + 1][i] += s1 * theta[off + i * N + j] * as[l][j];
        }
        const g = new Float64Array(theta.length);
        const inv = 1 / (a.gamma * N);
        for (let i = 0; i < N; i++) for (let k = 0; k < D; k++) g[i * D + k] = inv * us[1][i] * e[k];
        for (let l = 1; l < L; l++) {
          const off = N * D + (l - 1) * N * N;
          for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) g[off + i * N + j] = inv * s1 * us[l + 1][i] * as[l][j];
        }
        for (let i = 0; i < N; i++) g[theta.length - N + i] = inv * as[L][i];
        for (let p = 0; p < theta.length; p++) {
          diss += (r.tensorLearningRate * g[p]) ** 2;
          theta[p] -= r.tensorLearningRate * g[p];
        }
      }
    }
    for (let i = 1; i < 4; i++) {
      const t = o.logTimes![i];
      expectClose([r.efficiency.loss[i], r.efficiency.kinematic[i]],
        [r.mean.dist2[i] / (r.tensorLearningRate * t * r.mean.heat[i]), r.mean.dist2[i] / (t * r.mean.dissipation[i])], { rtol: 1e-14 });
      expect(r.efficiency.kinematic[i]).toBeLessThanOrEqual(1 + 1e-12);
    }
    expect(Number.isNaN(r.efficiency.loss[0])).toBe(true);
    expectClose(r.loss, [0, 1, 2, 3].map((i) => (r.perSeed.loss.data[2 * i] + r.perSeed.loss.data[2 * i + 1]) / 2), { rtol: 1e-15 });
  });

  it("'fixed' and 'online' draw x = √λ∘z, y = w*ᵀx + σε from stream 2^62 + seed index (D + 1 draws per sample)", async () => {
    const base = { inputDim: 6, width: 5, depth: 2, learningRate: 0.05, steps: 1, keepParams: true, seed: 3,
      data: { spectrum: 'powerLaw' as const, noise: 0.3 } };
    const fixed = await deepLinear({ ...base, training: 'fixed', samples: 4 });
    const a = archOf(base);
    const theta = deepLinearInit({ inputDim: 6, width: 5, depth: 2, seed: 3 }).params;
    const v = endToEnd(a, theta);
    const z = random.normal({ seed: 3, stream: 1n << 62n, length: 4 * 7 });
    const { eigenvalues: lam, target } = fixed.data;
    let train = 0;
    for (let i = 0; i < 4; i++) {
      let r = 0;
      for (let k = 0; k < 6; k++) r += (v[k] - target[k]) * Math.sqrt(lam[k]) * z[i * 7 + k];
      r -= 0.3 * z[i * 7 + 6];
      train += r * r / 8;
    }
    expectClose([fixed.perSeed.trainLoss!.data[0]], [train], { rtol: 1e-12 });
    expect(fixed.trainLoss![1]).toBeLessThan(fixed.trainLoss![0]);
    expectClose([fixed.mean.heat[1]], [fixed.trainLoss![0] - fixed.trainLoss![1]], { rtol: 1e-9 }); // 'fixed' descends ℒ̂
    // online step 0 uses samples 0..B−1: with B = P its first step equals 'fixed'
    const online = await deepLinear({ ...base, training: 'online', batchSize: 4 });
    expect(Array.from(online.finalParams!.data)).toEqual(Array.from(fixed.finalParams!.data));
    expect(online.trainLoss).toBeUndefined();
  });

  it('default init equals deepLinearInit, and results do not depend on a given init being passed', () => {
    const o = { inputDim: 4, width: 7, depth: 2, learningRate: 0.1, steps: 5, seeds: 2, seed: 12, keepParams: true };
    const P = deepLinearNumParams(o);
    const init = new Float64Array(2 * P);
    init.set(deepLinearInit({ ...o, seedIndex: 0 }).params, 0);
    init.set(deepLinearInit({ ...o, seedIndex: 1 }).params, P);
    const a = deepLinearSync(o);
    const b = deepLinearSync({ ...o, init });
    expect(Array.from(b.finalParams!.data)).toEqual(Array.from(a.finalParams!.data));
    expect(Array.from(b.loss)).toEqual(Array.from(a.loss));
    expect(a.v0.rows).toBe(2);
    expect(a.v0.cols).toBe(4);
  });

  it('lazy limit: the deviation from the linearised dynamics shrinks with N (O9: 0.162 at N = 250, 0.056 at N = 1000)', async () => {
    const dev: number[] = [];
    for (const width of [250, 1000]) {
      const r = await deepLinear({
        inputDim: 100, width, depth: 2, parameterization: 'ntk', data: { spectrum: 'powerLaw', alpha: 1.5, b: 0.5 },
        learningRate: 0.3, steps: 300, seeds: 2, seed: 1, lazy: true, logTimes: [0, 1, 3, 10, 30, 100, 200, 300],
      });
      const lazy = r.lazy!;
      expectClose([lazy.kernel[0], lazy.constant[0]], [r.loss[0], r.loss[0]], { rtol: 1e-10 });
      for (const c of lazy.kernelCK) expect(Math.abs(c - 3)).toBeLessThan(0.6);
      dev.push((lazy.perSeedDeviation.kernel[0] + lazy.perSeedDeviation.kernel[1]) / 2);
    }
    expect(dev[1]).toBeLessThan(0.6 * dev[0]);
    expect(dev[1]).toBeLessThan(0.15);
  });

  it('μP: the population loss at t = 1000 improves monotonically with width (O9)', async () => {
    const o9 = [2.248e-3, 1.937e-3, 1.784e-3];
    let prev = Infinity;
    for (const [i, width] of [125, 250, 500].entries()) {
      const r = await deepLinear({
        inputDim: 200, width, depth: 1, gamma0: 1, data: { spectrum: 'powerLaw', alpha: 1.5, b: 0.5 }, learningRate: 0.2,
        steps: 1000, seeds: 4, logTimes: [0, 1000],
      });
      expect(r.loss[1]).toBeLessThan(prev);
      expect(Math.abs(r.loss[1] - o9[i])).toBeLessThan(0.12 * o9[i]);
      prev = r.loss[1];
    }
  });

  it('reports progress, aborts with an AbortError, and flags divergence', async () => {
    const seen: number[] = [];
    await deepLinear({ inputDim: 10, width: 8, depth: 2, learningRate: 0.1, steps: 50, onProgress: (p) => seen.push(p), progressInterval: 1 });
    expect(seen[seen.length - 1]).toBe(1);
    const ac = new AbortController();
    ac.abort();
    await expect(deepLinear({ inputDim: 10, width: 8, depth: 2, learningRate: 0.1, steps: 50, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    const ac2 = new AbortController();
    const p = deepLinear({ inputDim: 300, width: 400, depth: 3, learningRate: 0.01, steps: 1_000_000, signal: ac2.signal });
    setTimeout(() => ac2.abort(), 50);
    await expect(p).rejects.toBeInstanceOf(AbortError);
    const d = deepLinearSync({ inputDim: 10, width: 8, depth: 2, learningRate: 1e6, steps: 200, seeds: 2, logTimes: [0, 200] });
    expect(d.status).toBe('diverged');
    expect(d.diverged!.seed).toBe(0);
    expect(Number.isNaN(d.loss[1])).toBe(true);
  });

  it('rejects bad options with TypeError/RangeError naming the option', () => {
    const ok = { inputDim: 4, width: 5, depth: 2, learningRate: 0.1, steps: 3 };
    const bad: [Record<string, unknown>, RegExp, ErrorConstructor][] = [
      [{ inputDim: 0 }, /options\.inputDim/, RangeError],
      [{ width: 'wide' }, /options\.width/, TypeError],
      [{ depth: 1.5 }, /options\.depth/, RangeError],
      [{ learningRate: 0 }, /options\.learningRate/, RangeError],
      [{ steps: undefined }, /options\.steps/, TypeError],
      [{ parameterization: 'sp' }, /options\.parameterization/, RangeError],
      [{ gamma0: -1 }, /options\.gamma0/, RangeError],
      [{ beta0: 2 }, /options\.beta0 applies to residual/, RangeError],
      [{ residual: true, beta0: NaN }, /options\.beta0/, RangeError],
      [{ training: 'batch' }, /options\.training/, RangeError],
      [{ training: 'fixed' }, /options\.samples is required/, TypeError],
      [{ training: 'online' }, /options\.batchSize is required/, TypeError],
      [{ samples: 10 }, /options\.samples applies/, RangeError],
      [{ batchSize: 10 }, /options\.batchSize applies/, RangeError],
      [{ seeds: 0 }, /options\.seeds/, RangeError],
      [{ logTimes: [0, 9] }, /options\.logTimes\[1\]/, RangeError],
      [{ logTimes: [2, 1] }, /options\.logTimes must be strictly increasing/, RangeError],
      [{ init: new Float64Array(3) }, /options\.init must have/, RangeError],
      [{ init: [1, 2] }, /options\.init must be a Float64Array/, TypeError],
      [{ lazy: true, training: 'online', batchSize: 2 }, /options\.lazy applies/, RangeError],
      [{ data: { spectrum: 'flat' } }, /options\.data\.spectrum/, RangeError],
      [{ data: { alpha: 2 } }, /options\.data\.alpha and options\.data\.b apply/, RangeError],
      [{ data: { noise: -1 } }, /options\.data\.noise/, RangeError],
      [{ data: { eigenvalues: new Float64Array(3) } }, /options\.data\.eigenvalues must have 4/, RangeError],
      [{ data: { eigenvalues: new Float64Array(4) } }, /must not all be 0/, RangeError],
      [{ data: { target: new Float64Array([1, 2, NaN, 0]) } }, /options\.data\.target/, RangeError],
      [{ data: 7 }, /options\.data must be an object/, TypeError],
      [{ onProgress: 3 }, /options\.onProgress/, TypeError],
    ];
    for (const [patch, message, type] of bad) {
      const call = () => deepLinearSync({ ...ok, ...patch } as DeepLinearOptions);
      expect(call, JSON.stringify(patch)).toThrow(type);
      expect(call, JSON.stringify(patch)).toThrow(message);
    }
    expect(() => deepLinearSync(undefined as unknown as DeepLinearOptions)).toThrow(TypeError);
    expect(() => deepLinearInit({ inputDim: 2, width: 2, depth: 0 })).toThrow(/options\.depth/);
  });
});
