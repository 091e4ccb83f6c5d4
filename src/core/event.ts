// The event model: one JSON object per event, the same in every sink (JSON lines, repository
// rows, NATS messages). Stable snake_case names; absent values are null, never guessed.
// The fields are declared once, in event-fields.ts: the JSON writer below, the repository's COPY
// encoder and columns and the field tables of docs/event-model.md are generated from it.
import { ByteWriter, isLoneSurrogate, utf8Char } from './byte-writer.ts';

export const EVENT_KINDS = [
  'connection_received',
  'connection_authorized',
  'auth_failed',
  'disconnection',
  'audit',
  'guard_allow',
  'guard_deny',
  'ddl',
  'tamper',
  'response',
  'error',
  'log',
] as const;

export type EventKind = (typeof EVENT_KINDS)[number];

/** A pgAudit record (kind `audit`). */
export interface AuditInfo {
  /** SESSION or OBJECT */
  type: 'SESSION' | 'OBJECT';
  statement_id: number;
  substatement_id: number;
  /** READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET */
  class: string;
  command: string;
  object_type: string | null;
  object_name: string | null;
  /** null when pgAudit wrote `<not logged>` or `<previously logged>` (see `statement_logged`). */
  statement: string | null;
  /**
   * Bind parameters: null when `<not logged>` (pgaudit.log_parameter off) or `<previously logged>`,
   * [] when `<none>`; an SQL NULL or empty value is null, a suppressed long value stays
   * `<long param suppressed>` (as pgAudit wrote it).
   */
  parameters: (string | null)[] | null;
  /** `yes`, `previously` (pgaudit.log_statement_once) or `no` (pgaudit.log_statement off). */
  statement_logged: 'yes' | 'previously' | 'no';
  /** Rows affected or returned, with pgaudit.log_rows; otherwise null. */
  rows: number | null;
}

/** For kind `guard_deny`, and for the guard's own LOG/WARNING lines (kind `log`). */
export interface GuardInfo {
  /** The rule that refused; null when the guard itself failed closed or the line does not say. */
  rule_id: number | null;
  /** The refusal message the client saw, or the guard's problem. */
  reason: string | null;
  /** null for a refusal; `not_recorded`, `record_failed`, `standby` or `guard_failed` for the guard's log lines. */
  problem: 'not_recorded' | 'record_failed' | 'standby' | 'guard_failed' | null;
}

/** For kind `ddl`: one object a DDL statement created, altered, dropped or rewrote (pgwarden.ddl_events). */
export interface DdlInfo {
  /** pgwarden.ddl_events.id in the monitored database */
  id: number;
  txid: number;
  /** the event trigger that recorded it: ddl_command_end, sql_drop or table_rewrite */
  event: string;
  current_user: string;
  command_tag: string;
  object_type: string | null;
  object_identity: string | null;
  schema: string | null;
  in_extension: boolean;
  statement: string | null;
  change_ticket: string | null;
  server_addr: string | null;
  server_port: number | null;
  /** table_rewrite: the rewrite reason */
  detail: string | null;
}

/** For kind `tamper`: what `pgwarden status` found changed in the installed sensors. */
export interface TamperInfo {
  findings: { object: string; state: string; expected: string; actual: string }[];
  /** true when this event says the drift is gone */
  resolved: boolean;
}

/** For kind `response`: one row of pgwarden.response_actions, a response done, refused, with nothing to do, or only described. */
export interface ResponseInfo {
  /** pgwarden.response_actions.id in the database it acted in */
  id: number;
  /** the caller's id (`<incident>:<action>`): the same id twice acts once */
  response_id: string;
  action: 'terminate' | 'lock_role' | 'unlock_role' | 'block_client' | 'unblock_client';
  /** done, refused, noop (nothing to do: already so), dry_run (what would have been done) */
  outcome: 'done' | 'refused' | 'noop' | 'dry_run';
  /** the role locked or unlocked, or whose session was ended */
  role: string | null;
  /** the network blocked or unblocked (CIDR) */
  network: string | null;
  /** when a lock or block ends */
  until: string | null;
  /** what was done, or why not */
  reason: string;
  /** from the row's detail: the rule and incident the response was for, and the incident's summary (null when run by hand) */
  rule: string | null;
  incident: string | null;
  summary: string | null;
  /** the login that called the response function */
  requested_by: string;
}

/** Where an event was read: enough to find it again and to deduplicate. */
export interface EventSource {
  /** The file name, `-` for standard input, or what the caller named the input (`ddl:server/db`, `tamper:server/db`, `cloudwatch:group:stream`, `sqs:queue`). */
  input: string;
  /** Byte offset of the record's first byte in a log; the ddl_events id for a DDL event; a sequence for a tamper event; a hash of the event or message id for CloudWatch and SQS. */
  position: number;
  /** 1-based line number of the record's first line in a log; null for events not read from text. */
  line: number | null;
}

export interface PgwardenEvent {
  /** ISO-8601 with milliseconds and the offset the server wrote (UTC is +00:00). */
  ts: string | null;
  kind: EventKind;
  server: string | null;
  pid: number | null;
  session_id: string | null;
  session_line: number | null;
  user: string | null;
  database: string | null;
  application: string | null;
  /** An IP address, a host name (log_hostname), or `[local]` for a Unix socket. */
  client_addr: string | null;
  client_port: number | null;
  /** DEBUG, LOG, INFO, NOTICE, WARNING, ERROR, FATAL, PANIC — always English. */
  severity: string | null;
  sqlstate: string | null;
  message: string | null;
  detail: string | null;
  hint: string | null;
  context: string | null;
  /** The statement PostgreSQL printed with the message (STATEMENT line / `query` column). */
  query: string | null;
  /** PostgreSQL's backend type (`client backend`, `checkpointer`, …) when the format carries it. */
  backend_type: string | null;
  /**
   * The connection pooler a connection event came through (`pgbouncer`, read from its log), so that
   * "who connected from where" tells a login through the pooler from one straight to the server; null otherwise.
   */
  pooler: string | null;
  /** For kind `disconnection`: the session's duration. */
  duration_ms: number | null;
  audit: AuditInfo | null;
  guard: GuardInfo | null;
  ddl: DdlInfo | null;
  tamper: TamperInfo | null;
  response: ResponseInfo | null;
  source: EventSource;
}

/** An event with every field present and null, for a producer to fill in (one object shape for all). */
export function newEvent(kind: EventKind, server: string | null, source: EventSource): PgwardenEvent {
  return {
    ts: null, kind, server, pid: null, session_id: null, session_line: null, user: null, database: null,
    application: null, client_addr: null, client_port: null, severity: null, sqlstate: null, message: null,
    detail: null, hint: null, context: null, query: null, backend_type: null, pooler: null, duration_ms: null,
    audit: null, guard: null, ddl: null, tamper: null, response: null, source,
  };
}

/** A line or record the parser could not read. Counted and reported; never fatal. */
export interface ParseError {
  input: string;
  /** Byte offset where the unreadable text starts. */
  position: number;
  /** 1-based line number where it starts. */
  line: number;
  /** What was wrong, in one line. */
  reason: string;
  /** The first 200 characters of the text. */
  excerpt: string;
}

// The JSON writer for the event shape, used where events are written by the million (parse, JSON
// lines): the same bytes as JSON.stringify(event) in UTF-8 (a test holds them equal), written
// straight into a ByteWriter: constant keys, strings escaped as JSON.stringify escapes them. The
// helpers are written here; the writer itself (writeEventJson) is generated from the field table.
const encoder = new TextEncoder();
const K = (text: string) => encoder.encode(text);
const HEX = K('0123456789abcdef');
// The escapes of JSON.stringify below U+0020 and for " and \ (0 = \u00XX).
const SHORT_ESCAPES = new Uint8Array(93);
for (const [c, letter] of [[8, 'b'], [9, 't'], [10, 'n'], [12, 'f'], [13, 'r'], [34, '"'], [92, '\\']] as const) SHORT_ESCAPES[c] = letter.charCodeAt(0);

function writeUnicodeEscape(b: Uint8Array, p: number, c: number): number {
  b[p] = 92;
  b[p + 1] = 117;
  b[p + 2] = HEX[(c >> 12) & 15]!;
  b[p + 3] = HEX[(c >> 8) & 15]!;
  b[p + 4] = HEX[(c >> 4) & 15]!;
  b[p + 5] = HEX[c & 15]!;
  return p + 6;
}

function jsonNull(w: ByteWriter): void {
  const b = w.room(4);
  const p = w.length;
  b[p] = 110;
  b[p + 1] = 117;
  b[p + 2] = 108;
  b[p + 3] = 108;
  w.length = p + 4;
}

function jsonString(w: ByteWriter, value: string | null): void {
  if (value === null) {
    jsonNull(w);
    return;
  }
  const n = value.length;
  const b = w.room(n * 6 + 2);
  let p = w.length;
  b[p++] = 34;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 128) {
      if (c >= 32 && c !== 34 && c !== 92) b[p++] = c;
      else if (SHORT_ESCAPES[c]) {
        b[p++] = 92;
        b[p++] = SHORT_ESCAPES[c]!;
      } else p = writeUnicodeEscape(b, p, c);
    } else if (isLoneSurrogate(value, i, c)) {
      p = writeUnicodeEscape(b, p, c);
    } else {
      const before = p;
      p = utf8Char(b, p, value, i, c);
      if (p - before === 4) i++;
    }
  }
  b[p++] = 34;
  w.length = p;
}

function jsonNumber(w: ByteWriter, value: number | null): void {
  if (value != null && Number.isFinite(value)) w.number(value);
  else jsonNull(w);
}

function jsonParameters(w: ByteWriter, values: (string | null)[] | null): void {
  if (values === null) {
    jsonNull(w);
    return;
  }
  w.byte(91);
  for (let i = 0; i < values.length; i++) {
    if (i > 0) w.byte(44);
    jsonString(w, values[i]!);
  }
  w.byte(93);
}

/** guard, ddl, tamper and response: rare, small, and of several shapes. */
function jsonObject(w: ByteWriter, value: object | null): void {
  if (value === null) jsonNull(w);
  else w.text(JSON.stringify(value));
}

// generated:begin event-json (scripts/generate.ts from src/core/event-fields.ts (npm run generate); do not edit by hand)
const AUDIT_KEYS = ['{"type":', ',"statement_id":', ',"substatement_id":', ',"class":', ',"command":',
  ',"object_type":', ',"object_name":', ',"statement":', ',"parameters":', ',"statement_logged":', ',"rows":'].map(K);
const AUDIT_END = K('}');

function jsonAudit(w: ByteWriter, a: AuditInfo | null): void {
  if (a === null) {
    jsonNull(w);
    return;
  }
  const k = AUDIT_KEYS;
  w.constant(k[0]!); jsonString(w, a.type);
  w.constant(k[1]!); jsonNumber(w, a.statement_id);
  w.constant(k[2]!); jsonNumber(w, a.substatement_id);
  w.constant(k[3]!); jsonString(w, a.class);
  w.constant(k[4]!); jsonString(w, a.command);
  w.constant(k[5]!); jsonString(w, a.object_type);
  w.constant(k[6]!); jsonString(w, a.object_name);
  w.constant(k[7]!); jsonString(w, a.statement);
  w.constant(k[8]!); jsonParameters(w, a.parameters);
  w.constant(k[9]!); jsonString(w, a.statement_logged);
  w.constant(k[10]!); jsonNumber(w, a.rows);
  w.constant(AUDIT_END);
}

const KEYS = ['{"ts":', ',"kind":', ',"server":', ',"pid":', ',"session_id":', ',"session_line":', ',"user":',
  ',"database":', ',"application":', ',"client_addr":', ',"client_port":', ',"severity":', ',"sqlstate":',
  ',"message":', ',"detail":', ',"hint":', ',"context":', ',"query":', ',"backend_type":', ',"pooler":',
  ',"duration_ms":', ',"audit":', ',"guard":', ',"ddl":', ',"tamper":', ',"response":', ',"source":{"input":',
  ',"position":', ',"line":'].map(K);
const EVENT_END = K('}}');

/** Appends the event as one line of JSON (no newline): the bytes of JSON.stringify(event) in UTF-8. */
export function writeEventJson(w: ByteWriter, e: PgwardenEvent): void {
  const k = KEYS;
  w.constant(k[0]!); jsonString(w, e.ts);
  w.constant(k[1]!); jsonString(w, e.kind);
  w.constant(k[2]!); jsonString(w, e.server);
  w.constant(k[3]!); jsonNumber(w, e.pid);
  w.constant(k[4]!); jsonString(w, e.session_id);
  w.constant(k[5]!); jsonNumber(w, e.session_line);
  w.constant(k[6]!); jsonString(w, e.user);
  w.constant(k[7]!); jsonString(w, e.database);
  w.constant(k[8]!); jsonString(w, e.application);
  w.constant(k[9]!); jsonString(w, e.client_addr);
  w.constant(k[10]!); jsonNumber(w, e.client_port);
  w.constant(k[11]!); jsonString(w, e.severity);
  w.constant(k[12]!); jsonString(w, e.sqlstate);
  w.constant(k[13]!); jsonString(w, e.message);
  w.constant(k[14]!); jsonString(w, e.detail);
  w.constant(k[15]!); jsonString(w, e.hint);
  w.constant(k[16]!); jsonString(w, e.context);
  w.constant(k[17]!); jsonString(w, e.query);
  w.constant(k[18]!); jsonString(w, e.backend_type);
  w.constant(k[19]!); jsonString(w, e.pooler);
  w.constant(k[20]!); jsonNumber(w, e.duration_ms);
  w.constant(k[21]!); jsonAudit(w, e.audit);
  w.constant(k[22]!); jsonObject(w, e.guard);
  w.constant(k[23]!); jsonObject(w, e.ddl);
  w.constant(k[24]!); jsonObject(w, e.tamper);
  w.constant(k[25]!); jsonObject(w, e.response);
  w.constant(k[26]!); jsonString(w, e.source.input);
  w.constant(k[27]!); jsonNumber(w, e.source.position);
  w.constant(k[28]!); jsonNumber(w, e.source.line);
  w.constant(EVENT_END);
}
// generated:end event-json

/** Events as JSON lines (one per line, each ending in a newline), in UTF-8. */
export function eventLines(events: readonly PgwardenEvent[]): Uint8Array {
  const w = new ByteWriter(events.length * 1024);
  for (const event of events) {
    writeEventJson(w, event);
    w.byte(10);
  }
  return w.result();
}
