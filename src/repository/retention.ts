// Retention: whole day partitions older than the cutoff are dropped (fast, no vacuum debt),
// with the sessions that ended before it and undated events ingested before it.
import type pg from 'pg';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';

/** "90d", "12h", "2w" in milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+)\s*(h|d|w)$/.exec(text.trim());
  const unit = { h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  if (!match || Number(match[1]) < 1) {
    // "1m" reads as a month to some and a minute to others: neither is taken.
    const hint = /^\d+\s*(m|mo|min|month|months|y)$/i.test(text.trim()) ? ' (months and minutes are not units here: write 30d, 365d or 1h)' : '';
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${flag} "${text}" is not a duration such as 12h, 90d or 2w${hint}`);
  }
  return Number(match[1]) * unit[match[2] as keyof typeof unit];
}

export interface PruneResult {
  cutoff: Date;
  /** partitions dropped (or that would be, with dryRun) */
  partitions: string[];
  sessions: number;
  undated: number;
}

/** Drops the day partitions that end at or before `cutoff` (UTC days). */
export async function prune(client: pg.Client, cutoff: Date, dryRun = false): Promise<PruneResult> {
  return inTransaction(client, async () => {
    const { rows } = await client.query<{ name: string }>(`${SQL_TAG}SELECT c.relname AS name
        FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'pgwarden_repo.events'::pg_catalog.regclass AND c.relname ~ '^events_[0-9]{8}$'
       ORDER BY c.relname`);
    // events_YYYYMMDD holds [day, day + 1): droppable when day + 1 <= cutoff.
    const partitions = rows.map((r) => r.name).filter((name) => {
      const day = Date.UTC(Number(name.slice(7, 11)), Number(name.slice(11, 13)) - 1, Number(name.slice(13, 15)));
      return day + 86_400_000 <= cutoff.getTime();
    });
    if (dryRun) return { cutoff, partitions, sessions: 0, undated: 0 };
    for (const name of partitions) await client.query(`${SQL_TAG}DROP TABLE pgwarden_repo.${client.escapeIdentifier(name)}`);
    // The hourly counts of the dashboard go with the days they counted (those wholly before the cutoff).
    await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.event_counts WHERE hour < pg_catalog.date_trunc('day', $1::timestamptz, 'UTC')`, [cutoff]);
    // A session's activity goes with its last event (all its events were in the partitions dropped).
    await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.session_activity WHERE last_ts < pg_catalog.date_trunc('day', $1::timestamptz, 'UTC')`, [cutoff]);
    const sessions = await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.sessions
      WHERE COALESCE(ended_at, authorized_at, started_at) < $1`, [cutoff]);
    const undated = await client.query(`${SQL_TAG}DELETE FROM pgwarden_repo.undated_events WHERE ingested_at < $1`, [cutoff]);
    return { cutoff, partitions, sessions: sessions.rowCount ?? 0, undated: undated.rowCount ?? 0 };
  });
}
