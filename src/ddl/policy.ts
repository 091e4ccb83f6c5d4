// The change policy: stored in pgwarden.ddl_policy / pgwarden.ddl_windows and enforced by
// the ddl_command_start event trigger (pgwarden.ddl_policy_check()). Every change is one
// statement, so it lands whole or not at all.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';

export interface DdlPolicy {
  enabled: boolean;
  allowed_roles: string[] | null;
  exempt_roles: string[];
  require_ticket: boolean;
  ticket_pattern: string | null;
  windows_only: boolean;
  updated_at: Date;
  updated_by: string;
}

export interface DdlWindow {
  id: number;
  kind: 'freeze' | 'window';
  starts: Date | null;
  ends: Date | null;
  reason: string | null;
  active: boolean;
  created_by: string;
}

export interface PolicyChange {
  enabled?: boolean;
  /** null: any role may change the schema */
  allowedRoles?: string[] | null;
  exemptRoles?: string[];
  requireTicket?: boolean;
  /** null: any non-empty ticket */
  ticketPattern?: string | null;
  windowsOnly?: boolean;
}

export async function readPolicy(client: pg.Client): Promise<DdlPolicy> {
  const { rows } = await client.query<DdlPolicy>(
    `${SQL_TAG}SELECT enabled, allowed_roles, exempt_roles, require_ticket, ticket_pattern, windows_only, updated_at, updated_by::text
       FROM pgwarden.ddl_policy`);
  return rows[0]!;
}

export async function changePolicy(client: pg.Client, change: PolicyChange): Promise<DdlPolicy> {
  // A typo in a role name would lock everyone out (allowed) or leave break glass broken (exempt).
  for (const [flag, roles] of [['--allowed-role', change.allowedRoles], ['--exempt-role', change.exemptRoles]] as const) {
    if (!roles?.length) continue;
    const { rows } = await client.query<{ missing: string }>(
      `${SQL_TAG}SELECT r AS missing FROM pg_catalog.unnest($1::text[]) AS r
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r)`, [roles]);
    if (rows.length > 0) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${flag}: role ${rows.map((r) => `"${r.missing}"`).join(', ')} does not exist; nothing was changed`);
    }
  }
  if (change.ticketPattern) {
    // Refuse a pattern PostgreSQL cannot compile now, not at the next DDL statement.
    try {
      await client.query(`${SQL_TAG}SELECT '' ~ $1`, [change.ticketPattern]);
    } catch (error) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--ticket-pattern "${change.ticketPattern}" is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  const has = (key: keyof PolicyChange) => change[key] !== undefined;
  const { rows } = await client.query<DdlPolicy>(
    `${SQL_TAG}UPDATE pgwarden.ddl_policy SET
        enabled = CASE WHEN $1 THEN $2 ELSE enabled END,
        allowed_roles = CASE WHEN $3 THEN $4::text[] ELSE allowed_roles END,
        exempt_roles = CASE WHEN $5 THEN $6::text[] ELSE exempt_roles END,
        require_ticket = CASE WHEN $7 THEN $8 ELSE require_ticket END,
        ticket_pattern = CASE WHEN $9 THEN $10 ELSE ticket_pattern END,
        windows_only = CASE WHEN $11 THEN $12 ELSE windows_only END,
        updated_at = pg_catalog.now(), updated_by = session_user
      RETURNING enabled, allowed_roles, exempt_roles, require_ticket, ticket_pattern, windows_only, updated_at, updated_by::text`,
    [has('enabled'), change.enabled ?? false, has('allowedRoles'), change.allowedRoles ?? null,
      has('exemptRoles'), change.exemptRoles ?? [], has('requireTicket'), change.requireTicket ?? false,
      has('ticketPattern'), change.ticketPattern ?? null, has('windowsOnly'), change.windowsOnly ?? false]);
  return rows[0]!;
}

const WINDOW_COLUMNS = `id::int AS id, kind, pg_catalog.lower(during) AS starts, pg_catalog.upper(during) AS ends, reason,
  during @> pg_catalog.now() AS active, created_by::text`;

export async function listWindows(client: pg.Client): Promise<DdlWindow[]> {
  const { rows } = await client.query<DdlWindow>(
    `${SQL_TAG}SELECT ${WINDOW_COLUMNS} FROM pgwarden.ddl_windows ORDER BY pg_catalog.lower(during) NULLS FIRST, id`);
  return rows;
}

export async function addWindow(client: pg.Client, kind: 'freeze' | 'window', starts: Date, ends: Date | null, reason: string | null): Promise<DdlWindow> {
  if (ends && ends <= starts) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--until ${ends.toISOString()} is not after --from ${starts.toISOString()}`);
  }
  const { rows } = await client.query<DdlWindow>(
    `${SQL_TAG}INSERT INTO pgwarden.ddl_windows (kind, during, reason) VALUES ($1, pg_catalog.tstzrange($2, $3, '[)'), $4)
     RETURNING ${WINDOW_COLUMNS}`, [kind, starts, ends, reason]);
  return rows[0]!;
}

export async function removeWindow(client: pg.Client, id: number): Promise<DdlWindow> {
  const { rows } = await client.query<DdlWindow>(`${SQL_TAG}DELETE FROM pgwarden.ddl_windows WHERE id = $1 RETURNING ${WINDOW_COLUMNS}`, [id]);
  if (rows.length === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `there is no freeze or change window with id ${id}`);
  return rows[0]!;
}
