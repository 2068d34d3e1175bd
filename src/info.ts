/**
 * Build and runtime introspection, and the thread count.
 */
import { createRequire } from 'node:module';
import { native, type NativeBuildInfo } from './native.js';
import { checkInteger } from './validate.js';

/** What this build of the engine can do (the addon's facts plus the runtime's). */
export interface BuildInfo extends NativeBuildInfo {
  nodeVersion: string;
  platform: string;
  arch: string;
}

/**
 * Facts about the build: BLAS backend, OpenMP, threads, CUDA, N-API version.
 * @example
 * import { buildInfo } from 'speedlimits';
 * console.log(buildInfo().blas); // 'OpenBLAS' or 'builtin'
 */
export function buildInfo(): BuildInfo {
  const n = native().buildInfo();
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
  return {
    ...n,
    version: pkg.version,
    nodeVersion: process.versions.node,
    platform: process.platform,
    arch: process.arch,
  };
}

/**
 * Set the number of threads used by the engine (OpenMP regions and BLAS), n ≥ 1.
 * Results never depend on it (random streams are counter-based).
 * @example setThreads(2);
 */
export function setThreads(n: number): void {
  checkInteger('setThreads', 'n', n, 1, 4096);
  native().setThreads(n);
}

/**
 * The number of threads the engine uses.
 * @example getThreads() // 2
 */
export function getThreads(): number {
  return native().getThreads();
}

/** A compute backend and whether it can be used. */
export interface BackendInfo {
  name: 'cpu' | 'cuda';
  compiled: boolean;
  available: boolean;
  detail: string;
}

/**
 * The compute backends of this build.
 * @example backends().find((b) => b.name === 'cuda')?.available
 */
export function backends(): BackendInfo[] {
  const n = native().buildInfo();
  return [
    { name: 'cpu', compiled: true, available: true, detail: `${n.blas}, ${n.threads} thread(s), ${n.simd}` },
    {
      name: 'cuda',
      compiled: n.cudaCompiled,
      available: n.cudaCompiled && n.cudaDevices > 0,
      detail: !n.cudaCompiled ? 'not compiled (nvcc not found at build time or SPEEDLIMITS_CUDA=OFF)'
        : n.cudaDevices === 0 ? 'compiled, but no CUDA device is visible'
        : n.cudaDeviceNames.join(', '),
    },
  ];
}
