// Applies the repository migrations and sets up its roles:
//   pgwarden_repo_writer (NOLOGIN): INSERT into events, sessions kept up to date, partitions added,
//     the duplicate check (batch_overlaps()), refused batches set aside, incidents stored and updated
//     (never their operator state); never UPDATE or DELETE of events
//   pgwarden_repo_reader (NOLOGIN): SELECT on everything, for reports
//   pgwarden_repo_server (NOLOGIN): the reader's rights, plus the dashboard's own tables (pgwarden serve)
//     and an incident's state and comments
// With pgAudit loaded, the writer role and every login granted it get pgaudit.log = 'none', so
// the repository never audits its own inserts into a loop.
import type pg from 'pg';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { applyMigrations } from '../core/migrations.ts';
import { PgwardenError } from '../core/errors.ts';
import { PGWARDEN_VERSION } from '../core/version.ts';
import { recordOwnLogins } from './own.ts';
import { READER_ROLE, REPO_BOOTSTRAP_SQL, REPO_LATEST_VERSION, REPO_MIGRATIONS, SERVER_ROLE, WRITER_ROLE } from './migrations.ts';

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
export async function repositoryVersion(client: pg.ClientBase): Promise<number> {
  // Read pg_class with the statement's snapshot, not to_regclass(): after waiting on the
  // migration's advisory lock the catalog cache may not yet show what the other migrator made.
  const { rows } = await client.query<{ present: boolean }>(`${SQL_TAG}SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgwarden_repo' AND c.relname = 'migrations') AS present`);
  if (!rows[0]!.present) return 0;
  const result = await client.query<{ version: number | null }>(`${SQL_TAG}SELECT pg_catalog.max(version) AS version FROM pgwarden_repo.migrations`);
  return result.rows[0]!.version ?? 0;
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
    for (const role of [WRITER_ROLE, READER_ROLE, SERVER_ROLE]) {
      await client.query(`${SQL_TAG}DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} NOLOGIN; END IF;
      END $$`);
    }
    await client.query(`${SQL_TAG}GRANT USAGE ON SCHEMA pgwarden_repo TO ${WRITER_ROLE}, ${READER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT INSERT ON pgwarden_repo.events, pgwarden_repo.undated_events, pgwarden_repo.rejected_batches TO ${WRITER_ROLE}`);
    // The columns a deduplicating insert's RETURNING reads (to count what it inserted), and no other:
    // the duplicate check itself is pgwarden_repo.batch_overlaps(), which answers yes or no.
    await client.query(`${SQL_TAG}GRANT SELECT (ts, kind, server) ON pgwarden_repo.events TO ${WRITER_ROLE}`);
    // A set-aside batch's id (INSERT … RETURNING id, for the log line that names it); no other column.
    await client.query(`${SQL_TAG}GRANT SELECT (id) ON pgwarden_repo.rejected_batches TO ${WRITER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT EXECUTE ON FUNCTION pgwarden_repo.batch_overlaps(timestamptz, timestamptz, text, text, bigint, bigint) TO ${WRITER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT SELECT, INSERT, UPDATE ON pgwarden_repo.sessions, pgwarden_repo.event_counts TO ${WRITER_ROLE}`);
    // migrations: the writer checks the version; undated_events: the shape of its staging table (LIKE).
    await client.query(`${SQL_TAG}GRANT SELECT ON pgwarden_repo.migrations, pgwarden_repo.undated_events TO ${WRITER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT EXECUTE ON FUNCTION pgwarden_repo.ensure_partition(date) TO ${WRITER_ROLE}`);
    // Incidents (issue 18, incidents.ts): the writer stores and updates what the engine found, never the
    // operators' state (the columns granted leave state, state_by, state_at out) and never deletes an incident;
    // it reads the incident tables for the upsert's ON CONFLICT, and no events beyond the columns above.
    await client.query(`${SQL_TAG}GRANT SELECT, INSERT ON pgwarden_repo.incidents, pgwarden_repo.incident_events TO ${WRITER_ROLE}`);
    // and drops the links a newer alert of the incident no longer carries (storeIncident): engine data, not the operators'
    await client.query(`${SQL_TAG}GRANT DELETE ON pgwarden_repo.incident_events TO ${WRITER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT UPDATE (severity, detect_state, first_ts, last_ts, count, user_name, database_name, client_addr,
      application, group_values, summary, tags, responses, updated_at) ON pgwarden_repo.incidents TO ${WRITER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT SELECT ON ALL TABLES IN SCHEMA pgwarden_repo TO ${READER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT ${READER_ROLE} TO ${SERVER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT INSERT ON pgwarden_repo.dashboard_access TO ${SERVER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT INSERT, UPDATE, DELETE ON pgwarden_repo.check_results TO ${SERVER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT INSERT, DELETE ON pgwarden_repo.check_history TO ${SERVER_ROLE}`);
    // An admin's acknowledge, resolve and comment on the dashboard: the state columns and the comments, nothing the engine wrote.
    await client.query(`${SQL_TAG}GRANT UPDATE (state, state_by, state_at, count_at_state, updated_at) ON pgwarden_repo.incidents TO ${SERVER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT INSERT ON pgwarden_repo.incident_comments TO ${SERVER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT USAGE ON SCHEMA pgwarden_web TO ${SERVER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgwarden_web TO ${SERVER_ROLE}`);
    const logins = options.writerLogins ?? [];
    for (const login of logins) await client.query(`${SQL_TAG}GRANT ${WRITER_ROLE} TO ${client.escapeIdentifier(login)}`);
    const serverLogins = options.serverLogins ?? [];
    for (const login of serverLogins) await client.query(`${SQL_TAG}GRANT ${SERVER_ROLE} TO ${client.escapeIdentifier(login)}`);
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
      for (const role of [WRITER_ROLE, ...logins, ...serverLogins]) {
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
