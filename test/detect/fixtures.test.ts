// The recorded fixtures (test/detect/fixtures: real PostgreSQL 15 + pgAudit and 18, recorded by
// scripts/record-detect-fixtures.ts) through `pgwarden detect replay` as a user runs it: the
// attack gives exactly one alert per rule, the clean workload of more than 100,000 events none.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parseConfig } from '../../src/core/config.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { parseText } from '../../src/logs/index.ts';
import { BUILTIN_RULES, createEngine, inputEvents, mergeByTime, type Alert, type Notice } from '../../src/detect/index.ts';
import { runCli } from '../harness/cli.ts';
import { ATTACK_ALERTS, FIXTURES } from './expected.ts';

const fixture = (name: string) => path.join(FIXTURES, name);
const CONFIG = fixture('fixture.yaml');
const ATTACK = [fixture('attack-pg15.csv.gz'), fixture('attack-pg18.csv.gz')];
const CLEAN = fixture('clean-pg15.csv.gz');

function alertsOf(stdout: string): Alert[] {
  return stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Alert);
}

async function fixtureEvents(files: string[]): Promise<PgwardenEvent[]> {
  const events: PgwardenEvent[] = [];
  const inputs = files.map((file) => inputEvents(file, { format: 'auto', server: 'fixture' }, (e) => assert.fail(`parse error ${e.reason}`), () => undefined));
  for await (const event of mergeByTime(inputs)) events.push(event);
  return events;
}

describe('replaying the recorded fixtures', () => {
  let attack: { code: number; stdout: string; stderr: string };
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-detect-fixtures-'));
    attack = await runCli(['--config', CONFIG, 'detect', 'replay', '--server', 'fixture', ...ATTACK]);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('gives exactly one alert per built-in rule, and one for the custom sequence rule, naming who did it', () => {
    assert.equal(attack.code, 0, attack.stderr);
    const alerts = alertsOf(attack.stdout);
    const rules = alerts.map((a) => a.rule).sort();
    assert.deepEqual(rules, ATTACK_ALERTS.map((a) => a.rule).sort());
    for (const rule of BUILTIN_RULES) assert.equal(alerts.filter((a) => a.rule === rule.id).length, 1, rule.id);
    for (const expected of ATTACK_ALERTS) {
      const alert = alerts.find((a) => a.rule === expected.rule)!;
      assert.deepEqual({ rule: alert.rule, user: alert.user, client_addr: alert.client_addr, count: alert.count }, expected);
      assert.equal(alert.server, 'fixture');
      assert.ok(alert.summary.length > 10, `${alert.rule}: summary`);
      if (BUILTIN_RULES.some((r) => r.id === alert.rule)) assert.ok(alert.tags.some((t) => t.startsWith('attack:T')), `${alert.rule}: ATT&CK tags`);
      assert.ok(Date.parse(alert.first_ts!) <= Date.parse(alert.last_ts!));
    }
    assert.match(attack.stderr, /15 alerts/);
    assert.match(attack.stderr, /8 records a client could have written/, 'the forged logins and guard refusals are seen for what they are');
  });

  it('points every alert at the records behind it, in the replayed files', () => {
    const bytes = Object.fromEntries(ATTACK.map((file) => [file, gunzipSync(readFileSync(file))]));
    for (const alert of alertsOf(attack.stdout)) {
      assert.ok(alert.events.length >= Math.min(alert.count, 1), alert.rule);
      for (const ref of alert.events) {
        // Parse from there: the first record must start exactly there (a csvlog record may span lines).
        const record = parseText(bytes[ref.input]!.subarray(ref.position, ref.position + 4096), { format: 'csvlog' }).events.find((e) => e.source.position === 0);
        assert.ok(record, `${alert.rule}: a csvlog record starts at ${ref.input}:${ref.position}`);
        if (alert.user !== null && alert.rule !== 'failed_logins_then_success') assert.equal(record.user ?? alert.user, alert.user, `${alert.rule} at ${ref.position}`);
      }
    }
  });

  it('describes responses and does none; protected roles and networks are refused', () => {
    const alerts = alertsOf(attack.stdout);
    for (const alert of alerts) for (const response of alert.responses) assert.equal(response.done, false);
    const by = (rule: string) => alerts.find((a) => a.rule === rule)!.responses;
    assert.deepEqual(by('brute_force').map((r) => [r.action, r.refused]), [['block_client', '127.0.0.23 is in detect.responses.protected_networks']]);
    const [terminate, lock] = by('mass_change');
    assert.equal(terminate!.refused, null);
    assert.match(terminate!.would, /^end pid \d+ \(session [0-9a-f]+\.[0-9a-f]+\) with pg_terminate_backend/);
    assert.equal(lock!.refused, null);
    assert.match(lock!.would, /^ALTER ROLE "etl" NOLOGIN on fixture, and LOGIN again after 15 min/);
    assert.equal(Date.parse(lock!.until!) - Date.parse(alerts.find((a) => a.rule === 'mass_change')!.last_ts!), 15 * 60_000);
    assert.deepEqual(by('privilege_escalation').map((r) => r.refused), ['postgres is a superuser']);
    const cracked = by('failed_logins_then_success');
    assert.deepEqual(cracked.map((r) => r.action), ['terminate', 'lock_role', 'block_client']);
    assert.equal(cracked[1]!.refused, null, 'after a successful login, the role is the one that logged in');
  });

  it('gives no alert on the clean workload of more than 100,000 events, near misses included', async () => {
    const clean = await runCli(['--config', CONFIG, 'detect', 'replay', '--server', 'fixture', CLEAN]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout, '', 'no alert');
    const events = Number(/ (\d+) events in /.exec(clean.stderr)?.[1]);
    assert.ok(events >= 100_000, clean.stderr);
    // What makes it a test: the workload comes close to the rules without crossing them.
    const all = await fixtureEvents([CLEAN]);
    const count = (test: (e: PgwardenEvent) => boolean) => all.filter(test).length;
    assert.ok(count((e) => e.kind === 'auth_failed') >= 2, 'a mistyped password and a mistyped role');
    assert.ok(count((e) => e.kind === 'audit' && e.audit!.class === 'DDL') >= 1, 'DDL in business hours');
    assert.ok(count((e) => e.kind === 'audit' && e.audit!.object_name === 'hr.salaries' && e.user === 'app_hr') > 10, 'an application role reads and writes hr.*');
    assert.ok(count((e) => e.kind === 'audit' && e.audit!.command === 'DELETE' && e.user === 'etl') > 10, 'deletes with a WHERE');
    assert.ok(count((e) => e.kind === 'connection_authorized' && e.user === 'postgres') > 10, 'superuser logins in business hours');
    assert.ok(count((e) => e.kind === 'audit' && e.audit!.command === 'SET') > 10, 'SET of settings that are not auditing');
  });

  it('gives the same alerts whatever the order of the files, and from `pgwarden parse` JSON lines', async () => {
    const reversed = await runCli(['--config', CONFIG, 'detect', 'replay', '--server', 'fixture', ...[...ATTACK].reverse()]);
    assert.equal(reversed.stdout, attack.stdout);
    const lines: string[] = [];
    for (const [i, file] of ATTACK.entries()) {
      const csv = path.join(tmp, `attack-${i}.csv`);
      writeFileSync(csv, gunzipSync(readFileSync(file)));
      const parsed = await runCli(['parse', '--server', 'fixture', csv]);
      assert.equal(parsed.code, 0, parsed.stderr);
      lines.push(parsed.stdout);
    }
    writeFileSync(path.join(tmp, 'events.ndjson'), lines.join(''));
    const fromJson = await runCli(['--config', CONFIG, 'detect', 'replay', path.join(tmp, 'events.ndjson')]);
    assert.equal(fromJson.code, 0, fromJson.stderr);
    // The ids hash the input names, which differ: compare the rest, in one order.
    const essence = (stdout: string) => alertsOf(stdout).map((a) => JSON.stringify([a.rule, a.user, a.client_addr, a.count, a.first_ts, a.last_ts, a.events.map((e) => e.position)])).sort();
    assert.deepEqual(essence(fromJson.stdout), essence(attack.stdout));
  });

  it('picks up exactly where a snapshot left off, at any point of the attack: nothing forgotten, nothing twice', async () => {
    const detect = parseConfig(readFileSync(CONFIG, 'utf8'), CONFIG).detect;
    const events = await fixtureEvents(ATTACK);
    const runAll = (engine: ReturnType<typeof createEngine>, list: PgwardenEvent[]) => {
      const notices: Notice[] = [];
      for (const e of list) {
        engine.process(structuredClone(e));
        notices.push(...engine.drain());
      }
      return notices;
    };
    const whole = runAll(createEngine(detect), events).map((n) => JSON.stringify(n));
    assert.ok(whole.filter((n) => n.includes('"kind":"opened"')).length === ATTACK_ALERTS.length);
    for (let cut = 1; cut < events.length; cut += 23) {
      const first = createEngine(detect);
      const before = runAll(first, events.slice(0, cut));
      const second = createEngine(detect);
      second.restore(JSON.parse(JSON.stringify(first.snapshot())));
      const rest = runAll(second, events.slice(cut));
      assert.deepEqual([...before, ...rest].map((n) => JSON.stringify(n)), whole, `cut after ${cut} events`);
    }
  });
});
