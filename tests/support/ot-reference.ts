// Independent references for the transport tests: a naive dense log-domain Sinkhorn, brute-force
// assignment, and exact 1-D W2 by integrating the quantile functions.
import type { Matrix } from '../../src/matrix.js';

function lse(values: number[]): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  if (m === -Infinity) return m;
  let s = 0;
  for (const v of values) s += Math.exp(v - m);
  return m + Math.log(s);
}

/** Plain alternating log-domain Sinkhorn with exact log-sum-exp (no tricks). */
export function naiveSinkhorn(C: Matrix, a: Float64Array, b: Float64Array, eps: number, tol = 1e-12, maxIter = 200000) {
  const n = C.rows;
  const m = C.cols;
  const f = new Float64Array(n);
  const g = new Float64Array(m);
  let err = Infinity;
  let it = 0;
  for (; it < maxIter; it++) {
    for (let i = 0; i < n; i++) {
      const row: number[] = [];
      for (let j = 0; j < m; j++) row.push(Math.log(b[j]) + (g[j] - C.data[i * m + j]) / eps);
      f[i] = -eps * lse(row);
    }
    err = 0;
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += a[i] * b[j] * Math.exp((f[i] + g[j] - C.data[i * m + j]) / eps);
      err += Math.abs(s - b[j]);
    }
    if (err < tol) break;
    for (let j = 0; j < m; j++) {
      const col: number[] = [];
      for (let i = 0; i < n; i++) col.push(Math.log(a[i]) + (f[i] - C.data[i * m + j]) / eps);
      g[j] = -eps * lse(col);
    }
  }
  let cost = 0;
  let obj = 0;
  for (let i = 0; i < n; i++) obj += a[i] * f[i];
  for (let j = 0; j < m; j++) obj += b[j] * g[j];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) cost += a[i] * b[j] * Math.exp((f[i] + g[j] - C.data[i * m + j]) / eps) * C.data[i * m + j];
  return { f, g, objective: obj, transportCost: cost, marginalError: err, iterations: it };
}

/** Min over permutations of (1/n) Σ C[i, σ(i)] (uniform weights, n ≤ 8). */
export function bruteForceAssignment(C: Matrix): number {
  const n = C.rows;
  const perm = Array.from({ length: n }, (_, i) => i);
  let best = Infinity;
  const permute = (k: number) => {
    if (k === n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += C.data[i * n + perm[i]];
      best = Math.min(best, s / n);
      return;
    }
    for (let i = k; i < n; i++) {
      [perm[k], perm[i]] = [perm[i], perm[k]];
      permute(k + 1);
      [perm[k], perm[i]] = [perm[i], perm[k]];
    }
  };
  permute(0);
  return best;
}

/** ∫₀¹ (F⁻¹(t) − G⁻¹(t))² dt, integrating exactly between the breakpoints of both CDFs. */
export function quantileW2(x: Float64Array, a: Float64Array, y: Float64Array, b: Float64Array): number {
  const sx = Array.from(x.keys()).sort((p, q) => x[p] - x[q]);
  const sy = Array.from(y.keys()).sort((p, q) => y[p] - y[q]);
  const cx: number[] = [];
  const cy: number[] = [];
  let s = 0;
  for (const i of sx) cx.push((s += a[i]));
  s = 0;
  for (const j of sy) cy.push((s += b[j]));
  const breaks = Array.from(new Set([0, ...cx, ...cy].map((v) => Math.min(1, v)))).sort((p, q) => p - q);
  const quantile = (sorted: number[], cum: number[], vals: Float64Array, t: number) => {
    let k = 0;
    while (k < cum.length - 1 && cum[k] <= t) k++;
    return vals[sorted[k]];
  };
  let w = 0;
  for (let k = 0; k + 1 < breaks.length; k++) {
    const t0 = breaks[k];
    const t1 = breaks[k + 1];
    if (t1 <= t0) continue;
    const mid = 0.5 * (t0 + t1);
    const d = quantile(sx, cx, x, mid) - quantile(sy, cy, y, mid);
    w += (t1 - t0) * d * d;
  }
  return w;
}
