// Issue 4's promise end to end: `pgwarden collect` tails a log directory into the repository;
// kill -9 at any moment and restart, and the repository holds exactly the events of the log —
// no gap, no duplicate (the collector re-sends at most the batch in flight, and the repository
// deduplicates on the event's source position).
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { lines, range, startCollect } from './collect-helpers.ts';

describe('pgwarden collect into the repository', () => {
  let cluster: Cluster;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-collect-repo-'));
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createDatabase('repo');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo')]);
    assert.equal(migrate.code, 0, migrate.stderr);
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds exactly the events of the log after kill -9 three times and a restart', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs, { recursive: true });
    const config = join(dir, 'pgwarden.yaml');
    const url = new URL(cluster.url('repo'));
    url.password = '';
    writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${logs}, pattern: 'postgresql-*.log', server: db1, state_dir: ${join(dir, 'state')}, idle_flush_ms: 200, poll_ms: 100 }
  sinks:
    repo: { type: repository, url: '${url.toString()}', password_env: TEST_REPO_PASSWORD }
  batch: { window_seconds: 0, max_events: 500 }
`);
    process.env.TEST_REPO_PASSWORD = cluster.superuserPassword;
    const stored = async () => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden_repo.events', [], 'repo')).rows[0]!.n;
    // Far more than the last threshold: a kill must land mid-stream even when a loaded machine's polls are slow.
    const total = 40_000;
    writeFileSync(join(logs, 'postgresql-1.log'), lines(1, 34_000));
    let appended = 34_000;
    const atKill: number[] = [];
    for (const threshold of [2000, 6000, 11_000]) {
      const daemon = startCollect(config);
      await waitFor(async () => (await stored()) >= threshold, 90_000, `${threshold} events stored`);
      assert.equal(await daemon.stop('SIGKILL'), 'SIGKILL');
      atKill.push(await stored());
      appendFileSync(join(logs, 'postgresql-1.log'), lines(appended + 1, appended + 1000));
      appended += 1000;
    }
    writeFileSync(join(logs, 'postgresql-2.log'), lines(appended + 1, total));
    const daemon = startCollect(config);
    await waitFor(async () => (await stored()) >= total, 90_000, `all ${total} events stored`);
    // Give a wrongly re-sent batch the chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    const { rows: [counts] } = await cluster.query<{ n: number; distinct_positions: number; distinct_ids: number; min: number; max: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (source_input, source_position))::int AS distinct_positions,
              count(DISTINCT statement_id)::int AS distinct_ids, min(statement_id)::int AS min, max(statement_id)::int AS max
         FROM pgwarden_repo.events`, [], 'repo');
    assert.deepEqual(counts, { n: total, distinct_positions: total, distinct_ids: total, min: 1, max: total });
    const { rows } = await cluster.query<{ id: number }>('SELECT statement_id::int AS id FROM pgwarden_repo.events ORDER BY 1', [], 'repo');
    assert.deepEqual(rows.map((r) => r.id), range(1, total));
    assert.ok(atKill.every((n, i) => n < 34_000 + i * 1000), `killed mid-stream (stored at each kill: ${atKill.join(', ')})`);
    process.stdout.write(`# kill -9 with ${atKill.join(', ')} of the events stored\n`);
  });

  it('waits while the repository is down and delivers everything once it is back', async () => {
    await cluster.createDatabase('repo_down');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo_down')]);
    assert.equal(migrate.code, 0, migrate.stderr);
    const logs = join(dir, 'logs-down');
    mkdirSync(logs, { recursive: true });
    const config = join(dir, 'pgwarden-down.yaml');
    const url = new URL(cluster.url('repo_down'));
    url.password = '';
    writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${logs}, pattern: 'postgresql-*.log', server: db1, state_dir: ${join(dir, 'state-down')}, idle_flush_ms: 200, poll_ms: 100 }
  sinks:
    repo: { type: repository, url: '${url.toString()}', password_env: TEST_REPO_PASSWORD }
  batch: { window_seconds: 0, max_events: 200 }
  retry: { initial_seconds: 0.2, max_seconds: 1 }
`);
    const stored = async () => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden_repo.events', [], 'repo_down')).rows[0]!.n;
    writeFileSync(join(logs, 'postgresql-1.log'), lines(1, 1000));
    const daemon = startCollect(config);
    try {
      await waitFor(async () => (await stored()) === 1000, 60_000, 'the first 1000 events');
      // The repository goes away: no new connections, and the collector's are cut.
      await cluster.query('ALTER DATABASE repo_down ALLOW_CONNECTIONS false');
      await cluster.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'repo_down'");
      appendFileSync(join(logs, 'postgresql-1.log'), lines(1001, 3000));
      await waitFor(async () => /delivery failed/.test(daemon.stderr()), 30_000, 'a failed delivery while the repository is down');
      await cluster.query('ALTER DATABASE repo_down ALLOW_CONNECTIONS true');
      await waitFor(async () => (await stored()) >= 3000, 60_000, 'all 3000 events after the repository is back');
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    const { rows: [counts] } = await cluster.query<{ n: number; ids: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT statement_id)::int AS ids FROM pgwarden_repo.events', [], 'repo_down');
    assert.deepEqual(counts, { n: 3000, ids: 3000 });
  });

  it('fails at start, in one line, when the repository refuses its login (retrying would not help)', async () => {
    const config = join(dir, 'pgwarden-badpw.yaml');
    const url = new URL(cluster.url('repo'));
    url.password = '';
    mkdirSync(join(dir, 'logs-badpw'), { recursive: true });
    writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${join(dir, 'logs-badpw')}, pattern: '*.log', server: db1, state_dir: ${join(dir, 'state-badpw')} }
  sinks:
    repo: { type: repository, url: '${url.toString()}', password_env: TEST_WRONG_PASSWORD }
`);
    const result = await runCli(['collect', '--config', config], { TEST_WRONG_PASSWORD: 'not-the-password' }, { timeoutMs: 30_000 });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /^Error: .*password authentication failed/m);
    assert.doesNotMatch(result.stderr, /not-the-password/);
  });
  it('collect status counts the events set aside per source, and exits 7 once one was (as the least-privilege writer)', async () => {
    await cluster.createDatabase('aside_repo');
    await cluster.createRole('collector_w', 'w-pw', '');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('aside_repo'), '--writer-login', 'collector_w']);
    assert.equal(migrate.code, 0, migrate.stderr);
    // a rule of the repository's operator that one record breaks: refused for its data (23514)
    await cluster.query('ALTER TABLE pgwarden_repo.events ADD CONSTRAINT no_seven CHECK (statement_id IS DISTINCT FROM 7) NOT VALID', [], 'aside_repo');
    const logs = join(dir, 'logs-aside');
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(logs, 'postgresql-1.log'), lines(1, 20));
    const config = join(dir, 'pgwarden-aside.yaml');
    const url = new URL(cluster.url('aside_repo', 'collector_w', 'x'));
    url.password = '';
    writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${logs}, pattern: 'postgresql-*.log', server: db1, state_dir: ${join(dir, 'state-aside')}, idle_flush_ms: 200, poll_ms: 100 }
  sinks:
    repo: { type: repository, url: '${url.toString()}', password_env: TEST_ASIDE_PASSWORD }
  batch: { window_seconds: 0, max_events: 500 }
  status: { file: ${join(dir, 'state-aside', 'status.json')} }
`);
    process.env.TEST_ASIDE_PASSWORD = 'w-pw';
    const stored = async () => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden_repo.events', [], 'aside_repo')).rows[0]!.n;
    const daemon = startCollect(config);
    try {
      await waitFor(async () => (await stored()) >= 19, 60_000, `the 19 storable events (${daemon.stderr()})`);
      // before: status said ok (exit 0); the refused record was only a log line
      const status = await waitFor(async () => {
        const r = await runCli(['collect', 'status', '--config', config, '--format', 'json']);
        return r.code === 7 ? r : null;
      }, 20_000, 'collect status to flag the set-aside event');
      assert.match(status.stderr, /set aside in pgwarden_repo\.rejected_batches: pglog\S* → repo: 1 event \(ids 1\)/);
      const lane = (JSON.parse(status.stdout) as { lanes: { sink: string; set_aside: number; set_aside_ids: number[] }[] }).lanes[0]!;
      assert.deepEqual({ set_aside: lane.set_aside, ids: lane.set_aside_ids }, { set_aside: 1, ids: [1] });
      const table = await runCli(['collect', 'status', '--config', config]);
      assert.equal(table.code, 7);
      assert.match(table.stdout, /SET ASIDE +20 +1 /);
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    const [row] = (await cluster.query<{ event_count: number; rejected_by: string }>('SELECT event_count, rejected_by FROM pgwarden_repo.rejected_batches', [], 'aside_repo')).rows;
    assert.deepEqual(row, { event_count: 1, rejected_by: 'collector_w' });
  });
});
