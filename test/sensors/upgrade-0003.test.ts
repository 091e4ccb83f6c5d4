// Upgrading a database installed with sensor schema version 3 (test/fixtures/schema-0003) to
// version 4 with today's install, on every version: rules and records kept, the passwords the
// old DDL log stored verbatim masked, pgwarden's earlier grants not reported as drift, status
// clean, the audit recording afterwards, and uninstall still removing everything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { installSchema as install0003, newRecorderPassword } from '../fixtures/schema-0003/sensors/install.ts';
import { LATEST_SCHEMA_VERSION } from '../../src/sensors/index.ts';
import { pgEnv, runCli, tryLogin } from '../harness/cli.ts';
import { ALL_FLAVORS, startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';

const FLAVORS = process.env.PGW_FLAVORS ? (process.env.PGW_FLAVORS.split(',') as Flavor[]) : ALL_FLAVORS;

for (const flavor of FLAVORS) {
  describe(`upgrade from sensor schema 3 (${flavor})`, () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ flavor });
    });
    after(async () => cluster?.stop());

    it('masks stored passwords, keeps rules and records, and is clean afterwards', async () => {
      await cluster.createRole('app_user', 'app-pw');
      await cluster.createRole('oncall', 'oncall-pw');
      const admin = new pg.Client({ connectionString: cluster.url() });
      await admin.connect();
      await install0003(admin, newRecorderPassword(), {}, { breakGlassRoles: ['oncall'] });
      await admin.query("INSERT INTO pgwarden.guard_rules (action, roles, applications, message) VALUES ('deny', '{app_user}', '{%dbeaver%}', 'no GUI tools')");
      await admin.query("CREATE TABLE before_upgrade (id int); ALTER ROLE app_user PASSWORD 'app-pw'");
      const { rows: [stored] } = await admin.query<{ statement: string }>("SELECT statement FROM pgwarden.ddl_events WHERE object_identity = 'public.before_upgrade'");
      assert.match(stored!.statement, /PASSWORD 'app-pw'/, 'schema 3 stored the password (so the check below can fail)');
      if (cluster.majorVersion >= 17) assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'DBeaver')).code, '28000');
      const { rows: [{ n: records }] } = await admin.query('SELECT count(*)::int AS n FROM pgwarden.ddl_events');

      const upgrade = await runCli(['install'], pgEnv(cluster));
      assert.equal(upgrade.code, 0, upgrade.stderr);
      assert.match(upgrade.stdout, new RegExp(`postgres: version 3 -> ${LATEST_SCHEMA_VERSION};`));
      const { rows: [masked] } = await admin.query<{ statement: string }>("SELECT statement FROM pgwarden.ddl_events WHERE object_identity = 'public.before_upgrade'");
      assert.match(masked!.statement, /PASSWORD <REDACTED>/);
      const { rows: [{ n: kept }] } = await admin.query('SELECT count(*)::int AS n FROM pgwarden.ddl_events');
      assert.equal(kept, records, 'the upgrade itself is not in the DDL log, and nothing was lost');
      if (cluster.majorVersion >= 17) assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'DBeaver')).code, '28000', 'the rule still refuses');

      const status = await runCli(['status', '--format', 'json'], pgEnv(cluster));
      const [report] = JSON.parse(status.stdout) as { items: { object: string; state: string; actual: string }[] }[];
      assert.equal(status.code, 0, JSON.stringify(report!.items.filter((i) => i.state !== 'OK')));
      await admin.query('CREATE TABLE after_upgrade (id int)');
      const { rows: recorded } = await admin.query("SELECT 1 FROM pgwarden.ddl_events WHERE object_identity = 'public.after_upgrade'");
      assert.equal(recorded.length, 1);
      await admin.end();

      const removed = await runCli(['uninstall'], pgEnv(cluster));
      assert.equal(removed.code, 0, removed.stderr);
      const { rows } = await cluster.query("SELECT 1 FROM pg_namespace WHERE nspname = 'pgwarden' UNION ALL SELECT 1 FROM pg_event_trigger UNION ALL SELECT 1 FROM pg_roles WHERE rolname LIKE 'pgwarden%'");
      assert.equal(rows.length, 0, 'uninstall removes everything');
    });
  });
}
