// `pgwarden monitor install|uninstall|list` and `pgwarden check` through the real command,
// on PostgreSQL 18: each output format parsed by its consumer's rules, exit codes, bad input,
// several servers from the config, and an uninstall that leaves nothing behind.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHECKS } from '../../src/monitor/index.ts';
import { pgEnv, runCli } from '../harness/cli.ts';
import { freePort, startCluster, type Cluster } from '../harness/postgres.ts';
import { monitoringPlugin, promtool, zabbixPrototypeKey } from './consumers.ts';
import { parseCheckmk, parseNagios, parsePrometheus, parseZabbix } from './formats.ts';

const LOGIN = 'monitoring';
const PASSWORD = 'mon-pw';
// A role name with every character the formats must escape: quote, equals, double quote, pipe, space, backslash.
const ODD_ROLE = `o'neil = "ops" | x\\y`;

async function footprint(cluster: Cluster): Promise<string[]> {
  const { rows } = await cluster.query<{ item: string }>(`
    SELECT 'schema ' || nspname AS item FROM pg_namespace WHERE nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%'
    UNION ALL SELECT 'role ' || rolname FROM pg_roles
    UNION ALL SELECT 'acl ' || c.oid::regclass::text || ' ' || COALESCE(c.relacl::text, 'default') FROM pg_class c
      WHERE c.oid IN ('pg_catalog.pg_authid'::regclass, 'pg_catalog.pg_hba_file_rules'::regclass)
    UNION ALL SELECT 'acl pg_hba_file_rules() ' || COALESCE(p.proacl::text, 'default') FROM pg_proc p WHERE p.oid = 'pg_catalog.pg_hba_file_rules()'::regprocedure
    ORDER BY 1`);
  return rows.map((r) => r.item);
}

describe('pgwarden monitor and pgwarden check (pg18)', () => {
  let cluster: Cluster;
  let admin: NodeJS.ProcessEnv;
  let login: NodeJS.ProcessEnv;
  let pristine: string[];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-monitor-cli-'));
  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    admin = pgEnv(cluster);
    await cluster.createRole(LOGIN, PASSWORD);
    await cluster.createRole(ODD_ROLE, 'pw');
    login = pgEnv(cluster, 'postgres', LOGIN, PASSWORD);
    pristine = await footprint(cluster);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('install refuses a missing, superuser or absent login with one clear line', async () => {
    const missing = await runCli(['monitor', 'install'], admin);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--user <login>'/);
    const absent = await runCli(['monitor', 'install', '--user', 'nobody_here'], admin);
    assert.equal(absent.code, 2);
    assert.match(absent.stderr, /^Error: --user "nobody_here": no such role; create it first/);
    assert.match(absent.stderr, /\[PGW_ERR_INVALID_VALUE\]\n$/);
    assert.doesNotMatch(absent.stderr, /\n\s+at /, 'no stack trace');
    const superuser = await runCli(['monitor', 'install', '--user', 'postgres'], admin);
    assert.equal(superuser.code, 2);
    assert.match(superuser.stderr, /is a superuser; the monitoring login must be an unprivileged role/);
    const unprivileged = await runCli(['monitor', 'install', '--user', LOGIN], login);
    assert.equal(unprivileged.code, 4);
    assert.match(unprivileged.stderr, /needs a superuser.*\[PGW_ERR_PRIVILEGE\]/s);
  });

  it('--dry-run prints the SQL and changes nothing', async () => {
    const result = await runCli(['monitor', 'install', '--dry-run', '--user', LOGIN], admin);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^-- database postgres \(PostgreSQL 18\): \d+ statements in one transaction\nBEGIN;\n/);
    assert.match(result.stdout, /CREATE FUNCTION pgwarden_monitor\.check_superusers\(params jsonb DEFAULT '\{\}'::jsonb\)\nRETURNS TABLE .*\nLANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp/);
    assert.match(result.stdout, /GRANT pgwarden_monitor TO "monitoring";\nCOMMIT;\n$/);
    assert.doesNotMatch(result.stdout, /;;/);
    assert.deepEqual(await footprint(cluster), pristine);
  });

  it('installs idempotently', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await runCli(['monitor', 'install', '--user', LOGIN], admin);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `postgres: ${CHECKS.length} checks installed in schema pgwarden_monitor; ${LOGIN} may run them\n`);
    }
  });

  it('nagios: one line, perfdata by the plugin grammar, exit code = state', async () => {
    const result = await runCli(['check'], login);
    const parsed = parseNagios(result.stdout, result.code);
    assert.equal(parsed.state, 'CRITICAL', 'ssl is off on the test server');
    assert.match(parsed.text, /ssl CRITICAL: ssl is off/);
    assert.ok(parsed.perfdata.some((p) => p.label === 'alive' && p.value === '1'));
    assert.ok(parsed.perfdata.some((p) => p.label === 'connections' && p.uom === '%' && p.warn === '@80:' && p.crit === '@90:'));
    assert.ok(parsed.perfdata.some((p) => p.label === 'cache_hit_ratio::postgres' && p.warn === '@~:90'), 'below-thresholds as Nagios ranges');
    assert.equal(result.stderr, '');
    // Monitoring::Plugin reads every item, and its ranges give pgwarden's state for each.
    const json = JSON.parse((await runCli(['check', '--format', 'json'], login)).stdout) as { servers: { checks: { name: string; error: string | null; rows: { item: string; value: number | null; level: string }[] }[] }[] };
    const plugin = monitoringPlugin(result.stdout.trimEnd().split(' | ')[1]!);
    assert.equal(plugin.length, parsed.perfdata.length);
    const levels = new Map(json.servers[0]!.checks.flatMap((c) => c.rows.map((r) => [c.name + (r.item ? `::${r.item}` : ''), r.level] as const)));
    for (const item of plugin) {
      const level = levels.get(item.label);
      if (level === undefined) continue; // a label with a character Nagios labels cannot hold
      assert.equal(['ok', 'warning', 'critical'][item.status], level, `${item.label}: ${item.warning} / ${item.critical}`);
    }
  });

  it('check_mk: one local check per check', async () => {
    const result = await runCli(['check', '--format', 'checkmk'], login);
    assert.equal(result.code, 0);
    const services = parseCheckmk(result.stdout);
    assert.deepEqual(services.map((s) => s.service), CHECKS.map((c) => `pgwarden_${c.name}`));
    assert.equal(services.find((s) => s.service === 'pgwarden_alive')!.state, 0);
    assert.equal(services.find((s) => s.service === 'pgwarden_ssl')!.state, 2);
    assert.equal(services.find((s) => s.service === 'pgwarden_archiver')!.state, 0);
    assert.match(services.find((s) => s.service === 'pgwarden_archiver')!.text, /^skipped: archive_mode is off/);
    assert.equal(services.find((s) => s.service === 'pgwarden_alive')!.metrics.alive, 1);
  });

  it('zabbix: sender lines with discovery first, keys and values by the Zabbix rules', async () => {
    const result = await runCli(['check', '--format', 'zabbix'], login);
    assert.equal(result.code, 0);
    const parsed = parseZabbix(result.stdout);
    const discovered = parsed.discovery['-']!['pgwarden.discovery.status']!;
    assert.deepEqual([...new Set(discovered.map((d) => d['{#CHECK}']))], CHECKS.map((c) => c.name));
    assert.ok(parsed.values.some((v) => v.key === 'pgwarden.status[ssl,]' && v.value === '2'));
    assert.equal(parsed.plain['-']!['pgwarden.state'], '2');
    const created = new Set([
      ...discovered.map((row) => zabbixPrototypeKey('pgwarden.status[{#CHECK},{#ITEM}]', row)),
      ...parsed.discovery['-']!['pgwarden.discovery.value']!.map((row) => zabbixPrototypeKey('pgwarden.value[{#CHECK},{#ITEM}]', row)),
    ]);
    assert.deepEqual(parsed.values.filter((v) => !created.has(v.key)).map((v) => v.key), [], 'every key is one Zabbix creates from the prototypes');
  });

  it('prometheus: text exposition accepted by a real parser, one series per check and item', async () => {
    const result = await runCli(['check', '--format', 'prometheus'], login);
    assert.equal(result.code, 0);
    assert.deepEqual(promtool(result.stdout), { code: 0, problems: '' });
    const families = parsePrometheus(result.stdout);
    const family = (name: string) => families.find((f) => f.name === name)!;
    assert.deepEqual(families.map((f) => f.name).filter((n) => !n.startsWith('pgwarden_check_')), ['pgwarden_up', 'pgwarden_status', 'pgwarden_item_status', 'pgwarden_duration_seconds']);
    assert.ok(family('pgwarden_check_ratio').metrics.some((m) => m.labels?.check === 'connections'));
    assert.equal(family('pgwarden_up').metrics[0]!.value, '1');
    assert.equal(family('pgwarden_status').metrics.length, CHECKS.length);
    assert.equal(family('pgwarden_status').metrics.find((m) => m.labels?.check === 'ssl')!.value, '2');
    assert.equal(family('pgwarden_status').metrics.find((m) => m.labels?.check === 'archiver')!.value, '-1');
    assert.ok(family('pgwarden_check_value').metrics.some((m) => m.labels?.check === 'password_expiry'));
  });

  it('json: every server, check and row; the level agrees with the Nagios state', async () => {
    const result = await runCli(['check', '--format', 'json'], login);
    assert.equal(result.code, 0);
    const parsed = JSON.parse(result.stdout) as { level: string; servers: { error: null; checks: { name: string; level: string; rows: unknown[] }[] }[] };
    assert.equal(parsed.level, 'critical');
    assert.equal(parsed.servers[0]!.checks.length, CHECKS.length);
    const only = await runCli(['check', '--format', 'json', '--checks', 'alive,uptime'], login);
    assert.deepEqual((JSON.parse(only.stdout) as typeof parsed).servers[0]!.checks.map((c) => c.name), ['alive', 'uptime']);
  });

  it('bad input answers in the shape of the format asked for, exit 3; an unknown format as Nagios', async () => {
    for (const args of [['--bogus'], ['--format', 'nagio'], ['--checks'], ['--checks', ''], ['--checks', ' , '], ['--timeout-ms', '5'], ['--timeout-ms', 'soon'], ['--checks', 'alive,nosuch'], ['extra']]) {
      const result = await runCli(['check', ...args], login);
      assert.equal(result.code, 3, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.equal(parseNagios(result.stdout, 3).state, 'UNKNOWN', args.join(' '));
      assert.equal(result.stderr, '');
    }
    // A wrong option before the word check too (the top level parses it), in the format asked for.
    const first = await runCli(['--bogus', 'check'], login);
    assert.equal(first.code, 3, first.stdout + first.stderr);
    assert.match(first.stdout, /^PGWARDEN UNKNOWN - unknown option '--bogus'\n$/);
    assert.equal(first.stderr, '');
    assert.deepEqual(parseCheckmk((await runCli(['--bogus', 'check', '--format', 'checkmk'], login)).stdout).map((s) => [s.state, s.service]), [[3, 'pgwarden']]);
    assert.equal((await runCli(['--bogus', 'monitor', 'list'], login)).code, 2, 'other commands keep exit 2');
    // --config without its file (an empty macro in `pgwarden --config $ARG1$ check`) takes the word check:
    // no command is left, answered as check answers, in the format asked for.
    for (const args of [['--config', 'check'], ['--config', 'check', '--db', 'postgres://nobody@127.0.0.1:1/postgres']]) {
      const swallowed = await runCli(args, login);
      assert.equal(swallowed.code, 3, args.join(' ') + swallowed.stdout + swallowed.stderr);
      assert.match(swallowed.stdout, /^PGWARDEN UNKNOWN - --config "check": the word check was taken as the config file and no command follows, so give the file first \(pgwarden --config FILE check\) \[PGW_ERR_INVALID_VALUE\]\n$/);
      assert.equal(swallowed.stderr, '');
    }
    assert.deepEqual(parseCheckmk((await runCli(['--config', 'check', '--format', 'checkmk'], login)).stdout).map((s) => [s.state, s.service]), [[3, 'pgwarden']]);
    assert.equal((await runCli(['--config=check'], login)).code, 2, 'a file named check, said explicitly: the usual usage error');
    assert.equal((await runCli(['--config', 'check', 'monitor', 'list'], login)).code, 2, 'a command follows: the file is check');
    const nosuch = await runCli(['check', '--checks', 'alive,nosuch'], login);
    assert.match(nosuch.stdout, /^PGWARDEN UNKNOWN - --checks: "nosuch" is not a check \(valid: alive, archive_backlog, .*\) \[PGW_ERR_INVALID_VALUE\]\n$/);
    assert.match((await runCli(['check', '--format', 'nagio'], login)).stdout, /^PGWARDEN UNKNOWN - option '--format <format>' argument 'nagio' is invalid\. Allowed choices are nagios, checkmk, zabbix, prometheus, json\.\n$/);
    assert.match((await runCli(['check', '--timeout-ms', '5'], login)).stdout, /--timeout-ms "5" is outside 10-600000 milliseconds/);
    assert.match((await runCli(['check', '--checks', ''], login)).stdout, /--checks "": names no check/);
    const checkmk = await runCli(['check', '--bogus', '--format', 'checkmk'], login);
    assert.equal(checkmk.code, 3);
    assert.deepEqual(parseCheckmk(checkmk.stdout).map((s) => [s.state, s.service]), [[3, 'pgwarden']]);
    assert.match(checkmk.stdout, /unknown option '--bogus'/);
    const zabbix = await runCli(['check', '--format', 'zabbix', '--checks', 'nosuch'], login);
    assert.equal(zabbix.code, 3);
    assert.deepEqual(parseZabbix(zabbix.stdout).plain['-']!['pgwarden.state'], '3');
    const prometheus = await runCli(['check', '--format=prometheus', '--timeout-ms', '1'], login);
    assert.equal(prometheus.code, 3);
    assert.deepEqual(promtool(prometheus.stdout), { code: 0, problems: '' });
    assert.equal(parsePrometheus(prometheus.stdout).find((f) => f.name === 'pgwarden_up')!.metrics[0]!.value, '0');
    const json = await runCli(['check', '--checks', 'nosuch', '--format', 'json'], login);
    assert.equal(json.code, 3);
    assert.match((JSON.parse(json.stdout) as { error: string }).error, /^--checks: "nosuch" is not a check/);
  });

  it('an unreachable server is CRITICAL (alive) for Nagios and pgwarden_up 0 for Prometheus', async () => {
    const url = `postgres://${LOGIN}@127.0.0.1:${await freePort()}/postgres`;
    const nagios = await runCli(['check', '--db', url], { PGPASSWORD: PASSWORD });
    assert.equal(nagios.code, 2);
    assert.match(parseNagios(nagios.stdout, nagios.code).text, /cannot connect: .*ECONNREFUSED/);
    const prometheus = await runCli(['check', '--db', url, '--format', 'prometheus'], { PGPASSWORD: PASSWORD });
    assert.equal(prometheus.code, 3);
    const families = parsePrometheus(prometheus.stdout);
    assert.equal(families.find((f) => f.name === 'pgwarden_up')!.metrics[0]!.value, '0');
  });

  it('a database without the monitor is UNKNOWN, saying what to run', async () => {
    const db = await cluster.createDatabase();
    const result = await runCli(['check'], pgEnv(cluster, db, LOGIN, PASSWORD));
    assert.equal(result.code, 3);
    assert.match(parseNagios(result.stdout, 3).text, /pgwarden monitor is not installed in database/);
  });

  it('several servers from the config, with per-check settings; unknown check names in the config are refused', async () => {
    const second = await cluster.createDatabase();
    assert.equal((await runCli(['monitor', 'install', '--user', LOGIN], pgEnv(cluster, second))).code, 0);
    const config = path.join(dir, 'pgwarden.yaml');
    writeFileSync(config, `servers:
  primary:
    url: postgres://${LOGIN}@127.0.0.1:${cluster.port}/postgres
    password_env: MONITOR_PASSWORD
  reporting:
    url: postgres://${LOGIN}@127.0.0.1:${cluster.port}/${second}
    password_env: MONITOR_PASSWORD
monitor:
  timeout_ms: 3000
  checks:
    uptime: { warning: null }
    ssl: { enabled: false }
    password_expiry: { ignore: ["${LOGIN}", "postgres", '${ODD_ROLE.replace(/'/g, "''")}'] }
`);
    const env = { MONITOR_PASSWORD: PASSWORD, PGWARDEN_CONFIG: config };
    const result = await runCli(['check', '--all-servers', '--format', 'prometheus'], env);
    assert.equal(result.code, 0, result.stderr);
    const status = parsePrometheus(result.stdout).find((f) => f.name === 'pgwarden_status')!;
    assert.deepEqual([...new Set(status.metrics.map((m) => m.labels!.server))], ['primary', 'reporting']);
    assert.ok(status.metrics.every((m) => m.labels!.check !== 'ssl'), 'disabled in the config');
    assert.equal(status.metrics.find((m) => m.labels!.check === 'uptime')!.value, '0', 'threshold removed in the config');
    const items = parsePrometheus(result.stdout).find((f) => f.name === 'pgwarden_item_status')!;
    assert.equal(status.metrics.find((m) => m.labels!.check === 'password_expiry' && m.labels!.server === 'primary')!.value, '0', 'ignored items are left out of the count');
    assert.ok(items.metrics.some((m) => m.labels!.check === 'connections_by_state'));
    const nagios = await runCli(['check', '--server', 'primary', '--server', 'reporting', '--checks', 'alive'], env);
    assert.equal(nagios.code, 0);
    assert.deepEqual(parseNagios(nagios.stdout, 0).perfdata.map((p) => p.label), ['primary/alive', 'reporting/alive']);

    writeFileSync(config, 'monitor:\n  checks:\n    no_such_check: { enabled: false }\n');
    const bad = await runCli(['check', '--format', 'json'], { ...login, PGWARDEN_CONFIG: config });
    assert.equal(bad.code, 3);
    assert.match((JSON.parse(bad.stdout) as { error: string }).error, /^monitor\.checks\.no_such_check: unknown check \(valid: alive, .*\[PGW_ERR_CONFIG\]$/s);
  });

  it('custom checks from pgwarden.yaml: installed as their own SECURITY DEFINER function, read what they declare, tamper-checked', async () => {
    const db = await cluster.createDatabase();
    await cluster.query(`CREATE TABLE public.orders (id int, state text); INSERT INTO public.orders SELECT g, CASE WHEN g % 4 = 0 THEN 'new' ELSE 'done' END FROM generate_series(1, 40) g;
      CREATE TABLE public.payments (id int, state text)`, [], db);
    const config = path.join(dir, 'custom.yaml');
    writeFileSync(config, `monitor:
  custom_checks:
    orders_backlog:
      description: orders waiting to be processed
      warning: 5
      critical: 100
      reads: [public.orders]
      sql: |
        SELECT count(*) AS value, count(*) || ' new orders' AS detail FROM public.orders WHERE state = 'new';
    order_states:
      description: payments per state, without a grant
      sql: SELECT state AS item, count(*) AS value FROM public.payments GROUP BY state
`);
    const adminEnv = { ...pgEnv(cluster, db), PGWARDEN_CONFIG: config };
    const loginEnv = { ...pgEnv(cluster, db, LOGIN, PASSWORD), PGWARDEN_CONFIG: config };
    const installed = await runCli(['monitor', 'install', '--user', LOGIN], adminEnv);
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, new RegExp(`${CHECKS.length + 2} checks installed`));
    const { rows } = await cluster.query<{ secdef: boolean; config: string[]; acl: string[] }>(
      "SELECT prosecdef AS secdef, proconfig AS config, proacl::text[] AS acl FROM pg_proc WHERE oid = 'pgwarden_monitor.check_orders_backlog(jsonb)'::regprocedure", [], db);
    assert.deepEqual(rows[0], { secdef: true, config: ['search_path=pg_catalog, pg_temp'], acl: ['pgwarden_monitor_owner=X/pgwarden_monitor_owner', 'pgwarden_monitor=X/pgwarden_monitor_owner'] });
    const result = await runCli(['check', '--format', 'json', '--checks', 'orders_backlog,order_states,monitor_integrity'], loginEnv);
    assert.equal(result.code, 0, result.stdout);
    const checks = (JSON.parse(result.stdout) as { servers: { checks: { name: string; level: string; error: string | null; rows: { item: string; value: number; detail: string }[]; remediation: string }[] }[] }).servers[0]!.checks;
    const [backlog, states, integrity] = checks;
    assert.deepEqual([backlog!.level, backlog!.rows[0]!.value, backlog!.rows[0]!.detail], ['warning', 10, '10 new orders']);
    assert.equal(backlog!.remediation, 'pgwarden.yaml: monitor.custom_checks.orders_backlog');
    assert.equal(states!.level, 'unknown', 'the owner may read only what reads: lists');
    assert.match(states!.error!, /permission denied/);
    assert.equal(integrity!.level, 'ok', JSON.stringify(integrity));
    // The login cannot read the table itself.
    const direct = await runCli(['check', '--format', 'json', '--checks', 'monitor_login_privileges'], loginEnv);
    assert.equal((JSON.parse(direct.stdout) as { level: string }).level, 'ok');
    await cluster.query(`CREATE OR REPLACE FUNCTION pgwarden_monitor.check_orders_backlog(params jsonb DEFAULT '{}'::jsonb)
      RETURNS TABLE (item text, value double precision, detail text, skipped text, metadata jsonb)
      LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ SELECT ''::text, 0::float8, 'fine'::text, NULL::text, NULL::jsonb $$`, [], db);
    const tampered = await runCli(['check', '--checks', 'monitor_integrity'], loginEnv);
    assert.equal(tampered.code, 2);
    assert.match(tampered.stdout, /check_orders_backlog\(jsonb\): definition changed/);
    writeFileSync(config, 'monitor:\n  custom_checks:\n    ssl: { description: mine, sql: SELECT 1 AS value }\n');
    const clash = await runCli(['check', '--format', 'json'], loginEnv);
    assert.equal(clash.code, 3);
    assert.match((JSON.parse(clash.stdout) as { error: string }).error, /monitor\.custom_checks\.ssl: "ssl" is a built-in check/);
    writeFileSync(config, '');
    assert.equal((await runCli(['monitor', 'uninstall'], adminEnv)).code, 0);
    const grants = await cluster.query<{ acl: string | null }>("SELECT relacl::text AS acl FROM pg_class WHERE oid = 'public.orders'::regclass", [], db);
    assert.doesNotMatch(grants.rows[0]!.acl ?? '', /pgwarden_monitor_owner/, 'uninstall revokes what reads: granted');
  });

  it('monitor list shows every check with its defaults', async () => {
    const result = await runCli(['monitor', 'list', '--format', 'json'], {});
    assert.equal(result.code, 0);
    const rows = JSON.parse(result.stdout) as { name: string; warning: number | null }[];
    assert.deepEqual(rows.map((r) => r.name), CHECKS.map((c) => c.name));
    assert.equal(rows.find((r) => r.name === 'connections')!.warning, 80);
  });

  it('install --all-databases covers template1, so new databases get it; uninstall --all-databases removes the schema, the catalog grants and the roles', async () => {
    const everywhere = await runCli(['monitor', 'install', '--all-databases', '--user', LOGIN], admin);
    assert.equal(everywhere.code, 0, everywhere.stderr);
    assert.match(everywhere.stdout, /^template1: \d+ checks installed/m);
    const created = await cluster.createDatabase();
    const fresh = await runCli(['check', '--checks', 'alive,public_schema_create'], pgEnv(cluster, created, LOGIN, PASSWORD));
    assert.equal(fresh.code, 0, fresh.stdout);
    const result = await runCli(['monitor', 'uninstall', '--all-databases'], admin);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^postgres: removed$/m);
    assert.match(result.stdout, /^role pgwarden_monitor: dropped$/m);
    assert.match(result.stdout, /^role pgwarden_monitor_owner: dropped$/m);
    assert.deepEqual(await footprint(cluster), pristine);
  });
});
