/**
 * Dense linear algebra: dgemm, dsyrk (C = A·Aᵀ), dsyevd (eigh with eigenvectors).
 * Ours with the OpenBLAS backend and with the builtin kernels vs NumPy (`a @ b`, `a @ a.T`,
 * `numpy.linalg.eigh`), plus builtin/OpenBLAS.
 *
 * Inputs are generated deterministically on both sides (X[i,j] = sin(a·i + b·j + c·i·j)), so
 * only sizes cross the process boundary; each size is checked once: ours (both backends) and
 * NumPy must agree on checksums of the result.
 *
 *   node --import tsx bench/linalg.bench.ts [--quick] [--threads N] [--json]
 */
import { linalg, type Matrix } from '../src/index.js';
import { attempt, CONTENDED, fmtMs, fmtRatio, requirePeer, runPeer, startBench, timeIt, withPeerContention, type Stats, type TimeOptions } from './harness.js';

const ctx = startBench('linalg');
const { quick } = ctx.cli;

const SIZES = quick
  ? { gemm: [128, 256], syrk: [128, 256], eigh: [128, 256] }
  : { gemm: [500, 1000, 1024, 2000], syrk: [500, 1000, 1500, 2000], eigh: [500, 1000, 2000] };
const TIMING: TimeOptions = quick
  ? { warmup: 1, repeats: 3, minTimeMs: 0, maxTimeMs: 2_000 }
  : { warmup: 1, warmupMs: 300, repeats: 7, minTimeMs: 1_000, maxTimeMs: 15_000, minRepeats: 3, maxRepeats: 200 };

type Op = 'gemm' | 'syrk' | 'eigh';
type Backend = 'blas' | 'builtin';

// Generator parameters (a, b, c) shared with the Python side.
const GEN = {
  A: [0.7, 0.3, 0.001],
  B: [0.2, 0.5, 0.0007],
  S: [0.7, 0.7, 0.001], // a = b: exactly symmetric
} as const;

function gen(rows: number, cols: number, [a, b, c]: readonly [number, number, number]): Matrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] = Math.sin(a * i + b * j + c * (i * j));
  return { data, rows, cols };
}

/** Checksums of a result and, per checksum, the scale its tolerance is relative to. */
interface Check {
  values: Record<string, number>;
  scales: Record<string, number>;
}

function matrixCheck(C: Matrix, k: number): Check {
  let sum = 0, sumAbs = 0, trace = 0;
  const n = Math.min(C.rows, C.cols);
  for (let i = 0; i < C.data.length; i++) {
    sum += C.data[i];
    sumAbs += Math.abs(C.data[i]);
  }
  for (let i = 0; i < n; i++) trace += C.data[i * C.cols + i];
  // inputs are sines (|x| <= 1), so |C[i,j]| <= k
  return {
    values: { sum, trace, corner: C.data[C.data.length - 1] },
    scales: { sum: Math.max(1, sumAbs), trace: Math.max(1, sumAbs / Math.max(1, C.rows)), corner: k },
  };
}

function eighCheck(S: Matrix, w: Float64Array, V: Matrix | undefined): { check: Check; residual: number } {
  const n = w.length;
  let sum = 0, sumSq = 0, maxAbs = 0;
  for (const x of w) {
    sum += x;
    sumSq += x * x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  // ‖S·v − λ·v‖∞ for the two extreme eigenpairs and a middle one (columns of V)
  let residual = NaN;
  if (V) {
    residual = 0;
    for (const k of [0, n >> 1, n - 1]) {
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += S.data[i * n + j] * V.data[j * n + k];
        residual = Math.max(residual, Math.abs(acc - w[k] * V.data[i * n + k]));
      }
    }
  }
  const m = Math.max(1, maxAbs);
  return {
    check: { values: { sum, sumSq, min: w[0], max: w[n - 1] }, scales: { sum: m * n, sumSq: Math.max(1, sumSq), min: m, max: m } },
    residual,
  };
}

/** Largest |ours − peer| / scale over the checksums; ok when <= 1e-9. */
function compare(ours: Check, peer: Record<string, number> | undefined): { ok: boolean; maxRel: number } {
  if (!peer) return { ok: true, maxRel: NaN };
  let maxRel = 0;
  for (const [key, v] of Object.entries(ours.values)) {
    const p = peer[key];
    const rel = typeof p === 'number' ? Math.abs(v - p) / ours.scales[key] : Infinity;
    maxRel = Math.max(maxRel, Number.isNaN(rel) ? Infinity : rel);
  }
  return { ok: maxRel <= 1e-9, maxRel };
}

const PY = String.raw`
np = load('numpy')
op, n, k = ARGS['op'], ARGS['n'], ARGS['k']
def gen(r, c, p):
    a, b, cc = p
    i = np.arange(r, dtype=np.float64)[:, None]
    j = np.arange(c, dtype=np.float64)[None, :]
    return np.ascontiguousarray(np.sin(a * i + b * j + cc * (i * j)))
def mcheck(C):
    return {'sum': float(C.sum()), 'trace': float(np.trace(C)), 'corner': float(C[-1, -1])}
if op == 'gemm':
    A = gen(n, n, ARGS['gen']['A']); B = gen(n, n, ARGS['gen']['B'])
    check = mcheck(A @ B)
    stats = time_it(lambda: A @ B, **TIMING)
elif op == 'syrk':
    A = gen(n, k, ARGS['gen']['A'])
    check = mcheck(A @ A.T)
    stats = time_it(lambda: A @ A.T, **TIMING)
else:
    S = gen(n, n, ARGS['gen']['S'])
    w, V = np.linalg.eigh(S)
    check = {'sum': float(w.sum()), 'sumSq': float((w * w).sum()), 'min': float(w[0]), 'max': float(w[-1])}
    stats = time_it(lambda: np.linalg.eigh(S), **TIMING)
RESULT = {'stats': stats, 'check': check}
`;

const PEER_LABEL: Record<Op, string> = { gemm: 'numpy a @ b', syrk: 'numpy a @ a.T', eigh: 'numpy.linalg.eigh' };
const WORKLOAD: Record<Op, string> = { gemm: 'dgemm', syrk: 'dsyrk A·Aᵀ', eigh: 'dsyevd +vectors' };
const flops = (op: Op, n: number, k: number) => (op === 'gemm' ? 2 * n * n * n : op === 'syrk' ? n * (n + 1) * k : NaN);
const gflops = (op: Op, n: number, k: number, s: Stats | null | undefined) => (s && op !== 'eigh' ? flops(op, n, k) / (s.median * 1e6) : NaN);

const backends: Backend[] = ctx.info.blasCompiled ? ['blas', 'builtin'] : ['builtin'];
const BACKEND_LABEL: Record<Backend, string> = { blas: 'OpenBLAS', builtin: 'builtin' };
if (!ctx.info.blasCompiled) ctx.summary.push('buildInfo().blasCompiled is false: only the builtin backend is measured.');
const haveNumpy = requirePeer('numpy');

interface Measured { op: Op; n: number; k: number; byBackend: Partial<Record<Backend, Stats>>; peer: Stats | null }
const measured: Measured[] = [];
const mismatches: string[] = [];

async function runOne(op: Op, n: number, k: number): Promise<void> {
  const size = op === 'syrk' ? `n=k=${n}` : `n=${n}`;
  // inputs
  const A = op === 'eigh' ? null : gen(n, k, GEN.A);
  const B = op === 'gemm' ? gen(n, n, GEN.B) : null;
  const S = op === 'eigh' ? gen(n, n, GEN.S) : null;
  const call = (): unknown =>
    op === 'gemm' ? linalg.gemmSync(A!, B!) : op === 'syrk' ? linalg.syrkSync(A!) : linalg.eighSync(S!);

  // peer first (its checksum is the reference)
  let peer: { stats: Stats; check: Record<string, number> } | null = null;
  if (haveNumpy) {
    ctx.log(`${WORKLOAD[op]} ${size}: numpy…`);
    peer = attempt(ctx, `numpy ${op} ${size}`, () =>
      runPeer<{ stats: Stats; check: Record<string, number> }>(PY, { op, n, k, gen: GEN }, { timing: TIMING }));
    if (peer) peer.stats = withPeerContention(peer.stats) ?? peer.stats;
  }

  const m: Measured = { op, n, k, byBackend: {}, peer: peer?.stats ?? null };
  for (const be of backends) {
    linalg.setLinalgBackend(be);
    ctx.log(`${WORKLOAD[op]} ${size}: ours ${BACKEND_LABEL[be]}…`);
    // check once per size and backend
    let check: Check;
    let extra = '';
    if (op === 'eigh') {
      const e = linalg.eighSync(S!);
      const r = eighCheck(S!, e.values, e.vectors);
      check = r.check;
      extra = `, resid ${r.residual.toExponential(1)}`;
      if (!(r.residual <= 1e-8 * r.check.scales.sum)) mismatches.push(`${WORKLOAD[op]} ${size} ${be}: eigenvector residual ${r.residual}`);
    } else {
      check = matrixCheck(call() as Matrix, k);
    }
    const cmp = compare(check, peer?.check);
    if (!cmp.ok) mismatches.push(`${WORKLOAD[op]} ${size} ${be}: checksum differs from numpy (max rel ${cmp.maxRel.toExponential(2)})`);
    const stats = await timeIt(call, TIMING);
    m.byBackend[be] = stats;
    const gf = gflops(op, n, k, stats), gfp = gflops(op, n, k, peer?.stats);
    const checkNote = peer ? (cmp.ok ? `check ok (${cmp.maxRel.toExponential(0)})` : `CHECK MISMATCH (${cmp.maxRel.toExponential(1)})`) : 'check: no peer';
    const gfNote = Number.isFinite(gf) ? `; GF/s ours ${gf.toFixed(1)}${Number.isFinite(gfp) ? `, numpy ${gfp.toFixed(1)}` : ''}` : '';
    ctx.add({
      workload: WORKLOAD[op], size, oursLabel: BACKEND_LABEL[be], ours: stats,
      peerLabel: PEER_LABEL[op], peer: peer?.stats ?? null,
      note: `${checkNote}${extra}${gfNote}; n=${stats.samples.length}/${peer?.stats.samples.length ?? 0}`,
    });
  }
  if (!haveNumpy) ctx.log('numpy rows are n/a');
  measured.push(m);
}

for (const n of SIZES.gemm) await runOne('gemm', n, n);
for (const n of SIZES.syrk) await runOne('syrk', n, n);
for (const n of SIZES.eigh) await runOne('eigh', n, n);
if (ctx.info.blasCompiled) linalg.setLinalgBackend('blas');

// builtin vs OpenBLAS
if (backends.length === 2) {
  const rows = measured.map((m) => {
    const b = m.byBackend.blas, u = m.byBackend.builtin;
    const frac = b && u ? b.median / u.median : NaN;
    return [WORKLOAD[m.op], m.op === 'syrk' ? `n=k=${m.n}` : `n=${m.n}`, fmtMs(b?.median), fmtMs(u?.median), fmtRatio(frac), Number.isFinite(frac) ? `${(frac * 100).toFixed(0)}%` : 'n/a'];
  });
  ctx.tables.push({
    title: 'builtin vs OpenBLAS (speed of builtin as a fraction of OpenBLAS = OpenBLAS ms / builtin ms)',
    headers: ['workload', 'size', 'OpenBLAS ms', 'builtin ms', 'builtin/OpenBLAS', 'of OpenBLAS'],
    rows,
  });
  const target = measured.find((m) => m.op === 'gemm' && m.n === 1024) ?? measured.filter((m) => m.op === 'gemm').pop();
  if (target?.byBackend.blas && target.byBackend.builtin) {
    const frac = target.byBackend.blas.median / target.byBackend.builtin.median;
    const contended = [target.byBackend.blas, target.byBackend.builtin].some((s) => (s.foreignCores ?? 0) > CONTENDED);
    ctx.summary.push(`TARGET builtin dgemm at n=${target.n} >= 30% of OpenBLAS: ${(frac * 100).toFixed(0)}% -> ${frac >= 0.3 ? 'MET' : 'NOT MET'}` +
      (target.n !== 1024 ? ' (n=1024 not measured in this run)' : '') + (contended ? ' (contended measurement: re-run)' : ''));
  }
}
ctx.summary.push(mismatches.length ? `CHECKS FAILED:\n  ${mismatches.join('\n  ')}` : `checks: ours (${backends.map((b) => BACKEND_LABEL[b]).join(', ')}) agree with ${haveNumpy ? 'numpy' : '(no peer)'} on every size${haveNumpy ? ' (rel. tol 1e-9)' : ''}; eigh residuals within 1e-8·n·max|λ|`);

ctx.finish({ sizes: SIZES, timing: TIMING, generator: 'X[i,j] = sin(a*i + b*j + c*(i*j)); A=(0.7,0.3,0.001) B=(0.2,0.5,0.0007) S=(0.7,0.7,0.001)' });
