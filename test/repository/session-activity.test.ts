// Each session's activity (pgwarden_repo.session_activity, migration 0013) is kept by the writer in
// the batch's transaction: its events and audited statements counted once however batches repeat,
// overlap or race, and its first and last event bounding where its events are read by time. A
// session's page of events goes through a long session among many others, in pages that may stop
// at the search budget, each event once and in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { RepositoryWriter } from '../../src/repository/index.ts';
import { sessionDetail } from '../../src/server/queries/sessions.ts';
import { runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const START = Date.UTC(2026, 11, 3, 22, 0, 0);

/** Event i of a busy log: 20 sessions taking turns, every 7th a log line, microseconds in the times. */
function busy(i: number, server = 'db1'): PgwardenEvent {
  const session = `6930f0${(i % 20).toString(16).padStart(2, '0')}.${(5000 + (i % 20)).toString(16)}`;
  return {
    ...newEvent(i % 7 === 0 ? 'log' : 'audit', server, { input: '/var/log/postgresql/postgresql-16-main.log', position: i * 120, line: i + 1 }),
    ts: `${new Date(START + i * 997).toISOString().slice(0, 23)}${String(i % 1000).padStart(3, '0')}Z`, pid: 5000 + (i % 20),
    session_id: i % 13 === 0 ? null : session, message: `AUDIT: SESSION,${i},1,READ,SELECT,,,SELECT ${i},<not logged>`,
  };
}

describe('session activity: kept by the writer, and a session\'s events read by time', () => {
  let cluster: Cluster;
  let repo: string;
  let client: pg.Client;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg16' });
    repo = cluster.url(await cluster.createDatabase('repo'));
    const migrate = await runCli(['repo', 'migrate', '--repo', repo]);
    assert.equal(migrate.code, 0, migrate.stderr);
    client = new pg.Client({ connectionString: repo });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await cluster?.stop();
  });

  const activity = async () => (await client.query(`SELECT server, session_id, events::int, statements::int, first_ts, last_ts
    FROM pgwarden_repo.session_activity ORDER BY 1, 2`)).rows as { server: string; session_id: string; events: number; statements: number; first_ts: Date; last_ts: Date }[];
  /** What the stored events say, exactly (times to the microsecond, as text). */
  const truth = async () => (await client.query(`SELECT COALESCE(server, '') AS server, session_id, count(*)::int AS events,
      (count(*) FILTER (WHERE kind = 'audit'))::int AS statements, min(ts)::text AS first, max(ts)::text AS last
    FROM pgwarden_repo.events WHERE session_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`)).rows as { server: string; session_id: string; events: number; statements: number; first: string; last: string }[];

  it('counts every stored event once: batches again, overlapping, racing on two writers, out of order', async () => {
    const events = Array.from({ length: 3000 }, (_, i) => busy(i));
    const one = new RepositoryWriter({ url: repo, label: 'one' });
    const two = new RepositoryWriter({ url: repo, label: 'two' });
    try {
      // the second half first, then two writers at once on overlapping stretches, then all of it again
      assert.equal((await one.write(events.slice(1500))).inserted, 1500);
      const [a, b] = await Promise.all([one.write(events.slice(0, 1000)), two.write(events.slice(500, 1600))]);
      assert.equal(a.inserted + b.inserted, 1500);
      assert.equal((await two.write(events)).inserted, 0);
      // a batch half stored, half new, with a session of a second server under the same id
      const other = Array.from({ length: 200 }, (_, i) => busy(i, 'db2'));
      assert.equal((await one.write([...events.slice(2900), ...other])).inserted, 200);
    } finally {
      await one.close();
      await two.close();
    }
    const kept = await activity();
    const stored = await truth();
    assert.equal(stored.length, 40);
    assert.deepEqual(kept.map(({ server, session_id, events: n, statements }) => ({ server, session_id, events: n, statements })),
      stored.map(({ server, session_id, events: n, statements }) => ({ server, session_id, events: n, statements })));
    // the times: the first at or before the first event, the last within a millisecond before the last
    for (const [i, row] of kept.entries()) {
      const { rows: [t] } = await client.query(`SELECT $1::timestamptz <= $2::timestamptz AS first_ok,
        $3::timestamptz <= $4::timestamptz AND $4::timestamptz < $3::timestamptz + interval '1 millisecond' AS last_ok`,
      [row.first_ts, stored[i]!.first, row.last_ts, stored[i]!.last]);
      assert.deepEqual(t, { first_ok: true, last_ok: true }, `${row.server} ${row.session_id}`);
    }
    // what the sessions report shows
    await client.query(`INSERT INTO pgwarden_repo.sessions (server, session_id, authorized_at) VALUES ('db1', $1, $2)`, [stored[0]!.session_id, new Date(START)]);
    const report = await runCli(['report', 'sessions', '--repo', repo, '--format', 'json']);
    assert.equal(report.code, 0, report.stderr);
    const rows = JSON.parse(report.stdout) as { session_id: string; statements: string | number }[];
    assert.equal(Number(rows.find((r) => r.session_id === stored[0]!.session_id)?.statements), stored[0]!.statements);
  });

  it('keys a session as its events are stored: ids that differ only by a NUL or a lone surrogate are one session, as in the rows', async () => {
    // PostgreSQL stores all three as x\ufffd (so do the COPY rows): one key, or the upsert fails (21000) and the batch with it
    const ids = ['x\ud800', 'x\udfff', 'x\ufffd', 'x\u0000'];
    const events = ids.map((id, i) => ({ ...busy(100_000 + i, 'db9'), kind: 'audit' as const, session_id: id }));
    const writer = new RepositoryWriter({ url: repo, label: 'odd' });
    try {
      assert.equal((await writer.write(events)).inserted, 4);
    } finally {
      await writer.close();
    }
    assert.deepEqual((await client.query(`SELECT session_id, events::int, statements::int FROM pgwarden_repo.session_activity WHERE server = 'db9'`)).rows,
      [{ session_id: 'x\ufffd', events: 4, statements: 4 }]);
  });

  it('stores a lone surrogate anywhere in an event as U+FFFD (text, session, JSON column), not refused and set aside', async () => {
    const event: PgwardenEvent = { ...busy(200_000, 'db8'), kind: 'ddl', session_id: 's\udc00', message: 'm\ud800',
      ddl: { command_tag: 'DROP TABLE', object_identity: 'public.t\udbff', note: 'C:\\udir' } as unknown as PgwardenEvent['ddl'] };
    const writer = new RepositoryWriter({ url: repo, label: 'surrogate' });
    try {
      const result = await writer.writeOrSetAside([event], 'm1');
      assert.deepEqual([result.inserted, result.rejected], [1, 0]);
    } finally {
      await writer.close();
    }
    assert.deepEqual((await client.query(`SELECT message, session_id, ddl->>'object_identity' AS object, ddl->>'note' AS note
      FROM pgwarden_repo.events WHERE server = 'db8'`)).rows, [{ message: 'm\ufffd', session_id: 's\ufffd', object: 'public.t\ufffd', note: 'C:\\udir' }]);
  });

  it('pages a long session among many others: every event once, in order, whether pages stop at a row or at the budget', async () => {
    // one session of 30 events over two hours, among 40,000 events of other sessions over the same hours
    const id = '6931a000.abcd';
    const writer = new RepositoryWriter({ url: repo, label: 'long' });
    const mine: PgwardenEvent[] = [];
    try {
      const others: PgwardenEvent[] = [];
      for (let i = 0; i < 40_000; i++) {
        others.push({ ...busy(i, 'db3'), ts: new Date(START + i * 180).toISOString(), source: { input: '/var/log/other.log', position: i * 100, line: i + 1 } });
      }
      for (let i = 0; i < 30; i++) {
        // two events in the same millisecond at i = 10 (a page may end between them)
        const at = START + 1_000 + (i === 11 ? 10 : i) * 240_000;
        mine.push({ ...newEvent(i === 0 ? 'connection_authorized' : 'audit', 'db3', { input: '/var/log/other.log', position: 9_000_000 + i, line: 1 }),
          ts: new Date(at).toISOString(), pid: 43981, session_id: id, user: 'app', message: `event ${i}` });
      }
      for (let at = 0; at < others.length; at += 5_000) await writer.write(others.slice(at, at + 5_000));
      await writer.write(mine);
    } finally {
      await writer.close();
    }
    const read = async (limit: number, budgetMs: number) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      let stoppedAtBudget = 0;
      do {
        const page = await sessionDetail(client, 'db3', id, cursor, limit, budgetMs);
        assert.ok(page.events.length <= limit);
        if (page.searchedTo !== null) stoppedAtBudget++;
        seen.push(...page.events.map((e) => e.message!));
        cursor = page.next ?? undefined;
        assert.ok(++pages < 500, 'the pages end');
      } while (cursor !== undefined);
      return { seen, pages, stoppedAtBudget };
    };
    const expected = mine.map((e) => e.message!).sort((a, b) => {
      const at = (m: string) => Number(m.split(' ')[1]);
      return (at(a) === 11 ? 10 : at(a)) - (at(b) === 11 ? 10 : at(b)) || at(a) - at(b);
    });
    const full = await read(7, 10_000);
    assert.deepEqual(full.seen, expected);
    assert.equal(full.stoppedAtBudget, 0);
    const hurried = await read(7, 0);
    assert.deepEqual(hurried.seen, expected);
    assert.ok(hurried.stoppedAtBudget > 0, 'with no budget, pages stop where the search got');
    // a session that never stored an event: its login, no events, no cursor
    await client.query(`INSERT INTO pgwarden_repo.sessions (server, session_id, authorized_at) VALUES ('db3', 'none.1', $1)`, [new Date(START)]);
    const empty = await sessionDetail(client, 'db3', 'none.1', undefined, 10, 200);
    assert.deepEqual([empty.events, empty.next, empty.searchedTo], [[], null, null]);
  });
});
