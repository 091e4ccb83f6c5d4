// Keyset paging over millions of rows, newest first, in bounded time.
//
// A page is read backwards through the time range in windows: a short one first, longer ones
// while they come back empty, each one an index range scan. When the page is full, the cursor
// is the last row's key (time plus tie-breakers): the next page starts just below it, at the
// same cost however deep it is. When the time budget runs out first (a search for something
// rare, on a filter no index serves), the page returns what it found with the point it searched
// back to, and the cursor goes on from there: every request answers in about the budget.
import type pg from 'pg';
import { PgwardenError } from '../../core/errors.ts';
import type { Queryable } from '../users.ts';

/** Where the next page starts: below this row key, or (frontier) below this time. */
export interface Cursor {
  /** ISO-8601 with microseconds, UTC */
  ts: string;
  /** the tie-breaking key values of the last row; absent for a frontier */
  key?: string[];
  /** for a frontier: the window width reached, so the search goes on as wide as it got */
  w?: number;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** The cursor's time as cursorTime() or toISOString() writes it, and nothing else PostgreSQL might read otherwise. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

function badCursor(): PgwardenError {
  return new PgwardenError('PGW_ERR_INVALID_VALUE', 'cursor is not one this server handed out (start again from the first page)');
}

export function decodeCursor(text: string | undefined): Cursor | null {
  if (text === undefined || text === '') return null;
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    const time = typeof value?.ts === 'string' && CURSOR_TIME.test(value.ts) ? Date.parse(value.ts) : NaN;
    if (time >= Date.UTC(1970, 0, 1) && time <= Date.UTC(9999, 11, 31)
      && (value.key === undefined || (Array.isArray(value.key) && value.key.length <= 4 && value.key.every((k) => typeof k === 'string' && k.length <= 1000 && !k.includes('\u0000'))))
      && (value.w === undefined || (Number.isSafeInteger(value.w) && value.w > 0))) return value;
  } catch { /* falls through */ }
  throw badCursor();
}

/** A row key of a cursor must fit the list's key columns: as many values, each of its type. */
export function checkCursorKey(key: string[], types: string[]): void {
  if (key.length !== types.length) throw badCursor();
  key.forEach((value, i) => {
    if (['bigint', 'integer'].includes(types[i]!) && !/^-?\d{1,18}$/.test(value)) throw badCursor();
  });
}

export interface ScanSpec {
  /** `SELECT ... FROM ... WHERE <filters>`: the columns must include `_ts` (the time as cursorTime() text) and `_k0`.. (the keys as text) */
  select: string;
  params: unknown[];
  /** the row time expression, e.g. `e.ts` */
  time: string;
  /** tie-breaking key expressions and their SQL types, e.g. [['e.source_input', 'text'], ['e.source_position', 'bigint']] */
  keys: [string, string][];
}

/** The SQL that turns a time expression into the cursor's text form. */
export function cursorTime(expression: string): string {
  return `pg_catalog.to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export interface Page<R> {
  rows: R[];
  /** the cursor of the next (older) page, or null at the end of the range */
  next: string | null;
  /** set when the budget ran out before the page filled: how far back the search got */
  searchedTo: string | null;
}

export interface ScanOptions {
  from: Date;
  to: Date;
  cursor: Cursor | null;
  limit: number;
  /** stop widening after this long (Infinity: read until the page is full or the range ends) */
  budgetMs: number;
  /** first window, in milliseconds */
  firstWindowMs?: number;
}

/**
 * The width of a time scan's next window, after one of `scannedMs` that took `chunkMs`. Wider
 * while it is cheap: a sparse filter reaches days in a few steps (and a continuation, whose
 * cursor carries the width, goes on from there). The next window is sized to what the budget has
 * left at the speed of this one, so a page never overshoots its budget by much; `outOfTime` when
 * that affords less than a minute, and then the width is what the next request, with a whole
 * budget, may go on with.
 */
export function nextWindow(window: number, scannedMs: number, chunkMs: number, budgetMs: number, elapsedMs: number): { window: number; outOfTime: boolean } {
  const speed = scannedMs / Math.max(chunkMs, 0.1);
  const left = budgetMs - elapsedMs;
  const affordable = left * speed * 0.8;
  if (left <= 0 || affordable < 60_000) return { window: Math.round(Math.max(60_000, Math.min(window * 4, budgetMs * speed * 0.8))), outOfTime: true };
  return { window: Math.round(Math.min(window * 4, affordable)), outOfTime: false };
}

/** R: the row as the caller sees it; the query adds `_ts` and `_k<n>`, which are taken off again. */
export async function scanBackwards<R>(db: Queryable, spec: ScanSpec, options: ScanOptions): Promise<Page<R>> {
  const started = performance.now();
  const rows: (R & { _ts: string })[] = [];
  const from = options.from.getTime();
  // After a row key, the first window reaches 1 ms past its time (the row comparison does the rest).
  const cursorAt = options.cursor ? Date.parse(options.cursor.ts) + (options.cursor.key ? 1 : 0) : Infinity;
  let upper = Math.min(cursorAt, options.to.getTime());
  let rowKey = options.cursor?.key ? options.cursor : null;
  if (rowKey) checkCursorKey(rowKey.key!, spec.keys.map(([, type]) => type));
  let window = options.cursor?.w ?? options.firstWindowMs ?? 3_600_000;
  let exhausted = false;
  while (rows.length <= options.limit) {
    if (upper <= from) {
      exhausted = true;
      break;
    }
    const lower = Math.max(from, upper - window);
    const params = [...spec.params];
    const add = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    let sql = `${spec.select} AND ${spec.time} >= ${add(new Date(lower))}`;
    if (rowKey) {
      // Row comparison on (time, keys): served by the index on the same columns.
      const columns = [spec.time, ...spec.keys.map(([expression]) => expression)].join(', ');
      const values = [`${add(rowKey.ts)}::timestamptz`, ...spec.keys.map(([, type], i) => `${add(rowKey!.key![i] ?? null)}::${type}`)].join(', ');
      sql += ` AND (${columns}) < (${values})`;
    } else {
      sql += ` AND ${spec.time} < ${add(new Date(upper))}`;
    }
    const order = [spec.time, ...spec.keys.map(([expression]) => expression)].map((c) => `${c} DESC`).join(', ');
    sql += ` ORDER BY ${order} LIMIT ${add(options.limit + 1 - rows.length)}`;
    const chunkStarted = performance.now();
    const result = await db.query<R & { _ts: string } & pg.QueryResultRow>(sql, params);
    rows.push(...result.rows);
    const chunkMs = performance.now() - chunkStarted;
    if (rows.length > options.limit) break;
    const scanned = upper - lower;
    upper = lower;
    rowKey = null;
    const widened = nextWindow(window, scanned, chunkMs, options.budgetMs, performance.now() - started);
    window = widened.window;
    if (widened.outOfTime) break;
  }
  const page = rows.slice(0, options.limit);
  let next: Cursor | null = null;
  let searchedTo: string | null = null;
  if (rows.length > options.limit) {
    const last = page[page.length - 1]! as R & { _ts: string } & Record<string, unknown>;
    next = { ts: last._ts, key: spec.keys.map((_, i) => String(last[`_k${i}`])) };
  } else if (!exhausted && upper > from) {
    next = { ts: new Date(upper).toISOString(), w: window };
    searchedTo = next.ts;
  }
  return {
    rows: page.map((row) => {
      const copy: Record<string, unknown> = { ...row };
      delete copy._ts;
      for (let i = 0; i < spec.keys.length; i++) delete copy[`_k${i}`];
      return copy as R;
    }),
    next: next ? encodeCursor(next) : null,
    searchedTo,
  };
}
