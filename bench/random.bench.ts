/**
 * Standard normal draws: ours (`random.normal`, and `random.fillNormal` into a preallocated
 * array) with 1 and N threads vs NumPy's default generator (`default_rng(0).standard_normal(n)`,
 * also with `out=`) and `torch.randn` (float64; float32 for reference).
 * Project target: ours ≥ 5× faster than NumPy's default generator in the same run.
 *
 *   node --import tsx bench/random.bench.ts [--quick] [--threads N] [--json]
 */
import { random } from '../src/index.js';
import { attempt, CONTENDED, fmtMs, fmtRatio, requirePeer, runPeer, startBench, timeIt, withPeerContention, type Stats, type TimeOptions } from './harness.js';

const ctx = startBench('random');
const { quick } = ctx.cli;

const LENGTHS = quick ? [100_000, 1_000_000] : [1_000_000, 10_000_000];
const TIMING: TimeOptions = quick
  ? { warmup: 1, repeats: 3, minTimeMs: 0, maxTimeMs: 2_000 }
  : { warmup: 2, warmupMs: 200, repeats: 15, minTimeMs: 1_000, maxTimeMs: 10_000, minRepeats: 5, maxRepeats: 500 };
// 1 thread and the bench's thread count (default: the engine's, i.e. the hardware threads).
const THREADS = [...new Set([1, ctx.threads])].sort((a, b) => a - b);
const TARGET = 5;

const haveNumpy = requirePeer('numpy');
const haveTorch = requirePeer('torch');

const PY = String.raw`
n = ARGS['n']
out = {}
if ARGS['numpy']:
    np = load('numpy')
    rng = np.random.default_rng(0)
    out['numpy'] = time_it(lambda: rng.standard_normal(n), **TIMING)
    buf = np.empty(n)
    out['numpyOut'] = time_it(lambda: rng.standard_normal(out=buf), **TIMING)
    out['numpyMoments'] = [float(buf.mean()), float(buf.var())]
if ARGS['torch']:
    torch = load('torch')
    torch.manual_seed(0)
    out['torch64'] = time_it(lambda: torch.randn(n, dtype=torch.float64), **TIMING)
    out['torch32'] = time_it(lambda: torch.randn(n, dtype=torch.float32), **TIMING)
    out['torchThreads'] = torch.get_num_threads()
RESULT = out
`;

interface PeerResult {
  numpy?: Stats;
  numpyOut?: Stats;
  numpyMoments?: [number, number];
  torch64?: Stats;
  torch32?: Stats;
  torchThreads?: number;
}

const fmtLen = (n: number) => (Number.isInteger(Math.log10(n)) ? `1e${Math.log10(n)}` : String(n));

function moments(x: Float64Array): { mean: number; variance: number; sum: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i];
    s2 += x[i] * x[i];
  }
  const mean = s / x.length;
  return { mean, variance: s2 / x.length - mean * mean, sum: s };
}

const problems: string[] = [];
const reference = new Map<number, Float64Array>(); // first draws per length, to check thread invariance
const targetRows: string[][] = [];

for (const t of THREADS) {
  ctx.useThreads(t);
  for (const n of LENGTHS) {
    const size = `n=${fmtLen(n)}`;
    // correctness once per (threads, length): moments, normal() == fillNormal(), same draws for every thread count
    const z = random.normal({ seed: 0, stream: 0, length: n });
    const buf = new Float64Array(n);
    await random.fillNormal(buf, { seed: 0 });
    const m = moments(z);
    if (Math.abs(m.mean) > 6 / Math.sqrt(n) || Math.abs(m.variance - 1) > 6 * Math.sqrt(2 / n))
      problems.push(`${size} ${t} thr: moments off (mean ${m.mean}, var ${m.variance})`);
    let same = true;
    for (let i = 0; i < n && same; i++) same = z[i] === buf[i];
    if (!same) problems.push(`${size} ${t} thr: normal() and fillNormal() differ for the same seed`);
    const ref = reference.get(n);
    if (!ref) reference.set(n, z);
    else {
      let eq = true;
      for (let i = 0; i < n && eq; i++) eq = z[i] === ref[i];
      if (!eq) problems.push(`${size}: draws with ${t} threads differ from draws with ${THREADS[0]} thread(s)`);
    }

    ctx.log(`normal ${size}, ${t} thread(s): ours…`);
    const oursNormal = await timeIt(() => random.normal({ seed: 0, stream: 0, length: n }), TIMING);
    const oursFill = await timeIt(() => random.fillNormal(buf, { seed: 0 }), TIMING);

    let peer: PeerResult | null = null;
    if (haveNumpy || haveTorch) {
      ctx.log(`normal ${size}, ${t} thread(s): peers…`);
      peer = attempt(ctx, `peer normal ${size}`, () =>
        runPeer<PeerResult>(PY, { n, numpy: haveNumpy, torch: haveTorch }, { threads: t, timing: TIMING }));
      if (peer) for (const key of ['numpy', 'numpyOut', 'torch64', 'torch32'] as const) peer[key] = withPeerContention(peer[key]) ?? undefined;
    }
    const thr = `${t} thr`;
    const note = (s: Stats) => `n=${s.samples.length}`;
    ctx.add({ workload: 'normal draws', size, oursLabel: `normal() ${thr}`, ours: oursNormal, peerLabel: 'numpy default_rng standard_normal(n)', peer: peer?.numpy ?? null, note: note(oursNormal) + (haveNumpy ? '' : '; numpy not installed') });
    ctx.add({ workload: 'normal draws', size, oursLabel: `fillNormal() ${thr}`, ours: oursFill, peerLabel: 'numpy standard_normal(out=)', peer: peer?.numpyOut ?? null, note: note(oursFill) + (haveNumpy ? '' : '; numpy not installed') });
    ctx.add({ workload: 'normal draws', size, oursLabel: `normal() ${thr}`, ours: oursNormal, peerLabel: `torch.randn float64 (${peer?.torchThreads ?? t} thr)`, peer: peer?.torch64 ?? null, note: haveTorch ? '' : 'torch not installed' });
    ctx.add({ workload: 'normal draws', size, oursLabel: `normal() ${thr}`, ours: oursNormal, peerLabel: `torch.randn float32 (ref., ${peer?.torchThreads ?? t} thr)`, peer: peer?.torch32 ?? null, note: haveTorch ? 'float32: half the bytes; reference only' : 'torch not installed' });

    const r1 = peer?.numpy ? peer.numpy.median / oursNormal.median : NaN;
    const r2 = peer?.numpyOut ? peer.numpyOut.median / oursFill.median : NaN;
    // a contended measurement gives no verdict either way: it is marked '?'
    const verdict = (r: number, ...s: (Stats | null | undefined)[]) =>
      (Number.isFinite(r) ? (r >= TARGET ? 'MET' : 'NOT MET') : 'n/a') + (s.some((x) => (x?.foreignCores ?? 0) > CONTENDED) ? ' ?' : '');
    targetRows.push([size, thr, fmtMs(oursNormal.median), fmtMs(peer?.numpy?.median), fmtRatio(r1), verdict(r1, oursNormal, peer?.numpy),
      fmtMs(oursFill.median), fmtMs(peer?.numpyOut?.median), fmtRatio(r2), verdict(r2, oursFill, peer?.numpyOut)]);
  }
}

ctx.tables.push({
  title: `target: ours >= ${TARGET}x faster than numpy default_rng (ratio = numpy ms / ours ms)`,
  headers: ['size', 'threads', 'normal() ms', 'numpy(n) ms', 'ratio', 'target', 'fillNormal() ms', 'numpy(out=) ms', 'ratio', 'target'],
  rows: targetRows,
});
ctx.summary.push(`'?' after a verdict: ours or numpy was contended (other processes kept > ${CONTENDED} cores busy) — no verdict from that row.`);
ctx.summary.push(problems.length
  ? `CHECKS FAILED:\n  ${problems.join('\n  ')}`
  : `checks: moments within 6 sigma; normal() == fillNormal(); identical draws with ${THREADS.join(' and ')} thread(s)`);

ctx.finish({ lengths: LENGTHS, threadCounts: THREADS, timing: TIMING, target: TARGET });
