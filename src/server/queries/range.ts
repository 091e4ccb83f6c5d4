// The time range of a page or API call: `from` and `to` as ISO-8601 times or durations back
// from now (15m, 24h, 7d), and the bucket width its charts use.
import { PgwardenError } from '../../core/errors.ts';

export interface TimeRange {
  from: Date;
  to: Date;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;

/** A time: an ISO-8601 timestamp (UTC unless it carries an offset), or a duration back from now. */
export function parseTime(name: string, text: string, now: Date): Date {
  const trimmed = text.trim();
  const relative = /^(\d+)\s*([smhdw])$/.exec(trimmed);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]);
  if (ISO.test(trimmed)) {
    // A time without an offset is UTC, as every time on the dashboard is.
    const withZone = /[T ]\d{2}:\d{2}/.test(trimmed) && !/(Z|[+-]\d{2}(:?\d{2})?)$/.test(trimmed) ? `${trimmed}Z` : trimmed;
    const date = new Date(withZone.replace(' ', 'T'));
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${name} "${text}" is not a time: give an ISO-8601 time (2026-11-01T08:00Z) or a duration back from now (15m, 24h, 7d)`);
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
