// Benchmark: the whole pgwarden check set against one server, beside check_postgres running
// its equivalent actions, measured in the same run, interleaved round by round.
//
// What is timed (wall clock, each a fresh process as a monitoring system would start it):
//   pgwarden all      - `pgwarden check` running every check as the unprivileged login
//                       over TCP with SCRAM: one Node.js process, parallel connections;
//   pgwarden covered  - `pgwarden check --checks ...` limited to the checks check_postgres also has;
//   check_postgres    - its equivalent actions, one process each, one after the other (as Nagios
//                       runs one service check per action), as a superuser over the Unix socket
//                       (several actions need one);
//   in-process        - the library running all checks without Node.js start-up (what a
//                       long-running exporter would pay per scrape);
//   start-up          - `pgwarden check --checks none_such`: the check command up to its first
//                       connection (Node.js, the driver, the config code, the checks).
// p50 and p95 over the rounds, and the ratios, are printed. This is a measurement, not a test:
// it exits 0 once it has measured, and says when a target is missed.
//
// Needs the Debian packages `check-postgres` and `pgbouncer` (and `postgresql-15` for the
// default server): scripts/install-test-deps.sh installs them. A pgBouncer runs in front of
// the server for the two pgbouncer checks and their check_postgres actions.
// Environment: BENCH_ROUNDS (default 15), BENCH_FLAVOR (pg15 default, or pg18).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { CHECKS, checkServer, installMonitor } from '../src/monitor/index.ts';
import { freePort, startCluster, type Cluster, type Flavor } from '../test/harness/postgres.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const FLAVOR = (process.env.BENCH_FLAVOR ?? 'pg15') as Flavor;
const TARGET_P95_MS = 250;
const LOGIN = 'bench_monitor';
const PASSWORD = 'bench-monitor-pw';
const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));

/** pgwarden check ↔ the check_postgres action covering the same thing. */
const EQUIVALENTS: readonly { action: string; args: string[]; checks: string[]; pgbouncer?: boolean }[] = [
  { action: 'connection', args: [], checks: ['alive'] },
  { action: 'backends', args: [], checks: ['connections'] },
  { action: 'txn_idle', args: ['--warning=60s'], checks: ['idle_in_transaction'] },
  { action: 'query_time', args: ['--warning=300s'], checks: ['long_queries'] },
  { action: 'locks', args: ['--warning=100'], checks: ['lock_waits'] },
  { action: 'commitratio', args: ['--warning=90%'], checks: ['rollback_ratio'] },
  { action: 'txn_wraparound', args: [], checks: ['xid_wraparound'] },
  { action: 'replication_slots', args: ['--warning=1G'], checks: ['inactive_slots', 'retained_wal'] },
  { action: 'archive_ready', args: ['--warning=10'], checks: ['archive_backlog'] },
  { action: 'database_size', args: ['--warning=100G'], checks: ['database_size'] },
  { action: 'hitratio', args: ['--warning=90%'], checks: ['cache_hit_ratio'] },
  { action: 'last_autovacuum', args: ['--warning=1d'], checks: ['autovacuum_freshness'] },
  { action: 'dbstats', args: [], checks: ['deadlocks', 'temp_files', 'transaction_rate'] },
  { action: 'disabled_triggers', args: [], checks: ['pgwarden_triggers'] },
  { action: 'txn_time', args: ['--warning=600s'], checks: ['txn_time'] },
  { action: 'prepared_txns', args: [], checks: ['prepared_transactions'] },
  { action: 'sequence', args: [], checks: ['sequence_exhaustion'] },
  { action: 'last_analyze', args: ['--warning=1d'], checks: ['last_analyze'] },
  { action: 'bloat', args: [], checks: ['bloat'] },
  { action: 'relation_size', args: ['--warning=10G'], checks: ['largest_relations'] },
  { action: 'wal_files', args: ['--warning=1000'], checks: ['wal_files'] },
  // Its --warning is the checksum of the settings, read from a first run (see main).
  { action: 'settings_checksum', args: [], checks: ['settings_drift'] },
  { action: 'pgb_pool_cl_waiting', args: ['--warning=10'], checks: ['pgbouncer_waiting'], pgbouncer: true },
  { action: 'pgb_pool_maxwait', args: ['--warning=5'], checks: ['pgbouncer_max_wait'], pgbouncer: true },
  { action: 'pgb_pool_sv_active', args: ['--warning=10'], checks: ['pgbouncer_pool_usage'], pgbouncer: true },
];
// Not compared: check_postgres's new_version_pg asks the Internet for the newest release
// (minor_version uses the release table this pgwarden ships), and it has no security checks.

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number; stdout: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - started, code: code ?? -1, stdout }));
  });
}

/** pgBouncer in front of the cluster, its console login in stats_users (it runs as the server's OS user). */
async function startPgbouncer(cluster: Cluster, dir: string): Promise<{ port: number; child: ChildProcess }> {
  const owner = statSync(cluster.socketDir);
  const port = await freePort();
  writeFileSync(path.join(dir, 'userlist.txt'), `"bench_bouncer" "bench-bouncer-pw"\n"${cluster.superuser}" "${cluster.superuserPassword}"\n`);
  writeFileSync(path.join(dir, 'pgbouncer.ini'), `[databases]\nappdb = host=127.0.0.1 port=${cluster.port} dbname=postgres\n[pgbouncer]\n`
    + `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = scram-sha-256\nauth_file = ${path.join(dir, 'userlist.txt')}\n`
    + `stats_users = bench_bouncer, ${cluster.superuser}\nlogfile = ${path.join(dir, 'pgbouncer.log')}\n`);
  for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(path.join(dir, file), owner.uid, owner.gid);
  const child = spawn('/usr/sbin/pgbouncer', [path.join(dir, 'pgbouncer.ini')], { stdio: 'ignore', uid: owner.uid, gid: owner.gid });
  for (let i = 0; i < 100; i++) {
    try {
      const client = new pg.Client({ connectionString: `postgres://bench_bouncer:bench-bouncer-pw@127.0.0.1:${port}/pgbouncer` });
      await client.connect();
      await client.end();
      return { port, child };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('pgbouncer did not start');
}

async function main(): Promise<void> {
  if (!existsSync('/usr/bin/check_postgres')) {
    console.error('check_postgres is not installed: sudo apt-get install check-postgres');
    process.exit(2);
  }
  if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
    console.error('pgwarden is not built: npm run build');
    process.exit(2);
  }
  const cluster = await startCluster({ flavor: FLAVOR, settings: { archive_mode: 'on', archive_command: "'/bin/true'" } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-monitor-'));
  let bouncer: { port: number; child: ChildProcess } | undefined;
  try {
    bouncer = await startPgbouncer(cluster, dir);
    await cluster.createRole(LOGIN, PASSWORD);
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await installMonitor(admin, LOGIN);
    await admin.end();

    const loginEnv = { PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: LOGIN, PGPASSWORD: PASSWORD, PGDATABASE: 'postgres', PGWARDEN_CONFIG: '',
      PGBOUNCER_PASSWORD: 'bench-bouncer-pw' };
    const bouncerUrl = `postgres://bench_bouncer@127.0.0.1:${bouncer.port}/pgbouncer`;
    const checkArgs = (...more: string[]) => [BIN, 'check', '--pgbouncer', bouncerUrl, ...more];
    const covered = [...new Set(EQUIVALENTS.flatMap((e) => e.checks))];
    // check_postgres calls psql; pg_controldata and friends from the server's version first on PATH.
    const cpEnv = { PATH: `${cluster.binDir}:${process.env.PATH}`, PGPASSWORD: cluster.superuserPassword };
    const checksum = /checksum: ([0-9a-f]{32})/.exec(spawnSync('check_postgres', ['--action=settings_checksum', `--host=${cluster.socketDir}`, `--port=${cluster.port}`,
      `--dbuser=${cluster.superuser}`, '--dbname=postgres', '--critical=0'], { encoding: 'utf8', env: { ...process.env, PGPASSWORD: cluster.superuserPassword } }).stdout)?.[1];
    const extra = (e: (typeof EQUIVALENTS)[number]) => (e.action === 'settings_checksum' ? [`--warning=${checksum}`] : []);
    const cpArgs = (e: (typeof EQUIVALENTS)[number]) => (e.pgbouncer
      ? [`--action=${e.action}`, '--host=127.0.0.1', `--port=${bouncer!.port}`, `--dbuser=${cluster.superuser}`, '--dbname=pgbouncer', ...e.args]
      : [`--action=${e.action}`, `--host=${cluster.socketDir}`, `--port=${cluster.port}`, `--dbuser=${cluster.superuser}`, '--dbname=postgres', ...e.args, ...extra(e)]);

    // Sanity: each side really checks something.
    const sample = await run(process.execPath, checkArgs('--format', 'json'), loginEnv);
    const parsed = JSON.parse(sample.stdout) as { servers: { checks: { error: string | null }[] }[] };
    const errors = parsed.servers[0]!.checks.filter((c) => c.error).length;
    console.log(`PostgreSQL ${FLAVOR === 'pg15' ? 15 : 18}; pgwarden: ${parsed.servers[0]!.checks.length} checks, ${errors} with errors;`
      + ` check_postgres ${execFileSync('check_postgres', ['--version'], { encoding: 'utf8' }).trim().replace(/^check_postgres version /, '')}: ${EQUIVALENTS.length} actions`
      + ` covering ${covered.length} pgwarden checks; ${ROUNDS} rounds`);
    for (const e of EQUIVALENTS) {
      const result = await run('check_postgres', cpArgs(e), cpEnv);
      if (!/^(POSTGRES|PGBOUNCER)_\w+ (OK|WARNING|CRITICAL)/.test(result.stdout)) console.log(`  note: check_postgres --action=${e.action} printed: ${result.stdout.slice(0, 160)}`);
    }

    const times = { all: [] as number[], covered: [] as number[], check_postgres: [] as number[], inprocess: [] as number[], startup: [] as number[] };
    const target = { name: 'bench', target: { url: cluster.url('postgres', LOGIN, PASSWORD), label: 'bench' },
      pgbouncer: { url: bouncerUrl, password: 'bench-bouncer-pw', label: 'pgbouncer' } };
    const perCheck: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const order = ['all', 'covered', 'check_postgres', 'inprocess', 'startup'] as const;
      for (let i = 0; i < order.length; i++) {
        const variant = order[(i + round) % order.length]!;
        if (variant === 'all') times.all.push((await run(process.execPath, checkArgs(), loginEnv)).ms);
        else if (variant === 'covered') times.covered.push((await run(process.execPath, checkArgs('--checks', covered.join(',')), loginEnv)).ms);
        // The check command up to its first connection: a --checks name it refuses (UNKNOWN, exit 3).
        else if (variant === 'startup') times.startup.push((await run(process.execPath, [BIN, 'check', '--checks', 'none_such'], loginEnv)).ms);
        else if (variant === 'inprocess') {
          const started = performance.now();
          const result = await checkServer(target);
          times.inprocess.push(performance.now() - started);
          for (const check of result.checks) (perCheck[check.name] ??= []).push(check.duration_ms);
        } else {
          const started = performance.now();
          for (const e of EQUIVALENTS) await run('check_postgres', cpArgs(e), cpEnv);
          times.check_postgres.push(performance.now() - started);
        }
      }
    }

    const line = (label: string, values: number[]) =>
      `${label.padEnd(44)} p50 ${percentile(values, 50).toFixed(0).padStart(6)} ms   p95 ${percentile(values, 95).toFixed(0).padStart(6)} ms`;
    console.log(line(`pgwarden check, all ${CHECKS.length} checks (process)`, times.all));
    console.log(line(`pgwarden check, ${covered.length} covered checks (process)`, times.covered));
    console.log(line(`check_postgres, ${EQUIVALENTS.length} actions (one process each)`, times.check_postgres));
    console.log(line(`pgwarden library, all ${CHECKS.length} checks (in-process)`, times.inprocess));
    console.log(line('pgwarden check start-up (no connection)', times.startup));
    const ratio = (a: number[], b: number[]) => (percentile(a, 50) / percentile(b, 50)).toFixed(1);
    console.log(`ratio (p50): check_postgres / pgwarden covered = ${ratio(times.check_postgres, times.covered)}x faster;`
      + ` check_postgres / pgwarden all ${CHECKS.length} = ${ratio(times.check_postgres, times.all)}x faster`);
    const inProcess = percentile(times.inprocess, 95);
    const process95 = percentile(times.all, 95);
    console.log(`target all checks < ${TARGET_P95_MS} ms p95: checks ${inProcess.toFixed(0)} ms in-process (${inProcess < TARGET_P95_MS ? 'met' : 'MISSED'}); `
      + `${process95.toFixed(0)} ms as a process (${process95 < TARGET_P95_MS ? 'met' : 'missed'}; start-up alone p50 ${percentile(times.startup, 50).toFixed(0)} ms)`);
    const slowest = Object.entries(perCheck).map(([name, values]) => [name, percentile(values, 95)] as const).sort((a, b) => b[1] - a[1]);
    console.log(`each check's own time (in-process, p95): slowest ${slowest.slice(0, 5).map(([n, v]) => `${n} ${v.toFixed(0)} ms`).join(', ')}`
      + ` (${slowest.every(([, v]) => v < TARGET_P95_MS) ? 'all' : 'NOT all'} under ${TARGET_P95_MS} ms)`);
    const tenfold = percentile(times.check_postgres, 50) / percentile(times.covered, 50);
    console.log(`target >= 10x faster than check_postgres for the same coverage: ${tenfold >= 10 ? 'met' : 'MISSED'} (${tenfold.toFixed(1)}x as processes)`);
  } finally {
    bouncer?.child.kill('SIGTERM');
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
