// Detection in collect with a repository sink (issue 18): the recorded attack fixture followed by
// collect stores, through the least-privilege writer login, the very incidents `detect replay`
// gives on the same file — each once, with its count, its events joined to the stored records —
// and a restart of collect stores none twice.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/core/config.ts';
import { createEngine, inputEvents } from '../../src/detect/index.ts';
import { migrateRepository } from '../../src/repository/index.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { ATTACK, collectDetectConfig, startCollect } from './collect-helpers.ts';


describe('collect stores its incidents in the repository (detect.in_collect, repository sink)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-collect-incidents-'));
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createDatabase('repo');
    await cluster.createRole('ingest_login', 'ingest-pw');
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    await migrateRepository(client, { writerLogins: ['ingest_login'] });
    await client.end();
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the incidents replay gives, once each, with their events among the stored records, across a restart', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs, { recursive: true });
    const log = join(logs, 'postgresql-1.csv');
    writeFileSync(log, ATTACK);
    const config = join(dir, 'pgwarden.yaml');
    process.env.TEST_INGEST_PASSWORD = 'ingest-pw';
    writeFileSync(config, collectDetectConfig({ logs, stateDir: join(dir, 'state'), maxEvents: 50,
      sinks: `    repo: { type: repository, url: '${cluster.url('repo', 'ingest_login')}', password_env: TEST_INGEST_PASSWORD }` }));
    const replay = await runCli(['--config', config, 'detect', 'replay', '--server', 'fixture', log]);
    assert.equal(replay.code, 0, replay.stderr);
    const incidents = replay.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; rule: string });
    assert.ok(incidents.length >= 14, `the attack's alerts (${incidents.length})`);
    // collect sends notices (the opening, then throttled updates; a close sends nothing): each
    // stored incident has the count of its last notice, as the engine gives them in process
    const lastCount = new Map<string, number>();
    const engine = createEngine(loadConfig(config).detect);
    let records = 0;
    for await (const batch of inputEvents(log, { format: 'auto', server: 'fixture' }, (e) => assert.fail(e.reason), () => undefined)) {
      records += batch.length;
      for (const event of batch) engine.process(event);
      for (const n of engine.drain()) if (n.kind !== 'closed') lastCount.set(n.incident.id, n.incident.count);
    }
    const expected = incidents.map((a) => ({ ...a, count: lastCount.get(a.id) }));

    const stored = async () => (await cluster.query(`SELECT i.id, i.rule, i.count::int AS count,
        (SELECT pg_catalog.count(*)::int FROM pgwarden_repo.incident_events e WHERE e.incident_id = i.id) AS events,
        (SELECT pg_catalog.count(*)::int FROM pgwarden_repo.incident_events e JOIN pgwarden_repo.events v
           ON v.source_input = e.source_input AND v.source_position = e.source_position AND v.server IS NOT DISTINCT FROM e.server
         WHERE e.incident_id = i.id) AS joined
      FROM pgwarden_repo.incidents i ORDER BY i.id`, [], 'repo')).rows as { id: string; rule: string; count: number; events: number; joined: number }[];
    const settled = (rows: { id: string; count: number }[]) => rows.length === expected.length
      && expected.every((a) => rows.find((r) => r.id === a.id)?.count === a.count);

    let daemon = startCollect(config);
    try {
      // the events and the alerts are separate lanes: wait for both to have everything
      const storedEvents = async () => ((await cluster.query('SELECT count(*)::int AS n FROM pgwarden_repo.events', [], 'repo')).rows[0] as { n: number }).n;
      await waitFor(async () => settled(await stored()) && await storedEvents() === records, 60_000, `${expected.length} incidents with replay's counts and ${records} events`)
        .catch(async (error: Error) => {
          const rows = await stored();
          throw new Error(`${error.message}: stored ${JSON.stringify(rows.map((r) => [r.rule, r.count]))}, expected ${JSON.stringify(expected.map((a) => [a.rule, a.count]))}\n${daemon.stderr().slice(-3000)}`);
        });
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    const first = await stored();
    assert.deepEqual(first.map((r) => r.id), expected.map((a) => a.id).sort(), 'the incidents replay gives, no more, no fewer');
    for (const row of first) {
      assert.ok(row.events > 0, `${row.rule}: its events are recorded`);
      assert.equal(row.joined, row.events, `${row.rule}: every event of the incident is a stored record`);
    }

    // a restart reads nothing new and stores nothing again
    daemon = startCollect(config);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    assert.deepEqual(await stored(), first);
  });
});
