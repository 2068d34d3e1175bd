// Small, obviously correct references and assertion helpers for the numerical tests.
import { expect } from 'vitest';
import type { Matrix } from '../../src/matrix.js';

/** |a − b| ≤ atol + rtol·max(|a|, |b|) elementwise, with the worst index in the message. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-12, atol = 0 }: { rtol?: number; atol?: number } = {},
): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    const tol = atol + rtol * Math.max(Math.abs(a), Math.abs(b));
    const excess = Math.abs(a - b) - tol;
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(`arrays differ at index ${worst}: ${actual[worst]} vs ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** Deterministic uniform(−1, 1) numbers (splitmix64) independent of the engine's generator. */
export function testRandom(n: number, seed = 1): Float64Array {
  let s = BigInt(seed) * 0x9e3779b97f4a7c15n;
  const out = new Float64Array(n);
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < n; i++) {
    s = (s + 0x9e3779b97f4a7c15n) & mask;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
    z = z ^ (z >> 31n);
    out[i] = Number(z >> 11n) / 2 ** 53 * 2 - 1;
  }
  return out;
}

export function randomMatrix(rows: number, cols: number, seed = 1): Matrix {
  return { data: testRandom(rows * cols, seed), rows, cols };
}

/** Naive op(A)·op(B). */
export function naiveGemm(A: Matrix<Float64Array | Float32Array>, B: Matrix<Float64Array | Float32Array>, transA = false, transB = false): Float64Array {
  const m = transA ? A.cols : A.rows;
  const k = transA ? A.rows : A.cols;
  const n = transB ? B.rows : B.cols;
  const at = (i: number, p: number) => (transA ? A.data[p * A.cols + i] : A.data[i * A.cols + p]);
  const bt = (p: number, j: number) => (transB ? B.data[j * B.cols + p] : B.data[p * B.cols + j]);
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
      C[i * n + j] = s;
    }
  return C;
}

/** A random symmetric positive-definite n×n matrix B·Bᵀ + n·I. */
export function randomSpd(n: number, seed = 3): Matrix {
  const B = randomMatrix(n, n, seed);
  const C = naiveGemm(B, B, false, true);
  for (let i = 0; i < n; i++) C[i * n + i] += n;
  return { data: C, rows: n, cols: n };
}

/** Max |x| of an array. */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/** Kolmogorov–Smirnov statistic of a sample against a CDF. */
export function ksStatistic(sample: Float64Array, cdf: (x: number) => number): number {
  const s = Float64Array.from(sample).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return d;
}

/** Standard normal CDF via erfc (Numerical Recipes' Chebyshev erfc, |error| < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r / 2 : r / 2;
}

/** Bit-for-bit equality of two arrays (fast on large arrays, unlike deep equality). */
export function expectIdentical(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`arrays differ at index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}
