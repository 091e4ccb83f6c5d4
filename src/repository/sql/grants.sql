-- The repository's roles and every grant to them, applied by every `repo migrate` after the
-- migrations (so a grant revoked by hand, or on a table a migration added, is put back). The one
-- place they are declared: test/repository/grants.test.ts holds the server to what this file
-- grants, and migrate.ts adds only the logins named on its command line. The role names are
-- src/core/roles.ts's (REPO_WRITER_ROLE, REPO_READER_ROLE, REPO_SERVER_ROLE).
--   pgwarden_repo_writer (NOLOGIN): INSERT into events, sessions and their activity kept up to date, partitions added,
--     the duplicate check (batch_overlaps()), refused batches set aside, incidents stored and updated
--     (never their operator state); never UPDATE or DELETE of events
--   pgwarden_repo_reader (NOLOGIN): SELECT on everything, for reports
--   pgwarden_repo_server (NOLOGIN): the reader's rights, plus the dashboard's own tables (pgwarden serve)
--     and an incident's state and comments
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgwarden_repo_writer') THEN CREATE ROLE pgwarden_repo_writer NOLOGIN; END IF;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgwarden_repo_reader') THEN CREATE ROLE pgwarden_repo_reader NOLOGIN; END IF;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgwarden_repo_server') THEN CREATE ROLE pgwarden_repo_server NOLOGIN; END IF;
END $$;
GRANT USAGE ON SCHEMA pgwarden_repo TO pgwarden_repo_writer, pgwarden_repo_reader;
GRANT INSERT ON pgwarden_repo.events, pgwarden_repo.undated_events, pgwarden_repo.rejected_batches TO pgwarden_repo_writer;
-- The columns a deduplicating insert's RETURNING reads (to count what it inserted, by hour and by
-- session), and no other: the duplicate check itself is pgwarden_repo.batch_overlaps(), which
-- answers yes or no.
GRANT SELECT (ts, kind, server, session_id) ON pgwarden_repo.events TO pgwarden_repo_writer;
-- A set-aside batch's id (INSERT … RETURNING id, for the log line that names it); no other column.
GRANT SELECT (id) ON pgwarden_repo.rejected_batches TO pgwarden_repo_writer;
GRANT EXECUTE ON FUNCTION pgwarden_repo.batch_overlaps(timestamptz, timestamptz, text, text, bigint, bigint) TO pgwarden_repo_writer;
GRANT SELECT, INSERT, UPDATE ON pgwarden_repo.sessions, pgwarden_repo.event_counts, pgwarden_repo.session_activity TO pgwarden_repo_writer;
-- migrations: the writer checks the version; undated_events: the shape of its staging table (LIKE).
GRANT SELECT ON pgwarden_repo.migrations, pgwarden_repo.undated_events TO pgwarden_repo_writer;
GRANT EXECUTE ON FUNCTION pgwarden_repo.ensure_partition(date) TO pgwarden_repo_writer;
-- Incidents (issue 18, incidents.ts): the writer stores and updates what the engine found, never the
-- operators' state (the columns granted leave state, state_by, state_at out) and never deletes an incident;
-- it reads the incident tables for the upsert's ON CONFLICT, and no events beyond the columns above.
GRANT SELECT, INSERT ON pgwarden_repo.incidents, pgwarden_repo.incident_events TO pgwarden_repo_writer;
-- and drops the links a newer alert of the incident no longer carries (storeIncident): engine data, not the operators'
GRANT DELETE ON pgwarden_repo.incident_events TO pgwarden_repo_writer;
GRANT UPDATE (severity, detect_state, first_ts, last_ts, count, user_name, database_name, client_addr,
  application, group_values, summary, tags, responses, updated_at) ON pgwarden_repo.incidents TO pgwarden_repo_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA pgwarden_repo TO pgwarden_repo_reader;
GRANT pgwarden_repo_reader TO pgwarden_repo_server;
GRANT INSERT ON pgwarden_repo.dashboard_access TO pgwarden_repo_server;
GRANT INSERT, UPDATE, DELETE ON pgwarden_repo.check_results TO pgwarden_repo_server;
GRANT INSERT, DELETE ON pgwarden_repo.check_history TO pgwarden_repo_server;
-- An admin's acknowledge, resolve and comment on the dashboard: the state columns and the comments, nothing the engine wrote.
GRANT UPDATE (state, state_by, state_at, count_at_state, updated_at) ON pgwarden_repo.incidents TO pgwarden_repo_server;
GRANT INSERT ON pgwarden_repo.incident_comments TO pgwarden_repo_server;
GRANT USAGE ON SCHEMA pgwarden_web TO pgwarden_repo_server;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgwarden_web TO pgwarden_repo_server;
