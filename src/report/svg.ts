/**
 * Line plots as self-contained SVG strings: no scripts, no fonts or images to fetch, no external
 * references of any kind, and byte-for-byte deterministic output for the same input.
 *
 * Axes are linear or logarithmic. Linear axes get "nice" 1-2-5 tick steps; log axes get one
 * tick per decade labelled 10^k (every few decades when the range is wide, with unlabelled minor
 * ticks at 2…9·10^k when it is narrow). Points that cannot be drawn — non-finite coordinates, or
 * values ≤ 0 on a log axis — are dropped and counted; a line is broken where a point was
 * dropped.
 *
 * The output carries attributes a test (or a browser) can check: the root is
 * `<svg class="sl-plot" data-plot-id="…" data-dropped="…">`, and every series is a
 * `<path data-series="name" data-points="N" data-dropped="M">` (styles `'line'`, `'dashed'`) or a
 * `<g data-series="name" data-points="N" data-dropped="M">` of `<circle>`s (style `'points'`),
 * where N is the number of points plotted. Tick groups carry `data-value`.
 *
 * @module report/svg
 */

import { checkEnum, checkFinite, checkInteger, checkOptions, describeValue } from '../validate.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** Axis scale. */
export type AxisScale = 'linear' | 'log';

/** How a series is drawn: a solid line, a dashed line, or markers only. */
export type SeriesStyle = 'line' | 'dashed' | 'points';

/**
 * One data series of a {@link linePlot}.
 * @example
 * const s: PlotSeries = { name: 'train loss', x: steps, y: loss, style: 'line' };
 */
export interface PlotSeries {
  /** Legend entry and the value of the series' `data-series` attribute. */
  name: string;
  /** x coordinates (same length as `y`). */
  x: ArrayLike<number>;
  /** y coordinates (same length as `x`). */
  y: ArrayLike<number>;
  /** `'line'` (default), `'dashed'` or `'points'`. */
  style?: SeriesStyle;
  /**
   * A CSS color: `#rgb`, `#rrggbb`, `#rrggbbaa`, a named color (`'teal'`), or `rgb()/rgba()/hsl()/hsla()`
   * with numeric arguments. Defaults to the next color of a color-blind-safe palette.
   */
  color?: string;
}

/**
 * A vertical marker line across the plot at `x` with a short label (e.g. a regime boundary).
 * @example
 * const a: PlotAnnotation = { x: 120, label: 'optimal regime starts' };
 */
export interface PlotAnnotation {
  /** Position on the x axis (in data units). Markers outside the x domain are not drawn. */
  x: number;
  /** Label drawn along the line. */
  label: string;
}

/**
 * Options of {@link linePlot}.
 * @example
 * linePlot({ id: 'loss', title: 'Loss', xLabel: 'step', yLabel: 'loss', xScale: 'log', yScale: 'log',
 *            series: [{ name: 'GD', x: t, y: loss }] });
 */
export interface LinePlotOptions {
  /** Identifier: letters, digits, `_` and `-`, starting with a letter; unique within a report. */
  id: string;
  /** Title drawn above the plot. */
  title: string;
  /** Label of the x axis. */
  xLabel: string;
  /** Label of the y axis. */
  yLabel: string;
  /** Scale of the x axis. */
  xScale: AxisScale;
  /** Scale of the y axis. */
  yScale: AxisScale;
  /** The data. An empty list (or series with no drawable point) gives axes and a "no data" note. */
  series: readonly PlotSeries[];
  /** Width in pixels (default 640, at least 240). */
  width?: number;
  /** Height in pixels (default 400, at least 180). */
  height?: number;
  /** Fixed x range `[min, max]` (min < max; both > 0 on a log axis); default: from the data, rounded out to ticks. */
  xDomain?: readonly [number, number];
  /** Fixed y range `[min, max]`; as `xDomain`. */
  yDomain?: readonly [number, number];
  /** Vertical marker lines. */
  annotations?: readonly PlotAnnotation[];
}

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

const XML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '/': '&#47;',
};

/**
 * Escape text for XML/HTML content and attribute values: `& < > " '`, and also `/` (as `&#47;`)
 * so that no user text can put a URL-like `//` sequence into a report. Characters that XML 1.0
 * forbids (C0 controls other than tab/newline/CR, lone surrogates, U+FFFE/U+FFFF) become U+FFFD.
 * @example
 * escapeXml('a < b & "c"') // 'a &lt; b &amp; &quot;c&quot;'
 */
export function escapeXml(text: string): string {
  if (typeof text !== 'string') throw new TypeError(`escapeXml: text must be a string, got ${describeValue(text)}`);
  return text
    .replace(/[&<>"'/]/g, (c) => XML_ESCAPES[c])
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Format a number for display with `digits` significant digits (1–17, default 4): integers below
 * 10^6 in magnitude are written exactly, other values in fixed notation when
 * 10^-3 ≤ |x| < 10^6 and in exponent notation (`1.23e-5`) otherwise, without trailing zeros.
 * Non-finite values are `'NaN'`, `'Infinity'`, `'-Infinity'`.
 * @example
 * formatNumber(Math.PI, 3)   // '3.14'
 * formatNumber(0.000012345)  // '1.235e-5'
 * formatNumber(1234567, 3)   // '1.23e6'
 * formatNumber(42)           // '42'
 */
export function formatNumber(x: number, digits = 4): string {
  if (typeof x !== 'number') throw new TypeError(`formatNumber: x must be a number, got ${describeValue(x)}`);
  checkInteger('formatNumber', 'digits', digits, 1, 17);
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return '0';
  const ax = Math.abs(x);
  if (Number.isInteger(x) && ax < 1e6) return String(x);
  // Round first: 999999.7 with 4 digits is 1.000e6 and must switch to exponent notation.
  const rounded = Number(x.toPrecision(digits));
  const ar = Math.abs(rounded);
  if (ar >= 1e-3 && ar < 1e6) return stripZeros(rounded.toPrecision(digits));
  const [mant, exp] = rounded.toExponential(digits - 1).split('e');
  return `${stripZeros(mant)}e${exp.startsWith('+') ? exp.slice(1) : exp}`;
}

function stripZeros(s: string): string {
  if (!s.includes('.') || s.includes('e')) return s;
  return s.replace(/\.?0+$/, '');
}

// ---------------------------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------------------------

/** A tick: its position (data units), its label (SVG markup, already escaped) and whether it is major. */
interface Tick {
  value: number;
  label: string;
  major: boolean;
}

interface Axis {
  scale: AxisScale;
  min: number;
  max: number;
  ticks: Tick[];
}

/** The 1-2-5·10^k step closest to range / target from above. */
function niceStep(range: number, target: number): number {
  const raw = range / target;
  const p = pow10(Math.floor(Math.log10(raw)));
  const f = raw / p;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return m * p;
}

function linearTickLabel(v: number, step: number): string {
  if (v === 0) return '0';
  const av = Math.abs(v);
  if (av >= 1e6 || av < 1e-4) return formatNumber(v, Math.max(1, Math.min(17, Math.round(Math.log10(av / step)) + 1)));
  const decimals = Math.max(0, Math.min(20, -Math.floor(Math.log10(step) + 1e-9)));
  const s = v.toFixed(decimals);
  return s === '-0' ? '0' : s;
}

function linearAxis(min: number, max: number, fixed: boolean, target: number): Axis {
  let lo = min;
  let hi = max;
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.5;
    lo -= pad;
    hi += pad;
  }
  // (hi/2 - lo/2 stays finite even for ±1.7e308.)
  const step = niceStep(hi / 2 - lo / 2, target / 2);
  if (!fixed) {
    // Round the data range out to whole steps (with a little slack for floating-point noise).
    lo = Math.max(-Number.MAX_VALUE, Math.floor(lo / step + 1e-9) * step);
    hi = Math.min(Number.MAX_VALUE, Math.ceil(hi / step - 1e-9) * step);
  }
  const ticks: Tick[] = [];
  const i0 = Math.ceil(lo / step - 1e-9);
  const i1 = Math.floor(hi / step + 1e-9);
  for (let i = i0; i <= i1 && ticks.length < 100; i++) {
    const v = Number((i * step).toPrecision(12));
    ticks.push({ value: v, label: escapeXml(linearTickLabel(v, step)), major: true });
  }
  return { scale: 'linear', min: lo, max: hi, ticks };
}

/** 10^k as the double nearest the decimal value (Math.pow(10, -4) is 0.00009999999999999999). */
function pow10(k: number): number {
  return Number(`1e${k}`);
}

function decadeLabel(k: number): string {
  if (k === 0) return '1';
  if (k === 1) return '10';
  return `10<tspan dy="-0.45em" font-size="0.75em">${k < 0 ? '\u2212' + -k : k}</tspan>`;
}

function logAxis(min: number, max: number, fixed: boolean): Axis {
  let lo = min;
  let hi = max;
  const inner0 = Math.ceil(Math.log10(lo) - 1e-9);
  const inner1 = Math.floor(Math.log10(hi) + 1e-9);
  if (!fixed && inner1 - inner0 >= 1 && Math.log10(hi) - Math.log10(lo) < 600) {
    // At least two decades inside the data: keep the data range, padded by 4 % on each side
    // (rounding out to whole decades could waste most of the plot).
    const pad = 0.04 * (Math.log10(hi) - Math.log10(lo));
    lo = Math.max(Number.MIN_VALUE, Math.pow(10, Math.log10(lo) - pad));
    hi = Math.min(Number.MAX_VALUE, Math.pow(10, Math.log10(hi) + pad));
  } else if (!fixed) {
    let k0 = Math.floor(Math.log10(lo) + 1e-12);
    let k1 = Math.ceil(Math.log10(hi) - 1e-12);
    if (k1 <= k0) {
      // Only when all values equal one power of ten: centre it in two decades.
      k0 -= 1;
      k1 = k0 + 2;
    }
    // Keep the bounds representable (1e-323 is the smallest power of ten that is not 0).
    lo = pow10(Math.max(-323, k0));
    hi = pow10(Math.min(308, k1));
  }
  const k0 = Math.ceil(Math.log10(lo) - 1e-9);
  const k1 = Math.floor(Math.log10(hi) + 1e-9);
  const decades = k1 - k0;
  const ticks: Tick[] = [];
  if (decades >= 1) {
    // Label every decade, or every 2nd, 5th, 10th… so that at most about 8 labels are drawn,
    // always including 10^0 when it is in range.
    const every = [1, 2, 5, 10, 20, 50, 100].find((e) => decades / e <= 8) ?? 200;
    for (let k = k0; k <= k1; k++) {
      const labelled = k % every === 0;
      if (!labelled && decades > 40) continue;
      ticks.push({ value: pow10(k), label: labelled ? decadeLabel(k) : '', major: labelled });
    }
    if (decades <= 4) {
      for (let k = k0 - 1; k <= k1; k++) {
        for (let m = 2; m <= 9; m++) {
          const v = Number((m * pow10(k)).toPrecision(12));
          if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) ticks.push({ value: v, label: '', major: false });
        }
      }
    }
  } else {
    // Less than a decade between the bounds (only possible with a fixed domain): 1-2-5 ticks.
    for (let k = Math.floor(Math.log10(lo)) ; k <= Math.ceil(Math.log10(hi)); k++) {
      for (const m of [1, 2, 5]) {
        const v = Number((m * pow10(k)).toPrecision(12));
        if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) ticks.push({ value: v, label: escapeXml(formatNumber(v, 3)), major: true });
      }
    }
    if (ticks.length < 2) {
      const lin = linearAxis(lo, hi, true, 4);
      return { scale: 'log', min: lo, max: hi, ticks: lin.ticks.filter((t) => t.value > 0) };
    }
  }
  return { scale: 'log', min: lo, max: hi, ticks };
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

const FN = 'linePlot';
const ID_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;
const COLOR_RE =
  /^(#[0-9a-fA-F]{3,4}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|[a-zA-Z]{3,30}|(rgb|rgba|hsl|hsla)\(\s*[-+0-9.%]+(\s*[,\s/]\s*[-+0-9.%]+){2,3}\s*\))$/;

/** Colorblind-safe palette (Okabe & Ito), black last. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${FN}: ${name} must be a string, got ${describeValue(value)}`);
  return value;
}

function checkArrayLike(name: string, value: unknown): ArrayLike<number> {
  if (value === null || typeof value !== 'object' || typeof (value as { length?: unknown }).length !== 'number')
    throw new TypeError(`${FN}: ${name} must be an array or typed array of numbers, got ${describeValue(value)}`);
  return value as ArrayLike<number>;
}

function checkDomain(name: string, value: unknown, scale: AxisScale): [number, number] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length !== 2)
    throw new TypeError(`${FN}: ${name} must be a [min, max] pair, got ${describeValue(value)}`);
  const lo = checkFinite(FN, `${name}[0]`, value[0]);
  const hi = checkFinite(FN, `${name}[1]`, value[1]);
  if (!(hi > lo)) throw new RangeError(`${FN}: ${name} must have min < max, got [${lo}, ${hi}]`);
  if (scale === 'log' && !(lo > 0)) throw new RangeError(`${FN}: ${name} must be positive on a log axis, got [${lo}, ${hi}]`);
  return [lo, hi];
}

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

/** A coordinate with at most two decimals, clamped so far-out points cannot produce huge strings. */
function c(v: number): string {
  const r = Math.round(Math.min(1e6, Math.max(-1e6, v)) * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function approxTextWidth(text: string, fontSize: number): number {
  return [...text].length * fontSize * 0.58;
}

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join('') + '\u2026';
}

interface PreparedSeries {
  name: string;
  style: SeriesStyle;
  color: string;
  xs: number[];
  ys: number[];
  /** Indices in xs/ys where a new line segment starts (after a dropped point). */
  breaks: Set<number>;
  dropped: number;
}

/**
 * Draw a line plot as a self-contained SVG string (see the module comment for the attributes
 * it carries).
 *
 * @param opts Plot description: `id`, `title`, axis labels and scales, `series`, optional size,
 *   fixed domains and vertical `annotations`.
 * @returns The `<svg>` element as a string, ready to inline in HTML.
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If `id` is not a plain identifier, `x` and `y` of a series differ in
 *   length, a domain is empty (or not positive on a log axis), a color is not a plain CSS color,
 *   or the size is too small.
 * @example
 * const svg = linePlot({
 *   id: 'spectrum', title: 'NTK spectrum', xLabel: 'k', yLabel: 'λk', xScale: 'log', yScale: 'log',
 *   series: [{ name: 'λk', x: ks, y: eigenvalues, style: 'points' }],
 *   annotations: [{ x: 50, label: 'k*' }],
 * });
 */
export function linePlot(opts: LinePlotOptions): string {
  const o = checkOptions<LinePlotOptions>(FN, opts, 'opts');
  const id = checkString('id', o.id);
  if (!ID_RE.test(id)) throw new RangeError(`${FN}: id must start with a letter and contain only letters, digits, '_' and '-', got ${JSON.stringify(id)}`);
  const title = checkString('title', o.title);
  const xLabel = checkString('xLabel', o.xLabel);
  const yLabel = checkString('yLabel', o.yLabel);
  const xScale = checkEnum(FN, 'xScale', o.xScale, ['linear', 'log'] as const);
  const yScale = checkEnum(FN, 'yScale', o.yScale, ['linear', 'log'] as const);
  const width = o.width === undefined ? 640 : checkInteger(FN, 'width', o.width, 240, 10000);
  const height = o.height === undefined ? 400 : checkInteger(FN, 'height', o.height, 180, 10000);
  const xDomain = checkDomain('xDomain', o.xDomain, xScale);
  const yDomain = checkDomain('yDomain', o.yDomain, yScale);
  if (!Array.isArray(o.series)) throw new TypeError(`${FN}: series must be an array, got ${describeValue(o.series)}`);
  const annotations = o.annotations ?? [];
  if (!Array.isArray(annotations)) throw new TypeError(`${FN}: annotations must be an array, got ${describeValue(annotations)}`);
  const notes = annotations.map((a: unknown, i) => {
    const an = checkOptions<PlotAnnotation>(FN, a, `annotations[${i}]`);
    return { x: checkFinite(FN, `annotations[${i}].x`, an.x), label: checkString(`annotations[${i}].label`, an.label) };
  });

  // ---- series: validate, drop undrawable points -------------------------------------------
  const prepared: PreparedSeries[] = o.series.map((s: unknown, i): PreparedSeries => {
    const so = checkOptions<PlotSeries>(FN, s, `series[${i}]`);
    const name = checkString(`series[${i}].name`, so.name);
    const x = checkArrayLike(`series[${i}].x`, so.x);
    const y = checkArrayLike(`series[${i}].y`, so.y);
    if (x.length !== y.length)
      throw new RangeError(`${FN}: series[${i}] ('${name}') has ${x.length} x values but ${y.length} y values`);
    const style = so.style === undefined ? 'line' : checkEnum(FN, `series[${i}].style`, so.style, ['line', 'dashed', 'points'] as const);
    let color = PALETTE[i % PALETTE.length];
    if (so.color !== undefined) {
      color = checkString(`series[${i}].color`, so.color);
      if (!COLOR_RE.test(color)) throw new RangeError(`${FN}: series[${i}].color must be a plain CSS color (#hex, a name, rgb()/hsl()), got ${JSON.stringify(color)}`);
    }
    const xs: number[] = [];
    const ys: number[] = [];
    const breaks = new Set<number>();
    let dropped = 0;
    let broken = false;
    for (let j = 0; j < x.length; j++) {
      const xv = x[j];
      const yv = y[j];
      const ok =
        typeof xv === 'number' && typeof yv === 'number' && Number.isFinite(xv) && Number.isFinite(yv) &&
        (xScale !== 'log' || xv > 0) && (yScale !== 'log' || yv > 0);
      if (!ok) {
        dropped++;
        broken = true;
        continue;
      }
      if (broken && xs.length > 0) breaks.add(xs.length);
      broken = false;
      xs.push(xv);
      ys.push(yv);
    }
    return { name, style, color, xs, ys, breaks, dropped };
  });

  const totalPoints = prepared.reduce((n, s) => n + s.xs.length, 0);
  const totalDropped = prepared.reduce((n, s) => n + s.dropped, 0);

  // ---- axes ---------------------------------------------------------------------------------
  const extent = (key: 'xs' | 'ys', scale: AxisScale): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of prepared) for (const v of s[key]) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo > hi) return scale === 'log' ? [1, 10] : [0, 1];
    return [lo, hi];
  };
  const xe = xDomain ?? extent('xs', xScale);
  const ye = yDomain ?? extent('ys', yScale);
  // Without data the default domains ([0, 1] or [1, 10]) are used as they are.
  const xFixed = xDomain !== undefined || totalPoints === 0;
  const yFixed = yDomain !== undefined || totalPoints === 0;
  const xAxis = xScale === 'log' ? logAxis(xe[0], xe[1], xFixed) : linearAxis(xe[0], xe[1], xFixed, Math.max(3, Math.round(width / 110)));
  const yAxis = yScale === 'log' ? logAxis(ye[0], ye[1], yFixed) : linearAxis(ye[0], ye[1], yFixed, Math.max(3, Math.round(height / 70)));

  // ---- layout -------------------------------------------------------------------------------
  const FONT = 12;
  const legendNames = prepared.map((s) => truncate(s.name, 28));
  const legendWidth = prepared.length === 0 ? 0 : Math.min(220, 34 + Math.max(...legendNames.map((n) => approxTextWidth(n, FONT))));
  const yTickWidth = Math.max(24, ...yAxis.ticks.filter((t) => t.major).map((t) => approxTextWidth(t.label.replace(/<[^>]*>/g, '').replace(/&[^;]+;/g, 'x'), FONT - 1)));
  const margin = { top: 40, right: 16 + (legendWidth > 0 ? legendWidth + 12 : 0), bottom: 52, left: 30 + yTickWidth };
  const pw = Math.max(40, width - margin.left - margin.right);
  const ph = Math.max(40, height - margin.top - margin.bottom);
  const x0 = margin.left;
  const y0 = margin.top;

  const tx = (a: Axis, v: number, len: number): number =>
    a.scale === 'log' ? ((Math.log10(v) - Math.log10(a.min)) / (Math.log10(a.max) - Math.log10(a.min))) * len : ((v / 2 - a.min / 2) / (a.max / 2 - a.min / 2)) * len;
  const px = (v: number): number => x0 + tx(xAxis, v, pw);
  const py = (v: number): number => y0 + ph - tx(yAxis, v, ph);

  const out: string[] = [];
  const clipId = `sl-clip-${id}`;
  out.push(
    `<svg class="sl-plot" data-plot-id="${escapeXml(id)}" data-dropped="${totalDropped}" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="sans-serif" font-size="${FONT}">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect class="sl-bg" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  // The clip region extends 3 px beyond the frame so that markers and lines on the edge stay whole.
  out.push(`<defs><clipPath id="${clipId}"><rect x="${c(x0 - 3)}" y="${c(y0 - 3)}" width="${c(pw + 6)}" height="${c(ph + 6)}"/></clipPath></defs>`);

  // grid and ticks
  const grid: string[] = [];
  const ticks: string[] = [];
  for (const t of xAxis.ticks) {
    const X = c(px(t.value));
    grid.push(`<line x1="${X}" y1="${c(y0)}" x2="${X}" y2="${c(y0 + ph)}" stroke="${t.major ? '#e3e3e3' : '#f2f2f2'}"/>`);
    ticks.push(
      `<g class="sl-tick sl-xtick${t.major ? '' : ' sl-minor'}" data-value="${t.value}">` +
        `<line x1="${X}" y1="${c(y0 + ph)}" x2="${X}" y2="${c(y0 + ph + (t.major ? 5 : 3))}" stroke="#333"/>` +
        (t.label ? `<text x="${X}" y="${c(y0 + ph + 18)}" text-anchor="middle" fill="#333">${t.label}</text>` : '') +
        `</g>`,
    );
  }
  for (const t of yAxis.ticks) {
    const Y = c(py(t.value));
    grid.push(`<line x1="${c(x0)}" y1="${Y}" x2="${c(x0 + pw)}" y2="${Y}" stroke="${t.major ? '#e3e3e3' : '#f2f2f2'}"/>`);
    ticks.push(
      `<g class="sl-tick sl-ytick${t.major ? '' : ' sl-minor'}" data-value="${t.value}">` +
        `<line x1="${c(x0 - (t.major ? 5 : 3))}" y1="${Y}" x2="${c(x0)}" y2="${Y}" stroke="#333"/>` +
        (t.label ? `<text x="${c(x0 - 8)}" y="${Y}" dy="0.35em" text-anchor="end" fill="#333">${t.label}</text>` : '') +
        `</g>`,
    );
  }
  out.push(`<g class="sl-grid">${grid.join('')}</g>`);

  // annotations (under the data)
  const annot: string[] = [];
  for (const a of notes) {
    if (xScale === 'log' && !(a.x > 0)) continue;
    if (a.x < xAxis.min || a.x > xAxis.max) continue;
    const X = c(px(a.x));
    annot.push(
      `<g class="sl-annotation" data-x="${a.x}">` +
        `<line x1="${X}" y1="${c(y0)}" x2="${X}" y2="${c(y0 + ph)}" stroke="#777" stroke-dasharray="2 3"/>` +
        `<text x="${c(Number(X) + 4)}" y="${c(y0 + 4)}" transform="rotate(90 ${c(Number(X) + 4)} ${c(y0 + 4)})" font-size="${FONT - 2}" fill="#555">${escapeXml(truncate(a.label, 40))}</text>` +
        `</g>`,
    );
  }
  if (annot.length > 0) out.push(`<g class="sl-annotations">${annot.join('')}</g>`);

  // data
  out.push(`<g class="sl-data" clip-path="url(#${clipId})">`);
  for (const s of prepared) {
    const attrs = `data-series="${escapeXml(s.name)}" data-points="${s.xs.length}" data-dropped="${s.dropped}"`;
    if (s.style === 'points') {
      const circles = s.xs.map((xv, j) => `<circle cx="${c(px(xv))}" cy="${c(py(s.ys[j]))}" r="2.5"/>`).join('');
      out.push(`<g ${attrs} fill="${s.color}" stroke="none">${circles}</g>`);
    } else {
      const d: string[] = [];
      const n = s.xs.length;
      for (let j = 0; j < n; j++) {
        const xy = `${c(px(s.xs[j]))} ${c(py(s.ys[j]))}`;
        const starts = j === 0 || s.breaks.has(j);
        d.push(`${starts ? 'M' : 'L'}${xy}`);
        // A lone point (a subpath of one point) is drawn as a zero-length segment: a round dot.
        if (starts && (j + 1 === n || s.breaks.has(j + 1))) d.push(`L${xy}`);
      }
      const dash = s.style === 'dashed' ? ' stroke-dasharray="6 4"' : '';
      out.push(`<path ${attrs} d="${d.join('')}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round"${dash}/>`);
    }
  }
  out.push(`</g>`);

  // axes frame, ticks, labels
  out.push(`<rect class="sl-frame" x="${c(x0)}" y="${c(y0)}" width="${c(pw)}" height="${c(ph)}" fill="none" stroke="#333"/>`);
  out.push(`<g class="sl-ticks">${ticks.join('')}</g>`);
  out.push(`<text class="sl-title" x="${c(x0 + pw / 2)}" y="22" text-anchor="middle" font-size="${FONT + 3}" font-weight="bold" fill="#111">${escapeXml(title)}</text>`);
  out.push(`<text class="sl-xlabel" x="${c(x0 + pw / 2)}" y="${c(height - 12)}" text-anchor="middle" fill="#111">${escapeXml(xLabel)}</text>`);
  const ylx = 14;
  const yly = y0 + ph / 2;
  out.push(`<text class="sl-ylabel" x="${c(ylx)}" y="${c(yly)}" transform="rotate(-90 ${c(ylx)} ${c(yly)})" text-anchor="middle" fill="#111">${escapeXml(yLabel)}</text>`);

  // legend
  if (prepared.length > 0) {
    const lx = x0 + pw + 14;
    const items = prepared.map((s, i) => {
      const ly = y0 + 8 + i * 18;
      const sample =
        s.style === 'points'
          ? `<circle cx="${c(lx + 10)}" cy="${c(ly)}" r="3" fill="${s.color}"/>`
          : `<line x1="${c(lx)}" y1="${c(ly)}" x2="${c(lx + 20)}" y2="${c(ly)}" stroke="${s.color}" stroke-width="2"${s.style === 'dashed' ? ' stroke-dasharray="5 3"' : ''}/>`;
      return `<g class="sl-legend-item" data-series="${escapeXml(s.name)}">${sample}<text x="${c(lx + 26)}" y="${c(ly)}" dy="0.35em" fill="#111">${escapeXml(legendNames[i])}</text></g>`;
    });
    out.push(`<g class="sl-legend">${items.join('')}</g>`);
  }

  // notes
  if (totalPoints === 0) {
    out.push(`<text class="sl-nodata" x="${c(x0 + pw / 2)}" y="${c(y0 + ph / 2)}" text-anchor="middle" font-size="${FONT + 2}" fill="#888">no data</text>`);
  }
  if (totalDropped > 0) {
    const what = xScale === 'log' || yScale === 'log' ? 'non-finite or \u2264 0 on a log axis' : 'non-finite';
    out.push(
      `<text class="sl-dropped" x="${c(x0 + pw)}" y="${c(y0 - 6)}" text-anchor="end" font-size="${FONT - 2}" fill="#a33">` +
        `${totalDropped} point${totalDropped === 1 ? '' : 's'} not shown (${escapeXml(what)})</text>`,
    );
  }
  out.push(`</svg>`);
  return out.join('\n');
}
