// npm run bench:dashboard-writes [-- 400000]
//
// What the dashboard costs the repository writer: the same audit-heavy events (batches of 10,000
// through RepositoryWriter, as ingest and collect write) into fresh repositories with and without
// the dashboard's partial indexes of migration 0003 (the hourly counts, kept by the writer since
// 0004, are a few rows per batch), alternating, four rounds; prints the best of each.
import pg from 'pg';
import { newEvent, type PgwardenEvent } from '../src/core/event.ts';
import { startCluster } from '../src/demo/disposable-postgres.ts';
import { migrateRepository, RepositoryWriter } from '../src/repository/index.ts';

const N = Number(process.argv[2] ?? 400_000);
const cluster = await startCluster({ flavor: 'pg18', settings: { shared_buffers: "'512MB'", max_wal_size: "'4GB'" } });
const start = Date.now() - 3_600_000;
function events(input: string): PgwardenEvent[] {
  const out: PgwardenEvent[] = [];
  for (let i = 0; i < N; i++) {
    const kind = i % 30 === 0 ? 'connection_authorized' : i % 97 === 0 ? 'auth_failed' : 'audit';
    const e = { ...newEvent(kind, 'db1', { input, position: i * 150, line: i }), ts: new Date(start + i * 5).toISOString(),
      session_id: `s${Math.floor(i / 30)}`, user: `user${i % 50}`, database: 'shop', application: 'app', client_addr: '10.0.0.1' };
    if (kind === 'audit') e.audit = { type: 'SESSION', statement_id: i, substatement_id: 1, class: 'READ', command: 'SELECT', object_type: 'TABLE',
      object_name: `public.t${i % 200}`, statement: `SELECT * FROM public.t${i % 200} WHERE id = ${i}`, parameters: null, statement_logged: 'yes', rows: 1 };
    out.push(e);
  }
  return out;
}
try {
  const VARIANTS = ['with the dashboard indexes', 'without'] as const;
  const results: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < 4; round++) {
    for (const variant of VARIANTS) {
      const db = await cluster.createDatabase();
      const client = new pg.Client({ connectionString: cluster.url(db) });
      await client.connect();
      await migrateRepository(client);
      if (variant === 'without') await client.query('DROP INDEX pgwarden_repo.events_kind_ts, pgwarden_repo.events_fatal_errors_ts');
      await client.end();
      const all = events(`f-${variant}-${round}`);
      const writer = new RepositoryWriter({ url: cluster.url(db), label: db });
      const t = performance.now();
      for (let i = 0; i < all.length; i += 10_000) await writer.write(all.slice(i, i + 10_000));
      results[variant]!.push(performance.now() - t);
      await writer.close();
    }
  }
  for (const [variant, times] of Object.entries(results)) {
    const best = Math.min(...times);
    console.log(`${variant.padEnd(28)} ${N} events: best ${(best / 1000).toFixed(2)} s (${Math.round(N / (best / 1000))} events/s); runs ${times.map((t) => (t / 1000).toFixed(2)).join(', ')} s`);
  }
} finally {
  await cluster.stop();
}
