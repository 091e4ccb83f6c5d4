// The repository writer: a batch of events in, one transaction: COPY into a temporary staging
// table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING into the day-partitioned events
// (deduplicated on the source position), undated events into their own table, and the
// sessions they open or close. Re-delivering a batch inserts nothing twice.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { SQL_TAG, connect, type Target } from '../core/db.ts';
import { classifyError } from '../core/errors.ts';
import type { PgwardenEvent } from '../core/event.ts';
import { requireRepository } from './migrate.ts';

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

/** The UTC day of a timestamp (YYYY-MM-DD), or null when there is none or it cannot be read. */
export function utcDay(ts: string | null): string | null {
  if (ts === null) return null;
  const time = Date.parse(ts);
  return Number.isNaN(time) ? null : new Date(time).toISOString().slice(0, 10);
}

/** One COPY text row for an event (tab-separated, newline-terminated). */
export function copyRow(e: PgwardenEvent): string {
  const a = e.audit;
  return [
    utcDay(e.ts) === null ? '\\N' : copyText(e.ts), copyText(e.kind), copyText(e.server), copyNumber(e.pid),
    copyText(e.session_id), copyNumber(e.session_line), copyText(e.user), copyText(e.database),
    copyText(e.application), copyText(e.client_addr), copyNumber(e.client_port), copyText(e.severity),
    copyText(e.sqlstate), copyText(e.message), copyText(e.detail), copyText(e.hint), copyText(e.context),
    copyText(e.query), copyText(e.backend_type), copyNumber(e.duration_ms),
    copyText(a?.type), copyNumber(a?.statement_id), copyNumber(a?.substatement_id), copyText(a?.class),
    copyText(a?.command), copyText(a?.object_type), copyText(a?.object_name), copyText(a?.statement),
    a?.parameters ? copyText(arrayLiteral(a.parameters)) : '\\N', copyText(a?.statement_logged), copyNumber(a?.rows),
    jsonValue(e.guard), jsonValue(e.ddl), jsonValue(e.tamper),
    copyText(e.source.input), copyNumber(e.source.position), copyNumber(e.source.line),
  ].join('\t') + '\n';
}

function* copyChunks(events: PgwardenEvent[]): Generator<string> {
  const rowsPerChunk = 500;
  for (let i = 0; i < events.length; i += rowsPerChunk) {
    let chunk = '';
    const end = Math.min(events.length, i + rowsPerChunk);
    for (let j = i; j < end; j++) chunk += copyRow(events[j]!);
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
FROM pg_temp.pgwarden_staging
WHERE session_id IS NOT NULL AND kind IN ('connection_received', 'connection_authorized', 'disconnection')
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

export interface WriterOptions {
  /** apply missing migrations on connect (ingest does; default true) */
  migrate?: boolean;
  applicationName?: string;
}

/** A connection to the repository that writes batches; reconnects after a failure. */
export class RepositoryWriter {
  private client: pg.Client | null = null;
  private readonly partitions = new Set<string>();
  constructor(private readonly target: Target, private readonly options: WriterOptions = {}) {}

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = await connect(this.target, this.options.applicationName ?? 'pgwarden repository writer');
    try {
      // Never audit our own inserts (pgaudit.log is superuser-only: a writer login that is not a
      // superuser gets it from `ALTER ROLE … SET`, which repo migrate --writer-login does).
      await client.query(`${SQL_TAG}SET pgaudit.log = 'none'`).catch(() => undefined);
      await requireRepository(client, this.options.migrate ?? true);
      await client.query(`${SQL_TAG}CREATE TEMPORARY TABLE IF NOT EXISTS pgwarden_staging
        (LIKE pgwarden_repo.undated_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw classifyError(error, this.target.label);
    }
    this.client = client;
    return client;
  }

  /** Writes one batch in one transaction; all of it lands (deduplicated), or none of it. */
  async write(events: PgwardenEvent[]): Promise<WriteResult> {
    if (events.length === 0) return { received: 0, inserted: 0, duplicates: 0, undated: 0 };
    try {
      return await this.writeOnce(events);
    } catch (error) {
      await this.reset();
      throw classifyError(error, this.target.label);
    }
  }

  private async writeOnce(events: PgwardenEvent[]): Promise<WriteResult> {
    const client = await this.session();
    const days = new Set<string>();
    for (const event of events) {
      const day = utcDay(event.ts);
      if (day !== null && !this.partitions.has(day)) days.add(day);
    }
    for (const day of [...days].sort()) {
      await client.query(`${SQL_TAG}SELECT pgwarden_repo.ensure_partition($1::date)`, [day]);
      this.partitions.add(day);
    }
    await client.query('BEGIN');
    try {
      await pipeline(Readable.from(copyChunks(events)),
        client.query(copyStreams.from(`${SQL_TAG}COPY pg_temp.pgwarden_staging (${COLUMN_LIST}) FROM STDIN`)));
      const dated = await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.events (${COLUMN_LIST})
        SELECT ${COLUMN_LIST} FROM pg_temp.pgwarden_staging WHERE ts IS NOT NULL ON CONFLICT DO NOTHING`);
      const undated = await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.undated_events (${COLUMN_LIST})
        SELECT ${COLUMN_LIST} FROM pg_temp.pgwarden_staging WHERE ts IS NULL ON CONFLICT DO NOTHING`);
      await client.query(SESSIONS_SQL);
      await client.query('COMMIT');
      const inserted = (dated.rowCount ?? 0) + (undated.rowCount ?? 0);
      return { received: events.length, inserted, duplicates: events.length - inserted, undated: undated.rowCount ?? 0 };
    } catch (error) {
      // A partition pruned since we cached it: forget them all, the next write recreates.
      this.partitions.clear();
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
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
