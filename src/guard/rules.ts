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
  created_at: Date;
  created_by: string;
}

const RULE_COLUMNS = `id::int AS id, priority, action, roles, applications,
  NULLIF(CASE WHEN local_socket THEN ARRAY['local'] ELSE '{}'::text[] END || COALESCE(clients::text[], '{}'), '{}') AS clients,
  databases, message, created_at, created_by`;

export async function addRule(client: pg.Client, rule: NormalisedRule): Promise<StoredRule> {
  // One statement: the rule and the recompiled guard land together or not at all.
  const { rows } = await client.query<StoredRule>(
    `${SQL_TAG}INSERT INTO pgwarden.guard_rules (action, roles, applications, clients, local_socket, databases, message, priority)
     VALUES ($1, $2, $3, $4::cidr[], $5, $6, $7, $8) RETURNING ${RULE_COLUMNS}`,
    [rule.action, rule.roles, rule.applications, rule.clients, rule.localSocket, rule.databases, rule.message, rule.priority]);
  return rows[0]!;
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
