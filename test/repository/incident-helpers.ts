// What the incident tests of the repository share: a cluster with a migrated repository (database
// repo, the writer login ingest_login and the dashboard login dashboard_login), and the alert
// they store, which each test varies.
import pg from 'pg';
import type { Alert } from '../../src/detect/alert.ts';
import { migrateRepository } from '../../src/repository/index.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

/** PostgreSQL 17 with database repo migrated (and `more` databases left empty), and its two logins. */
export async function incidentRepository(more: string[] = []): Promise<Cluster> {
  const cluster = await startCluster({ flavor: 'pg17' });
  for (const database of ['repo', ...more]) await cluster.createDatabase(database);
  await cluster.createRole('ingest_login', 'ingest-pw');
  await cluster.createRole('dashboard_login', 'dashboard-pw');
  const client = new pg.Client({ connectionString: cluster.url('repo') });
  await client.connect();
  try {
    await migrateRepository(client, { writerLogins: ['ingest_login'], serverLogins: ['dashboard_login'] });
  } finally {
    await client.end();
  }
  return cluster;
}

/** A brute-force alert of five failed logins for mallory, open, with two events; `extra` changes any field. */
export function bruteForceAlert(extra: Partial<Alert> = {}): Alert {
  return {
    rule: 'brute_force', severity: 'high', state: 'open', id: 'late-1', server: 'db1',
    first_ts: '2026-12-01T10:00:00.000Z', last_ts: '2026-12-01T10:00:05.000Z', count: 5,
    user: 'mallory', database: 'shop', client_addr: '203.0.113.9', application: 'psql',
    group: { user: 'mallory' }, summary: '5 failed logins for mallory', tags: ['attack.credential_access'],
    events: [{ input: '/var/log/pg.log', position: 100 }, { input: '/var/log/pg.log', position: 105 }],
    sessions: [], notices: 1, responses: [], ...extra,
  };
}
