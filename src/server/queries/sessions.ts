// Sessions: logins with what they did. The list pages through pgwarden_repo.sessions (newest
// first); one session shows its login and every event of it, in order.
import { SQL_TAG } from '../../core/db.ts';
import { PgwardenError } from '../../core/errors.ts';
import { notOwnSql, showsOwn } from '../../repository/own.ts';
import type { Queryable } from '../users.ts';
import { checkCursorKey, cursorTime, decodeCursor, encodeCursor, scanBackwards, type Page } from './paging.ts';
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
  // The audited statements of each listed session: an index lookup per row of the page.
  return scanBackwards<SessionRow>(db, {
    select: `${SQL_TAG}SELECT s.server, s.session_id, s.user_name, s.database_name, s.application, s.client_addr, s.started_at,
        s.authorized_at, s.ended_at, s.duration_ms,
        (SELECT pg_catalog.count(*) FROM pgwarden_repo.events e
          WHERE e.kind = 'audit' AND e.session_id = s.session_id AND COALESCE(e.server, '') = s.server
            AND e.ts >= ${BEGIN} AND e.ts <= COALESCE(s.ended_at, 'infinity'))::float8 AS statements,
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
}

/** A session and its events, oldest first, `limit` at a time. */
export async function sessionDetail(db: Queryable, server: string, sessionId: string, cursorText: string | undefined, limit: number): Promise<SessionDetail> {
  const cursor = decodeCursor(cursorText);
  if (cursor?.key) checkCursorKey(cursor.key, ['text', 'bigint']);
  const { rows: [session] } = await db.query<Omit<SessionRow, 'statements'>>(`${SQL_TAG}SELECT server, session_id, user_name, database_name,
      application, client_addr, started_at, authorized_at, ended_at, duration_ms
    FROM pgwarden_repo.sessions WHERE server = $1 AND session_id = $2`, [server, sessionId]);
  if (!session) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no session ${sessionId} on server "${server}" in the repository`, { hint: 'Sessions come from connection and disconnection log lines (log_connections, log_disconnections).' });
  const params: unknown[] = [sessionId, session.started_at ?? session.authorized_at, session.ended_at];
  // events.server is NULL where sessions.server is '' (a log read without --server).
  let sql = `${SQL_TAG}SELECT e.ts, e.kind, e.user_name, e.database_name, e.severity, e.sqlstate, e.message, e.class, e.command,
      e.object_name, e.statement, e.parameters, e.rows::float8 AS rows, e.duration_ms,
      ${cursorTime('e.ts')} AS _ts, e.source_input AS _k0, e.source_position::text AS _k1
    FROM pgwarden_repo.events e
   WHERE e.session_id = $1 AND e.ts >= COALESCE($2::timestamptz, '-infinity') AND e.ts <= COALESCE($3::timestamptz, 'infinity')
     AND ${server === '' ? 'e.server IS NULL' : `e.server = $${params.push(server)}`}`;
  if (cursor?.key) {
    sql += ` AND (e.ts, e.source_input, e.source_position) > ($${params.push(cursor.ts)}::timestamptz, $${params.push(cursor.key[0] ?? '')}::text, $${params.push(cursor.key[1] ?? '0')}::bigint)`;
  }
  sql += ` ORDER BY e.ts, e.source_input, e.source_position LIMIT $${params.push(limit + 1)}`;
  const { rows } = await db.query<SessionEventRow & { _ts: string; _k0: string; _k1: string }>(sql, params);
  const last = rows.length > limit ? rows[limit - 1]! : null;
  return {
    session,
    events: rows.slice(0, limit).map(({ _ts, _k0, _k1, ...row }) => row),
    next: last ? encodeCursor({ ts: last._ts, key: [last._k0, last._k1] }) : null,
  };
}
