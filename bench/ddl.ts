// Benchmark: what the DDL audit costs a schema change, on PostgreSQL 18 and 15.
//
// One server per version, two databases on it: `plain` without pgwarden and `audited` with it
// installed (event triggers on ddl_command_start/end, sql_drop, table_rewrite; the policy
// trigger installed but off, as by default). Each round runs a loop of CREATE TABLE /
// DROP TABLE pairs (autocommit, one connection) in both databases, the order alternating
// between rounds; medians over rounds give the ratio. Target: audited ≤ 1.5× plain.
// Production durability settings (fsync on), since every DDL commit flushes WAL.
// This is a measurement, not a test: it always exits 0 once it has measured.
//
// Environment: BENCH_PAIRS per round (default 1000), BENCH_ROUNDS (default 5), BENCH_FLAVORS (default pg18,pg15).
import pg from 'pg';
import { installSchema, newRecorderPassword } from '../src/sensors/index.ts';
import { startCluster, type Flavor } from '../test/harness/postgres.ts';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FLAVORS = (process.env.BENCH_FLAVORS ?? 'pg18,pg15').split(',') as Flavor[];
const TARGET = 1.5;

async function loop(url: string, round: number): Promise<number> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-ddl' });
  await client.connect();
  try {
    const started = process.hrtime.bigint();
    for (let i = 0; i < PAIRS; i++) {
      await client.query(`CREATE TABLE bench_${round}_${i} (id bigint PRIMARY KEY, payload text)`);
      await client.query(`DROP TABLE bench_${round}_${i}`);
    }
    return Number(process.hrtime.bigint() - started) / 1e6;
  } finally {
    await client.end();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(flavor: Flavor): Promise<{ flavor: Flavor; plain: number; audited: number; rows: number }> {
  const cluster = await startCluster({ flavor, settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' } });
  try {
    await cluster.createDatabase('plain');
    await cluster.createDatabase('audited');
    const admin = new pg.Client({ connectionString: cluster.url('audited') });
    await admin.connect();
    await installSchema(admin, newRecorderPassword());
    const plain: number[] = [];
    const audited: number[] = [];
    // A warm-up round in each, not counted.
    await loop(cluster.url('plain'), 0);
    await loop(cluster.url('audited'), 0);
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 0 ? ['plain', 'audited'] : ['audited', 'plain'];
      for (const db of order) {
        const ms = await loop(cluster.url(db), round);
        (db === 'plain' ? plain : audited).push(ms);
        process.stderr.write(`${flavor} round ${round}/${ROUNDS} ${db}: ${ms.toFixed(0)} ms\n`);
      }
    }
    // The audit really recorded every change: 2 rows per pair (the table; the pkey index on create), 1 per drop.
    const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden.ddl_events');
    await admin.end();
    return { flavor, plain: median(plain), audited: median(audited), rows: rows[0]!.n };
  } finally {
    await cluster.stop();
  }
}

const results = [];
for (const flavor of FLAVORS) results.push(await measure(flavor));
console.log(`\nDDL audit cost: ${PAIRS} CREATE TABLE + DROP TABLE pairs per round, median of ${ROUNDS} rounds, fsync on`);
console.log('server  plain ms  audited ms  plain pairs/s  audited pairs/s  ratio (audited/plain)  target  rows recorded');
for (const r of results) {
  const ratio = r.audited / r.plain;
  console.log(`${r.flavor.padEnd(6)}  ${r.plain.toFixed(0).padStart(8)}  ${r.audited.toFixed(0).padStart(10)}  ${(PAIRS / r.plain * 1000).toFixed(0).padStart(13)}  ${(PAIRS / r.audited * 1000).toFixed(0).padStart(15)}  ${ratio.toFixed(2).padStart(21)}  ≤ ${TARGET}  ${ratio <= TARGET ? 'met' : 'MISSED'}  ${r.rows}`);
}
