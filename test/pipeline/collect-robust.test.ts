// collect's start and its failures (issue 14): a fatal configuration error exits at start with its
// documented code even beside a source that is still connecting, and a checkpoint that cannot be
// written is retried with backoff rather than resending the batch in a loop.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { installedCluster, runCli, waitFor } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';
import { lines, readEvents, startCollect } from './collect-helpers.ts';

const PREFIX = '%m [%p] %q%u@%d ';

describe('collect: fatal at start, backoff when checkpoints cannot be written', () => {
  let cluster: Cluster;
  let tmp: string;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-collect-robust-'));
    cluster = await installedCluster('pg17');
    await cluster.createDatabase('repo');
  });
  after(async () => {
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('a missing log directory beside a ddl source exits 2 at start (it kept running, collecting nothing)', async () => {
    const config = path.join(tmp, 'missing.yaml');
    writeFileSync(config, `servers:\n  db1: { url: '${cluster.url('postgres')}' }\nrepository:\n  url: '${cluster.url('repo')}'\npipeline:\n  sources:\n` +
      `    pglog: { type: logfile, path: ${path.join(tmp, 'no-such-dir')}, server: db1, state_dir: ${path.join(tmp, 'state-missing')} }\n` +
      `    ddl: { type: ddl, server: db1 }\n  sinks:\n    repo: { type: repository }\n`);
    const result = await runCli(['collect', '--config', config], {}, { timeoutMs: 30_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /pipeline\.sources\.pglog\.path: .*no-such-dir: ENOENT.*\[PGW_ERR_CONFIG\]/s);
  });

  it('a checkpoint that cannot be written is retried with backoff, not resent ~75 times a second', async () => {
    const logs = path.join(tmp, 'logs');
    const state = path.join(tmp, 'state');
    mkdirSync(logs);
    writeFileSync(path.join(logs, 'postgresql.log'), lines(1, 10));
    const out = path.join(tmp, 'out.jsonl');
    const config = path.join(tmp, 'disk.yaml');
    writeFileSync(config, `pipeline:\n  sources:\n    pglog: { type: logfile, path: ${logs}, server: db1, prefix: '${PREFIX}', state_dir: ${state}, poll_ms: 50, idle_flush_ms: 50 }\n` +
      `  sinks:\n    out: { type: jsonl, path: ${out} }\n  retry: { initial_seconds: 1, max_seconds: 30 }\n`);
    const daemon = startCollect(config);
    try {
      await waitFor(async () => readEvents(out).length >= 10, 20_000, `the first records (${daemon.stderr()})`);
      // the checkpoints' directory can no longer be written: as on a full disk, every save fails
      // (a file where the directory was: this runs as root, which a read-only mode would not stop)
      renameSync(state, `${state}.away`);
      writeFileSync(state, 'not a directory');
      appendFileSync(path.join(logs, 'postgresql.log'), lines(11, 20));
      await waitFor(async () => readEvents(out).length >= 20, 20_000, 'the next records');
      await new Promise((r) => setTimeout(r, 4000));
      const deliveries = readEvents(out).length / 10 - 1;
      // before: about 300 deliveries of the same batch in these 4 s; with backoff 1 s, 2 s, 4 s: at most 4
      assert.ok(deliveries <= 6, `the batch was delivered ${deliveries} times in 4 s`);
      assert.match(daemon.stderr(), /delivered but could not record it/);
    } finally {
      await daemon.stop('SIGTERM');
    }
  });
});
