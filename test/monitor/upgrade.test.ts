// `monitor install` over an installation made before the monitor had migrations (the installer
// of that time, kept verbatim in test/fixtures/monitor-0.1): it applies 0001 over the tables that
// are there, ends with the catalog a fresh install makes, keeps what the checks recorded, and
// monitor_integrity (which compares with the build, never with what is installed) finds nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { checkServer, installMonitor } from '../../src/monitor/index.ts';
import { MONITOR_MIGRATIONS } from '../../src/monitor/migrations.ts';
import { migrationLabel } from '../../src/core/migrations.ts';
import { installMonitor as installOld } from '../fixtures/monitor-0.1/monitor/install.ts';
import { catalogSql } from '../harness/catalog.ts';
import { startCluster, withClient as withClientAt, type Cluster } from '../harness/postgres.ts';

const LOGIN = 'pgw_upgrade_login';
const PASSWORD = 'upgrade-pw';

/** The monitor's schema, its catalog grants, role memberships, migrations and what install recorded. */
const CATALOG_SQL = catalogSql(['pgwarden_monitor'], [
  `SELECT 'catalog ' || c.oid::regclass::text || ' ' || COALESCE(c.relacl::text, '-') FROM pg_catalog.pg_class c
    WHERE c.oid IN ('pg_catalog.pg_authid'::regclass, 'pg_catalog.pg_statistic'::regclass, 'pg_catalog.pg_hba_file_rules'::regclass)`,
  `SELECT 'catalog column ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || a.attacl::text FROM pg_catalog.pg_attribute a
    WHERE a.attrelid IN ('pg_catalog.pg_authid'::regclass, 'pg_catalog.pg_statistic'::regclass) AND a.attacl IS NOT NULL`,
  `SELECT 'member ' || m.roleid::regrole::text || ' ' || m.member::regrole::text FROM pg_catalog.pg_auth_members m
    WHERE m.roleid::regrole::text LIKE 'pgwarden_monitor%' OR m.member::regrole::text LIKE 'pgwarden_monitor%'`,
  "SELECT 'migration ' || version || ' ' || name FROM pgwarden_monitor.migrations",
  `SELECT 'installed ' || pgwarden_version || ' ' || checks::text || ' ' || show_names || ' ' || custom_reads::text
     FROM pgwarden_monitor.installed`,
]);

describe('monitor install over an installation made before the monitor had migrations', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createRole(LOGIN, PASSWORD);
  });
  after(async () => cluster?.stop());

  const withClient = <T>(database: string, run: (client: pg.Client) => Promise<T>) => withClientAt(cluster.url(database), run);
  const catalog = (database: string) => withClient(database, async (client) => (await client.query<{ line: string }>(CATALOG_SQL)).rows.map((r) => r.line));
  const check = (database: string, name: string) =>
    checkServer({ name: 'upgrade', target: { url: cluster.url(database, LOGIN, PASSWORD), label: 'upgrade' } }, { checks: [name] });
  const ALL = MONITOR_MIGRATIONS.map(migrationLabel);

  it('applies the migrations over the old tables, ends as a fresh install, keeps the recorded state; again applies nothing', async () => {
    await cluster.createDatabase('before_migrations');
    await cluster.createDatabase('fresh');
    await withClient('before_migrations', (client) => installOld(client, LOGIN, { showNames: true }));
    // What the checks record in the old schema: the settings baseline and the superusers seen.
    for (const name of ['settings_drift', 'superusers']) assert.equal((await check('before_migrations', name)).checks[0]!.error, null, name);
    const state = () => cluster.query<{ rows: string }>(`SELECT (SELECT pg_catalog.count(*) FROM pgwarden_monitor.settings_baseline)
      || ' settings, ' || (SELECT pg_catalog.string_agg(role_name || ' ' || since, ', ') FROM pgwarden_monitor.superuser_changes) AS rows`, [], 'before_migrations');
    const recorded = (await state()).rows[0]!.rows;
    assert.match(recorded, /^[1-9]\d* settings, postgres /);

    const upgrade = await withClient('before_migrations', (client) => installMonitor(client, LOGIN, { showNames: true }));
    assert.deepEqual(upgrade.migrations, ALL);
    const again = await withClient('before_migrations', (client) => installMonitor(client, LOGIN, { showNames: true }));
    assert.deepEqual(again.migrations, []);
    const fresh = await withClient('fresh', (client) => installMonitor(client, LOGIN, { showNames: true }));
    assert.deepEqual(fresh.migrations, ALL);

    const [upgraded, made] = [await catalog('before_migrations'), await catalog('fresh')];
    assert.ok(upgraded.some((l) => l.startsWith('function pgwarden_monitor.check_superusers(jsonb) ') && l.includes('pgwarden_monitor=X/pgwarden_monitor_owner')),
      'the catalog query sees the check functions and their grants');
    assert.ok(upgraded.includes('migration 1 schema'));
    assert.deepEqual(upgraded, made);
    assert.equal((await state()).rows[0]!.rows, recorded, 'the baseline and the superusers seen are kept');
    const integrity = (await check('before_migrations', 'monitor_integrity')).checks[0]!;
    assert.deepEqual([integrity.level, integrity.rows], ['ok', []]);
  });

  it('the catalog comparison tells a changed schema apart, and install puts it back (so the test above can fail)', async () => {
    const database = await cluster.createDatabase();
    await withClient(database, (client) => installMonitor(client, LOGIN));
    const made = await catalog(database);
    await cluster.query('ALTER TABLE pgwarden_monitor.write_probe OWNER TO postgres; GRANT SELECT ON pgwarden_monitor.installed TO PUBLIC', [], database);
    assert.notDeepEqual(await catalog(database), made);
    await withClient(database, (client) => installMonitor(client, LOGIN));
    assert.deepEqual(await catalog(database), made);
  });

  it('refuses a monitor schema newer than this pgwarden knows, naming both versions', async () => {
    const database = await cluster.createDatabase();
    await withClient(database, (client) => installMonitor(client, LOGIN));
    await cluster.query("INSERT INTO pgwarden_monitor.migrations (version, name, pgwarden_version) VALUES (9999, 'from-the-future', '9.9.9')", [], database);
    await assert.rejects(withClient(database, (client) => installMonitor(client, LOGIN)), (error: { code?: string; message: string }) => {
      assert.equal(error.code, 'PGW_ERR_SCHEMA_NEWER');
      assert.match(error.message, new RegExp(`^database ${database} has monitor schema version 9999; this pgwarden \\(.+\\) knows up to ${MONITOR_MIGRATIONS.at(-1)!.version}$`));
      return true;
    });
  });
});
