/**
 * speedlimits — how close does neural-network training come to the thermodynamic speed limit?
 *
 * The public API. Heavy work runs in the native core; this layer validates, shapes and presents.
 */
export { SpeedlimitsError, type ErrorCode } from './errors.js';
export { buildInfo, setThreads, getThreads, backends, type BuildInfo, type BackendInfo } from './info.js';
export { matrix, zeros, identity, fromRows, toRows, transpose, get, isMatrix, checkMatrix, type Matrix } from './matrix.js';
export * as linalg from './linalg.js';
export * as random from './random.js';
export {
  parseNpy, encodeNpy, readNpy, readNpySync, writeNpy, writeNpySync, npyToMatrix,
  type NpyArray, type NpyData, type NpyDtype, type NpyInput,
} from './npy.js';
