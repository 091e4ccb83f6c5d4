
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
-- by repo migrate ('*'), an audited server's by `repo own-roles sync` (under its server name).
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
