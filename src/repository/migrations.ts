// The repository's numbered, immutable migrations (schema pgwarden_repo). Compiled into the
// build as strings; each runs once, in one transaction that records itself first, so two
// migrators racing on one database collide on the primary key. Never edit a released one.
export interface RepoMigration {
  version: number;
  name: string;
  sql: string;
}

export const REPO_SCHEMA = 'pgwarden_repo';
export const WRITER_ROLE = 'pgwarden_repo_writer';
export const READER_ROLE = 'pgwarden_repo_reader';
/** `pgwarden serve`: reads like the reader, keeps its users, tokens, sessions, access log and check results. */
export const SERVER_ROLE = 'pgwarden_repo_server';
/** The dashboard's users, API tokens and login sessions: a schema of their own, so no grant on pgwarden_repo reaches them. */
export const WEB_SCHEMA = 'pgwarden_web';

export const REPO_BOOTSTRAP_SQL = `
CREATE SCHEMA IF NOT EXISTS pgwarden_repo;
REVOKE ALL ON SCHEMA pgwarden_repo FROM PUBLIC;
CREATE TABLE IF NOT EXISTS pgwarden_repo.migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  applied_by name NOT NULL DEFAULT current_user,
  pgwarden_version text NOT NULL
);
`;

const EVENT_COLUMNS_SQL = `
  kind text NOT NULL,
  server text,
  pid integer,
  session_id text,
  session_line bigint,
  user_name text,
  database_name text,
  application text,
  client_addr text,
  client_port integer,
  severity text,
  sqlstate text,
  message text,
  detail text,
  hint text,
  context text,
  query text,
  backend_type text,
  duration_ms double precision,
  audit_type text,
  statement_id bigint,
  substatement_id bigint,
  class text,
  command text,
  object_type text,
  object_name text,
  statement text,
  parameters text[],
  statement_logged text,
  rows bigint,
  guard jsonb,
  ddl jsonb,
  tamper jsonb,
  source_input text NOT NULL,
  source_position bigint NOT NULL,
  source_line bigint,
  ingested_at timestamptz NOT NULL DEFAULT pg_catalog.now()`;

const M0001 = `
-- Events, partitioned by day (UTC) on ts. Partitions are created on demand by
-- pgwarden_repo.ensure_partition() before a load, and dropped whole by prune.
CREATE TABLE pgwarden_repo.events (
  ts timestamptz NOT NULL,${EVENT_COLUMNS_SQL}
) PARTITION BY RANGE (ts);
-- Deduplication on the source position; a unique index on a partitioned table must hold the
-- partition key, and one position always has the same ts, so (ts, input, position) is enough.
CREATE UNIQUE INDEX events_source_key ON pgwarden_repo.events (ts, source_input, source_position);
CREATE INDEX events_session ON pgwarden_repo.events (server, session_id);

-- Events without a time (a stderr log whose log_line_prefix has no %m/%t): kept, never guessed
-- into a day, deduplicated on the source position alone, and counted as undated by ingest.
CREATE TABLE pgwarden_repo.undated_events (
  ts timestamptz,${EVENT_COLUMNS_SQL},
  CONSTRAINT undated_events_source_key UNIQUE (source_input, source_position)
);

-- One row per backend session, as pgaudit_analyze keeps it: filled from connection received,
-- connection authorized and disconnection events, keyed by (server, session_id).
CREATE TABLE pgwarden_repo.sessions (
  server text NOT NULL,
  session_id text NOT NULL,
  pid integer,
  user_name text,
  database_name text,
  application text,
  client_addr text,
  client_port integer,
  started_at timestamptz,
  authorized_at timestamptz,
  ended_at timestamptz,
  duration_ms double precision,
  PRIMARY KEY (server, session_id)
);
CREATE INDEX sessions_started ON pgwarden_repo.sessions (started_at);

-- Creates the partition for one day (UTC) if missing. SECURITY DEFINER so the writer role,
-- which does not own the events table, can add partitions and nothing else.
CREATE FUNCTION pgwarden_repo.ensure_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  name text := 'events_' || pg_catalog.to_char(day, 'YYYYMMDD');
BEGIN
  IF pg_catalog.to_regclass(pg_catalog.format('pgwarden_repo.%I', name)) IS NULL THEN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgwarden_repo.partitions'));
    EXECUTE pg_catalog.format(
      'CREATE TABLE IF NOT EXISTS pgwarden_repo.%I PARTITION OF pgwarden_repo.events FOR VALUES FROM (%L) TO (%L)',
      name, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  END IF;
  RETURN name;
END
$fn$;
REVOKE ALL ON FUNCTION pgwarden_repo.ensure_partition(date) FROM PUBLIC;
`;

const M0002 = `
-- Two writers adding the same day's partition at once: the second waited on the advisory lock,
-- but an advisory lock does not refresh the catalog, so it did not see the first one's table
-- and failed with "tuple concurrently updated". Locking the parent table instead serialises the
-- writers that add partitions (COPY into events is not blocked) and refreshes the catalog.
CREATE OR REPLACE FUNCTION pgwarden_repo.ensure_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  name text := 'events_' || pg_catalog.to_char(day, 'YYYYMMDD');
BEGIN
  IF pg_catalog.to_regclass(pg_catalog.format('pgwarden_repo.%I', name)) IS NULL THEN
    LOCK TABLE pgwarden_repo.events IN SHARE UPDATE EXCLUSIVE MODE;
    EXECUTE pg_catalog.format(
      'CREATE TABLE IF NOT EXISTS pgwarden_repo.%I PARTITION OF pgwarden_repo.events FOR VALUES FROM (%L) TO (%L)',
      name, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  END IF;
  RETURN name;
END
$fn$;
REVOKE ALL ON FUNCTION pgwarden_repo.ensure_partition(date) FROM PUBLIC;
`;

const M0003 = `
-- Hourly event counts per kind and server, kept by a statement trigger on events, so the
-- dashboard's charts and totals over days read a few hundred rows instead of millions. Rows come
-- only from inserts (events are never updated); prune deletes the hours of the days it drops.
CREATE TABLE pgwarden_repo.event_counts (
  hour timestamptz NOT NULL,
  kind text NOT NULL,
  server text NOT NULL,
  events bigint NOT NULL,
  PRIMARY KEY (hour, kind, server)
);
CREATE FUNCTION pgwarden_repo.count_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  -- In key order, so two writers counting into the same hours lock them in the same order.
  INSERT INTO pgwarden_repo.event_counts AS c (hour, kind, server, events)
  SELECT pg_catalog.date_trunc('hour', n.ts, 'UTC'), n.kind, COALESCE(n.server, ''), pg_catalog.count(*)
    FROM new_events n GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (hour, kind, server) DO UPDATE SET events = c.events + excluded.events;
  RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION pgwarden_repo.count_events() FROM PUBLIC;
CREATE TRIGGER events_count AFTER INSERT ON pgwarden_repo.events
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION pgwarden_repo.count_events();
INSERT INTO pgwarden_repo.event_counts (hour, kind, server, events)
SELECT pg_catalog.date_trunc('hour', ts, 'UTC'), kind, COALESCE(server, ''), pg_catalog.count(*)
  FROM pgwarden_repo.events GROUP BY 1, 2, 3;

-- For the dashboard's lists: the rare kinds (connections, refusals, DDL, errors) by time.
-- Partial, so the bulk of the inserts (audit records) does not maintain it. Audit records get
-- no index of their own: two more on (user_name, ts) and (object_name, ts) halved the writer's
-- throughput, and the dashboard's searches read back through time within a budget instead.
CREATE INDEX events_kind_ts ON pgwarden_repo.events (kind, ts) WHERE kind <> 'audit';
-- Fatal errors and crashes for the alerts page: few rows, found without reading the others.
CREATE INDEX events_fatal_errors_ts ON pgwarden_repo.events (ts) WHERE kind = 'error' AND severity IN ('FATAL', 'PANIC');
-- Sessions by their start, covering what the connections page groups by (an index-only scan).
CREATE INDEX sessions_begin ON pgwarden_repo.sessions ((COALESCE(started_at, authorized_at, ended_at)))
  INCLUDE (user_name, application, client_addr, authorized_at);

-- Who used the dashboard for what: every page, API call and export with its filters, and every
-- login, kept in the repository beside what it shows.
CREATE TABLE pgwarden_repo.dashboard_access (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts timestamptz NOT NULL DEFAULT pg_catalog.now(),
  user_name text,
  -- password (a login), session (the browser), token:<name> (the API), or none (refused)
  auth text NOT NULL,
  client_addr text,
  method text NOT NULL,
  route text NOT NULL,
  params jsonb NOT NULL DEFAULT '{}',
  status integer NOT NULL,
  rows integer,
  duration_ms double precision
);
CREATE INDEX dashboard_access_ts ON pgwarden_repo.dashboard_access (ts);

-- The latest result of every monitoring check per server (pgwarden serve runs them).
CREATE TABLE pgwarden_repo.check_results (
  server text NOT NULL,
  check_name text NOT NULL,
  category text NOT NULL,
  level text NOT NULL,
  summary text NOT NULL,
  result jsonb NOT NULL,
  checked_at timestamptz NOT NULL,
  PRIMARY KEY (server, check_name)
);

-- IF NOT EXISTS: the dashboard's schema lives beside pgwarden_repo, so a pgwarden_repo dropped to
-- start over leaves it, with its users, for the next migrate to keep.
CREATE SCHEMA IF NOT EXISTS pgwarden_web;
REVOKE ALL ON SCHEMA pgwarden_web FROM PUBLIC;
CREATE TABLE IF NOT EXISTS pgwarden_web.users (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
  role text NOT NULL CHECK (role IN ('viewer', 'admin')),
  -- argon2id in PHC string format
  password_hash text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  last_login_at timestamptz
);
-- API tokens: pgw_<id>_<secret>; only the SHA-256 of the secret is kept.
CREATE TABLE IF NOT EXISTS pgwarden_web.tokens (
  id text PRIMARY KEY,
  user_name text NOT NULL REFERENCES pgwarden_web.users (name) ON DELETE CASCADE ON UPDATE CASCADE,
  name text NOT NULL,
  secret_sha256 bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  UNIQUE (user_name, name)
);
-- Browser sessions: the cookie holds a random value; only its SHA-256 is kept.
CREATE TABLE IF NOT EXISTS pgwarden_web.sessions (
  id_sha256 bytea PRIMARY KEY,
  user_name text NOT NULL REFERENCES pgwarden_web.users (name) ON DELETE CASCADE ON UPDATE CASCADE,
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  last_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  expires_at timestamptz NOT NULL,
  client_addr text,
  user_agent text
);
CREATE INDEX IF NOT EXISTS sessions_user ON pgwarden_web.sessions (user_name);
`;

const M0004 = `
-- The hourly counts are kept by the writer from this version on: it knows the counts of a batch
-- it copies (and takes those of a deduplicating insert from its RETURNING), so the statement
-- trigger of 0003, whose transition table copied every inserted row a second time (a fifth of the
-- writer's cost), goes. Every writer of events is pgwarden's RepositoryWriter.
DROP TRIGGER events_count ON pgwarden_repo.events;
DROP FUNCTION pgwarden_repo.count_events();
-- A session's events, for the events that have a session id: csvlog and jsonlog always, a stderr
-- log only with %c in its prefix (most prefixes, RDS's and Debian's among them, have none). An
-- index of (server, NULL) for every event of such a log cost a quarter of the writer's time and
-- found nothing; a lookup by session id (session_id = $2) still uses the partial index.
DROP INDEX pgwarden_repo.events_session;
CREATE INDEX events_session ON pgwarden_repo.events (server, session_id) WHERE session_id IS NOT NULL;
`;

// 0005 is issue 14's (written in the coordination notes); this branch does not have it.
const M0006 = `
-- Every monitoring result, one row per check per run, for the dashboard's history of a check
-- (check_results keeps the latest, as before). pgwarden serve deletes rows older than
-- serve.monitor.history_days as it stores each run.
CREATE TABLE pgwarden_repo.check_history (
  server text NOT NULL,
  check_name text NOT NULL,
  checked_at timestamptz NOT NULL,
  level text NOT NULL,
  summary text NOT NULL,
  -- the value that decided the level: the highest row value (the lowest for a check whose threshold is a floor)
  value double precision,
  duration_ms double precision,
  PRIMARY KEY (server, check_name, checked_at)
);
CREATE INDEX check_history_checked_at ON pgwarden_repo.check_history (checked_at);
INSERT INTO pgwarden_repo.check_history (server, check_name, checked_at, level, summary)
SELECT server, check_name, checked_at, level, summary FROM pgwarden_repo.check_results;
`;

const M0007 = `
-- Issue 14. The dedup key holds the server: two servers whose logs share a file name (every RDS
-- instance, every Debian host) and a second-precision time met at the same offsets, and one
-- record was dropped as a duplicate of the other. Every stored row is unique on the old key, so it
-- is unique on the new one: nothing is lost or doubled. COALESCE: a server-less event (NULL) still
-- deduplicates against itself (a unique index takes NULLs as distinct). Records dropped before
-- this version are not here to recover; ingesting the other server's file again stores them.
CREATE UNIQUE INDEX events_source_server_key ON pgwarden_repo.events (ts, source_input, source_position, (COALESCE(server, '')));
DROP INDEX pgwarden_repo.events_source_key;
ALTER INDEX pgwarden_repo.events_source_server_key RENAME TO events_source_key;
ALTER TABLE pgwarden_repo.undated_events DROP CONSTRAINT undated_events_source_key;
CREATE UNIQUE INDEX undated_events_source_key ON pgwarden_repo.undated_events (source_input, source_position, (COALESCE(server, '')));

-- The duplicate check of the least-privilege writer, which may not read events: whether any row of
-- the server's input lies within a batch's positions and times. Says yes or no, nothing else.
CREATE FUNCTION pgwarden_repo.batch_overlaps(first_ts timestamptz, last_ts timestamptz, input text, server_name text,
  min_position bigint, max_position bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT EXISTS (SELECT 1 FROM pgwarden_repo.events e
    WHERE e.ts >= first_ts AND e.ts <= last_ts AND e.source_input = input
      AND e.source_position >= min_position AND e.source_position <= max_position
      AND COALESCE(e.server, '') = COALESCE(server_name, ''))
$fn$;
REVOKE ALL ON FUNCTION pgwarden_repo.batch_overlaps(timestamptz, timestamptz, text, text, bigint, bigint) FROM PUBLIC;

-- Batches the repository refused for their data (a value it cannot store, a constraint): set
-- aside here, whole, with where they were read, so that the source goes on and an operator can
-- look, mend and load them again. The events are kept as JSON lines in bytea: text could not hold
-- what was refused (a NUL, say).
CREATE TABLE pgwarden_repo.rejected_batches (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rejected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  rejected_by name NOT NULL DEFAULT current_user,
  writer text,
  message_id text,
  sqlstate text,
  error text NOT NULL,
  event_count integer NOT NULL,
  -- [{"server": …, "input": …, "first": position, "last": position}, …]
  positions jsonb NOT NULL,
  events bytea NOT NULL
);
CREATE INDEX rejected_batches_at ON pgwarden_repo.rejected_batches (rejected_at);

-- pgwarden's own roles, whose rows reports, the dashboard and alerts hide by default: the roles
-- pgwarden creates (on every server: '*'), and the logins granted them — the repository's, recorded
-- by repo migrate ('*'), an audited server's by \`repo own-roles sync\` (under its server name).
-- Decided by role, never by application_name (which any client sets).
CREATE TABLE pgwarden_repo.own_roles (
  server text NOT NULL,
  role_name text NOT NULL,
  via text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (server, role_name)
);
INSERT INTO pgwarden_repo.own_roles (server, role_name, via)
SELECT '*', r, 'created by pgwarden' FROM pg_catalog.unnest(ARRAY['pgwarden_recorder', 'pgwarden_watcher', 'pgwarden_alerts',
  'pgwarden_monitor_owner', 'pgwarden_monitor', 'pgwarden_auditor', 'pgwarden_repo_writer', 'pgwarden_repo_reader', 'pgwarden_repo_server']) AS r;
`;

export const REPO_MIGRATIONS: readonly RepoMigration[] = [
  { version: 1, name: 'events-sessions', sql: M0001 },
  { version: 2, name: 'partition-race', sql: M0002 },
  { version: 3, name: 'dashboard', sql: M0003 },
  { version: 4, name: 'writer-counts', sql: M0004 },
  { version: 6, name: 'check-history', sql: M0006 },
  { version: 7, name: 'server-key', sql: M0007 },
];
export const REPO_LATEST_VERSION = REPO_MIGRATIONS[REPO_MIGRATIONS.length - 1]!.version;
