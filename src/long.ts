/**
 * Plumbing for long-running native work: cancellation through an AbortSignal and progress
 * reports. The core polls a shared Int32Array flag and writes its progress into a shared
 * Float64Array; nothing calls back across threads.
 */
import { AbortError, SpeedlimitsError } from './errors.js';

/** Options every long-running operation accepts. */
export interface LongRunOptions {
  /** Abort the work; the promise then rejects with an {@link AbortError}. */
  signal?: AbortSignal;
  /** Called with the completed fraction in [0, 1] (at most every `progressInterval` ms). */
  onProgress?: (fraction: number) => void;
  /** Milliseconds between progress reports. Default 100. */
  progressInterval?: number;
}

/** The native side of a long run: the flag and the progress slot to pass down. */
export interface NativeControl {
  abort: Int32Array;
  progress: Float64Array;
}

export function checkLongRunOptions(fn: string, o: LongRunOptions): void {
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw new TypeError(`${fn}: options.signal must be an AbortSignal`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function')
    throw new TypeError(`${fn}: options.onProgress must be a function`);
  if (o.progressInterval !== undefined && !(typeof o.progressInterval === 'number' && o.progressInterval > 0))
    throw new RangeError(`${fn}: options.progressInterval must be a number > 0`);
}

/**
 * Run `start(control)` (which returns the native promise) with abort and progress wired up.
 */
export async function runLong<T>(fn: string, o: LongRunOptions, start: (control: NativeControl) => Promise<T>): Promise<T> {
  if (o.signal?.aborted) throw new AbortError(`${fn}: aborted before it started`);
  const control: NativeControl = { abort: new Int32Array(1), progress: new Float64Array(1) };
  const onAbort = () => Atomics.store(control.abort, 0, 1);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let last = -1;
  const report = () => {
    const p = control.progress[0];
    if (p !== last) {
      last = p;
      o.onProgress?.(p);
    }
  };
  const timer = o.onProgress ? setInterval(report, o.progressInterval ?? 100) : undefined;
  try {
    const result = await start(control);
    if (o.onProgress) report();
    return result;
  } catch (e) {
    if (e instanceof SpeedlimitsError && e.code === 'ERR_ABORTED') throw new AbortError(`${fn}: aborted`);
    throw e;
  } finally {
    if (timer !== undefined) clearInterval(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
