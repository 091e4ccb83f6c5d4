// npm run bench:fleet [-- --events 100000 --batch 1000 --writer-batch 10000]
//
// A fleet on this machine: two collector processes (`pgwarden collect`, a logfile source each,
// servers db1 and db2 -> nats sink) publish to a real `nats-server -js`, and a repository writer
// (`pgwarden collect`, nats source -> repository sink) stores into a disposable PostgreSQL 18.
// Three runs, each on a fresh stream and repository database:
//   1. the collectors alone: publish rate of each collector and of both (until JetStream has acknowledged every event);
//   2. the writer alone, on what run 1 published: write rate (until the repository has every event);
//   3. everything at once, end to end: events/s from the first byte read to the last row committed.
// Absolute figures (no peer to compare with); the machine's 2 cores are shared by all processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { runCli } from '../test/harness/cli.ts';
import { startNats } from '../test/harness/nats.ts';
import { startCluster } from '../test/harness/postgres.ts';
import { lines } from '../test/pipeline/collect-helpers.ts';

const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback);
const perCollector = option('--events', 100_000);
const batch = option('--batch', 1000);
const writerBatch = option('--writer-batch', 10_000);
const SERVERS = ['db1', 'db2'];
const total = perCollector * SERVERS.length;

interface Collect { child: ChildProcess; delivered: number }

// collect processes do not outlive the benchmark, even when it is interrupted
const children = new Set<ChildProcess>();
process.on('exit', () => { for (const child of children) child.kill('SIGKILL'); });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** `pgwarden collect`; counts the events its sinks report delivered (its "delivered" log lines). */
function collect(config: string): Collect {
  const child = spawn(process.execPath, [BIN, 'collect', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGWARDEN_CONFIG: '', PGWARDEN_LOG_LEVEL: 'info' } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const run: Collect = { child, delivered: 0 };
  let rest = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString();
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (!line.includes('"msg":"delivered"')) {
        if (/"level":[4-6]0/.test(line)) process.stderr.write(`${line}\n`);
        continue;
      }
      run.delivered += (JSON.parse(line) as { events: number }).events;
    }
  });
  return run;
}

async function stop({ child }: Collect): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Polls until `done` holds, calling `progress` on each poll; returns the seconds it took. */
async function until(start: number, done: () => Promise<boolean>, what: string, timeoutSeconds = 900): Promise<number> {
  for (;;) {
    if (await done()) return (performance.now() - start) / 1000;
    if (performance.now() - start > timeoutSeconds * 1000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const rate = (events: number, seconds: number) => `${Math.round(events / seconds).toLocaleString('en-US')} events/s (${events.toLocaleString('en-US')} in ${seconds.toFixed(2)} s)`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-fleet-'));
const [nats, cluster] = await Promise.all([startNats(), startCluster({ flavor: 'pg18' })]);
const nc = await connect({ servers: nats.url });
try {
  const jsm = await jetstreamManager(nc);
  process.env.BENCH_REPO_PASSWORD = cluster.superuserPassword;
  let bytes = 0;
  for (const server of SERVERS) {
    mkdirSync(path.join(dir, 'logs', server), { recursive: true });
    const file = path.join(dir, 'logs', server, 'postgresql-1.log');
    writeFileSync(file, lines(1, perCollector, { user: server === 'db1' ? 'alice' : 'bob' }));
    bytes += statSync(file).size;
  }
  console.log(`fleet: ${SERVERS.length} collectors x ${perCollector.toLocaleString('en-US')} pgAudit records (${(bytes / 1e6).toFixed(1)} MB of stderr log), batch.max_events ${batch} (collectors) and ${writerBatch} (writer), nats-server ${nats.url} (JetStream, file store), PostgreSQL 18 repository; ${os.cpus().length} cores`);

  async function repository(name: string): Promise<string> {
    await cluster.createDatabase(name);
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url(name)]);
    if (migrate.code !== 0) throw new Error(migrate.stderr);
    const url = new URL(cluster.url(name));
    url.password = '';
    return url.toString();
  }

  function configs(run: string, repoUrl: string): { collectors: string[]; writer: string } {
    const base = path.join(dir, run);
    mkdirSync(base, { recursive: true });
    const natsSettings = `servers: ['${nats.url}'], stream: BENCH_${run.toUpperCase()}, subject_prefix: bench.${run}`;
    const collectors = SERVERS.map((server) => {
      const file = path.join(base, `collector-${server}.yaml`);
      writeFileSync(file, `pipeline:
  sources:
    ${server}: { type: logfile, path: ${path.join(dir, 'logs', server)}, pattern: 'postgresql-*.log', server: ${server}, prefix: '%m [%p] %q%u@%d ', state_dir: ${path.join(base, `state-${server}`)}, idle_flush_ms: 100, poll_ms: 50 }
  sinks:
    fleet: { type: nats, ${natsSettings} }
  batch: { window_seconds: 0, max_events: ${batch} }
`);
      return file;
    });
    const writer = path.join(base, 'writer.yaml');
    writeFileSync(writer, `pipeline:
  sources:
    fleet: { type: nats, ${natsSettings}, durable: writers }
  sinks:
    repo: { type: repository, url: '${repoUrl}', password_env: BENCH_REPO_PASSWORD }
  batch: { window_seconds: 0, max_events: ${writerBatch} }
`);
    return { collectors, writer };
  }

  const stored = async (database: string) => (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden_repo.events', [], database)).rows[0]!.n;

  // 1. collectors alone
  const publishRepo = await repository('bench_publish');
  const run1 = configs('publish', publishRepo);
  const start1 = performance.now();
  const collectors = run1.collectors.map(collect);
  const finished = new Map<string, number>();
  await until(start1, async () => {
    SERVERS.forEach((server, i) => {
      if (!finished.has(server) && collectors[i]!.delivered >= perCollector) finished.set(server, (performance.now() - start1) / 1000);
    });
    return finished.size === SERVERS.length;
  }, 'the collectors to publish');
  const publishSeconds = Math.max(...finished.values());
  await Promise.all(collectors.map(stop));
  for (const server of SERVERS) console.log(`collector ${server} -> NATS (publish, acknowledged by JetStream): ${rate(perCollector, finished.get(server)!)}`);
  console.log(`both collectors together -> NATS: ${rate(total, publishSeconds)}`);

  // 2. the writer alone, on the published stream
  const start2 = performance.now();
  const writer = collect(run1.writer);
  const writeSeconds = await until(start2, async () => (await stored('bench_publish')) >= total, 'the writer');
  await stop(writer);
  console.log(`writer NATS -> repository (one process, COPY committed before ack): ${rate(total, writeSeconds)}`);

  // 3. end to end, all at once
  const e2eRepo = await repository('bench_e2e');
  const run3 = configs('e2e', e2eRepo);
  const start3 = performance.now();
  const all = [collect(run3.writer), ...run3.collectors.map(collect)];
  const e2eSeconds = await until(start3, async () => (await stored('bench_e2e')) >= total, 'end to end');
  await Promise.all(all.map(stop));
  console.log(`end to end, 2 collectors -> NATS -> 1 writer -> repository, all at once: ${rate(total, e2eSeconds)}`);
  const info = await jsm.streams.info('BENCH_E2E');
  console.log(`JetStream store for the e2e run: ${(info.state.bytes / 1e6).toFixed(1)} MB for ${total.toLocaleString('en-US')} events in ${info.state.messages.toLocaleString('en-US')} messages (${Math.round(info.state.bytes / total)} bytes/event)`);
} finally {
  await nc.close();
  await nats.stop();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
