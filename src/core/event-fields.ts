// The event's fields, declared once: their order in the JSON object, how the JSON writer and the
// repository's binary COPY encoder write each, the repository column that holds it, and its text
// in docs/event-model.md. `npm run generate` (scripts/generate.ts) writes from this table the JSON
// writer (core/event.ts), the COPY row encoder (repository/encode.ts) and the field tables of
// docs/event-model.md and docs/repository.md; test/core/event-fields.test.ts fails when one of
// them is not what the table gives, and test/repository/schema.test.ts when the repository's
// migrations (history, never generated) do not create these columns with these types.
//
// To add a field: add it to PgwardenEvent and newEvent() (core/event.ts), add its row here in
// the order it takes in the JSON object, run `npm run generate`, and add a repository migration
// that adds its column to events and undated_events.

/** How the JSON writer writes a value: JSON.stringify's bytes, written field by field. */
export type JsonKind = 'string' | 'number' | 'strings' | 'object';

/** The repository column's type; it decides the binary COPY encoding (see repository/encode.ts). */
export type ColumnType = 'timestamptz' | 'text' | 'integer' | 'bigint' | 'double precision' | 'text[]' | 'jsonb';

export interface EventField {
  /** Where the value is in the event: `kind`, or `group.name` inside an object written field by field (EVENT_GROUPS). */
  path: string;
  json: JsonKind;
  /** Its column in pgwarden_repo.events and undated_events (the audit object flattened). */
  column: string;
  type: ColumnType;
  /** NOT NULL in both tables (ts is NOT NULL in events only: undated_events holds the events without one). */
  notNull?: true;
  /** Its text in docs/event-model.md; '' when the row above describes it too (`detail`, `hint`, `context`). */
  doc: string;
}

/** The objects whose fields the table lists one by one, in the order they take in the JSON object. */
export interface EventGroup {
  name: string;
  /** An event without one has null (audit); otherwise always present (source). */
  nullable: boolean;
  /** Its row in docs/event-model.md's field table. */
  doc: string;
}

export const EVENT_GROUPS: readonly EventGroup[] = [
  { name: 'audit', nullable: true, doc: 'for `audit`, see below' },
  { name: 'source', nullable: false, doc: '`{ "input", "position", "line" }`: the file (`-` for standard input), the byte offset of the record\'s first byte, and its 1-based line number — enough to find it again and to deduplicate. For a DDL event: `ddl:<server>/<database>`, the `pgwarden.ddl_events` id, `null`; for a tamper event: `tamper:<server>/<database>`, a sequence, `null`; for a response event: `responses:<server>/<database>`, the `pgwarden.response_actions` id, `null`; for a record read from CloudWatch Logs (by the `cloudwatch` source, or from a subscription in SQS): `cloudwatch:<log group>:<log stream>`, a 53-bit hash of the CloudWatch event id and the record\'s index in it, `null`; for other SQS messages: `sqs:<queue name>`, a 53-bit hash of the message id (and indexes), `null`' },
];

/** Every field, in JSON order (which is also the column order of every COPY row). */
export const EVENT_FIELDS: readonly EventField[] = [
  { path: 'ts', json: 'string', column: 'ts', type: 'timestamptz', doc: 'time of the record, ISO-8601 with milliseconds and the offset the server wrote: `2026-11-22T20:50:43.737+00:00`. `null` when the stderr prefix has no time (`%m`, `%t`, `%n`) or the zone abbreviation is unknown (see below)' },
  { path: 'kind', json: 'string', column: 'kind', type: 'text', notNull: true, doc: '`connection_received`, `connection_authorized`, `auth_failed`, `disconnection`, `audit`, `guard_allow`, `guard_deny`, `ddl`, `tamper`, `response`, `error`, `log`' },
  { path: 'server', json: 'string', column: 'server', type: 'text', doc: 'the server name given to the parser (`--server`)' },
  { path: 'pid', json: 'number', column: 'pid', type: 'integer', doc: 'backend process id' },
  { path: 'session_id', json: 'string', column: 'session_id', type: 'text', doc: 'as PostgreSQL prints it (`%c`), e.g. `6b0355a3.2048`. From a stderr log whose prefix has `%p` but no `%c`: a synthetic id of the same shape, built from the session\'s `connection received` record (see [Sessions without `%c`](#sessions-without-c))' },
  { path: 'session_line', json: 'number', column: 'session_line', type: 'bigint', doc: 'the record\'s number within its session. csvlog and jsonlog count records; stderr\'s `%l` counts *lines*, so a record with DETAIL or STATEMENT lines advances it by more than one' },
  { path: 'user', json: 'string', column: 'user_name', type: 'text', doc: 'who; `[unknown]` (and its translations) in a stderr prefix becomes `null`, as does an empty application name' },
  { path: 'database', json: 'string', column: 'database_name', type: 'text', doc: '' },
  { path: 'application', json: 'string', column: 'application', type: 'text', doc: '' },
  { path: 'client_addr', json: 'string', column: 'client_addr', type: 'text', doc: 'from where: an IP address, a host name (with `log_hostname`), or `[local]` for a Unix socket (no port)' },
  { path: 'client_port', json: 'number', column: 'client_port', type: 'integer', doc: '' },
  { path: 'severity', json: 'string', column: 'severity', type: 'text', doc: '`DEBUG`, `LOG`, `INFO`, `NOTICE`, `WARNING`, `ERROR`, `FATAL`, `PANIC` — always English, whatever `lc_messages` was' },
  { path: 'sqlstate', json: 'string', column: 'sqlstate', type: 'text', doc: 'the record\'s SQLSTATE; `00000` (success, what every `LOG` record carries) is `null`, because jsonlog leaves it out. From a stderr log only when the prefix has `%e` (or for the messages recognised below)' },
  { path: 'message', json: 'string', column: 'message', type: 'text', doc: 'the primary message, newlines restored (stderr\'s TAB after each newline removed, its ` at character N` suffix dropped as csvlog and jsonlog keep the position apart)' },
  { path: 'detail', json: 'string', column: 'detail', type: 'text', doc: 'the DETAIL, HINT and CONTEXT of the record' },
  { path: 'hint', json: 'string', column: 'hint', type: 'text', doc: '' },
  { path: 'context', json: 'string', column: 'context', type: 'text', doc: '' },
  { path: 'query', json: 'string', column: 'query', type: 'text', doc: 'the statement PostgreSQL printed with the record (stderr `STATEMENT:` line, csvlog `query`, jsonlog `statement`)' },
  { path: 'backend_type', json: 'string', column: 'backend_type', type: 'text', doc: '`client backend`, `checkpointer`, … (csvlog from PostgreSQL 13, jsonlog, stderr `%b`)' },
  { path: 'pooler', json: 'string', column: 'pooler', type: 'text', doc: 'the connection pooler the event came through: `pgbouncer` for the events read from pgBouncer\'s log (its logins, disconnections and errors), `null` for a record of the server itself' },
  { path: 'duration_ms', json: 'number', column: 'duration_ms', type: 'double precision', doc: 'for `disconnection`: the session\'s length' },
  { path: 'audit.type', json: 'string', column: 'audit_type', type: 'text', doc: '`SESSION` or `OBJECT`' },
  { path: 'audit.statement_id', json: 'number', column: 'statement_id', type: 'bigint', doc: 'pgAudit\'s ids, numbers' },
  { path: 'audit.substatement_id', json: 'number', column: 'substatement_id', type: 'bigint', doc: '' },
  { path: 'audit.class', json: 'string', column: 'class', type: 'text', doc: '`READ`, `WRITE`, `FUNCTION`, `ROLE`, `DDL`, `MISC`, `MISC_SET`' },
  { path: 'audit.command', json: 'string', column: 'command', type: 'text', doc: 'the command tag, e.g. `SELECT`, `CREATE TABLE`' },
  { path: 'audit.object_type', json: 'string', column: 'object_type', type: 'text', doc: 'e.g. `TABLE`, `public.orders`; `null` when pgAudit wrote nothing' },
  { path: 'audit.object_name', json: 'string', column: 'object_name', type: 'text', doc: '' },
  { path: 'audit.statement', json: 'string', column: 'statement', type: 'text', doc: 'the statement text; `null` when pgAudit wrote `<not logged>` or `<previously logged>`' },
  { path: 'audit.parameters', json: 'strings', column: 'parameters', type: 'text[]', doc: 'array of strings: `null` for `<not logged>` (pgaudit.log_parameter off) and `<previously logged>`, `[]` for `<none>`. An SQL NULL parameter is `null` (pgAudit writes NULL and the empty string alike, so an empty string also reads as `null`); a value pgAudit suppressed (`pgaudit.log_parameter_max_size`) stays the marker pgAudit wrote, e.g. `<long param suppressed>`' },
  { path: 'audit.statement_logged', json: 'string', column: 'statement_logged', type: 'text', doc: '`yes`; `previously` when pgaudit.log_statement_once left it out (look for the same `session_id` and `statement_id`); `no` with pgaudit.log_statement off' },
  { path: 'audit.rows', json: 'number', column: 'rows', type: 'bigint', doc: 'rows affected or returned with pgaudit.log_rows, else `null`' },
  { path: 'guard', json: 'object', column: 'guard', type: 'jsonb', doc: 'for `guard_deny`, and for the guard\'s own log lines (kind `log`), see below' },
  { path: 'ddl', json: 'object', column: 'ddl', type: 'jsonb', doc: 'for `ddl`, see below' },
  { path: 'tamper', json: 'object', column: 'tamper', type: 'jsonb', doc: 'for `tamper`: `findings` (each `object`, `state`, `expected`, `actual`, as `pgwarden status` prints them) and `resolved` (true for the all-clear)' },
  { path: 'response', json: 'object', column: 'response', type: 'jsonb', doc: 'for `response`: a response pgwarden did, refused, found nothing to do for, or only described (a row of `pgwarden.response_actions`), see below' },
  { path: 'source.input', json: 'string', column: 'source_input', type: 'text', notNull: true, doc: '' },
  { path: 'source.position', json: 'number', column: 'source_position', type: 'bigint', notNull: true, doc: '' },
  { path: 'source.line', json: 'number', column: 'source_line', type: 'bigint', doc: '' },
];
