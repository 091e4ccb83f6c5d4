// Queries for `pgwarden report audit|sessions|failed-logins|top` over the repository.
// Every filter is a bind parameter.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { notOwnSql } from './own.ts';

export interface ReportFilter {
  since?: Date;
  users?: string[];
  classes?: string[];
  limit: number;
  /** show pgwarden's own rows (its roles and their logins: own.ts); hidden by default */
  includeOwn?: boolean;
}

function where(filter: ReportFilter, params: unknown[], columns: Columns): string {
  const clauses: string[] = [];
  if (columns.own && !filter.includeOwn) clauses.push(columns.own);
  if (filter.since) {
    params.push(filter.since);
    clauses.push(`${columns.ts} >= $${params.length}`);
  }
  if (filter.users?.length) {
    params.push(filter.users);
    clauses.push(`${columns.user} = ANY($${params.length}::text[])`);
  }
  if (filter.classes?.length && columns.class) {
    params.push(filter.classes.map((c) => c.toUpperCase()));
    clauses.push(`${columns.class} = ANY($${params.length}::text[])`);
  }
  return clauses.length ? ' AND ' + clauses.join(' AND ') : '';
}

type Columns = { ts: string; user: string; class?: string; own?: string };
// a session that never logged in (a failed login) only claims its user: never hidden
const AUDIT_COLUMNS: Columns = { ts: 'e.ts', user: 'COALESCE(e.user_name, s.user_name)', class: 'e.class', own: notOwnSql('COALESCE(e.user_name, s.user_name)', 'e.server') };
const SESSION_COLUMNS: Columns = { ts: 'COALESCE(s.started_at, s.authorized_at, s.ended_at)', user: 's.user_name',
  own: `(s.authorized_at IS NULL OR ${notOwnSql('s.user_name', 's.server')})` };
const TOP_COLUMNS: Columns = { ts: 'ts', user: 'user_name', class: 'class', own: notOwnSql('user_name', 'server') };

/**
 * How many of pgwarden's own rows a report hid: audit records (audit, top) or sessions matching
 * its filters, from `from` on (the oldest row it shows, so the count reads the stretch the report
 * covers through the time index rather than the whole repository). For a footer line.
 */
export async function ownHiddenCount(client: pg.ClientBase, report: 'audit' | 'sessions' | 'top', filter: ReportFilter, from?: Date): Promise<number> {
  const columns = report === 'audit' ? AUDIT_COLUMNS : report === 'sessions' ? SESSION_COLUMNS : TOP_COLUMNS;
  const params: unknown[] = [];
  let filters = where({ ...filter, includeOwn: true }, params, columns) + ` AND NOT ${columns.own!}`;
  if (from) {
    params.push(from);
    filters += ` AND ${columns.ts} >= $${params.length}`;
  }
  const sql = report === 'sessions'
    ? `SELECT pg_catalog.count(*)::int AS n FROM pgwarden_repo.sessions s WHERE true${filters}`
    : report === 'audit'
      ? `SELECT pg_catalog.count(*)::int AS n FROM pgwarden_repo.events e
          LEFT JOIN pgwarden_repo.sessions s ON s.server = COALESCE(e.server, '') AND s.session_id = e.session_id WHERE e.kind = 'audit'${filters}`
      : `SELECT pg_catalog.count(*)::int AS n FROM pgwarden_repo.events WHERE kind = 'audit'${filters}`;
  const { rows } = await client.query<{ n: number }>(SQL_TAG + sql, params);
  return rows[0]!.n;
}

export interface AuditRow {
  ts: Date; server: string | null; session_id: string | null; user_name: string | null; database_name: string | null;
  application: string | null; client_addr: string | null; session_start: Date | null;
  audit_type: string; statement_id: string; substatement_id: string; class: string; command: string;
  object_type: string | null; object_name: string | null; statement: string | null; parameters: (string | null)[] | null; rows: string | null;
}

/** Audit records, each with the login of its session (user, application, client, start). */
export async function auditReport(client: pg.ClientBase, filter: ReportFilter): Promise<AuditRow[]> {
  const params: unknown[] = [];
  const filters = where(filter, params, AUDIT_COLUMNS);
  params.push(filter.limit);
  // The newest `limit` records, listed oldest first: a DBA checking the last hour sees the last hour.
  const { rows } = await client.query<AuditRow & { source_input: string; source_position: string }>(`${SQL_TAG}SELECT * FROM (SELECT e.ts, e.source_input, e.source_position, e.server, e.session_id,
      COALESCE(e.user_name, s.user_name) AS user_name, COALESCE(e.database_name, s.database_name) AS database_name,
      COALESCE(s.application, e.application) AS application, COALESCE(s.client_addr, e.client_addr) AS client_addr,
      COALESCE(s.started_at, s.authorized_at) AS session_start,
      e.audit_type, e.statement_id, e.substatement_id, e.class, e.command, e.object_type, e.object_name, e.statement, e.parameters, e.rows
    FROM pgwarden_repo.events e
    LEFT JOIN pgwarden_repo.sessions s ON s.server = COALESCE(e.server, '') AND s.session_id = e.session_id
    WHERE e.kind = 'audit'${filters}
    ORDER BY e.ts DESC, e.source_input DESC, e.source_position DESC LIMIT $${params.length}) newest
    ORDER BY ts, source_input, source_position`, params);
  return rows.map(({ source_input: _input, source_position: _position, ...row }) => row);
}

export interface SessionRow {
  server: string; session_id: string; user_name: string | null; database_name: string | null; application: string | null;
  client_addr: string | null; started_at: Date | null; authorized_at: Date | null; ended_at: Date | null;
  duration_ms: number | null; statements: string;
}

export async function sessionsReport(client: pg.ClientBase, filter: ReportFilter): Promise<SessionRow[]> {
  const params: unknown[] = [];
  const filters = where(filter, params, SESSION_COLUMNS);
  params.push(filter.limit);
  const { rows } = await client.query<SessionRow>(`${SQL_TAG}SELECT * FROM (SELECT s.server, s.session_id, s.user_name, s.database_name,
      s.application, s.client_addr, s.started_at, s.authorized_at, s.ended_at, s.duration_ms,
      COALESCE((SELECT a.statements FROM pgwarden_repo.session_activity a WHERE a.server = s.server AND a.session_id = s.session_id), 0) AS statements
    FROM pgwarden_repo.sessions s WHERE true${filters}
    ORDER BY COALESCE(s.started_at, s.authorized_at, s.ended_at) DESC, s.session_id DESC LIMIT $${params.length}) newest
    ORDER BY COALESCE(started_at, authorized_at, ended_at), session_id`, params);
  return rows;
}

export interface FailedLoginRow {
  server: string | null; user_name: string | null; database_name: string | null; client_addr: string | null;
  /** `pgbouncer` for failures pgBouncer refused itself: apart from the server's own, which name the pooler's address as the client. */
  pooler: string | null;
  failures: string; first_at: Date; last_at: Date; last_message: string | null;
}

export async function failedLoginsReport(client: pg.ClientBase, filter: ReportFilter): Promise<FailedLoginRow[]> {
  const params: unknown[] = [];
  const filters = where(filter, params, { ts: 'ts', user: 'user_name' });
  params.push(filter.limit);
  const { rows } = await client.query<FailedLoginRow>(`${SQL_TAG}SELECT server, user_name, database_name, client_addr, pooler,
      pg_catalog.count(*) AS failures, min(ts) AS first_at, max(ts) AS last_at,
      (pg_catalog.array_agg(message ORDER BY ts DESC))[1] AS last_message
    FROM pgwarden_repo.events WHERE kind = 'auth_failed'${filters}
    GROUP BY server, user_name, database_name, client_addr, pooler
    ORDER BY failures DESC, last_at DESC LIMIT $${params.length}`, params);
  return rows;
}

export interface TopRow {
  user_name: string | null; class: string; command: string; object_name: string | null; statements: string; last_at: Date;
}

/** The busiest (user, class, command, object) of the audit records. */
export async function topReport(client: pg.ClientBase, filter: ReportFilter): Promise<TopRow[]> {
  const params: unknown[] = [];
  const filters = where(filter, params, TOP_COLUMNS);
  params.push(filter.limit);
  const { rows } = await client.query<TopRow>(`${SQL_TAG}SELECT user_name, class, command, object_name,
      pg_catalog.count(*) AS statements, max(ts) AS last_at
    FROM pgwarden_repo.events WHERE kind = 'audit'${filters}
    GROUP BY user_name, class, command, object_name
    ORDER BY statements DESC, user_name, class, command, object_name LIMIT $${params.length}`, params);
  return rows;
}
