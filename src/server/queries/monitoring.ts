// Monitoring status per server: the latest result of every check (pgwarden_repo.check_results),
// which `pgwarden serve` keeps up to date when serve.monitor.servers names servers.
import type pg from 'pg';
import { SQL_TAG } from '../../core/db.ts';
import type { ServerResult } from '../../monitor/index.ts';
import { PgwardenError } from '../../core/errors.ts';
import type { Queryable } from '../users.ts';
import type { TimeRange } from './range.ts';

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

/** The value that decided a check's level: its highest row value, or the lowest when its threshold is a floor. */
export function headlineValue(check: ServerResult['checks'][number]): number | null {
  const values = check.rows.map((r) => r.value).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (values.length === 0) return null;
  return check.thresholds.direction === 'below' ? Math.min(...values) : Math.max(...values);
}

/**
 * Replaces a server's latest results with a new run and adds the run to the history, in one
 * transaction; history older than `historyDays` goes.
 */
export async function storeResults(client: pg.ClientBase, result: ServerResult, checkedAt: Date, historyDays = 30): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.check_results WHERE server = $1`, [result.server]);
    await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.check_results (server, check_name, category, level, summary, result, checked_at)
      SELECT $1, c->>'name', c->>'category', c->>'level', c->>'summary', c, $3 FROM pg_catalog.jsonb_array_elements($2::jsonb) c`,
    [result.server, JSON.stringify(result.checks), checkedAt]);
    const history = result.checks.map((c) => ({ name: c.name, level: c.level, summary: c.summary, value: headlineValue(c), duration_ms: c.duration_ms }));
    await client.query(`${SQL_TAG}INSERT INTO pgwarden_repo.check_history (server, check_name, checked_at, level, summary, value, duration_ms)
      SELECT $1, h->>'name', $3, h->>'level', h->>'summary', (h->>'value')::float8, (h->>'duration_ms')::float8
        FROM pg_catalog.jsonb_array_elements($2::jsonb) h
      ON CONFLICT (server, check_name, checked_at) DO NOTHING`, [result.server, JSON.stringify(history), checkedAt]);
    await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.check_history WHERE checked_at < $1::timestamptz - $2 * interval '1 day'`, [checkedAt, historyDays]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export interface HistoryRow { checked_at: Date; level: string; summary: string; value: number | null; duration_ms: number | null }

export interface CheckHistory {
  server: string;
  check_name: string;
  /** the latest result, with its rows (null when the check has no result in the repository) */
  latest: CheckState | null;
  /** every run in the range, newest first (at most `limit`) */
  runs: HistoryRow[];
  /** runs per level in the range */
  levels: Record<string, number>;
  /** true when there were more runs than listed */
  truncated: boolean;
}

/** One check of one server: its latest result and its history in the range. */
export async function checkHistory(db: Queryable, server: string, check: string, range: TimeRange, limit = 500): Promise<CheckHistory> {
  const [{ rows: latest }, { rows: runs }, { rows: levels }] = await Promise.all([
    db.query<CheckState>(`${SQL_TAG}SELECT check_name, category, level, summary, checked_at, result
      FROM pgwarden_repo.check_results WHERE server = $1 AND check_name = $2`, [server, check]),
    db.query<HistoryRow>(`${SQL_TAG}SELECT checked_at, level, summary, value, duration_ms FROM pgwarden_repo.check_history
      WHERE server = $1 AND check_name = $2 AND checked_at >= $3 AND checked_at < $4 ORDER BY checked_at DESC LIMIT $5`,
    [server, check, range.from, range.to, limit + 1]),
    db.query<{ level: string; runs: number }>(`${SQL_TAG}SELECT level, pg_catalog.count(*)::int AS runs FROM pgwarden_repo.check_history
      WHERE server = $1 AND check_name = $2 AND checked_at >= $3 AND checked_at < $4 GROUP BY level`, [server, check, range.from, range.to]),
  ]);
  if (!latest[0] && runs.length === 0) {
    throw new PgwardenError('PGW_ERR_NOT_FOUND', `no results of check "${check}" on server "${server}" in the repository`,
      { hint: 'pgwarden serve stores the results of the servers under serve.monitor.servers (docs/server.md).' });
  }
  return {
    server, check_name: check, latest: latest[0] ?? null, runs: runs.slice(0, limit),
    levels: Object.fromEntries(levels.map((l) => [l.level, l.runs])), truncated: runs.length > limit,
  };
}

export interface StripCell { server: string; check_name: string; t: Date; level: string; runs: number }

/** Each check's worst level per bucket of the range: the Monitoring page's history strips. */
export async function historyStrips(db: Queryable, range: TimeRange, bucketMs: number, server?: string): Promise<StripCell[]> {
  const { rows } = await db.query<{ server: string; check_name: string; t: Date; worst: number; runs: number }>(`${SQL_TAG}SELECT server, check_name,
      pg_catalog.date_bin($1::interval, checked_at, '2000-01-01T00:00Z') AS t, pg_catalog.count(*)::int AS runs,
      pg_catalog.max(CASE level WHEN 'critical' THEN 4 WHEN 'unknown' THEN 3 WHEN 'warning' THEN 2 WHEN 'ok' THEN 1 ELSE 0 END) AS worst
    FROM pgwarden_repo.check_history
   WHERE checked_at >= $2 AND checked_at < $3 AND ($4::text IS NULL OR server = $4)
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, [`${Math.round(bucketMs / 1000)} seconds`, range.from, range.to, server ?? null]);
  const names = ['skipped', 'ok', 'warning', 'unknown', 'critical'];
  return rows.map((r) => ({ server: r.server, check_name: r.check_name, t: r.t, level: names[r.worst] ?? 'skipped', runs: r.runs }));
}
