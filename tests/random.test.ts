import { describe, expect, it } from 'vitest';
import { getThreads, random, setThreads } from '../src/index.js';
import { expectIdentical, ksStatistic, normalCdf } from './support/reference.js';

function fnv1a(x: Float64Array): string {
  const words = new BigUint64Array(x.buffer, x.byteOffset, x.length);
  let h = 0xcbf29ce484222325n;
  const mask = (1n << 64n) - 1n;
  for (const w of words) h = ((h ^ w) * 0x100000001b3n) & mask;
  return h.toString(16).padStart(16, '0');
}

describe('random: Philox4x32-10 streams', () => {
  it('bits of (seed 0, stream 0) are the Random123 known-answer block for counter 0, key 0', () => {
    const w = random.bits({ seed: 0, stream: 0, length: 4 });
    expect(Array.from(w)).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  });

  it('pins the normal stream bit-for-bit (the stream definition is a public contract)', () => {
    // Same values on every machine: the transcendental functions are the core's own.
    const z = random.normal({ seed: 5, stream: 6, offset: 7, length: 1000003 });
    expect(z[12345]).toBe(1.3178081754885604);
    expect(fnv1a(z)).toBe('1647668b8cc7f344');
  });

  it('any window of a stream equals the same slice of the whole stream', () => {
    const all = random.normal({ seed: 11, stream: 2, length: 500 });
    const allU = random.uniform({ seed: 11, stream: 2, length: 500 });
    for (const off of [1, 2, 3, 63, 64, 65, 301]) {
      expect(random.normal({ seed: 11, stream: 2, offset: off, length: 500 - off })).toEqual(all.subarray(off));
      expect(random.uniform({ seed: 11, stream: 2, offset: BigInt(off), length: 500 - off })).toEqual(allU.subarray(off));
    }
  });

  it('draws up to the last index of a stream (offset + length = 2^64) are the stream\'s own', () => {
    const end = 1n << 64n;
    for (const n of [1, 5, 63, 64, 65, 200]) {
      const tail = random.normal({ seed: 3, stream: 8, offset: end - BigInt(n), length: n });
      const wider = random.normal({ seed: 3, stream: 8, offset: end - 300n, length: 300 });
      expect(tail.every(Number.isFinite)).toBe(true);
      expect(tail).toEqual(wider.subarray(300 - n));
      expect(random.uniform({ seed: 3, stream: 8, offset: end - BigInt(n), length: n })).toEqual(
        random.uniform({ seed: 3, stream: 8, offset: end - 300n, length: 300 }).subarray(300 - n));
      expect(random.bits({ seed: 3, stream: 8, offset: end - BigInt(n), length: n })).toEqual(
        random.bits({ seed: 3, stream: 8, offset: end - 300n, length: 300 }).subarray(300 - n));
    }
  });

  it('large draws (huge-page backed, >= 4 MiB) equal the same stream drawn in small windows', () => {
    const n = 700_001; // 5.6 MB of doubles, 2.8 MB of words
    const z = random.normal({ seed: 21, stream: 1, offset: 3, length: n });
    const u = random.uniform({ seed: 21, stream: 1, offset: 3, length: n });
    const w = random.bits({ seed: 21, stream: 1, offset: 3, length: 2 * n });
    for (const at of [0, 4093, 262_144, 524_287, n - 1000]) {
      expect(z.subarray(at, at + 1000)).toEqual(random.normal({ seed: 21, stream: 1, offset: 3 + at, length: 1000 }));
      expect(u.subarray(at, at + 1000)).toEqual(random.uniform({ seed: 21, stream: 1, offset: 3 + at, length: 1000 }));
      expect(w.subarray(2 * at, 2 * at + 1000)).toEqual(random.bits({ seed: 21, stream: 1, offset: 3 + 2 * at, length: 1000 }));
    }
  });

  it('streams and seeds differ; bigint and number seeds agree', () => {
    const a = random.normal({ seed: 1, stream: 0, length: 8 });
    expect(random.normal({ seed: 1, stream: 1, length: 8 })).not.toEqual(a);
    expect(random.normal({ seed: 2, stream: 0, length: 8 })).not.toEqual(a);
    expect(random.normal({ seed: 1n, stream: 0n, length: 8 })).toEqual(a);
    const big = random.normal({ seed: (1n << 64n) - 1n, stream: (1n << 63n) + 5n, length: 4 });
    expect(big.every(Number.isFinite)).toBe(true);
  });

  it('is identical with 1 and 2 threads, and async fill equals sync', async () => {
    const before = getThreads();
    try {
      setThreads(1);
      const one = random.normal({ seed: 9, stream: 4, length: 300_001 });
      setThreads(2);
      const two = random.normal({ seed: 9, stream: 4, length: 300_001 });
      expectIdentical(two, one);
      const filled = await random.fillNormal(new Float64Array(300_001), { seed: 9, stream: 4 });
      expectIdentical(filled, one);
      const u = await random.fillUniform(new Float64Array(1000), { seed: 9, stream: 4, offset: 10 });
      expect(u).toEqual(random.uniform({ seed: 9, stream: 4, offset: 10, length: 1000 }));
    } finally {
      setThreads(before);
    }
  });

  it('1e6 normals pass mean, variance, kurtosis and Kolmogorov–Smirnov checks', () => {
    const n = 1_000_000;
    const z = random.normal({ seed: 2024, stream: 0, length: n });
    let m = 0;
    for (const v of z) m += v;
    m /= n;
    let v2 = 0;
    let v4 = 0;
    for (const v of z) {
      const d = (v - m) ** 2;
      v2 += d;
      v4 += d * d;
    }
    v2 /= n;
    v4 /= n;
    // 5σ bands: sd(mean) = 1e-3, sd(var) = √(2/n), sd(m4) = √(96/n)
    expect(Math.abs(m)).toBeLessThan(5e-3);
    expect(Math.abs(v2 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(v4 - 3)).toBeLessThan(5 * Math.sqrt(96 / n));
    // KS critical value at α = 0.001 is 1.95/√n
    expect(ksStatistic(z, normalCdf)).toBeLessThan(1.95 / Math.sqrt(n));
  });

  it('1e6 uniforms lie in [0, 1) and pass a KS check', () => {
    const n = 1_000_000;
    const u = random.uniform({ seed: 77, stream: 3, length: n });
    expect(u.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(ksStatistic(u, (x) => Math.min(1, Math.max(0, x)))).toBeLessThan(1.95 / Math.sqrt(n));
  });

  it('length 0 gives an empty array', () => {
    expect(random.normal({ seed: 1, length: 0 }).length).toBe(0);
  });

  describe('rejects bad input naming the argument', () => {
    const fns = [
      ['random.normal', random.normal],
      ['random.uniform', random.uniform],
      ['random.bits', random.bits],
    ] as const;
    for (const [name, fn] of fns) {
      it(name, () => {
        const call = (o: unknown) => () => (fn as (o: unknown) => unknown)(o);
        expect(call(undefined)).toThrow(TypeError);
        expect(call(null)).toThrow(/options must be an object/);
        expect(call({ length: 3 })).toThrow(new RegExp(`${name.replace('.', '\\.')}: seed`));
        expect(call({ seed: -1, length: 3 })).toThrow(RangeError);
        expect(call({ seed: 1.5, length: 3 })).toThrow(/seed must be a non-negative safe integer/);
        expect(call({ seed: '1', length: 3 })).toThrow(TypeError);
        expect(call({ seed: 1n << 64n, length: 3 })).toThrow(/seed must be in \[0, 2\^64\)/);
        expect(call({ seed: -1n, length: 3 })).toThrow(RangeError);
        expect(call({ seed: 1, stream: NaN, length: 3 })).toThrow(/stream/);
        expect(call({ seed: 1, offset: -2, length: 3 })).toThrow(/offset/);
        expect(call({ seed: 1 })).toThrow(/length must be an integer/);
        expect(call({ seed: 1, length: -1 })).toThrow(RangeError);
        expect(call({ seed: 1, length: 2.5 })).toThrow(RangeError);
        expect(call({ seed: 1, length: 2 ** 31 })).toThrow(/length must be an integer in/);
        expect(call({ seed: 1, length: Infinity })).toThrow(RangeError);
      });
    }
    it('random.fillNormal / fillUniform', async () => {
      await expect(random.fillNormal([1, 2] as unknown as Float64Array, { seed: 1 })).rejects.toThrow(/out must be a Float64Array/);
      await expect(random.fillUniform(new Float32Array(2) as unknown as Float64Array, { seed: 1 })).rejects.toThrow(TypeError);
      await expect(random.fillNormal(new Float64Array(2), { seed: -1 })).rejects.toThrow(RangeError);
      await expect(random.fillNormal(new Float64Array(2), { seed: 1, offset: (1n << 64n) - 1n })).rejects.toThrow(/exceeds the stream/);
    });
  });
});
