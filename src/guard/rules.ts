// Guard rules in the database: add, list, remove. Every change recompiles the guard
// (a trigger on pgwarden.guard_rules does it in the same transaction).
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import type { NormalisedRule, RuleAction } from './rule-input.ts';

export interface StoredRule {
  id: number;
  priority: number;
  action: RuleAction;
  roles: string[];
  applications: string[] | null;
  clients: string[] | null;
  databases: string[] | null;
  message: string | null;
  /** a temporary rule (block_client response): it matches no login from this time on */
  expires_at: Date | null;
  created_at: Date;
  created_by: string;
}

const RULE_COLUMNS = `id::int AS id, priority, action, roles, applications,
  NULLIF(CASE WHEN local_socket THEN ARRAY['local'] ELSE '{}'::text[] END || COALESCE(clients::text[], '{}'), '{}') AS clients,
  databases, message, expires_at, created_at, created_by`;

export async function addRule(client: pg.Client, rule: NormalisedRule): Promise<StoredRule> {
  // One statement: the rule and the recompiled guard land together or not at all.
  const { rows } = await client.query<StoredRule>(
    `${SQL_TAG}INSERT INTO pgwarden.guard_rules (action, roles, applications, clients, local_socket, databases, message, priority)
     VALUES ($1, $2, $3, $4::cidr[], $5, $6, $7, $8) RETURNING ${RULE_COLUMNS}`,
    [rule.action, rule.roles, rule.applications, rule.clients, rule.localSocket, rule.databases, rule.message, rule.priority]);
  return rows[0]!;
}

/**
 * What a new rule will not do although it looks as if it would: roles that do not exist (yet)
 * or cannot log in, and denied roles with REPLICATION, whose physical replication connections
 * (pg_basebackup, a standby) never run the login check.
 */
export async function ruleWarnings(client: pg.Client, rule: NormalisedRule): Promise<string[]> {
  const warnings: string[] = [];
  const named = rule.roles.filter((r) => r !== '*');
  const { rows } = await client.query<{ name: string; group: boolean; exists: boolean; login: boolean | null; replication: boolean | null }>(
    `${SQL_TAG}SELECT n AS name, pg_catalog.left(n, 1) = '+' AS group, r.oid IS NOT NULL AS exists, r.rolcanlogin AS login, r.rolreplication AS replication
       FROM pg_catalog.unnest($1::text[]) AS n
       LEFT JOIN pg_catalog.pg_roles r ON r.rolname = CASE WHEN pg_catalog.left(n, 1) = '+' THEN pg_catalog.substr(n, 2) ELSE n END`, [named]);
  for (const row of rows) {
    if (!row.exists) warnings.push(`role "${row.name.replace(/^\+/, '')}" does not exist (yet): the rule applies to it only once someone creates it`);
    else if (!row.group && !row.login) warnings.push(`role "${row.name}" is NOLOGIN: nobody logs in as it, so this rule never applies (for its members, write --role '+${row.name}')`);
  }
  if (rule.action === 'deny') {
    const { rows: replicators } = await client.query<{ name: string }>(
      `${SQL_TAG}SELECT r.rolname AS name FROM pg_catalog.pg_roles r
        WHERE r.rolreplication AND NOT r.rolsuper AND r.rolcanlogin
          AND ('*' = ANY ($1::text[]) OR r.rolname = ANY ($1::text[])
               OR EXISTS (SELECT 1 FROM pg_catalog.unnest($1::text[]) g JOIN pg_catalog.pg_roles gr ON '+' || gr.rolname = g
                           WHERE pg_catalog.pg_has_role(r.oid, gr.oid, 'MEMBER')))
        ORDER BY 1`, [rule.roles]);
    if (replicators.length > 0) {
      warnings.push(`role${replicators.length > 1 ? 's' : ''} ${replicators.map((r) => `"${r.name}"`).join(', ')} ha${replicators.length > 1 ? 've' : 's'} REPLICATION: `
        + 'a physical replication connection (pg_basebackup, a standby) never runs the login check; only `pgwarden guard watch` ends it, after it has started. '
        + 'Control replication in pg_hba.conf (its `replication` database entries); see docs/guard.md, "Replication connections"');
    }
  }
  return warnings;
}

export async function listRules(client: pg.Client): Promise<StoredRule[]> {
  const { rows } = await client.query<StoredRule>(`${SQL_TAG}SELECT ${RULE_COLUMNS} FROM pgwarden.guard_rules ORDER BY priority, id`);
  return rows;
}

export async function removeRule(client: pg.Client, id: number): Promise<StoredRule> {
  const { rows } = await client.query<StoredRule>(`${SQL_TAG}DELETE FROM pgwarden.guard_rules WHERE id = $1 RETURNING ${RULE_COLUMNS}`, [id]);
  if (rows.length === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `there is no guard rule with id ${id}`);
  return rows[0]!;
}
