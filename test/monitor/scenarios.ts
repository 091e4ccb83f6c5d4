// One scenario per check, run on PostgreSQL 18 and 15 by checks-pg18/checks-pg15.test.ts:
// the check gives a sane value on a fresh server, then the test creates the condition the
// check looks for and the result changes ("0 findings -> create the bad object -> 1 finding").
// Every check runs as the unprivileged monitoring login, through the real runner.
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { RELEASES } from '../../src/monitor/checks/minor-version.ts';
import { checkServer, installMonitor, recordSettingsBaseline, uninstallMonitor, type CheckResult, type CheckSettings, type MonitorInstallOptions, type ServerTarget } from '../../src/monitor/index.ts';
import { installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import type { Target } from '../../src/core/db.ts';
import { freePort, startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';
import { waitFor } from '../harness/cli.ts';

export const LOGIN = 'pgw_monitor_login';
export const LOGIN_PASSWORD = 'monitor-login-pw';

export interface Ctx {
  cluster: Cluster;
  flavor: Flavor;
  target(database?: string): ServerTarget;
  /** Runs one check as the monitoring login; fails the test if the check itself errored. */
  run(check: string, options?: { database?: string; settings?: CheckSettings; allowError?: boolean }): Promise<CheckResult>;
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[], database?: string): Promise<pg.QueryResult<R>>;
  /** A superuser session kept open until the scenario ends. */
  session(database?: string, user?: string, password?: string): Promise<pg.Client>;
  /** A new database (cloned from template1, which has the monitor). */
  newDatabase(): Promise<string>;
  install(database: string, options?: MonitorInstallOptions): Promise<void>;
  /** A new database whose monitor was installed with --show-names (roles and pg_hba lines named). */
  namedDatabase(): Promise<string>;
  /** Runs at the end of the scenario, even when it failed. */
  defer(cleanup: () => Promise<unknown> | unknown): void;
}

export interface Scenario {
  check: string;
  flavors?: Flavor[];
  what: string;
  run(ctx: Ctx): Promise<void>;
}

export function row(result: CheckResult, item = ''): CheckResult['rows'][number] | undefined {
  return result.rows.find((r) => r.item === item);
}

function items(result: CheckResult): string[] {
  return result.rows.map((r) => r.item);
}

/** Waits until the statistics collector shows what the condition produced. */
async function statsShow(ctx: Ctx, sql: string, database = 'postgres'): Promise<void> {
  await waitFor(async () => (await ctx.sql<{ ok: boolean }>(sql, [], database)).rows[0]?.ok, 15_000, sql);
}

/** Opens a session, runs the statements, closes it (closing flushes its statistics). */
async function inSession(ctx: Ctx, database: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: ctx.cluster.url(database) });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

export const SCENARIOS: readonly Scenario[] = [
  {
    check: 'alive', what: 'answers; an unreachable server is critical',
    async run(ctx) {
      const result = await ctx.run('alive');
      assert.equal(result.level, 'ok');
      assert.equal(row(result)?.value, 1);
      const port = await freePort();
      const down = await checkServer({ name: 'down', target: { url: `postgres://${LOGIN}@127.0.0.1:${port}/postgres`, label: 'down' } }, { checks: ['alive', 'uptime'] });
      assert.equal(down.checks[0]!.level, 'critical');
      assert.match(down.checks[0]!.summary, /cannot connect/);
      assert.equal(down.checks[1]!.level, 'unknown');
    },
  },
  {
    check: 'writable', what: 'a primary accepts the write; a read-only database is critical',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal((await ctx.run('writable', { database: db })).level, 'ok');
      await ctx.sql(`ALTER DATABASE ${db} SET default_transaction_read_only = on`);
      const result = await ctx.run('writable', { database: db });
      assert.equal(result.level, 'critical');
      assert.equal(row(result)?.value, 0);
      assert.match(row(result)!.detail!, /read-only transaction/);
    },
  },
  {
    check: 'uptime', what: 'seconds since start; a fresh server warns about its recent restart',
    async run(ctx) {
      const result = await ctx.run('uptime');
      const value = row(result)!.value!;
      assert.ok(value > 0 && value < 3600, `uptime ${value}`);
      assert.equal(result.level, 'warning', 'started less than 10 minutes ago');
      assert.equal((await ctx.run('uptime', { settings: { warning: 1 } })).level, 'ok');
    },
  },
  {
    check: 'connections', what: 'percentage used rises with open sessions',
    async run(ctx) {
      const before = row(await ctx.run('connections'))!.value!;
      assert.ok(before > 0 && before < 50);
      for (let i = 0; i < 12; i++) await ctx.session();
      const result = await ctx.run('connections', { settings: { warning: before + 3 } });
      assert.ok(row(result)!.value! >= before + 5, `${row(result)!.value} after 12 more sessions (was ${before})`);
      assert.equal(result.level, 'warning');
    },
  },
  {
    check: 'connections_by_state', what: 'every state reported; a session idle in a transaction shows up',
    async run(ctx) {
      const before = await ctx.run('connections_by_state');
      assert.deepEqual(items(before).sort(), ['active', 'disabled', 'fastpath function call', 'idle', 'idle in transaction', 'idle in transaction (aborted)']);
      assert.equal(row(before, 'idle in transaction')!.value, 0);
      const session = await ctx.session();
      await session.query('BEGIN');
      await session.query('SELECT 1');
      const after = await ctx.run('connections_by_state', { settings: { warning: 1 } });
      assert.equal(row(after, 'idle in transaction')!.value, 1);
      assert.equal(row(after, 'idle in transaction')!.level, 'warning');
    },
  },
  {
    check: 'idle_in_transaction', what: '0 when none; the longest idle transaction in seconds',
    async run(ctx) {
      assert.equal(row(await ctx.run('idle_in_transaction'))!.value, 0);
      const session = await ctx.session();
      await session.query('BEGIN');
      await session.query('SELECT 1');
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const result = await ctx.run('idle_in_transaction', { settings: { warning: 1 } });
      assert.ok(row(result)!.value! >= 1);
      assert.equal(result.level, 'warning');
      assert.equal(row(result)!.metadata.sessions, 1);
    },
  },
  {
    check: 'lock_waits', what: '0 when none; a blocked session is measured',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal(row(await ctx.run('lock_waits'))!.value, 0);
      await ctx.sql('CREATE TABLE locked (id int)', [], db);
      const holder = await ctx.session(db);
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE locked');
      const waiter = await ctx.session(db);
      const waiting = waiter.query('SELECT * FROM locked').catch(() => undefined);
      ctx.defer(async () => { await holder.query('ROLLBACK'); await waiting; });
      const result = await waitFor(async () => {
        const r = await ctx.run('lock_waits', { settings: { warning: 0.05 } });
        return row(r)!.value! > 0.05 ? r : undefined;
      }, 10_000, 'a lock wait');
      assert.equal(result.level, 'warning');
      assert.equal(row(result)!.metadata.waiting_sessions, 1);
      assert.equal(row(result)!.metadata.blocking_sessions, 1);
    },
  },
  {
    check: 'long_queries', what: 'a running statement is timed, its text never returned',
    async run(ctx) {
      const session = await ctx.session();
      const marker = 'secret_marker_' + process.pid;
      const running = session.query(`SELECT pg_sleep(1.5), '${marker}'`);
      ctx.defer(() => running);
      await new Promise((resolve) => setTimeout(resolve, 700));
      const result = await ctx.run('long_queries', { settings: { warning: 0.5 } });
      assert.ok(row(result)!.value! >= 0.5, `longest ${row(result)!.value}`);
      assert.equal(result.level, 'warning');
      assert.ok(!JSON.stringify(result).includes(marker), 'query text must not reach the monitor');
    },
  },
  {
    check: 'transaction_rate', what: 'null on the first sample, then a positive rate',
    async run(ctx) {
      await ctx.run('transaction_rate');
      await inSession(ctx, 'postgres', Array.from({ length: 30 }, () => 'SELECT 1'));
      const result = await ctx.run('transaction_rate', { settings: { warning: 0.001 } });
      assert.ok(row(result)!.value! > 0, `rate ${row(result)!.value}`);
      assert.equal(result.level, 'warning');
    },
  },
  {
    check: 'rollback_ratio', what: 'a database that mostly rolls back is critical',
    async run(ctx) {
      const db = await ctx.newDatabase();
      const before = row(await ctx.run('rollback_ratio'), db);
      assert.ok(before, 'one row per database');
      assert.equal(before.level, 'ok');
      await inSession(ctx, db, Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? 'BEGIN' : 'ROLLBACK')).concat(Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? 'BEGIN' : 'ROLLBACK'))));
      await statsShow(ctx, `SELECT xact_rollback >= 150 AS ok FROM pg_stat_database WHERE datname = '${db}'`);
      const after = row(await ctx.run('rollback_ratio'), db)!;
      assert.ok(after.value! > 50, `ratio ${after.value}`);
      assert.equal(after.level, 'critical');
    },
  },
  {
    check: 'xid_wraparound', what: 'a small percentage per database on a fresh server',
    async run(ctx) {
      const result = await ctx.run('xid_wraparound');
      assert.ok(items(result).includes('postgres') && items(result).includes('template0'));
      for (const r of result.rows) assert.ok(r.value! >= 0 && r.value! < 1, `${r.item}: ${r.value}`);
      assert.equal(result.level, 'ok');
      assert.equal((await ctx.run('xid_wraparound', { settings: { critical: 0 } })).level, 'critical');
    },
  },
  {
    check: 'replication_lag_bytes', what: 'no standby: nothing; a streaming client that stops reading lags',
    async run(ctx) {
      const fresh = await ctx.run('replication_lag_bytes');
      assert.equal(fresh.rows.length, 0);
      assert.equal(fresh.summary, 'no standby is connected');
      if (ctx.flavor !== 'pg15') return; // pg_receivewal comes with the Debian PostgreSQL 15 only
      const receiver = await startReceiver(ctx);
      const streaming = await waitFor(async () => {
        const r = await ctx.run('replication_lag_bytes');
        return r.rows.length === 1 ? r : undefined;
      }, 15_000, 'a standby in pg_stat_replication');
      assert.match(streaming.rows[0]!.item, /^pgwarden_test_receiver \(pid \d+\)$/);
      receiver.kill('SIGSTOP');
      await ctx.sql('CREATE TABLE wal_filler AS SELECT g, repeat(md5(g::text), 20) AS pad FROM generate_series(1, 30000) g');
      const lagging = await waitFor(async () => {
        const r = await ctx.run('replication_lag_bytes', { settings: { warning: 1_000_000 } });
        return r.level === 'warning' ? r : undefined;
      }, 15_000, 'replication lag over 1 MB');
      assert.ok(lagging.rows[0]!.value! >= 1_000_000);
      await ctx.sql('DROP TABLE wal_filler');
    },
  },
  {
    check: 'replication_lag_seconds', what: 'no standby: nothing; a streaming client gets a row',
    async run(ctx) {
      assert.equal((await ctx.run('replication_lag_seconds')).rows.length, 0);
      if (ctx.flavor !== 'pg15') return;
      await startReceiver(ctx);
      const result = await waitFor(async () => {
        const r = await ctx.run('replication_lag_seconds', { settings: { warning: 0 } });
        return r.rows.length === 1 ? r : undefined;
      }, 15_000, 'a standby in pg_stat_replication');
      assert.ok(result.rows[0]!.value! >= 0);
      assert.equal(result.level, 'warning');
    },
  },
  {
    check: 'inactive_slots', what: 'an unused replication slot is a finding',
    async run(ctx) {
      assert.equal((await ctx.run('inactive_slots')).rows.length, 0);
      await ctx.sql("SELECT pg_create_physical_replication_slot('pgwarden_test_slot', true)");
      ctx.defer(() => ctx.sql("SELECT pg_drop_replication_slot('pgwarden_test_slot')"));
      const result = await ctx.run('inactive_slots');
      assert.deepEqual(items(result), ['pgwarden_test_slot']);
      assert.equal(result.level, 'warning');
      if (ctx.flavor === 'pg18') assert.match(result.rows[0]!.detail!, /inactive since /, 'PostgreSQL 17+ variant');
    },
  },
  {
    check: 'retained_wal', what: 'WAL kept by a slot grows as WAL is written',
    async run(ctx) {
      assert.equal((await ctx.run('retained_wal')).rows.length, 0);
      await ctx.sql("SELECT pg_create_physical_replication_slot('pgwarden_test_retain', true)");
      ctx.defer(() => ctx.sql("SELECT pg_drop_replication_slot('pgwarden_test_retain')"));
      const before = row(await ctx.run('retained_wal'), 'pgwarden_test_retain')!.value!;
      await ctx.sql('CREATE TABLE retain_filler AS SELECT g FROM generate_series(1, 20000) g; DROP TABLE retain_filler');
      const after = await ctx.run('retained_wal', { settings: { warning: before + 100_000 } });
      assert.ok(row(after, 'pgwarden_test_retain')!.value! > before + 100_000);
      assert.equal(after.level, 'warning');
    },
  },
  {
    check: 'archiver', what: 'archiving works, then a failing archive_command is critical',
    async run(ctx) {
      const ok = await ctx.run('archiver');
      assert.equal(ok.level, 'ok', ok.summary);
      assert.equal(row(ok)!.value, 0);
      await setArchiveCommand(ctx, '/bin/false');
      ctx.defer(() => setArchiveCommand(ctx, '/bin/true'));
      await ctx.sql('CREATE TABLE archive_filler (id int); DROP TABLE archive_filler; SELECT pg_switch_wal()');
      const failing = await waitFor(async () => {
        const r = await ctx.run('archiver');
        return r.level === 'critical' ? r : undefined;
      }, 20_000, 'an archiver failure');
      assert.equal(row(failing)!.value, 1);
      assert.match(row(failing)!.detail!, /failed/);
    },
  },
  {
    check: 'archive_backlog', what: 'WAL files pile up while archiving fails',
    async run(ctx) {
      const before = row(await ctx.run('archive_backlog'))!.value!;
      assert.ok(before >= 0 && before < 10);
      await setArchiveCommand(ctx, '/bin/false');
      ctx.defer(() => setArchiveCommand(ctx, '/bin/true'));
      for (let i = 0; i < 2; i++) await ctx.sql('CREATE TABLE backlog_filler (id int); DROP TABLE backlog_filler; SELECT pg_switch_wal()');
      const result = await ctx.run('archive_backlog', { settings: { warning: 1 } });
      assert.ok(row(result)!.value! >= 1, `backlog ${row(result)!.value}`);
      assert.equal(result.level, 'warning');
    },
  },
  {
    check: 'backup_age', what: 'no backup known warns; a finished base backup is recent',
    async run(ctx) {
      const none = await ctx.run('backup_age');
      assert.equal(row(none)!.value, null);
      assert.equal(none.level, 'warning');
      const session = await ctx.session();
      await session.query("SELECT pg_backup_start('pgwarden test', true)");
      await session.query('SELECT * FROM pg_backup_stop(wait_for_archive => false)');
      const after = await ctx.run('backup_age');
      assert.ok(row(after)!.value! >= 0 && row(after)!.value! < 600, `age ${row(after)!.value}`);
      assert.equal(after.level, 'ok');
    },
  },
  {
    check: 'checkpoints', what: 'requested checkpoints raise the percentage',
    async run(ctx) {
      await ctx.sql('CHECKPOINT');
      await ctx.sql('CHECKPOINT');
      const view = ctx.flavor === 'pg18' ? 'SELECT num_requested >= 2 AS ok FROM pg_stat_checkpointer' : 'SELECT checkpoints_req >= 2 AS ok FROM pg_stat_bgwriter';
      await statsShow(ctx, view);
      assert.equal(row(await ctx.run('checkpoints', { settings: { params: { min_checkpoints: 1000 } } }))!.value, null, 'too few to judge');
      const result = await ctx.run('checkpoints', { settings: { params: { min_checkpoints: 1 } } });
      assert.ok(row(result)!.value! > 0 && row(result)!.value! <= 100);
      assert.equal(result.level, row(result)!.value! >= 80 ? 'critical' : row(result)!.value! >= 50 ? 'warning' : 'ok');
      assert.match(row(result)!.detail!, /checkpoints were requested/);
    },
  },
  {
    check: 'database_size', what: 'a database grows when data is added',
    async run(ctx) {
      const db = await ctx.newDatabase();
      const before = row(await ctx.run('database_size'), db)!.value!;
      assert.ok(before > 1_000_000);
      await ctx.sql("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g", [], db);
      const after = await ctx.run('database_size', { settings: { warning: before + 1_000_000 } });
      assert.ok(row(after, db)!.value! > before + 1_000_000);
      assert.equal(row(after, db)!.level, 'warning');
    },
  },
  {
    check: 'database_growth', what: 'first sample, then growth in bytes per hour',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal(row(await ctx.run('database_growth'), db)!.value, null);
      await ctx.sql("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g", [], db);
      const after = await ctx.run('database_growth');
      assert.ok(row(after, db)!.value! > 1_000_000, `growth ${row(after, db)!.value}`);
      assert.notEqual(row(after, db)!.level, 'ok', 'megabytes within a second is far above a gigabyte an hour');
    },
  },
  {
    check: 'cache_hit_ratio', what: 'a percentage per database once enough blocks were read',
    async run(ctx) {
      const result = await ctx.run('cache_hit_ratio', { settings: { params: { min_blocks: 1 } } });
      const value = row(result, 'postgres')!.value!;
      assert.ok(value > 0 && value <= 100, `ratio ${value}`);
      assert.equal(row(await ctx.run('cache_hit_ratio', { settings: { params: { min_blocks: 1e12 } } }), 'postgres')!.value, null);
      assert.equal((await ctx.run('cache_hit_ratio', { settings: { params: { min_blocks: 1 }, warning: 100, critical: null } })).level, 'warning');
    },
  },
  {
    check: 'temp_files', what: 'a sort that spills to disk shows up as temporary bytes',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal(row(await ctx.run('temp_files'), db)!.value, null, 'first sample');
      assert.equal(row(await ctx.run('temp_files'), db)!.value, 0);
      await inSession(ctx, db, ["SET work_mem = '64kB'", 'SELECT count(*) FROM (SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC) s']);
      await statsShow(ctx, `SELECT temp_bytes > 0 AS ok FROM pg_stat_database WHERE datname = '${db}'`);
      const result = await ctx.run('temp_files', { settings: { warning: 1 } });
      assert.ok(row(result, db)!.value! > 0);
      assert.equal(row(result, db)!.level, 'warning');
    },
  },
  {
    check: 'deadlocks', what: 'a deadlock since the previous run warns',
    async run(ctx) {
      const db = await ctx.newDatabase();
      await ctx.run('deadlocks');
      assert.equal(row(await ctx.run('deadlocks'), db)!.value, 0);
      await ctx.sql('CREATE TABLE a (id int); CREATE TABLE b (id int)', [], db);
      const one = await ctx.session(db);
      const two = await ctx.session(db);
      await one.query('BEGIN; LOCK TABLE a');
      await two.query('BEGIN; LOCK TABLE b');
      const first = one.query('LOCK TABLE b').catch((e: { code?: string }) => e.code);
      const second = two.query('LOCK TABLE a').catch((e: { code?: string }) => e.code);
      const outcome = await Promise.race([first, second]);
      assert.equal(outcome, '40P01');
      await one.query('ROLLBACK').catch(() => undefined);
      await two.query('ROLLBACK').catch(() => undefined);
      await Promise.all([first, second]);
      await one.end();
      await two.end();
      await statsShow(ctx, `SELECT deadlocks >= 1 AS ok FROM pg_stat_database WHERE datname = '${db}'`);
      const result = await ctx.run('deadlocks');
      assert.equal(row(result, db)!.value, 1);
      assert.equal(row(result, db)!.level, 'warning');
    },
  },
  {
    check: 'autovacuum_freshness', what: 'a table with many dead rows and no vacuum is a finding',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal((await ctx.run('autovacuum_freshness', { database: db })).rows.length, 0);
      await inSession(ctx, db, [
        'CREATE TABLE churn (id int) WITH (autovacuum_enabled = false)',
        'INSERT INTO churn SELECT generate_series(1, 2000)',
        'DELETE FROM churn',
      ]);
      await statsShow(ctx, "SELECT n_dead_tup >= 2000 AS ok FROM pg_stat_user_tables WHERE relname = 'churn'", db);
      const result = await ctx.run('autovacuum_freshness', { database: db });
      assert.deepEqual(items(result), ['public.churn']);
      assert.equal(result.level, 'warning');
      await ctx.sql('VACUUM churn', [], db);
      await statsShow(ctx, "SELECT last_vacuum IS NOT NULL AS ok FROM pg_stat_user_tables WHERE relname = 'churn'", db);
      assert.equal((await ctx.run('autovacuum_freshness', { database: db })).rows.length, 0);
    },
  },
  {
    check: 'superusers', what: 'a new superuser is critical, a removed one a warning',
    async run(ctx) {
      const db = await ctx.namedDatabase();
      const named = (check: string, options: Parameters<Ctx['run']>[1] = {}) => ctx.run(check, { ...options, database: db });
      await ctx.run('superusers'); // the counted view in postgres records its baseline too
      const before = await named('superusers');
      assert.equal(row(before, 'postgres')!.value, 0);
      assert.equal(before.level, 'ok');
      await ctx.sql('CREATE ROLE pgw_new_super SUPERUSER');
      const added = await named('superusers');
      // Without --show-names the login learns a count, never the name.
      const counted = await ctx.run('superusers');
      assert.ok(!JSON.stringify(counted).includes('pgw_new_super'), 'no name without --show-names');
      assert.deepEqual(counted.rows.map((r) => r.item), ['']);
      assert.equal(counted.rows[0]!.value, 2);
      assert.equal(row(added, 'pgw_new_super')!.value, 2);
      assert.equal(added.level, 'critical');
      await ctx.sql('DROP ROLE pgw_new_super');
      const removed = await named('superusers');
      assert.equal(row(removed, 'pgw_new_super')!.value, 1);
      assert.match(row(removed, 'pgw_new_super')!.detail!, /no longer a superuser/);
      assert.equal(removed.level, 'warning');
      assert.equal((await named('superusers', { settings: { params: { hold_hours: 0 } } })).level, 'ok', 'not shown after hold_hours');
      assert.equal((await named('superusers')).level, 'warning', 'but not erased by a caller asking for hold_hours 0');
    },
  },
  {
    check: 'password_expiry', what: 'a login whose password never expires is a finding',
    async run(ctx) {
      const db = await ctx.namedDatabase();
      const named = (check: string, options: Parameters<Ctx['run']>[1] = {}) => ctx.run(check, { ...options, database: db });
      assert.ok(!items(await named('password_expiry')).includes('pgw_noexpiry'));
      await ctx.cluster.createRole('pgw_noexpiry', 'pw');
      ctx.defer(() => ctx.sql('DROP ROLE pgw_noexpiry'));
      const result = await named('password_expiry');
      assert.equal(row(result, 'pgw_noexpiry')!.level, 'warning');
      const counted = await ctx.run('password_expiry');
      assert.ok(!JSON.stringify(counted).includes('pgw_noexpiry'), 'no name without --show-names');
      assert.equal(counted.rows.length, 1);
      assert.equal(counted.rows[0]!.value, 1);
      assert.match(counted.summary, /^\d+ login role\(s\) with a password that never expires/);
      const ignored = await ctx.run('password_expiry', { settings: { ignore: ['pgw_noexpiry'] } });
      assert.match(ignored.summary, new RegExp(`^${Number(counted.rows[0]!.detail!.split(' ')[0]) - 1} login|^every`), 'ignore leaves it out of the count');
      await ctx.sql("ALTER ROLE pgw_noexpiry VALID UNTIL '2100-01-01'");
      assert.ok(!items(await named('password_expiry')).includes('pgw_noexpiry'));
    },
  },
  {
    check: 'password_hashes', what: 'an MD5 password is critical',
    async run(ctx) {
      const db = await ctx.namedDatabase();
      const named = (check: string, options: Parameters<Ctx['run']>[1] = {}) => ctx.run(check, { ...options, database: db });
      assert.equal((await named('password_hashes')).rows.length, 0);
      const session = await ctx.session();
      await session.query("SET password_encryption = 'md5'");
      await session.query("CREATE ROLE pgw_md5 LOGIN PASSWORD 'weak'");
      ctx.defer(() => ctx.sql('DROP ROLE pgw_md5'));
      const result = await named('password_hashes');
      assert.deepEqual(items(result), ['pgw_md5']);
      assert.equal(result.level, 'critical');
      assert.match(result.rows[0]!.detail!, /MD5/);
      assert.ok(!/md5[0-9a-f]{32}/.test(JSON.stringify(result)), 'the hash itself never reaches the monitor');
      // Without --show-names the login learns a count, never the name.
      const counted = await ctx.run('password_hashes');
      assert.ok(!JSON.stringify(counted).includes('pgw_md5'), 'no name without --show-names');
      assert.deepEqual(counted.rows.map((r) => r.item), ['']);
      assert.equal(counted.rows[0]!.value, 1);
      assert.equal(counted.level, 'critical');
    },
  },
  {
    check: 'password_encryption', what: 'scram-sha-256 is fine; an md5 override is critical',
    async run(ctx) {
      const before = await ctx.run('password_encryption');
      assert.equal(before.level, 'ok');
      assert.equal(row(before)!.value, 0);
      await ctx.sql("CREATE ROLE pgw_legacy_app; ALTER ROLE pgw_legacy_app SET password_encryption = 'md5'");
      ctx.defer(() => ctx.sql('DROP ROLE pgw_legacy_app'));
      const after = await ctx.run('password_encryption');
      assert.equal(after.level, 'critical');
      assert.ok(items(after).includes('override role pgw_legacy_app in all databases'), JSON.stringify(items(after)));
    },
  },
  {
    check: 'hba_auth_methods', what: 'local trust warns; trust over the network is critical',
    async run(ctx) {
      const db = await ctx.namedDatabase();
      const named = (check: string, options: Parameters<Ctx['run']>[1] = {}) => ctx.run(check, { ...options, database: db });
      const before = await named('hba_auth_methods');
      assert.equal(before.level, 'warning', 'the test cluster trusts its private Unix socket');
      assert.ok(before.rows.every((r) => /^local /.test(r.detail!)));
      const file = (await ctx.sql<{ hba_file: string }>('SHOW hba_file')).rows[0]!.hba_file;
      const original = readFileSync(file, 'utf8');
      appendFileSync(file, '\nhost all all 10.99.0.0/16 trust\n');
      ctx.defer(() => writeFileSync(file, original));
      const after = await named('hba_auth_methods');
      assert.equal(after.level, 'critical');
      assert.equal(after.rows.filter((r) => r.level === 'critical').length, 1);
      assert.match(after.rows.find((r) => r.level === 'critical')!.detail!, /host all all 10\.99\.0\.0.* trust/);
      const counted = await ctx.run('hba_auth_methods');
      assert.equal(counted.level, 'critical');
      assert.ok(!JSON.stringify(counted).includes('10.99.0.0') && !JSON.stringify(counted).includes(file), 'no address or file path without --show-names');
      assert.match(counted.summary, /pg_hba\.conf line\(s\): trust on the local socket, trust over the network/);
    },
  },
  {
    check: 'ssl', what: 'ssl off is critical; on with a certificate is fine',
    async run(ctx) {
      assert.equal((await ctx.run('ssl')).level, 'critical');
      const owner = statSync(ctx.cluster.socketDir);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-ssl-'));
      ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
      const [cert, key] = [path.join(dir, 'server.crt'), path.join(dir, 'server.key')];
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '1'], { stdio: 'ignore' });
      for (const file of [dir, cert, key]) chownSync(file, owner.uid, owner.gid);
      await ctx.sql(`ALTER SYSTEM SET ssl_cert_file = '${cert}'`);
      await ctx.sql(`ALTER SYSTEM SET ssl_key_file = '${key}'`);
      await ctx.sql('ALTER SYSTEM SET ssl = on');
      await ctx.sql('SELECT pg_reload_conf()');
      ctx.defer(async () => {
        await ctx.sql('ALTER SYSTEM RESET ssl; ');
        await ctx.sql('ALTER SYSTEM RESET ssl_cert_file');
        await ctx.sql('ALTER SYSTEM RESET ssl_key_file');
        await ctx.sql('SELECT pg_reload_conf()');
      });
      const on = await waitFor(async () => {
        const r = await ctx.run('ssl');
        return r.level === 'ok' ? r : undefined;
      }, 10_000, 'ssl on');
      assert.match(row(on)!.detail!, /ssl is on, minimum protocol TLSv1\.2/);
      await ctx.sql("ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1'");
      await ctx.sql('SELECT pg_reload_conf()');
      ctx.defer(async () => { await ctx.sql('ALTER SYSTEM RESET ssl_min_protocol_version'); await ctx.sql('SELECT pg_reload_conf()'); });
      await waitFor(async () => (await ctx.run('ssl')).level === 'warning', 10_000, 'TLS 1.0 allowed');
    },
  },
  {
    check: 'unencrypted_connections', what: 'a new plain TCP session of another role is a finding',
    async run(ctx) {
      const db = await ctx.namedDatabase();
      const named = (check: string, options: Parameters<Ctx['run']>[1] = {}) => ctx.run(check, { ...options, database: db });
      const before = await named('unencrypted_connections');
      assert.ok(row(before, LOGIN)!.value! >= 1, 'the monitor itself connects without SSL');
      assert.ok(!items(before).includes('pgw_plain_app'));
      await ctx.cluster.createRole('pgw_plain_app', 'pw');
      ctx.defer(() => ctx.sql('DROP ROLE pgw_plain_app'));
      await ctx.session('postgres', 'pgw_plain_app', 'pw');
      const after = await named('unencrypted_connections');
      assert.equal(row(after, 'pgw_plain_app')!.value, 1);
      assert.equal(row(after, 'pgw_plain_app')!.level, 'warning');
      const counted = await ctx.run('unencrypted_connections');
      assert.ok(!JSON.stringify(counted).includes('pgw_plain_app') && !JSON.stringify(counted).includes('127.0.0.1'), 'no role or address without --show-names');
      assert.match(counted.summary, /^\d+ role\(s\) with sessions over TCP without SSL/);
    },
  },
  {
    check: 'public_schema_create', what: 'CREATE on public for PUBLIC is critical',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal((await ctx.run('public_schema_create', { database: db })).rows.length, 0, 'PostgreSQL 15+ default');
      await ctx.sql('GRANT CREATE ON SCHEMA public TO PUBLIC', [], db);
      const result = await ctx.run('public_schema_create', { database: db });
      assert.deepEqual(items(result), ['public']);
      assert.equal(result.level, 'critical');
    },
  },
  {
    check: 'secdef_search_path', what: 'an unpinned SECURITY DEFINER function is critical, pg_temp not last a warning',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal((await ctx.run('secdef_search_path', { database: db })).rows.length, 0);
      await ctx.sql(`CREATE FUNCTION public.unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        CREATE FUNCTION public.temp_first() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = public AS 'SELECT 1';
        CREATE FUNCTION public.pinned() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT 1'`, [], db);
      const result = await ctx.run('secdef_search_path', { database: db });
      assert.deepEqual(result.rows.map((r) => [r.item, r.level]), [['public.temp_first()', 'warning'], ['public.unpinned()', 'critical']]);
    },
  },
  {
    check: 'pgaudit', what: 'not loaded is critical; loaded and logging is fine',
    async run(ctx) {
      const db = await ctx.newDatabase();
      const before = await ctx.run('pgaudit', { database: db });
      if (ctx.flavor === 'pg18') {
        // The embedded PostgreSQL 18 ships without pgAudit.
        assert.equal(before.level, 'critical');
        assert.match(before.summary, /not in shared_preload_libraries/);
        return;
      }
      assert.equal(before.level, 'warning');
      assert.match(before.summary, /pgaudit\.log = none/);
      await ctx.sql("ALTER SYSTEM SET pgaudit.log = 'ddl, role'");
      await ctx.sql('SELECT pg_reload_conf()');
      ctx.defer(async () => { await ctx.sql('ALTER SYSTEM RESET pgaudit.log'); await ctx.sql('SELECT pg_reload_conf()'); });
      await waitFor(async () => /CREATE EXTENSION/.test((await ctx.run('pgaudit', { database: db })).summary), 10_000, 'pgaudit.log applied');
      await ctx.sql('CREATE EXTENSION pgaudit', [], db);
      const after = await ctx.run('pgaudit', { database: db });
      assert.equal(after.level, 'ok', after.summary);
    },
  },
  {
    check: 'pgwarden_triggers', what: 'skipped without sensors; a disabled trigger or unpinned function is critical',
    async run(ctx) {
      const db = await ctx.newDatabase();
      const none = await ctx.run('pgwarden_triggers', { database: db });
      assert.equal(none.level, 'skipped');
      await installSensors(ctx, db);
      const intact = await ctx.run('pgwarden_triggers', { database: db });
      assert.equal(intact.level, 'ok', intact.summary);
      assert.equal(intact.rows.length, 0);
      const tamper = ctx.flavor === 'pg18'
        ? { sql: 'ALTER EVENT TRIGGER pgwarden_guard_login DISABLE', item: 'event trigger pgwarden_guard_login' }
        : { sql: 'ALTER TABLE pgwarden.guard_rules DISABLE TRIGGER guard_rules_recompile', item: 'trigger guard_rules_recompile on pgwarden.guard_rules' };
      await ctx.sql(tamper.sql, [], db);
      await ctx.sql('ALTER FUNCTION pgwarden.guard_check() RESET search_path', [], db);
      const result = await ctx.run('pgwarden_triggers', { database: db });
      assert.equal(result.level, 'critical');
      assert.deepEqual(items(result).sort(), ['function pgwarden.guard_check()', tamper.item].sort());
      if (ctx.flavor === 'pg18') {
        await ctx.sql('DROP EVENT TRIGGER pgwarden_guard_login', [], db);
        assert.equal(row(await ctx.run('pgwarden_triggers', { database: db }), 'event trigger pgwarden_guard_login')!.detail, 'missing');
      }
    },
  },
  {
    check: 'refused_connections', what: 'skipped without the guard; a refusal in the window warns',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal((await ctx.run('refused_connections', { database: db })).level, 'skipped');
      // Sensors installed after the monitor: install grants the monitor's owner what the check reads.
      await installSensors(ctx, db);
      const before = await ctx.run('refused_connections', { database: db });
      assert.equal(row(before)!.value, 0);
      assert.equal(before.level, 'ok');
      // A refusal as the recorder stores it (the superuser writes the row: no other role can).
      await ctx.sql(`INSERT INTO pgwarden.connection_attempts (ts, database, user_name, client_addr, application, decision, message, via)
        VALUES (now(), current_database(), 'mallory', '10.1.2.3', 'DBeaver', 'deny', 'GUI tools are not allowed', 'login')`, [], db);
      const after = await ctx.run('refused_connections', { database: db });
      assert.equal(row(after)!.value, 1);
      assert.equal(after.level, 'warning');
      assert.equal(row(after)!.metadata.roles, null, 'no role names without --show-names');
      await ctx.install(db, { showNames: true });
      assert.deepEqual(row(await ctx.run('refused_connections', { database: db }))!.metadata.roles, ['mallory']);
    },
  },
  {
    check: 'ddl_changes', what: 'skipped without the DDL audit; a recorded change in the window warns',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal((await ctx.run('ddl_changes', { database: db })).level, 'skipped');
      // The real DDL audit, installed after the monitor: install grants the monitor what it reads.
      await ctx.install(db);
      await installSensors(ctx, db);
      assert.equal(row(await ctx.run('ddl_changes', { database: db }))!.value, 0);
      await ctx.sql('CREATE TABLE old_orders (id int)', [], db);
      await ctx.sql("UPDATE pgwarden.ddl_events SET ts = now() - interval '1 hour'", [], db);
      await ctx.sql('DROP TABLE old_orders', [], db);
      const result = await ctx.run('ddl_changes', { database: db });
      assert.equal(row(result)!.value, 1, 'only the change inside the window');
      assert.equal(result.level, 'warning');
      assert.match(result.summary, /DROP TABLE/);
      assert.equal(row(await ctx.run('ddl_changes', { database: db, settings: { params: { window_minutes: 120 } } }))!.value, 2);
    },
  },
  {
    check: 'monitor_integrity', what: 'a replaced, re-granted or unpinned check function, or an extra function, is critical',
    async run(ctx) {
      const db = await ctx.newDatabase();
      const intact = await ctx.run('monitor_integrity', { database: db });
      assert.equal(intact.level, 'ok', intact.summary);
      assert.equal(intact.rows.length, 0);
      await ctx.sql(`CREATE OR REPLACE FUNCTION pgwarden_monitor.check_ssl(params jsonb DEFAULT '{}'::jsonb)
          RETURNS TABLE (item text, value double precision, detail text, skipped text, metadata jsonb)
          LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
          AS $$ SELECT ''::text, 0::float8, 'all fine'::text, NULL::text, NULL::jsonb $$;
        GRANT EXECUTE ON FUNCTION pgwarden_monitor.check_uptime(jsonb) TO PUBLIC;
        ALTER FUNCTION pgwarden_monitor.check_alive(jsonb) RESET search_path;
        CREATE FUNCTION pgwarden_monitor.backdoor() RETURNS int LANGUAGE sql AS 'SELECT 1'`, [], db);
      assert.equal((await ctx.run('ssl', { database: db })).level, 'ok', 'the tampered check lies');
      const tampered = await ctx.run('monitor_integrity', { database: db });
      assert.equal(tampered.level, 'critical');
      assert.deepEqual(tampered.rows.map((r) => [r.item, r.detail!.replace(/:.*/, '')]), [
        ['pgwarden_monitor.backdoor()', 'not installed by pgwarden'],
        ['pgwarden_monitor.check_alive(jsonb)', 'settings changed'],
        ['pgwarden_monitor.check_ssl(jsonb)', 'definition changed'],
        ['pgwarden_monitor.check_uptime(jsonb)', 'EXECUTE grants changed'],
      ]);
      await ctx.install(db);
      assert.deepEqual((await ctx.run('monitor_integrity', { database: db })).rows.map((r) => r.item), ['pgwarden_monitor.backdoor()'],
        'install restores its own functions and leaves a stranger for a human to look at');
    },
  },
  {
    check: 'monitor_login_privileges', what: 'a table the login may read or another role it joins is a finding',
    async run(ctx) {
      const db = await ctx.newDatabase();
      const clean = await ctx.run('monitor_login_privileges', { database: db });
      assert.equal(clean.level, 'ok', clean.summary);
      assert.equal(clean.rows.length, 0);
      await ctx.sql(`CREATE TABLE public.orders (id int); GRANT SELECT ON public.orders TO ${LOGIN}; CREATE TABLE public.invoices (id int)`, [], db);
      const table = await ctx.run('monitor_login_privileges', { database: db });
      assert.deepEqual(table.rows.map((r) => [r.item, r.level]), [['table public.orders', 'warning']]);
      await ctx.sql(`GRANT pg_read_all_data TO ${LOGIN}`);
      ctx.defer(() => ctx.sql(`REVOKE pg_read_all_data FROM ${LOGIN}`));
      const member = await ctx.run('monitor_login_privileges', { database: db });
      assert.equal(row(member, 'member of pg_read_all_data')!.level, 'critical');
      assert.ok(row(member, 'table public.invoices'), 'pg_read_all_data reads every table');
    },
  },
  {
    check: 'privileged_roles', what: 'CREATEROLE warns; server file access is critical',
    async run(ctx) {
      const db = await ctx.namedDatabase();
      const named = (check: string, options: Parameters<Ctx['run']>[1] = {}) => ctx.run(check, { ...options, database: db });
      const before = items(await named('privileged_roles'));
      assert.ok(!before.includes('pgw_admin') && !before.includes('pgw_files'));
      await ctx.sql('CREATE ROLE pgw_admin CREATEROLE; CREATE ROLE pgw_files; GRANT pg_read_server_files TO pgw_files');
      ctx.defer(() => ctx.sql('DROP ROLE pgw_admin; DROP ROLE pgw_files'));
      const result = await named('privileged_roles');
      assert.equal(row(result, 'pgw_admin')!.level, 'warning');
      assert.equal(row(result, 'pgw_files')!.level, 'critical');
      assert.equal(row(result, 'pgw_files')!.detail, 'pg_read_server_files');
      const counted = await ctx.run('privileged_roles');
      assert.ok(!JSON.stringify(counted).includes('pgw_admin'), 'no name without --show-names');
      assert.equal(counted.level, 'critical');
      assert.match(counted.summary, /CREATEROLE/);
    },
  },
  {
    check: 'logging_settings', what: 'connection logging off warns; on clears the findings',
    async run(ctx) {
      const before = await ctx.run('logging_settings');
      assert.deepEqual(items(before), ['log_connections', 'log_disconnections']);
      assert.equal(before.level, 'warning');
      await ctx.sql('ALTER SYSTEM SET log_connections = on');
      await ctx.sql('ALTER SYSTEM SET log_disconnections = on');
      await ctx.sql('SELECT pg_reload_conf()');
      ctx.defer(async () => {
        await ctx.sql('ALTER SYSTEM RESET log_connections');
        await ctx.sql('ALTER SYSTEM RESET log_disconnections');
        await ctx.sql('SELECT pg_reload_conf()');
      });
      await waitFor(async () => (await ctx.run('logging_settings')).rows.length === 0, 10_000, 'logging on');
    },
  },
  {
    check: 'txn_time', what: 'an open transaction of another session is timed',
    async run(ctx) {
      assert.ok(row(await ctx.run('txn_time'))!.value! < 5);
      const session = await ctx.session();
      await session.query('BEGIN');
      await session.query('SELECT 1');
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const result = await ctx.run('txn_time', { settings: { warning: 1 } });
      assert.ok(row(result)!.value! >= 1, `oldest ${row(result)!.value}`);
      assert.equal(result.level, 'warning');
      assert.ok((row(result)!.metadata.open as number) >= 1);
    },
  },
  {
    check: 'prepared_transactions', what: 'a forgotten prepared transaction is timed and counted',
    async run(ctx) {
      assert.equal(row(await ctx.run('prepared_transactions'))!.value, 0);
      const session = await ctx.session();
      await session.query('BEGIN');
      await session.query('SELECT 1');
      await session.query("PREPARE TRANSACTION 'pgw_forgotten'");
      ctx.defer(() => ctx.sql("ROLLBACK PREPARED 'pgw_forgotten'"));
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const result = await ctx.run('prepared_transactions', { settings: { warning: 1 } });
      assert.ok(row(result)!.value! >= 1);
      assert.equal(result.level, 'warning');
      assert.equal(row(result)!.metadata.prepared, 1);
    },
  },
  {
    check: 'sequence_exhaustion', what: 'a bigint sequence behind an integer key near 2^31 is critical, and so is an integer key with no sequence; one made after install is unreadable until install runs again',
    async run(ctx) {
      const db = await ctx.newDatabase();
      assert.equal((await ctx.run('sequence_exhaustion', { database: db })).rows.length, 0);
      await ctx.sql(`CREATE SEQUENCE orders_seq;
        CREATE TABLE orders (id integer PRIMARY KEY DEFAULT nextval('orders_seq'));
        CREATE TABLE events (id integer GENERATED BY DEFAULT AS IDENTITY);
        CREATE SEQUENCE roomy_seq;
        SELECT setval('orders_seq', 2100000000), setval(pg_get_serial_sequence('events', 'id'), 1900000000), setval('roomy_seq', 2100000000);
        -- Keys the application assigns: no sequence behind them.
        CREATE TABLE accounts (id integer PRIMARY KEY, secret text); INSERT INTO accounts VALUES (5, 'a'), (2140000000, 'b');
        CREATE TABLE codes (code smallint UNIQUE); INSERT INTO codes VALUES (-100), (28000);
        CREATE TABLE ledger (id bigint PRIMARY KEY); INSERT INTO ledger VALUES (9000000000000000000);
        CREATE TABLE roomy_keys (id integer PRIMARY KEY); INSERT INTO roomy_keys VALUES (1000);
        CREATE TABLE negative_keys (id integer PRIMARY KEY); INSERT INTO negative_keys VALUES (-1950000000), (3);
        CREATE TABLE guarded (id integer PRIMARY KEY); INSERT INTO guarded VALUES (2147000000); ALTER TABLE guarded ENABLE ROW LEVEL SECURITY`, [], db);
      const unreadable = await ctx.run('sequence_exhaustion', { database: db });
      assert.deepEqual(unreadable.rows.map((r) => [r.item, r.value]), [['', null], ['public.guarded.id', null]]);
      assert.match(unreadable.rows[0]!.detail!, /^3 sequence\(s\) and 4 key column\(s\) created after pgwarden monitor install cannot be read/);
      await ctx.install(db);
      const result = await ctx.run('sequence_exhaustion', { database: db });
      assert.deepEqual(result.rows.map((r) => [r.item, r.level]), [
        ['public.accounts.id', 'critical'], ['public.orders_seq', 'critical'], ['public.negative_keys.id', 'warning'],
        ['public.events_id_seq', 'warning'], ['public.codes.code', 'warning'], ['public.guarded.id', 'ok'],
      ], 'the bigint roomy_seq feeds no integer column and ledger is bigint: far from their limits; roomy_keys is below report_percent');
      assert.ok(row(result, 'public.orders_seq')!.value! > 97);
      assert.match(row(result, 'public.orders_seq')!.detail!, /of 2147483647, feeds public\.orders\.id \(integer\)/);
      assert.equal(row(result, 'public.accounts.id')!.value, 99.65);
      assert.match(row(result, 'public.accounts.id')!.detail!, /^99\.65% used: key values reach 2140000000 of 2147483647, integer key with no sequence/);
      assert.equal(row(result, 'public.codes.code')!.value, 85.45);
      assert.match(row(result, 'public.negative_keys.id')!.detail!, /reach -1950000000 of -2147483648/);
      assert.match(row(result, 'public.guarded.id')!.detail!, /row-level security/);
      // The owner was granted the key column only: the function returns max/min, the rest of the table stays closed.
      const grantsSql = `SELECT c.relname || '.' || a.attname AS acl FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid,
          aclexplode(a.attacl) g WHERE g.grantee = 'pgwarden_monitor_owner'::regrole AND c.relnamespace = 'public'::regnamespace ORDER BY 1`;
      const grants = await ctx.sql<{ acl: string }>(grantsSql, [], db);
      assert.deepEqual(grants.rows.map((r) => r.acl), ['accounts.id', 'codes.code', 'negative_keys.id', 'roomy_keys.id']);
      assert.equal((await ctx.sql<{ ok: boolean }>("SELECT has_table_privilege('pgwarden_monitor_owner', 'accounts', 'SELECT') AS ok", [], db)).rows[0]!.ok, false);
      // A table another session holds locked is not waited for.
      const locker = await ctx.session(db);
      await locker.query('BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
      const locked = await ctx.run('sequence_exhaustion', { database: db });
      assert.equal(row(locked, 'public.accounts.id')!.value, null);
      assert.match(row(locked, 'public.accounts.id')!.detail!, /locked by another session/);
      await locker.query('ROLLBACK');
      // Uninstall takes the column grants back.
      const admin = new pg.Client({ connectionString: ctx.cluster.url(db) });
      await admin.connect();
      try {
        await uninstallMonitor(admin);
      } finally {
        await admin.end();
      }
      assert.deepEqual((await ctx.sql(grantsSql, [], db)).rows, []);
    },
  },
  {
    check: 'last_analyze', what: 'a table never analyzed warns; after ANALYZE its age is measured',
    async run(ctx) {
      const db = await ctx.newDatabase();
      await inSession(ctx, db, ['CREATE TABLE fresh (id int) WITH (autovacuum_enabled = false)', 'INSERT INTO fresh SELECT generate_series(1, 2000)']);
      await statsShow(ctx, "SELECT n_live_tup >= 2000 AS ok FROM pg_stat_user_tables WHERE relname = 'fresh'", db);
      const never = await ctx.run('last_analyze', { database: db });
      assert.deepEqual(never.rows.map((r) => [r.item, r.value, r.level]), [['public.fresh', null, 'warning']]);
      assert.match(never.rows[0]!.detail!, /^never analyzed/);
      await ctx.sql('ANALYZE fresh', [], db);
      await statsShow(ctx, "SELECT last_analyze IS NOT NULL AS ok FROM pg_stat_user_tables WHERE relname = 'fresh'", db);
      const analyzed = await ctx.run('last_analyze', { database: db });
      assert.ok(row(analyzed, 'public.fresh')!.value! >= 0 && row(analyzed, 'public.fresh')!.value! < 600);
      assert.equal(analyzed.level, 'ok');
      assert.equal((await ctx.run('last_analyze', { database: db, settings: { warning: 0 } })).level, 'warning');
    },
  },
  {
    check: 'largest_relations', what: 'the largest table comes first, with its index and TOAST parts; indexes are ranked on their own too',
    async run(ctx) {
      const db = await ctx.newDatabase();
      await ctx.sql(`CREATE TABLE small (id int); CREATE TABLE big (id int PRIMARY KEY, pad text);
        INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
        CREATE TABLE wide_index (id int, pad text); INSERT INTO wide_index SELECT g, repeat('y', 200) FROM generate_series(1, 5000) g;
        CREATE INDEX wide_index_pad ON wide_index (pad, id)`, [], db);
      const result = await ctx.run('largest_relations', { database: db, settings: { warning: 1_000_000 } });
      assert.equal(result.rows[0]!.item, 'public.big');
      assert.ok(result.rows[0]!.value! > 2_000_000);
      assert.ok((result.rows[0]!.metadata.index_bytes as number) > 0);
      assert.equal(result.rows[0]!.level, 'warning');
      assert.equal(row(result, 'public.small')!.level, 'ok');
      // Each index is an item of its own, valued at its own size.
      const pad = row(result, 'public.wide_index_pad')!;
      assert.equal(pad.metadata.kind, 'i');
      assert.equal(pad.metadata.table, 'public.wide_index');
      assert.match(pad.detail!, /^index on public\.wide_index: \d+ kB$/);
      assert.equal(pad.value, Number((await ctx.sql<{ b: string }>("SELECT pg_relation_size('wide_index_pad') AS b", [], db)).rows[0]!.b));
      assert.ok(row(result, 'public.big_pkey'));
      const values = result.rows.map((r) => r.value!);
      assert.deepEqual(values, [...values].sort((a, b) => b - a), 'the largest first');
      // top applies to each ranking: one table and one index.
      const top = await ctx.run('largest_relations', { database: db, settings: { params: { top: 1 } } });
      assert.deepEqual(top.rows.map((r) => r.item), ['public.big', 'public.wide_index_pad'], 'the wide index outgrew the primary key of the larger table');
    },
  },
  {
    check: 'wal_files', what: 'the WAL segments in pg_wal are counted, with their size',
    async run(ctx) {
      const result = await ctx.run('wal_files', { settings: { warning: 1 } });
      const files = row(result)!.value!;
      assert.ok(files >= 1, `${files} files`);
      assert.ok((row(result)!.metadata.bytes as number) >= files * 1024 * 1024);
      assert.equal(result.level, 'warning');
      assert.equal((await ctx.run('wal_files')).level, 'ok', 'no default thresholds');
    },
  },
  {
    check: 'settings_drift', what: 'a changed setting is named (never valued) until a superuser records a new baseline',
    async run(ctx) {
      const db = await ctx.newDatabase();
      const first = await ctx.run('settings_drift', { database: db });
      assert.equal(first.rows.length, 0, 'the first run records the baseline');
      await ctx.sql("ALTER SYSTEM SET work_mem = '7777kB'");
      await ctx.sql('SELECT pg_reload_conf()');
      ctx.defer(async () => { await ctx.sql('ALTER SYSTEM RESET work_mem'); await ctx.sql('SELECT pg_reload_conf()'); });
      const drift = await waitFor(async () => {
        const r = await ctx.run('settings_drift', { database: db });
        return r.rows.length > 0 ? r : undefined;
      }, 10_000, 'work_mem reloaded');
      assert.deepEqual(drift.rows.map((r) => [r.item, r.level]), [['work_mem', 'warning']]);
      assert.match(drift.rows[0]!.detail!, /^changed since the baseline of /);
      assert.ok(!JSON.stringify(drift).includes('7777'), 'values are never returned');
      // The login cannot accept the change; a superuser can.
      const login = new pg.Client({ connectionString: ctx.cluster.url(db, LOGIN, LOGIN_PASSWORD) });
      await login.connect();
      await assert.rejects(login.query('DELETE FROM pgwarden_monitor.settings_baseline'), (e: { code?: string }) => e.code === '42501');
      await login.end();
      const admin = new pg.Client({ connectionString: ctx.cluster.url(db) });
      await admin.connect();
      try {
        assert.ok((await recordSettingsBaseline(admin)).settings > 100);
      } finally {
        await admin.end();
      }
      assert.equal((await ctx.run('settings_drift', { database: db })).rows.length, 0);
    },
  },
  {
    check: 'minor_version', what: 'minor releases behind the newest this pgwarden knows, with dates',
    async run(ctx) {
      const num = Number((await ctx.sql<{ server_version_num: string }>('SHOW server_version_num')).rows[0]!.server_version_num);
      const [major, minor] = [Math.floor(num / 10000), num % 10000];
      const newest = Math.max(...RELEASES.flatMap((r) => (r.minors[major] === undefined ? [] : [r.minors[major]!])));
      const result = await ctx.run('minor_version');
      assert.equal(row(result)!.value, Math.max(newest - minor, 0));
      assert.equal(row(result)!.metadata.newest, `${major}.${newest}`);
      assert.equal(result.level, newest - minor >= 3 ? 'critical' : newest - minor >= 1 ? 'warning' : 'ok');
      if (newest > minor) assert.match(row(result)!.detail!, new RegExp(`^PostgreSQL ${major}\\.${minor} is ${newest - minor} minor release\\(s\\) behind ${major}\\.${newest} \\(released \\d{4}-\\d\\d-\\d\\d\\)`));
      else assert.match(row(result)!.detail!, /is the newest minor release known/);
    },
  },
  {
    check: 'bloat', what: 'a table and its index that lost 90% of their rows are estimated as mostly wasted',
    async run(ctx) {
      const db = await ctx.newDatabase();
      await ctx.sql(`CREATE TABLE bloated (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false);
        INSERT INTO bloated SELECT g, repeat('x', 50) FROM generate_series(1, 100000) g; ANALYZE bloated`, [], db);
      const tight = await ctx.run('bloat', { database: db, settings: { params: { min_pages: 10 } } });
      for (const r of tight.rows) assert.ok((r.metadata.percent as number) < 25, `${r.item}: ${r.detail}`);
      await ctx.sql('DELETE FROM bloated WHERE id % 10 <> 0', [], db);
      await ctx.sql('VACUUM bloated', [], db);
      await ctx.sql('ANALYZE bloated', [], db);
      const result = await ctx.run('bloat', { database: db, settings: { warning: 1_000_000, params: { min_pages: 10 } } });
      const table = row(result, 'public.bloated')!;
      assert.ok((table.metadata.percent as number) > 80, table.detail!);
      assert.match(table.detail!, /^table: .* wasted \(\d+(\.\d)?%, estimated\)$/);
      assert.equal(table.level, 'warning');
      const index = row(result, 'public.bloated_pkey')!;
      assert.match(index.detail!, /^index on public\.bloated: /);
      assert.ok((index.metadata.percent as number) > 50, index.detail!);
    },
  },
  {
    check: 'pgbouncer_waiting', what: 'skipped without a console; a client queued behind a busy pool is counted (Debian pgbouncer)',
    async run(ctx) {
      assert.equal((await ctx.run('pgbouncer_waiting')).level, 'skipped');
      const bouncer = await startPgbouncer(ctx);
      const waiting = await waitFor(async () => {
        const r = (await checkServer({ ...ctx.target(), pgbouncer: bouncer.console }, { checks: ['pgbouncer_waiting'], settings: { pgbouncer_waiting: { warning: 1 } } })).checks[0]!;
        assert.equal(r.error, null, r.error ?? '');
        return row(r, 'appdb/pgw_pool_app')?.value === 1 ? r : undefined;
      }, 10_000, 'a waiting client');
      assert.equal(waiting.level, 'warning');
      assert.equal(row(waiting, 'appdb/pgw_pool_app')!.metadata.cl_active, 1);
    },
  },
  {
    check: 'pgbouncer_pool_usage', what: 'the busy server connections of a pool against its pool_size (Debian pgbouncer)',
    async run(ctx) {
      assert.equal((await ctx.run('pgbouncer_pool_usage')).level, 'skipped');
      const bouncer = await startPgbouncer(ctx);
      const full = await waitFor(async () => {
        const r = (await checkServer({ ...ctx.target(), pgbouncer: bouncer.console }, { checks: ['pgbouncer_pool_usage'] })).checks[0]!;
        assert.equal(r.error, null, r.error ?? '');
        return row(r, 'appdb/pgw_pool_app')?.metadata.cl_waiting === 1 ? r : undefined;
      }, 10_000, 'the pool full, a client waiting');
      const pool = row(full, 'appdb/pgw_pool_app')!;
      assert.deepEqual([pool.value, pool.level, pool.metadata.pool_size], [100, 'critical', 1]);
      assert.match(pool.detail!, /^1 of 1 server connection\(s\) busy \(100%\); 1 client\(s\) active, 1 waiting/);
      // A second database entry with its own pool_size, one client in a transaction: 1 of 4 busy.
      const quarter = await waitFor(async () => {
        const r = (await checkServer({ ...ctx.target(), pgbouncer: bouncer.console }, { checks: ['pgbouncer_pool_usage'] })).checks[0]!;
        return row(r, 'roomydb/pgw_pool_app')?.value === 25 ? r : undefined;
      }, 10_000, 'the roomy pool in use');
      assert.equal(row(quarter, 'roomydb/pgw_pool_app')!.level, 'ok');
      assert.equal(row(quarter, 'roomydb/pgw_pool_app')!.metadata.pool_size, 4);
    },
  },
  {
    check: 'pgbouncer_max_wait', what: 'the oldest queued client\'s wait is measured in seconds (Debian pgbouncer)',
    async run(ctx) {
      assert.equal((await ctx.run('pgbouncer_max_wait')).level, 'skipped');
      const bouncer = await startPgbouncer(ctx);
      const result = await waitFor(async () => {
        const r = (await checkServer({ ...ctx.target(), pgbouncer: bouncer.console }, { checks: ['pgbouncer_max_wait'], settings: { pgbouncer_max_wait: { warning: 1 } } })).checks[0]!;
        assert.equal(r.error, null, r.error ?? '');
        return (row(r, 'appdb/pgw_pool_app')?.value ?? 0) >= 1 ? r : undefined;
      }, 10_000, 'a client waiting a second');
      assert.equal(result.level, 'warning');
      assert.match(row(result, 'appdb/pgw_pool_app')!.detail!, /^the oldest of 1 waiting client\(s\) has waited \d/);
      const wrong = await checkServer({ ...ctx.target(), pgbouncer: { ...bouncer.console, password: 'wrong' } }, { checks: ['pgbouncer_max_wait'] });
      assert.equal(wrong.checks[0]!.level, 'unknown', 'a console that refuses the login is unknown, not ok');
      // Both pgbouncer checks start the run's SHOW POOLS before the server connections (warm): a
      // console that refuses reaches both as their own error, with no unhandled rejection.
      const both = await checkServer({ ...ctx.target(), pgbouncer: { ...bouncer.console, password: 'wrong' } }, { checks: ['pgbouncer_max_wait', 'alive', 'pgbouncer_waiting'] });
      assert.deepEqual(both.checks.map((c) => [c.name, c.level]), [['pgbouncer_max_wait', 'unknown'], ['alive', 'ok'], ['pgbouncer_waiting', 'unknown']]);
      assert.equal(both.checks[0]!.error, both.checks[2]!.error);
      assert.match(both.checks[0]!.error!, /password|SASL|auth/i);
      // A server that cannot be reached: the warmed console answer is not awaited by anyone, the run still ends.
      const down = await checkServer({ name: 'down', target: { url: 'postgres://nobody@127.0.0.1:1/postgres', label: 'down' }, pgbouncer: bouncer.console },
        { checks: ['pgbouncer_max_wait', 'pgbouncer_waiting'] });
      assert.deepEqual(down.checks.map((c) => c.summary), ['not checked: the server cannot be reached', 'not checked: the server cannot be reached']);
    },
  },
];

async function installSensors(ctx: Ctx, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: ctx.cluster.url(database) });
  await client.connect();
  try {
    await installSchema(client, newRecorderPassword());
  } finally {
    await client.end();
  }
}

async function setArchiveCommand(ctx: Ctx, command: string): Promise<void> {
  await ctx.sql(`ALTER SYSTEM SET archive_command = '${command}'`);
  await ctx.sql('SELECT pg_reload_conf()');
  await waitFor(async () => (await ctx.sql<{ archive_command: string }>('SHOW archive_command')).rows[0]!.archive_command === command,
    5000, 'archive_command reloaded');
}

/** pg_receivewal as a streaming standby (PostgreSQL 15 only), stopped when the scenario ends. */
async function startReceiver(ctx: Ctx): Promise<ChildProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-receivewal-'));
  const child = spawn(path.join(ctx.cluster.binDir, 'pg_receivewal'),
    ['-h', ctx.cluster.socketDir, '-p', String(ctx.cluster.port), '-U', ctx.cluster.superuser, '-D', dir, '--no-loop', '-w'],
    { stdio: 'ignore', env: { ...process.env, PGAPPNAME: 'pgwarden_test_receiver' } });
  ctx.defer(async () => {
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await new Promise((resolve) => { if (child.exitCode !== null) resolve(undefined); else child.once('exit', resolve); });
    rmSync(dir, { recursive: true, force: true });
  });
  return child;
}

/** Starts a cluster with the monitor installed in postgres and template1, and a context. */
export async function monitoredCluster(flavor: Flavor): Promise<{ cluster: Cluster; makeCtx: () => Ctx & { cleanup(): Promise<void> } }> {
  const cluster = await startCluster({
    flavor,
    pgaudit: flavor === 'pg15',
    // Archiving on (to a command that succeeds) so the archiver and backup checks have something to see.
    settings: { archive_mode: 'on', archive_command: "'/bin/true'", wal_level: 'replica', max_wal_senders: 5, max_prepared_transactions: 5 },
  });
  await cluster.createRole(LOGIN, LOGIN_PASSWORD);
  for (const database of ['postgres', 'template1']) await installInto(cluster, database);
  const makeCtx = () => {
    const cleanups: (() => Promise<unknown> | unknown)[] = [];
    const sessions: pg.Client[] = [];
    const ctx: Ctx & { cleanup(): Promise<void> } = {
      cluster,
      flavor,
      target: (database = 'postgres') => ({ name: flavor, target: { url: cluster.url(database, LOGIN, LOGIN_PASSWORD), label: flavor } }),
      async run(check, options = {}) {
        const result = await checkServer(ctx.target(options.database), { checks: [check], settings: options.settings ? { [check]: options.settings } : undefined });
        const checked = result.checks[0]!;
        if (!options.allowError) assert.equal(checked.error, null, `${check} failed: ${checked.error}`);
        return checked;
      },
      sql: (text, params, database) => cluster.query(text, params, database),
      async session(database = 'postgres', user = cluster.superuser, password = cluster.superuserPassword) {
        const client = new pg.Client({ connectionString: cluster.url(database, user, password) });
        client.on('error', () => undefined);
        await client.connect();
        sessions.push(client);
        return client;
      },
      newDatabase: () => cluster.createDatabase(),
      install: (database, options) => installInto(cluster, database, options),
      async namedDatabase() {
        const database = await cluster.createDatabase();
        await installInto(cluster, database, { showNames: true });
        return database;
      },
      defer: (cleanup) => { cleanups.push(cleanup); },
      async cleanup() {
        for (const cleanup of cleanups.reverse()) await cleanup();
        await Promise.all(sessions.map((s) => s.end().catch(() => undefined)));
      },
    };
    return ctx;
  };
  return { cluster, makeCtx };
}

export async function installInto(cluster: Cluster, database: string, options?: MonitorInstallOptions): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.url(database) });
  await client.connect();
  try {
    await installMonitor(client, LOGIN, options);
  } finally {
    await client.end();
  }
}

/**
 * Debian's pgbouncer in front of the cluster: pool "appdb" of one server connection, a client
 * holding it (session pooling) and a second one queued behind it; pool "roomydb" of four, one held; the console login
 * pgw_bouncer_stats is in stats_users. Stopped when the scenario ends.
 */
async function startPgbouncer(ctx: Ctx): Promise<{ console: Target }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-pgbouncer-'));
  const owner = statSync(ctx.cluster.socketDir);
  const port = await freePort();
  writeFileSync(path.join(dir, 'userlist.txt'), '"pgw_pool_app" "app-pw"\n"pgw_bouncer_stats" "stats-pw"\n');
  writeFileSync(path.join(dir, 'pgbouncer.ini'), `[databases]
appdb = host=127.0.0.1 port=${ctx.cluster.port} dbname=postgres pool_size=1
roomydb = host=127.0.0.1 port=${ctx.cluster.port} dbname=postgres pool_size=4
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
stats_users = pgw_bouncer_stats
pool_mode = session
logfile = ${path.join(dir, 'pgbouncer.log')}
pidfile = ${path.join(dir, 'pgbouncer.pid')}
`);
  for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(path.join(dir, file), owner.uid, owner.gid);
  await ctx.sql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgw_pool_app') THEN CREATE ROLE pgw_pool_app LOGIN PASSWORD 'app-pw'; END IF; END $$");
  const child = spawn('/usr/sbin/pgbouncer', [path.join(dir, 'pgbouncer.ini')],
    { stdio: 'ignore', ...(process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {}) });
  ctx.defer(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => { if (child.exitCode !== null) resolve(undefined); else child.once('exit', resolve); });
    rmSync(dir, { recursive: true, force: true });
  });
  const url = (user: string, password: string, database: string) => `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  const holder = await waitFor(async () => {
    const client = new pg.Client({ connectionString: url('pgw_pool_app', 'app-pw', 'appdb') });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('BEGIN');
      return client;
    } catch {
      await client.end().catch(() => undefined);
      return undefined;
    }
  }, 10_000, 'pgbouncer accepting connections');
  const queued = new pg.Client({ connectionString: url('pgw_pool_app', 'app-pw', 'appdb') });
  queued.on('error', () => undefined);
  const waiting = queued.connect().then(() => queued.query('SELECT 1')).catch(() => undefined);
  const roomy = new pg.Client({ connectionString: url('pgw_pool_app', 'app-pw', 'roomydb') });
  roomy.on('error', () => undefined);
  await roomy.connect();
  await roomy.query('BEGIN');
  ctx.defer(async () => {
    await roomy.end().catch(() => undefined);
    await holder.end().catch(() => undefined);
    await waiting;
    await queued.end().catch(() => undefined);
  });
  return { console: { url: `postgres://pgw_bouncer_stats@127.0.0.1:${port}/pgbouncer`, password: 'stats-pw', label: 'pgbouncer' } };
}
