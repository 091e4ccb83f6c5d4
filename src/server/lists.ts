// The paged lists of the dashboard, each defined once: its filters, its query, its columns. The
// JSON API, the CSV/JSON export and the HTML pages all use these definitions: a page shows the
// columns in the same order as the export, each under its name unless `page` says otherwise.
import { PgwardenError } from '../core/errors.ts';
import { accessLog, type AccessRow } from './queries/access.ts';
import { incidentList, validateIncidentFilter, type IncidentRow } from './queries/incidents.ts';
import { auditSearch, ddlTimeline, refusals, validateAuditFilter, type AuditRow, type DdlRow, type PageRequest, type RefusalRow } from './queries/events.ts';
import type { Page } from './queries/paging.ts';
import { sessionList, type SessionRow } from './queries/sessions.ts';
import type { Queryable, Role } from './users.ts';
import { html, query } from './ui/html.ts';
import { sessionLink, statementText } from './ui/parts.ts';

export type ColumnType = 'text' | 'number' | 'time' | 'list' | 'object';

/** How a list's page shows a column. */
export interface PageColumn<R> {
  /** the heading (default: the column's name) */
  label?: string;
  /** the cell's class (default by type: time, num); wrap: long text may break anywhere */
  className?: 'time' | 'num' | 'wrap' | 'statement' | 'record';
  /** what the cell holds when it is more than the value: a link, a note, a column folded in */
  cell?: (row: R) => unknown;
}

export interface ListColumn<R> {
  name: string;
  type: ColumnType;
  value: (row: R) => unknown;
  /** false: not a column of the page (folded into another's cell, or only in the API and exports) */
  page?: PageColumn<R> | false;
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
  first_ts: 'time', last_ts: 'time', state_at: 'time', count: 'number', since_state: 'number', tags: 'list', responses: 'object',
};
const col = <R>(name: string, value: (row: R) => unknown, page?: PageColumn<R> | false): ListColumn<R> => ({ name, type: TYPES[name] ?? 'text', value, page });
const TIME = { label: 'time' } as const;
const WRAP = { className: 'wrap' } as const;
/** Shown inside another column's cell on the page. */
const FOLDED = false;

export const AUDIT_LIST: ListDefinition<AuditRow> = {
  path: '/audit',
  title: 'Audit records',
  role: 'viewer',
  filters: ['server', 'user', 'database', 'class', 'command', 'object', 'text', 'own'],
  fetch: (db, query, request) => auditSearch(db, validateAuditFilter(pick(query, AUDIT_LIST.filters)), request),
  columns: [
    col('ts', (r) => r.ts, TIME), col('server', (r) => r.server, FOLDED),
    col('session_id', (r) => r.session_id, { label: 'session', ...WRAP, cell: (r) => html`${sessionLink(r.server, r.session_id)}<br><span class="note">${r.application} ${r.client_addr}</span>` }),
    col('user', (r) => r.user_name, WRAP), col('database', (r) => r.database_name, WRAP),
    col('application', (r) => r.application, FOLDED), col('client_addr', (r) => r.client_addr, FOLDED),
    col('audit_type', (r) => r.audit_type, { label: 'record', className: 'record', cell: (r) => html`${r.audit_type}<br><span class="note">${r.statement_id ?? '?'}.${r.substatement_id ?? '?'}</span>` }),
    col('statement_id', (r) => r.statement_id, FOLDED), col('substatement_id', (r) => r.substatement_id, FOLDED),
    col('class', (r) => r.class), col('command', (r) => r.command), col('object_type', (r) => r.object_type, FOLDED),
    col('object_name', (r) => r.object_name, { label: 'object' }),
    col('statement', (r) => r.statement, { className: 'statement', cell: (r) => html`${statementText(r.statement)}${r.parameters?.length ? html`<br><span class="note">parameters: ${r.parameters.join(', ')}</span>` : ''}` }),
    col('parameters', (r) => r.parameters, FOLDED), col('rows', (r) => r.rows),
  ],
};

export const DDL_LIST: ListDefinition<DdlRow> = {
  path: '/ddl',
  title: 'Schema changes',
  role: 'viewer',
  filters: ['server', 'user', 'database', 'command', 'object', 'own'],
  fetch: (db, query, request) => ddlTimeline(db, pick(query, DDL_LIST.filters), request),
  columns: [
    col('ts', (r) => r.ts, TIME), col('server', (r) => r.server, { label: 'server / database', cell: (r) => `${r.server ?? ''} / ${r.database_name ?? ''}` }),
    col('database', (r) => r.database_name, FOLDED),
    col('user', (r) => r.user_name, { ...WRAP, cell: (r) => html`${r.user_name}${r.current_user && r.current_user !== r.user_name ? html` <span class="note">as ${r.current_user}</span>` : ''}` }),
    col('current_user', (r) => r.current_user, FOLDED), col('application', (r) => r.application, FOLDED),
    col('client_addr', (r) => r.client_addr, { label: 'from', ...WRAP, cell: (r) => html`${r.client_addr} <span class="note">${r.application}</span>` }),
    col('command_tag', (r) => r.command_tag, { label: 'command' }), col('object_type', (r) => r.object_type, FOLDED),
    col('object_identity', (r) => r.object_identity, { label: 'object', ...WRAP, cell: (r) => `${r.object_type ?? ''} ${r.object_identity ?? ''}` }),
    col('statement', (r) => r.statement, { className: 'statement', cell: (r) => statementText(r.statement) }),
    col('change_ticket', (r) => r.change_ticket, { label: 'ticket' }), col('trigger_event', (r) => r.trigger_event, false),
  ],
};

export const REFUSAL_LIST: ListDefinition<RefusalRow> = {
  path: '/connections/refused',
  title: 'Refused connections and failed logins',
  role: 'viewer',
  filters: ['kind', 'server', 'user', 'application', 'client'],
  fetch: (db, query, request) => refusals(db, pick(query, REFUSAL_LIST.filters), request),
  columns: [
    col('ts', (r) => r.ts, TIME), col('kind', (r) => r.kind), col('server', (r) => r.server), col('user', (r) => r.user_name, WRAP),
    col('database', (r) => r.database_name, WRAP), col('application', (r) => r.application, WRAP),
    col('client_addr', (r) => r.client_addr, { label: 'client', ...WRAP }), col('sqlstate', (r) => r.sqlstate, false),
    col('message', (r) => r.message, { label: 'why', ...WRAP, cell: (r) => r.reason ?? r.message }), col('reason', (r) => r.reason, FOLDED),
  ],
};

export const SESSION_LIST: ListDefinition<SessionRow> = {
  path: '/sessions',
  title: 'Sessions',
  role: 'viewer',
  filters: ['server', 'user', 'database', 'application', 'client', 'own'],
  fetch: (db, query, request) => sessionList(db, pick(query, SESSION_LIST.filters), request),
  columns: [
    col('server', (r) => r.server), col('session_id', (r) => r.session_id, { label: 'session', cell: (r) => sessionLink(r.server, r.session_id) }),
    col('user', (r) => r.user_name, WRAP), col('database', (r) => r.database_name, WRAP), col('application', (r) => r.application, WRAP),
    col('client_addr', (r) => r.client_addr, { label: 'client', ...WRAP }),
    col('started_at', (r) => r.started_at ?? r.authorized_at, { label: 'started' }), col('ended_at', (r) => r.ended_at, { label: 'ended' }),
    col('duration_ms', (r) => r.duration_ms, false),
    col('statements', (r) => r.statements, {
      label: 'audited statements',
      cell: (r) => (r.statements > 0 ? html`<a href="/session${query({ server: r.server, id: r.session_id })}">${r.statements}</a>` : 0),
    }),
  ],
};

export const ACCESS_LIST: ListDefinition<AccessRow> = {
  path: '/admin/access',
  title: 'Dashboard access log',
  role: 'admin',
  filters: ['user', 'route'],
  fetch: (db, query, request) => accessLog(db, pick(query, ACCESS_LIST.filters), request),
  columns: [
    col('ts', (r) => r.ts, TIME), col('user', (r) => r.user_name, WRAP), col('auth', (r) => r.auth, { label: 'how' }),
    col('client_addr', (r) => r.client_addr, { label: 'from', ...WRAP }),
    col('method', (r) => r.method, { label: 'request', ...WRAP, cell: (r) => `${r.method} ${r.route}` }), col('route', (r) => r.route, FOLDED),
    col('params', (r) => r.params, { label: 'parameters', ...WRAP, cell: (r) => html`<code>${JSON.stringify(r.params)}</code>` }),
    col('status', (r) => r.status), col('rows', (r) => r.rows), col('duration_ms', (r) => r.duration_ms, false),
  ],
};

/** The detection engine's incidents (docs/detect.md), newest last event first. */
export const INCIDENT_LIST: ListDefinition<IncidentRow> = {
  path: '/incidents',
  title: 'Incidents',
  role: 'viewer',
  filters: ['rule', 'severity', 'state', 'server'],
  fetch: (db, query, request) => incidentList(db, validateIncidentFilter(pick(query, INCIDENT_LIST.filters)), request),
  columns: [
    col('last_ts', (r) => r.last_ts, { label: 'last' }), col('first_ts', (r) => r.first_ts, { label: 'first' }),
    col('id', (r) => r.id, FOLDED),
    col('rule', (r) => r.rule, { cell: (r) => html`<a href="/incident${query({ id: r.id })}">${r.rule}</a>` }),
    col('severity', (r) => r.severity, { cell: (r) => html`<span class="severity-${r.severity}">${r.severity}</span>` }),
    col('state', (r) => r.state, { cell: (r) => html`<span class="state-${r.state}">${r.state}</span>${r.state_by ? html`<br><span class="note">${r.state_by}</span>` : ''}${r.since_state > 0 ? html`<br><span class="grew">+${r.since_state} since</span>` : ''}` }),
    col('state_by', (r) => r.state_by, FOLDED), col('state_at', (r) => r.state_at, FOLDED), col('since_state', (r) => r.since_state, FOLDED),
    col('count', (r) => r.count), col('server', (r) => r.server),
    col('user', (r) => r.user_name, WRAP), col('database', (r) => r.database_name, FOLDED),
    col('client_addr', (r) => r.client_addr, { label: 'client', ...WRAP }), col('application', (r) => r.application, FOLDED),
    col('summary', (r) => r.summary, WRAP), col('tags', (r) => r.tags, FOLDED), col('detect_state', (r) => r.detect_state, FOLDED),
  ],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous registry; each entry is typed where it is defined
export const LISTS: ListDefinition<any>[] = [AUDIT_LIST, DDL_LIST, REFUSAL_LIST, SESSION_LIST, ACCESS_LIST, INCIDENT_LIST];
