-- The monitor's tables (schema pgwarden_monitor). Written to apply cleanly over an installation
-- made before the monitor had migrations (IF NOT EXISTS throughout, the columns added since
-- then added if missing): such a database has the schema and its tables but no migrations table,
-- so its first `monitor install` with migrations applies this one as to a new database.
CREATE SCHEMA IF NOT EXISTS pgwarden_monitor;
CREATE TABLE IF NOT EXISTS pgwarden_monitor.installed (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  pgwarden_version text NOT NULL,
  server_version_num integer NOT NULL,
  checks text[] NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  installed_by name NOT NULL DEFAULT current_user
);
ALTER TABLE pgwarden_monitor.installed ADD COLUMN IF NOT EXISTS show_names boolean NOT NULL DEFAULT false;
ALTER TABLE pgwarden_monitor.installed ADD COLUMN IF NOT EXISTS custom_reads text[] NOT NULL DEFAULT '{}';
-- The settings the settings_drift check compares with (recorded on its first run on the primary).
CREATE TABLE IF NOT EXISTS pgwarden_monitor.settings_baseline (
  name text PRIMARY KEY,
  value text,
  recorded_at timestamptz NOT NULL
);
-- Superusers seen by the superusers check, to report additions and removals.
CREATE TABLE IF NOT EXISTS pgwarden_monitor.superuser_changes (
  role_name name PRIMARY KEY,
  since timestamptz NOT NULL,
  removed_at timestamptz,
  baseline boolean NOT NULL
);
-- The row the writable check updates.
CREATE TABLE IF NOT EXISTS pgwarden_monitor.write_probe (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  written_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
