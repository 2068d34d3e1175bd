/**
 * CSV text for report series, and writing a report's files atomically.
 *
 * CSV follows RFC 4180: a header row, one record per row, fields containing a comma, a double
 * quote, CR or LF (or leading/trailing spaces) enclosed in double quotes with inner quotes
 * doubled. Numbers are written in JavaScript's shortest round-trip form (`String(x)`, with `-0`
 * kept as `-0`, and `NaN`, `Infinity`, `-Infinity` spelled out) so reading them back with
 * `Number()` (or NumPy/pandas) gives the same doubles bit for bit.
 *
 * @module report/csv
 */

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { ioError, writeFileAtomic, writeTextAtomic } from '../atomic.js';
import { checkEnum, checkOptions, describeValue } from '../validate.js';

/**
 * Options of {@link toCsv}.
 * @example
 * toCsv({ t: [1, 2] }, { newline: '\r\n' });
 */
export interface CsvOptions {
  /** Record separator: `'\n'` (default) or `'\r\n'` (the RFC's CRLF). */
  newline?: '\n' | '\r\n';
}

function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function csvNumber(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/**
 * Format named columns as CSV text: a header with the column names (in the object's key order),
 * then one line per row, ending with a newline. An empty object gives `''`.
 *
 * @param columns Column name → values (array or typed array of numbers and/or strings); all
 *   columns must have the same length.
 * @param options `newline` (default `'\n'`).
 * @returns The CSV text.
 * @throws {TypeError} If a column is not array-like or holds something other than numbers/strings.
 * @throws {RangeError} If the columns have different lengths.
 * @example
 * toCsv({ step: [0, 10], loss: new Float64Array([0.5, 0.125]) })
 * // 'step,loss\n0,0.5\n10,0.125\n'
 */
export function toCsv(columns: Record<string, ArrayLike<number | string>>, options?: CsvOptions): string {
  const fn = 'toCsv';
  if (columns === null || typeof columns !== 'object' || Array.isArray(columns))
    throw new TypeError(`${fn}: columns must be an object of column name → values, got ${describeValue(columns)}`);
  const o = checkOptions<CsvOptions>(fn, options);
  const nl = o.newline === undefined ? '\n' : checkEnum(fn, 'options.newline', o.newline, ['\n', '\r\n'] as const);
  const names = Object.keys(columns);
  if (names.length === 0) return '';
  const cols = names.map((name) => {
    const col = columns[name] as unknown;
    if (col === null || typeof col !== 'object' || typeof (col as { length?: unknown }).length !== 'number')
      throw new TypeError(`${fn}: column '${name}' must be an array or typed array, got ${describeValue(col)}`);
    return col as ArrayLike<unknown>;
  });
  const rows = cols[0].length;
  cols.forEach((col, k) => {
    if (col.length !== rows)
      throw new RangeError(`${fn}: all columns must have the same length; '${names[0]}' has ${rows} values but '${names[k]}' has ${col.length}`);
  });
  const lines: string[] = [names.map(csvField).join(',')];
  for (let i = 0; i < rows; i++) {
    const fields: string[] = new Array(cols.length);
    for (let k = 0; k < cols.length; k++) {
      const v = cols[k][i];
      if (typeof v === 'number') fields[k] = csvNumber(v);
      else if (typeof v === 'string') fields[k] = csvField(v);
      else throw new TypeError(`${fn}: column '${names[k]}' must hold numbers or strings, got ${describeValue(v)} at row ${i}`);
    }
    lines.push(fields.join(','));
  }
  return lines.join(nl) + nl;
}

/**
 * Create `dir` (and its parents) and write every file into it atomically (temporary file in the
 * same directory, fsync, rename), in the key order of `files`. Names are relative paths with `/`
 * separators (subdirectories are created); absolute paths, `..` and empty segments are refused.
 *
 * @param dir The output directory.
 * @param files Relative file name → contents (a string is written as UTF-8).
 * @returns The absolute paths written, in order.
 * @throws {TypeError} If `dir` is not a string or a content is neither a string nor a Uint8Array.
 * @throws {RangeError} If a file name is not a plain relative path.
 * @throws {SpeedlimitsError} `'ERR_IO'` if the directory cannot be created or a file written
 *   (files written before the failure stay; no temporary file is left).
 * @example
 * await writeReportFiles('speedlimits-report', { 'report.html': html, 'loss.csv': toCsv({ t, loss }) });
 */
export async function writeReportFiles(dir: string, files: Record<string, string | Uint8Array>): Promise<string[]> {
  const fn = 'writeReportFiles';
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`${fn}: dir must be a non-empty string, got ${describeValue(dir)}`);
  if (files === null || typeof files !== 'object' || Array.isArray(files))
    throw new TypeError(`${fn}: files must be an object of file name → contents, got ${describeValue(files)}`);
  const root = nodePath.resolve(dir);
  const plan: Array<{ target: string; content: string | Uint8Array }> = [];
  for (const [name, content] of Object.entries(files)) {
    const segments = name.split('/');
    if (name.length === 0 || nodePath.isAbsolute(name) || name.includes('\\') || name.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..'))
      throw new RangeError(`${fn}: file name must be a relative path without '.', '..' or empty segments, got ${JSON.stringify(name)}`);
    if (typeof content !== 'string' && !(content instanceof Uint8Array))
      throw new TypeError(`${fn}: contents of '${name}' must be a string or a Uint8Array, got ${describeValue(content)}`);
    plan.push({ target: nodePath.join(root, ...segments), content });
  }
  const made = new Set<string>();
  const mkdir = async (d: string): Promise<void> => {
    if (made.has(d)) return;
    try {
      await fs.promises.mkdir(d, { recursive: true });
    } catch (e) {
      throw ioError(fn, d, 'create the directory', e);
    }
    made.add(d);
  };
  await mkdir(root);
  const written: string[] = [];
  for (const { target, content } of plan) {
    await mkdir(nodePath.dirname(target));
    if (typeof content === 'string') await writeTextAtomic(fn, target, content);
    else await writeFileAtomic(fn, target, [content]);
    written.push(target);
  }
  return written;
}
