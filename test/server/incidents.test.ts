// Incidents end to end (issue 18): a log ingested into the repository and replayed through the
// detection rules with `detect replay --repo` (twice: one incident, updated), then the dashboard —
// the Incidents list with its filters and exports, the incident page with its events joined from
// the repository, an admin's acknowledge and comment (CSRF-checked; a viewer cannot), and the
// Overview's count of open incidents.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import pino from 'pino';
import { configSchema } from '../../src/core/config.ts';
import { createPool } from '../../src/core/db.ts';
import { SESSION_COOKIE, addToken, addUser, buildApp } from '../../src/server/index.ts';
import { runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PASSWORD = 'a long enough test password';
const ORIGIN = 'http://localhost:80';
const PREFIX = '%m [%p] %q%u@%d ';

describe('incidents: stored by detect replay --repo, shown and acted on in the dashboard', () => {
  let cluster: Cluster;
  let dir: string;
  let pool: pg.Pool;
  let app: FastifyInstance;
  let adminToken: string;
  let viewerToken: string;
  let log: string;
  const failures = Array.from({ length: 6 }, (_, i) => `2026-11-23 10:00:0${i}.000 UTC [${900 + i}] eve@shop FATAL:  password authentication failed for user "eve"\n`
    + `2026-11-23 10:00:0${i}.000 UTC [${900 + i}] eve@shop DETAIL:  Connection matched pg_hba.conf line 91: "host all all 0.0.0.0/0 scram-sha-256"\n`).join('');
  const get = (url: string, token = adminToken) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const json = async <T = Record<string, unknown>>(url: string, token = adminToken): Promise<T> => {
    const response = await get(url, token);
    assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
    return response.json() as T;
  };
  const form = (url: string, cookie: string, fields: Record<string, string>, origin = ORIGIN) => app.inject({
    method: 'POST', url, cookies: { [SESSION_COOKIE]: cookie },
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString(),
  });
  const sessionOf = async (user: string) => {
    const response = await app.inject({
      method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
      payload: new URLSearchParams({ user, password: PASSWORD, next: '/' }).toString(),
    });
    return response.cookies.find((c) => c.name === SESSION_COOKIE)!.value;
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-incidents-'));
    log = path.join(dir, 'postgresql.log');
    writeFileSync(log, failures);
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createDatabase('repo');
    await cluster.createRole('ingest_login', 'ingest-pw');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo'), '--writer-login', 'ingest_login']);
    assert.equal(migrate.code, 0, migrate.stderr);
    const ingest = await runCli(['ingest', '--repo', cluster.url('repo', 'ingest_login', 'ingest-pw'), '--server', 'db1', '--prefix', PREFIX, log]);
    assert.equal(ingest.code, 0, ingest.stderr);
    pool = createPool({ url: cluster.url('repo'), label: 'repo' }, 'pgwarden serve test', 4);
    await addUser(pool, 'admin', 'admin', PASSWORD);
    await addUser(pool, 'vera', 'viewer', PASSWORD);
    adminToken = (await addToken(pool, 'admin', 'tests', null)).token;
    viewerToken = (await addToken(pool, 'vera', 'tests', null)).token;
    app = (await buildApp({ pool, config: configSchema.parse({}).serve, log: pino({ level: 'silent' }) })).app;
  });
  after(async () => {
    await app?.close();
    await pool?.end();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('detect replay --repo stores the alerts as incidents, once however often it runs, as the writer login', async () => {
    const repo = cluster.url('repo', 'ingest_login', 'ingest-pw');
    const first = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', repo, log]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim().split('\n').length, 1, 'the alert is still printed');
    assert.match(first.stderr, /^stored 1 incident \(1 new\) in repository postgres:\/\/ingest_login:\*\*\*@/m);
    // spelled another way (relative, through ..): the same input, so the same incident
    const spelled = path.relative(process.cwd(), path.join(dir, '..', path.basename(dir), 'postgresql.log'));
    const again = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', repo, spelled]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^stored 1 incident \(0 new\)/m);
    assert.equal(JSON.parse(again.stdout).events[0].input, log);
    const { rows } = await cluster.query('SELECT rule, count::int AS count, server, user_name FROM pgwarden_repo.incidents', [], 'repo');
    assert.deepEqual(rows, [{ rule: 'brute_force', count: 6, server: 'db1', user_name: 'eve' }]);
    // a repository that is not one: a one-line error with its code, no stack
    const bad = await runCli(['detect', 'replay', '--prefix', PREFIX, '--repo', cluster.url('postgres'), log]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /PGW_ERR_NOT_INSTALLED/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });

  it('lists incidents with the filters and the time range, and exports them', async () => {
    const all = await json<{ items: { id: string; rule: string; state: string; count: number; last_ts: string }[] }>('/api/incidents?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z');
    assert.equal(all.items.length, 1);
    assert.deepEqual([all.items[0]!.rule, all.items[0]!.state, all.items[0]!.count, all.items[0]!.last_ts], ['brute_force', 'open', 6, '2026-11-23T10:00:05.000Z']);
    const outside = await json<{ items: unknown[] }>('/api/incidents?from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z');
    assert.equal(outside.items.length, 0, 'the time range applies');
    for (const [filter, n] of [['rule=brute_force', 1], ['rule=other', 0], ['severity=low', 0], ['state=open', 1], ['state=resolved', 0], ['server=db1', 1]] as const) {
      const page = await json<{ items: unknown[] }>(`/api/incidents?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&${filter}`);
      assert.equal(page.items.length, n, filter);
    }
    const bad = await get('/api/incidents?state=closed%27%20OR%201=1');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /state "closed' OR 1=1" is not one of open, acknowledged, resolved/);
    const csv = await get('/api/incidents/export?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&format=csv');
    assert.equal(csv.statusCode, 200);
    assert.match(csv.body.split('\n')[0]!, /^last_ts,first_ts,id,rule,severity,state,/);
    assert.match(csv.body, /brute_force/);
    const page = await get('/incidents?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z', viewerToken);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, new RegExp(`<a href="/incident\\?id=${all.items[0]!.id}">brute_force</a>`));
  });

  it('an incident\'s page shows its events from the repository; an admin acknowledges and comments, a viewer cannot', async () => {
    const [{ id }] = (await json<{ items: { id: string }[] }>('/api/incidents?from=3650d')).items as [{ id: string }];
    const detail = await json<{ events: { kind: string | null; user_name: string | null; source_position: number }[] }>(`/api/incident?id=${id}`);
    assert.ok(detail.events.length >= 2);
    assert.ok(detail.events.every((e) => e.kind === 'auth_failed' && e.user_name === 'eve'), JSON.stringify(detail.events));
    assert.equal((await get('/api/incident?id=nope')).statusCode, 404);
    assert.equal((await json<{ open_incidents: number }>('/api/overview')).open_incidents, 1);

    // a viewer: no forms on the page, and the POST is refused
    const viewer = await sessionOf('vera');
    const viewerPage = await app.inject({ method: 'GET', url: `/incident?id=${id}`, cookies: { [SESSION_COOKIE]: viewer } });
    assert.equal(viewerPage.statusCode, 200);
    assert.doesNotMatch(viewerPage.body, /action="\/incident\/state"/);
    const viewerCsrf = /name="_csrf" value="([^"]+)"/.exec(viewerPage.body)![1]!;
    assert.equal((await form('/incident/state', viewer, { _csrf: viewerCsrf, id, state: 'resolved' })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/incident/state', headers: { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' }, payload: { id, state: 'resolved' } })).statusCode, 403);

    // an admin: without the CSRF token, or from another site, refused; with it, done and recorded
    const admin = await sessionOf('admin');
    const adminPage = await app.inject({ method: 'GET', url: `/incident?id=${id}`, cookies: { [SESSION_COOKIE]: admin } });
    assert.match(adminPage.body, /action="\/incident\/state"/);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(adminPage.body)![1]!;
    assert.equal((await form('/incident/state', admin, { id, state: 'acknowledged' })).statusCode, 403);
    assert.equal((await form('/incident/state', admin, { _csrf: csrf, id, state: 'acknowledged' }, 'https://evil.example')).statusCode, 403);
    assert.equal((await form('/incident/state', admin, { _csrf: csrf, id, state: 'closed' })).statusCode, 400);
    assert.equal((await form('/incident/state', admin, { _csrf: csrf, id: 'nope', state: 'resolved' })).statusCode, 404);
    const ack = await form('/incident/state', admin, { _csrf: csrf, id, state: 'acknowledged', comment: 'looking into it' });
    assert.equal(ack.statusCode, 303, ack.body);
    assert.equal(ack.headers.location, `/incident?id=${id}`);
    const hostile = '<script>alert(1)</script> & "quotes"';
    assert.equal((await form('/incident/comment', admin, { _csrf: csrf, id, comment: hostile })).statusCode, 303);
    assert.equal((await form('/incident/comment', admin, { _csrf: csrf, id, comment: '   ' })).statusCode, 400);
    // an API token (no session, so no CSRF token) may act too, as an admin
    const resolved = await app.inject({ method: 'POST', url: '/incident/state', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', origin: ORIGIN }, payload: { id, state: 'resolved' } });
    assert.equal(resolved.statusCode, 200, resolved.body);

    const after = await json<{ incident: { state: string; state_by: string }; comments: { user_name: string; action: string; body: string }[] }>(`/api/incident?id=${id}`);
    assert.deepEqual([after.incident.state, after.incident.state_by], ['resolved', 'admin']);
    assert.deepEqual(after.comments.map((c) => [c.user_name, c.action, c.body]),
      [['admin', 'acknowledged', 'looking into it'], ['admin', 'comment', hostile], ['admin', 'resolved', '']]);
    const shown = await app.inject({ method: 'GET', url: `/incident?id=${id}`, cookies: { [SESSION_COOKIE]: admin } });
    assert.ok(shown.body.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;'));
    assert.ok(!shown.body.includes('<script>'));
    assert.equal((await json<{ open_incidents: number }>('/api/overview')).open_incidents, 0);
    const overview = await app.inject({ method: 'GET', url: '/', cookies: { [SESSION_COOKIE]: admin } });
    assert.match(overview.body, /<div class="n">0<\/div><div class="what">open incidents \(any time\)<\/div>/);
    // the writer storing the incident again keeps the admin's state
    const replay = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', cluster.url('repo', 'ingest_login', 'ingest-pw'), log]);
    assert.equal(replay.code, 0, replay.stderr);
    const kept = (await json<{ incident: { state: string; count: number; since_state: number } }>(`/api/incident?id=${id}`)).incident;
    assert.deepEqual([kept.state, kept.count, kept.since_state], ['resolved', 6, 0]);
    // the attack goes on after it was resolved: still resolved (the writer may not reopen it), but
    // the list and the page say how many events came since — the writer cannot hide them
    appendFileSync(log, [6, 7].map((s) => `2026-11-23 10:00:0${s}.000 UTC [${900 + s}] eve@shop FATAL:  password authentication failed for user "eve"\n`).join(''));
    const more = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', cluster.url('repo', 'ingest_login', 'ingest-pw'), log]);
    assert.match(more.stderr, /^stored 1 incident \(0 new\)/m);
    const grown = (await json<{ incident: { state: string; count: number; since_state: number } }>(`/api/incident?id=${id}`)).incident;
    assert.deepEqual([grown.state, grown.count, grown.since_state], ['resolved', 8, 2]);
    const listed = await json<{ items: { since_state: number }[] }>('/api/incidents?from=3650d&state=resolved');
    assert.equal(listed.items[0]!.since_state, 2);
    const grownPage = await app.inject({ method: 'GET', url: `/incident?id=${id}`, cookies: { [SESSION_COOKIE]: admin } });
    assert.match(grownPage.body, /<span class="grew">— 2 more events since<\/span>/);
  });
});
