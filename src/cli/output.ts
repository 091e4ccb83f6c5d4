// Report output: an aligned table for people, CSV and JSON for programs.
export const FORMATS = ['table', 'csv', 'json', 'ndjson'] as const;
export type Format = (typeof FORMATS)[number];

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** How the value reads in a table or CSV cell, when joining an array with commas would be ambiguous. */
  text?: (row: T) => string;
  /** In a table, at most this many characters, the rest cut to `…` (statement text); CSV and JSON keep it whole. */
  maxWidth?: number;
}

/** Statement text in a table: enough to recognise it; --format csv or json has all of it. */
export const STATEMENT_WIDTH = 60;

/** A table cell cut to `max` characters (code points, so no emoji is split), ending in `…` when cut. */
export function shorten(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join('').trimEnd() + '…';
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function cellOf<T>(column: Column<T>, row: T): string {
  return column.text ? column.text(row) : cellText(column.value(row));
}

function jsonValue(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function render<T>(rows: T[], columns: Column<T>[], format: Format, toJson?: (row: T) => object): string {
  switch (format) {
    case 'json':
      return JSON.stringify(rows.map((row) => toJson ? toJson(row) : jsonObject(row, columns)), null, 2) + '\n';
    case 'ndjson':
      return rows.map((row) => JSON.stringify(toJson ? toJson(row) : jsonObject(row, columns)) + '\n').join('');
    case 'csv':
      return [columns.map((c) => csvCell(c.header)).join(','),
        ...rows.map((row) => columns.map((c) => csvCell(cellOf(c, row))).join(','))].join('\r\n') + '\r\n';
    case 'table': {
      const cells = rows.map((row) => columns.map((c) => {
        const text = cellOf(c, row).replace(/\s+/g, ' ');
        return c.maxWidth === undefined ? text : shorten(text, c.maxWidth);
      }));
      const length = (text: string) => [...text].length;
      const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => length(r[i]!))));
      const line = (values: string[]) => values.map((v, i) => v + ' '.repeat(widths[i]! - length(v))).join('  ').trimEnd();
      return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
    }
  }
}

function jsonObject<T>(row: T, columns: Column<T>[]): object {
  return Object.fromEntries(columns.map((c) => [c.header, jsonValue(c.value(row)) ?? null]));
}
