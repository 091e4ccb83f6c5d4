// The sensors' numbered, immutable migrations (schema pgwarden): the files of src/sensors/sql,
// compiled into the build (sql-files.ts, written by `npm run generate`) and applied by
// core/migrations.ts, as the repository's are. Never edit a released migration: add the next.
import { migrationsTableSql, numberedMigrations, type Migration } from '../core/migrations.ts';
import { SQL_FILES } from './sql-files.ts';

export type { Migration };

export const MIGRATIONS: readonly Migration[] = numberedMigrations(SQL_FILES, 'src/sensors/sql');

/**
 * Applied by every install after the migrations (CREATE OR REPLACE): the DDL audit's
 * event-trigger functions, so that install puts back a replaced one.
 */
export const DDL_FUNCTIONS_SQL = SQL_FILES['ddl-functions.sql']!;
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Creates the schema and the bookkeeping table; safe to run again. */
export const BOOTSTRAP_SQL = `
-- Grants only when the schema is new: on an upgrade the event triggers of the installed release
-- are still the old ones, which would record them as someone's change (install restores the
-- schema's grants later, as pgwarden's own).
DO $bootstrap$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden') THEN
    CREATE SCHEMA pgwarden;
    REVOKE ALL ON SCHEMA pgwarden FROM PUBLIC;
    -- session_exec calls pgwarden.guard_check() as the connecting role, which needs USAGE;
    -- every object inside keeps its own, narrower grants.
    GRANT USAGE ON SCHEMA pgwarden TO PUBLIC;
  END IF;
END $bootstrap$;
${migrationsTableSql('pgwarden.migrations')}
`;
