// Benchmark: how many short pgJDBC sessions of a denied tool get their first query through
// while `pgwarden guard watch` runs on the same machine, and how long from login to termination.
//
// pgJDBC with default settings (DBeaver, SQuirreL and other JDBC tools) sends no application_name
// at login and sets it with `SET application_name` right after, so the login trigger sees an empty
// name and only watch mode can end the session; the SET and the first query are under a
// millisecond apart, so polling cannot reach 0 %. The peer is watch mode without the first-second
// rechecks (what the previous release did: one sweep every interval), measured in the same run.
//
// The real driver: Debian's libpostgresql-jdbc-java with the machine's Java 17 (the program is
// test/guard/jdbc/ShortSessions.java). One PostgreSQL 18; the benchmark role has a deny rule for
// '%dbeaver%'; each session: connect (ApplicationName=DBeaver ...), SELECT 1, close.
// Login time is the allowed-login record the login trigger writes (server clock); termination
// time is watch mode's record of the termination (server clock).
// This is a measurement, not a test: it always exits 0 once it has measured.
//
// Environment: BENCH_SESSIONS short sessions per variant (default 200), BENCH_LINGER sessions that
// wait 300 ms before their query (default 40).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster } from '../test/harness/postgres.ts';
import { installSchema, newRecorderPassword } from '../src/sensors/index.ts';
import pg from 'pg';

const DRIVER = '/usr/share/java/postgresql.jar';
const PROGRAM = fileURLToPath(new URL('../test/guard/jdbc/ShortSessions.java', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
const ROLE = 'bench_tool';
const PASSWORD = 'bench-tool-pw';
const TOOL = 'ApplicationName=DBeaver 24.1.0 - Main';

interface Session { pid: number; outcome: string }

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function sessions(cluster: Cluster, count: number, pauseMs: number): Promise<Session[]> {
  const url = `jdbc:postgresql://${cluster.host}:${cluster.port}/postgres`;
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', DRIVER, PROGRAM, url, ROLE, String(count), String(pauseMs), TOOL],
      { env: { ...process.env, PGPASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`java exited with ${code}: ${err}`));
      resolve(out.trim().split('\n').map((line) => {
        const [pid, , outcome] = line.split(' ');
        return { pid: Number(pid), outcome: outcome! };
      }));
    });
  });
}

async function startWatch(cluster: Cluster, recheckMs: number): Promise<ChildProcess> {
  const env = { ...process.env, PGWARDEN_CONFIG: '', PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: cluster.superuser, PGPASSWORD: cluster.superuserPassword, PGDATABASE: 'postgres' };
  const child = spawn(process.execPath, [BIN, 'guard', 'watch', '--interval', '2', '--recheck', String(recheckMs)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('"watching"')) resolve();
    });
    child.on('close', (code) => reject(new Error(`guard watch exited with ${code}: ${err}`)));
  });
  return child;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Result { through: number; total: number; latencies: number[] }

async function measure(cluster: Cluster, admin: pg.Client, recheckMs: number, count: number, pauseMs: number): Promise<Result> {
  const watch = await startWatch(cluster, recheckMs);
  let done: Session[];
  try {
    await sessions(cluster, 2, 0); // the JVM's first connections, unmeasured
    done = await sessions(cluster, count, pauseMs);
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    watch.kill('SIGTERM');
    await new Promise((resolve) => watch.on('close', resolve));
  }
  const pids = done.map((s) => s.pid).filter((pid) => pid > 0);
  // Login (the login trigger's record) to termination (watch mode's record), both server clocks.
  const { rows } = await admin.query<{ ms: number }>(
    `SELECT extract(epoch FROM w.ts - l.ts) * 1000 AS ms
       FROM pgwarden.connection_attempts w
       JOIN pgwarden.connection_attempts l ON l.backend_pid = w.backend_pid AND l.via = 'login' AND l.user_name = w.user_name
        AND l.ts <= w.ts AND l.ts > w.ts - interval '10 seconds'
      WHERE w.via = 'watch' AND w.user_name = $1 AND w.backend_pid = ANY ($2)`, [ROLE, pids]);
  await admin.query('DELETE FROM pgwarden.connection_attempts WHERE user_name = $1', [ROLE]);
  return { through: done.filter((s) => s.outcome === 'rows').length, total: done.length, latencies: rows.map((r) => Number(r.ms)).sort((a, b) => a - b) };
}

function line(name: string, result: Result): string {
  const share = (100 * result.through) / result.total;
  return `${name.padEnd(34)} first query returned rows: ${String(result.through).padStart(4)}/${result.total} = ${share.toFixed(1).padStart(5)} %`
    + `   login->termination (n=${result.latencies.length}): p50 ${percentile(result.latencies, 50).toFixed(1)} ms, p99 ${percentile(result.latencies, 99).toFixed(1)} ms`;
}

async function main(): Promise<void> {
  if (!existsSync(DRIVER)) {
    console.error(`${DRIVER} not found: install libpostgresql-jdbc-java (scripts/install-test-deps.sh)`);
    process.exit(1);
  }
  const count = positiveInt('BENCH_SESSIONS', 200);
  const linger = positiveInt('BENCH_LINGER', 40);
  const cluster = await startCluster({ flavor: 'pg18' });
  const admin = new pg.Client({ connectionString: cluster.url() });
  try {
    await admin.connect();
    await installSchema(admin, newRecorderPassword());
    await cluster.createRole(ROLE, PASSWORD);
    await admin.query("INSERT INTO pgwarden.guard_rules (action, roles, applications, message) VALUES ('deny', ARRAY[$1], '{%dbeaver%}', 'no GUI tools')", [ROLE]);
    console.log(`server: ${(await admin.query('SELECT version() AS v')).rows[0].v}`);
    console.log(`client: pgJDBC ${DRIVER} (default settings, ${TOOL}), Java ${process.env.JAVA_VERSION ?? '17'}; watch: guard watch --interval 2; ${os.cpus().length} CPUs`);
    console.log(`${count} short sessions (connect, SELECT 1, close) and ${linger} that wait 300 ms before their query, per variant\n`);
    const variants: [string, number][] = [['no rechecks (previous release)', 0], ['--recheck 5 (default)', 5], ['--recheck 1', 1]];
    const results: Record<string, { short: Result; lingering: Result }> = {};
    for (const [name, recheck] of variants) {
      const short = await measure(cluster, admin, recheck, count, 0);
      const lingering = await measure(cluster, admin, recheck, linger, 300);
      results[name] = { short, lingering };
      console.log(line(`${name}, short`, short));
      console.log(line(`${name}, 300 ms`, lingering));
    }
    const peer = results[variants[0]![0]]!.short;
    const ours = results[variants[1]![0]]!.short;
    const ratio = ours.through / Math.max(1, peer.through);
    console.log(`\nshort sessions that got rows, --recheck 5 / no rechecks = ${ratio.toFixed(3)} (lower is better)`);
  } finally {
    await admin.end().catch(() => undefined);
    await cluster.stop();
  }
}

await main();
