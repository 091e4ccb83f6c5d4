// Report output: an aligned table for people, CSV and JSON for programs.
export const FORMATS = ['table', 'csv', 'json', 'ndjson'] as const;
export type Format = (typeof FORMATS)[number];

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** How the value reads in a table or CSV cell, when joining an array with commas would be ambiguous. */
  text?: (row: T) => string;
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
      const cells = rows.map((row) => columns.map((c) => cellOf(c, row).replace(/\s+/g, ' ')));
      const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
      const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
      return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
    }
  }
}

function jsonObject<T>(row: T, columns: Column<T>[]): object {
  return Object.fromEntries(columns.map((c) => [c.header, jsonValue(c.value(row)) ?? null]));
}
