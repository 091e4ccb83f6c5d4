// A repository as an auditor finds it, for the browser tests (and for looking at the pages by
// hand: `node --import tsx test/server/dashboard-fixture.ts` serves it until Ctrl-C): the morning
// of fixtures.ts, plus what strains a layout — long application names, IPv6 clients, a long
// multi-statement script, an UPDATE audited as SESSION and OBJECT — and three real monitoring runs
// of the cluster itself, the oldest with a stricter threshold so that a check's history changes.
import pg from 'pg';
import pino from 'pino';
import { configSchema } from '../../src/core/config.ts';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { checkServers, installMonitor } from '../../src/monitor/index.ts';
import { migrateRepository, storeIncident } from '../../src/repository/index.ts';
import type { Alert } from '../../src/detect/alert.ts';
import { setIncidentState } from '../../src/server/queries/incidents.ts';
import { addUser, startServe, type RunningServe } from '../../src/server/index.ts';
import { storeResults } from '../../src/server/queries/monitoring.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { morning, store } from './fixtures.ts';

export const PASSWORD = 'browser test password';
export const LONG_SCRIPT = `/* release 2026.11.30 */ ${Array.from({ length: 12 }, (_, i) =>
  `ALTER TABLE public.orders ADD COLUMN note_${i} text DEFAULT 'a fairly long default value number ${i}'`).join('; ')}; DROP TABLE public.orders_old`;

export interface Dashboard {
  cluster: Cluster;
  server: RunningServe;
  stop(): Promise<void>;
}

/** The extra events: what makes tables wide and rows look alike. */
function strain(now: Date): PgwardenEvent[] {
  const events: PgwardenEvent[] = [];
  let position = 1_000_000;
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
  const base = (kind: PgwardenEvent['kind'], minutesAgo: number, fields: Partial<PgwardenEvent>): PgwardenEvent =>
    ({ ...newEvent(kind, 'db1', { input: '/var/log/postgresql/postgresql-extra.csv', position: (position += 300), line: null }), ts: at(minutesAgo), ...fields });
  const apps = ['Microsoft SQL Server Management Studio - Query Editor (reporting-prod-eu-west-1)', 'pgAdmin 4 - CONN:1234567 - DB:shop - USER:bi_reader_with_a_long_name',
    'DBeaver 24.1.0 - SQLEditor <Script-17.sql> <shop> <public>', 'orders-service/v2.31.7 (build 2026-11-28T11:02:13Z; commit 9f3e2a1c)'];
  const clients = ['2001:db8:85a3:0:0:8a2e:370:7334', '2001:db8:1234:5678:9abc:def0:1234:5678', '10.200.101.202', '[local]'];
  for (let i = 0; i < 12; i++) {
    const id = `6b0b${String(i).padStart(4, '0')}.2${String(i).padStart(3, '0')}`;
    const who = { session_id: id, pid: 5000 + i, user: `service_account_for_reporting_${i % 4}`, database: 'analytics_warehouse', client_addr: clients[i % 4]!, application: apps[i % 4]! };
    events.push(base('connection_authorized', 100 - i, who));
    events.push(base('disconnection', 99 - i, { ...who, duration_ms: 60_000 }));
    if (i % 3 === 0) events.push(base('auth_failed', 98 - i, { ...who, session_id: null, severity: 'FATAL', sqlstate: '28P01', message: `password authentication failed for user "${who.user}"` }));
    if (i % 4 === 1) events.push(base('guard_deny', 97 - i, { ...who, session_id: null, severity: 'FATAL', sqlstate: '28000', message: 'pgwarden: GUI tools are not allowed', guard: { rule_id: 2, reason: 'GUI tools are not allowed on the analytics warehouse outside the maintenance window', problem: null } }));
  }
  // one UPDATE, audited twice: as the session's statement and as an object access (pgaudit.role)
  const update = "UPDATE hr.salaries SET salary = salary * 1.1 WHERE department_id IN (SELECT id FROM hr.departments WHERE name = 'engineering') AND hired_before < '2026-01-01'";
  const who = { session_id: '6b0a0002.1002', pid: 4002, user: 'alice', database: 'shop', client_addr: '10.0.0.9', application: 'psql' };
  for (const type of ['SESSION', 'OBJECT'] as const) {
    events.push(base('audit', 59.5, { ...who, session_line: 20, audit: { type, statement_id: 9, substatement_id: 1, class: 'WRITE', command: 'UPDATE', object_type: 'TABLE', object_name: 'hr.salaries', statement: update, parameters: null, statement_logged: 'yes', rows: 42 } }));
  }
  events.push(base('audit', 59.4, { ...who, session_line: 21, audit: { type: 'SESSION', statement_id: 10, substatement_id: 1, class: 'DDL', command: 'ALTER TABLE', object_type: 'TABLE', object_name: 'public.orders', statement: LONG_SCRIPT, parameters: null, statement_logged: 'yes', rows: null } }));
  let ddlId = 100;
  for (const tag of ['ALTER TABLE', 'ALTER TABLE', 'DROP TABLE']) {
    ddlId++;
    events.push(base('ddl', 15, {
      user: 'release_manager', database: 'shop', client_addr: '2001:db8:85a3:0:0:8a2e:370:7334', application: 'flyway 10.21 (release pipeline)', message: tag, query: LONG_SCRIPT,
      source: { input: 'ddl:db1/shop', position: ddlId, line: null },
      ddl: { id: ddlId, txid: 4242, event: tag === 'DROP TABLE' ? 'sql_drop' : 'ddl_command_end', current_user: 'release_manager', command_tag: tag, object_type: 'table',
        object_identity: tag === 'DROP TABLE' ? 'public.orders_old' : 'public.orders', schema: 'public', in_extension: false, statement: LONG_SCRIPT, change_ticket: 'CHG-2044', server_addr: null, server_port: null, detail: null },
    }));
  }
  return events;
}

/** Two incidents of the detection rules over the strain's events: failed logins (open) and the salary UPDATE (acknowledged, with a comment). */
async function storeIncidents(client: pg.Client, events: PgwardenEvent[]): Promise<void> {
  const alert = (rule: string, severity: Alert['severity'], of: PgwardenEvent[], summary: string): Alert => ({
    rule, severity, state: 'open', id: `fixture-${rule}`, server: 'db1', first_ts: of[0]!.ts, last_ts: of.at(-1)!.ts, count: of.length,
    user: of[0]!.user, database: of[0]!.database, client_addr: of[0]!.client_addr, application: of[0]!.application, group: { user: of[0]!.user },
    summary, tags: ['attack.t1110'], events: of.map((e) => ({ input: e.source.input, position: e.source.position })), sessions: [], notices: 1,
    responses: [{ action: 'lock_role', target: { role: of[0]!.user }, would: `lock role ${of[0]!.user} for 15 min`, done: false, skipped: null } as unknown as Alert['responses'][number]],
  });
  const failed = events.filter((e) => e.kind === 'auth_failed');
  await storeIncident(client, alert('brute_force', 'high', failed, `${failed.length} failed logins for service accounts from ${failed[0]!.client_addr}`));
  const update = events.filter((e) => e.kind === 'audit' && e.audit?.command === 'UPDATE');
  await storeIncident(client, alert('sensitive_write', 'critical', update, 'alice changed hr.salaries (42 rows) from psql, outside the change window'));
  await setIncidentState(client, 'fixture-sensitive_write', 'acknowledged', 'admin', 'Payroll run, confirmed with HR (CHG-2045)');
}

export async function startDashboard(options: { listen?: string } = {}): Promise<Dashboard> {
  const cluster = await startCluster({ flavor: 'pg18' });
  try {
    await cluster.createDatabase('repo');
    await cluster.createRole('monitoring', 'monitoring-password');
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    await migrateRepository(client);
    await addUser(client, 'auditor', 'viewer', PASSWORD);
    await addUser(client, 'admin', 'admin', PASSWORD);
    await client.end();
    const now = new Date();
    const strained = strain(now);
    await store(cluster.url('repo'), [...morning(now).events, ...strained]);
    const incidents = new pg.Client({ connectionString: cluster.url('repo') });
    await incidents.connect();
    await storeIncidents(incidents, strained);
    await incidents.end();
    const postgres = new pg.Client({ connectionString: cluster.url('postgres') });
    await postgres.connect();
    await installMonitor(postgres, 'monitoring');
    await postgres.end();
    // three real runs of the checks, stored as if an hour apart; the first with connections' warning at 1
    const target = { name: 'db1', target: { url: cluster.url('postgres', 'monitoring', 'monitoring-password'), label: 'db1' } };
    const repo = new pg.Client({ connectionString: cluster.url('repo') });
    await repo.connect();
    for (const [hoursAgo, settings] of [[2, { connections: { warning: 1 } }], [1, {}], [0, {}]] as const) {
      const [result] = await checkServers([target], { settings });
      await storeResults(repo, result!, new Date(now.getTime() - hoursAgo * 3_600_000 - 1000));
    }
    await repo.end();
    const server = await startServe({
      config: configSchema.parse({ serve: { listen: options.listen ?? '127.0.0.1:0' } }),
      repository: { url: cluster.url('repo'), label: 'test repository' },
      log: pino({ level: 'silent' }),
    });
    return { cluster, server, async stop() { await server.close(); await cluster.stop(); } };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

// By hand: serve the fixture and wait.
if (import.meta.url === `file://${process.argv[1]}`) {
  const dashboard = await startDashboard({ listen: process.env.LISTEN ?? '127.0.0.1:0' });
  process.stdout.write(`${dashboard.server.url} (auditor / admin, password "${PASSWORD}")\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await dashboard.stop();
}
