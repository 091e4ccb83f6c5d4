// The responder role and its lock functions (lock_role), made only when asked:
// `pgwarden install --responder`. See sql/responder.sql for what the role can do and why.
import type pg from 'pg';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { RESPONDER } from './manifest.ts';
import { SQL_FILES } from './sql-files.ts';

const RESPONDER_SQL = SQL_FILES['responder.sql']!;

export interface ResponderResult {
  database: string;
  /** PostgreSQL 16+: the roles the responder was given ADMIN OPTION on by this run */
  adminGranted: string[];
}

/**
 * The responder's functions and grants as this release ships them (responder.sql is CREATE OR
 * REPLACE): run by `install --responder`, and by every plain install of a database that has the
 * responder, so that an upgrade replaces the functions of the release before (0.x's advisory
 * lock, which any login could hold, stayed until `install --responder` was run again). Inside
 * the caller's transaction, which has set pgwarden.internal. No ADMIN OPTION is given here: that
 * is `--responder`'s alone.
 */
export async function refreshResponderFunctions(client: pg.ClientBase): Promise<void> {
  await client.query(RESPONDER_SQL);
  for (const grant of [
    `REVOKE ALL ON SCHEMA pgwarden_responder FROM PUBLIC`,
    `GRANT USAGE ON SCHEMA pgwarden_responder TO pgwarden_watcher, ${RESPONDER}`,
    `REVOKE ALL ON ALL ROUTINES IN SCHEMA pgwarden_responder FROM PUBLIC`,
    `GRANT EXECUTE ON ALL ROUTINES IN SCHEMA pgwarden_responder TO pgwarden_watcher`,
    `GRANT USAGE ON SCHEMA pgwarden TO ${RESPONDER}`,
    `GRANT SELECT, INSERT ON pgwarden.response_actions TO ${RESPONDER}`,
    `GRANT SELECT, INSERT, UPDATE ON pgwarden.response_locks TO ${RESPONDER}`,
    `GRANT SELECT ON pgwarden.guard_break_glass TO ${RESPONDER}`,
    `GRANT EXECUTE ON FUNCTION pgwarden.response_protection(oid), pgwarden.response_recorded(text,text), pgwarden.response_role_version(oid), pgwarden.response_duration_refusal(interval) TO ${RESPONDER}`,
  ]) await client.query(`${SQL_TAG}SELECT pgwarden.ddl_own_execute($1)`, [grant]);
}

/**
 * Installs the responder in the database the client is connected to (after installSchema), in
 * one transaction. On PostgreSQL 16 and later, CREATEROLE alters only the roles it holds ADMIN
 * OPTION on: the responder gets it (without INHERIT or SET: none of their privileges) on every
 * role that can log in and that no response may touch anyway is left out.
 */
export async function installResponder(client: pg.Client): Promise<ResponderResult> {
  return inTransaction(client, async () => {
    const { rows: [me] } = await client.query<{ rolsuper: boolean; installed: boolean; version: number; database: string }>(
      `${SQL_TAG}SELECT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) AS rolsuper,
         pg_catalog.to_regclass('pgwarden.response_locks') IS NOT NULL AS installed,
         pg_catalog.current_setting('server_version_num')::int AS version, pg_catalog.current_database() AS database`);
    if (!me!.rolsuper) throw new PgwardenError('PGW_ERR_PRIVILEGE', 'pgwarden install --responder needs a superuser');
    if (!me!.installed) throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `database ${me!.database} has no pgwarden schema version 5: run pgwarden install first`);
    await client.query(`${SQL_TAG}SELECT pg_catalog.set_config('pgaudit.log', 'none', true), pg_catalog.set_config('log_statement', 'none', true)`);
    // pgwarden's own objects, not a schema change to report (see pgwarden.ddl_own_context()).
    await client.query(`${SQL_TAG}SET LOCAL pgwarden.internal = 'on'`);
    await refreshResponderFunctions(client);
    const adminGranted: string[] = [];
    if (me!.version >= 160000) {
      const { rows } = await client.query<{ name: string }>(
        `${SQL_TAG}SELECT r.rolname::text AS name FROM pg_catalog.pg_roles r
          WHERE r.rolcanlogin AND pgwarden.response_protection(r.oid) IS NULL AND r.rolname <> current_user
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                             WHERE m.roleid = r.oid AND m.member = '${RESPONDER}'::regrole AND m.admin_option)
          ORDER BY 1`);
      for (const row of rows) {
        // PostgreSQL 16 syntax; escapeIdentifier quotes any name a role may have.
        await client.query(`${SQL_TAG}GRANT ${client.escapeIdentifier(row.name)} TO ${RESPONDER} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE`);
        adminGranted.push(row.name);
      }
    }
    return { database: me!.database, adminGranted };
  });
}
