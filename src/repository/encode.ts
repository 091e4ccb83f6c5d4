// Events into the repository's COPY text, done before a batch reaches the writer's connection
// (on a parsing thread, for ingest): the rows, and what the writer needs to know about them —
// the days they fall on (partitions), each input's position and time range (to tell a new
// stretch of a log from one that may already be stored), and the sessions they open or close.
// Pure: no I/O, so that it can run on a worker thread.
import { ByteWriter, utf8Char } from '../core/byte-writer.ts';
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

// COPY text format: a tab between columns, \N for NULL, and a backslash before \, newline, CR and
// TAB in a value. PostgreSQL text cannot hold NUL, which becomes U+FFFD (as a lone surrogate does
// in UTF-8). Values are written straight into the batch's bytes (see ByteWriter).
const TAB = 9;
const NL = 10;

/** A NULL field and the byte after it (TAB, or the newline after the last column). */
function copyNull(w: ByteWriter, end: number): void {
  const b = w.room(3);
  const p = w.length;
  b[p] = 92;
  b[p + 1] = 78;
  b[p + 2] = end;
  w.length = p + 3;
}

/** A text field and the byte after it. */
function copyText(w: ByteWriter, value: string | null | undefined, end: number): void {
  if (value === null || value === undefined) {
    copyNull(w, end);
    return;
  }
  const n = value.length;
  const b = w.room(n * 3 + 1);
  let p = w.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 32 && c < 128) {
      if (c === 92) {
        b[p++] = 92;
        b[p++] = 92;
      } else b[p++] = c;
    } else if (c < 32) {
      p = controlChar(b, p, c);
    } else {
      const before = p;
      p = utf8Char(b, p, value, i, c);
      if (p - before === 4) i++;
    }
  }
  b[p++] = end;
  w.length = p;
}

/** A control character in COPY text: \n, \r and \t escaped, NUL as U+FFFD, the others as they are. */
function controlChar(b: Uint8Array, p: number, c: number): number {
  if (c === 10 || c === 13 || c === 9) {
    b[p] = 92;
    b[p + 1] = c === 10 ? 110 : c === 13 ? 114 : 116;
    return p + 2;
  }
  if (c === 0) {
    b[p] = 0xef;
    b[p + 1] = 0xbf;
    b[p + 2] = 0xbd;
    return p + 3;
  }
  b[p] = c;
  return p + 1;
}

/**
 * A text[] value in COPY text: the array literal {"a","b",NULL}, where an element's \ and " take
 * a backslash, written as COPY text (so each of those backslashes is doubled again).
 */
function copyArray(w: ByteWriter, values: (string | null)[], end: number): void {
  w.byte(123);
  for (let k = 0; k < values.length; k++) {
    if (k > 0) w.byte(44);
    const value = values[k]!;
    if (value === null) {
      w.text('NULL');
      continue;
    }
    const n = value.length;
    const b = w.room(n * 4 + 2);
    let p = w.length;
    b[p++] = 34;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 32 && c < 128) {
        if (c === 92) {
          b[p] = 92; b[p + 1] = 92; b[p + 2] = 92; b[p + 3] = 92;
          p += 4;
        } else if (c === 34) {
          b[p] = 92; b[p + 1] = 92; b[p + 2] = 34;
          p += 3;
        } else b[p++] = c;
      } else if (c < 32) {
        p = controlChar(b, p, c);
      } else {
        const before = p;
        p = utf8Char(b, p, value, i, c);
        if (p - before === 4) i++;
      }
    }
    b[p++] = 34;
    w.length = p;
  }
  w.byte(125);
  w.byte(end);
}

function copyNumber(w: ByteWriter, value: number | null | undefined, end: number): void {
  if (value === null || value === undefined || !Number.isFinite(value)) copyNull(w, end);
  else {
    w.number(value);
    w.byte(end);
  }
}

function copyJson(w: ByteWriter, value: object | null, end: number): void {
  if (value === null) copyNull(w, end);
  else copyText(w, JSON.stringify(value), end);
}

const NO_AUDIT = Buffer.from('\\N\t'.repeat(11));

/**
 * Appends one COPY text row for an event (tab-separated, newline-terminated). `dated`: whether
 * ts can be read (TimeReader); an unreadable one is stored as null (undated) rather than failing the batch.
 */
function writeCopyRow(w: ByteWriter, e: PgwardenEvent, dated: boolean): void {
  copyText(w, dated ? e.ts : null, TAB);
  copyText(w, e.kind, TAB);
  copyText(w, e.server, TAB);
  copyNumber(w, e.pid, TAB);
  copyText(w, e.session_id, TAB);
  copyNumber(w, e.session_line, TAB);
  copyText(w, e.user, TAB);
  copyText(w, e.database, TAB);
  copyText(w, e.application, TAB);
  copyText(w, e.client_addr, TAB);
  copyNumber(w, e.client_port, TAB);
  copyText(w, e.severity, TAB);
  copyText(w, e.sqlstate, TAB);
  copyText(w, e.message, TAB);
  copyText(w, e.detail, TAB);
  copyText(w, e.hint, TAB);
  copyText(w, e.context, TAB);
  copyText(w, e.query, TAB);
  copyText(w, e.backend_type, TAB);
  copyNumber(w, e.duration_ms, TAB);
  const a = e.audit;
  if (a === null) w.constant(NO_AUDIT);
  else {
    copyText(w, a.type, TAB);
    copyNumber(w, a.statement_id, TAB);
    copyNumber(w, a.substatement_id, TAB);
    copyText(w, a.class, TAB);
    copyText(w, a.command, TAB);
    copyText(w, a.object_type, TAB);
    copyText(w, a.object_name, TAB);
    copyText(w, a.statement, TAB);
    if (a.parameters === null) copyNull(w, TAB);
    else copyArray(w, a.parameters, TAB);
    copyText(w, a.statement_logged, TAB);
    copyNumber(w, a.rows, TAB);
  }
  copyJson(w, e.guard, TAB);
  copyJson(w, e.ddl, TAB);
  copyJson(w, e.tamper, TAB);
  copyText(w, e.source.input, TAB);
  copyNumber(w, e.source.position, TAB);
  copyNumber(w, e.source.line, NL);
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

/** A time read from an event's ts (see TimeReader). */
interface ReadTime { ms: number; hour: number; day: string }

/**
 * Reads event times (ms since the epoch, UTC hour and day) fast for a run of events in the same
 * hour: ts as pgwarden's parsers write it ("2026-11-22T08:15:30.123+00:00", whole-hour offsets)
 * costs a few digit reads once its hour is known; any other text goes through Date.parse.
 */
class TimeReader {
  // The hour last read: ts's first 13 characters and its offset (never a real ts at first).
  private hourPrefix = '\u0000';
  private hourZone = '';
  private hourStart = 0;
  private hourDay = '';
  private readonly result: ReadTime = { ms: 0, hour: 0, day: '' };

  /** The time of ts (the same object each call), or null when ts is not a time. */
  read(ts: string): ReadTime | null {
    const r = this.result;
    if (ts.length === 29 && ts.charCodeAt(13) === 58 && ts.charCodeAt(16) === 58 && ts.charCodeAt(19) === 46 && ts.endsWith(':00')) {
      const minutes = digits(ts, 14, 2);
      const seconds = digits(ts, 17, 2);
      const millis = digits(ts, 20, 3);
      if (minutes >= 0 && minutes < 60 && seconds >= 0 && seconds < 60 && millis >= 0) {
        if (!(ts.startsWith(this.hourPrefix) && ts.endsWith(this.hourZone))) {
          const start = Date.parse(ts.slice(0, 13) + ':00:00.000' + ts.slice(23));
          if (Number.isNaN(start)) return null;
          this.hourPrefix = ts.slice(0, 13);
          this.hourZone = ts.slice(23);
          this.hourStart = start;
          this.hourDay = new Date(start).toISOString().slice(0, 10);
        }
        r.ms = this.hourStart + minutes * 60_000 + seconds * 1000 + millis;
        r.hour = this.hourStart;
        r.day = this.hourDay;
        return r;
      }
    }
    const ms = Date.parse(ts);
    if (Number.isNaN(ms)) return null;
    r.ms = ms;
    r.hour = Math.floor(ms / 3_600_000) * 3_600_000;
    r.day = new Date(ms).toISOString().slice(0, 10);
    return r;
  }
}

/** The number in `count` decimal digits at `from`, or -1. */
function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Encodes a batch event by event (a parsing thread adds each event as it is read, so events do
 * not pile up for the garbage collector); finish() gives the EncodedBatch.
 */
export class BatchEncoder {
  private readonly rows: ByteWriter;
  private readonly times = new TimeReader();
  private count = 0;
  private allDated = true;
  private readonly days = new Set<string>();
  private readonly ranges = new Map<string, InputRange>();
  private readonly logins: LoginRow[] = [];
  private readonly counts = new Map<string, HourCount>();
  // The last range and count touched: the next event is most often of the same input and hour.
  private range: InputRange | null = null;
  private hourCount: HourCount | null = null;
  private hourCountOf = { hour: -1, kind: '', server: '' };

  /** `sizeHint`: the expected bytes of COPY text (it grows as needed); `reuse`: see ByteWriter. */
  constructor(sizeHint: number, reuse?: ArrayBuffer) {
    this.rows = new ByteWriter(sizeHint, reuse);
  }

  add(e: PgwardenEvent): void {
    this.count++;
    // A ts that cannot be read as a time goes to undated_events (ts null) rather than failing the batch.
    const time = e.ts === null ? null : this.times.read(e.ts);
    writeCopyRow(this.rows, e, time !== null);
    if (time === null) {
      this.allDated = false;
      return;
    }
    this.days.add(time.day);
    const server = e.server ?? '';
    const of = this.hourCountOf;
    if (this.hourCount !== null && of.hour === time.hour && of.kind === e.kind && of.server === server) this.hourCount.events++;
    else {
      const key = `${time.hour} ${e.kind} ${server}`;
      let count = this.counts.get(key);
      if (count) count.events++;
      else this.counts.set(key, count = { hour: new Date(time.hour).toISOString(), kind: e.kind, server, events: 1 });
      this.hourCount = count;
      this.hourCountOf = { hour: time.hour, kind: e.kind, server };
    }
    const { input, position } = e.source;
    let range = this.range !== null && this.range.input === input ? this.range : this.ranges.get(input);
    if (!range) this.ranges.set(input, range = { input, min: position, max: position, first: time.ms, last: time.ms });
    else {
      if (position < range.min) range.min = position;
      if (position > range.max) range.max = position;
      if (time.ms < range.first) range.first = time.ms;
      if (time.ms > range.last) range.last = time.ms;
    }
    this.range = range;
    if (e.session_id !== null && SESSION_KINDS.has(e.kind)) {
      this.logins.push({
        kind: e.kind, ts: e.ts, server: e.server, session_id: e.session_id, pid: e.pid, user_name: e.user, database_name: e.database,
        application: e.application, client_addr: e.client_addr, client_port: e.client_port, duration_ms: e.duration_ms,
      });
    }
  }

  finish(): EncodedBatch {
    return { rows: this.rows.result(), count: this.count, allDated: this.allDated, days: [...this.days].sort(), ranges: [...this.ranges.values()],
      logins: this.logins, counts: [...this.counts.values()] };
  }
}

/** A batch of events at once (the writer's write()). */
export function encodeBatch(events: readonly PgwardenEvent[]): EncodedBatch {
  const encoder = new BatchEncoder(events.length * 512);
  for (const event of events) encoder.add(event);
  return encoder.finish();
}
