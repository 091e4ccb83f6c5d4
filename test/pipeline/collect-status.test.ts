// `pgwarden collect status` as a DBA asks it of a running collect: per source and sink what went,
// how fast, where, how far behind, the last error, and whether the lane is stuck — from the file
// collect rewrites, read by a second process. A syslog receiver that is not there makes its lane
// stuck (exit 7); once it listens, the lane catches up (exit 0); a stopped collect is exit 7 too.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CollectStatusFile } from '../../src/pipeline/index.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';
import { lines, readEvents, startCollect } from './collect-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'pgwarden-collect-status-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('pgwarden collect status', () => {
  it('says per lane what moves and what is stuck, from another process', async () => {
    const logs = join(root, 'logs');
    mkdirSync(logs);
    const port = await freePort();
    const config = join(root, 'pgwarden.yaml');
    const statusPath = join(root, 'state', 'status.json');
    writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${logs}, pattern: 'postgresql*.log', server: db1, state_dir: ${join(root, 'state')}, idle_flush_ms: 200, poll_ms: 100 }
  sinks:
    archive: { type: jsonl, path: ${join(root, 'out.jsonl')} }
    siem: { type: syslog, host: 127.0.0.1, port: ${port}, protocol: tcp, timeout_seconds: 1 }
  batch: { window_seconds: 0, max_events: 100 }
  retry: { initial_seconds: 0.2, max_seconds: 0.5 }
  status: { file: ${statusPath}, stuck_seconds: 2 }
`);
    const status = async () => {
      const result = await runCli(['collect', 'status', '--config', config, '--format', 'json']);
      return { code: result.code, stderr: result.stderr, status: (result.stdout ? JSON.parse(result.stdout) : null) as (CollectStatusFile & { problem: string | null }) | null };
    };
    const never = await runCli(['collect', 'status', '--config', config]);
    assert.equal(never.code, 6, never.stderr);
    assert.match(never.stderr, /^Error: no collect status in .*status\.json: pgwarden collect has not run with this configuration\n.*\[PGW_ERR_NOT_FOUND\]$/m);

    writeFileSync(join(logs, 'postgresql.log'), lines(1, 250));
    const daemon = startCollect(config);
    let receiver: Server | undefined;
    try {
      await waitFor(async () => readEvents(join(root, 'out.jsonl')).length >= 250, 20_000, 'the archive has every event');
      // a second collect on the same files is refused
      const second = await runCli(['collect', '--config', config]);
      assert.equal(second.code, 2, second.stderr);
      assert.match(second.stderr, new RegExp(`another pgwarden collect \\(pid ${daemon.child.pid}\\) is running`));

      const stuck = await waitFor(async () => { const s = await status(); return s.code === 7 ? s : null; }, 20_000, 'the siem lane stuck');
      assert.match(stuck.stderr, /1 lane is stuck \(waiting over 2 s\): pglog → siem \(sending: syslog tcp:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\)\n.*\[PGW_ERR_STUCK\]$/m);
      const lanes = new Map(stuck.status!.lanes.map((l) => [l.sink, l]));
      const archive = lanes.get('archive')!;
      assert.deepEqual({ delivered: archive.delivered, stuck: archive.stuck, lag: archive.lag_seconds, error: archive.last_error, input: archive.position?.input },
        { delivered: 250, stuck: false, lag: 0, error: null, input: join(logs, 'postgresql.log') });
      assert.ok(archive.position!.position > 0 && archive.events_per_second > 0, JSON.stringify(archive));
      const siem = lanes.get('siem')!;
      assert.equal(siem.delivered, 0);
      assert.equal(siem.stuck, true);
      assert.ok(siem.failures >= 2);
      // what waits is from 2026-11-22: days behind
      assert.ok(siem.lag_seconds > 86_400, `lag ${siem.lag_seconds}`);
      const table = await runCli(['collect', 'status', '--config', config]);
      assert.equal(table.code, 7);
      assert.match(table.stdout, /^pgwarden collect pid \d+, started .*\nsource +sink +state +delivered +set_aside +events\/s +lag_s +position/);
      assert.match(table.stdout, /\npglog +archive +ok +250 +0 +[\d.]+ +0 +.*postgresql\.log@\d+/);
      assert.match(table.stdout, /\npglog +siem +STUCK +0 +0 +0 +\d+(\.\d)? +- +- +\d+ s ago sending: syslog tcp:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);

      // the receiver comes up: the lane catches up, and the status says so
      receiver = createServer((socket) => socket.on('data', () => undefined));
      receiver.listen(port, '127.0.0.1');
      // from its first delivery on it moves (exit 0) and catches up, batch by batch
      const moving = await waitFor(async () => { const s = await status(); return s.code === 0 ? s : null; }, 30_000, 'every lane moving');
      assert.ok(moving.status!.lanes.find((l) => l.sink === 'siem')!.delivered >= 100);
      const caughtUp = await waitFor(async () => { const s = await status(); return s.status!.lanes.find((l) => l.sink === 'siem')!.delivered === 250 ? s : null; }, 30_000, 'siem caught up');
      assert.equal(caughtUp.code, 0);
      assert.equal(caughtUp.status!.lanes.find((l) => l.sink === 'siem')!.lag_seconds, 0);
      appendFileSync(join(logs, 'postgresql.log'), lines(251, 260));
      await waitFor(async () => (await status()).status!.lanes.every((l) => l.delivered === 260), 20_000, '260 events each');
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      receiver?.close();
    }
    const stopped = await status();
    assert.equal(stopped.code, 7);
    assert.match(stopped.stderr, /pgwarden collect \(pid \d+\) stopped at /);
    assert.ok(stopped.status!.stopped_at);
  });
});
