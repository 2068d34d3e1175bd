/**
 * The engine's counter-based generator (Philox4x32-10), exposed so that tests and users can
 * reproduce any stream the engine uses. A draw is a pure function of (seed, stream, index):
 * the same numbers whatever the thread count or how a range is split.
 *
 * - `normal`: standard normal draws (Box–Muller on 53-bit uniforms; two per Philox block).
 * - `uniform`: doubles in [0, 1) with 53 random bits.
 * - `bits`: the raw 32-bit words.
 */
import { uninitializedArray } from './alloc.js';
import { native } from './native.js';
import { checkFloat64Array, checkInteger, checkOptions, checkUint64 } from './validate.js';

/** Which stream and which part of it. */
export interface StreamOptions {
  /** Key of the generator: a non-negative safe integer or a bigint < 2^64. */
  seed: number | bigint;
  /** Independent stream under the same seed (e.g. one per replica). Default 0. */
  stream?: number | bigint;
  /** Index of the first draw. Default 0. */
  offset?: number | bigint;
}

/** Stream options plus how many draws. */
export interface DrawOptions extends StreamOptions {
  /** Number of draws (≤ 2^31 − 1 per call). */
  length: number;
}

const MAX_LENGTH = 2 ** 31 - 1;


function parse(fn: string, options: unknown, withLength: boolean) {
  if (options === undefined) throw new TypeError(`${fn}: options { seed${withLength ? ', length' : ''} } are required`);
  const o = checkOptions<DrawOptions>(fn, options);
  const seed = checkUint64(fn, 'seed', o.seed);
  const stream = checkUint64(fn, 'stream', o.stream ?? 0);
  const offset = checkUint64(fn, 'offset', o.offset ?? 0);
  const length = withLength ? checkInteger(fn, 'length', o.length, 0, MAX_LENGTH) : 0;
  return { seed, stream, offset, length };
}

/**
 * Standard normal draws of one stream.
 * @example
 * import { random } from 'speedlimits';
 * const z = random.normal({ seed: 42, stream: 3, length: 1000 });
 */
export function normal(options: DrawOptions): Float64Array {
  const { seed, stream, offset, length } = parse('random.normal', options, true);
  const out = uninitializedArray(Float64Array, length);
  native().rngNormal(seed, stream, offset, out, false);
  return out;
}

/**
 * Uniform draws in [0, 1) of one stream.
 * @example const u = random.uniform({ seed: 1, length: 10 });
 */
export function uniform(options: DrawOptions): Float64Array {
  const { seed, stream, offset, length } = parse('random.uniform', options, true);
  const out = uninitializedArray(Float64Array, length);
  native().rngUniform(seed, stream, offset, out, false);
  return out;
}

/**
 * Raw 32-bit words of one stream (word i is word i % 4 of Philox block i / 4).
 * @example const w = random.bits({ seed: 0, length: 4 }); // Random123 known-answer block
 */
export function bits(options: DrawOptions): Uint32Array {
  const { seed, stream, offset, length } = parse('random.bits', options, true);
  const out = uninitializedArray(Uint32Array, length);
  native().rngBits(seed, stream, offset, out, false);
  return out;
}

/**
 * Fill an existing Float64Array with normal draws (no allocation); off the event loop.
 * @example await random.fillNormal(buffer, { seed: 7 });
 */
export async function fillNormal(out: Float64Array, options: StreamOptions): Promise<Float64Array> {
  checkFloat64Array('random.fillNormal', 'out', out);
  const { seed, stream, offset } = parse('random.fillNormal', options, false);
  await native().rngNormal(seed, stream, offset, out, true);
  return out;
}

/**
 * Fill an existing Float64Array with uniform draws in [0, 1); off the event loop.
 * @example await random.fillUniform(buffer, { seed: 7, stream: 1 });
 */
export async function fillUniform(out: Float64Array, options: StreamOptions): Promise<Float64Array> {
  checkFloat64Array('random.fillUniform', 'out', out);
  const { seed, stream, offset } = parse('random.fillUniform', options, false);
  await native().rngUniform(seed, stream, offset, out, true);
  return out;
}
