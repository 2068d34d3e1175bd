/**
 * A self-contained HTML report: one file with inline CSS and inline SVG plots, no scripts, and
 * no reference to anything outside the file (no `http://`, `https://` or protocol-relative `//`
 * anywhere in the output — the SVG plots are inlined without an `xmlns`, which HTML5 does not
 * need), so it opens the same offline, from an archive, or years later.
 *
 * @module report/html
 */

import { escapeXml, formatNumber } from './svg.js';
import { checkInteger, checkOptions, describeValue } from '../validate.js';

/**
 * A table in a report section; numeric cells are formatted with {@link formatNumber}.
 * @example
 * const t: ReportTable = { columns: ['k', 'λk'], rows: [[1, 0.52], [2, 0.21]] };
 */
export interface ReportTable {
  /** Header cells. */
  columns: string[];
  /** Rows of cells (each row as long as `columns`). */
  rows: (string | number)[][];
}

/**
 * One section of a report.
 * @example
 * const s: ReportSection = { id: 'loss', heading: 'Training loss', text: 'Mean over 8 networks.', plots: [svg] };
 */
export interface ReportSection {
  /** Anchor id: a letter, then letters, digits, `_` or `-`; unique within the report. */
  id: string;
  /** Section heading. */
  heading: string;
  /** Plain text; blank lines separate paragraphs. */
  text?: string;
  /** SVG strings from {@link linePlot}, inlined as they are. */
  plots?: string[];
  /** A table shown after the plots. */
  table?: ReportTable;
}

/**
 * Options of {@link renderReport}.
 * @example
 * renderReport({ title: 'speedlimits run', summary: ['Training reaches the speed limit after t ≈ 120.'], sections: [] });
 */
export interface ReportOptions {
  /** Page title and main heading. */
  title: string;
  /** A line under the title (e.g. the command and the date). */
  subtitle?: string;
  /** Findings, one sentence each, listed first. */
  summary: string[];
  /** The sections, in order (listed in a table of contents when there are two or more). */
  sections: ReportSection[];
  /**
   * Run details (versions, options, timings) shown in a final table and embedded as JSON in a
   * non-executable `<script type="application/json" id="sl-meta">` block.
   */
  meta?: Record<string, unknown>;
  /** Significant digits for numbers in tables and meta (1–17, default 4). */
  digits?: number;
}

const FN = 'renderReport';
const ID_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1b1f24; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header .subtitle { margin: 0 0 16px; color: #57606a; }
section { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
section h2 { margin: 0 0 10px; font-size: 19px; }
section p { margin: 0 0 10px; max-width: 80ch; }
.summary ul { margin: 0; padding-left: 20px; }
.summary li { margin: 4px 0; }
nav.toc { margin: 8px 0 0; font-size: 14px; }
nav.toc a { color: #0550ae; text-decoration: none; margin-right: 14px; white-space: nowrap; }
nav.toc a:hover { text-decoration: underline; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots svg.sl-plot { max-width: 100%; height: auto; border: 1px solid #eaeef2; border-radius: 4px; }
table { border-collapse: collapse; margin: 10px 0 0; font-size: 14px; }
th, td { border-bottom: 1px solid #eaeef2; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.meta td:first-child { color: #57606a; white-space: nowrap; }
table.meta td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; word-break: break-all; }
footer { color: #8c959f; font-size: 13px; text-align: center; margin-top: 24px; }
@media print { body { background: #fff; } section { border: none; break-inside: avoid; } }
`.trim();

function checkStr(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${FN}: ${name} must be a string, got ${describeValue(value)}`);
  return value;
}

function checkStrArray(name: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${FN}: ${name} must be an array of strings, got ${describeValue(value)}`);
  return value.map((v, i) => checkStr(`${name}[${i}]`, v));
}

function paragraphs(text: string): string {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => `<p>${escapeXml(p).replace(/\r?\n/g, '<br>')}</p>`)
    .join('\n');
}

function cell(v: unknown, digits: number, where: string): string {
  if (typeof v === 'number') return `<td class="num">${escapeXml(formatNumber(v, digits))}</td>`;
  if (typeof v === 'string') return `<td>${escapeXml(v)}</td>`;
  throw new TypeError(`${FN}: ${where} must be a string or a number, got ${describeValue(v)}`);
}

function metaValue(v: unknown, digits: number): string {
  if (typeof v === 'number') return `<td class="num">${escapeXml(formatNumber(v, digits))}</td>`;
  if (typeof v === 'string') return `<td>${escapeXml(v)}</td>`;
  return `<td>${escapeXml(safeJson(v) ?? String(v))}</td>`;
}

/** JSON with bigints as strings; undefined for values JSON cannot represent (functions…). */
function safeJson(v: unknown, indent?: number): string | undefined {
  const seen = new WeakSet<object>();
  return JSON.stringify(
    v,
    (_k, val: unknown) => {
      if (typeof val === 'bigint') return val.toString();
      if (typeof val === 'number' && !Number.isFinite(val)) return String(val);
      if (val !== null && typeof val === 'object') {
        if (seen.has(val)) return '[circular]';
        seen.add(val);
        if (ArrayBuffer.isView(val) && !(val instanceof DataView)) return Array.from(val as unknown as ArrayLike<number>);
      }
      return val;
    },
    indent,
  );
}

/**
 * Render a complete, self-contained HTML page: title, summary findings, table of contents,
 * sections (text, inline SVG plots, tables) and run details. Deterministic for the same input.
 *
 * All text is escaped; plots are inlined as given (they are expected to come from
 * {@link linePlot}), with any `xmlns` attribute removed.
 *
 * @param opts Title, optional subtitle, summary sentences, sections and `meta`.
 * @returns The HTML document as a string.
 * @throws {TypeError} If an option has the wrong type (a plot that is not an `<svg>` string, a
 *   table cell that is neither string nor number…).
 * @throws {RangeError} If a section id is not a plain identifier or is used twice, or a table
 *   row has the wrong number of cells.
 * @example
 * const html = renderReport({
 *   title: 'speedlimits run', subtitle: 'synthetic power-law task',
 *   summary: ['The measured 𝓔(t) joins the analytic curve after t ≈ 120.'],
 *   sections: [{ id: 'loss', heading: 'Loss', plots: [linePlot({ … })] }],
 *   meta: { version: '0.1.0', seconds: 61.2 },
 * });
 */
export function renderReport(opts: ReportOptions): string {
  const o = checkOptions<ReportOptions>(FN, opts, 'opts');
  const title = checkStr('title', o.title);
  const subtitle = o.subtitle === undefined ? undefined : checkStr('subtitle', o.subtitle);
  const summary = checkStrArray('summary', o.summary);
  const digits = o.digits === undefined ? 4 : checkInteger(FN, 'digits', o.digits, 1, 17);
  if (!Array.isArray(o.sections)) throw new TypeError(`${FN}: sections must be an array, got ${describeValue(o.sections)}`);
  const reserved = new Set(['summary', 'run-details']);
  const ids = new Set<string>();

  const sectionHtml: string[] = [];
  const toc: string[] = [];
  o.sections.forEach((raw: unknown, i) => {
    const where = `sections[${i}]`;
    const s = checkOptions<ReportSection>(FN, raw, where);
    const id = checkStr(`${where}.id`, s.id);
    if (!ID_RE.test(id)) throw new RangeError(`${FN}: ${where}.id must start with a letter and contain only letters, digits, '_' and '-', got ${JSON.stringify(id)}`);
    if (ids.has(id) || reserved.has(id)) throw new RangeError(`${FN}: ${where}.id ${JSON.stringify(id)} is ${reserved.has(id) ? 'reserved' : 'used twice'}`);
    ids.add(id);
    const heading = checkStr(`${where}.heading`, s.heading);
    const parts: string[] = [`<section id="${id}">`, `<h2>${escapeXml(heading)}</h2>`];
    if (s.text !== undefined) parts.push(paragraphs(checkStr(`${where}.text`, s.text)));
    if (s.plots !== undefined) {
      const plots = checkStrArray(`${where}.plots`, s.plots);
      plots.forEach((p, k) => {
        if (!/^\s*<svg[\s>]/.test(p)) throw new TypeError(`${FN}: ${where}.plots[${k}] must be an <svg> string (from linePlot), got ${describeValue(p)}`);
      });
      if (plots.length > 0)
        parts.push(`<div class="plots">\n${plots.map((p) => p.trim().replace(/^<svg\b[^>]*>/, (tag) => tag.replace(/\s+xmlns(:\w+)?="[^"]*"/g, ''))).join('\n')}\n</div>`);
    }
    if (s.table !== undefined) {
      const t = checkOptions<ReportTable>(FN, s.table, `${where}.table`);
      const columns = checkStrArray(`${where}.table.columns`, t.columns);
      if (!Array.isArray(t.rows)) throw new TypeError(`${FN}: ${where}.table.rows must be an array of rows, got ${describeValue(t.rows)}`);
      const body = t.rows.map((row: unknown, r) => {
        if (!Array.isArray(row)) throw new TypeError(`${FN}: ${where}.table.rows[${r}] must be an array, got ${describeValue(row)}`);
        if (row.length !== columns.length)
          throw new RangeError(`${FN}: ${where}.table.rows[${r}] has ${row.length} cells but there are ${columns.length} columns`);
        return `<tr>${row.map((v, k) => cell(v, digits, `${where}.table.rows[${r}][${k}]`)).join('')}</tr>`;
      });
      parts.push(`<table>\n<thead><tr>${columns.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`);
    }
    parts.push(`</section>`);
    sectionHtml.push(parts.join('\n'));
    toc.push(`<a href="#${id}">${escapeXml(heading)}</a>`);
  });

  let metaHtml = '';
  if (o.meta !== undefined) {
    if (o.meta === null || typeof o.meta !== 'object' || Array.isArray(o.meta))
      throw new TypeError(`${FN}: meta must be an object, got ${describeValue(o.meta)}`);
    const entries = Object.entries(o.meta);
    const rows = entries.map(([k, v]) => `<tr><td>${escapeXml(k)}</td>${metaValue(v, digits)}</tr>`);
    // JSON in a data block: '<' and '/' escaped so that neither '</script>' nor '//' can occur.
    const json = (safeJson(o.meta, 1) ?? '{}').replace(/</g, '\\u003c').replace(/\//g, '\\/');
    metaHtml =
      `<section id="run-details">\n<h2>Run details</h2>\n<table class="meta">\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>\n` +
      `<script type="application/json" id="sl-meta">${json}</script>\n</section>`;
  }

  const summaryHtml =
    `<section id="summary" class="summary">\n<h2>Summary</h2>\n` +
    (summary.length > 0 ? `<ul>\n${summary.map((s) => `<li>${escapeXml(s)}</li>`).join('\n')}\n</ul>` : `<p>No findings.</p>`) +
    (toc.length >= 2 ? `\n<nav class="toc">${toc.join('')}</nav>` : '') +
    `\n</section>`;

  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<header>\n<h1>${escapeXml(title)}</h1>${subtitle !== undefined ? `\n<p class="subtitle">${escapeXml(subtitle)}</p>` : ''}\n</header>`,
    summaryHtml,
    ...sectionHtml,
    ...(metaHtml ? [metaHtml] : []),
    '<footer>Generated by speedlimits. This file is self-contained: it loads nothing from anywhere else.</footer>',
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
