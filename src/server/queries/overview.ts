// The overview: events per kind over time, totals, and the state of the checks. Over more than
// a few hours it reads the hourly counts (pgwarden_repo.event_counts) rather than the events.
import { SQL_TAG } from '../../core/db.ts';
import type { Queryable } from '../users.ts';
import { bucketFor, type TimeRange } from './range.ts';

export interface SeriesPoint { t: string; kind: string; events: number }

export interface Overview {
  from: string;
  to: string;
  bucket_seconds: number;
  series: SeriesPoint[];
  totals: Record<string, number>;
  checks: { server: string; level: string; checks: number }[];
}

/** Events per kind per bucket; `kinds` limits it (default: all). */
export async function eventSeries(db: Queryable, range: TimeRange, kinds?: string[]): Promise<{ bucketMs: number; series: SeriesPoint[] }> {
  const bucket = bucketFor(range);
  const params: unknown[] = [`${bucket.ms / 1000} seconds`, range.from, range.to, kinds ?? null];
  // Buckets line up with whole hours (UTC) so the same bar means the same hours on every page.
  const sql = bucket.live
    ? `${SQL_TAG}SELECT pg_catalog.date_bin($1::interval, ts, '2000-01-01T00:00Z') AS t, kind, pg_catalog.count(*)::float8 AS events
         FROM pgwarden_repo.events WHERE ts >= $2 AND ts < $3 AND ($4::text[] IS NULL OR kind = ANY($4::text[]))
        GROUP BY 1, 2 ORDER BY 1, 2`
    : `${SQL_TAG}SELECT pg_catalog.date_bin($1::interval, hour, '2000-01-01T00:00Z') AS t, kind, pg_catalog.sum(events)::float8 AS events
         FROM pgwarden_repo.event_counts
        WHERE hour >= pg_catalog.date_trunc('hour', $2::timestamptz, 'UTC') AND hour < $3 AND ($4::text[] IS NULL OR kind = ANY($4::text[]))
        GROUP BY 1, 2 ORDER BY 1, 2`;
  const { rows } = await db.query<{ t: Date; kind: string; events: number }>(sql, params);
  return { bucketMs: bucket.ms, series: rows.map((r) => ({ t: r.t.toISOString(), kind: r.kind, events: r.events })) };
}

export async function overview(db: Queryable, range: TimeRange): Promise<Overview> {
  const { bucketMs, series } = await eventSeries(db, range);
  const totals: Record<string, number> = {};
  for (const point of series) totals[point.kind] = (totals[point.kind] ?? 0) + point.events;
  const { rows: checks } = await db.query<{ server: string; level: string; checks: number }>(
    `${SQL_TAG}SELECT server, level, pg_catalog.count(*)::int AS checks FROM pgwarden_repo.check_results GROUP BY 1, 2 ORDER BY 1, 2`);
  return { from: range.from.toISOString(), to: range.to.toISOString(), bucket_seconds: bucketMs / 1000, series, totals, checks };
}
