// Monitoring status per server: the latest result of every check (pgwarden_repo.check_results),
// which `pgwarden serve` keeps up to date when serve.monitor.servers names servers.
import type pg from 'pg';
import { SQL_TAG } from '../../core/db.ts';
import type { ServerResult } from '../../monitor/index.ts';
import type { Queryable } from '../users.ts';

export interface CheckState {
  check_name: string; category: string; level: string; summary: string; checked_at: Date; result: unknown;
}

export interface ServerStatus { server: string; level: string; checked_at: Date; checks: CheckState[] }

const ORDER: Record<string, number> = { skipped: 0, ok: 1, warning: 2, unknown: 3, critical: 4 };

export async function monitoringStatus(db: Queryable, server?: string): Promise<ServerStatus[]> {
  const { rows } = await db.query<CheckState & { server: string }>(`${SQL_TAG}SELECT server, check_name, category, level, summary, checked_at, result
      FROM pgwarden_repo.check_results WHERE $1::text IS NULL OR server = $1 ORDER BY server, check_name`, [server ?? null]);
  const servers = new Map<string, ServerStatus>();
  for (const { server: name, ...check } of rows) {
    let status = servers.get(name);
    if (!status) servers.set(name, status = { server: name, level: 'skipped', checked_at: check.checked_at, checks: [] });
    status.checks.push(check);
    if ((ORDER[check.level] ?? 0) > (ORDER[status.level] ?? 0)) status.level = check.level;
    if (check.checked_at > status.checked_at) status.checked_at = check.checked_at;
  }
  return [...servers.values()];
}

/** Replaces a server's stored results with a new run, in one transaction. */
export async function storeResults(client: pg.ClientBase, result: ServerResult, checkedAt: Date): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.check_results WHERE server = $1`, [result.server]);
    await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.check_results (server, check_name, category, level, summary, result, checked_at)
      SELECT $1, c->>'name', c->>'category', c->>'level', c->>'summary', c, $3 FROM pg_catalog.jsonb_array_elements($2::jsonb) c`,
    [result.server, JSON.stringify(result.checks), checkedAt]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
