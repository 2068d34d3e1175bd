/**
 * NumPy `.npy` files: read format versions 1.0, 2.0 and 3.0, write 1.0 (2.0 when the header is
 * too long for 1.0), for float32, float64, int32 and int64 arrays of any shape in C order.
 *
 * Layout of a `.npy` file: the magic string `\x93NUMPY`, one byte major and one byte minor
 * version, the header length (uint16 little-endian for 1.0, uint32 for 2.0 and 3.0), the header —
 * a Python dict literal such as `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`,
 * ASCII/latin-1 for 1.0 and 2.0, UTF-8 for 3.0, padded with spaces and ended by `'\n'` — and then
 * the raw element data in C (row-major) order.
 *
 * The header is read with a small parser for exactly that dict grammar (strings, integers,
 * `True`/`False`/`None`, tuples and lists); nothing is ever evaluated. Malformed files raise
 * {@link SpeedlimitsError} with code `'ERR_NPY_FORMAT'`; file-system failures raise code
 * `'ERR_IO'` with the original error as `cause`; bad arguments raise `TypeError`/`RangeError`.
 *
 * @module npy
 */

import * as fs from 'node:fs';
import { endianness } from 'node:os';
import { ioError, writeFileAtomic, writeFileAtomicSync } from './atomic.js';
import { SpeedlimitsError } from './errors.js';
import { checkInteger } from './validate.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/**
 * Element types that can be read and written: `'<f4'`, `'<f8'`, `'<i4'`, `'<i8'` in NumPy terms
 * (big-endian `'>…'` variants are also read).
 * @example
 * const dt: NpyDtype = 'float64';
 */
export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64';

/**
 * The typed array holding an array's elements in C order; int64 data is a `BigInt64Array`.
 * @example
 * const data: NpyData = new Float64Array([1, 2, 3]);
 */
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array;

/**
 * An n-dimensional array as stored in a `.npy` file: the flat elements in C (row-major) order,
 * the shape (`[]` for a 0-d scalar array) and the element type (always consistent with `data`).
 * @example
 * const a: NpyArray = { data: new Float64Array(6), shape: [2, 3], dtype: 'float64' };
 */
export interface NpyArray {
  /** The elements in C (row-major) order; `data.length` is the product of `shape`. */
  data: NpyData;
  /** The dimensions; `[]` for a 0-d array, which holds exactly one element. */
  shape: number[];
  /** The element type, matching the class of `data`. */
  dtype: NpyDtype;
}

/**
 * What the writers accept: a typed array and an optional shape (default `[data.length]`).
 * @example
 * const input: NpyInput = { data: new Int32Array([1, 2, 3, 4]), shape: [2, 2] };
 */
export interface NpyInput {
  /** The elements in C (row-major) order. */
  data: NpyData;
  /** The dimensions; their product must equal `data.length`. Defaults to `[data.length]`. */
  shape?: readonly number[];
}

// ---------------------------------------------------------------------------------------------
// Internals: dtypes, byte order, errors
// ---------------------------------------------------------------------------------------------

type TypedCtor = Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor | BigInt64ArrayConstructor;

interface DtypeInfo {
  readonly kind: 'f' | 'i';
  readonly size: 4 | 8;
  readonly ctor: TypedCtor;
}

const DTYPES: Readonly<Record<NpyDtype, DtypeInfo>> = {
  float32: { kind: 'f', size: 4, ctor: Float32Array },
  float64: { kind: 'f', size: 8, ctor: Float64Array },
  int32: { kind: 'i', size: 4, ctor: Int32Array },
  int64: { kind: 'i', size: 8, ctor: BigInt64Array },
};

const TAG_TO_DTYPE: Readonly<Record<string, NpyDtype>> = {
  Float32Array: 'float32',
  Float64Array: 'float64',
  Int32Array: 'int32',
  BigInt64Array: 'int64',
};

const SUPPORTED_DTYPES_TEXT =
  "supported dtypes are '<f4' (float32), '<f8' (float64), '<i4' (int32) and '<i8' (int64), " +
  "and their big-endian '>' variants";

const HOST_LITTLE_ENDIAN = endianness() === 'LE';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ARRAY_ALIGN = 64;
/** NumPy ≥ 1.23 leaves room in the header so the first axis can grow in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;

/** The internal [[TypedArrayName]] of a typed array (robust across realms), else undefined. */
const typedArrayTag: (value: unknown) => string | undefined = (() => {
  const getter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)?.get;
  return (value: unknown) => (getter ? (getter.call(value) as string | undefined) : undefined);
})();

function dtypeOfData(value: unknown): NpyDtype | undefined {
  const tag = typedArrayTag(value);
  return tag !== undefined ? TAG_TO_DTYPE[tag] : undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) {
    const tag = typedArrayTag(value) ?? value.constructor.name;
    return `a ${tag} of length ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  }
  if (value instanceof ArrayBuffer) return `an ArrayBuffer of ${value.byteLength} bytes`;
  if (typeof value === 'number') return `${value}`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return typeof value;
}

function formatError(fn: string, file: string | undefined, message: string, details?: Record<string, unknown>): SpeedlimitsError {
  const where = file !== undefined ? `'${file}': ` : '';
  return new SpeedlimitsError('ERR_NPY_FORMAT', `${fn}: ${where}${message}`, file !== undefined ? { path: file, ...details } : details);
}


function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** Swap the bytes of each `size`-byte element in place. */
function byteSwapInPlace(bytes: Uint8Array, size: 4 | 8): void {
  const n = bytes.length;
  if (size === 4) {
    for (let i = 0; i < n; i += 4) {
      const a = bytes[i], b = bytes[i + 1];
      bytes[i] = bytes[i + 3];
      bytes[i + 1] = bytes[i + 2];
      bytes[i + 2] = b;
      bytes[i + 3] = a;
    }
  } else {
    for (let i = 0; i < n; i += 8) {
      for (let j = 0; j < 4; j++) {
        const t = bytes[i + j];
        bytes[i + j] = bytes[i + 7 - j];
        bytes[i + 7 - j] = t;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Header dict parser (never evaluates anything)
// ---------------------------------------------------------------------------------------------

type PyValue =
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: bigint }
  | { kind: 'bool'; value: boolean }
  | { kind: 'none' }
  | { kind: 'tuple'; items: PyValue[] }
  | { kind: 'list'; items: PyValue[] }
  | { kind: 'dict'; entries: Array<[PyValue, PyValue]> };

class HeaderSyntaxError extends Error {}

const PY_WS = ' \t\n\r\f\v';
const MAX_NESTING = 32;

/**
 * Recursive-descent parser for the subset of Python literals that appears in `.npy` headers:
 * dicts, tuples, lists, strings (single or double quoted, optional `u` prefix), integers
 * (optional sign, optional Python 2 `L` suffix), `True`, `False` and `None`.
 */
class PyLiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseDocument(): PyValue {
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) this.fail(`unexpected ${JSON.stringify(this.s[this.i])} after the end of the literal`);
    return v;
  }

  private fail(what: string): never {
    throw new HeaderSyntaxError(`${what} at offset ${this.i}`);
  }

  private ws(): void {
    while (this.i < this.s.length && PY_WS.includes(this.s[this.i])) this.i++;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_NESTING) this.fail('nesting too deep');
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === undefined) this.fail('unexpected end of header');
    if (c === "'" || c === '"') return this.str();
    if ((c === 'u' || c === 'U') && (s[this.i + 1] === "'" || s[this.i + 1] === '"')) {
      this.i++;
      return this.str();
    }
    if (c === '(') return this.seq(')', depth);
    if (c === '[') return this.seq(']', depth);
    if (c === '{') return this.dict(depth);
    if (c === '-' || c === '+' || (c >= '0' && c <= '9')) return this.int();
    const ident = /[A-Za-z_][A-Za-z0-9_]*/y;
    ident.lastIndex = this.i;
    const m = ident.exec(s);
    if (m) {
      const name = m[0];
      if (name === 'True' || name === 'False') {
        this.i += name.length;
        return { kind: 'bool', value: name === 'True' };
      }
      if (name === 'None') {
        this.i += name.length;
        return { kind: 'none' };
      }
      this.fail(`unexpected name '${name}' (only strings, integers, True, False, None, tuples and lists are allowed)`);
    }
    this.fail(`unexpected ${JSON.stringify(c)}`);
  }

  private str(): PyValue {
    const s = this.s;
    const q = s[this.i++];
    let out = '';
    for (;;) {
      const c = s[this.i];
      if (c === undefined || c === '\n' || c === '\r') this.fail('unterminated string');
      this.i++;
      if (c === q) return { kind: 'str', value: out };
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = s[this.i++];
      switch (e) {
        case '\\': out += '\\'; break;
        case "'": out += "'"; break;
        case '"': out += '"'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case '0': out += '\0'; break;
        case 'x':
        case 'u':
        case 'U': {
          const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
          const hex = s.slice(this.i, this.i + len);
          if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) this.fail(`bad \\${e} escape in string`);
          const cp = parseInt(hex, 16);
          if (cp > 0x10ffff) this.fail(`bad \\${e} escape in string`);
          out += String.fromCodePoint(cp);
          this.i += len;
          break;
        }
        default:
          this.i--;
          this.fail(`unsupported escape sequence in string`);
      }
    }
  }

  private int(): PyValue {
    const re = /([+-]?)[ \t]*([0-9]+)[lL]?/y;
    re.lastIndex = this.i;
    const m = re.exec(this.s);
    if (!m) this.fail('expected an integer');
    const digits = m[2];
    if (digits.length > 1 && digits[0] === '0' && /[1-9]/.test(digits)) this.fail('integers with leading zeros are not allowed');
    const next = this.s[re.lastIndex];
    if (next !== undefined && /[.eEjJxXoObB0-9A-Za-z_]/.test(next)) {
      this.i = re.lastIndex;
      this.fail('only integers are allowed here');
    }
    this.i = re.lastIndex;
    const v = BigInt(digits);
    return { kind: 'int', value: m[1] === '-' ? -v : v };
  }

  private seq(close: ')' | ']', depth: number): PyValue {
    this.i++; // opening bracket
    const items: PyValue[] = [];
    let sawComma = false;
    this.ws();
    if (this.s[this.i] === close) {
      this.i++;
    } else {
      for (;;) {
        items.push(this.value(depth + 1));
        this.ws();
        const c = this.s[this.i];
        if (c === ',') {
          this.i++;
          sawComma = true;
          this.ws();
          if (this.s[this.i] === close) {
            this.i++;
            break;
          }
          continue;
        }
        if (c === close) {
          this.i++;
          break;
        }
        this.fail(c === undefined ? 'unexpected end of header' : `expected ',' or '${close}'`);
      }
    }
    if (close === ']') return { kind: 'list', items };
    // `(x)` is just a parenthesized x in Python, not a 1-tuple.
    if (items.length === 1 && !sawComma) return items[0];
    return { kind: 'tuple', items };
  }

  private dict(depth: number): PyValue {
    this.i++; // '{'
    const entries: Array<[PyValue, PyValue]> = [];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { kind: 'dict', entries };
    }
    for (;;) {
      const key = this.value(depth + 1);
      this.ws();
      if (this.s[this.i] !== ':') this.fail(this.s[this.i] === undefined ? 'unexpected end of header' : "expected ':' after a dict key");
      this.i++;
      const val = this.value(depth + 1);
      entries.push([key, val]);
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        this.ws();
        if (this.s[this.i] === '}') {
          this.i++;
          break;
        }
        continue;
      }
      if (c === '}') {
        this.i++;
        break;
      }
      this.fail(c === undefined ? 'unexpected end of header' : "expected ',' or '}'");
    }
    return { kind: 'dict', entries };
  }
}

function pyRepr(v: PyValue): string {
  switch (v.kind) {
    case 'str':
      return `'${v.value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    case 'int':
      return v.value.toString();
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'tuple':
      return v.items.length === 1 ? `(${pyRepr(v.items[0])},)` : `(${v.items.map(pyRepr).join(', ')})`;
    case 'list':
      return `[${v.items.map(pyRepr).join(', ')}]`;
    case 'dict':
      return `{${v.entries.map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  }
}

function snippet(text: string): string {
  const t = text.trimEnd();
  return JSON.stringify(t.length > 120 ? t.slice(0, 120) + '…' : t);
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

interface ParsedHeader {
  dtype: NpyDtype;
  littleEndian: boolean;
  shape: number[];
  dataOffset: number;
}

function interpretDescr(fn: string, file: string | undefined, descr: PyValue): { dtype: NpyDtype; littleEndian: boolean } {
  if (descr.kind === 'list')
    throw formatError(fn, file, `structured dtypes (records with named fields) are not supported: descr ${pyRepr(descr)}; ${SUPPORTED_DTYPES_TEXT}`);
  if (descr.kind === 'tuple')
    throw formatError(fn, file, `subarray dtypes are not supported: descr ${pyRepr(descr)}; ${SUPPORTED_DTYPES_TEXT}`);
  if (descr.kind !== 'str') throw formatError(fn, file, `header 'descr' must be a dtype string, got ${pyRepr(descr)}`);
  const d = descr.value;
  const m = /^([<>=|]?)([fi])([48])$/.exec(d);
  if (!m) {
    if (/^[<>=|]?O\d*$/.test(d))
      throw formatError(fn, file, `object arrays (descr '${d}', pickled Python objects) are not supported and are never unpickled; ${SUPPORTED_DTYPES_TEXT}`);
    throw formatError(fn, file, `unsupported dtype '${d}'; ${SUPPORTED_DTYPES_TEXT}`);
  }
  const dtype: NpyDtype = m[2] === 'f' ? (m[3] === '4' ? 'float32' : 'float64') : m[3] === '4' ? 'int32' : 'int64';
  // '<' little, '>' big; '=', '|' or nothing mean "native", which NumPy reads as this machine's order.
  const littleEndian = m[1] === '<' ? true : m[1] === '>' ? false : HOST_LITTLE_ENDIAN;
  return { dtype, littleEndian };
}

function parseHeader(fn: string, file: string | undefined, bytes: Uint8Array): ParsedHeader {
  const n = bytes.length;
  for (let i = 0; i < Math.min(n, MAGIC.length); i++) {
    if (bytes[i] !== MAGIC[i]) {
      const found = Array.from(bytes.subarray(0, Math.min(n, MAGIC.length)), (b) => b.toString(16).padStart(2, '0')).join(' ');
      throw formatError(fn, file, `not a NumPy .npy file: bad magic bytes (expected 93 4e 55 4d 50 59 = "\\x93NUMPY", found ${found})`);
    }
  }
  if (n < 8) throw formatError(fn, file, `truncated header: only ${n} bytes, too short for the .npy magic and version`);
  const major = bytes[6], minor = bytes[7];
  if (!((major === 1 || major === 2 || major === 3) && minor === 0))
    throw formatError(fn, file, `unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`, { version: `${major}.${minor}` });
  const lenBytes = major === 1 ? 2 : 4;
  const start = 8 + lenBytes;
  if (n < start) throw formatError(fn, file, `truncated header: only ${n} bytes, too short for the version ${major}.0 header length field`);
  const headerLen =
    major === 1 ? bytes[8] | (bytes[9] << 8) : (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
  if (n - start < headerLen)
    throw formatError(fn, file, `truncated header: the header declares ${headerLen} bytes but only ${n - start} follow the preamble`);

  const raw = bytes.subarray(start, start + headerLen);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw formatError(fn, file, 'header of a version 3.0 file is not valid UTF-8');
    }
  } else {
    text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  }

  let doc: PyValue;
  try {
    doc = new PyLiteralParser(text).parseDocument();
  } catch (e) {
    if (e instanceof HeaderSyntaxError) throw formatError(fn, file, `header is not a valid Python dict literal (${e.message}): ${snippet(text)}`);
    throw e;
  }
  if (doc.kind !== 'dict') throw formatError(fn, file, `header is not a dict literal: ${snippet(text)}`);

  const KEYS = ['descr', 'fortran_order', 'shape'] as const;
  const expected = "a .npy header must have exactly the keys 'descr', 'fortran_order' and 'shape'";
  const values = new Map<string, PyValue>();
  for (const [k, v] of doc.entries) {
    if (k.kind !== 'str') throw formatError(fn, file, `header has a non-string key ${pyRepr(k)}; ${expected}`);
    if (!(KEYS as readonly string[]).includes(k.value)) throw formatError(fn, file, `header has an unexpected key '${k.value}'; ${expected}`);
    if (values.has(k.value)) throw formatError(fn, file, `header has the key '${k.value}' twice; ${expected}`);
    values.set(k.value, v);
  }
  for (const k of KEYS) if (!values.has(k)) throw formatError(fn, file, `header is missing the '${k}' key; ${expected}`);

  const shapeV = values.get('shape')!;
  if (shapeV.kind !== 'tuple')
    throw formatError(fn, file, `header 'shape' must be a tuple of non-negative integers, got ${pyRepr(shapeV)}`);
  const shape: number[] = [];
  for (const item of shapeV.items) {
    if (item.kind !== 'int')
      throw formatError(fn, file, `header 'shape' must be a tuple of non-negative integers, got ${pyRepr(shapeV)}`);
    if (item.value < 0n) throw formatError(fn, file, `header 'shape' ${pyRepr(shapeV)} has a negative dimension ${item.value}`);
    if (item.value > BigInt(Number.MAX_SAFE_INTEGER))
      throw formatError(fn, file, `header 'shape' ${pyRepr(shapeV)} has a dimension too large to address: ${item.value}`);
    shape.push(Number(item.value));
  }

  const { dtype, littleEndian } = interpretDescr(fn, file, values.get('descr')!);

  const fortranV = values.get('fortran_order')!;
  if (fortranV.kind !== 'bool') throw formatError(fn, file, `header 'fortran_order' must be True or False, got ${pyRepr(fortranV)}`);
  if (fortranV.value) {
    // Column-major and row-major layouts coincide when at most one dimension exceeds 1.
    const sameLayout = shape.includes(0) || shape.filter((d) => d > 1).length <= 1;
    if (!sameLayout)
      throw formatError(
        fn,
        file,
        `Fortran order (column-major, fortran_order: True) is not supported (shape ${shapeRepr(shape)}); ` +
          're-save the array in C order, e.g. np.save(path, np.ascontiguousarray(a))',
      );
  }
  return { dtype, littleEndian, shape, dataOffset: start + headerLen };
}

function elementCount(fn: string, file: string | undefined, shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw formatError(fn, file, `shape ${shapeRepr(shape)} has too many elements`);
  }
  return count;
}

function decode(fn: string, file: string | undefined, bytes: Uint8Array, ownCopy: boolean): NpyArray {
  const h = parseHeader(fn, file, bytes);
  const info = DTYPES[h.dtype];
  const count = elementCount(fn, file, h.shape);
  const expected = count * info.size;
  if (!Number.isSafeInteger(expected)) throw formatError(fn, file, `shape ${shapeRepr(h.shape)} has too many elements`);
  const found = bytes.length - h.dataOffset;
  if (found < expected)
    throw formatError(
      fn,
      file,
      `truncated: expected ${expected} bytes of data, found ${found} (shape ${shapeRepr(h.shape)}, dtype ${h.dtype})`,
      { expectedBytes: expected, foundBytes: found },
    );
  if (found > expected)
    throw formatError(
      fn,
      file,
      `trailing data: expected ${expected} bytes of data, found ${found} (${found - expected} extra bytes after shape ${shapeRepr(h.shape)}, dtype ${h.dtype})`,
      { expectedBytes: expected, foundBytes: found },
    );

  const swap = h.littleEndian !== HOST_LITTLE_ENDIAN;
  const absOffset = bytes.byteOffset + h.dataOffset;
  let data: NpyData;
  if (count === 0) {
    data = new info.ctor(0);
  } else if (!swap && !ownCopy && absOffset % info.size === 0) {
    data = new info.ctor(bytes.buffer as ArrayBuffer, absOffset, count); // zero-copy view
  } else {
    data = new info.ctor(count);
    const out = new Uint8Array(data.buffer, 0, expected);
    out.set(bytes.subarray(h.dataOffset, h.dataOffset + expected));
    if (swap) byteSwapInPlace(out, info.size);
  }
  return { data, shape: h.shape, dtype: h.dtype };
}

/**
 * Parse a `.npy` file held in memory (format 1.0, 2.0 or 3.0).
 *
 * When the data is little-endian and suitably aligned in `bytes`, the returned `data` is a view
 * that shares memory with `bytes` (no copy); otherwise (misaligned offset, big-endian file) it is a
 * fresh, aligned copy. Big-endian (`'>f8'` …) files are byte-swapped into native order.
 *
 * @param bytes The complete file contents (a `Uint8Array` or `Buffer`).
 * @returns The array, with `shape` `[]` for a 0-d array.
 * @throws {TypeError} If `bytes` is not a Uint8Array.
 * @throws {SpeedlimitsError} `'ERR_NPY_FORMAT'` for a bad magic string, an unsupported version,
 *   a truncated or malformed header, Fortran order, an unsupported dtype, or data whose length
 *   does not match the shape.
 * @example
 * const a = parseNpy(fs.readFileSync('weights.npy'));
 * console.log(a.dtype, a.shape, a.data[0]);
 */
export function parseNpy(bytes: Uint8Array): NpyArray {
  if (!(bytes instanceof Uint8Array) && typedArrayTag(bytes) !== 'Uint8Array')
    throw new TypeError(`parseNpy: bytes must be a Uint8Array or Buffer, got ${describe(bytes)}`);
  return decode('parseNpy', undefined, bytes, false);
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

interface CheckedInput {
  data: NpyData;
  dtype: NpyDtype;
  shape: number[];
}

function checkInput(fn: string, array: unknown): CheckedInput {
  if (array === null || typeof array !== 'object' || Array.isArray(array) || ArrayBuffer.isView(array))
    throw new TypeError(`${fn}: array must be an object { data, shape? }, got ${describe(array)}`);
  const { data, shape } = array as { data?: unknown; shape?: unknown };
  const dtype = dtypeOfData(data);
  if (dtype === undefined)
    throw new TypeError(`${fn}: array.data must be a Float32Array, Float64Array, Int32Array or BigInt64Array, got ${describe(data)}`);
  const typed = data as NpyData;
  let dims: number[];
  if (shape === undefined) {
    dims = [typed.length];
  } else {
    if (!Array.isArray(shape)) throw new TypeError(`${fn}: array.shape must be an array of non-negative integers, got ${describe(shape)}`);
    dims = shape.map((d: unknown, i: number) => checkInteger(fn, `array.shape[${i}]`, d, 0));
  }
  let count = 1;
  for (const d of dims) count *= d;
  if (count !== typed.length)
    throw new RangeError(
      `${fn}: array.shape [${dims.join(', ')}] describes ${count} elements but array.data has ${typed.length}`,
    );
  return { data: typed, dtype, shape: dims };
}

/** The complete header (magic, version, length, padded dict) exactly as NumPy ≥ 1.23 writes it. */
function encodeHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const info = DTYPES[dtype];
  let dict = `{'descr': '<${info.kind}${info.size}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const hlen = dict.length + 1; // + '\n'
  let major = 1;
  let prefix = 10;
  let padlen = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    major = 2;
    prefix = 12;
    padlen = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
  }
  const total = prefix + hlen + padlen;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const declared = hlen + padlen;
  out[8] = declared & 0xff;
  out[9] = (declared >>> 8) & 0xff;
  if (major === 2) {
    out[10] = (declared >>> 16) & 0xff;
    out[11] = (declared >>> 24) & 0xff;
  }
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i); // pure ASCII
  out.fill(0x20, prefix + dict.length, total - 1);
  out[total - 1] = 0x0a;
  return out;
}

/** The element bytes in little-endian order (a view when the host is little-endian). */
function littleEndianBytes(data: NpyData, dtype: NpyDtype): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  byteSwapInPlace(copy, DTYPES[dtype].size);
  return copy;
}

/**
 * Encode an array as a `.npy` file in memory: format 1.0 (2.0 if the header would exceed 65535
 * bytes), little-endian, C order, with the header padded exactly as NumPy pads it, so the bytes
 * match what `np.save` writes for the same array.
 *
 * @param array `data` (Float32Array, Float64Array, Int32Array or BigInt64Array) in C order and
 *   an optional `shape` (default `[data.length]`; `[]` for a 0-d array of one element).
 * @returns The file contents.
 * @throws {TypeError} If `array` or `array.data` has the wrong type, or a shape entry is not a number.
 * @throws {RangeError} If a shape entry is not a non-negative integer or the shape's product
 *   differs from `data.length`.
 * @example
 * const bytes = encodeNpy({ data: new Float64Array([0, 1, 2, 3, 4, 5]), shape: [2, 3] });
 * // np.load on these bytes gives array([[0., 1., 2.], [3., 4., 5.]])
 */
export function encodeNpy(array: NpyInput): Uint8Array {
  const a = checkInput('encodeNpy', array);
  const header = encodeHeader(a.dtype, a.shape);
  const out = new Uint8Array(header.length + a.data.byteLength);
  out.set(header, 0);
  out.set(littleEndianBytes(a.data, a.dtype), header.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

function checkPath(fn: string, p: unknown): string {
  if (typeof p !== 'string') throw new TypeError(`${fn}: path must be a string, got ${describe(p)}`);
  if (p.length === 0) throw new RangeError(`${fn}: path must not be empty`);
  if (p.includes('\0')) throw new RangeError(`${fn}: path must not contain NUL characters`);
  return p;
}

/** A Buffer from readFile may be a slice of a shared pool; do not hand out views into it. */
function isShared(buf: Uint8Array): boolean {
  return buf.byteOffset !== 0 || buf.buffer.byteLength !== buf.byteLength;
}

/**
 * Read a `.npy` file (format 1.0, 2.0 or 3.0) asynchronously.
 *
 * @param path The file to read.
 * @returns The array; int64 data is returned as a `BigInt64Array`.
 * @throws {TypeError} If `path` is not a string.
 * @throws {SpeedlimitsError} `'ERR_IO'` if the file cannot be read (message includes the path,
 *   `cause` is the original error); `'ERR_NPY_FORMAT'` if it is not a supported `.npy` file.
 * @example
 * const { data, shape, dtype } = await readNpy('activations.npy');
 */
export async function readNpy(path: string): Promise<NpyArray> {
  const p = checkPath('readNpy', path);
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(p);
  } catch (e) {
    throw ioError('readNpy', p, 'read', e);
  }
  return decode('readNpy', p, buf, isShared(buf));
}

/**
 * Read a `.npy` file (format 1.0, 2.0 or 3.0) synchronously.
 *
 * @param path The file to read.
 * @returns The array; int64 data is returned as a `BigInt64Array`.
 * @throws {TypeError} If `path` is not a string.
 * @throws {SpeedlimitsError} `'ERR_IO'` if the file cannot be read (message includes the path,
 *   `cause` is the original error); `'ERR_NPY_FORMAT'` if it is not a supported `.npy` file.
 * @example
 * const a = readNpySync('kernel.npy');
 * if (a.dtype === 'float64' && a.shape.length === 2) console.log(a.shape);
 */
export function readNpySync(path: string): NpyArray {
  const p = checkPath('readNpySync', path);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(p);
  } catch (e) {
    throw ioError('readNpySync', p, 'read', e);
  }
  return decode('readNpySync', p, buf, isShared(buf));
}

/**
 * Write a `.npy` file atomically: the bytes go to a temporary file in the same directory, which
 * is fsynced and then renamed over `path`, so readers see either the old file or the complete
 * new one, never a partial write. The format is the one {@link encodeNpy} produces.
 *
 * @param path The file to write (replaced if it exists).
 * @param array `data` (Float32Array, Float64Array, Int32Array or BigInt64Array) in C order and
 *   an optional `shape` (default `[data.length]`).
 * @throws {TypeError} If `path`, `array` or `array.data` has the wrong type.
 * @throws {RangeError} If the shape is invalid or does not match `data.length`.
 * @throws {SpeedlimitsError} `'ERR_IO'` if the file cannot be written (e.g. the directory does not
 *   exist); no temporary file is left behind.
 * @example
 * await writeNpy('out.npy', { data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] });
 */
export async function writeNpy(path: string, array: NpyInput): Promise<void> {
  const fn = 'writeNpy';
  const p = checkPath(fn, path);
  const a = checkInput(fn, array);
  await writeFileAtomic(fn, p, [encodeHeader(a.dtype, a.shape), littleEndianBytes(a.data, a.dtype)]);
}

/**
 * Write a `.npy` file atomically and synchronously: temporary file in the same directory, fsync,
 * rename over `path`. See {@link writeNpy}.
 *
 * @param path The file to write (replaced if it exists).
 * @param array `data` (Float32Array, Float64Array, Int32Array or BigInt64Array) in C order and
 *   an optional `shape` (default `[data.length]`).
 * @throws {TypeError} If `path`, `array` or `array.data` has the wrong type.
 * @throws {RangeError} If the shape is invalid or does not match `data.length`.
 * @throws {SpeedlimitsError} `'ERR_IO'` if the file cannot be written; no temporary file is left behind.
 * @example
 * writeNpySync('ids.npy', { data: new BigInt64Array([1n, 2n, 3n]) });
 */
export function writeNpySync(path: string, array: NpyInput): void {
  const fn = 'writeNpySync';
  const p = checkPath(fn, path);
  const a = checkInput(fn, array);
  writeFileAtomicSync(fn, p, [encodeHeader(a.dtype, a.shape), littleEndianBytes(a.data, a.dtype)]);
}


// ---------------------------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------------------------

/**
 * Convert a 1-d or 2-d array to a row-major float64 matrix.
 *
 * A 2-d array of shape `[r, c]` gives `rows = r, cols = c`; a 1-d array of length `n` is treated
 * as a column vector, `rows = n, cols = 1`. float32 and int32 values are converted exactly;
 * int64 values must be safe integers (|v| ≤ 2^53 − 1). When the data is already a Float64Array it
 * is returned as is (no copy, shared memory); otherwise a new Float64Array is allocated.
 *
 * @param a An array as returned by {@link readNpy} / {@link parseNpy} (`dtype` is taken from `data`).
 * @returns `{ data, rows, cols }` with `data[i * cols + j]` the entry at row `i`, column `j`.
 * @throws {TypeError} If `a`, `a.data` or `a.shape` has the wrong type.
 * @throws {RangeError} If the array is 0-d or has 3 or more dimensions, the shape does not match
 *   the data, or an int64 value cannot be represented exactly as a float64.
 * @example
 * const { data, rows, cols } = npyToMatrix(await readNpy('X.npy'));
 * const x01 = data[0 * cols + 1];
 */
export function npyToMatrix(a: NpyArray): { data: Float64Array; rows: number; cols: number } {
  const fn = 'npyToMatrix';
  if (a === null || typeof a !== 'object' || Array.isArray(a))
    throw new TypeError(`${fn}: a must be an object { data, shape, dtype }, got ${describe(a)}`);
  const dtype = dtypeOfData(a.data);
  if (dtype === undefined)
    throw new TypeError(`${fn}: a.data must be a Float32Array, Float64Array, Int32Array or BigInt64Array, got ${describe(a.data)}`);
  if (!Array.isArray(a.shape)) throw new TypeError(`${fn}: a.shape must be an array of non-negative integers, got ${describe(a.shape)}`);
  const shape = a.shape.map((d: unknown, i: number) => checkInteger(fn, `a.shape[${i}]`, d, 0));
  if (shape.length !== 1 && shape.length !== 2)
    throw new RangeError(`${fn}: a must be 1-d or 2-d, got ${shape.length}-d shape [${shape.join(', ')}]`);
  const rows = shape[0];
  const cols = shape.length === 2 ? shape[1] : 1;
  const n = a.data.length;
  if (rows * cols !== n) throw new RangeError(`${fn}: a.shape [${shape.join(', ')}] describes ${rows * cols} elements but a.data has ${n}`);
  if (dtype === 'float64') return { data: a.data as Float64Array, rows, cols };
  if (dtype === 'int64') {
    const src = a.data as BigInt64Array;
    const out = new Float64Array(n);
    const lim = BigInt(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (v > lim || v < -lim)
        throw new RangeError(`${fn}: a.data[${i}] = ${v} cannot be represented exactly as a float64 (|value| > 2^53 - 1)`);
      out[i] = Number(v);
    }
    return { data: out, rows, cols };
  }
  return { data: Float64Array.from(a.data as Float32Array | Int32Array), rows, cols };
}
