// Each output format read by its real consumer, on results built from the real check
// definitions: Monitoring::Plugin recomputes every state from the perfdata and must agree with
// pgwarden, promtool lints the exposition, Zabbix's LLD substitution rule must give exactly the
// keys pgwarden sends, check_mk's parser must see the lower levels. And every error answers in
// its consumer's shape. No server needed: the values come from evaluate(), as in a real run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHECKS, STATE_CODE, evaluate, worse, renderError, renderResults, type CheckResult, type RawCheckRow, type ServerResult } from '../../src/monitor/index.ts';
import { CHECK_SEPARATOR, ROW_SEPARATOR } from '../../src/monitor/formats/nagios.ts';
import { itemKey, keyParam } from '../../src/monitor/formats/zabbix.ts';
import { monitoringPlugin, nagiosStatusText, promtool, zabbixPrototypeKey } from './consumers.ts';
import { keyParams, parseCheckmk, parseNagios, parseZabbix, senderFields } from './formats.ts';

// Role and item names with every character a format must cope with.
const ODD = [`o'neil = "ops" | x\\y; z`, 'idle in transaction', ' leading space', '[bracketed', 'a,b', 'x]y', '"quoted', 'a"b', 'ends,with\\', 'plain\\'];

function result(name: string, rows: Partial<RawCheckRow>[], settings?: Parameters<typeof evaluate>[2]): CheckResult {
  const check = CHECKS.find((c) => c.name === name)!;
  return evaluate(check, rows.map((r) => ({ item: '', value: null, detail: null, skipped: null, metadata: null, ...r })), settings, 1.5);
}

/** A run with values on both sides of every kind of threshold, equal to the limits included. */
function sampleRun(): ServerResult[] {
  const checks = [
    result('alive', [{ value: 1, detail: 'PostgreSQL answers' }]),
    result('ssl', [{ value: 2, detail: 'ssl is off; connections are not encrypted' }]),
    result('connections', [{ value: 80, detail: '80 of 100 in use' }]),
    result('uptime', [{ value: 600, detail: 'up since now' }]),
    result('cache_hit_ratio', [{ item: 'postgres', value: 90 }, { item: 'app', value: 80 }, { item: 'ok_db', value: 99.5 }, { item: 'new_db', value: null }]),
    result('xid_wraparound', [{ item: 'postgres', value: 0.000123 }]),
    result('transaction_rate', [{ value: null, detail: 'first sample' }]),
    result('password_expiry', ODD.map((item, i) => ({ item, value: i % 2, detail: `role ${i}` }))),
    result('connections_by_state', [{ item: 'idle in transaction', value: 3 }, { item: 'active', value: 1 }]),
    result('database_growth', [{ item: 'postgres', value: -5000 }, { item: 'big', value: 2_000_000_000 }]),
    result('superusers', [{ item: 'postgres', value: 0 }, { item: 'mallory', value: 2, detail: 'became superuser' }]),
    result('inactive_slots', []),
    result('backup_age', [{ value: null }]),
    result('archiver', [{ skipped: 'archive_mode is off' }]),
  ];
  const failedCheck: CheckResult = { ...result('lock_waits', [{ value: 0 }]), level: 'unknown', rows: [], error: 'timed out after 5000 ms', summary: 'timed out after 5000 ms' };
  checks.push(failedCheck);
  const level = checks.reduce<CheckResult['level']>((acc, c) => worse(acc, c.level), 'ok');
  return [{ server: 'db1', database: 'postgres', level, error: null, checks, duration_ms: 12 }];
}

describe('output formats read by their real consumers', () => {
  it('nagios: Monitoring::Plugin parses every perfdata item and its ranges give pgwarden\'s state for every value', () => {
    const run = sampleRun();
    const stdout = renderResults(run, 'nagios');
    const parsed = parseNagios(stdout, 2);
    const perf = stdout.trimEnd().split(' | ')[1]!;
    assert.doesNotMatch(perf, /=U/, 'unknown values are left out');
    const plugin = monitoringPlugin(perf);
    const rows = run[0]!.checks.filter((c) => c.level !== 'skipped' && !c.error)
      .flatMap((c) => c.rows.filter((r) => r.value !== null).map((r) => ({ check: c.name, row: r })));
    assert.equal(plugin.length, rows.length, 'one item per value');
    assert.equal(parsed.perfdata.length, rows.length);
    const disagreements = rows.flatMap(({ check, row }, i) =>
      plugin[i]!.status === STATE_CODE[row.level] ? [] : [`${check}::${row.item}=${row.value} is ${row.level} for pgwarden, ${plugin[i]!.status} by the ranges ${plugin[i]!.warning} / ${plugin[i]!.critical}`]);
    assert.deepEqual(disagreements, []);
    assert.equal(plugin.find((p) => p.label === 'ssl')!.status, 2, "'ssl'=2 is CRITICAL by its range too");
    assert.equal(plugin.find((p) => p.label === 'uptime')!.status, 1, 'uptime at the limit warns (value <= 600)');
    assert.equal(plugin.find((p) => p.label === 'connections')!.uom, '%');
    assert.ok(plugin.some((p) => p.label.startsWith('password_expiry::o_neil')), 'a quote in a label does not break the parser');
  });

  it('nagios: the alive check can go critical by its range', () => {
    const down = [{ server: 'db1', database: null, level: 'critical' as const, error: null, checks: [result('alive', [{ value: 0 }])], duration_ms: 1 }];
    const plugin = monitoringPlugin(renderResults(down, 'nagios').trimEnd().split(' | ')[1]!);
    assert.deepEqual(plugin.map((p) => [p.label, p.status]), [['alive', 2]]);
  });

  it('nagios: the status text keeps its separators through Nagios\'s ";" rewrite', () => {
    const run = sampleRun();
    const stdout = renderResults(run, 'nagios');
    const stored = nagiosStatusText(stdout);
    assert.equal(stored, stdout.split(' | ')[0]!.trim(), 'nothing for Nagios to rewrite');
    const body = stored.replace(/^PGWARDEN \w+ - /, '').replace(/ \(\d+ ok(, \d+ skipped)?\)$/, '');
    const notOk = run[0]!.checks.filter((c) => c.level !== 'ok' && c.level !== 'skipped');
    const parts = body.split(CHECK_SEPARATOR);
    assert.deepEqual(parts.map((p) => p.split(' ')[0]), notOk.map((c) => c.name));
    const expiry = parts.find((p) => p.startsWith('password_expiry'))!;
    assert.equal(expiry.split(ROW_SEPARATOR).length, 3 + 1, 'three rows and "and N more"');
  });

  it('prometheus: promtool accepts the exposition; one family per unit, the unit in its name', () => {
    const text = renderResults(sampleRun(), 'prometheus');
    assert.deepEqual(promtool(text), { code: 0, problems: '' });
    const families = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]);
    assert.ok(!families.includes('pgwarden_value'), 'no family mixing units behind a label');
    for (const family of ['pgwarden_check_ratio', 'pgwarden_check_seconds', 'pgwarden_check_bytes_per_second', 'pgwarden_check_boolean', 'pgwarden_check_value']) assert.ok(families.includes(family), family);
    assert.match(text, /^pgwarden_check_ratio\{server="db1",check="cache_hit_ratio",item="postgres"\} 0\.9$/m, 'percent as a ratio');
    assert.doesNotMatch(text, /unit="/);
  });

  it('zabbix: the keys sent are exactly the keys Zabbix creates from the LLD rows and the prototypes', () => {
    const out = parseZabbix(renderResults(sampleRun(), 'zabbix'));
    const created = new Set<string>();
    const missing: string[] = [];
    for (const [rule, prototype] of [['pgwarden.discovery.status', 'pgwarden.status[{#CHECK},{#ITEM}]'], ['pgwarden.discovery.value', 'pgwarden.value[{#CHECK},{#ITEM}]']] as const) {
      for (const row of out.discovery['-']![rule]!) {
        const key = zabbixPrototypeKey(prototype, row);
        if (key === null) missing.push(`${prototype} for ${JSON.stringify(row)}`);
        else created.add(key);
      }
    }
    assert.deepEqual(missing, [], 'no LLD row that Zabbix cannot turn into an item');
    const sent = out.values.map((v) => v.key);
    assert.deepEqual(sent.filter((k) => !created.has(k)), [], 'every value goes to an item Zabbix created');
    const pending = [...created].filter((k) => !sent.includes(k));
    assert.deepEqual(pending, ['pgwarden.value[cache_hit_ratio,new_db]', 'pgwarden.value[transaction_rate,]', 'pgwarden.value[backup_age,]'],
      'every created item gets a value, but those whose value is not known yet');
    assert.ok(sent.includes('pgwarden.status[alive,]'), 'a server-wide check is an empty parameter, not ""');
    assert.ok(sent.includes('pgwarden.value[connections_by_state,idle in transaction]'));
    assert.ok(!sent.some((k) => k.startsWith('pgwarden.value[inactive_slots')), 'no value item for a check that reports only a status');
    assert.ok(!sent.some((k) => k.startsWith('pgwarden.value[archiver')), 'nor for a skipped one');
    assert.ok(!sent.includes('pgwarden.value[transaction_rate,]'), 'no value sent while it is unknown');
    assert.ok(!out.discovery['-']!['pgwarden.discovery.status']!.some((r) => r['{#ITEM}'] === 'ends,with\\'), 'an item Zabbix cannot hold is left out');
    assert.equal(out.values.find((v) => v.key === 'pgwarden.status[password_expiry,]')!.value, '1', 'its check still carries the level');
    assert.deepEqual(out.plain['-'], { 'pgwarden.state': '2', 'pgwarden.error': '' });
  });

  it('zabbix: key parameters follow Zabbix\'s quoting rule case by case', () => {
    const cases: [string, string | null][] = [
      ['', ''], ['idle in transaction', 'idle in transaction'], [' x', '" x"'], ['[a', '"[a"'], ['a[b', 'a[b'], ['a,b', '"a,b"'],
      ['a]', '"a]"'], ['"q', '"\\"q"'], ['a"b', 'a"b'], ['x\\', 'x\\'], ['a,\\', null], ['a\\b,c', '"a\\b,c"'],
    ];
    for (const [value, expected] of cases) {
      assert.equal(keyParam(value), expected, JSON.stringify(value));
      assert.equal(itemKey('k', 'c', value), zabbixPrototypeKey('k[{#C},{#I}]', { '{#C}': 'c', '{#I}': value }), JSON.stringify(value));
      if (expected !== null) assert.deepEqual(keyParams(`k[c,${expected}]`).params, ['c', value], `parses back: ${expected}`);
    }
    assert.equal(itemKey('k', 'c', 'line\nbreak'), null, 'a value zabbix_sender cannot carry');
  });

  it('check_mk: metrics carry lower levels for checks where low is bad', () => {
    const services = parseCheckmk(renderResults(sampleRun(), 'checkmk'));
    const line = renderResults(sampleRun(), 'checkmk').split('\n');
    assert.ok(line.some((l) => l.startsWith('0 pgwarden_alive alive=1;;0:;0;1 ')), line.find((l) => l.includes('alive')));
    assert.ok(line.some((l) => / cache_hit_ratio_postgres=90;90:;80:;0;100\|/.test(l)));
    assert.ok(line.some((l) => / uptime=600;600: /.test(l)));
    assert.ok(line.some((l) => / connections=80;80;90;0;100 /.test(l)));
    assert.equal(services.find((s) => s.service === 'pgwarden_ssl')!.state, 2);
    const levels = (service: string, metric: string) => services.find((s) => s.service === service)!.levels[metric]!;
    assert.deepEqual(levels('pgwarden_cache_hit_ratio', 'cache_hit_ratio_postgres'), { value: 90, upper: [null, null], lower: [90, 80] });
    assert.deepEqual(levels('pgwarden_alive', 'alive'), { value: 1, upper: [null, null], lower: [null, 0] });
    assert.deepEqual(levels('pgwarden_connections', 'connections'), { value: 80, upper: [80, 90], lower: [null, null] });
  });

  it('every error answers in its consumer\'s shape', () => {
    const message = 'config: bad; value | "quoted"\nsecond line';
    const nagios = renderError(message, undefined);
    assert.equal(parseNagios(nagios, 3).state, 'UNKNOWN');
    assert.equal(nagiosStatusText(nagios), nagios.trimEnd(), 'nothing for Nagios to rewrite');
    assert.equal(renderError(message, 'nagios'), nagios);
    const checkmk = parseCheckmk(renderError(message, 'checkmk'));
    assert.deepEqual(checkmk.map((s) => [s.state, s.service]), [[3, 'pgwarden']]);
    const zabbix = renderError(message, 'zabbix').trimEnd().split('\n').map(senderFields);
    assert.deepEqual(zabbix.map((f) => f.slice(0, 2)), [['-', 'pgwarden.state'], ['-', 'pgwarden.error']]);
    assert.equal(zabbix[0]![2], '3');
    const prometheus = renderError(message, 'prometheus');
    assert.deepEqual(promtool(prometheus), { code: 0, problems: '' });
    assert.match(prometheus, /^pgwarden_up 0$/m);
    const json = JSON.parse(renderError(message, 'json')) as { level: string; error: string; servers: unknown[] };
    assert.deepEqual([json.level, json.error, json.servers], ['unknown', message, []]);
  });
});
