// The repository against a real PostgreSQL 15 + pgAudit: the cluster logs real activity
// (stderr through logging_collector), `pgwarden ingest` loads that log into a repository
// database on the same cluster (pgAudit on, logging everything), as a non-superuser writer.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseConfig } from '../../src/core/config.ts';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { createSink } from '../../src/pipeline/build.ts';
import { RepositoryWriter } from '../../src/repository/index.ts';
import { REPO_LATEST_VERSION, REPO_MIGRATIONS } from '../../src/repository/migrations.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

/** Every migration, as migrate and ingest name them: 0001-events-sessions, … */
const APPLIED = REPO_MIGRATIONS.map((m) => `${String(m.version).padStart(4, '0')}-${m.name}`).join(', ');

const PREFIX = '%m [%p] %c %q%u@%d [%a] %r ';
const END_MARK = 'end of the pgwarden repository test';

describe('repository: ingest, dedup, sessions, reports, prune', () => {
  let cluster: Cluster;
  let tmp: string;
  let logCopy: string;
  let logDir: string;
  let repoUrl: string;
  const env = { PGPASSWORD: 'ingest-pw' };

  const repoQuery = async (sql: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const logText = () => readdirSync(logDir).filter((n) => n.endsWith('.log')).map((n) => readFileSync(path.join(logDir, n), 'utf8')).join('');

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-repo-test-'));
    cluster = await startCluster({
      flavor: 'pg15', pgaudit: true, settings: {
        log_destination: "'stderr'", logging_collector: 'on', log_line_prefix: `'${PREFIX}'`,
        log_connections: 'on', log_disconnections: 'on', 'pgaudit.log': "'all'", 'pgaudit.log_parameter': 'on',
      },
    });
    logDir = path.join(cluster.dataDir, 'log');
    await cluster.query('CREATE TABLE t(id int PRIMARY KEY, note text)');
    await cluster.createRole('app user', 'pw1', '');
    await cluster.createRole('alice', 'pw2', '');
    await cluster.createRole('ingester', 'ingest-pw', '');
    await cluster.query('GRANT ALL ON t TO "app user"');
    // the ingest login also reads the reports here; in production those are two logins
    await cluster.createDatabase('repo');

    const app = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'pw1'), application_name: 'orders api' });
    await app.connect();
    await app.query('INSERT INTO t VALUES ($1, $2), ($3, $4)', [1, 'a,"b"\n\tc\\d', 2, null]);
    await app.query('SELECT note FROM t WHERE id = 1');
    await app.query('UPDATE t SET note = $1 WHERE id = 2', ['x']);
    await app.end();
    for (let i = 0; i < 2; i++) {
      const bad = new pg.Client({ connectionString: cluster.url('postgres', 'alice', 'wrong') });
      bad.on('error', () => undefined);
      await assert.rejects(bad.connect(), { code: '28P01' });
    }
    await cluster.query(`SELECT '${END_MARK}'`);
    await waitFor(async () => logText().includes(END_MARK), 15_000, 'the log to hold the run');
    await new Promise((r) => setTimeout(r, 300));
    const log = readdirSync(logDir).find((n) => n.endsWith('.log'))!;
    logCopy = path.join(tmp, 'postgresql.log');
    copyFileSync(path.join(logDir, log), logCopy);

    const url = new URL(cluster.url('repo', 'ingester', 'x'));
    url.password = '';
    repoUrl = url.toString();
  });
  after(async () => {
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** The writer keeps the dashboard's hourly counts: copied batches and deduplicated ones add up to the stored events. */
  async function assertHourlyCounts(): Promise<void> {
    const counted = await repoQuery(`SELECT c.hour, c.kind, c.server, c.events::int AS counted, e.n AS stored
      FROM pgwarden_repo.event_counts c FULL JOIN (SELECT date_trunc('hour', ts, 'UTC') AS hour, kind, COALESCE(server, '') AS server,
        count(*)::int AS n FROM pgwarden_repo.events GROUP BY 1, 2, 3) e USING (hour, kind, server)`);
    assert.ok(counted.length > 0);
    for (const row of counted) assert.equal(row.counted, row.stored, `${row.kind} of ${row.server} at ${row.hour}`);
  }

  it('migrate creates the schema and roles, and quiets pgAudit for the writer login', async () => {
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo'), '--writer-login', 'ingester']);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.ok(migrate.stdout.includes(`applied ${APPLIED}`), migrate.stdout);
    assert.match(migrate.stdout, /pgaudit\.log = 'none' set for pgwarden_repo_writer and ingester/);
    await cluster.query('GRANT pgwarden_repo_reader TO ingester');
    const again = await runCli(['repo', 'migrate', '--repo', cluster.url('repo')]);
    assert.ok(again.stdout.includes(`up to date (version ${REPO_LATEST_VERSION})`), again.stdout);
    const settings = await cluster.query<{ rolname: string; setconfig: string[] }>(
      `SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole ORDER BY 1`);
    assert.deepEqual(settings.rows.map((r) => [r.rolname, r.setconfig]), [['ingester', ['pgaudit.log=none']], ['pgwarden_repo_writer', ['pgaudit.log=none']]]);
  });

  it('ingest loads every event of the real log; a second run inserts none', async () => {
    const first = await runCli(['ingest', logCopy, '--repo', repoUrl, '--server', 'pg15', '--prefix', PREFIX], env);
    assert.equal(first.code, 0, first.stderr);
    const total = Number(/: (\d+) events/.exec(first.stderr)![1]);
    assert.ok(total > 20, first.stderr);
    assert.match(first.stderr, new RegExp(`inserted ${total}, duplicates 0, undated 0, parse errors 0`));
    const [{ count }] = await repoQuery('SELECT count(*)::int AS count FROM pgwarden_repo.events');
    assert.equal(count, total);
    const second = await runCli(['ingest', logCopy, '--repo', repoUrl, '--server', 'pg15', '--prefix', PREFIX], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`inserted 0, duplicates ${total},`));
    const [{ count: after }] = await repoQuery('SELECT count(*)::int AS count FROM pgwarden_repo.events');
    assert.equal(after, total);
    await assertHourlyCounts();
  });

  it('stores parameters with commas, quotes, tabs, backslashes and NULL exactly', async () => {
    const rows = await repoQuery(`SELECT parameters, class, user_name FROM pgwarden_repo.events WHERE kind = 'audit' AND command = 'INSERT' AND user_name = 'app user'`);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0].parameters, ['1', 'a,"b"\n\tc\\d', '2', null]);
    assert.equal(rows[0].class, 'WRITE');
  });

  it('stores any text exactly: escapes, control characters, non-ASCII, emoji; NUL and lone surrogates as U+FFFD', async () => {
    const odd = ['back\\slash \\N', 'tab\there', 'new\nline\r\n', 'quote " and {braces}, commas', 'bell\u0007', 'é✓ 中文 😀', 'nul\u0000', 'lone \ud800 half', '', 'NULL'];
    const events = odd.map((text, i) => ({
      ...newEvent('audit', 'odd', { input: 'odd-text', position: i, line: i + 1 }), ts: new Date().toISOString(), message: text, user: text,
      audit: { type: 'SESSION' as const, statement_id: i, substatement_id: 1, class: 'READ', command: 'SELECT', object_type: null, object_name: text,
        statement: text, parameters: [text, null, text], statement_logged: 'yes' as const, rows: null },
    }));
    const writer = new RepositoryWriter({ url: cluster.url('repo'), label: 'odd' });
    try {
      await writer.write(events);
    } finally {
      await writer.close();
    }
    const rows = await repoQuery(`SELECT message, user_name, object_name, statement, parameters FROM pgwarden_repo.events WHERE source_input = 'odd-text' ORDER BY source_position`);
    // PostgreSQL text holds neither NUL nor half a surrogate pair: both are stored as U+FFFD.
    const stored = (text: string) => text.replaceAll('\u0000', '\ufffd').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    assert.deepEqual(rows, odd.map((text) => ({ message: stored(text), user_name: stored(text), object_name: stored(text), statement: stored(text), parameters: [stored(text), null, stored(text)] })));
  });

  it('stores every column type exactly: times (with microseconds), integers, bigints, doubles, empty arrays, jsonb', async () => {
    const base = { ...newEvent('log', 'types', { input: 'typed', position: 0, line: 1 }) };
    const events: PgwardenEvent[] = [
      { ...base, ts: '2026-11-22T23:59:59.999-05:30', pid: 2147483647, client_port: 65535, session_line: 2 ** 53 - 1, duration_ms: 1234.5678,
        guard: { rule_id: 3, reason: 'GUI tools é', problem: null }, source: { input: 'typed', position: 9007199254740991, line: 7 } },
      { ...base, kind: 'audit', ts: '2026-11-22T10:00:00.123456+00:00', pid: 2 ** 31, duration_ms: Number.NaN, source: { input: 'typed', position: 1, line: null },
        audit: { type: 'OBJECT', statement_id: 0, substatement_id: 2 ** 40, class: 'READ', command: 'SELECT', object_type: 'TABLE', object_name: 'public.t',
          statement: 'SELECT 1', parameters: [], statement_logged: 'yes', rows: -1 } },
    ];
    const writer = new RepositoryWriter({ url: cluster.url('repo'), label: 'types' });
    try {
      await writer.write(events);
    } finally {
      await writer.close();
    }
    const rows = await repoQuery(`SELECT pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts, pid, client_port, session_line::text,
      duration_ms, guard, statement_id::text, substatement_id::text, parameters, rows::text, source_position::text, source_line::text
      FROM pgwarden_repo.events WHERE source_input = 'typed' ORDER BY source_position`);
    assert.deepEqual(rows, [
      { ts: '2026-11-22 10:00:00.123456', pid: null, client_port: null, session_line: null, duration_ms: null, guard: null,
        statement_id: '0', substatement_id: String(2 ** 40), parameters: [], rows: '-1', source_position: '1', source_line: null },
      { ts: '2026-11-23 05:29:59.999000', pid: 2147483647, client_port: 65535, session_line: String(2 ** 53 - 1), duration_ms: 1234.5678,
        guard: { rule_id: 3, reason: 'GUI tools é', problem: null }, statement_id: null, substatement_id: null, parameters: null, rows: null,
        source_position: '9007199254740991', source_line: '7' },
    ]);
  });

  it('links every audit statement of a session to its login', async () => {
    const audit = await runCli(['report', 'audit', '--repo', repoUrl, '--user', 'app user', '--format', 'json'], env);
    assert.equal(audit.code, 0, audit.stderr);
    const rows = JSON.parse(audit.stdout) as Record<string, unknown>[];
    assert.deepEqual(rows.map((r) => r.command), ['INSERT', 'SELECT', 'UPDATE']);
    for (const row of rows) {
      assert.equal(row.application, 'orders api');
      assert.equal(row.client, '127.0.0.1');
      assert.ok(row.session_start, 'the session start comes from the login');
    }
    const write = await runCli(['report', 'audit', '--repo', repoUrl, '--class', 'write', '--user', 'app user', '--format', 'csv'], env);
    assert.equal(write.stdout.trim().split('\r\n').length, 3, 'header + INSERT + UPDATE');
    const parameters = JSON.stringify(['1', 'a,"b"\n\tc\\d', '2', null]);
    assert.ok(write.stdout.includes(`"${parameters.replaceAll('"', '""')}"`), 'parameters in CSV are a JSON array, not joined with commas');
    const sessions = JSON.parse((await runCli(['report', 'sessions', '--repo', repoUrl, '--user', 'app user', '--format', 'json'], env)).stdout) as Record<string, unknown>[];
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.statements, 3);
    assert.equal(sessions[0]!.database, 'postgres');
    assert.ok(sessions[0]!.ended_at && (sessions[0]!.duration_ms as number) > 0);
  });

  it('reports failed logins and the top statements', async () => {
    const failed = JSON.parse((await runCli(['report', 'failed-logins', '--repo', repoUrl, '--format', 'json'], env)).stdout) as Record<string, unknown>[];
    assert.deepEqual(failed.map((r) => [r.user, r.failures]), [['alice', 2]]);
    const refused = JSON.parse((await runCli(['report', 'sessions', '--repo', repoUrl, '--user', 'alice', '--format', 'json'], env)).stdout) as Record<string, unknown>[];
    assert.equal(refused.length, 2, "a refused login's session names who tried");
    const top = await runCli(['report', 'top', '--repo', repoUrl, '--user', 'app user'], env);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /^user\s+class\s+command/);
    assert.match(top.stdout, /app user\s+WRITE\s+INSERT\s+1\s/);
    assert.match(top.stdout, /app user\s+READ\s+SELECT\s+1\s/);
  });

  it("never audits the writer's own inserts", async () => {
    const mark = 'after the pgwarden repository ingests';
    await cluster.query(`SELECT '${mark}'`);
    await waitFor(async () => logText().includes(mark), 15_000, 'the log to reach the mark');
    const text = logText();
    assert.match(text, /AUDIT: SESSION,\d+,\d+,WRITE,INSERT,,,"?INSERT INTO t VALUES/, 'pgAudit is auditing this cluster');
    assert.match(text, /CREATE TABLE pgwarden_repo\.events \(/, 'and audited the migration (a superuser without the setting)');
    assert.doesNotMatch(text, /AUDIT: [^\n]*INSERT INTO pgwarden_repo\.(events|undated_events|sessions)/);
    assert.doesNotMatch(text, /AUDIT: [^\n]*COPY pg_temp\.pgwarden_staging/);
  });

  it('the repository sink delivers a batch exactly once, and ingest keeps undated events apart', async () => {
    const config = parseConfig(`repository:\n  url: ${repoUrl}\n  password_env: PGW_TEST_REPO_PW\npipeline:\n  sinks:\n    repo: { type: repository }\n`);
    process.env.PGW_TEST_REPO_PW = 'ingest-pw';
    const sink = await createSink('repo', config.pipeline.sinks.repo!, config);
    const event = { ...newEvent('log', 'pg15', { input: 'sink-test', position: 42, line: 3 }), ts: new Date().toISOString(), message: 'hello' };
    const undated = { ...newEvent('log', 'pg15', { input: 'sink-test', position: 43, line: 4 }), message: 'no time' };
    try {
      await sink.deliver({ events: [event, undated], messageId: 'm1' });
      await sink.deliver({ events: [event, undated], messageId: 'm1' });
    } finally {
      await sink.close();
    }
    const rows = await repoQuery(`SELECT message FROM pgwarden_repo.events WHERE source_input = 'sink-test'`);
    assert.deepEqual(rows, [{ message: 'hello' }]);
    assert.deepEqual(await repoQuery(`SELECT message FROM pgwarden_repo.undated_events WHERE source_input = 'sink-test'`), [{ message: 'no time' }]);
  });

  it('two writers storing the same batch at once store it once', async () => {
    const now = Date.now();
    const events = Array.from({ length: 2000 }, (_, i) => ({
      ...newEvent('audit', 'pg15', { input: 'race-test', position: i * 100, line: i + 1 }),
      ts: new Date(now + i).toISOString(), message: `AUDIT: ${i}`, session_id: 'abc.1',
      audit: { type: 'SESSION' as const, statement_id: i, substatement_id: 1, class: 'READ', command: 'SELECT', object_type: null,
        object_name: null, statement: `SELECT ${i}`, parameters: [`p\t${i}`, null], statement_logged: 'yes' as const, rows: 1 },
    }));
    const writers = [0, 1].map(() => new RepositoryWriter({ url: cluster.url('repo'), label: 'race' }));
    try {
      const results = await Promise.all(writers.map((w) => w.write(events)));
      assert.equal(results[0]!.inserted + results[1]!.inserted, 2000);
      assert.equal(results[0]!.duplicates + results[1]!.duplicates, 2000);
      const again = await writers[0]!.write(events.slice(1000).concat(events.slice(0, 10)));
      assert.deepEqual(again, { received: 1010, inserted: 0, duplicates: 1010, undated: 0 });
    } finally {
      await Promise.all(writers.map((w) => w.close()));
    }
    const rows = await repoQuery(`SELECT count(*)::int AS n, count(DISTINCT source_position)::int AS d FROM pgwarden_repo.events WHERE source_input = 'race-test'`);
    assert.deepEqual(rows, [{ n: 2000, d: 2000 }]);
    const [one] = await repoQuery(`SELECT parameters FROM pgwarden_repo.events WHERE source_input = 'race-test' AND source_position = 500`);
    assert.deepEqual(one.parameters, ['p\t5', null]);
    await assertHourlyCounts();
  });

  it('writers starting together on an empty database migrate it once and add the same new days without colliding', async () => {
    await cluster.createDatabase('fresh');
    const days = ['2021-03-01', '2021-03-02', '2021-03-03'];
    const batchOf = (writer: number) => days.flatMap((day, d) => Array.from({ length: 50 }, (_, i) => ({
      ...newEvent('log', 'pg15', { input: `fresh-${writer}`, position: d * 1000 + i, line: i + 1 }),
      ts: `${day}T10:00:00.${String(i).padStart(3, '0')}+00:00`, message: `event ${i}`,
    })));
    for (let round = 0; round < 3; round++) {
      const writers = [0, 1, 2, 3].map(() => new RepositoryWriter({ url: cluster.url('fresh'), label: 'fresh' }));
      try {
        const results = await Promise.all(writers.map((w, i) => w.write(batchOf(round * 10 + i))));
        assert.deepEqual(results.map((r) => r.inserted), [150, 150, 150, 150], `round ${round}`);
      } finally {
        await Promise.all(writers.map((w) => w.close()));
      }
      const client = new pg.Client({ connectionString: cluster.url('fresh') });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT (SELECT count(*)::int FROM pgwarden_repo.events) AS n,
          (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'pgwarden_repo.events'::regclass) AS partitions`);
        assert.deepEqual(rows[0], { n: 600, partitions: 3 });
        // Start the next round on an empty database again.
        await client.query('DROP SCHEMA pgwarden_repo CASCADE');
      } finally {
        await client.end();
      }
    }
  });

  it('ingest into a database without a repository creates it and says so', async () => {
    await cluster.createDatabase('autocreated');
    const result = await runCli(['ingest', logCopy, '--repo', cluster.url('autocreated'), '--server', 'pg15', '--prefix', PREFIX]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^note: created the pgwarden repository in postgres:\/\/.*\/autocreated /m);
    assert.ok(result.stderr.includes(`(schema version ${REPO_LATEST_VERSION}: ${APPLIED})`), result.stderr);
    const again = await runCli(['ingest', logCopy, '--repo', cluster.url('autocreated'), '--server', 'pg15', '--prefix', PREFIX]);
    assert.doesNotMatch(again.stderr, /note: created/);
  });

  it('prune drops whole day partitions older than the cutoff', async () => {
    const old = path.join(tmp, 'old.log');
    writeFileSync(old, '2020-01-01 10:00:00.000 UTC [77] LOG:  an old line\n2020-01-02 10:00:00.000 UTC [77] LOG:  another\n');
    const ingest = await runCli(['ingest', old, '--repo', repoUrl, '--prefix', '%m [%p] '], env);
    assert.match(ingest.stderr, /inserted 2,/);
    const dry = await runCli(['repo', 'prune', '--older-than', '90d', '--dry-run', '--repo', cluster.url('repo')]);
    assert.match(dry.stdout, /would drop pgwarden_repo\.events_20200101\nwould drop pgwarden_repo\.events_20200102\n/);
    const pruned = await runCli(['repo', 'prune', '--older-than', '90d', '--repo', cluster.url('repo')]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /dropped pgwarden_repo\.events_20200101/);
    assert.match(pruned.stdout, /2 partitions dropped/);
    const left = await repoQuery(`SELECT count(*)::int AS n FROM pgwarden_repo.events WHERE ts < '2021-01-01'`);
    assert.equal(left[0].n, 0);
    const today = await repoQuery(`SELECT count(*)::int AS n FROM pgwarden_repo.events WHERE source_input = $1`, [logCopy]);
    assert.ok(today[0].n > 20, 'recent partitions stay');
  });

  it('says what is wrong in one line', async () => {
    const none = await runCli(['report', 'audit', '--repo', cluster.url('postgres')]);
    assert.equal(none.code, 5);
    assert.match(none.stderr, /^Error: this database holds no pgwarden repository/);
    const badAge = await runCli(['repo', 'prune', '--older-than', 'soon', '--repo', repoUrl], env);
    assert.equal(badAge.code, 2);
    assert.match(badAge.stderr, /--older-than "soon" is not a duration/);
    const month = await runCli(['repo', 'prune', '--older-than', '1m', '--repo', repoUrl], env);
    assert.equal(month.code, 2, 'a month or a minute? neither is guessed');
    assert.match(month.stderr, /months and minutes are not units here: write 30d/);
    const stranger = new URL(repoUrl);
    stranger.username = 'app%20user';
    const denied = await runCli(['report', 'audit', '--repo', stranger.toString()], { PGPASSWORD: 'pw1' });
    assert.equal(denied.code, 4, denied.stderr);
    assert.match(denied.stderr, /^Error: permission denied .*\n {2}Writing needs pgwarden_repo_writer .*reports need pgwarden_repo_reader/);
    const noRepo = await runCli(['ingest', logCopy], { PGWARDEN_REPO: '' });
    assert.equal(noRepo.code, 2);
    assert.match(noRepo.stderr, /no repository named/);
    // A prefix pgwarden cannot recognise would store events without time or user: refused.
    const unknownPrefix = await runCli(['ingest', logCopy, '--repo', repoUrl], env);
    assert.equal(unknownPrefix.code, 2, unknownPrefix.stderr);
    assert.match(unknownPrefix.stderr, /stderr log with a log_line_prefix pgwarden does not recognise; pass --prefix/);
    const wrongFormat = await runCli(['ingest', logCopy, '--repo', repoUrl, '--format', 'csvlog'], env);
    assert.equal(wrongFormat.code, 2, wrongFormat.stderr);
    assert.match(wrongFormat.stderr, /no event could be read from .* parse errors\): is --format right/);
    const badClass = await runCli(['report', 'audit', '--repo', repoUrl, '--class', 'bogus'], env);
    assert.equal(badClass.code, 2);
    assert.match(badClass.stderr, /--class "bogus" is not a pgAudit class \(READ, WRITE/);
    // --limit keeps the newest rows, listed oldest first, and says it cut.
    const all = JSON.parse((await runCli(['report', 'audit', '--repo', repoUrl, '--format', 'json'], env)).stdout) as { ts: string }[];
    const newest = await runCli(['report', 'audit', '--repo', repoUrl, '--format', 'json', '--limit', '2'], env);
    assert.deepEqual((JSON.parse(newest.stdout) as { ts: string }[]).map((r) => r.ts), all.slice(-2).map((r) => r.ts));
    assert.match(newest.stderr, /showing the newest 2 rows/);
  });
});
