import { afterEach, describe, expect, it } from 'vitest';
import { buildInfo, linalg, SpeedlimitsError, type Matrix } from '../src/index.js';
import { expectClose, maxAbs, naiveGemm, randomMatrix, randomSpd, testRandom } from './support/reference.js';

const { gemm, gemmSync, syrk, syrkSync, cholesky, choleskySync, eigh, eighSync } = linalg;
const blasCompiled = buildInfo().blasCompiled;
const initialBackend = linalg.getLinalgBackend();
afterEach(() => linalg.setLinalgBackend(initialBackend));

/** A matrix whose data is a subarray view (byteOffset ≠ 0) of a larger buffer. */
function asView(m: Matrix): Matrix {
  const big = new Float64Array(m.data.length + 11).fill(Number.NaN);
  big.set(m.data, 5);
  return { data: big.subarray(5, 5 + m.data.length), rows: m.rows, cols: m.cols };
}

const shapes: [number, number, number][] = [[1, 1, 1], [7, 3, 5], [65, 33, 17], [130, 257, 129], [1, 40, 1]];

for (const backend of ['builtin', 'blas'] as const) {
  describe.skipIf(backend === 'blas' && !blasCompiled)(`linalg (${backend} backend)`, () => {
    const use = () => linalg.setLinalgBackend(backend);

    it('gemm matches a naive product for every transpose combination and shape', async () => {
      use();
      for (const [m, n, k] of shapes)
        for (const transA of [false, true])
          for (const transB of [false, true]) {
            const A = randomMatrix(transA ? k : m, transA ? m : k, m + 3 * n);
            const B = randomMatrix(transB ? n : k, transB ? k : n, k + 7);
            const ref = naiveGemm(A, B, transA, transB);
            expectClose(gemmSync(A, B, { transA, transB }).data, ref, { rtol: 1e-12, atol: 1e-13 * k });
            expectClose((await gemm(asView(A), asView(B), { transA, transB })).data, ref, { rtol: 1e-12, atol: 1e-13 * k });
          }
    });

    it('gemm with alpha, beta and an output view', () => {
      use();
      const A = randomMatrix(20, 30, 1);
      const B = randomMatrix(30, 10, 2);
      const C0 = randomMatrix(20, 10, 3);
      const C = asView({ data: Float64Array.from(C0.data), rows: 20, cols: 10 });
      const out = gemmSync(A, B, { alpha: -2, beta: 0.5, C });
      expect(out).toBe(C);
      const ref = naiveGemm(A, B).map((v, i) => -2 * v + 0.5 * C0.data[i]);
      expectClose(C.data, ref, { rtol: 1e-12, atol: 1e-12 });
      // beta = 0 overwrites, even NaN garbage
      const D = { data: new Float64Array(200).fill(NaN), rows: 20, cols: 10 };
      gemmSync(A, B, { C: D, beta: 0 });
      expectClose(D.data, naiveGemm(A, B), { rtol: 1e-12, atol: 1e-13 });
    });

    it('gemm on Float32 matches the Float64 reference to float precision', async () => {
      use();
      const A = randomMatrix(40, 70, 4);
      const B = randomMatrix(70, 30, 5);
      const A32 = { data: Float32Array.from(A.data), rows: 40, cols: 70 };
      const B32 = { data: Float32Array.from(B.data), rows: 70, cols: 30 };
      const C = await gemm(A32, B32);
      expect(C.data).toBeInstanceOf(Float32Array);
      expectClose(C.data, naiveGemm(A32, B32), { rtol: 1e-5, atol: 1e-5 });
    });

    it('gemm with empty dimensions', () => {
      use();
      const C = gemmSync(randomMatrix(3, 0), randomMatrix(0, 4));
      expect(Array.from(C.data)).toEqual(new Array(12).fill(0));
      expect(gemmSync(randomMatrix(0, 5), randomMatrix(5, 2)).data.length).toBe(0);
    });

    it('syrk gives the exactly symmetric Gram matrix', async () => {
      use();
      for (const [n, k] of [[1, 1], [9, 4], [70, 130], [200, 33]]) {
        const A = randomMatrix(n, k, n + k);
        const G = await syrk(asView(A));
        expectClose(G.data, naiveGemm(A, A, false, true), { rtol: 1e-12, atol: 1e-13 * k });
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(G.data[i * n + j]).toBe(G.data[j * n + i]);
        const Gt = syrkSync(A, { trans: true, alpha: 0.5 });
        expectClose(Gt.data, naiveGemm(A, A, true, false).map((v) => 0.5 * v), { rtol: 1e-12, atol: 1e-13 * n });
      }
    });

    it('cholesky reconstructs A = L·Lᵀ with L lower triangular', async () => {
      use();
      for (const n of [1, 2, 17, 100]) {
        const A = randomSpd(n, n);
        const L = await cholesky(asView(A));
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(L.data[i * n + j]).toBe(0);
        expectClose(naiveGemm(L, L, false, true), A.data, { rtol: 1e-12, atol: 1e-12 * n });
        expectClose(choleskySync(A).data, L.data, { rtol: 1e-13, atol: 1e-14 });
      }
    });

    it('cholesky of an indefinite matrix is a SpeedlimitsError with code ERR_NOT_SPD', async () => {
      use();
      const A = { data: new Float64Array([1, 2, 2, 1]), rows: 2, cols: 2 };
      expect(() => choleskySync(A)).toThrow(SpeedlimitsError);
      try {
        choleskySync(A);
      } catch (e) {
        expect((e as SpeedlimitsError).code).toBe('ERR_NOT_SPD');
        expect((e as Error).message).toMatch(/not positive definite/);
      }
      await expect(cholesky(A)).rejects.toMatchObject({ code: 'ERR_NOT_SPD', name: 'SpeedlimitsError' });
    });

    it('eigh: A·V = V·diag(w), VᵀV = I, ascending eigenvalues', async () => {
      use();
      for (const n of [1, 2, 10, 120]) {
        const S = randomMatrix(n, n, 40 + n);
        const A = { data: S.data.map((_, idx) => { const i = Math.floor(idx / n), j = idx % n; return S.data[i * n + j] + S.data[j * n + i]; }), rows: n, cols: n };
        const { values, vectors } = await eigh(asView(A));
        const V = vectors!;
        for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
        const AV = naiveGemm(A, V);
        const VD = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) VD[i * n + j] = V.data[i * n + j] * values[j];
        const scale = maxAbs(values);
        expectClose(AV, VD, { rtol: 0, atol: 1e-12 * n * scale });
        const VtV = naiveGemm(V, V, true, false);
        const I = new Float64Array(n * n);
        for (let i = 0; i < n; i++) I[i * n + i] = 1;
        expectClose(VtV, I, { rtol: 0, atol: 1e-13 * n });
        expectClose(eighSync(A, { vectors: false }).values, values, { rtol: 1e-12, atol: 1e-13 * scale });
      }
    });

    it('eigh recovers known eigenvalues (Q·diag(d)·Qᵀ with a Householder Q)', () => {
      use();
      const n = 50;
      const v = testRandom(n, 99);
      const vv = v.reduce((s, x) => s + x * x, 0);
      const d = Array.from({ length: n }, (_, i) => (i - 20) * 0.75 + (i % 3 === 0 ? 1e-3 : 0));
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < n; p++) {
            const qip = (i === p ? 1 : 0) - (2 * v[i] * v[p]) / vv;
            const qjp = (j === p ? 1 : 0) - (2 * v[j] * v[p]) / vv;
            s += qip * d[p] * qjp;
          }
          A[i * n + j] = s;
        }
      const { values } = eighSync({ data: A, rows: n, cols: n });
      expectClose(values, Float64Array.from(d).sort(), { rtol: 0, atol: 1e-13 * 20 });
    });
  });
}

describe.skipIf(!blasCompiled)('builtin and OpenBLAS backends agree to 1e-12', () => {
  function both<T>(f: () => T): [T, T] {
    linalg.setLinalgBackend('builtin');
    const a = f();
    linalg.setLinalgBackend('blas');
    return [a, f()];
  }
  it('gemm, syrk, cholesky, eigh', () => {
    const A = randomMatrix(150, 97, 8);
    const B = randomMatrix(97, 61, 9);
    const [g1, g2] = both(() => gemmSync(asView(A), B).data);
    expectClose(g1, g2, { rtol: 1e-12, atol: 1e-13 });
    const [s1, s2] = both(() => syrkSync(A, { trans: true }).data);
    expectClose(s1, s2, { rtol: 1e-12, atol: 1e-13 });
    const S = randomSpd(80, 12);
    const [c1, c2] = both(() => choleskySync(S).data);
    expectClose(c1, c2, { rtol: 1e-12, atol: 1e-13 });
    const [e1, e2] = both(() => eighSync(S));
    expectClose(e1.values, e2.values, { rtol: 1e-12, atol: 1e-12 });
    // eigenvectors up to sign: compare |v_i · w_i| = 1 (eigenvalues of S are distinct here)
    const n = 80;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += e1.vectors!.data[i * n + j] * e2.vectors!.data[i * n + j];
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-9);
    }
  });
});

describe('linalg: async work runs off the event loop', () => {
  it('a setImmediate callback runs before a large gemm resolves', async () => {
    const A = randomMatrix(600, 600, 1);
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    const p = gemm(A, A);
    expect(ticked).toBe(false);
    await p;
    expect(ticked).toBe(true);
  });
});

describe('linalg: bad input is rejected with errors naming the argument', () => {
  const A = randomMatrix(3, 4);
  it('gemm', async () => {
    expect(() => gemmSync(null as unknown as Matrix, A)).toThrow(/gemmSync: A must be a matrix/);
    expect(() => gemmSync([1, 2] as unknown as Matrix, A)).toThrow(TypeError);
    expect(() => gemmSync({ data: [1], rows: 1, cols: 1 } as unknown as Matrix, A)).toThrow(/A\.data must be a Float64Array/);
    expect(() => gemmSync({ data: new Float64Array(3), rows: 2, cols: 2 }, A)).toThrow(/A\.data has 3 entries but A is 2x2/);
    expect(() => gemmSync({ data: new Float64Array(2), rows: -1, cols: -2 }, A)).toThrow(RangeError);
    expect(() => gemmSync({ data: new Float64Array(2), rows: 1.5, cols: 2 }, A)).toThrow(/A\.rows must be a non-negative integer/);
    expect(() => gemmSync(A, A)).toThrow(/inner dimensions differ: op\(A\) is 3x4 but op\(B\) is 3x4/);
    expect(() => gemmSync(A, A, { transB: 1 as unknown as boolean })).toThrow(/options\.transB must be a boolean/);
    expect(() => gemmSync(A, A, { transB: true, alpha: NaN })).toThrow(/options\.alpha must be finite/);
    expect(() => gemmSync(A, A, { transB: true, beta: 1 })).toThrow(/no options\.C/);
    expect(() => gemmSync(A, A, { transB: true, C: randomMatrix(2, 2) })).toThrow(/options\.C must have 3 rows/);
    const A32 = { data: new Float32Array(12), rows: 3, cols: 4 };
    expect(() => gemmSync(A32 as unknown as Matrix, A, { transB: true })).toThrow(/same dtype/);
    expect(() => gemmSync(A, A, 'x' as never)).toThrow(/options must be an object/);
    await expect(gemm(A, A)).rejects.toThrow(RangeError);
  });
  it('syrk, cholesky, eigh', async () => {
    expect(() => syrkSync({ data: new Float32Array(4), rows: 2, cols: 2 } as unknown as Matrix)).toThrow(/syrkSync: A\.data must be a Float64Array/);
    expect(() => syrkSync(A, { alpha: Infinity })).toThrow(RangeError);
    expect(() => choleskySync(A)).toThrow(/choleskySync: A must be square, got 3x4/);
    expect(() => choleskySync({ data: new Float64Array([1, NaN, NaN, 1]), rows: 2, cols: 2 })).toThrow(/A must contain only finite values, got NaN at \(0, 1\)/);
    expect(() => eighSync({ data: new Float64Array([Infinity]), rows: 1, cols: 1 })).toThrow(RangeError);
    expect(() => eighSync(A)).toThrow(/eighSync: A must be square/);
    expect(() => eighSync(randomSpd(2), { vectors: 'yes' as unknown as boolean })).toThrow(/options\.vectors must be a boolean/);
    await expect(cholesky(A)).rejects.toThrow(RangeError);
    await expect(eigh(undefined as unknown as Matrix)).rejects.toThrow(TypeError);
    await expect(syrk({} as Matrix)).rejects.toThrow(TypeError);
  });
  it('setLinalgBackend', () => {
    expect(() => linalg.setLinalgBackend('cuda' as never)).toThrow(/backend must be one of 'blas', 'builtin'/);
    expect(() => linalg.setLinalgBackend(3 as never)).toThrow(TypeError);
    if (!blasCompiled) expect(() => linalg.setLinalgBackend('blas')).toThrow(/built without OpenBLAS/);
  });
});
