import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SpeedlimitsError } from '../src/errors.js';
import {
  parseNpy,
  encodeNpy,
  readNpy,
  readNpySync,
  writeNpy,
  writeNpySync,
  npyToMatrix,
  type NpyData,
  type NpyDtype,
} from '../src/npy.js';

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Hand-build a .npy file: magic, version, header length, `dict` padded with spaces and a final
 * '\n' to a multiple of `align` (like NumPy does), then `data`.
 */
function buildNpy(dict: string, data: Uint8Array, opts: { major?: number; minor?: number; align?: number; rawHeader?: boolean } = {}): Uint8Array {
  const major = opts.major ?? 1;
  const minor = opts.minor ?? 0;
  const align = opts.align ?? 64;
  const lenBytes = major === 1 ? 2 : 4;
  const prefix = 8 + lenBytes;
  let header = ascii(dict);
  if (!opts.rawHeader) {
    const hlen = header.length + 1;
    const pad = align - ((prefix + hlen) % align);
    header = concat(header, ascii(' '.repeat(pad) + '\n'));
  }
  const pre = new Uint8Array(prefix);
  pre.set(MAGIC);
  pre[6] = major;
  pre[7] = minor;
  const dv = new DataView(pre.buffer);
  if (lenBytes === 2) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  return concat(pre, header, data);
}

function f64le(values: number[]): Uint8Array {
  return new Uint8Array(new Float64Array(values).buffer);
}

function bytesOf(a: NpyData): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function sameBits(a: NpyData, b: NpyData): boolean {
  return Buffer.from(bytesOf(a)).equals(Buffer.from(bytesOf(b)));
}

/** Call fn, expect a SpeedlimitsError with `code` whose message matches every pattern. */
function expectSpeedlimitsError(fn: () => unknown, code: string, ...patterns: RegExp[]): SpeedlimitsError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeInstanceOf(SpeedlimitsError);
  const err = caught as SpeedlimitsError;
  expect(err.code).toBe(code);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

function expectFormatError(bytes: Uint8Array, ...patterns: RegExp[]): SpeedlimitsError {
  return expectSpeedlimitsError(() => parseNpy(bytes), 'ERR_NPY_FORMAT', ...patterns);
}

async function expectRejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

const DTYPES: NpyDtype[] = ['float32', 'float64', 'int32', 'int64'];

function makeData(dtype: NpyDtype, n: number): NpyData {
  switch (dtype) {
    case 'float32':
      return Float32Array.from({ length: n }, (_, i) => i * 0.25 - 3);
    case 'float64':
      return Float64Array.from({ length: n }, (_, i) => Math.PI * i - 7);
    case 'int32':
      return Int32Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * i * 1000003);
    case 'int64':
      return BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 123456789012345n - 5n);
  }
}

const DTYPE_CLASS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array } as const;

let tmpRoot: string;
beforeAll(() => {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'speedlimits-npy-'));
});
afterAll(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});
function freshDir(): string {
  return fs.mkdtempSync(path.join(tmpRoot, 'd-'));
}

// ---------------------------------------------------------------------------------------------
// round trips
// ---------------------------------------------------------------------------------------------

describe('round trip', () => {
  const shapes: number[][] = [[], [0], [5], [3, 4], [2, 3, 4], [2, 0, 3]];
  for (const dtype of DTYPES) {
    for (const shape of shapes) {
      it(`${dtype} shape [${shape.join(', ')}]`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = makeData(dtype, n);
        const bytes = encodeNpy({ data, shape });
        // header + data, header a multiple of 64 bytes ending in '\n'
        const headerLen = bytes.length - data.byteLength;
        expect(headerLen % 64).toBe(0);
        expect(bytes[headerLen - 1]).toBe(0x0a);
        const back = parseNpy(bytes);
        expect(back.dtype).toBe(dtype);
        expect(back.shape).toEqual(shape);
        expect(back.data).toBeInstanceOf(DTYPE_CLASS[dtype]);
        expect(back.data.length).toBe(n);
        expect(sameBits(back.data, data)).toBe(true);
      });
    }
  }

  it('shape defaults to [data.length]', () => {
    const a = parseNpy(encodeNpy({ data: new Int32Array([1, 2, 3]) }));
    expect(a.shape).toEqual([3]);
    expect(Array.from(a.data as Int32Array)).toEqual([1, 2, 3]);
  });

  it('preserves NaN (with payload), ±Inf, −0 and subnormals bit-exactly', () => {
    const f64 = new Float64Array([NaN, Infinity, -Infinity, -0, 0, 5e-324, -Number.MAX_VALUE, 1]);
    new DataView(f64.buffer).setBigUint64(7 * 8, 0x7ff8_0000_0000_1234n, true); // NaN with payload
    new DataView(f64.buffer).setBigUint64(0, 0xfff0_0000_0000_0001n, true); // negative signalling NaN
    const back64 = parseNpy(encodeNpy({ data: f64 }));
    expect(sameBits(back64.data, f64)).toBe(true);
    expect(Object.is((back64.data as Float64Array)[3], -0)).toBe(true);

    const f32 = new Float32Array([NaN, Infinity, -Infinity, -0, 1e-45, 3.4028234663852886e38, 0, 0]);
    new Uint32Array(f32.buffer)[6] = 0x7fc0_1234; // quiet NaN with payload
    new Uint32Array(f32.buffer)[7] = 0xff80_0001; // negative signalling NaN
    const back32 = parseNpy(encodeNpy({ data: f32, shape: [2, 4] }));
    expect(sameBits(back32.data, f32)).toBe(true);
  });

  it('preserves int64 and int32 extremes', () => {
    const i64 = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n]);
    const back = parseNpy(encodeNpy({ data: i64 }));
    expect(back.dtype).toBe('int64');
    expect(Array.from(back.data as BigInt64Array)).toEqual(Array.from(i64));
    const i32 = new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1]);
    expect(Array.from(parseNpy(encodeNpy({ data: i32 })).data as Int32Array)).toEqual(Array.from(i32));
  });

  it('encodes a subarray view (non-zero byteOffset) using only its own elements', () => {
    const big = Float64Array.from({ length: 10 }, (_, i) => i);
    const view = big.subarray(3, 7);
    const back = parseNpy(encodeNpy({ data: view, shape: [2, 2] }));
    expect(Array.from(back.data as Float64Array)).toEqual([3, 4, 5, 6]);
  });

  it('writes format 2.0 when the header exceeds 65535 bytes, and reads it back', () => {
    const shape = new Array<number>(25000).fill(1);
    const bytes = encodeNpy({ data: new Float64Array([42]), shape });
    expect(bytes[6]).toBe(2);
    expect(bytes[7]).toBe(0);
    const hlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
    expect(hlen).toBeGreaterThan(65535);
    expect((12 + hlen) % 64).toBe(0);
    expect(bytes.length).toBe(12 + hlen + 8);
    const back = parseNpy(bytes);
    expect(back.shape.length).toBe(25000);
    expect(Array.from(back.data as Float64Array)).toEqual([42]);
  });

  it('round trips through files (sync and async)', async () => {
    const dir = freshDir();
    const p = path.join(dir, 'x.npy');
    const data = makeData('float32', 12);
    writeNpySync(p, { data, shape: [3, 4] });
    const a = readNpySync(p);
    expect(a.shape).toEqual([3, 4]);
    expect(sameBits(a.data, data)).toBe(true);

    const data64 = makeData('int64', 7);
    await writeNpy(p, { data: data64 });
    const b = await readNpy(p);
    expect(b.dtype).toBe('int64');
    expect(b.shape).toEqual([7]);
    expect(sameBits(b.data, data64)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['x.npy']);
  });

  it('data read from a small file is never a view into a shared Buffer pool', async () => {
    const dir = freshDir();
    const p = path.join(dir, 'small.npy');
    writeNpySync(p, { data: new Float64Array([1, 2, 3]) });
    const size = fs.statSync(p).size;
    const b = await readNpy(p);
    expect(b.data.buffer.byteLength).toBeLessThanOrEqual(size);
    expect(Array.from(b.data as Float64Array)).toEqual([1, 2, 3]);
    const a = readNpySync(p);
    expect(a.data.buffer.byteLength).toBeLessThanOrEqual(size);
    expect(a.data.byteOffset % 8).toBe(0);
    expect(Array.from(a.data as Float64Array)).toEqual([1, 2, 3]);
  });
});

// ---------------------------------------------------------------------------------------------
// byte-exact files and hand-built headers
// ---------------------------------------------------------------------------------------------

describe('known files', () => {
  // np.save(f, np.arange(6, dtype='<f8').reshape(2, 3)) with NumPy 1.x / 2.x
  const dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  const NUMPY_BYTES = concat(
    new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]), // \x93NUMPY, 1.0, header length 118
    ascii(dict + ' '.repeat(128 - 10 - dict.length - 1) + '\n'),
    f64le([0, 1, 2, 3, 4, 5]),
  );

  it('the hand-built reference is what NumPy writes (128-byte header)', () => {
    expect(NUMPY_BYTES.length).toBe(128 + 48);
    expect(NUMPY_BYTES[127]).toBe(0x0a);
  });

  it('encodeNpy produces exactly the bytes np.save writes', () => {
    const bytes = encodeNpy({ data: new Float64Array([0, 1, 2, 3, 4, 5]), shape: [2, 3] });
    expect(Buffer.from(bytes).equals(Buffer.from(NUMPY_BYTES))).toBe(true);
  });

  it('parseNpy reads the NumPy bytes', () => {
    const a = parseNpy(NUMPY_BYTES);
    expect(a.dtype).toBe('float64');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data as Float64Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('returns a zero-copy view when the data is aligned, an aligned copy when it is not', () => {
    const aligned = parseNpy(NUMPY_BYTES);
    expect(aligned.data.buffer).toBe(NUMPY_BYTES.buffer);

    const shifted = new Uint8Array(NUMPY_BYTES.length + 3);
    shifted.set(NUMPY_BYTES, 3);
    const view = shifted.subarray(3); // data starts at absolute offset 131: not 8-aligned
    const a = parseNpy(view);
    expect(a.data.buffer).not.toBe(shifted.buffer);
    expect(a.data.byteOffset % 8).toBe(0);
    expect(Array.from(a.data as Float64Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('reads a version 2.0 header', () => {
    const bytes = buildNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", new Uint8Array(new Int32Array([1, -2, 3, -4]).buffer), { major: 2 });
    expect(bytes[6]).toBe(2);
    const a = parseNpy(bytes);
    expect(a.dtype).toBe('int32');
    expect(a.shape).toEqual([2, 2]);
    expect(Array.from(a.data as Int32Array)).toEqual([1, -2, 3, -4]);
  });

  it('reads a version 3.0 (UTF-8) header', () => {
    const bytes = buildNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", new Uint8Array(new Float32Array([0.5, -1, 2]).buffer), { major: 3 });
    const a = parseNpy(bytes);
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([3]);
    expect(Array.from(a.data as Float32Array)).toEqual([0.5, -1, 2]);
  });

  it('decodes version 3.0 headers as UTF-8 (non-ASCII field name shows up in the error)', () => {
    const bytes = buildNpy("{'descr': [('températureα', '<f8')], 'fortran_order': False, 'shape': (1,), }", f64le([1]), { major: 3 });
    expectFormatError(bytes, /structured/, /températureα/);
  });

  it('reads big-endian float64, float32, int32 and int64 files', () => {
    const n = 5;
    const f8 = new Uint8Array(8 * n);
    const f4 = new Uint8Array(4 * n);
    const i4 = new Uint8Array(4 * n);
    const i8 = new Uint8Array(8 * n);
    const vals = [0, 1.5, -2.25, Infinity, NaN];
    for (let i = 0; i < n; i++) {
      new DataView(f8.buffer).setFloat64(8 * i, vals[i], false);
      new DataView(f4.buffer).setFloat32(4 * i, vals[i], false);
      new DataView(i4.buffer).setInt32(4 * i, 0 - i * 16777259, false);
      new DataView(i8.buffer).setBigInt64(8 * i, -(2n ** 62n) + BigInt(i) * 0x0102030405n, false);
    }
    const a = parseNpy(buildNpy("{'descr': '>f8', 'fortran_order': False, 'shape': (5,), }", f8));
    expect(a.dtype).toBe('float64');
    expect(Array.from(a.data as Float64Array)).toEqual(vals);
    const b = parseNpy(buildNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (5, 1), }", f4));
    expect(b.dtype).toBe('float32');
    expect(b.shape).toEqual([5, 1]);
    expect(Array.from(b.data as Float32Array)).toEqual(vals);
    const c = parseNpy(buildNpy("{'descr': '>i4', 'fortran_order': False, 'shape': (5,), }", i4));
    expect(Array.from(c.data as Int32Array)).toEqual([0, 1, 2, 3, 4].map((i) => 0 - i * 16777259));
    const d = parseNpy(buildNpy("{'descr': '>i8', 'fortran_order': False, 'shape': (5,), }", i8));
    expect(Array.from(d.data as BigInt64Array)).toEqual([0, 1, 2, 3, 4].map((i) => -(2n ** 62n) + BigInt(i) * 0x0102030405n));
    // the input bytes were not modified by the byte swap
    expect(new DataView(f8.buffer).getFloat64(8, false)).toBe(1.5);
  });

  it('tolerates 16-byte alignment, key order, double quotes, whitespace, no trailing comma and Python 2 longs', () => {
    const data = f64le([1, 2, 3, 4, 5, 6]);
    const variants = [
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
      '{"shape": (2, 3), "descr": "<f8", "fortran_order": False}',
      "{ 'fortran_order' :False ,\t'shape':(2,3,) , 'descr':'<f8' , }",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",
      "\n {'descr': u'<f8',\n 'fortran_order': False,\n 'shape': ( 2 , 3 )}\n",
    ];
    for (const v of variants) {
      for (const align of [16, 64]) {
        const a = parseNpy(buildNpy(v, data, { align }));
        expect(a.shape, v).toEqual([2, 3]);
        expect(Array.from(a.data as Float64Array)).toEqual([1, 2, 3, 4, 5, 6]);
      }
    }
    // a header with no padding and no newline at all
    const bare = parseNpy(buildNpy("{'descr':'<f8','fortran_order':False,'shape':(6,)}", data, { rawHeader: true }));
    expect(bare.shape).toEqual([6]);
    expect(Array.from(bare.data as Float64Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads 0-d and zero-size arrays from hand-built headers', () => {
    const s = parseNpy(buildNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", f64le([2.5])));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data as Float64Array)).toEqual([2.5]);
    const z = parseNpy(buildNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (4, 0), }", new Uint8Array(0)));
    expect(z.shape).toEqual([4, 0]);
    expect(z.data).toBeInstanceOf(BigInt64Array);
    expect(z.data.length).toBe(0);
  });

  it('accepts fortran_order True when the layout is the same as C order (at most one dimension > 1)', () => {
    const a = parseNpy(buildNpy("{'descr': '<f8', 'fortran_order': True, 'shape': (1, 3), }", f64le([1, 2, 3])));
    expect(a.shape).toEqual([1, 3]);
    expect(Array.from(a.data as Float64Array)).toEqual([1, 2, 3]);
    expect(parseNpy(buildNpy("{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }", f64le([1, 2, 3]))).shape).toEqual([3]);
  });
});

// ---------------------------------------------------------------------------------------------
// malformed files
// ---------------------------------------------------------------------------------------------

describe('format errors', () => {
  const GOOD_DICT = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  const DATA = f64le([0, 1, 2, 3, 4, 5]);
  const good = () => buildNpy(GOOD_DICT, DATA);

  it('bad magic', () => {
    const zip = concat(new Uint8Array([0x50, 0x4b, 0x03, 0x04]), new Uint8Array(200));
    expectFormatError(zip, /not a NumPy \.npy file/, /bad magic/, /50 4b 03 04/);
    const b = good();
    b[1] = 0x6e; // 'nUMPY'
    expectFormatError(b, /bad magic/);
    expectFormatError(new Uint8Array(0), /truncated header/);
  });

  it('unsupported version 4.0 (and 1.1)', () => {
    const b = good();
    b[6] = 4;
    expectFormatError(b, /unsupported \.npy format version 4\.0/, /1\.0, 2\.0, 3\.0/);
    const c = good();
    c[7] = 1;
    expectFormatError(c, /version 1\.1/);
  });

  it('truncated header', () => {
    const b = good();
    expectFormatError(b.subarray(0, 60), /truncated header/, /declares 118 bytes but only 50/);
    expectFormatError(b.subarray(0, 9), /truncated header/);
    expectFormatError(b.subarray(0, 4), /truncated header/);
    expectFormatError(buildNpy(GOOD_DICT, DATA, { major: 2 }).subarray(0, 11), /truncated header/);
  });

  it('truncated data', () => {
    const b = good();
    const e = expectFormatError(b.subarray(0, b.length - 8), /truncated: expected 48 bytes of data, found 40/);
    expect(e.details).toMatchObject({ expectedBytes: 48, foundBytes: 40 });
    expectFormatError(b.subarray(0, 128), /truncated: expected 48 bytes of data, found 0/);
  });

  it('trailing data', () => {
    const b = concat(good(), new Uint8Array(3));
    expectFormatError(b, /trailing data/, /expected 48 bytes of data, found 51/, /3 extra bytes/);
  });

  it('Fortran order', () => {
    const b = buildNpy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", DATA);
    expectFormatError(b, /Fortran order/, /not supported/, /np\.ascontiguousarray/, /C order/);
  });

  it('object arrays', () => {
    const b = buildNpy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new Uint8Array([0x80, 0x02, 0x63, 0x00]));
    expectFormatError(b, /object arrays/, /'\|O'/, /not supported/, /supported dtypes are '<f4' \(float32\), '<f8' \(float64\), '<i4' \(int32\) and '<i8' \(int64\)/);
  });

  it('structured dtypes', () => {
    const b = buildNpy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (6,), }", DATA);
    expectFormatError(b, /structured dtypes/, /not supported/, /\[\('a', '<f8'\)\]/, /supported dtypes are/);
    const sub = buildNpy("{'descr': ('<f8', (3,)), 'fortran_order': False, 'shape': (2,), }", DATA);
    expectFormatError(sub, /subarray dtypes are not supported/);
  });

  it('unsupported scalar dtypes name the dtype and list the supported ones', () => {
    for (const d of ['<u2', '<f2', '<c16', '|u1', '|b1', '<U5', '<M8[ns]', 'float64', '<i2']) {
      const b = buildNpy(`{'descr': '${d}', 'fortran_order': False, 'shape': (0,), }`, new Uint8Array(0));
      expectFormatError(b, new RegExp(`unsupported dtype '${d.replace(/[[\]|]/g, '\\$&')}'`), /supported dtypes are/);
    }
  });

  it('malformed dicts', () => {
    const cases: Array<[string, RegExp[]]> = [
      ["{'descr': '<f8', 'fortran_order': False, }", [/missing the 'shape' key/, /exactly the keys/]],
      ["{'descr': '<f8', 'shape': (2, 3), }", [/missing the 'fortran_order' key/]],
      ['garbage', [/not a valid Python dict literal/, /unexpected name 'garbage'/]],
      ['', [/not a valid Python dict literal/, /unexpected end of header/]],
      ["[('descr', '<f8')]", [/not a dict literal/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", [/unexpected key 'extra'/]],
      ["{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}", [/key 'descr' twice/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)", [/not a valid Python dict literal/, /unexpected end of header/]],
      ["{'descr': '<f8, 'fortran_order': False, 'shape': (2, 3)}", [/not a valid Python dict literal/]],
      ["{'descr' '<f8', 'fortran_order': False, 'shape': (2, 3)}", [/expected ':' after a dict key/]],
      ["{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3)}", [/not a valid Python dict literal/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} x", [/after the end of the literal/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3),, }", [/not a valid Python dict literal/]],
      ["{'descr': '<f8', 'fortran_order': false, 'shape': (2, 3)}", [/unexpected name 'false'/]],
      ["{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3)}", [/'fortran_order' must be True or False/]],
      ["{'descr': 8, 'fortran_order': False, 'shape': (2, 3)}", [/'descr' must be a dtype string/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (6)}", [/'shape' must be a tuple/, /got 6/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}", [/'shape' must be a tuple/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (2.0, 3)}", [/only integers are allowed/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': ('2', 3)}", [/'shape' must be a tuple of non-negative integers/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 1: 2}", [/non-string key 1/]],
      ["{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (2, 3)}", [/unexpected name '__import__'/]],
      ["{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': " + '('.repeat(100) + ')'.repeat(100) + '}', [/nesting too deep/]],
    ];
    for (const [dict, patterns] of cases) {
      const b = buildNpy(dict, DATA);
      const err = expectFormatError(b, ...patterns);
      expect(err.message.startsWith('parseNpy: ')).toBe(true);
    }
  });

  it('negative or oversized shape entries', () => {
    expectFormatError(buildNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (-2, -3), }", DATA), /negative dimension -2/);
    expectFormatError(buildNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }", DATA), /negative dimension -3/);
    expectFormatError(buildNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", DATA), /too large/);
    expectFormatError(buildNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", DATA), /too many elements/);
  });

  it('invalid UTF-8 in a version 3.0 header', () => {
    const b = buildNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", DATA, { major: 3 });
    b[13] = 0xff;
    expectFormatError(b, /not valid UTF-8/);
  });

  it('readNpy / readNpySync report the path in format errors', async () => {
    const dir = freshDir();
    const p = path.join(dir, 'bad.npy');
    fs.writeFileSync(p, 'this is not numpy');
    expectSpeedlimitsError(() => readNpySync(p), 'ERR_NPY_FORMAT', /^readNpySync: /, new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), /bad magic/);
    const e = (await expectRejects(readNpy(p))) as SpeedlimitsError;
    expect(e).toBeInstanceOf(SpeedlimitsError);
    expect(e.code).toBe('ERR_NPY_FORMAT');
    expect(e.message).toContain(p);
    expect(e.details).toMatchObject({ path: p });
  });
});

// ---------------------------------------------------------------------------------------------
// file-system errors and atomic writes
// ---------------------------------------------------------------------------------------------

describe('file system', () => {
  it('missing file → ERR_IO with the path and the original error as cause', async () => {
    const p = path.join(freshDir(), 'nope.npy');
    const e1 = expectSpeedlimitsError(() => readNpySync(p), 'ERR_IO', /readNpySync/, /nope\.npy/);
    expect((e1.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    const e2 = (await expectRejects(readNpy(p))) as SpeedlimitsError;
    expect(e2).toBeInstanceOf(SpeedlimitsError);
    expect(e2.code).toBe('ERR_IO');
    expect(e2.message).toContain(p);
    expect((e2.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(e2.details).toMatchObject({ path: p, errno: 'ENOENT' });
  });

  it('reading a directory → ERR_IO', async () => {
    const dir = freshDir();
    const e1 = expectSpeedlimitsError(() => readNpySync(dir), 'ERR_IO');
    expect(e1.message).toContain(dir);
    expect(e1.cause).toBeInstanceOf(Error);
    const e2 = (await expectRejects(readNpy(dir))) as SpeedlimitsError;
    expect(e2.code).toBe('ERR_IO');
    expect(e2.cause).toBeInstanceOf(Error);
  });

  it('overwrites an existing file atomically and leaves no temporary files (sync)', () => {
    const dir = freshDir();
    const p = path.join(dir, 'w.npy');
    writeNpySync(p, { data: new Float64Array([1, 2, 3]) });
    writeNpySync(p, { data: new Int32Array([7, 8]), shape: [1, 2] });
    const a = readNpySync(p);
    expect(a.dtype).toBe('int32');
    expect(a.shape).toEqual([1, 2]);
    expect(fs.readdirSync(dir)).toEqual(['w.npy']);
  });

  it('overwrites an existing file atomically and leaves no temporary files (async)', async () => {
    const dir = freshDir();
    const p = path.join(dir, 'w.npy');
    fs.writeFileSync(p, 'old content');
    await writeNpy(p, { data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] });
    const a = await readNpy(p);
    expect(a.dtype).toBe('float32');
    expect(fs.readdirSync(dir)).toEqual(['w.npy']);
  });

  it('concurrent writers: the file always holds one complete version', async () => {
    const dir = freshDir();
    const p = path.join(dir, 'race.npy');
    const versions = Array.from({ length: 8 }, (_, k) => Float64Array.from({ length: 20000 }, () => k));
    const encoded = versions.map((data) => Buffer.from(encodeNpy({ data })));
    const writers = Promise.all(versions.map((data) => writeNpy(p, { data })));
    // read while the writers run: every snapshot must be a complete version
    for (let i = 0; i < 20; i++) {
      if (fs.existsSync(p)) {
        const content = fs.readFileSync(p);
        expect(encoded.some((e) => e.equals(content))).toBe(true);
      }
      await new Promise((r) => setImmediate(r));
    }
    await writers;
    const content = fs.readFileSync(p);
    expect(encoded.some((e) => e.equals(content))).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['race.npy']);
  });

  it('writing into a non-existent directory throws ERR_IO and creates nothing', async () => {
    const dir = freshDir();
    const missing = path.join(dir, 'no', 'such', 'dir');
    const p = path.join(missing, 'x.npy');
    const e1 = expectSpeedlimitsError(() => writeNpySync(p, { data: new Float64Array(3) }), 'ERR_IO', /writeNpySync/);
    expect(e1.message).toContain(p);
    expect((e1.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    const e2 = (await expectRejects(writeNpy(p, { data: new Float64Array(3) }))) as SpeedlimitsError;
    expect(e2).toBeInstanceOf(SpeedlimitsError);
    expect(e2.code).toBe('ERR_IO');
    expect(e2.message).toContain(p);
    expect(e2.cause).toBeInstanceOf(Error);
    expect(fs.existsSync(path.join(dir, 'no'))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('writing over a directory throws ERR_IO, leaves the directory alone and removes the temporary file', async () => {
    const dir = freshDir();
    const target = path.join(dir, 'sub');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep.txt'), 'x');
    expectSpeedlimitsError(() => writeNpySync(target, { data: new Float64Array(1) }), 'ERR_IO');
    const e = (await expectRejects(writeNpy(target, { data: new Float64Array(1) }))) as SpeedlimitsError;
    expect(e.code).toBe('ERR_IO');
    expect(fs.readdirSync(dir)).toEqual(['sub']);
    expect(fs.readdirSync(target)).toEqual(['keep.txt']);
  });
});

// ---------------------------------------------------------------------------------------------
// argument validation
// ---------------------------------------------------------------------------------------------

describe('argument errors', () => {
  const dir = () => freshDir();

  it('writeNpy with a plain JS array → TypeError naming array.data, and nothing is written', async () => {
    const d = dir();
    const p = path.join(d, 'x.npy');
    await expect(writeNpy(p, { data: [1, 2, 3] as unknown as Float64Array })).rejects.toThrow(
      new TypeError('writeNpy: array.data must be a Float32Array, Float64Array, Int32Array or BigInt64Array, got an array of length 3'),
    );
    expect(() => writeNpySync(p, { data: [1, 2, 3] as unknown as Float64Array })).toThrow(/^writeNpySync: array\.data must be a Float32Array/);
    expect(() => writeNpySync(p, { data: new Uint8Array(3) as unknown as Float64Array })).toThrow(TypeError);
    expect(() => writeNpySync(p, { data: Buffer.alloc(8) as unknown as Float64Array })).toThrow(TypeError);
    expect(() => writeNpySync(p, new Float64Array(3) as unknown as { data: Float64Array })).toThrow(/writeNpySync: array must be an object/);
    expect(() => writeNpySync(p, null as unknown as { data: Float64Array })).toThrow(TypeError);
    expect(fs.readdirSync(d)).toEqual([]);
  });

  it('shape mismatch → RangeError naming array.shape', async () => {
    const p = path.join(dir(), 'x.npy');
    await expect(writeNpy(p, { data: new Float64Array(10), shape: [3, 4] })).rejects.toThrow(RangeError);
    await expect(writeNpy(p, { data: new Float64Array(10), shape: [3, 4] })).rejects.toThrow(
      /writeNpy: array\.shape \[3, 4\] describes 12 elements but array\.data has 10/,
    );
    expect(() => encodeNpy({ data: new Float64Array(2), shape: [] })).toThrow(/encodeNpy: array\.shape \[\] describes 1 elements but array\.data has 2/);
    expect(fs.existsSync(p)).toBe(false);
  });

  it('non-integer, negative or non-numeric shape entries', () => {
    const data = new Float64Array(6);
    expect(() => encodeNpy({ data, shape: [1.5, 4] })).toThrow(RangeError);
    expect(() => encodeNpy({ data, shape: [1.5, 4] })).toThrow(/encodeNpy: array\.shape\[0\] must be an integer/);
    expect(() => encodeNpy({ data, shape: [2, -3] })).toThrow(RangeError);
    expect(() => encodeNpy({ data, shape: [2, -3] })).toThrow(/array\.shape\[1\]/);
    expect(() => encodeNpy({ data, shape: [2, NaN] })).toThrow(RangeError);
    expect(() => encodeNpy({ data, shape: ['6'] as unknown as number[] })).toThrow(TypeError);
    expect(() => encodeNpy({ data, shape: ['6'] as unknown as number[] })).toThrow(/array\.shape\[0\]/);
    expect(() => encodeNpy({ data, shape: 6 as unknown as number[] })).toThrow(/encodeNpy: array\.shape must be an array/);
    expect(() => writeNpySync(path.join(dir(), 'x.npy'), { data, shape: [6.5] })).toThrow(/writeNpySync: array\.shape\[0\]/);
  });

  it('bad path and bytes arguments', async () => {
    const data = new Float64Array(1);
    expect(() => writeNpySync(42 as unknown as string, { data })).toThrow(new TypeError('writeNpySync: path must be a string, got 42'));
    await expect(writeNpy('', { data })).rejects.toThrow(RangeError);
    expect(() => readNpySync(undefined as unknown as string)).toThrow(/readNpySync: path must be a string/);
    await expect(readNpy({} as unknown as string)).rejects.toThrow(TypeError);
    expect(() => parseNpy([0x93] as unknown as Uint8Array)).toThrow(/parseNpy: bytes must be a Uint8Array/);
    expect(() => parseNpy(new Float64Array(4) as unknown as Uint8Array)).toThrow(TypeError);
    // a Buffer is a Uint8Array and is accepted
    expect(parseNpy(Buffer.from(encodeNpy({ data: new Float64Array([3]) }))).shape).toEqual([1]);
  });
});

// ---------------------------------------------------------------------------------------------
// npyToMatrix
// ---------------------------------------------------------------------------------------------

describe('npyToMatrix', () => {
  it('2-d arrays keep their shape; float64 data is returned without a copy', () => {
    const data = new Float64Array([1, 2, 3, 4, 5, 6]);
    const m = npyToMatrix({ data, shape: [2, 3], dtype: 'float64' });
    expect(m.rows).toBe(2);
    expect(m.cols).toBe(3);
    expect(m.data).toBe(data);
  });

  it('1-d arrays become n×1 column vectors', () => {
    const m = npyToMatrix({ data: new Float32Array([0.5, 1.5, -2]), shape: [3], dtype: 'float32' });
    expect(m).toEqual({ data: new Float64Array([0.5, 1.5, -2]), rows: 3, cols: 1 });
  });

  it('converts float32, int32 and safe int64 values exactly', () => {
    const f = npyToMatrix({ data: new Float32Array([0.1]), shape: [1, 1], dtype: 'float32' });
    expect(f.data[0]).toBe(Math.fround(0.1));
    const i = npyToMatrix({ data: new Int32Array([-(2 ** 31), 7]), shape: [1, 2], dtype: 'int32' });
    expect(Array.from(i.data)).toEqual([-(2 ** 31), 7]);
    const l = npyToMatrix({ data: new BigInt64Array([2n ** 53n - 1n, -(2n ** 53n - 1n), 0n, 5n]), shape: [2, 2], dtype: 'int64' });
    expect(Array.from(l.data)).toEqual([2 ** 53 - 1, -(2 ** 53 - 1), 0, 5]);
    expect(l.data).toBeInstanceOf(Float64Array);
  });

  it('int64 values beyond 2^53 → RangeError naming the index', () => {
    expect(() => npyToMatrix({ data: new BigInt64Array([1n, 2n ** 53n + 1n]), shape: [2], dtype: 'int64' })).toThrow(RangeError);
    expect(() => npyToMatrix({ data: new BigInt64Array([1n, -(2n ** 60n)]), shape: [2], dtype: 'int64' })).toThrow(/a\.data\[1\]/);
  });

  it('0-d and ≥3-d arrays → RangeError; bad arguments → TypeError/RangeError', () => {
    expect(() => npyToMatrix({ data: new Float64Array(8), shape: [2, 2, 2], dtype: 'float64' })).toThrow(/npyToMatrix: a must be 1-d or 2-d, got 3-d/);
    expect(() => npyToMatrix({ data: new Float64Array(1), shape: [], dtype: 'float64' })).toThrow(RangeError);
    expect(() => npyToMatrix({ data: new Float64Array(5), shape: [2, 3], dtype: 'float64' })).toThrow(RangeError);
    expect(() => npyToMatrix({ data: [1, 2] as unknown as Float64Array, shape: [2], dtype: 'float64' })).toThrow(TypeError);
    expect(() => npyToMatrix(null as unknown as never)).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// cross-check with NumPy, when available
// ---------------------------------------------------------------------------------------------

function findNumpyPython(): string | undefined {
  for (const cmd of ['python3', 'python', '/usr/bin/python3']) {
    try {
      const r = spawnSync(cmd, ['-c', 'import numpy'], { stdio: 'ignore', timeout: 30_000 });
      if (r.status === 0) return cmd;
    } catch {
      // not runnable
    }
  }
  return undefined;
}

const PYTHON = findNumpyPython();

function runPython(code: string, cwd: string): string {
  const r = spawnSync(PYTHON!, ['-c', code], { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe('NumPy cross-check', () => {
  it.skipIf(!PYTHON)('reads files written by np.save and rejects the unsupported ones', () => {
    const dir = freshDir();
    const out = runPython(
      `
import json, numpy as np
a = (np.arange(12, dtype=np.float32).reshape(3, 4) / 7).astype(np.float32)
np.save('f32.npy', a)
b = np.array([np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max], dtype=np.int64)
np.save('i64.npy', b)
np.save('f64_0d.npy', np.float64(-2.75))
np.save('fortran.npy', np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save('object.npy', np.array([{'a': 1}, None], dtype=object), allow_pickle=True)
np.save('big.npy', np.arange(5, dtype='>f8') * 1.25)
np.save('rec.npy', np.zeros(3, dtype=[('x', '<f8'), ('y', '<i4')]))
np.save('u8.npy', np.arange(3, dtype=np.uint8))
print(json.dumps({'f32': a.ravel().tolist(), 'i64': [str(v) for v in b.tolist()]}))
`,
      dir,
    );
    const expected = JSON.parse(out) as { f32: number[]; i64: string[] };

    const f32 = readNpySync(path.join(dir, 'f32.npy'));
    expect(f32.dtype).toBe('float32');
    expect(f32.shape).toEqual([3, 4]);
    expect(Array.from(f32.data as Float32Array)).toEqual(expected.f32);

    const i64 = readNpySync(path.join(dir, 'i64.npy'));
    expect(i64.dtype).toBe('int64');
    expect(i64.shape).toEqual([5]);
    expect(Array.from(i64.data as BigInt64Array)).toEqual(expected.i64.map(BigInt));

    const s = readNpySync(path.join(dir, 'f64_0d.npy'));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data as Float64Array)).toEqual([-2.75]);

    const big = readNpySync(path.join(dir, 'big.npy'));
    expect(Array.from(big.data as Float64Array)).toEqual([0, 1.25, 2.5, 3.75, 5]);

    expectSpeedlimitsError(() => readNpySync(path.join(dir, 'fortran.npy')), 'ERR_NPY_FORMAT', /Fortran order/, /ascontiguousarray/);
    expectSpeedlimitsError(() => readNpySync(path.join(dir, 'object.npy')), 'ERR_NPY_FORMAT', /object arrays/);
    expectSpeedlimitsError(() => readNpySync(path.join(dir, 'rec.npy')), 'ERR_NPY_FORMAT', /structured dtypes/);
    expectSpeedlimitsError(() => readNpySync(path.join(dir, 'u8.npy')), 'ERR_NPY_FORMAT', /unsupported dtype '\|u1'/);
  });

  it.skipIf(!PYTHON)('encodeNpy output is byte-identical to np.save for every dtype and shape', () => {
    const dir = freshDir();
    const shapes: number[][] = [[], [0], [5], [3, 4], [2, 3, 4], [2, 0, 3], [1234567, 0]];
    const cases: Array<{ name: string; dtype: NpyDtype; shape: number[] }> = [];
    for (const dtype of DTYPES) for (const shape of shapes) cases.push({ name: `${dtype}_${cases.length}.npy`, dtype, shape });
    const script = cases
      .map(({ name, dtype, shape }) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return `np.save(${JSON.stringify(name)}, np.arange(${n}, dtype=np.${dtype}).reshape((${shape.map((d) => `${d},`).join('')})))`;
      })
      .join('\n');
    runPython(`import numpy as np\n${script}\n`, dir);
    for (const { name, dtype, shape } of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data =
        dtype === 'int64'
          ? BigInt64Array.from({ length: n }, (_, i) => BigInt(i))
          : new DTYPE_CLASS[dtype](Array.from({ length: n }, (_, i) => i));
      const ours = Buffer.from(encodeNpy({ data, shape }));
      const theirs = fs.readFileSync(path.join(dir, name));
      expect(ours.equals(theirs), `${name} ${dtype} [${shape}]`).toBe(true);
    }
  });

  it.skipIf(!PYTHON)('NumPy reads files we wrote', async () => {
    const dir = freshDir();
    writeNpySync(path.join(dir, 'm.npy'), { data: Float64Array.from({ length: 6 }, (_, i) => i + 0.5), shape: [2, 3] });
    await writeNpy(path.join(dir, 'l.npy'), { data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 7n]) });
    writeNpySync(path.join(dir, 's.npy'), { data: new Float32Array([1.5]), shape: [] });
    writeNpySync(path.join(dir, 'z.npy'), { data: new Int32Array(0), shape: [2, 0, 3] });
    writeNpySync(path.join(dir, 'nd.npy'), { data: new Float64Array([9]), shape: new Array<number>(40).fill(1) });
    const out = runPython(
      `
import json, numpy as np
r = {}
for name in ['m', 'l', 's', 'z', 'nd']:
    a = np.load(name + '.npy')
    r[name] = {'shape': list(a.shape), 'dtype': a.dtype.str, 'sum': str(a.sum(dtype=a.dtype)) if a.dtype.kind == 'i' else float(a.sum()), 'c': bool(a.flags.c_contiguous)}
r['l_items'] = [str(v) for v in np.load('l.npy').tolist()]
print(json.dumps(r))
`,
      dir,
    );
    const r = JSON.parse(out);
    expect(r.m).toEqual({ shape: [2, 3], dtype: '<f8', sum: 18, c: true });
    expect(r.l.shape).toEqual([3]);
    expect(r.l.dtype).toBe('<i8');
    expect(r.l_items).toEqual([String(-(2n ** 63n)), String(2n ** 63n - 1n), '7']);
    expect(r.s).toEqual({ shape: [], dtype: '<f4', sum: 1.5, c: true });
    expect(r.z).toEqual({ shape: [2, 0, 3], dtype: '<i4', sum: '0', c: true });
    expect(r.nd.shape).toEqual(new Array(40).fill(1));
    expect(r.nd.sum).toBe(9);
  });
});
