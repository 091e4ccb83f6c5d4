// Sessions: logins with what they did. The list pages through pgwarden_repo.sessions (newest
// first); one session shows its login and every event of it, in order.
import { SQL_TAG } from '../../core/db.ts';
import { PgwardenError } from '../../core/errors.ts';
import { notOwnSql, showsOwn } from '../../repository/own.ts';
import type { Queryable } from '../users.ts';
import { checkCursorKey, cursorTime, decodeCursor, encodeCursor, nextWindow, scanBackwards, type Page } from './paging.ts';
import type { PageRequest } from './events.ts';

export interface SessionFilter { server?: string; user?: string; database?: string; application?: string; client?: string; own?: string }

export interface SessionRow {
  server: string; session_id: string; user_name: string | null; database_name: string | null; application: string | null;
  client_addr: string | null; started_at: Date | null; authorized_at: Date | null; ended_at: Date | null; duration_ms: number | null;
  statements: number;
}

const BEGIN = 'COALESCE(s.started_at, s.authorized_at, s.ended_at)';

export function sessionList(db: Queryable, filter: SessionFilter, request: PageRequest): Promise<Page<SessionRow>> {
  const params: unknown[] = [];
  const clauses: string[] = [];
  const add = (column: string, value: string | undefined, operator = '=') => {
    if (!value) return;
    params.push(operator === 'ILIKE' ? `%${value.replace(/[\\%_]/g, (c) => '\\' + c)}%` : value);
    clauses.push(`${column} ${operator} $${params.length}`);
  };
  add('s.server', filter.server);
  add('s.user_name', filter.user);
  add('s.database_name', filter.database);
  add('s.application', filter.application, 'ILIKE');
  add('s.client_addr', filter.client);
  // pgwarden's own sessions (by role, never by application_name), unless asked for; a session that
  // never logged in only claims its user, and stays
  if (!showsOwn(filter.own)) clauses.push(`(s.authorized_at IS NULL OR ${notOwnSql('s.user_name', 's.server')})`);
  // The audited statements of each listed session, as the writer counted them (session_activity).
  return scanBackwards<SessionRow>(db, {
    select: `${SQL_TAG}SELECT s.server, s.session_id, s.user_name, s.database_name, s.application, s.client_addr, s.started_at,
        s.authorized_at, s.ended_at, s.duration_ms,
        COALESCE((SELECT a.statements FROM pgwarden_repo.session_activity a
          WHERE a.server = s.server AND a.session_id = s.session_id), 0)::float8 AS statements,
        ${cursorTime(BEGIN)} AS _ts, s.server AS _k0, s.session_id AS _k1
      FROM pgwarden_repo.sessions s WHERE ${BEGIN} IS NOT NULL${clauses.map((c) => ` AND ${c}`).join('')}`,
    params,
    time: BEGIN,
    keys: [['s.server', 'text'], ['s.session_id', 'text']],
  }, { from: request.range.from, to: request.range.to, cursor: request.cursor, limit: request.limit, budgetMs: request.budgetMs, firstWindowMs: 6 * 3_600_000 });
}

export interface SessionEventRow {
  ts: Date; kind: string; user_name: string | null; database_name: string | null; severity: string | null; sqlstate: string | null;
  message: string | null; class: string | null; command: string | null; object_name: string | null; statement: string | null;
  parameters: (string | null)[] | null; rows: number | null; duration_ms: number | null;
}

export interface SessionDetail {
  session: Omit<SessionRow, 'statements'>;
  events: SessionEventRow[];
  /** cursor of the next (later) events, null at the end */
  next: string | null;
  /** set when the budget ran out before the page filled: how far the search got (the next page goes on from there) */
  searchedTo: string | null;
}

/**
 * A session and its events, oldest first, `limit` at a time. The events have no index by session
 * (the writer's dearest, dropped in 0013): they are read by time, through the dedup key's index,
 * between the session's first and last event (session_activity), in windows that widen while the
 * page is not full (nextWindow, as the searches); a long session among many others can take more than `budgetMs` to page
 * through, and then the page returns what it found with a cursor that goes on from where the
 * search got (`budgetMs`: serve.search_budget_ms, as the searches).
 */
export async function sessionDetail(db: Queryable, server: string, sessionId: string, cursorText: string | undefined, limit: number,
  budgetMs: number): Promise<SessionDetail> {
  const started = performance.now();
  const cursor = decodeCursor(cursorText);
  if (cursor?.key) checkCursorKey(cursor.key, ['text', 'bigint']);
  const { rows: [found] } = await db.query<Omit<SessionRow, 'statements'> & { first_ts: Date | null; last_ts: Date | null }>(`${SQL_TAG}SELECT
      s.server, s.session_id, s.user_name, s.database_name, s.application, s.client_addr, s.started_at, s.authorized_at, s.ended_at,
      s.duration_ms, a.first_ts, a.last_ts
    FROM pgwarden_repo.sessions s LEFT JOIN pgwarden_repo.session_activity a ON a.server = s.server AND a.session_id = s.session_id
   WHERE s.server = $1 AND s.session_id = $2`, [server, sessionId]);
  if (!found) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no session ${sessionId} on server "${server}" in the repository`, { hint: 'Sessions come from connection and disconnection log lines (log_connections, log_disconnections).' });
  const { first_ts: first, last_ts: last, ...session } = found;
  const rows: (SessionEventRow & { _ts: string; _k0: string; _k1: string })[] = [];
  // [lower, upper): the session's first event to a millisecond after its last (session_activity
  // drops microseconds), and as far as its own login and end where those reach further (events a
  // writer of an older release stored while the repository was migrated are not in its activity)
  const begin = session.started_at ?? session.authorized_at;
  const lower = Math.min(first?.getTime() ?? Infinity, begin?.getTime() ?? Infinity);
  const upper = Math.max(last === null ? -Infinity : last.getTime() + 1, session.ended_at === null ? -Infinity : session.ended_at.getTime() + 1);
  let from = cursor ? Math.max(lower, Date.parse(cursor.ts)) : lower;
  let rowKey = cursor?.key ? cursor : null;
  // a cursor's width is one this server handed out, but not trusted beyond a day
  let window = Math.min(cursor?.w ?? 60_000, 86_400_000);
  while (from < upper) {
    const to = Math.min(upper, from + window);
    const params: unknown[] = [sessionId, begin, session.ended_at, new Date(from), new Date(to)];
    // events.server is NULL (or '') where sessions.server is '' (a log read without --server).
    let sql = `${SQL_TAG}SELECT e.ts, e.kind, e.user_name, e.database_name, e.severity, e.sqlstate, e.message, e.class, e.command,
        e.object_name, e.statement, e.parameters, e.rows::float8 AS rows, e.duration_ms,
        ${cursorTime('e.ts')} AS _ts, e.source_input AS _k0, e.source_position::text AS _k1
      FROM pgwarden_repo.events e
     WHERE e.session_id = $1 AND e.ts >= COALESCE($2::timestamptz, '-infinity') AND e.ts <= COALESCE($3::timestamptz, 'infinity')
       AND e.ts >= $4 AND e.ts < $5 AND ${server === '' ? "(e.server IS NULL OR e.server = '')" : `e.server = $${params.push(server)}`}`;
    if (rowKey) {
      sql += ` AND (e.ts, e.source_input, e.source_position) > ($${params.push(rowKey.ts)}::timestamptz, $${params.push(rowKey.key![0] ?? '')}::text, $${params.push(rowKey.key![1] ?? '0')}::bigint)`;
    }
    sql += ` ORDER BY e.ts, e.source_input, e.source_position LIMIT $${params.push(limit + 1 - rows.length)}`;
    const windowStarted = performance.now();
    rows.push(...(await db.query<SessionEventRow & { _ts: string; _k0: string; _k1: string }>(sql, params)).rows);
    if (rows.length > limit) break;
    const widened = nextWindow(window, to - from, performance.now() - windowStarted, budgetMs, performance.now() - started);
    from = to;
    rowKey = null;
    window = widened.window;
    if (widened.outOfTime) break;
  }
  const page = rows.slice(0, limit);
  let next: string | null = null;
  let searchedTo: string | null = null;
  if (rows.length > limit) {
    const last = page[page.length - 1]!;
    next = encodeCursor({ ts: last._ts, key: [last._k0, last._k1] });
  } else if (from < upper) {
    searchedTo = new Date(from).toISOString();
    next = encodeCursor({ ts: searchedTo, w: window });
  }
  return { session, events: page.map(({ _ts, _k0, _k1, ...row }) => row), next, searchedTo };
}
