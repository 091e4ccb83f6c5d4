// The monitor's numbered, immutable migrations (schema pgwarden_monitor): the files of
// src/monitor/sql, compiled into the build (sql-files.ts, written by `npm run generate`) and
// applied by core/migrations.ts, as the sensors' and the repository's are. Never edit a released
// one: add the next. What the checks' functions are is generated (sql.ts, from the registry and
// the custom checks), not migrated: install replaces them all every time.
import { migrationsTableSql, numberedMigrations, type Migration } from '../core/migrations.ts';
import { SQL_FILES } from './sql-files.ts';
import { MONITOR_SCHEMA } from './sql.ts';

export const MONITOR_MIGRATIONS: readonly Migration[] = numberedMigrations(SQL_FILES, 'src/monitor/sql');
export const MONITOR_LATEST_VERSION = MONITOR_MIGRATIONS[MONITOR_MIGRATIONS.length - 1]!.version;
export const MONITOR_MIGRATIONS_TABLE = `${MONITOR_SCHEMA}.migrations`;

/** The schema and its bookkeeping table; safe to run again. */
export const MONITOR_BOOTSTRAP_SQL = `CREATE SCHEMA IF NOT EXISTS ${MONITOR_SCHEMA};
${migrationsTableSql(MONITOR_MIGRATIONS_TABLE)}`;

/** Applied by every install after the migrations: grants, owners, the samples table and sample_delta() (install.sql). */
export const MONITOR_INSTALL_SQL = SQL_FILES['install.sql']!;
