
-- Events, partitioned by day (UTC) on ts. Partitions are created on demand by
-- pgwarden_repo.ensure_partition() before a load, and dropped whole by prune.
CREATE TABLE pgwarden_repo.events (
  ts timestamptz NOT NULL,
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
  ingested_at timestamptz NOT NULL DEFAULT pg_catalog.now()
) PARTITION BY RANGE (ts);
-- Deduplication on the source position; a unique index on a partitioned table must hold the
-- partition key, and one position always has the same ts, so (ts, input, position) is enough.
CREATE UNIQUE INDEX events_source_key ON pgwarden_repo.events (ts, source_input, source_position);
CREATE INDEX events_session ON pgwarden_repo.events (server, session_id);

-- Events without a time (a stderr log whose log_line_prefix has no %m/%t): kept, never guessed
-- into a day, deduplicated on the source position alone, and counted as undated by ingest.
CREATE TABLE pgwarden_repo.undated_events (
  ts timestamptz,
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
  ingested_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
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
