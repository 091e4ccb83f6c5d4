// Connections: who logged in and who was turned away, by user, application and client.
// Logins come from the sessions table (one row per session, far fewer than events); refusals
// from the guard_deny and auth_failed events (a partial index on the rare kinds serves them).
import { SQL_TAG } from '../../core/db.ts';
import { notOwnSql } from '../../repository/own.ts';
import type { Queryable } from '../users.ts';
import { eventSeries, type SeriesPoint } from './overview.ts';
import type { TimeRange } from './range.ts';

export interface CountRow { value: string | null; authorized: number; refused: number; failed: number }

export interface ConnectionsSummary {
  from: string;
  to: string;
  bucket_seconds: number;
  series: SeriesPoint[];
  totals: { authorized: number; refused: number; failed: number };
  by_user: CountRow[];
  by_application: CountRow[];
  by_client: CountRow[];
}

const TOP = 15;

type Dimension = 'user' | 'application' | 'client';

/** Logins and refusals by user, application and client: one scan of each table (grouping sets). */
type Combination = { user_name: string | null; application: string | null; client_addr: string | null; n: number };

/** Logins per (user, application, client): one hash over the combinations, rolled up per dimension by the caller. */
async function loginCombinations(db: Queryable, range: TimeRange): Promise<Combination[]> {
  const { rows } = await db.query<Combination>(`${SQL_TAG}SELECT user_name, application, client_addr, pg_catalog.count(*)::float8 AS n
      FROM pgwarden_repo.sessions
     WHERE COALESCE(started_at, authorized_at, ended_at) >= $1 AND COALESCE(started_at, authorized_at, ended_at) < $2 AND authorized_at IS NOT NULL
       AND ${notOwnSql('user_name', 'server')}
     GROUP BY 1, 2, 3`, [range.from, range.to]);
  return rows;
}

const DIMENSION = `CASE WHEN GROUPING(user_name) = 0 THEN 'user' WHEN GROUPING(application) = 0 THEN 'application' ELSE 'client' END`;

/** Logins and refusals by user, application and client, and their totals: one scan of each table (grouping sets), merged here. */
async function breakdowns(db: Queryable, range: TimeRange): Promise<{ by: Record<Dimension, CountRow[]>; totals: ConnectionsSummary['totals'] }> {
  const params = [range.from, range.to];
  const [logins, turnedAway] = await Promise.all([
    loginCombinations(db, range),
    db.query<{ dimension: Dimension; value: string | null; refused: number; failed: number }>(`${SQL_TAG}SELECT ${DIMENSION} AS dimension,
        COALESCE(user_name, application, client_addr) AS value,
        pg_catalog.count(*) FILTER (WHERE kind = 'guard_deny')::float8 AS refused, pg_catalog.count(*) FILTER (WHERE kind = 'auth_failed')::float8 AS failed
      FROM pgwarden_repo.events WHERE kind IN ('guard_deny', 'auth_failed') AND ts >= $1 AND ts < $2
     GROUP BY GROUPING SETS ((user_name), (application), (client_addr))`, params),
  ]);
  const merged = new Map<string, CountRow & { dimension: Dimension }>();
  const entry = (dimension: Dimension, value: string | null) => {
    const key = `${dimension}\u0000${value ?? '\u0001'}`;
    let row = merged.get(key);
    if (!row) merged.set(key, row = { dimension, value, authorized: 0, refused: 0, failed: 0 });
    return row;
  };
  for (const r of logins) {
    entry('user', r.user_name).authorized += r.n;
    entry('application', r.application).authorized += r.n;
    entry('client', r.client_addr).authorized += r.n;
  }
  for (const r of turnedAway.rows) {
    const row = entry(r.dimension, r.value);
    row.refused += r.refused;
    row.failed += r.failed;
  }
  const result: Record<Dimension, CountRow[]> = { user: [], application: [], client: [] };
  const totals = { authorized: 0, refused: 0, failed: 0 };
  for (const { dimension, ...row } of merged.values()) {
    result[dimension].push(row);
    // Every login and refusal has exactly one user group (null included): the totals.
    if (dimension === 'user') {
      totals.authorized += row.authorized;
      totals.refused += row.refused;
      totals.failed += row.failed;
    }
  }
  for (const list of Object.values(result)) {
    list.sort((a, b) => (b.authorized + b.refused + b.failed) - (a.authorized + a.refused + a.failed) || String(a.value).localeCompare(String(b.value)));
    list.splice(TOP);
  }
  return { by: result, totals };
}

export async function connectionsSummary(db: Queryable, range: TimeRange): Promise<ConnectionsSummary> {
  const [{ bucketMs, series }, { by, totals }] = await Promise.all([
    eventSeries(db, range, ['connection_authorized', 'guard_deny', 'auth_failed']),
    breakdowns(db, range),
  ]);
  return {
    from: range.from.toISOString(), to: range.to.toISOString(), bucket_seconds: bucketMs / 1000, series, totals,
    by_user: by.user, by_application: by.application, by_client: by.client,
  };
}
