// Benchmark: what pgwarden's login guard costs per new connection on PostgreSQL 18.
//
// One cluster, one database, three variants measured in the same run, interleaved:
//   none  - no login event trigger enabled (the server's own connection cost);
//   empty - an empty PL/pgSQL login event trigger (the floor for any login trigger);
//   guard - pgwarden's compiled guard with 20 rules, 6 of which the benchmark role evaluates,
//     recording every allowed login with an INSERT in the login check (the safe path: nothing
//     in it can fail the login's commit);
//   guard_norecord - the same without recording allowed logins (guard settings
//     record_allowed = false), to show what recording costs;
//   guard_nolift - the guard recording allowed logins, with the lock lift of migration 6
//     (trigger connection_attempts_lift_locks: every recorded login lifts the lock_role locks
//     whose time has come) disabled, to show what that trigger costs a login while nothing is due;
//   guard_0_1 - the previous release (0.1.0, test/fixtures/release-0.1.0) with the same rules in
//     a second database: it recorded allowed logins with NOTIFY, which any login could make fail
//     (issue 13, item 1). Measured beside the others to show what the safety fix costs.
// Short rounds with the variant order rotated every round spread the machine's noise over
// all variants evenly; medians over rounds are what the ratios use.
// This is a measurement, not a test: it always exits 0 once it has measured.
//
// Environment: BENCH_ROUNDS (default 9), BENCH_SECONDS per run (default 2). BENCH_RESPONDER=1
// installs the responder too (install --responder) with 20 open locks, none due: the lift's
// function then runs at every recorded login (without it the trigger's WHEN clause skips it).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startCluster, type Cluster } from '../test/harness/postgres.ts';
import { installResponder, installSchema, newRecorderPassword } from '../src/sensors/index.ts';
import { installSchema as installRelease } from '../test/fixtures/release-0.1.0/sensors/install.ts';

const VARIANTS = ['none', 'empty', 'guard', 'guard_norecord', 'guard_nolift', 'guard_0_1'] as const;
type Variant = (typeof VARIANTS)[number];

const DATABASE = 'bench';
/** The previous release's guard, with the same rules. */
const OLD_DATABASE = 'bench_old';
const BENCH_ROLE = 'bench_app';
// What the benchmark's connections call themselves: no deny rule's pattern matches it.
const BENCH_APPLICATION = 'orders-api';
// What a refused GUI tool calls itself, for the closing sanity check.
const DENIED_APPLICATION = 'DBeaver 24.1.0 - Main';

const TARGET_VS_EMPTY = 0.95;
const TARGET_VS_NONE = 0.85;

// Production defaults rather than the test harness's fsync=off: the guard's allow path may
// write WAL (pg_notify gives the login transaction an xid, hence a commit record), and a
// server that never flushes would hide that cost.
const SERVER_SETTINGS: Record<string, string | number> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
};

interface GuardRule {
  action: 'allow' | 'deny';
  roles: string[];
  applications: string[] | null;
  clients?: string[] | null;
  databases?: string[] | null;
  message: string;
  priority?: number;
}

const GUI_TOOLS = ['%dbeaver%', '%pgadmin%', '%squirrel%', '%datagrip%', '%heidisql%', '%navicat%', '%tableplus%', '%toad%'];

/** 20 rules shaped like a real deployment: GUI tools kept away from application roles. */
function benchRules(): GuardRule[] {
  const rules: GuardRule[] = [];
  for (let n = 1; n <= 16; n++) {
    // Two or three tools per rule, rotating through the list, so patterns differ per role.
    const applications = [0, 1, 2].slice(0, 2 + (n % 2)).map((k) => GUI_TOOLS[(n + k) % GUI_TOOLS.length]!);
    const roles = [`u${n}`];
    // The benchmark role shares two rules, so its branch really evaluates patterns.
    if (n === 15 || n === 16) roles.push(BENCH_ROLE);
    rules.push({
      action: 'deny',
      roles,
      applications,
      clients: n === 5 || n === 11 ? ['10.20.0.0/16', '192.168.0.0/16'] : null,
      message: `u${n} is an application role: use the application, not a GUI tool`,
    });
  }
  rules.push({ action: 'deny', roles: ['*'], applications: ['%dbeaver%'], clients: ['10.0.0.0/8'], message: 'no DBeaver from the office network' });
  rules.push({ action: 'deny', roles: ['*'], applications: null, databases: ['secret'], message: 'the secret database is closed' });
  rules.push({ action: 'deny', roles: ['*'], applications: ['%excel%', '%access%'], message: 'no spreadsheets on the database' });
  // Last in priority order, so an allowed login walks every rule of its branch first.
  rules.push({ action: 'allow', roles: [BENCH_ROLE, 'u1'], applications: ['orders-%', 'billing-%'], message: 'application traffic', priority: 200 });
  return rules;
}

async function connectAdmin(cluster: Cluster, database = DATABASE): Promise<pg.Client> {
  // Over the socket (trust), as the superuser, which the guard never evaluates.
  const client = new pg.Client({ host: cluster.socketDir, port: cluster.port, user: cluster.superuser, database });
  await client.connect();
  return client;
}

async function insertRules(admin: pg.Client, rules: GuardRule[]): Promise<void> {
  // One statement, so the guard is recompiled once rather than twenty times.
  const values: unknown[] = [];
  const rows = rules.map((rule) => {
    const base = values.length;
    values.push(rule.action, rule.roles, rule.applications, rule.clients ?? null, rule.databases ?? null, rule.message, rule.priority ?? 100);
    return `($${base + 1}, $${base + 2}::text[], $${base + 3}::text[], $${base + 4}::cidr[], $${base + 5}::text[], $${base + 6}, $${base + 7})`;
  });
  await admin.query(
    `INSERT INTO pgwarden.guard_rules (action, roles, applications, clients, databases, message, priority) VALUES ${rows.join(', ')}`,
    values);
}

interface Admins { current: pg.Client; old: pg.Client }

/** The benchmark databases with pgwarden (this one and 0.1.0) installed, the rules loaded and the empty trigger created (disabled). */
async function prepare(cluster: Cluster): Promise<Admins> {
  await cluster.createDatabase(DATABASE);
  await cluster.createRole(BENCH_ROLE, 'bench-password');
  const admin = await connectAdmin(cluster);
  const install = await installSchema(admin, newRecorderPassword(), {});
  if (!install.loginTrigger) throw new Error('installSchema did not create the pgwarden_guard_login event trigger');
  await insertRules(admin, benchRules());
  if (process.env.BENCH_RESPONDER === '1') {
    await installResponder(admin);
    // open locks, none due, as a response leaves them (roles of their own, locked for a day)
    for (let i = 0; i < 20; i++) {
      await admin.query(`CREATE ROLE bench_locked_${i} LOGIN`);
      await admin.query(`GRANT bench_locked_${i} TO pgwarden_responder WITH ADMIN TRUE, INHERIT FALSE, SET FALSE`);
      const { rows: [r] } = await admin.query<{ outcome: string }>(
        `SELECT (pgwarden_responder.lock_role('bench-${i}', 'bench_locked_${i}', '1 day', false, '{}')).outcome`);
      if (r!.outcome !== 'done') throw new Error(`lock ${i}: ${r!.outcome}`);
    }
    console.log('responder installed, 20 open locks (none due)');
  }
  await admin.query(`CREATE FUNCTION public.bench_empty() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$`);
  await admin.query(`CREATE EVENT TRIGGER bench_empty_login ON login EXECUTE FUNCTION public.bench_empty()`);
  await admin.query(`ALTER EVENT TRIGGER bench_empty_login DISABLE`);
  await admin.query(`ALTER EVENT TRIGGER pgwarden_guard_login DISABLE`);
  const rules = benchRules();
  const evaluated = rules.filter((r) => r.roles.includes(BENCH_ROLE) || r.roles.includes('*')).length;
  console.log(`pgwarden installed in "${install.database}" (dblink: ${install.dblink}); ${rules.length} rules loaded,`
    + ` ${evaluated} of them apply to ${BENCH_ROLE} (the last one, an allow, matches)`);
  await cluster.createDatabase(OLD_DATABASE);
  const old = await connectAdmin(cluster, OLD_DATABASE);
  await installRelease(old, newRecorderPassword(), {});
  await insertRules(old, benchRules());
  await old.query('ALTER EVENT TRIGGER pgwarden_guard_login DISABLE');
  console.log(`pgwarden 0.1.0 installed in "${OLD_DATABASE}" with the same rules`);
  return { current: admin, old };
}

/** Enables exactly the login trigger of the variant, and checks that no other one is enabled. */
async function selectVariant(admins: Admins, variant: Variant): Promise<void> {
  const admin = admins.current;
  // Disable first, so two login triggers are never enabled at once.
  if (variant !== 'empty') await admin.query('ALTER EVENT TRIGGER bench_empty_login DISABLE');
  const guard = variant === 'guard' || variant === 'guard_norecord' || variant === 'guard_nolift';
  if (!guard) await admin.query('ALTER EVENT TRIGGER pgwarden_guard_login DISABLE');
  await admins.old.query(`ALTER EVENT TRIGGER pgwarden_guard_login ${variant === 'guard_0_1' ? 'ENABLE' : 'DISABLE'}`);
  if (variant === 'empty') await admin.query('ALTER EVENT TRIGGER bench_empty_login ENABLE');
  if (guard) {
    // Changing the setting recompiles the guard with or without recording allowed logins.
    await admin.query('UPDATE pgwarden.guard_settings SET record_allowed = $1 WHERE record_allowed <> $1', [variant !== 'guard_norecord']);
    await admin.query(`ALTER TABLE pgwarden.connection_attempts ${variant === 'guard_nolift' ? 'DISABLE' : 'ENABLE'} TRIGGER connection_attempts_lift_locks`);
    await admin.query('ALTER EVENT TRIGGER pgwarden_guard_login ENABLE');
  }
  const { rows } = await admin.query<{ evtname: string }>(
    `SELECT evtname FROM pg_catalog.pg_event_trigger WHERE evtevent = 'login' AND evtenabled <> 'D' ORDER BY evtname`);
  const enabled = rows.map((r) => r.evtname).join(',');
  const expected = { none: '', empty: 'bench_empty_login', guard: 'pgwarden_guard_login', guard_norecord: 'pgwarden_guard_login', guard_nolift: 'pgwarden_guard_login', guard_0_1: '' }[variant];
  if (enabled !== expected) throw new Error(`variant ${variant}: enabled login triggers are [${enabled}], expected [${expected}]`);
}

/** The database a variant's connections go to. */
function databaseOf(variant: Variant): string {
  return variant === 'guard_0_1' ? OLD_DATABASE : DATABASE;
}

interface Transport {
  name: 'unix' | 'tcp';
  /** What pgbench gets as -h. */
  host: string;
  /** Only for scram over TCP; reaches pgbench through its environment, never argv. */
  password?: string;
}

interface RunResult {
  connections: number;
  /** Connections per second, reconnection time included (pgbench's tps with -C). */
  rate: number;
  /** pgbench's own "average connection time": connect + authenticate + login trigger. */
  connectMs: number;
}

function findPgbench(): string | null {
  for (const candidate of ['/usr/bin/pgbench', '/usr/lib/postgresql/15/bin/pgbench']) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** The caller's environment minus libpq variables, so only what we set reaches pgbench. */
function pgbenchEnv(transport: Transport): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) env[key] = value;
  }
  env.PGAPPNAME = BENCH_APPLICATION;
  if (transport.password !== undefined) env.PGPASSWORD = transport.password;
  return env;
}

function parsePgbench(output: string): RunResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`unexpected pgbench output (no ${pattern.source}):\n${output}`);
    return Number(match[1]);
  };
  return {
    connections: number(/number of transactions actually processed: (\d+)/),
    rate: number(/tps = ([\d.]+) \(including reconnection times\)/),
    connectMs: number(/average connection time = ([\d.]+) ms/),
  };
}

interface Load {
  pgbench: string;
  script: string;
  port: number;
}

/** One pgbench run, one client, a new connection for every `SELECT 1`. */
function runPgbench(load: Load, transport: Transport, limit: ['-T' | '-t', number], database = DATABASE): Promise<RunResult> {
  const args = ['-n', '-C', '-c', '1', '-j', '1', limit[0], String(limit[1]), '-f', load.script,
    '-h', transport.host, '-p', String(load.port), '-U', BENCH_ROLE, database];
  return new Promise((resolve, reject) => {
    const child = spawn(load.pgbench, args, { env: pgbenchEnv(transport), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pgbench exited with ${code}:\n${output}`));
      try {
        resolve(parsePgbench(output));
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

type Samples = Record<Variant, RunResult[]>;

/** Round r runs the variants rotated by r, so no variant always runs first or right after another. */
function orderForRound(round: number): Variant[] {
  return VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
}

async function measurePass(admins: Admins, load: Load, transport: Transport, rounds: number, seconds: number): Promise<Samples> {
  const samples: Samples = { none: [], empty: [], guard: [], guard_norecord: [], guard_nolift: [], guard_0_1: [] };
  for (let round = 0; round < rounds; round++) {
    const line: string[] = [];
    for (const variant of orderForRound(round)) {
      await selectVariant(admins, variant);
      // A few unmeasured connections: the first one after `none` is selected clears the
      // database's has-login-triggers flag, and the OS caches settle after a switch.
      await runPgbench(load, transport, ['-t', 10], databaseOf(variant));
      const result = await runPgbench(load, transport, ['-T', seconds], databaseOf(variant));
      samples[variant].push(result);
      line.push(`${variant} ${result.rate.toFixed(0)}/s`);
    }
    process.stderr.write(`[${transport.name}] round ${round + 1}/${rounds}: ${line.join(', ')}\n`);
  }
  return samples;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Summary {
  median: number;
  min: number;
  max: number;
  /** Wall time per connection over all rounds (total time / total connections). */
  meanMs: number;
  connectMs: number;
}

function summarize(results: RunResult[]): Summary {
  const rates = results.map((r) => r.rate);
  const connections = results.reduce((sum, r) => sum + r.connections, 0);
  const seconds = results.reduce((sum, r) => sum + r.connections / r.rate, 0);
  return {
    median: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    meanMs: (1000 * seconds) / connections,
    connectMs: results.reduce((sum, r) => sum + r.connectMs, 0) / results.length,
  };
}

/** Median of the per-round ratios: each pair ran seconds apart, so it cancels slow drifts. */
function pairedRatio(samples: Samples, a: Variant, b: Variant): number {
  return median(samples[a].map((r, i) => r.rate / samples[b][i]!.rate));
}

function verdict(ratio: number, target: number): string {
  return ratio >= target ? 'PASS' : 'MISS';
}

function report(title: string, samples: Samples): void {
  console.log(`\n== ${title} ==`);
  console.log('variant         conn/s median      min      max   ms/conn  connect ms');
  const summaries = {} as Record<Variant, Summary>;
  for (const variant of VARIANTS) {
    const s = (summaries[variant] = summarize(samples[variant]));
    console.log(`${variant.padEnd(14)} ${s.median.toFixed(1).padStart(13)} ${s.min.toFixed(1).padStart(8)} ${s.max.toFixed(1).padStart(8)}`
      + ` ${s.meanMs.toFixed(3).padStart(9)} ${s.connectMs.toFixed(3).padStart(11)}`);
  }
  const vsEmpty = summaries.guard.median / summaries.empty.median;
  const vsNone = summaries.guard.median / summaries.none.median;
  console.log(`guard / empty = ${vsEmpty.toFixed(3)}  (target >= ${TARGET_VS_EMPTY})  ${verdict(vsEmpty, TARGET_VS_EMPTY)}`
    + `   [median of per-round ratios ${pairedRatio(samples, 'guard', 'empty').toFixed(3)}]`);
  console.log(`guard / none  = ${vsNone.toFixed(3)}  (target >= ${TARGET_VS_NONE})  ${verdict(vsNone, TARGET_VS_NONE)}`
    + `   [median of per-round ratios ${pairedRatio(samples, 'guard', 'none').toFixed(3)}]`);
  const emptyVsNone = summaries.empty.median / summaries.none.median;
  console.log(`empty / none  = ${emptyVsNone.toFixed(3)}  (cost of any login trigger, for reference)`);
  if (emptyVsNone < TARGET_VS_NONE) {
    console.log(`note: even the empty trigger is below ${TARGET_VS_NONE}x none here, so guard >= ${TARGET_VS_NONE}x none cannot be met on this machine`);
  }
  const extraMs = (summaries.guard.meanMs - summaries.empty.meanMs).toFixed(3);
  console.log(`guard costs ${extraMs} ms per connection more than the empty trigger`);
  const quiet = summaries.guard_norecord.median;
  console.log(`without recording allowed logins: guard_norecord / empty = ${(quiet / summaries.empty.median).toFixed(3)},`
    + ` / none = ${(quiet / summaries.none.median).toFixed(3)}; recording (INSERT, the safe path) costs`
    + ` ${(summaries.guard.meanMs - summaries.guard_norecord.meanMs).toFixed(3)} ms per connection`);
  console.log(`the lock lift at login (migration 6, nothing due): guard / guard_nolift = ${(summaries.guard.median / summaries.guard_nolift.median).toFixed(3)}`
    + `   [median of per-round ratios ${pairedRatio(samples, 'guard', 'guard_nolift').toFixed(3)}], it costs`
    + ` ${(summaries.guard.meanMs - summaries.guard_nolift.meanMs).toFixed(3)} ms per connection`);
  const old = summaries.guard_0_1.median;
  console.log(`previous release (NOTIFY recording): guard_0_1 / empty = ${(old / summaries.empty.median).toFixed(3)};`
    + ` guard / guard_0_1 = ${(summaries.guard.median / old).toFixed(3)}`
    + ` (the safe recording path costs ${(summaries.guard.meanMs - summaries.guard_0_1.meanMs).toFixed(3)} ms per connection more)`);
}

/** Proves the guard was live: it decides allow for the benchmark's logins, and refuses a GUI tool. */
async function sanityCheck(cluster: Cluster, admins: Admins): Promise<void> {
  console.log('\n== sanity check ==');
  const admin = admins.current;
  await selectVariant(admins, 'guard');
  // guard_decide returns the signed rule id: 0 no rule, +id allowed by rule id, -id denied.
  const { rows } = await admin.query<{ signed: string }>(
    'SELECT pgwarden.guard_decide($1, $2, NULL, $3) AS signed', [BENCH_ROLE, BENCH_APPLICATION, DATABASE]);
  const signed = Number(rows[0]?.signed ?? 0);
  console.log(`guard_decide(${BENCH_ROLE}, '${BENCH_APPLICATION}', local, ${DATABASE}) = ${signed < 0 ? 'deny' : 'allow'} by rule ${signed === 0 ? '(none)' : Math.abs(signed)}`);
  const client = new pg.Client({
    host: cluster.socketDir, port: cluster.port, user: BENCH_ROLE, database: DATABASE, application_name: DENIED_APPLICATION,
  });
  try {
    await client.connect();
    await client.end();
    console.log(`MISS: ${BENCH_ROLE} connected with application_name '${DENIED_APPLICATION}': the guard was NOT live`);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const refused = code === '28000';
    console.log(`${refused ? 'OK' : 'MISS'}: ${BENCH_ROLE} with application_name '${DENIED_APPLICATION}' -> ${code ?? '?'} ${message}`);
  }
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

async function main(): Promise<void> {
  const pgbench = findPgbench();
  if (!pgbench) {
    console.error('pgbench not found: install it with `sudo apt-get install postgresql-client-15`');
    process.exit(1);
  }
  const rounds = positiveInt('BENCH_ROUNDS', 9);
  const seconds = positiveInt('BENCH_SECONDS', 2);
  // TCP adds scram (thousands of PBKDF2 iterations) to every connection, which dilutes the
  // trigger's share: a shorter, secondary pass.
  const tcpRounds = Math.max(3, Math.ceil(rounds / 2));

  const cluster = await startCluster({ flavor: 'pg18', settings: SERVER_SETTINGS });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-'));
  let admins: Admins | undefined;
  try {
    const version = (await cluster.query<{ v: string }>('SELECT pg_catalog.version() AS v')).rows[0]!.v;
    console.log(`server: ${version}`);
    console.log(`settings: ${Object.entries(SERVER_SETTINGS).map(([k, v]) => `${k}=${v}`).join(' ')} (other settings from the test harness)`);
    console.log(`client: ${pgbench} -n -C -c 1 -j 1, one new connection per SELECT 1, role ${BENCH_ROLE}, application_name '${BENCH_APPLICATION}'`);
    console.log(`machine: ${os.cpus().length} CPUs; unix pass ${rounds} rounds x ${seconds} s per variant, tcp pass ${tcpRounds} rounds x ${seconds} s`);
    admins = await prepare(cluster);

    const script = path.join(scratch, 'select1.sql');
    writeFileSync(script, 'SELECT 1;\n');
    const load: Load = { pgbench, script, port: cluster.port };
    const unix = await measurePass(admins, load, { name: 'unix', host: cluster.socketDir }, rounds, seconds);
    const tcp = await measurePass(admins, load, { name: 'tcp', host: '127.0.0.1', password: 'bench-password' }, tcpRounds, seconds);

    report(`Unix socket, trust auth (primary): ${rounds} rounds x ${seconds} s`, unix);
    report(`TCP 127.0.0.1, scram-sha-256 (secondary): ${tcpRounds} rounds x ${seconds} s`, tcp);
    await sanityCheck(cluster, admins);
    const { rows: [recorded] } = await admins.current.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.connection_attempts WHERE decision = 'allow'");
    console.log(`allowed logins recorded in the table by the guard variant: ${recorded!.n}`);
  } finally {
    await admins?.current.end();
    await admins?.old.end();
    await cluster.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
