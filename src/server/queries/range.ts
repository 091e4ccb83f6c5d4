// The time range of a page or API call: `from` and `to` as ISO-8601 times or durations back
// from now (15m, 24h, 7d), and the bucket width its charts use.
import { PgwardenError } from '../../core/errors.ts';

export interface TimeRange {
  from: Date;
  to: Date;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;

/** The times a range may reach: PostgreSQL's timestamptz holds far more, but nothing pgwarden stores is outside these. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);

/**
 * A time: an ISO-8601 timestamp (UTC unless it carries an offset, from a datetime-local field too:
 * 2026-11-01T08:00), or a duration back from now. Anything before 1970 or after 9999 (9999999999d)
 * is refused, never sent to PostgreSQL as an invalid date.
 */
export function parseTime(name: string, text: string, now: Date): Date {
  const trimmed = text.trim();
  const relative = /^(\d{1,12})\s*([smhdw])$/.exec(trimmed);
  let date: Date | null = null;
  // beyond what a Date holds (9999999999d) is simply before 1970
  if (relative) date = new Date(Math.max(EARLIEST - 1, now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]));
  else if (ISO.test(trimmed)) {
    // A time without an offset is UTC, as every time on the dashboard is.
    const withZone = /[T ]\d{2}:\d{2}/.test(trimmed) && !/(Z|[+-]\d{2}(:?\d{2})?)$/.test(trimmed) ? `${trimmed}Z` : trimmed;
    date = new Date(withZone.replace(' ', 'T'));
  }
  if (date && !Number.isNaN(date.getTime())) {
    if (date.getTime() >= EARLIEST && date.getTime() <= LATEST) return date;
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${name} "${text.slice(0, 40)}" is ${date.getTime() < EARLIEST ? 'before 1970' : 'after the year 9999'}: give a time from 1970 on (2026-11-01T08:00Z) or a shorter duration (15m, 24h, 7d)`);
  }
  throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${name} "${text.slice(0, 40)}" is not a time: give an ISO-8601 time (2026-11-01T08:00Z) or a duration back from now (15m, 24h, 7d)`);
}

export function parseRange(query: Record<string, unknown>, now = new Date(), defaultFrom = '24h'): TimeRange {
  const text = (name: string) => (typeof query[name] === 'string' && query[name] !== '' ? query[name] : undefined);
  const from = parseTime('from', text('from') ?? defaultFrom, now);
  const toText = text('to');
  const to = toText ? parseTime('to', toText, now) : now;
  if (from.getTime() >= to.getTime()) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `from (${from.toISOString()}) must be before to (${to.toISOString()})`);
  }
  return { from, to };
}

/** Chart buckets: live 5-minute ones up to 6 hours, else whole hours from the hourly counts, about 24 to 72 bars. */
export function bucketFor(range: TimeRange): { ms: number; live: boolean } {
  const span = range.to.getTime() - range.from.getTime();
  if (span <= 6 * UNIT_MS.h) return { ms: Math.max(UNIT_MS.m, Math.ceil(span / 72 / UNIT_MS.m) * UNIT_MS.m), live: true };
  const hours = Math.max(1, Math.ceil(span / 72 / UNIT_MS.h));
  const nice = [1, 2, 3, 4, 6, 12, 24, 48, 168].find((h) => h >= hours) ?? hours;
  return { ms: nice * UNIT_MS.h, live: false };
}
