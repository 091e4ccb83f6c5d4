// The dashboard's HTTP API through fastify's inject(), against a real repository on PostgreSQL 18:
// closed by default, logins and tokens, CSRF, security headers, every list with its filters and
// keyset paging, exports, the access log, the hourly counts, monitoring results and /metrics.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { configSchema, type Config } from '../../src/core/config.ts';
import { createPool } from '../../src/core/db.ts';
import { checkServers, installMonitor } from '../../src/monitor/index.ts';
import { prune } from '../../src/repository/index.ts';
import { SESSION_COOKIE, addToken, addUser, buildApp, revokeToken, setDisabled } from '../../src/server/index.ts';
import { ACCESS_LIST, AUDIT_LIST, DDL_LIST, REFUSAL_LIST, SESSION_LIST, type ListColumn } from '../../src/server/lists.ts';
import { monitorTargets, startMonitorLoop } from '../../src/server/monitoring.ts';
import { storeResults } from '../../src/server/queries/monitoring.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { morning, store } from './fixtures.ts';

const PASSWORD = 'a long enough test password';
const ORIGIN = 'http://localhost:80';

describe('pgwarden serve: the HTTP API', () => {
  let cluster: Cluster;
  let pool: pg.Pool;
  let app: FastifyInstance;
  let config: Config;
  let adminToken: string;
  let viewerToken: string;
  let viewerTokenId: string;
  const fixture = morning();

  const get = (url: string, token = adminToken) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const json = async <T = Record<string, unknown>>(url: string, token = adminToken): Promise<T> => {
    const response = await get(url, token);
    assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
    return response.json() as T;
  };
  const login = (user: string, password: string, headers: Record<string, string> = { origin: ORIGIN }) => app.inject({
    method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams({ user, password, next: '/audit?user=alice' }).toString(),
  });
  const sessionCookie = (response: LightMyRequestResponse) => response.cookies.find((c) => c.name === SESSION_COOKIE);

  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createDatabase('repo');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo')]);
    assert.equal(migrate.code, 0, migrate.stderr);
    await store(cluster.url('repo'), fixture.events);
    pool = createPool({ url: cluster.url('repo'), label: 'repo' }, 'pgwarden serve test', 4);
    await addUser(pool, 'admin', 'admin', PASSWORD);
    await addUser(pool, 'vera', 'viewer', PASSWORD);
    adminToken = (await addToken(pool, 'admin', 'tests', null)).token;
    const viewer = await addToken(pool, 'vera', 'tests', null);
    viewerToken = viewer.token;
    viewerTokenId = viewer.id;
    config = configSchema.parse({ serve: { alerts: { failed_logins: 5, window_minutes: 10 } } });
    app = (await buildApp({ pool, config: config.serve, log: pino({ level: 'silent' }) })).app;
  });
  after(async () => {
    await app?.close();
    await pool?.end();
    await cluster?.stop();
  });

  it('lets nobody in without a login or token, and says so the way each client understands', async () => {
    const api = await app.inject({ method: 'GET', url: '/api/overview' });
    assert.equal(api.statusCode, 401);
    assert.match(api.headers['www-authenticate'] as string, /Bearer/);
    const page = await app.inject({ method: 'GET', url: '/audit?user=alice' });
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, '/login?next=%2Faudit%3Fuser%3Dalice');
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal((await get('/api/me', 'pgw_0123456789abcdef_' + 'x'.repeat(43))).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });

  it('sets security headers on every response', async () => {
    for (const response of [await app.inject({ method: 'GET', url: '/login' }), await get('/api/me'), await get('/')]) {
      const h = response.headers;
      assert.equal(h['content-security-policy'], "default-src 'none';style-src 'self';img-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'");
      assert.equal(h['x-frame-options'], 'DENY');
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['referrer-policy'], 'same-origin');
      assert.equal(h['cache-control'], 'no-store');
    }
    // The pages carry no script and no style attribute, so the policy costs them nothing.
    const page = (await get('/')).body;
    assert.doesNotMatch(page, /<script|style=/i);
  });

  it('logs in with a password: a fresh __Host- session cookie, the way back, and every attempt on record', async () => {
    const wrong = await login('alice', 'not the password');
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /Wrong user name or password/);
    assert.equal(sessionCookie(wrong), undefined);
    const crossSite = await login('admin', PASSWORD, { origin: 'https://evil.example' });
    assert.equal(crossSite.statusCode, 403);
    const ok = await login('admin', PASSWORD);
    assert.equal(ok.statusCode, 303, ok.body);
    assert.equal(ok.headers.location, '/audit?user=alice');
    const cookie = sessionCookie(ok)!;
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/');
    const me = await app.inject({ method: 'GET', url: '/api/me', cookies: { [SESSION_COOKIE]: cookie.value } });
    assert.deepEqual(me.json(), { user: 'admin', role: 'admin', auth: 'session' });
    // Only a local path may follow a login.
    const away = await app.inject({
      method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
      payload: new URLSearchParams({ user: 'admin', password: PASSWORD, next: '//evil.example/' }).toString(),
    });
    assert.equal(away.headers.location, '/');
    const rows = await waitFor(async () => {
      const result = await pool.query(`SELECT user_name, auth, status FROM pgwarden_repo.dashboard_access WHERE route = '/login' ORDER BY id`);
      return result.rows.length === 4 && result.rows;
    }, 5000, 'four login attempts in the access log');
    // Each request records itself after its response, on a connection of the pool: two records can
    // commit in either order, so the attempts are compared as a set.
    const attempts = rows.map((r) => `${r.user_name} ${r.auth} ${r.status}`).sort();
    assert.deepEqual(attempts, ['admin password 303', 'admin password 303', 'admin password 403', 'alice password 401']);
  });

  it('refuses a logout (any state change) without the session\'s CSRF token, and ends the session with it', async () => {
    const cookie = sessionCookie(await login('vera', PASSWORD))!.value;
    const forged = await app.inject({ method: 'POST', url: '/logout', cookies: { [SESSION_COOKIE]: cookie }, headers: { origin: ORIGIN } });
    assert.equal(forged.statusCode, 403);
    const page = await app.inject({ method: 'GET', url: '/', cookies: { [SESSION_COOKIE]: cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const crossSite = await app.inject({
      method: 'POST', url: '/logout', cookies: { [SESSION_COOKIE]: cookie },
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, payload: `_csrf=${csrf}`,
    });
    assert.equal(crossSite.statusCode, 403);
    const out = await app.inject({
      method: 'POST', url: '/logout', cookies: { [SESSION_COOKIE]: cookie },
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, payload: `_csrf=${csrf}`,
    });
    assert.equal(out.statusCode, 303);
    assert.equal((await app.inject({ method: 'GET', url: '/api/me', cookies: { [SESSION_COOKIE]: cookie } })).statusCode, 401);
  });

  it('locks a user name out after repeated failures, even with the right password', async () => {
    await addUser(pool, 'target', 'viewer', PASSWORD);
    for (let i = 0; i < 5; i++) assert.equal((await login('target', `guess ${i}`)).statusCode, 401);
    const locked = await login('target', PASSWORD);
    assert.equal(locked.statusCode, 429);
    assert.ok(Number(locked.headers['retry-after']) > 0);
  });

  it('keeps admin pages from viewers, and stops tokens that are revoked or whose user is disabled', async () => {
    assert.equal((await get('/api/admin/access', viewerToken)).statusCode, 403);
    assert.equal((await get('/admin/users', viewerToken)).statusCode, 403);
    assert.equal((await get('/api/admin/access', adminToken)).statusCode, 200);
    assert.equal((await get('/api/me', viewerToken)).statusCode, 200);
    await setDisabled(pool, 'vera', true);
    assert.equal((await get('/api/me', viewerToken)).statusCode, 401);
    await setDisabled(pool, 'vera', false);
    await revokeToken(pool, viewerTokenId);
    assert.equal((await get('/api/me', viewerToken)).statusCode, 401);
    viewerToken = (await addToken(pool, 'vera', 'again', null)).token;
  });

  it('overview: events per kind from the hourly counts, the same as the events themselves', async () => {
    const overview = await json<{ totals: Record<string, number>; series: unknown[] }>('/api/overview?from=24h');
    const expected: Record<string, number> = {};
    for (const e of fixture.events) expected[e.kind] = (expected[e.kind] ?? 0) + 1;
    assert.deepEqual(overview.totals, expected);
    const live = await json<{ totals: Record<string, number>; bucket_seconds: number }>('/api/overview?from=3h');
    assert.deepEqual(live.totals, expected);
    assert.ok(live.bucket_seconds < 3600);
    const { rows } = await pool.query<{ n: number }>('SELECT sum(events)::int AS n FROM pgwarden_repo.event_counts');
    assert.equal(rows[0]!.n, fixture.events.length);
  });

  it('audit search: each filter, newest first, keyset pages that add up to the whole', async () => {
    type Items = { items: { ts: string; user: string; object_name: string; statement: string; class: string; session_id: string }[]; next: string | null };
    const all = await json<Items>('/api/audit?limit=100');
    assert.equal(all.items.length, 8);
    assert.deepEqual(all.items.map((r) => r.ts), [...all.items.map((r) => r.ts)].sort().reverse());
    assert.deepEqual((await json<Items>('/api/audit?user=alice')).items.map((r) => r.object_name), ['public.orders', 'hr.salary_history', 'hr.salaries', 'hr.salaries']);
    assert.equal((await json<Items>('/api/audit?object=hr.salaries')).items.length, 2);
    assert.equal((await json<Items>('/api/audit?object=hr.*')).items.length, 3);
    assert.deepEqual((await json<Items>('/api/audit?class=write&command=update')).items.map((r) => r.user).sort(), ['alice', 'app_orders']);
    // Text is a substring, case-insensitive, and LIKE's own characters mean themselves.
    assert.equal((await json<Items>('/api/audit?text=SALARY%20*%202')).items.length, 1);
    assert.equal((await json<Items>('/api/audit?text=100%25%20raise')).items.length, 1);
    assert.deepEqual((await json<Items>('/api/audit?text=_')).items.map((r) => r.object_name), ['hr.salary_history']);
    const pages: Items['items'] = [];
    let cursor: string | null = null;
    do {
      const page: Items = await json<Items>(`/api/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(...page.items);
      cursor = page.next;
    } while (cursor);
    assert.deepEqual(pages, all.items);
  });

  it('audit search within a time budget: what it found so far and a cursor to search further back', async () => {
    // No time at all: each request reads one window (an hour first, then one minute at a time) and stops.
    const tight = (await buildApp({ pool, config: { ...config.serve, search_budget_ms: 0 }, log: pino({ level: 'silent' }) })).app;
    try {
      const found: string[] = [];
      let cursor: string | null = null;
      let partial = 0;
      for (let i = 0; i < 400; i++) {
        const response = await tight.inject({ method: 'GET', url: `/api/audit?from=3h&user=alice&limit=50${cursor ? `&cursor=${cursor}` : ''}`, headers: { authorization: `Bearer ${adminToken}` } });
        const page = response.json() as { items: { statement: string }[]; next: string | null; searched_to: string | null };
        found.push(...page.items.map((r) => r.statement));
        if (page.searched_to) partial++;
        cursor = page.next;
        if (!cursor) break;
      }
      assert.equal(cursor, null, 'reached the start of the range');
      assert.equal(found.length, 4);
      assert.ok(partial > 0, 'some pages came back partial, with searched_to');
    } finally {
      await tight.close();
    }
  });

  it('rejects bad filters with a 400 that says what is wrong', async () => {
    const cases: [string, RegExp][] = [
      ['/api/audit?from=yesterday', /from "yesterday" is not a time/],
      ['/api/audit?from=1h&to=2h', /must be before/],
      ['/api/audit?class=SNOOP', /not a pgAudit class/],
      ['/api/audit?cursor=bm9wZQ', /cursor is not one this server handed out/],
      ['/api/audit?limit=5000', /limit/],
      ['/api/connections/refused?kind=audit', /not one of guard_deny, auth_failed/],
    ];
    for (const [url, message] of cases) {
      const response = await get(url);
      assert.equal(response.statusCode, 400, url);
      assert.match(response.json().error, message);
    }
    const page = await get('/audit?from=yesterday');
    assert.equal(page.statusCode, 400);
    assert.match(page.body, /is not a time/);
  });

  it('sessions: the list with audited statements, and one session with everything it did', async () => {
    const list = await json<{ items: { session_id: string; user: string; application: string; statements: number }[] }>('/api/sessions');
    assert.deepEqual(list.items.map((s) => [s.session_id, s.user, s.statements]), [['6b0a0003.1003', 'app_orders', 1], ['6b0a0002.1002', 'alice', 4], ['6b0a0001.1001', 'app_orders', 3]]);
    assert.deepEqual((await json<{ items: unknown[] }>('/api/sessions?user=alice')).items.length, 1);
    const detail = await json<{ session: { user_name: string; application: string }; events: { kind: string; statement: string | null }[] }>('/api/session?server=db1&id=6b0a0002.1002');
    assert.equal(detail.session.user_name, 'alice');
    assert.deepEqual(detail.events.map((e) => e.kind), ['connection_received', 'connection_authorized', 'audit', 'audit', 'audit', 'audit', 'disconnection']);
    assert.equal((await get('/api/session?server=db1&id=nope')).statusCode, 404);
    const page = await get('/session?server=db1&id=6b0a0002.1002');
    assert.match(page.body, /SELECT name, salary FROM hr\.salaries/);
  });

  it('connections, DDL, refusals and alerts', async () => {
    const connections = await json<{ totals: { authorized: number; refused: number; failed: number }; by_user: { value: string; authorized: number; failed: number }[] }>('/api/connections');
    assert.deepEqual(connections.totals, { authorized: 3, refused: 1, failed: 6 });
    assert.deepEqual(connections.by_user.find((r) => r.value === 'mallory'), { value: 'mallory', authorized: 0, refused: 0, failed: 6 });
    assert.equal(connections.by_user.find((r) => r.value === 'app_orders')!.authorized, 2);
    const ddl = await json<{ items: { command_tag: string; change_ticket: string; statement: string }[] }>('/api/ddl');
    assert.deepEqual(ddl.items.map((d) => d.command_tag), ['DROP TABLE', 'CREATE TABLE']);
    assert.equal(ddl.items[1]!.statement, 'CREATE TABLE refunds (id bigint)');
    assert.equal((await json<{ items: unknown[] }>('/api/ddl?command=DROP%20*')).items.length, 1);
    const refused = await json<{ items: { kind: string; reason: string | null }[] }>('/api/connections/refused?kind=guard_deny');
    assert.deepEqual(refused.items.map((r) => r.reason), ['GUI tools are not allowed']);
    const alerts = await json<{ alerts: { type: string; level: string; summary: string; count: number }[] }>('/api/alerts');
    assert.deepEqual(alerts.alerts.map((a) => a.type), ['tamper', 'drop', 'guard_deny', 'failed_logins']);
    assert.equal(alerts.alerts[0]!.level, 'critical');
    assert.match(alerts.alerts[0]!.summary, /DISABLED event trigger pgwarden_guard_login/);
    assert.equal(alerts.alerts[3]!.count, 6);
  });

  it('exports any list as CSV or JSON, every matching row, with spreadsheet formulas defused', async () => {
    const csv = await get('/api/audit/export?format=csv&user=alice');
    assert.equal(csv.statusCode, 200);
    assert.match(csv.headers['content-disposition'] as string, /attachment; filename="pgwarden-audit-.*\.csv"/);
    const lines = csv.body.trimEnd().split('\r\n');
    assert.equal(lines[0], 'ts,server,session_id,user,database,application,client_addr,audit_type,statement_id,substatement_id,class,command,object_type,object_name,statement,parameters,rows');
    assert.equal(lines.length, 5);
    assert.ok(lines.some((l) => l.includes(`"'=HYPERLINK(""http://evil"")"`)), csv.body);
    const exported = JSON.parse((await get('/api/sessions/export?format=json')).body) as { session_id: string }[];
    assert.equal(exported.length, 3);
    const ddl = await get('/api/ddl/export?format=csv');
    assert.equal(ddl.body.trimEnd().split('\r\n').length, 3);
    assert.equal((await get('/api/alerts?format=csv')).body.trimEnd().split('\r\n').length, 5);
    assert.match((await get('/api/connections?format=csv')).body, /^dimension,value,authorized,refused,failed\r\nuser,mallory,0,0,6\r\nuser,app_orders,2,1,0\r\n/);
    assert.equal((await get('/api/session?server=db1&id=6b0a0002.1002&format=csv')).body.trimEnd().split('\r\n').length, 8);
    assert.match((await get('/api/admin/users?format=csv')).body, /^name,role,disabled,created_at,password_changed_at,last_login_at\r\nadmin,admin,false,/);
  });

  it('shows each list on its page with the columns of its definition, in the order of its export', async () => {
    for (const [url, list] of [['/audit', AUDIT_LIST], ['/ddl', DDL_LIST], ['/sessions', SESSION_LIST], ['/connections', REFUSAL_LIST], ['/admin/access', ACCESS_LIST]] as const) {
      const page = await get(url);
      assert.equal(page.statusCode, 200, url);
      const table = /<table class="list"><thead><tr>(.*?)<\/tr><\/thead><tbody>([\s\S]*?)<\/tbody>/.exec(page.body);
      assert.ok(table, `${url} has a list table`);
      const headings = [...table[1]!.matchAll(/<th[^>]*>(.*?)<\/th>/g)].map((m) => m[1]);
      const shown = (list.columns as ListColumn<unknown>[]).filter((c) => c.page !== false);
      assert.deepEqual(headings, shown.map((c) => (c.page || {}).label ?? c.name), url);
      // the export's order: each shown column after the one before it in the definition
      const names = (list.columns as ListColumn<unknown>[]).map((c) => c.name);
      assert.deepEqual(shown.map((c) => names.indexOf(c.name)), [...shown.map((c) => names.indexOf(c.name))].sort((a, b) => a - b));
      const rows = [...table[2]!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)];
      for (const row of rows) assert.equal([...row[1]!.matchAll(/<td[\s>]/g)].length, row[1]!.includes('colspan=') ? 1 : shown.length, `${url}: ${row[1]}`);
    }
    // a list with nothing to show says so, as every list does
    assert.match((await get('/admin/access?user=nobody-at-all')).body, /<td colspan="8" class="note">no request in this range<\/td>/);
  });

  it('records who looked at what: route, filters, rows, how they logged in', async () => {
    await get('/api/audit?user=alice&text=salar', viewerToken);
    // The access log is written once the answer has gone out.
    const rows = await waitFor(async () => {
      const result = await pool.query(`SELECT user_name, auth, route, params, status, rows FROM pgwarden_repo.dashboard_access
        WHERE route = '/api/audit' AND params->>'text' = 'salar'`);
      return result.rows.length > 0 && result.rows;
    }, 5000, 'the access log entry');
    assert.equal(rows.length, 1);
    assert.deepEqual({ ...rows[0], params: { user: rows[0].params.user, text: rows[0].params.text } },
      { user_name: 'vera', auth: 'token:again', route: '/api/audit', params: { user: 'alice', text: 'salar' }, status: 200, rows: 3 });
    // up to a minute ahead: the row's time is the server's clock and the range's end this process's
    // (CI once found the row a moment after the default end, likely a clock step on a resumed machine)
    const to = new Date(Date.now() + 60_000).toISOString();
    const log = await json<{ items: { user: string; route: string }[] }>(`/api/admin/access?user=vera&route=%2Fapi%2Faudit&to=${to}`);
    assert.equal(log.items[0]?.user, 'vera', JSON.stringify(log));
  });

  it('runs the checks of the configured servers, stores them, and shows them in the API, the page and /metrics', async () => {
    await cluster.createRole('monitoring', 'monitoring-password');
    const client = new pg.Client({ connectionString: cluster.url('postgres') });
    await client.connect();
    await installMonitor(client, 'monitoring');
    await client.end();
    process.env.TEST_MONITOR_PASSWORD = 'monitoring-password';
    const url = new URL(cluster.url('postgres', 'monitoring', 'x'));
    url.password = '';
    const withServers = configSchema.parse({
      servers: { db1: { url: url.toString(), password_env: 'TEST_MONITOR_PASSWORD' } },
      serve: { monitor: { servers: ['db1'], interval_seconds: 3600 } },
    });
    let reported = 0;
    const loop = startMonitorLoop(withServers, pool, pino({ level: 'silent' }), (results) => { reported = results.length; });
    await loop.firstRound;
    await loop.stop();
    assert.equal(reported, 1);
    const status = await json<{ servers: { server: string; checks: { check_name: string; level: string }[] }[] }>('/api/monitoring');
    assert.equal(status.servers[0]!.server, 'db1');
    assert.equal(status.servers[0]!.checks.find((c) => c.check_name === 'alive')!.level, 'ok');
    assert.ok(status.servers[0]!.checks.length >= 40);
    assert.match((await get('/monitoring')).body, /<a href="\/monitoring\/check\?server=db1&amp;check=alive">alive<\/a><\/td><td>health<\/td><td class="level-ok">ok<\/td>/);
    // its history: the run just stored, in the API, as CSV, and on the check's page
    const history = await json<{ latest: { level: string }; runs: { level: string; value: number | null }[] }>('/api/monitoring/check?server=db1&check=alive');
    assert.equal(history.latest.level, 'ok');
    assert.equal(history.runs.length, 1);
    assert.match((await get('/api/monitoring/check?server=db1&check=alive&format=csv')).body, /^checked_at,level,summary,value,duration_ms\r\n.*,ok,/);
    assert.equal((await get('/api/monitoring/check?server=db1&check=nope')).statusCode, 404);
    // history older than serve.monitor.history_days goes as a run is stored
    const [run] = await checkServers(monitorTargets(withServers), { checks: ['alive'] });
    const client2 = await pool.connect();
    try {
      await storeResults(client2, run!, new Date(Date.now() - 40 * 86_400_000), 30);
      assert.equal((await pool.query(`SELECT count(*)::int AS n FROM pgwarden_repo.check_history WHERE checked_at < now() - interval '39 days'`)).rows[0].n, 1);
      await storeResults(client2, run!, new Date(), 30);
      assert.equal((await pool.query(`SELECT count(*)::int AS n FROM pgwarden_repo.check_history WHERE checked_at < now() - interval '39 days'`)).rows[0].n, 0);
    } finally {
      client2.release();
    }
    assert.match((await get('/monitoring/check?server=db1&check=alive')).body, /href="\/docs\/checks\/alive\.md"/);
    // the documentation it links to, and nothing else of the disk
    const doc = await get('/docs/checks/alive.md');
    assert.equal(doc.statusCode, 200);
    assert.match(doc.body, /<h2>How to resolve<\/h2>/);
    assert.doesNotMatch(doc.body, /<script|style=/, "nothing the Content-Security-Policy would refuse");
    for (const path of ['/docs/checks/../../package.json', '/docs/%2e%2e/package.json', '/docs/checks/nope.md', '/docs/README.md']) {
      assert.equal((await get(path)).statusCode, 404, path);
    }
    const metrics = await get('/metrics', viewerToken);
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /pgwarden_repository_events\{kind="audit",server="db1"\} 8/);
    assert.match(metrics.body, /pgwarden_http_requests_total\{method="GET",route="\/api\/audit",status="200"\} \d+/);
    assert.match(metrics.body, /pgwarden_dashboard_logins_total\{result="failed"\} \d+/);
  });

  it('manages users and tokens from the command line, passwords never on argv', async () => {
    const repo = ['--repo', cluster.url('repo')];
    const fromEnv = await runCli(['serve', 'user', 'add', 'carol', '--role', 'admin', '--password-env', 'CAROL_PW', ...repo], { CAROL_PW: 'carol has a long password' });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /user carol added \(role admin\)/);
    const short = await runCli(['serve', 'user', 'add', 'dave', '--password-env', 'DAVE_PW', ...repo], { DAVE_PW: 'short' });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /needs at least 12/);
    const twice = await runCli(['serve', 'user', 'add', 'carol', '--password-env', 'CAROL_PW', ...repo], { CAROL_PW: 'carol has a long password' });
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /user "carol" exists already/);
    assert.equal((await login('carol', 'carol has a long password')).statusCode, 303);
    const token = await runCli(['serve', 'token', 'add', '--user', 'carol', '--name', 'ci', '--expires', '30d', ...repo]);
    assert.equal(token.code, 0, token.stderr);
    const secret = token.stdout.trim();
    assert.match(secret, /^pgw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal((await get('/api/me', secret)).json().user, 'carol');
    const list = await runCli(['serve', 'token', 'list', '--user', 'carol', '--format', 'json', ...repo]);
    const listed = JSON.parse(list.stdout) as { id: string; name: string; expires_at: string }[];
    assert.equal(listed.length, 1);
    assert.ok(!list.stdout.includes(secret.slice(21)), 'the secret is never shown again');
    assert.equal((await runCli(['serve', 'token', 'revoke', listed[0]!.id, ...repo])).code, 0);
    assert.equal((await get('/api/me', secret)).statusCode, 401);
    const gone = await runCli(['serve', 'user', 'remove', 'nobody', ...repo]);
    assert.equal(gone.code, 6);
    const exposed = await runCli(['serve', '--listen', '0.0.0.0:0', ...repo]);
    assert.equal(exposed.code, 2);
    assert.match(exposed.stderr, /not a loopback address, and neither serve\.tls nor serve\.trust_proxy is set/);
  });

  it('keeps the dashboard\'s secrets from the report readers, and the dashboard login from writing events', async () => {
    await cluster.createRole('dash', 'dash-password-123');
    await cluster.createRole('auditor', 'auditor-password-123');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo'), '--server-login', 'dash']);
    assert.equal(migrate.code, 0, migrate.stderr);
    await cluster.query('GRANT pgwarden_repo_reader TO auditor', [], 'repo');
    const as = async (user: string, password: string, sql: string) => {
      const client = new pg.Client({ connectionString: cluster.url('repo', user, password) });
      await client.connect();
      try {
        await client.query(sql);
        return 'ok';
      } catch (error) {
        return (error as { code: string }).code;
      } finally {
        await client.end();
      }
    };
    assert.equal(await as('dash', 'dash-password-123', 'SELECT count(*) FROM pgwarden_repo.events'), 'ok');
    assert.equal(await as('dash', 'dash-password-123', 'SELECT password_hash FROM pgwarden_web.users'), 'ok');
    assert.equal(await as('dash', 'dash-password-123', `INSERT INTO pgwarden_repo.dashboard_access (auth, method, route, status) VALUES ('none', 'GET', '/', 200)`), 'ok');
    assert.equal(await as('dash', 'dash-password-123', `DELETE FROM pgwarden_repo.dashboard_access`), '42501');
    assert.equal(await as('dash', 'dash-password-123', `DELETE FROM pgwarden_repo.events`), '42501');
    assert.equal(await as('auditor', 'auditor-password-123', 'SELECT count(*) FROM pgwarden_repo.dashboard_access'), 'ok');
    assert.equal(await as('auditor', 'auditor-password-123', 'SELECT password_hash FROM pgwarden_web.users'), '42501');
    assert.equal(await as('auditor', 'auditor-password-123', 'SELECT secret_sha256 FROM pgwarden_web.tokens'), '42501');
  });

  it('prune drops the hourly counts with the days it drops', async () => {
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    try {
      await prune(client, new Date(Date.now() + 2 * 86_400_000));
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden_repo.event_counts');
      assert.equal(rows[0]!.n, 0);
    } finally {
      await client.end();
    }
  });

  it('limits logins per client address (last: it uses up this minute\'s allowance)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await login(`nobody${i}`, 'wrong password')).statusCode);
    assert.ok(statuses.includes(429), statuses.join(' '));
    assert.ok(statuses.filter((s) => s === 401).length < 21);
  });
});
