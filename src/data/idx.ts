/**
 * IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed, and the Fashion-MNIST
 * loader.
 *
 * Layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 * 0x0D float32, 0x0E float64), the number of dimensions, then one big-endian uint32 per
 * dimension, then the elements in C order, big-endian. A file that starts with the gzip magic
 * `1f 8b` is decompressed first.
 *
 * Malformed files raise {@link SpeedlimitsError} with code `'ERR_DATA_FORMAT'` (bad magic,
 * unknown type, truncated data, trailing bytes, corrupt gzip); a missing file raises
 * `'ERR_DATA_MISSING'`; other file-system failures `'ERR_IO'`. Every message names the file.
 *
 * @module data/idx
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as zlib from 'node:zlib';
import { ioError } from '../atomic.js';
import { SpeedlimitsError } from '../errors.js';
import { checkEnum, checkOptions, describeValue } from '../validate.js';
import { checkSelectOptions, selectIndices, type LabeledImages, type SelectOptions } from './prepare.js';

/**
 * Element type of an IDX file.
 * @example
 * const t: IdxType = 'uint8';
 */
export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/**
 * The typed array holding an IDX file's elements (host byte order), by type.
 * @example
 * const d: IdxData = new Uint8Array(784);
 */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/**
 * An IDX array: element type, dimensions and the elements in C (row-major) order.
 * @example
 * const a: IdxArray = { type: 'uint8', shape: [2, 28, 28], data: new Uint8Array(2 * 784) };
 */
export interface IdxArray {
  /** Element type. */
  type: IdxType;
  /** Dimensions (at least one). */
  shape: number[];
  /** The elements; `data.length` is the product of `shape`. */
  data: IdxData;
}

interface TypeInfo {
  type: IdxType;
  size: number;
}

const TYPES: Readonly<Record<number, TypeInfo>> = {
  0x08: { type: 'uint8', size: 1 },
  0x09: { type: 'int8', size: 1 },
  0x0b: { type: 'int16', size: 2 },
  0x0c: { type: 'int32', size: 4 },
  0x0d: { type: 'float32', size: 4 },
  0x0e: { type: 'float64', size: 8 },
};

/** The type byte of each {@link IdxType}. */
export const IDX_TYPE_CODES: Readonly<Record<IdxType, number>> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};

/** An `'ERR_DATA_FORMAT'` error naming the function and the file. @internal */
export function dataFormatError(fn: string, file: string, message: string, details?: Record<string, unknown>): SpeedlimitsError {
  return new SpeedlimitsError('ERR_DATA_FORMAT', `${fn}: '${file}': ${message}`, { path: file, ...details });
}

/**
 * Read a whole file; ENOENT becomes `'ERR_DATA_MISSING'` (with `hint` appended), other failures
 * `'ERR_IO'`.
 * @internal
 */
export function readDataFile(fn: string, file: string, hint = ''): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT')
      throw new SpeedlimitsError('ERR_DATA_MISSING', `${fn}: '${file}' does not exist${hint ? `; ${hint}` : ''}`, { path: file });
    throw ioError(fn, file, 'read', e);
  }
}

/** True when the bytes start with the gzip magic 1f 8b. @internal */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompress gzip bytes, reporting a corrupt or truncated stream as ERR_DATA_FORMAT. @internal */
export function gunzipData(fn: string, file: string, bytes: Uint8Array): Buffer {
  try {
    return zlib.gunzipSync(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const truncated = /unexpected end/i.test(msg);
    throw dataFormatError(fn, file, `${truncated ? 'truncated' : 'corrupt'} gzip data (${msg})`);
  }
}

/**
 * Decode IDX bytes (already decompressed). `file` is used in error messages only.
 *
 * @param bytes The file's contents.
 * @param file A name for error messages (default `'<bytes>'`).
 * @returns The array; for multi-byte types the elements are converted to host byte order.
 * @throws {TypeError} If `bytes` is not a Uint8Array.
 * @throws {SpeedlimitsError} `'ERR_DATA_FORMAT'` for a bad magic, an unknown type, a header or
 *   data shorter than announced, or bytes after the data.
 * @example
 * const a = parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])); // { type: 'uint8', shape: [2], data: [7, 9] }
 */
export function parseIdx(bytes: Uint8Array, file = '<bytes>'): IdxArray {
  const fn = 'parseIdx';
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array, got ${describeValue(bytes)}`);
  return decodeIdx(fn, file, bytes);
}

function decodeIdx(fn: string, file: string, bytes: Uint8Array): IdxArray {
  if (bytes.length < 4) throw dataFormatError(fn, file, `truncated: ${bytes.length} bytes, too short for an IDX header (at least 4)`);
  if (bytes[0] !== 0 || bytes[1] !== 0)
    throw dataFormatError(fn, file, `not an IDX file: bad magic ${hex(bytes[0])} ${hex(bytes[1])} (expected 00 00, or 1f 8b for gzip)`);
  const info = TYPES[bytes[2]];
  if (!info) throw dataFormatError(fn, file, `unknown IDX element type ${hex(bytes[2])} (known: 08 uint8, 09 int8, 0b int16, 0c int32, 0d float32, 0e float64)`);
  const ndim = bytes[3];
  if (ndim === 0) throw dataFormatError(fn, file, 'the IDX header declares 0 dimensions');
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen)
    throw dataFormatError(fn, file, `truncated: ${bytes.length} bytes, but the header of a ${ndim}-dimensional IDX array takes ${headerLen}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    count *= n;
  }
  const need = count * info.size;
  const have = bytes.length - headerLen;
  if (have < need)
    throw dataFormatError(fn, file, `truncated: the header announces shape [${shape.join(', ')}] of ${info.type} (${need} bytes of data) but the file has ${have}`, {
      shape,
      expectedBytes: need,
      actualBytes: have,
    });
  if (have > need)
    throw dataFormatError(fn, file, `${have - need} trailing bytes after the data of shape [${shape.join(', ')}] of ${info.type}`, {
      shape,
      expectedBytes: need,
      actualBytes: have,
    });
  const off = headerLen;
  let data: IdxData;
  switch (info.type) {
    // Copies (never views: `bytes` may be a Buffer from Node's shared pool).
    case 'uint8': {
      const a = new Uint8Array(count);
      a.set(bytes.subarray(off, off + count));
      data = a;
      break;
    }
    case 'int8': {
      const a = new Int8Array(count);
      a.set(new Int8Array(bytes.buffer, bytes.byteOffset + off, count));
      data = a;
      break;
    }
    case 'int16': {
      const a = new Int16Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getInt16(off + 2 * i, false);
      data = a;
      break;
    }
    case 'int32': {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getInt32(off + 4 * i, false);
      data = a;
      break;
    }
    case 'float32': {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getFloat32(off + 4 * i, false);
      data = a;
      break;
    }
    case 'float64': {
      const a = new Float64Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getFloat64(off + 8 * i, false);
      data = a;
      break;
    }
  }
  return { type: info.type, shape, data };
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}

/**
 * Read an IDX file, gzip-compressed or not (detected from its first two bytes), synchronously.
 *
 * @param path The file.
 * @returns `{ type, shape, data }` with `data` in host byte order.
 * @throws {TypeError} If `path` is not a non-empty string.
 * @throws {SpeedlimitsError} `'ERR_DATA_MISSING'` if the file does not exist; `'ERR_DATA_FORMAT'`
 *   if it is malformed (see {@link parseIdx}) or its gzip stream is corrupt/truncated; `'ERR_IO'`
 *   for other read failures. Messages name the file.
 * @example
 * const { shape, data } = readIdx('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz'); // shape [10000]
 */
export function readIdx(path: string): IdxArray {
  const fn = 'readIdx';
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${fn}: path must be a non-empty string, got ${describeValue(path)}`);
  let bytes: Uint8Array = readDataFile(fn, path);
  if (isGzip(bytes)) bytes = gunzipData(fn, path, bytes);
  return decodeIdx(fn, path, bytes);
}

/**
 * Encode an array as IDX bytes (big-endian), the inverse of {@link parseIdx} — for writing test
 * fixtures and small derived datasets.
 *
 * @param array `type`, `shape` (1–255 dimensions, each < 2^32) and `data` of matching length.
 * @returns The IDX bytes (not compressed).
 * @throws {TypeError} If the type is unknown or `data` is not an array of numbers.
 * @throws {RangeError} If the shape is invalid or does not match `data.length`.
 * @example
 * const bytes = encodeIdx({ type: 'uint8', shape: [3], data: new Uint8Array([1, 2, 3]) });
 */
export function encodeIdx(array: { type: IdxType; shape: readonly number[]; data: ArrayLike<number> }): Uint8Array {
  const fn = 'encodeIdx';
  if (array === null || typeof array !== 'object') throw new TypeError(`${fn}: array must be an object, got ${describeValue(array)}`);
  const code = IDX_TYPE_CODES[array.type];
  if (code === undefined) throw new TypeError(`${fn}: array.type must be one of ${Object.keys(IDX_TYPE_CODES).join(', ')}, got ${describeValue(array.type)}`);
  const size = TYPES[code].size;
  const shape = array.shape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 255)
    throw new RangeError(`${fn}: array.shape must have 1 to 255 dimensions, got ${describeValue(shape)}`);
  let count = 1;
  shape.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${fn}: array.shape[${i}] must be an integer in [0, 2^32), got ${n}`);
    count *= n;
  });
  const data = array.data;
  if (data === null || typeof data !== 'object' || typeof data.length !== 'number')
    throw new TypeError(`${fn}: array.data must be an array or typed array, got ${describeValue(data)}`);
  if (data.length !== count) throw new RangeError(`${fn}: array.data has ${data.length} elements but shape [${shape.join(', ')}] needs ${count}`);
  const out = new Uint8Array(4 + 4 * shape.length + count * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((n, i) => view.setUint32(4 + 4 * i, n, false));
  const off = 4 + 4 * shape.length;
  for (let i = 0; i < count; i++) {
    const v = data[i];
    switch (array.type) {
      case 'uint8':
        view.setUint8(off + i, v);
        break;
      case 'int8':
        view.setInt8(off + i, v);
        break;
      case 'int16':
        view.setInt16(off + 2 * i, v, false);
        break;
      case 'int32':
        view.setInt32(off + 4 * i, v, false);
        break;
      case 'float32':
        view.setFloat32(off + 4 * i, v, false);
        break;
      case 'float64':
        view.setFloat64(off + 8 * i, v, false);
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST
// ---------------------------------------------------------------------------------------------

/** The Fashion-MNIST class names, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/** Where Debian's dataset-fashion-mnist package puts the files (used when dpkg is unavailable). */
const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_HINT =
  "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or pass the directory holding " +
  '{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (option path, or --path DIR on the command line)';

/** The file `<dir>/<base>` or `<dir>/<base>.gz`, whichever exists (plain first), else null. */
function findVariant(dir: string, base: string): string | null {
  for (const name of [base, `${base}.gz`]) {
    const p = nodePath.join(dir, name);
    try {
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * Locate the Fashion-MNIST files installed by Debian's `dataset-fashion-mnist` package: asks
 * `dpkg -L dataset-fashion-mnist` for the directory holding `train-images-idx3-ubyte(.gz)`, and
 * falls back to `/usr/share/datasets/fashion-mnist` when dpkg is missing or silent.
 *
 * @returns The directory, or null if the files are not installed.
 * @example
 * const dir = findFashionMnistDir(); // '/usr/share/datasets/fashion-mnist' or null
 */
export function findFashionMnistDir(): string | null {
  const candidates: string[] = [];
  try {
    const r = spawnSync('dpkg', ['-L', 'dataset-fashion-mnist'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    if (!r.error && r.status === 0 && typeof r.stdout === 'string') {
      for (const line of r.stdout.split('\n')) {
        const p = line.trim();
        if (/(^|\/)train-images-idx3-ubyte(\.gz)?$/.test(p)) candidates.push(nodePath.dirname(p));
      }
    }
  } catch {
    // dpkg is not available: fall through
  }
  candidates.push(DEBIAN_FASHION_MNIST_DIR);
  for (const dir of candidates) if (findVariant(dir, 'train-images-idx3-ubyte')) return dir;
  return null;
}

/**
 * Options of {@link loadFashionMnist}.
 * @example
 * const o: FashionMnistOptions = { split: 'train', n: 2000, classes: [0, 6], balanced: true };
 */
export interface FashionMnistOptions extends SelectOptions {
  /** Directory with the IDX files; default: {@link findFashionMnistDir}. */
  path?: string;
  /** `'train'` (60 000 examples, default) or `'test'` (10 000, the `t10k-*` files). */
  split?: 'train' | 'test';
}

/**
 * Load (part of) Fashion-MNIST from its IDX files (`{train,t10k}-images-idx3-ubyte` and
 * `…-labels-idx1-ubyte`, each optionally `.gz`).
 *
 * @param options `path`, `split`, and the selection: `classes`, `n`, `balanced` (see {@link selectClasses}).
 * @returns `{ x, n, dim: 784, shape: [1, 28, 28], labels, classNames, dir }` with `x` the pixels / 255
 *   (`n × 784`, row-major) and `labels` the original class labels (0–9).
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If a class is out of range/repeated or there are not enough examples for `n`.
 * @throws {SpeedlimitsError} `'ERR_DATA_MISSING'` if the files are not found (the message says
 *   how to get them); `'ERR_DATA_FORMAT'` if a file is malformed, not of the expected type/shape,
 *   the image and label counts differ, or a label is > 9.
 * @example
 * const train = loadFashionMnist({ n: 1000, classes: [0, 6] });
 */
export function loadFashionMnist(options?: FashionMnistOptions): LabeledImages & { dir: string } {
  const fn = 'loadFashionMnist';
  const o = checkOptions<FashionMnistOptions>(fn, options);
  const split = o.split === undefined ? 'train' : checkEnum(fn, 'options.split', o.split, ['train', 'test'] as const);
  const sel = checkSelectOptions(fn, o, 10);
  let dir: string | null;
  if (o.path !== undefined) {
    if (typeof o.path !== 'string' || o.path.length === 0) throw new TypeError(`${fn}: options.path must be a non-empty string, got ${describeValue(o.path)}`);
    dir = o.path;
    if (!fs.existsSync(dir)) throw new SpeedlimitsError('ERR_DATA_MISSING', `${fn}: Fashion-MNIST directory '${dir}' does not exist; ${FASHION_HINT}`, { path: dir });
  } else {
    dir = findFashionMnistDir();
    if (dir === null) throw new SpeedlimitsError('ERR_DATA_MISSING', `${fn}: Fashion-MNIST not found; ${FASHION_HINT}`);
  }
  const prefix = split === 'train' ? 'train' : 't10k';
  const locate = (base: string): string => {
    const p = findVariant(dir, base);
    if (p === null) throw new SpeedlimitsError('ERR_DATA_MISSING', `${fn}: '${nodePath.join(dir, base)}' (or .gz) does not exist; ${FASHION_HINT}`, { path: nodePath.join(dir, base) });
    return p;
  };
  const imagesPath = locate(`${prefix}-images-idx3-ubyte`);
  const labelsPath = locate(`${prefix}-labels-idx1-ubyte`);
  const read = (p: string): IdxArray => {
    let bytes: Uint8Array = readDataFile(fn, p, FASHION_HINT);
    if (isGzip(bytes)) bytes = gunzipData(fn, p, bytes);
    return decodeIdx(fn, p, bytes);
  };
  const labelsArr = read(labelsPath);
  if (labelsArr.type !== 'uint8' || labelsArr.shape.length !== 1)
    throw dataFormatError(fn, labelsPath, `expected a 1-dimensional uint8 label array, got ${labelsArr.type} of shape [${labelsArr.shape.join(', ')}]`);
  const images = read(imagesPath);
  if (images.type !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28)
    throw dataFormatError(fn, imagesPath, `expected uint8 images of shape [N, 28, 28], got ${images.type} of shape [${images.shape.join(', ')}]`);
  const count = images.shape[0];
  if (labelsArr.shape[0] !== count)
    throw dataFormatError(fn, labelsPath, `has ${labelsArr.shape[0]} labels but '${imagesPath}' has ${count} images`, { images: count, labels: labelsArr.shape[0] });
  const raw = labelsArr.data as Uint8Array;
  for (let i = 0; i < raw.length; i++)
    if (raw[i] > 9) throw dataFormatError(fn, labelsPath, `label ${raw[i]} at index ${i} is not a Fashion-MNIST class (0–9)`, { index: i, label: raw[i] });
  const idx = selectIndices(fn, raw, sel.classes, sel.n, sel.balanced, `the ${split} split`);
  const dim = 784;
  const pixels = images.data as Uint8Array;
  const x = new Float64Array(idx.length * dim);
  const labels = new Int32Array(idx.length);
  idx.forEach((src, i) => {
    const base = src * dim;
    const out = i * dim;
    for (let j = 0; j < dim; j++) x[out + j] = pixels[base + j] / 255;
    labels[i] = raw[src];
  });
  return { x, n: idx.length, dim, shape: [1, 28, 28], labels, classNames: FASHION_MNIST_CLASSES.slice(), dir };
}
