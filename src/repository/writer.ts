// The repository writer: a batch of events in, one transaction: COPY into a temporary staging
// table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING into the day-partitioned events
// (deduplicated on the source position), undated events into their own table, and the
// sessions they open or close. Re-delivering a batch inserts nothing twice.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { SQL_TAG, connect, type Target } from '../core/db.ts';
import { repositoryError } from './target.ts';
import type { PgwardenEvent } from '../core/event.ts';
import { requireRepository, type MigrateResult } from './migrate.ts';

export interface WriteResult {
  /** events handed to write() */
  received: number;
  /** new rows in events and undated_events */
  inserted: number;
  /** events already in the repository (same source input and position) */
  duplicates: number;
  /** events without a time, kept in undated_events (new ones) */
  undated: number;
}

/** Column order of the staging table and of every COPY row. */
export const EVENT_COLUMNS = [
  'ts', 'kind', 'server', 'pid', 'session_id', 'session_line', 'user_name', 'database_name', 'application',
  'client_addr', 'client_port', 'severity', 'sqlstate', 'message', 'detail', 'hint', 'context', 'query',
  'backend_type', 'duration_ms', 'audit_type', 'statement_id', 'substatement_id', 'class', 'command',
  'object_type', 'object_name', 'statement', 'parameters', 'statement_logged', 'rows', 'guard', 'ddl', 'tamper',
  'source_input', 'source_position', 'source_line',
] as const;
const COLUMN_LIST = EVENT_COLUMNS.join(', ');

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

function* copyChunks(events: PgwardenEvent[], dated: boolean[]): Generator<string> {
  const rowsPerChunk = 500;
  for (let i = 0; i < events.length; i += rowsPerChunk) {
    let chunk = '';
    const end = Math.min(events.length, i + rowsPerChunk);
    for (let j = i; j < end; j++) chunk += copyRow(events[j]!, dated[j]!);
    yield chunk;
  }
}

const SESSIONS_SQL = `${SQL_TAG}
INSERT INTO pgwarden_repo.sessions AS s (server, session_id, pid, user_name, database_name, application,
  client_addr, client_port, started_at, authorized_at, ended_at, duration_ms)
SELECT COALESCE(server, ''), session_id, max(pid),
  max(user_name) FILTER (WHERE kind <> 'connection_received'),
  max(database_name) FILTER (WHERE kind <> 'connection_received'),
  max(application) FILTER (WHERE kind = 'connection_authorized'),
  max(client_addr), max(client_port),
  min(ts) FILTER (WHERE kind = 'connection_received'),
  min(ts) FILTER (WHERE kind = 'connection_authorized'),
  max(ts) FILTER (WHERE kind = 'disconnection'),
  max(duration_ms) FILTER (WHERE kind = 'disconnection')
FROM pg_catalog.jsonb_to_recordset($1::jsonb) AS x(kind text, ts timestamptz, server text, session_id text, pid integer,
  user_name text, database_name text, application text, client_addr text, client_port integer, duration_ms double precision)
GROUP BY 1, 2
ON CONFLICT (server, session_id) DO UPDATE SET
  pid = COALESCE(s.pid, excluded.pid),
  user_name = COALESCE(s.user_name, excluded.user_name),
  database_name = COALESCE(s.database_name, excluded.database_name),
  application = COALESCE(s.application, excluded.application),
  client_addr = COALESCE(s.client_addr, excluded.client_addr),
  client_port = COALESCE(s.client_port, excluded.client_port),
  started_at = LEAST(s.started_at, excluded.started_at),
  authorized_at = LEAST(s.authorized_at, excluded.authorized_at),
  ended_at = GREATEST(s.ended_at, excluded.ended_at),
  duration_ms = COALESCE(s.duration_ms, excluded.duration_ms)`;

// auth_failed: a refused login's session still says who tried.
const SESSION_KINDS = new Set(['connection_received', 'connection_authorized', 'auth_failed', 'disconnection']);

export interface WriterOptions {
  /** apply missing migrations on connect (ingest does; default true) */
  migrate?: boolean;
  applicationName?: string;
}

/** A connection to the repository that writes batches; reconnects after a failure. */
export class RepositoryWriter {
  private client: pg.Client | null = null;
  private readonly partitions = new Set<string>();
  /** What this writer's connection migrated (a new or older repository), or null. */
  migrated: MigrateResult | null = null;
  constructor(private readonly target: Target, private readonly options: WriterOptions = {}) {}

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = await connect(this.target, this.options.applicationName ?? 'pgwarden repository writer');
    try {
      // Never audit our own inserts (pgaudit.log is superuser-only: a writer login that is not a
      // superuser gets it from `ALTER ROLE … SET`, which repo migrate --writer-login does).
      await client.query(`${SQL_TAG}SET pgaudit.log = 'none'`).catch(() => undefined);
      this.migrated ??= await requireRepository(client, this.options.migrate ?? true);
      await client.query(`${SQL_TAG}CREATE TEMPORARY TABLE IF NOT EXISTS pgwarden_staging
        (LIKE pgwarden_repo.undated_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw repositoryError(error, this.target.label);
    }
    this.client = client;
    return client;
  }

  /** Connects and checks the repository now (otherwise the first write does). */
  async open(): Promise<void> {
    await this.session();
  }

  /** Writes one batch in one transaction; all of it lands (deduplicated), or none of it. */
  async write(events: PgwardenEvent[]): Promise<WriteResult> {
    if (events.length === 0) return { received: 0, inserted: 0, duplicates: 0, undated: 0 };
    try {
      return await this.writeOnce(events);
    } catch (error) {
      await this.reset();
      throw repositoryError(error, this.target.label);
    }
  }

  private async writeOnce(events: PgwardenEvent[], fastPath = true): Promise<WriteResult> {
    const client = await this.session();
    const days = new Set<string>();
    const dated = new Array<boolean>(events.length);
    let previous = '';
    for (let i = 0; i < events.length; i++) {
      const day = utcDay(events[i]!.ts);
      dated[i] = day !== null;
      if (day !== null && day !== previous && !this.partitions.has(day)) days.add(day);
      if (day !== null) previous = day;
    }
    for (const day of [...days].sort()) {
      await client.query(`${SQL_TAG}SELECT pgwarden_repo.ensure_partition($1::date)`, [day]);
      this.partitions.add(day);
    }
    // Sessions: from the (few) connection events of the batch.
    const logins = events.filter((e, i) => dated[i] && e.session_id !== null && SESSION_KINDS.has(e.kind)).map((e) => ({
      kind: e.kind, ts: e.ts, server: e.server, session_id: e.session_id, pid: e.pid, user_name: e.user, database_name: e.database,
      application: e.application, client_addr: e.client_addr, client_port: e.client_port, duration_ms: e.duration_ms,
    }));
    // Fast path: when no event of the batch can already be there (a new stretch of a file) and all
    // are dated, COPY straight into events; the unique index still guards, and a conflict (a
    // concurrent writer) sends the batch through the staging path instead.
    const fresh = fastPath && dated.every(Boolean) && !(await this.overlaps(client, events));
    await client.query('BEGIN');
    try {
      let inserted: number;
      let undated = 0;
      if (fresh) {
        await pipeline(Readable.from(copyChunks(events, dated)),
          client.query(copyStreams.from(`${SQL_TAG}COPY pgwarden_repo.events (${COLUMN_LIST}) FROM STDIN`)));
        inserted = events.length;
      } else {
        await pipeline(Readable.from(copyChunks(events, dated)),
          client.query(copyStreams.from(`${SQL_TAG}COPY pg_temp.pgwarden_staging (${COLUMN_LIST}) FROM STDIN`)));
        const datedResult = await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.events (${COLUMN_LIST})
          SELECT ${COLUMN_LIST} FROM pg_temp.pgwarden_staging WHERE ts IS NOT NULL ON CONFLICT DO NOTHING`);
        const undatedResult = await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.undated_events (${COLUMN_LIST})
          SELECT ${COLUMN_LIST} FROM pg_temp.pgwarden_staging WHERE ts IS NULL ON CONFLICT DO NOTHING`);
        undated = undatedResult.rowCount ?? 0;
        inserted = (datedResult.rowCount ?? 0) + undated;
      }
      if (logins.length > 0) await client.query(SESSIONS_SQL, [JSON.stringify(logins)]);
      await client.query('COMMIT');
      return { received: events.length, inserted, duplicates: events.length - inserted, undated };
    } catch (error) {
      // A partition pruned since we cached it: forget them all, the next write recreates.
      this.partitions.clear();
      await client.query('ROLLBACK').catch(() => undefined);
      if (fresh && (error as { code?: string }).code === '23505') return this.writeOnce(events, false);
      throw error;
    }
  }

  /** Whether any event of the batch may already be stored: same input, position range and time range. */
  private async overlaps(client: pg.Client, events: PgwardenEvent[]): Promise<boolean> {
    const ranges = new Map<string, { min: number; max: number; first: number; last: number }>();
    for (const e of events) {
      const time = Date.parse(e.ts!);
      const range = ranges.get(e.source.input);
      if (!range) ranges.set(e.source.input, { min: e.source.position, max: e.source.position, first: time, last: time });
      else {
        if (e.source.position < range.min) range.min = e.source.position;
        if (e.source.position > range.max) range.max = e.source.position;
        if (time < range.first) range.first = time;
        if (time > range.last) range.last = time;
      }
    }
    for (const [input, range] of ranges) {
      const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pgwarden_repo.events
        WHERE ts >= $1 AND ts <= $2 AND source_input = $3 AND source_position >= $4 AND source_position <= $5 LIMIT 1`,
      [new Date(range.first), new Date(range.last), input, range.min, range.max]);
      if (rows.length > 0) return true;
    }
    return false;
  }

  private async reset(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.partitions.clear();
    await client?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.reset();
  }
}
