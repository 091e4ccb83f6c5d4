// pgwarden's own rows: the sessions and statements of the roles pgwarden's install and repo migrate
// create, and of the logins granted them, listed in pgwarden_repo.own_roles. Stored like every
// other row, hidden by default in reports, the dashboard and alerts, shown on request. Decided by
// the role — which only a role administrator can give — never by application_name, which any
// client sets (PGAPPNAME=pgwarden/collect must not hide anyone).
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PGWARDEN_ROLES, REPO_READER_ROLE } from '../core/roles.ts';

/** The roles pgwarden creates, on an audited server (install, monitor install, pgaudit) and on the repository (repo migrate). */
export { PGWARDEN_ROLES };

/**
 * SQL: true when the row's role is not pgwarden's own. `user` and `server` are SQL expressions
 * of the row; `server` '*' rows of own_roles hold on every server.
 */
export function notOwnSql(user: string, server: string): string {
  return `NOT EXISTS (SELECT 1 FROM pgwarden_repo.own_roles o WHERE o.role_name = ${user} AND o.server IN ('*', COALESCE(${server}, '')))`;
}

/** Whether a query parameter asks to show pgwarden's own rows (own=1, own=true, own=yes). */
export function showsOwn(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}

/**
 * Records in own_roles the logins that are members of pgwarden's roles in the database `client`
 * is connected to (the repository's own with `server` '*', or an audited server under its name).
 */
export async function recordOwnLogins(repo: pg.ClientBase, members: string[], server: string, via: string): Promise<void> {
  if (members.length === 0) return;
  await repo.query(`${SQL_TAG}INSERT INTO pgwarden_repo.own_roles (server, role_name, via)
    SELECT $1, m, $3 FROM pg_catalog.unnest($2::text[]) AS m ON CONFLICT (server, role_name) DO UPDATE SET via = excluded.via, recorded_at = pg_catalog.now()`,
  [server, members, via]);
}

/**
 * The roles whose members are pgwarden's own: all of PGWARDEN_ROLES but the reports role
 * pgwarden_repo_reader, which is granted to people (an analyst's reports are not pgwarden's).
 */
export const OWN_MEMBER_ROLES: readonly string[] = PGWARDEN_ROLES.filter((r) => r !== REPO_READER_ROLE);

/**
 * The logins of a cluster that hold the privileges of one of pgwarden's roles (OWN_MEMBER_ROLES),
 * directly or through other roles. Only memberships that give the role's privileges count: on
 * PostgreSQL 16 and later a grant with INHERIT or SET — never one with ADMIN alone, which every
 * CREATEROLE role gets of the roles it creates (the RDS, Cloud SQL and Azure master user that ran
 * install) — and any grant on 15 and earlier. Superusers and role administrators (CREATEROLE) are
 * never pgwarden's own: pgwarden's logins need neither, and hiding such a login would hide a person.
 */
export async function pgwardenMembers(client: pg.ClientBase): Promise<{ role: string; via: string }[]> {
  const { rows: [version] } = await client.query<{ v: number }>(`${SQL_TAG}SELECT pg_catalog.current_setting('server_version_num')::int AS v`);
  const gives = version!.v >= 160000 ? '(a.inherit_option OR a.set_option)' : 'true';
  const { rows } = await client.query<{ role: string; via: string }>(`${SQL_TAG}WITH RECURSIVE granted (member, via) AS (
      SELECT a.member, r.rolname::text FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.roleid
       WHERE r.rolname = ANY($1::text[]) AND ${gives}
      UNION
      SELECT a.member, g.via FROM pg_catalog.pg_auth_members a JOIN granted g ON a.roleid = g.member WHERE ${gives})
    SELECT m.rolname AS role, pg_catalog.min(g.via) AS via FROM granted g JOIN pg_catalog.pg_roles m ON m.oid = g.member
     WHERE NOT m.rolsuper AND NOT m.rolcreaterole GROUP BY m.rolname ORDER BY 1`, [OWN_MEMBER_ROLES]);
  return rows;
}
