/**
 * Errors raised by speedlimits.
 *
 * Argument errors are plain `TypeError` (wrong type) or `RangeError` (right type, bad value or
 * size) whose message names the function and the argument. Failures of the computation itself
 * (a matrix that is not positive definite, an aborted run, a malformed file) are
 * `SpeedlimitsError` with a stable `code`.
 */

/** Stable error codes carried by {@link SpeedlimitsError} (and by native errors). */
export type ErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_SHAPE'
  | 'ERR_NOT_SPD'
  | 'ERR_NO_CONVERGENCE'
  | 'ERR_NUMERICAL'
  | 'ERR_ABORTED'
  | 'ERR_CUDA_UNAVAILABLE'
  | 'ERR_CUDA_UNSUPPORTED'
  | 'ERR_CUDA'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_NATIVE'
  | 'ERR_NATIVE_LOAD'
  | 'ERR_NPY_FORMAT'
  | 'ERR_DATA_FORMAT'
  | 'ERR_IO'
  | (string & {});

/**
 * An error from the engine with a machine-readable `code`.
 * @example
 * try { linalg.choleskySync(m) } catch (e) { if (e instanceof SpeedlimitsError && e.code === 'ERR_NOT_SPD') … }
 */
export class SpeedlimitsError extends Error {
  readonly code: ErrorCode;
  /** Extra context (argument name, dimensions, path…), when known. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SpeedlimitsError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/**
 * The error a long-running operation rejects with when its `AbortSignal` fires
 * (`name === 'AbortError'`, `code === 'ERR_ABORTED'`).
 */
export class AbortError extends SpeedlimitsError {
  constructor(message = 'the operation was aborted') {
    super('ERR_ABORTED', message);
    this.name = 'AbortError';
  }
}
