// The engine on events written the way the parsers produce them: windows, distinct counts,
// first-seen sets with learning, sequences, calendars in a zone, incidents and throttling, the
// trust rules, bounded state that an attacker cannot use to hide, and exact snapshots.
// (Real servers' logs: fixtures.test.ts and forgery.test.ts.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvent, type EventKind, type PgwardenEvent } from '../../src/core/event.ts';
import { Calendar } from '../../src/detect/calendar.ts';
import { detectSchema, type DetectConfig } from '../../src/detect/config.ts';
import { createEngine, type DetectEngine, type Notice } from '../../src/detect/index.ts';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0); // a Monday, 10:00 UTC
let position = 0;

function ev(kind: EventKind, seconds: number, fields: Partial<PgwardenEvent> = {}): PgwardenEvent {
  const event = newEvent(kind, 'db1', { input: 'test.log', position: position++, line: null });
  return { ...event, ts: new Date(T0 + seconds * 1000).toISOString().replace('Z', '+00:00'), severity: 'LOG', ...fields };
}
const failed = (s: number, user: string, client = '10.0.0.5', extra: Partial<PgwardenEvent> = {}) =>
  ev('auth_failed', s, { severity: 'FATAL', sqlstate: '28P01', user, client_addr: client, message: `password authentication failed for user "${user}"`, ...extra });
const login = (s: number, user: string, client = '10.0.0.5', application: string | null = 'psql', extra: Partial<PgwardenEvent> = {}) =>
  ev('connection_authorized', s, { user, database: 'shop', client_addr: client, application, pid: 1000 + s, message: `connection authorized: user=${user} database=shop`, ...extra });

function config(detect: unknown = {}): DetectConfig {
  return detectSchema.parse(detect);
}

function run(engine: DetectEngine, events: PgwardenEvent[]): Notice[] {
  const notices: Notice[] = [];
  for (const e of events) {
    engine.process(e);
    notices.push(...engine.drain());
  }
  return notices;
}

const opened = (notices: Notice[], rule?: string) => notices.filter((n) => n.kind === 'opened' && (rule === undefined || n.incident.rule === rule));

describe('detection engine', () => {
  it('counts failures in a sliding window per role and client: the burst alerts once, with its first and last time', () => {
    const engine = createEngine(config());
    const notices = run(engine, [
      failed(0, 'alice'), failed(60, 'alice'), failed(120, 'alice'), failed(180, 'alice'),
      failed(400, 'alice'), // 0 s has left the 5-minute window: 4 in the window
      failed(410, 'alice', '10.0.0.6'), // another client: its own group
      failed(420, 'alice'),
      failed(430, 'alice'),
      failed(450, 'alice'), // 180, 400, 420, 430, 450: five within five minutes
    ]);
    const brute = opened(notices, 'brute_force');
    assert.equal(brute.length, 1);
    const incident = brute[0]!.incident;
    assert.deepEqual([incident.count, incident.first_ts, incident.last_ts, incident.user, incident.client_addr],
      [5, new Date(T0 + 180_000).toISOString().replace('Z', '+00:00'), new Date(T0 + 450_000).toISOString().replace('Z', '+00:00'), 'alice', '10.0.0.5']);
    assert.deepEqual(incident.group, { user: 'alice', client_addr: '10.0.0.5' });
  });

  it('keeps one incident per rule and group: more events count into it, updates are throttled, quiet closes it', () => {
    const engine = createEngine(config());
    const events = [0, 1, 2, 3, 4].map((s) => failed(s, 'bob'));
    for (let s = 10; s < 1500; s += 10) events.push(failed(s, 'bob')); // 25 minutes of failures
    events.push(failed(1500 + 3601, 'carol')); // an hour later (another group): the sweep closes bob's
    for (let s = 0; s < 5; s++) events.push(failed(1500 + 3700 + s, 'bob')); // a new burst: a new incident
    const notices = run(engine, events).filter((n) => n.incident.rule === 'brute_force');
    const ids = [...new Set(notices.map((n) => n.incident.id))];
    assert.equal(ids.length, 2, 'two incidents, not one alert per event');
    const first = notices.filter((n) => n.incident.id === ids[0]);
    assert.deepEqual(first.map((n) => n.kind), ['opened', 'updated', 'updated', 'closed'], 'throttled to one update per 10 minutes of record time');
    assert.equal(first.at(-1)!.incident.count, 5 + 149);
    assert.deepEqual(first.map((n) => n.id), [`${ids[0]}:1`, `${ids[0]}:2`, `${ids[0]}:3`, `${ids[0]}:closed`]);
  });

  it('counts distinct roles per client for a spray, whatever the order and repeats', () => {
    const engine = createEngine(config());
    const users = ['a', 'b', 'a', 'c', 'b', 'd', 'a'];
    const notices = run(engine, users.map((u, i) => failed(i, u, '192.0.2.7')));
    assert.equal(opened(notices, 'password_spray').length, 0, '4 distinct roles');
    const more = run(engine, [failed(10, 'e', '192.0.2.7'), failed(11, 'f', '192.0.2.7')]);
    const spray = opened(more, 'password_spray');
    assert.equal(spray.length, 1);
    assert.deepEqual(spray[0]!.incident.distinct.sort(), ['a', 'b', 'c', 'd', 'e']);
  });

  it('learns first-seen keys for detect.learning of record time, then alerts once per new client of a privileged role', () => {
    const engine = createEngine(config({ learning: '1h' }));
    const notices = run(engine, [
      login(0, 'postgres', '10.1.1.5', 'psql'),
      login(600, 'postgres', '10.9.9.9', 'pgAdmin'), // new, but still learning
      login(3700, 'postgres', '10.1.1.77', 'psql'), // same /24 and application: known
      login(3800, 'postgres', '10.9.9.10', 'pgAdmin'), // learned during the first hour
      login(3900, 'alice', '203.0.113.5', 'psql'), // not privileged
      login(4000, 'postgres', '203.0.113.5', 'psql'), // new network
      login(4100, 'postgres', '203.0.113.6', 'psql'), // same /24: known now
    ]);
    const news = opened(notices, 'new_client_for_privileged_role');
    assert.deepEqual(news.map((n) => [n.incident.user, n.incident.client_addr]), [['postgres', '203.0.113.5']]);
    assert.equal(opened(createEngineRun([login(0, 'postgres', '203.0.113.5')]), 'new_client_for_privileged_role').length, 0, 'a short replay is all learning');
  });

  it('treats roles the records make privileged as privileged (replay facts)', () => {
    const grant = ev('audit', 10, { user: 'postgres', session_id: 's1', audit: {
      type: 'SESSION', statement_id: 1, substatement_id: 1, class: 'ROLE', command: 'ALTER ROLE', object_type: null, object_name: null,
      statement: 'ALTER ROLE eve SUPERUSER', parameters: [], statement_logged: 'yes', rows: null } });
    const notices = createEngineRun([login(0, 'eve', '10.1.1.5'), grant, login(7200, 'eve', '10.1.1.6'), login(7300, 'eve', '198.51.100.1')], { learning: '1h' });
    assert.deepEqual(opened(notices, 'new_client_for_privileged_role').map((n) => n.incident.client_addr), ['198.51.100.1']);
    assert.equal(opened(notices, 'privilege_escalation').length, 1);
  });

  it('alerts on a login after the idle time since the role\'s previous login, and never on a first one', () => {
    const notices = createEngineRun([login(0, 'old'), login(86_400 * 2, 'old'), login(86_400 * 2 + 60, 'old'), login(86_400 * 5, 'new')], { rules: { dormant_role_login: { idle: '1d' } } });
    assert.deepEqual(opened(notices, 'dormant_role_login').map((n) => n.incident.user), ['old']);
  });

  it('runs sequences: failures then a success within the time, not a success alone or too late', () => {
    const detect = { custom_rules: { cracked: { description: 'cracked', type: 'sequence', group_by: ['user', 'client_addr'], within: '10m',
      steps: [{ match: { signals: ['login_failed'] }, count: 3 }, { match: { signals: ['login'] } }] } } };
    const hit = createEngineRun([failed(0, 'u'), failed(1, 'u'), login(2, 'u'), failed(3, 'u'), login(4, 'u')], detect);
    assert.equal(opened(hit, 'cracked').length, 1);
    assert.equal(opened(hit, 'cracked')[0]!.incident.count, 5);
    assert.equal(opened(createEngineRun([login(0, 'u'), login(1, 'u')], detect), 'cracked').length, 0);
    assert.equal(opened(createEngineRun([failed(0, 'u'), failed(1, 'u'), failed(2, 'u'), login(700, 'u')], detect), 'cracked').length, 0, 'too late');
    assert.equal(opened(createEngineRun([failed(0, 'u'), failed(1, 'u'), failed(2, 'u'), login(3, 'u', '10.0.0.99')], detect), 'cracked').length, 0, 'another client');
  });

  it('knows business hours in a zone, across a daylight-saving change and past midnight', () => {
    const berlin = new Calendar({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: ['08:00-18:00'], zone: 'Europe/Berlin' });
    const at = (iso: string) => berlin.inside(Date.parse(iso));
    assert.equal(at('2026-03-27T07:30:00Z'), true, 'Friday 08:30 CET');
    assert.equal(at('2026-03-27T06:59:00Z'), false, 'Friday 07:59 CET');
    assert.equal(at('2026-03-30T06:30:00Z'), true, 'Monday 08:30 CEST (after the change)');
    assert.equal(at('2026-03-30T16:00:00Z'), false, 'Monday 18:00 CEST');
    assert.equal(at('2026-03-28T10:00:00Z'), false, 'Saturday');
    const night = new Calendar({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], hours: ['22:00-06:00'], zone: 'America/New_York' });
    assert.equal(night.inside(Date.parse('2026-07-01T03:00:00Z')), true, '23:00 EDT');
    assert.equal(night.inside(Date.parse('2026-07-01T09:30:00Z')), true, '05:30 EDT');
    assert.equal(night.inside(Date.parse('2026-07-01T12:00:00Z')), false, '08:00 EDT');
    const ddl = (s: number) => ev('ddl', s, { user: 'dev', database: 'shop', ddl: { id: s, txid: 1, event: 'ddl_command_end', current_user: 'dev', command_tag: 'DROP TABLE',
      object_type: 'table', object_identity: 'public.t', schema: 'public', in_extension: false, statement: 'DROP TABLE t', change_ticket: null, server_addr: null, server_port: null, detail: null } });
    const notices = createEngineRun([ddl(0), ddl(9 * 3600)], { business_hours: { hours: ['09:00-17:00'], zone: 'UTC' } });
    assert.deepEqual(opened(notices, 'off_hours_ddl').map((n) => n.incident.first_ts), [new Date(T0 + 9 * 3600_000).toISOString().replace('Z', '+00:00')]);
  });

  it('takes nothing a client can write for a login, a refusal or a failure — and application_name hides nothing', () => {
    const context = 'PL/pgSQL function inline_code_block line 1 at RAISE';
    const notices = createEngineRun([
      login(0, 'postgres', '10.1.1.5'),
      // RAISE LOG 'connection authorized: user=postgres …' from 203.0.113.9 while learning:
      login(10, 'postgres', '203.0.113.9', 'psql', { context, user: 'postgres' }),
      // RAISE EXCEPTION 'pgwarden: connection refused for role "app" …' USING ERRCODE '28000', six times:
      ...[20, 21, 22, 23, 24, 25].map((s) => ev('guard_deny', s, { severity: 'ERROR', sqlstate: '28000', user: 'app', client_addr: '10.2.2.2', context, guard: { rule_id: null, reason: 'x', problem: null } })),
      ...[30, 31, 32, 33, 34, 35].map((s) => failed(s, 'app', '10.2.2.3', { context })),
      // the real thing, from a client calling itself pgwarden:
      ...[40, 41, 42, 43, 44].map((s) => failed(s, 'app', '10.2.2.4', { application: 'pgwarden/collect' })),
      login(7200, 'postgres', '203.0.113.9', 'psql'),
    ], { learning: '1h' });
    assert.deepEqual(opened(notices).map((n) => n.incident.rule).sort(), ['brute_force', 'new_client_for_privileged_role']);
    assert.equal(opened(notices, 'brute_force')[0]!.incident.client_addr, '10.2.2.4');
  });

  it('keeps a real brute force when an attacker sprays keys to fill the state, and never drops evicted events', () => {
    const limits = { limits: { groups_per_rule: 10 } };
    const real = [0, 1, 2, 3].map((s) => failed(s, 'dba', '198.51.100.1'));
    const spray = Array.from({ length: 200 }, (_, i) => failed(5 + i / 100, `u${i}`, `203.0.113.${i % 250}`));
    const notices = createEngineRun([...real, ...spray, failed(9, 'dba', '198.51.100.1')], limits);
    assert.deepEqual(opened(notices, 'brute_force').map((n) => n.incident.group), [{ overflow: true }, { user: 'dba', client_addr: '198.51.100.1' }],
      'one-attempt groups evict each other, not the group four failures in; and the evicted ones add up to the overflow alert');
    // Fill the table with groups as far along as the real one: it is evicted, and its events alert as the rule's overflow.
    const deep = Array.from({ length: 12 }, (_, g) => [0, 1, 2, 3].map((k) => failed(20 + g + k / 10, `x${g}`, `192.0.2.${g}`))).flat();
    const overflow = createEngineRun([...real, ...deep], limits);
    const alerts = opened(overflow, 'brute_force');
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0]!.incident.group, { overflow: true });
    assert.ok(alerts[0]!.incident.events.some((e) => e.position === real[0]!.source.position), 'the evicted brute force is in the overflow incident');
  });

  it('bounds open incidents per rule and the events each keeps', () => {
    const events = Array.from({ length: 30 }, (_, i) => ev('tamper', i, { tamper: { findings: [{ object: `f${i}`, state: 'CHANGED', expected: 'a', actual: 'b' }], resolved: false }, user: `u${i}` }));
    const notices = createEngineRun(events, { limits: { incidents_per_rule: 10, events_per_incident: 4 } });
    const tamper = opened(notices, 'audit_tampering');
    assert.equal(tamper.length, 11, '10 incidents, then one overflow incident for the rest');
    assert.deepEqual(tamper.at(-1)!.incident.group, { overflow: true });
    const engine = createEngine(config({ limits: { events_per_incident: 4 } }));
    run(engine, Array.from({ length: 9 }, (_, i) => failed(i, 'z')));
    const incident = engine.openIncidents()[0]!;
    assert.equal(incident.count, 9);
    assert.deepEqual(incident.events.map((e) => e.position - incident.events[0]!.position), [0, 1, 7, 8], 'the first two and the latest two');
  });

  it('snapshots and restores exactly: cut anywhere, the rest gives the same notices with the same ids', () => {
    const detect = { learning: '10m', rules: { dormant_role_login: { idle: '1h' } }, custom_rules: { cracked: { description: 'c', type: 'sequence', within: '10m',
      group_by: ['user'], steps: [{ match: { signals: ['login_failed'] }, count: 2 }, { match: { signals: ['login'] } }] } } };
    const events: PgwardenEvent[] = [];
    for (let i = 0; i < 120; i++) {
      const s = i * 40;
      events.push(i % 3 === 0 ? login(s, i % 2 ? 'postgres' : 'alice', `10.0.${i % 7}.1`) : failed(s, `u${i % 4}`, `10.0.${i % 5}.2`));
    }
    const whole = createEngineRun(events, detect).map((n) => JSON.stringify(n));
    for (const cut of [1, 17, 40, 63, 90, 119]) {
      const first = createEngine(config(detect));
      const before = run(first, events.slice(0, cut));
      const saved = JSON.parse(JSON.stringify(first.snapshot()));
      const second = createEngine(config(detect));
      assert.deepEqual(second.restore(saved), []);
      const after = run(second, events.slice(cut));
      assert.deepEqual([...before, ...after].map((n) => JSON.stringify(n)), whole, `cut at ${cut}`);
    }
  });

  it('drops the restored state of a rule whose behaviour changed, and keeps the others', () => {
    const first = createEngine(config());
    run(first, [0, 1, 2].map((s) => failed(s, 'k')));
    const second = createEngine(config({ rules: { brute_force: { threshold: 3 } } }));
    assert.deepEqual(second.restore(first.snapshot()), ['brute_force']);
    assert.equal(opened(run(second, [failed(3, 'k')]), 'brute_force').length, 0, 'the window starts again');
    const same = createEngine(config({ rules: { brute_force: { severity: 'critical' } } }));
    assert.deepEqual(same.restore(first.snapshot()), [], 'severity does not change what the rule counts');
    assert.equal(opened(run(same, [failed(3, 'k'), failed(4, 'k')]), 'brute_force').length, 1);
  });
  it('lets response events (pgwarden\'s own actions) reach only a rule that names kind response: no response loops', () => {
    const response = (s: number, user: string, action: 'lock_role' | 'terminate' = 'lock_role') => ev('response', s, {
      user, database: 'shop', pid: 4242, session_id: '6b0f2a10.1092', message: `pgwarden response ${action} done: ALTER ROLE ${user} NOLOGIN`,
      response: { id: position, response_id: `inc:${action}`, action, outcome: 'done', role: user, network: null, until: null, reason: `ALTER ROLE ${user} NOLOGIN`,
        rule: 'brute_force', incident: 'inc', summary: 'x', requested_by: 'pgw' },
    });
    const every = config({
      sensitive_objects: ['hr.*'],
      custom_rules: {
        about_alice: { description: 'every event of alice', type: 'match', match: { users: ['alice'] }, actions: [{ type: 'terminate' }] },
        many_events: { description: 'any 3 events', type: 'threshold', match: { databases: ['shop'] }, threshold: 3, window: '5m' },
        responses_seen: { description: 'what pgwarden did', type: 'match', match: { kinds: ['response'] } },
      },
    });
    const engine = createEngine(every);
    // at night, as a privileged role, over and over: no built-in or kind-less rule sees them
    const notices = run(engine, Array.from({ length: 20 }, (_, i) => response(-36_000 + i, i % 2 === 0 ? 'alice' : 'postgres', i % 3 === 0 ? 'terminate' : 'lock_role')));
    assert.deepEqual([...new Set(opened(notices).map((n) => n.incident.rule))], ['responses_seen']);
    // the same rules still see the server's own records of alice
    const later = run(engine, [0, 1, 2].map((s) => failed(s, 'alice', '10.0.0.5', { database: 'shop' })));
    assert.deepEqual(opened(later).map((n) => n.incident.rule).sort(), ['about_alice', 'many_events']);
  });

  it('lets a response event move no clock when no rule reads it: a window of the logs being caught up stays open', () => {
    const engine = createEngine(config());
    const responseAt = (s: number) => ev('response', s, { user: 'alice', message: 'pgwarden response lock_role done' });
    // four failures, then the responder's record of a later time (collect catching up on old logs), then the fifth
    const notices = run(engine, [failed(0, 'alice'), failed(10, 'alice'), failed(20, 'alice'), failed(30, 'alice'), responseAt(7200), failed(40, 'alice')]);
    assert.equal(opened(notices, 'brute_force').length, 1);
    assert.equal(opened(notices, 'brute_force')[0]!.incident.count, 5);
  });
});

function createEngineRun(events: PgwardenEvent[], detect: unknown = {}): Notice[] {
  return run(createEngine(config(detect)), events);
}
