// `guard watch` as a service against real servers: it survives a restart of the server, ends a
// session that renames itself right after login within its first second, ends replication
// connections (physical ones never run a login check), leaves a login the login trigger is
// refusing to the trigger, and writes nothing while there is nothing to record.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { installedCluster, pgEnv, runCli, tryLogin, waitFor } from '../harness/cli.ts';
import type { Cluster, Flavor } from '../harness/postgres.ts';

interface Watch { child: ChildProcessWithoutNullStreams; out: () => string; stop: () => Promise<number | null> }

function startWatch(env: NodeJS.ProcessEnv, args: string[] = []): Watch {
  const child = spawn(process.execPath, ['bin/pgwarden.js', 'guard', 'watch', ...args], {
    env: { ...process.env, PGWARDEN_CONFIG: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  return {
    child,
    out: () => out,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return new Promise((resolve) => child.on('close', resolve));
    },
  };
}

/** A session that logs in and then waits; `closed` settles with the error code the server ends it with. */
async function session(url: string, options: Partial<pg.ClientConfig> = {}): Promise<{ client: pg.Client; closed: Promise<string> }> {
  const client = new pg.Client({ connectionString: url, ...options });
  const closed = new Promise<string>((resolve) => {
    client.on('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
    client.on('end', () => resolve('end'));
  });
  await client.connect();
  return { client, closed };
}

describe('guard watch, live (PostgreSQL 18)', () => {
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    cluster = await installedCluster('pg18');
    env = pgEnv(cluster);
    await cluster.createRole('app_user', 'app-pw');
    await cluster.createRole('watch_login', 'watch-pw');
    await cluster.query('GRANT pgwarden_watcher TO watch_login');
    assert.equal((await runCli(['guard', 'deny', '--role', 'app_user', '--app', '%dbeaver%', '--message', 'no GUI tools'], env)).code, 0);
  });
  after(async () => cluster?.stop());

  it('ends a session that renames itself right after login, within its first second, and keeps running across a server restart', async () => {
    // Full sweeps every minute: only the first-second rechecks can catch it.
    const watch = startWatch(pgEnv(cluster, 'postgres', 'watch_login', 'watch-pw'), ['--interval', '60', '--recheck', '5']);
    try {
      await waitFor(async () => watch.out().includes('"watching"'), 15_000, 'the watcher to start');
      const first = await session(cluster.url('postgres', 'app_user', 'app-pw'));
      await first.client.query("SET application_name = 'DBeaver 24.1.0 - Main'");
      assert.equal(await first.closed, '57P01', 'ended by watch mode');
      await waitFor(async () => watch.out().includes('terminated pid'), 5000, 'the watcher to report it');

      cluster.restart();
      await waitFor(async () => /lost the connection; reconnecting/.test(watch.out()), 15_000, 'the watcher to notice the restart');
      assert.equal(watch.child.exitCode, null, `still running:\n${watch.out()}`);
      await waitFor(async () => watch.out().split('"watching"').length > 2, 30_000, 'the watcher to reconnect');
      const second = await session(cluster.url('postgres', 'app_user', 'app-pw'));
      await second.client.query("SET application_name = 'DBeaver after restart'");
      assert.equal(await second.closed, '57P01', 'still enforcing after the restart');
      const { rows } = await cluster.query("SELECT application, via FROM pgwarden.connection_attempts WHERE decision = 'deny' AND via = 'watch' ORDER BY id");
      assert.deepEqual(rows.map((r) => r.application), ['DBeaver 24.1.0 - Main', 'DBeaver after restart']);
    } finally {
      assert.equal(await watch.stop(), 0, watch.out());
    }
  });

  it('leaves a login the login trigger is refusing to the trigger (28000, not 57P01)', async () => {
    // Hold the refusal in the middle of its recording: the recorder's INSERT waits for this lock.
    const blocker = new pg.Client({ connectionString: cluster.url() });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK pgwarden.connection_attempts IN SHARE MODE');
    const refused = tryLogin(cluster, 'app_user', 'app-pw', 'DBeaver 24');
    try {
      await waitFor(async () => (await cluster.query(
        "SELECT 1 FROM pg_stat_activity WHERE usename = 'app_user' AND application_name = 'DBeaver 24'")).rows.length > 0, 10_000, 'the login to be in progress');
      const result = await runCli(['guard', 'watch', '--once'], pgEnv(cluster, 'postgres', 'watch_login', 'watch-pw'));
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stdout, /terminated/, 'watch did not end it');
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    const outcome = await refused;
    assert.equal(outcome.code, '28000', JSON.stringify(outcome));
    assert.match(outcome.message!, /no GUI tools/);
  });

  it('only reads while there is nothing to record', async () => {
    await cluster.query("ALTER SYSTEM SET log_statement = 'mod'");
    await cluster.query('SELECT pg_reload_conf()');
    const logBefore = cluster.readLog().length;
    const watch = startWatch(pgEnv(cluster, 'postgres', 'watch_login', 'watch-pw'), ['--interval', '0.2', '--recheck', '5']);
    try {
      await waitFor(async () => watch.out().includes('"watching"'), 15_000, 'the watcher to start');
      assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'orders')).ok, true);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      await watch.stop();
      await cluster.query("ALTER SYSTEM RESET log_statement");
      await cluster.query('SELECT pg_reload_conf()');
    }
    const written = cluster.readLog().slice(logBefore).split('\n').filter((line) => line.includes('watch_login@postgres') && /statement:/.test(line));
    assert.deepEqual(written, [], 'no data-modifying statement from the watcher');
  });
});

// Replication connections: no login trigger fires for a physical one on any version, and before
// 17 none fires for replication=database either. node-postgres speaks the protocol on 16-18
// (Debian's pg_basebackup 15 refuses newer servers); on 15 the real pg_basebackup runs.
for (const flavor of ['pg15', 'pg16', 'pg17', 'pg18'] as Flavor[]) {
  describe(`guard watch and replication connections (${flavor})`, () => {
    let cluster: Cluster;
    let env: NodeJS.ProcessEnv;
    before(async () => {
      cluster = await installedCluster(flavor);
      env = pgEnv(cluster);
      await cluster.createRole('backup_thief', 'thief-pw', 'REPLICATION');
      await cluster.query('CREATE TABLE public.secret AS SELECT 42 AS answer');
      await cluster.query('GRANT SELECT ON public.secret TO backup_thief');
      const denied = await runCli(['guard', 'deny', '--role', 'backup_thief', '--message', 'no backups by hand'], env);
      assert.equal(denied.code, 0, denied.stderr);
      assert.match(denied.stderr, /has REPLICATION/);
    });
    after(async () => cluster?.stop());

    if (flavor === 'pg15') {
      it('ends a real pg_basebackup of a denied role with REPLICATION', async () => {
        const watch = startWatch(env, ['--interval', '0.5']);
        try {
          await waitFor(async () => watch.out().includes('"watching"'), 15_000, 'the watcher to start');
          const target = `/tmp/pgwarden-basebackup-${process.pid}`;
          const backup = spawnSync('/usr/lib/postgresql/15/bin/pg_basebackup',
            ['-h', cluster.host, '-p', String(cluster.port), '-U', 'backup_thief', '-D', target, '--max-rate=32k', '-X', 'none', '--no-sync'],
            { env: { ...process.env, PGPASSWORD: 'thief-pw' }, encoding: 'utf8', timeout: 60_000 });
          spawnSync('rm', ['-rf', target]);
          assert.notEqual(backup.status, 0, 'the backup did not complete');
          assert.match(backup.stderr, /terminat|server closed the connection|could not/i, backup.stderr);
          await waitFor(async () => watch.out().includes('physical replication'), 5000, 'the watcher to report it');
        } finally {
          await watch.stop();
        }
        const { rows } = await cluster.query("SELECT database, replication, via FROM pgwarden.connection_attempts WHERE user_name = 'backup_thief'");
        assert.deepEqual(rows, [{ database: null, replication: 'physical', via: 'watch' }]);
      });
      return;
    }

    it('ends a physical replication connection (no login check sees it), recorded with no database', async () => {
      const physical = await session(cluster.url('postgres', 'backup_thief', 'thief-pw'), { replication: true } as Partial<pg.ClientConfig>);
      const { rows: [system] } = await physical.client.query('IDENTIFY_SYSTEM');
      assert.ok(system.systemid, 'the walsender answers');
      const result = await runCli(['guard', 'watch', '--once'], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /terminated pid \d+ backup_thief@physical replication application "" from 127\.0\.0\.1 \(rule \d+: no backups by hand\)/);
      assert.equal(await physical.closed, '57P01');
      const { rows } = await cluster.query("SELECT database, replication FROM pgwarden.connection_attempts WHERE user_name = 'backup_thief' AND via = 'watch'");
      assert.deepEqual(rows, [{ database: null, replication: 'physical' }]);
    });

    it(`replication=database: ${flavor === 'pg16' ? 'runs SQL without a login check, and watch ends it' : 'refused by the login trigger'}`, async () => {
      const url = cluster.url('postgres', 'backup_thief', 'thief-pw');
      if (flavor === 'pg16') {
        const logical = await session(url, { replication: 'database' } as Partial<pg.ClientConfig>);
        assert.deepEqual((await logical.client.query('SELECT answer FROM public.secret')).rows, [{ answer: 42 }], 'what issue 13 found on 15/16');
        const result = await runCli(['guard', 'watch', '--once'], env);
        assert.match(result.stdout, /terminated pid \d+ backup_thief@postgres \(logical replication\)/);
        assert.equal(await logical.closed, '57P01');
      } else {
        const client = new pg.Client({ connectionString: url, replication: 'database' } as pg.ClientConfig);
        client.on('error', () => undefined);
        await assert.rejects(client.connect(), (error: { code?: string }) => error.code === '28000');
      }
    });

    it('a rule for database replication matches physical replication connections only', async () => {
      await cluster.query("DELETE FROM pgwarden.guard_rules WHERE roles = '{backup_thief}'");
      assert.equal((await runCli(['guard', 'deny', '--role', 'backup_thief', '--database', 'replication'], env)).code, 0);
      const normal = await session(cluster.url('postgres', 'backup_thief', 'thief-pw'));
      const physical = await session(cluster.url('postgres', 'backup_thief', 'thief-pw'), { replication: true } as Partial<pg.ClientConfig>);
      const result = await runCli(['guard', 'watch', '--once'], env);
      assert.match(result.stdout, /backup_thief@physical replication/);
      assert.equal(await physical.closed, '57P01');
      assert.deepEqual((await normal.client.query('SELECT 1 AS ok')).rows, [{ ok: 1 }], 'a normal session of the role is untouched');
      await normal.client.end();
    });
  });
}
