// Migrations 0010 and 0013: the events' session index on (session_id) alone (0010), cheaper for the
// writer and usable by every session lookup, and then none at all (0013): the writer keeps each
// session's activity (events, statements, first and last event) and a session's events are read
// by time. An existing repository is upgraded through both without a row lost, doubled or
// changed; the activity it starts with is what the events say, and the sessions page's and
// report's statement counts are what the old per-session count gave.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { REPO_MIGRATIONS } from '../../src/repository/migrations.ts';
import { RepositoryWriter } from '../../src/repository/index.ts';
import { newEvent } from '../../src/core/event.ts';
import { runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

describe('repository migrations 0010 and 0013: the session index, then the session activity', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg15' });
  });
  after(async () => cluster?.stop());

  const query = async <R extends pg.QueryResultRow>(db: string, sql: string, params: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ connectionString: cluster.url(db) });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  it('upgrades a version-9 repository: every row as it was, the index on (session_id) used by 0010, then none, the activity counted', async () => {
    await cluster.createDatabase('v9');
    const client = new pg.Client({ connectionString: cluster.url('v9') });
    await client.connect();
    const apply = async (versions: (v: number) => boolean) => {
      for (const m of REPO_MIGRATIONS.filter((x) => versions(x.version))) {
        await client.query('INSERT INTO pgwarden_repo.migrations (version, name, pgwarden_version) VALUES ($1, $2, $3)', [m.version, m.name, '0.1.0']);
        await client.query(m.sql);
      }
    };
    try {
      await client.query(`CREATE SCHEMA pgwarden_repo; CREATE TABLE pgwarden_repo.migrations (version integer PRIMARY KEY, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), applied_by name NOT NULL DEFAULT current_user, pgwarden_version text NOT NULL)`);
      await apply((v) => v <= 9);
      // two days (two partitions), 400 sessions of 50 events, a server-less log, events without a session
      for (const day of ['2026-11-22', '2026-11-23']) await client.query('SELECT pgwarden_repo.ensure_partition($1::date)', [day]);
      await client.query(`INSERT INTO pgwarden_repo.events (ts, kind, server, pid, session_id, message, source_input, source_position, source_line)
        SELECT '2026-11-22 20:00:00+00'::timestamptz + i * interval '1 s', CASE WHEN i % 50 = 0 THEN 'connection_authorized' ELSE 'audit' END,
          CASE WHEN i % 7 = 0 THEN NULL ELSE 'db' || (i % 2) END, 1000 + i / 50,
          CASE WHEN i % 11 = 0 THEN NULL ELSE pg_catalog.to_hex(1763841600 + i / 50) || '.' || pg_catalog.to_hex(1000 + i / 50) END,
          'AUDIT: ' || i, '/var/log/postgresql/postgresql.log', i * 100, i + 1 FROM generate_series(0, 19999) i`);
      // the sessions their connection records made (a session id spans both servers here: each server's is its own)
      await client.query(`INSERT INTO pgwarden_repo.sessions (server, session_id, pid, authorized_at)
        SELECT COALESCE(server, ''), session_id, min(pid), min(ts) FROM pgwarden_repo.events WHERE session_id IS NOT NULL GROUP BY 1, 2`);
      await client.query('ANALYZE pgwarden_repo.events');
    } finally {
      await client.end();
    }
    // the columns of version 9 (later migrations add columns: 0012 the response), each row as it was
    const rows = async () => (await query<{ n: number; sum: string }>('v9', `SELECT count(*)::int AS n,
      pg_catalog.md5(pg_catalog.string_agg((to_jsonb(e) - 'response')::text, E'\\n' ORDER BY source_input, source_position)) AS sum FROM pgwarden_repo.events e`))[0]!;
    const before = await rows();
    assert.equal(before.n, 20_000);
    const indexes = async () => (await query<{ def: string }>('v9', `SELECT pg_catalog.pg_get_indexdef(i.indexrelid) AS def FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'events%session%' ORDER BY 1`)).map((r) => r.def);
    assert.ok((await indexes()).every((def) => def.includes('(server, session_id)')), 'version 9 indexes (server, session_id)');

    // 0010 (as a repository of versions 10 to 12 has it)
    const client10 = new pg.Client({ connectionString: cluster.url('v9') });
    await client10.connect();
    try {
      for (const m of REPO_MIGRATIONS.filter((x) => x.version === 10)) {
        await client10.query('INSERT INTO pgwarden_repo.migrations (version, name, pgwarden_version) VALUES ($1, $2, $3)', [m.version, m.name, '0.1.0']);
        await client10.query(m.sql);
      }
    } finally {
      await client10.end();
    }
    assert.deepEqual(await rows(), before);
    const after10 = await indexes();
    // the parent's and each partition's, on session_id alone
    assert.equal(after10.length, 3, after10.join('\n'));
    for (const def of after10) assert.match(def, /USING btree \(session_id\) WHERE \(session_id IS NOT NULL\)$/);
    // The sessions report's and page's count of a session's statements (COALESCE(server, '')) went
    // through it (on PostgreSQL 15 the old one served it only by reading all of it).
    const id = (await query<{ id: string }>('v9', `SELECT session_id AS id FROM pgwarden_repo.events WHERE server = 'db1' AND session_id IS NOT NULL LIMIT 1`))[0]!.id;
    const plan = (await query<{ 'QUERY PLAN': string }>('v9', `EXPLAIN (COSTS OFF) SELECT pg_catalog.count(*) FROM pgwarden_repo.events e
      WHERE e.kind = 'audit' AND e.session_id = $1 AND COALESCE(e.server, '') = 'db1' AND e.ts >= '-infinity' AND e.ts <= 'infinity'`, [id]))
      .map((r) => r['QUERY PLAN']).join('\n');
    assert.ok(plan.includes(`Index Cond: (session_id = '${id}'::text)`), plan);
    assert.match(plan, /session_id_idx/);
    // what that count said of every session, before 0013
    const oldCounts = await query<{ server: string; session_id: string; statements: number }>('v9', `SELECT s.server, s.session_id,
      (SELECT pg_catalog.count(*) FROM pgwarden_repo.events e WHERE e.kind = 'audit' AND e.session_id = s.session_id
        AND COALESCE(e.server, '') = s.server AND e.ts >= COALESCE(s.started_at, s.authorized_at, '-infinity')
        AND e.ts <= COALESCE(s.ended_at, 'infinity'))::int AS statements FROM pgwarden_repo.sessions s ORDER BY 1, 2`);
    assert.equal(oldCounts.length, 1200); // 400 sessions on each of db0, db1 and the server-less log

    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('v9')]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /0013-session-activity/);
    assert.deepEqual(await rows(), before);
    assert.deepEqual(await indexes(), [], 'no index by session on the events');
    const activity = async () => query<{ server: string; session_id: string; events: number; statements: number; first_ts: Date; last_ts: Date }>('v9',
      `SELECT server, session_id, events::int, statements::int, first_ts, last_ts FROM pgwarden_repo.session_activity ORDER BY 1, 2`);
    const counted = await activity();
    assert.deepEqual(counted, await query('v9', `SELECT COALESCE(server, '') AS server, session_id, count(*)::int AS events,
      (count(*) FILTER (WHERE kind = 'audit'))::int AS statements, min(ts) AS first_ts, max(ts) AS last_ts
      FROM pgwarden_repo.events WHERE session_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`));
    assert.deepEqual(counted.map(({ server, session_id, statements }) => ({ server, session_id, statements })), oldCounts);

    // and the writer goes on into the upgraded repository: a batch again stores nothing, a new one all of it
    const writer = new RepositoryWriter({ url: cluster.url('v9'), label: 'v9' });
    try {
      const event = (i: number, session: string) => ({ ...newEvent('audit', 'db1', { input: '/var/log/postgresql/postgresql.log', position: i * 100, line: i + 1 }),
        ts: new Date(Date.UTC(2026, 10, 22, 20, 0, 0) + i * 1000).toISOString(), session_id: session, message: `AUDIT: ${i}` });
      // i = 1 is stored under server db1 above, in its session: counted once, not again
      const stored = (await query<{ s: string }>('v9', `SELECT session_id AS s FROM pgwarden_repo.events WHERE source_position = 100`))[0]!.s;
      assert.equal((await writer.write([event(1, stored)])).inserted, 0);
      assert.deepEqual(await activity(), counted);
      assert.equal((await writer.write([event(20_000, 'abc.1'), event(20_001, 'abc.1')])).inserted, 2);
    } finally {
      await writer.close();
    }
    assert.deepEqual(await query('v9', `SELECT count(*)::int AS n FROM pgwarden_repo.events WHERE session_id = 'abc.1'`), [{ n: 2 }]);
    assert.deepEqual(await query('v9', `SELECT events::int, statements::int FROM pgwarden_repo.session_activity WHERE server = 'db1' AND session_id = 'abc.1'`),
      [{ events: 2, statements: 2 }]);
  });
});
