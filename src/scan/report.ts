/**
 * A batch scan's report as one self-contained HTML page, in the spirit of BQAT's profiling report:
 * overview, per-column distributions, missing values, correlations, pose and outliers. Charts are
 * vega-lite specs rendered to inline SVG on the server, so the page needs no scripts and no network.
 */
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { Outlier, OutlierReport } from '../gate/outliers';
import { ISO_COMPONENT_NAMES } from '../gate/iso29794';
import { ISO_FIELDS, type Profile, type ProfileValue } from './profile';

export interface ReportInput {
  collection: string;
  /** ISO times. */
  createdAt: string;
  finishedAt: string | null;
  profiles: Profile[];
  /** Files that could not be read (not decodable etc.). */
  failures: { file: string; error: string }[];
  outliers: OutlierReport;
  contamination: number;
  /** JPEG thumbnails by file name; at least those of the outliers (a file may have none). */
  thumbnails: Map<string, Buffer>;
}

/** The section ids the report always contains, in page order. */
export const REPORT_SECTIONS = ['overview', 'distributions', 'iso-29794-5', 'missing-values', 'correlations', 'pose', 'outliers'] as const;
type SectionId = (typeof REPORT_SECTIONS)[number];

/** A categorical chart shows this many of the most frequent values; the rest are counted in a note. */
const MAX_CATEGORIES = 20;
const HISTOGRAM_BINS = 20;

interface NumericColumn {
  kind: 'numeric';
  name: string;
  values: (number | null)[];
  missing: number;
}

interface CategoricalColumn {
  kind: 'categorical';
  name: string;
  values: (string | null)[];
  missing: number;
}

interface EmptyColumn {
  kind: 'empty';
  name: string;
  missing: number;
}

type Column = NumericColumn | CategoricalColumn | EmptyColumn;

// ---------------------------------------------------------------------------------------------
// Columns and statistics

function isMissing(value: ProfileValue | undefined): value is null | undefined {
  return value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value));
}

/** Every profile key except `file` and the ISO/IEC 29794-5 components (their own section), in the order first seen. */
function columnNames(profiles: Profile[]): string[] {
  const names = new Set<string>();
  for (const profile of profiles) for (const name of Object.keys(profile)) names.add(name);
  names.delete('file');
  for (const name of ISO_FIELDS) names.delete(name);
  return [...names];
}

function describeColumn(name: string, profiles: Profile[]): Column {
  const raw = profiles.map((p) => p[name]);
  const present = raw.filter((v) => !isMissing(v));
  const missing = raw.length - present.length;
  if (present.length === 0) return { kind: 'empty', name, missing };
  if (present.every((v) => typeof v === 'number')) {
    return { kind: 'numeric', name, missing, values: raw.map((v) => (isMissing(v) ? null : (v as number))) };
  }
  return { kind: 'categorical', name, missing, values: raw.map((v) => (isMissing(v) ? null : String(v))) };
}

function known(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null);
}

interface Summary {
  count: number;
  missing: number;
  mean: number;
  /** Sample standard deviation (n - 1), as pandas reports it; null with a single value. */
  std: number | null;
  min: number;
  median: number;
  max: number;
}

function summarize(column: NumericColumn): Summary {
  const sorted = known(column.values).sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const squares = sorted.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  const middle = Math.floor(n / 2);
  return {
    count: n,
    missing: column.missing,
    mean,
    std: n > 1 ? Math.sqrt(squares / (n - 1)) : null,
    min: sorted[0],
    median: n % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2,
    max: sorted[n - 1],
  };
}

function isConstant(column: NumericColumn): boolean {
  const values = known(column.values);
  return values.every((v) => v === values[0]);
}

/** Pearson's r over the rows where both columns have a value; null when undefined there. */
function pearson(a: (number | null)[], b: (number | null)[]): number | null {
  const xs: number[] = [];
  const ys: number[] = [];
  a.forEach((x, i) => {
    const y = b[i];
    if (x !== null && y !== null) {
      xs.push(x);
      ys.push(y);
    }
  });
  if (xs.length < 2) return null;
  const meanX = xs.reduce((s, v) => s + v, 0) / xs.length;
  const meanY = ys.reduce((s, v) => s + v, 0) / ys.length;
  let covariance = 0;
  let varianceX = 0;
  let varianceY = 0;
  xs.forEach((x, i) => {
    covariance += (x - meanX) * (ys[i] - meanY);
    varianceX += (x - meanX) ** 2;
    varianceY += (ys[i] - meanY) ** 2;
  });
  if (varianceX === 0 || varianceY === 0) return null;
  return covariance / Math.sqrt(varianceX * varianceY);
}

/** The most frequent values first (ties alphabetical), with how many distinct values were left out. */
function categoryCounts(column: CategoricalColumn): { counts: { value: string; count: number }[]; hidden: number } {
  const tally = new Map<string, number>();
  for (const value of column.values) if (value !== null) tally.set(value, (tally.get(value) ?? 0) + 1);
  const counts = [...tally]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  return { counts: counts.slice(0, MAX_CATEGORIES), hidden: Math.max(0, counts.length - MAX_CATEGORIES) };
}

function faceCount(profile: Profile): number {
  const count = profile.face_count;
  return typeof count === 'number' && Number.isFinite(count) ? count : 0;
}

// ---------------------------------------------------------------------------------------------
// Charts

// ARIA labels on every axis tick and bar would double the page's size; the tables carry the figures.
const CHART_CONFIG = {
  aria: false,
  font: 'sans-serif',
  axis: { labelFontSize: 10, titleFontSize: 11, titleFontWeight: 'normal' },
  legend: { labelFontSize: 10, titleFontSize: 11 },
  view: { stroke: '#ddd' },
} as const;

async function renderChart(spec: TopLevelSpec): Promise<string> {
  const vegaSpec = vegaLite.compile({ ...spec, background: 'white', config: CHART_CONFIG } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function histogramSpec(column: NumericColumn): TopLevelSpec {
  return {
    width: 220,
    height: 100,
    data: { values: known(column.values).map((value) => ({ value })) },
    mark: { type: 'bar', color: '#4c78a8' },
    encoding: {
      x: { field: 'value', type: 'quantitative', bin: { maxbins: HISTOGRAM_BINS }, title: null },
      y: { aggregate: 'count', type: 'quantitative', title: 'images' },
    },
  };
}

function categoriesSpec(counts: { value: string; count: number }[]): TopLevelSpec {
  return {
    width: { step: 22 },
    height: 100,
    data: { values: counts },
    mark: { type: 'bar', color: '#72b7b2' },
    encoding: {
      x: { field: 'value', type: 'nominal', sort: null, title: null, axis: { labelAngle: -40, labelLimit: 90 } },
      y: { field: 'count', type: 'quantitative', title: 'images' },
    },
  };
}

function missingValuesSpec(columns: Column[], total: number): TopLevelSpec {
  const rows = columns.map((c) => ({ column: c.name, missing: c.missing, label: `${c.name}: ${c.missing} missing` }));
  return {
    width: 420,
    height: { step: 13 },
    data: { values: rows },
    encoding: {
      y: { field: 'column', type: 'nominal', sort: null, title: null },
      x: { field: 'missing', type: 'quantitative', title: `missing (of ${total} images)`, scale: { domain: [0, Math.max(total, 1)] } },
    },
    layer: [
      { mark: { type: 'bar', color: '#e45756', aria: true }, encoding: { description: { field: 'label' } } },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 9 }, encoding: { text: { field: 'missing' } } },
    ],
  };
}

interface CorrelationCell {
  x: string;
  y: string;
  r: number;
}

function correlationSpec(names: string[], cells: CorrelationCell[]): TopLevelSpec {
  const labelled = cells.map((cell) => ({ ...cell, label: `${cell.x} and ${cell.y}: r = ${cell.r.toFixed(2)}` }));
  const nominal = (field: 'x' | 'y') => ({ field, type: 'nominal', sort: names, title: null }) as const;
  return {
    width: { step: 22 },
    height: { step: 22 },
    view: { stroke: null },
    data: { values: labelled },
    encoding: {
      x: { ...nominal('x'), axis: { labelAngle: -50 } },
      y: nominal('y'),
    },
    layer: [
      {
        mark: { type: 'rect', aria: true },
        encoding: {
          description: { field: 'label' },
          color: { field: 'r', type: 'quantitative', scale: { domain: [-1, 1], scheme: 'redblue' }, title: 'r' },
        },
      },
      {
        mark: { type: 'text', fontSize: 7 },
        encoding: {
          text: { field: 'r', type: 'quantitative', format: '.2f' },
          color: { condition: { test: 'abs(datum.r) > 0.6', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

interface PosePoint {
  yaw: number;
  pitch: number;
  group: 'outlier' | 'other';
}

function poseSpec(points: PosePoint[]): TopLevelSpec {
  return {
    width: 420,
    height: 320,
    data: { values: points },
    mark: { type: 'circle', size: 12, opacity: 0.7 },
    encoding: {
      x: { field: 'yaw', type: 'quantitative', title: 'yaw_degree' },
      y: { field: 'pitch', type: 'quantitative', title: 'pitch_degree' },
      color: {
        field: 'group',
        type: 'nominal',
        title: null,
        scale: { domain: ['other', 'outlier'], range: ['#9ab', '#d62728'] },
      },
    },
  };
}

/** Scalar bins of the ISO section's chart: 0–9, 10–19, …, 90–100. */
const ISO_BIN = 10;

function isoScalarsSpec(cells: { component: string; bin: number; images: number }[]): TopLevelSpec {
  const darkFrom = Math.max(...cells.map((c) => c.images)) / 2;
  return {
    width: { step: 26 },
    height: { step: 13 },
    view: { stroke: null },
    data: { values: cells },
    encoding: {
      x: {
        field: 'bin',
        type: 'ordinal',
        title: 'scalar (bins of 10; 90 holds 90–100)',
        scale: { domain: Array.from({ length: 100 / ISO_BIN }, (_, i) => i * ISO_BIN) },
        axis: { labelAngle: 0 },
      },
      y: { field: 'component', type: 'nominal', sort: ISO_COMPONENT_NAMES as string[], title: null, axis: { labelLimit: 220 } },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'images', type: 'quantitative', scale: { scheme: 'blues' }, title: 'images' } } },
      {
        mark: { type: 'text', fontSize: 8 },
        encoding: {
          text: { field: 'images', type: 'quantitative' },
          color: { condition: { test: `datum.images > ${darkFrom}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// HTML

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

function formatNumber(value: number | null): string {
  if (value === null) return '–';
  if (Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 1000) return value.toFixed(1);
  return String(Number(value.toPrecision(4)));
}

function formatValue(value: ProfileValue | undefined): string {
  if (isMissing(value)) return 'missing';
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

/** Cells are HTML: callers escape text themselves. */
function table(headers: string[], rows: string[][], className = ''): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${className}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function section(id: SectionId, title: string, body: string): string {
  return `<section id="${id}">\n<h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

function figure(caption: string, content: string): string {
  return `<figure><figcaption>${caption}</figcaption>${content}</figure>`;
}

function fileOf(profile: Profile | undefined): string {
  return profile === undefined || isMissing(profile.file) ? '' : String(profile.file);
}

function durationText(createdAt: string, finishedAt: string | null): string {
  if (finishedAt === null) return 'not finished';
  const seconds = (Date.parse(finishedAt) - Date.parse(createdAt)) / 1000;
  return Number.isFinite(seconds) ? `${formatNumber(Math.round(seconds * 10) / 10)} s` : '–';
}

function overviewSection(input: ReportInput, columns: Column[]): string {
  const counts = input.profiles.map(faceCount);
  const facts: [string, string][] = [
    ['Collection', input.collection],
    ['Started', input.createdAt],
    ['Finished', input.finishedAt ?? 'not finished'],
    ['Duration', durationText(input.createdAt, input.finishedAt)],
    ['Images profiled', String(input.profiles.length)],
    ['With one face', String(counts.filter((c) => c === 1).length)],
    ['With no face', String(counts.filter((c) => c === 0).length)],
    ['With several faces', String(counts.filter((c) => c > 1).length)],
    ['Failed to read', String(input.failures.length)],
  ];
  const factList = `<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
  const failures = input.failures.length === 0
    ? ''
    : `<h3>Files that could not be read</h3>\n${table(['file', 'error'], input.failures.map((f) => [escapeHtml(f.file), escapeHtml(f.error)]))}`;
  return section('overview', 'Overview', `${factList}\n${failures}\n${numericSummary(columns)}`);
}

function numericSummary(columns: Column[]): string {
  const numeric = columns.filter((c): c is NumericColumn => c.kind === 'numeric');
  const rows = numeric.map((column) => {
    const s = summarize(column);
    const figures = [s.count, s.missing, s.mean, s.std, s.min, s.median, s.max].map(formatNumber);
    return [`<code>${escapeHtml(column.name)}</code>`, ...figures];
  });
  const empty = columns.filter((c) => c.kind === 'empty').map((c) => `<code>${escapeHtml(c.name)}</code>`);
  const emptyNote = empty.length === 0 ? '' : `<p>No values at all in ${empty.join(', ')}.</p>`;
  return `<h3>Numeric columns</h3>\n${table(['column', 'count', 'missing', 'mean', 'std', 'min', 'median', 'max'], rows, 'numbers')}\n${emptyNote}`;
}

async function distributionFigure(column: Column): Promise<string> {
  const caption = `<code>${escapeHtml(column.name)}</code>`;
  if (column.kind === 'empty') return figure(caption, '<p class="none">no values</p>');
  if (column.kind === 'numeric') return figure(caption, await renderChart(histogramSpec(column)));
  const { counts, hidden } = categoryCounts(column);
  const note = hidden === 0 ? '' : `<p class="note">${hidden} less frequent values not shown</p>`;
  return figure(caption, `${await renderChart(categoriesSpec(counts))}${note}`);
}

async function distributionsSection(columns: Column[]): Promise<string> {
  const figures = await Promise.all(columns.map(distributionFigure));
  return section('distributions', 'Distributions', `<div class="charts">\n${figures.join('\n')}\n</div>`);
}

/**
 * The ISO/IEC 29794-5 components: per component, how many images it assessed, its scalar's
 * distribution (a table of figures and one chart of scalar bins) and its native value's median.
 */
async function isoSection(profiles: Profile[]): Promise<string> {
  const numbers = (name: string) => profiles.map((p) => p[name]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const cells: { component: string; bin: number; images: number }[] = [];
  const rows: string[][] = [];
  for (const name of ISO_COMPONENT_NAMES) {
    const all = numbers(`${name}.scalar`);
    const assessed = all.filter((v) => v >= 0).sort((a, b) => a - b);
    const natives = numbers(name).sort((a, b) => a - b);
    const at = (sorted: number[], q: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
    const mean = assessed.length === 0 ? null : assessed.reduce((s, v) => s + v, 0) / assessed.length;
    rows.push([`<code>${escapeHtml(name)}</code>`, ...[assessed.length, all.length - assessed.length, mean, at(assessed, 0), at(assessed, 0.1), at(assessed, 0.5), at(assessed, 1), at(natives, 0.5)].map(formatNumber)]);
    const bins = new Map<number, number>();
    for (const v of assessed) {
      const bin = Math.min(100 - ISO_BIN, Math.floor(v / ISO_BIN) * ISO_BIN);
      bins.set(bin, (bins.get(bin) ?? 0) + 1);
    }
    for (const [bin, images] of bins) cells.push({ component: name, bin, images });
  }
  const intro = '<p>The quality components of ISO/IEC 29794-5, named as its reference implementation (OFIQ) names them: '
    + 'the 0–100 scalar (higher is better) of the images where the measure could be assessed, and the median native value. '
    + 'Failed to assess: no face, or the measure needs what FaceGate cannot see (docs/quality.md).</p>';
  const headers = ['component', 'assessed', 'failed', 'mean', 'min', '10th pct', 'median', 'max', 'native median'];
  const chart = cells.length === 0 ? '<p class="none">No image was assessed.</p>' : await renderChart(isoScalarsSpec(cells));
  return section('iso-29794-5', 'ISO/IEC 29794-5 components', `${intro}\n${table(headers, rows, 'numbers')}\n<div class="wide">${chart}</div>`);
}

async function missingValuesSection(columns: Column[], total: number): Promise<string> {
  const chart = await renderChart(missingValuesSpec(columns, total));
  return section('missing-values', 'Missing values', `<p>Images without a value, per column.</p>\n${chart}`);
}

async function correlationsSection(columns: Column[]): Promise<string> {
  const usable = columns.filter((c): c is NumericColumn => c.kind === 'numeric' && !isConstant(c));
  if (usable.length < 2) {
    return section('correlations', 'Correlations', '<p>Fewer than two numeric columns vary: no correlations to show.</p>');
  }
  // The lower triangle and the diagonal: the matrix is symmetric.
  const cells = usable.flatMap((a, i) => usable.slice(i).map((b) => ({ x: a.name, y: b.name, r: pearson(a.values, b.values) })))
    .filter((cell): cell is CorrelationCell => cell.r !== null);
  const chart = await renderChart(correlationSpec(usable.map((c) => c.name), cells));
  const intro = '<p>Pearson correlation between numeric columns, over the images where both have a value. '
    + 'Constant columns are left out; a blank cell has no defined correlation.</p>';
  return section('correlations', 'Correlations', `${intro}\n<div class="wide">${chart}</div>`);
}

async function poseSection(profiles: Profile[], outliers: Outlier[]): Promise<string> {
  const outlierRows = new Set(outliers.map((o) => o.index));
  const points: PosePoint[] = [];
  profiles.forEach((p, index) => {
    const { yaw_degree: yaw, pitch_degree: pitch } = p;
    if (typeof yaw !== 'number' || typeof pitch !== 'number' || isMissing(yaw) || isMissing(pitch)) return;
    points.push({ yaw, pitch, group: outlierRows.has(index) ? 'outlier' : 'other' });
  });
  if (points.length === 0) return section('pose', 'Pose', '<p>No image has both a yaw and a pitch.</p>');
  // Outliers last, so that they are drawn on top.
  points.sort((a, b) => Number(a.group === 'outlier') - Number(b.group === 'outlier'));
  const chart = await renderChart(poseSpec(points));
  return section('pose', 'Pose', `<p>Head pose of ${points.length} faces, in degrees; outliers in red.</p>\n${chart}`);
}

function thumbnailCell(file: string, thumbnails: Map<string, Buffer>): string {
  const jpeg = thumbnails.get(file);
  if (jpeg === undefined) return '<span class="none">no thumbnail</span>';
  return `<img src="data:image/jpeg;base64,${jpeg.toString('base64')}" alt="${escapeHtml(file)}">`;
}

function unusualColumnsCell(outlier: Outlier, profile: Profile | undefined): string {
  const items = outlier.columns.map(({ column, contribution }) =>
    `<li><code>${escapeHtml(column)}</code> = ${escapeHtml(formatValue(profile?.[column]))} `
    + `<span class="note">(+${formatNumber(contribution)})</span></li>`);
  return `<ul>${items.join('')}</ul>`;
}

function outliersSection(input: ReportInput): string {
  const { outliers, threshold, constantColumns } = input.outliers;
  const facts = `<p>ECOD with contamination ${formatNumber(input.contamination)}: images scoring above ${formatNumber(threshold)} are outliers `
    + `(${outliers.length} of ${input.profiles.length}).</p>`;
  const constant = constantColumns.length === 0
    ? ''
    : `<p>Left out as constant: ${constantColumns.map((c) => `<code>${escapeHtml(c)}</code>`).join(', ')}.</p>`;
  if (outliers.length === 0) {
    return section('outliers', 'Outliers', `${facts}\n${constant}\n<p class="none-found">No outliers: no image scored above the threshold.</p>`);
  }
  const rows = outliers.map((outlier) => {
    const profile = input.profiles[outlier.index];
    const file = fileOf(profile);
    return [thumbnailCell(file, input.thumbnails), escapeHtml(file), formatNumber(outlier.score), unusualColumnsCell(outlier, profile)];
  });
  const explain = '<p>Unusual columns are those adding most to the score; the part each adds is in parentheses.</p>';
  return section('outliers', 'Outliers', `${facts}\n${constant}\n${explain}\n${table(['', 'file', 'score', 'unusual columns'], rows, 'outliers')}`);
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto; max-width: 1240px; padding: 16px 20px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
nav a { margin-right: 14px; color: #2a5db0; }
code { font: 12px ui-monospace, monospace; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
table.numbers td + td { text-align: right; font-variant-numeric: tabular-nums; }
table.outliers img { width: 96px; height: auto; display: block; }
table.outliers ul { margin: 0; padding-left: 16px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 10px; }
figure { margin: 0; padding: 6px; border: 1px solid #eee; border-radius: 4px; }
figcaption { font-size: 12px; margin-bottom: 2px; }
svg { max-width: 100%; height: auto; display: block; }
.wide { overflow-x: auto; }
.note, .none { color: #777; font-size: 12px; }
.none { padding: 24px 12px; margin: 0; }
`;

/** One self-contained HTML page (no network: inline CSS, inline SVG charts, thumbnails as data: URIs, no scripts needed). */
export async function scanReport(input: ReportInput): Promise<string> {
  const columns = columnNames(input.profiles).map((name) => describeColumn(name, input.profiles));
  const sections = [
    overviewSection(input, columns),
    await distributionsSection(columns),
    await isoSection(input.profiles),
    await missingValuesSection(columns, input.profiles.length),
    await correlationsSection(columns),
    await poseSection(input.profiles, input.outliers.outliers),
    outliersSection(input),
  ];
  const title = `Scan report: ${escapeHtml(input.collection)}`;
  const nav = REPORT_SECTIONS.map((id) => `<a href="#${id}">${id.replace('-', ' ')}</a>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${title}</h1>
<nav>${nav}</nav>
${sections.join('\n')}
</body>
</html>
`;
}
