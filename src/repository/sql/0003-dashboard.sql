
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
