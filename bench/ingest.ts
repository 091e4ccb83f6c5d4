// npm run bench:ingest [-- --mb 200] [--flavor pg18|pg15] [--rounds 3] [--repeat 3] [--ingest-only] [--peer DIR]
// --ingest-only: the stderr file and the ingest rounds alone, without the parse and pgBadger figures.
// --peer DIR: another built pgwarden checkout (an earlier release, say `git worktree add DIR <tag>`
// and `npm run build` there) ingests the same file in each round, alternating with this one, each into
// a fresh database migrated by its own `repo migrate`; the ratio this/peer of the medians is printed.
// The machine's speed wanders, so only a ratio measured in the same run says "no slower".
// BENCH_SETTINGS='{"max_wal_size":"\'4GB\'"}' passes server settings to the repository cluster.
//
// The whole set of figures in one run: generates ≥ 200 MB of pgAudit traffic as
// PostgreSQL writes it in stderr, csvlog and jsonlog (bench/parse.ts), times `pgwarden parse`
// per format and pgBadger on the stderr file (ratios; target ≥ 20×), then starts a disposable
// PostgreSQL 18 (the embedded one) for the repository and times `pgwarden ingest` of the stderr
// file as a process (parse + COPY + dedup + sessions + hourly counts), into a fresh database each
// round (the median is the figure: this machine's speed wanders by ±10 % from run to run), and a
// second ingest of the same file (all duplicates). Target: ≥ 100,000 events/s on 2 cores.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, type Flavor } from '../src/demo/disposable-postgres.ts';
import { PREFIX, generate, measureParsing } from './parse.ts';

const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
const args = process.argv.slice(2);
const mb = Number(args[args.indexOf('--mb') + 1] ?? 200) || 200;
const flavor = (args.includes('--flavor') ? args[args.indexOf('--flavor') + 1] : 'pg18') as Flavor;
const rounds = Number(args.includes('--rounds') ? args[args.indexOf('--rounds') + 1] : 3) || 3;
const ingestOnly = args.includes('--ingest-only');
const peerArg = args.includes('--peer') ? args[args.indexOf('--peer') + 1] : undefined;
if (args.includes('--peer') && (peerArg === undefined || peerArg.startsWith('--'))) {
  console.error('--peer: expected the folder of a built pgwarden checkout');
  process.exit(2);
}
const peerDir = peerArg === undefined ? null : path.resolve(peerArg);
const PEER_BIN = peerDir === null ? null : path.join(peerDir, 'bin', 'pgwarden.js');
if (PEER_BIN !== null && (!existsSync(PEER_BIN) || PEER_BIN === BIN)) {
  console.error(`--peer ${peerDir}: no other pgwarden checkout there (expected a built one with bin/pgwarden.js, not this one)`);
  process.exit(2);
}

const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function timed(argv: string[], env: NodeJS.ProcessEnv, bin = BIN): Promise<{ seconds: number; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGWARDEN_CONFIG: '', ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, stderr, code }));
  });
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-ingest-'));
let cluster: Awaited<ReturnType<typeof startCluster>> | null = null;
try {
  console.log(`generating ≥ ${mb} MB of pgAudit traffic per format in ${dir} …`);
  const files = await generate(dir, mb, ingestOnly);
  if (!ingestOnly) await measureParsing(dir, files);

  cluster = await startCluster({ flavor, settings: process.env.BENCH_SETTINGS ? JSON.parse(process.env.BENCH_SETTINGS) as Record<string, string> : undefined });
  const file = files.stderr;
  const size = statSync(file).size / 1e6;
  const env = { PGPASSWORD: cluster.superuserPassword };
  const line = (what: string, events: number, seconds: number) =>
    `${what.padEnd(36)} ${size.toFixed(0)} MB, ${events} events in ${seconds.toFixed(2)} s: ${(size / seconds).toFixed(1)} MB/s, ${Math.round(events / seconds)} events/s`;
  console.log(`repository: PostgreSQL ${flavor} (disposable), ${os.cpus().length} CPUs`);
  const rates: number[] = [];
  let last = { url: '', args: [] as string[], events: 0 };
  // One ingest of the file into a fresh database, migrated by the same checkout's `repo migrate`.
  const ingestOnce = async (bin: string, what: string) => {
    const db = await cluster!.createDatabase();
    const url = new URL(cluster!.url(db));
    url.password = '';
    const migrate = await timed(['repo', 'migrate', '--repo', url.toString()], env, bin);
    if (migrate.code !== 0) throw new Error(`${what}: repo migrate failed: ${migrate.stderr}`);
    const ingestArgs = ['ingest', file, '--repo', url.toString(), '--format', 'stderr', '--prefix', PREFIX, '--server', 'bench'];
    const run = await timed(ingestArgs, env, bin);
    if (run.code !== 0) throw new Error(`${what}: pgwarden ingest failed: ${run.stderr}`);
    const events = Number(/: (\d+) events/.exec(run.stderr)?.[1] ?? 0);
    const inserted = Number(/inserted (\d+)/.exec(run.stderr)?.[1] ?? -1);
    if (inserted !== events) throw new Error(`${what}: ingest inserted ${inserted} of ${events} events: ${run.stderr}`);
    return { db, ingestArgs, events, seconds: run.seconds };
  };
  const peerRates: number[] = [];
  const peerRound = async (peerBin: string, round: number) => {
    const peer = await ingestOnce(peerBin, 'peer');
    console.log(line(`peer ingest, round ${round} (new)`, peer.events, peer.seconds));
    peerRates.push(peer.events / peer.seconds);
  };
  for (let round = 1; round <= rounds; round++) {
    // Alternating which goes first, so a slow spell of the machine falls on both alike.
    if (PEER_BIN !== null && round % 2 === 0) await peerRound(PEER_BIN, round);
    const run = await ingestOnce(BIN, 'this');
    console.log(line(`pgwarden ingest, round ${round} (new)`, run.events, run.seconds));
    rates.push(run.events / run.seconds);
    last = { url: run.db, args: run.ingestArgs, events: run.events };
    if (PEER_BIN !== null && round % 2 === 1) await peerRound(PEER_BIN, round);
  }
  const again = await timed(last.args, env);
  const duplicates = Number(/duplicates (\d+)/.exec(again.stderr)?.[1] ?? -1);
  console.log(line('pgwarden ingest again (duplicates)', last.events, again.seconds) + ` — ${duplicates} duplicates, 0 expected new`);
  const { rows, bytes } = (await cluster.query<{ rows: string; bytes: string }>(
    `SELECT (SELECT count(*) FROM pgwarden_repo.events) AS rows,
       (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'pgwarden_repo.events'::regclass) AS bytes`, [], last.url)).rows[0]!;
  console.log(`rows in pgwarden_repo.events: ${rows}; partitions with indexes: ${(Number(bytes) / 1e6).toFixed(0)} MB`);
  const median = medianOf(rates);
  console.log(`ingest, median of ${rounds} rounds: ${Math.round(median)} events/s (rounds: ${rates.map((r) => Math.round(r)).join(', ')}); target ≥ 100,000 events/s: ${median >= 100_000 ? 'met' : 'NOT met'}`);
  if (peerRates.length > 0) {
    const peerMedian = medianOf(peerRates);
    console.log(`peer (${peerDir}), median of ${rounds} rounds: ${Math.round(peerMedian)} events/s (rounds: ${peerRates.map((r) => Math.round(r)).join(', ')}); `
      + `this/peer: ${(median / peerMedian).toFixed(2)}× (1.00 or more: no slower)`);
  }
} finally {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}
