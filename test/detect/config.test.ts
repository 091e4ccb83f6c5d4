// detect: in pgwarden.yaml: defaults, every threshold configurable, and mistakes reported with
// file, line and the allowed keys or values, as the rest of the config is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.ts';
import { compileRules } from '../../src/detect/index.ts';

const fails = (yaml: string, message: RegExp) => assert.throws(() => parseConfig(yaml, 'pgwarden.yaml'), { message });

describe('detect: configuration', () => {
  it('has sensible defaults: every built-in rule on, sensitive rules inactive until objects are named', () => {
    const rules = compileRules(parseConfig('').detect);
    assert.equal(rules.length, 14);
    assert.ok(rules.every((r) => r.enabled));
    assert.deepEqual(rules.filter((r) => r.inactive !== null).map((r) => r.id), ['sensitive_read', 'sensitive_write']);
    const brute = rules.find((r) => r.id === 'brute_force')!;
    assert.deepEqual([brute.threshold, brute.window_ms, brute.group_by, brute.throttle_ms, brute.close_after_ms], [5, 300_000, ['user', 'client_addr'], 600_000, 3_600_000]);
    assert.ok(compileRules(parseConfig('detect: { enabled: false }').detect).every((r) => !r.enabled), 'detect.enabled: false turns every rule off');
  });

  it('takes every threshold, list and time of each rule, and custom rules in the same shape', () => {
    const detect = parseConfig(`
detect:
  learning: 3d
  sensitive_objects: ['hr.*', public.cards]
  application_roles: ['app_*']
  business_hours: { days: [mon, tue], hours: ['07:00-12:00', '13:00-19:00'], zone: Europe/Berlin }
  rules:
    brute_force: { threshold: 10, window: 2m, group_by: [client_addr], severity: critical, throttle: 1m, close_after: 30m }
    mass_change: { rows: 500, ignore: [{ users: [etl], commands: [TRUNCATE*] }] }
    dormant_role_login: { idle: 30d, enabled: false }
    privilege_escalation: { grants: [SUPERUSER], actions: [{ type: lock_role, duration: 2h }, { type: terminate }] }
    off_hours_ddl: { business_hours: { days: [sat, sun], hours: ['00:00-24:00'], zone: UTC } }
  custom_rules:
    copy_out_of_hr:
      description: COPY of an hr table
      type: match
      match: { commands: [COPY], objects: ['hr.*'] }
      group_by: [user]
    many_errors:
      description: many errors from one session
      type: threshold
      match: { kinds: [error] }
      threshold: 50
      window: 1m
      group_by: [session_id]
`).detect;
    const rules = compileRules(detect);
    const rule = (id: string) => rules.find((r) => r.id === id)!;
    assert.deepEqual([rule('brute_force').threshold, rule('brute_force').window_ms, rule('brute_force').group_by, rule('brute_force').severity], [10, 120_000, ['client_addr'], 'critical']);
    assert.deepEqual(rule('mass_change').match[1]!.min_rows, 500);
    assert.equal(rule('mass_change').ignore.length, 1);
    assert.equal(rule('dormant_role_login').enabled, false);
    assert.deepEqual(rule('privilege_escalation').actions, [{ type: 'lock_role', duration_ms: 7_200_000 }, { type: 'terminate' }]);
    assert.deepEqual(rule('off_hours_ddl').business_hours.days, ['sat', 'sun']);
    assert.deepEqual(rule('off_hours_privileged_login').business_hours.zone, 'Europe/Berlin');
    assert.equal(rule('sensitive_read').inactive, null);
    assert.deepEqual(rules.slice(-2).map((r) => [r.id, r.builtin, r.type]), [['copy_out_of_hr', false, 'match'], ['many_errors', false, 'threshold']]);
  });

  it('names the file, line and what is allowed for every mistake', () => {
    fails('detect:\n  rules:\n    brute_forse: {}\n', /^pgwarden\.yaml:3: detect\.rules\.brute_forse: unknown key \(allowed here: brute_force, password_spray, unknown_role_probe,/);
    fails('detect:\n  rules:\n    brute_force:\n      treshold: 3\n', /^pgwarden\.yaml:4: detect\.rules\.brute_force\.treshold: unknown key \(allowed here: .*threshold, window, group_by, actions\)/);
    fails('detect:\n  rules:\n    mass_change: { rows: -1 }\n', /^pgwarden\.yaml:3: detect\.rules\.mass_change\.rows:/);
    fails('detect:\n  learning: 7 days\n', /^pgwarden\.yaml:2: detect\.learning: a duration such as 30s, 5m, 2h or 7d/);
    fails('detect:\n  business_hours:\n    zone: Europe/Atlantis\n', /^pgwarden\.yaml:3: detect\.business_hours\.zone: an IANA time zone/);
    fails("detect:\n  business_hours: { hours: ['8-18'] }\n", /detect\.business_hours\.hours\.0: HH:MM-HH:MM/);
    fails('detect:\n  custom_rules:\n    brute_force: { type: match, description: x, match: {} }\n', /^pgwarden\.yaml:3: detect\.custom_rules\.brute_force: this is the name of a built-in rule/);
    fails('detect:\n  custom_rules:\n    x: { type: treshold, description: y }\n', /detect\.custom_rules\.x\.type: type must be match, threshold, first_seen or sequence/);
    fails('detect:\n  custom_rules:\n    x: { type: match, description: y, match: { statements: ["(unclosed"] } }\n', /detect\.custom_rules\.x\.match\.statements\.0: not a valid regular expression/);
    fails('detect:\n  custom_rules:\n    x: { type: match, description: y, match: { clients: [10.1.2.300/8] } }\n', /detect\.custom_rules\.x\.match\.clients\.0: a network such as 10\.0\.0\.0\/8/);
    fails('detect:\n  rules:\n    audit_tampering: { sinks: [pager] }\n', /^pgwarden\.yaml:3: detect\.rules\.audit_tampering\.sinks\.0: "pager" is not one of pipeline\.sinks \(none defined\)/);
    fails('detect:\n  responses:\n    protected_networks: [office]\n', /detect\.responses\.protected_networks\.0: "office" is not a network/);
    // A lock or block is temporary: at most 30 days (the SQL functions refuse longer ones too).
    fails('detect:\n  rules:\n    privilege_escalation: { actions: [{ type: lock_role, duration: 31d }] }\n', /detect\.rules\.privilege_escalation\.actions\.0\.duration: must be at most 30d/);
    fails('detect:\n  rules:\n    brute_force: { actions: [{ type: block_client, duration: 999999999999999d }] }\n', /detect\.rules\.brute_force\.actions\.0\.duration: must be at most 30d/);
  });

  it('refuses actions that would let a client choose the target', () => {
    fails('detect:\n  rules:\n    brute_force:\n      actions: [{ type: lock_role }]\n',
      /^pgwarden\.yaml:4: detect\.rules\.brute_force\.actions\.0\.type: type must be block_client \(the role named in a failed or refused login is chosen by the client/);
    fails('detect:\n  rules:\n    guard_refusal_burst: { actions: [{ type: terminate }] }\n', /guard_refusal_burst\.actions\.0\.type: type must be block_client/);
    fails('detect:\n  custom_rules:\n    x: { type: threshold, description: y, match: { kinds: [auth_failed] }, threshold: 3, window: 1m, actions: [{ type: lock_role }] }\n',
      /detect\.custom_rules\.x\.actions\.0\.type: lock_role is not allowed on a rule that matches only failed or refused logins/);
    // A rule that reads response events takes no actions: a response would answer a response
    // (each new incident one more row, one more event, for ever).
    fails('detect:\n  custom_rules:\n    x: { type: match, description: y, match: { kinds: [response] }, actions: [{ type: lock_role }] }\n',
      /detect\.custom_rules\.x\.actions: a rule that reads response events takes no actions/);
    fails('detect:\n  custom_rules:\n    x: { type: sequence, description: y, within: 1m, steps: [{ match: { kinds: [response] } }, { match: { kinds: [connection_authorized] } }], actions: [{ type: terminate }] }\n',
      /detect\.custom_rules\.x\.actions: a rule that reads response events takes no actions/);
    // A sequence that ends in a successful login may act on the role that logged in.
    parseConfig(`detect:
  custom_rules:
    x:
      type: sequence
      description: y
      within: 5m
      steps: [{ match: { signals: [login_failed] }, count: 3 }, { match: { signals: [login] } }]
      actions: [{ type: lock_role }]
`);
  });

  it('detect.in_collect: off by default; `detect` names the alerts in a sink\'s inputs only when it is on', () => {
    assert.equal(parseConfig('').detect.in_collect, false, 'a collect that only archives sends no alerts');
    assert.equal(parseConfig('').detect.responses.lift_interval, '1m');
    const pipeline = (inputs: string, source = 'pg') => `pipeline:\n  sources:\n    ${source}: { type: logfile, path: /tmp, server: db1 }\n  sinks:\n    hook: { type: webhook, url: 'https://example.com/x', inputs: ${inputs} }\n`;
    assert.deepEqual(parseConfig(`detect: { in_collect: true }\n${pipeline('[detect]')}`).pipeline.sinks.hook!.inputs, ['detect']);
    fails(`detect: { in_collect: false }\n${pipeline('[detect]')}`, /pipeline\.sinks\.hook\.inputs: "detect" is not one of pipeline\.sources \(pg\)/);
    fails(`detect: { in_collect: true }\n${pipeline('[pg]', 'detect')}`, /pipeline\.sources\.detect: "detect" names the detection alerts when detect\.in_collect is true/);
    fails('detect:\n  responses: { lift_interval: soon }\n', /detect\.responses\.lift_interval: a duration/);
  });
});
