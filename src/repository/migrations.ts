// The repository's numbered, immutable migrations (schema pgwarden_repo): the files of
// src/repository/sql, compiled into the build (sql-files.ts, written by `npm run generate`) and
// applied by core/migrations.ts, as the sensors' are. Never edit a released one: add the next.
import { migrationsTableSql, numberedMigrations, type Migration } from '../core/migrations.ts';
import { SQL_FILES } from './sql-files.ts';

export type RepoMigration = Migration;

export const REPO_SCHEMA = 'pgwarden_repo';
/** The dashboard's users, API tokens and login sessions: a schema of their own, so no grant on pgwarden_repo reaches them. */
export const WEB_SCHEMA = 'pgwarden_web';

export const REPO_BOOTSTRAP_SQL = `
CREATE SCHEMA IF NOT EXISTS pgwarden_repo;
REVOKE ALL ON SCHEMA pgwarden_repo FROM PUBLIC;
${migrationsTableSql(`${REPO_SCHEMA}.migrations`)}
`;

/** The roles and every grant to them, applied by every migrate after the migrations (grants.sql). */
export const REPO_GRANTS_SQL = SQL_FILES['grants.sql']!;
export const REPO_MIGRATIONS: readonly RepoMigration[] = numberedMigrations(SQL_FILES, 'src/repository/sql');
export const REPO_LATEST_VERSION = REPO_MIGRATIONS[REPO_MIGRATIONS.length - 1]!.version;
