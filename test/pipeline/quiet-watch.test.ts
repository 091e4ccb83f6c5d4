// pgwarden's own noise (issue 14): `guard watch` polls with reads only — no transaction of it
// takes a transaction id (nothing written), none rolls back (no failed statement) — and names its
// session pgwarden/guard-watch, for people reading the server's logs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { installedCluster, pgEnv, runCli, waitFor } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';

describe('guard watch is quiet', () => {
  let cluster: Cluster;
  let client: pg.Client;
  before(async () => {
    cluster = await installedCluster('pg17');
    await cluster.createRole('app_user', 'app-pw');
    assert.equal((await runCli(['guard', 'deny', '--role', 'app_user', '--app', '%dbeaver%'], pgEnv(cluster))).code, 0);
    // one connection for the test's own reads: every login is a recorded attempt (a write)
    client = new pg.Client({ connectionString: cluster.url('postgres') });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await cluster?.stop();
  });

  it('polls for seconds without writing or failing a statement', async () => {
    const counters = async () => (await client.query<{ next_xid: string; rollbacks: string; attempts: number }>(`SELECT pg_stat_clear_snapshot(),
        pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid,
        (SELECT xact_rollback FROM pg_stat_database WHERE datname = 'postgres')::text AS rollbacks,
        (SELECT count(*)::int FROM pgwarden.connection_attempts) AS attempts`)).rows[0]!;
    const watchers = async () => (await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgwarden/guard-watch'")).rows[0]!.n;
    // what one login costs (the guard records it): the baseline the watcher's own login adds
    const bare = await counters();
    const other = new pg.Client({ connectionString: cluster.url('postgres') });
    await other.connect();
    await other.end();
    const before = await counters();
    const perLogin = Number(before.next_xid) - Number(bare.next_xid);
    // about 30 polls at 0.1 s (the run is killed after 3.5 s)
    const watch = runCli(['guard', 'watch', '--interval', '0.1'], pgEnv(cluster), { timeoutMs: 3500 });
    await waitFor(async () => (await watchers()) > 0, 10_000, 'the watcher, named pgwarden/guard-watch');
    await watch;
    // the watcher's backend flushes its statistics when it exits
    await waitFor(async () => (await watchers()) === 0, 10_000, 'the watcher to end');
    await new Promise((r) => setTimeout(r, 1500));
    const afterward = await counters();
    // the watcher's login is recorded by the guard like any other; its polls take no transaction id
    const xids = Number(afterward.next_xid) - Number(before.next_xid);
    const logins = afterward.attempts - before.attempts;
    assert.ok(xids <= logins * perLogin, `${xids} transaction ids taken, ${logins} logins recorded at ${perLogin} each`);
    assert.equal(afterward.rollbacks, before.rollbacks, 'no transaction rolled back: no failed statement');
  });
});
