/**
 * The dense matrix type used across the API: row-major `{ data, rows, cols }`, where entry
 * (i, j) is `data[i * cols + j]`. `data` may be a subarray view of a larger buffer.
 */
import { checkInteger, describeValue, firstNonFinite } from './validate.js';

/** A row-major dense matrix. */
export interface Matrix<T extends Float64Array | Float32Array = Float64Array> {
  data: T;
  rows: number;
  cols: number;
}

/**
 * Wrap (or allocate) a row-major matrix.
 * @example
 * const A = matrix(2, 3, new Float64Array([1, 2, 3, 4, 5, 6]));
 * const Z = matrix(4, 4); // zeros
 */
export function matrix(rows: number, cols: number, data?: Float64Array): Matrix;
export function matrix(rows: number, cols: number, data: Float32Array): Matrix<Float32Array>;
export function matrix(rows: number, cols: number, data?: Float64Array | Float32Array): Matrix<Float64Array | Float32Array> {
  checkInteger('matrix', 'rows', rows);
  checkInteger('matrix', 'cols', cols);
  if (data === undefined) return { data: new Float64Array(rows * cols), rows, cols };
  if (!(data instanceof Float64Array) && !(data instanceof Float32Array))
    throw new TypeError(`matrix: data must be a Float64Array or Float32Array, got ${describeValue(data)}`);
  if (data.length !== rows * cols)
    throw new RangeError(`matrix: data has ${data.length} entries but a ${rows}x${cols} matrix needs ${rows * cols}`);
  return { data, rows, cols };
}

/**
 * A rows×cols matrix of zeros.
 * @example zeros(2, 2) // { data: Float64Array [0,0,0,0], rows: 2, cols: 2 }
 */
export function zeros(rows: number, cols: number): Matrix {
  return matrix(rows, cols);
}

/**
 * The n×n identity.
 * @example identity(3).data // [1,0,0, 0,1,0, 0,0,1]
 */
export function identity(n: number): Matrix {
  const m = matrix(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

/**
 * Build a matrix from nested arrays (rows of equal length).
 * @example fromRows([[1, 2], [3, 4]])
 */
export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  if (!Array.isArray(rows)) throw new TypeError(`fromRows: rows must be an array of arrays, got ${describeValue(rows)}`);
  const r = rows.length;
  const c = r === 0 ? 0 : (rows[0]?.length ?? 0);
  const m = matrix(r, c);
  rows.forEach((row, i) => {
    if (!Array.isArray(row)) throw new TypeError(`fromRows: rows[${i}] must be an array, got ${describeValue(row)}`);
    if (row.length !== c) throw new RangeError(`fromRows: rows[${i}] has ${row.length} entries, expected ${c}`);
    row.forEach((v, j) => {
      if (typeof v !== 'number') throw new TypeError(`fromRows: rows[${i}][${j}] must be a number, got ${describeValue(v)}`);
      m.data[i * c + j] = v;
    });
  });
  return m;
}

/**
 * Nested arrays of the rows (for printing and JSON).
 * @example toRows(identity(2)) // [[1, 0], [0, 1]]
 */
export function toRows(m: Matrix<Float64Array | Float32Array>): number[][] {
  checkMatrix('toRows', 'm', m, { dtype: 'any' });
  const out: number[][] = [];
  for (let i = 0; i < m.rows; i++) out.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

/**
 * A new matrix holding the transpose.
 * @example transpose(fromRows([[1, 2, 3]])) // 3×1
 */
export function transpose<T extends Float64Array | Float32Array>(m: Matrix<T>): Matrix<T> {
  checkMatrix('transpose', 'm', m, { dtype: 'any' });
  const out = new (m.data.constructor as { new (n: number): T })(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j];
  return { data: out, rows: m.cols, cols: m.rows };
}

/**
 * Entry (i, j).
 * @example get(fromRows([[1, 2], [3, 4]]), 1, 0) // 3
 */
export function get(m: Matrix<Float64Array | Float32Array>, i: number, j: number): number {
  checkInteger('get', 'i', i, 0, m.rows - 1);
  checkInteger('get', 'j', j, 0, m.cols - 1);
  return m.data[i * m.cols + j];
}

/**
 * True when `x` is a well-formed Matrix (typed data whose length is rows·cols).
 * @example isMatrix({ data: new Float64Array(4), rows: 2, cols: 2 }) // true
 */
export function isMatrix(x: unknown): x is Matrix<Float64Array | Float32Array> {
  if (x === null || typeof x !== 'object') return false;
  const m = x as Partial<Matrix<Float64Array | Float32Array>>;
  return (
    (m.data instanceof Float64Array || m.data instanceof Float32Array) &&
    Number.isSafeInteger(m.rows) && Number.isSafeInteger(m.cols) &&
    (m.rows as number) >= 0 && (m.cols as number) >= 0 &&
    m.data.length === (m.rows as number) * (m.cols as number)
  );
}

/**
 * Validate a matrix argument; throws TypeError/RangeError naming `fn: name`.
 * @example checkMatrix('myFn', 'A', A, { dtype: 'float64', square: true })
 */
export function checkMatrix(
  fn: string,
  name: string,
  x: unknown,
  opts: { dtype?: 'float64' | 'float32' | 'any'; square?: boolean; rows?: number; cols?: number; finite?: boolean } = {},
): Matrix<Float64Array | Float32Array> {
  if (x === null || typeof x !== 'object' || Array.isArray(x) || ArrayBuffer.isView(x))
    throw new TypeError(`${fn}: ${name} must be a matrix { data, rows, cols }, got ${describeValue(x)}`);
  const m = x as Partial<Matrix<Float64Array | Float32Array>>;
  const dtype = opts.dtype ?? 'float64';
  const okType =
    dtype === 'float64' ? m.data instanceof Float64Array
    : dtype === 'float32' ? m.data instanceof Float32Array
    : m.data instanceof Float64Array || m.data instanceof Float32Array;
  if (!okType) {
    const want = dtype === 'float64' ? 'a Float64Array' : dtype === 'float32' ? 'a Float32Array' : 'a Float64Array or Float32Array';
    throw new TypeError(`${fn}: ${name}.data must be ${want}, got ${describeValue(m.data)}`);
  }
  if (typeof m.rows !== 'number' || !Number.isSafeInteger(m.rows) || m.rows < 0)
    throw new (typeof m.rows === 'number' ? RangeError : TypeError)(`${fn}: ${name}.rows must be a non-negative integer, got ${describeValue(m.rows)}`);
  if (typeof m.cols !== 'number' || !Number.isSafeInteger(m.cols) || m.cols < 0)
    throw new (typeof m.cols === 'number' ? RangeError : TypeError)(`${fn}: ${name}.cols must be a non-negative integer, got ${describeValue(m.cols)}`);
  const data = m.data as Float64Array | Float32Array;
  if (data.length !== m.rows * m.cols)
    throw new RangeError(`${fn}: ${name}.data has ${data.length} entries but ${name} is ${m.rows}x${m.cols} (${m.rows * m.cols} entries)`);
  if (opts.square && m.rows !== m.cols) throw new RangeError(`${fn}: ${name} must be square, got ${m.rows}x${m.cols}`);
  if (opts.rows !== undefined && m.rows !== opts.rows) throw new RangeError(`${fn}: ${name} must have ${opts.rows} rows, got ${m.rows}`);
  if (opts.cols !== undefined && m.cols !== opts.cols) throw new RangeError(`${fn}: ${name} must have ${opts.cols} columns, got ${m.cols}`);
  if (opts.finite) {
    const i = firstNonFinite(data);
    if (i >= 0) throw new RangeError(`${fn}: ${name} must contain only finite values, got ${data[i]} at (${Math.floor(i / m.cols)}, ${i % m.cols})`);
  }
  return m as Matrix<Float64Array | Float32Array>;
}
