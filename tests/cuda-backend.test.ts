// The `backend` option of the heavy calls: validation, ERR_CUDA_UNAVAILABLE when CUDA cannot run,
// 'auto' falling back to the CPU, ERR_CUDA_UNSUPPORTED for calls without a GPU path. Where a
// CUDA device is visible, the GPU results are compared with the CPU's instead.
import { describe, expect, it } from 'vitest';
import {
  buildInfo, costMatrix, costMatrixSync, createNetwork, cudaAvailable, ntk, ntkSync, random, sinkhorn, sinkhornDivergence,
  sinkhornSync, sinkhornSymmetric, SpeedlimitsError, train, type Matrix,
} from '../src/index.js';
import { expectClose } from './support/reference.js';

const info = buildInfo();
const gpu = info.cudaCompiled && info.cudaDevices > 0;

function cloud(n: number, d: number, seed: number, shift = 0): Matrix {
  const z = random.normal({ seed, length: n * d });
  for (let i = 0; i < z.length; i++) z[i] += shift;
  return { data: z, rows: n, cols: d };
}

function expectCode(fn: () => unknown, code: string, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SpeedlimitsError);
  expect((err as SpeedlimitsError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}

async function expectRejectCode(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SpeedlimitsError);
  expect((err as SpeedlimitsError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}

describe('backend option', () => {
  const X = cloud(12, 3, 1);
  const Y = cloud(9, 3, 2, 0.5);
  const fcn = createNetwork({ type: 'fcn', inputDim: 3, widths: [16], outputDim: 1, activation: 'relu' });
  const cnn = createNetwork({ type: 'cnn', inputShape: [1, 4, 4], channels: [2], outputDim: 1, activation: 'relu' });

  it('cudaAvailable() agrees with buildInfo()', () => {
    expect(cudaAvailable()).toBe(gpu);
  });

  it('rejects values other than auto | cpu | cuda, naming the option', () => {
    expect(() => costMatrixSync(X, Y, { backend: 'gpu' as never })).toThrow(RangeError);
    expect(() => costMatrixSync(X, Y, { backend: 'gpu' as never })).toThrow(/costMatrixSync: options.backend must be one of 'auto', 'cpu', 'cuda', got 'gpu'/);
    expect(() => sinkhornSync(costMatrixSync(X, Y), { epsilon: 1, backend: 1 as never })).toThrow(TypeError);
    expect(() => ntkSync(fcn, fcn.init({ seed: 1 }), X, null, { backend: 'CUDA' as never })).toThrow(RangeError);
  });

  it('cpu and auto give the CPU result when no device is visible (and agree with the GPU when one is)', async () => {
    const cpu = costMatrixSync(X, Y, { backend: 'cpu' });
    const auto = costMatrixSync(X, Y);
    if (gpu) expectClose(auto.data, cpu.data, { rtol: 1e-12, atol: 1e-12 });
    else expect(Array.from(auto.data)).toEqual(Array.from(cpu.data));
    const C = await costMatrix(X, Y, { backend: 'auto' });
    const a = sinkhornSync(C, { epsilon: 0.5, backend: 'cpu' });
    const b = await sinkhorn(C, { epsilon: 0.5 });
    expect(b.converged).toBe(true);
    expectClose([b.objective], [a.objective], { rtol: 1e-8, atol: 1e-10 });
    const theta = fcn.init({ seed: 3 });
    const k1 = ntkSync(fcn, theta, X, null, { backend: 'cpu' });
    const k2 = await ntk(fcn, theta, X, null, { backend: 'auto' });
    expectClose(k2.data, k1.data, { rtol: 1e-11, atol: 1e-11 });
  });

  it.skipIf(gpu)("backend 'cuda' without a device: ERR_CUDA_UNAVAILABLE from every heavy call", async () => {
    const why = info.cudaCompiled ? /no CUDA device is visible/ : /this build has no CUDA kernels/;
    expectCode(() => costMatrixSync(X, Y, { backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', /^costMatrixSync: backend 'cuda' was requested but/);
    expectCode(() => costMatrixSync(X, Y, { backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', why);
    await expectRejectCode(costMatrix(X, Y, { backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', /^costMatrix: /);
    const C = costMatrixSync(X, Y);
    expectCode(() => sinkhornSync(C, { epsilon: 1, backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', /^sinkhornSync: /);
    await expectRejectCode(sinkhorn(C, { epsilon: 1, backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', /^sinkhorn: /);
    await expectRejectCode(sinkhornSymmetric(costMatrixSync(X), { epsilon: 1, backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', /^sinkhornSymmetric: /);
    await expectRejectCode(sinkhornDivergence(X, Y, { backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', /^sinkhornDivergence: /);
    expectCode(() => ntkSync(fcn, fcn.init({ seed: 1 }), X, null, { backend: 'cuda' }), 'ERR_CUDA_UNAVAILABLE', /^ntkSync: /);
    await expectRejectCode(
      train(fcn, { x: X, y: { data: new Float64Array(12), rows: 12, cols: 1 } }, { learningRate: 0.1, steps: 2, backend: 'cuda' }),
      'ERR_CUDA_UNAVAILABLE', /^train: /);
  });

  it.skipIf(!gpu)("backend 'cuda' with a device: calls without a GPU path throw ERR_CUDA_UNSUPPORTED", async () => {
    expectCode(() => ntkSync(cnn, cnn.init({ seed: 1 }), { data: new Float64Array(32), rows: 2, cols: 16 }, null, { backend: 'cuda' }),
      'ERR_CUDA_UNSUPPORTED', /^ntkSync: backend 'cuda' does not support the NTK of a CNN/);
    const xc = { data: new Float64Array(3 * 16).fill(0.5), rows: 3, cols: 16 };
    await expectRejectCode(
      train(cnn, { x: xc, y: { data: new Float64Array(3), rows: 3, cols: 1 } }, { learningRate: 0.1, steps: 2, backend: 'cuda' }),
      'ERR_CUDA_UNSUPPORTED', /^train: backend 'cuda' does not support training a CNN/);
  });

  it.skipIf(!gpu)("backend 'cuda' trains an FCN on the GPU and agrees with the CPU for every method", async () => {
    const Xt = cloud(24, 3, 7);
    const y = { data: random.normal({ seed: 8, length: 24 }), rows: 24, cols: 1 };
    for (const method of ['gd', 'langevin', 'sgld', 'sgworld'] as const) {
      const opts = {
        method, learningRate: 0.02, steps: 30, seed: 11, replicas: 4, weightDecay: 0.01, logTimes: [0, 5, 30], snapshotTimes: [10],
        ...(method === 'gd' ? {} : { temperature: 0.05 }), ...(method === 'sgld' || method === 'sgworld' ? { batchSize: 6 } : {}),
        projectionDim: 2,
      };
      const c = await train(fcn, { x: Xt, y }, { ...opts, backend: 'cpu' });
      const g = await train(fcn, { x: Xt, y }, { ...opts, backend: 'cuda' });
      expect(g.status).toBe(c.status);
      expect(Array.from(g.initialParams.data)).toEqual(Array.from(c.initialParams.data));
      expectClose(g.finalParams.data, c.finalParams.data, { rtol: 1e-10, atol: 1e-12 });
      expectClose(g.snapshots[0].params.data, c.snapshots[0].params.data, { rtol: 1e-10, atol: 1e-12 });
      expectClose(g.perReplica.loss, c.perReplica.loss, { rtol: 1e-10, atol: 1e-12 });
      expectClose(g.perReplica.dissipation, c.perReplica.dissipation, { rtol: 1e-9, atol: 1e-14 });
      expectClose(g.ensemble.w2, c.ensemble.w2, { rtol: 1e-8, atol: 1e-12 });
      const auto = await train(fcn, { x: Xt, y }, opts);  // 'auto' takes the GPU path here
      expectClose(auto.finalParams.data, g.finalParams.data, { rtol: 0, atol: 0 });
    }
  });

  it("'auto' runs a CNN's NTK and training on the CPU whatever the device (and an FCN's training on the CPU without one)", async () => {
    const theta = cnn.init({ seed: 2 });
    const x = { data: random.normal({ seed: 4, length: 32 }), rows: 2, cols: 16 };
    const k1 = ntkSync(cnn, theta, x, null, { backend: 'cpu' });
    const k2 = ntkSync(cnn, theta, x, null, { backend: 'auto' });
    expect(Array.from(k2.data)).toEqual(Array.from(k1.data));
    const y = { data: new Float64Array(12).fill(0.5), rows: 12, cols: 1 };
    const h1 = await train(fcn, { x: X, y }, { learningRate: 0.05, steps: 3, backend: 'cpu', logTimes: [0, 3] });
    const h2 = await train(fcn, { x: X, y }, { learningRate: 0.05, steps: 3, logTimes: [0, 3] });
    if (gpu) expectClose(h2.finalParams.data, h1.finalParams.data, { rtol: 1e-12, atol: 1e-14 });
    else expect(Array.from(h2.finalParams.data)).toEqual(Array.from(h1.finalParams.data));
    const xc = { data: random.normal({ seed: 6, length: 3 * 16 }), rows: 3, cols: 16 };
    const yc = { data: new Float64Array(3).fill(0.2), rows: 3, cols: 1 };
    const c1 = await train(cnn, { x: xc, y: yc }, { learningRate: 0.05, steps: 3, backend: 'cpu', logTimes: [0, 3] });
    const c2 = await train(cnn, { x: xc, y: yc }, { learningRate: 0.05, steps: 3, logTimes: [0, 3] });
    expect(Array.from(c2.finalParams.data)).toEqual(Array.from(c1.finalParams.data));
  });

  it.skipIf(!gpu)("backend 'cuda' agrees with the CPU (cost matrix fp32/fp64, Sinkhorn, FCN NTK)", async () => {
    const Xf = { data: Float32Array.from(X.data), rows: X.rows, cols: X.cols };
    const Yf = { data: Float32Array.from(Y.data), rows: Y.rows, cols: Y.cols };
    expectClose(costMatrixSync(Xf, Yf, { backend: 'cuda' }).data, costMatrixSync(Xf, Yf, { backend: 'cpu' }).data, { rtol: 2e-5, atol: 1e-5 });
    const C = costMatrixSync(X, Y, { backend: 'cuda' });
    expectClose(C.data, costMatrixSync(X, Y, { backend: 'cpu' }).data, { rtol: 1e-12, atol: 1e-12 });
    const g = await sinkhorn(C, { epsilon: 0.2, tol: 1e-11, returnPlan: true, backend: 'cuda' });
    const c = await sinkhorn(C, { epsilon: 0.2, tol: 1e-11, returnPlan: true, backend: 'cpu' });
    expect(g.converged).toBe(true);
    expectClose([g.objective], [c.objective], { rtol: 1e-8, atol: 1e-10 });
    expectClose(g.plan!.data, c.plan!.data, { rtol: 1e-6, atol: 1e-10 });
    const theta = fcn.init({ seed: 5 });
    expectClose(ntkSync(fcn, theta, X, Y, { backend: 'cuda' }).data, ntkSync(fcn, theta, X, Y, { backend: 'cpu' }).data, { rtol: 1e-11, atol: 1e-11 });
  });
});
