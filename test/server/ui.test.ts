// The dashboard end to end in Debian's chromium, driven by playwright-core, as an auditor works
// in it: log in, search, open a session, follow counts to their events, pick a time range, read a
// check's history and documentation. Every page is checked at 1280 px for overlapping elements
// and sideways scrolling, and photographed at 1280 and 1920 px into test-artifacts/dashboard/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { LONG_SCRIPT, PASSWORD, startDashboard, type Dashboard } from './dashboard-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/dashboard/', import.meta.url));

/** The pages an auditor goes through (paths below the server's URL). */
const PAGES = ['', 'connections', 'ddl', 'audit', 'sessions', 'session?server=db1&id=6b0a0002.1002', 'alerts', 'monitoring',
  'monitoring/check?server=db1&check=connections', 'docs/checks/pgaudit.md', 'admin/access', 'admin/users',
  'incidents', 'incident?id=fixture-brute_force', 'incident?id=fixture-sensitive_write'];

/**
 * What is wrong with the layout of the page: anything wider than the window, an element sticking
 * out of its parent sideways, or two siblings whose boxes (each line of an inline one) overlap.
 */
async function layoutProblems(page: Page): Promise<string[]> {
  // Plain JavaScript run in the page: a function here would be compiled with helpers (esbuild's
  // __name) that the page does not have.
  return page.evaluate(`(() => {
    const problems = [];
    const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
      + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
    const shown = (el) => {
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      return style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0 && box.height > 0;
    };
    if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page is ' + document.documentElement.scrollWidth + ' px wide in a ' + window.innerWidth + ' px window');
    const elements = [...document.body.querySelectorAll('*')].filter((el) => !(el.closest('svg') && el.tagName.toLowerCase() !== 'svg') && shown(el));
    const listed = new Set(elements);
    for (const el of elements) {
      const box = el.getBoundingClientRect();
      if (box.right > window.innerWidth + 0.5) problems.push(name(el) + ' reaches ' + Math.round(box.right) + ' px, past the window');
      const parent = el.parentElement;
      const outer = parent.getBoundingClientRect();
      if (parent !== document.body && (box.left < outer.left - 1 || box.right > outer.right + 1)) {
        problems.push(name(el) + ' (' + Math.round(box.left) + '–' + Math.round(box.right) + ') sticks out of ' + name(parent) + ' (' + Math.round(outer.left) + '–' + Math.round(outer.right) + ')');
      }
    }
    for (const parent of [document.body, ...elements]) {
      const children = [...parent.children].filter((c) => listed.has(c));
      const fragments = children.map((c) => [...c.getClientRects()].filter((r) => r.width > 0 && r.height > 0));
      for (let i = 0; i < children.length; i++) {
        for (let j = i + 1; j < children.length; j++) {
          for (const a of fragments[i]) for (const b of fragments[j]) {
            const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
            const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
            if (w > 1 && h > 1) problems.push(name(children[i]) + ' overlaps ' + name(children[j]) + ' (' + Math.round(w) + '×' + Math.round(h) + ' px)');
          }
        }
      }
    }
    return [...new Set(problems)].slice(0, 20);
  })()`);
}

describe('the dashboard in chromium', () => {
  let dashboard: Dashboard;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const go = async (where: string) => { await page.goto(base + where); };
  /** The rows of the page's (first) list as one would read them: cells apart, spaces squeezed. */
  const rowsText = async (table = page.locator('main table.list').first()) =>
    (await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).innerText))).map((t) => t.replace(/\s+/g, ' ').trim());

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-test-deps.sh (apt-get install chromium)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    dashboard = await startDashboard();
    base = dashboard.server.url;
    profile = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      timezoneId: 'Europe/Berlin',
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
    await dashboard?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('logs in (after a refused attempt), searches the audit records, opens a session', async () => {
    await go('audit');
    assert.match(new URL(page.url()).pathname, /^\/login$/, 'sent to the login page first');
    await page.fill('input[name=user]', 'admin');
    await page.fill('input[name=password]', 'not it');
    await page.click('button[type=submit]');
    assert.match(await page.textContent('.error') ?? '', /Wrong user name or password/);
    await shot('login-refused');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/audit$/);
    assert.equal(await page.title(), 'Audit search · pgwarden');

    await page.fill('form[role=search] input[name=object]', 'hr.*');
    await page.fill('form[role=search] input[name=text]', 'salary');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForURL(/object=hr\.\*/);
    const rows = await rowsText();
    assert.equal(rows.length, 5, rows.join('\n'));
    assert.match(rows.join('\n'), /UPDATE hr\.salaries SET salary = salary \* 2/);
    // the two records of one UPDATE: one SESSION, one OBJECT, the same statement id
    const update = rows.filter((r) => r.includes('salary * 1.1'));
    assert.deepEqual(update.map((r) => /\b(SESSION|OBJECT) (\d+\.\d+)/.exec(r)?.slice(1).join(' ')).sort(), ['OBJECT 9.1', 'SESSION 9.1']);

    await page.locator('main table.list tbody tr', { hasText: 'salary_history' }).locator('a').first().click();
    await page.waitForURL(/\/session\?/);
    assert.equal(await page.title(), 'Session 6b0a0002.1002 · pgwarden');
    assert.match(await page.locator('dl.facts').textContent() ?? '', /alice.*psql/s);
    assert.match(await page.locator('main table').textContent() ?? '', /SELECT name, salary FROM hr\.salaries/);
  });

  it('every page: nothing overlaps, nothing scrolls sideways at 1280 px; photographed at 1280 and 1920 px', async () => {
    const found: string[] = [];
    for (const width of [1280, 1920]) {
      await page.setViewportSize({ width, height: 900 });
      for (const where of PAGES) {
        await go(where);
        assert.ok(!(await page.title()).startsWith('Error'), `${where}: ${await page.title()}`);
        if (width === 1280) found.push(...(await layoutProblems(page)).map((p) => `/${where}: ${p}`));
        await shot(`${width}-${where.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '') || 'overview'}`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.deepEqual(found, []);
  });

  it('a long statement shows its start, and all of it on a click (no script)', async () => {
    await go('audit?command=ALTER%20TABLE');
    const details = page.locator('td.statement details.long').first();
    assert.match(await details.locator('summary').textContent() ?? '', /^\/\* release 2026\.11\.30 \*\/ ALTER TABLE .*…$/);
    assert.equal(await details.locator('.whole').isVisible(), false);
    await details.locator('summary').click();
    assert.equal(await details.locator('.whole').isVisible(), true);
    assert.equal(await details.locator('.whole').textContent(), LONG_SCRIPT);
    assert.deepEqual(await layoutProblems(page), [], 'opened, it still fits');
    await shot('audit-statement-opened');
  });

  it('a from/to picker on every page keeps the other filters, and the range holds', async () => {
    for (const where of ['', 'connections', 'ddl', 'audit', 'sessions', 'alerts', 'incidents', 'monitoring', 'admin/access']) {
      await go(where);
      assert.equal(await page.locator('form.range input[type=datetime-local][name=from]').count(), 1, `/${where} has a from field`);
      assert.equal(await page.locator('form.range input[type=datetime-local][name=to]').count(), 1, `/${where} has a to field`);
    }
    await go('audit?object=hr.*');
    const now = Date.now();
    const field = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString().slice(0, 16);
    await page.fill('form.range input[name=from]', field(75));
    await page.fill('form.range input[name=to]', field(45));
    await page.click('form.range button[type=submit]');
    await page.waitForURL(/to=/);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('object'), 'hr.*', 'the object filter stayed');
    assert.equal(url.searchParams.get('from'), field(75));
    const times = await page.locator('main table.list tbody td.time').allTextContents();
    assert.ok(times.length > 0);
    for (const t of times) {
      const at = Date.parse(`${t.replace(' ', 'T')}Z`);
      assert.ok(at >= Date.parse(`${field(75)}Z`) && at < Date.parse(`${field(45)}Z`), `${t} is in the range`);
    }
    // and filtering keeps the range
    await page.fill('form[role=search] input[name=command]', 'UPDATE');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForURL(/command=UPDATE/);
    assert.equal(new URL(page.url()).searchParams.get('to'), field(45));
  });

  it('counts lead to their events: connections by user, application and client; the overview by kind', async () => {
    await go('connections');
    await page.locator('table.breakdown', { hasText: 'user' }).first().locator('a', { hasText: /^mallory$/ }).click();
    await page.waitForURL(/user=mallory/);
    const refused = await rowsText();
    assert.equal(refused.length, 6);
    assert.ok(refused.every((r) => /auth_failed .*mallory/.test(r)), refused.join('\n'));
    await go('connections');
    const appOrders = page.locator('table.breakdown tr', { hasText: /^\s*app_orders/ }).first();
    await appOrders.locator('td.num a').first().click();
    await page.waitForURL(/\/sessions\?.*user=app_orders/);
    assert.equal((await rowsText()).length, 2, 'its two sessions');
    await go('connections');
    await page.locator('table.breakdown tr', { hasText: '10.0.0.77' }).locator('td.num a').click();
    await page.waitForURL(/kind=guard_deny/);
    assert.deepEqual((await rowsText()).map((r) => /guard_deny db1 app_orders/.test(r)), [true]);
    await go('');
    await page.locator('main table a', { hasText: /^ddl$/ }).click();
    await page.waitForURL(/\/ddl/);
    assert.equal((await rowsText()).length, 5);
  });

  it('monitoring: a history per check, its page and its documentation; an alert\'s check link lands on the check', async () => {
    await go('monitoring');
    const connections = page.locator('tr#check-connections');
    const cells = connections.locator('svg.strip rect[fill]');
    assert.ok(await cells.count() >= 3, 'the background and the runs');
    assert.ok((await cells.evaluateAll((rects) => rects.map((r) => r.getAttribute('fill')))).includes('#e8a33b'), 'the run at warning is in the strip');
    assert.equal(await connections.locator('a', { hasText: 'doc' }).getAttribute('href'), '/docs/checks/connections.md');

    await go('alerts');
    await page.locator('main table a', { hasText: /^pgaudit$/ }).click();
    await page.waitForURL(/\/monitoring\/check\?server=db1&check=pgaudit/);
    assert.equal(await page.title(), 'pgaudit on db1 · pgwarden');
    assert.equal((await rowsText(page.locator('main table.list').last())).length, 3, 'three runs');
    await page.locator('a', { hasText: 'What this check measures' }).click();
    await page.waitForURL(/\/docs\/checks\/pgaudit\.md$/);
    assert.equal(await page.title(), 'pgaudit · pgwarden');
    assert.match(await page.locator('article.doc').textContent() ?? '', /How to resolve/);

    await go('monitoring/check?server=db1&check=connections');
    const runs = await rowsText(page.locator('main table.list').last());
    assert.deepEqual(runs.map((r) => /\b(ok|warning)\b/.exec(r)?.[1]), ['ok', 'ok', 'warning'], 'newest first; the oldest run had the stricter threshold');
    assert.equal(await page.locator('figure.chart > svg > rect').count(), 3, 'a bar per run');
  });

  it('incidents: filtered by state, opened to their events, acknowledged with a comment by an admin', async () => {
    await go('');
    assert.match(await page.locator('a.card', { hasText: 'open incidents' }).textContent() ?? '', /^\s*1\s*open incidents/);
    await go('incidents');
    assert.equal((await rowsText()).length, 2);
    await page.selectOption('form.filters select[name=state]', 'open');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/state=open/);
    const open = await rowsText();
    assert.equal(open.length, 1, open.join('\n'));
    assert.match(open[0]!, /brute_force high open 4 db1/);
    await page.locator('main table.list a', { hasText: 'brute_force' }).click();
    await page.waitForURL(/\/incident\?id=fixture-brute_force/);
    const events = await rowsText(page.locator('main table.list').last());
    assert.equal(events.length, 4);
    assert.ok(events.every((r) => /auth_failed FATAL service_account_for_reporting_\d/.test(r)), events.join('\n'));
    await page.fill('form[action="/incident/state"] input[name=comment]', 'Rotating the service account passwords');
    await page.click('form[action="/incident/state"] button[value=acknowledged]');
    await page.waitForURL(/\/incident\?id=fixture-brute_force/);
    assert.match(await page.locator('dl.facts').textContent() ?? '', /acknowledged\s*by admin/);
    assert.match((await rowsText(page.locator('main table.comments'))).join('\n'), /admin acknowledged Rotating the service account passwords/);
    assert.deepEqual(await layoutProblems(page), []);
    await shot('incident-acknowledged');
    await go('');
    assert.match(await page.locator('a.card', { hasText: 'open incidents' }).textContent() ?? '', /^\s*0\s*open incidents/);
  });

  it('logs out for real, and nothing broke the Content-Security-Policy', async () => {
    await go('');
    await page.click('header form button[type=submit]');
    await page.waitForURL(/\/login$/);
    await go('audit');
    assert.match(new URL(page.url()).pathname, /^\/login$/);
    assert.deepEqual(problems, []);
  });
});
