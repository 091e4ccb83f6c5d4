// The responses source and a response whose transaction stays open: a response function run by
// hand in psql with AUTOCOMMIT off (or by any pgwarden_watcher member holding its transaction)
// commits its row after gap_seconds, below a later row. Taken for a rolled-back insert after
// gap_seconds alone, it was skipped for good: the response (a session ended, a role locked) never
// reached a sink. A gap is given up only once every transaction that was running when it was
// first seen has ended.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/core/logger.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { ResponsesSource } from '../../src/pipeline/sources/responses/responses.ts';
import type { Pending, Sink } from '../../src/pipeline/types.ts';
import { pgEnv, runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

describe('responses source: a response committed after gap_seconds', () => {
  let cluster: Cluster;
  let tmp: string;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-responses-gap-'));
    cluster = await startCluster({ flavor: 'pg16' });
    const install = await runCli(['install'], pgEnv(cluster));
    assert.equal(install.code, 0, install.stderr);
  });
  after(async () => {
    await cluster?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is delivered once it commits, however late; a rolled-back one is still given up', async () => {
    const got: PgwardenEvent[] = [];
    const sink: Sink = {
      name: 'out', type: 'test', inputs: undefined, accepts: () => true,
      deliver: async (p: Pending) => { got.push(...p.events); }, close: async () => undefined,
    };
    const source = new ResponsesSource({
      input: 'r', server: 'db1', database: 'postgres', target: { url: cluster.url('postgres'), label: 'test' },
      pollSeconds: 0.1, gapSeconds: 0.2, stateDir: tmp, log: createLogger('test'),
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
    const ids = () => got.map((e) => e.response!.response_id);
    const RECORD = "SELECT pgwarden.response_record_refusal($1, 'terminate', NULL, NULL, 'by hand', '{}')";
    const record = (client: { query: (sql: string, values: unknown[]) => Promise<unknown> }, id: string) => client.query(RECORD, [id]);
    const held = new pg.Client({ connectionString: cluster.url('postgres') });
    await held.connect();
    try {
      await held.query('BEGIN');
      await record(held, 'held');
      await record(cluster, 'later');
      await drain();
      assert.deepEqual(ids(), ['later']);
      // well past gap_seconds, polled meanwhile
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await drain();
      }
      await held.query('COMMIT');
    } finally {
      await held.end();
    }
    await drain();
    assert.deepEqual(ids(), ['later', 'held']);
    // a rolled-back response's id never comes: past it once its transaction has ended
    const rolled = new pg.Client({ connectionString: cluster.url('postgres') });
    await rolled.connect();
    try {
      await rolled.query('BEGIN');
      await record(rolled, 'rolled-back');
      await record(cluster, 'last');
      await drain();
      await rolled.query('ROLLBACK');
    } finally {
      await rolled.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    await drain();
    await drain();
    assert.deepEqual(ids(), ['later', 'held', 'last']);
    const state = JSON.parse(readFileSync(path.join(tmp, 'responses-r-postgres.json'), 'utf8')) as { sinks: Record<string, { through: number; seen: number[] }> };
    assert.deepEqual(state.sinks.out!.seen, [], 'every id settled: nothing left waiting');
    await source.stop();
  });
});
