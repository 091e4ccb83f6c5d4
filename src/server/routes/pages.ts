// The dashboard's pages: server-rendered HTML from the same queries as the API. Filters are GET
// forms (a search is a link one can share); every list links to its CSV and JSON export.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { ServeConfig } from '../../core/config.ts';
import { pageContext } from '../app.ts';
import { ACCESS_LIST, AUDIT_LIST, DDL_LIST, REFUSAL_LIST, SESSION_LIST, type ListDefinition } from '../lists.ts';
import { alerts } from '../queries/alerts.ts';
import { connectionsSummary, type CountRow } from '../queries/connections.ts';
import { AUDIT_CLASSES } from '../queries/events.ts';
import { monitoringStatus } from '../queries/monitoring.ts';
import { overview } from '../queries/overview.ts';
import type { Page } from '../queries/paging.ts';
import { sessionDetail } from '../queries/sessions.ts';
import { inlineBar, stackedBars } from '../ui/charts.ts';
import { Html, formatTime, html, layout, query } from '../ui/html.ts';
import { listUsers } from '../users.ts';
import { pageRequest } from './api.ts';

interface Deps { pool: pg.Pool; config: ServeConfig }
type Query = Record<string, string | undefined>;

const RANGES = ['1h', '6h', '24h', '7d', '30d'] as const;
const PAGE_SIZE = 50;

function send(reply: FastifyReply, page: Html): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(page.value);
}

/** The range links (1h … 30d) of a page, keeping its other filters. */
function rangeLinks(path: string, current: Query): Html {
  const selected = current.to ? '' : (current.from || '24h');
  return html`<div class="ranges">${RANGES.map((r) => html`<a href="${path}${query({ ...current, from: r, to: undefined, cursor: undefined })}"${selected === r ? html` aria-current="true"` : ''}>${r}</a>`)}
    <span class="note">${current.to ? html`${current.from} to ${current.to} (UTC)` : 'up to now; times in UTC'}</span></div>`;
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

function field(name: string, label: string, current: Query, placeholder = ''): Html {
  return html`<label>${label}<input name="${name}" value="${current[name] ?? ''}" placeholder="${placeholder}"></label>`;
}

function rangeFields(current: Query): Html {
  return html`${field('from', 'From (UTC or 24h)', current, '24h')}${field('to', 'To (default now)', current, 'now')}`;
}

function levelCell(level: string): Html {
  return html`<td class="level-${level}">${level}</td>`;
}

function sessionLink(server: string | null, sessionId: string | null, label?: string): Html | string {
  if (!sessionId) return '';
  return html`<a href="/session${query({ server: server ?? '', id: sessionId })}">${label ?? sessionId}</a>`;
}

function card(value: number, what: string, href: string, tone = ''): Html {
  return html`<a class="card ${value > 0 ? tone : ''}" href="${href}"><div class="n">${value.toLocaleString('en-US')}</div><div class="what">${what}</div></a>`;
}

function breakdownTable(title: string, rows: CountRow[], filterName: string): Html {
  const max = Math.max(1, ...rows.map((r) => r.authorized + r.refused + r.failed));
  return html`<section><h2>${title}</h2><table>
    <thead><tr><th>${filterName}</th><th class="num">authorized</th><th class="num">refused</th><th class="num">failed logins</th><th></th></tr></thead>
    <tbody>${rows.length === 0 ? html`<tr><td colspan="5" class="note">nothing in this range</td></tr>` : rows.map((r) => html`<tr>
      <td>${r.value ?? html`<span class="note">(none)</span>`}</td><td class="num">${r.authorized}</td>
      <td class="num">${r.refused > 0 ? html`<strong>${r.refused}</strong>` : r.refused}</td><td class="num">${r.failed}</td>
      <td>${inlineBar(r.authorized, max, '#59a14f')}${inlineBar(r.refused + r.failed, max, '#e15759')}</td></tr>`)}</tbody></table></section>`;
}

export function registerPageRoutes(app: FastifyInstance, { pool, config }: Deps): void {
  const page = (request: FastifyRequest, title: string, body: Html) => layout(pageContext(request), title, body);
  const listQuery = (request: FastifyRequest) => {
    const current = { ...(request.query as Query) };
    return { current, pageReq: pageRequest({ ...current, limit: String(PAGE_SIZE) }, config) };
  };

  app.get('/', async (request, reply) => {
    const current = request.query as Query;
    const pageReq = pageRequest(current, config);
    const data = await overview(pool, pageReq.range);
    const total = Object.values(data.totals).reduce((a, b) => a + b, 0);
    const t = (kind: string) => data.totals[kind] ?? 0;
    const failing = data.checks.filter((c) => ['warning', 'critical', 'unknown'].includes(c.level)).reduce((a, c) => a + c.checks, 0);
    const servers = [...new Set(data.checks.map((c) => c.server))];
    return send(reply, page(request, 'Overview', html`
      ${rangeLinks('/', current)}
      <div class="cards">
        ${card(total, 'events', `/audit${query({ from: current.from, to: current.to })}`)}
        ${card(t('connection_authorized'), 'logins', `/sessions${query({ from: current.from, to: current.to })}`)}
        ${card(t('guard_deny'), 'refused connections', `/connections${query({ from: current.from, to: current.to })}`, 'warn')}
        ${card(t('auth_failed'), 'failed logins', `/connections${query({ from: current.from, to: current.to })}`, 'warn')}
        ${card(t('ddl'), 'DDL changes', `/ddl${query({ from: current.from, to: current.to })}`)}
        ${card(t('tamper'), 'tamper alerts', `/alerts${query({ from: current.from, to: current.to })}`, 'bad')}
        ${card(failing, 'checks not OK', '/monitoring', 'bad')}
      </div>
      ${stackedBars({ from: pageReq.range.from, to: pageReq.range.to, bucketMs: data.bucket_seconds * 1000, points: data.series, label: 'Events per kind' })}
      <section><h2>Checks per server</h2>${servers.length === 0
        ? html`<p class="note">No check results yet: list servers under <code>serve.monitor.servers</code> in pgwarden.yaml (docs/server.md).</p>`
        : html`<table><thead><tr><th>server</th><th class="num">ok</th><th class="num">warning</th><th class="num">critical</th><th class="num">unknown</th><th class="num">skipped</th></tr></thead><tbody>
          ${servers.map((s) => html`<tr><td><a href="/monitoring${query({ server: s })}">${s}</a></td>${['ok', 'warning', 'critical', 'unknown', 'skipped'].map((level) => {
            const n = data.checks.find((c) => c.server === s && c.level === level)?.checks ?? 0;
            return html`<td class="num ${n > 0 ? `level-${level}` : ''}">${n}</td>`;
          })}</tr>`)}</tbody></table>`}</section>
      <section><h2>Events per kind</h2><table><thead><tr><th>kind</th><th class="num">events</th></tr></thead><tbody>
        ${Object.entries(data.totals).sort((a, b) => b[1] - a[1]).map(([kind, n]) => html`<tr><td>${kind}</td><td class="num">${n}</td></tr>`)}</tbody></table>
        <p class="note">Counted by the hour (for ranges over 6 hours).</p></section>`));
  });

  app.get('/connections', async (request, reply) => {
    const { current, pageReq } = listQuery(request);
    const data = await connectionsSummary(pool, pageReq.range);
    const refused = await REFUSAL_LIST.fetch(pool, current, pageReq);
    request.auditRows = refused.rows.length;
    return send(reply, page(request, 'Connections', html`
      ${rangeLinks('/connections', current)}
      <div class="cards">
        ${card(data.totals.authorized, 'logins (sessions)', `/sessions${query({ from: current.from, to: current.to })}`)}
        ${card(data.totals.refused, 'refused by the guard', `/connections${query({ ...current, kind: 'guard_deny', cursor: undefined })}`, 'warn')}
        ${card(data.totals.failed, 'failed logins', `/connections${query({ ...current, kind: 'auth_failed', cursor: undefined })}`, 'warn')}
      </div>
      ${stackedBars({ from: pageReq.range.from, to: pageReq.range.to, bucketMs: data.bucket_seconds * 1000, points: data.series, kinds: ['connection_authorized', 'guard_deny', 'auth_failed'], label: 'Authorized, refused and failed logins' })}
      <p class="exports">These counts: <a href="/api/connections${query({ from: current.from, to: current.to, format: 'csv' })}">CSV</a> · <a href="/api/connections${query({ from: current.from, to: current.to })}">JSON</a></p>
      <div class="grid2">
        ${breakdownTable('By user', data.by_user, 'user')}
        ${breakdownTable('By application', data.by_application, 'application')}
        ${breakdownTable('By client', data.by_client, 'client')}
      </div>
      <h2>Refused connections and failed logins</h2>
      <form class="filters" method="get" action="/connections">
        ${rangeFields(current)}
        <label>Kind<select name="kind"><option value="">both</option>${['guard_deny', 'auth_failed'].map((k) => html`<option${current.kind === k ? html` selected` : ''}>${k}</option>`)}</select></label>
        ${field('user', 'User', current)}${field('application', 'Application contains', current)}${field('client', 'Client address', current)}
        <button type="submit">Filter</button>
      </form>
      ${exportLinks(REFUSAL_LIST, current)}
      <table><thead><tr><th>time</th><th>kind</th><th>server</th><th>user</th><th>database</th><th>application</th><th>client</th><th>why</th></tr></thead><tbody>
      ${refused.rows.length === 0 ? html`<tr><td colspan="8" class="note">none</td></tr>` : refused.rows.map((r) => html`<tr>
        <td class="time">${r.ts}</td><td>${r.kind}</td><td>${r.server}</td><td>${r.user_name}</td><td>${r.database_name}</td>
        <td>${r.application}</td><td>${r.client_addr}</td><td>${r.reason ?? r.message}</td></tr>`)}</tbody></table>
      ${pager('/connections', current, refused)}`));
  });

  app.get('/ddl', async (request, reply) => {
    const { current, pageReq } = listQuery(request);
    const result = await DDL_LIST.fetch(pool, current, pageReq);
    request.auditRows = result.rows.length;
    return send(reply, page(request, 'DDL timeline', html`
      <form class="filters" method="get" action="/ddl">
        ${rangeFields(current)}${field('user', 'User', current)}${field('database', 'Database', current)}
        ${field('command', 'Command', current, 'DROP *')}${field('object', 'Object contains', current)}
        <button type="submit">Filter</button>
      </form>
      ${exportLinks(DDL_LIST, current)}
      <table><thead><tr><th>time</th><th>server / database</th><th>user</th><th>from</th><th>command</th><th>object</th><th>ticket</th><th>statement</th></tr></thead><tbody>
      ${result.rows.length === 0 ? html`<tr><td colspan="8" class="note">no schema change in this range</td></tr>` : result.rows.map((r) => html`<tr>
        <td class="time">${r.ts}</td><td>${r.server} / ${r.database_name}</td>
        <td>${r.user_name}${r.current_user && r.current_user !== r.user_name ? html` <span class="note">as ${r.current_user}</span>` : ''}</td>
        <td>${r.client_addr} <span class="note">${r.application}</span></td><td>${r.command_tag}</td><td>${r.object_type} ${r.object_identity}</td>
        <td>${r.change_ticket}</td><td class="statement">${r.statement}</td></tr>`)}</tbody></table>
      ${pager('/ddl', current, result)}`));
  });

  app.get('/audit', async (request, reply) => {
    const { current, pageReq } = listQuery(request);
    const result = await AUDIT_LIST.fetch(pool, current, pageReq);
    request.auditRows = result.rows.length;
    return send(reply, page(request, 'Audit search', html`
      <form class="filters" method="get" action="/audit" role="search">
        ${rangeFields(current)}${field('user', 'User', current)}${field('database', 'Database', current)}
        <label>Class<select name="class"><option value="">any</option>${AUDIT_CLASSES.map((c) => html`<option${current.class?.toUpperCase() === c ? html` selected` : ''}>${c}</option>`)}</select></label>
        ${field('command', 'Command', current, 'SELECT')}${field('object', 'Object', current, 'hr.salaries or hr.*')}
        ${field('text', 'Text in statement', current)}
        <button type="submit">Search</button>
      </form>
      ${exportLinks(AUDIT_LIST, current)}
      <table><thead><tr><th>time</th><th>user</th><th>database</th><th>session</th><th>class</th><th>command</th><th>object</th><th>statement</th><th class="num">rows</th></tr></thead><tbody>
      ${result.rows.length === 0 ? html`<tr><td colspan="9" class="note">no audit record matches${result.searchedTo ? ' yet' : ''}</td></tr>` : result.rows.map((r) => html`<tr>
        <td class="time">${r.ts}</td><td>${r.user_name}</td><td>${r.database_name}</td>
        <td>${sessionLink(r.server, r.session_id)}<br><span class="note">${r.application} ${r.client_addr}</span></td>
        <td>${r.class}</td><td>${r.command}</td><td>${r.object_name}</td>
        <td class="statement">${r.statement}${r.parameters?.length ? html`<br><span class="note">parameters: ${r.parameters.join(', ')}</span>` : ''}</td>
        <td class="num">${r.rows}</td></tr>`)}</tbody></table>
      ${pager('/audit', current, result)}`));
  });

  app.get('/sessions', async (request, reply) => {
    const { current, pageReq } = listQuery(request);
    const result = await SESSION_LIST.fetch(pool, current, pageReq);
    request.auditRows = result.rows.length;
    return send(reply, page(request, 'Sessions', html`
      <form class="filters" method="get" action="/sessions">
        ${rangeFields(current)}${field('user', 'User', current)}${field('database', 'Database', current)}
        ${field('application', 'Application contains', current)}${field('client', 'Client address', current)}
        <button type="submit">Filter</button>
      </form>
      ${exportLinks(SESSION_LIST, current)}
      <table><thead><tr><th>started</th><th>session</th><th>server</th><th>user</th><th>database</th><th>application</th><th>client</th><th>ended</th><th class="num">audited statements</th></tr></thead><tbody>
      ${result.rows.length === 0 ? html`<tr><td colspan="9" class="note">no session in this range</td></tr>` : result.rows.map((r) => html`<tr>
        <td class="time">${r.started_at ?? r.authorized_at}</td><td>${sessionLink(r.server, r.session_id)}</td><td>${r.server}</td><td>${r.user_name}</td>
        <td>${r.database_name}</td><td>${r.application}</td><td>${r.client_addr}</td><td class="time">${r.ended_at}</td><td class="num">${r.statements}</td></tr>`)}</tbody></table>
      ${pager('/sessions', current, result)}`));
  });

  app.get('/session', {
    schema: { querystring: { type: 'object', required: ['id'], properties: { server: { type: 'string', maxLength: 200, default: '' }, id: { type: 'string', maxLength: 200 }, cursor: { type: 'string', maxLength: 2000 } } } },
  }, async (request, reply) => {
    const current = request.query as { server: string; id: string; cursor?: string };
    const detail = await sessionDetail(pool, current.server, current.id, current.cursor, 200);
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
      <table><thead><tr><th>time</th><th>kind</th><th>class</th><th>command</th><th>object</th><th>statement or message</th><th class="num">rows</th></tr></thead><tbody>
      ${detail.events.map((e) => html`<tr><td class="time">${e.ts}</td><td>${e.kind}${e.severity && e.kind !== 'audit' ? html` <span class="note">${e.severity}</span>` : ''}</td>
        <td>${e.class}</td><td>${e.command}</td><td>${e.object_name}</td>
        <td class="statement">${e.statement ?? e.message}${e.parameters?.length ? html`<br><span class="note">parameters: ${e.parameters.join(', ')}</span>` : ''}</td>
        <td class="num">${e.rows}</td></tr>`)}</tbody></table>
      <div class="pager">${current.cursor ? html`<a href="/session${query({ server: current.server, id: current.id })}">⇤ From the start</a>` : ''}
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
      ${rangeLinks('/alerts', current)}
      ${result.checks.length > 0 ? html`<h2>Checks not OK now</h2><table><thead><tr><th>server</th><th>check</th><th>level</th><th>summary</th><th>checked</th></tr></thead><tbody>
        ${result.checks.map((c) => html`<tr><td>${c.server}</td><td><a href="/monitoring${query({ server: c.server })}">${c.check_name}</a></td>${levelCell(c.level)}<td>${c.summary}</td><td class="time">${c.checked_at}</td></tr>`)}</tbody></table>` : ''}
      <h2>In this range</h2>
      <p class="exports">Export: <a href="/api/alerts${query({ from: current.from, to: current.to, format: 'csv' })}">CSV</a> · <a href="/api/alerts${query({ from: current.from, to: current.to })}">JSON</a></p>
      <table><thead><tr><th>time</th><th>level</th><th>what</th><th>server</th><th>user</th><th>client</th><th>detail</th></tr></thead><tbody>
      ${result.alerts.length === 0 ? html`<tr><td colspan="7" class="note">nothing to look at in this range</td></tr>` : result.alerts.map((a) => html`<tr>
        <td class="time">${a.ts}</td>${levelCell(a.level)}<td>${a.type.replace('_', ' ')}</td><td>${a.server}</td><td>${a.user_name}</td><td>${a.client_addr}</td><td>${a.summary}</td></tr>`)}</tbody></table>
      ${result.truncated ? html`<p class="note">The newest 500 are shown; narrow the range for the others.</p>` : ''}`));
  });

  app.get('/monitoring', async (request, reply) => {
    const current = request.query as Query;
    const servers = await monitoringStatus(pool, current.server || undefined);
    return send(reply, page(request, 'Monitoring', html`
      ${servers.length === 0 ? html`<p class="note">No check results${current.server ? ` for ${current.server}` : ''}. pgwarden serve runs the checks of the servers listed under <code>serve.monitor.servers</code> (docs/server.md).</p>` : ''}
      ${servers.map((s) => html`<section><h2>${s.server}: <span class="level-${s.level}">${s.level}</span> <span class="note">checked ${formatTime(s.checked_at)}</span></h2>
        <table><thead><tr><th>check</th><th>category</th><th>level</th><th>summary</th></tr></thead><tbody>
        ${s.checks.map((c) => html`<tr><td>${c.check_name}</td><td>${c.category}</td>${levelCell(c.level)}<td>${c.summary}</td></tr>`)}</tbody></table></section>`)}
      <p class="exports">Export: <a href="/api/monitoring${query({ server: current.server, format: 'csv' })}">CSV</a> · <a href="/api/monitoring${query({ server: current.server })}">JSON</a> · Prometheus: <a href="/metrics">/metrics</a></p>`));
  });

  app.get('/admin/access', { config: { access: 'admin' } }, async (request, reply) => {
    const { current, pageReq } = listQuery(request);
    const result = await ACCESS_LIST.fetch(pool, current, pageReq);
    request.auditRows = result.rows.length;
    return send(reply, page(request, 'Dashboard access log', html`
      <form class="filters" method="get" action="/admin/access">${rangeFields(current)}${field('user', 'User', current)}${field('route', 'Route', current, '/api/audit')}<button type="submit">Filter</button></form>
      ${exportLinks(ACCESS_LIST, current)}
      <table><thead><tr><th>time</th><th>user</th><th>how</th><th>from</th><th>request</th><th>parameters</th><th class="num">status</th><th class="num">rows</th></tr></thead><tbody>
      ${result.rows.map((r) => html`<tr><td class="time">${r.ts}</td><td>${r.user_name}</td><td>${r.auth}</td><td>${r.client_addr}</td>
        <td>${r.method} ${r.route}</td><td><code>${JSON.stringify(r.params)}</code></td><td class="num">${r.status}</td><td class="num">${r.rows}</td></tr>`)}</tbody></table>
      ${pager('/admin/access', current, result)}`));
  });

  app.get('/admin/users', { config: { access: 'admin' } }, async (request, reply) => {
    const users = await listUsers(pool);
    request.auditRows = users.length;
    return send(reply, page(request, 'Users', html`
      <p class="exports">Export: <a href="/api/admin/users?format=csv">CSV</a> · <a href="/api/admin/users">JSON</a></p>
      <p class="note">Users and API tokens are managed with <code>pgwarden serve user …</code> and <code>pgwarden serve token …</code> (docs/server.md).</p>
      <table><thead><tr><th>user</th><th>role</th><th>state</th><th>created</th><th>password changed</th><th>last login</th></tr></thead><tbody>
      ${users.map((u) => html`<tr><td>${u.name}</td><td>${u.role}</td><td>${u.disabled ? 'disabled' : 'enabled'}</td><td class="time">${u.created_at}</td>
        <td class="time">${u.password_changed_at}</td><td class="time">${u.last_login_at}</td></tr>`)}</tbody></table>`));
  });
}
