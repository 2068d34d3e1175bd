import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpeedlimitsError } from '../src/errors.js';
import { linePlot, formatNumber, escapeXml, renderReport, toCsv, writeReportFiles, type LinePlotOptions } from '../src/report/index.js';

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function plot(over: Partial<LinePlotOptions> = {}): string {
  return linePlot({
    id: 'p',
    title: 'T',
    xLabel: 'x',
    yLabel: 'y',
    xScale: 'linear',
    yScale: 'linear',
    series: [{ name: 's', x: [0, 1, 2, 3], y: [0, 1, 4, 9] }],
    ...over,
  });
}

/** Attributes of every element matching `selector` (a tag name plus an attribute that must be present). */
function elements(svg: string, tag: string, attr: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  const re = new RegExp(`<${tag}\\s([^>]*?)\\/?>`, 'g');
  for (const m of svg.matchAll(re)) {
    const attrs: Record<string, string> = {};
    for (const a of m[1].matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    if (attr in attrs) out.push(attrs);
  }
  return out;
}

function seriesAttrs(svg: string): Array<Record<string, string>> {
  return [...elements(svg, 'path', 'data-points'), ...elements(svg, 'g', 'data-points')];
}

function tickValues(svg: string, axis: 'x' | 'y', majorOnly = true): number[] {
  const re = new RegExp(`<g class="sl-tick sl-${axis}tick( sl-minor)?" data-value="([^"]+)"`, 'g');
  return [...svg.matchAll(re)].filter((m) => !majorOnly || !m[1]).map((m) => Number(m[2]));
}

/**
 * A small well-formedness check: tags balance (void HTML elements aside), attribute values are
 * quoted, and no raw '<' or '&' appears outside markup/entities.
 */
function expectWellFormed(markup: string, html = false): void {
  const voids = new Set(['meta', 'br', 'link', 'img', 'hr', 'input']);
  const stack: string[] = [];
  const body = markup.replace(/^<!DOCTYPE html>/, '').replace(/<script type="application\/json"[^>]*>[^<]*<\/script>/, '');
  const tokenRe = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)/g;
  for (const m of body.matchAll(tokenRe)) {
    if (m[0] === '<' || m[0] === '&') throw new Error(`stray '${m[0]}' at ${m.index}: ${body.slice(Math.max(0, (m.index ?? 0) - 40), (m.index ?? 0) + 40)}`);
    const [, close, name, , selfClose] = m;
    if (selfClose || (html && voids.has(name))) continue;
    if (close) {
      const top = stack.pop();
      if (top !== name) throw new Error(`</${name}> closes <${top}> at ${m.index}`);
    } else stack.push(name);
  }
  expect(stack).toEqual([]);
}

/** RFC 4180 parser (for the round trip): returns rows of fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

// Any external reference: 'http://', 'https://', 'file://', … all contain '//', as do protocol-relative URLs.
const EXTERNAL_RE = /\/\//;

// ---------------------------------------------------------------------------------------------
// text helpers
// ---------------------------------------------------------------------------------------------

describe('escapeXml / formatNumber', () => {
  it('escapes markup characters, slashes and characters XML forbids', () => {
    expect(escapeXml(`a<b>&"c"'d'`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;');
    expect(escapeXml('http://x')).toBe('http:&#47;&#47;x');
    expect(escapeXml('a\u0001b\ud800c')).toBe('a\ufffdb\ufffdc');
    expect(escapeXml('λk 𝓔(t) 😀')).toBe('λk 𝓔(t) 😀');
    expect(() => escapeXml(3 as unknown as string)).toThrow(TypeError);
  });

  it('formats with significant digits, exactly for small integers, exponent outside [1e-3, 1e6)', () => {
    expect(formatNumber(Math.PI, 3)).toBe('3.14');
    expect(formatNumber(Math.PI)).toBe('3.142');
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(-7)).toBe('-7');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(-0)).toBe('0');
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(0.001234567)).toBe('0.001235');
    expect(formatNumber(0.000012346)).toBe('1.235e-5');
    expect(formatNumber(1234567, 3)).toBe('1.23e6');
    expect(formatNumber(999999.7, 4)).toBe('1e6');
    expect(formatNumber(2.5e300)).toBe('2.5e300');
    expect(formatNumber(100.0001, 4)).toBe('100');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatNumber(Infinity)).toBe('Infinity');
    expect(formatNumber(-Infinity)).toBe('-Infinity');
    expect(() => formatNumber(1, 0)).toThrow(RangeError);
    expect(() => formatNumber(1, 18)).toThrow(RangeError);
    expect(() => formatNumber('1' as unknown as number)).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// linePlot
// ---------------------------------------------------------------------------------------------

describe('linePlot', () => {
  it('carries the machine-checkable attributes and is well-formed', () => {
    const svg = plot({
      id: 'loss-1',
      series: [
        { name: 'a', x: [1, 2, 3], y: [3, 2, 1] },
        { name: 'b', x: new Float64Array([1, 2]), y: new Float32Array([1, 5]), style: 'dashed' },
        { name: 'c', x: [1, 2, 3, 4], y: [2, 2, 2, 2], style: 'points', color: '#123abc' },
      ],
    });
    expect(svg.startsWith('<svg class="sl-plot" data-plot-id="loss-1"')).toBe(true);
    expect(svg).not.toMatch(/xmlns/);
    expectWellFormed(svg);
    const s = seriesAttrs(svg);
    expect(s.map((a) => [a['data-series'], a['data-points'], a['data-dropped']])).toEqual([
      ['a', '3', '0'],
      ['b', '2', '0'],
      ['c', '4', '0'],
    ]);
    expect(elements(svg, 'path', 'data-series').find((a) => a['data-series'] === 'a')!.d).toMatch(/^M[\d.]+ [\d.]+L[\d.]+ [\d.]+L[\d.]+ [\d.]+$/);
    expect(elements(svg, 'path', 'data-series').find((a) => a['data-series'] === 'b')!['stroke-dasharray']).toBeDefined();
    const groupC = svg.slice(svg.indexOf('data-series="c"'));
    expect(groupC.slice(0, groupC.indexOf('</g>')).match(/<circle /g)).toHaveLength(4);
    expect(svg).toContain('fill="#123abc"');
  });

  it('draws title, axis labels and a legend entry per series', () => {
    const svg = plot({ title: 'Loss vs time', xLabel: 'time t', yLabel: 'loss', series: [{ name: 'GD', x: [1], y: [1] }, { name: 'Langevin', x: [1], y: [2] }] });
    expect(svg).toMatch(/<text class="sl-title"[^>]*>Loss vs time<\/text>/);
    expect(svg).toMatch(/<text class="sl-xlabel"[^>]*>time t<\/text>/);
    expect(svg).toMatch(/<text class="sl-ylabel"[^>]*rotate\(-90[^>]*>loss<\/text>/);
    expect(svg).toMatch(/<g class="sl-legend-item" data-series="GD">.*>GD<\/text><\/g>/);
    expect(svg).toMatch(/<g class="sl-legend-item" data-series="Langevin">.*>Langevin<\/text><\/g>/);
    expect(svg).toContain('<title>Loss vs time</title>');
  });

  it('puts linear ticks on a 1-2-5 grid covering the data', () => {
    const cases: Array<[number[], number]> = [
      [[0, 9], 0],
      [[0.013, 0.131], 0],
      [[-3.2, 47], 0],
      [[1e6, 3.3e6], 0],
      [[100, 100.5], 0],
    ];
    for (const [ys] of cases) {
      const svg = plot({ series: [{ name: 's', x: [0, 1], y: ys }] });
      const t = tickValues(svg, 'y');
      expect(t.length).toBeGreaterThanOrEqual(3);
      expect(t.length).toBeLessThanOrEqual(12);
      const step = t[1] - t[0];
      const mant = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
      expect([1, 2, 5].some((m) => Math.abs(mant - m) < 1e-6)).toBe(true);
      for (let i = 1; i < t.length; i++) expect(t[i] - t[i - 1]).toBeCloseTo(step, 9);
      expect(t[0]).toBeLessThanOrEqual(ys[0]);
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(ys[1]);
    }
    // labels are clean decimals
    const svg = plot({ series: [{ name: 's', x: [0, 1], y: [0, 0.3] }] });
    expect(svg).toContain('>0.05</text>');
    expect(svg).toContain('>0.30</text>');
    expect(svg).not.toMatch(/0000000/);
    // a constant series still gets a non-empty range
    expect(tickValues(plot({ series: [{ name: 's', x: [0, 1], y: [5, 5] }] }), 'y').length).toBeGreaterThanOrEqual(3);
  });

  it('puts log ticks on decades labelled 10^k', () => {
    // two or more decades inside the data: the data range (padded), decade ticks inside it
    const svg = plot({ xScale: 'log', yScale: 'log', series: [{ name: 's', x: [0.2, 30, 900], y: [3e-5, 1e-2, 1.5] }] });
    expect(tickValues(svg, 'x')).toEqual([1, 10, 100, 1000]); // 900 padded by 4 % of 3.65 decades reaches past 1000
    expect(tickValues(svg, 'y')).toEqual([1e-4, 1e-3, 1e-2, 1e-1, 1]);
    expect(svg).toMatch(/>10<tspan[^>]*>\u22124<\/tspan><\/text>/);
    expect(svg).toMatch(/>10<tspan[^>]*>2<\/tspan><\/text>/);
    expect(svg).toMatch(/>1<\/text>/);
    // fewer: rounded out to whole decades
    const short = plot({ xScale: 'log', yScale: 'log', series: [{ name: 's', x: [2, 50], y: [3, 4] }] });
    expect(tickValues(short, 'x')).toEqual([1, 10, 100]);
    expect(tickValues(short, 'y')).toEqual([1, 10]);
    // minor ticks at 2..9·10^k, unlabelled
    const minor = tickValues(svg, 'x', false).filter((v) => !tickValues(svg, 'x').includes(v));
    expect(minor).toContain(2);
    expect(minor).toContain(500);
    // wide ranges label every few decades only
    const wide = plot({ yScale: 'log', series: [{ name: 's', x: [0, 1], y: [1e-30, 1] }] });
    const labelled = [...wide.matchAll(/sl-ytick" data-value="[^"]+">[^]*?<\/g>/g)].filter((m) => m[0].includes('<text'));
    expect(labelled.length).toBeLessThanOrEqual(9);
    expect(labelled.length).toBeGreaterThanOrEqual(4);
  });

  it('drops non-finite points and non-positive points on log axes, counting them', () => {
    const svg = plot({ yScale: 'log', series: [{ name: 's', x: [1, 2, 3, 4, 5, 6], y: [1, 0, -1, NaN, 10, 100] }] });
    const [s] = seriesAttrs(svg);
    expect(s['data-points']).toBe('3');
    expect(s['data-dropped']).toBe('3');
    expect(svg).toMatch(/<svg[^>]* data-dropped="3"/);
    expect(svg).toContain('3 points not shown (non-finite or \u2264 0 on a log axis)');
    // the line is broken where points were dropped: two subpaths, the first a lone point (a dot)
    expect((s.d.match(/M/g) ?? []).length).toBe(2);

    const lin = plot({ series: [{ name: 's', x: [1, 2, Infinity, 4], y: [1, 2, 3, 4] }] });
    expect(seriesAttrs(lin)[0]['data-points']).toBe('3');
    expect(lin).toContain('1 point not shown (non-finite)');
    const logx = plot({ xScale: 'log', series: [{ name: 's', x: [0, 1, 10], y: [-5, -6, -7] }] });
    expect(seriesAttrs(logx)[0]['data-points']).toBe('2');
    expect(plot()).not.toContain('sl-dropped');
  });

  it('draws axes and a "no data" note for empty input', () => {
    for (const series of [[], [{ name: 'e', x: [], y: [] }], [{ name: 'neg', x: [1, 2], y: [-1, 0] }]]) {
      const svg = plot({ yScale: 'log', series });
      expectWellFormed(svg);
      expect(svg).toContain('>no data</text>');
      expect(svg).toContain('class="sl-frame"');
      expect(tickValues(svg, 'x').length).toBeGreaterThanOrEqual(2);
      expect(tickValues(svg, 'y')).toEqual([1, 10]);
      for (const s of seriesAttrs(svg)) expect(s['data-points']).toBe('0');
    }
    expect(plot({ series: [] })).not.toContain('sl-legend');
  });

  it('escapes every text it is given', () => {
    const evil = `<script>alert("x")</script> & 'q' http://evil`;
    const svg = plot({ title: evil, xLabel: evil, yLabel: evil, series: [{ name: evil, x: [1], y: [1] }], annotations: [{ x: 0.5, label: evil }] });
    expect(svg).not.toContain('<script');
    expect(svg).not.toMatch(EXTERNAL_RE);
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;&#47;script&gt; &amp; &#39;q&#39;');
    expectWellFormed(svg);
  });

  it('honours fixed domains and draws annotations inside the x range only', () => {
    const svg = plot({
      xDomain: [0, 10],
      yDomain: [-1, 1],
      series: [{ name: 's', x: [0, 5, 20], y: [0, 3, 0] }],
      annotations: [{ x: 2.5, label: 'early' }, { x: 7, label: 'late' }, { x: 50, label: 'outside' }],
    });
    const xt = tickValues(svg, 'x');
    expect(xt[0]).toBe(0);
    expect(xt[xt.length - 1]).toBe(10);
    const yt = tickValues(svg, 'y');
    expect(yt[0]).toBe(-1);
    expect(yt[yt.length - 1]).toBe(1);
    expect(svg.match(/class="sl-annotation"/g)).toHaveLength(2);
    expect(svg).toContain('>early</text>');
    expect(svg).not.toContain('outside');
    expect(svg).toContain('clip-path="url(#sl-clip-p)"');
    // narrow fixed log domain (less than a decade) still gets ticks
    const narrow = plot({ xScale: 'log', xDomain: [2, 8], series: [{ name: 's', x: [3, 4], y: [1, 2] }] });
    expect(tickValues(narrow, 'x').length).toBeGreaterThanOrEqual(2);
  });

  it('is deterministic', () => {
    const opts = { series: [{ name: 's', x: [0.1, 0.2, 0.3], y: [Math.PI, Math.E, Math.SQRT2] }] };
    expect(plot(opts)).toBe(plot(opts));
  });

  it('validates its options', () => {
    expect(() => plot({ id: '1abc' })).toThrow(RangeError);
    expect(() => plot({ id: 'a b' })).toThrow(/id must start with a letter/);
    expect(() => plot({ title: 3 as unknown as string })).toThrow(TypeError);
    expect(() => plot({ xScale: 'ln' as 'log' })).toThrow(RangeError);
    expect(() => plot({ series: [{ name: 's', x: [1, 2], y: [1] }] })).toThrow(/series\[0\] \('s'\) has 2 x values but 1 y values/);
    expect(() => plot({ series: [{ name: 's', x: 5 as unknown as number[], y: [1] }] })).toThrow(TypeError);
    expect(() => plot({ series: [{ name: 's', x: [1], y: [1], color: 'url(http://x)' }] })).toThrow(/plain CSS color/);
    expect(() => plot({ series: [{ name: 's', x: [1], y: [1], color: 'red" onload="x' }] })).toThrow(RangeError);
    expect(() => plot({ series: [{ name: 's', x: [1], y: [1], style: 'bars' as 'line' }] })).toThrow(RangeError);
    expect(() => plot({ xDomain: [1, 1] })).toThrow(/min < max/);
    expect(() => plot({ xScale: 'log', xDomain: [0, 1] })).toThrow(/positive on a log axis/);
    expect(() => plot({ width: 10 })).toThrow(RangeError);
    expect(() => plot({ annotations: [{ x: NaN, label: 'a' }] })).toThrow(RangeError);
    expect(() => linePlot(undefined as unknown as LinePlotOptions)).toThrow(TypeError);
    for (const color of ['#abc', '#aabbcc', '#aabbcc80', 'teal', 'rgb(1, 2, 3)', 'rgba(1,2,3,0.5)', 'hsl(120 50% 50%)'])
      expect(() => plot({ series: [{ name: 's', x: [1], y: [1], color }] })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

describe('toCsv', () => {
  it('round-trips doubles exactly and quotes strings per RFC 4180', () => {
    const nums = new Float64Array([0, -0, 1, -1.5, Math.PI, 1 / 3, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, NaN, Infinity, -Infinity, 0.1 + 0.2]);
    const labels = Array.from(nums, (_, i) => ['plain', 'a,b', 'say "hi"', 'two\nlines', ' padded ', 'cr\r\nlf', '', 'λ 𝓔', "'", 'x', 'y', 'z', '=1+1'][i]);
    for (const newline of ['\n', '\r\n'] as const) {
      const text = toCsv({ value: nums, 'label, quoted': labels, idx: Array.from(nums, (_, i) => i) }, { newline });
      expect(text.endsWith(newline)).toBe(true);
      const rows = parseCsv(text);
      expect(rows[0]).toEqual(['value', 'label, quoted', 'idx']);
      expect(rows).toHaveLength(nums.length + 1);
      rows.slice(1).forEach((r, i) => {
        expect(r).toHaveLength(3);
        expect(Object.is(Number(r[0]), nums[i])).toBe(true);
        expect(r[1]).toBe(labels[i]);
        expect(Number(r[2])).toBe(i);
      });
    }
    expect(toCsv({ a: [1, 2], b: ['x', 'y'] })).toBe('a,b\n1,x\n2,y\n');
    expect(toCsv({ a: new Float32Array([0.1]) })).toBe(`a\n${Math.fround(0.1)}\n`);
  });

  it('handles no columns and no rows', () => {
    expect(toCsv({})).toBe('');
    expect(toCsv({ a: [], b: [] })).toBe('a,b\n');
  });

  it('rejects columns of unequal length and bad values', () => {
    expect(() => toCsv({ a: [1, 2], b: [1] })).toThrow(RangeError);
    expect(() => toCsv({ a: [1, 2], b: [1] })).toThrow(/'a' has 2 values but 'b' has 1/);
    expect(() => toCsv({ a: 3 as unknown as number[] })).toThrow(TypeError);
    expect(() => toCsv({ a: [{}] as unknown as number[] })).toThrow(/row 0/);
    expect(() => toCsv(null as unknown as Record<string, number[]>)).toThrow(TypeError);
    expect(() => toCsv({ a: [1] }, { newline: '\r' as '\n' })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

describe('renderReport', () => {
  const sample = () =>
    renderReport({
      title: 'Run <1> & http://example.com',
      subtitle: 'see https://example.org//x',
      summary: ['Finding one: 𝓔(t) ≈ t^-0.7.', 'Link-like text //cdn.example.com/x.js stays text.'],
      sections: [
        { id: 'loss', heading: 'Loss', text: 'First paragraph\ncontinues.\n\nSecond <b>paragraph</b>.', plots: [plot({ id: 'loss' })] },
        {
          id: 'spectrum',
          heading: 'Spectrum',
          plots: [plot({ id: 'spec', xScale: 'log', yScale: 'log', series: [{ name: 'λ', x: [1, 2, 3], y: [1, 0.5, 0.25] }] }).replace('<svg ', '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ')],
          table: { columns: ['k', 'λk', 'note'], rows: [[1, Math.PI, 'a<b'], [2, 1.23456789e-7, '']] },
        },
        { id: 'empty', heading: 'Nothing here' },
      ],
      meta: { version: '0.1.0', seconds: 61.23456, threads: 2, remote: 'https://github.com/x/y', nested: { a: [1, 2], big: 12n }, typed: new Float64Array([0.5]) },
    });

  it('is a complete, well-formed, self-contained document', () => {
    const html = sample();
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toMatch(/<style>[^<]+<\/style>/);
    expectWellFormed(html, true);
    // no external reference of any kind, not even the SVG namespace or URL-like user text
    expect(html).not.toMatch(EXTERNAL_RE);
    expect(html).not.toMatch(/\b(src|href)="(?!#)/);
    expect(html).not.toMatch(/<script(?! type="application\/json")/);
    expect(html).not.toMatch(/@import|url\((?!#)/);
  });

  it('escapes text, lists findings, links sections and formats numbers', () => {
    const html = sample();
    expect(html).toContain('<title>Run &lt;1&gt; &amp; http:&#47;&#47;example.com</title>');
    expect(html).toContain('<li>Finding one: 𝓔(t) ≈ t^-0.7.</li>');
    expect(html).toContain('<p>First paragraph<br>continues.</p>');
    expect(html).toContain('<p>Second &lt;b&gt;paragraph&lt;&#47;b&gt;.</p>');
    for (const id of ['summary', 'loss', 'spectrum', 'empty', 'run-details']) expect(html).toContain(`<section id="${id}"`);
    expect(html).toContain('<a href="#loss">Loss</a><a href="#spectrum">Spectrum</a>');
    expect(html).toContain('<td class="num">3.142</td>');
    expect(html).toContain('<td class="num">1.235e-7</td>');
    expect(html).toContain('<td>a&lt;b</td>');
    expect(html).toContain('<td class="num">61.23</td>');
    expect(html.match(/<svg class="sl-plot"/g)).toHaveLength(2);
    // deterministic
    expect(sample()).toBe(html);
  });

  it('embeds meta as parseable JSON', () => {
    const m = /<script type="application\/json" id="sl-meta">([^<]*)<\/script>/.exec(sample());
    expect(m).not.toBeNull();
    expect(JSON.parse(m![1])).toEqual({
      version: '0.1.0',
      seconds: 61.23456,
      threads: 2,
      remote: 'https://github.com/x/y',
      nested: { a: [1, 2], big: '12' },
      typed: [0.5],
    });
  });

  it('validates its input', () => {
    const base = { title: 't', summary: [], sections: [] };
    expect(() => renderReport({ ...base, sections: [{ id: 'a', heading: 'A' }, { id: 'a', heading: 'B' }] })).toThrow(/used twice/);
    expect(() => renderReport({ ...base, sections: [{ id: 'summary', heading: 'A' }] })).toThrow(/reserved/);
    expect(() => renderReport({ ...base, sections: [{ id: 'x y', heading: 'A' }] })).toThrow(RangeError);
    expect(() => renderReport({ ...base, sections: [{ id: 'a', heading: 'A', plots: ['<div>'] }] })).toThrow(TypeError);
    expect(() => renderReport({ ...base, sections: [{ id: 'a', heading: 'A', table: { columns: ['a', 'b'], rows: [[1]] } }] })).toThrow(/1 cells but there are 2 columns/);
    expect(() => renderReport({ ...base, sections: [{ id: 'a', heading: 'A', table: { columns: ['a'], rows: [[null as unknown as number]] } }] })).toThrow(TypeError);
    expect(() => renderReport({ ...base, summary: 'x' as unknown as string[] })).toThrow(TypeError);
    expect(() => renderReport({ ...base, meta: [] as unknown as Record<string, unknown> })).toThrow(TypeError);
    expect(() => renderReport({ ...base, digits: 0 })).toThrow(RangeError);
    expect(renderReport(base)).toContain('<p>No findings.</p>');
  });
});

// ---------------------------------------------------------------------------------------------
// writeReportFiles
// ---------------------------------------------------------------------------------------------

describe('writeReportFiles', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-report-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function listAll(dir: string): string[] {
    return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((p) => p.split(path.sep).join('/')).sort();
  }

  it('creates the directory and writes every file atomically, leaving no temporary files', async () => {
    const dir = path.join(tmp, 'a', 'b', 'report');
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const written = await writeReportFiles(dir, { 'report.html': '<p>λ</p>', 'series/loss.csv': 'a\n1\n', 'raw.bin': bytes });
    expect(written).toEqual([path.join(dir, 'report.html'), path.join(dir, 'series', 'loss.csv'), path.join(dir, 'raw.bin')]);
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toBe('<p>λ</p>');
    expect(fs.readFileSync(path.join(dir, 'series', 'loss.csv'), 'utf8')).toBe('a\n1\n');
    expect(new Uint8Array(fs.readFileSync(path.join(dir, 'raw.bin')))).toEqual(bytes);
    expect(listAll(dir)).toEqual(['raw.bin', 'report.html', 'series', 'series/loss.csv']);
    // overwrite in place
    await writeReportFiles(dir, { 'report.html': 'v2' });
    expect(fs.readFileSync(path.join(dir, 'report.html'), 'utf8')).toBe('v2');
    expect(listAll(dir)).toEqual(['raw.bin', 'report.html', 'series', 'series/loss.csv']);
  });

  it('fails with ERR_IO when the directory cannot be created, and refuses unsafe names', async () => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    const err = await writeReportFiles(path.join(file, 'sub'), { 'a.txt': 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpeedlimitsError);
    expect((err as SpeedlimitsError).code).toBe('ERR_IO');
    expect((err as SpeedlimitsError).message).toMatch(/writeReportFiles: cannot create the directory/);
    // a target that is a directory: the write fails and no temporary file is left behind
    const dir = path.join(tmp, 'clash');
    fs.mkdirSync(path.join(dir, 'report.html'), { recursive: true });
    await expect(writeReportFiles(dir, { 'report.html': 'x' })).rejects.toMatchObject({ code: 'ERR_IO' });
    expect(listAll(dir)).toEqual(['report.html']);
    for (const name of ['../x', '/abs', 'a//b', './a', '', 'a\\b'])
      await expect(writeReportFiles(tmp, { [name]: 'x' })).rejects.toThrow(RangeError);
    await expect(writeReportFiles(tmp, { a: 3 as unknown as string })).rejects.toThrow(TypeError);
    await expect(writeReportFiles('', {})).rejects.toThrow(TypeError);
  });
});

describe('linePlot edge cases', () => {
  it('copes with extreme and single values', () => {
    for (const ys of [[5e-324, 1], [1e300, 1.7976931348623157e308], [10, 10], [3, 3]]) {
      const svg = plot({ yScale: 'log', series: [{ name: 's', x: [1, 2], y: ys }] });
      expectWellFormed(svg);
      expect(seriesAttrs(svg)[0]['data-points']).toBe('2');
      expect(svg).not.toMatch(/NaN|Infinity/);
      const t = tickValues(svg, 'y');
      expect(t.length).toBeGreaterThanOrEqual(2);
    }
    expect(tickValues(plot({ yScale: 'log', series: [{ name: 's', x: [1], y: [10] }] }), 'y')).toEqual([1, 10, 100]);
    for (const ys of [[-1e308, 1e308], [1e-300, 2e-300], [0, 0]]) {
      const svg = plot({ series: [{ name: 's', x: [1, 2], y: ys }] });
      expect(svg).not.toMatch(/NaN|Infinity/);
      expect(tickValues(svg, 'y').length).toBeGreaterThanOrEqual(2);
    }
  });
});
