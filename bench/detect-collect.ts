// npm run bench:detect, phases B and C: detection inside the built `pgwarden collect`.
//
// B. Latency. A real PostgreSQL 16 (csvlog, logging_collector, log_connections) and scram over
//    TCP; collect follows its log directory with detect.in_collect and a webhook sink (JSON, HMAC
//    signed) to a receiver in this process. A sample is a brute force: five wrong passwords for
//    a role of its own (bench_<n>), so each sample is an incident of its own; the time of the
//    log write is when the fifth refusal reached the client (the server writes the line as it
//    refuses; the logging collector's pipe may add a little, which counts against pgwarden), the
//    time of arrival is when the receiver had the brute_force "opened" alert for that role, with
//    a valid signature. Samples start 100–400 ms apart (a random spread: batches hold zero, one
//    or several), and run under collect's defaults (poll_ms 1000, idle_flush_ms 1000, batch
//    window 2 s) and under a low-latency setting (100 ms, 100 ms, 0.2 s). Goal: p99 ≤ 2 s.
// C. Throughput. A generated pgAudit stderr log (test/pipeline/collect-helpers.ts' lines, like
//    bench:collect) through collect to a jsonl sink (fsync per batch), max_events 1000: detection
//    off (the peer) against on, on the same file; and on again with a big detection state in
//    detect.json beforehand (100,000 roles' logins learned first), which collect rewrites whole
//    after every batch.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readdirSync, readSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startCluster, type Cluster } from '../test/harness/postgres.ts';
import { lines } from '../test/pipeline/collect-helpers.ts';

const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
const PASSWORD = 'Right-horse-battery-9';
const SECRET = 'bench-webhook-secret';
const P99_GOAL_MS = 2000;

function option(args: string[], name: string, fallback: number): number {
  return args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback;
}

function startCollect(config: string, stateHome: string): { child: ChildProcess; stop: () => Promise<void>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, 'collect', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGWARDEN_CONFIG: '', PGWARDEN_LOG_LEVEL: 'warn', XDG_STATE_HOME: stateHome },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = once(child, 'exit');
  return {
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function until(probe: () => boolean, timeoutMs: number, what: string, every = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A webhook receiver: the time each brute_force "opened" alert arrived, by role; refuses a bad signature. */
async function startReceiver(): Promise<{ url: string; arrived: Map<string, number>; requests: () => number; bad: () => number; close: () => Promise<void> }> {
  const arrived = new Map<string, number>();
  let requests = 0;
  let bad = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      requests++;
      const body = Buffer.concat(chunks).toString('utf8');
      const expected = Buffer.from(`v1=${createHmac('sha256', SECRET).update(`${String(req.headers['x-pgwarden-timestamp'])}.${body}`).digest('hex')}`);
      const given = Buffer.from(String(req.headers['x-pgwarden-signature'] ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        bad++;
        res.writeHead(401).end();
        return;
      }
      const parsed = JSON.parse(body) as { notice: string; alert: { rule: string; user: string | null } };
      if (parsed.notice === 'opened' && parsed.alert.rule === 'brute_force' && parsed.alert.user && !arrived.has(parsed.alert.user)) arrived.set(parsed.alert.user, at);
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    arrived, requests: () => requests, bad: () => bad,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function failLogin(cluster: Cluster, user: string): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.url('postgres', user, 'wrong-password'), application_name: 'bench-hydra' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    throw new Error(`the login as ${user} with a wrong password worked`);
  } catch (error) {
    if ((error as { code?: string }).code !== '28P01') throw error;
  }
}

async function latencyPhase(cluster: Cluster, root: string, name: string, tuning: Tuning, samples: number, first: number): Promise<number[]> {
  const dir = path.join(root, `latency-${first}`);
  mkdirSync(dir, { recursive: true });
  const receiver = await startReceiver();
  const config = path.join(dir, 'pgwarden.yaml');
  writeFileSync(config, `detect:
  in_collect: true
pipeline:
${tuning.batch}
  sources:
    pg: { type: logfile, path: ${path.join(cluster.dataDir, 'log')}, pattern: '*.csv', format: csvlog, server: db1, state_dir: ${path.join(dir, 'state')}${tuning.source} }
  sinks:
    hook: { type: webhook, url: ${receiver.url}, format: json, secret_env: BENCH_WEBHOOK_SECRET, inputs: [detect] }
`);
  process.env.BENCH_WEBHOOK_SECRET = SECRET;
  const collect = startCollect(config, dir);
  // collect starts at the end of the existing log: wait until it follows it (its state file appears)
  await until(() => existsSync(path.join(dir, 'state', 'detect.json')) || collect.child.exitCode !== null, 60_000, 'collect to start', 50)
    .catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  if (collect.child.exitCode !== null) throw new Error(`collect exited: ${collect.stderr()}`);
  const written = new Map<string, number>();
  const attacks: Promise<void>[] = [];
  for (let i = 0; i < samples; i++) {
    const user = `bench_${first + i}`;
    attacks.push((async () => {
      for (let k = 0; k < 4; k++) await failLogin(cluster, user);
      await failLogin(cluster, user);
      written.set(user, performance.now());
    })());
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 300));
  }
  await Promise.all(attacks);
  await until(() => [...written.keys()].every((u) => receiver.arrived.has(u)), 60_000, `${samples} brute_force alerts at the webhook (${receiver.arrived.size} so far)`, 50);
  await collect.stop();
  await receiver.close();
  if (receiver.bad() > 0) throw new Error(`${receiver.bad()} webhook requests with a bad signature`);
  const latencies = [...written].map(([user, at]) => receiver.arrived.get(user)! - at).sort((a, b) => a - b);
  const p = (q: number) => `${percentile(latencies, q).toFixed(0)} ms`;
  const p99 = percentile(latencies, 99);
  console.log(`  ${name}: ${latencies.length} samples (${receiver.requests()} webhook requests in all, every signature valid): p50 ${p(50)}, p95 ${p(95)}, p99 ${p(99)}, max ${latencies.at(-1)!.toFixed(0)} ms`
    + ` — goal p99 ≤ ${P99_GOAL_MS} ms: ${p99 <= P99_GOAL_MS ? 'met' : 'NOT met'}`);
  return latencies;
}

interface Tuning { batch: string; source: string }

/** Counts the lines of a growing file, reading only what was added since the last call. */
function lineCounter(file: string): () => number {
  let offset = 0;
  let count = 0;
  return () => {
    if (!existsSync(file)) return 0;
    const size = statSync(file).size;
    if (size <= offset) return count;
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) count++;
      offset = size;
    } finally {
      closeSync(fd);
    }
    return count;
  };
}

/**
 * Events the detection state holds: the engine's count in the journal's last line (each batch's
 * line starts with it), else in detect.json (after a snapshot); 0 before either.
 */
function detected(state: string): number {
  try {
    const journal = readdirSync(state).find((n) => /^detect-journal-\d+\.jsonl$/.test(n));
    if (journal) {
      const file = path.join(state, journal);
      const size = statSync(file).size;
      const fd = openSync(file, 'r');
      const tail = Buffer.alloc(Math.min(size, 4 * 1024 * 1024));
      readSync(fd, tail, 0, tail.length, size - tail.length);
      closeSync(fd);
      const seen = [...tail.toString('utf8').matchAll(/"seen":(\d+)/g)].at(-1);
      if (seen) return Number(seen[1]);
    }
    return (JSON.parse(readFileSync(path.join(state, 'detect.json'), 'utf8')) as { engine: { stats: { events: number } } | null }).engine?.stats.events ?? 0;
  } catch {
    return 0;
  }
}

/** Runs collect over the log directory until the jsonl has `expect` lines (and detection, when on, holds as many events). */
async function throughputRun(dir: string, logs: string, detect: boolean, expect: number): Promise<number> {
  const out = path.join(dir, 'out.jsonl');
  const state = path.join(dir, 'state');
  const config = path.join(dir, 'pgwarden.yaml');
  writeFileSync(config, `${detect ? 'detect:\n  in_collect: true\n' : ''}pipeline:
  sources:
    pglog: { type: logfile, path: ${logs}, pattern: 'postgresql-*.log', server: db1, prefix: '%m [%p] %q%u@%d ', state_dir: ${state}, idle_flush_ms: 100, poll_ms: 50 }
  sinks:
    out: { type: jsonl, path: ${out} }
  batch: { window_seconds: 0, max_events: 1000 }
`);
  const started = performance.now();
  const collect = startCollect(config, dir);
  const countLines = lineCounter(out);
  await until(() => countLines() >= expect || collect.child.exitCode !== null, 600_000, 'the jsonl sink', 50);
  if (detect) await until(() => detected(state) >= expect || collect.child.exitCode !== null, 600_000, 'the detection state', 50);
  const seconds = (performance.now() - started) / 1000;
  if (collect.child.exitCode !== null) throw new Error(`collect exited: ${collect.stderr()}`);
  await collect.stop();
  return seconds;
}

/** Connection-authorized lines (stderr, the same prefix): each a role of its own, so the facts learn every one. */
function loginLines(count: number): string {
  let text = '';
  const t0 = Date.UTC(2026, 10, 22, 9, 0, 0);
  for (let i = 0; i < count; i++) {
    const ts = new Date(t0 + i * 10).toISOString().replace('T', ' ').replace('Z', ' UTC');
    text += `${ts} [${5000 + (i % 97)}] r${i}@shop LOG:  connection authorized: user=r${i} database=shop application_name=psql\n`;
  }
  return text;
}

async function throughputPhase(root: string, total: number): Promise<void> {
  const text = lines(1, total);
  const mb = Buffer.byteLength(text) / 1e6;
  console.log(`C. collect throughput: ${total} pgAudit records, ${mb.toFixed(1)} MB (stderr), jsonl sink with fsync, max_events 1000`);
  const runs: Record<string, number> = {};
  for (const [name, detect] of [['off', false], ['on', true]] as const) {
    const dir = path.join(root, `throughput-${name}`);
    const logs = path.join(dir, 'logs');
    mkdirSync(logs, { recursive: true });
    writeFileSync(path.join(logs, 'postgresql-1.log'), text);
    runs[name] = await throughputRun(dir, logs, detect, total);
    console.log(`  detection ${name.padEnd(3)}: ${Math.round(total / runs[name]!).toLocaleString('en')} events/s, ${(mb / runs[name]!).toFixed(1)} MB/s, ${runs[name]!.toFixed(2)} s`);
  }
  console.log(`  ratio on/off (the peer: the same collect without detection): ${(runs.off! / runs.on!).toFixed(2)}`);

  // a big state first: 100,000 roles that logged in, then the same records as above
  const dir = path.join(root, 'throughput-big');
  const logs = path.join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const seed = 100_000;
  writeFileSync(path.join(logs, 'postgresql-0.log'), loginLines(seed));
  await throughputRun(dir, logs, true, seed);
  const stateBytes = statSync(path.join(dir, 'state', 'detect.json')).size;
  rmSync(path.join(dir, 'out.jsonl'));
  writeFileSync(path.join(logs, 'postgresql-1.log'), text);
  const big = await throughputRun(dir, logs, true, total);
  console.log(`  detection on, detect.json ${(stateBytes / 1e6).toFixed(1)} MB beforehand (${seed.toLocaleString('en')} roles' logins learned): ${Math.round(total / big).toLocaleString('en')} events/s, ${big.toFixed(2)} s;`
    + ` ratio to detection off ${(runs.off! / big).toFixed(2)}, detect.json now ${(statSync(path.join(dir, 'state', 'detect.json')).size / 1e6).toFixed(1)} MB`);
}

export async function runCollectPhases(args: string[]): Promise<void> {
  const samples = option(args, '--samples', 200);
  const total = option(args, '--events', 200_000);
  const root = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-detect-collect-'));
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({
      flavor: 'pg16', settings: {
        log_destination: "'csvlog'", logging_collector: 'on', log_filename: "'postgresql-%Y%m%d_%H%M%S.log'", log_connections: 'on',
      },
    });
    const hba = path.join(cluster.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host all all 127.0.0.0/8 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await cluster.query('SELECT pg_catalog.pg_reload_conf()');
    await cluster.query(`DO $$ BEGIN FOR i IN 0..${2 * samples - 1} LOOP EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', 'bench_' || i, '${PASSWORD}'); END LOOP; END $$`);
    console.log(`B. log write → webhook (brute_force alert, HMAC-signed JSON) in collect on a live PostgreSQL 16 csvlog, ${samples} incidents per setting:`);
    const tunings: [string, Tuning][] = [
      ['collect defaults (poll_ms 1000, idle_flush_ms 1000, batch window 2 s)', { batch: '', source: '' }],
      ['low latency (poll_ms 100, idle_flush_ms 100, batch window 0.2 s)', { batch: '  batch: { window_seconds: 0.2 }', source: ', poll_ms: 100, idle_flush_ms: 100' }],
    ];
    for (const [i, [name, tuning]] of tunings.entries()) await latencyPhase(cluster, root, name, tuning, samples, i * samples);
    if (!args.includes('--latency-only')) await throughputPhase(root, total);
  } finally {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
