/**
 * The Langevin engine `train` (src/dynamics.ts) against the equivalent PyTorch ensemble loop,
 * float64 on both sides, same machine, same run:
 *   1. SGLD step: FCN d = 3072, widths [1024, 1024, 1024], k = 1 (outputDim 1), relu, 'standard'
 *      parameterisation, M = 8 replicas, B = 32, n = 1024 random normal samples, T > 0.
 *      PyTorch: hand-batched (stacked replica weights, torch.baddbmm, autograd) and
 *      functorch/torch.func vmap(grad(functional_call)); minibatches torch.randperm(n)[:B] per
 *      replica (B distinct samples, fresh every step, as ours); θ ← θ − η(n/B)g + √(2ηT)·randn_like(θ).
 *   2. Full-batch GD on the same net, M = 8, n = 1024: ours vs PyTorch batched over replicas (bmm).
 *   3. The machine's limit for (1): GEMM flops of one step / measured dgemm rate + P·M normal
 *      draws / measured fillNormal rate + one read and write of θ (P·M·16 bytes) / measured copy
 *      bandwidth; printed as ours / limit.
 * Plus a correctness check: tiny net, same start (net.init, PyTorch layout), T = 0, full batch:
 * the losses of a few GD steps agree to ~1e-10 relative.
 *
 * Ours runs with w2, logVar and entropy off and logTimes [0, K] (the integration is measured).
 * Per-step time of ours three ways: (a) in-run, from the core's progress reports (time of the
 * report after step K minus after step 1, over K − 1; excludes start-up and the full-batch losses
 * at the log times); (b) run time / K; (c) (run(K) − run(1)) / (K − 1), from pairs of neighbouring
 * runs. PyTorch: a loop of steps / steps (its state persists between calls: no start-up inside).
 * The machine rates of (3) are measured in the same run; so are the GEMMs of one replica's step at
 * their real shapes on 1 thread and the loss gradient alone (through the addon, as train() calls
 * it, and through the public net.lossGradient), to say where the time goes.
 *
 *   node --import tsx bench/dynamics.bench.ts [--quick] [--threads N] [--json]
 */
import { createNetwork, linalg, random, setThreads, train, trainSync, type FcnSpec, type Matrix, type Network } from '../src/index.js';
import { native } from '../src/native.js';
import {
  attempt, CONTENDED, fmtMs, fmtRatio, requirePeer, runPeer, startBench, summarize, timeIt, withPeerContention,
  type Stats, type TimeOptions,
} from './harness.js';

const ctx = startBench('dynamics');
const { quick } = ctx.cli;
const haveTorch = requirePeer('torch');
const threads = ctx.threads;

const SGLD_TARGET = 5;
const GD_TARGET = 1.5;
const LIMIT_TARGET = 2;

// ---- configuration ----------------------------------------------------------------------------
const C = quick
  ? { d: 256, widths: [128, 128, 128], k: 1, n: 256, M: 8, B: 32, K: 10, Kgd: 4, KpeerSgld: 5, KpeerGd: 2 }
  : { d: 3072, widths: [1024, 1024, 1024], k: 1, n: 1024, M: 8, B: 32, K: 20, Kgd: 3, KpeerSgld: 3, KpeerGd: 1 };
const ETA = 1e-7; // stable for this net and data (the top NTK eigenvalue is ~1e6); T only has to be > 0
const TEMP = 1e-6;
const spec: FcnSpec = { type: 'fcn', inputDim: C.d, widths: C.widths, outputDim: C.k, activation: 'relu', parameterization: 'standard', sigmaW: Math.SQRT2 };
const sizeLabel = `d=${C.d} [${C.widths.join(',')}] k=${C.k} n=${C.n} M=${C.M}`;

// Ours: pairs of runs (1 step, K steps) after one untimed 1-step run (a full-size pair takes ~20 s).
const PAIR_TIMING: TimeOptions = quick ? { warmup: 0, repeats: 3, maxTimeMs: 5_000 } : { warmup: 0, repeats: 3, minRepeats: 3, maxTimeMs: 180_000 };
const PEER_TIMING: TimeOptions = quick ? { warmup: 1, repeats: 3, maxTimeMs: 5_000 } : { warmup: 1, repeats: 3, minRepeats: 3, maxTimeMs: 60_000 };
const RATE_TIMING: TimeOptions = quick
  ? { warmup: 1, repeats: 5, maxTimeMs: 2_000 }
  : { warmup: 2, warmupMs: 200, repeats: 9, minTimeMs: 1_000, maxTimeMs: 10_000, minRepeats: 5 };

// ---- exact GEMM flops ---------------------------------------------------------------------------
// Per sample, as Network::loss_gradient computes it (native/core/nets.cpp): forward 2·in·out per
// layer (readout included); weight gradients 2·in·out per layer; backpropagated deltas through
// every layer except the first (no gradient w.r.t. the input), the readout's via top_delta_loss.
// = 4·d·w1 + 6·Σ_{l≥2} w_{l−1}·w_l + 6·w_L·k.
const dims = [C.d, ...C.widths, C.k];
let flopsPerSample = 0;
for (let l = 0; l + 1 < dims.length; l++) flopsPerSample += (l === 0 ? 4 : 6) * dims[l] * dims[l + 1];
const sgldFlops = flopsPerSample * C.B * C.M;
const gdFlops = flopsPerSample * C.n * C.M;

// ---- data ---------------------------------------------------------------------------------------
const net = createNetwork(spec);
const P = net.numParams;
const X: Matrix = { data: random.normal({ seed: 2, length: C.n * C.d }), rows: C.n, cols: C.d };
const Y: Matrix = { data: random.normal({ seed: 3, length: C.n * C.k }), rows: C.n, cols: C.k };
ctx.log(`${sizeLabel}: P = ${P}, GEMM flops per SGLD step ${(sgldFlops / 1e9).toFixed(3)} G (${flopsPerSample} per sample), per GD step ${(gdFlops / 1e9).toFixed(1)} G`);

const problems: string[] = [];
const notes: string[] = [];

// ---- 0. correctness: tiny net, same start, T = 0, full batch -------------------------------------
const PY_CHECK = String.raw`
torch = load('torch')
dt = torch.float64
n, d, k, M, steps, eta = ARGS['n'], ARGS['d'], ARGS['k'], ARGS['M'], ARGS['steps'], ARGS['eta']
x = torch.tensor(ARGS['x'], dtype=dt).reshape(n, d)
y = torch.tensor(ARGS['y'], dtype=dt).reshape(n, k)
theta = torch.tensor(ARGS['theta'], dtype=dt).reshape(M, -1)
layers = ARGS['layers']  # [[w_offset, out, in, b_offset], ...]
def loss_of(p):
    h = x
    for j, (wo, o, i, bo) in enumerate(layers):
        h = h @ p[wo:wo + o * i].reshape(o, i).T + p[bo:bo + o]
        if j + 1 < len(layers):
            h = torch.relu(h)
    return 0.5 * ((h - y) ** 2).sum()
losses = []
finals = []
for r in range(M):
    p = theta[r].clone().requires_grad_()
    row = []
    for s in range(steps + 1):
        L = loss_of(p)
        row.append(L.item())
        if s == steps:
            break
        g, = torch.autograd.grad(L, p)
        with torch.no_grad():
            p -= eta * g
    losses.append(row)
    finals.append(p.detach().tolist())
RESULT = {'losses': losses, 'final': finals}
`;

function layerTable(nw: Network): [number, number, number, number][] {
  // [w_offset, out, in, b_offset] per dense layer, from the PyTorch-order layout (W [out, in], b [out]).
  const out: [number, number, number, number][] = [];
  for (let i = 0; i < nw.layout.length; i += 2) {
    const W = nw.layout[i], b = nw.layout[i + 1];
    out.push([W.offset, W.shape[0], W.shape[1], b.offset]);
  }
  return out;
}

{
  const tiny = createNetwork({ type: 'fcn', inputDim: 5, widths: [7, 6], outputDim: 2, activation: 'relu', parameterization: 'standard', sigmaW: Math.SQRT2, sigmaB: 0.5 });
  const n = 12, M = 2, steps = 5, eta = 0.02;
  const x = random.normal({ seed: 21, length: n * 5 });
  const y = random.normal({ seed: 22, length: n * 2 });
  const theta = new Float64Array(M * tiny.numParams);
  for (let r = 0; r < M; r++) theta.set(tiny.init({ seed: 23, stream: r }), r * tiny.numParams);
  const h = trainSync(tiny, { x: { data: x, rows: n, cols: 5 }, y: { data: y, rows: n, cols: 2 } }, {
    method: 'gd', learningRate: eta, steps, replicas: M, init: theta, logTimes: Array.from({ length: steps + 1 }, (_, i) => i),
    w2: false, logVar: false, entropy: false,
  });
  if (haveTorch) {
    const peer = attempt(ctx, 'torch check', () => runPeer<{ losses: number[][]; final: number[][] }>(PY_CHECK, {
      n, d: 5, k: 2, M, steps, eta, x: Array.from(x), y: Array.from(y), theta: Array.from(theta), layers: layerTable(tiny),
    }));
    if (peer) {
      let maxRel = 0, maxParam = 0, scale = 0;
      for (let r = 0; r < M; r++) {
        for (let s = 0; s <= steps; s++) {
          const a = h.perReplica.loss.data[s * M + r], b = peer.losses[r][s];
          maxRel = Math.max(maxRel, Math.abs(a - b) / Math.abs(b));
        }
        for (let p = 0; p < tiny.numParams; p++) {
          maxParam = Math.max(maxParam, Math.abs(h.finalParams.data[r * tiny.numParams + p] - peer.final[r][p]));
          scale = Math.max(scale, Math.abs(peer.final[r][p]));
        }
      }
      const ok = maxRel <= 1e-10 && maxParam <= 1e-10 * scale;
      const line = `check (tiny FCN 5→[7,6]→2, n=${n}, M=${M}, 'standard', T=0, full-batch GD, ${steps} steps, η=${eta}): ` +
        `loss ${h.mean.loss[0].toFixed(6)} → ${h.mean.loss[steps].toFixed(6)} (mean); max rel. loss diff vs torch ${maxRel.toExponential(2)}, ` +
        `max |Δθ_final| ${maxParam.toExponential(2)} (max |θ| ${scale.toFixed(3)}) -> ${ok ? 'OK' : 'MISMATCH'}`;
      ctx.log(line);
      notes.push(line);
      if (!ok) problems.push(line);
    }
  } else {
    notes.push('check: torch missing, correctness against torch skipped');
  }
}

// ---- ours: a run of K steps, with in-run per-step time from the progress reports -----------------
interface RunOpts { method: 'sgld' | 'gd'; steps: number }

/** One train() run; returns the in-run per-step time (ms) from the progress marks, or NaN. */
async function oursRun(o: RunOpts): Promise<number> {
  const marks: { p: number; t: number }[] = [];
  const h = await train(net, { x: X, y: Y }, {
    method: o.method, learningRate: ETA, temperature: o.method === 'sgld' ? TEMP : 0,
    batchSize: o.method === 'sgld' ? C.B : undefined, steps: o.steps, replicas: C.M, seed: 5, initSeed: 1,
    logTimes: [0, o.steps], w2: false, logVar: false, entropy: false,
    onProgress: (p) => marks.push({ p, t: performance.now() }), progressInterval: 2,
  });
  if (h.status !== 'completed') problems.push(`ours ${o.method} K=${o.steps}: status ${h.status}`);
  const stepOf = (p: number) => Math.round(p * o.steps);
  const first = marks.find((m) => stepOf(m.p) >= 1);
  const last = marks.find((m) => stepOf(m.p) === o.steps);
  if (!first || !last || stepOf(last.p) <= stepOf(first.p)) return NaN;
  return (last.t - first.t) / (stepOf(last.p) - stepOf(first.p));
}

interface OursSteps { inRun: Stats; perK: Stats; diff: Stats; one: Stats; run: Stats }

/**
 * Pairs of runs (1 step, then K steps), so that the difference (t_K − t_1)/(K − 1) is taken
 * between neighbouring runs (the machine's load drifts); one untimed 1-step run first.
 */
async function oursSteps(method: 'sgld' | 'gd', K: number): Promise<OursSteps> {
  const inRun: number[] = [], ones: number[] = [], runs: number[] = [];
  ctx.log(`ours ${method}: pairs of runs of 1 and ${K} steps…`);
  await oursRun({ method, steps: 1 }); // untimed: first-call costs (thread pools, page faults)
  const pair = await timeIt(async () => {
    const t0 = performance.now();
    await oursRun({ method, steps: 1 });
    const t1 = performance.now();
    inRun.push(await oursRun({ method, steps: K }));
    const t2 = performance.now();
    ones.push(t1 - t0);
    runs.push(t2 - t1);
  }, PAIR_TIMING);
  const n = pair.samples.length; // drop the warm-up pairs
  const keep = (a: number[]) => a.slice(a.length - n);
  const fc = { foreignCores: pair.foreignCores };
  const k1 = keep(ones), kK = keep(runs);
  return {
    inRun: { ...summarize(keep(inRun)), ...fc },
    perK: { ...summarize(kK.map((v) => v / K)), ...fc },
    diff: { ...summarize(kK.map((v, i) => (v - k1[i]) / (K - 1))), ...fc },
    one: { ...summarize(k1), ...fc },
    run: { ...summarize(kK), ...fc },
  };
}

const PY_STEPS = String.raw`
torch = load('torch')
dt = torch.float64
torch.manual_seed(0)
n, d, widths, k, M, B, K = ARGS['n'], ARGS['d'], ARGS['widths'], ARGS['k'], ARGS['M'], ARGS['B'], ARGS['K']
eta, T, method = ARGS['eta'], ARGS['T'], ARGS['method']
dims = [d] + widths + [k]
X = torch.randn(n, d, dtype=dt)
Y = torch.randn(n, k, dtype=dt)
# 'standard' parameterisation as ours: W ~ N(0, 2/fan_in), b = 0
def init_stack():
    Ws = [torch.randn(M, o, i, dtype=dt) * (2.0 / i) ** 0.5 for i, o in zip(dims[:-1], dims[1:])]
    bs = [torch.zeros(M, 1, o, dtype=dt) for o in dims[1:]]
    return Ws, bs
scale = n / B if method == 'sgld' else 1.0
sd = (2 * eta * T) ** 0.5
out = {'threads': torch.get_num_threads(), 'torch': torch.__version__}

def batch():
    # B distinct samples per replica, fresh every step
    idx = torch.stack([torch.randperm(n)[:B] for _ in range(M)])
    return X[idx], Y[idx]

# --- hand-batched: stacked replica weights, baddbmm, autograd ---
Ws, bs = init_stack()
params = Ws + bs
for p in params:
    p.requires_grad_()
def bmm_step():
    if method == 'sgld':
        h, yb = batch()
    else:
        h, yb = X, Y  # shared by all replicas (broadcast in the first matmul)
    for l in range(len(Ws)):
        if h.dim() == 2:
            h = torch.matmul(h, Ws[l].transpose(1, 2)) + bs[l]
        else:
            h = torch.baddbmm(bs[l], h, Ws[l].transpose(1, 2))
        if l + 1 < len(Ws):
            h = torch.relu(h)
    loss = 0.5 * ((h - yb) ** 2).sum()
    gs = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for p, g in zip(params, gs):
            p.add_(g, alpha=-eta * scale)
            if sd > 0:
                p.add_(torch.randn_like(p), alpha=sd)
def bmm_run():
    for _ in range(K):
        bmm_step()
out['bmm'] = time_it(bmm_run, **TIMING)
del Ws, bs, params

if ARGS['vmap']:
    try:
        from torch.func import functional_call, vmap, grad
        out['vmapApi'] = 'torch.func'
    except ImportError:
        from functorch import vmap, grad
        from torch.nn.utils.stateless import functional_call
        out['vmapApi'] = 'functorch + torch.nn.utils.stateless'
    layers = []
    for l, (i, o) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(i, o))
        if l + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).to(dt)
    Ws, bs = init_stack()
    lin = [key for key, m in net.named_children() if isinstance(m, torch.nn.Linear)]
    names = [k_ for k_, _ in net.named_parameters()]
    stacked = {}
    for l, key in enumerate(lin):
        stacked[key + '.weight'] = Ws[l].contiguous()
        stacked[key + '.bias'] = bs[l].reshape(M, -1).contiguous()
    def loss_fn(p, x, y):
        return 0.5 * ((functional_call(net, p, (x,)) - y) ** 2).sum()
    g_fn = vmap(grad(loss_fn), in_dims=(0, 0, 0) if method == 'sgld' else (0, None, None))
    def vmap_step():
        if method == 'sgld':
            xb, yb = batch()
        else:
            xb, yb = X, Y
        gs = g_fn(stacked, xb, yb)
        for key in names:
            p = stacked[key]
            p.add_(gs[key], alpha=-eta * scale)
            if sd > 0:
                p.add_(torch.randn_like(p), alpha=sd)
    def vmap_run():
        for _ in range(K):
            vmap_step()
    out['vmap'] = time_it(vmap_run, **TIMING)

if ARGS['rates']:
    a = torch.randn(1024, 1024, dtype=dt)
    b = torch.randn(1024, 1024, dtype=dt)
    out['mm1024'] = time_it(lambda: torch.mm(a, b), warmup=2, repeats=9, min_time_ms=1000, max_time_ms=10000, min_repeats=5)
    N = 10_000_000
    out['randn1e7'] = time_it(lambda: torch.randn(N, dtype=dt), warmup=2, repeats=9, min_time_ms=1000, max_time_ms=10000, min_repeats=5)
RESULT = out
`;

interface PeerSteps { bmm?: Stats; vmap?: Stats; vmapApi?: string; mm1024?: Stats; randn1e7?: Stats; threads: number; torch: string }

function peerSteps(method: 'sgld' | 'gd', K: number, vmap: boolean, rates: boolean): PeerSteps | null {
  if (!haveTorch) return null;
  ctx.log(`torch ${method}: loops of ${K} steps${vmap ? ' (bmm and vmap)' : ' (bmm)'}…`);
  const r = attempt(ctx, `torch ${method}`, () => runPeer<PeerSteps>(PY_STEPS, {
    n: C.n, d: C.d, widths: C.widths, k: C.k, M: C.M, B: C.B, K, eta: ETA, T: method === 'sgld' ? TEMP : 0, method, vmap, rates,
  }, { timing: PEER_TIMING }));
  if (!r) return null;
  const per = (s: Stats | undefined) => (s ? { ...withPeerContention(s)!, median: s.median / K, min: s.min / K, mean: s.mean / K, samples: s.samples.map((v) => v / K) } : undefined);
  return { ...r, bmm: per(r.bmm), vmap: per(r.vmap), mm1024: withPeerContention(r.mm1024) ?? undefined, randn1e7: withPeerContention(r.randn1e7) ?? undefined };
}

function best(p: PeerSteps | null): { label: string; stats: Stats } | null {
  if (!p) return null;
  const c = [p.bmm && { label: 'torch bmm (best)', stats: p.bmm }, p.vmap && { label: 'torch vmap (best)', stats: p.vmap }].filter((v): v is { label: string; stats: Stats } => !!v);
  c.sort((a, b) => a.stats.median - b.stats.median);
  return c[0] ?? null;
}

// ---- machine rates (the limit of (1)) ------------------------------------------------------------
const GN = quick ? 512 : 1024;
const NN = quick ? 1_000_000 : 10_000_000;
const MB = quick ? 8_000_000 : 32_000_000; // 256 MB per array

// The GEMMs of one replica's SGLD step at their real shapes, 1 thread (the engine runs replicas in
// parallel with single-threaded BLAS when threads > 1 and M > 1).
const mat = (rows: number, cols: number, seed: number): Matrix => ({ data: random.normal({ seed, length: rows * cols }), rows, cols });
const Wm = dims.slice(0, -1).map((fin, l) => mat(dims[l + 1], fin, 30 + l)); // W_l [out, in]
const Hm = dims.map((w, l) => mat(C.B, w, 40 + l)); // activations / deltas [B, w]
const Gm = Wm.map((w) => ({ data: new Float64Array(w.data.length), rows: w.rows, cols: w.cols }));
const Om = dims.map((w) => ({ data: new Float64Array(C.B * w), rows: C.B, cols: w }));
function stepGemms(): void {
  const L = Wm.length;
  for (let l = 0; l < L; l++) linalg.gemmSync(Hm[l], Wm[l], { transB: true, C: Om[l + 1] }); // forward
  for (let l = L - 1; l >= 0; l--) {
    linalg.gemmSync(Hm[l + 1], Hm[l], { transA: true, C: Gm[l] }); // weight gradient Δᵀ·h
    if (l > 0) linalg.gemmSync(Hm[l + 1], Wm[l], { C: Om[l] }); // delta through W_l (none for the first layer)
  }
}

interface Rates { gemm: Stats; shape: Stats; normal: Stats; copy: Stats }

/** dgemm n=GN (bench threads), the step's GEMMs (1 thread), fillNormal (bench threads), a Float64Array copy. */
async function measureRates(when: string): Promise<Rates> {
  ctx.log(`rates (${when}): dgemm, step-shape GEMMs, normal draws, memory bandwidth…`);
  const GA: Matrix = { data: random.normal({ seed: 7, length: GN * GN }), rows: GN, cols: GN };
  const GB: Matrix = { data: random.normal({ seed: 8, length: GN * GN }), rows: GN, cols: GN };
  const GC: Matrix = { data: new Float64Array(GN * GN), rows: GN, cols: GN };
  const gemm = await timeIt(() => linalg.gemmSync(GA, GB, { C: GC }), RATE_TIMING);
  setThreads(1);
  const shape = await timeIt(stepGemms, RATE_TIMING);
  setThreads(threads);
  const nbuf = new Float64Array(NN);
  const normal = await timeIt(() => random.fillNormal(nbuf, { seed: 9 }), RATE_TIMING);
  const src = new Float64Array(MB).fill(1);
  const dst = new Float64Array(MB).fill(0);
  const copy = await timeIt(() => dst.set(src), RATE_TIMING);
  return { gemm, shape, normal, copy };
}

// Rates are taken before (1) and after (2); the limit uses the faster of the two for each (the
// machine's capability; a neighbour's burst during one of them should not lower it).
const ratesBefore = await measureRates('before');

// ---- 1. SGLD --------------------------------------------------------------------------------------
const sgld = await oursSteps('sgld', C.K);
const peerSgld = peerSteps('sgld', C.KpeerSgld, true, true);
const sgldSize = `${sizeLabel} B=${C.B}`;
const sgldBest = best(peerSgld);
ctx.add({ workload: 'SGLD step (in-run)', size: sgldSize, oursLabel: `train ${threads} thr`, ours: sgld.inRun, peerLabel: 'torch bmm+autograd', peer: peerSgld?.bmm ?? null,
  note: `progress marks steps 1..${C.K}; ${(sgldFlops / sgld.inRun.median / 1e6).toFixed(1)} GFLOP/s` });
ctx.add({ workload: 'SGLD step (in-run)', size: sgldSize, oursLabel: `train ${threads} thr`, ours: sgld.inRun, peerLabel: `torch vmap(grad)`, peer: peerSgld?.vmap ?? null,
  note: peerSgld?.vmapApi ?? '' });
ctx.add({ workload: 'SGLD step (run/K)', size: sgldSize, oursLabel: `train K=${C.K}`, ours: sgld.perK, peerLabel: sgldBest?.label ?? 'torch', peer: sgldBest?.stats ?? null,
  note: `run ${fmtMs(sgld.run.median)} ms incl. start-up and 2 full-batch losses` });
ctx.add({ workload: 'SGLD step (run K − run 1)', size: sgldSize, oursLabel: `(t${C.K}−t1)/${C.K - 1}`, ours: sgld.diff, peerLabel: sgldBest?.label ?? 'torch', peer: sgldBest?.stats ?? null, note: 'start-up subtracted (median of paired differences)' });
ctx.add({ workload: 'SGLD run of 1 step', size: sgldSize, oursLabel: 'train K=1', ours: sgld.one, peerLabel: '', peer: null,
  note: `start-up: init, 2 full-batch losses (log times 0, K), result copies` });

// ---- 2. GD ----------------------------------------------------------------------------------------
const gd = await oursSteps('gd', C.Kgd);
const peerGd = peerSteps('gd', C.KpeerGd, false, false);
ctx.add({ workload: 'GD step (in-run)', size: sizeLabel, oursLabel: `train ${threads} thr`, ours: gd.inRun, peerLabel: 'torch bmm+autograd', peer: peerGd?.bmm ?? null,
  note: `progress marks steps 1..${C.Kgd}; ${(gdFlops / gd.inRun.median / 1e6).toFixed(1)} GFLOP/s` });
ctx.add({ workload: 'GD step (run/K)', size: sizeLabel, oursLabel: `train K=${C.Kgd}`, ours: gd.perK, peerLabel: 'torch bmm+autograd', peer: peerGd?.bmm ?? null,
  note: `run ${fmtMs(gd.run.median)} ms = K+1 gradients (the last for L(θ_K))` });
ctx.add({ workload: 'GD step (run K − run 1)', size: sizeLabel, oursLabel: `(t${C.Kgd}−t1)/${C.Kgd - 1}`, ours: gd.diff, peerLabel: 'torch bmm+autograd', peer: peerGd?.bmm ?? null, note: 'start-up subtracted (median of paired differences)' });

// ---- rates again, the limit of (1) -----------------------------------------------------------------
const ratesAfter = await measureRates('after');
const faster = (x: Stats, y: Stats) => (x.median <= y.median ? x : y);
const gemmStats = faster(ratesBefore.gemm, ratesAfter.gemm);
const shapeStats = faster(ratesBefore.shape, ratesAfter.shape);
const normalStats = faster(ratesBefore.normal, ratesAfter.normal);
const copyStats = faster(ratesBefore.copy, ratesAfter.copy);
const gemmRate = (2 * GN ** 3) / (gemmStats.median * 1e6); // GFLOP/s
const shapeRate = (flopsPerSample * C.B) / (shapeStats.median * 1e6); // GFLOP/s on 1 thread
const normalRate = NN / (normalStats.median * 1e3); // M draws/s
const bandwidth = (2 * 8 * MB) / (copyStats.median * 1e6); // GB/s (read + write)
const pm = P * C.M;
const limitGemm = sgldFlops / (gemmRate * 1e6); // ms
const limitNoise = pm / (normalRate * 1e3); // ms
const limitMem = (pm * 16) / (bandwidth * 1e6); // ms
const limit = limitGemm + limitNoise + limitMem;
const limitShape = (shapeStats.median * C.M) / Math.min(threads, C.M) + limitNoise + limitMem;
const bothMs = (x: Stats, y: Stats) => `before/after ${fmtMs(x.median)}/${fmtMs(y.median)} ms`;

// ---- where the time goes: one replica's loss gradient on a minibatch ------------------------------
const xb: Matrix = { data: X.data.slice(0, C.B * C.d), rows: C.B, cols: C.d };
const yb: Matrix = { data: Y.data.slice(0, C.B * C.k), rows: C.B, cols: C.k };
const theta1 = net.init({ seed: 1 });
setThreads(1);
const lg1 = await timeIt(() => net.lossGradient(theta1, xb, yb), RATE_TIMING);
setThreads(threads);
const lgN = await timeIt(() => net.lossGradient(theta1, xb, yb), RATE_TIMING);
const perStepFromLg = (lg1.median * C.M) / Math.min(threads, C.M);
// The same through the addon directly: gradient buffer allocated once, no argument checks.
const gradBuf = new Float64Array(P);
setThreads(1);
const lgNative = await timeIt(() => native().netLossGradient(net.spec, theta1, xb.data, yb.data, C.B, gradBuf, null), RATE_TIMING);
setThreads(threads);
ctx.add({ workload: 'lossGradient B (1 replica)', size: `${sizeLabel.replace(/ n=\d+ M=\d+/, '')} B=${C.B}`, oursLabel: 'net.lossGradient 1 thr', ours: lg1, peerLabel: '', peer: null,
  note: `×M/threads = ${fmtMs(perStepFromLg)} ms per SGLD step; includes a fresh P-vector (new Float64Array) per call` });
ctx.add({ workload: 'lossGradient B (1 replica)', size: `${sizeLabel.replace(/ n=\d+ M=\d+/, '')} B=${C.B}`, oursLabel: 'addon, grad reused, 1 thr', ours: lgNative, peerLabel: '', peer: null,
  note: `what train() calls per replica: ×M/threads = ${fmtMs((lgNative.median * C.M) / Math.min(threads, C.M))} ms per SGLD step` });
ctx.add({ workload: 'lossGradient B (1 replica)', size: `${sizeLabel.replace(/ n=\d+ M=\d+/, '')} B=${C.B}`, oursLabel: `net.lossGradient ${threads} thr`, ours: lgN, peerLabel: '', peer: null, note: '' });

// ---- rates rows ---------------------------------------------------------------------------------
ctx.add({ workload: 'dgemm', size: `n=${GN}`, oursLabel: `gemmSync ${threads} thr`, ours: gemmStats, peerLabel: peerSgld?.mm1024 ? 'torch.mm' : '', peer: GN === 1024 ? peerSgld?.mm1024 ?? null : null,
  note: `${gemmRate.toFixed(1)} GFLOP/s (${bothMs(ratesBefore.gemm, ratesAfter.gemm)})` + (peerSgld?.mm1024 && GN === 1024 ? `; torch ${((2 * 1024 ** 3) / (peerSgld.mm1024.median * 1e6)).toFixed(1)} GFLOP/s` : '') });
ctx.add({ workload: 'dgemm, one replica step shapes', size: `B=${C.B}`, oursLabel: 'gemmSync 1 thr', ours: shapeStats, peerLabel: '', peer: null,
  note: `${shapeRate.toFixed(1)} GFLOP/s (fwd NT, Δᵀh TN, Δ·W NN; ${bothMs(ratesBefore.shape, ratesAfter.shape)})` });
ctx.add({ workload: 'normal draws', size: `n=${NN.toExponential(0)}`, oursLabel: `fillNormal ${threads} thr`, ours: normalStats, peerLabel: peerSgld?.randn1e7 && NN === 1e7 ? 'torch.randn f64' : '', peer: NN === 1e7 ? peerSgld?.randn1e7 ?? null : null,
  note: `${normalRate.toFixed(0)} M draws/s (${bothMs(ratesBefore.normal, ratesAfter.normal)})` });
ctx.add({ workload: 'memory copy', size: `${((8 * MB) / 2 ** 20).toFixed(0)} MiB`, oursLabel: 'Float64Array.set', ours: copyStats, peerLabel: '', peer: null,
  note: `${bandwidth.toFixed(1)} GB/s read + write (${bothMs(ratesBefore.copy, ratesAfter.copy)})` });

// ---- limit table and targets ---------------------------------------------------------------------
const oursStep = sgld.inRun.median;
ctx.tables.push({
  title: `machine limit of one SGLD step (${sizeLabel} B=${C.B}, P=${P})`,
  headers: ['part', 'work', 'rate', 'ms'],
  rows: [
    ['GEMM', `${(sgldFlops / 1e9).toFixed(3)} GFLOP`, `${gemmRate.toFixed(1)} GFLOP/s (dgemm n=${GN}, ${threads} thr)`, fmtMs(limitGemm)],
    ['noise', `${(pm / 1e6).toFixed(1)} M normal draws`, `${normalRate.toFixed(0)} M/s (fillNormal, ${threads} thr)`, fmtMs(limitNoise)],
    ['θ read + write', `${((pm * 16) / 1e9).toFixed(3)} GB`, `${bandwidth.toFixed(1)} GB/s (copy)`, fmtMs(limitMem)],
    ['limit', '', '', fmtMs(limit)],
    ['ours (in-run)', '', '', fmtMs(oursStep)],
    ['ours / limit', '', `target ≤ ${LIMIT_TARGET}`, fmtRatio(oursStep / limit)],
    ['limit, GEMMs at the step shapes', `${fmtMs(shapeStats.median)} ms/replica × ${C.M} / ${Math.min(threads, C.M)} thr`, `${shapeRate.toFixed(1)} GFLOP/s`, fmtMs(limitShape)],
    ['ours / limit (step shapes)', '', '', fmtRatio(oursStep / limitShape)],
  ],
});

const contended = (...s: (Stats | null | undefined)[]) => s.some((v) => (v?.foreignCores ?? 0) > CONTENDED);
const verdict = (v: number | null, target: number, higherIsBetter: boolean, ...s: (Stats | null | undefined)[]) =>
  v === null || !Number.isFinite(v) ? 'n/a' : `${(higherIsBetter ? v >= target : v <= target) ? 'MET' : 'NOT MET'}${contended(...s) ? ' ?' : ''}`;
const sgldRatio = sgldBest ? sgldBest.stats.median / oursStep : null;
const gdRatio = peerGd?.bmm ? peerGd.bmm.median / gd.inRun.median : null;
ctx.tables.push({
  title: 'targets',
  headers: ['workload', 'value', 'target', 'status'],
  rows: [
    ['SGLD step: torch (best) / ours', sgldRatio === null ? 'n/a' : `${fmtRatio(sgldRatio)}x`, `≥ ${SGLD_TARGET}x`, verdict(sgldRatio, SGLD_TARGET, true, sgld.inRun, sgldBest?.stats)],
    ['GD step: torch bmm / ours', gdRatio === null ? 'n/a' : `${fmtRatio(gdRatio)}x`, `≥ ${GD_TARGET}x`, verdict(gdRatio, GD_TARGET, true, gd.inRun, peerGd?.bmm)],
    ['SGLD step: ours / machine limit', `${fmtRatio(oursStep / limit)}x`, `≤ ${LIMIT_TARGET}x`, verdict(oursStep / limit, LIMIT_TARGET, false, sgld.inRun, gemmStats)],
  ],
});
ctx.summary.push(
  `threads: ours ${threads} (${threads > 1 && C.M > 1 ? 'replicas in parallel, single-threaded BLAS per replica' : 'replicas one after another'}), torch ${peerSgld?.threads ?? 'n/a'}${peerSgld ? ` (torch ${peerSgld.torch})` : ''}; output dim k = ${C.k}.`,
  `GEMM flops per sample = 4·d·w1 + 6·Σ w_{l−1}·w_l + 6·w_L·k = ${flopsPerSample}; per SGLD step ×B·M = ${sgldFlops}; per GD step ×n·M = ${gdFlops}.`,
  `ours per step: in-run (progress reports after steps 1 and K) is the headline; run/K includes start-up and the two full-batch loss evaluations at the log times 0 and K; (run K − run 1)/(K − 1) subtracts them.`,
  `torch: per step = loop of ${C.KpeerSgld} (SGLD) / ${C.KpeerGd} (GD) steps / steps; minibatches torch.randperm(n)[:B] per replica; '?' after a verdict: contended (> ${CONTENDED} foreign cores).`,
  `limit rates: each the faster of two measurements (before (1) and after (2)); the step-shape line replaces dgemm n=${GN} by the step's own GEMMs on 1 thread × M / threads.`,
  `GD limit (same rates, no noise): ${fmtMs(gdFlops / (gemmRate * 1e6) + limitMem)} ms; ours in-run ${fmtMs(gd.inRun.median)} ms (${fmtRatio(gd.inRun.median / (gdFlops / (gemmRate * 1e6) + limitMem))}x).`,
  ...notes,
  problems.length ? `PROBLEMS:\n  ${problems.join('\n  ')}` : 'checks: all runs completed; ours agrees with torch on the tiny GD check.',
);
ctx.finish({ config: { ...C, eta: ETA, temperature: TEMP, P, flopsPerSample, sgldFlops, gdFlops }, timing: { pair: PAIR_TIMING, peer: PEER_TIMING, rate: RATE_TIMING },
  limit: { gemmRate, shapeRate, normalRate, bandwidth, limitGemm, limitNoise, limitMem, limit, limitShape },
  ours: { sgld, gd } });
