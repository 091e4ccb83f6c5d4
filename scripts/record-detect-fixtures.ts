// node --import tsx scripts/record-detect-fixtures.ts [--out test/detect/fixtures]
//
// Records the replay fixtures of the detection rules (test/detect/fixtures, docs/detect.md) from
// real servers, as csvlog:
//   clean-pg15.csv.gz   PostgreSQL 15 + pgAudit (pgaudit.log = all, log_rows, log_relation, log_parameter),
//                       pgbench plus ordinary application sessions: ≥ 100,000 events, no alert;
//   attack-pg15.csv.gz  the same server: every built-in rule's pattern acted once (and what a client
//                       could forge to fool the rules), one alert per rule;
//   attack-pg18.csv.gz  PostgreSQL 18 with pgwarden's connection guard (the login event trigger) refusing
//                       one client again and again — PostgreSQL 15 without session_exec cannot refuse at
//                       login, and the guard's FATAL refusal lines are what guard_refusal_burst reads in logs;
//   fixture.yaml        the detect: config both are replayed with; business hours end at the minute
//                       the off-hours part of the attack begins, learning and idle periods fit the run.
// It takes about four minutes of real time (learning, a dormant role, the business-hours boundary),
// which is why the output is committed instead of being recorded in every test run.
// Needs postgresql-15, postgresql-15-pgaudit and pgbench (scripts/install-test-deps.sh).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { startCluster, type Cluster } from '../src/demo/disposable-postgres.ts';
import { addRule, normaliseRule } from '../src/guard/index.ts';
import { parseText } from '../src/logs/index.ts';
import { installSchema, newRecorderPassword } from '../src/sensors/index.ts';

const args = process.argv.slice(2);
const OUT = path.resolve(args.includes('--out') ? args[args.indexOf('--out') + 1]! : 'test/detect/fixtures');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${text}`);

const LOG_SETTINGS = {
  log_destination: "'csvlog'", logging_collector: 'on', log_filename: "'postgresql.log'", log_rotation_age: 0, log_rotation_size: 0,
  log_connections: 'on', log_disconnections: 'on', log_timezone: "'UTC'",
};
const PASSWORD = 'fixture-password';

/** A client whose TCP connection comes from this loopback address (127.0.0.0/8 is all local on Linux). */
function from(localAddress: string) {
  return () => {
    const socket = new net.Socket();
    const connect = socket.connect.bind(socket) as (options: net.SocketConnectOpts) => net.Socket;
    (socket as unknown as { connect: (port: number, host: string) => net.Socket }).connect = (port, host) => connect({ port, host, localAddress });
    return socket;
  };
}

interface Login { user: string; password?: string; app?: string; address?: string; database?: string }

async function connect(cluster: Cluster, login: Login): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1', port: cluster.port, user: login.user, password: login.password ?? PASSWORD, database: login.database ?? 'postgres',
    application_name: login.app, stream: login.address ? from(login.address) : undefined,
  });
  await client.connect();
  return client;
}

/** A whole session: log in, run the statements, log out. */
async function session(cluster: Cluster, login: Login, statements: string[]): Promise<void> {
  const client = await connect(cluster, login);
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A login that must fail (wrong password, unknown role, refused by the guard). */
async function refused(cluster: Cluster, login: Login): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1', port: cluster.port, user: login.user, password: login.password ?? 'wrong password', database: 'postgres',
    application_name: login.app, stream: login.address ? from(login.address) : undefined,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    return;
  }
  await client.end();
  throw new Error(`the login of ${login.user} was expected to fail`);
}

/** Lets every loopback address in through pg_hba.conf (the harness allows 127.0.0.1 only). */
async function allowLoopbackNetwork(cluster: Cluster): Promise<void> {
  const hba = path.join(cluster.dataDir, 'pg_hba.conf');
  writeFileSync(hba, `${readFileSync(hba, 'utf8')}\nhost all all 127.0.0.0/8 scram-sha-256\n`);
  await cluster.query('SELECT pg_catalog.pg_reload_conf()');
}

function csvFile(cluster: Cluster): string {
  return path.join(cluster.dataDir, 'log', 'postgresql.csv');
}

/** Waits until the collector wrote a record containing the mark; returns the byte offset just after that record's line. */
async function offsetAfter(cluster: Cluster, mark: string): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const bytes = readFileSync(csvFile(cluster));
    const at = bytes.indexOf(mark);
    if (at >= 0) {
      const end = bytes.indexOf(10, at);
      if (end >= 0) return end + 1;
    }
    await sleep(100);
  }
  throw new Error(`the mark ${mark} never reached ${csvFile(cluster)}`);
}

async function mark(client: pg.Client, text: string, audited: boolean): Promise<void> {
  if (audited) await client.query(`SELECT '${text}'`);
  else await client.query(`DO $$BEGIN RAISE LOG '${text}'; END$$`);
}

function pgbench(cluster: Cluster, argv: string[], user: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', user, ...argv, 'postgres'],
      { env: { ...process.env, PGPASSWORD: user === cluster.superuser ? cluster.superuserPassword : PASSWORD }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pgbench ${argv.join(' ')} failed: ${stderr}`))));
  });
}

const HUMANS = ['alice', 'bob', 'dave', 'erin', 'frank'];
const APP_ROLES = ['app_orders', 'app_billing', 'app_hr', 'app_bench'];

async function setUpPg15(cluster: Cluster, admin: pg.Client): Promise<void> {
  await installSchema(admin, newRecorderPassword());
  for (const role of [...APP_ROLES, ...HUMANS, 'etl', 'report_reader', 'mallory', 'old_admin', 'app_owner']) await cluster.createRole(role, PASSWORD);
  await admin.query(`
    CREATE SCHEMA hr;
    CREATE TABLE hr.salaries (id int PRIMARY KEY, employee text, pay numeric);
    INSERT INTO hr.salaries SELECT g, 'employee ' || g, 40000 + g FROM generate_series(1, 200) g;
    CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer int, total numeric, status text, created_at timestamptz DEFAULT now());
    INSERT INTO public.orders (customer, total, status) SELECT g % 50, g, 'new' FROM generate_series(1, 2000) g;
    ALTER TABLE public.orders OWNER TO app_owner;
    GRANT CREATE ON SCHEMA public TO app_owner;
    CREATE TABLE public.staging (id serial, batch int, payload text);
    INSERT INTO public.staging (batch, payload) SELECT g % 20, md5(g::text) FROM generate_series(1, 4000) g;
    GRANT USAGE ON SCHEMA hr TO app_hr, mallory;
    GRANT SELECT, UPDATE ON hr.salaries TO app_hr, mallory;
    GRANT SELECT, INSERT, UPDATE ON public.orders TO app_orders, app_billing, alice, report_reader;
    GRANT USAGE ON SEQUENCE public.orders_id_seq TO app_orders;
    GRANT SELECT, INSERT, DELETE ON public.staging TO etl;
    GRANT USAGE ON SEQUENCE public.staging_id_seq TO etl;`);
  await pgbench(cluster, ['-i', '-s', '1', '-q'], cluster.superuser);
  await admin.query('GRANT SELECT, INSERT, UPDATE ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO app_bench');
}

/** One round of ordinary work by every regular role, each from its own address and application. */
async function ordinaryRound(cluster: Cluster, round: number): Promise<void> {
  await session(cluster, { user: 'app_orders', app: 'orders-api', address: '127.0.0.10' }, [
    `INSERT INTO public.orders (customer, total, status) VALUES (${round % 50}, ${round * 3}, 'new')`,
    `UPDATE public.orders SET status = 'paid' WHERE id = ${round + 1}`,
    `SELECT id, total FROM public.orders WHERE customer = ${round % 50} ORDER BY id DESC LIMIT 10`,
  ]);
  await session(cluster, { user: 'app_billing', app: 'billing-worker', address: '127.0.0.11' }, [
    `SELECT sum(total) FROM public.orders WHERE status = 'paid' AND customer = ${round % 50}`,
  ]);
  await session(cluster, { user: 'app_hr', app: 'hr-portal', address: '127.0.0.12' }, [
    `SELECT employee, pay FROM hr.salaries WHERE id = ${(round % 200) + 1}`,
    `UPDATE hr.salaries SET pay = pay + 1 WHERE id = ${(round % 200) + 1}`,
  ]);
  await session(cluster, { user: 'report_reader', app: 'Metabase', address: '127.0.0.13' }, [
    `SELECT status, count(*) FROM public.orders GROUP BY status`,
  ]);
  await session(cluster, { user: 'etl', app: 'etl-nightly', address: '127.0.0.14' }, [
    `INSERT INTO public.staging (batch, payload) SELECT ${round % 20}, md5(g::text) FROM generate_series(1, 50) g`,
    `DELETE FROM public.staging WHERE batch = ${(round + 7) % 20} AND id % 3 = 0`,
  ]);
  await session(cluster, { user: 'alice', app: 'psql', address: '127.0.0.15' }, [
    'SET statement_timeout = \'5s\'',
    `SELECT * FROM public.orders WHERE id = ${round + 5}`,
  ]);
  await session(cluster, { user: cluster.superuser, password: cluster.superuserPassword, app: 'psql' }, [
    round % 4 === 0 ? 'ANALYZE public.orders' : 'SELECT count(*) FROM pg_catalog.pg_stat_activity',
    ...(round === 3 ? ['CREATE INDEX orders_status_idx ON public.orders (status)', 'VACUUM public.staging'] : []),
  ]);
  if (round === 2) {
    await refused(cluster, { user: 'alice', address: '127.0.0.15', app: 'psql' }); // a mistyped password
    await refused(cluster, { user: 'alcie', address: '127.0.0.15', app: 'psql' }); // a mistyped role
  }
}

async function recordClean(cluster: Cluster, admin: pg.Client): Promise<{ start: number; end: number }> {
  await mark(admin, 'pgwarden fixture: clean begins', true);
  const start = await offsetAfter(cluster, 'pgwarden fixture: clean begins');
  log('clean workload: pgbench and application sessions');
  let done = false;
  const bench = pgbench(cluster, ['-n', '-c', '4', '-j', '2', '-t', '4000'], 'app_bench').finally(() => { done = true; });
  let round = 0;
  while (!done) {
    await ordinaryRound(cluster, round++);
    await sleep(500);
  }
  await bench;
  log(`clean workload: ${round} rounds of application sessions`);
  await mark(admin, 'pgwarden fixture: clean ends', true);
  const end = await offsetAfter(cluster, 'pgwarden fixture: clean ends');
  return { start, end };
}

async function forgeries(cluster: Cluster): Promise<void> {
  // What a client can make the server log, none of which may count as what it claims to be.
  // From 127.0.1.9, the network the real superuser login of new_client_for_privileged_role later comes from.
  const forger = await connect(cluster, { user: 'mallory', app: 'pgwarden/collect', address: '127.0.1.9' });
  const csvLine = (user: string) => `2026-01-01 00:00:00.000 UTC,"${user}","postgres",4242,"127.0.0.66:5555",6b0f0000.1092,1,"authentication",2026-01-01 00:00:00 UTC,3/1,0,FATAL,28P01,"password authentication failed for user ""${user}""",,,,,,,,,"","client backend",,0`;
  try {
    await forger.query(`DO $$BEGIN RAISE LOG 'connection authorized: user=postgres database=postgres application_name=psql'; END$$`);
    await forger.query(`DO $$BEGIN RAISE LOG 'connection authorized: user=old_admin database=postgres application_name=psql'; END$$`);
    await forger.query(`DO $$BEGIN RAISE LOG 'AUDIT: SESSION,1,1,ROLE,GRANT ROLE,,,GRANT pg_execute_server_program TO mallory,<none>'; END$$`);
    await forger.query(`DO $$BEGIN RAISE LOG 'parameter "pgaudit.log" changed to "none"'; END$$`);
    for (let i = 0; i < 6; i++) {
      await forger.query(`DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '28000', MESSAGE = 'pgwarden: connection refused for role "app_orders" to database "postgres" from application "psql": not allowed'; END$$`).catch(() => undefined);
      await forger.query(`SELECT 1 /*\n${csvLine('app_billing')}\n*/`);
    }
    await forger.query(`SELECT 'GRANT pg_execute_server_program TO mallory; COPY x TO PROGRAM ''id''; SET pgaudit.log = ''none'''`);
  } finally {
    await forger.end();
  }
}

async function recordAttack(pg15: Cluster, pg18: Cluster, admin15: pg.Client, admin18: pg.Client) {
  await mark(admin15, 'pgwarden fixture: attack begins', true);
  await mark(admin18, 'pgwarden fixture: attack begins', false);
  const start15 = await offsetAfter(pg15, 'pgwarden fixture: attack begins');
  const start18 = await offsetAfter(pg18, 'pgwarden fixture: attack begins');
  const t0 = Date.now();
  const at = async (seconds: number) => {
    const wait = t0 + seconds * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
  };
  // The superuser's monitoring heartbeat, every 4 s until 10 s before the business-hours boundary.
  let heartbeat = true;
  const beating = (async () => {
    while (heartbeat) {
      await session(pg15, { user: pg15.superuser, password: pg15.superuserPassword, app: 'psql' }, ['SELECT 1']);
      await session(pg15, { user: 'app_orders', app: 'orders-api', address: '127.0.0.10' }, ['SELECT count(*) FROM public.orders WHERE status = \'new\'']);
      await sleep(4000);
    }
  })();
  log('attack: learning period (20 s of records)');
  await session(pg15, { user: 'old_admin', app: 'psql', address: '127.0.0.17' }, ['SELECT current_user']);
  await session(pg15, { user: 'mallory', app: 'psql', address: '127.0.0.16' }, ['SELECT 1']);
  const owner = await connect(pg15, { user: 'app_owner', app: 'psql', address: '127.0.0.18' });
  await forgeries(pg15);

  await at(24);
  log('attack: brute force, password spray, unknown roles');
  for (let i = 0; i < 6; i++) await refused(pg15, { user: 'app_orders', address: '127.0.0.23', app: 'pgwarden/collect' });
  await session(pg15, { user: 'app_orders', address: '127.0.0.23', app: 'pgwarden/collect' }, ['SELECT 1']); // …and then it worked
  for (const user of [...HUMANS, 'app_billing']) await refused(pg15, { user, address: '127.0.0.22', app: 'psql' });
  for (const user of ['admin', 'root', 'oracle', 'sa']) await refused(pg15, { user, address: '127.0.0.21', app: 'psql' });

  log('attack: the guard refuses a GUI tool (PostgreSQL 18)');
  for (let i = 0; i < 6; i++) await refused(pg18, { user: 'contractor', password: PASSWORD, address: '127.0.0.30', app: 'DBeaver 24.1.0 - Main' });

  log('attack: sensitive data, mass change, privileges, server programs, auditing');
  await session(pg15, { user: 'mallory', app: 'psql', address: '127.0.0.16' }, [
    'SELECT employee, pay FROM hr.salaries ORDER BY pay DESC',
    'UPDATE hr.salaries SET pay = pay * 2 WHERE id = 7',
  ]);
  await session(pg15, { user: 'etl', app: 'etl-nightly', address: '127.0.0.14' }, ['DELETE FROM public.staging']);
  await session(pg15, { user: pg15.superuser, password: pg15.superuserPassword, app: 'psql' }, [
    'GRANT pg_execute_server_program TO frank',
    'ALTER ROLE frank CREATEROLE',
  ]);
  await session(pg15, { user: pg15.superuser, password: pg15.superuserPassword, app: 'psql' }, [
    "COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'",
    "SELECT pg_catalog.pg_read_file('PG_VERSION')",
    "CREATE FUNCTION public.sys_sleep(float8) RETURNS void LANGUAGE internal AS 'pg_sleep'",
    'DROP FUNCTION public.sys_sleep(float8)',
  ]);
  await session(pg15, { user: pg15.superuser, password: pg15.superuserPassword, app: 'psql' }, [
    "SET pgaudit.log = 'none'",
    "SELECT 'this is not audited'",
    "SET pgaudit.log = 'all'",
    'ALTER SYSTEM SET log_connections = off',
    'ALTER SYSTEM RESET log_connections',
    'ALTER EVENT TRIGGER pgwarden_ddl_command_end DISABLE',
    'ALTER EVENT TRIGGER pgwarden_ddl_command_end ENABLE',
  ]);
  log('attack: the superuser from a new network');
  await session(pg15, { user: pg15.superuser, password: pg15.superuserPassword, app: 'psql', address: '127.0.1.9' }, ['SELECT 1']);

  await at(50);
  log('attack: the dormant role logs in again (idle 40 s)');
  await session(pg15, { user: 'old_admin', app: 'psql', address: '127.0.0.17' }, ['SELECT current_user']);

  // The business-hours boundary: the next full minute, at least 15 s away.
  let boundary = Math.ceil((Date.now() + 15_000) / 60_000) * 60_000;
  if (new Date(boundary).getUTCHours() === 0 && new Date(boundary).getUTCMinutes() === 0) boundary += 60_000;
  const wait = boundary - Date.now() - 10_000;
  if (wait > 0) await sleep(wait);
  heartbeat = false;
  await beating;
  await sleep(Math.max(0, boundary - Date.now()) + 1000);
  log('attack: outside business hours: DDL, and a superuser login');
  await owner.query('CREATE INDEX orders_created_idx ON public.orders (created_at)');
  await owner.end();
  await session(pg15, { user: pg15.superuser, password: pg15.superuserPassword, app: 'psql' }, ['SELECT 1']);

  await mark(admin15, 'pgwarden fixture: attack ends', true);
  await mark(admin18, 'pgwarden fixture: attack ends', false);
  return {
    pg15: { start: start15, end: await offsetAfter(pg15, 'pgwarden fixture: attack ends') },
    pg18: { start: start18, end: await offsetAfter(pg18, 'pgwarden fixture: attack ends') },
    boundary,
  };
}

function fixtureConfig(boundary: Date): string {
  const hhmm = boundary.toISOString().slice(11, 16);
  return `# The detect: config the fixtures are replayed with (written by scripts/record-detect-fixtures.ts).
# Learning, the dormant-role idle time and business hours are scaled to a recording of minutes:
# business hours end at ${hhmm} UTC, the minute the off-hours part of the attack began.
detect:
  learning: 20s
  sensitive_objects: ['hr.*']
  application_roles: [app_orders, app_billing, app_hr, app_bench]
  privileged_roles: [postgres]
  business_hours: { days: [mon, tue, wed, thu, fri, sat, sun], hours: ['00:00-${hhmm}'], zone: UTC }
  rules:
    dormant_role_login: { idle: 40s }
    brute_force: { actions: [{ type: block_client }] }
    mass_change: { actions: [{ type: terminate }, { type: lock_role, duration: 15m }] }
    privilege_escalation: { actions: [{ type: lock_role }] }
  custom_rules:
    failed_logins_then_success:
      description: three or more failed logins, then a successful one, for one role from one client
      type: sequence
      severity: critical
      steps:
        - { match: { signals: [login_failed] }, count: 3 }
        - { match: { signals: [login] } }
      within: 10m
      group_by: [user, client_addr]
      actions: [{ type: terminate }, { type: lock_role }, { type: block_client }]
`;
}

function writeSlice(cluster: Cluster, range: { start: number; end: number }, name: string): { events: number; bytes: number; sha256: string } {
  const bytes = readFileSync(csvFile(cluster)).subarray(range.start, range.end);
  const parsed = parseText(bytes, { format: 'csvlog' });
  if (parsed.errors.length > 0) throw new Error(`${name}: ${parsed.errors.length} parse errors, the first: ${parsed.errors[0]!.reason}`);
  writeFileSync(path.join(OUT, name), gzipSync(bytes, { level: 9 }));
  return { events: parsed.events.length, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

const pg15 = await startCluster({ flavor: 'pg15', pgaudit: true, settings: {
  ...LOG_SETTINGS, 'pgaudit.log': "'all'", 'pgaudit.log_parameter': 'on', 'pgaudit.log_rows': 'on', 'pgaudit.log_relation': 'on',
} });
const pg18 = await startCluster({ flavor: 'pg18', settings: LOG_SETTINGS });
try {
  mkdirSync(OUT, { recursive: true });
  await allowLoopbackNetwork(pg15);
  await allowLoopbackNetwork(pg18);
  const admin15 = new pg.Client({ connectionString: pg15.url() });
  const admin18 = new pg.Client({ connectionString: pg18.url() });
  await admin15.connect();
  await admin18.connect();
  log('set-up: roles, tables, pgbench, pgwarden (guard on PostgreSQL 18)');
  await setUpPg15(pg15, admin15);
  await installSchema(admin18, newRecorderPassword());
  await pg18.createRole('contractor', PASSWORD);
  await addRule(admin18, normaliseRule({ action: 'deny', roles: ['contractor'], applications: ['%dbeaver%'], message: 'GUI tools are not allowed' }));

  const started = new Date();
  const clean = await recordClean(pg15, admin15);
  const attack = await recordAttack(pg15, pg18, admin15, admin18);
  if (new Date(attack.boundary).toISOString().slice(0, 10) !== started.toISOString().slice(0, 10)) throw new Error('the recording crossed midnight UTC: run it again');
  await admin15.end();
  await admin18.end();

  const files = {
    'clean-pg15.csv.gz': writeSlice(pg15, clean, 'clean-pg15.csv.gz'),
    'attack-pg15.csv.gz': writeSlice(pg15, attack.pg15, 'attack-pg15.csv.gz'),
    'attack-pg18.csv.gz': writeSlice(pg18, attack.pg18, 'attack-pg18.csv.gz'),
  };
  if (files['clean-pg15.csv.gz'].events < 100_000) throw new Error(`the clean workload has only ${files['clean-pg15.csv.gz'].events} events (≥ 100,000 wanted)`);
  writeFileSync(path.join(OUT, 'fixture.yaml'), fixtureConfig(new Date(attack.boundary)));
  const versions = {
    pg15: (await pg15.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v,
    pg18: (await pg18.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v,
    pgaudit: (await pg15.query<{ v: string }>("SELECT version AS v FROM pg_catalog.pg_available_extension_versions WHERE name = 'pgaudit' ORDER BY 1 DESC LIMIT 1")).rows[0]?.v ?? null,
  };
  writeFileSync(path.join(OUT, 'manifest.json'), JSON.stringify({ recorded_at: started.toISOString(), boundary: new Date(attack.boundary).toISOString(), versions, files }, null, 2) + '\n');
  for (const [name, file] of Object.entries(files)) log(`${name}: ${file.events} events, ${(file.bytes / 1e6).toFixed(1)} MB of csvlog`);
  log(`written to ${OUT}: ${readdirSync(OUT).join(', ')}`);
} finally {
  await pg15.stop();
  await pg18.stop();
}
