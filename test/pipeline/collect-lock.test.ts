// One collect per state directory: two real collects with two configs (so two status files)
// naming one state_dir — the second is refused at start, naming the directory and the first's
// pid, and the first goes on; a lock left by kill -9, or naming a pid another process has since
// been given, does not stop the restart; a collect that stops removes its lock.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, waitFor } from '../harness/cli.ts';
import { ids, lines, range, readEvents, startCollect } from './collect-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'pgwarden-collect-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));

function config(name: string, logs: string, state: string, out: string): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(file, `pipeline:
  sources:
    pglog: { type: logfile, path: ${logs}, pattern: 'postgresql*.log', server: db1, state_dir: ${state}, idle_flush_ms: 200, poll_ms: 100 }
  sinks:
    archive: { type: jsonl, path: ${out} }
  batch: { window_seconds: 0, max_events: 100 }
  status: { file: ${join(root, `${name}-status.json`)} }
`);
  return file;
}

describe('collect: one process per state directory', () => {
  // by the last record, not a count: a batch sent twice after kill -9 counts twice
  const delivered = (n: number) => ids(readEvents(join(root, 'out.jsonl'))).includes(n);
  it('refuses a second collect on the state directory, and takes over a lock of a process that is gone', async () => {
    const logs = join(root, 'logs');
    const state = join(root, 'state');
    mkdirSync(logs);
    const out = join(root, 'out.jsonl');
    const first = config('first', logs, state, out);
    const second = config('second', logs, state, join(root, 'second.jsonl'));
    const lock = join(state, 'collect.lock');
    writeFileSync(join(logs, 'postgresql.log'), lines(1, 100));

    let daemon = startCollect(first);
    try {
      await waitFor(async () => delivered(100), 20_000, 'the first collect to deliver');
      const held = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number };
      assert.equal(held.pid, daemon.child.pid);

      const refused = await runCli(['collect', '--config', second]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`^Error: another pgwarden collect \\(pid ${daemon.child.pid}\\) is running with the state directory ${state} `, 'm'));
      assert.match(refused.stderr, /\[PGW_ERR_CONFIG\]/);
      assert.equal(existsSync(join(root, 'second.jsonl')), false, 'the second collect delivered');
      // the first one goes on, its lock untouched
      appendFileSync(join(logs, 'postgresql.log'), lines(101, 150));
      await waitFor(async () => delivered(150), 20_000, 'the first collect to go on');
      assert.equal((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, daemon.child.pid);

      // kill -9: the lock stays behind, naming a pid that is gone; the restart takes it over
      assert.equal(await daemon.stop('SIGKILL'), 'SIGKILL');
      assert.equal((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, daemon.child.pid);
      appendFileSync(join(logs, 'postgresql.log'), lines(151, 200));
      daemon = startCollect(first);
      await waitFor(async () => delivered(200), 20_000, `the restarted collect to deliver: ${daemon.stderr()}`);
      assert.equal((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, daemon.child.pid);
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      assert.equal(existsSync(lock), false, 'a stopped collect left its lock');

      // a lock naming a live pid that is another process now (this test's own, started at
      // another time): stale too, where /proc tells the start time
      if (existsSync('/proc/self/stat')) {
        writeFileSync(lock, `${JSON.stringify({ pid: process.pid, start: '1', at: new Date(0).toISOString() })}\n`);
        appendFileSync(join(logs, 'postgresql.log'), lines(201, 220));
        daemon = startCollect(first);
        await waitFor(async () => delivered(220), 20_000, `collect past a lock of a reused pid: ${daemon.stderr()}`);
        assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      }
      // every record went out (a kill -9 may send a batch twice, never lose one)
      const last = existsSync('/proc/self/stat') ? 220 : 200;
      assert.deepEqual([...new Set(ids(readEvents(out)))].sort((a, b) => a - b), range(1, last));
    } finally {
      await daemon.stop('SIGKILL');
    }
  });
});
