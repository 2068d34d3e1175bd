/**
 * The benchmark harness shared by every `bench/*.bench.ts` script.
 *
 * Protocol (see bench/README.md): every measurement is the median of N timed calls after
 * warm-up, taken on the same machine in the same run as the peer it is compared with; what we
 * report and compare are ratios, not absolute times (the machine is shared and noisy).
 *
 * - {@link timeIt}: median/min/mean of N calls of a sync or async function (process.hrtime.bigint).
 * - {@link timeWithBenchmarkJs}: the same statistics gathered by benchmark.js, for micro-operations.
 * - {@link runPeer}: runs a Python snippet (NumPy, SciPy, POT, PyTorch) that times its own
 *   workload with the same protocol (time.perf_counter) and returns JSON.
 * - {@link startBench}: CLI flags (`--quick`, `--threads N`, `--json`), result rows, table
 *   printing and the JSON file under bench/results/.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Benchmark from 'benchmark';
import { buildInfo, getThreads, setThreads, type BuildInfo } from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

/** Statistics of one measurement, all in milliseconds. */
export interface Stats {
  /** Median of the timed samples: the number every table and ratio uses. */
  median: number;
  min: number;
  mean: number;
  /** Every timed sample (ms), in the order taken; warm-up calls are not included. */
  samples: number[];
  /**
   * Average number of cores other processes kept busy while this was measured (Linux; null
   * elsewhere). Above ~0.25 on a small machine the measurement was contended.
   */
  foreignCores?: number | null;
}

/**
 * How many calls to time. After `warmup` untimed calls (and at least `warmupMs` of them), samples are taken until
 * (count ≥ repeats and elapsed ≥ minTimeMs), or count ≥ maxRepeats, or
 * (elapsed ≥ maxTimeMs and count ≥ minRepeats) — whichever comes first.
 */
export interface TimeOptions {
  /** Untimed calls first. Default 1. */
  warmup?: number;
  /** Keep warming up (beyond `warmup` calls) until this much time has been spent. Default 0. */
  warmupMs?: number;
  /** Timed calls wanted. Default 5. */
  repeats?: number;
  /** Keep sampling (beyond `repeats`) until this much time has been spent. Default 0. */
  minTimeMs?: number;
  /** Stop early once this much time has been spent (with at least `minRepeats` samples). Default 20000. */
  maxTimeMs?: number;
  /** Fewest samples when `maxTimeMs` cuts sampling short. Default min(3, repeats). */
  minRepeats?: number;
  /** Most samples. Default 1000. */
  maxRepeats?: number;
  /**
   * Full GC before each timed call, outside the timed region (needs node --expose-gc, which
   * bench/run.ts passes). 'auto' (default): only when the previous call took >= 5 ms — a GC
   * right before a microsecond call would slow that call down (cold caches) by more than it costs.
   */
  gc?: boolean | 'auto';
}

interface ResolvedTimeOptions {
  warmup: number;
  warmupMs: number;
  repeats: number;
  minTimeMs: number;
  maxTimeMs: number;
  minRepeats: number;
  maxRepeats: number;
  gc: boolean | 'auto';
}

function resolveTimeOptions(o: TimeOptions = {}): ResolvedTimeOptions {
  const repeats = Math.max(1, Math.floor(o.repeats ?? 5));
  return {
    warmup: Math.max(0, Math.floor(o.warmup ?? 1)),
    warmupMs: Math.max(0, o.warmupMs ?? 0),
    repeats,
    minTimeMs: Math.max(0, o.minTimeMs ?? 0),
    maxTimeMs: Math.max(0, o.maxTimeMs ?? 20_000),
    minRepeats: Math.max(1, Math.floor(o.minRepeats ?? Math.min(3, repeats))),
    maxRepeats: Math.max(repeats, Math.floor(o.maxRepeats ?? 1000)),
    gc: o.gc ?? 'auto',
  };
}

function median(sorted: number[]): number {
  const m = sorted.length;
  if (m === 0) return NaN;
  return m % 2 === 1 ? sorted[(m - 1) / 2] : 0.5 * (sorted[m / 2 - 1] + sorted[m / 2]);
}

/** Median, min and mean of samples in ms. */
export function summarize(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((s, x) => s + x, 0) / Math.max(1, samples.length);
  return { median: median(sorted), min: sorted[0] ?? NaN, mean, samples: [...samples] };
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

const maybeGc = (globalThis as { gc?: () => void }).gc;

/**
 * Time `fn` (sync or async): warm-up calls, then timed calls; returns median/min/mean/samples in ms.
 * A sync function is timed without any `await` inside the timed region. When node runs with
 * `--expose-gc` (bench/run.ts does that), a full GC runs before each timed call that follows a
 * call of ≥ 5 ms (see {@link TimeOptions.gc}), outside the timed region, so collections of
 * earlier garbage do not land in a random sample.
 * @example const s = await timeIt(() => linalg.gemmSync(A, B), { warmup: 1, repeats: 7 });
 */
export async function timeIt(fn: () => unknown, options?: TimeOptions): Promise<Stats> {
  const o = resolveTimeOptions(options);
  const cpu0 = cpuSnapshot();
  let last = Infinity; // ms of the previous call
  const warmStart = process.hrtime.bigint();
  for (let i = 0; i < o.warmup || (o.warmupMs > 0 && Number(process.hrtime.bigint() - warmStart) / 1e6 < o.warmupMs); i++) {
    const t0 = process.hrtime.bigint();
    const r = fn();
    if (isThenable(r)) await r;
    last = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  for (;;) {
    if (maybeGc && (o.gc === true || (o.gc === 'auto' && last >= 5))) maybeGc();
    const t0 = process.hrtime.bigint();
    const r = fn();
    if (isThenable(r)) await r;
    const t1 = process.hrtime.bigint();
    last = Number(t1 - t0) / 1e6;
    samples.push(last);
    const elapsed = Number(t1 - start) / 1e6;
    const n = samples.length;
    if ((n >= o.repeats && elapsed >= o.minTimeMs) || n >= o.maxRepeats || (elapsed >= o.maxTimeMs && n >= o.minRepeats)) break;
  }
  return { ...summarize(samples), foreignCores: roundOrNull(foreignCores(cpu0, cpuSnapshot())) };
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : Math.round(x * 100) / 100;
}

/**
 * Time a synchronous micro-operation with benchmark.js (which runs many calls per sample to
 * beat timer resolution); returns the same statistics as {@link timeIt}: the median (and min,
 * mean) of benchmark.js's per-call sample means, in ms.
 * @example const s = timeWithBenchmarkJs(() => random.normal({ seed: 0, length: 100 }));
 */
export function timeWithBenchmarkJs(fn: () => unknown, options: { minTimeMs?: number; maxTimeMs?: number; minSamples?: number } = {}): Stats {
  const bench = new Benchmark('op', fn, {
    minTime: (options.minTimeMs ?? 50) / 1000,
    maxTime: (options.maxTimeMs ?? 2000) / 1000,
    minSamples: options.minSamples ?? 5,
  });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  return summarize((bench.stats.sample as number[]).map((s) => s * 1000));
}

// ---------------------------------------------------------------------------------------------
// Python peers
// ---------------------------------------------------------------------------------------------

/** The Python packages the benchmarks compare against. */
export type PeerPackage = 'numpy' | 'scipy' | 'ot' | 'torch';

export const PEER_PACKAGES: readonly PeerPackage[] = ['numpy', 'scipy', 'ot', 'torch'];

const APT_NAMES: Record<PeerPackage, string> = {
  numpy: 'python3-numpy',
  scipy: 'python3-scipy',
  ot: 'python3-pot',
  torch: 'python3-torch',
};

/** What the Python side offers. */
export interface PeerInfo {
  /** The interpreter used (null when none runs). */
  python: string | null;
  pythonVersion: string | null;
  packages: Record<PeerPackage, { available: boolean; version: string | null }>;
  /** Shared libraries NumPy's BLAS/LAPACK resolve to (from /proc/self/maps). */
  numpyBlas: string[];
  /** Thread settings as seen by the peer process. */
  threads: PeerThreads | null;
}

/** Thread settings of a peer process. */
export interface PeerThreads {
  requested: number;
  env: Record<string, string | null>;
  /** openblas_get_num_threads() of NumPy's OpenBLAS, when it is OpenBLAS. */
  openblas: number | null;
  /** torch.get_num_threads(), when torch is installed. */
  torch: number | null;
}

const THREAD_ENV = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'] as const;

let peerThreads = 1;
let cachedPython: string | null | undefined;
const cachedInfo = new Map<number, PeerInfo>();
const hinted = new Set<string>();

function peerEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SPEEDLIMITS_BENCH_THREADS: String(threads), PYTHONUNBUFFERED: '1' };
  for (const k of THREAD_ENV) env[k] = String(threads);
  return env;
}

/**
 * The interpreter for peers: $SPEEDLIMITS_PYTHON if set, else the first of /usr/bin/python3 and
 * `python3` on PATH that can import numpy (else the first that runs at all, else null).
 */
export function findPython(): string | null {
  if (cachedPython !== undefined) return cachedPython;
  const candidates = [process.env.SPEEDLIMITS_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  let runs: string | null = null;
  for (const c of candidates) {
    if (c.startsWith('/') && !existsSync(c)) continue;
    const r = spawnSync(c, ['-c', 'import numpy'], { encoding: 'utf8', env: peerEnv(1), timeout: 60_000 });
    if (r.error) continue;
    if (r.status === 0) return (cachedPython = c);
    runs ??= c;
  }
  return (cachedPython = runs);
}

const PROBE = String.raw`
import json, os, sys, importlib
info = {'pythonVersion': sys.version.split()[0], 'packages': {}, 'numpyBlas': [], 'threads': None}
T = int(os.environ.get('SPEEDLIMITS_BENCH_THREADS', '1'))
for name in ('numpy', 'scipy', 'ot', 'torch'):
    try:
        m = importlib.import_module(name)
        info['packages'][name] = {'available': True, 'version': str(getattr(m, '__version__', 'unknown'))}
    except Exception:
        info['packages'][name] = {'available': False, 'version': None}
thr = {'requested': T, 'env': {k: os.environ.get(k) for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')}, 'openblas': None, 'torch': None}
if info['packages']['numpy']['available']:
    import numpy as np
    a = np.ones((64, 64)); a @ a  # make sure BLAS is loaded
    libs = []
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                p = line.split()[-1] if len(line.split()) >= 6 else ''
                low = os.path.basename(p).lower()
                if low.startswith('lib') and any(s in low for s in ('blas', 'lapack', 'mkl', 'blis')) and p not in libs:
                    libs.append(p)
    except OSError:
        pass
    info['numpyBlas'] = libs
    import ctypes
    for p in libs:
        if 'openblas' not in os.path.basename(p).lower():
            continue
        try:
            lib = ctypes.CDLL(p)
            for sym in ('openblas_get_num_threads', 'openblas_get_num_threads64_', 'scipy_openblas_get_num_threads64_'):
                if hasattr(lib, sym):
                    thr['openblas'] = int(getattr(lib, sym)())
                    break
        except OSError:
            pass
        if thr['openblas'] is not None:
            break
if info['packages']['torch']['available']:
    import torch
    torch.set_num_threads(T)
    thr['torch'] = int(torch.get_num_threads())
info['threads'] = thr
print(json.dumps(info))
`;

/**
 * Which peer packages are installed, their versions, NumPy's BLAS, and the thread counts the
 * peer process sees (for `threads`, default: the bench's thread count). Cached per thread count.
 */
export function detectPeers(threads = peerThreads): PeerInfo {
  const hit = cachedInfo.get(threads);
  if (hit) return hit;
  const none = Object.fromEntries(PEER_PACKAGES.map((p) => [p, { available: false, version: null }])) as PeerInfo['packages'];
  const python = findPython();
  let info: PeerInfo = { python, pythonVersion: null, packages: none, numpyBlas: [], threads: null };
  if (python) {
    const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', env: peerEnv(threads), timeout: 120_000 });
    if (r.status === 0) {
      try {
        const parsed = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Omit<PeerInfo, 'python'>;
        info = { python, ...parsed };
      } catch {
        /* keep "none" */
      }
    } else {
      process.stderr.write(`peer probe failed with ${python}: ${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()}\n`);
    }
  }
  cachedInfo.set(threads, info);
  return info;
}

/**
 * True when the peer package can be imported. When it cannot, prints once (stderr):
 * `peer <name> not installed: sudo apt-get install python3-<pkg>`.
 */
export function requirePeer(name: PeerPackage): boolean {
  const info = detectPeers();
  if (info.packages[name]?.available) return true;
  if (!hinted.has(name)) {
    hinted.add(name);
    if (!info.python && !hinted.has('python3')) {
      hinted.add('python3');
      process.stderr.write('peer python3 not found: sudo apt-get install python3\n');
    }
    process.stderr.write(`peer ${name} not installed: sudo apt-get install ${APT_NAMES[name]}\n`);
  }
  return false;
}

/** Failure of a peer script (non-zero exit, no result line, timeout). */
export class PeerError extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
    this.name = 'PeerError';
  }
}

/** Options of {@link runPeer}. */
export interface PeerRunOptions {
  /** Thread count for the peer (env vars, torch.set_num_threads). Default: the bench's. */
  threads?: number;
  /** Handed to the script as TIMING (snake_case keyword arguments of time_it). */
  timing?: TimeOptions;
  /** Kill the peer after this long. Default 15 minutes. */
  timeoutMs?: number;
}

const RESULT_MARK = '@@SPEEDLIMITS_PEER_RESULT@@';

let lastPeerForeign: number | null = null;

/**
 * Cores other processes kept busy (on average) during the last {@link runPeer} call: the whole
 * peer process, start-up included. Attach it to the peer's Stats with {@link withPeerContention}.
 */
export function lastPeerForeignCores(): number | null {
  return lastPeerForeign;
}

/** `stats` with foreignCores set from the last runPeer call (null passes through). */
export function withPeerContention(stats: Stats | null | undefined): Stats | null {
  return stats ? { ...stats, foreignCores: stats.foreignCores ?? lastPeerForeign } : null;
}

// Everything a peer script can use: ARGS (the JSON from stdin), THREADS, TIMING, time_it(fn, **TIMING)
// and load(name) (imports a package; torch gets set_num_threads(THREADS)). The script sets RESULT.
const PREAMBLE = String.raw`
import gc as _gc, json, os, sys, time, importlib
ARGS = json.loads(sys.stdin.read() or '{}')
THREADS = int(os.environ.get('SPEEDLIMITS_BENCH_THREADS', '1'))
TIMING = ARGS.pop('__timing__', {}) or {}

def time_it(fn, warmup=1, repeats=5, min_time_ms=0.0, max_time_ms=20000.0, min_repeats=None, max_repeats=1000, gc='auto', warmup_ms=0.0):
    """Median of N calls after warm-up, in ms (same rule as bench/harness.ts timeIt)."""
    warmup = max(0, int(warmup)); repeats = max(1, int(repeats))
    if min_repeats is None:
        min_repeats = min(3, repeats)
    max_repeats = max(repeats, int(max_repeats))
    collect = gc
    last = float('inf')
    warm_start = time.perf_counter(); i = 0
    while i < warmup or (warmup_ms > 0 and (time.perf_counter() - warm_start) * 1e3 < warmup_ms):
        t0 = time.perf_counter(); fn(); last = (time.perf_counter() - t0) * 1e3; i += 1
    samples = []
    was_enabled = _gc.isenabled()
    start = time.perf_counter()
    try:
        while True:
            if collect is True or (collect == 'auto' and last >= 5):
                _gc.collect()
            _gc.disable()
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            if was_enabled:
                _gc.enable()
            last = (t1 - t0) * 1e3
            samples.append(last)
            elapsed = (t1 - start) * 1e3
            n = len(samples)
            if (n >= repeats and elapsed >= min_time_ms) or n >= max_repeats or (elapsed >= max_time_ms and n >= min_repeats):
                break
    finally:
        if was_enabled:
            _gc.enable()
    s = sorted(samples); m = len(s)
    med = s[m // 2] if m % 2 else 0.5 * (s[m // 2 - 1] + s[m // 2])
    return {'median': med, 'min': s[0], 'mean': sum(s) / m, 'samples': samples}

def load(name):
    mod = importlib.import_module(name)
    if name == 'torch':
        mod.set_num_threads(THREADS)
    return mod

RESULT = None
`;

const EPILOGUE = `\nsys.stdout.write('\\n${RESULT_MARK}' + json.dumps(RESULT) + '\\n')\nsys.stdout.flush()\n`;

/**
 * Run a Python snippet with the peer interpreter. `args` arrive as JSON on stdin (as ARGS);
 * the snippet times its own workload with `time_it(fn, **TIMING)` (same protocol as
 * {@link timeIt}) and assigns a JSON-serialisable RESULT, which is returned. Thread env vars
 * (OMP/OPENBLAS/MKL_NUM_THREADS) and torch.set_num_threads follow `options.threads`.
 * Throws {@link PeerError} when Python is missing or the snippet fails.
 * @example const r = runPeer<{ stats: Stats }>('np = load("numpy")\nRESULT = {"stats": time_it(lambda: np.ones(ARGS["n"]), **TIMING)}', { n: 10 });
 */
export function runPeer<T = unknown>(script: string, args: object = {}, options: PeerRunOptions = {}): T {
  const python = findPython();
  if (!python) throw new PeerError('no python3 interpreter found', '');
  const threads = options.threads ?? peerThreads;
  const payload: Record<string, unknown> = { ...args };
  if (options.timing) {
    const t = resolveTimeOptions(options.timing);
    payload.__timing__ = {
      warmup: t.warmup, warmup_ms: t.warmupMs, repeats: t.repeats, min_time_ms: t.minTimeMs, max_time_ms: t.maxTimeMs,
      min_repeats: t.minRepeats, max_repeats: t.maxRepeats, gc: t.gc,
    };
  }
  const code = PREAMBLE + '\n' + script + '\n' + EPILOGUE;
  const cpu0 = cpuSnapshot();
  lastPeerForeign = null;
  const r = spawnSync(python, ['-c', code], {
    input: JSON.stringify(payload),
    encoding: 'utf8',
    env: peerEnv(threads),
    timeout: options.timeoutMs ?? 15 * 60_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new PeerError(`peer failed to run: ${r.error.message}`, r.stderr ?? '');
  if (r.status !== 0) {
    const last = (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new PeerError(`peer exited with ${r.status ?? r.signal}: ${last}`, r.stderr ?? '');
  }
  lastPeerForeign = roundOrNull(foreignCores(cpu0, cpuSnapshot()));
  const i = r.stdout.lastIndexOf(RESULT_MARK);
  if (i < 0) throw new PeerError('peer printed no result', r.stderr ?? '');
  return JSON.parse(r.stdout.slice(i + RESULT_MARK.length).trim().split('\n')[0]) as T;
}

// ---------------------------------------------------------------------------------------------
// CLI, rows, tables, JSON
// ---------------------------------------------------------------------------------------------

/** The flags every bench script accepts. */
export interface CliOptions {
  /** Small sizes and few repeats: a smoke run. */
  quick: boolean;
  /** Threads for ours (setThreads) and the peers; null = the engine's default. */
  threads: number | null;
  /** Print the JSON document only (progress and hints still go to stderr). */
  json: boolean;
}

export function parseCli(argv: readonly string[] = process.argv.slice(2)): CliOptions {
  const o: CliOptions = { quick: false, threads: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--json') o.json = true;
    else if (a === '--threads' || a.startsWith('--threads=')) {
      const v = a === '--threads' ? argv[++i] : a.slice('--threads='.length);
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--threads needs an integer >= 1, got ${v}`);
      o.threads = n;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write('flags: --quick (smoke run: small sizes, few repeats)  --threads N  --json (print JSON only)\n');
      process.exit(0);
    } else {
      throw new Error(`unknown flag ${a} (flags: --quick, --threads N, --json)`);
    }
  }
  return o;
}

/** One comparison: ours vs a peer on one workload and size. */
export interface Row {
  workload: string;
  size: string;
  /** Which implementation of ours (e.g. 'OpenBLAS', 'builtin', 'normal() 2 thr'). */
  oursLabel: string;
  ours: Stats | null;
  /** Which peer (e.g. 'numpy a @ b'); '' when there is none. */
  peerLabel: string;
  peer: Stats | null;
  /** peer.median / ours.median: > 1 means we are faster. null when either is missing. */
  ratio: number | null;
  /** Free text: checks, GFLOP/s, why a cell is n/a. */
  note?: string;
}

/** A free-form extra table (e.g. builtin vs OpenBLAS). */
export interface ExtraTable {
  title: string;
  headers: string[];
  rows: string[][];
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'n/a';
  if (ms < 1) return ms.toFixed(3);
  if (ms < 100) return ms.toFixed(2);
  return ms.toFixed(1);
}

export function fmtRatio(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return 'n/a';
  return r >= 100 ? r.toFixed(0) : r.toFixed(2);
}

/** Render an aligned text table (first column left-aligned, numeric-looking cells right-aligned). */
export function formatTable(headers: string[], rows: string[][]): string {
  const width = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const numeric = (s: string) => /^[-+]?[\d.]+(e[-+]?\d+)?[x%]?$|^n\/a$/i.test(s);
  const line = (cells: string[]) =>
    cells.map((s, c) => (c > 0 && numeric(s) ? s.padStart(width[c]) : s.padEnd(width[c]))).join('  ').trimEnd();
  return [line(headers), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Other processes keeping more than this many cores busy mark a measurement as contended. */
export const CONTENDED = 0.25;

export function formatRows(rows: Row[]): string {
  const bg = (s: Stats | null) => (s?.foreignCores === null || s?.foreignCores === undefined ? '?' : s.foreignCores.toFixed(2));
  const contended = (r: Row) => [r.ours, r.peer].some((s) => (s?.foreignCores ?? 0) > CONTENDED);
  return formatTable(
    ['workload', 'size', 'ours', 'ours ms', 'peer', 'peer ms', 'ratio', 'other load', 'note'],
    rows.map((r) => [
      r.workload, r.size, r.oursLabel, fmtMs(r.ours?.median), r.peerLabel || '-', fmtMs(r.peer?.median), fmtRatio(r.ratio),
      `${bg(r.ours)}/${r.peer ? bg(r.peer) : '-'}${contended(r) ? ' !' : ''}`, r.note ?? '',
    ]),
  );
}

/** Context of one bench script: options, threads, rows, output. */
export interface BenchContext {
  name: string;
  cli: CliOptions;
  /** Thread count for ours and the peers (after --threads). */
  threads: number;
  info: BuildInfo;
  rows: Row[];
  tables: ExtraTable[];
  /** Lines printed after the tables (targets, checks, observations). */
  summary: string[];
  /** Progress to stderr (never pollutes --json output). */
  log(msg: string): void;
  /** Add a row; computes the ratio. */
  add(row: Omit<Row, 'ratio'>): Row;
  /** Set the thread count used by ours and by later runPeer calls. */
  useThreads(n: number): void;
  /** Print tables (or the JSON), write bench/results/<name>-<timestamp>.json; returns its path. */
  finish(extra?: Record<string, unknown>): string;
}

const benchDir = dirname(fileURLToPath(import.meta.url));

/** Which addon file this process loaded (from /proc/self/maps) and its identity, plus the git state. */
function codeIdentity() {
  let addon: { path: string; sha256: string; mtime: string; bytes: number } | null = null;
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const path = maps.split('\n').map((l) => l.trim().split(/\s+/).slice(5).join(' ')).find((p) => p.endsWith('.node') && p.includes('speedlimits'));
    if (path) {
      const st = statSync(path);
      addon = { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16), mtime: st.mtime.toISOString(), bytes: st.size };
    }
  } catch {
    /* not Linux */
  }
  const git = (args: string[]) => {
    const r = spawnSync('git', args, { cwd: benchDir, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return { addon, git: { commit: git(['rev-parse', '--short=12', 'HEAD']), dirty: status === null ? null : status.length > 0 } };
}

interface CpuSnapshot { wallMs: number; busyTicks: number; ownTicks: number }

/** System-wide busy CPU ticks and this process's (+ waited-for children, i.e. the peers) ticks (Linux). */
function cpuSnapshot(): CpuSnapshot | null {
  try {
    const stat = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const busyTicks = stat[0] + stat[1] + stat[2] + stat[5] + stat[6] + (stat[7] ?? 0);
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
    const ownTicks = f[11] + f[12] + f[13] + f[14]; // utime stime cutime cstime
    return { wallMs: performance.now(), busyTicks, ownTicks };
  } catch {
    return null;
  }
}

/** Average number of cores kept busy by other processes between two snapshots (USER_HZ = 100). */
function foreignCores(a: CpuSnapshot | null, b: CpuSnapshot | null): number | null {
  if (!a || !b || b.wallMs - a.wallMs < 200) return null; // ticks are 10 ms: too coarse below that
  const foreignTicks = Math.max(0, (b.busyTicks - a.busyTicks) - (b.ownTicks - a.ownTicks));
  return foreignTicks / 100 / ((b.wallMs - a.wallMs) / 1000);
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()}`,
    platform: process.platform,
    arch: process.arch,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    availableParallelism: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    totalMemGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    loadavg: os.loadavg().map((x) => +x.toFixed(2)),
  };
}

/**
 * Start a bench script: parses the CLI, applies --threads (ours via setThreads, peers via env),
 * and returns the context that collects rows.
 */
export function startBench(name: string, argv: readonly string[] = process.argv.slice(2)): BenchContext {
  const cli = parseCli(argv);
  if (cli.threads !== null) setThreads(cli.threads);
  peerThreads = getThreads();
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  const cpuAtStart = cpuSnapshot();
  const info = buildInfo(); // loads the addon, so codeIdentity() can find it
  const code = codeIdentity();
  const ctx: BenchContext = {
    name,
    cli,
    threads: peerThreads,
    info,
    rows: [],
    tables: [],
    summary: [],
    log(msg) {
      process.stderr.write(`[${name}] ${msg}\n`);
    },
    add(row) {
      const ratio = row.ours && row.peer && row.ours.median > 0 ? row.peer.median / row.ours.median : null;
      const full: Row = { ...row, ratio };
      ctx.rows.push(full);
      ctx.log(`${row.workload} ${row.size} ${row.oursLabel}: ${fmtMs(row.ours?.median)} ms` +
        (row.peerLabel ? ` | ${row.peerLabel}: ${fmtMs(row.peer?.median)} ms | ratio ${fmtRatio(ratio)}` : ''));
      return full;
    },
    useThreads(n) {
      setThreads(n);
      peerThreads = n;
    },
    finish(extra = {}) {
      const peers = detectPeers(ctx.threads);
      const foreign = foreignCores(cpuAtStart, cpuSnapshot());
      const doc = {
        name,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        quick: cli.quick,
        protocol: 'median of N timed calls after warm-up; ours and peers timed in the same run on the same machine; ratio = peer median / ours median (> 1: ours faster)',
        buildInfo: buildInfo(),
        code,
        machine: { ...machineInfo(), loadavgAtStart: machineAtStart.loadavg, foreignCpuCores: foreign === null ? null : +foreign.toFixed(2) },
        node: process.version,
        gcBetweenSamples: !!maybeGc,
        threads: { ours: ctx.threads, peer: peers.threads },
        peers: { python: peers.python, pythonVersion: peers.pythonVersion, packages: peers.packages, numpyBlas: peers.numpyBlas },
        rows: ctx.rows,
        tables: ctx.tables,
        summary: ctx.summary,
        ...extra,
      };
      const dir = join(benchDir, 'results');
      mkdirSync(dir, { recursive: true });
      const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
      const file = join(dir, `${name}-${stamp}.json`);
      writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
      if (cli.json) {
        process.stdout.write(JSON.stringify(doc) + '\n');
      } else {
        const pk = (p: PeerPackage) => (peers.packages[p]?.available ? `${p} ${peers.packages[p].version}` : `${p} n/a`);
        const out: string[] = [];
        out.push('', `== ${name}${cli.quick ? ' (--quick)' : ''} ==`);
        out.push(`speedlimits ${doc.buildInfo.version}: blas=${doc.buildInfo.blas} lapack=${doc.buildInfo.lapack} simd=${doc.buildInfo.simd} openmp=${doc.buildInfo.openmp} threads=${ctx.threads}`);
        out.push(`machine: ${doc.machine.cpuModel} x${doc.machine.cpuCount}, ${doc.machine.os}, node ${doc.node}, load ${doc.machine.loadavgAtStart.join('/')} -> ${doc.machine.loadavg.join('/')}`);
        if (foreign !== null) out.push(`other processes kept ${foreign.toFixed(2)} of ${doc.machine.cpuCount} cores busy on average during this run${foreign > CONTENDED ? ' (contended: treat ratios with care)' : ''}`);
        out.push(`peers: ${peers.python ?? 'no python'} (${peers.pythonVersion ?? '?'}): ${PEER_PACKAGES.map(pk).join(', ')}`);
        if (code.addon) out.push(`addon: ${code.addon.path} (sha256 ${code.addon.sha256}, built ${code.addon.mtime}); git ${code.git.commit ?? '?'}${code.git.dirty ? ' + uncommitted changes' : ''}`);
        if (peers.numpyBlas.length) out.push(`numpy BLAS: ${peers.numpyBlas.map((p) => p.split('/').pop()).join(', ')}`);
        if (peers.threads) {
          const t = peers.threads;
          out.push(`peer threads: ${THREAD_ENV.map((k) => `${k}=${t.env[k] ?? 'unset'}`).join(' ')}, openblas_get_num_threads=${t.openblas ?? 'n/a'}, torch=${t.torch ?? 'n/a'}`);
        }
        out.push('', formatRows(ctx.rows));
        for (const t of ctx.tables) out.push('', `-- ${t.title} --`, formatTable(t.headers, t.rows));
        if (ctx.summary.length) out.push('', ...ctx.summary);
        out.push('', `ratio = peer median / ours median (> 1: ours faster); other load = cores kept busy by other processes while ours/peer ran ('!' > ${CONTENDED}: contended).`,
          `JSON: ${relative(process.cwd(), file)}`, '');
        process.stdout.write(out.join('\n'));
      }
      return file;
    },
  };
  const p = detectPeers(ctx.threads);
  ctx.log(`threads=${ctx.threads}, python=${p.python ?? 'none'}, ${PEER_PACKAGES.map((k) => `${k}=${p.packages[k]?.version ?? 'n/a'}`).join(' ')}`);
  return ctx;
}

/** Run `fn`, returning null (and logging) instead of throwing: a failing peer leaves n/a cells. */
export function attempt<T>(ctx: BenchContext, what: string, fn: () => T): T | null {
  try {
    return fn();
  } catch (e) {
    ctx.log(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}
