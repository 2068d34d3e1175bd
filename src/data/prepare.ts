/**
 * Preparing labelled image data for training: choosing examples of some classes,
 * standardising the inputs, and turning labels into regression targets.
 *
 * All functions validate their arguments (TypeError for a wrong type, RangeError for a bad value,
 * messages naming the function and the argument) and never modify their inputs.
 *
 * @module data/prepare
 */

import type { Matrix } from '../matrix.js';
import { checkBoolean, checkEnum, checkInteger, checkOptions, describeValue } from '../validate.js';

/**
 * A labelled image dataset: `n` examples, each flattened to `dim = shape[0]·shape[1]·shape[2]`
 * values in `x` (row-major, example `i` at `x[i·dim … (i+1)·dim)`), and their class labels.
 * @example
 * const d: LabeledImages = { x: new Float64Array(2 * 4), n: 2, dim: 4, shape: [1, 2, 2], labels: new Int32Array([0, 1]), classNames: ['a', 'b'] };
 */
export interface LabeledImages {
  /** Inputs, `n × dim`, row-major (pixels scaled to [0, 1] by the loaders). */
  x: Float64Array;
  /** Number of examples. */
  n: number;
  /** Values per example. */
  dim: number;
  /** Shape of one example, `[channels, height, width]` (NCHW layout). */
  shape: number[];
  /** Class label of each example (an index into `classNames`). */
  labels: Int32Array;
  /** Names of all the dataset's classes, by label. */
  classNames: string[];
}

/**
 * Options for choosing examples: which classes, how many, balanced or not.
 * @example
 * const s: SelectOptions = { classes: [0, 6], n: 1000, balanced: true };
 */
export interface SelectOptions {
  /** Classes to keep (distinct labels); default: all. */
  classes?: readonly number[];
  /** Number of examples; default: all of the chosen classes (for `balanced`, `K ×` the rarest class's count). */
  n?: number;
  /**
   * Take the same number of examples from each class (the first `n mod K` classes of `classes`
   * get one more); default false: the first `n` examples of the chosen classes in file order.
   */
  balanced?: boolean;
}

/** Validate a class list: a non-empty array of distinct integers in [0, numClasses). @internal */
export function checkClasses(fn: string, name: string, classes: unknown, numClasses: number): number[] {
  if (!Array.isArray(classes)) throw new TypeError(`${fn}: ${name} must be an array of class labels, got ${describeValue(classes)}`);
  if (classes.length === 0) throw new RangeError(`${fn}: ${name} must not be empty`);
  const seen = new Set<number>();
  classes.forEach((c, i) => {
    checkInteger(fn, `${name}[${i}]`, c, 0, numClasses - 1);
    if (seen.has(c)) throw new RangeError(`${fn}: ${name} must not repeat a class, got ${c} twice`);
    seen.add(c);
  });
  return classes.slice() as number[];
}

/** Per-class quotas for a selection, or null when no count is fixed yet. */
function quotas(classes: readonly number[], n: number | undefined, balanced: boolean): Map<number, number> | null {
  if (n === undefined || !balanced) return null;
  const k = classes.length;
  const q = new Map<number, number>();
  classes.forEach((c, i) => q.set(c, Math.floor(n / k) + (i < n % k ? 1 : 0)));
  return q;
}

/**
 * Whether the labels seen so far already satisfy a selection (so a loader can stop reading).
 * @internal
 */
export function selectionSatisfied(labels: ArrayLike<number>, classes: readonly number[], n: number | undefined, balanced: boolean): boolean {
  if (n === undefined) return false;
  const counts = new Map<number, number>(classes.map((c) => [c, 0]));
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const c = counts.get(labels[i]);
    if (c !== undefined) {
      counts.set(labels[i], c + 1);
      total++;
    }
  }
  const q = quotas(classes, n, balanced);
  if (!q) return total >= n;
  for (const [c, want] of q) if ((counts.get(c) ?? 0) < want) return false;
  return true;
}

/**
 * Indices (in file order) of the examples a selection keeps. Throws a RangeError naming `n` when
 * there are not enough examples.
 * @internal
 */
export function selectIndices(
  fn: string,
  labels: ArrayLike<number>,
  classes: readonly number[],
  n: number | undefined,
  balanced: boolean,
  what = 'the data',
): number[] {
  const counts = new Map<number, number>(classes.map((c) => [c, 0]));
  for (let i = 0; i < labels.length; i++) {
    const c = counts.get(labels[i]);
    if (c !== undefined) counts.set(labels[i], c + 1);
  }
  const available = [...counts.values()].reduce((a, b) => a + b, 0);
  let q = quotas(classes, n, balanced);
  if (balanced && n === undefined) {
    const m = Math.min(...counts.values());
    q = new Map(classes.map((c) => [c, m]));
  }
  if (q) {
    for (const [c, want] of q)
      if ((counts.get(c) ?? 0) < want)
        throw new RangeError(`${fn}: n = ${n} balanced over classes [${classes.join(', ')}] needs ${want} examples of class ${c} but ${what} has ${counts.get(c) ?? 0}`);
  } else if (n !== undefined && n > available) {
    throw new RangeError(`${fn}: n = ${n} but ${what} has only ${available} examples of classes [${classes.join(', ')}]`);
  }
  const out: number[] = [];
  const target = q ? [...q.values()].reduce((a, b) => a + b, 0) : (n ?? available);
  const taken = new Map<number, number>(classes.map((c) => [c, 0]));
  for (let i = 0; i < labels.length && out.length < target; i++) {
    const l = labels[i];
    const t = taken.get(l);
    if (t === undefined) continue;
    if (q && t >= (q.get(l) ?? 0)) continue;
    taken.set(l, t + 1);
    out.push(i);
  }
  return out;
}

/** Validate {@link SelectOptions} against a dataset with `numClasses` classes. @internal */
export function checkSelectOptions(fn: string, opts: SelectOptions, numClasses: number): { classes: number[]; n: number | undefined; balanced: boolean } {
  const classes = opts.classes === undefined ? Array.from({ length: numClasses }, (_, i) => i) : checkClasses(fn, 'classes', opts.classes, numClasses);
  const n = opts.n === undefined ? undefined : checkInteger(fn, 'n', opts.n, 1);
  const balanced = opts.balanced === undefined ? false : checkBoolean(fn, 'balanced', opts.balanced);
  return { classes, n, balanced };
}

function checkLabeledImages(fn: string, data: unknown): LabeledImages {
  const d = checkOptions<LabeledImages>(fn, data, 'data');
  if (!(d.x instanceof Float64Array)) throw new TypeError(`${fn}: data.x must be a Float64Array, got ${describeValue(d.x)}`);
  if (!(d.labels instanceof Int32Array)) throw new TypeError(`${fn}: data.labels must be an Int32Array, got ${describeValue(d.labels)}`);
  if (!Array.isArray(d.classNames)) throw new TypeError(`${fn}: data.classNames must be an array, got ${describeValue(d.classNames)}`);
  if (!Array.isArray(d.shape)) throw new TypeError(`${fn}: data.shape must be an array, got ${describeValue(d.shape)}`);
  const n = checkInteger(fn, 'data.n', d.n);
  const dim = checkInteger(fn, 'data.dim', d.dim);
  if (d.labels.length !== n) throw new RangeError(`${fn}: data.labels has ${d.labels.length} entries but data.n is ${n}`);
  if (d.x.length !== n * dim) throw new RangeError(`${fn}: data.x has ${d.x.length} entries but data.n × data.dim is ${n * dim}`);
  return d as LabeledImages;
}

/**
 * Keep the examples of some classes: the first `n` in file order, or (with `balanced`) the first
 * `⌊n/K⌋` of each class (the first `n mod K` classes listed get one more), still in file order.
 * Labels keep their original values.
 *
 * @param data A dataset (as the loaders return).
 * @param classes The classes to keep (distinct labels < `data.classNames.length`).
 * @param n How many examples; default all of those classes.
 * @param options `balanced` (default false).
 * @returns A new dataset (copies; `data` is not modified).
 * @throws {TypeError} If `data`, `classes`, `n` or an option has the wrong type.
 * @throws {RangeError} If a class is out of range or repeated, `n` < 1, or there are not enough examples.
 * @example
 * const tshirtsVsShirts = selectClasses(train, [0, 6], 2000, { balanced: true });
 */
export function selectClasses(data: LabeledImages, classes: readonly number[], n?: number, options?: { balanced?: boolean }): LabeledImages {
  const fn = 'selectClasses';
  const d = checkLabeledImages(fn, data);
  const o = checkOptions<{ balanced: boolean }>(fn, options);
  const numClasses = Math.max(d.classNames.length, 1);
  const sel = checkSelectOptions(fn, { classes, n, balanced: o.balanced }, numClasses);
  const idx = selectIndices(fn, d.labels, sel.classes, sel.n, sel.balanced, 'data');
  const x = new Float64Array(idx.length * d.dim);
  const labels = new Int32Array(idx.length);
  idx.forEach((src, i) => {
    x.set(d.x.subarray(src * d.dim, (src + 1) * d.dim), i * d.dim);
    labels[i] = d.labels[src];
  });
  return { x, n: idx.length, dim: d.dim, shape: d.shape.slice(), labels, classNames: d.classNames.slice() };
}

/**
 * Options of {@link standardize}.
 * @example
 * standardize(test.x, test.n, test.dim, { mode: 'per-feature', mean: fit.mean, std: fit.std });
 */
export interface StandardizeOptions {
  /** `'per-feature'` (default): each column to mean 0, std 1; `'global'`: one mean and std for all entries. */
  mode?: 'per-feature' | 'global';
  /** Use these means instead of computing them (length `cols`, or 1 for `'global'`) — e.g. the training set's. */
  mean?: Float64Array;
  /** Use these standard deviations (all > 0) instead of computing them; requires `mean`. */
  std?: Float64Array;
}

/**
 * Standardise a row-major `rows × cols` matrix: subtract the mean and divide by the standard
 * deviation (population, divisor `rows`), per column or over all entries. A constant column
 * (std 0, or below 1e-12 of its mean's magnitude) is only centred: its std is reported as 1.
 *
 * @param x The data, `rows × cols` row-major (not modified).
 * @param rows Number of rows (examples).
 * @param cols Number of columns (features).
 * @param options `mode` and optional precomputed `mean`/`std`.
 * @returns `{ x, mean, std }`: the standardised copy and the statistics used (length `cols`, or 1 for `'global'`).
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `x.length ≠ rows·cols`, `rows` is 0 while statistics must be computed,
 *   or `mean`/`std` have the wrong length or non-positive/non-finite entries.
 * @example
 * const { x, mean, std } = standardize(train.x, train.n, train.dim, { mode: 'per-feature' });
 */
export function standardize(
  x: Float64Array,
  rows: number,
  cols: number,
  options?: StandardizeOptions,
): { x: Float64Array; mean: Float64Array; std: Float64Array } {
  const fn = 'standardize';
  if (!(x instanceof Float64Array)) throw new TypeError(`${fn}: x must be a Float64Array, got ${describeValue(x)}`);
  checkInteger(fn, 'rows', rows);
  checkInteger(fn, 'cols', cols);
  if (x.length !== rows * cols) throw new RangeError(`${fn}: x has ${x.length} entries but rows × cols is ${rows * cols}`);
  const o = checkOptions<StandardizeOptions>(fn, options);
  const mode = o.mode === undefined ? 'per-feature' : checkEnum(fn, 'options.mode', o.mode, ['per-feature', 'global'] as const);
  const k = mode === 'global' ? 1 : cols;
  let mean: Float64Array;
  let std: Float64Array;
  if (o.std !== undefined && o.mean === undefined) throw new TypeError(`${fn}: options.std requires options.mean`);
  if (o.mean !== undefined) {
    if (!(o.mean instanceof Float64Array)) throw new TypeError(`${fn}: options.mean must be a Float64Array, got ${describeValue(o.mean)}`);
    if (o.mean.length !== k) throw new RangeError(`${fn}: options.mean must have ${k} entries for mode '${mode}', got ${o.mean.length}`);
    for (let j = 0; j < k; j++) if (!Number.isFinite(o.mean[j])) throw new RangeError(`${fn}: options.mean must be finite, got ${o.mean[j]} at index ${j}`);
    mean = o.mean.slice();
  } else {
    if (rows === 0) throw new RangeError(`${fn}: rows must be at least 1 to compute the mean`);
    mean = new Float64Array(k);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[mode === 'global' ? 0 : j] += x[i * cols + j];
    const count = mode === 'global' ? rows * cols : rows;
    for (let j = 0; j < k; j++) mean[j] /= count;
  }
  if (o.std !== undefined) {
    if (!(o.std instanceof Float64Array)) throw new TypeError(`${fn}: options.std must be a Float64Array, got ${describeValue(o.std)}`);
    if (o.std.length !== k) throw new RangeError(`${fn}: options.std must have ${k} entries for mode '${mode}', got ${o.std.length}`);
    for (let j = 0; j < k; j++) if (!(o.std[j] > 0 && Number.isFinite(o.std[j]))) throw new RangeError(`${fn}: options.std must be positive and finite, got ${o.std[j]} at index ${j}`);
    std = o.std.slice();
  } else {
    if (rows === 0) throw new RangeError(`${fn}: rows must be at least 1 to compute the standard deviation`);
    const ss = new Float64Array(k);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        const jj = mode === 'global' ? 0 : j;
        const dv = x[i * cols + j] - mean[jj];
        ss[jj] += dv * dv;
      }
    const count = mode === 'global' ? rows * cols : rows;
    std = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      const s = Math.sqrt(ss[j] / count);
      std[j] = s === 0 || s <= 1e-12 * Math.abs(mean[j]) || !Number.isFinite(s) ? 1 : s;
    }
  }
  const out = new Float64Array(x.length);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const jj = mode === 'global' ? 0 : j;
      out[i * cols + j] = (x[i * cols + j] - mean[jj]) / std[jj];
    }
  return { x: out, mean, std };
}

/**
 * Turn class labels into regression targets.
 *
 * - `'onehot-centered'` (default): an `n × K` matrix (K = `classes.length`), row i is the one-hot
 *   vector of `labels[i]`'s position in `classes` minus 1/K (each row sums to 0).
 * - `'binary'`: exactly two classes; an `n × 1` matrix with −1 for `classes[0]` and +1 for `classes[1]`.
 *
 * @param labels Class labels (integers).
 * @param classes The classes, in target order (distinct integers).
 * @param options `encoding`.
 * @returns A {@link Matrix} of targets.
 * @throws {TypeError} If `labels` is not an array of integers or `classes` not an array.
 * @throws {RangeError} If `classes` is empty, repeats a class, has ≠ 2 entries for `'binary'`,
 *   or a label is not one of `classes` (its index is named).
 * @example
 * labelsToTargets(new Int32Array([0, 6, 6]), [0, 6], { encoding: 'binary' }).data // [-1, 1, 1]
 */
export function labelsToTargets(
  labels: ArrayLike<number>,
  classes: readonly number[],
  options?: { encoding?: 'onehot-centered' | 'binary' },
): Matrix {
  const fn = 'labelsToTargets';
  if (labels === null || typeof labels !== 'object' || typeof (labels as { length?: unknown }).length !== 'number')
    throw new TypeError(`${fn}: labels must be an array or typed array of integers, got ${describeValue(labels)}`);
  const cls = checkClasses(fn, 'classes', classes, Number.MAX_SAFE_INTEGER);
  const o = checkOptions<{ encoding: 'onehot-centered' | 'binary' }>(fn, options);
  const encoding = o.encoding === undefined ? 'onehot-centered' : checkEnum(fn, 'options.encoding', o.encoding, ['onehot-centered', 'binary'] as const);
  if (encoding === 'binary' && cls.length !== 2) throw new RangeError(`${fn}: classes must have exactly 2 entries for the 'binary' encoding, got ${cls.length}`);
  const pos = new Map(cls.map((c, i) => [c, i]));
  const n = labels.length;
  const k = cls.length;
  const cols = encoding === 'binary' ? 1 : k;
  const data = new Float64Array(n * cols);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (typeof l !== 'number') throw new TypeError(`${fn}: labels must hold integers, got ${describeValue(l)} at index ${i}`);
    const p = pos.get(l);
    if (p === undefined) throw new RangeError(`${fn}: labels[${i}] = ${l} is not one of classes [${cls.join(', ')}]`);
    if (encoding === 'binary') data[i] = p === 0 ? -1 : 1;
    else {
      for (let j = 0; j < k; j++) data[i * k + j] = -1 / k;
      data[i * k + p] += 1;
    }
  }
  return { data, rows: n, cols };
}
