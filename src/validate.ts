/**
 * Argument checks shared by every public function. Each throws a TypeError (wrong type) or a
 * RangeError (bad value) whose message starts with `fn: name` so the user sees which call and
 * which argument was wrong.
 */
import { native } from './native.js';

export type FloatArray = Float64Array | Float32Array;

/** A short description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  if (typeof value === 'number') return `${value}`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return typeof value;
}

/** A finite number. */
export function checkFinite(fn: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${fn}: ${name} must be a number, got ${describeValue(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${fn}: ${name} must be finite, got ${value}`);
  return value;
}

/** A finite number in [min, max] (either bound optional; `exclusiveMin` makes the lower bound strict). */
export function checkNumberInRange(
  fn: string,
  name: string,
  value: unknown,
  opts: { min?: number; max?: number; exclusiveMin?: boolean },
): number {
  const v = checkFinite(fn, name, value);
  const { min, max, exclusiveMin } = opts;
  if (min !== undefined && (exclusiveMin ? !(v > min) : !(v >= min)))
    throw new RangeError(`${fn}: ${name} must be ${exclusiveMin ? '>' : '>='} ${min}, got ${v}`);
  if (max !== undefined && !(v <= max)) throw new RangeError(`${fn}: ${name} must be <= ${max}, got ${v}`);
  return v;
}

/** A safe integer in [min, max]. */
export function checkInteger(fn: string, name: string, value: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw new TypeError(`${fn}: ${name} must be an integer, got ${describeValue(value)}`);
  if (!Number.isSafeInteger(value)) throw new RangeError(`${fn}: ${name} must be an integer, got ${value}`);
  if (value < min || value > max) throw new RangeError(`${fn}: ${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

const U64_MAX = (1n << 64n) - 1n;

/** An unsigned 64-bit integer given as a safe non-negative integer number or a bigint. */
export function checkUint64(fn: string, name: string, value: unknown): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) throw new RangeError(`${fn}: ${name} must be in [0, 2^64), got ${value}n`);
    return value;
  }
  if (typeof value !== 'number') throw new TypeError(`${fn}: ${name} must be a non-negative integer or bigint, got ${describeValue(value)}`);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${fn}: ${name} must be a non-negative safe integer (or a bigint), got ${value}`);
  return BigInt(value);
}

/** A boolean. */
export function checkBoolean(fn: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${fn}: ${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

/** One of the listed strings. */
export function checkEnum<T extends string>(fn: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw new TypeError(`${fn}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`);
  if (!allowed.includes(value as T))
    throw new RangeError(`${fn}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${value}'`);
  return value as T;
}

/** A plain options object (undefined → {}). */
export function checkOptions<T extends object>(fn: string, value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new TypeError(`${fn}: ${name} must be an object, got ${describeValue(value)}`);
  return value as Partial<T>;
}

/** A Float64Array (optionally of a given length). */
export function checkFloat64Array(fn: string, name: string, value: unknown, length?: number): Float64Array {
  if (!(value instanceof Float64Array)) throw new TypeError(`${fn}: ${name} must be a Float64Array, got ${describeValue(value)}`);
  if (length !== undefined && value.length !== length)
    throw new RangeError(`${fn}: ${name} must have ${length} entries, got ${value.length}`);
  return value;
}

/** A Float64Array or Float32Array (optionally of a given length). */
export function checkFloatArray(fn: string, name: string, value: unknown, length?: number): FloatArray {
  if (!(value instanceof Float64Array) && !(value instanceof Float32Array))
    throw new TypeError(`${fn}: ${name} must be a Float64Array or Float32Array, got ${describeValue(value)}`);
  if (length !== undefined && value.length !== length)
    throw new RangeError(`${fn}: ${name} must have ${length} entries, got ${value.length}`);
  return value;
}

// From this length the scan runs in the core (vectorised, threaded, one read of the array); a
// JS loop over a union-typed array is several times slower (≈ 10 ms for 5M parameters).
const NATIVE_SCAN_MIN = 1 << 15;

/** Index of the first NaN or ±Inf in `data`, or −1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  if (data.length >= NATIVE_SCAN_MIN && (data instanceof Float64Array || data instanceof Float32Array))
    return native().firstNonFinite(data);
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/** Every entry finite; names the first offending index. */
export function checkAllFinite(fn: string, name: string, data: ArrayLike<number>): void {
  const i = firstNonFinite(data);
  if (i >= 0) throw new RangeError(`${fn}: ${name} must contain only finite values, got ${data[i]} at index ${i}`);
}
