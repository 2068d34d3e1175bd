import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { SpeedlimitsError } from '../src/errors.js';
import {
  readIdx,
  parseIdx,
  encodeIdx,
  findFashionMnistDir,
  loadFashionMnist,
  loadCifar10,
  selectClasses,
  standardize,
  labelsToTargets,
  FASHION_MNIST_CLASSES,
  CIFAR10_CLASSES,
  type LabeledImages,
} from '../src/data/index.js';

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-data-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  const d = path.join(tmp, `d${counter++}`);
  fs.mkdirSync(d);
  return d;
}

function write(dir: string, name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** Expect a SpeedlimitsError with `code` whose message matches every pattern. */
function expectError(fn: () => unknown, code: string, ...patterns: RegExp[]): SpeedlimitsError {
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

function escapeRe(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

/** A deterministic 0–255 pixel value for (image, pixel). */
function pixel(i: number, j: number): number {
  return (i * 31 + j * 7) % 256;
}

/** Write a Fashion-MNIST-like pair of IDX files for `labels`; images have `side×side` pixels. */
function writeMnistSplit(dir: string, prefix: string, labels: number[], opts: { gzip?: boolean; side?: number; imageCount?: number } = {}): { images: string; labels: string } {
  const side = opts.side ?? 28;
  const count = opts.imageCount ?? labels.length;
  const img = new Uint8Array(count * side * side);
  for (let i = 0; i < count; i++) for (let j = 0; j < side * side; j++) img[i * side * side + j] = pixel(i, j);
  let ib = encodeIdx({ type: 'uint8', shape: [count, side, side], data: img });
  let lb = encodeIdx({ type: 'uint8', shape: [labels.length], data: labels });
  const ext = opts.gzip ? '.gz' : '';
  if (opts.gzip) {
    ib = zlib.gzipSync(ib);
    lb = zlib.gzipSync(lb);
  }
  return { images: write(dir, `${prefix}-images-idx3-ubyte${ext}`, ib), labels: write(dir, `${prefix}-labels-idx1-ubyte${ext}`, lb) };
}

/** CIFAR records for `labels`, record r of batch b having pixel j = (b*13 + r*5 + j) % 256. */
function cifarBytes(labels: number[], batch: number): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((l, r) => {
    out[r * 3073] = l;
    for (let j = 0; j < 3072; j++) out[r * 3073 + 1 + j] = (batch * 13 + r * 5 + j) % 256;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------------------------

describe('readIdx', () => {
  it('reads every element type, big-endian, from hand-built bytes', () => {
    const header = (type: number, dims: number[]) => {
      const h = new Uint8Array(4 + 4 * dims.length);
      h[2] = type;
      h[3] = dims.length;
      dims.forEach((d, i) => new DataView(h.buffer).setUint32(4 + 4 * i, d, false));
      return h;
    };
    const cat = (a: Uint8Array, b: number[]) => new Uint8Array([...a, ...b]);
    expect(parseIdx(cat(header(0x08, [2, 2]), [0, 1, 254, 255]))).toEqual({ type: 'uint8', shape: [2, 2], data: new Uint8Array([0, 1, 254, 255]) });
    expect(parseIdx(cat(header(0x09, [3]), [0x7f, 0x80, 0xff]))).toEqual({ type: 'int8', shape: [3], data: new Int8Array([127, -128, -1]) });
    expect(parseIdx(cat(header(0x0b, [2]), [0x01, 0x02, 0xff, 0xfe]))).toEqual({ type: 'int16', shape: [2], data: new Int16Array([258, -2]) });
    expect(parseIdx(cat(header(0x0c, [1, 1]), [0x80, 0, 0, 1]))).toEqual({ type: 'int32', shape: [1, 1], data: new Int32Array([-2147483647]) });
    expect(parseIdx(cat(header(0x0d, [1]), [0x3f, 0xc0, 0, 0]))).toEqual({ type: 'float32', shape: [1], data: new Float32Array([1.5]) });
    expect(parseIdx(cat(header(0x0e, [1]), [0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]))).toEqual({ type: 'float64', shape: [1], data: new Float64Array([-Math.PI]) });
    expect(parseIdx(header(0x08, [0, 28, 28]))).toEqual({ type: 'uint8', shape: [0, 28, 28], data: new Uint8Array(0) });
  });

  it('round-trips plain and gzipped files of every type', () => {
    const dir = freshDir();
    const cases = [
      { type: 'uint8' as const, shape: [3, 4, 5], data: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256) },
      { type: 'int8' as const, shape: [4], data: new Int8Array([-128, -1, 0, 127]) },
      { type: 'int16' as const, shape: [2, 2], data: new Int16Array([-32768, -2, 3, 32767]) },
      { type: 'int32' as const, shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
      { type: 'float32' as const, shape: [2], data: new Float32Array([Math.fround(0.1), -Infinity]) },
      { type: 'float64' as const, shape: [1, 3], data: new Float64Array([Math.E, 5e-324, -0]) },
    ];
    for (const c of cases) {
      const bytes = encodeIdx(c);
      for (const gz of [false, true]) {
        const p = write(dir, `${c.type}${gz ? '.gz' : ''}`, gz ? zlib.gzipSync(bytes) : bytes);
        const a = readIdx(p);
        expect(a.type).toBe(c.type);
        expect(a.shape).toEqual(c.shape);
        expect(a.data).toEqual(c.data);
        expect(a.data.constructor).toBe(c.data.constructor);
      }
    }
  });

  it('names the file in clear errors for every broken case', () => {
    const dir = freshDir();
    const good = encodeIdx({ type: 'uint8', shape: [2, 3], data: new Uint8Array([1, 2, 3, 4, 5, 6]) });
    const missing = path.join(dir, 'nope-idx3-ubyte');
    expectError(() => readIdx(missing), 'ERR_DATA_MISSING', escapeRe(missing), /does not exist/);

    const trunc = write(dir, 'trunc', good.subarray(0, good.length - 1));
    const e = expectError(() => readIdx(trunc), 'ERR_DATA_FORMAT', escapeRe(trunc), /truncated/, /shape \[2, 3\]/, /6 bytes of data/, /has 5/);
    expect(e.details).toMatchObject({ path: trunc, expectedBytes: 6, actualBytes: 5 });
    const truncGz = write(dir, 'trunc.gz', zlib.gzipSync(good.subarray(0, good.length - 2)));
    expectError(() => readIdx(truncGz), 'ERR_DATA_FORMAT', escapeRe(truncGz), /truncated/);
    const shortHeader = write(dir, 'short-header', good.subarray(0, 9));
    expectError(() => readIdx(shortHeader), 'ERR_DATA_FORMAT', /truncated: 9 bytes/, /header .* takes 12/);
    expectError(() => readIdx(write(dir, 'tiny', new Uint8Array([0, 0]))), 'ERR_DATA_FORMAT', /too short for an IDX header/);
    expectError(() => readIdx(write(dir, 'empty', new Uint8Array(0))), 'ERR_DATA_FORMAT', /truncated: 0 bytes/);

    const badMagic = good.slice();
    badMagic[1] = 0x08;
    const bm = write(dir, 'bad-magic', badMagic);
    expectError(() => readIdx(bm), 'ERR_DATA_FORMAT', escapeRe(bm), /bad magic 00 08/);
    const badType = good.slice();
    badType[2] = 0x0a;
    expectError(() => readIdx(write(dir, 'bad-type', badType)), 'ERR_DATA_FORMAT', /unknown IDX element type 0a/);
    const zeroDim = good.slice();
    zeroDim[3] = 0;
    expectError(() => readIdx(write(dir, 'zero-dim', zeroDim)), 'ERR_DATA_FORMAT', /0 dimensions/);
    const trailing = write(dir, 'trailing', new Uint8Array([...good, 9, 9, 9]));
    expectError(() => readIdx(trailing), 'ERR_DATA_FORMAT', escapeRe(trailing), /3 trailing bytes/);
    const trailingGz = write(dir, 'trailing.gz', zlib.gzipSync(new Uint8Array([...good, 9])));
    expectError(() => readIdx(trailingGz), 'ERR_DATA_FORMAT', /1 trailing bytes/);
    const gz = zlib.gzipSync(good);
    const cutGz = write(dir, 'cut.gz', gz.subarray(0, gz.length - 12));
    expectError(() => readIdx(cutGz), 'ERR_DATA_FORMAT', escapeRe(cutGz), /gzip/);
    const corrupt = gz.slice();
    corrupt[12] ^= 0xff;
    corrupt[13] ^= 0xff;
    expectError(() => readIdx(write(dir, 'corrupt.gz', corrupt)), 'ERR_DATA_FORMAT', /gzip/);
    // a huge announced size is caught before any allocation
    const huge = new Uint8Array([0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]);
    expectError(() => readIdx(write(dir, 'huge', huge)), 'ERR_DATA_FORMAT', /truncated/);
    // a directory is an I/O error, not "missing"
    expectError(() => readIdx(dir), 'ERR_IO', escapeRe(dir));
  });

  it('validates arguments', () => {
    expect(() => readIdx('')).toThrow(TypeError);
    expect(() => readIdx(3 as unknown as string)).toThrow(TypeError);
    expect(() => parseIdx([0, 0, 8, 1] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => encodeIdx({ type: 'uint16' as 'uint8', shape: [1], data: [1] })).toThrow(TypeError);
    expect(() => encodeIdx({ type: 'uint8', shape: [2], data: [1] })).toThrow(RangeError);
    expect(() => encodeIdx({ type: 'uint8', shape: [], data: [] })).toThrow(RangeError);
    expect(() => encodeIdx({ type: 'uint8', shape: [-1], data: [] })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST
// ---------------------------------------------------------------------------------------------

describe('loadFashionMnist', () => {
  const trainLabels = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9];
  const testLabels = [9, 2, 1, 1, 6];
  let dir: string;
  beforeAll(() => {
    dir = freshDir();
    writeMnistSplit(dir, 'train', trainLabels, { gzip: true });
    writeMnistSplit(dir, 't10k', testLabels, { gzip: false });
  });

  it('reads the gzipped train split and the plain test split', () => {
    const d = loadFashionMnist({ path: dir });
    expect(d.n).toBe(12);
    expect(d.dim).toBe(784);
    expect(d.shape).toEqual([1, 28, 28]);
    expect(d.dir).toBe(dir);
    expect(Array.from(d.labels)).toEqual(trainLabels);
    expect(d.labels).toBeInstanceOf(Int32Array);
    expect(d.x).toBeInstanceOf(Float64Array);
    expect(d.x.length).toBe(12 * 784);
    for (const [i, j] of [[0, 0], [3, 100], [11, 783]]) expect(d.x[i * 784 + j]).toBe(pixel(i, j) / 255);
    expect(d.classNames).toEqual([...FASHION_MNIST_CLASSES]);
    expect(d.classNames[9]).toBe('Ankle boot');

    const t = loadFashionMnist({ path: dir, split: 'test' });
    expect(Array.from(t.labels)).toEqual(testLabels);
    expect(t.x[4 * 784 + 5]).toBe(pixel(4, 5) / 255);
  });

  it('selects the first n examples of the chosen classes, or a balanced subset, in file order', () => {
    const d = loadFashionMnist({ path: dir, classes: [0, 2], n: 4 });
    expect(Array.from(d.labels)).toEqual([0, 0, 0, 2]);
    // rows are those of file positions 1, 2, 4, 5
    [1, 2, 4, 5].forEach((src, i) => expect(d.x[i * 784 + 10]).toBe(pixel(src, 10) / 255));
    const b = loadFashionMnist({ path: dir, classes: [0, 2], n: 4, balanced: true });
    expect(Array.from(b.labels)).toEqual([0, 0, 2, 2]); // positions 1, 2, 5, 7
    [1, 2, 5, 7].forEach((src, i) => expect(b.x[i * 784 + 10]).toBe(pixel(src, 10) / 255));
    // odd n: the first class listed gets the extra example
    expect(Array.from(loadFashionMnist({ path: dir, classes: [2, 0], n: 3, balanced: true }).labels)).toEqual([0, 2, 2]);
    // balanced without n: K × the rarest class
    expect(Array.from(loadFashionMnist({ path: dir, classes: [0, 5], balanced: true }).labels)).toEqual([0, 0, 5, 5]);
    expect(loadFashionMnist({ path: dir, classes: [9] }).n).toBe(2);
  });

  it('reports missing data with instructions', () => {
    const absent = path.join(tmp, 'no-such-dir');
    expectError(() => loadFashionMnist({ path: absent }), 'ERR_DATA_MISSING', escapeRe(absent), /apt-get install dataset-fashion-mnist/, /--path DIR/);
    const empty = freshDir();
    expectError(() => loadFashionMnist({ path: empty }), 'ERR_DATA_MISSING', /train-images-idx3-ubyte/, /apt-get install dataset-fashion-mnist/);
    const onlyImages = freshDir();
    writeMnistSplit(onlyImages, 'train', [1, 2]);
    fs.unlinkSync(path.join(onlyImages, 'train-labels-idx1-ubyte'));
    expectError(() => loadFashionMnist({ path: onlyImages }), 'ERR_DATA_MISSING', /train-labels-idx1-ubyte/);
  });

  it('rejects broken files: truncated, bad magic, count mismatch, wrong shape, bad label', () => {
    const mismatch = freshDir();
    writeMnistSplit(mismatch, 'train', [1, 2, 3], { imageCount: 4 });
    expectError(() => loadFashionMnist({ path: mismatch }), 'ERR_DATA_FORMAT', /has 3 labels but .* has 4 images/, escapeRe(path.join(mismatch, 'train-labels-idx1-ubyte')));

    const trunc = freshDir();
    const { images } = writeMnistSplit(trunc, 'train', [1, 2]);
    fs.truncateSync(images, fs.statSync(images).size - 100);
    expectError(() => loadFashionMnist({ path: trunc }), 'ERR_DATA_FORMAT', escapeRe(images), /truncated/);

    const truncGz = freshDir();
    const gzFiles = writeMnistSplit(truncGz, 'train', [1, 2], { gzip: true });
    fs.truncateSync(gzFiles.images, fs.statSync(gzFiles.images).size - 20);
    expectError(() => loadFashionMnist({ path: truncGz }), 'ERR_DATA_FORMAT', escapeRe(gzFiles.images), /gzip/);

    const magic = freshDir();
    const m = writeMnistSplit(magic, 'train', [1, 2]);
    const bytes = fs.readFileSync(m.labels);
    bytes[0] = 0x50;
    fs.writeFileSync(m.labels, bytes);
    expectError(() => loadFashionMnist({ path: magic }), 'ERR_DATA_FORMAT', escapeRe(m.labels), /bad magic/);

    const shape = freshDir();
    writeMnistSplit(shape, 'train', [1, 2], { side: 27 });
    expectError(() => loadFashionMnist({ path: shape }), 'ERR_DATA_FORMAT', /shape \[N, 28, 28\]/, /\[2, 27, 27\]/);

    const label = freshDir();
    writeMnistSplit(label, 'train', [1, 10]);
    expectError(() => loadFashionMnist({ path: label }), 'ERR_DATA_FORMAT', /label 10 at index 1/);

    const swapped = freshDir();
    const s = writeMnistSplit(swapped, 'train', [1, 2]);
    fs.copyFileSync(s.images, path.join(swapped, 'tmp'));
    fs.copyFileSync(s.labels, s.images);
    fs.renameSync(path.join(swapped, 'tmp'), s.labels);
    expectError(() => loadFashionMnist({ path: swapped }), 'ERR_DATA_FORMAT', /1-dimensional uint8 label array/);
  });

  it('validates options', () => {
    expect(() => loadFashionMnist({ path: dir, n: 13 })).toThrow(/n = 13 but the train split has only 12 examples/);
    expect(() => loadFashionMnist({ path: dir, classes: [0, 3], n: 4, balanced: true })).toThrow(RangeError);
    expect(() => loadFashionMnist({ path: dir, classes: [10] })).toThrow(RangeError);
    expect(() => loadFashionMnist({ path: dir, classes: [1, 1] })).toThrow(/repeat/);
    expect(() => loadFashionMnist({ path: dir, classes: [] })).toThrow(RangeError);
    expect(() => loadFashionMnist({ path: dir, n: 0 })).toThrow(RangeError);
    expect(() => loadFashionMnist({ path: dir, split: 'val' as 'test' })).toThrow(RangeError);
    expect(() => loadFashionMnist({ path: 3 as unknown as string })).toThrow(TypeError);
    expect(() => loadFashionMnist({ path: dir, balanced: 1 as unknown as boolean })).toThrow(TypeError);
  });

  it('finds the Debian package when it is installed', () => {
    const found = findFashionMnistDir();
    if (found === null) return; // not installed here: nothing more to check
    expect(fs.existsSync(path.join(found, 'train-images-idx3-ubyte.gz')) || fs.existsSync(path.join(found, 'train-images-idx3-ubyte'))).toBe(true);
    const d = loadFashionMnist({ split: 'test', n: 20, classes: [0, 6] });
    expect(d.n).toBe(20);
    expect(d.x.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// CIFAR-10
// ---------------------------------------------------------------------------------------------

describe('loadCifar10', () => {
  const batch1 = [6, 9, 9, 4, 1, 1, 2];
  const batch2 = [7, 8, 3, 4, 6];
  const test = [3, 8, 8, 0];
  let dir: string;
  beforeAll(() => {
    dir = path.join(freshDir(), 'cifar-10-batches-bin');
    fs.mkdirSync(dir);
    write(dir, 'data_batch_1.bin', cifarBytes(batch1, 1));
    write(dir, 'data_batch_2.bin', cifarBytes(batch2, 2));
    write(dir, 'test_batch.bin', cifarBytes(test, 9));
  });

  it('reads the batches present, in order, as NCHW pixels / 255', () => {
    const d = loadCifar10({ path: dir });
    expect(d.n).toBe(12);
    expect(d.dim).toBe(3072);
    expect(d.shape).toEqual([3, 32, 32]);
    expect(Array.from(d.labels)).toEqual([...batch1, ...batch2]);
    expect(d.files).toEqual([path.join(dir, 'data_batch_1.bin'), path.join(dir, 'data_batch_2.bin')]);
    expect(d.classNames).toEqual([...CIFAR10_CLASSES]);
    // record 2 of batch 2 is example 9; channel c, row y, column x at c*1024 + y*32 + x
    const at = (i: number, c: number, y: number, x: number) => d.x[i * 3072 + c * 1024 + y * 32 + x];
    expect(at(9, 0, 0, 0)).toBe(((2 * 13 + 2 * 5) % 256) / 255);
    expect(at(9, 2, 31, 31)).toBe(((2 * 13 + 2 * 5 + 3071) % 256) / 255);
    expect(at(0, 1, 3, 4)).toBe(((1 * 13 + 0 + 1024 + 3 * 32 + 4) % 256) / 255);
    const t = loadCifar10({ path: dir, split: 'test' });
    expect(Array.from(t.labels)).toEqual(test);
    expect(t.files).toEqual([path.join(dir, 'test_batch.bin')]);
    // the parent of cifar-10-batches-bin works too
    expect(loadCifar10({ path: path.dirname(dir), split: 'test' }).n).toBe(4);
  });

  it('selects classes and stops reading once the selection is complete', () => {
    const first = loadCifar10({ path: dir, n: 3 });
    expect(Array.from(first.labels)).toEqual([6, 9, 9]);
    expect(first.files).toHaveLength(1);
    const across = loadCifar10({ path: dir, classes: [4, 6] });
    expect(Array.from(across.labels)).toEqual([6, 4, 4, 6]);
    expect(across.x[3 * 3072 + 7]).toBe(((2 * 13 + 4 * 5 + 7) % 256) / 255); // batch 2, record 4
    const bal = loadCifar10({ path: dir, classes: [9, 4], n: 4, balanced: true });
    expect(Array.from(bal.labels)).toEqual([9, 9, 4, 4]);
    expect(bal.files).toHaveLength(2);
    expect(() => loadCifar10({ path: dir, classes: [3], n: 2 })).toThrow(/n = 2 but .* has only 1 examples of classes \[3\]/);
  });

  it('reports missing and broken data', () => {
    const absent = path.join(tmp, 'no-cifar');
    expectError(() => loadCifar10({ path: absent }), 'ERR_DATA_MISSING', escapeRe(absent), /does not exist/, /cifar-10-batches-bin/);
    const empty = freshDir();
    expectError(() => loadCifar10({ path: empty }), 'ERR_DATA_MISSING', /no CIFAR-10 train batch files/, /data_batch_1\.bin/);
    expectError(() => loadCifar10({ path: dir + '/data_batch_1.bin' }), 'ERR_DATA_MISSING', /not a directory/);

    const odd = freshDir();
    const oddFile = write(odd, 'data_batch_1.bin', cifarBytes([1, 2], 1).subarray(0, 3073 * 2 - 5));
    expectError(() => loadCifar10({ path: odd }), 'ERR_DATA_FORMAT', escapeRe(oddFile), /6141 bytes is not a positive multiple of the record size 3073/);
    const zero = freshDir();
    write(zero, 'test_batch.bin', new Uint8Array(0));
    expectError(() => loadCifar10({ path: zero, split: 'test' }), 'ERR_DATA_FORMAT', /size 0 bytes/);

    const bad = freshDir();
    const badFile = write(bad, 'data_batch_1.bin', cifarBytes([1, 2, 10], 1));
    expectError(() => loadCifar10({ path: bad }), 'ERR_DATA_FORMAT', escapeRe(badFile), /record 2 has label 10/);
  });

  it('validates options', () => {
    expect(() => loadCifar10(undefined as unknown as { path: string })).toThrow(TypeError);
    expect(() => loadCifar10({} as { path: string })).toThrow(/options.path must be the CIFAR-10 directory/);
    expect(() => loadCifar10({ path: dir, split: 'train2' as 'train' })).toThrow(RangeError);
    expect(() => loadCifar10({ path: dir, classes: [-1] })).toThrow(RangeError);
    expect(() => loadCifar10({ path: dir, n: 1.5 })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// prepare
// ---------------------------------------------------------------------------------------------

function toyData(labels: number[], dim = 3): LabeledImages {
  const n = labels.length;
  const x = Float64Array.from({ length: n * dim }, (_, k) => Math.sin(k + 1) * 3 + (k % dim));
  return { x, n, dim, shape: [1, 1, dim], labels: Int32Array.from(labels), classNames: ['a', 'b', 'c', 'd'] };
}

describe('selectClasses', () => {
  const labels = [3, 1, 0, 1, 1, 3, 0, 2, 1, 0];
  const data = toyData(labels);

  it('matches a naive selection', () => {
    for (const [classes, n] of [[[1, 3], 4], [[0], undefined], [[2, 0, 1, 3], 10], [[1], 2]] as Array<[number[], number | undefined]>) {
      const naive = labels.map((l, i) => [l, i]).filter(([l]) => classes.includes(l)).slice(0, n ?? Infinity).map(([, i]) => i);
      const s = selectClasses(data, classes, n);
      expect(s.n).toBe(naive.length);
      expect(Array.from(s.labels)).toEqual(naive.map((i) => labels[i]));
      expect(Array.from(s.x)).toEqual(naive.flatMap((i) => Array.from(data.x.subarray(i * 3, i * 3 + 3))));
      expect(s.shape).toEqual(data.shape);
      expect(s.classNames).toEqual(data.classNames);
    }
    expect(Array.from(data.labels)).toEqual(labels); // input untouched
  });

  it('balances classes', () => {
    const s = selectClasses(data, [1, 0], 5, { balanced: true });
    // 3 of class 1 (listed first), 2 of class 0, in file order: positions 1, 2, 3, 4, 6
    expect(Array.from(s.labels)).toEqual([1, 0, 1, 1, 0]);
    expect(s.x[4 * 3]).toBe(data.x[6 * 3]);
    expect(Array.from(selectClasses(data, [0, 3], undefined, { balanced: true }).labels)).toEqual([3, 0, 3, 0]);
    expect(() => selectClasses(data, [2, 1], 4, { balanced: true })).toThrow(/needs 2 examples of class 2 but data has 1/);
  });

  it('validates its arguments', () => {
    expect(() => selectClasses(data, [1], 6)).toThrow(RangeError);
    expect(() => selectClasses(data, [4], 1)).toThrow(RangeError);
    expect(() => selectClasses(data, 1 as unknown as number[], 1)).toThrow(TypeError);
    expect(() => selectClasses({ ...data, x: [1, 2] } as unknown as LabeledImages, [1])).toThrow(/data.x must be a Float64Array/);
    expect(() => selectClasses({ ...data, n: 3 }, [1])).toThrow(/data.labels has 10 entries but data.n is 3/);
    expect(() => selectClasses(null as unknown as LabeledImages, [1])).toThrow(TypeError);
  });
});

describe('standardize', () => {
  const rows = 5;
  const cols = 3;
  const x = Float64Array.from([1, 10, 7, 2, 20, 7, 3, 30, 7, 4, 40, 7, 5, 50, 7]);

  it('per-feature: columns to mean 0, std 1 (population), constant columns only centred', () => {
    const r = standardize(x, rows, cols);
    for (let j = 0; j < cols; j++) {
      const col = Array.from({ length: rows }, (_, i) => x[i * cols + j]);
      const m = col.reduce((a, b) => a + b, 0) / rows;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - m) ** 2, 0) / rows);
      expect(r.mean[j]).toBeCloseTo(m, 14);
      expect(r.std[j]).toBeCloseTo(sd === 0 ? 1 : sd, 14);
      for (let i = 0; i < rows; i++) expect(r.x[i * cols + j]).toBeCloseTo((x[i * cols + j] - m) / (sd === 0 ? 1 : sd), 12);
    }
    expect(Array.from(r.std)).toEqual([Math.sqrt(2), Math.sqrt(200), 1]);
    expect(x[0]).toBe(1); // input untouched
    // a constant column whose mean is not exactly representable still counts as constant
    const c = standardize(Float64Array.from({ length: 7 }, () => 0.1), 7, 1);
    expect(c.std[0]).toBe(1);
    expect(Math.max(...c.x.map(Math.abs))).toBeLessThan(1e-15);
  });

  it('global: one mean and std over all entries', () => {
    const r = standardize(x, rows, cols, { mode: 'global' });
    const all = Array.from(x);
    const m = all.reduce((a, b) => a + b, 0) / all.length;
    const sd = Math.sqrt(all.reduce((a, b) => a + (b - m) ** 2, 0) / all.length);
    expect(r.mean).toHaveLength(1);
    expect(r.mean[0]).toBeCloseTo(m, 13);
    expect(r.std[0]).toBeCloseTo(sd, 13);
    r.x.forEach((v, k) => expect(v).toBeCloseTo((x[k] - m) / sd, 12));
  });

  it('applies given statistics (e.g. the training set’s to the test set)', () => {
    const fit = standardize(x, rows, cols);
    const test = Float64Array.from([3, 30, 8]);
    const r = standardize(test, 1, cols, { mean: fit.mean, std: fit.std });
    expect(Array.from(r.x)).toEqual([0, 0, 1]);
    expect(Array.from(standardize(test, 1, cols, { mean: new Float64Array([1, 2, 3]) }).std)).toEqual([2, 28, 5]); // about the given mean
    expect(Array.from(standardize(test, 1, cols).std)).toEqual([1, 1, 1]); // one row: std 0 → 1
  });

  it('validates its arguments', () => {
    expect(() => standardize([1, 2] as unknown as Float64Array, 1, 2)).toThrow(TypeError);
    expect(() => standardize(x, 4, 3)).toThrow(/x has 15 entries but rows × cols is 12/);
    expect(() => standardize(new Float64Array(0), 0, 3)).toThrow(RangeError);
    expect(() => standardize(x, rows, cols, { mode: 'columns' as 'global' })).toThrow(RangeError);
    expect(() => standardize(x, rows, cols, { mean: new Float64Array(2) })).toThrow(/options.mean must have 3 entries/);
    expect(() => standardize(x, rows, cols, { mean: new Float64Array(3), std: new Float64Array(3) })).toThrow(/positive/);
    expect(() => standardize(x, rows, cols, { std: new Float64Array([1, 1, 1]) })).toThrow(/requires options.mean/);
    expect(() => standardize(x, rows, cols, { mode: 'global', mean: new Float64Array(3) })).toThrow(/1 entries for mode 'global'/);
  });
});

describe('labelsToTargets', () => {
  it('one-hot minus 1/K, rows summing to 0', () => {
    const t = labelsToTargets(new Int32Array([7, 2, 5, 2]), [2, 5, 7]);
    expect(t.rows).toBe(4);
    expect(t.cols).toBe(3);
    const naive = [7, 2, 5, 2].flatMap((l) => [2, 5, 7].map((c) => (c === l ? 1 : 0) - 1 / 3));
    Array.from(t.data).forEach((v, k) => expect(v).toBeCloseTo(naive[k], 15));
    for (let i = 0; i < 4; i++) expect(Math.abs(t.data[i * 3] + t.data[i * 3 + 1] + t.data[i * 3 + 2])).toBeLessThan(1e-15);
    expect(labelsToTargets([], [0, 1]).data).toHaveLength(0);
  });

  it('binary: −1 for the first class, +1 for the second', () => {
    const t = labelsToTargets([0, 6, 6, 0], [0, 6], { encoding: 'binary' });
    expect(t).toEqual({ data: new Float64Array([-1, 1, 1, -1]), rows: 4, cols: 1 });
    expect(Array.from(labelsToTargets([0, 6], [6, 0], { encoding: 'binary' }).data)).toEqual([1, -1]);
  });

  it('validates its arguments', () => {
    expect(() => labelsToTargets([0, 3], [0, 1])).toThrow(/labels\[1\] = 3 is not one of classes \[0, 1\]/);
    expect(() => labelsToTargets([0], [0, 1, 2], { encoding: 'binary' })).toThrow(/exactly 2 entries/);
    expect(() => labelsToTargets([0], [0, 0])).toThrow(/repeat/);
    expect(() => labelsToTargets([0], [])).toThrow(RangeError);
    expect(() => labelsToTargets(5 as unknown as number[], [0])).toThrow(TypeError);
    expect(() => labelsToTargets(['0'] as unknown as number[], [0])).toThrow(TypeError);
    expect(() => labelsToTargets([0], [0], { encoding: 'ternary' as 'binary' })).toThrow(RangeError);
    expect(() => labelsToTargets([0], [0.5])).toThrow(RangeError);
  });
});
