/**
 * Deep linear networks: population gradient descent (THEORY.md §5.3) — ours against the same
 * rank-1 update written in NumPy, same machine, same run, same initial weights:
 *   plain net, L = 4, N = 1024, D = 1000, μP (γ0 = 1), power-law data (α = 1.5, b = 0.5), η = 0.01,
 *   1e4 steps (--quick: N = 256, D = 250, 1e3 steps).
 * Ours: `deepLinear({ training: 'population', init })`. NumPy: per step u_ℓ = M_ℓᵀu_{ℓ+1}, v, e,
 * a_ℓ by `@`, then `W -= np.outer(α·u, a)` for every tensor. The initial weights, λ and w* go to
 * NumPy as .npy files (writeNpySync), and before the ratio is trusted the population loss at every
 * log time must agree to 1e-10 relative. η is in the stable regime on purpose: at larger η the μP
 * net reaches the edge of stability, where GD is chaotic and two correct implementations part
 * ways from rounding-level differences (here a 1e-14 change of one weight: still 1e-16 in the loss
 * at t = 1e4 for η = 0.01, 2e-11 for η = 0.02; 1e-13 → 50 % by t = 1000 at η = 0.05, N = 256).
 *
 *   node --import tsx bench/deeplinear.bench.ts [--quick] [--threads N] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deepLinear, deepLinearInit, geometricSteps, writeNpySync, type DeepLinearResult } from '../src/index.js';
import { attempt, fmtMs, fmtRatio, requirePeer, runPeer, startBench, timeIt, withPeerContention, type Stats, type TimeOptions } from './harness.js';

const ctx = startBench('deeplinear');
const { quick } = ctx.cli;
const L = 4;
const N = quick ? 256 : 1024;
const D = quick ? 250 : 1000;
const STEPS = quick ? 1000 : 10_000;
const ETA = 0.01;
const ALPHA = 1.5;
const B = 0.5;
const OURS: TimeOptions = quick ? { warmup: 1, repeats: 3 } : { warmup: 0, repeats: 3, maxTimeMs: 100_000, minRepeats: 1 };
const PEER: TimeOptions = quick ? { warmup: 1, repeats: 3 } : { warmup: 0, repeats: 1 };
const dir = mkdtempSync(join(tmpdir(), 'speedlimits-bench-'));
const haveNumpy = requirePeer('numpy');

// data and start shared by both sides
const eigenvalues = new Float64Array(D);
const target = new Float64Array(D);
for (let k = 0; k < D; k++) {
  eigenvalues[k] = Math.pow(k + 1, -ALPHA);
  target[k] = Math.pow(k + 1, 0.5 * (ALPHA - ALPHA * B - 1));
}
const start = deepLinearInit({ inputDim: D, width: N, depth: L, seed: 1 });
const file = (name: string) => join(dir, `${name}.npy`);
writeNpySync(file('W0'), { data: start.W0.data, shape: [N, D] });
start.hidden.forEach((W, i) => writeNpySync(file(`W${i + 1}`), { data: W.data, shape: [N, N] }));
writeNpySync(file('w'), { data: start.readout, shape: [N] });
writeNpySync(file('lambda'), { data: eigenvalues, shape: [D] });
writeNpySync(file('target'), { data: target, shape: [D] });
const logTimes = geometricSteps(STEPS, 20);

const options = {
  inputDim: D, width: N, depth: L, parameterization: 'mup' as const, gamma0: 1, learningRate: ETA, steps: STEPS,
  training: 'population' as const, data: { eigenvalues, target }, init: start.params, logTimes,
};

let last: DeepLinearResult | null = null;
const oursRun = async () => {
  last = await deepLinear(options);
};
ctx.log(`ours: population GD L=${L} N=${N} D=${D}, ${STEPS} steps…`);
const ours = await timeIt(oursRun, OURS);
const oursLoss = Array.from((last as DeepLinearResult | null)!.loss);

let ours1: Stats | null = null;
if (ctx.threads > 1) {
  ctx.log('ours on 1 thread…');
  const saved = ctx.threads;
  ctx.useThreads(1);
  ours1 = await timeIt(oursRun, quick ? OURS : { warmup: 0, repeats: 1 });
  ctx.useThreads(saved);
}

const PY = String.raw`
np = load('numpy')
d = ARGS['dir']
L, N, steps, eta, gamma = ARGS['L'], ARGS['N'], ARGS['steps'], ARGS['eta'], ARGS['gamma']
W0i = np.load(d + '/W0.npy'); Wi = [np.load(d + '/W%d.npy' % l) for l in range(1, L)]; wi = np.load(d + '/w.npy')
lam = np.load(d + '/lambda.npy'); wstar = np.load(d + '/target.npy')
logs = set(ARGS['logTimes'])
s = 1.0 / np.sqrt(N)
a0 = eta * gamma        # η_eff/(γ0 N) with η_eff = η γ0² N: the step of W_0 and w per unit gradient factor
aH = a0 * s
losses = []
def run():
    W0 = W0i.copy(); W = [x.copy() for x in Wi]; w = wi.copy()
    out = []
    for t in range(steps + 1):
        u = [None] * (L + 1)
        u[L] = w
        for l in range(L - 1, 0, -1):
            u[l] = (W[l - 1].T @ u[l + 1]) * s
        v = (W0.T @ u[1]) / (gamma * N)
        r = v - wstar
        if t in logs:
            out.append(0.5 * float(np.dot(lam * r, r)))
        if t == steps:
            break
        e = lam * r
        a = [None] * (L + 1)
        a[1] = W0 @ e
        for l in range(1, L):
            a[l + 1] = (W[l - 1] @ a[l]) * s
        W0 -= np.outer(a0 * u[1], e)
        for l in range(1, L):
            W[l - 1] -= np.outer(aH * u[l + 1], a[l])
        w = w - a0 * a[L]
    losses[:] = out
RESULT = {'t': time_it(run, **TIMING), 'loss': losses}
`;

let peer: { t: Stats; loss: number[] } | null = null;
if (haveNumpy) {
  ctx.log('numpy: the same loop…');
  peer = attempt(ctx, 'numpy', () =>
    runPeer<{ t: Stats; loss: number[] }>(PY, { dir, L, N, steps: STEPS, eta: ETA, gamma: 1, logTimes }, { timing: PEER, timeoutMs: 30 * 60_000 }));
  if (peer) peer.t = withPeerContention(peer.t)!;
}
rmSync(dir, { recursive: true, force: true });

let check = 'n/a';
let agree: boolean | null = null;
if (peer) {
  let worst = 0;
  for (let i = 0; i < oursLoss.length; i++) worst = Math.max(worst, Math.abs(oursLoss[i] - peer.loss[i]) / Math.abs(peer.loss[i]));
  agree = peer.loss.length === oursLoss.length && worst <= 1e-10;
  check = `${agree ? 'OK' : 'MISMATCH'}: loss at ${oursLoss.length} log times within ${worst.toExponential(1)} rel (ℒ ${oursLoss[0].toPrecision(4)} → ${oursLoss[oursLoss.length - 1].toPrecision(4)})`;
}
const size = `L=${L} N=${N} D=${D}, ${STEPS} steps`;
const perStep = (s: Stats | null) => (s ? `${fmtMs(s.median / STEPS)} ms/step` : 'n/a');
const row = ctx.add({
  workload: 'population GD', size, oursLabel: `deepLinear ${ctx.threads} thr`, ours, peerLabel: 'numpy @ + np.outer', peer: peer?.t ?? null,
  note: `${check}; ours ${perStep(ours)}, numpy ${perStep(peer?.t ?? null)}`,
});
if (ours1) ctx.add({ workload: 'population GD', size, oursLabel: 'deepLinear 1 thr', ours: ours1, peerLabel: 'numpy @ + np.outer', peer: peer?.t ?? null, note: perStep(ours1) });
const met = row.ratio === null ? null : row.ratio >= 5 && agree === true;
ctx.summary.push(
  `target: ours ≥ 5× NumPy on population GD (${size}): ${fmtRatio(row.ratio)}× — ${met === null ? 'n/a' : met ? 'MET' : 'NOT MET'}` +
    (agree === false ? ' (the losses disagree: the ratio is not trusted)' : ''),
  `ours per step: ${perStep(ours)} (${ctx.threads} threads)${ours1 ? `, ${perStep(ours1)} (1 thread)` : ''}; numpy: ${perStep(peer?.t ?? null)}`,
  'each step reads every weight about twice (a backward pass of transposed products and a forward pass; the rank-1 updates are kept pending and applied to 1/8 of the rows per step): the step is memory-bound',
);
ctx.finish({ timing: { ours: OURS, peer: PEER }, config: { L, N, D, steps: STEPS, eta: ETA, alpha: ALPHA, b: B, parameterization: 'mup', gamma0: 1 } });
