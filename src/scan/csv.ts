import type { ProfileValue } from './profile';

// A spreadsheet runs a cell starting with one of these as a formula; file names come from clients.
const FORMULA_START = /^[=+\-@\t\r]/;

function cell(value: ProfileValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV with a header line; empty cells for null, text that could run as a formula prefixed with '. */
export function toCsv(rows: Record<string, ProfileValue>[], columns: readonly string[]): string {
  const lines = [columns.map(cell), ...rows.map((row) => columns.map((c) => cell(row[c])))];
  return lines.map((line) => line.join(',')).join('\r\n') + '\r\n';
}
