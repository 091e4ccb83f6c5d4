// The guard source on a real PostgreSQL 18 (login event trigger): a refused login recorded by the
// guard in pgwarden.connection_attempts reaches the repository once as a guard_deny event (through
// `pgwarden collect`), the dashboard's Overview and Connections count it, a restarted collect
// stores nothing twice, and an attempt whose id commits after a later one is not skipped.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/core/logger.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { GuardLogSource } from '../../src/pipeline/sources/guard/guard.ts';
import type { Pending, Sink } from '../../src/pipeline/types.ts';
import { connectionsSummary } from '../../src/server/queries/connections.ts';
import { overview } from '../../src/server/queries/overview.ts';
import { pgEnv, runCli, tryLogin, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { startCollect } from './collect-helpers.ts';

describe('guard source: pgwarden.connection_attempts into the repository', () => {
  let cluster: Cluster;
  let tmp: string;
  const inRepo = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => {
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  };

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-guard-src-'));
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createRole('app_user', 'app-pw');
    await cluster.createDatabase('repo');
    const env = pgEnv(cluster);
    assert.equal((await runCli(['install'], env)).code, 0);
    assert.equal((await runCli(['guard', 'deny', '--role', 'app_user', '--app', '%dbeaver%'], env)).code, 0);
    assert.equal((await runCli(['repo', 'migrate', '--repo', cluster.url('repo')])).code, 0);
  });
  after(async () => {
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a refusal lands once as guard_deny, and Overview and Connections count it', async () => {
    assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'DBeaver')).code, '28000');
    assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'DBeaver 2')).code, '28000');
    const recorded = (await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.connection_attempts WHERE decision = 'deny'")).rows[0]!.n;
    assert.equal(recorded, 2);
    const config = path.join(tmp, 'collect.yaml');
    writeFileSync(config, `servers:\n  db1: { url: '${cluster.url('postgres')}' }\nrepository:\n  url: '${cluster.url('repo')}'\npipeline:\n` +
      `  sources:\n    guard: { type: guard, server: db1, poll_seconds: 0.2, state_dir: '${path.join(tmp, 'state')}' }\n` +
      `  sinks:\n    repo: { type: repository }\n`);
    const countDenies = async () => (await inRepo<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden_repo.events WHERE kind = 'guard_deny'"))[0]!.n;
    const first = startCollect(config);
    try {
      await waitFor(async () => (await countDenies()) >= 2, 30_000, `the refusals in the repository (${first.stderr()})`);
    } finally {
      assert.equal(await first.stop('SIGTERM'), 0, first.stderr());
    }
    // a third refusal while collect is down, then a restart: caught up from the checkpoint, nothing twice
    assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'DBeaver 3')).code, '28000');
    const second = startCollect(config);
    try {
      await waitFor(async () => (await countDenies()) >= 3, 30_000, 'the third refusal');
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      assert.equal(await second.stop('SIGTERM'), 0, second.stderr());
    }
    assert.equal(await countDenies(), 3);
    const [row] = await inRepo<{ user_name: string; application: string; server: string; source_input: string }>(
      "SELECT user_name, application, server, source_input FROM pgwarden_repo.events WHERE kind = 'guard_deny' ORDER BY source_position LIMIT 1");
    assert.deepEqual(row, { user_name: 'app_user', application: 'DBeaver', server: 'db1', source_input: 'guard:db1/postgres' });
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    try {
      const range = { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) };
      assert.equal((await connectionsSummary(client, range)).totals.refused, 3, 'Connections');
      assert.equal((await overview(client, range)).totals.guard_deny, 3, 'Overview');
    } finally {
      await client.end();
    }
  });

  it('an attempt whose id commits after a later one is delivered, once', async () => {
    const got: PgwardenEvent[] = [];
    const sink: Sink = {
      name: 'out', type: 'test', inputs: undefined, accepts: () => true,
      deliver: async (p: Pending) => { got.push(...p.events); }, close: async () => undefined,
    };
    const source = new GuardLogSource({
      input: 'g', server: 'db1', database: 'postgres', target: { url: cluster.url('postgres'), label: 'test' },
      pollSeconds: 0.1, gapSeconds: 60, stateDir: path.join(tmp, 'order-state'), log: createLogger('test'),
    });
    const lane = source.lane(sink);
    await source.start();
    const drain = async () => {
      for (;;) {
        const pending = await lane.next(100);
        if (!pending) return;
        await sink.deliver(pending);
        await lane.settle(pending);
      }
    };
    try {
      await drain();
      // the test's own logins are recorded as allowed attempts too
      const mine = () => got.filter((e) => e.user === 'early' || e.user === 'late').map((e) => e.user);
      const insert = `INSERT INTO pgwarden.connection_attempts (ts, database, user_name, client_addr, application, decision, via)
        VALUES (now(), 'postgres', $1, '10.0.0.9', 'x', 'deny', 'login') RETURNING id::int`;
      const slow = new pg.Client({ connectionString: cluster.url('postgres') });
      await slow.connect();
      try {
        await slow.query('BEGIN');
        const early = (await slow.query<{ id: number }>(insert, ['early'])).rows[0]!.id;
        const late = (await cluster.query<{ id: number }>(insert, ['late'])).rows[0]!.id;
        assert.ok(late > early);
        await drain();
        assert.deepEqual(mine(), ['late']);
        await slow.query('COMMIT');
      } finally {
        await slow.end();
      }
      await drain();
      // before: read by `id > highest delivered`, 'early' was skipped for good
      assert.deepEqual(mine(), ['late', 'early']);
      await drain();
      assert.deepEqual(mine(), ['late', 'early'], 'nothing twice');
    } finally {
      await source.stop();
    }
  });
  it('a reinstalled table or restarted ids start the checkpoint over: no new attempt is skipped', async () => {
    const got: PgwardenEvent[] = [];
    const sink: Sink = {
      name: 'out', type: 'test', inputs: undefined, accepts: () => true,
      deliver: async (p: Pending) => { got.push(...p.events); }, close: async () => undefined,
    };
    const stateDir = path.join(tmp, 'reinstall-state');
    // a new source each time: collect restarted, from the checkpoint in state_dir
    const run = async () => {
      const source = new GuardLogSource({
        input: 'g', server: 'db1', database: 'postgres', target: { url: cluster.url('postgres'), label: 'test' },
        pollSeconds: 0.1, gapSeconds: 0, stateDir, log: createLogger('test'),
      });
      const lane = source.lane(sink);
      await source.start();
      try {
        for (;;) {
          const pending = await lane.next(100);
          if (!pending) return;
          await sink.deliver(pending);
          await lane.settle(pending);
        }
      } finally {
        await source.stop();
      }
    };
    const insert = (user: string) => cluster.query(`INSERT INTO pgwarden.connection_attempts (ts, database, user_name, client_addr, application, decision, via)
      VALUES (now(), 'postgres', $1, '10.0.0.9', 'x', 'deny', 'login')`, [user]);
    const users = (prefix: string) => got.filter((e) => e.user?.startsWith(prefix)).map((e) => e.user);
    await run();
    const through = (await cluster.query<{ n: number }>('SELECT max(id)::int AS n FROM pgwarden.connection_attempts')).rows[0]!.n;
    assert.ok(through > 0);
    // a reinstall: another table whose ids start at 1 again, filled past the old checkpoint
    await cluster.query('ALTER TABLE pgwarden.connection_attempts RENAME TO connection_attempts_old');
    await cluster.query('CREATE TABLE pgwarden.connection_attempts (LIKE pgwarden.connection_attempts_old INCLUDING ALL)');
    try {
      for (let i = 1; i <= through + 2; i++) await insert(`new${i}`);
      await run();
      // before: ids up to the old checkpoint were never read (only the last 2 arrived)
      assert.deepEqual(users('new'), Array.from({ length: through + 2 }, (_, i) => `new${i + 1}`), 'each once, in id order');
      // ids restarted in the same table (a restore from before, TRUNCATE … RESTART IDENTITY)
      await cluster.query('TRUNCATE pgwarden.connection_attempts RESTART IDENTITY');
      await insert('again1');
      await run();
      assert.deepEqual(users('again'), ['again1']);
    } finally {
      await cluster.query('DROP TABLE pgwarden.connection_attempts');
      await cluster.query('ALTER TABLE pgwarden.connection_attempts_old RENAME TO connection_attempts');
    }
  });
});
