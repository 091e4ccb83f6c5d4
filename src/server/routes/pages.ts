// The dashboard's pages: server-rendered HTML from the same queries as the API. Filters are GET
// forms (a search is a link one can share); every list links to its CSV and JSON export.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { ServeConfig } from '../../core/config.ts';
import { pageContext } from '../request.ts';
import { ACCESS_LIST, AUDIT_LIST, DDL_LIST, INCIDENT_LIST, REFUSAL_LIST, SESSION_LIST, type ColumnType, type ListDefinition } from '../lists.ts';
import { alerts } from '../queries/alerts.ts';
import { connectionsSummary, type CountRow } from '../queries/connections.ts';
import { AUDIT_RECORD_CLASSES } from '../../pgaudit/classes.ts';
import { checkHistory, historyStrips, monitoringStatus } from '../queries/monitoring.ts';
import { overview } from '../queries/overview.ts';
import { INCIDENT_STATES, incidentDetail, openIncidentCount } from '../queries/incidents.ts';
import { SEVERITIES } from '../../detect/types.ts';
import { PgwardenError } from '../../core/errors.ts';
import type { Page } from '../queries/paging.ts';
import { sessionDetail } from '../queries/sessions.ts';
import type { TimeRange } from '../queries/range.ts';
import { inlineBar, stackedBars } from '../ui/charts.ts';
import { Html, formatTime, html, layout, query } from '../ui/html.ts';
import { LEVEL_COLOURS, countLink, levelStrip, rangeHidden, rangePicker, statementText, type Query } from '../ui/parts.ts';
import { docPath } from './docs.ts';
import { listUsers } from '../users.ts';
import { pageRequest } from './api.ts';

interface Deps { pool: pg.Pool; config: ServeConfig }

const PAGE_SIZE = 50;

function send(reply: FastifyReply, page: Html): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(page.value);
}

function exportLinks<R>(list: ListDefinition<R>, current: Query): Html {
  const filters = { ...current, cursor: undefined, limit: undefined };
  return html`<p class="exports">Export every matching row: <a href="/api${list.path}/export${query({ ...filters, format: 'csv' })}">CSV</a> ·
    <a href="/api${list.path}/export${query({ ...filters, format: 'json' })}">JSON</a></p>`;
}

function pager(path: string, current: Query, page: Page<unknown>): Html {
  const first = current.cursor ? html`<a href="${path}${query({ ...current, cursor: undefined })}">⇤ Newest</a>` : '';
  if (page.searchedTo) {
    return html`<div class="pager">${first}<span>Searched back to ${formatTime(page.searchedTo)} in the time allowed.</span>
      <a href="${path}${query({ ...current, cursor: page.next })}" rel="next">Search further back →</a></div>`;
  }
  return html`<div class="pager">${first}${page.next ? html`<a href="${path}${query({ ...current, cursor: page.next })}" rel="next">Older →</a>` : html`<span>End of the time range.</span>`}</div>`;
}

const TYPE_CLASS: Partial<Record<ColumnType, string>> = { time: 'time', number: 'num' };

/** A list's table, its columns as its definition declares them (lists.ts), in the export's order. */
function listTable<R>(list: ListDefinition<R>, rows: R[], empty: string): Html {
  const shown = list.columns.filter((c) => c.page !== false).map((c) => {
    const view = c.page || {};
    return { label: view.label ?? c.name, className: view.className ?? TYPE_CLASS[c.type], cell: view.cell ?? c.value };
  });
  const cls = (className: string | undefined) => (className ? html` class="${className}"` : '');
  return html`<table class="list"><thead><tr>${shown.map((c) => html`<th${cls(c.className === 'num' ? 'num' : undefined)}>${c.label}</th>`)}</tr></thead><tbody>
      ${rows.length === 0 ? html`<tr><td colspan="${shown.length}" class="note">${empty}</td></tr>` : rows.map((r) => html`<tr>${shown.map((c) => html`<td${cls(c.className)}>${c.cell(r)}</td>`)}</tr>`)}</tbody></table>`;
}

function field(name: string, label: string, current: Query, placeholder = ''): Html {
  return html`<label>${label}<input name="${name}" value="${current[name] ?? ''}" placeholder="${placeholder}"></label>`;
}

/** Shows pgwarden's own rows (its roles and their logins), hidden by default. */
function ownField(current: Query): Html {
  return html`<label>pgwarden's own<select name="own"><option value="">hidden</option><option value="1"${current.own === '1' ? html` selected` : ''}>shown</option></select></label>`;
}

function levelCell(level: string): Html {
  return html`<td class="level-${level}">${level}</td>`;
}

function card(value: number, what: string, href: string, tone = ''): Html {
  return html`<a class="card ${value > 0 ? tone : ''}" href="${href}"><div class="n">${value.toLocaleString('en-US')}</div><div class="what">${what}</div></a>`;
}

/** Where the events behind a row of a breakdown are: its logins (sessions) and its refusals and failures. */
const DIMENSION_FILTER = { user: 'user', application: 'application', client: 'client' } as const;

function breakdownTable(title: string, rows: CountRow[], dimension: keyof typeof DIMENSION_FILTER, range: Query): Html {
  const max = Math.max(1, ...rows.map((r) => r.authorized + r.refused + r.failed));
  const filter = DIMENSION_FILTER[dimension];
  const link = (path: string, value: string, extra: Query = {}) => `${path}${query({ from: range.from, to: range.to, [filter]: value, ...extra })}`;
  return html`<section><h2>${title}</h2><table class="breakdown">
    <thead><tr><th>${dimension}</th><th class="num">authorized</th><th class="num">refused</th><th class="num">failed logins</th><th class="bars"></th></tr></thead>
    <tbody>${rows.length === 0 ? html`<tr><td colspan="5" class="note">nothing in this range</td></tr>` : rows.map((r) => html`<tr>
      <td class="wrap">${r.value === null ? html`<span class="note">(none)</span>` : r.refused + r.failed > 0 ? html`<a href="${link('/connections', r.value)}#refused">${r.value}</a>` : html`<a href="${link('/sessions', r.value)}">${r.value}</a>`}</td>
      <td class="num">${r.value === null ? r.authorized : countLink(r.authorized, link('/sessions', r.value))}</td>
      <td class="num">${r.value === null ? r.refused : countLink(r.refused, `${link('/connections', r.value, { kind: 'guard_deny' })}#refused`, true)}</td>
      <td class="num">${r.value === null ? r.failed : countLink(r.failed, `${link('/connections', r.value, { kind: 'auth_failed' })}#refused`)}</td>
      <td class="bars">${inlineBar(r.authorized, max, '#59a14f')}${inlineBar(r.refused + r.failed, max, '#e15759')}</td></tr>`)}</tbody></table></section>`;
}

/** The list each kind of event is found in, for the overview's counts. */
function kindList(kind: string, range: Query): string | null {
  const at = { from: range.from, to: range.to };
  switch (kind) {
    case 'audit': return `/audit${query(at)}`;
    case 'ddl': return `/ddl${query(at)}`;
    case 'guard_deny':
    case 'auth_failed': return `/connections${query({ ...at, kind })}#refused`;
    case 'connection_authorized': return `/sessions${query(at)}`;
    case 'tamper': return `/alerts${query(at)}`;
    default: return null;
  }
}

/** A check's own page: its latest result, its history and its documentation. */
function checkHref(server: string, check: string, range: Query = {}): string {
  return `/monitoring/check${query({ server, check, from: range.from, to: range.to })}`;
}

/** An alert's way to its events. */
function alertHref(alert: { type: string; server: string | null; user_name: string | null; client_addr: string | null; summary: string }, range: Query): string | null {
  const at = { from: range.from, to: range.to };
  switch (alert.type) {
    case 'failed_logins': return `/connections${query({ ...at, kind: 'auth_failed', user: alert.user_name ?? undefined, client: alert.client_addr ?? undefined })}#refused`;
    case 'guard_deny': return `/connections${query({ ...at, kind: 'guard_deny', user: alert.user_name ?? undefined, client: alert.client_addr ?? undefined })}#refused`;
    case 'drop': return `/ddl${query({ ...at, command: 'DROP *', user: alert.user_name ?? undefined })}`;
    default: return null;
  }
}

function levelBadge(level: string): Html {
  return html`<span class="badge level-${level}">${level}</span>`;
}

export function registerPageRoutes(app: FastifyInstance, { pool, config }: Deps): void {
  const page = (request: FastifyRequest, title: string, body: Html) => layout(pageContext(request), title, body);
  const listQuery = (request: FastifyRequest) => {
    const current = { ...(request.query as Query) };
    return { current, pageReq: pageRequest({ ...current, limit: String(PAGE_SIZE) }, config) };
  };
  const at = (current: Query) => ({ from: current.from, to: current.to });

  /** A list's page: the time range, its filters (a GET form), its exports, its table, the pager. */
  const listPage = <R>(path: string, list: ListDefinition<R>, view: {
    title: string; filters: (current: Query) => Html; search?: boolean; note?: Html; empty: (result: Page<R>) => string;
  }) => app.get(path, { config: { access: list.role } }, async (request, reply) => {
    const { current, pageReq } = listQuery(request);
    const result = await list.fetch(pool, current, pageReq);
    request.auditRows = result.rows.length;
    return send(reply, page(request, view.title, html`
      ${rangePicker(path, current, pageReq.range)}
      <form class="filters" method="get" action="${path}"${view.search ? html` role="search"` : ''}>
        ${rangeHidden(current)}${view.filters(current)}
        <button type="submit">${view.search ? 'Search' : 'Filter'}</button>
      </form>
      ${exportLinks(list, current)}
      ${view.note ?? ''}
      ${listTable(list, result.rows, view.empty(result))}
      ${pager(path, current, result)}`));
  });

  listPage('/ddl', DDL_LIST, {
    title: 'DDL timeline',
    filters: (current) => html`${field('user', 'User', current)}${field('database', 'Database', current)}
        ${field('command', 'Command', current, 'DROP *')}${field('object', 'Object contains', current)}${ownField(current)}`,
    empty: () => 'no schema change in this range',
  });

  listPage('/audit', AUDIT_LIST, {
    title: 'Audit search',
    search: true,
    filters: (current) => html`${field('user', 'User', current)}${field('database', 'Database', current)}
        <label>Class<select name="class"><option value="">any</option>${AUDIT_RECORD_CLASSES.map((c) => html`<option${current.class?.toUpperCase() === c ? html` selected` : ''}>${c}</option>`)}</select></label>
        ${field('command', 'Command', current, 'SELECT')}${field('object', 'Object', current, 'hr.salaries or hr.*')}
        ${field('text', 'Text in statement', current)}${ownField(current)}`,
    note: html`<p class="note">Record: SESSION is the statement as the session ran it (pgaudit.log); OBJECT is an access to a table the audit role watches (pgaudit.role) — one statement may have both. The numbers are pgAudit's statement and substatement ids.</p>`,
    empty: (result) => `no audit record matches${result.searchedTo ? ' yet' : ''}`,
  });

  listPage('/sessions', SESSION_LIST, {
    title: 'Sessions',
    filters: (current) => html`${field('user', 'User', current)}${field('database', 'Database', current)}
        ${field('application', 'Application contains', current)}${field('client', 'Client address', current)}${ownField(current)}`,
    empty: () => 'no session in this range',
  });

  listPage('/admin/access', ACCESS_LIST, {
    title: 'Dashboard access log',
    filters: (current) => html`${field('user', 'User', current)}${field('route', 'Route', current, '/api/audit')}`,
    empty: () => 'no request in this range',
  });

  /** A select of fixed values, "any" first. */
  const choice = (name: string, label: string, values: readonly string[], current: Query) => html`<label>${label}<select name="${name}"><option value="">any</option>${values.map((v) => html`<option${current[name] === v ? html` selected` : ''}>${v}</option>`)}</select></label>`;

  listPage('/incidents', INCIDENT_LIST, {
    title: 'Incidents',
    filters: (current) => html`${field('rule', 'Rule', current, 'brute_force')}${choice('severity', 'Severity', SEVERITIES, current)}
        ${choice('state', 'State', INCIDENT_STATES, current)}${field('server', 'Server', current)}`,
    note: html`<p class="note">What the detection rules found (docs/detect.md), by the time of its latest event. An admin acknowledges, resolves and comments on an incident's page.</p>`,
    empty: () => 'no incident in this range',
  });

  app.get('/incident', {
    schema: { querystring: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } } },
  }, async (request, reply) => {
    const { id } = request.query as { id: string };
    const detail = await incidentDetail(pool, id);
    if (detail === null) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no incident "${id}"`);
    request.auditRows = detail.events.length;
    const { incident: i, events, comments } = detail;
    const context = pageContext(request);
    const csrf = html`<input type="hidden" name="_csrf" value="${context.csrf ?? ''}"><input type="hidden" name="id" value="${i.id}">`;
    const admin = context.role === 'admin' ? html`<section class="incident-actions"><h2>Act on it</h2>
      <form method="post" action="/incident/state" class="filters">${csrf}
        <label>Comment (optional)<input name="comment" maxlength="4000"></label>
        ${INCIDENT_STATES.filter((s) => s !== i.state).map((s) => html`<button type="submit" name="state" value="${s}">${s === 'open' ? 'Reopen' : s === 'acknowledged' ? 'Acknowledge' : 'Resolve'}</button>`)}
      </form>
      <form method="post" action="/incident/comment" class="filters">${csrf}
        <label>Comment<input name="comment" maxlength="4000" required></label><button type="submit">Add comment</button>
      </form></section>` : '';
    return send(reply, page(request, `${i.rule}: ${i.summary}`, html`
      <p><a href="/incidents">← all incidents</a></p>
      <dl class="facts">
        <dt>state</dt><dd><span class="state-${i.state}">${i.state}</span>${i.state_by ? html` <span class="note">by ${i.state_by} at ${formatTime(i.state_at!)}</span>` : ''}${i.since_state > 0 ? html` <span class="grew">— ${i.since_state} more event${i.since_state === 1 ? '' : 's'} since</span>` : ''}</dd>
        <dt>severity</dt><dd><span class="severity-${i.severity}">${i.severity}</span></dd>
        <dt>rule</dt><dd>${i.rule} <span class="note">(${i.detect_state === 'open' ? 'still going when last stored' : 'closed: quiet for the rule\'s close_after'})</span></dd>
        <dt>events</dt><dd>${i.count}</dd><dt>first</dt><dd>${i.first_ts}</dd><dt>last</dt><dd>${i.last_ts}</dd>
        <dt>server</dt><dd>${i.server}</dd><dt>user</dt><dd>${i.user_name}</dd><dt>database</dt><dd>${i.database_name}</dd>
        <dt>client</dt><dd>${i.client_addr}</dd><dt>application</dt><dd>${i.application}</dd>
        <dt>tags</dt><dd>${i.tags.join(', ')}</dd><dt>id</dt><dd><code>${i.id}</code></dd>
      </dl>
      ${i.responses.length > 0 ? html`<h2>Responses described</h2><ul>${(i.responses as { would?: string }[]).map((r) => html`<li>${r.would ?? JSON.stringify(r)}</li>`)}</ul>` : ''}
      ${admin}
      <h2>History</h2>
      ${comments.length === 0 ? html`<p class="note">No comment or change of state yet.</p>` : html`<table class="list comments"><thead><tr><th>time</th><th>who</th><th>what</th><th>comment</th></tr></thead><tbody>
        ${comments.map((c) => html`<tr><td class="time">${c.ts}</td><td>${c.user_name}</td><td>${c.action}</td><td class="wrap">${c.body}</td></tr>`)}</tbody></table>`}
      <h2>Events behind it</h2>
      <p class="note">The first and the latest records of the incident, as the repository holds them (a record not ingested into the repository, or pruned, shows only where it was read).</p>
      <table class="list"><thead><tr><th>time</th><th>kind</th><th>user</th><th>client</th><th>statement or message</th><th>where read</th></tr></thead><tbody>
      ${events.length === 0 ? html`<tr><td colspan="6" class="note">none linked</td></tr>` : events.map((e) => html`<tr><td class="time">${e.ts}</td><td>${e.kind ?? html`<span class="note">not in the repository</span>`}${e.severity && e.kind !== 'audit' ? html` <span class="note">${e.severity}</span>` : ''}</td>
        <td class="wrap">${e.user_name}</td><td class="wrap">${e.client_addr}</td><td class="statement">${statementText(e.statement ?? e.message)}</td>
        <td class="wrap"><span class="note">${e.source_input}:${e.source_position}</span>${e.session_id ? html`<br><a href="/session${query({ server: e.server ?? '', id: e.session_id })}">session</a>` : ''}</td></tr>`)}</tbody></table>
      <p class="exports">This incident: <a href="/api/incident${query({ id: i.id })}">JSON</a></p>`));
  });

  app.get('/', async (request, reply) => {
    const current = request.query as Query;
    const pageReq = pageRequest(current, config);
    const data = await overview(pool, pageReq.range);
    const openIncidents = await openIncidentCount(pool);
    const total = Object.values(data.totals).reduce((a, b) => a + b, 0);
    const t = (kind: string) => data.totals[kind] ?? 0;
    const failing = data.checks.filter((c) => ['warning', 'critical', 'unknown'].includes(c.level)).reduce((a, c) => a + c.checks, 0);
    const servers = [...new Set(data.checks.map((c) => c.server))];
    return send(reply, page(request, 'Overview', html`
      ${rangePicker('/', current, pageReq.range)}
      <div class="cards">
        ${card(total, 'events', `/audit${query(at(current))}`)}
        ${card(t('connection_authorized'), 'logins', `/sessions${query(at(current))}`)}
        ${card(t('guard_deny'), 'refused connections', `/connections${query({ ...at(current), kind: 'guard_deny' })}#refused`, 'warn')}
        ${card(t('auth_failed'), 'failed logins', `/connections${query({ ...at(current), kind: 'auth_failed' })}#refused`, 'warn')}
        ${card(t('ddl'), 'DDL changes', `/ddl${query(at(current))}`)}
        ${card(t('tamper'), 'tamper alerts', `/alerts${query(at(current))}`, 'bad')}
        ${card(failing, 'checks not OK', '/alerts', 'bad')}
        ${card(openIncidents, 'open incidents (any time)', '/incidents?state=open&from=3650d', 'bad')}
      </div>
      ${stackedBars({ from: pageReq.range.from, to: pageReq.range.to, bucketMs: data.bucket_seconds * 1000, points: data.series, label: 'Events per kind' })}
      <div class="columns">
      <section><h2>Checks per server</h2>${servers.length === 0
        ? html`<p class="note">No check results yet: list servers under <code>serve.monitor.servers</code> in pgwarden.yaml (docs/server.md).</p>`
        : html`<table><thead><tr><th>server</th><th class="num">ok</th><th class="num">warning</th><th class="num">critical</th><th class="num">unknown</th><th class="num">skipped</th></tr></thead><tbody>
          ${servers.map((s) => html`<tr><td><a href="/monitoring${query({ server: s, ...at(current) })}">${s}</a></td>${['ok', 'warning', 'critical', 'unknown', 'skipped'].map((level) => {
            const n = data.checks.find((c) => c.server === s && c.level === level)?.checks ?? 0;
            return html`<td class="num ${n > 0 ? `level-${level}` : ''}">${n > 0 ? html`<a href="/monitoring${query({ server: s, level, ...at(current) })}">${n}</a>` : n}</td>`;
          })}</tr>`)}</tbody></table>`}</section>
      <section><h2>Events per kind</h2><table><thead><tr><th>kind</th><th class="num">events</th></tr></thead><tbody>
        ${Object.entries(data.totals).sort((a, b) => b[1] - a[1]).map(([kind, n]) => {
          const href = kindList(kind, current);
          return html`<tr><td>${href ? html`<a href="${href}">${kind}</a>` : kind}</td><td class="num">${href ? html`<a href="${href}">${n}</a>` : n}</td></tr>`;
        })}</tbody></table>
        <p class="note">Counted by the hour (for ranges over 6 hours).</p></section>
      </div>`));
  });

  app.get('/connections', async (request, reply) => {
    const { current, pageReq } = listQuery(request);
    const data = await connectionsSummary(pool, pageReq.range);
    const refused = await REFUSAL_LIST.fetch(pool, current, pageReq);
    request.auditRows = refused.rows.length;
    return send(reply, page(request, 'Connections', html`
      ${rangePicker('/connections', current, pageReq.range)}
      <div class="cards">
        ${card(data.totals.authorized, 'logins (sessions)', `/sessions${query(at(current))}`)}
        ${card(data.totals.refused, 'refused by the guard', `/connections${query({ ...current, kind: 'guard_deny', cursor: undefined })}#refused`, 'warn')}
        ${card(data.totals.failed, 'failed logins', `/connections${query({ ...current, kind: 'auth_failed', cursor: undefined })}#refused`, 'warn')}
      </div>
      ${stackedBars({ from: pageReq.range.from, to: pageReq.range.to, bucketMs: data.bucket_seconds * 1000, points: data.series, kinds: ['connection_authorized', 'guard_deny', 'auth_failed'], label: 'Authorized, refused and failed logins' })}
      <p class="exports">These counts: <a href="/api/connections${query({ ...at(current), format: 'csv' })}">CSV</a> · <a href="/api/connections${query(at(current))}">JSON</a>. A name or a count leads to its sessions or refusals.</p>
      <div class="breakdowns">
        ${breakdownTable('By user', data.by_user, 'user', current)}
        ${breakdownTable('By application', data.by_application, 'application', current)}
        ${breakdownTable('By client', data.by_client, 'client', current)}
      </div>
      <h2 id="refused">Refused connections and failed logins</h2>
      <form class="filters" method="get" action="/connections#refused">
        ${rangeHidden(current)}
        <label>Kind<select name="kind"><option value="">both</option>${['guard_deny', 'auth_failed'].map((k) => html`<option${current.kind === k ? html` selected` : ''}>${k}</option>`)}</select></label>
        ${field('user', 'User', current)}${field('application', 'Application contains', current)}${field('client', 'Client address', current)}
        <button type="submit">Filter</button>
      </form>
      ${exportLinks(REFUSAL_LIST, current)}
      ${listTable(REFUSAL_LIST, refused.rows, 'none')}
      ${pager('/connections', current, refused)}`));
  });

  app.get('/session', {
    schema: { querystring: { type: 'object', required: ['id'], properties: { server: { type: 'string', maxLength: 200, default: '' }, id: { type: 'string', maxLength: 200 }, cursor: { type: 'string', maxLength: 2000 } } } },
  }, async (request, reply) => {
    const current = request.query as { server: string; id: string; cursor?: string };
    const detail = await sessionDetail(pool, current.server, current.id, current.cursor, 200, config.search_budget_ms);
    request.auditRows = detail.events.length;
    const s = detail.session;
    return send(reply, page(request, `Session ${s.session_id}`, html`
      <dl class="facts">
        <dt>server</dt><dd>${s.server || html`<span class="note">(unnamed)</span>`}</dd><dt>user</dt><dd>${s.user_name}</dd><dt>database</dt><dd>${s.database_name}</dd>
        <dt>application</dt><dd>${s.application}</dd><dt>client</dt><dd>${s.client_addr}</dd>
        <dt>connected</dt><dd>${s.started_at}</dd><dt>authorized</dt><dd>${s.authorized_at}</dd>
        <dt>ended</dt><dd>${s.ended_at ?? html`<span class="note">not yet (or not logged)</span>`}${s.duration_ms !== null ? ` after ${(s.duration_ms / 1000).toFixed(1)} s` : ''}</dd>
      </dl>
      <h2>Everything it did</h2>
      <table class="list"><thead><tr><th>time</th><th>kind</th><th>class</th><th>command</th><th>object</th><th>statement or message</th><th class="num">rows</th></tr></thead><tbody>
      ${detail.events.map((e) => html`<tr><td class="time">${e.ts}</td><td>${e.kind}${e.severity && e.kind !== 'audit' ? html` <span class="note">${e.severity}</span>` : ''}</td>
        <td>${e.class}</td><td>${e.command}</td><td>${e.object_name}</td>
        <td class="statement">${statementText(e.statement ?? e.message)}${e.parameters?.length ? html`<br><span class="note">parameters: ${e.parameters.join(', ')}</span>` : ''}</td>
        <td class="num">${e.rows}</td></tr>`)}</tbody></table>
      <div class="pager">${current.cursor ? html`<a href="/session${query({ server: current.server, id: current.id })}">⇤ From the start</a>` : ''}
        ${detail.searchedTo ? html`<span class="note">Searched its events up to ${detail.searchedTo} in the time a page may take (a long session among many others).</span>` : ''}
        ${detail.next ? html`<a href="/session${query({ server: current.server, id: current.id, cursor: detail.next })}" rel="next">Later →</a>` : html`<span>End of the session's events.</span>`}</div>
      <p class="exports">This session's first 1000 events: <a href="/api/session${query({ server: current.server, id: current.id, limit: 1000, format: 'csv' })}">CSV</a> ·
        <a href="/api/session${query({ server: current.server, id: current.id, limit: 1000 })}">JSON</a></p>`));
  });

  app.get('/alerts', async (request, reply) => {
    const current = request.query as Query;
    const range = pageRequest(current, config).range;
    const result = await alerts(pool, range, { failedLogins: config.alerts.failed_logins, windowMinutes: config.alerts.window_minutes, limit: 500 });
    request.auditRows = result.alerts.length;
    return send(reply, page(request, 'Alerts', html`
      ${rangePicker('/alerts', current, range)}
      ${result.checks.length > 0 ? html`<h2>Checks not OK now</h2><table class="list"><thead><tr><th>server</th><th>check</th><th>level</th><th>summary</th><th>checked</th></tr></thead><tbody>
        ${result.checks.map((c) => html`<tr><td><a href="/monitoring${query({ server: c.server })}">${c.server}</a></td><td><a href="${checkHref(c.server, c.check_name, at(current))}">${c.check_name}</a></td>${levelCell(c.level)}<td class="wrap">${c.summary}</td><td class="time">${c.checked_at}</td></tr>`)}</tbody></table>` : ''}
      <p class="note">What the detection rules found is on <a href="/incidents${query(at(current))}">Incidents</a>.</p>
      <h2>In this range</h2>
      <p class="exports">Export: <a href="/api/alerts${query({ ...at(current), format: 'csv' })}">CSV</a> · <a href="/api/alerts${query(at(current))}">JSON</a></p>
      <table class="list"><thead><tr><th>time</th><th>level</th><th>what</th><th>server</th><th>user</th><th>client</th><th>detail</th></tr></thead><tbody>
      ${result.alerts.length === 0 ? html`<tr><td colspan="7" class="note">nothing to look at in this range</td></tr>` : result.alerts.map((a) => {
        const href = alertHref(a, current);
        const what = a.type.replace('_', ' ');
        return html`<tr>
        <td class="time">${a.ts}</td>${levelCell(a.level)}<td>${href ? html`<a href="${href}">${what}</a>` : what}</td><td>${a.server}</td><td class="wrap">${a.user_name}</td><td class="wrap">${a.client_addr}</td><td class="wrap">${a.summary}</td></tr>`;
      })}</tbody></table>
      ${result.truncated ? html`<p class="note">The newest 500 are shown; narrow the range for the others.</p>` : ''}`));
  });

  app.get('/monitoring', async (request, reply) => {
    const current = request.query as Query;
    const range = pageRequest(current, config).range;
    const servers = await monitoringStatus(pool, current.server || undefined);
    const bucketMs = Math.max(60_000, Math.ceil((range.to.getTime() - range.from.getTime()) / 48 / 60_000) * 60_000);
    const strips = await historyStrips(pool, range, bucketMs, current.server || undefined);
    const level = current.level;
    return send(reply, page(request, 'Monitoring', html`
      ${rangePicker('/monitoring', current, range)}
      ${servers.length === 0 ? html`<p class="note">No check results${current.server ? ` for ${current.server}` : ''}. pgwarden serve runs the checks of the servers listed under <code>serve.monitor.servers</code> (docs/server.md).</p>` : ''}
      ${level ? html`<p class="note">Only checks at level ${level} now: <a href="/monitoring${query({ ...current, level: undefined })}">show all</a>.</p>` : ''}
      ${servers.map((s) => html`<section><h2>${s.server}: <span class="level-${s.level}">${s.level}</span> <span class="note">checked ${formatTime(s.checked_at)}</span></h2>
        <table class="list checks"><thead><tr><th>check</th><th>category</th><th>level</th><th>summary</th><th>history <span class="note">(worst level per ${Math.round(bucketMs / 60_000)} min)</span></th><th>doc</th></tr></thead><tbody>
        ${s.checks.filter((c) => !level || c.level === level).map((c) => html`<tr id="check-${c.check_name}"><td><a href="${checkHref(s.server, c.check_name, at(current))}">${c.check_name}</a></td><td>${c.category}</td>${levelCell(c.level)}<td class="wrap">${c.summary}</td>
          <td class="history"><a href="${checkHref(s.server, c.check_name, at(current))}">${levelStrip(range, bucketMs, strips.filter((x) => x.server === s.server && x.check_name === c.check_name), `history of ${c.check_name}`)}</a></td>
          <td><a href="${docPath(c.check_name)}">doc</a></td></tr>`)}</tbody></table></section>`)}
      <p class="exports">Export: <a href="/api/monitoring${query({ server: current.server, format: 'csv' })}">CSV</a> · <a href="/api/monitoring${query({ server: current.server })}">JSON</a> · Prometheus: <a href="/metrics">/metrics</a></p>`));
  });

  app.get('/monitoring/check', {
    schema: { querystring: { type: 'object', required: ['server', 'check'], properties: { server: { type: 'string', maxLength: 200 }, check: { type: 'string', maxLength: 100 }, from: { type: 'string', maxLength: 40 }, to: { type: 'string', maxLength: 40 } } } },
  }, async (request, reply) => {
    const current = request.query as Query & { server: string; check: string };
    const range = pageRequest(current, config).range;
    const history = await checkHistory(pool, current.server, current.check, range);
    request.auditRows = history.runs.length;
    const latest = history.latest;
    const result = (latest?.result ?? null) as { unit?: string; thresholds?: { warning: number | null; critical: number | null; direction: string }; rows?: { item: string; value: number | null; level: string; detail: string | null }[] } | null;
    const thresholds = result?.thresholds;
    return send(reply, page(request, `${current.check} on ${current.server}`, html`
      <p><a href="/monitoring${query({ server: current.server, ...at(current) })}#check-${current.check}">← all checks of ${current.server}</a> · <a href="${docPath(current.check)}">What this check measures and how to resolve it</a></p>
      ${rangePicker('/monitoring/check', current, range)}
      <dl class="facts">
        <dt>level now</dt><dd>${latest ? levelBadge(latest.level) : html`<span class="note">no current result</span>`}</dd>
        <dt>summary</dt><dd>${latest?.summary}</dd><dt>checked</dt><dd>${latest?.checked_at}</dd><dt>category</dt><dd>${latest?.category}</dd>
        <dt>unit</dt><dd>${result?.unit}</dd>
        <dt>thresholds</dt><dd>${thresholds ? `warning ${thresholds.direction === 'below' ? '≤' : '≥'} ${thresholds.warning ?? '—'}, critical ${thresholds.direction === 'below' ? '≤' : '≥'} ${thresholds.critical ?? '—'}` : ''}</dd>
        <dt>runs in range</dt><dd>${Object.entries(history.levels).map(([l, n]) => html`${levelBadge(l)} ${n} `)}</dd>
      </dl>
      ${levelChart(range, history.runs)}
      ${result?.rows?.length ? html`<h2>Latest result</h2><table class="list"><thead><tr><th>item</th><th class="num">value</th><th>level</th><th>detail</th></tr></thead><tbody>
        ${result.rows.map((r) => html`<tr><td class="wrap">${r.item}</td><td class="num">${r.value}</td>${levelCell(r.level)}<td class="wrap">${r.detail}</td></tr>`)}</tbody></table>` : ''}
      <h2>Runs</h2>
      <p class="exports">Export: <a href="/api/monitoring/check${query({ server: current.server, check: current.check, ...at(current), format: 'csv' })}">CSV</a> · <a href="/api/monitoring/check${query({ server: current.server, check: current.check, ...at(current) })}">JSON</a></p>
      <table class="list"><thead><tr><th>checked</th><th>level</th><th>summary</th><th class="num">value</th><th class="num">ms</th></tr></thead><tbody>
      ${history.runs.length === 0 ? html`<tr><td colspan="5" class="note">no run in this range</td></tr>` : history.runs.map((r) => html`<tr><td class="time">${r.checked_at}</td>${levelCell(r.level)}<td class="wrap">${r.summary}</td><td class="num">${r.value}</td><td class="num">${r.duration_ms === null ? '' : Math.round(r.duration_ms)}</td></tr>`)}</tbody></table>
      ${history.truncated ? html`<p class="note">The newest 500 runs are shown; narrow the range for the others.</p>` : ''}`));
  });

  app.get('/admin/users', { config: { access: 'admin' } }, async (request, reply) => {
    const users = await listUsers(pool);
    request.auditRows = users.length;
    return send(reply, page(request, 'Users', html`
      <p class="exports">Export: <a href="/api/admin/users?format=csv">CSV</a> · <a href="/api/admin/users">JSON</a></p>
      <p class="note">Users and API tokens are managed with <code>pgwarden serve user …</code> and <code>pgwarden serve token …</code> (docs/server.md).</p>
      <table class="list"><thead><tr><th>user</th><th>role</th><th>state</th><th>created</th><th>password changed</th><th>last login</th></tr></thead><tbody>
      ${users.map((u) => html`<tr><td>${u.name}</td><td>${u.role}</td><td>${u.disabled ? 'disabled' : 'enabled'}</td><td class="time">${u.created_at}</td>
        <td class="time">${u.password_changed_at}</td><td class="time">${u.last_login_at}</td></tr>`)}</tbody></table>`));
  });
}

/** A check's runs over the range: one bar per run, as high as its value, in the colour of its level. */
function levelChart(range: TimeRange, runs: { checked_at: Date; level: string; value: number | null }[]): Html {
  const width = 960;
  const height = 120;
  const span = Math.max(1, range.to.getTime() - range.from.getTime());
  const max = Math.max(0, ...runs.map((r) => r.value ?? 0));
  const x = (t: Date) => ((t.getTime() - range.from.getTime()) / span) * (width - 8) + 4;
  return html`<figure class="chart">
<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="runs of the check over the range">
  <line x1="0" y1="${height - 16}" x2="${width}" y2="${height - 16}" stroke="#999"/>
  ${runs.map((r) => {
    const h = max > 0 && r.value !== null ? Math.max(3, ((r.value / max) * (height - 28))) : 6;
    return html`<rect x="${x(r.checked_at).toFixed(1)}" y="${(height - 16 - h).toFixed(1)}" width="3" height="${h.toFixed(1)}" fill="${LEVEL_COLOURS[r.level] ?? '#999'}"><title>${formatTime(r.checked_at)} · ${r.level}${r.value === null ? '' : ` · ${r.value}`}</title></rect>`;
  })}
  <text x="2" y="${height - 3}" class="axis">${formatTime(range.from).slice(0, 16)}</text>
  <text x="${width - 2}" y="${height - 3}" class="axis" text-anchor="end">${formatTime(range.to).slice(0, 16)}</text>
  <text x="2" y="12" class="axis">${max > 0 ? `max ${max}` : ''}</text>
</svg>
<figcaption>Each run: its value (height) and level (colour) — ${Object.entries(LEVEL_COLOURS).map(([l, c]) => html`<span class="key"><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${c}"/></svg> ${l}</span>`)}</figcaption>
</figure>`;
}
