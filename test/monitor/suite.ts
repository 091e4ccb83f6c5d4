// The monitor on one real server: the result contract, what the login can and cannot do,
// and every check's scenario. checks-pg18.test.ts and checks-pg15.test.ts run it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { CHECKS, CHECK_COLUMNS, checkServer, functionSql, type CheckDefinition } from '../../src/monitor/index.ts';
import type { Cluster, Flavor } from '../harness/postgres.ts';
import { LOGIN, LOGIN_PASSWORD, SCENARIOS, monitoredCluster, type Ctx } from './scenarios.ts';

export function monitorSuite(flavor: Flavor): void {
  describe(`secure monitoring checks (${flavor})`, () => {
    let cluster: Cluster;
    let makeCtx: () => Ctx & { cleanup(): Promise<void> };
    before(async () => ({ cluster, makeCtx } = await monitoredCluster(flavor)));
    after(async () => cluster?.stop());

    const asLogin = async <T>(work: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> => {
      const client = new pg.Client({ connectionString: cluster.url(database, LOGIN, LOGIN_PASSWORD) });
      await client.connect();
      try {
        return await work(client);
      } finally {
        await client.end();
      }
    };

    it('every check function has the same result columns, is SECURITY DEFINER, pinned, and executable only by pgwarden_monitor', async () => {
      const { rows } = await cluster.query<{ name: string; result: string; secdef: boolean; config: string[]; owner: string; acl: string[] }>(`
        SELECT p.proname AS name, pg_get_function_result(p.oid) AS result, p.prosecdef AS secdef, p.proconfig AS config,
               pg_get_userbyid(p.proowner) AS owner, p.proacl::text[] AS acl
          FROM pg_proc p WHERE p.pronamespace = 'pgwarden_monitor'::regnamespace AND p.proname LIKE 'check\\_%' ORDER BY 1`);
      assert.deepEqual(rows.map((r) => r.name), CHECKS.filter((c) => !c.local).map((c) => `check_${c.name}`).sort());
      for (const row of rows) {
        assert.equal(row.result, `TABLE(${CHECK_COLUMNS})`, row.name);
        assert.equal(row.secdef, true, row.name);
        assert.deepEqual(row.config, ['search_path=pg_catalog, pg_temp'], row.name);
        assert.equal(row.owner, 'pgwarden_monitor_owner', row.name);
        assert.deepEqual(row.acl.sort(), ['pgwarden_monitor=X/pgwarden_monitor_owner', 'pgwarden_monitor_owner=X/pgwarden_monitor_owner'], row.name);
      }
    });

    it('the login runs every check without an error', async () => {
      const result = await checkServer({ name: flavor, target: { url: cluster.url('postgres', LOGIN, LOGIN_PASSWORD), label: flavor } });
      assert.equal(result.error, null);
      assert.equal(result.checks.length, CHECKS.length);
      for (const check of result.checks) {
        assert.equal(check.error, null, `${check.name}: ${check.error}`);
        assert.ok(['ok', 'warning', 'critical', 'skipped'].includes(check.level), `${check.name}: ${check.level}`);
        for (const row of check.rows) assert.equal(row.finding_key, `${check.name}:${row.item}`);
      }
    });

    it('the login can read no table, no catalog secret, no other session\'s query, and call nothing but the checks', async () => {
      await cluster.query("CREATE TABLE IF NOT EXISTS public.customer_cards (number text); INSERT INTO public.customer_cards VALUES ('4111111111111111')");
      const other = new pg.Client({ connectionString: cluster.url() });
      await other.connect();
      const marker = `other_session_marker_${process.pid}`;
      const otherPid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const running = other.query(`SELECT pg_sleep(1), '${marker}'`);
      try {
        await asLogin(async (client) => {
          const denied = async (sql: string) => {
            await assert.rejects(client.query(sql), (e: { code?: string }) => e.code === '42501', sql);
          };
          await denied('SELECT * FROM public.customer_cards');
          await denied('SELECT rolpassword FROM pg_catalog.pg_authid');
          await denied('SELECT * FROM pg_catalog.pg_hba_file_rules');
          await denied('SELECT * FROM pg_catalog.pg_ls_waldir()');
          await denied('SELECT * FROM pgwarden_monitor.samples');
          await denied('SELECT * FROM pgwarden_monitor.superuser_changes');
          await denied('DELETE FROM pgwarden_monitor.settings_baseline');
          await denied('SELECT stanullfrac FROM pg_catalog.pg_statistic');
          await denied('UPDATE pgwarden_monitor.write_probe SET written_at = now()');
          await denied("SELECT * FROM pgwarden_monitor.sample_delta('x', 'y', 1, true)");
          await denied('CREATE TABLE pgwarden_monitor.planted (id int)');
          await denied("SELECT pg_catalog.pg_read_file('postgresql.conf')");
          const { rows } = await client.query<{ query: string }>('SELECT query FROM pg_catalog.pg_stat_activity WHERE pid = $1', [otherPid]);
          assert.equal(rows[0]?.query, '<insufficient privilege>');
          // Its only role membership is pgwarden_monitor.
          const member = await client.query<{ role: string }>(
            'SELECT b.rolname AS role FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = current_user');
          assert.deepEqual(member.rows.map((r) => r.role), ['pgwarden_monitor']);
          const flags = await client.query('SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user');
          assert.deepEqual(flags.rows[0], { rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolbypassrls: false });
        });
        // What the checks return never contains other sessions' statements.
        const result = await checkServer({ name: flavor, target: { url: cluster.url('postgres', LOGIN, LOGIN_PASSWORD), label: flavor } });
        assert.ok(!JSON.stringify(result).includes(marker));
        assert.ok(!JSON.stringify(result).includes('4111111111111111'));
      } finally {
        await running;
        await other.end();
      }
    });

    it('samples are kept per caller: another login calling a sampling check between two runs does not reset yours', async () => {
      const db = await cluster.createDatabase();
      await cluster.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgw_other_monitor') THEN CREATE ROLE pgw_other_monitor LOGIN PASSWORD 'other-pw'; END IF; END $$");
      await cluster.query('GRANT pgwarden_monitor TO pgw_other_monitor');
      const as = (user: string, password: string) => checkServer({ name: flavor, target: { url: cluster.url(db, user, password), label: flavor } }, { checks: ['transaction_rate'] });
      const first = await as(LOGIN, LOGIN_PASSWORD);
      assert.equal(first.checks[0]!.rows[0]!.value, null, 'first sample');
      const started = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 700));
      for (let i = 0; i < 2; i++) await as('pgw_other_monitor', 'other-pw');
      const second = await as(LOGIN, LOGIN_PASSWORD);
      const interval = second.checks[0]!.rows[0]!.metadata.interval_seconds as number;
      assert.ok(interval * 1000 >= Date.now() - started - 200, `the interval since this login's own previous run (${interval} s), not the other's`);
    });

    it('a check whose SQL needs a newer server installs as skipped, with the reason', async () => {
      const future: CheckDefinition = {
        name: 'future_feature', category: 'health', scope: 'cluster', description: 'test', unit: 'count',
        thresholds: { warning: 1, critical: null, direction: 'above' },
        sql: [{ minVersion: 990000, language: 'sql', body: "SELECT ''::text, 1::float8, NULL::text, NULL::text, NULL::jsonb" }],
      };
      const db = await cluster.createDatabase();
      await cluster.query(functionSql(future, flavor === 'pg18' ? 180000 : 150000), [], db);
      const { rows } = await cluster.query('SELECT * FROM pgwarden_monitor.check_future_feature()', [], db);
      assert.deepEqual(rows, [{ item: '', value: null, detail: null, skipped: 'needs PostgreSQL 99 or later', metadata: null }]);
    });

    it('a slow check times out alone; the others still answer', async () => {
      const db = await cluster.createDatabase();
      // Hold a lock the superusers check needs, so it blocks past the timeout.
      const holder = new pg.Client({ connectionString: cluster.url(db) });
      await holder.connect();
      await holder.query('BEGIN; LOCK TABLE pgwarden_monitor.superuser_changes');
      try {
        const result = await checkServer({ name: flavor, target: { url: cluster.url(db, LOGIN, LOGIN_PASSWORD), label: flavor } },
          { checks: ['superusers', 'alive', 'uptime'], timeoutMs: 300 });
        assert.equal(result.checks[0]!.level, 'unknown');
        assert.match(result.checks[0]!.error!, /timed out after 300 ms/);
        assert.equal(result.checks[1]!.level, 'ok');
        assert.equal(result.checks[1]!.error, null);
        assert.equal(result.checks[2]!.error, null);
      } finally {
        await holder.query('ROLLBACK');
        await holder.end();
      }
    });

    for (const scenario of SCENARIOS.filter((s) => !s.flavors || s.flavors.includes(flavor))) {
      it(`${scenario.check}: ${scenario.what}`, async () => {
        const ctx = makeCtx();
        try {
          await scenario.run(ctx);
        } finally {
          await ctx.cleanup();
        }
      });
    }
  });
}
