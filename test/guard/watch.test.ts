// Watch mode on PostgreSQL 15 (no login trigger there): it terminates and records a
// session a deny rule matches, including one that set application_name after login, the
// way pgJDBC-based tools (DBeaver, SQuirreL) do.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { GuardWatcher } from '../../src/guard/index.ts';
import { installedCluster, pgEnv, runCli, tryLogin, waitFor } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';

describe('guard watch (PostgreSQL 15 with pgAudit)', () => {
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    cluster = await installedCluster('pg15', { pgaudit: true });
    env = pgEnv(cluster);
    await cluster.createRole('app_user', 'app-pw');
    const added = await runCli(['guard', 'deny', '--role', 'app_user', '--app', '%dbeaver%', '--app', '%squirrel%', '--message', 'no GUI tools'], env);
    assert.equal(added.code, 0, added.stderr);
  });
  after(async () => cluster?.stop());

  async function sessionAs(application: string): Promise<{ client: pg.Client; closed: Promise<string> }> {
    const client = new pg.Client({ connectionString: cluster.url('postgres', 'app_user', 'app-pw'), application_name: application });
    const closed = new Promise<string>((resolve) => {
      client.on('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
      client.on('end', () => resolve('end'));
    });
    await client.connect();
    return { client, closed };
  }

  it('lets the login through (no login trigger on 15), then terminates a session that switched to a denied application', async () => {
    const { client, closed } = await sessionAs('PostgreSQL JDBC Driver');
    await client.query("SET application_name = 'DBeaver 24.1.0 - SQLEditor'");
    const { rows: [{ pid }] } = await client.query('SELECT pg_backend_pid() AS pid');
    const innocent = await sessionAs('orders-service');

    const result = await runCli(['guard', 'watch', '--once'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`terminated pid ${pid} app_user@postgres application "DBeaver 24\\.1\\.0 - SQLEditor" from 127\\.0\\.0\\.1 \\(rule \\d+: no GUI tools\\)`));
    assert.equal(await closed, '57P01', 'the client sees admin_shutdown');
    assert.equal((await innocent.client.query('SELECT 1 AS ok')).rows[0].ok, 1, 'the allowed session is untouched');
    await innocent.client.end();

    const report = await runCli(['report', 'connections', '--denied', '--format', 'json'], env);
    const rows = JSON.parse(report.stdout) as Record<string, unknown>[];
    assert.equal(rows.length, 1);
    assert.deepEqual(Object.keys(rows[0]!).slice(0, 8), ['ts', 'database', 'user', 'application', 'client_addr', 'decision', 'rule_id', 'message']);
    assert.equal(rows[0]!.user, 'app_user');
    assert.equal(rows[0]!.application, 'DBeaver 24.1.0 - SQLEditor');
    assert.equal(rows[0]!.decision, 'deny');
    assert.equal(rows[0]!.via, 'watch');
    assert.equal(rows[0]!.client_addr, '127.0.0.1');
  });

  it('--dry-run reports without terminating or recording', async () => {
    const { client } = await sessionAs('SQuirreL SQL');
    const result = await runCli(['guard', 'watch', '--once', '--dry-run'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /would terminate pid \d+ app_user@postgres application "SQuirreL SQL"/);
    assert.equal((await client.query('SELECT 1 AS ok')).rows[0].ok, 1);
    // A long-running dry run reports each session once, not at every poll.
    const observer = new pg.Client({ connectionString: cluster.url() });
    await observer.connect();
    const watcher = new GuardWatcher(observer, { terminate: false });
    const first = await watcher.tick();
    const second = await watcher.tick();
    await observer.end();
    assert.deepEqual(first.denied.map((d) => d.application), ['SQuirreL SQL']);
    assert.deepEqual(second.denied, []);
    await client.end();
    const { rows } = await cluster.query("SELECT count(*)::int AS n FROM pgwarden.connection_attempts WHERE application = 'SQuirreL SQL'");
    assert.equal(rows[0]!.n, 0);
  });

  it('runs as a non-superuser login granted pgwarden_watcher', async () => {
    await cluster.createRole('watch_login', 'watch-pw');
    const env15 = pgEnv(cluster, 'postgres', 'watch_login', 'watch-pw');
    const refused = await runCli(['guard', 'watch', '--once'], env15);
    assert.equal(refused.code, 4, 'without the group role it says which privilege is missing');
    assert.match(refused.stderr, /watch mode needs pg_read_all_stats/);

    await cluster.query('GRANT pgwarden_watcher TO watch_login');
    const { closed } = await sessionAs('dbeaver-unprivileged-watcher');
    const result = await runCli(['guard', 'watch', '--once'], env15);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /terminated pid \d+ app_user@postgres application "dbeaver-unprivileged-watcher"/);
    assert.equal(await closed, '57P01');
  });

  it('pgwarden.guard_check() refuses and records on 15, as session_exec would call it', async () => {
    // session_exec runs the function as the connecting role right after login; calling it
    // in a session as that role exercises the same code path and privileges.
    const { client } = await sessionAs('DBeaver 23');
    await assert.rejects(client.query('SELECT pgwarden.guard_check()'), (error: { code?: string; message: string }) =>
      error.code === '28000' && /connection refused for role "app_user" to database "postgres" from application "DBeaver 23": no GUI tools/.test(error.message));
    await client.end();
    const { rows } = await cluster.query("SELECT via, decision FROM pgwarden.connection_attempts WHERE application = 'DBeaver 23'");
    assert.deepEqual(rows, [{ via: 'login', decision: 'deny' }], 'recorded through the autonomous dblink transaction');
    const newest = await runCli(['report', 'connections', '--user', 'app_user', '--limit', '1', '--format', 'json'], env);
    assert.deepEqual(JSON.parse(newest.stdout).map((r: { application: string }) => r.application), ['DBeaver 23'], '--limit keeps the newest');
    const nobody = await runCli(['report', 'connections', '--user', 'nobody', '--format', 'json'], env);
    assert.deepEqual(JSON.parse(nobody.stdout), []);
  });

  it('a long-running watcher keeps working and stops cleanly on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['bin/pgwarden.js', 'guard', 'watch', '--interval', '0.2'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      // Let it start, check that an allowed login is left alone, then open a session it must end.
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'psql')).ok, true);
      const { closed } = await sessionAs('dbeaver-late');
      assert.equal(await closed, '57P01');
      await waitFor(async () => out.includes('dbeaver-late'), 5000, 'the watcher to report it');
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
  });
});
