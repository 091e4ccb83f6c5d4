-- pgwarden sensors, migration 2: the DDL audit, its delivery bookkeeping and the change policy.
-- Tables only: the event-trigger functions are in ddl-functions.sql, which install applies
-- every time (so a replaced function is put back), and install creates the event triggers.

-- One row per object a DDL statement created, altered, dropped or rewrote. Written by the
-- event triggers inside the DDL's own transaction: a rolled-back statement leaves nothing.
CREATE TABLE pgwarden.ddl_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts timestamptz NOT NULL,
  txid bigint NOT NULL,
  -- which event trigger wrote the row: ddl_command_end, sql_drop or table_rewrite
  event text NOT NULL CHECK (event IN ('ddl_command_end', 'sql_drop', 'table_rewrite')),
  -- who logged in, and the role the statement ran as (differs after SET ROLE)
  user_name name NOT NULL,
  current_user_name name NOT NULL,
  database name NOT NULL,
  server_addr text,
  server_port integer,
  -- '[local]' for a Unix socket, as PostgreSQL writes it in the log
  client_addr text NOT NULL,
  client_port integer,
  application text NOT NULL DEFAULT '',
  backend_pid integer NOT NULL,
  command_tag text NOT NULL,
  object_type text,
  object_identity text,
  schema_name text,
  in_extension boolean NOT NULL DEFAULT false,
  -- the whole query string the client sent (all of it, for a multi-statement string)
  statement text,
  -- SET pgwarden.change_ticket = 'CHG-123' in the session
  change_ticket text,
  -- table_rewrite: why the table was rewritten
  detail text
);
CREATE INDEX ddl_events_ts_idx ON pgwarden.ddl_events (ts);

-- Delivery bookkeeping, per alert sink: every ddl_events id up to delivered_through is
-- settled for that sink (delivered, or not routed to it). A failing sink keeps its place
-- and its last error, which `pgwarden status` shows.
CREATE TABLE pgwarden.alert_sinks (
  sink text PRIMARY KEY,
  delivered_through bigint NOT NULL,
  -- the batch being sent, written before sending: after a crash it is sent again with the
  -- same message id (receivers deduplicate on it), never re-cut into different batches
  inflight_through bigint,
  inflight_message_id text,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  last_attempt_at timestamptz,
  next_attempt_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Each event a sink accepted, once: the primary key makes a second delivery impossible to record.
CREATE TABLE pgwarden.alert_deliveries (
  sink text NOT NULL REFERENCES pgwarden.alert_sinks (sink) ON DELETE CASCADE,
  event_id bigint NOT NULL REFERENCES pgwarden.ddl_events (id) ON DELETE CASCADE,
  message_id text NOT NULL,
  delivered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (sink, event_id)
);

-- The change policy (off by default), checked at ddl_command_start.
CREATE TABLE pgwarden.ddl_policy (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  enabled boolean NOT NULL DEFAULT false,
  -- roles (or members of roles) that may change the schema; NULL means any role
  allowed_roles text[],
  -- roles never refused (break glass), whatever else the policy says
  exempt_roles text[] NOT NULL DEFAULT '{}',
  require_ticket boolean NOT NULL DEFAULT false,
  -- a POSIX regular expression the ticket must match; NULL means any non-empty text
  ticket_pattern text,
  -- true: DDL only inside a 'window' row's time range
  windows_only boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by name NOT NULL DEFAULT session_user
);
INSERT INTO pgwarden.ddl_policy DEFAULT VALUES;

-- Freezes (no DDL) and change windows (DDL allowed, with windows_only), as time ranges.
CREATE TABLE pgwarden.ddl_windows (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('freeze', 'window')),
  during tstzrange NOT NULL CHECK (NOT pg_catalog.isempty(during)),
  reason text,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by name NOT NULL DEFAULT session_user
);

-- The definition hash of every function install made, for tamper detection by `pgwarden status`
-- (generated guard functions are in compiled_functions).
CREATE TABLE pgwarden.function_hashes (
  signature text PRIMARY KEY,
  source_md5 text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
