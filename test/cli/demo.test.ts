// The README's first command: `pgwarden demo` runs its whole tour on a disposable PostgreSQL,
// stores what happened in a repository, serves the dashboard with a one-time password, and
// removes everything on Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { chooseFlavor } from '../../src/demo/demo.ts';
import { runCli } from '../harness/cli.ts';

const BIN = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));

describe('pgwarden demo', () => {
  it('uses PostgreSQL 15 with pgAudit when both are installed, otherwise 18 and says what is missing', () => {
    assert.deepEqual(chooseFlavor(() => true), { flavor: 'pg15', missing: null });
    assert.deepEqual(chooseFlavor(() => false), { flavor: 'pg18', missing: 'postgresql-15 and postgresql-15-pgaudit' });
    assert.deepEqual(chooseFlavor((file) => !file.endsWith('pgaudit.so')), { flavor: 'pg18', missing: 'postgresql-15-pgaudit' });
  });

  it('plays the tour, stores it, serves the dashboard with a one-time password, and cleans up on Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--serve-for', '120'], { env: { ...process.env, PGWARDEN_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const kill = setTimeout(() => child.kill('SIGKILL'), 150_000);
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/one-time password \S+/.test(out)) resolve();
      });
    });
    try {
      await Promise.race([ready, exited.then(() => { throw new Error(`demo ended early:\n${out.slice(-3000)}\n${err}`); })]);
      const url = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!;
      const password = /one-time password (\S+)/.exec(out)![1]!;
      const flavor = /PostgreSQL 15 with pgAudit/.test(out) ? 'pg15' : 'pg18';
      const dataDir = /logs \(csvlog\) in (\S+)\/log/.exec(out)![1]!;
      assert.ok(existsSync(dataDir));

      // The terminal shows the tour: refusals, failed logins, DDL with its ticket, the freeze, tampering, reports.
      assert.match(out, flavor === 'pg15' ? /the GUI session sees: terminating connection due to administrator command/ : /DBeaver 24\.1\.0 - Main.*REFUSED/);
      assert.match(out, /CREATE TABLE\s+ddl_command_end\s+table\s+public\.refunds\s+CHG-1042/);
      assert.match(out, /schema changes are frozen until .* \(SQLSTATE 55000\)/);
      assert.match(out, /DISABLED\s+event trigger pgwarden_(guard_login|ddl_command_end)/);
      assert.match(out, /demo\s+mallory\s+postgres\s+127\.0\.0\.1\s+6\s/);

      const login = await fetch(`${url}login`, {
        method: 'POST', redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url.replace(/\/$/, '') },
        body: new URLSearchParams({ user: 'admin', password }).toString(),
      });
      assert.equal(login.status, 303);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const api = async <T>(path: string): Promise<T> => {
        const response = await fetch(url + path.slice(1), { headers: { cookie } });
        assert.equal(response.status, 200, path);
        return await response.json() as T;
      };
      const overview = await api<{ totals: Record<string, number>; checks: { server: string; level: string }[] }>('/api/overview?from=1h');
      assert.ok(overview.totals.ddl! >= 3 && overview.totals.auth_failed! >= 8 && overview.totals.connection_authorized! > 3, JSON.stringify(overview.totals));
      assert.ok(overview.checks.some((c) => c.server === 'demo-checks'), 'the checks ran as the monitoring login');
      if (flavor === 'pg15') {
        const audit = await api<{ items: { object_name: string; command: string }[] }>('/api/audit?from=1h&user=alice&object=hr.salaries');
        assert.ok(audit.items.some((r) => r.command === 'UPDATE'), 'the analyst\'s change of a salary is on record');
      }
      const alerts = await api<{ alerts: { type: string }[] }>('/api/alerts?from=1h');
      for (const type of ['tamper', 'failed_logins', 'drop']) assert.ok(alerts.alerts.some((a) => a.type === type), `${type} alert`);

      child.kill('SIGINT');
      assert.equal(await exited, 0, out.slice(-2000) + err);
      assert.match(out, /the dashboard, the collector and the disposable PostgreSQL are stopped and removed/);
      assert.ok(!existsSync(dataDir), 'the server\'s directory is gone');
    } finally {
      clearTimeout(kill);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('runs on the embedded PostgreSQL 18 too (a machine without PostgreSQL 15): the login check refuses, watch catches a rename', async () => {
    const result = await runCli(['demo', '--flavor', 'pg18', '--no-serve'], {}, { timeoutMs: 120_000 });
    assert.equal(result.code, 0, result.stdout.slice(-2000) + result.stderr);
    assert.match(result.stdout, /DBeaver 24\.1\.0 - Main": REFUSED, SQLSTATE 28000/);
    assert.match(result.stdout, /and sees: terminating connection due to administrator command/);
    assert.match(result.stdout, /events by kind: .*guard_deny 1/);
    assert.match(result.stdout, /the disposable PostgreSQL is stopped and removed/);
  });
});
