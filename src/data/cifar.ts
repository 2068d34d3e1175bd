/**
 * CIFAR-10 in its binary format (`cifar-10-batches-bin`): `data_batch_1.bin` … `data_batch_5.bin`
 * (10 000 records each) and `test_batch.bin`. A record is one label byte (0–9) followed by
 * 3072 pixel bytes: the 32×32 red plane, then green, then blue (row-major), i.e. already CHW.
 *
 * @module data/cifar
 */

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { SpeedlimitsError } from '../errors.js';
import { checkEnum, checkOptions, describeValue } from '../validate.js';
import { dataFormatError, readDataFile } from './idx.js';
import { checkSelectOptions, selectIndices, selectionSatisfied, type LabeledImages, type SelectOptions } from './prepare.js';

/** The CIFAR-10 class names, by label. */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);

/** Bytes per CIFAR-10 record: 1 label + 3 × 32 × 32 pixels. */
export const CIFAR10_RECORD_BYTES = 3073;

const PIXELS = 3072;
const HINT =
  "download the CIFAR-10 binary version (cifar-10-binary.tar.gz from the CIFAR page), extract it, and pass the 'cifar-10-batches-bin' directory (option path, or --path DIR)";

/**
 * Options of {@link loadCifar10}.
 * @example
 * const o: Cifar10Options = { path: 'cifar-10-batches-bin', n: 1000, classes: [3, 5] };
 */
export interface Cifar10Options extends SelectOptions {
  /** The `cifar-10-batches-bin` directory (or its parent). */
  path: string;
  /** `'train'` (the data_batch_*.bin files present, in order; default) or `'test'` (test_batch.bin). */
  split?: 'train' | 'test';
}

/**
 * Load (part of) CIFAR-10 from its binary batches. For `'train'` the batch files present among
 * `data_batch_1.bin … data_batch_5.bin` are read in order, and reading stops as soon as the
 * selection is complete.
 *
 * @param options `path`, `split`, and the selection: `classes`, `n`, `balanced` (see {@link selectClasses}).
 * @returns `{ x, n, dim: 3072, shape: [3, 32, 32], labels, classNames, files }` with `x` the
 *   pixels / 255 in NCHW order (`n × 3072`, row-major), `labels` the original class labels, and
 *   `files` the batch files read.
 * @throws {TypeError} If `path` is missing or an option has the wrong type.
 * @throws {RangeError} If a class is out of range/repeated or there are not enough examples for `n`.
 * @throws {SpeedlimitsError} `'ERR_DATA_MISSING'` if the directory or every batch file is
 *   missing; `'ERR_DATA_FORMAT'` if a file's size is not a multiple of 3073 bytes or a label is > 9
 *   (the file and record are named).
 * @example
 * const cats = loadCifar10({ path: '/data/cifar-10-batches-bin', classes: [3], n: 500 });
 */
export function loadCifar10(options: Cifar10Options): LabeledImages & { files: string[] } {
  const fn = 'loadCifar10';
  if (options === undefined) throw new TypeError(`${fn}: options with the path of the CIFAR-10 directory are required`);
  const o = checkOptions<Cifar10Options>(fn, options);
  if (typeof o.path !== 'string' || o.path.length === 0)
    throw new TypeError(`${fn}: options.path must be the CIFAR-10 directory (a non-empty string), got ${describeValue(o.path)}`);
  const split = o.split === undefined ? 'train' : checkEnum(fn, 'options.split', o.split, ['train', 'test'] as const);
  const sel = checkSelectOptions(fn, o, 10);

  let dir = o.path;
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new SpeedlimitsError('ERR_DATA_MISSING', `${fn}: CIFAR-10 directory '${dir}' does not exist; ${HINT}`, { path: dir });
  }
  if (!st.isDirectory()) throw new SpeedlimitsError('ERR_DATA_MISSING', `${fn}: '${dir}' is not a directory; ${HINT}`, { path: dir });
  const names = split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const present = (d: string): string[] => names.map((n) => nodePath.join(d, n)).filter((p) => fs.existsSync(p));
  let files = present(dir);
  if (files.length === 0 && fs.existsSync(nodePath.join(dir, 'cifar-10-batches-bin'))) {
    dir = nodePath.join(dir, 'cifar-10-batches-bin');
    files = present(dir);
  }
  if (files.length === 0)
    throw new SpeedlimitsError('ERR_DATA_MISSING', `${fn}: no CIFAR-10 ${split} batch files (${names.join(', ')}) in '${o.path}'; ${HINT}`, { path: o.path });

  const buffers: Buffer[] = [];
  const read: string[] = [];
  const allLabels: number[] = [];
  for (const file of files) {
    const buf = readDataFile(fn, file, HINT);
    if (buf.length === 0 || buf.length % CIFAR10_RECORD_BYTES !== 0)
      throw dataFormatError(fn, file, `size ${buf.length} bytes is not a positive multiple of the record size ${CIFAR10_RECORD_BYTES} (1 label byte + 3072 pixels)`, {
        size: buf.length,
      });
    const records = buf.length / CIFAR10_RECORD_BYTES;
    for (let r = 0; r < records; r++) {
      const label = buf[r * CIFAR10_RECORD_BYTES];
      if (label > 9) throw dataFormatError(fn, file, `record ${r} has label ${label}, not a CIFAR-10 class (0–9)`, { record: r, label });
      allLabels.push(label);
    }
    buffers.push(buf);
    read.push(file);
    if (selectionSatisfied(allLabels, sel.classes, sel.n, sel.balanced)) break;
  }

  const idx = selectIndices(fn, allLabels, sel.classes, sel.n, sel.balanced, `the ${split} batches in '${dir}'`);
  const x = new Float64Array(idx.length * PIXELS);
  const labels = new Int32Array(idx.length);
  // Map a global record index to (buffer, record).
  const starts: number[] = [];
  let total = 0;
  for (const b of buffers) {
    starts.push(total);
    total += b.length / CIFAR10_RECORD_BYTES;
  }
  let bi = 0;
  idx.forEach((g, i) => {
    while (bi + 1 < buffers.length && g >= starts[bi + 1]) bi++;
    const buf = buffers[bi];
    const off = (g - starts[bi]) * CIFAR10_RECORD_BYTES;
    labels[i] = buf[off];
    const out = i * PIXELS;
    for (let j = 0; j < PIXELS; j++) x[out + j] = buf[off + 1 + j] / 255;
  });
  return { x, n: idx.length, dim: PIXELS, shape: [3, 32, 32], labels, classNames: CIFAR10_CLASSES.slice(), files: read };
}
