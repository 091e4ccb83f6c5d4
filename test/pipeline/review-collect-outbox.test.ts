// Review (rev-collect): the detection outbox while an alert sink is down. Every notice not yet
// sent by every sink waits in STATE_DIR/detect.json (rewritten whole at each snapshot). Before the fix,
// with a webhook receiver answering 503 while 10,000 incidents opened, the file grew to 16.7 MB
// (every notice kept, heap 200 MB), and once the receiver was up each notice sent rewrote the
// whole file: n notices of backlog wrote n times the outbox (5,000 of them: about 40 GB).
// Now: at most OUTBOX_KEPT notices (the oldest dropped and counted), an unsent update replaced by
// its incident's next one, and the progress written at most every second while a sink catches up.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/logger.ts';
import { inputEvents } from '../../src/detect/index.ts';
import { createSink } from '../../src/pipeline/build.ts';
import { DetectStage, OUTBOX_KEPT } from '../../src/pipeline/detect-stage.ts';
import { startHttpReceiver } from '../harness/receivers.ts';

/** Bytes this process has passed to write() (Linux): the state files' rewrites, whatever the file system. */
function written(): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

const INCIDENTS = 10_000;

describe('review: the detection outbox while the webhook is down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-review-outbox-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`stays bounded with ${INCIDENTS} incidents opened and the receiver down, and sends what it kept once when it is up`, async () => {
    const receiver = await startHttpReceiver();
    receiver.status = 503;
    const config = join(dir, 'pgwarden.yaml');
    writeFileSync(config, `detect:
  in_collect: true
  state_dir: ${join(dir, 'state')}
  limits: { incidents_per_rule: 20000, groups_per_rule: 20000 }
pipeline:
  retry: { initial_seconds: 0.1, max_seconds: 0.5 }
  sources:
    pg: { type: logfile, path: ${dir}, pattern: '*.csv', format: csvlog, server: db1, state_dir: ${join(dir, 'state')} }
  sinks:
    hook: { type: webhook, url: '${receiver.url}/hook', format: json, inputs: [detect] }
`);
    // 10,000 roles, each with 5 failed logins (brute_force's threshold) from its own client, a second apart
    const lines: string[] = [];
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < INCIDENTS; i++) {
      const ts = new Date(t0 + i * 1000).toISOString().replace('T', ' ').replace('Z', ' UTC');
      const addr = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      for (let k = 0; k < 5; k++) {
        lines.push(`${ts},"app_${i}","postgres",${1000 + i},"${addr}:5555",6b0f0000.${i.toString(16)},1,"authentication",${ts},3/1,0,FATAL,28P01,"password authentication failed for user ""app_${i}""",,,,,,,,,"","client backend",,0`);
      }
    }
    const log = join(dir, 'postgresql.csv');
    writeFileSync(log, `${lines.join('\n')}\n`);
    const cfg = loadConfig(config);
    const silent = createLogger('test');
    silent.level = 'silent';
    const hook = await createSink('hook', cfg.pipeline.sinks.hook!, cfg, silent);
    const stage = new DetectStage({ config: cfg, sinks: [hook], log: silent });
    stage.start();
    let n = 0;
    for await (const batch of inputEvents(log, { format: 'csvlog', server: 'db1' }, (e) => assert.fail(e.reason), () => undefined)) {
      await stage.sink().deliver({ events: batch, messageId: String(n++) });
    }
    const heap = process.memoryUsage().heapUsed;
    // detect.json is written whole only now and then (the journal has the batches): now
    await stage.checkpoint();
    const size = statSync(stage.path).size;
    const state = JSON.parse(readFileSync(stage.path, 'utf8')) as { outbox: { notice: { id: string } }[]; dropped?: number };
    process.stdout.write(`# ${INCIDENTS} incidents, receiver down: detect.json ${(size / 1e6).toFixed(1)} MB, outbox ${state.outbox.length} notices, dropped ${state.dropped}, heap ${(heap / 1e6).toFixed(0)} MB\n`);
    assert.ok(state.outbox.length <= OUTBOX_KEPT, `the outbox holds ${state.outbox.length} notices: it grew with the incidents`);
    assert.equal(state.dropped, INCIDENTS - OUTBOX_KEPT, 'the notices dropped are counted');
    assert.equal(receiver.requests.length, 0);

    // the receiver is up: every notice kept, exactly once, without rewriting the file per notice
    const kept = state.outbox.map((e) => e.notice.id);
    const before = written();
    receiver.status = 200;
    for (;;) {
      const wrote = written() - before;
      assert.ok(wrote < 30 * size, `${wrote} bytes written to send ${receiver.requests.length} of ${kept.length} notices (detect.json ${size} bytes): the file is rewritten per notice`);
      if (receiver.requests.length >= kept.length) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stage.stop();
    await hook.close();
    await receiver.close();
    const ids = receiver.requests.map((r) => r.headers['x-pgwarden-delivery']);
    assert.deepEqual(ids, kept, 'each notice kept, once, in order');
    const last = JSON.parse(readFileSync(stage.path, 'utf8')) as { outbox: unknown[]; sent: Record<string, number> };
    assert.equal(last.outbox.length, 0, 'stop records what was sent');
  });
});

describe('review: a detect.json that is not a whole checkpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-review-state-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Before: a cut engine snapshot threw a plain Error (no code, no file); a file without next_seq
  // or sent was taken, and the first alert got seq NaN or failed on sent[...] of undefined.
  for (const [what, content] of [
    ['cut short', '{"version":1,"outbox":[{"seq":0,'],
    ['an engine snapshot of something else', '{"version":1,"outbox":[],"engine":{"format":"x"},"batches":[],"next_seq":0,"sent":{}}'],
    ['without next_seq and sent', '{"version":1,"outbox":[]}'],
  ] as const) {
    it(`${what}: refused at start with PGW_ERR_CONFIG naming the file`, () => {
      const config = join(dir, 'pgwarden.yaml');
      writeFileSync(config, `detect:\n  in_collect: true\n  state_dir: ${join(dir, 'state')}\npipeline:\n  sources:\n    pg: { type: logfile, path: ${dir}, pattern: '*.csv', format: csvlog, server: db1 }\n  sinks:\n    out: { type: jsonl, path: ${join(dir, 'out.jsonl')} }\n`);
      const cfg = loadConfig(config);
      const silent = createLogger('test');
      silent.level = 'silent';
      mkdirSync(join(dir, 'state'), { recursive: true });
      writeFileSync(join(dir, 'state', 'detect.json'), content);
      assert.throws(() => new DetectStage({ config: cfg, sinks: [], log: silent }),
        (error: Error & { code?: string }) => error.code === 'PGW_ERR_CONFIG' && error.message.includes(join(dir, 'state', 'detect.json')) && /move the file away/.test(error.message));
    });
  }
});
