// The event model: one JSON object per event, the same in every sink (JSON lines, repository
// rows, NATS messages). Stable snake_case names; absent values are null, never guessed.
// docs/event-model.md describes every field; keep the two in step.

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
  /** For kind `disconnection`: the session's duration. */
  duration_ms: number | null;
  audit: AuditInfo | null;
  guard: GuardInfo | null;
  ddl: DdlInfo | null;
  tamper: TamperInfo | null;
  source: EventSource;
}

/** An event with every field present and null, for a producer to fill in (one object shape for all). */
export function newEvent(kind: EventKind, server: string | null, source: EventSource): PgwardenEvent {
  return {
    ts: null, kind, server, pid: null, session_id: null, session_line: null, user: null, database: null,
    application: null, client_addr: null, client_port: null, severity: null, sqlstate: null, message: null,
    detail: null, hint: null, context: null, query: null, backend_type: null, duration_ms: null,
    audit: null, guard: null, ddl: null, tamper: null, source,
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

// A JSON writer for the event shape, used where events are printed by the million (parse, JSON
// lines). Same text as JSON.stringify(event) (a test holds them equal) in about two thirds of the
// time: the keys are constants, and a string is quoted as it is unless it holds a character
// JSON must escape, a quote or backslash, or a surrogate (those go through JSON.stringify).
// eslint-disable-next-line no-control-regex -- the control characters are what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(value: string | null): string {
  if (value == null) return 'null';
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : '"' + value + '"';
}

function jsonNumber(value: number | null): string {
  return value != null && Number.isFinite(value) ? String(value) : 'null';
}

function jsonParameters(values: (string | null)[] | null): string {
  if (values === null) return 'null';
  let text = '[';
  for (let i = 0; i < values.length; i++) text += (i === 0 ? '' : ',') + jsonString(values[i]!);
  return text + ']';
}

function jsonAudit(a: AuditInfo | null): string {
  if (a === null) return 'null';
  return '{"type":' + jsonString(a.type) + ',"statement_id":' + jsonNumber(a.statement_id) +
    ',"substatement_id":' + jsonNumber(a.substatement_id) + ',"class":' + jsonString(a.class) +
    ',"command":' + jsonString(a.command) + ',"object_type":' + jsonString(a.object_type) +
    ',"object_name":' + jsonString(a.object_name) + ',"statement":' + jsonString(a.statement) +
    ',"parameters":' + jsonParameters(a.parameters) + ',"statement_logged":' + jsonString(a.statement_logged) +
    ',"rows":' + jsonNumber(a.rows) + '}';
}

/** The event as one line of JSON (no newline), identical to JSON.stringify(event). */
export function eventJson(e: PgwardenEvent): string {
  return '{"ts":' + jsonString(e.ts) + ',"kind":' + jsonString(e.kind) + ',"server":' + jsonString(e.server) +
    ',"pid":' + jsonNumber(e.pid) + ',"session_id":' + jsonString(e.session_id) + ',"session_line":' + jsonNumber(e.session_line) +
    ',"user":' + jsonString(e.user) + ',"database":' + jsonString(e.database) + ',"application":' + jsonString(e.application) +
    ',"client_addr":' + jsonString(e.client_addr) + ',"client_port":' + jsonNumber(e.client_port) +
    ',"severity":' + jsonString(e.severity) + ',"sqlstate":' + jsonString(e.sqlstate) + ',"message":' + jsonString(e.message) +
    ',"detail":' + jsonString(e.detail) + ',"hint":' + jsonString(e.hint) + ',"context":' + jsonString(e.context) +
    ',"query":' + jsonString(e.query) + ',"backend_type":' + jsonString(e.backend_type) +
    ',"duration_ms":' + jsonNumber(e.duration_ms) + ',"audit":' + jsonAudit(e.audit) +
    ',"guard":' + JSON.stringify(e.guard) + ',"ddl":' + JSON.stringify(e.ddl) + ',"tamper":' + JSON.stringify(e.tamper) +
    ',"source":{"input":' + jsonString(e.source.input) + ',"position":' + jsonNumber(e.source.position) +
    ',"line":' + jsonNumber(e.source.line) + '}}';
}
