/**
 * The compute backend of the heavy calls: `backend: 'auto' | 'cpu' | 'cuda'`.
 *
 * - `'cpu'`: the C++ core on the CPU.
 * - `'cuda'`: the CUDA kernels on GPU 0. Throws `SpeedlimitsError` with code
 *   `ERR_CUDA_UNAVAILABLE` when this build has no CUDA or no device is visible, and
 *   `ERR_CUDA_UNSUPPORTED` when the call has no GPU path for its arguments (e.g. a CNN's NTK).
 * - `'auto'` (the default): the GPU when a device is visible and the call has a GPU path,
 *   otherwise the CPU, so code written without a GPU uses one when there is one.
 */
import { SpeedlimitsError } from './errors.js';
import { native } from './native.js';
import { checkEnum } from './validate.js';

/** Where a heavy call runs. */
export type Backend = 'auto' | 'cpu' | 'cuda';

const BACKENDS = ['auto', 'cpu', 'cuda'] as const;

let cudaState: { compiled: boolean; devices: number } | undefined;

/** Whether the CUDA kernels can run here (compiled in, and a device visible). Cached per process. */
export function cudaAvailable(): boolean {
  if (cudaState === undefined) {
    const info = native().buildInfo();
    cudaState = { compiled: info.cudaCompiled, devices: info.cudaDevices };
  }
  return cudaState.compiled && cudaState.devices > 0;
}

/**
 * Validate `options.backend` and decide where the call runs: true for the GPU.
 * `unsupported` is undefined when the call has a GPU path for these arguments, else why not
 * (it completes "backend 'cuda' does not support …").
 */
export function resolveBackend(fn: string, value: unknown, unsupported?: string): boolean {
  const backend: Backend = value === undefined ? 'auto' : checkEnum(fn, 'options.backend', value, BACKENDS);
  if (backend === 'cpu') return false;
  const available = cudaAvailable();
  if (backend === 'auto') return available && unsupported === undefined;
  if (!available) {
    const why = !cudaState!.compiled
      ? 'this build has no CUDA kernels (nvcc was not found at build time or SPEEDLIMITS_CUDA=OFF)'
      : 'no CUDA device is visible (no GPU or no driver)';
    throw new SpeedlimitsError('ERR_CUDA_UNAVAILABLE', `${fn}: backend 'cuda' was requested but ${why}; use backend 'auto' or 'cpu'`,
      { backend: 'cuda' });
  }
  if (unsupported !== undefined)
    throw new SpeedlimitsError('ERR_CUDA_UNSUPPORTED', `${fn}: backend 'cuda' does not support ${unsupported}; use backend 'auto' or 'cpu'`,
      { backend: 'cuda' });
  return true;
}
