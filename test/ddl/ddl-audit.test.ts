// The DDL audit on real PostgreSQL 18 and 15: what the event triggers record (through the
// `pgwarden report ddl` a user runs), what a rollback leaves (nothing), the change policy's
// refusals, and tamper detection by `pgwarden status` with repair by `pgwarden install`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { installedCluster, pgEnv, runCli } from '../harness/cli.ts';
import type { Cluster, Flavor } from '../harness/postgres.ts';

interface ReportedDdl {
  id: number; user_name: string; current_user_name: string; database: string; client_addr: string; client_port: number | null;
  application: string; command_tag: string; object_type: string | null; object_identity: string | null; schema_name: string | null;
  in_extension: boolean; statement: string; change_ticket: string | null; event: string; server_port: number | null; txid: number;
}

for (const flavor of ['pg18', 'pg15'] as Flavor[]) {
  describe(`DDL audit (${flavor})`, () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await installedCluster(flavor, { template1: true });
      await cluster.createRole('dev', 'dev-pw');
      await cluster.createRole('dba', 'dba-pw');
      await cluster.query('CREATE ROLE owners NOLOGIN; GRANT owners TO dev');
    });
    after(async () => cluster?.stop());

    /** A fresh database (pgwarden comes from template1) where dev may create objects. */
    async function database(name: string): Promise<void> {
      await cluster.createDatabase(name);
      await cluster.query(`GRANT ALL ON DATABASE ${name} TO dev, dba, owners`);
      const admin = new pg.Client({ connectionString: cluster.url(name) });
      await admin.connect();
      await admin.query('GRANT ALL ON SCHEMA public TO dev, dba, owners');
      await admin.end();
    }

    async function as(user: string, password: string, db: string, application: string, work: (c: pg.Client) => Promise<void>): Promise<void> {
      const client = new pg.Client({ connectionString: cluster.url(db, user, password), application_name: application });
      await client.connect();
      try {
        await work(client);
      } finally {
        await client.end();
      }
    }

    async function report(db: string, ...args: string[]): Promise<ReportedDdl[]> {
      const result = await runCli(['report', 'ddl', '--format', 'json', ...args], pgEnv(cluster, db));
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as ReportedDdl[];
    }

    it('records create, alter and drop of tables, indexes, functions, schemas and views, with who and from where', async () => {
      await database('audit_objects');
      await as('dev', 'dev-pw', 'audit_objects', 'migrate-tool 1.0', async (c) => {
        await c.query('CREATE SCHEMA sales');
        await c.query('CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric)');
        await c.query('CREATE INDEX orders_total_idx ON sales.orders (total)');
        await c.query('CREATE VIEW sales.big_orders AS SELECT * FROM sales.orders WHERE total > 100');
        await c.query('CREATE VIEW sales.recent AS SELECT id FROM sales.orders');
        await c.query("CREATE FUNCTION sales.double_it(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2'");
        await c.query('ALTER TABLE sales.orders ADD COLUMN note text');
        await c.query('DROP VIEW sales.big_orders');
        await c.query('DROP INDEX sales.orders_total_idx');
        await c.query('DROP FUNCTION sales.double_it(int)');
        await c.query('DROP TABLE sales.orders CASCADE');
        await c.query('DROP SCHEMA sales');
      });
      const rows = await report('audit_objects');
      const seen = rows.map((r) => `${r.command_tag} | ${r.object_type} | ${r.object_identity}`);
      for (const expected of [
        'CREATE SCHEMA | schema | sales',
        'CREATE TABLE | table | sales.orders',
        'CREATE INDEX | index | sales.orders_pkey',
        'CREATE INDEX | index | sales.orders_total_idx',
        'CREATE VIEW | view | sales.big_orders',
        'CREATE FUNCTION | function | sales.double_it(integer)',
        'ALTER TABLE | table | sales.orders',
        'DROP VIEW | view | sales.big_orders',
        'DROP INDEX | index | sales.orders_total_idx',
        'DROP FUNCTION | function | sales.double_it(integer)',
        'DROP TABLE | table | sales.orders',
        'DROP SCHEMA | schema | sales',
      ]) assert.ok(seen.includes(expected), `missing "${expected}" in:\n${seen.join('\n')}`);
      // What CASCADE took along is recorded; the table's own row type is not.
      assert.ok(seen.includes('DROP TABLE | view | sales.recent'), seen.join('\n'));
      assert.ok(!seen.some((s) => s.startsWith('DROP TABLE | type')), seen.join('\n'));
      const create = rows.find((r) => r.command_tag === 'CREATE TABLE' && r.object_type === 'table')!;
      assert.equal(create.user_name, 'dev');
      assert.equal(create.current_user_name, 'dev');
      assert.equal(create.database, 'audit_objects');
      assert.equal(create.application, 'migrate-tool 1.0');
      assert.equal(create.client_addr, '127.0.0.1');
      assert.ok(create.client_port && create.client_port > 0);
      assert.equal(create.server_port, cluster.port);
      assert.equal(create.schema_name, 'sales');
      assert.equal(create.in_extension, false);
      assert.equal(create.statement, 'CREATE TABLE sales.orders (id int PRIMARY KEY, total numeric)');
      assert.equal(create.event, 'ddl_command_end');
      assert.equal(rows.find((r) => r.command_tag === 'DROP TABLE')!.event, 'sql_drop');
      // Filters a user would reach for.
      assert.deepEqual([...new Set((await report('audit_objects', '--command', 'drop table')).map((r) => r.command_tag))], ['DROP TABLE']);
      assert.equal((await report('audit_objects', '--user', 'dba')).length, 0);
      assert.deepEqual([...new Set((await report('audit_objects', '--command', 'drop *')).map((r) => r.command_tag))].sort(),
        ['DROP FUNCTION', 'DROP INDEX', 'DROP SCHEMA', 'DROP TABLE', 'DROP VIEW']);
      const csv = await runCli(['report', 'ddl', '--format', 'csv'], pgEnv(cluster, 'audit_objects'));
      assert.match(csv.stdout.split('\r\n')[0]!, /^ts,id,user,current_user,database,client_addr,application,command_tag,event,object_type,object_identity/);
    });

    it('leaves nothing for rolled-back DDL, records table rewrites, SET ROLE and the change ticket', async () => {
      await database('audit_tx');
      await as('dev', 'dev-pw', 'audit_tx', 'psql', async (c) => {
        await c.query('BEGIN');
        await c.query('CREATE TABLE ghost (id int)');
        await c.query('ROLLBACK');
        await c.query('CREATE TABLE kept (id int)');
        await c.query('INSERT INTO kept VALUES (1)');
        await c.query('ALTER TABLE kept OWNER TO owners');
        await c.query("SET pgwarden.change_ticket = 'CHG-42'");
        await c.query('SET ROLE owners');
        await c.query('ALTER TABLE kept ALTER COLUMN id TYPE bigint');
        await c.query('RESET ROLE');
        await c.query('CREATE TEMP TABLE scratch (x int)');
      });
      // A superuser's changes to objects outside any schema are recorded too.
      const admin = new pg.Client({ connectionString: cluster.url('audit_tx') });
      await admin.connect();
      await admin.query('CREATE SCHEMA su_schema');
      await admin.query('ALTER SCHEMA su_schema RENAME TO su_renamed');
      await admin.query('DROP SCHEMA su_renamed');
      await admin.end();
      const rows = await report('audit_tx');
      for (const expected of ['CREATE SCHEMA su_schema', 'ALTER SCHEMA su_renamed', 'DROP SCHEMA su_renamed']) {
        assert.ok(rows.some((r) => `${r.command_tag} ${r.object_identity}` === expected && r.user_name === cluster.superuser), `missing ${expected}`);
      }
      assert.ok(!rows.some((r) => r.object_identity?.includes('ghost')), 'a rolled-back CREATE TABLE must leave no row');
      assert.ok(!rows.some((r) => r.object_identity?.includes('scratch')), 'temporary tables are not schema changes');
      const rewrite = rows.find((r) => r.event === 'table_rewrite');
      assert.ok(rewrite, JSON.stringify(rows));
      assert.equal(rewrite.object_identity, 'public.kept');
      assert.equal((rewrite as unknown as { detail: string }).detail, 'table rewritten: column type changed');
      const alter = rows.filter((r) => r.command_tag === 'ALTER TABLE' && r.event === 'ddl_command_end').pop()!;
      assert.match(alter.statement, /TYPE bigint/);
      assert.equal(alter.user_name, 'dev');
      assert.equal(alter.current_user_name, 'owners');
      assert.equal(alter.change_ticket, 'CHG-42');
      assert.equal(rows.find((r) => r.command_tag === 'CREATE TABLE')!.change_ticket, null);
    });

    it('the change policy refuses roles, freezes and missing tickets with a clear SQLSTATE, and exempts break-glass roles', async () => {
      await database('audit_policy');
      const env = pgEnv(cluster, 'audit_policy');
      await cluster.query('CREATE ROLE outsider LOGIN PASSWORD \'out-pw\'');
      await cluster.query('GRANT ALL ON DATABASE audit_policy TO outsider');
      const adminGrant = new pg.Client({ connectionString: cluster.url('audit_policy') });
      await adminGrant.connect();
      await adminGrant.query('GRANT ALL ON SCHEMA public TO outsider');
      await adminGrant.end();

      const set = await runCli(['ddl', 'policy', 'set', '--enable', '--allowed-role', 'owners', '--exempt-role', 'dba',
        '--require-ticket', '--ticket-pattern', '^CHG-[0-9]+$'], env);
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /change policy: ON/);
      assert.match(set.stdout, /roles allowed to change the schema: owners/);

      const attempt = async (user: string, password: string, ticket: string | null): Promise<{ code?: string; message?: string; hint?: string }> => {
        let outcome: { code?: string; message?: string; hint?: string } = {};
        await as(user, password, 'audit_policy', 'psql', async (c) => {
          if (ticket) await c.query(`SET pgwarden.change_ticket = '${ticket}'`);
          try {
            await c.query(`CREATE TABLE t_${user}_${Date.now()} (id int)`);
          } catch (error) {
            const e = error as { code?: string; message: string; hint?: string };
            outcome = { code: e.code, message: e.message, hint: e.hint };
          }
        });
        return outcome;
      };

      const outsider = await attempt('outsider', 'out-pw', 'CHG-1');
      assert.equal(outsider.code, '42501');
      assert.match(outsider.message!, /pgwarden change policy: role outsider may not change the schema \(CREATE TABLE refused\)/);
      const noTicket = await attempt('dev', 'dev-pw', null);
      assert.equal(noTicket.code, '42501');
      assert.match(noTicket.message!, /a change ticket is required/);
      assert.match(noTicket.hint!, /SET pgwarden.change_ticket/);
      const badTicket = await attempt('dev', 'dev-pw', 'whatever');
      assert.match(badTicket.message!, /change ticket 'whatever' does not match/);
      assert.deepEqual(await attempt('dev', 'dev-pw', 'CHG-7'), {}, 'a member of an allowed role with a ticket may change the schema');

      const freeze = await runCli(['ddl', 'policy', 'freeze', '--until', '2h', '--reason', 'year-end close'], env);
      assert.equal(freeze.code, 0, freeze.stderr);
      const frozen = await attempt('dev', 'dev-pw', 'CHG-8');
      assert.equal(frozen.code, '55000');
      assert.match(frozen.message!, /schema changes are frozen until/);
      assert.deepEqual(await attempt('dba', 'dba-pw', null), {}, 'an exempt role passes even a freeze');

      const shown = await runCli(['ddl', 'policy', 'show', '--format', 'json'], env);
      const policy = JSON.parse(shown.stdout) as { enabled: boolean; windows: { id: number; kind: string; reason: string; active: boolean }[] };
      assert.equal(policy.windows[0]!.kind, 'freeze');
      assert.equal(policy.windows[0]!.active, true);
      const removed = await runCli(['ddl', 'policy', 'remove-window', String(policy.windows[0]!.id)], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(await attempt('dev', 'dev-pw', 'CHG-9'), {});

      // The recorded change carries its ticket; refused attempts left no DDL row.
      const rows = await report('audit_policy');
      assert.deepEqual(rows.filter((r) => r.command_tag === 'CREATE TABLE').map((r) => [r.user_name, r.change_ticket]),
        [['dev', 'CHG-7'], ['dba', null], ['dev', 'CHG-9']]);

      // Bad input is refused whole, with the flag named.
      const bad = await runCli(['ddl', 'policy', 'set', '--ticket-pattern', '(unclosed'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--ticket-pattern "\(unclosed" is not a valid regular expression/);
      const ghost = await runCli(['ddl', 'policy', 'set', '--allowed-role', 'no_such_role'], env);
      assert.equal(ghost.code, 2);
      assert.match(ghost.stderr, /--allowed-role: role "no_such_role" does not exist; nothing was changed/);
      // A duration in --until counts from --from.
      const window = await runCli(['ddl', 'policy', 'window', '--from', '2030-01-01T22:00:00Z', '--until', '4h', '--reason', 'release'], env);
      assert.equal(window.code, 0, window.stderr);
      assert.match(window.stdout, /2030-01-01T22:00:00\.000Z\s+2030-01-02T02:00:00\.000Z\s+no\s+release/);
      const badTime = await runCli(['ddl', 'policy', 'freeze', '--until', 'tomorrow'], env);
      assert.equal(badTime.code, 2);
      assert.match(badTime.stderr, /--until "tomorrow" is not now, a duration/);
      const off = await runCli(['ddl', 'policy', 'set', '--disable'], env);
      assert.equal(off.code, 0, off.stderr);
      assert.deepEqual(await attempt('outsider', 'out-pw', null), {});
    });

    it('status finds a disabled, dropped or replaced DDL trigger or function, and install repairs it', async () => {
      await database('audit_tamper');
      const env = pgEnv(cluster, 'audit_tamper');
      const clean = await runCli(['status'], env);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      const admin = new pg.Client({ connectionString: cluster.url('audit_tamper') });
      await admin.connect();
      await admin.query('ALTER EVENT TRIGGER pgwarden_ddl_command_end DISABLE');
      await admin.query('DROP EVENT TRIGGER pgwarden_ddl_sql_drop');
      await admin.query('ALTER EVENT TRIGGER pgwarden_ddl_table_rewrite ENABLE REPLICA');
      await admin.query(`CREATE OR REPLACE FUNCTION pgwarden.ddl_policy_check() RETURNS event_trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ BEGIN RETURN; END $$`);
      const tampered = await runCli(['status'], env);
      assert.equal(tampered.code, 7, tampered.stdout + tampered.stderr);
      assert.match(tampered.stdout, /DISABLED\s+event trigger pgwarden_ddl_command_end/);
      assert.match(tampered.stdout, /MISSING\s+event trigger pgwarden_ddl_sql_drop/);
      assert.match(tampered.stdout, /DISABLED\s+event trigger pgwarden_ddl_table_rewrite .*enabled for replicas only/);
      assert.match(tampered.stdout, /CHANGED\s+definition of pgwarden.ddl_policy_check\(\)/);
      const problems = await runCli(['status', '--problems'], env);
      assert.equal(problems.code, 7);
      assert.doesNotMatch(problems.stdout, /^OK\s/m);
      assert.equal(problems.stdout.split('\n').filter((l) => /^(DISABLED|MISSING|CHANGED)\s/.test(l)).length, 4, problems.stdout);
      // While disabled, DDL goes unrecorded: exactly why status must say so.
      await admin.query('CREATE TABLE unseen (id int)');
      await admin.end();
      const repaired = await runCli(['install'], env);
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stdout, /repaired event trigger pgwarden_ddl_command_end/);
      assert.match(repaired.stdout, /repaired definition of pgwarden.ddl_policy_check\(\)/);
      // What went unrecorded meanwhile, the reconciliation finds (and install does not bless it).
      const found = await runCli(['status'], env);
      assert.equal(found.code, 7, found.stdout);
      assert.match(found.stdout, /CHANGED\s+unrecorded change: relation public\.unseen created/);
      assert.equal((await runCli(['ddl', 'baseline', '--accept'], env)).code, 0);
      const after = await runCli(['status'], env);
      assert.equal(after.code, 0, after.stdout + after.stderr);
      // Install's own regeneration of its functions is not reported as DDL.
      const rows = await report('audit_tamper');
      assert.ok(!rows.some((r) => r.schema_name === 'pgwarden'), JSON.stringify(rows.map((r) => r.object_identity)));
    });
  });
}
