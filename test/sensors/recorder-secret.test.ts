// The refusal recorder's password never reaches the server log or a statistics view, with every
// logger that records nested statements and their parameters switched on: pgAudit (all classes,
// log_parameter) on PostgreSQL 15, auto_explain (nested statements, with parameters on 16+) and
// pg_stat_statements, through install, a refusal, status and a reinstall.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pgEnv, runCli, tryLogin } from '../harness/cli.ts';
import { startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';

const LOUD: Record<Flavor, Record<string, string | number>> = {
  pg15: {
    shared_preload_libraries: "'pgaudit,auto_explain,pg_stat_statements'",
    'pgaudit.log': "'all'", 'pgaudit.log_parameter': 'on', 'pgaudit.log_relation': 'on',
    'auto_explain.log_min_duration': 0, 'auto_explain.log_nested_statements': 'on', 'auto_explain.log_verbose': 'on',
    log_statement: "'all'", log_min_duration_statement: 0, 'pg_stat_statements.track': "'all'",
  },
  pg14: {}, pg16: {}, pg17: {},
  pg18: {
    shared_preload_libraries: "'auto_explain,pg_stat_statements'",
    'auto_explain.log_min_duration': 0, 'auto_explain.log_nested_statements': 'on', 'auto_explain.log_verbose': 'on',
    'auto_explain.log_parameter_max_length': -1, log_statement: "'all'", log_min_duration_statement: 0,
    'pg_stat_statements.track': "'all'",
  },
};

for (const flavor of ['pg15', 'pg18'] as Flavor[]) {
  describe(`the recorder's password stays out of every log (${flavor})`, () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ flavor, settings: LOUD[flavor] });
      await cluster.query('CREATE EXTENSION pg_stat_statements');
      await cluster.createRole('app_user', 'app-pw');
    });
    after(async () => cluster?.stop());

    it('through install, refusals, status and a reinstall', async () => {
      const env = pgEnv(cluster);
      assert.equal((await runCli(['install'], env)).code, 0);
      assert.equal((await runCli(['guard', 'deny', '--role', 'app_user', '--app', '%dbeaver%'], env)).code, 0);
      const secrets = new Set<string>();
      const remember = async () => secrets.add((await cluster.query<{ password: string }>('SELECT password FROM pgwarden.guard_recorder')).rows[0]!.password);
      await remember();
      if (flavor === 'pg18') {
        assert.equal((await tryLogin(cluster, 'app_user', 'app-pw', 'DBeaver')).code, '28000');
      } else {
        // No login trigger on 15: the check session_exec would run.
        const pg = (await import('pg')).default;
        const client = new pg.Client({ connectionString: cluster.url('postgres', 'app_user', 'app-pw'), application_name: 'DBeaver' });
        await client.connect();
        await assert.rejects(client.query('SELECT pgwarden.guard_check()'), (e: { code?: string }) => e.code === '28000');
        await client.end();
      }
      const status = await runCli(['status'], env);
      assert.match(status.stdout, /OK\s+refusal recorder/, status.stdout);
      assert.equal((await runCli(['install'], env)).code, 0, 'a reinstall rotates the password');
      await remember();
      assert.equal(secrets.size, 2);
      const n = (await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.connection_attempts WHERE decision = 'deny'")).rows[0]!.n;
      assert.equal(n, 1, 'the refusal was recorded through the loopback login');

      const log = cluster.readLog();
      assert.match(log, flavor === 'pg15' ? /AUDIT: SESSION/ : /Query Text:/, 'the loggers were on');
      const { rows: statements } = await cluster.query<{ query: string }>('SELECT query FROM pg_stat_statements');
      for (const secret of secrets) {
        assert.ok(!log.includes(secret), 'not in the server log');
        assert.ok(!statements.some((s) => s.query.includes(secret)), 'not in pg_stat_statements');
      }
    });
  });
}
