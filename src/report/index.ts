/**
 * Reports: self-contained HTML pages with inline SVG line plots, CSV series, and atomic writing
 * of a report's files. No dependencies and no external references.
 *
 * @module report
 */

export { linePlot, formatNumber, escapeXml } from './svg.js';
export type { LinePlotOptions, PlotSeries, PlotAnnotation, AxisScale, SeriesStyle } from './svg.js';
export { renderReport } from './html.js';
export type { ReportOptions, ReportSection, ReportTable } from './html.js';
export { toCsv, writeReportFiles } from './csv.js';
export type { CsvOptions } from './csv.js';
