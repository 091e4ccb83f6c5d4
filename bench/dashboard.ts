// npm run bench:dashboard [-- --events 5000000] [--days 7] [--runs 30]
//
// The dashboard with 5 million events in the repository: seeds them in SQL (dashboard-seed.ts;
// a few minutes), runs `pgwarden serve` in-process on a free loopback port, and times every API
// route and the main pages over real HTTP with an API token, as a client would see them.
// Prints p50/p95/max per route against the issue's target: p95 < 300 ms.
import os from 'node:os';
import pg from 'pg';
import pino from 'pino';
import { configSchema } from '../src/core/config.ts';
import { freePort, startCluster } from '../src/demo/disposable-postgres.ts';
import { migrateRepository } from '../src/repository/index.ts';
import { addToken, addUser, startServe } from '../src/server/index.ts';
import { seedEvents } from './dashboard-seed.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const events = option('--events', 5_000_000);
const days = option('--days', 7);
const runs = option('--runs', 30);
const TARGET_MS = 300;

const cluster = await startCluster({ flavor: 'pg18', settings: { shared_buffers: "'512MB'", max_wal_size: "'4GB'", work_mem: "'16MB'" } });
let stop: (() => Promise<void>) | undefined;
try {
  await cluster.createDatabase('repo');
  const client = new pg.Client({ connectionString: cluster.url('repo') });
  await client.connect();
  await migrateRepository(client);
  const started = Date.now();
  let shown = 0;
  await seedEvents(client, {
    events, days,
    onProgress: (done, total) => {
      if (done - shown >= total / 10 || done === total) {
        shown = done;
        process.stdout.write(`seeded ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} events (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
      }
    },
  });
  // What autovacuum does to an insert-only table after a while: visibility map and statistics.
  await client.query('VACUUM ANALYZE pgwarden_repo.events');
  await client.query('VACUUM ANALYZE pgwarden_repo.sessions');
  const { rows: [size] } = await client.query<{ bytes: string; sessions: string }>(`SELECT
      (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'pgwarden_repo.events'::regclass) AS bytes,
      (SELECT count(*) FROM pgwarden_repo.sessions) AS sessions`);
  const { rows: [sample] } = await client.query<{ server: string; session_id: string }>(
    `SELECT server, session_id FROM pgwarden_repo.sessions ORDER BY started_at DESC LIMIT 1 OFFSET 500`);
  await addUser(client, 'bench', 'admin', 'bench-password-not-secret');
  const { token } = await addToken(client, 'bench', 'bench', null);
  await client.end();
  console.log(`repository: ${events.toLocaleString('en-US')} events over ${days} days, ${Number(size!.sessions).toLocaleString('en-US')} sessions, ` +
    `${(Number(size!.bytes) / 1e9).toFixed(2)} GB with indexes; seeded in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const port = await freePort();
  const config = configSchema.parse({ serve: { listen: `127.0.0.1:${port}` } });
  const running = await startServe({ config, repository: { url: cluster.url('repo'), label: 'bench repository' }, log: pino({ level: 'warn' }) });
  stop = running.close;
  const base = running.url.replace(/\/$/, '');
  const get = async (path: string): Promise<{ ms: number; status: number; body: string }> => {
    const t = performance.now();
    const response = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    const body = await response.text();
    return { ms: performance.now() - t, status: response.status, body };
  };
  // A cursor 20 pages deep into the last 24 hours of audit records, for "a page far down the list".
  let deep = '';
  for (let i = 0; i < 20; i++) {
    const page = JSON.parse((await get(`/api/audit?limit=50${deep ? `&cursor=${deep}` : ''}`)).body) as { next: string };
    deep = page.next;
  }
  const session = `server=${encodeURIComponent(sample!.server)}&id=${encodeURIComponent(sample!.session_id)}`;
  const routes: [string, string][] = [
    ['overview, 24 h', '/api/overview'],
    ['overview, 7 days', '/api/overview?from=7d'],
    ['overview, 1 hour (live 1-minute buckets)', '/api/overview?from=1h'],
    ['connections, 24 h', '/api/connections'],
    ['connections, 7 days', '/api/connections?from=7d'],
    ['refused connections list', '/api/connections/refused'],
    ['DDL timeline, 7 days', '/api/ddl?from=7d'],
    ['audit search: newest page, 24 h', '/api/audit'],
    ['audit search: 20 pages deep (cursor)', `/api/audit?cursor=${deep}`],
    ['audit search: one person, 7 days', '/api/audit?from=7d&user=person19'],
    ['audit search: unknown user, 7 days', '/api/audit?from=7d&user=nobody'],
    ['audit search: object hr.salaries, 7 days', '/api/audit?from=7d&object=hr.salaries'],
    ['audit search: WRITE DELETE, 24 h', '/api/audit?class=WRITE&command=DELETE'],
    ['audit search: text "salaries", 24 h', '/api/audit?text=salaries'],
    ['audit search: text found nowhere, 24 h', '/api/audit?text=drop%20database'],
    ['audit search: text found nowhere, 7 days', '/api/audit?from=7d&text=drop%20database'],
    ['sessions list, 24 h', '/api/sessions'],
    ['sessions of one person, 7 days', '/api/sessions?from=7d&user=person19'],
    ['one session with its events', `/api/session?${session}`],
    ['alerts, 24 h', '/api/alerts'],
    ['alerts, 7 days', '/api/alerts?from=7d'],
    ['monitoring status', '/api/monitoring'],
    ['/metrics', '/metrics'],
    ['page: overview', '/'],
    ['page: connections', '/connections'],
    ['page: audit search hr.salaries', '/audit?object=hr.salaries'],
    ['page: sessions', '/sessions'],
    ['page: one session', `/session?${session}`],
  ];
  console.log(`\n${runs} requests per route after 3 warm-up requests, one at a time, over HTTP on ${os.cpus().length} CPUs:`);
  console.log(`${'route'.padEnd(46)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}  p95 < ${TARGET_MS} ms`);
  let met = 0;
  for (const [name, path] of routes) {
    const times: number[] = [];
    for (let i = 0; i < runs + 3; i++) {
      const result = await get(path);
      if (result.status !== 200) throw new Error(`${path}: HTTP ${result.status} ${result.body.slice(0, 300)}`);
      if (i >= 3) times.push(result.ms);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
    const ok = at(0.95) < TARGET_MS;
    if (ok) met++;
    console.log(`${name.padEnd(46)} ${at(0.5).toFixed(1).padStart(8)} ${at(0.95).toFixed(1).padStart(8)} ${times[times.length - 1]!.toFixed(1).padStart(8)}  ${ok ? 'yes' : 'NO'}`);
  }
  const exportStarted = performance.now();
  const exported = await get('/api/audit/export?format=csv&from=1h');
  const exportMs = performance.now() - exportStarted;
  const lines = exported.body.split('\r\n').length - 2;
  console.log(`\n${met} of ${routes.length} routes meet p95 < ${TARGET_MS} ms`);
  console.log(`CSV export of the last hour's audit records: ${lines.toLocaleString('en-US')} rows in ${(exportMs / 1000).toFixed(2)} s (${Math.round(lines / (exportMs / 1000)).toLocaleString('en-US')} rows/s)`);
} finally {
  await stop?.();
  await cluster.stop();
}
