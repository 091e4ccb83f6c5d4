// Events into the repository's binary COPY rows, done before a batch reaches the writer's connection
// (on a parsing thread, for ingest): the rows, and what the writer needs to know about them —
// the days they fall on (partitions), each input's position and time range (to tell a new
// stretch of a log from one that may already be stored), and the sessions they open or close.
// Pure: no I/O, so that it can run on a worker thread.
import { objectArray } from '../core/object-array.ts';
import { ByteWriter } from '../core/byte-writer.ts';
import type { PgwardenEvent } from '../core/event.ts';
import { EVENT_FIELDS } from '../core/event-fields.ts';

/** Column order of the staging table and of every COPY row (the event field table's). */
export const EVENT_COLUMNS: readonly string[] = EVENT_FIELDS.map((f) => f.column);
export const COLUMN_LIST = EVENT_COLUMNS.join(', ');

// COPY's binary format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"):
// each row is the number of columns (int16), then per column its length (int32; -1 for NULL) and
// its bytes in the type's binary form. PostgreSQL reads it without the text format's escapes and
// type input functions: a fifth less of its time for a batch. The writer adds the header and the
// trailer around a batch's rows (COPY_HEADER, COPY_TRAILER), so that encoded rows can be joined.
//
// The column types are those of the events table (migrations.ts): text, integer, bigint, double
// precision, text[], jsonb and timestamptz.

/** The binary COPY header: signature, flags (none), header extension length (none). */
export const COPY_HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The binary COPY trailer: a row of -1 columns. */
export const COPY_TRAILER = Buffer.from([0xff, 0xff]);

/** PostgreSQL's epoch (2000-01-01 UTC) as Unix time, in milliseconds: binary timestamps count microseconds from it. */
const PG_EPOCH_MS = 946_684_800_000;
const TEXT_OID = 25;
const INT4_MIN = -2147483648;
const INT4_MAX = 2147483647;

function int32At(b: Uint8Array, p: number, value: number): void {
  b[p] = value >>> 24;
  b[p + 1] = value >>> 16;
  b[p + 2] = value >>> 8;
  b[p + 3] = value;
}

/** A whole number up to 2^53 in magnitude as a big-endian int64 (two's complement). */
function int64At(b: Uint8Array, p: number, value: number): void {
  const high = Math.floor(value / 4294967296);
  int32At(b, p, high | 0);
  int32At(b, p + 4, (value - high * 4294967296) >>> 0);
}

function binaryNull(w: ByteWriter): void {
  const b = w.room(4);
  const p = w.length;
  b[p] = 0xff;
  b[p + 1] = 0xff;
  b[p + 2] = 0xff;
  b[p + 3] = 0xff;
  w.length = p + 4;
}

/** Below this many UTF-16 units, plain ASCII is copied here (cheaper than a call into Buffer.write). */
const SHORT_TEXT = 16;

/**
 * Text as UTF-8 at b[p…], returning its byte length. PostgreSQL text cannot hold NUL, which is
 * written as U+FFFD (as Buffer.write writes a lone surrogate). `b` must have 3 bytes per UTF-16 unit.
 */
function utf8At(b: Buffer, p: number, value: string): number {
  const n = value.length;
  if (n < SHORT_TEXT) {
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === 0 || c > 127) break;
      b[p + i] = c;
    }
    if (i === n) return n;
  }
  return b.write(value.indexOf('\0') < 0 ? value : value.replaceAll('\0', '\ufffd'), p);
}

/** A text column: its length, then its UTF-8. */
function binaryText(w: ByteWriter, value: string | null | undefined): void {
  if (value === null || value === undefined) {
    binaryNull(w);
    return;
  }
  // UTF-8 takes at most 3 bytes per UTF-16 unit, and so does U+FFFD for a NUL.
  const b = w.room(value.length * 3 + 4);
  const p = w.length;
  const size = utf8At(b, p + 4, value);
  int32At(b, p, size);
  w.length = p + 4 + size;
}

/** Makes room for a column of `size` bytes (which may move w.bytes), writes its length, and returns where its bytes go. */
function fixedColumn(w: ByteWriter, size: number): number {
  const p = w.length;
  int32At(w.room(4 + size), p, size);
  w.length = p + 4 + size;
  return p + 4;
}

/** An integer column (int4); a value it cannot hold is stored as NULL rather than failing the batch. */
function binaryInt4(w: ByteWriter, value: number | null | undefined): void {
  if (value === null || value === undefined || !Number.isInteger(value) || value < INT4_MIN || value > INT4_MAX) binaryNull(w);
  else {
    const p = fixedColumn(w, 4); // first: it may move w.bytes
    int32At(w.bytes, p, value);
  }
}

/** A bigint column (int8); a value that is not a safe whole number is stored as NULL. */
function binaryInt8(w: ByteWriter, value: number | null | undefined): void {
  if (value === null || value === undefined || !Number.isSafeInteger(value)) binaryNull(w);
  else {
    const p = fixedColumn(w, 8);
    int64At(w.bytes, p, value);
  }
}

/** A double precision column (float8); NaN and the infinities are stored as NULL, as before. */
function binaryFloat8(w: ByteWriter, value: number | null | undefined): void {
  if (value === null || value === undefined || !Number.isFinite(value)) binaryNull(w);
  else {
    const p = fixedColumn(w, 8);
    w.bytes.writeDoubleBE(value, p);
  }
}

/** A timestamptz column: microseconds since 2000-01-01 UTC. */
function binaryTime(w: ByteWriter, time: ReadTime | null): void {
  if (time === null) binaryNull(w);
  else {
    const p = fixedColumn(w, 8);
    int64At(w.bytes, p, (time.ms - PG_EPOCH_MS) * 1000 + time.micros);
  }
}

/** A jsonb column: the format version (1), then the JSON text. */
function binaryJson(w: ByteWriter, value: object | null): void {
  if (value === null) {
    binaryNull(w);
    return;
  }
  let json = JSON.stringify(value);
  // jsonb refuses the escape \u0000 (22P05) and a lone surrogate's (\ud800 to \udfff, the only
  // escapes JSON.stringify writes with a d): such strings get U+FFFD, as text columns do
  if (json.includes('\\u0000') || json.includes('\\ud')) json = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? pgText(v) : v));
  const b = w.room(json.length * 3 + 5);
  const p = w.length;
  b[p + 4] = 1;
  const size = utf8At(b, p + 5, json) + 1;
  int32At(b, p, size);
  w.length = p + 4 + size;
}

/**
 * A text[] column: dimensions (1, or 0 when empty), whether an element is NULL, the element
 * type (text), the length and lower bound (1) of the dimension, then each element as a column.
 */
function binaryTextArray(w: ByteWriter, values: (string | null)[]): void {
  const start = w.length;
  const head = values.length === 0 ? 12 : 20;
  const b = w.room(4 + head);
  int32At(b, start + 4, values.length === 0 ? 0 : 1);
  int32At(b, start + 8, values.includes(null) ? 1 : 0);
  int32At(b, start + 12, TEXT_OID);
  if (values.length > 0) {
    int32At(b, start + 16, values.length);
    int32At(b, start + 20, 1);
  }
  w.length = start + 4 + head;
  for (const value of values) binaryText(w, value);
  int32At(w.bytes, start, w.length - start - 4);
}

// generated:begin copy-row (scripts/generate.ts from src/core/event-fields.ts (npm run generate); do not edit by hand)
/** 11 NULL columns: the audit fields of an event without one. */
const NO_AUDIT = Buffer.alloc(11 * 4, 0xff);

/**
 * Appends one binary COPY row for an event. `time`: its ts as read by TimeReader; an unreadable
 * one (null) is stored as NULL (undated) rather than failing the batch.
 */
function writeCopyRow(w: ByteWriter, e: PgwardenEvent, time: ReadTime | null): void {
  const b = w.room(2);
  b[w.length] = 0;
  b[w.length + 1] = 39; // EVENT_COLUMNS.length
  w.length += 2;
  binaryTime(w, time);
  binaryText(w, e.kind);
  binaryText(w, e.server);
  binaryInt4(w, e.pid);
  binaryText(w, e.session_id);
  binaryInt8(w, e.session_line);
  binaryText(w, e.user);
  binaryText(w, e.database);
  binaryText(w, e.application);
  binaryText(w, e.client_addr);
  binaryInt4(w, e.client_port);
  binaryText(w, e.severity);
  binaryText(w, e.sqlstate);
  binaryText(w, e.message);
  binaryText(w, e.detail);
  binaryText(w, e.hint);
  binaryText(w, e.context);
  binaryText(w, e.query);
  binaryText(w, e.backend_type);
  binaryText(w, e.pooler);
  binaryFloat8(w, e.duration_ms);
  const a = e.audit;
  if (a === null) w.constant(NO_AUDIT);
  else {
    binaryText(w, a.type);
    binaryInt8(w, a.statement_id);
    binaryInt8(w, a.substatement_id);
    binaryText(w, a.class);
    binaryText(w, a.command);
    binaryText(w, a.object_type);
    binaryText(w, a.object_name);
    binaryText(w, a.statement);
    if (a.parameters === null) binaryNull(w);
    else binaryTextArray(w, a.parameters);
    binaryText(w, a.statement_logged);
    binaryInt8(w, a.rows);
  }
  binaryJson(w, e.guard);
  binaryJson(w, e.ddl);
  binaryJson(w, e.tamper);
  binaryJson(w, e.response);
  binaryText(w, e.source.input);
  binaryInt8(w, e.source.position);
  binaryInt8(w, e.source.line);
}
// generated:end copy-row

/**
 * What a batch's connection events say of one session, each field as SESSIONS_SQL (writer.ts)
 * aggregates it: the user and database from any but `connection received` (which holds what the
 * client sent, before it authenticated), the application from `connection authorized`, the times
 * from their own records. A batch's events of a session are merged into one row (a session's
 * three records made three rows before, the upsert's largest cost after the COPY); a second row
 * of the session only where two events disagree on a field, which the upsert's max() and min()
 * then decide as for single events.
 */
export interface LoginRow {
  server: string | null; session_id: string; pid: number | null; user_name: string | null; database_name: string | null;
  application: string | null; client_addr: string | null; client_port: number | null;
  started_at: string | null; authorized_at: string | null; ended_at: string | null; duration_ms: number | null;
}

const MERGED_FIELDS = ['pid', 'user_name', 'database_name', 'application', 'client_addr', 'client_port',
  'started_at', 'authorized_at', 'ended_at', 'duration_ms'] as const satisfies readonly (keyof LoginRow)[];

function fill<K extends keyof LoginRow>(row: LoginRow, facts: LoginRow, field: K): void {
  if (row[field] === null) row[field] = facts[field];
}

/** Adds `facts` to `row` (the same session's) unless a field of both holds different values. */
function mergeLogin(row: LoginRow, facts: LoginRow): boolean {
  for (const field of MERGED_FIELDS) {
    const a = row[field];
    const b = facts[field];
    if (a !== null && b !== null && a !== b) return false;
  }
  for (const field of MERGED_FIELDS) fill(row, facts, field);
  return true;
}

/** One server's input's stretch in a batch: byte positions and times (ms since the epoch). */
export interface InputRange { input: string; server: string | null; min: number; max: number; first: number; last: number }

/**
 * A session's dated events in a batch, what pgwarden_repo.session_activity adds up: how many, how
 * many audited statements, and the first and last event's time (ms since the epoch, the
 * microseconds dropped: readers allow a millisecond after the last).
 */
export interface SessionActivity { server: string; session_id: string; events: number; statements: number; first: number; last: number }

/** A session of the batch being encoded: its activity, and its last row in the batch's logins (merged into, see LoginRow). */
interface TrackedSession { activity: SessionActivity; login: LoginRow | null }

/** Dated events of one kind and server in one UTC hour: what the dashboard's event_counts adds up. */
export interface HourCount { hour: string; kind: string; server: string; events: number }

export interface EncodedBatch {
  /** Binary COPY rows (EVENT_COLUMNS), one per event, without header and trailer; undated events have ts NULL. */
  rows: Uint8Array;
  count: number;
  /** false when some event has no readable time: those go to undated_events. */
  allDated: boolean;
  /** UTC days (YYYY-MM-DD) of the dated events, each once. */
  days: string[];
  /** Per server and input, over the dated events. */
  ranges: InputRange[];
  logins: LoginRow[];
  /** Per session (server '' for none), over the dated events with a session id. */
  activity: SessionActivity[];
  /** The dated events counted by hour, kind and server (server '' for none). */
  counts: HourCount[];
}

// auth_failed: a refused login's session still says who tried.
const SESSION_KINDS = new Set(['connection_received', 'connection_authorized', 'auth_failed', 'disconnection']);

/**
 * Text as PostgreSQL's text and jsonb can hold it, and as utf8At writes it into the COPY rows: NUL
 * and lone surrogates (which UTF-8 cannot encode) as U+FFFD. Keys built from it match the rows'.
 */
export function pgText(value: string | null): string | null {
  if (value === null || !UNSTORABLE.test(value)) return value;
  return Buffer.from(value.replaceAll('\0', '\ufffd'), 'utf8').toString('utf8');
}
const UNSTORABLE = /[\0\uD800-\uDFFF]/;

/** A time read from an event's ts (see TimeReader). */
interface ReadTime { ms: number; micros: number; hour: number; day: string }

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
  private readonly result: ReadTime = { ms: 0, micros: 0, hour: 0, day: '' };

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
        r.micros = 0;
        r.hour = this.hourStart;
        r.day = this.hourDay;
        return r;
      }
    }
    const ms = Date.parse(ts);
    if (Number.isNaN(ms)) return null;
    r.ms = ms;
    // Date.parse keeps milliseconds; digits beyond them are microseconds that PostgreSQL keeps.
    const fraction = FRACTION.exec(ts);
    r.micros = fraction === null ? 0 : Number(fraction[1]!.padEnd(3, '0'));
    r.hour = Math.floor(ms / 3_600_000) * 3_600_000;
    r.day = new Date(ms).toISOString().slice(0, 10);
    return r;
  }
}

/** The fourth to sixth digits of the seconds' fraction (microseconds), when there are more than three. */
const FRACTION = /:\d\d\.\d{3}(\d{1,3})/;

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
  private readonly logins: LoginRow[] = objectArray();
  private readonly counts = new Map<string, HourCount>();
  /** Each session of the batch by server and session id (as stored): its activity and its last row in logins. */
  private readonly sessions = new Map<string, TrackedSession>();
  // The last session touched: the next event is most often of the same.
  private session: TrackedSession | null = null;
  // The last range and count touched: the next event is most often of the same input and hour.
  private range: InputRange | null = null;
  private hourCount: HourCount | null = null;
  private hourCountOf = { hour: -1, kind: '', server: '' };

  /** `sizeHint`: the expected bytes of COPY rows (it grows as needed); `reuse`: see ByteWriter. */
  constructor(sizeHint: number, reuse?: ArrayBuffer) {
    this.rows = new ByteWriter(sizeHint, reuse);
  }

  add(e: PgwardenEvent): void {
    this.count++;
    // A ts that cannot be read as a time goes to undated_events (ts null) rather than failing the batch.
    const time = e.ts === null ? null : this.times.read(e.ts);
    writeCopyRow(this.rows, e, time);
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
    let range = this.range !== null && this.range.input === input && this.range.server === e.server ? this.range : null;
    if (range === null) {
      // the server is part of the key: two servers' files may share a name, and offsets
      const key = e.server === null ? input : `${input}\u0000${e.server}`;
      range = this.ranges.get(key) ?? null;
      if (range === null) this.ranges.set(key, range = { input, server: e.server, min: position, max: position, first: time.ms, last: time.ms });
    }
    if (position < range.min) range.min = position;
    if (position > range.max) range.max = position;
    if (time.ms < range.first) range.first = time.ms;
    if (time.ms > range.last) range.last = time.ms;
    this.range = range;
    if (e.session_id === null) return;
    const session = this.active(e, e.session_id, time.ms);
    if (SESSION_KINDS.has(e.kind)) this.login(e, session);
  }

  /** A dated event of a session into the session's activity; the session. */
  private active(e: PgwardenEvent, sessionId: string, ms: number): TrackedSession {
    let tracked = this.session;
    if (tracked === null || tracked.activity.session_id !== sessionId || tracked.activity.server !== (e.server ?? '')) {
      // as the COPY rows write it (pgText), so the key is the one the events are stored under
      // (a NUL in a name must not make two sessions one, nor a lone surrogate two of one)
      const server = pgText(e.server) ?? '';
      const id = pgText(sessionId)!;
      const key = `${server}\u0000${id}`;
      tracked = this.sessions.get(key) ?? null;
      if (tracked === null) this.sessions.set(key, tracked = { activity: { server, session_id: id, events: 0, statements: 0, first: ms, last: ms }, login: null });
      this.session = tracked;
    }
    const session = tracked.activity;
    session.events++;
    if (e.kind === 'audit') session.statements++;
    if (ms < session.first) session.first = ms;
    if (ms > session.last) session.last = ms;
    return tracked;
  }

  /** A connection event's facts into its session's row (see LoginRow). */
  private login(e: PgwardenEvent, session: TrackedSession): void {
    const kind = e.kind;
    const authenticated = kind !== 'connection_received';
    const authorized = kind === 'connection_authorized';
    const ended = kind === 'disconnection';
    // jsonb refuses \u0000 (22P05) and lone surrogates: U+FFFD here as in the events' columns
    const facts: LoginRow = {
      server: pgText(e.server), session_id: session.activity.session_id, pid: e.pid,
      user_name: authenticated ? pgText(e.user) : null, database_name: authenticated ? pgText(e.database) : null,
      application: authorized ? pgText(e.application) : null, client_addr: pgText(e.client_addr), client_port: e.client_port,
      started_at: authenticated ? null : e.ts, authorized_at: authorized ? e.ts : null,
      ended_at: ended ? e.ts : null, duration_ms: ended ? e.duration_ms : null,
    };
    if (session.login !== null && mergeLogin(session.login, facts)) return;
    this.logins.push(facts);
    session.login = facts;
  }

  finish(): EncodedBatch {
    return { rows: this.rows.result(), count: this.count, allDated: this.allDated, days: [...this.days].sort(), ranges: [...this.ranges.values()],
      logins: this.logins, activity: [...this.sessions.values()].map((tracked) => tracked.activity), counts: [...this.counts.values()] };
  }
}

/** A batch of events at once (the writer's write()). */
export function encodeBatch(events: readonly PgwardenEvent[]): EncodedBatch {
  const encoder = new BatchEncoder(events.length * 512);
  for (const event of events) encoder.add(event);
  return encoder.finish();
}
