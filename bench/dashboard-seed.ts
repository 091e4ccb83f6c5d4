// Seeds a repository with synthetic but realistically shaped events, fast, in SQL (INSERT ...
// SELECT over generate_series, one day partition per statement): for `npm run bench:dashboard`.
//
// The shape: sessions of 30 events each (connection received, authorized, 27 others,
// disconnection), most of them pgAudit records (READ 60 %, WRITE 25 %, the rest ROLE, DDL,
// MISC, FUNCTION) by two busy application users and 60 people, over 200 tables of which
// hr.salaries is the sensitive one; some authentication failures, guard refusals, DDL, errors.
import type pg from 'pg';

export interface SeedOptions {
  events: number;
  days: number;
  /** end of the seeded time range (default now) */
  end?: Date;
  onProgress?: (done: number, total: number) => void;
}

/** One day's rows: $1 first event number, $2 last, $3 range start (epoch s), $4 seconds per event. */
const DAY_SQL = `
INSERT INTO pgwarden_repo.events (ts, kind, server, pid, session_id, session_line, user_name, database_name, application,
  client_addr, client_port, severity, sqlstate, message, audit_type, statement_id, substatement_id, class, command,
  object_type, object_name, statement, statement_logged, rows, guard, ddl, source_input, source_position, source_line)
SELECT ts, kind, 'db' || (s % 3 + 1), 10000 + s % 50000, pg_catalog.to_hex(s) || '.' || pg_catalog.to_hex(10000 + s % 50000), line,
  CASE WHEN kind = 'connection_received' THEN NULL ELSE usr END, CASE WHEN kind = 'connection_received' THEN NULL ELSE 'orders' END,
  CASE WHEN kind = 'connection_received' THEN NULL ELSE app END,
  '10.0.' || (s % 7) || '.' || (s % 250 + 1), 40000 + s % 20000,
  CASE kind WHEN 'audit' THEN 'LOG' WHEN 'error' THEN 'ERROR' WHEN 'auth_failed' THEN 'FATAL' WHEN 'guard_deny' THEN 'FATAL' ELSE 'LOG' END,
  CASE kind WHEN 'error' THEN '23505' WHEN 'auth_failed' THEN '28P01' WHEN 'guard_deny' THEN '42501' ELSE NULL END,
  CASE kind
    WHEN 'connection_received' THEN 'connection received: host=10.0.' || (s % 7) || '.' || (s % 250 + 1) || ' port=' || (40000 + s % 20000)
    WHEN 'connection_authorized' THEN 'connection authorized: user=' || usr || ' database=orders application_name=' || app
    WHEN 'disconnection' THEN 'disconnection: session time: 0:00:' || pg_catalog.lpad((s % 60)::text, 2, '0') || '.000'
    WHEN 'auth_failed' THEN 'password authentication failed for user "' || usr || '"'
    WHEN 'guard_deny' THEN 'pgwarden: GUI tools are not allowed (rule 1)'
    WHEN 'error' THEN 'duplicate key value violates unique constraint "t' || tbl || '_pkey"'
    WHEN 'ddl' THEN 'ALTER TABLE'
    ELSE NULL END,
  CASE WHEN kind = 'audit' THEN 'SESSION' END, CASE WHEN kind = 'audit' THEN line END, CASE WHEN kind = 'audit' THEN 1 END,
  CASE WHEN kind = 'audit' THEN klass END,
  CASE WHEN kind = 'audit' THEN CASE klass WHEN 'READ' THEN 'SELECT' WHEN 'WRITE' THEN (ARRAY['INSERT','UPDATE','DELETE'])[h % 3 + 1]
    WHEN 'ROLE' THEN 'GRANT' WHEN 'DDL' THEN 'ALTER TABLE' WHEN 'FUNCTION' THEN 'EXECUTE' ELSE 'SET' END END,
  CASE WHEN kind = 'audit' THEN 'TABLE' END, CASE WHEN kind IN ('audit', 'ddl') THEN obj END,
  CASE WHEN kind = 'audit' THEN CASE klass
    WHEN 'READ' THEN 'SELECT id, total, note FROM ' || obj || ' WHERE customer_id = ' || (h * 7919 % 100000)
    WHEN 'WRITE' THEN (ARRAY['INSERT INTO ' || obj || ' (customer_id, total) VALUES ($1, $2)',
                             'UPDATE ' || obj || ' SET total = total + 1 WHERE id = ' || (h * 13 % 100000),
                             'DELETE FROM ' || obj || ' WHERE id = ' || (h * 17 % 100000)])[h % 3 + 1]
    WHEN 'ROLE' THEN 'GRANT SELECT ON ' || obj || ' TO reporting'
    WHEN 'DDL' THEN 'ALTER TABLE ' || obj || ' ADD COLUMN c' || h || ' integer'
    WHEN 'FUNCTION' THEN 'SELECT public.refresh_totals(' || h || ')'
    ELSE 'SET work_mem = ''64MB''' END END,
  CASE WHEN kind = 'audit' THEN 'yes' END, CASE WHEN kind = 'audit' AND klass = 'READ' THEN h % 50 END,
  CASE WHEN kind = 'guard_deny' THEN '{"rule_id": 1, "reason": "GUI tools are not allowed", "problem": null}'::jsonb END,
  CASE WHEN kind = 'ddl' THEN pg_catalog.jsonb_build_object('id', g, 'txid', g, 'event', 'ddl_command_end', 'current_user', usr,
    'command_tag', 'ALTER TABLE', 'object_type', 'table', 'object_identity', obj, 'schema', 'public', 'in_extension', false,
    'statement', 'ALTER TABLE ' || obj || ' ADD COLUMN c' || h || ' integer', 'change_ticket', 'CHG-' || (g % 10000),
    'server_addr', null, 'server_port', null, 'detail', null) END,
  'postgresql-' || pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '.log', g * 180, g
FROM (
  SELECT g, s, line, h, ts,
    CASE WHEN line = 0 THEN 'connection_received' WHEN line = 1 THEN 'connection_authorized' WHEN line = 29 THEN 'disconnection'
      WHEN h % 1000 < 5 THEN 'auth_failed' WHEN h % 1000 < 7 THEN 'guard_deny' WHEN h % 1000 < 8 THEN 'ddl'
      WHEN h % 1000 < 18 THEN 'error' WHEN h % 1000 < 28 THEN 'log' ELSE 'audit' END AS kind,
    CASE WHEN s % 10 < 6 THEN 'app_orders' WHEN s % 10 < 9 THEN 'reporting' ELSE 'person' || (s % 60) END AS usr,
    CASE WHEN s % 10 < 6 THEN 'orders-service' WHEN s % 10 < 9 THEN 'metabase' ELSE (ARRAY['psql', 'DBeaver 24.1', 'pgAdmin 4'])[s % 3 + 1] END AS app,
    CASE WHEN h % 100 < 60 THEN 'READ' WHEN h % 100 < 85 THEN 'WRITE' WHEN h % 100 < 88 THEN 'ROLE' WHEN h % 100 < 90 THEN 'DDL'
      WHEN h % 100 < 95 THEN 'FUNCTION' ELSE 'MISC' END AS klass,
    h % 200 AS tbl,
    CASE WHEN h % 200 = 0 THEN 'hr.salaries' ELSE 'public.t' || (h % 200) END AS obj
  FROM (SELECT g, g / 30 AS s, g % 30 AS line, (g * 2654435761) % 4294967296 / 7 AS h,
               pg_catalog.to_timestamp($3::float8 + g * $4::float8) AS ts
          FROM pg_catalog.generate_series($1::bigint, $2::bigint) AS g) numbered
) shaped`;

const SESSIONS_SQL = `
INSERT INTO pgwarden_repo.sessions (server, session_id, pid, user_name, database_name, application, client_addr, client_port,
  started_at, authorized_at, ended_at, duration_ms)
SELECT server, session_id, max(pid), max(user_name), max(database_name), max(application) FILTER (WHERE kind = 'connection_authorized'),
  max(client_addr), max(client_port), min(ts) FILTER (WHERE kind = 'connection_received'),
  min(ts) FILTER (WHERE kind = 'connection_authorized'), max(ts) FILTER (WHERE kind = 'disconnection'),
  extract(epoch FROM max(ts) - min(ts)) * 1000
FROM pgwarden_repo.events WHERE ts >= $1 AND ts < $2 AND session_id IS NOT NULL
GROUP BY server, session_id
ON CONFLICT (server, session_id) DO NOTHING`;

// The hourly counts that RepositoryWriter keeps as it writes (the seed inserts in SQL instead).
const COUNTS_SQL = `
INSERT INTO pgwarden_repo.event_counts AS c (hour, kind, server, events)
SELECT pg_catalog.date_trunc('hour', ts, 'UTC'), kind, COALESCE(server, ''), pg_catalog.count(*)
FROM pgwarden_repo.events WHERE ts >= $1 AND ts < $2 GROUP BY 1, 2, 3
ON CONFLICT (hour, kind, server) DO UPDATE SET events = c.events + excluded.events`;

/** Inserts `events` events spread evenly over `days` days before `end`, with their sessions and hourly counts. */
export async function seedEvents(client: pg.Client, options: SeedOptions): Promise<void> {
  const end = options.end ?? new Date();
  const start = new Date(end.getTime() - options.days * 86_400_000);
  const secondsPerEvent = (end.getTime() - start.getTime()) / 1000 / options.events;
  let done = 0;
  for (let day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate())); day < end; day = new Date(day.getTime() + 86_400_000)) {
    await client.query('SELECT pgwarden_repo.ensure_partition($1::date)', [day.toISOString().slice(0, 10)]);
    const from = Math.max(0, Math.ceil((day.getTime() - start.getTime()) / 1000 / secondsPerEvent));
    const to = Math.min(options.events - 1, Math.ceil((day.getTime() + 86_400_000 - start.getTime()) / 1000 / secondsPerEvent) - 1);
    if (to < from) continue;
    await client.query(DAY_SQL, [from, to, start.getTime() / 1000, secondsPerEvent]);
    await client.query(SESSIONS_SQL, [day, new Date(day.getTime() + 86_400_000)]);
    await client.query(COUNTS_SQL, [day, new Date(day.getTime() + 86_400_000)]);
    done += to - from + 1;
    options.onProgress?.(done, options.events);
  }
}
