// Events into the repository's COPY text, done before a batch reaches the writer's connection
// (on a parsing thread, for ingest): the rows, and what the writer needs to know about them —
// the days they fall on (partitions), each input's position and time range (to tell a new
// stretch of a log from one that may already be stored), and the sessions they open or close.
// Pure: no I/O, so that it can run on a worker thread.
import { ByteWriter } from '../core/byte-writer.ts';
import type { PgwardenEvent } from '../core/event.ts';

/** Column order of the staging table and of every COPY row. */
export const EVENT_COLUMNS = [
  'ts', 'kind', 'server', 'pid', 'session_id', 'session_line', 'user_name', 'database_name', 'application',
  'client_addr', 'client_port', 'severity', 'sqlstate', 'message', 'detail', 'hint', 'context', 'query',
  'backend_type', 'duration_ms', 'audit_type', 'statement_id', 'substatement_id', 'class', 'command',
  'object_type', 'object_name', 'statement', 'parameters', 'statement_logged', 'rows', 'guard', 'ddl', 'tamper',
  'source_input', 'source_position', 'source_line',
] as const;
export const COLUMN_LIST = EVENT_COLUMNS.join(', ');

const SPECIAL = /[\\\n\r\t\0]/;
const SPECIAL_ALL = /[\\\n\r\t\0]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\uFFFD' };

/** A value in COPY text format; PostgreSQL text cannot hold NUL, which becomes U+FFFD. */
function copyText(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : value;
}

function copyNumber(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '\\N' : String(value);
}

function arrayLiteral(values: (string | null)[]): string {
  return '{' + values.map((v) => (v === null ? 'NULL' : '"' + v.replace(/[\\"]/g, (c) => '\\' + c) + '"')).join(',') + '}';
}

function jsonValue(value: object | null): string {
  return value === null ? '\\N' : copyText(JSON.stringify(value));
}

const UTC_ISO = /^\d{4}-\d\d-\d\dT[^+]*(?:Z|\+00:?00)$/;

/** The UTC day of a timestamp (YYYY-MM-DD), or null when there is none or it cannot be read. */
export function utcDay(ts: string | null): string | null {
  if (ts === null) return null;
  if (UTC_ISO.test(ts)) return ts.slice(0, 10);
  const time = Date.parse(ts);
  return Number.isNaN(time) ? null : new Date(time).toISOString().slice(0, 10);
}

const T = '\t';

/**
 * One COPY text row for an event (tab-separated, newline-terminated). `dated`: whether ts can
 * be read (utcDay); an unreadable one is stored as null (undated) rather than failing the batch.
 */
export function copyRow(e: PgwardenEvent, dated = utcDay(e.ts) !== null): string {
  const a = e.audit;
  let row = (dated ? copyText(e.ts) : '\\N') + T + copyText(e.kind) + T + copyText(e.server) + T + copyNumber(e.pid) + T +
    copyText(e.session_id) + T + copyNumber(e.session_line) + T + copyText(e.user) + T + copyText(e.database) + T +
    copyText(e.application) + T + copyText(e.client_addr) + T + copyNumber(e.client_port) + T + copyText(e.severity) + T +
    copyText(e.sqlstate) + T + copyText(e.message) + T + copyText(e.detail) + T + copyText(e.hint) + T + copyText(e.context) + T +
    copyText(e.query) + T + copyText(e.backend_type) + T + copyNumber(e.duration_ms) + T;
  if (a === null) row += '\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t';
  else {
    row += copyText(a.type) + T + copyNumber(a.statement_id) + T + copyNumber(a.substatement_id) + T + copyText(a.class) + T +
      copyText(a.command) + T + copyText(a.object_type) + T + copyText(a.object_name) + T + copyText(a.statement) + T +
      (a.parameters ? copyText(arrayLiteral(a.parameters)) : '\\N') + T + copyText(a.statement_logged) + T + copyNumber(a.rows) + T;
  }
  return row + jsonValue(e.guard) + T + jsonValue(e.ddl) + T + jsonValue(e.tamper) + T +
    copyText(e.source.input) + T + copyNumber(e.source.position) + T + copyNumber(e.source.line) + '\n';
}


/** What the sessions table learns from a connection event (see SESSIONS_SQL in writer.ts). */
export interface LoginRow {
  kind: string; ts: string | null; server: string | null; session_id: string | null; pid: number | null;
  user_name: string | null; database_name: string | null; application: string | null; client_addr: string | null;
  client_port: number | null; duration_ms: number | null;
}

/** One input's stretch in a batch: byte positions and times (ms since the epoch). */
export interface InputRange { input: string; min: number; max: number; first: number; last: number }

/** Dated events of one kind and server in one UTC hour: what the dashboard's event_counts adds up. */
export interface HourCount { hour: string; kind: string; server: string; events: number }

export interface EncodedBatch {
  /** COPY text rows (EVENT_COLUMNS) in UTF-8, one per event; undated events have ts \N. */
  rows: Uint8Array;
  count: number;
  /** false when some event has no readable time: those go to undated_events. */
  allDated: boolean;
  /** UTC days (YYYY-MM-DD) of the dated events, each once. */
  days: string[];
  /** Per input, over the dated events. */
  ranges: InputRange[];
  logins: LoginRow[];
  /** The dated events counted by hour, kind and server (server '' for none). */
  counts: HourCount[];
}

// auth_failed: a refused login's session still says who tried.
const SESSION_KINDS = new Set(['connection_received', 'connection_authorized', 'auth_failed', 'disconnection']);

/** `sizeHint`: the expected bytes of COPY text (it grows as needed). */
export function encodeBatch(events: PgwardenEvent[], sizeHint = events.length * 512): EncodedBatch {
  const rows = new ByteWriter(sizeHint);
  let allDated = true;
  const days = new Set<string>();
  const ranges = new Map<string, InputRange>();
  const logins: LoginRow[] = [];
  let previousDay = '';
  const counts = new Map<string, HourCount>();
  for (const e of events) {
    const day = utcDay(e.ts);
    rows.write(copyRow(e, day !== null));
    if (day === null) {
      allDated = false;
      continue;
    }
    if (day !== previousDay) {
      days.add(day);
      previousDay = day;
    }
    const time = Date.parse(e.ts!);
    const hour = Math.floor(time / 3_600_000) * 3_600_000;
    const server = e.server ?? '';
    const countKey = `${hour} ${e.kind} ${server}`;
    const count = counts.get(countKey);
    if (count) count.events++;
    else counts.set(countKey, { hour: new Date(hour).toISOString(), kind: e.kind, server, events: 1 });
    const { input, position } = e.source;
    const range = ranges.get(input);
    if (!range) ranges.set(input, { input, min: position, max: position, first: time, last: time });
    else {
      if (position < range.min) range.min = position;
      if (position > range.max) range.max = position;
      if (time < range.first) range.first = time;
      if (time > range.last) range.last = time;
    }
    if (e.session_id !== null && SESSION_KINDS.has(e.kind)) {
      logins.push({
        kind: e.kind, ts: e.ts, server: e.server, session_id: e.session_id, pid: e.pid, user_name: e.user, database_name: e.database,
        application: e.application, client_addr: e.client_addr, client_port: e.client_port, duration_ms: e.duration_ms,
      });
    }
  }
  return { rows: rows.result(), count: events.length, allDated, days: [...days].sort(), ranges: [...ranges.values()], logins,
    counts: [...counts.values()] };
}
