// Detection inside `pgwarden collect` (detect.in_collect): the recorded attack fixture (a real
// PostgreSQL 15 + pgAudit csvlog, test/detect/fixtures) followed by collect gives, at a real
// webhook receiver, the very incidents `pgwarden detect replay` gives on the same file, each
// notice once under its stable delivery id — also when collect is killed with kill -9 again and
// again while the log grows.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/core/config.ts';
import { createEngine, inputEvents } from '../../src/detect/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import { DetectStage } from '../../src/pipeline/detect-stage.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { startHttpReceiver, type HttpReceiver } from '../harness/receivers.ts';
import { ATTACK, collectDetectConfig, startCollect } from './collect-helpers.ts';

interface Received { delivery: string; notice: string; alert: { id: string; rule: string; count: number; server: string } }

function received(receiver: HttpReceiver): Received[] {
  return receiver.requests.map((r) => {
    const body = JSON.parse(r.body) as { delivery_id: string; notice: string; alert: Received['alert'] };
    assert.equal(r.headers['x-pgwarden-delivery'], body.delivery_id, 'the header and the body name the same delivery');
    return { delivery: body.delivery_id, notice: body.notice, alert: body.alert };
  });
}

interface ReplayAlert { id: string; rule: string; notices: number }

describe('collect runs the detection rules (detect.in_collect)', () => {
  const root = mkdtempSync(join(tmpdir(), 'pgwarden-collect-detect-'));
  let receiver: HttpReceiver;
  before(async () => { receiver = await startHttpReceiver(); });
  after(async () => {
    await receiver.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** A directory with a config: fixture.yaml's detect: with in_collect, a logfile source, the webhook. */
  function setup(name: string): { dir: string; logs: string; log: string; config: string } {
    const dir = join(root, name);
    const logs = join(dir, 'logs');
    mkdirSync(logs, { recursive: true });
    const config = join(dir, 'pgwarden.yaml');
    writeFileSync(config, collectDetectConfig({ logs, stateDir: join(dir, 'state'), maxEvents: 5,
      sinks: `    hook: { type: webhook, url: ${receiver.url}/${name}, format: json, inputs: [detect] }` }));
    return { dir, logs, log: join(logs, 'postgresql-1.csv'), config };
  }

  async function replayed(log: string, config: string): Promise<ReplayAlert[]> {
    const result = await runCli(['--config', config, 'detect', 'replay', '--server', 'fixture', log]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim().split('\n').map((l) => JSON.parse(l) as ReplayAlert);
  }

  /** Every notice the engine gives on the log, in process (as replay runs it): id → the incident's count then. */
  async function notices(log: string, config: string): Promise<Map<string, number>> {
    const engine = createEngine(loadConfig(config).detect);
    const out = new Map<string, number>();
    for await (const batch of inputEvents(log, { format: 'auto', server: 'fixture' }, (e) => assert.fail(e.reason), () => undefined)) {
      for (const event of batch) engine.process(event);
      for (const n of engine.drain()) if (n.kind !== 'closed') out.set(n.id, n.incident.count);
    }
    return out;
  }

  function mine(name: string): Received[] {
    return received({ ...receiver, requests: receiver.requests.filter((r) => r.path === `/${name}`) });
  }

  /** What collect sent compared with what replay printed: the same incidents, each with replay's number of notices. */
  function compare(got: Received[], expected: ReplayAlert[]): void {
    const byIncident = new Map<string, Set<string>>();
    for (const r of got) {
      assert.match(r.delivery, new RegExp(`^${r.alert.id}:\\d+$`), 'the delivery id is the notice id: <incident>:<n>');
      assert.equal(r.alert.server, 'fixture');
      byIncident.set(r.alert.id, (byIncident.get(r.alert.id) ?? new Set()).add(r.delivery));
    }
    assert.deepEqual([...byIncident.keys()].sort(), expected.map((a) => a.id).sort(), 'the incidents replay gives, no more, no fewer');
    for (const alert of expected) assert.equal(byIncident.get(alert.id)!.size, alert.notices, `${alert.rule}: as many notices as replay counts`);
    // the PostgreSQL 15 half of the attack: every rule but the guard's (its refusals are in the pg18 half)
    assert.ok(expected.length >= 14, `the attack's alerts (${expected.length})`);
  }

  it('sends the incidents detect replay gives on the same log, each notice once', async () => {
    const { log, config } = setup('once');
    writeFileSync(log, ATTACK);
    const expected = await replayed(log, config);
    const total = expected.reduce((n, a) => n + a.notices, 0);
    const daemon = startCollect(config);
    try {
      await waitFor(async () => new Set(mine('once').map((r) => r.delivery)).size >= total, 120_000, `${total} notices`);
      // nothing more comes
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    const got = mine('once');
    assert.equal(got.length, total, 'no notice sent twice without a crash');
    compare(got, expected);
    // a restart after a clean stop sends nothing again
    const again = startCollect(config);
    await waitFor(async () => /"msg":"collecting"/.test(again.stderr()), 60_000, 'collect running');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await again.stop('SIGTERM'), 0);
    assert.equal(mine('once').length, total, 'a restart sends nothing again');
  });

  it('neither loses nor doubles an alert when collect is killed with kill -9 while the log grows', async () => {
    const { log, config } = setup('kill9');
    // cut the log between records (a csvlog record starts a line with its time)
    const text = ATTACK.toString('utf8');
    const starts = [...text.matchAll(/\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/g)].map((m) => m.index + 1);
    const cuts = [0, ...[0.15, 0.3, 0.45, 0.6, 0.75, 0.9].map((f) => starts[Math.floor(starts.length * f)]!), text.length];
    writeFileSync(log, '');
    const kills: number[] = [];
    let passedOver = 0;
    for (let part = 0; part < cuts.length - 1; part++) {
      appendFileSync(log, text.slice(cuts[part], cuts[part + 1]));
      const daemon = startCollect(config);
      // killed as soon as something was sent of this part, whatever is in flight then
      const before = mine('kill9').length;
      await waitFor(async () => mine('kill9').length > before || /"msg":"collecting"/.test(daemon.stderr()), 60_000, 'collect running');
      // within the part's processing (5 records a batch, two fsyncs each): a kill lands between a batch's detection checkpoint and its source's
      await new Promise((resolve) => setTimeout(resolve, 20 + part * 40));
      assert.equal(await daemon.stop('SIGKILL'), 'SIGKILL');
      passedOver += (daemon.stderr().match(/records already in the detection state/g) ?? []).length;
      kills.push(mine('kill9').length);
    }
    assert.equal(readFileSync(log, 'utf8'), text);
    const expected = await replayed(log, config);
    const total = expected.reduce((n, a) => n + a.notices, 0);
    const daemon = startCollect(config);
    try {
      await waitFor(async () => new Set(mine('kill9').map((r) => r.delivery)).size >= total, 120_000, `${total} notices`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    passedOver += (daemon.stderr().match(/records already in the detection state/g) ?? []).length;
    const got = mine('kill9');
    process.stdout.write(`# kill -9 with ${kills.join(', ')} notices received; ${got.length} requests for ${total} notices; ${passedOver} batches sent again after a kill\n`);
    // a resend after a kill carries the same delivery id; a receiver drops it
    const unique = [...new Map(got.map((r) => [r.delivery, r])).values()];
    compare(unique, expected);
    // and each notice as the engine gives it in one uninterrupted run: the same count (a record counted twice would show)
    const exact = await notices(log, config);
    assert.deepEqual(new Map(unique.map((r) => [r.delivery, r.alert.count])), exact, 'each notice with the count of one uninterrupted run');
  });

  it('passes over the records of a batch it holds already when the source sends it again (collect died before the source recorded it)', async () => {
    const { log, config } = setup('again');
    writeFileSync(log, ATTACK);
    const cfg = loadConfig(config);
    const events = [];
    for await (const batch of inputEvents(log, { format: 'auto', server: 'fixture' }, (e) => assert.fail(e.reason), () => undefined)) events.push(...batch);
    const silent = createLogger('test');
    silent.level = 'silent';
    const first = new DetectStage({ config: cfg, sinks: [], log: silent });
    await first.sink().deliver({ events: events.slice(0, 100), messageId: 'a' });
    await first.stop();
    // a new process from the checkpoint: the source, whose settle never happened, sends from the same record, now with more
    const second = new DetectStage({ config: cfg, sinks: [], log: silent });
    await second.sink().deliver({ events: events.slice(0, 140), messageId: 'b' });
    await second.sink().deliver({ events: events.slice(140), messageId: 'c' });
    await second.stop();
    assert.equal(second.engine.stats().events, events.length, 'every record counted once');
    const straight = createEngine(cfg.detect);
    for (const event of events) straight.process(event);
    straight.drain();
    assert.deepEqual(second.engine.snapshot(), straight.snapshot(), 'the state of one uninterrupted run');
  });
});
