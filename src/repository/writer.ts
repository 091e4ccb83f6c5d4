// The repository writer: a batch of events in, one transaction: COPY into a temporary staging
// table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING into the day-partitioned events
// (deduplicated on the source position), undated events into their own table, and the
// sessions they open or close, and the hourly counts. Re-delivering a batch inserts nothing twice.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { SQL_TAG, connect, type Target } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { repositoryError } from './target.ts';
import type { PgwardenEvent } from '../core/event.ts';
import { COLUMN_LIST, COPY_HEADER, COPY_TRAILER, encodeBatch, pgText, type EncodedBatch } from './encode.ts';
import { requireRepository, type MigrateResult } from './migrate.ts';
import { storeIncident, type StoredIncident } from './incidents.ts';
import type { Alert } from '../detect/alert.ts';

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

const SESSIONS_SQL = `${SQL_TAG}
INSERT INTO pgwarden_repo.sessions AS s (server, session_id, pid, user_name, database_name, application,
  client_addr, client_port, started_at, authorized_at, ended_at, duration_ms)
SELECT COALESCE(server, ''), session_id, max(pid), max(user_name), max(database_name), max(application),
  max(client_addr), max(client_port), min(started_at), min(authorized_at), max(ended_at), max(duration_ms)
FROM pg_catalog.jsonb_to_recordset($1::jsonb) AS x(server text, session_id text, pid integer, user_name text,
  database_name text, application text, client_addr text, client_port integer, started_at timestamptz,
  authorized_at timestamptz, ended_at timestamptz, duration_ms double precision)
GROUP BY 1, 2 ORDER BY 1, 2
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

// The dashboard's hourly counts (pgwarden_repo.event_counts), added to in the batch's transaction.
// In key order, so two writers counting into the same hours lock them in the same order.
const UPSERT_COUNTS = `ON CONFLICT (hour, kind, server) DO UPDATE SET events = c.events + excluded.events`;
const COUNTS_SQL = `${SQL_TAG}INSERT INTO pgwarden_repo.event_counts AS c (hour, kind, server, events)
SELECT * FROM ROWS FROM (pg_catalog.unnest($1::timestamptz[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]),
  pg_catalog.unnest($4::bigint[])) ORDER BY 1, 2, 3
${UPSERT_COUNTS}`;
// What each session did (pgwarden_repo.session_activity), added to in the batch's transaction;
// in key order, as the counts.
const UPSERT_ACTIVITY = `ON CONFLICT (server, session_id) DO UPDATE SET events = a.events + excluded.events,
  statements = a.statements + excluded.statements, first_ts = LEAST(a.first_ts, excluded.first_ts),
  last_ts = GREATEST(a.last_ts, excluded.last_ts)`;
const ACTIVITY_SQL = `${SQL_TAG}INSERT INTO pgwarden_repo.session_activity AS a (server, session_id, events, statements, first_ts, last_ts)
SELECT * FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::bigint[]),
  pg_catalog.unnest($4::bigint[]), pg_catalog.unnest($5::timestamptz[]), pg_catalog.unnest($6::timestamptz[])) ORDER BY 1, 2
${UPSERT_ACTIVITY}`;
// A deduplicating insert counts what it inserted, from its RETURNING.
const INSERT_NEW_SQL = `${SQL_TAG}WITH inserted AS (
  INSERT INTO pgwarden_repo.events (${COLUMN_LIST})
  SELECT ${COLUMN_LIST} FROM pg_temp.pgwarden_staging WHERE ts IS NOT NULL ON CONFLICT DO NOTHING
  RETURNING ts, kind, server, session_id
), counted AS (
  INSERT INTO pgwarden_repo.event_counts AS c (hour, kind, server, events)
  SELECT pg_catalog.date_trunc('hour', ts, 'UTC'), kind, COALESCE(server, ''), pg_catalog.count(*) FROM inserted GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ${UPSERT_COUNTS}
), active AS (
  INSERT INTO pgwarden_repo.session_activity AS a (server, session_id, events, statements, first_ts, last_ts)
  SELECT COALESCE(server, ''), session_id, pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE kind = 'audit'), min(ts), max(ts)
    FROM inserted WHERE session_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
  ${UPSERT_ACTIVITY}
)
SELECT pg_catalog.count(*)::int AS inserted FROM inserted`;

/** Sends binary COPY rows, with the header and the trailer, in pieces of 1 MiB (COPY data need not follow rows). */
async function copyIn(client: pg.Client, sql: string, rows: Uint8Array): Promise<void> {
  const size = 1 << 20;
  const bytes = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength);
  const pieces = function* (): Generator<Buffer> {
    yield COPY_HEADER;
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, Math.min(at + size, bytes.length));
    yield COPY_TRAILER;
  };
  await pipeline(Readable.from(pieces()), client.query(copyStreams.from(sql)));
}

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
    const client = await connect(this.target, this.options.applicationName ?? 'pgwarden/repository-writer');
    try {
      // Never audit our own inserts (pgaudit.log is superuser-only: a writer login that is not a
      // superuser gets it from `ALTER ROLE … SET`, which repo migrate --writer-login does).
      // Only where it can succeed (pgAudit loaded, a superuser): a failed SET per connection was one
      // of pgwarden's own errors in the server's log and its rollback ratio.
      await client.query(`${SQL_TAG}SELECT pg_catalog.set_config('pgaudit.log', 'none', false) FROM pg_catalog.pg_settings
        WHERE name = 'pgaudit.log' AND (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user)`);
      this.migrated ??= await requireRepository(client, this.options.migrate ?? true);
      await client.query(`${SQL_TAG}CREATE TEMPORARY TABLE IF NOT EXISTS pgwarden_staging
        (LIKE pgwarden_repo.undated_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
      await requireWriterPrivileges(client);
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

  /**
   * Stores a detection alert as an incident (storeIncident: idempotent, so a notice sent again
   * after a crash updates the same row). Use a writer of its own for alerts: on a writer that is
   * also writing batches, the statement could run inside a batch's transaction.
   */
  async storeIncident(alert: Alert): Promise<StoredIncident> {
    try {
      return await storeIncident(await this.session(), alert);
    } catch (error) {
      await this.reset();
      throw repositoryError(error, this.target.label);
    }
  }

  /** Writes one batch in one transaction; all of it lands (deduplicated), or none of it. */
  async write(events: PgwardenEvent[]): Promise<WriteResult> {
    if (events.length === 0) return { received: 0, inserted: 0, duplicates: 0, undated: 0 };
    return this.writeEncoded(encodeBatch(events));
  }

  /** write() for a batch already encoded (by encodeBatch, perhaps on a parsing thread). */
  async writeEncoded(batch: EncodedBatch): Promise<WriteResult> {
    if (batch.count === 0) return { received: 0, inserted: 0, duplicates: 0, undated: 0 };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeOnce(batch);
      } catch (error) {
        // Two writers' upserts of the same counts and sessions can deadlock: PostgreSQL rolls one
        // transaction back whole, which is then simply written again.
        const code = (error as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < 3) continue;
        await this.reset();
        throw repositoryError(error, this.target.label);
      }
    }
  }

  private async writeOnce(batch: EncodedBatch, fastPath = true): Promise<WriteResult> {
    const client = await this.session();
    for (const day of batch.days) {
      if (this.partitions.has(day)) continue;
      await client.query(`${SQL_TAG}SELECT pgwarden_repo.ensure_partition($1::date)`, [day]);
      this.partitions.add(day);
    }
    // Fast path: when no event of the batch can already be there (a new stretch of a file) and all
    // are dated, COPY straight into events; the unique index still guards, and a conflict (a
    // concurrent writer) sends the batch through the staging path instead.
    const fresh = fastPath && batch.allDated && !(await this.overlaps(client, batch));
    await client.query('BEGIN');
    try {
      let inserted: number;
      let undated = 0;
      if (fresh) {
        await copyIn(client, `${SQL_TAG}COPY pgwarden_repo.events (${COLUMN_LIST}) FROM STDIN (FORMAT binary)`, batch.rows);
        inserted = batch.count;
        // the activity before the counts, as PostgreSQL runs INSERT_NEW_SQL's (the later of two
        // unread CTEs first): two writers then take their locks in one order (a deadlock that
        // happens anyway is retried, see writeEncoded)
        const a = batch.activity;
        if (a.length > 0) {
          await client.query(ACTIVITY_SQL, [a.map((x) => x.server), a.map((x) => x.session_id), a.map((x) => x.events), a.map((x) => x.statements),
            a.map((x) => new Date(x.first)), a.map((x) => new Date(x.last))]);
        }
        const c = batch.counts;
        await client.query(COUNTS_SQL, [c.map((x) => x.hour), c.map((x) => x.kind), c.map((x) => x.server), c.map((x) => x.events)]);
      } else {
        await copyIn(client, `${SQL_TAG}COPY pg_temp.pgwarden_staging (${COLUMN_LIST}) FROM STDIN (FORMAT binary)`, batch.rows);
        const datedResult = await client.query<{ inserted: number }>(INSERT_NEW_SQL);
        const undatedResult = await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.undated_events (${COLUMN_LIST})
          SELECT ${COLUMN_LIST} FROM pg_temp.pgwarden_staging WHERE ts IS NULL ON CONFLICT DO NOTHING`);
        undated = undatedResult.rowCount ?? 0;
        inserted = datedResult.rows[0]!.inserted + undated;
      }
      if (batch.logins.length > 0) await client.query(SESSIONS_SQL, [JSON.stringify(batch.logins)]);
      await client.query('COMMIT');
      return { received: batch.count, inserted, duplicates: batch.count - inserted, undated };
    } catch (error) {
      // A partition pruned since we cached it: forget them all, the next write recreates.
      this.partitions.clear();
      await client.query('ROLLBACK').catch(() => undefined);
      if (fresh && (error as { code?: string }).code === '23505') return this.writeOnce(batch, false);
      throw error;
    }
  }

  /**
   * Whether any event of the batch may already be stored: same server, input, position range and
   * time range. Asked of pgwarden_repo.batch_overlaps(), so the writer needs no SELECT on events.
   */
  private async overlaps(client: pg.Client, batch: EncodedBatch): Promise<boolean> {
    for (const range of batch.ranges) {
      const { rows } = await client.query<{ overlaps: boolean }>(`${SQL_TAG}SELECT pgwarden_repo.batch_overlaps($1, $2, $3, $4, $5, $6) AS overlaps`,
        [new Date(range.first), new Date(range.last), range.input, range.server, range.min, range.max]);
      if (rows[0]!.overlaps) return true;
    }
    return false;
  }

  /**
   * write() for a pipeline sink, which must never stall on a batch the repository refuses for its
   * data (a value it cannot store, a constraint): the batch is halved until the refused events are
   * found, those are set aside in pgwarden_repo.rejected_batches (with where they were read), and
   * the rest is stored. Connection errors and missing privileges are thrown as before (retried or fatal).
   */
  async writeOrSetAside(events: PgwardenEvent[], messageId: string): Promise<WriteResult & { rejected: number; rejections: Rejection[] }> {
    const total = { received: 0, inserted: 0, duplicates: 0, undated: 0, rejected: 0, rejections: [] as Rejection[] };
    const add = (r: WriteResult) => {
      total.received += r.received;
      total.inserted += r.inserted;
      total.duplicates += r.duplicates;
      total.undated += r.undated;
    };
    const attempt = async (part: PgwardenEvent[]): Promise<void> => {
      try {
        add(await this.write(part));
      } catch (error) {
        const sqlstate = dataErrorOf(error);
        if (sqlstate === null) throw error;
        if (part.length > 1) {
          const half = Math.ceil(part.length / 2);
          await attempt(part.slice(0, half));
          await attempt(part.slice(half));
          return;
        }
        const rejection = await this.setAside(part, messageId, sqlstate, (error as Error).message);
        total.received += part.length;
        total.rejected += part.length;
        total.rejections.push(rejection);
      }
    };
    await attempt(events);
    return total;
  }

  /** Keeps refused events in pgwarden_repo.rejected_batches (one transaction); its row id is returned. */
  private async setAside(events: PgwardenEvent[], messageId: string, sqlstate: string, error: string): Promise<Rejection> {
    const positions = new Map<string, { server: string | null; input: string; first: number; last: number }>();
    for (const e of events) {
      const key = `${e.server ?? ''}\u0000${e.source.input}`;
      const p = positions.get(key);
      if (!p) positions.set(key, { server: pgText(e.server), input: pgText(e.source.input)!, first: e.source.position, last: e.source.position });
      else {
        p.first = Math.min(p.first, e.source.position);
        p.last = Math.max(p.last, e.source.position);
      }
    }
    const lines = Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
    const client = await this.session();
    try {
      const { rows } = await client.query<{ id: string }>(`${SQL_TAG}INSERT INTO pgwarden_repo.rejected_batches
        (writer, message_id, sqlstate, error, event_count, positions, events) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING id`,
      [this.options.applicationName ?? null, pgText(messageId), sqlstate, pgText(error)!.slice(0, 2000), events.length, JSON.stringify([...positions.values()]), lines]);
      return { id: Number(rows[0]!.id), sqlstate, error, events: events.length, positions: [...positions.values()] };
    } catch (failure) {
      await this.reset();
      throw repositoryError(failure, this.target.label);
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

/** A batch set aside: its row in pgwarden_repo.rejected_batches, and why. */
export interface Rejection {
  id: number;
  sqlstate: string;
  error: string;
  events: number;
  positions: { server: string | null; input: string; first: number; last: number }[];
}

/**
 * The SQLSTATE of an error the repository raised for the data of a batch — class 22 (data
 * exception: a NUL, an invalid value), 23 (integrity constraint), 54 (a value too large to
 * index) — or null for any other error (a lost connection, a missing privilege, a server going
 * down), which must be retried or stop the writer, never set its batch aside.
 */
export function dataErrorOf(error: unknown): string | null {
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && cause; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code)) return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return null;
}

/** What the writer does, as privileges of the login: asked at connect, so a missing one stops a writer at start. */
const WRITER_PRIVILEGES: [string, string][] = [
  [`pg_catalog.has_table_privilege('pgwarden_repo.events', 'INSERT')`, 'INSERT on pgwarden_repo.events'],
  [`pg_catalog.has_column_privilege('pgwarden_repo.events', 'ts', 'SELECT') AND pg_catalog.has_column_privilege('pgwarden_repo.events', 'kind', 'SELECT')
     AND pg_catalog.has_column_privilege('pgwarden_repo.events', 'server', 'SELECT')
     AND pg_catalog.has_column_privilege('pgwarden_repo.events', 'session_id', 'SELECT')`, 'SELECT (ts, kind, server, session_id) on pgwarden_repo.events'],
  [`pg_catalog.has_table_privilege('pgwarden_repo.undated_events', 'INSERT')`, 'INSERT on pgwarden_repo.undated_events'],
  [`pg_catalog.has_table_privilege('pgwarden_repo.sessions', 'INSERT, UPDATE, SELECT')`, 'INSERT, UPDATE, SELECT on pgwarden_repo.sessions'],
  [`pg_catalog.has_table_privilege('pgwarden_repo.event_counts', 'INSERT, UPDATE, SELECT')`, 'INSERT, UPDATE, SELECT on pgwarden_repo.event_counts'],
  [`pg_catalog.has_table_privilege('pgwarden_repo.session_activity', 'INSERT, UPDATE, SELECT')`, 'INSERT, UPDATE, SELECT on pgwarden_repo.session_activity'],
  [`pg_catalog.has_table_privilege('pgwarden_repo.rejected_batches', 'INSERT')`, 'INSERT on pgwarden_repo.rejected_batches'],
  // setAside()'s RETURNING id: without it a refused batch could not be set aside and would stall its source
  [`pg_catalog.has_column_privilege('pgwarden_repo.rejected_batches', 'id', 'SELECT')`, 'SELECT (id) on pgwarden_repo.rejected_batches'],
  [`pg_catalog.has_function_privilege('pgwarden_repo.ensure_partition(date)', 'EXECUTE')`, 'EXECUTE on pgwarden_repo.ensure_partition(date)'],
  [`pg_catalog.has_function_privilege('pgwarden_repo.batch_overlaps(timestamptz, timestamptz, text, text, bigint, bigint)', 'EXECUTE')`,
    'EXECUTE on pgwarden_repo.batch_overlaps(…)'],
];

async function requireWriterPrivileges(client: pg.Client): Promise<void> {
  const { rows } = await client.query<Record<string, boolean>>(`${SQL_TAG}SELECT ${WRITER_PRIVILEGES.map(([check], i) => `${check} AS p${i}`).join(', ')}`);
  const missing = WRITER_PRIVILEGES.filter((_, i) => rows[0]![`p${i}`] !== true).map(([, what]) => what);
  if (missing.length === 0) return;
  const { rows: [who] } = await client.query<{ user: string }>(`${SQL_TAG}SELECT current_user AS user`);
  throw new PgwardenError('PGW_ERR_PRIVILEGE', `login ${who!.user} may not write the repository: it lacks ${missing.join(', ')}`,
    { hint: 'Grant it pgwarden_repo_writer: `pgwarden repo migrate --writer-login LOGIN` (docs/repository.md).' });
}
