// npm run bench:ingest [-- --mb 200] [--flavor pg18|pg15]
// BENCH_SETTINGS='{"max_wal_size":"\'4GB\'"}' passes server settings to the repository cluster.
//
// End-to-end ingest: generates ≥ 200 MB of pgAudit traffic as a PostgreSQL stderr log (the
// generator of bench/parse.ts), starts a disposable PostgreSQL 18 (the embedded one) for the
// repository, and times `pgwarden ingest` (parse + COPY + dedup insert + sessions) as a process.
// Prints events/s and MB/s, `pgwarden parse` alone on the same file for comparison (the ratio
// is what storing costs), and a second ingest of the same file (all duplicates). The issue's
// target: ≥ 100,000 events/s on a 2-core machine.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, type Flavor } from '../src/demo/disposable-postgres.ts';
import { PREFIX, generate } from './parse.ts';

const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
const args = process.argv.slice(2);
const mb = Number(args[args.indexOf('--mb') + 1] ?? 200) || 200;
const flavor = (args.includes('--flavor') ? args[args.indexOf('--flavor') + 1] : 'pg18') as Flavor;

function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGWARDEN_CONFIG: '', ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, stderr, code }));
  });
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-ingest-'));
const cluster = await startCluster({ flavor, settings: process.env.BENCH_SETTINGS ? JSON.parse(process.env.BENCH_SETTINGS) as Record<string, string> : undefined });
try {
  console.log(`generating ≥ ${mb} MB of pgAudit traffic (stderr) in ${dir} …`);
  const file = (await generate(dir, mb, true)).stderr;
  const size = statSync(file).size / 1e6;
  await cluster.createDatabase('repo');
  const url = new URL(cluster.url('repo'));
  url.password = '';
  const env = { PGPASSWORD: cluster.superuserPassword };
  const migrate = await timed(['repo', 'migrate', '--repo', url.toString()], env);
  if (migrate.code !== 0) throw new Error(`repo migrate failed: ${migrate.stderr}`);

  const parse = await timed(['parse', file, '--format', 'stderr', '--prefix', PREFIX], {});
  if (parse.code !== 0) throw new Error(`pgwarden parse failed: ${parse.stderr}`);
  const ingestArgs = ['ingest', file, '--repo', url.toString(), '--format', 'stderr', '--prefix', PREFIX, '--server', 'bench'];
  const first = await timed(ingestArgs, env);
  if (first.code !== 0) throw new Error(`pgwarden ingest failed: ${first.stderr}`);
  const events = Number(/: (\d+) events/.exec(first.stderr)?.[1] ?? 0);
  const inserted = Number(/inserted (\d+)/.exec(first.stderr)?.[1] ?? -1);
  if (inserted !== events) throw new Error(`ingest inserted ${inserted} of ${events} events: ${first.stderr}`);
  const again = await timed(ingestArgs, env);
  const duplicates = Number(/duplicates (\d+)/.exec(again.stderr)?.[1] ?? -1);
  const { rows, bytes } = (await cluster.query<{ rows: string; bytes: string }>(
    `SELECT (SELECT count(*) FROM pgwarden_repo.events) AS rows,
       (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'pgwarden_repo.events'::regclass) AS bytes`, [], 'repo')).rows[0]!;

  const line = (what: string, seconds: number) =>
    `${what.padEnd(34)} ${size.toFixed(0)} MB, ${events} events in ${seconds.toFixed(2)} s: ${(size / seconds).toFixed(1)} MB/s, ${Math.round(events / seconds)} events/s`;
  console.log(`repository: PostgreSQL ${flavor} (disposable), ${os.cpus().length} CPUs`);
  console.log(line('pgwarden parse (no storing)', parse.seconds));
  console.log(line('pgwarden ingest (new events)', first.seconds));
  console.log(line('pgwarden ingest again (duplicates)', again.seconds) + ` — ${duplicates} duplicates, 0 expected new`);
  console.log(`rows in pgwarden_repo.events: ${rows}; partitions with indexes: ${(Number(bytes) / 1e6).toFixed(0)} MB`);
  console.log(`ratio ingest / parse time: ${(first.seconds / parse.seconds).toFixed(1)}×; target ≥ 100,000 events/s: ${events / first.seconds >= 100_000 ? 'met' : 'NOT met'}`);
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
