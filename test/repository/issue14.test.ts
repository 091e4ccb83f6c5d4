// Issue 14 (repository side), on a real PostgreSQL: the server in the dedup key and the migration
// that puts it there on a repository written by the previous version, one input per file however
// it is spelled, a least-privilege writer that can write, and batches refused for their data set
// aside instead of stalling their source.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseConfig } from '../../src/core/config.ts';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { LOG_FORMATS } from '../../src/logs/index.ts';
import { eventKey } from '../../src/pipeline/nats.ts';
import { createSink } from '../../src/pipeline/build.ts';
import { RepositoryWriter } from '../../src/repository/index.ts';
import { REPO_MIGRATIONS } from '../../src/repository/migrations.ts';
import { runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { lines } from '../pipeline/collect-helpers.ts';

const PREFIX = '%m [%p] %q%u@%d ';
/** The same path on every Debian host: two collectors' events share it. */
const DEBIAN_LOG = '/var/log/postgresql/postgresql-15-main.log';

function auditEvent(server: string | null, input: string, i: number, at = Date.UTC(2026, 10, 22, 10, 0, 0)): PgwardenEvent {
  return {
    ...newEvent('audit', server, { input, position: i * 120, line: i + 1 }),
    // second precision, as a '%t' prefix writes it: two servers' records meet at the same times
    ts: new Date(at + Math.floor(i / 10) * 1000).toISOString(), user: 'alice', database: 'shop', message: `AUDIT: ${i}`,
    audit: { type: 'SESSION', statement_id: i, substatement_id: 1, class: 'READ', command: 'SELECT', object_type: null,
      object_name: null, statement: `SELECT ${i}`, parameters: null, statement_logged: 'yes', rows: null },
  };
}

describe('issue 14: repository keys, identity, privileges, refused batches', () => {
  let cluster: Cluster;
  let tmp: string;
  const query = async (db: string, sql: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: cluster.url(db) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const loginUrl = (db: string, user: string) => {
    const url = new URL(cluster.url(db, user, 'x'));
    url.password = '';
    return url.toString();
  };

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-i14-'));
    cluster = await startCluster({ flavor: 'pg17' });
    for (const db of ['repo', 'old_repo', 'priv_repo']) await cluster.createDatabase(db);
    await cluster.createRole('ingest_login', 'ingest-pw', '');
    await cluster.createRole('reader_login', 'reader-pw', '');
  });
  after(async () => {
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('item 1: two servers with the same file name, offsets and times both land (writer and NATS ids)', async () => {
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo')]);
    assert.equal(migrate.code, 0, migrate.stderr);
    const writer = new RepositoryWriter({ url: cluster.url('repo'), label: 'i14' });
    try {
      const a = Array.from({ length: 100 }, (_, i) => auditEvent('hosta', DEBIAN_LOG, i));
      const b = Array.from({ length: 100 }, (_, i) => auditEvent('hostb', DEBIAN_LOG, i));
      assert.deepEqual(await writer.write(a), { received: 100, inserted: 100, duplicates: 0, undated: 0 });
      // before: "inserted 0, duplicates 100" — hostb's records taken for hosta's
      assert.deepEqual(await writer.write(b), { received: 100, inserted: 100, duplicates: 0, undated: 0 });
      // the deduplicating path (a batch that overlaps) keys on the server too
      const mixed = [...a.slice(50), ...b.slice(90), auditEvent('hostc', DEBIAN_LOG, 3), auditEvent(null, DEBIAN_LOG, 3)];
      assert.deepEqual(await writer.write(mixed), { received: 62, inserted: 2, duplicates: 60, undated: 0 });
      // a server-less event still deduplicates against itself
      assert.deepEqual(await writer.write([auditEvent(null, DEBIAN_LOG, 3)]), { received: 1, inserted: 0, duplicates: 1, undated: 0 });
      const undated = (server: string) => ({ ...newEvent('log', server, { input: DEBIAN_LOG, position: 7, line: 1 }), message: 'no time' });
      assert.equal((await writer.write([undated('hosta'), undated('hostb')])).undated, 2);
      assert.equal((await writer.write([undated('hosta'), undated('hostb')])).undated, 0);
    } finally {
      await writer.close();
    }
    const rows = await query('repo', `SELECT COALESCE(server, '-') AS server, count(*)::int AS n FROM pgwarden_repo.events GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(rows, [{ server: '-', n: 1 }, { server: 'hosta', n: 100 }, { server: 'hostb', n: 100 }, { server: 'hostc', n: 1 }]);
    // JetStream deduplicates on the message id: hostb's message must not carry hosta's
    assert.notEqual(eventKey(auditEvent('hosta', DEBIAN_LOG, 0)), eventKey(auditEvent('hostb', DEBIAN_LOG, 0)));
  });

  it('item 1: migrate upgrades a repository written by version 6 without losing or doubling a row', async () => {
    // The repository as pgwarden before this version left it: migrations 1-6 (immutable) and rows its
    // writer stored under (ts, input, position) — hostb's colliding record dropped, a relative input, undated rows, a session.
    const client = new pg.Client({ connectionString: cluster.url('old_repo') });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA pgwarden_repo; CREATE TABLE pgwarden_repo.migrations (version integer PRIMARY KEY, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), applied_by name NOT NULL DEFAULT current_user, pgwarden_version text NOT NULL)`);
      for (const m of REPO_MIGRATIONS.filter((x) => x.version <= 6)) {
        await client.query('INSERT INTO pgwarden_repo.migrations (version, name, pgwarden_version) VALUES ($1, $2, $3)', [m.version, m.name, '0.1.0']);
        await client.query(m.sql);
      }
      await client.query(`SELECT pgwarden_repo.ensure_partition('2026-11-22')`);
      await client.query(`INSERT INTO pgwarden_repo.events (ts, kind, server, message, source_input, source_position, source_line)
        SELECT '2026-11-22 10:00:00+00'::timestamptz + (i / 10) * interval '1 s', 'audit', CASE WHEN i % 3 = 0 THEN NULL ELSE 'hosta' END,
          'AUDIT: ' || i, CASE WHEN i < 500 THEN '${DEBIAN_LOG}' ELSE 'big/p20.log' END, i * 120, i + 1 FROM generate_series(0, 999) i`);
      await client.query(`INSERT INTO pgwarden_repo.undated_events (kind, server, message, source_input, source_position)
        VALUES ('log', 'hosta', 'no time', '${DEBIAN_LOG}', 7), ('log', NULL, 'no time', 'x.log', 7)`);
      await client.query(`INSERT INTO pgwarden_repo.sessions (server, session_id, user_name) VALUES ('hosta', 'abc.1', 'alice')`);
    } finally {
      await client.end();
    }
    // every row as it was, column by column (later migrations may add columns: those are left out)
    const rowsOf = async (columns?: string[]) => (await query('old_repo', `SELECT to_jsonb(e) AS r FROM pgwarden_repo.events e ORDER BY source_input, source_position`) as { r: Record<string, unknown> }[])
      .map(({ r }) => JSON.stringify(columns ? Object.fromEntries(columns.map((c) => [c, r[c]])) : r));
    const before = await rowsOf();
    const columns = Object.keys(JSON.parse(before[0]!) as object);
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('old_repo')]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /0007-server-key/);
    const afterward = await rowsOf(columns);
    assert.equal(afterward.length, 1000);
    assert.deepEqual(afterward, before);
    assert.deepEqual(await query('old_repo', 'SELECT count(*)::int AS n FROM pgwarden_repo.undated_events'), [{ n: 2 }]);
    // what a collector then delivers: hosta's batch again stores nothing, hostb's (dropped before) all of it
    const writer = new RepositoryWriter({ url: cluster.url('old_repo'), label: 'old' });
    try {
      const again = Array.from({ length: 500 }, (_, i) => auditEvent(i % 3 === 0 ? null : 'hosta', DEBIAN_LOG, i, Date.UTC(2026, 10, 22, 10, 0, 0)));
      assert.equal((await writer.write(again)).inserted, 0);
      const hostb = Array.from({ length: 500 }, (_, i) => auditEvent('hostb', DEBIAN_LOG, i));
      assert.equal((await writer.write(hostb)).inserted, 500);
    } finally {
      await writer.close();
    }
    assert.deepEqual(await query('old_repo', 'SELECT count(*)::int AS n FROM pgwarden_repo.events'), [{ n: 1500 }]);
  });

  it('item 2: one file spelled three ways (and through a link) is one input; a moved directory keeps its names', async () => {
    const cwd = path.join(tmp, 'work');
    mkdirSync(path.join(cwd, 'big'), { recursive: true });
    writeFileSync(path.join(cwd, 'big', 'p20.log'), lines(1, 40));
    symlinkSync(path.join(cwd, 'big'), path.join(cwd, 'link'));
    const run = (args: string[]) => runCliIn(cwd, ['ingest', ...args, '--repo', cluster.url('repo'), '--server', 'id-test', '--prefix', PREFIX]);
    const first = await run(['big/p20.log']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /inserted 40, duplicates 0/);
    for (const spelling of ['./big/p20.log', path.join(cwd, 'big', 'p20.log'), 'big/../big/p20.log', 'link/p20.log']) {
      const again = await run([spelling]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /inserted 0, duplicates 40/, spelling);
    }
    const inputs = await query('repo', `SELECT DISTINCT source_input FROM pgwarden_repo.events WHERE server = 'id-test'`);
    assert.deepEqual(inputs, [{ source_input: path.join(await realpathOf(cwd), 'big', 'p20.log') }]);
    // moved: --relocated OLD=NEW stores the files under the names they had, so nothing is stored twice
    renameSync(path.join(cwd, 'big'), path.join(cwd, 'moved'));
    writeFileSync(path.join(cwd, 'moved', 'p20.log'), lines(1, 45));
    const moved = await run([path.join(cwd, 'moved', 'p20.log'), '--relocated', `${path.join(await realpathOf(cwd), 'big')}=${path.join(cwd, 'moved')}`]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stderr, /inserted 5, duplicates 40/);
  });

  it('item 3: the --writer-login login writes (twice: the duplicate check too) and may not read, update or delete events', async () => {
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('priv_repo'), '--writer-login', 'ingest_login']);
    assert.equal(migrate.code, 0, migrate.stderr);
    const file = path.join(tmp, 'priv.log');
    writeFileSync(file, lines(1, 30));
    const env = { PGPASSWORD: 'ingest-pw' };
    const args = ['ingest', file, '--repo', loginUrl('priv_repo', 'ingest_login'), '--server', 'db1', '--prefix', PREFIX];
    const first = await runCli(args, env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /inserted 30, duplicates 0/);
    const second = await runCli(args, env);
    // before: permission denied for table events (the duplicate check SELECTs), exit 4
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /inserted 0, duplicates 30/);
    const writer = new pg.Client({ connectionString: cluster.url('priv_repo', 'ingest_login', 'ingest-pw') });
    await writer.connect();
    try {
      for (const sql of ['UPDATE pgwarden_repo.events SET message = NULL', 'DELETE FROM pgwarden_repo.events', 'SELECT message, statement FROM pgwarden_repo.events']) {
        await assert.rejects(writer.query(sql), { code: '42501' }, sql);
      }
    } finally {
      await writer.end();
    }
  });

  it('item 2: parse names a file as ingest does (relative, through a link): its events replayed are all duplicates', async () => {
    const cwd = path.join(tmp, 'parse-work');
    mkdirSync(path.join(cwd, 'big'), { recursive: true });
    writeFileSync(path.join(cwd, 'big', 'p20.log'), lines(1, 25));
    symlinkSync(path.join(cwd, 'big', 'p20.log'), path.join(cwd, 'p20-link.log'));
    const ingested = await runCliIn(cwd, ['ingest', 'big/p20.log', '--repo', cluster.url('repo'), '--server', 'parse-test', '--prefix', PREFIX]);
    assert.equal(ingested.code, 0, ingested.stderr);
    const stored = await query('repo', `SELECT DISTINCT source_input FROM pgwarden_repo.events WHERE server = 'parse-test'`);
    assert.deepEqual(stored, [{ source_input: path.join(await realpathOf(cwd), 'big', 'p20.log') }]);
    for (const spelling of ['big/p20.log', './big/../big/p20.log', 'p20-link.log']) {
      const parsed = await runCliIn(cwd, ['parse', spelling, '--server', 'parse-test', '--prefix', PREFIX]);
      assert.equal(parsed.code, 0, parsed.stderr);
      const events = parsed.stdout.trim().split('\n').map((line) => JSON.parse(line) as PgwardenEvent);
      assert.equal(events.length, 25);
      // before: 'big/p20.log' as typed, while ingest stored the resolved path: a replay stored it all again
      assert.deepEqual([...new Set(events.map((e) => e.source.input))], [stored[0]!.source_input], spelling);
      const file = path.join(cwd, 'events.jsonl');
      writeFileSync(file, parsed.stdout);
      // ingest reads parse's JSON lines back where the `events` format is known (issue 14, logs half)
      if ((LOG_FORMATS as readonly string[]).includes('events')) {
        const replay = await runCliIn(cwd, ['ingest', 'events.jsonl', '--repo', cluster.url('repo'), '--format', 'events']);
        assert.equal(replay.code, 0, replay.stderr);
        assert.match(replay.stderr, /inserted 0, duplicates 25/, spelling);
      }
    }
  });

  it('item 3: collect with a login that may not write stops at start with exit 4 instead of retrying', async () => {
    // a reports login put in the sink by mistake: it reads the repository, it may not write it
    await query('priv_repo', 'GRANT pgwarden_repo_reader TO reader_login');
    const dir = path.join(tmp, 'priv-logs');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'postgresql.log'), lines(1, 5));
    const config = path.join(tmp, 'priv.yaml');
    writeFileSync(config, `repository:\n  url: ${loginUrl('priv_repo', 'reader_login')}\n  password_env: I14_PW\npipeline:\n  sources:\n` +
      `    pglog: { type: logfile, path: ${dir}, pattern: '*.log', server: db1, prefix: '${PREFIX}', state_dir: ${path.join(tmp, 'priv-state')} }\n` +
      `  sinks:\n    repo: { type: repository }\n`);
    const result = await runCli(['collect', '--config', config], { I14_PW: 'reader-pw' }, { timeoutMs: 30_000 });
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /may not write the repository: it lacks INSERT on pgwarden_repo\.events/);
  });

  it('item 4: a NUL in a login\'s application name is stored as U+FFFD, in events, sessions and jsonb', async () => {
    const writer = new RepositoryWriter({ url: cluster.url('repo'), label: 'nul' });
    const at = Date.UTC(2026, 10, 23, 8, 0, 0);
    const login = {
      ...newEvent('connection_authorized', 'nul-test', { input: '/var/log/nul.csv', position: 0, line: 1 }),
      ts: new Date(at).toISOString(), session_id: 's.1', user: 'bob', database: 'shop', application: 'psql\0\0zero-filled',
      guard: { decision: 'allow', note: 'a\0b' } as unknown as PgwardenEvent['guard'],
    };
    try {
      // before: 22P05 from the sessions update, the same batch for ever
      const result = await writer.write([login, auditEvent('nul-test', '/var/log/nul.csv', 1, at)]);
      assert.equal(result.inserted, 2);
    } finally {
      await writer.close();
    }
    assert.deepEqual(await query('repo', `SELECT application FROM pgwarden_repo.sessions WHERE server = 'nul-test'`), [{ application: 'psql\ufffd\ufffdzero-filled' }]);
    assert.deepEqual(await query('repo', `SELECT guard->>'note' AS note FROM pgwarden_repo.events WHERE server = 'nul-test' AND kind = 'connection_authorized'`), [{ note: 'a\ufffdb' }]);
  });

  it('item 4: a batch the repository refuses for its data is set aside with its positions, and the rest is stored', async () => {
    // a rule of the repository's operator that some values break: the refusal of class 23
    // as the least-privilege writer docs/repository.md recommends (before: permission denied for
    // rejected_batches, from RETURNING id: the poison batch retried for ever)
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo'), '--writer-login', 'ingest_login']);
    assert.equal(migrate.code, 0, migrate.stderr);
    await query('repo', `ALTER TABLE pgwarden_repo.events ADD CONSTRAINT no_poison CHECK (message IS DISTINCT FROM 'poison') NOT VALID`);
    process.env.I14_SINK_PW = 'ingest-pw';
    const config = parseConfig(`repository:\n  url: ${loginUrl('repo', 'ingest_login')}\n  password_env: I14_SINK_PW\npipeline:\n  sinks:\n    repo: { type: repository }\n`);
    const sink = await createSink('repo', config.pipeline.sinks.repo!, config);
    const events = Array.from({ length: 64 }, (_, i) => auditEvent('poison-test', '/var/log/p.log', i));
    events[37] = { ...events[37]!, message: 'poison' };
    try {
      await sink.deliver({ events, messageId: 'pglog:/var/log/p.log:0:64' });
      await sink.deliver({ events, messageId: 'pglog:/var/log/p.log:0:64' });
    } finally {
      await sink.close();
      await query('repo', 'ALTER TABLE pgwarden_repo.events DROP CONSTRAINT no_poison');
    }
    assert.deepEqual(await query('repo', `SELECT count(*)::int AS n FROM pgwarden_repo.events WHERE server = 'poison-test'`), [{ n: 63 }]);
    const rejected = await query('repo', `SELECT message_id, sqlstate, event_count, positions, convert_from(events, 'UTF8') AS events FROM pgwarden_repo.rejected_batches ORDER BY id`);
    assert.equal(rejected.length, 2, 'each delivery sets the refused event aside');
    assert.equal(rejected[0].sqlstate, '23514');
    assert.equal(rejected[0].event_count, 1);
    assert.deepEqual(rejected[0].positions, [{ server: 'poison-test', input: '/var/log/p.log', first: 37 * 120, last: 37 * 120 }]);
    assert.equal((JSON.parse(rejected[0].events) as PgwardenEvent).message, 'poison');
  });
});

async function realpathOf(p: string): Promise<string> {
  return (await import('node:fs/promises')).realpath(p);
}

/** runCli with another working directory (relative spellings of a file). */
async function runCliIn(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const bin = new URL('../../bin/pgwarden.js', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, PGWARDEN_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
