// pgwarden serve against what an attacker and a bad day send it, on a real repository (PostgreSQL
// 18): NUL bytes, absurd times and forged cursors are 400s (never an outage), every request is in
// the access log whatever it carried, X-Forwarded-For is believed only from the proxies configured,
// a flood of made-up names never unlocks a locked account, foreign Host names are refused (DNS
// rebinding), and SIGTERM does not wait forever for a client that stopped reading an export.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { configSchema } from '../../src/core/config.ts';
import { createPool } from '../../src/core/db.ts';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { SESSION_COOKIE, addToken, addUser, buildApp } from '../../src/server/index.ts';
import { encodeCursor } from '../../src/server/queries/paging.ts';
import { LoginThrottle, safeNext } from '../../src/server/routes/auth.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { freePort, startCluster, type Cluster } from '../harness/postgres.ts';
import { morning, store } from './fixtures.ts';

const PASSWORD = 'a long enough test password';
const ORIGIN = 'http://localhost:80';
const BIN = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));

describe('pgwarden serve under attack and at shutdown', () => {
  let cluster: Cluster;
  let pool: pg.Pool;
  let app: FastifyInstance;
  let token: string;
  const apps: FastifyInstance[] = [];

  const appWith = async (serve: Record<string, unknown>): Promise<FastifyInstance> => {
    const built = (await buildApp({ pool, config: configSchema.parse({ serve }).serve, log: pino({ level: 'silent' }) })).app;
    apps.push(built);
    return built;
  };
  const get = (url: string, headers: Record<string, string> = {}, on = app) => on.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}`, ...headers } });
  const login = (fields: Record<string, string>, query = '', headers: Record<string, string> = {}, on = app) => on.inject({
    method: 'POST', url: `/login${query}`, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...headers },
    payload: new URLSearchParams(fields).toString(),
  });
  type AccessRow = { user_name: string | null; auth: string; client_addr: string; method: string; route: string; params: Record<string, unknown>; status: number };
  /** The access log's newest rows, as an auditor reads them. */
  const accessRows = async (where = 'true') => (await pool.query<AccessRow>(
    `SELECT user_name, auth, client_addr, method, route, params, status FROM pgwarden_repo.dashboard_access WHERE ${where} ORDER BY id DESC LIMIT 50`)).rows;
  /** The rows, once there are at least `n` (a response is recorded just after it is sent). */
  const logged = (where: string, n = 1) => waitFor(async () => { const rows = await accessRows(where); return rows.length >= n ? rows : null; }, 5000, `access log: ${where}`);

  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createDatabase('repo');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo')]);
    assert.equal(migrate.code, 0, migrate.stderr);
    await store(cluster.url('repo'), morning().events);
    pool = createPool({ url: cluster.url('repo'), label: 'repo' }, 'pgwarden serve test', 4);
    await addUser(pool, 'admin', 'admin', PASSWORD);
    token = (await addToken(pool, 'admin', 'tests', null)).token;
    app = await appWith({});
  });
  after(async () => {
    for (const built of apps) await built.close();
    await pool?.end();
    await cluster?.stop();
  });

  it('a NUL byte anywhere is a 400, and the request is still in the access log', async () => {
    for (const url of ['/audit?user=%00', '/api/audit?text=a%00b', '/api/ddl?object=x%00', '/connections?client=%00', '/api/session?server=db1&id=%00']) {
      const response = await get(url);
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
      assert.match(response.body, /NUL byte/);
    }
    const [row] = await logged(`route = '/api/session'`);
    assert.deepEqual({ user: row!.user_name, status: row!.status, id: row!.params.id }, { user: 'admin', status: 400, id: '\uFFFD' });
    // a login with a NUL in its URL or its form, right password or wrong: refused, and recorded with the name tried
    for (const [fields, query] of [[{ user: 'admin', password: PASSWORD }, '?z=%00'], [{ user: 'admin', password: 'wrong' }, '?z=%00'], [{ user: 'ad\u0000min', password: PASSWORD }, '']] as const) {
      const before = (await accessRows(`route = '/login'`)).length;
      const response = await login(fields, query);
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.cookies.length, 0, 'no session');
      const rows = await logged(`route = '/login'`, before + 1);
      assert.equal(rows[0]!.user_name, fields.user.replace('\u0000', '\uFFFD'));
      assert.equal(rows[0]!.status, 400);
      assert.equal(rows[0]!.method, 'POST');
    }
    // requests nobody logged in for are recorded too, and one that matches no route names its path
    assert.equal((await app.inject({ method: 'GET', url: '/nowhere?q=%F0%9F%90%98' })).statusCode, 303);
    const [anonymous] = await logged(`params->>'path' = '/nowhere'`);
    assert.deepEqual({ user: anonymous!.user_name, auth: anonymous!.auth, q: anonymous!.params.q, status: anonymous!.status }, { user: null, auth: 'none', q: '🐘', status: 303 });
    assert.equal((await get('/nowhere/else')).statusCode, 404);
    assert.equal((await logged(`params->>'path' = '/nowhere/else'`))[0]!.user_name, 'admin');
  });

  it('absurd times and forged cursors are 400s, not "the repository cannot be read"', async () => {
    const forged = [
      encodeCursor({ ts: '1', key: ['a', '1'] }),
      encodeCursor({ ts: '2026-11-01T00:00:00.000000Z', key: ['/var/log/x', 'twelve'] }),
      encodeCursor({ ts: '2026-11-01T00:00:00.000000Z', key: ['only one'] }),
      encodeCursor({ ts: '2026-11-01 00:00:00+00', w: 60_000 }),
      encodeCursor({ ts: '0099-01-01T00:00:00Z' }),
      'not-base64-json',
    ];
    const urls = [
      '/api/audit?from=9999999999d', '/audit?from=9999999999d', '/api/audit?from=0001-01-01', '/api/overview?to=99999-01-01',
      '/api/ddl?from=2026-02-30T25:00', ...forged.flatMap((c) => [`/api/audit?cursor=${c}`, `/api/admin/access?cursor=${c}`, `/api/connections/refused?cursor=${c}`]),
      ...[forged[0], forged[3], forged[4], forged[5]].map((c) => `/api/sessions?cursor=${c}`),
      `/api/session?server=db1&id=6b0a0002.1002&cursor=${forged[1]}`, `/session?server=db1&id=6b0a0002.1002&cursor=${forged[0]}`,
    ];
    for (const url of urls) {
      const response = await get(url);
      assert.equal(response.statusCode, 400, `${url}: ${response.statusCode} ${response.body.slice(0, 200)}`);
    }
    assert.match((await get('/api/audit?from=9999999999d')).json<{ error: string }>().error, /from "9999999999d" is before 1970/);
  });

  it('a CSRF token of the right length in multi-byte characters is refused (403), not a 500', async () => {
    const response = await login({ user: 'admin', password: PASSWORD });
    const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE)!;
    const forged = 'é'.repeat(43);
    const logout = await app.inject({
      method: 'POST', url: '/logout', cookies: { [SESSION_COOKIE]: cookie.value },
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }, payload: `_csrf=${encodeURIComponent(forged)}`,
    });
    assert.equal(logout.statusCode, 403, logout.body);
  });

  it('next=/中 after a login is a redirect to the encoded path, not a 500', async () => {
    const response = await login({ user: 'admin', password: PASSWORD, next: '/中?x=é' });
    assert.equal(response.statusCode, 303, response.body);
    assert.equal(response.headers.location, '/%E4%B8%AD?x=%C3%A9');
    assert.ok(response.cookies.some((c) => c.name === SESSION_COOKIE));
    for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example']) {
      assert.equal((await login({ user: 'admin', password: PASSWORD, next })).headers.location, '/', next);
    }
    // (a form cannot carry a lone surrogate; JSON could)
    assert.equal(safeNext('/\uD800'), '/');
  });

  it('refuses a Host it does not answer to (DNS rebinding); IP addresses, localhost and serve.hosts are fine', async () => {
    for (const host of ['evil.example', 'rebind.attacker.test:8080', 'pgwarden.example.com']) {
      const response = await app.inject({ method: 'GET', url: '/healthz', headers: { host } });
      assert.equal(response.statusCode, 421, host);
      assert.match(response.body, /does not answer to the host name/);
    }
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', '10.0.0.5']) {
      assert.equal((await app.inject({ method: 'GET', url: '/healthz', headers: { host } })).statusCode, 200, host);
    }
    const named = await appWith({ hosts: ['pgwarden.example.com'] });
    assert.equal((await named.inject({ method: 'GET', url: '/healthz', headers: { host: 'PGWARDEN.example.com:443' } })).statusCode, 200);
    assert.equal((await named.inject({ method: 'GET', url: '/healthz', headers: { host: 'evil.example' } })).statusCode, 421);
    assert.equal((await get('/audit', { host: 'evil.example' })).statusCode, 421);
    assert.equal((await logged(`status = 421 AND route = '/audit'`))[0]!.user_name, null, 'refused before the token was looked at');
  });

  it('trust_proxy: a hop count or the proxies\' addresses; a client cannot choose its own address', async () => {
    assert.throws(() => configSchema.parse({ serve: { trust_proxy: true } }), /true trusted every hop.*give the number of proxies in front \(1 for one nginx\) or their addresses/);
    for (const [name, setting] of [['one hop', 1], ['the proxy by address', ['127.0.0.1']]] as const) {
      const behind = await appWith({ trust_proxy: setting });
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) {
        // the client writes anything it likes on the left; the proxy appends the address it saw
        const response = await login({ user: `nobody${i}`, password: 'wrong' }, '', { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.9` }, behind);
        statuses.push(response.statusCode);
      }
      assert.equal(statuses.filter((s) => s === 429).length, 4, `${name}: rate-limited after 20 logins from one real client (${statuses.join(' ')})`);
      const [row] = await logged(`route = '/login' AND user_name = 'nobody19' AND client_addr <> '127.0.0.1'`);
      assert.equal(row!.client_addr, '203.0.113.9', name);
    }
    // a list that does not name the peer: X-Forwarded-For is not believed at all
    const other = await appWith({ trust_proxy: ['10.0.0.1'] });
    await login({ user: 'nobody-direct', password: 'wrong' }, '', { 'x-forwarded-for': '198.51.100.1' }, other);
    assert.equal((await logged(`user_name = 'nobody-direct'`))[0]!.client_addr, '127.0.0.1');
  });

  it('a flood of made-up names never unlocks a locked-out user; what is not locked out is forgotten first', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 5; i++) throttle.failed('admin');
    assert.equal(throttle.wait('admin'), 30_000);
    for (let i = 0; i < 10_010; i++) throttle.failed(`made-up-${i}`);
    now += 1000;
    assert.equal(throttle.wait('admin'), 29_000, 'still locked out');
    assert.ok(throttle.size <= 10_000, `${throttle.size} names kept`);
    // 10,010 other locked-out names: every lock-out stays, whatever memory it takes for its 15 minutes at most
    for (let i = 0; i < 10_010; i++) for (let j = 0; j < 5; j++) throttle.failed(`locked-${i}`);
    assert.ok(throttle.wait('admin') > 0 && throttle.wait('locked-0') > 0 && throttle.wait('locked-10009') > 0);
    now += 900_001;
    throttle.failed('later');
    for (let i = 0; i < 1000; i++) throttle.failed(`after-${i}`);
    assert.ok(throttle.size <= 10_000, 'ended lock-outs are forgotten again');
  });

  it('on SIGTERM, waits serve.shutdown_seconds for a client that stopped reading an export, then exits', async () => {
    // an export far bigger than the socket buffers: 40,000 audit records with long statements
    const big: PgwardenEvent[] = Array.from({ length: 40_000 }, (_, i) => ({
      ...newEvent('audit', 'db2', { input: '/var/log/big.csv', position: i * 2000, line: i + 1 }),
      ts: new Date(Date.now() - 60_000 + i).toISOString(), user: 'loader', database: 'shop',
      audit: { type: 'SESSION' as const, statement_id: i, substatement_id: 1, class: 'WRITE', command: 'INSERT', object_type: 'TABLE', object_name: 'public.big', statement: `INSERT INTO big VALUES (${i}, '${'x'.repeat(1000)}')`, parameters: null, statement_logged: 'yes' as const, rows: 1 },
    }));
    await store(cluster.url('repo'), big);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-serve-'));
    const port = await freePort();
    writeFileSync(path.join(dir, 'pgwarden.yaml'), `serve: { listen: "127.0.0.1:${port}", shutdown_seconds: 1 }\n`);
    const serve = spawn(process.execPath, [BIN, 'serve', '--config', path.join(dir, 'pgwarden.yaml'), '--repo', cluster.url('repo')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    serve.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => stderr.length >= 0 && await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), 20_000, 'serve listening');
      // a client that asks for everything and then reads nothing
      const stalled = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/api/audit/export?format=csv&from=1h&server=db2', headers: { authorization: `Bearer ${token}` } }, resolve);
        req.on('error', reject);
        req.end();
      });
      assert.equal(stalled.statusCode, 200);
      stalled.pause();
      stalled.on('error', () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      serve.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000))]);
      assert.equal(code, 0, stderr);
      assert.match(stderr, /requests still running at shutdown .*closing their connections/);
      stalled.destroy();
    } finally {
      if (serve.exitCode === null) serve.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
