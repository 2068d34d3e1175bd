/**
 * The W2 engine against POT and SciPy, same machine, same run:
 *   - costMatrix n = m = 4000, d = 64 vs ot.dist; at d = 1e5, n = m = 2000 vs one dgemm of ours
 *   - log-domain Sinkhorn per iteration (n = m = 4000, d = 64) vs ot.bregman.sinkhorn_log
 *   - Sinkhorn to tol 1e-6 at ε = 0.01·max C (n = 4000) vs ot.sinkhorn (plain, kernel domain)
 *   - w2Gaussian d = 2000 vs the scipy.linalg.sqrtm route; w2GaussianSamples d = 1e5, M = 64
 *   - emd n = 4000 vs ot.emd2
 * Inputs are written once as .npy (ours) and loaded by NumPy, so both solve the same problem.
 *
 *   node --import tsx bench/transport.bench.ts [--quick] [--threads N] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  costMatrixSync, emdSync, linalg, random, sinkhornSync, w2GaussianSamplesSync, w2GaussianSync, writeNpySync, type Matrix,
} from '../src/index.js';
import { attempt, fmtMs, fmtRatio, requirePeer, runPeer, startBench, timeIt, type Stats, type TimeOptions } from './harness.js';

const ctx = startBench('transport');
const { quick } = ctx.cli;
const TIMING: TimeOptions = quick ? { warmup: 1, repeats: 3, maxTimeMs: 5_000 } : { warmup: 1, repeats: 5, maxTimeMs: 60_000, minRepeats: 3 };
const SLOW: TimeOptions = { warmup: 0, repeats: 3, maxTimeMs: 120_000, minRepeats: 1 };
const dir = mkdtempSync(join(tmpdir(), 'speedlimits-bench-'));
const haveOt = requirePeer('ot');
const haveScipy = requirePeer('scipy');

function cloud(n: number, d: number, seed: number, shift = 0): Matrix {
  const z = random.normal({ seed, length: n * d });
  if (shift) for (let i = 0; i < z.length; i++) z[i] += shift;
  return { data: z, rows: n, cols: d };
}
function save(name: string, m: Matrix): string {
  const p = join(dir, `${name}.npy`);
  writeNpySync(p, { data: m.data, shape: [m.rows, m.cols] });
  return p;
}
const maxOf = (x: Float64Array) => x.reduce((m, v) => (v > m ? v : m), 0);
const targets: string[][] = [];
const target = (what: string, value: number | null, goal: string, met: boolean | null) =>
  targets.push([what, value === null ? 'n/a' : fmtRatio(value), goal, met === null ? 'n/a' : met ? 'MET' : 'NOT MET']);

// ---- cost matrix and Sinkhorn, n = 4000, d = 64 ------------------------------------------------
const N = quick ? 1000 : 4000;
const D = 64;
const X = cloud(N, D, 1);
const Y = cloud(N, D, 2, 0.3);
const xPath = save('x', X);
const yPath = save('y', Y);
ctx.log(`costMatrix ${N}x${N}x${D}…`);
const oursCost = await timeIt(() => costMatrixSync(X, Y), TIMING);
const C = costMatrixSync(X, Y);
const cmax = maxOf(C.data);
const eps = 0.01 * cmax;
const ITERS = 20;
ctx.log(`sinkhorn ${ITERS} iterations…`);
const oursIters = await timeIt(() => sinkhornSync(C, { epsilon: eps, maxIter: ITERS, tol: 1e-300, epsilonScaling: false, newton: false }), TIMING);
ctx.log('sinkhorn to tol 1e-6…');
let tolRun = sinkhornSync(C, { epsilon: eps, tol: 1e-6 });
const oursTol = await timeIt(() => (tolRun = sinkhornSync(C, { epsilon: eps, tol: 1e-6 })), SLOW);

interface PeerSinkhorn { dist?: Stats; log?: Stats; plain?: Stats; plainCost?: number; logIters?: number; emd?: Stats; emdCost?: number; distCheck?: number }
const PY_OT = String.raw`
np = load('numpy'); ot = load('ot')
x = np.load(ARGS['x']); y = np.load(ARGS['y'])
n = x.shape[0]
a = np.full(n, 1.0 / n); b = np.full(n, 1.0 / n)
out = {}
out['dist'] = time_it(lambda: ot.dist(x, y), **TIMING)
M = ot.dist(x, y)
out['distCheck'] = float(M.sum())
eps = ARGS['eps']
out['log'] = time_it(lambda: ot.bregman.sinkhorn_log(a, b, M, eps, numItermax=ARGS['iters'], stopThr=0.0), **TIMING)
def plain():
    P = ot.sinkhorn(a, b, M, eps, numItermax=100000, stopThr=1e-6)
    return float((P * M).sum())
out['plainCost'] = plain()
out['plain'] = time_it(plain, **ARGS['slow'])
RESULT = out
`;
let peer: PeerSinkhorn | null = null;
if (haveOt) {
  ctx.log('POT dist / sinkhorn_log / sinkhorn…');
  const slow = { warmup: 0, repeats: 3, max_time_ms: 120_000, min_repeats: 1 };
  peer = attempt(ctx, 'POT sinkhorn', () => runPeer<PeerSinkhorn>(PY_OT, { x: xPath, y: yPath, eps, iters: ITERS, slow }, { timing: TIMING }));
}
let sumC = 0;
for (const v of C.data) sumC += v;
ctx.add({ workload: 'costMatrix', size: `n=m=${N}, d=${D}`, oursLabel: 'costMatrixSync', ours: oursCost, peerLabel: 'ot.dist', peer: peer?.dist ?? null, note: peer?.distCheck ? `sum rel. diff ${(Math.abs(sumC - peer.distCheck) / sumC).toExponential(1)}` : '' });
const perIt = (s: Stats | null | undefined, k: number) => (s ? { ...s, median: s.median / k, min: s.min / k, mean: s.mean / k } : null);
ctx.add({ workload: 'sinkhorn per iteration', size: `n=m=${N}, ε=0.01·maxC`, oursLabel: 'sinkhornSync (log)', ours: perIt(oursIters, ITERS), peerLabel: 'ot.bregman.sinkhorn_log', peer: perIt(peer?.log, ITERS), note: `${ITERS} iterations timed` });
ctx.add({ workload: 'sinkhorn to tol 1e-6', size: `n=m=${N}, ε=0.01·maxC`, oursLabel: `sinkhornSync (${tolRun.iterations} it)`, ours: oursTol, peerLabel: 'ot.sinkhorn (kernel)', peer: peer?.plain ?? null, note: peer?.plainCost ? `⟨P,C⟩ ours ${tolRun.transportCost.toPrecision(8)}, POT ${peer.plainCost.toPrecision(8)}` : '' });
const rDist = peer?.dist ? peer.dist.median / oursCost.median : null;
const rLog = peer?.log ? peer.log.median / oursIters.median : null;
const rTol = peer?.plain ? peer.plain.median / oursTol.median : null;
target('costMatrix n=4000 d=64 vs ot.dist', rDist, '>= 5x', rDist === null ? null : rDist >= 5);
target('sinkhorn per iteration vs sinkhorn_log', rLog, '>= 8x', rLog === null ? null : rLog >= 8);
target('sinkhorn to 1e-6 vs ot.sinkhorn', rTol, '>= 1x', rTol === null ? null : rTol >= 1);

// ---- emd ------------------------------------------------------------------------------------
ctx.log(`emd ${N}…`);
const oursEmd = await timeIt(() => emdSync(C), SLOW);
const emdCost = emdSync(C).cost;
let peerEmd: PeerSinkhorn | null = null;
if (haveOt) {
  peerEmd = attempt(ctx, 'POT emd2', () => runPeer<PeerSinkhorn>(String.raw`
np = load('numpy'); ot = load('ot')
x = np.load(ARGS['x']); y = np.load(ARGS['y'])
n = x.shape[0]; a = np.full(n, 1.0 / n); M = ot.dist(x, y)
RESULT = {'emdCost': float(ot.emd2(a, a, M, numItermax=10**8)), 'emd': time_it(lambda: ot.emd2(a, a, M, numItermax=10**8), **TIMING)}
`, { x: xPath, y: yPath }, { timing: SLOW }));
}
ctx.add({ workload: 'emd', size: `n=m=${N}, d=${D}`, oursLabel: 'emdSync', ours: oursEmd, peerLabel: 'ot.emd2', peer: peerEmd?.emd ?? null, note: peerEmd?.emdCost ? `cost ours ${emdCost.toPrecision(12)}, POT ${peerEmd.emdCost.toPrecision(12)}` : '' });
const rEmd = peerEmd?.emd ? peerEmd.emd.median / oursEmd.median : null;
target('emd n=4000 vs ot.emd2', rEmd, '>= 0.67x (within 1.5x)', rEmd === null ? null : rEmd >= 1 / 1.5);

// ---- Gaussian W2 ----------------------------------------------------------------------------
const DG = quick ? 500 : 2000;
ctx.log(`w2Gaussian d=${DG}…`);
const B1 = cloud(DG, DG, 5);
const B2 = cloud(DG, DG, 6);
const C1 = linalg.syrkSync(B1, { alpha: 1 / DG });
const C2 = linalg.syrkSync(B2, { alpha: 1 / DG });
for (let i = 0; i < DG; i++) {
  C1.data[i * DG + i] += 0.1;
  C2.data[i * DG + i] += 0.1;
}
const m1 = new Float64Array(DG);
const m2 = new Float64Array(DG).fill(0.1);
const oursGauss = await timeIt(() => w2GaussianSync(m1, C1, m2, C2), SLOW);
const gauss = w2GaussianSync(m1, C1, m2, C2);
let peerGauss: { sqrtm?: Stats; value?: number } | null = null;
if (haveScipy) {
  const p1 = save('c1', C1);
  const p2 = save('c2', C2);
  peerGauss = attempt(ctx, 'scipy sqrtm', () => runPeer(String.raw`
np = load('numpy'); sl = load('scipy.linalg')
C1 = np.load(ARGS['c1']); C2 = np.load(ARGS['c2']); d = C1.shape[0]
m1 = np.zeros(d); m2 = np.full(d, 0.1)
def w2():
    s1 = sl.sqrtm(C1)
    cross = sl.sqrtm(s1 @ C2 @ s1)
    return float(np.sum((m1 - m2) ** 2) + np.trace(C1) + np.trace(C2) - 2 * np.real(np.trace(cross)))
RESULT = {'value': w2(), 'sqrtm': time_it(w2, **TIMING)}
`, { c1: p1, c2: p2 }, { timing: { warmup: 0, repeats: 3, maxTimeMs: 300_000, minRepeats: 1 } }));
}
ctx.add({ workload: 'w2Gaussian', size: `d=${DG}`, oursLabel: 'w2GaussianSync', ours: oursGauss, peerLabel: 'scipy sqrtm route', peer: peerGauss?.sqrtm ?? null, note: peerGauss?.value ? `W2² ours ${gauss.w2sq.toPrecision(10)}, scipy ${peerGauss.value.toPrecision(10)}` : '' });
const rGauss = peerGauss?.sqrtm ? peerGauss.sqrtm.median / oursGauss.median : null;
target('w2Gaussian d=2000 vs scipy sqrtm route', rGauss, '>= 8x', rGauss === null ? null : rGauss >= 8);

const P = quick ? 10_000 : 100_000;
const M = 64;
const S1 = cloud(M, P, 7, 5);
const S2 = cloud(M, P, 8, 5.1);
const oursSamples = await timeIt(() => w2GaussianSamplesSync(S1, S2), TIMING);
ctx.add({ workload: 'w2GaussianSamples', size: `M=N=${M}, P=${P}`, oursLabel: 'w2GaussianSamplesSync', ours: oursSamples, peerLabel: '', peer: null, note: 'target <= 25 ms' });
targets.push([`w2GaussianSamples P=${P}, M=64 (ms)`, fmtMs(oursSamples.median), '<= 25 ms', oursSamples.median <= 25 ? 'MET' : 'NOT MET']);

// ---- costMatrix at large d vs one dgemm ----------------------------------------------------------
if (!quick) {
  const NB = 2000;
  const DB = 100_000;
  ctx.log(`costMatrix ${NB}x${NB}, d=${DB} vs one dgemm…`);
  const XB = cloud(NB, DB, 9);
  const YB = cloud(NB, DB, 10);
  const big = await timeIt(() => costMatrixSync(XB, YB), SLOW);
  const gemm = await timeIt(() => linalg.gemmSync(XB, YB, { transB: true }), SLOW);
  ctx.add({ workload: 'costMatrix vs one dgemm', size: `n=m=${NB}, d=${DB}`, oursLabel: 'costMatrixSync', ours: big, peerLabel: 'our dgemm X·Yᵀ', peer: gemm, note: 'ratio = dgemm / costMatrix' });
  const r = gemm.median / big.median;
  target('costMatrix d=1e5 vs one dgemm (costMatrix/dgemm)', 1 / r, '<= 1.2', 1 / r <= 1.2);
}

ctx.tables.push({ title: 'targets (issue 4)', headers: ['workload', 'value', 'target', 'status'], rows: targets });
rmSync(dir, { recursive: true, force: true });
ctx.finish({ n: N, d: D, epsilon: eps, timing: TIMING });
