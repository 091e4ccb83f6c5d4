// The paged lists of the dashboard, each defined once: its filters, its query, its columns. The
// JSON API, the CSV/JSON export and the HTML pages all use these definitions.
import { PgwardenError } from '../core/errors.ts';
import { accessLog, type AccessRow } from './queries/access.ts';
import { auditSearch, ddlTimeline, refusals, validateAuditFilter, type AuditRow, type DdlRow, type PageRequest, type RefusalRow } from './queries/events.ts';
import type { Page } from './queries/paging.ts';
import { sessionList, type SessionRow } from './queries/sessions.ts';
import type { Queryable, Role } from './users.ts';

export type ColumnType = 'text' | 'number' | 'time' | 'list' | 'object';

export interface ListColumn<R> {
  name: string;
  type: ColumnType;
  value: (row: R) => unknown;
}

export interface ListDefinition<R> {
  /** the API path below /api */
  path: string;
  title: string;
  role: Role;
  /** filter parameters besides from, to, limit, cursor */
  filters: readonly string[];
  fetch(db: Queryable, query: Record<string, string | undefined>, request: PageRequest): Promise<Page<R>>;
  columns: ListColumn<R>[];
}

function pick(query: Record<string, string | undefined>, names: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of names) {
    const value = query[name]?.trim();
    if (value) {
      if (value.length > 500) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${name} is longer than 500 characters`);
      out[name] = value;
    }
  }
  return out;
}

const TYPES: Record<string, ColumnType> = {
  ts: 'time', started_at: 'time', ended_at: 'time', statement_id: 'number', substatement_id: 'number', rows: 'number',
  duration_ms: 'number', statements: 'number', status: 'number', parameters: 'list', params: 'object',
};
const col = <R>(name: string, value: (row: R) => unknown): ListColumn<R> => ({ name, type: TYPES[name] ?? 'text', value });

export const AUDIT_LIST: ListDefinition<AuditRow> = {
  path: '/audit',
  title: 'Audit records',
  role: 'viewer',
  filters: ['server', 'user', 'database', 'class', 'command', 'object', 'text', 'own'],
  fetch: (db, query, request) => auditSearch(db, validateAuditFilter(pick(query, AUDIT_LIST.filters)), request),
  columns: [
    col('ts', (r) => r.ts), col('server', (r) => r.server), col('session_id', (r) => r.session_id), col('user', (r) => r.user_name),
    col('database', (r) => r.database_name), col('application', (r) => r.application), col('client_addr', (r) => r.client_addr),
    col('audit_type', (r) => r.audit_type), col('statement_id', (r) => r.statement_id), col('substatement_id', (r) => r.substatement_id),
    col('class', (r) => r.class), col('command', (r) => r.command), col('object_type', (r) => r.object_type),
    col('object_name', (r) => r.object_name), col('statement', (r) => r.statement), col('parameters', (r) => r.parameters), col('rows', (r) => r.rows),
  ],
};

export const DDL_LIST: ListDefinition<DdlRow> = {
  path: '/ddl',
  title: 'Schema changes',
  role: 'viewer',
  filters: ['server', 'user', 'database', 'command', 'object', 'own'],
  fetch: (db, query, request) => ddlTimeline(db, pick(query, DDL_LIST.filters), request),
  columns: [
    col('ts', (r) => r.ts), col('server', (r) => r.server), col('database', (r) => r.database_name), col('user', (r) => r.user_name),
    col('current_user', (r) => r.current_user), col('application', (r) => r.application), col('client_addr', (r) => r.client_addr),
    col('command_tag', (r) => r.command_tag), col('object_type', (r) => r.object_type), col('object_identity', (r) => r.object_identity),
    col('statement', (r) => r.statement), col('change_ticket', (r) => r.change_ticket), col('trigger_event', (r) => r.trigger_event),
  ],
};

export const REFUSAL_LIST: ListDefinition<RefusalRow> = {
  path: '/connections/refused',
  title: 'Refused connections and failed logins',
  role: 'viewer',
  filters: ['kind', 'server', 'user', 'application', 'client'],
  fetch: (db, query, request) => refusals(db, pick(query, REFUSAL_LIST.filters), request),
  columns: [
    col('ts', (r) => r.ts), col('kind', (r) => r.kind), col('server', (r) => r.server), col('user', (r) => r.user_name),
    col('database', (r) => r.database_name), col('application', (r) => r.application), col('client_addr', (r) => r.client_addr),
    col('sqlstate', (r) => r.sqlstate), col('message', (r) => r.message), col('reason', (r) => r.reason),
  ],
};

export const SESSION_LIST: ListDefinition<SessionRow> = {
  path: '/sessions',
  title: 'Sessions',
  role: 'viewer',
  filters: ['server', 'user', 'database', 'application', 'client', 'own'],
  fetch: (db, query, request) => sessionList(db, pick(query, SESSION_LIST.filters), request),
  columns: [
    col('server', (r) => r.server), col('session_id', (r) => r.session_id), col('user', (r) => r.user_name),
    col('database', (r) => r.database_name), col('application', (r) => r.application), col('client_addr', (r) => r.client_addr),
    col('started_at', (r) => r.started_at ?? r.authorized_at), col('ended_at', (r) => r.ended_at), col('duration_ms', (r) => r.duration_ms),
    col('statements', (r) => r.statements),
  ],
};

export const ACCESS_LIST: ListDefinition<AccessRow> = {
  path: '/admin/access',
  title: 'Dashboard access log',
  role: 'admin',
  filters: ['user', 'route'],
  fetch: (db, query, request) => accessLog(db, pick(query, ACCESS_LIST.filters), request),
  columns: [
    col('ts', (r) => r.ts), col('user', (r) => r.user_name), col('auth', (r) => r.auth), col('client_addr', (r) => r.client_addr),
    col('method', (r) => r.method), col('route', (r) => r.route), col('params', (r) => r.params),
    col('status', (r) => r.status), col('rows', (r) => r.rows), col('duration_ms', (r) => r.duration_ms),
  ],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous registry; each entry is typed where it is defined
export const LISTS: ListDefinition<any>[] = [AUDIT_LIST, DDL_LIST, REFUSAL_LIST, SESSION_LIST, ACCESS_LIST];
