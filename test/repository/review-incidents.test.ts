// Review of the incidents feature (issue 18, migration 0008) from the outside: a repository at
// version 7 holding data upgraded by `repo migrate` (and a second run a no-op); an old alert
// arriving late (the replay of only the first of the logs) not undoing what a later one stored;
// the writer and dashboard logins' real grants; `detect replay --repo` with a bad URL.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { REPO_LATEST_VERSION, storeIncident } from '../../src/repository/index.ts';
import { setIncidentState } from '../../src/server/queries/incidents.ts';
import { migrateRepository as migrateOld } from '../fixtures/repository-0007/repository/migrate.ts';
import { runCli } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';
import { bruteForceAlert, incidentRepository } from './incident-helpers.ts';

const PREFIX = '%m [%p] %q%u@%d ';

describe('review: incidents in the repository', () => {
  let cluster: Cluster;
  let dir: string;
  const writerUrl = () => cluster.url('repo', 'ingest_login', 'ingest-pw');
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-review-incidents-'));
    cluster = await incidentRepository(['old']);
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an alert replayed from only the first logs (open, the same count) arriving after the closed one does not reopen it', async () => {
    const pool = new pg.Pool({ connectionString: writerUrl() });
    try {
      // the whole logs replayed: the incident went quiet, closed with 5 events
      await storeIncident(pool, bruteForceAlert({ state: 'closed' }));
      // then the first file alone (or collect's last open notice, late): the same 5 events, but the
      // input ended before the quiet time, so the engine calls it open
      await storeIncident(pool, bruteForceAlert({ state: 'open' }));
    } finally {
      await pool.end();
    }
    const { rows } = await cluster.query("SELECT detect_state FROM pgwarden_repo.incidents WHERE id = 'late-1'", [], 'repo');
    assert.equal(rows[0]!.detect_state, 'closed', 'an incident once closed is over: the same events seen open again are older news');
  });

  it('the dashboard login (pgwarden_repo_server, not a superuser) acknowledges an incident with its grants alone', async () => {
    const writer = new pg.Pool({ connectionString: writerUrl() });
    await storeIncident(writer, bruteForceAlert({ id: 'grants-1' }));
    await writer.end();
    const dashboard = new pg.Pool({ connectionString: cluster.url('repo', 'dashboard_login', 'dashboard-pw') });
    try {
      assert.equal(await setIncidentState(dashboard, 'grants-1', 'acknowledged', 'alice', 'on it'), true);
    } finally {
      await dashboard.end();
    }
    const { rows } = await cluster.query("SELECT state, state_by, count_at_state::int AS c FROM pgwarden_repo.incidents WHERE id = 'grants-1'", [], 'repo');
    assert.deepEqual(rows, [{ state: 'acknowledged', state_by: 'alice', c: 5 }]);
    // and the writer reads neither the comments nor the dashboard's users
    const w = new pg.Client({ connectionString: writerUrl() });
    await w.connect();
    try {
      await assert.rejects(w.query('SELECT body FROM pgwarden_repo.incident_comments'), /permission denied/);
      await assert.rejects(w.query('UPDATE pgwarden_repo.incidents SET count_at_state = 0'), /permission denied/);
      await assert.rejects(w.query("UPDATE pgwarden_repo.incidents SET server = 'x'"), /permission denied/);
    } finally {
      await w.end();
    }
  });

  it('the writer login cannot hide that an acknowledged incident went on growing (count, first and last time only move forward)', async () => {
    const writer = new pg.Pool({ connectionString: writerUrl() });
    await storeIncident(writer, bruteForceAlert({ id: 'hide-1', count: 5 }));
    const dashboard = new pg.Pool({ connectionString: cluster.url('repo', 'dashboard_login', 'dashboard-pw') });
    assert.equal(await setIncidentState(dashboard, 'hide-1', 'resolved', 'alice'), true);
    await dashboard.end();
    // the attack goes on: the engine stores 9
    await storeIncident(writer, bruteForceAlert({ id: 'hide-1', count: 9, last_ts: '2026-12-01T10:00:09.000Z' }));
    try {
      // a writer login that wants the growth gone (stolen, or a buggy writer) goes straight to the table
      await writer.query(`UPDATE pgwarden_repo.incidents SET count = 1, last_ts = '2026-12-01T10:00:01Z', first_ts = '2026-12-01T10:00:01Z' WHERE id = 'hide-1'`);
    } finally {
      await writer.end();
    }
    const { rows } = await cluster.query(`SELECT count::int AS count, GREATEST(count - COALESCE(count_at_state, count), 0)::int AS since,
      last_ts, first_ts FROM pgwarden_repo.incidents WHERE id = 'hide-1'`, [], 'repo');
    assert.deepEqual([rows[0]!.count, rows[0]!.since], [9, 4], 'the +4 since it was resolved is still shown');
    assert.equal(rows[0]!.last_ts.toISOString(), '2026-12-01T10:00:09.000Z');
    assert.equal(rows[0]!.first_ts.toISOString(), '2026-12-01T10:00:00.000Z');
  });

  it('a log file name reused after rotation (postgresql-%a.log, truncated weekly) gives next week\'s attack its own incident', async () => {
    // log_filename = 'postgresql-%a.log' with log_truncate_on_rotation: every Monday the same path,
    // the positions from 0 again. A brute force going on at the rotation puts its first record at
    // offset 0 both weeks: the same rule, group, input and position.
    const log = path.join(dir, 'postgresql-Mon.log');
    const week = (day: string, n: number) => Array.from({ length: n }, (_, i) => `2026-11-${day} 10:00:${String(i).padStart(2, '0')}.000 UTC [${900 + i}] eve@shop FATAL:  password authentication failed for user "eve"\n`).join('');
    const repo = writerUrl();
    await cluster.query('CREATE DATABASE rotate', [], 'postgres');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('rotate'), '--writer-login', 'ingest_login']);
    assert.equal(migrate.code, 0, migrate.stderr);
    const rotateRepo = repo.replace(/\/repo$/, '/rotate');
    writeFileSync(log, week('16', 8));
    const first = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', rotateRepo, log]);
    assert.equal(first.code, 0, first.stderr);
    // an admin resolved last week's
    await cluster.query("UPDATE pgwarden_repo.incidents SET state = 'resolved', state_by = 'alice', state_at = now(), count_at_state = count", [], 'rotate');
    writeFileSync(log, week('23', 6));
    const second = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', rotateRepo, log]);
    assert.equal(second.code, 0, second.stderr);
    const { rows } = await cluster.query(`SELECT state, count::int AS count, first_ts, last_ts FROM pgwarden_repo.incidents ORDER BY first_ts`, [], 'rotate');
    assert.equal(rows.length, 2, `this week's attack is a new incident, not merged into last week's resolved one: ${JSON.stringify(rows)}`);
    assert.deepEqual(rows.map((r) => [r.state, r.count]), [['resolved', 8], ['open', 6]]);
  });

  it('an incident stored again and again as it grows (detect replay --repo every few minutes over the current log) keeps the alert\'s events, not every store\'s', async () => {
    // the engine keeps events_per_incident records per incident (the first half, a ring of the
    // latest): 50 by default, whatever the count — 300,000 failed logins are one alert of 50
    const head = Array.from({ length: 25 }, (_, i) => ({ input: '/var/log/pg.log', position: i }));
    const pool = new pg.Pool({ connectionString: writerUrl() });
    try {
      for (let run = 1; run <= 40; run++) {
        const tail = Array.from({ length: 25 }, (_, i) => ({ input: '/var/log/pg.log', position: run * 1000 + i }));
        await storeIncident(pool, bruteForceAlert({ id: 'grow-1', count: run * 1000 + 25, events: [...head, ...tail] }));
      }
      // and an old alert arriving late does not bring its events back
      await storeIncident(pool, bruteForceAlert({ id: 'grow-1', count: 1025, events: [...head, ...Array.from({ length: 25 }, (_, i) => ({ input: '/var/log/pg.log', position: 1000 + i }))] }));
    } finally {
      await pool.end();
    }
    const { rows } = await cluster.query(`SELECT pg_catalog.count(*)::int AS n, pg_catalog.max(source_position)::int AS latest, pg_catalog.min(source_position)::int AS first
      FROM pgwarden_repo.incident_events WHERE incident_id = 'grow-1'`, [], 'repo');
    assert.deepEqual(rows, [{ n: 50, latest: 40024, first: 0 }], 'the first 25 and the latest 25, not 25 more each time it was stored (1,025 after 40 runs)');
  });

  it('a brute force of 200,000 failed logins replayed --repo is one incident with 50 records linked', async () => {
    const log = path.join(dir, 'brute.log');
    const lines: string[] = [];
    const start = Date.UTC(2026, 10, 24, 10, 0, 0);
    for (let i = 0; i < 200_000; i++) {
      const ts = new Date(start + i * 10).toISOString().replace('T', ' ').replace('Z', ' UTC');
      lines.push(`${ts} [${1000 + (i % 30000)}] eve@shop FATAL:  password authentication failed for user "eve"\n`);
    }
    writeFileSync(log, lines.join(''));
    const replay = await runCli(['detect', 'replay', '--server', 'brute', '--prefix', PREFIX, '--repo', writerUrl(), log], {}, { timeoutMs: 120_000 });
    assert.equal(replay.code, 0, replay.stderr);
    const { rows } = await cluster.query(`SELECT i.count::int AS count, (SELECT pg_catalog.count(*)::int FROM pgwarden_repo.incident_events e WHERE e.incident_id = i.id) AS linked
      FROM pgwarden_repo.incidents i WHERE i.server = 'brute'`, [], 'repo');
    assert.deepEqual(rows, [{ count: 200_000, linked: 50 }]);
  });

  it('repo migrate upgrades a repository at version 7 that holds events, then a second run applies nothing', async () => {
    // A version-7 repository, made by the version-7 code itself (the fixture schema.test.ts
    // migrates with), holding events: ingested by a superuser login (the ingest of today would
    // migrate it first), then the incident tables the upgrade adds are absent.
    const log = path.join(dir, 'old.log');
    writeFileSync(log, Array.from({ length: 6 }, (_, i) => `2026-11-23 10:00:0${i}.000 UTC [${900 + i}] eve@shop FATAL:  password authentication failed for user "eve"\n`).join(''));
    const old = new pg.Client({ connectionString: cluster.url('old') });
    await old.connect();
    try {
      await migrateOld(old, { writerLogins: ['ingest_login'] });
    } finally {
      await old.end();
    }
    // the events a version-7 ingest stored (today's ingest would migrate the repository first)
    await cluster.query(`SELECT pgwarden_repo.ensure_partition('2026-11-23');
      INSERT INTO pgwarden_repo.events (ts, kind, server, source_input, source_position, user_name, severity, message)
      SELECT '2026-11-23 10:00:00Z'::timestamptz + g * interval '1 second', 'auth_failed', 'db1', '/var/log/old.log', g * 100, 'eve', 'FATAL',
        'password authentication failed for user "eve"' FROM generate_series(0, 5) g`, [], 'old');
    // today's ingest as the writer login: it may not migrate the repository, and says so
    const writerIngest = await runCli(['ingest', '--repo', cluster.url('old', 'ingest_login', 'ingest-pw'), '--server', 'db1', '--prefix', PREFIX, log]);
    assert.notEqual(writerIngest.code, 0);
    assert.match(writerIngest.stderr, /schema version 7; this pgwarden \([^)]+\) needs \d+, and this login may not migrate it/);
    assert.match(writerIngest.stderr, /migrate and prune the schema owner[^\n]*\[PGW_ERR_PRIVILEGE\]/);
    const v7 = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', cluster.url('old', 'ingest_login', 'ingest-pw'), log]);
    assert.notEqual(v7.code, 0, v7.stderr);
    // not "holds no pgwarden repository": it holds one, a version behind
    assert.match(v7.stderr, /schema version 7; this pgwarden \([^)]+\) needs \d+/);
    assert.match(v7.stderr, /repo migrate/);
    assert.match(v7.stderr, /PGW_ERR_NOT_INSTALLED/);

    const up = await runCli(['repo', 'migrate', '--repo', cluster.url('old'), '--writer-login', 'ingest_login']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout + up.stderr, /0008/);
    const { rows } = await cluster.query('SELECT pg_catalog.max(version)::int AS v, (SELECT pg_catalog.count(*)::int FROM pgwarden_repo.events) AS events FROM pgwarden_repo.migrations', [], 'old');
    assert.deepEqual(rows, [{ v: REPO_LATEST_VERSION, events: 6 }]);
    const replay = await runCli(['detect', 'replay', '--server', 'db1', '--prefix', PREFIX, '--repo', cluster.url('old', 'ingest_login', 'ingest-pw'), log]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stderr, /stored 1 incident \(1 new\)/);
    const again = await runCli(['repo', 'migrate', '--repo', cluster.url('old'), '--writer-login', 'ingest_login']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout + again.stderr, /0008/);
    const n = await cluster.query('SELECT pg_catalog.count(*)::int AS n FROM pgwarden_repo.incidents', [], 'old');
    assert.equal(n.rows[0]!.n, 1, 'the incident survived the second migrate');
  });

  it('detect replay --repo with a bad URL, or an unreachable repository, says so on one line with a PGW_ERR_ code', async () => {
    const log = path.join(dir, 'one.log');
    writeFileSync(log, '2026-11-23 10:00:00.000 UTC [900] eve@shop FATAL:  password authentication failed for user "eve"\n');
    for (const url of ['not a url', 'postgres://nobody:wrong@127.0.0.1:1/repo', 'mysql://x@y/z']) {
      const result = await runCli(['detect', 'replay', '--prefix', PREFIX, '--repo', url, log]);
      assert.notEqual(result.code, 0, url);
      // the house format: the message naming the value on one line, then the hint, with the code
      const lines = result.stderr.trim().split('\n');
      assert.ok(lines.length <= 2, `${url}: ${result.stderr}`);
      assert.match(result.stderr, /PGW_ERR_[A-Z_]+/, url);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
    // a login without pgwarden_repo_writer (a reader's): refused, said once, and nothing stored
    await cluster.createRole('report_login', 'report-pw');
    await cluster.query('GRANT pgwarden_repo_reader TO report_login', [], 'repo');
    const many = path.join(dir, 'many.log');
    writeFileSync(many, Array.from({ length: 6 }, (_, i) => `2026-11-23 11:00:0${i}.000 UTC [${900 + i}] eve@shop FATAL:  password authentication failed for user "eve"\n`).join(''));
    const reader = await runCli(['detect', 'replay', '--server', 'db9', '--prefix', PREFIX, '--repo', cluster.url('repo', 'report_login', 'report-pw'), many]);
    assert.notEqual(reader.code, 0, reader.stderr);
    assert.match(reader.stderr, /permission denied[^\n]*incidents/);
    assert.match(reader.stderr, /PGW_ERR_[A-Z_]+/);
    assert.doesNotMatch(reader.stderr, /\n\s+at /, 'no stack trace');
  });
});
