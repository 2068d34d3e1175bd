import { describe, expect, it } from 'vitest';
import {
  costMatrix, costMatrixSync, fromRows, random, sinkhorn, sinkhornDivergence, sinkhornSync, sinkhornSymmetric,
  w2Exact1D, w2Exact1DSync, w2Gaussian, w2GaussianSamples, w2GaussianSamplesSync, w2GaussianSync, AbortError, emd, emdSync,
  type Matrix,
} from '../src/index.js';
import { bruteForceAssignment, naiveSinkhorn, quantileW2 } from './support/ot-reference.js';
import { expectClose } from './support/reference.js';

function cloud(n: number, d: number, seed: number, shift = 0, scale = 1): Matrix {
  const z = random.normal({ seed, length: n * d });
  for (let i = 0; i < z.length; i++) z[i] = z[i] * scale + shift;
  return { data: z, rows: n, cols: d };
}
const uniform = (n: number) => new Float64Array(n).fill(1 / n);
const maxOf = (x: ArrayLike<number>) => Array.prototype.reduce.call(x, (m: number, v: number) => Math.max(m, v), 0) as number;

/** |x_i − y_j|² by the difference form, in double. */
function naiveCost(x: Matrix<Float64Array | Float32Array>, y: Matrix<Float64Array | Float32Array>): Float64Array {
  const C = new Float64Array(x.rows * y.rows);
  for (let i = 0; i < x.rows; i++)
    for (let j = 0; j < y.rows; j++) {
      let s = 0;
      for (let k = 0; k < x.cols; k++) {
        const dlt = x.data[i * x.cols + k] - y.data[j * y.cols + k];
        s += dlt * dlt;
      }
      C[i * y.rows + j] = s;
    }
  return C;
}

describe('costMatrix', () => {
  it('matches the difference form to 1e-12 for clouds offset by 1e3 (fp64)', async () => {
    const x = cloud(37, 300, 1, 1e3);
    const y = cloud(29, 300, 2, 1e3 + 0.5);
    const ref = naiveCost(x, y);
    expectClose((await costMatrix(x, y)).data, ref, { rtol: 1e-12, atol: 0 });
    expectClose(costMatrixSync(x, y).data, ref, { rtol: 1e-12, atol: 0 });
  });

  it('matches to 1e-5 in fp32 with centring (float32 storage, offset 1e3)', () => {
    const x = cloud(30, 64, 3, 1e3);
    const y = cloud(20, 64, 4, 1e3);
    const x32 = { data: Float32Array.from(x.data), rows: 30, cols: 64 };
    const y32 = { data: Float32Array.from(y.data), rows: 20, cols: 64 };
    const C = costMatrixSync(x32, y32);
    expect(C.data).toBeInstanceOf(Float32Array);
    expectClose(C.data, naiveCost(x32, y32), { rtol: 1e-5, atol: 0 });
  });

  it('is exactly symmetric with a zero diagonal for a cloud against itself', () => {
    const x = cloud(40, 7, 5, 100);
    const C = costMatrixSync(x);
    for (let i = 0; i < 40; i++) {
      expect(C.data[i * 40 + i]).toBe(0);
      for (let j = 0; j < i; j++) expect(C.data[i * 40 + j]).toBe(C.data[j * 40 + i]);
    }
    expectClose(costMatrixSync(x, x).data, naiveCost(x, x), { rtol: 1e-12, atol: 1e-9 });
  });

  it('rejects bad input naming the argument', () => {
    const x = cloud(3, 2, 1);
    expect(() => costMatrixSync(x, cloud(3, 4, 2))).toThrow(/costMatrixSync: x has 2 features but y has 4/);
    expect(() => costMatrixSync({ data: new Float64Array(0), rows: 0, cols: 2 }, x)).toThrow(/must not be empty/);
    expect(() => costMatrixSync(fromRows([[1, NaN]]), x)).toThrow(/x must contain only finite values, got NaN at \(0, 1\)/);
    expect(() => costMatrixSync(x, { data: new Float32Array(6), rows: 3, cols: 2 } as unknown as Matrix)).toThrow(/same dtype/);
    expect(() => costMatrixSync(x, x, { center: 'yes' as unknown as boolean })).toThrow(/options\.center must be a boolean/);
    expect(() => costMatrixSync([1, 2] as unknown as Matrix)).toThrow(TypeError);
  });
});

describe('sinkhorn (log domain)', () => {
  const x = cloud(30, 3, 11);
  const y = cloud(24, 3, 12, 1);
  const C = costMatrixSync(x, y);
  const cmax = maxOf(C.data);
  const a = uniform(30);
  const wb = new Float64Array(24).map((_, j) => 1 + (j % 3));
  const bsum = wb.reduce((s, v) => s + v, 0);
  const b = wb.map((v) => v / bsum);

  it('matches a naive dense Sinkhorn to 1e-9 relative at ε = 1e-2·max C', async () => {
    const eps = 1e-2 * cmax;
    const ref = naiveSinkhorn(C, a, b, eps, 1e-13);
    const r = await sinkhorn(C, { a, b, epsilon: eps, tol: 1e-12 });
    expect(r.converged).toBe(true);
    expectClose([r.objective, r.transportCost], [ref.objective, ref.transportCost], { rtol: 1e-9 });
    // the potentials are unique up to a constant shift (f + c, g − c)
    const shift = r.f[0] - ref.f[0];
    expectClose(r.f.map((v) => v - shift), ref.f, { rtol: 1e-8, atol: 1e-8 * cmax });
    expectClose(r.g.map((v) => v + shift), ref.g, { rtol: 1e-8, atol: 1e-8 * cmax });
  });

  it('returns a plan with the right marginals and cost', () => {
    const r = sinkhornSync(C, { a, b, epsilon: 0.05 * cmax, returnPlan: true });
    const P = r.plan!;
    const rows = new Float64Array(30);
    const cols = new Float64Array(24);
    let cost = 0;
    for (let i = 0; i < 30; i++)
      for (let j = 0; j < 24; j++) {
        rows[i] += P.data[i * 24 + j];
        cols[j] += P.data[i * 24 + j];
        cost += P.data[i * 24 + j] * C.data[i * 24 + j];
      }
    expectClose(rows, a, { rtol: 1e-12, atol: 1e-15 });
    expect(cols.reduce((s, v, j) => s + Math.abs(v - b[j]), 0)).toBeLessThan(1e-9);
    expectClose([cost], [r.transportCost], { rtol: 1e-12 });
    // OT_ε ≥ ⟨P,C⟩ (KL ≥ 0) and the dual value equals ⟨a,f⟩ + ⟨b,g⟩
    expect(r.objective).toBeGreaterThanOrEqual(r.transportCost - 1e-12);
  });

  it('converges at ε = 1e-3·max C and 1e-4·max C with marginal error ≤ 1e-9 and finite values', async () => {
    const cases: [Matrix, number][] = [
      [costMatrixSync(cloud(50, 3, 1), cloud(40, 3, 2, 1)), 1e-3],
      [costMatrixSync(cloud(20, 3, 1), cloud(20, 3, 2, 1)), 1e-4],
      [costMatrixSync(cloud(100, 2, 7), cloud(80, 2, 8, 2)), 1e-4],
      [costMatrixSync(cloud(60, 5, 7), cloud(60, 5, 8, 3)), 1e-4], // needs the Newton polish
      [costMatrixSync(cloud(40, 8, 3), cloud(40, 8, 4, 0.5)), 1e-4],
    ];
    for (const [Cm, rel] of cases) {
      const r = await sinkhorn(Cm, { epsilon: rel * maxOf(Cm.data), maxIter: 50000 });
      expect(r.converged).toBe(true);
      expect(r.marginalError).toBeLessThanOrEqual(1e-9);
      expect(Number.isFinite(r.objective) && Number.isFinite(r.transportCost)).toBe(true);
      expect(r.f.every(Number.isFinite) && r.g.every(Number.isFinite)).toBe(true);
    }
  });

  it('approaches the exact assignment cost as ε → 0 (brute force, n = 6)', () => {
    const Cm = costMatrixSync(cloud(6, 2, 21), cloud(6, 2, 22));
    const exact = bruteForceAssignment(Cm);
    const r = sinkhornSync(Cm, { epsilon: 1e-4 * maxOf(Cm.data), maxIter: 100000 });
    expect(r.converged).toBe(true);
    expect(r.transportCost).toBeGreaterThanOrEqual(exact - 1e-9);
    expect(r.transportCost - exact).toBeLessThan(1e-3 * exact);
  });

  it('warm start from a converged solution converges immediately; Float32 C works', () => {
    const r1 = sinkhornSync(C, { a, b, epsilon: 0.02 * cmax });
    const r2 = sinkhornSync(C, { a, b, epsilon: 0.02 * cmax, warmStart: { f: r1.f, g: r1.g } });
    expect(r2.iterations).toBeLessThanOrEqual(2);
    expectClose([r2.objective], [r1.objective], { rtol: 1e-10 });
    const C32 = { data: Float32Array.from(C.data), rows: C.rows, cols: C.cols };
    const r3 = sinkhornSync(C32, { a, b, epsilon: 0.02 * cmax });
    expectClose([r3.objective], [r1.objective], { rtol: 1e-6 });
  });

  it('Newton polish: the same solution as plain Sinkhorn where both converge', () => {
    const Cm = costMatrixSync(cloud(60, 5, 17), cloud(50, 5, 18, 1));
    const eps = 1e-3 * maxOf(Cm.data);
    const withNewton = sinkhornSync(Cm, { epsilon: eps, maxIter: 100000 });
    const plain = sinkhornSync(Cm, { epsilon: eps, maxIter: 100000, newton: false });
    expect(withNewton.converged && plain.converged).toBe(true);
    expectClose([withNewton.objective, withNewton.transportCost], [plain.objective, plain.transportCost], { rtol: 1e-9 });
  });

  it('reports non-convergence instead of throwing', () => {
    const r = sinkhornSync(C, { a, b, epsilon: 1e-3 * cmax, maxIter: 3, epsilonScaling: false });
    expect(r.converged).toBe(false);
    expect(r.iterations).toBe(3);
    expect(r.marginalError).toBeGreaterThan(1e-9);
  });

  it('can be aborted and reports progress', async () => {
    const Cm = costMatrixSync(cloud(300, 3, 1), cloud(300, 3, 2));
    const ctl = new AbortController();
    const seen: number[] = [];
    const p = sinkhorn(Cm, { epsilon: 1e-5 * maxOf(Cm.data), maxIter: 1e7, signal: ctl.signal, onProgress: (f) => seen.push(f), progressInterval: 5 });
    setTimeout(() => ctl.abort(), 100);
    await expect(p).rejects.toBeInstanceOf(AbortError);
    await expect(sinkhorn(Cm, { epsilon: 1, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });
    expect(seen.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('rejects bad input naming the argument', async () => {
    expect(() => sinkhornSync(C, { epsilon: 0 })).toThrow(/sinkhornSync: options\.epsilon must be > 0, got 0/);
    expect(() => sinkhornSync(C, { epsilon: -1 })).toThrow(RangeError);
    expect(() => sinkhornSync(C, { epsilon: NaN })).toThrow(/options\.epsilon must be finite/);
    expect(() => sinkhornSync(C, undefined as never)).toThrow(/options \{ epsilon \} are required/);
    expect(() => sinkhornSync(C, { epsilon: 1, a: uniform(29) })).toThrow(/options\.a must have 30 entries, got 29/);
    expect(() => sinkhornSync(C, { epsilon: 1, a: new Float64Array(30).fill(0.5) })).toThrow(/options\.a must sum to 1/);
    const neg = uniform(24);
    neg[0] = -neg[0];
    neg[1] += 2 / 24;
    expect(() => sinkhornSync(C, { epsilon: 1, b: neg })).toThrow(/options\.b must be non-negative/);
    const nan = uniform(24);
    nan[3] = NaN;
    expect(() => sinkhornSync(C, { epsilon: 1, b: nan })).toThrow(/options\.b must contain only finite values/);
    const Cbad = { data: Float64Array.from(C.data), rows: C.rows, cols: C.cols };
    Cbad.data[5] = Infinity;
    expect(() => sinkhornSync(Cbad, { epsilon: 1 })).toThrow(/C must contain only finite values, got Infinity/);
    expect(() => sinkhornSync({ data: new Float64Array(0), rows: 0, cols: 0 }, { epsilon: 1 })).toThrow(/C must not be empty/);
    expect(() => sinkhornSync(C, { epsilon: 1, tol: 0 })).toThrow(/options\.tol must be > 0/);
    expect(() => sinkhornSync(C, { epsilon: 1, maxIter: 0 })).toThrow(/options\.maxIter must be an integer/);
    expect(() => sinkhornSync(C, { epsilon: 1, epsilonScaling: { factor: 2 } })).toThrow(/epsilonScaling\.factor/);
    expect(() => sinkhornSync(C, { epsilon: 1, warmStart: { f: new Float64Array(2), g: new Float64Array(24) } })).toThrow(/warmStart\.f must have 30 entries/);
    await expect(sinkhorn(C, { epsilon: 1, signal: 'x' as unknown as AbortSignal })).rejects.toThrow(/options\.signal must be an AbortSignal/);
  });
});

describe('sinkhornDivergence', () => {
  const x = cloud(25, 4, 31);
  const y = cloud(20, 4, 32, 0.7);
  it('is 0 for identical clouds, positive and symmetric otherwise', async () => {
    const same = await sinkhornDivergence(x, x, { epsilon: 1 });
    expect(Math.abs(same.divergence)).toBeLessThan(1e-9);
    const d1 = await sinkhornDivergence(x, y, { epsilon: 1 });
    const d2 = await sinkhornDivergence(y, x, { epsilon: 1 });
    expect(d1.divergence).toBeGreaterThan(0);
    expectClose([d1.divergence], [d2.divergence], { rtol: 1e-8 });
    expect(d1.converged).toBe(true);
  });
  it('uses the symmetric solver for OT(a,a): agrees with plain Sinkhorn', async () => {
    const Cxx = costMatrixSync(x);
    const sym = await sinkhornSymmetric(Cxx, { epsilon: 2 });
    const plain = sinkhornSync(Cxx, { epsilon: 2 });
    expectClose([sym.objective], [plain.objective], { rtol: 1e-8 });
  });
  it('approaches W2² of a translation for small ε (shifted copies)', async () => {
    const shifted = { data: x.data.map((v, i) => v + (i % 4 === 0 ? 2 : 0)), rows: 25, cols: 4 };
    const d = await sinkhornDivergence(x, shifted, { epsilon: 0.05 });
    expect(Math.abs(d.divergence - 4) / 4).toBeLessThan(0.02);
  });
});

describe('w2Gaussian', () => {
  it('THEORY.md O5: W2² = 1.5166852265', async () => {
    const r = await w2Gaussian(new Float64Array([0, 0]), fromRows([[2, 1], [1, 2]]), new Float64Array([1, 0]), fromRows([[1, 0], [0, 3]]));
    expectClose([r.w2sq, r.meanTerm], [1.5166852265, 1], { rtol: 1e-10 });
    expectClose([r.meanTerm + r.covTerm], [r.w2sq], { rtol: 1e-15 });
  });
  it('is 0 for identical Gaussians and symmetric; matches the commuting closed form', () => {
    const d = 30;
    const B = cloud(d, d, 9);
    const S = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) { let s = 0; for (let k = 0; k < d; k++) s += B.data[i * d + k] * B.data[j * d + k]; S[i * d + j] = s + (i === j ? 0.1 : 0); }
    const C1 = { data: S, rows: d, cols: d };
    const m = new Float64Array(d).fill(3);
    expect(w2GaussianSync(m, C1, m, C1).w2sq).toBeLessThan(1e-10 * d);
    // diagonal covariances commute: W2² = Σ (√σ1 − √σ2)²
    const s1 = Array.from({ length: d }, (_, i) => 1 + i);
    const s2 = Array.from({ length: d }, (_, i) => 2 + 0.5 * i);
    const D1 = { data: new Float64Array(d * d), rows: d, cols: d };
    const D2 = { data: new Float64Array(d * d), rows: d, cols: d };
    for (let i = 0; i < d; i++) { D1.data[i * d + i] = s1[i]; D2.data[i * d + i] = s2[i]; }
    const expected = s1.reduce((acc, v, i) => acc + (Math.sqrt(v) - Math.sqrt(s2[i])) ** 2, 0);
    expectClose([w2GaussianSync(m, D1, m, D2).w2sq], [expected], { rtol: 1e-11 });
    expectClose([w2GaussianSync(m, C1, m, D2).w2sq], [w2GaussianSync(m, D2, m, C1).w2sq], { rtol: 1e-9 });
  });
  it('handles a semidefinite C1 through the clamped eigen route', () => {
    // C1 rank 1: W2² to itself is 0, and to diag(1, 1) follows the commuting formula
    const C1 = fromRows([[1, 1], [1, 1]]);
    const m = new Float64Array(2);
    expect(w2GaussianSync(m, C1, m, C1).w2sq).toBeLessThan(1e-12);
    // eigenbasis of C1: values 2, 0; C2 = I: W2² = (√2 − 1)² + (0 − 1)²
    expectClose([w2GaussianSync(m, C1, m, fromRows([[1, 0], [0, 1]])).w2sq], [(Math.SQRT2 - 1) ** 2 + 1], { rtol: 1e-12 });
  });
  it('rejects non-PSD, non-symmetric and mismatched covariances naming the argument', () => {
    const m = new Float64Array(2);
    const I = fromRows([[1, 0], [0, 1]]);
    expect(() => w2GaussianSync(m, fromRows([[1, 2], [2, 1]]), m, I)).toThrow(/C1 is not positive semidefinite/);
    expect(() => w2GaussianSync(m, I, m, fromRows([[1, 2], [2, 1]]))).toThrow(/C2 is not positive semidefinite/);
    expect(() => w2GaussianSync(m, fromRows([[1, 0.5], [0, 1]]), m, I)).toThrow(/C1 must be symmetric/);
    expect(() => w2GaussianSync(new Float64Array(3), I, m, I)).toThrow(/m2 must have 3 entries/);
    expect(() => w2GaussianSync(m, I, m, fromRows([[1]]))).toThrow(/C2 must have 2 rows/);
    expect(() => w2GaussianSync(new Float64Array([NaN, 0]), I, m, I)).toThrow(/m1 must contain only finite values/);
    expect(() => w2GaussianSync(m, fromRows([[1, 0], [0, Infinity]]), m, I)).toThrow(RangeError);
  });
});

describe('w2GaussianSamples', () => {
  function moments(x: Matrix, unbiased = false) {
    const { rows: M, cols: P } = x;
    const mean = new Float64Array(P);
    for (let i = 0; i < M; i++) for (let k = 0; k < P; k++) mean[k] += x.data[i * P + k] / M;
    const C = new Float64Array(P * P);
    for (let i = 0; i < M; i++)
      for (let k = 0; k < P; k++) for (let l = 0; l < P; l++) C[k * P + l] += (x.data[i * P + k] - mean[k]) * (x.data[i * P + l] - mean[l]) / (unbiased ? M - 1 : M);
    return { mean, C: { data: C, rows: P, cols: P } };
  }
  it('agrees with the full-rank route (M > P) and with the eigen route when M < P', async () => {
    for (const [M, N, P] of [[40, 30, 5], [4, 6, 10], [3, 3, 50]]) {
      const x = cloud(M, P, M + P, 1e3);
      const y = cloud(N, P, N + 2 * P, 1e3 + 0.3, 1.5);
      const mx = moments(x);
      const my = moments(y);
      const full = w2GaussianSync(mx.mean, mx.C, my.mean, my.C);
      const samp = await w2GaussianSamples(x, y);
      expectClose([samp.w2sq, samp.meanTerm], [full.w2sq, full.meanTerm], { rtol: 1e-8, atol: 1e-10 });
    }
  });
  it('unbiased option, identical clouds give 0, float32 input', () => {
    const x = cloud(12, 20, 1);
    const y = cloud(15, 20, 2, 0.2);
    const mx = moments(x, true);
    const my = moments(y, true);
    expectClose([w2GaussianSamplesSync(x, y, { unbiased: true }).w2sq], [w2GaussianSync(mx.mean, mx.C, my.mean, my.C).w2sq], { rtol: 1e-8 });
    expect(w2GaussianSamplesSync(x, x).w2sq).toBeLessThan(1e-10);
    const x32 = { data: Float32Array.from(x.data), rows: 12, cols: 20 };
    const y32 = { data: Float32Array.from(y.data), rows: 15, cols: 20 };
    const r64 = w2GaussianSamplesSync({ data: Float64Array.from(x32.data), rows: 12, cols: 20 }, { data: Float64Array.from(y32.data), rows: 15, cols: 20 });
    expectClose([w2GaussianSamplesSync(x32, y32).w2sq], [r64.w2sq], { rtol: 1e-12 });
  });
  it('weighted moments', () => {
    const x = cloud(3, 2, 5);
    const w = new Float64Array([0.5, 0.25, 0.25]);
    // duplicate the first point: uniform weights over 4 points equal weights (1/2, 1/4, 1/4)
    const dup = { data: new Float64Array([...x.data.subarray(0, 2), ...x.data]), rows: 4, cols: 2 };
    const y = cloud(5, 2, 6);
    expectClose([w2GaussianSamplesSync(x, y, { a: w }).w2sq], [w2GaussianSamplesSync(dup, y).w2sq], { rtol: 1e-10 });
  });
  it('rejects bad input naming the argument', () => {
    const x = cloud(3, 4, 1);
    expect(() => w2GaussianSamplesSync(x, cloud(3, 5, 2))).toThrow(/x has 4 features but y has 5/);
    expect(() => w2GaussianSamplesSync(x, x, { a: uniform(2) })).toThrow(/options\.a must have 3 entries/);
    expect(() => w2GaussianSamplesSync(cloud(1, 4, 1), x, { unbiased: true })).toThrow(/at least 2 points/);
  });
  it('sync and async agree; can be aborted', async () => {
    const x = cloud(8, 5000, 91, 3);
    const y = cloud(9, 5000, 92, 3.1);
    const r = await w2GaussianSamples(x, y);
    expectClose([w2GaussianSamplesSync(x, y).w2sq], [r.w2sq], { rtol: 1e-13 });
    await expect(w2GaussianSamples(x, y, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });
});

describe('w2Exact1D', () => {
  it('matches the quantile integral for weighted samples and returns a monotone plan', async () => {
    const x = random.normal({ seed: 1, length: 17 });
    const y = random.uniform({ seed: 2, length: 11 });
    const a = random.uniform({ seed: 3, length: 17 });
    const b = random.uniform({ seed: 4, length: 11 });
    const sa = a.reduce((s, v) => s + v, 0);
    const sb = b.reduce((s, v) => s + v, 0);
    a.forEach((v, i) => (a[i] = v / sa));
    b.forEach((v, i) => (b[i] = v / sb));
    // renormalise exactly enough for the 1e-12 check
    const r = await w2Exact1D(x, y, { a, b, returnPlan: true });
    expectClose([r.cost], [quantileW2(x, a, y, b)], { rtol: 1e-12 });
    const plan = r.plan!;
    expect(plan.mass.length).toBeLessThanOrEqual(17 + 11 - 1);
    expectClose([plan.mass.reduce((s, v) => s + v, 0)], [1], { rtol: 1e-12 });
    let cost = 0;
    for (let k = 0; k < plan.mass.length; k++) cost += plan.mass[k] * (x[plan.rows[k]] - y[plan.cols[k]]) ** 2;
    expectClose([cost], [r.cost], { rtol: 1e-12 });
  });
  it('equal-size uniform samples: sorted matching; translation gives the shift squared', () => {
    const x = new Float64Array([3, 1, 2]);
    const y = new Float64Array([10, 12, 11]);
    expect(w2Exact1DSync(x, y).cost).toBeCloseTo(81, 12);
    const z = random.normal({ seed: 5, length: 100 });
    expectClose([w2Exact1DSync(z, z.map((v) => v + 0.5)).cost], [0.25], { rtol: 1e-12 });
  });
  it('rejects bad input', () => {
    expect(() => w2Exact1DSync(new Float64Array(0), new Float64Array(1))).toThrow(/must not be empty/);
    expect(() => w2Exact1DSync([1] as unknown as Float64Array, new Float64Array(1))).toThrow(/x must be a Float64Array/);
    expect(() => w2Exact1DSync(new Float64Array([NaN]), new Float64Array(1))).toThrow(/x must contain only finite values/);
    expect(() => w2Exact1DSync(new Float64Array(2), new Float64Array(1), { a: new Float64Array([1, 1]) })).toThrow(/options\.a must sum to 1/);
  });
});

describe('emd (network simplex)', () => {
  it('matches brute-force assignment for uniform n = m ≤ 7', async () => {
    for (const n of [1, 2, 5, 7]) {
      const Cm = costMatrixSync(cloud(n, 3, 40 + n), cloud(n, 3, 50 + n));
      const r = await emd(Cm);
      expect(r.optimal).toBe(true);
      expectClose([r.cost], [bruteForceAssignment(Cm)], { rtol: 1e-12, atol: 1e-15 });
    }
  });
  it('returns a feasible sparse plan whose cost is the reported cost; Sinkhorn approaches it from above', () => {
    const x = cloud(40, 2, 61);
    const y = cloud(25, 2, 62, 0.5);
    const Cm = costMatrixSync(x, y);
    const a = random.uniform({ seed: 63, length: 40 });
    const sa = a.reduce((s, v) => s + v, 0);
    a.forEach((v, i) => (a[i] = v / sa));
    const r = emdSync(Cm, { a });
    const rows = new Float64Array(40);
    const cols = new Float64Array(25);
    let cost = 0;
    for (let k = 0; k < r.plan.mass.length; k++) {
      expect(r.plan.mass[k]).toBeGreaterThan(0);
      rows[r.plan.rows[k]] += r.plan.mass[k];
      cols[r.plan.cols[k]] += r.plan.mass[k];
      cost += r.plan.mass[k] * Cm.data[r.plan.rows[k] * 25 + r.plan.cols[k]];
    }
    expect(r.plan.mass.length).toBeLessThanOrEqual(40 + 25 - 1);
    expectClose(rows, a, { rtol: 1e-12, atol: 1e-16 });
    expectClose(cols, uniform(25), { rtol: 1e-12, atol: 1e-16 });
    expectClose([cost], [r.cost], { rtol: 1e-12 });
    const s = sinkhornSync(Cm, { a, epsilon: 1e-4 * maxOf(Cm.data), maxIter: 100000 });
    expect(s.transportCost).toBeGreaterThanOrEqual(r.cost - 1e-12);
    expect((s.transportCost - r.cost) / r.cost).toBeLessThan(1e-2);
  });
  it('1-D: agrees with the quantile merge', () => {
    const x = random.normal({ seed: 70, length: 30 });
    const y = random.normal({ seed: 71, length: 20 }).map((v) => 2 * v + 1);
    const Cm: Matrix = { data: new Float64Array(600), rows: 30, cols: 20 };
    for (let i = 0; i < 30; i++) for (let j = 0; j < 20; j++) Cm.data[i * 20 + j] = (x[i] - y[j]) ** 2;
    expectClose([emdSync(Cm).cost], [w2Exact1DSync(x, y).cost], { rtol: 1e-12 });
  });
  it('a pivot cap returns a feasible, non-optimal plan instead of throwing; bad input is rejected', () => {
    const Cm = costMatrixSync(cloud(60, 2, 80), cloud(60, 2, 81));
    const r = emdSync(Cm, { maxIter: 3 });
    expect(r.optimal).toBe(false);
    expect(r.cost).toBeGreaterThanOrEqual(emdSync(Cm).cost - 1e-12);
    expect(() => emdSync({ data: new Float64Array(0), rows: 0, cols: 3 })).toThrow(/C must not be empty/);
    expect(() => emdSync(Cm, { b: uniform(59) })).toThrow(/options\.b must have 60 entries/);
    expect(() => emdSync(Cm, { maxIter: -1 })).toThrow(/options\.maxIter/);
    expect(() => emdSync(fromRows([[1, NaN]]))).toThrow(/C must contain only finite values/);
  });
});

describe('w2GaussianSamples: non-finite clouds', () => {
  it('a NaN or ±Inf anywhere is a RangeError naming the cloud and the entry (sync and async, both forms)', async () => {
    const mk = (rows: number, cols: number, seed: number) => ({ data: random.normal({ seed, length: rows * cols }), rows, cols });
    for (const [M, P] of [[5, 40], [30, 3]] as const) {
      const x = mk(M, P, 1);
      const y = mk(M + 1, P, 2);
      x.data[1 * P + 2] = NaN;
      expect(() => w2GaussianSamplesSync(x, y)).toThrow(RangeError);
      expect(() => w2GaussianSamplesSync(x, y)).toThrow(/w2GaussianSamplesSync: x must contain only finite values, got NaN at \(1, 2\)/);
      await expect(w2GaussianSamples(x, y)).rejects.toThrow(/w2GaussianSamples: x must contain only finite values, got NaN at \(1, 2\)/);
      x.data[1 * P + 2] = 0;
      y.data[3 * P] = -Infinity;
      expect(() => w2GaussianSamplesSync(x, y)).toThrow(/y must contain only finite values, got -Infinity at \(3, 0\)/);
    }
  });
});
