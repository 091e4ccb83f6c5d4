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
 * Applies the migrations after `fromVersion` in order, each first recorded in `table` (a
 * schema-qualified constant, never input). Runs in the caller's transaction; returns their labels.
 */
export async function applyMigrations(client: pg.ClientBase, table: string, migrations: readonly Migration[], fromVersion: number): Promise<string[]> {
  const applied: string[] = [];
  for (const migration of migrations.filter((m) => m.version > fromVersion)) {
    await client.query(`${SQL_TAG}INSERT INTO ${table} (version, name, pgwarden_version) VALUES ($1, $2, $3)`,
      [migration.version, migration.name, PGWARDEN_VERSION]);
    await client.query(migration.sql);
    applied.push(migrationLabel(migration));
  }
  return applied;
}
