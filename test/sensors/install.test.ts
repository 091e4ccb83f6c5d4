// install / status / uninstall through the real `pgwarden` command on PostgreSQL 18 and 15:
// idempotent, upgrade-safe, tamper-evident, and leaves nothing behind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pgEnv, runCli } from '../harness/cli.ts';
import { startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';
import { LATEST_SCHEMA_VERSION } from '../../src/sensors/index.ts';

/** Everything install could leave behind, cluster-wide and in one database. */
async function footprint(cluster: Cluster, database: string): Promise<string[]> {
  const { rows } = await cluster.query<{ item: string }>(`
    SELECT 'schema ' || nspname AS item FROM pg_namespace WHERE nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%'
    UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL SELECT 'relation ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL SELECT 'event trigger ' || evtname FROM pg_event_trigger
    UNION ALL SELECT 'extension ' || extname FROM pg_extension
    UNION ALL SELECT 'role ' || rolname FROM pg_roles
    UNION ALL SELECT 'foreign server ' || srvname FROM pg_foreign_server
    UNION ALL SELECT 'database flag login trigger ' || datname FROM pg_database WHERE to_jsonb(pg_database) ->> 'dathasloginevt' = 'true'
    ORDER BY 1`, [], database);
  return rows.map((r) => r.item);
}

for (const flavor of ['pg18', 'pg15'] as Flavor[]) {
  describe(`install, status, uninstall (${flavor})`, () => {
    let cluster: Cluster;
    let env: NodeJS.ProcessEnv;
    before(async () => {
      cluster = await startCluster({ flavor, pgaudit: flavor === 'pg15' });
      env = pgEnv(cluster);
    });
    after(async () => cluster?.stop());

    it('installs idempotently, reports OK, and uninstall leaves nothing behind', async () => {
      const before = await footprint(cluster, 'postgres');
      const first = await runCli(['install'], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`postgres: version 0 -> ${LATEST_SCHEMA_VERSION}`));
      assert.match(first.stdout, flavor === 'pg18' ? /login trigger: on/ : /login trigger: none \(PostgreSQL < 17/);
      const again = await runCli(['install'], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`already at version ${LATEST_SCHEMA_VERSION}`));

      const status = await runCli(['status', '--format', 'json'], env);
      const [report] = JSON.parse(status.stdout) as { drift: boolean; items: { object: string; state: string }[] }[];
      assert.equal(report!.drift, false, status.stdout);
      assert.equal(status.code, 0);
      if (flavor === 'pg15') {
        const enforcement = report!.items.find((i) => i.object.startsWith('login enforcement'));
        assert.equal(enforcement?.state, 'WARN', 'PostgreSQL 15 without session_exec is reported as unenforced');
      }

      const removed = await runCli(['uninstall'], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /postgres: removed/);
      assert.match(removed.stdout, /role pgwarden_recorder: dropped/);
      assert.deepEqual(await footprint(cluster, 'postgres'), before);

      const gone = await runCli(['status'], env);
      assert.equal(gone.code, 7);
      assert.match(gone.stdout, /MISSING\s+schema pgwarden/);
    });

    it('status detects a disabled or dropped guard trigger, and install repairs it', async () => {
      assert.equal((await runCli(['install'], env)).code, 0);
      const tamper = flavor === 'pg18'
        ? { disable: 'ALTER EVENT TRIGGER pgwarden_guard_login DISABLE', drop: 'DROP EVENT TRIGGER pgwarden_guard_login', object: 'event trigger pgwarden_guard_login' }
        : { disable: 'ALTER TABLE pgwarden.guard_rules DISABLE TRIGGER guard_rules_recompile', drop: 'DROP TRIGGER guard_rules_recompile ON pgwarden.guard_rules', object: 'trigger guard_rules_recompile' };

      await cluster.query(tamper.disable);
      let status = await runCli(['status'], env);
      assert.equal(status.code, 7);
      assert.match(status.stdout, new RegExp(`DISABLED\\s+${tamper.object}`));
      assert.match(status.stderr, /drift found in postgres.*\[PGW_ERR_DRIFT\]/s);
      const repair = await runCli(['install'], env);
      assert.equal(repair.code, 0);
      assert.match(repair.stdout, new RegExp(`postgres: repaired ${tamper.object}.* \\(was DISABLED`));
      assert.equal((await runCli(['status'], env)).code, 0, 'install re-enabled it');

      await cluster.query(tamper.drop);
      status = await runCli(['status'], env);
      assert.equal(status.code, 7);
      assert.match(status.stdout, new RegExp(`MISSING\\s+${tamper.object}`));

      // A generated function edited by hand is caught by its recorded checksum, and a
      // SECURITY DEFINER function whose search_path was unpinned is caught too.
      await cluster.query('ALTER PROCEDURE pgwarden.record_refusal(integer, bigint, text, text) RESET search_path');
      await cluster.query(`CREATE OR REPLACE FUNCTION pgwarden.guard_decide(p_role text, p_application text, p_client inet, p_database text)
        RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$ BEGIN RETURN 0; END $$`);
      status = await runCli(['status'], env);
      assert.match(status.stdout, /CHANGED\s+compiled source of pgwarden\.guard_decide/);
      assert.match(status.stdout, /CHANGED\s+function pgwarden\.record_refusal\(integer,bigint,text,text\)\s+definer, search_path pinned.*definer, search_path not pinned/);
      // A recorder that cannot log in would lose refusals: status tests it.
      await cluster.query("UPDATE pgwarden.guard_recorder SET password = 'wrong'");
      status = await runCli(['status'], env);
      assert.match(status.stdout, /FAILED\s+refusal recorder \(dblink loopback login\).*cannot log in: .*password authentication failed/);
      if (flavor === 'pg15') {
        // A dropped table trigger needs the migration again: only a reinstall restores it.
        assert.equal((await runCli(['uninstall'], env)).code, 0);
      }
      assert.equal((await runCli(['install'], env)).code, 0);
      status = await runCli(['status'], env);
      assert.equal(status.code, 0, status.stdout);
    });

    it('--all-databases installs everywhere including template1, so new databases get the guard', async () => {
      await cluster.createDatabase('inventory');
      const result = await runCli(['install', '--all-databases'], env);
      assert.equal(result.code, 0, result.stderr);
      for (const database of ['inventory', 'postgres', 'template1']) assert.match(result.stdout, new RegExp(`^${database}: `, 'm'));
      const created = await cluster.createDatabase('newly_created');
      const status = await runCli(['status', '--format', 'json'], pgEnv(cluster, created));
      assert.equal(status.code, 0, status.stdout);
      if (flavor === 'pg18') {
        const { rows } = await cluster.query('SELECT evtenabled FROM pg_event_trigger WHERE evtname = $1', ['pgwarden_guard_login'], created);
        assert.deepEqual(rows, [{ evtenabled: 'O' }]);
      }
      const all = await runCli(['status', '--all-databases'], env);
      assert.equal(all.code, 0, all.stdout);
      // Rules live in each database: --all-databases adds one everywhere pgwarden is.
      const everywhere = await runCli(['guard', 'deny', '--all-databases', '--role', 'contractor', '--app', '%excel%'], env);
      assert.equal(everywhere.code, 0, everywhere.stderr);
      for (const database of ['inventory', 'newly_created', 'postgres', 'template1']) assert.match(everywhere.stdout, new RegExp(`^${database}: added rule \\d+$`, 'm'));
      const decided = await runCli(['guard', 'test', '--role', 'contractor', '--app', 'Excel'], pgEnv(cluster, 'inventory'));
      assert.equal(decided.code, 1, decided.stdout);
      const removed = await runCli(['uninstall', '--all-databases'], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /role pgwarden_recorder: dropped/);
      for (const database of ['inventory', 'newly_created', 'template1']) {
        const { rows } = await cluster.query("SELECT 1 FROM pg_namespace WHERE nspname = 'pgwarden'", [], database);
        assert.equal(rows.length, 0, `nothing left in ${database}`);
      }
    });
  });
}
