// The analytic speed limit through the public API: THEORY.md §6 oracles O1–O4 and O6 to 1e-8,
// argument errors, and linearDynamics against naive gradient-descent iteration written here.
import { describe, expect, it } from 'vitest';
import {
  analyticEfficiency, fromRows, linearDynamics, powerLawPlateau, regimeBoundaries, spectrumSync,
  type Matrix,
} from '../src/index.js';
import { expectClose, naiveGemm, randomMatrix, testRandom } from './support/reference.js';

const TOL = { rtol: 1e-8 };

// The O2 instance (THEORY §6).
const J = fromRows([[1, 0, 1, 0], [0, 2, 0, 1], [1, 1, 0, 0]]);
const y = [1, -1, 0.5];
const theta0 = [0.2, -0.1, 0, 0.3];

/** λ_k = k^(−α), r_k = k^(−β/2), k = 1..N (THEORY §3.1 with η = λ_1 = r_1 = 1). */
function powerLaw(alpha: number, beta: number, N: number) {
  const eigenvalues = Float64Array.from({ length: N }, (_, k) => (k + 1) ** -alpha);
  const residualProjections = Float64Array.from({ length: N }, (_, k) => (k + 1) ** (-beta / 2));
  return { eigenvalues, residualProjections };
}

describe('analyticEfficiency', () => {
  it('O1: a single mode gives (2/x) tanh(x/2)', () => {
    const x = [0.5, 1, 2, 10];
    const { gradientFlow, langevin, discrete } = analyticEfficiency({ eigenvalues: [1], residualProjections: [1], eta: 1, times: x });
    expectClose(gradientFlow.efficiency, [0.9796746496, 0.9242343145, 0.761594156, 0.1999818409], TOL);
    expect(langevin).toBeUndefined();
    expect(discrete).toBeUndefined();
    expect(analyticEfficiency({ eigenvalues: [1], residualProjections: [1], eta: 1, times: [0] }).gradientFlow.efficiency[0]).toBe(1);
  });

  it('O2 (γ = 0) from the spectrum of K and the residual projections', () => {
    const K = { data: naiveGemm(J, J, false, true), rows: 3, cols: 3 };
    const s = spectrumSync(K, { vectors: true });
    const r0 = naiveGemm(J, { data: Float64Array.from(theta0), rows: 4, cols: 1 }).map((f, i) => f - y[i]);
    const rk = Float64Array.from({ length: 3 }, (_, k) => r0.reduce((acc, v, i) => acc + s.vectors!.data[i * 3 + k] * v, 0));
    const out = analyticEfficiency({ eigenvalues: s.values, residualProjections: rk, eta: 0.1, times: [1, 10, 100], pathLength: true });
    expectClose(out.gradientFlow.w2sq, [0.0448745266, 0.5936682969, 0.8352653684], TOL);
    expectClose(out.gradientFlow.dissipation, [0.0455129649, 0.0983853627, 0.1004996335], TOL);
    expectClose(out.gradientFlow.lossDrop, [0.4551296487, 0.9838536271, 1.0049963346], TOL);
    expectClose(out.gradientFlow.efficiency, [0.9859723878, 0.6034111991, 0.0831112851], TOL);
    expectClose(out.gradientFlow.pathLength!, [0.212098836, 0.794848614, 1.0730814257], TOL);
  });

  it('O6: power-law efficiency at all 8 times, W2² and L0 − L at t = 10³', () => {
    const times = [0.1, 1, 10, 100, 1e3, 1e4, 1e5, 1e6];
    const a = analyticEfficiency({ ...powerLaw(1.5, 1.2, 1000), eta: 1, times });
    // 10 decimals are given: 1e-8 relative or half a unit in the last place
    expectClose(a.gradientFlow.efficiency,
      [0.9993422796, 0.9475296466, 0.5516433628, 0.3139489341, 0.1937643415, 0.1128378896, 0.0277693807, 0.0028202154], { rtol: 1e-8, atol: 5e-11 });
    const b = analyticEfficiency({ ...powerLaw(1.5, 0.5, 1000), eta: 1, times });
    expectClose(b.gradientFlow.efficiency,
      [0.9994899855, 0.9639404226, 0.768699853, 0.6771624041, 0.6238309875, 0.5114810971, 0.1584676418, 0.0161971466], { rtol: 1e-8, atol: 5e-11 });
    const w = analyticEfficiency({ ...powerLaw(1.5, 1.2, 1000), eta: 1, times: [0, 1e3] });
    expectClose([w.gradientFlow.w2sq[1], w.gradientFlow.lossDrop[1], w.gradientFlow.loss[0]], [375.7819292, 1.939376081, 2.1678823973], TOL);
  });

  it('Langevin at T > 0 needs σ0 and counts null directions; the GF series is the T → 0 ensemble', () => {
    const base = { eigenvalues: [2, 0.5], residualProjections: [1, -0.5], eta: 0.2, times: [0, 1, 10, 1000], init: { sigma0: 0.3 } };
    const a = analyticEfficiency({ ...base, temperature: 0.05, gamma: 0.1, numParams: 5 });
    const L = a.langevin!;
    expect(L.efficiency[0]).toBe(1);
    L.entropyProduction.forEach((v, i) => expect(v).toBeCloseTo(L.heat[i] / 0.05 + L.systemEntropy[i], 12));
    expect(L.entropyProduction[3]).toBeCloseTo(L.totalEntropyProduction, 8);
    // more null directions: more entropy production (each carries σ0² relaxing to T/γ)
    const b = analyticEfficiency({ ...base, T: 0.05, gamma: 0.1, numParams: 8 });
    expect(b.langevin!.totalEntropyProduction).toBeGreaterThan(L.totalEntropyProduction);
    // γ = 0: null directions diffuse freely, no stationary state
    const c = analyticEfficiency({ ...base, temperature: 0.05, numParams: 3 });
    expect(c.langevin!.totalEntropyProduction).toBe(Infinity);
  });

  it('discrete GD block: O3 through the spectrum form', () => {
    const K = { data: naiveGemm(J, J, false, true), rows: 3, cols: 3 };
    const s = spectrumSync(K, { vectors: true });
    const r0 = naiveGemm(J, { data: Float64Array.from(theta0), rows: 4, cols: 1 }).map((f, i) => f - y[i]);
    const rk = Float64Array.from({ length: 3 }, (_, k) => r0.reduce((acc, v, i) => acc + s.vectors!.data[i * 3 + k] * v, 0));
    const d = analyticEfficiency({ eigenvalues: s.values, residualProjections: rk, eta: 0.1, times: [100], discrete: true }).discrete!;
    expectClose([d.displacement[0], d.stepSum[0], d.lossDrop[0], d.efficiencyKinetic[0], d.efficiencyLoss[0]],
      [0.8356142898, 0.121237915, 1.0049970704, 0.0689235121, 0.0831459428], TOL);
    expect(d.stable).toBe(true);
  });
});

describe('powerLawPlateau and regimeBoundaries', () => {
  it('O6 plateau values and the regimes', () => {
    const cases: [number, number, number][] = [[1.5, 0.5, 0.618898422], [1.5, 0.8, 0.3115676874], [2, 0.5, 0.5091314712], [1.2, 0.3, 0.8402022895]];
    for (const [a, b, v] of cases) {
      const p = powerLawPlateau(a, b);
      expect(p.applies).toBe(true);
      expect(p.regime).toBe('scaling');
      expectClose([p.value, p.nu], [v, (1 + a - b) / a], TOL);
    }
    const q = powerLawPlateau(1.5, 1.2);
    expect(q.applies).toBe(false);
    expect(q.value).toBeNaN();
    expect(q.regime).toBe('non-optimal');
    expect(q.decayExponent).toBeCloseTo(0.2 / 1.5, 14);
    expect(powerLawPlateau(1.5, 3).regime).toBe('saturated');
    expect(powerLawPlateau(0.5, 0.2).regime).toBe('tail-dominated');
  });

  it('regime boundaries from eigenvalues, from λ_max/λ_min, from α and N', () => {
    const a = regimeBoundaries({ eta: 0.5, lambdaMax: 1, alpha: 1.5, modes: 1000 });
    expectClose([a.earlyEnd, a.saturationStart, a.tauSaturation, a.decades], [2, 2 * 1000 ** 1.5, 1000 ** 1.5, 4.5], { rtol: 1e-12 });
    const b = regimeBoundaries({ eta: 0.5, eigenvalues: [0, 4, 0.01, 1] });
    expectClose([b.earlyEnd, b.saturationStart, b.decades], [0.5, 200, Math.log10(400)], { rtol: 1e-12 });
    const c = regimeBoundaries({ eta: 1, lambdaMax: 10, lambdaMin: 0.1 });
    expect(c.tauSaturation).toBeCloseTo(100, 10);
  });
});

describe('linearDynamics', () => {
  it('O2: gradient flow for γ = 0 and 0.5, with path lengths', () => {
    const rows = {
      0: [[0.0448745266, 0.0455129649, 0.4551296487, 0.9859723878, 0.212098836],
        [0.5936682969, 0.0983853627, 0.9838536271, 0.6034111991, 0.794848614],
        [0.8352653684, 0.1004996335, 1.0049963346, 0.0831112851, 1.0730814257]],
      0.5: [[0.0422766276, 0.0430380761, 0.4303807608, 0.9823075613, 0.2058831539],
        [0.4542714164, 0.0839049822, 0.8390498225, 0.5414117305, 0.7030950245],
        [0.6257413406, 0.0855396038, 0.8553960375, 0.0731522375, 0.9379907757]],
    };
    for (const gamma of [0, 0.5] as const) {
      const r = linearDynamics({ J, y, theta0, eta: 0.1, gamma, times: [1, 10, 100], pathLength: true });
      const g = r.gradientFlow;
      const col = (c: number) => rows[gamma].map((row) => row[c]);
      expectClose(g.w2sq, col(0), TOL);
      expectClose(g.dissipation, col(1), TOL);
      expectClose(g.lossDrop, col(2), TOL);
      expectClose(g.efficiency, col(3), TOL);
      expectClose(g.pathLength!, col(4), TOL);
      expect(r.rank).toBe(3);
      expect(r.nullDirections).toBe(1);
      expect(r.continuous.mean!.rows).toBe(3);
      expect(r.continuous.mean!.cols).toBe(4);
    }
    expectClose(linearDynamics({ J, y, eta: 0.1, times: [1] }).eigenvalues, [6.0513742417, 2.482695955, 0.4659298033], TOL);
    // θ* (γ = 0.5) is reached from anywhere
    const far = linearDynamics({ J, y, theta0, eta: 0.1, gamma: 0.5, times: [1e4] });
    expectClose(far.continuous.mean!.data, [0.6026490066, -0.2715231788, 0.2649006623, -0.3046357616], { rtol: 1e-8, atol: 1e-12 });
  });

  it('O3: discrete gradient descent', () => {
    const r = linearDynamics({ J, y, theta0, eta: 0.1, times: [100], discrete: true });
    const d = r.discrete!;
    expectClose([d.displacement[0], d.stepSum[0], d.lossDrop[0], d.efficiencyKinetic[0], d.efficiencyLoss[0]],
      [0.8356142898, 0.121237915, 1.0049970704, 0.0689235121, 0.0831459428], TOL);
  });

  it('O4: Langevin / OU (γ = 0.5, T = 0.1, σ0 = 0.2)', () => {
    const r = linearDynamics({ J, y, theta0, sigma0: 0.2, eta: 0.1, T: 0.1, gamma: 0.5, times: [1, 10, 100] });
    const L = r.langevin!;
    expectClose(L.w2sq, [0.0469349687, 0.5027405699, 0.7078070119], TOL);
    expectClose(L.entropyProduction, [4.7931304677, 9.2714994145, 9.4641962813], TOL);
    expectClose(L.heat, [0.4846924351, 0.8781851393, 0.8753978536], TOL);
    expectClose(L.systemEntropy, [-0.0537938828, 0.489648022, 0.7102177449], TOL);
    expectClose(L.rate.subarray(0, 2), [2.9837966979, 0.034525136], TOL);
    expectClose(L.rate.subarray(2), [1.3137e-6], { rtol: 1e-4 });  // 5 digits given
    expectClose(L.efficiency, [0.9792132516, 0.5422430045, 0.0747878627], TOL);
    expectClose([L.totalEntropyProduction], [9.4642094164], TOL);
    expectClose(r.continuous.mean!.data.subarray(4, 8), [0.6180925287, -0.3570777213, 0.2404119625, -0.0944403469], TOL);
    expectClose(r.gradientFlow.efficiency, [0.9800868851, 0.5242636463, 0.0730149004], TOL);
    // `temperature` is the same option as `T`
    const same = linearDynamics({ J, y, theta0, sigma0: 0.2, eta: 0.1, temperature: 0.1, gamma: 0.5, times: [10] });
    expect(same.langevin!.entropyProduction[0]).toBe(L.entropyProduction[1]);
  });

  it('matches naive gradient-descent iteration on a random 5×8 J (γ = 0.2) to 1e-10', () => {
    const n = 5, P = 8, eta = 0.07, gamma = 0.2;
    const Jr = randomMatrix(n, P, 11);
    const yr = testRandom(n, 12), th0 = testRandom(P, 13);
    const steps = [0, 1, 3, 10, 25, 60];
    const r = linearDynamics({ J: Jr, y: yr, theta0: th0, eta, gamma, times: steps, discrete: true });
    const loss = (th: Float64Array) => {
      const f = naiveGemm(Jr, { data: th, rows: P, cols: 1 });
      return 0.5 * f.reduce((s, v, i) => s + (v - yr[i]) ** 2, 0) + 0.5 * gamma * th.reduce((s, v) => s + v * v, 0);
    };
    let th = Float64Array.from(th0);
    let stepSum = 0;
    const L0 = loss(th);
    for (let k = 0, next = 0; next < steps.length; k++) {
      if (k === steps[next]) {
        const disp = th.reduce((s, v, i) => s + (v - th0[i]) ** 2, 0);
        expectClose(r.gd!.mean!.data.subarray(next * P, (next + 1) * P), th, { rtol: 1e-10, atol: 1e-13 });
        const f = naiveGemm(Jr, { data: th, rows: P, cols: 1 }).map((v, i) => v - yr[i]);
        expectClose(r.gd!.residual.data.subarray(next * n, (next + 1) * n), f, { rtol: 1e-10, atol: 1e-13 });
        expectClose([r.discrete!.displacement[next], r.discrete!.stepSum[next], r.discrete!.lossDrop[next]], [disp, stepSum, L0 - loss(th)], { rtol: 1e-10, atol: 1e-15 });
        next++;
      }
      // θ ← θ − η (Jᵀ(Jθ − y) + γθ)
      const res = naiveGemm(Jr, { data: th, rows: P, cols: 1 }).map((v, i) => v - yr[i]);
      const grad = naiveGemm(Jr, { data: res, rows: n, cols: 1 }, true).map((v, i) => v + gamma * th[i]);
      const nextTh = th.map((v, i) => v - eta * grad[i]);
      stepSum += nextTh.reduce((s, v, i) => s + (v - th[i]) ** 2, 0);
      th = nextTh;
    }
  });

  it('K-only form: residuals in sample space, the J-form series', () => {
    const K: Matrix = { data: naiveGemm(J, J, false, true), rows: 3, cols: 3 };
    const f0 = naiveGemm(J, { data: Float64Array.from(theta0), rows: 4, cols: 1 });
    const a = linearDynamics({ J, y, theta0, eta: 0.1, times: [1, 10] });
    const b = linearDynamics({ K, y, f0, eta: 0.1, times: [1, 10] });
    expect(b.continuous.mean).toBeUndefined();
    expect(b.nullDirections).toBe(0);
    expectClose(b.gradientFlow.efficiency, a.gradientFlow.efficiency, { rtol: 1e-12 });
    expectClose(b.continuous.residual.data, a.continuous.residual.data, { rtol: 1e-10, atol: 1e-14 });
    expect(linearDynamics({ K, y, f0, eta: 0.1, times: [1], numParams: 4 }).nullDirections).toBe(1);
  });
});

describe('bad inputs', () => {
  const ok = { eigenvalues: [1, 0.5], residualProjections: [1, 1], eta: 0.1, times: [1] };
  it('analyticEfficiency names the argument', () => {
    expect(() => analyticEfficiency(undefined as never)).toThrow(TypeError);
    expect(() => analyticEfficiency({ ...ok, eta: 0 })).toThrow(/analyticEfficiency: eta must be > 0/);
    expect(() => analyticEfficiency({ ...ok, eta: Number.NaN })).toThrow(/eta must be finite/);
    expect(() => analyticEfficiency({ ...ok, temperature: -1 })).toThrow(/temperature must be >= 0/);
    expect(() => analyticEfficiency({ ...ok, gamma: -1 })).toThrow(/gamma must be >= 0/);
    expect(() => analyticEfficiency({ ...ok, init: { sigma0: -1 } })).toThrow(/init\.sigma0 must be >= 0/);
    expect(() => analyticEfficiency({ ...ok, temperature: 0.1 })).toThrow(/init\.sigma0 must be > 0 when temperature > 0/);
    expect(() => analyticEfficiency({ ...ok, T: 0.1, temperature: 0.2, init: { sigma0: 1 } })).toThrow(/T and temperature/);
    expect(() => analyticEfficiency({ ...ok, eigenvalues: [1, -0.5] })).toThrow(/eigenvalues must contain only finite non-negative values, got -0\.5 at index 1/);
    expect(() => analyticEfficiency({ ...ok, eigenvalues: [1, Number.NaN] })).toThrow(/eigenvalues/);
    expect(() => analyticEfficiency({ ...ok, eigenvalues: 'x' as never })).toThrow(TypeError);
    expect(() => analyticEfficiency({ ...ok, residualProjections: [1] })).toThrow(/residualProjections has 1 entries but eigenvalues has 2/);
    expect(() => analyticEfficiency({ ...ok, offsetsSquared: [1, 1] })).toThrow(/exactly one of residualProjections and offsetsSquared/);
    expect(() => analyticEfficiency({ ...ok, times: [-1] })).toThrow(/times must contain only finite non-negative values/);
    expect(() => analyticEfficiency({ ...ok, times: [] })).toThrow(/times must not be empty/);
    expect(() => analyticEfficiency({ ...ok, times: [1.5], discrete: true })).toThrow(/integer step counts/);
    expect(() => analyticEfficiency({ ...ok, numParams: 1 })).toThrow(/numParams must be an integer in \[2/);
    expect(() => analyticEfficiency({ ...ok, discrete: 'yes' as never })).toThrow(/discrete must be a boolean/);
  });
  it('linearDynamics, powerLawPlateau and regimeBoundaries name the argument', () => {
    expect(() => linearDynamics({ y, eta: 0.1, times: [1] })).toThrow(/exactly one of J and K/);
    expect(() => linearDynamics({ J, K: J, y, eta: 0.1, times: [1] })).toThrow(/exactly one of J and K/);
    expect(() => linearDynamics({ J, y: [1, 2], eta: 0.1, times: [1] })).toThrow(/y has 2 entries but J has 3 rows/);
    expect(() => linearDynamics({ J, y, theta0: [1], eta: 0.1, times: [1] })).toThrow(/theta0 has 1 entries but J has 4 columns/);
    expect(() => linearDynamics({ J, y, eta: -0.1, times: [1] })).toThrow(/eta must be > 0/);
    expect(() => linearDynamics({ J, y, eta: 0.1, T: 0.1, times: [1] })).toThrow(/sigma0 must be > 0 when T > 0/);
    expect(() => linearDynamics({ J, y, eta: 0.1, sigma0: -1, times: [1] })).toThrow(/sigma0 must be >= 0/);
    expect(() => linearDynamics({ J: { data: new Float64Array([1, Number.NaN]), rows: 1, cols: 2 }, y: [1], eta: 0.1, times: [1] })).toThrow(/J must contain only finite/);
    expect(() => linearDynamics({ K: fromRows([[1, 0], [0, -1]]), y: [1, 1], eta: 0.1, times: [1] })).toThrow(/K must be positive semidefinite/);
    expect(() => linearDynamics({ K: fromRows([[1, 0], [0, 2]]), y: [1, 1], eta: 0.1, times: [1], numParams: 1 })).toThrow(/below the rank/);
    expect(() => linearDynamics({ K: J, y, eta: 0.1, times: [1] })).toThrow(/K must be square/);
    expect(() => powerLawPlateau(0, 0.5)).toThrow(/alpha must be > 0/);
    expect(() => powerLawPlateau(1.5, Number.POSITIVE_INFINITY)).toThrow(/beta must be finite/);
    expect(() => regimeBoundaries({ eta: 1, lambdaMax: 1, lambdaMin: 2 })).toThrow(/lambdaMin must be <= 1/);
    expect(() => regimeBoundaries({ eta: 1, eigenvalues: [0, 0] })).toThrow(/positive value/);
  });
  it('core errors carry ERR_INVALID_ARG as RangeErrors', () => {
    let err: unknown;
    try {
      linearDynamics({ K: fromRows([[1, 0], [0, -1]]), y: [1, 1], eta: 0.1, times: [1] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect((err as { code: string }).code).toBe('ERR_INVALID_ARG');
  });
});
