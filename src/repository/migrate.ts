// Applies the repository migrations and sets up its roles and their grants (sql/grants.sql says
// which roles and why), then makes the named logins members.
// With pgAudit loaded, the writer role and every login granted it get pgaudit.log = 'none', so
// the repository never audits its own inserts into a loop.
import type pg from 'pg';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { appliedVersion, applyMigrations } from '../core/migrations.ts';
import { PgwardenError } from '../core/errors.ts';
import { PGWARDEN_VERSION } from '../core/version.ts';
import { recordOwnLogins } from './own.ts';
import { REPO_BOOTSTRAP_SQL, REPO_GRANTS_SQL, REPO_LATEST_VERSION, REPO_MIGRATIONS, REPO_SCHEMA } from './migrations.ts';
import { REPO_SERVER_ROLE, REPO_WRITER_ROLE } from '../core/roles.ts';

export interface MigrateResult {
  fromVersion: number;
  toVersion: number;
  applied: string[];
  /** true when pgaudit.log = 'none' was set on the writer role (pgAudit is loaded). */
  pgauditQuiet: boolean;
  writerLogins: string[];
  serverLogins: string[];
}

/** The repository schema version in this database: 0 when absent. */
export function repositoryVersion(client: pg.ClientBase): Promise<number> {
  return appliedVersion(client, REPO_SCHEMA);
}

function tooNew(version: number): PgwardenError {
  return new PgwardenError('PGW_ERR_SCHEMA_NEWER',
    `this repository has schema version ${version}; this pgwarden (${PGWARDEN_VERSION}) knows up to ${REPO_LATEST_VERSION}`);
}

export async function pgauditLoaded(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_settings WHERE name = 'pgaudit.log'`);
  return rows.length > 0;
}

/** Applies what is missing, creates the roles and grants; all in one transaction. */
export async function migrateRepository(client: pg.Client, options: { writerLogins?: string[]; serverLogins?: string[]; onlyIfBehind?: boolean } = {}): Promise<MigrateResult> {
  return inTransaction(client, async () => {
    await client.query(`${SQL_TAG}SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgwarden_repo.migrate'))`);
    const current = await repositoryVersion(client);
    // A writer that waited for another to migrate: nothing left to do, and granting again on
    // events would collide with that writer adding a partition ("tuple concurrently updated").
    if (options.onlyIfBehind && current === REPO_LATEST_VERSION) {
      return { fromVersion: current, toVersion: current, applied: [], pgauditQuiet: false, writerLogins: [], serverLogins: [] };
    }
    await client.query(SQL_TAG + REPO_BOOTSTRAP_SQL);
    const fromVersion = await repositoryVersion(client);
    if (fromVersion > REPO_LATEST_VERSION) throw tooNew(fromVersion);
    const applied = await applyMigrations(client, 'pgwarden_repo.migrations', REPO_MIGRATIONS, fromVersion);
    // The roles and their grants: declared once, in sql/grants.sql.
    await client.query(SQL_TAG + REPO_GRANTS_SQL);
    const logins = options.writerLogins ?? [];
    for (const login of logins) await client.query(`${SQL_TAG}GRANT ${REPO_WRITER_ROLE} TO ${client.escapeIdentifier(login)}`);
    const serverLogins = options.serverLogins ?? [];
    for (const login of serverLogins) await client.query(`${SQL_TAG}GRANT ${REPO_SERVER_ROLE} TO ${client.escapeIdentifier(login)}`);
    // pgwarden's own logins: only those named here (--writer-login, --server-login), hidden by default
    // in reports on every server (own.ts). Not every member of pgwarden's roles on this cluster: a
    // name such as postgres or a person's, recorded for every server, would hide them everywhere.
    // Rows an earlier repo migrate recorded that way ('repo migrate') go.
    await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.own_roles WHERE server = '*' AND via = 'repo migrate'`);
    await recordOwnLogins(client, logins, '*', 'repo migrate --writer-login');
    await recordOwnLogins(client, serverLogins, '*', 'repo migrate --server-login');
    const pgauditQuiet = await pgauditLoaded(client);
    if (pgauditQuiet) {
      // Role settings apply to the login that connects, so each writer and server login gets it too.
      for (const role of [REPO_WRITER_ROLE, ...logins, ...serverLogins]) {
        await client.query(`${SQL_TAG}ALTER ROLE ${client.escapeIdentifier(role)} SET pgaudit.log = 'none'`);
      }
    }
    return { fromVersion, toVersion: Math.max(fromVersion, REPO_LATEST_VERSION), applied, pgauditQuiet, writerLogins: logins, serverLogins };
  });
}

/** For writers and reports: the schema must be there (migrating it when `migrate`), and not newer. */
/** Returns what was applied when it migrated (null when there was nothing to do). */
export async function requireRepository(client: pg.Client, migrate: boolean): Promise<MigrateResult | null> {
  const version = await repositoryVersion(client);
  if (version > REPO_LATEST_VERSION) throw tooNew(version);
  if (version === REPO_LATEST_VERSION) return null;
  // A repository left behind by an upgrade of pgwarden is not "no repository": say which version it has.
  if (!migrate && version > 0) {
    throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `this repository has schema version ${version}; this pgwarden (${PGWARDEN_VERSION}) needs ${REPO_LATEST_VERSION}`,
      { hint: 'Run `pgwarden repo migrate --repo URL` to upgrade it (docs/repository.md).' });
  }
  if (!migrate) {
    throw new PgwardenError('PGW_ERR_NOT_INSTALLED', 'this database holds no pgwarden repository (schema pgwarden_repo)',
      { hint: 'Run `pgwarden repo migrate --repo URL` first (docs/repository.md).' });
  }
  let result: MigrateResult;
  try {
    result = await migrateRepository(client, { onlyIfBehind: true });
  } catch (error) {
    // A writer login on a repository an upgrade of pgwarden left behind: it may not migrate it
    // (and should not), so say which version is there and who migrates, not the raw "permission
    // denied for database" of the first CREATE.
    if (version > 0 && (error as { code?: string }).code === '42501') {
      // (the repository's connection gives PGW_ERR_PRIVILEGE its hint: migrate is the schema owner's)
      throw new PgwardenError('PGW_ERR_PRIVILEGE', `this repository has schema version ${version}; this pgwarden (${PGWARDEN_VERSION}) needs ${REPO_LATEST_VERSION}, and this login may not migrate it`, { cause: error });
    }
    throw error;
  }
  return result.applied.length > 0 ? result : null;
}
