// pgwarden pgaudit on a real PostgreSQL 15 + pgAudit: the commands' SQL lands where it should,
// and the server really audits what was asked (read back from its log) and nothing else.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseLogClasses, parsePrivileges, preloadList } from '../../src/pgaudit/index.ts';
import { pgEnv, runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

/** The log lines after `from` that are pgAudit records. */
function auditLines(cluster: Cluster, from: number): string[] {
  return cluster.readLog().slice(from).split('\n').filter((l) => / AUDIT: /.test(l));
}

async function run(cluster: Cluster, database: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.url(database) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Waits until the server log holds a marker logged after everything before it, so absent lines are really absent. */
async function logCaughtUp(cluster: Cluster, database: string): Promise<void> {
  const marker = `pgwarden-log-sync-${Date.now()}-${Math.random()}`;
  await run(cluster, database, `DO $$BEGIN RAISE LOG '%', '${marker}'; END$$`);
  await waitFor(async () => cluster.readLog().includes(marker), 10_000, 'the log marker');
}

/** A fresh session's view of a setting (ALTER SYSTEM + pg_reload_conf() applies asynchronously). */
async function sessionSetting(cluster: Cluster, name: string, database = 'postgres'): Promise<string> {
  const { rows } = await cluster.query<{ v: string }>('SELECT pg_catalog.current_setting($1) AS v', [name], database);
  return rows[0]!.v;
}

describe('class and privilege lists', () => {
  it('accepts what pgAudit accepts, normalised, and names what it refuses', () => {
    assert.equal(parseLogClasses('Read, WRITE,ddl,role'), 'read,write,ddl,role');
    assert.equal(parseLogClasses('all,-misc,-misc_set'), 'all,-misc,-misc_set');
    assert.throws(() => parseLogClasses('read,bogus'), /"bogus" is not a pgAudit class/);
    assert.throws(() => parseLogClasses('read,,write'), /empty class/);
    assert.throws(() => parseLogClasses('-'), /empty class/);
    assert.deepEqual(parsePrivileges('select, UPDATE,select'), ['select', 'update']);
    assert.throws(() => parsePrivileges('select,truncate'), /"truncate" is not a privilege pgAudit audits/);
    assert.deepEqual(preloadList(' pg_stat_statements , "$libdir/pgaudit",auto_explain'), ['pg_stat_statements', '$libdir/pgaudit', 'auto_explain']);
    assert.deepEqual(preloadList(''), []);
  });
});

describe('pgwarden pgaudit on PostgreSQL 15 + pgAudit', () => {
  let cluster: Cluster;
  let sales: string;
  let other: string;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg15', pgaudit: true });
    sales = await cluster.createDatabase('sales db');
    other = await cluster.createDatabase('other');
    for (const db of [sales, other]) {
      await cluster.query('CREATE TABLE public.orders (id int, note text); CREATE TABLE public.customers (id int, name text)', [], db);
    }
    await cluster.createRole('app', 'app-pw', '');
    await cluster.createRole('plain', 'plain-pw', '');
  });
  after(async () => { await cluster?.stop(); });

  it('status: loaded, extension not yet created, settings at their defaults', async () => {
    const result = await runCli(['pgaudit', 'status', '--format', 'json', '--all-databases'], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as {
      preload: { loaded: boolean; shared_preload_libraries: string }; extension: Array<{ database: string; extension_version: string | null }>;
      settings: Array<{ name: string; server_value: string }>; advice: string[];
    };
    assert.equal(status.preload.loaded, true);
    assert.equal(status.preload.shared_preload_libraries, 'pgaudit');
    assert.deepEqual(status.extension.map((e) => e.database).sort(), ['other', 'postgres', 'sales db', 'template1']);
    assert.ok(status.extension.every((e) => e.extension_version === null));
    assert.equal(status.settings.length, 10);
    assert.equal(status.settings.find((s) => s.name === 'pgaudit.log')!.server_value, 'none');
    assert.match(status.advice.join('\n'), /extension is not created in/);
  });

  it('enable --dry-run prints the SQL, escaped, and changes nothing', async () => {
    const result = await runCli(['pgaudit', 'enable', '--log', 'all,-misc', '--database', sales, '--role', 'app', '--log-parameter', '--dry-run'], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^-- dry run: nothing was changed$/m);
    assert.match(result.stdout, /^CREATE EXTENSION IF NOT EXISTS pgaudit;$/m);
    assert.match(result.stdout, /^ALTER ROLE "app" IN DATABASE "sales db" SET pgaudit\.log = 'all,-misc';$/m);
    assert.match(result.stdout, /^ALTER ROLE "app" IN DATABASE "sales db" SET pgaudit\.log_parameter = 'on';$/m);
    const settings = await cluster.query('SELECT 1 FROM pg_catalog.pg_db_role_setting');
    assert.equal(settings.rowCount, 0);
    const ext = await cluster.query(`SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pgaudit'`, [], sales);
    assert.equal(ext.rowCount, 0);
  });

  it('refuses unknown databases, roles and classes, and a role without the privilege, writing nothing', async () => {
    let result = await runCli(['pgaudit', 'enable', '--log', 'write', '--database', 'nope'], pgEnv(cluster));
    assert.equal(result.code, 6, result.stderr);
    assert.match(result.stderr, /--database "nope": no such database/);
    result = await runCli(['pgaudit', 'enable', '--log', 'write', '--role', 'nobody'], pgEnv(cluster));
    assert.equal(result.code, 6);
    assert.match(result.stderr, /--role "nobody": no such role/);
    result = await runCli(['pgaudit', 'enable', '--log', 'write,reads'], pgEnv(cluster));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /"reads" is not a pgAudit class/);
    result = await runCli(['pgaudit', 'enable', '--log', 'write', '--database', sales], pgEnv(cluster, 'postgres', 'plain', 'plain-pw'));
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /^Error: CREATE EXTENSION pgaudit needs a superuser; nothing was changed\n.*\[PGW_ERR_PRIVILEGE\]/s);
    // Even with the extension there, the server-wide setting is checked before anything is sent.
    await cluster.query('CREATE EXTENSION pgaudit');
    try {
      result = await runCli(['pgaudit', 'enable', '--log', 'write'], pgEnv(cluster, 'postgres', 'plain', 'plain-pw'));
      assert.equal(result.code, 4, result.stderr);
      assert.match(result.stderr, /this role may not ALTER SYSTEM pgaudit\.log; nothing was changed/);
      await cluster.query('GRANT ALTER SYSTEM ON PARAMETER pgaudit.log TO plain');
      result = await runCli(['pgaudit', 'enable', '--log', 'write', '--log-rows', '--dry-run'], pgEnv(cluster, 'postgres', 'plain', 'plain-pw'));
      assert.equal(result.code, 4, result.stderr);
      assert.match(result.stderr, /this role may not ALTER SYSTEM pgaudit\.log_rows/);
      result = await runCli(['pgaudit', 'enable', '--log', 'write', '--dry-run'], pgEnv(cluster, 'postgres', 'plain', 'plain-pw'));
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await cluster.query('REVOKE ALTER SYSTEM ON PARAMETER pgaudit.log FROM plain; DROP EXTENSION pgaudit');
    }
    const settings = await cluster.query('SELECT 1 FROM pg_catalog.pg_db_role_setting');
    assert.equal(settings.rowCount, 0);
  });

  it('status works for an ordinary role, showing what it may read', async () => {
    const result = await runCli(['pgaudit', 'status', '--format', 'json'], pgEnv(cluster, 'postgres', 'plain', 'plain-pw'));
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as { preload: { loaded: boolean }; settings: Array<{ name: string; value: string }> };
    assert.equal(status.preload.loaded, true);
    assert.equal(status.settings.find((s) => s.name === 'pgaudit.log')!.value, 'none');
  });

  it('enable --log write --database X: a write in X is audited, a read in X and a write elsewhere are not', async () => {
    const result = await runCli(['pgaudit', 'enable', '--log', 'write', '--database', sales], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^BEGIN;\nCREATE EXTENSION IF NOT EXISTS pgaudit;\nALTER DATABASE "sales db" SET pgaudit\.log = 'write';\nCOMMIT;$/m);
    const ext = await cluster.query(`SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgaudit'`, [], sales);
    assert.equal(ext.rowCount, 1);

    const from = cluster.readLog().length;
    await run(cluster, sales, `INSERT INTO public.orders VALUES (424242, 'written in sales')`);
    await run(cluster, sales, `SELECT id, 'read-marker-777' FROM public.orders`);
    await run(cluster, other, `INSERT INTO public.orders VALUES (515151, 'written in other')`);
    await logCaughtUp(cluster, other);
    const lines = auditLines(cluster, from);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /AUDIT: SESSION,1,1,WRITE,INSERT,,,"?INSERT INTO public\.orders VALUES \(424242/);
    assert.ok(!lines.some((l) => l.includes('read-marker-777')));
    assert.ok(!lines.some((l) => l.includes('515151')));
  });

  it('status shows the per-database override and the extension', async () => {
    const result = await runCli(['pgaudit', 'status'], pgEnv(cluster, sales));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /pgAudit loaded: yes/);
    assert.match(result.stdout, /sales db\s+\(all\)\s+pgaudit\.log\s+write/);
    assert.match(result.stdout, /pgaudit\.log\s+none\s+write\s+database/);
    assert.match(result.stdout, /sales db\s+1\.7/);
  });

  it('enable --role and disable: role overrides land in pg_db_role_setting; disable sets none, --reset removes them', async () => {
    let result = await runCli(['pgaudit', 'enable', '--log', 'read,ddl', '--role', 'app', '--log-relation', '--log-rows'], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    const roleSettings = async () => (await cluster.query<{ setconfig: string[] }>(
      `SELECT setconfig FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'app' AND s.setdatabase = 0`)).rows[0]?.setconfig ?? [];
    assert.deepEqual((await roleSettings()).sort(), ['pgaudit.log=read,ddl', 'pgaudit.log_relation=on', 'pgaudit.log_rows=on']);
    const json = JSON.parse((await runCli(['pgaudit', 'status', '--format', 'json'], pgEnv(cluster))).stdout) as { overrides: Array<{ role: string | null; name: string; value: string }> };
    assert.ok(json.overrides.some((o) => o.role === 'app' && o.name === 'pgaudit.log' && o.value === 'read,ddl'));

    result = await runCli(['pgaudit', 'disable', '--role', 'app'], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    assert.ok((await roleSettings()).includes('pgaudit.log=none'));
    result = await runCli(['pgaudit', 'disable', '--role', 'app', '--reset'], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await roleSettings(), []);
  });

  it('server level: ALTER SYSTEM outside the transaction, then pg_reload_conf(); disable turns it off', async () => {
    let result = await runCli(['pgaudit', 'enable', '--log', 'ddl,role', '--all-databases'], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\\connect "other"\nBEGIN;\nCREATE EXTENSION IF NOT EXISTS pgaudit;\nCOMMIT;$/m);
    assert.match(result.stdout, /^\\connect "template1"$/m);
    assert.doesNotMatch(result.stdout, /\\connect "sales db"/, 'sales db already has it');
    for (const db of [other, 'template1', 'postgres']) {
      assert.equal((await cluster.query(`SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pgaudit'`, [], db)).rowCount, 1, db);
    }
    assert.match(result.stdout, /^ALTER SYSTEM SET pgaudit\.log = 'ddl,role';\nSELECT pg_catalog\.pg_reload_conf\(\);$/m);
    assert.match(result.stdout, /ALTER SYSTEM cannot run inside a transaction block/);
    assert.match(result.stdout, /Note: database "sales db" keeps its own pgaudit\.log=write, which wins over the server setting/);
    await waitFor(async () => (await sessionSetting(cluster, 'pgaudit.log', other)) === 'ddl,role', 10_000, 'the reload');
    const from = cluster.readLog().length;
    await run(cluster, other, 'CREATE TABLE public.audited_ddl_marker (id int)');
    // With the extension's event triggers the DDL record names the object.
    await waitFor(async () => auditLines(cluster, from).some((l) => /DDL,CREATE TABLE,TABLE,public\.audited_ddl_marker,/.test(l)), 10_000, 'the DDL audit line');

    result = await runCli(['pgaudit', 'disable'], pgEnv(cluster));
    assert.equal(result.code, 0, result.stderr);
    await waitFor(async () => (await sessionSetting(cluster, 'pgaudit.log', other)) === 'none', 10_000, 'the reload');
    // The database override of sales still wins there.
    assert.equal(await sessionSetting(cluster, 'pgaudit.log', sales), 'write');
  });

  it('object: creates the NOLOGIN auditor, sets pgaudit.role, and audits SELECT on that table only', async () => {
    let result = await runCli(['pgaudit', 'object', '--table', 'missing_table', '--privileges', 'select'], pgEnv(cluster, other));
    assert.equal(result.code, 6, result.stderr);
    assert.match(result.stderr, /--table "missing_table": no such table/);
    result = await runCli(['pgaudit', 'object', '--table', 'orders', '--privileges', 'select,truncate'], pgEnv(cluster, other));
    assert.equal(result.code, 2);
    result = await runCli(['pgaudit', 'object', '--table', 'a.b.c.d', '--privileges', 'select'], pgEnv(cluster, other));
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--table "a\.b\.c\.d" is not a valid table name/);
    result = await runCli(['pgaudit', 'object', '--table', 'orders; DROP TABLE customers', '--privileges', 'select'], pgEnv(cluster, other));
    assert.notEqual(result.code, 0);
    assert.equal((await cluster.query(`SELECT to_regclass('public.customers') IS NOT NULL AS ok`, [], other)).rows[0]!.ok, true);
    result = await runCli(['pgaudit', 'object', '--privileges', 'select'], pgEnv(cluster, other));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /name at least one table with --table/);
    result = await runCli(['pgaudit', 'object', '--table', 'orders', '--privileges', 'select', '--dry-run'], pgEnv(cluster, other));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^CREATE ROLE "pgwarden_auditor" NOLOGIN;\nGRANT SELECT ON TABLE "public"\."orders" TO "pgwarden_auditor";\nCOMMIT;$/m);
    assert.equal((await cluster.query(`SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgwarden_auditor'`)).rowCount, 0);

    result = await runCli(['pgaudit', 'object', '--table', 'orders', '--privileges', 'select'], pgEnv(cluster, other));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ALTER SYSTEM SET pgaudit\.role = 'pgwarden_auditor';$/m);
    const role = await cluster.query<{ rolcanlogin: boolean }>(`SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = 'pgwarden_auditor'`);
    assert.equal(role.rows[0]!.rolcanlogin, false);
    await waitFor(async () => (await sessionSetting(cluster, 'pgaudit.role', other)) === 'pgwarden_auditor', 10_000, 'the reload');

    const from = cluster.readLog().length;
    await run(cluster, other, `SELECT id, 'object-read-orders' FROM public.orders`);
    await run(cluster, other, `SELECT id, 'object-read-customers' FROM public.customers`);
    await run(cluster, other, `UPDATE public.orders SET note = 'object-update-orders'`);
    await logCaughtUp(cluster, other);
    const lines = auditLines(cluster, from);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /AUDIT: OBJECT,1,1,READ,SELECT,TABLE,public\.orders,/);

    const status = JSON.parse((await runCli(['pgaudit', 'status', '--format', 'json'], pgEnv(cluster, other))).stdout) as {
      auditor: { role: string; exists: boolean; can_login: boolean; grants: Array<{ object: string; privilege: string }> };
    };
    assert.equal(status.auditor.role, 'pgwarden_auditor');
    assert.equal(status.auditor.can_login, false);
    assert.deepEqual(status.auditor.grants.map((g) => `${g.object}:${g.privilege}`), ['public.orders:SELECT']);

    result = await runCli(['pgaudit', 'object', '--table', 'public.orders', '--privileges', 'select', '--revoke'], pgEnv(cluster, other));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /REVOKE SELECT ON TABLE "public"\."orders" FROM "pgwarden_auditor";/);
    assert.doesNotMatch(result.stdout, /ALTER SYSTEM/, 'pgaudit.role is already set');
    const grants = await cluster.query(`SELECT 1 FROM information_schema.role_table_grants WHERE grantee = 'pgwarden_auditor'`, [], other);
    assert.equal(grants.rowCount, 0);
  });
});
