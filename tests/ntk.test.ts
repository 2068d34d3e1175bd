import { describe, expect, it } from 'vitest';
import {
  ACTIVATIONS, AbortError, createNetwork, fitExponents, linalg, ntk, ntkAnalytic, ntkAnalyticSync, ntkSync, powerLawFit, random, spectrum, spectrumSync,
  type Matrix, type NetSpec,
} from '../src/index.js';
import { expectClose, maxAbs, naiveGemm } from './support/reference.js';

const input = (n: number, d: number, seed: number): Matrix => ({ data: random.normal({ seed, length: n * d }), rows: n, cols: d });

/** Naive J Jᵀ from per-sample gradients: ∇½(f − y)² = ∇f when y = f − 1 (one output at a time). */
function naiveNtk(spec: NetSpec, x: Matrix): { K: Float64Array; theta: Float64Array } {
  const net = createNetwork(spec);
  const theta = net.init({ seed: 3 });
  const k = net.outputDim;
  const f = net.forward(theta, x);
  const rows: Float64Array[] = [];
  for (let i = 0; i < x.rows; i++) {
    const xi = { data: x.data.slice(i * x.cols, (i + 1) * x.cols), rows: 1, cols: x.cols };
    for (let a = 0; a < k; a++) {
      // y = f except output a, where y = f − 1: the loss gradient is exactly ∇f_a(x_i)
      const y = { data: f.data.slice(i * k, (i + 1) * k), rows: 1, cols: k };
      y.data[a] -= 1;
      rows.push(net.lossGradient(theta, xi, y).grad);
    }
  }
  const J = { data: new Float64Array(rows.length * net.numParams), rows: rows.length, cols: net.numParams };
  rows.forEach((r, i) => J.data.set(r, i * net.numParams));
  return { K: naiveGemm(J, J, false, true), theta };
}

describe('networks', () => {
  it('layout follows PyTorch order and shapes', () => {
    const net = createNetwork({ type: 'fcn', inputDim: 5, widths: [7, 4], outputDim: 3, activation: 'tanh' });
    expect(net.layout.map((t) => [t.name, t.shape])).toEqual([
      ['W1', [7, 5]], ['b1', [7]], ['W2', [4, 7]], ['b2', [4]], ['W_out', [3, 4]], ['b_out', [3]],
    ]);
    expect(net.numParams).toBe(35 + 7 + 28 + 4 + 12 + 3);
    const cnn = createNetwork({ type: 'cnn', inputShape: [2, 5, 5], channels: [4], outputDim: 1, activation: 'relu', bias: false });
    expect(cnn.layout.map((t) => [t.name, t.shape])).toEqual([['conv1.W', [4, 2, 3, 3]], ['W_out', [1, 4]]]);
    expect(cnn.inputSize).toBe(50);
  });
  it('init is the engine stream: parameter p is normal draw p of (seed, stream) in the ntk parameterisation', () => {
    const net = createNetwork({ type: 'fcn', inputDim: 4, widths: [6], outputDim: 2, activation: 'erf' });
    const theta = net.init({ seed: 11, stream: 2 });
    expect(theta).toEqual(random.normal({ seed: 11, stream: 2, length: net.numParams }));
    expect(net.init({ seed: 11, stream: 3 })).not.toEqual(theta);
  });
  it('forward matches a hand computation (2-2-1 relu FCN, ntk scaling)', () => {
    const net = createNetwork({ type: 'fcn', inputDim: 2, widths: [2], outputDim: 1, activation: 'relu', sigmaW: 2, sigmaB: 0.5 });
    // W1 = [[1, -1], [2, 0.5]], b1 = [0.1, -0.2], W_out = [[1, -2]], b_out = [0.3]
    const theta = new Float64Array([1, -1, 2, 0.5, 0.1, -0.2, 1, -2, 0.3]);
    const x = { data: new Float64Array([0.4, -0.6]), rows: 1, cols: 2 };
    const s = 2 / Math.SQRT2;
    const h = [Math.max(0, s * (0.4 + 0.6) + 0.5 * 0.1), Math.max(0, s * (0.8 - 0.3) - 0.5 * 0.2)];
    const expected = s * (h[0] - 2 * h[1]) + 0.5 * 0.3;
    expectClose(net.forward(theta, x).data, [expected], { rtol: 1e-15 });
  });
  it('rejects bad specs and inputs naming the field', () => {
    const base = { type: 'fcn', inputDim: 3, widths: [4], outputDim: 1, activation: 'relu' } as const;
    expect(() => createNetwork({ ...base, activation: 'swish' as never })).toThrow(/spec\.activation must be one of 'relu'/);
    expect(() => createNetwork({ ...base, widths: [4, 0] })).toThrow(/spec\.widths\[1\] must be an integer in \[1/);
    expect(() => createNetwork({ ...base, inputDim: 0 })).toThrow(/spec\.inputDim/);
    expect(() => createNetwork({ ...base, type: 'rnn' as never })).toThrow(/spec\.type must be one of 'fcn', 'cnn'/);
    expect(() => createNetwork({ ...base, sigmaW: -1 })).toThrow(/spec\.sigmaW must be > 0/);
    expect(() => createNetwork({ type: 'cnn', inputShape: [3, 8, 8], channels: [4], outputDim: 1, activation: 'relu', kernel: 5 as 3 })).toThrow(/spec\.kernel must be 3/);
    expect(() => createNetwork({ type: 'cnn', inputShape: [3, 8] as never, channels: [4], outputDim: 1, activation: 'relu' })).toThrow(/spec\.inputShape must be \[C, H, W\]/);
    const net = createNetwork(base);
    const theta = net.init({ seed: 1 });
    expect(() => net.forward(theta.subarray(1), input(2, 3, 1))).toThrow(/params must have 21 entries/);
    expect(() => net.forward(theta, input(2, 4, 1))).toThrow(/x must have 3 columns, got 4/);
    expect(() => net.forward(theta, { data: new Float64Array([1, NaN, 0]), rows: 1, cols: 3 })).toThrow(/x must contain only finite values/);
    expect(() => net.forward(theta, { data: new Float64Array(0), rows: 0, cols: 3 })).toThrow(/at least one row/);
    expect(() => net.lossGradient(theta, input(2, 3, 1), input(3, 1, 2))).toThrow(/y must have 2 rows/);
    expect(() => net.init({ seed: -1 })).toThrow(/seed/);
  });
});

describe('empirical NTK', () => {
  const fcn = (activation: (typeof ACTIVATIONS)[number], parameterization: 'ntk' | 'standard', k: number): NetSpec =>
    ({ type: 'fcn', inputDim: 4, widths: [6, 5], outputDim: k, activation, parameterization, sigmaW: 1.3, sigmaB: 0.4 });
  it('equals J Jᵀ from per-sample gradients (every activation, both parameterisations, k = 1 and 3) to 1e-10', () => {
    const x = input(5, 4, 21);
    for (const act of ACTIVATIONS)
      for (const par of ['ntk', 'standard'] as const)
        for (const k of [1, 3]) {
          const spec = fcn(act, par, k);
          const { K, theta } = naiveNtk(spec, x);
          const net = createNetwork(spec);
          const got = ntkSync(net, theta, x);
          expect(got.rows).toBe(5 * k);
          expectClose(got.data, K, { rtol: 1e-10, atol: 1e-12 * maxAbs(K) });
        }
  });
  it('CNN: equals J Jᵀ; symmetric and PSD; trace mode averages the output blocks', async () => {
    const spec: NetSpec = { type: 'cnn', inputShape: [2, 4, 4], channels: [3, 2], outputDim: 2, activation: 'gelu', sigmaB: 0.2 };
    const x = input(3, 32, 5);
    const { K, theta } = naiveNtk(spec, x);
    const net = createNetwork(spec);
    const full = await ntk(net, theta, x);
    expectClose(full.data, K, { rtol: 1e-10, atol: 1e-12 * maxAbs(K) });
    const n = full.rows;
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(full.data[i * n + j]).toBe(full.data[j * n + i]);
    const { values } = linalg.eighSync(full);
    expect(values[0]).toBeGreaterThan(-1e-10 * values[n - 1]);
    const tr = ntkSync(net, theta, x, null, { outputs: 'trace' });
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++)
        expect(tr.data[i * 3 + j]).toBeCloseTo(0.5 * (full.data[(2 * i) * 6 + 2 * j] + full.data[(2 * i + 1) * 6 + 2 * j + 1]), 12);
  });
  it('rectangular x1, x2 blocks agree with the symmetric kernel; float32 matches float64 to 1e-4', () => {
    const net = createNetwork(fcn('tanh', 'ntk', 1));
    const theta = net.init({ seed: 4 });
    const x = input(6, 4, 8);
    const K = ntkSync(net, theta, x);
    const top = { data: x.data.slice(0, 8), rows: 2, cols: 4 };
    const R = ntkSync(net, theta, top, x);
    expectClose(R.data, K.data.slice(0, 12), { rtol: 1e-12, atol: 1e-14 });
    const K32 = ntkSync(net, Float32Array.from(theta), { data: Float32Array.from(x.data), rows: 6, cols: 4 });
    expect(K32.data).toBeInstanceOf(Float32Array);
    expectClose(K32.data, K.data, { rtol: 1e-4, atol: 1e-5 * maxAbs(K.data) });
  });
  it('runs off the event loop, can be aborted, rejects bad input', async () => {
    const net = createNetwork({ type: 'fcn', inputDim: 64, widths: [512, 512], outputDim: 1, activation: 'relu' });
    const theta = net.init({ seed: 1 });
    await expect(ntk(net, theta, input(8, 64, 1), null, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    await expect(ntk({} as never, theta, input(8, 64, 1))).rejects.toThrow(/net must be a Network/);
    await expect(ntk(net, theta, input(8, 64, 1), input(2, 63, 1))).rejects.toThrow(/x2 must have 64 columns/);
    await expect(ntk(net, theta, input(8, 64, 1), null, { outputs: 'diag' as never })).rejects.toThrow(/options\.outputs must be one of 'full', 'trace'/);
  });
});

describe('analytic kernels, spectra, power laws', () => {
  const spec = (width: number): NetSpec => ({ type: 'fcn', inputDim: 16, widths: [width, width], outputDim: 1, activation: 'relu', sigmaW: Math.SQRT2, sigmaB: 0.1 });
  const x = input(8, 16, 77);
  const frob = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let num = 0, den = 0;
    for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
    return Math.sqrt(num / den);
  };
  it('the empirical NTK approaches the analytic one as the width grows (depth-2 ReLU)', async () => {
    const { ntk: K } = await ntkAnalytic(spec(1), x);
    const err = (w: number) => {
      let e = 0;
      for (const seed of [1, 2, 3]) {
        const net = createNetwork(spec(w));
        e += frob(ntkSync(net, net.init({ seed }), x).data, K.data) / 3;
      }
      return e;
    };
    const e64 = err(64);
    const e2048 = err(2048);
    expect(e2048).toBeLessThan(0.1);
    expect(e2048).toBeLessThan(e64 / 2.5); // ~ width^(−1/2): √32 ≈ 5.7 in expectation
  });
  it('is symmetric and PSD; cross blocks match; rejects the standard parameterisation', () => {
    const { ntk: K, nngp } = ntkAnalyticSync(spec(1), x);
    for (let i = 0; i < 8; i++) for (let j = 0; j < i; j++) { expect(K.data[i * 8 + j]).toBe(K.data[j * 8 + i]); expect(nngp.data[i * 8 + j]).toBe(nngp.data[j * 8 + i]); }
    expect(spectrumSync(K).values[7]).toBeGreaterThan(0);
    const top = { data: x.data.slice(0, 32), rows: 2, cols: 16 };
    expectClose(ntkAnalyticSync(spec(1), top, x).ntk.data, K.data.slice(0, 16), { rtol: 1e-12 });
    expect(() => ntkAnalyticSync({ ...spec(1), parameterization: 'standard' }, x)).toThrow(/spec\.parameterization must be 'ntk'/);
    expect(() => ntkAnalyticSync({ type: 'cnn', inputShape: [1, 40, 40], channels: [2], outputDim: 1, activation: 'relu' }, input(1, 1600, 1))).toThrow(/at most 32×32/);
  });
  it('spectrum: recovers Q·diag(λ)·Qᵀ, projections sum to 1, warns on negative eigenvalues', async () => {
    const n = 30;
    const v = random.normal({ seed: 9, length: n });
    const vv = v.reduce((s, t) => s + t * t, 0);
    const lam = Array.from({ length: n }, (_, k) => (k + 1) ** -1.5);
    const K = { data: new Float64Array(n * n), rows: n, cols: n };
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < n; p++) s += ((i === p ? 1 : 0) - (2 * v[i] * v[p]) / vv) * lam[p] * ((j === p ? 1 : 0) - (2 * v[j] * v[p]) / vv);
        K.data[i * n + j] = s;
      }
    const y = random.normal({ seed: 10, length: n });
    const s = await spectrum(K, { y, vectors: true });
    expectClose(s.values, lam, { rtol: 1e-10, atol: 1e-14 });
    expectClose([s.projections!.reduce((a, b) => a + b, 0)], [1], { rtol: 1e-12 });
    expect(s.vectors!.rows).toBe(n);
    expect(s.warning).toBeUndefined();
    const fit = powerLawFit(s.values, { range: [1, n] });
    expectClose([fit.exponent, fit.prefactor, fit.r2], [1.5, 1, 1], { rtol: 1e-8 });
    const bad = spectrumSync({ data: new Float64Array([1, 2, 2, 1]), rows: 2, cols: 2 });
    expect(bad.negativeCount).toBe(1);
    expect(bad.warning).toMatch(/not positive semidefinite/);
  });
  it('fitExponents: exact synthetic α = 1.5 and β (per-mode) = 1.2', () => {
    const n = 200;
    const values = Float64Array.from({ length: n }, (_, k) => (k + 1) ** -1.5);
    const raw = Array.from({ length: n }, (_, k) => (k + 1) ** -1.2);
    const total = raw.reduce((a, b) => a + b, 0);
    const p = Float64Array.from(raw, (r) => r / total);
    const e = fitExponents(values, p);
    expectClose([e.alpha.exponent, e.beta.exponent], [1.5, 1.2], { rtol: 1e-10 });
    expectClose([e.nu], [(1 + 1.5 - 1.2) / 1.5], { rtol: 1e-10 });
    expect(() => fitExponents(values, p.subarray(1))).toThrow(/projections must have 200 entries/);
    expect(() => powerLawFit(values, { range: [5, 2] })).toThrow(/options\.range\[1\]/);
    expect(() => spectrumSync({ data: new Float64Array([1, NaN, 0, 1]), rows: 2, cols: 2 })).toThrow(/K must contain only finite values/);
    expect(() => spectrumSync(input(2, 2, 1), { y: new Float64Array(2) })).toThrow(/options\.y must not be all zeros/);
  });
});
