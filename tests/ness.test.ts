// NESS and exact sampler moments through the public API: THEORY.md §6 oracles O7(b) (to 1e-8) and
// O8 (to 1e-6), argument errors, and a Monte-Carlo run of the O7(b) linear chain written here
// (noise from the library's random.normal) against the exact stationary covariance and area.
import { describe, expect, it } from 'vitest';
import { fromRows, ness, random, samplerMoments, SpeedlimitsError, type Matrix } from '../src/index.js';
import { expectClose } from './support/reference.js';

const TOL = { rtol: 1e-8 };

// O7 instance.
const H = fromRows([[2, 0.6], [0.6, 0.8]]);
const Cov = fromRows([[1, 0.9], [0.9, 1.5]]);

// O8 instance.
const X = fromRows([
  [0.001, 0.299], [-0.274, -0.891], [-0.455, -0.992], [0.06, 1.34],
  [-0.492, -0.62], [0.49, 0.357], [0.105, -0.93], [-0.029, 0.695],
]);
const y = [-0.791, -0.064, -0.872, -1.139, -1.017, 0.083, -0.188, -0.163];
const o8 = { X, y, temperature: 0.25, gamma: 0.25, batchSize: 2 };

/** The native-side errors carry err.code; RangeError for argument errors. */
function thrown(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('ness', () => {
  it('O7(b): pure SGD — Λ exact and continuous, σ_step exact and continuous, 𝒜01', () => {
    const r = ness({ H, gradientCovariance: Cov, eta: 0.05 });
    expectClose(r.covariance.data, [0.0120111171, 0.0047759689, 0.0047759689, 0.0444606403], TOL);
    expectClose(r.covarianceContinuous.data, [0.0112039171, 0.0043202765, 0.0043202765, 0.0436347926], TOL);
    expectClose([r.entropyPerStep, r.entropyPerStepContinuous], [0.0504017531, 0.0492857143], TOL);
    expectClose([r.area.data[1]], [6.300219e-4], { rtol: 1e-6 }); // quoted to 7 digits
    expect(r.area.data[2]).toBe(-r.area.data[1]);
    expect([r.area.data[0], r.area.data[3]]).toEqual([0, 0]);
    expectClose(r.diffusion.data, [0.00125, 0.001125, 0.001125, 0.001875], { rtol: 1e-14 });
    expect(r.covariance.rows).toBe(2);
    expect(r.equilibrium).toBe(false);
    // ΩΛc is antisymmetric for Ω = 𝒟Λc⁻¹ − ηH: the continuous current is divergence-free (§4.6)
    const [a, b, c, d] = r.velocity.data, [l0, l1, , l3] = r.covarianceContinuous.data;
    expectClose([a * l0 + b * l1, c * l1 + d * l3], [0, 0], { atol: 1e-16 });
    expectClose([a * l1 + b * l3], [-(c * l0 + d * l1)], { rtol: 1e-10 });
  });

  it('isotropic noise (ULA near a minimum) is an equilibrium: σ = 0, no area, Λ = T H⁻¹(I − ηH/2)⁻¹', () => {
    const r = ness({ H: fromRows([[3, 0], [0, 1]]), eta: 0.1, temperature: 0.5 });
    expect(r.equilibrium).toBe(true);
    expect(Math.abs(r.entropyPerStep)).toBeLessThan(1e-14);
    expect(Math.abs(r.entropyPerStepContinuous)).toBeLessThan(1e-14);
    expectClose(r.covariance.data, [0.5 / (3 * 0.85), 0, 0, 0.5 / 0.95], { rtol: 1e-13, atol: 1e-18 });
    // SGLD-WR: 𝒟 = ηT·I + (η²/2)·Cov, and `diffusion` gives the same state
    const w = ness({ H, gradientCovariance: Cov, eta: 0.05, temperature: 0.2 });
    const v = ness({ H, diffusion: w.diffusion, eta: 0.05 });
    expectClose(v.covariance.data, w.covariance.data, { rtol: 1e-15 });
    expect(w.entropyPerStep).toBeGreaterThan(0);
  });

  it('Monte Carlo: 4000 chains of θ ← Aθ + N(0, 2𝒟) reproduce Λ exact (not Λ continuous) and 𝒜01', () => {
    const eta = 0.05, chains = 4000;
    const { covariance: L, covarianceContinuous: Lc, diffusion: D, area } = ness({ H, gradientCovariance: Cov, eta });
    const A = H.data.map((h, i) => (i === 0 || i === 3 ? 1 : 0) - eta * h);
    // 2𝒟 = C Cᵀ (Cholesky, 2×2)
    const c00 = Math.sqrt(2 * D.data[0]), c10 = (2 * D.data[2]) / c00, c11 = Math.sqrt(2 * D.data[3] - c10 * c10);
    const t0 = new Float64Array(chains), t1 = new Float64Array(chains);
    // relaxation time 1/(η h_min) ≈ 36 steps: burn in 400, then a snapshot every 100 steps (lag
    // correlation ≈ e^{−2.8}), 10 snapshots ⇒ ≈ 4·10⁴ nearly independent draws
    const burn = 400, gap = 100, snaps = 10, steps = burn + gap * (snaps - 1) + 1;
    let s00 = 0, s01 = 0, s11 = 0, sArea = 0, sArea2 = 0, count = 0;
    for (let k = 0; k < steps; k++) {
      const z = random.normal({ seed: 8, stream: 1, offset: 2 * chains * k, length: 2 * chains });
      const snap = k >= burn && (k - burn) % gap === 0;
      for (let i = 0; i < chains; i++) {
        const x0 = t0[i], x1 = t1[i];
        const n0 = c00 * z[2 * i], n1 = c10 * z[2 * i] + c11 * z[2 * i + 1];
        const y0 = A[0] * x0 + A[1] * x1 + n0, y1 = A[2] * x0 + A[3] * x1 + n1;
        if (snap) {
          s00 += x0 * x0;
          s01 += x0 * x1;
          s11 += x1 * x1;
          const a = 0.5 * (x0 * (y1 - x1) - x1 * (y0 - x0)); // ½(θ0Δθ1 − θ1Δθ0)
          sArea += a;
          sArea2 += a * a;
          count++;
        }
        t0[i] = y0;
        t1[i] = y1;
      }
    }
    const mc = [s00 / count, s01 / count, s11 / count];
    const [l00, l01, , l11] = L.data;
    // standard errors of second moments of a centred Gaussian: √((Λii Λjj + Λij²)/N)
    const se = [Math.sqrt((2 * l00 * l00) / count), Math.sqrt((l00 * l11 + l01 * l01) / count), Math.sqrt((2 * l11 * l11) / count)];
    [l00, l01, l11].forEach((v, i) => expect(Math.abs(mc[i] - v)).toBeLessThan(4 * se[i]));
    // the exact chain, not the continuous approximation (7% apart in Λ00, ≈ 10 standard errors)
    expect(Math.abs(mc[0] - Lc.data[0])).toBeGreaterThan(4 * se[0]);
    const meanArea = sArea / count, seArea = Math.sqrt((sArea2 / count - meanArea * meanArea) / count);
    expect(Math.abs(meanArea - area.data[1])).toBeLessThan(4 * seArea);
    expect(seArea).toBeLessThan(0.1 * area.data[1]);
  });

  it('argument errors name the argument', () => {
    const ok = { H, gradientCovariance: Cov, eta: 0.05 };
    expect(() => ness(undefined as never)).toThrow(TypeError);
    expect(() => ness({ ...ok, H: undefined as never })).toThrow(/ness: H is required/);
    expect(() => ness({ ...ok, H: fromRows([[2, 0.6], [0.5, 0.8]]) })).toThrow(/ness: H must be symmetric, but \(1, 0\) = 0\.5/);
    expect(() => ness({ ...ok, H: fromRows([[2, 0.6, 0]]) })).toThrow(/ness: H must be square/);
    const notPd = thrown(() => ness({ ...ok, H: fromRows([[1, 2], [2, 1]]) }));
    expect(notPd).toBeInstanceOf(RangeError);
    expect(notPd.message).toMatch(/ness: H must be positive definite, its smallest eigenvalue is -1/);
    expect(notPd.code).toBe('ERR_INVALID_ARG');
    const big = thrown(() => ness({ ...ok, eta: 1 }));
    expect(big).toBeInstanceOf(RangeError);
    expect(big.message).toMatch(/ness: eta must be < 2\/h_max = 0\.889471 .*, got 1/);
    expect(() => ness({ ...ok, eta: 0 })).toThrow(/ness: eta must be > 0/);
    expect(() => ness({ ...ok, eta: Number.NaN })).toThrow(/eta must be finite/);
    expect(() => ness({ ...ok, temperature: -1 })).toThrow(/temperature must be >= 0/);
    expect(() => ness({ H, eta: 0.05 })).toThrow(/there is no noise/);
    expect(() => ness({ ...ok, diffusion: Cov })).toThrow(/gradientCovariance or diffusion, not both/);
    expect(() => ness({ H, diffusion: Cov, eta: 0.05, temperature: 1 })).toThrow(/temperature must be 0 with diffusion/);
    expect(() => ness({ ...ok, gradientCovariance: fromRows([[1]]) })).toThrow(/gradientCovariance must have 2 rows/);
    expect(() => ness({ ...ok, gradientCovariance: fromRows([[1, 2], [2, 1]]) })).toThrow(
      /ness: gradientCovariance must be positive semidefinite/,
    );
    const nan: Matrix = { data: new Float64Array([1, 0, 0, Number.NaN]), rows: 2, cols: 2 };
    expect(() => ness({ ...ok, H: nan })).toThrow(/H must contain only finite values, got NaN at \(1, 1\)/);
  });
});

describe('samplerMoments', () => {
  it('O8: stationary W2 to the posterior of ULA, SGLD-WR and SGWORLD at four learning rates', () => {
    const etas = [1e-3, 3e-3, 1e-2, 3e-2];
    const table = {
      ula: [3.266852e-4, 9.840842e-4, 3.328402e-3, 1.042888e-2],
      sgld: [2.073703e-3, 6.207438e-3, 2.05619e-2, 6.12167e-2],
      sgworld: [1.070395e-3, 3.198079e-3, 1.053372e-2, 3.164109e-2],
    } as const;
    for (const sampler of ['ula', 'sgld', 'sgworld'] as const) {
      const w2 = etas.map((eta) => samplerMoments({ ...o8, eta, sampler }).w2ToPosterior);
      expectClose(w2, table[sampler], { rtol: 1e-6 });
    }
  });

  it('O8 at η = 1e-2: posterior, ULA and WR covariances, SGWORLD mean and covariance', () => {
    const u = samplerMoments({ ...o8, eta: 1e-2, sampler: 'ula' });
    expectClose(u.posterior.mean, [1.11102004, -0.23970218], { rtol: 1e-7 });
    expectClose(u.posterior.covariance.data, [0.31046173, -0.06122185, -0.06122185, 0.05537985], { rtol: 1e-6 });
    expectClose(u.mean, u.posterior.mean, { rtol: 0 });
    expectClose(u.covariance.data, [0.31171825, -0.06121449, -0.06121449, 0.05666705], { rtol: 1e-6 });
    expect(u.partitions).toBeUndefined();
    const w = samplerMoments({ ...o8, eta: 1e-2, sampler: 'sgld' });
    expectClose(w.mean, u.posterior.mean, { rtol: 0 });
    expectClose(w.covariance.data, [0.31544985, -0.06109732, -0.06109732, 0.06406981], { rtol: 1e-6 });
    const s = samplerMoments({ ...o8, eta: 1e-2, sampler: 'sgworld' });
    expectClose(s.mean, [1.12017815, -0.24400677], { rtol: 1e-6 });
    expectClose(s.covariance.data, [0.3094653, -0.06047188, -0.06047188, 0.05624603], { rtol: 1e-6 });
    expect(s.partitions).toBe(2520); // 8!/(2!)^4
    expect(s.sampler).toBe('sgworld');
    expect(s.w2sqToPosterior).toBeCloseTo(s.w2ToPosterior ** 2, 15);
  });

  it('O8: first-order WOR mean shift vs the exact SGWORLD mean at η = 1e-3', () => {
    const s = samplerMoments({ ...o8, eta: 1e-3, sampler: 'sgworld' });
    expectClose(s.meanShiftFirstOrder!, [0.00094416, -0.00043078], { rtol: 1e-5 });
    expectClose([s.mean[0] - s.posterior.mean[0], s.mean[1] - s.posterior.mean[1]], [0.00094128, -0.00043073], { rtol: 1e-4 });
  });

  it('one batch per epoch (B = n) is ULA for both minibatch samplers; ULA ignores batchSize', () => {
    const u = samplerMoments({ ...o8, eta: 0.02, sampler: 'ula' });
    for (const sampler of ['sgld', 'sgworld'] as const) {
      const m = samplerMoments({ ...o8, eta: 0.02, sampler, batchSize: 8 });
      expectClose(m.covariance.data, u.covariance.data, { rtol: 1e-10 });
      expectClose(m.mean, u.mean, { rtol: 1e-10 });
    }
    expect(samplerMoments({ ...o8, eta: 0.02, sampler: 'ula', batchSize: 3 }).w2ToPosterior).toBe(u.w2ToPosterior);
  });

  it('argument errors name the argument', () => {
    const ok = { ...o8, eta: 1e-2, sampler: 'sgworld' as const };
    expect(() => samplerMoments(undefined as never)).toThrow(TypeError);
    expect(() => samplerMoments({ ...ok, batchSize: 3 })).toThrow(/samplerMoments: batchSize = 3 does not divide n = 8.*dropRemainder/);
    expect(samplerMoments({ ...ok, batchSize: 3, dropRemainder: true }).partitions).toBe(560); // C(8,3)·C(5,3)
    expect(() => samplerMoments({ ...ok, batchSize: undefined })).toThrow(/batchSize is required for sampler 'sgworld'/);
    expect(() => samplerMoments({ ...ok, batchSize: 9 })).toThrow(/batchSize must be an integer in \[1, 8\]/);
    expect(() => samplerMoments({ ...ok, sampler: 'sgd' as never })).toThrow(/sampler must be one of 'ula', 'sgld', 'sgworld'/);
    expect(() => samplerMoments({ ...ok, temperature: 0 })).toThrow(/temperature must be > 0/);
    expect(() => samplerMoments({ ...ok, gamma: -1 })).toThrow(/gamma must be >= 0/);
    expect(() => samplerMoments({ ...ok, y: [1, 2] })).toThrow(/y has 2 entries but X has 8 rows/);
    expect(() => samplerMoments({ ...ok, dropRemainder: 1 as never })).toThrow(/dropRemainder must be a boolean/);
    const many = thrown(() => samplerMoments({ ...ok, batchSize: 1, maxPartitions: 1000 }));
    expect(many).toBeInstanceOf(RangeError);
    expect(many.message).toMatch(/samplerMoments: sgworld averages over all 40320 ordered partitions/);
    const big = thrown(() => samplerMoments({ ...ok, eta: 0.6 }));
    expect(big).toBeInstanceOf(RangeError);
    expect(big.message).toMatch(/samplerMoments: eta must be < 2\/h_max/);
    // rank-deficient X with γ = 0: H = XᵀX is singular
    const notPd = thrown(() => samplerMoments({ X: fromRows([[1, 2], [2, 4], [-1, -2]]), y: [1, 0, 2], temperature: 1, eta: 0.01, sampler: 'ula' }));
    expect(notPd).toBeInstanceOf(RangeError);
    expect(notPd.message).toMatch(/H = XᵀX \+ γI must be positive definite/);
    // mean-square unstable SGLD-WR although η·h_max < 2 (P = 1, A_S ∈ {2 + γ, γ})
    const unstable = thrown(() => samplerMoments({ X: fromRows([[1], [0]]), y: [0.5, 0.2], temperature: 0.1, gamma: 0.1, eta: 1.5, batchSize: 1, sampler: 'sgld' }));
    expect(unstable.message).toMatch(/eta = 1\.5 is too large for sgld: the chain is mean-square unstable/);
    const wide = { X: { data: new Float64Array(17 * 20).map((_, i) => Math.sin(i)), rows: 20, cols: 17 }, y: new Float64Array(20), temperature: 1, eta: 1e-3, batchSize: 2 };
    expect(() => samplerMoments({ ...wide, sampler: 'sgld' })).toThrow(/P \(X.cols\) must be <= 16, got 17/);
    expect(samplerMoments({ ...wide, gamma: 1, sampler: 'ula' }).covariance.rows).toBe(17);
    expect(thrown(() => samplerMoments({ ...ok, eta: 0.6 }))).not.toBeInstanceOf(SpeedlimitsError);
  });
});
