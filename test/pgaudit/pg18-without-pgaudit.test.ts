// PostgreSQL 18 without pgAudit: status says exactly what to change, every change is refused
// with PGW_ERR_PGAUDIT_NOT_LOADED (exit 5) and nothing is written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pgEnv, runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

describe('pgwarden pgaudit on PostgreSQL 18 without pgAudit', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg18', settings: { shared_preload_libraries: "'pg_stat_statements'" } });
    await cluster.query('CREATE TABLE public.t (id int)');
  });
  after(async () => { await cluster?.stop(); });

  it('status reports pgaudit missing from shared_preload_libraries and the exact change, keeping existing libraries', async () => {
    const result = await runCli(['pgaudit', 'status'], pgEnv(cluster));
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stdout, /pgAudit loaded: no/);
    assert.match(result.stdout, /ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', 'pgaudit';/);
    assert.match(result.stdout, /or set shared_preload_libraries = 'pg_stat_statements,pgaudit' in \S+postgresql\.conf/);
    assert.match(result.stdout, /restart PostgreSQL \(a reload is not enough\)/);
    assert.match(result.stdout, /postgresql\.conf/);
    assert.match(result.stdout, /apt-get install postgresql-18-pgaudit/);
    assert.match(result.stderr, /\[PGW_ERR_PGAUDIT_NOT_LOADED\]/);

    const json = await runCli(['pgaudit', 'status', '--format', 'json'], pgEnv(cluster));
    const status = JSON.parse(json.stdout) as { preload: { loaded: boolean; shared_preload_libraries: string; available_version: string | null }; advice: string[] };
    assert.equal(status.preload.loaded, false);
    assert.equal(status.preload.shared_preload_libraries, 'pg_stat_statements');
    assert.equal(status.preload.available_version, null);
    assert.ok(status.advice.length >= 2);
  });

  it('enable, disable and object refuse with the clear message and change nothing', async () => {
    for (const args of [
      ['pgaudit', 'enable', '--log', 'write'],
      ['pgaudit', 'enable', '--log', 'write', '--database', 'postgres'],
      ['pgaudit', 'disable'],
      ['pgaudit', 'object', '--table', 'public.t', '--privileges', 'select'],
    ]) {
      const result = await runCli(args, pgEnv(cluster));
      assert.equal(result.code, 5, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^Error: pgAudit is not loaded on this server; nothing was changed\n/);
      assert.match(result.stderr, /ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', 'pgaudit';/);
      assert.match(result.stderr, /\[PGW_ERR_PGAUDIT_NOT_LOADED\]/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
    const settings = await cluster.query('SELECT count(*)::int AS n FROM pg_catalog.pg_db_role_setting');
    assert.equal(settings.rows[0]!.n, 0);
    const roles = await cluster.query(`SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgwarden_auditor'`);
    assert.equal(roles.rowCount, 0);
    const spl = await cluster.query('SHOW shared_preload_libraries');
    assert.equal(spl.rows[0]!.shared_preload_libraries, 'pg_stat_statements', 'shared_preload_libraries is never changed');
  });

  it('a bad class list is refused before connecting', async () => {
    const result = await runCli(['pgaudit', 'enable', '--log', 'read,bogus'], pgEnv(cluster));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /"bogus" is not a pgAudit class/);
  });

  it('after the change but before the restart, status says a restart is pending', async () => {
    // Exactly what status advised: each library its own string.
    await cluster.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', 'pgaudit'`);
    await cluster.query('SELECT pg_catalog.pg_reload_conf()');
    try {
      const result = await runCli(['pgaudit', 'status'], pgEnv(cluster));
      assert.equal(result.code, 5);
      assert.match(result.stdout, /pgAudit loaded: no \(restart pending\)/);
      assert.match(result.stdout, /the server has not been restarted since: restart PostgreSQL/);
      assert.doesNotMatch(result.stdout, /ALTER SYSTEM SET shared_preload_libraries/, 'nothing more to change in the config');
      assert.doesNotMatch(result.stdout, /DANGER/);
    } finally {
      await cluster.query('ALTER SYSTEM RESET shared_preload_libraries');
    }
  });

  it("warns that ALTER SYSTEM with one string 'a,b' would stop the server from starting", async () => {
    await cluster.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements,pgaudit'`);
    await cluster.query('SELECT pg_catalog.pg_reload_conf()');
    try {
      const file = await cluster.query<{ setting: string }>(`SELECT setting FROM pg_catalog.pg_file_settings WHERE name = 'shared_preload_libraries' ORDER BY seqno DESC LIMIT 1`);
      assert.equal(file.rows[0]!.setting, '"pg_stat_statements,pgaudit"', 'PostgreSQL stores the one string as one quoted name');
      const result = await runCli(['pgaudit', 'status'], pgEnv(cluster));
      assert.equal(result.code, 5);
      assert.match(result.stdout, /DANGER: shared_preload_libraries in the config files names one library "pg_stat_statements,pgaudit"/);
      assert.match(result.stdout, /PostgreSQL will fail to start at the next restart\. Fix it first: ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', 'pgaudit';/);
    } finally {
      await cluster.query('ALTER SYSTEM RESET shared_preload_libraries');
    }
  });
});
