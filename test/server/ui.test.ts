// The dashboard end to end in Debian's chromium, driven by playwright-core: log in, search the
// audit records, open a session. Screenshots of each step go to test-artifacts/dashboard/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { configSchema } from '../../src/core/config.ts';
import { migrateRepository } from '../../src/repository/index.ts';
import { addUser, startServe, type RunningServe } from '../../src/server/index.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { morning, store } from './fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/dashboard/', import.meta.url));
const PASSWORD = 'browser test password';

describe('the dashboard in chromium', () => {
  let cluster: Cluster;
  let server: RunningServe;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-test-deps.sh (apt-get install chromium)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createDatabase('repo');
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    await migrateRepository(client);
    await addUser(client, 'auditor', 'viewer', PASSWORD);
    await client.end();
    await store(cluster.url('repo'), morning().events);
    server = await startServe({
      config: configSchema.parse({ serve: { listen: '127.0.0.1:0' } }),
      repository: { url: cluster.url('repo'), label: 'test repository' },
      log: pino({ level: 'silent' }),
    });
    profile = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 900 },
    });
    page = context.pages()[0] ?? await context.newPage();
    // A Content-Security-Policy violation or a script error would show here (the refused login's
    // own 401 is the one error the test causes on purpose).
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });
  after(async () => {
    await context?.close();
    await server?.close();
    await cluster?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('logs in, searches the audit records, opens a session', async () => {
    await page.goto(`${server.url}audit`);
    assert.match(new URL(page.url()).pathname, /^\/login$/, 'sent to the login page first');
    await page.fill('input[name=user]', 'auditor');
    await page.fill('input[name=password]', 'not it');
    await page.click('button[type=submit]');
    assert.match(await page.textContent('.error') ?? '', /Wrong user name or password/);
    await shot('1-login-refused');

    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/audit$/);
    assert.equal(await page.title(), 'Audit search · pgwarden');

    await page.fill('form[role=search] input[name=object]', 'hr.*');
    await page.fill('form[role=search] input[name=text]', 'salary');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForURL(/object=hr\.\*/);
    const rows = page.locator('main table tbody tr');
    assert.equal(await rows.count(), 3);
    assert.match(await rows.first().textContent() ?? '', /hr\.salary_history/);
    assert.match(await page.locator('main table').textContent() ?? '', /UPDATE hr\.salaries SET salary = salary \* 2/);
    await shot('2-audit-search');

    await rows.first().locator('a').first().click();
    await page.waitForURL(/\/session\?/);
    assert.equal(await page.title(), 'Session 6b0a0002.1002 · pgwarden');
    const facts = await page.locator('dl.facts').textContent() ?? '';
    assert.match(facts, /alice/);
    assert.match(facts, /psql/);
    const events = page.locator('main table tbody tr');
    assert.equal(await events.count(), 7, 'connection, authorization, four statements, disconnection');
    assert.match(await page.locator('main table').textContent() ?? '', /SELECT name, salary FROM hr\.salaries/);
    await shot('3-session');

    await page.click('header nav a[href="/"]');
    await page.waitForURL(/\/$/);
    assert.match(await page.locator('.cards').textContent() ?? '', /6\s*failed logins/);
    assert.equal(await page.locator('figure.chart svg rect').count() > 0, true, 'the chart has bars');
    await shot('4-overview');

    await page.click('header form button[type=submit]');
    await page.waitForURL(/\/login$/);
    await page.goto(`${server.url}audit`);
    assert.match(new URL(page.url()).pathname, /^\/login$/, 'logged out for real');
    assert.deepEqual(problems, []);
  });
});
