// The one migration mechanism of the sensors (schema pgwarden), the repository (pgwarden_repo) and
// the monitor: numbered SQL files (`0001-name.sql`) compiled into the build (scripts/generate.ts
// writes them into a sql-files.ts module beside them), so nothing reads a file or a hand-kept list
// at run time. Each applies once, in the caller's transaction, recording itself first, so two
// installers racing on one database collide on the primary key instead of both applying it.
// Migrations are history: never edit a released one, add the next.
import type pg from 'pg';
import { SQL_TAG } from './db.ts';
import { PGWARDEN_VERSION } from './version.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The file name of a migration: four digits, a dash, a name. */
const NUMBERED = /^(\d{4})-([a-z0-9-]+)\.sql$/;

/**
 * The migrations among a directory's SQL files, in order of their numbers (a number may be
 * skipped — one kept for another branch — but not used twice). Files not named like a migration
 * (ddl-functions.sql, applied by every install) are left out.
 */
export function numberedMigrations(files: Readonly<Record<string, string>>, where: string): Migration[] {
  const migrations: Migration[] = [];
  for (const [file, sql] of Object.entries(files)) {
    const match = NUMBERED.exec(file);
    if (!match) continue;
    migrations.push({ version: Number(match[1]), name: match[2]!, sql });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) throw new Error(`${where}: two migrations numbered ${migrations[i]!.version}`);
  }
  if (migrations.length === 0) throw new Error(`${where}: no migrations`);
  return migrations;
}

/** `0003-dashboard`: how install and migrate name an applied migration. */
export function migrationLabel(m: Migration): string {
  return `${String(m.version).padStart(4, '0')}-${m.name}`;
}

/**
 * The bookkeeping table of a schema's migrations (`table`: schema-qualified, a constant): one row
 * a migration, recorded as it is applied. The same for the sensors, the repository and the monitor.
 */
export function migrationsTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  applied_by name NOT NULL DEFAULT current_user,
  pgwarden_version text NOT NULL
);`;
}

/** The highest migration applied in `schema` (its `migrations` table): 0 when there is none. */
export async function appliedVersion(client: pg.ClientBase, schema: string): Promise<number> {
  // Read pg_class with the statement's snapshot, not to_regclass(): after waiting on the
  // migration's advisory lock the catalog cache may not yet show what the other migrator made.
  const { rows } = await client.query<{ present: boolean }>(`${SQL_TAG}SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'migrations') AS present`, [schema]);
  if (!rows[0]!.present) return 0;
  const result = await client.query<{ version: number | null }>(`${SQL_TAG}SELECT pg_catalog.max(version) AS version FROM ${schema}.migrations`);
  return result.rows[0]!.version ?? 0;
}

/** A text constant of the build (a migration's name, pgwarden's version) as an SQL literal. */
function literal(value: string): string {
  if (!/^[A-Za-z0-9.+-]+$/.test(value)) throw new Error(`not a build constant: ${JSON.stringify(value)}`);
  return `'${value}'`;
}

/**
 * The statements that apply the migrations after `fromVersion` in order, each recorded first in
 * `table` (a schema-qualified constant, never input). Statements, not a function that runs them,
 * so that an installer may print them (`monitor install --dry-run`) or run them its own way (the
 * monitor's, through pgwarden.ddl_own_execute()); every value in them is the build's.
 */
export function migrationStatements(table: string, migrations: readonly Migration[], fromVersion: number): string[] {
  return migrations.filter((m) => m.version > fromVersion).flatMap((m) => [
    `INSERT INTO ${table} (version, name, pgwarden_version) VALUES (${m.version}, ${literal(m.name)}, ${literal(PGWARDEN_VERSION)})`,
    m.sql,
  ]);
}

/** Applies the migrations after `fromVersion` (migrationStatements()) in the caller's transaction; returns their labels. */
export async function applyMigrations(client: pg.ClientBase, table: string, migrations: readonly Migration[], fromVersion: number): Promise<string[]> {
  for (const statement of migrationStatements(table, migrations, fromVersion)) await client.query(SQL_TAG + statement);
  return pendingLabels(migrations, fromVersion);
}

/** The labels of the migrations after `fromVersion`. */
export function pendingLabels(migrations: readonly Migration[], fromVersion: number): string[] {
  return migrations.filter((m) => m.version > fromVersion).map(migrationLabel);
}
