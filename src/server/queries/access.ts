// The dashboard's own audit trail: who looked at what, from where (pgwarden_repo.dashboard_access).
import { SQL_TAG } from '../../core/db.ts';
import type { Queryable } from '../users.ts';
import { cursorTime, scanBackwards, type Page } from './paging.ts';
import type { PageRequest } from './events.ts';

export interface AccessEntry {
  user: string | null;
  /** password, session, token:<name> or none */
  auth: string;
  clientAddr: string;
  method: string;
  route: string;
  params: Record<string, unknown>;
  status: number;
  rows: number | null;
  durationMs: number;
}

/** Text the repository can store whatever a client sent: NUL and lone surrogates as U+FFFD, at most `max` characters. */
function storable(text: string, max = 2000): string {
  const clean = text.replaceAll('\u0000', '\uFFFD').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function storableValue(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.slice(0, 100).map(storableValue);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).slice(0, 100).map(([k, v]) => [storable(k, 200), storableValue(v)]));
  return value;
}

/** Records one request. Whatever it carried (a NUL byte, a lone surrogate, a long value), the row is written. */
export async function recordAccess(db: Queryable, entry: AccessEntry): Promise<void> {
  await db.query(`${SQL_TAG}INSERT INTO pgwarden_repo.dashboard_access (user_name, auth, client_addr, method, route, params, status, rows, duration_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
  [entry.user === null ? null : storable(entry.user, 200), storable(entry.auth, 200), storable(entry.clientAddr, 100), storable(entry.method, 20),
    storable(entry.route, 300), JSON.stringify(storableValue(entry.params)), entry.status, entry.rows, entry.durationMs]);
}

export interface AccessRow {
  ts: Date; user_name: string | null; auth: string; client_addr: string | null; method: string; route: string;
  params: Record<string, unknown>; status: number; rows: number | null; duration_ms: number | null;
}

export function accessLog(db: Queryable, filter: { user?: string; route?: string }, request: PageRequest): Promise<Page<AccessRow>> {
  const params: unknown[] = [];
  let where = '';
  if (filter.user) where += ` AND user_name = $${params.push(filter.user)}`;
  if (filter.route) where += ` AND route = $${params.push(filter.route)}`;
  return scanBackwards<AccessRow>(db, {
    select: `${SQL_TAG}SELECT ts, user_name, auth, client_addr, method, route, params, status, rows, duration_ms,
        ${cursorTime('ts')} AS _ts, id::text AS _k0
      FROM pgwarden_repo.dashboard_access WHERE true${where}`,
    params,
    time: 'ts',
    keys: [['id', 'bigint']],
  }, { from: request.range.from, to: request.range.to, cursor: request.cursor, limit: request.limit, budgetMs: request.budgetMs });
}
