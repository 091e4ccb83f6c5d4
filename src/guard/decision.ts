// The dry run: what the guard would decide for a role, application, client and database.
// It calls the same compiled pgwarden.guard_decide() the login check calls, and applies
// the same exemptions (superuser, break-glass role), so the answer cannot drift from enforcement.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { RECORDER_APPLICATION, RECORDER_ROLE } from '../sensors/index.ts';
import { DEFAULT_REFUSAL_MESSAGE, normaliseClient } from './rule-input.ts';

export interface DecisionQuery {
  role: string;
  application: string;
  /** An IP address, or `local` (the default) for a Unix-socket connection. */
  client?: string;
  /** Defaults to the database pgwarden is connected to. */
  database?: string;
}

export interface Decision {
  decision: 'allow' | 'deny';
  rule_id: number | null;
  message: string | null;
  reason: 'rule' | 'default' | 'superuser' | 'break-glass' | 'recorder';
  database: string;
}

export async function decide(client: pg.Client, query: DecisionQuery): Promise<Decision> {
  const clientValue = query.client ?? 'local';
  let address: string | null = null;
  if (clientValue !== 'local') {
    const cidr = normaliseClient(clientValue);
    if (!/\/(32|128)$/.test(cidr)) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--client "${clientValue}" must be one address, not a network`);
    address = cidr.replace(/\/(32|128)$/, '');
  }
  const { rows } = await client.query<{
    superuser: boolean | null; break_glass: boolean; signed_rule: string; message: string | null; database: string;
  }>(
    // Break-glass as the login check has it compiled: the role's OID when the settings were saved.
    `${SQL_TAG}WITH d AS (SELECT pgwarden.guard_decide($1, $2, $3::inet, COALESCE($4, pg_catalog.current_database())) AS signed_rule)
     SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1) AS superuser,
            EXISTS (SELECT 1 FROM pgwarden.guard_break_glass b JOIN pg_catalog.pg_roles g ON g.oid = b.role_oid
                     WHERE b.role = $1 AND g.rolname = $1) AS break_glass,
            d.signed_rule, r.message,
            COALESCE($4, pg_catalog.current_database()) AS database
       FROM d
       LEFT JOIN pgwarden.guard_rules r ON r.id = pg_catalog.abs(d.signed_rule)`,
    [query.role, query.application, address, query.database ?? null]);
  const row = rows[0]!;
  const base = { database: row.database };
  // Only the recorder's own loopback connection is exempt; any other login of the role is checked.
  if (query.role === RECORDER_ROLE && query.application === RECORDER_APPLICATION && (address === null || address === '127.0.0.1' || address === '::1')) {
    return { ...base, decision: 'allow', rule_id: null, message: 'pgwarden recorder (its loopback connection)', reason: 'recorder' };
  }
  if (row.superuser) return { ...base, decision: 'allow', rule_id: null, message: 'superusers are never refused', reason: 'superuser' };
  if (row.break_glass) return { ...base, decision: 'allow', rule_id: null, message: 'break-glass roles are never refused', reason: 'break-glass' };
  // guard_decide returns the signed rule id: 0 no rule matched, +id allow, -id deny.
  const signed = Number(row.signed_rule);
  if (signed === 0) return { ...base, decision: 'allow', rule_id: null, message: null, reason: 'default' };
  return {
    ...base,
    decision: signed < 0 ? 'deny' : 'allow',
    rule_id: Math.abs(signed),
    message: signed < 0 ? row.message ?? DEFAULT_REFUSAL_MESSAGE : row.message,
    reason: 'rule',
  };
}
