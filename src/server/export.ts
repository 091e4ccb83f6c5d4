// CSV and JSON exports, streamed: rows are read page by page (keyset, no time budget) and
// written as they come, so an export of 100,000 rows never sits in memory whole.
import { Readable } from 'node:stream';
import type { ListColumn } from './lists.ts';

export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return JSON.stringify(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** RFC 4180 quoting; a cell that a spreadsheet would run as a formula gets a leading quote (CSV injection). */
export function csvCell(value: unknown): string {
  let text = cellText(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function jsonValue(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

/** A stream of the rows `pages` yields, as CSV (header first) or a JSON array of objects. */
export function exportStream<R>(pages: AsyncIterable<R[]>, columns: ListColumn<R>[], format: ExportFormat, onRows: (n: number) => void): Readable {
  async function* generate(): AsyncGenerator<string> {
    let count = 0;
    if (format === 'csv') yield columns.map((c) => csvCell(c.name)).join(',') + '\r\n';
    else yield '[';
    for await (const rows of pages) {
      let chunk = '';
      for (const row of rows) {
        if (format === 'csv') chunk += columns.map((c) => csvCell(c.value(row))).join(',') + '\r\n';
        else chunk += (count > 0 ? ',\n' : '\n') + JSON.stringify(Object.fromEntries(columns.map((c) => [c.name, jsonValue(c.value(row)) ?? null])));
        count++;
      }
      onRows(count);
      if (chunk) yield chunk;
    }
    if (format === 'json') yield '\n]\n';
  }
  return Readable.from(generate());
}
