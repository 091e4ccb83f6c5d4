// `pgwarden report connections`: the recorded attempts, newest last.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';

export interface AttemptRow {
  ts: Date;
  database: string;
  user: string;
  application: string;
  client_addr: string;
  decision: 'allow' | 'deny';
  rule_id: number | null;
  message: string | null;
  via: 'login' | 'watch';
}

const SECONDS_PER_UNIT = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as const;

/** `90s`, `15m`, `1h`, `2d`, `1w`, or an ISO-8601 timestamp. Returns the start time. */
export function parseSince(text: string, now = new Date()): Date {
  const relative = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (relative) {
    const seconds = SECONDS_PER_UNIT[relative[2] as keyof typeof SECONDS_PER_UNIT] * Number(relative[1]);
    return new Date(now.getTime() - seconds * 1000);
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}(:?\d{2})?)?)?$/.test(text.trim())) {
    const date = new Date(text.trim());
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--since "${text}" is not a duration (90s, 15m, 1h, 2d, 1w) or an ISO-8601 time such as 2026-11-01T08:00:00Z`);
}

export interface AttemptFilter {
  since: Date;
  deniedOnly: boolean;
  /** Only these roles (none: every role). */
  users?: string[];
  /** The newest this many, still listed oldest first. */
  limit?: number;
}

export async function connectionAttempts(client: pg.Client, options: AttemptFilter): Promise<AttemptRow[]> {
  const { rows } = await client.query<AttemptRow & { id: string; rule_id: string | null }>(
    `${SQL_TAG}SELECT * FROM (
       SELECT id, ts, database::text, user_name::text AS user, application, client_addr, decision, rule_id, message, via
         FROM pgwarden.connection_attempts
        WHERE ts >= $1 AND ($2 = false OR decision = 'deny') AND ($3::text[] IS NULL OR user_name = ANY ($3))
        ORDER BY ts DESC, id DESC
        LIMIT $4) newest
      ORDER BY ts, id`,
    [options.since, options.deniedOnly, options.users?.length ? options.users : null, options.limit ?? null]);
  return rows.map(({ id: _id, ...row }) => ({ ...row, rule_id: row.rule_id === null ? null : Number(row.rule_id) }));
}
