// What a user sees for a mistake: one line naming the bad value, a non-zero exit code,
// and nothing written to the database.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../harness/postgres.ts';
import { installedCluster, pgEnv, runCli } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';

/** A pgwarden.yaml with this text in a temporary folder, removed afterwards. */
async function withConfigFile<T>(text: string, work: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-cfg-'));
  const file = join(dir, 'pgwarden.yaml');
  writeFileSync(file, text);
  try {
    return await work(file);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

describe('bad input on the command line', () => {
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  const ruleCount = async () => (await cluster.query('SELECT count(*)::int AS n FROM pgwarden.guard_rules')).rows[0]!.n as number;

  before(async () => {
    cluster = await installedCluster('pg18');
    env = pgEnv(cluster);
  });
  after(async () => cluster?.stop());

  const cases: { name: string; args: string[]; code: number; error: RegExp }[] = [
    { name: 'an invalid CIDR', args: ['guard', 'deny', '--role', 'a', '--client', '10.0.0.0/33'], code: 2, error: /--client "10\.0\.0\.0\/33" is not an IP address, a CIDR/ },
    { name: 'host bits right of the mask', args: ['guard', 'deny', '--role', 'a', '--client', '10.1.2.3/8'], code: 2, error: /--client "10\.1\.2\.3\/8" has host bits set .*did you mean 10\.0\.0\.0\/8/ },
    { name: 'an invalid pattern', args: ['guard', 'deny', '--role', 'a', '--app', 'dbeaver\\'], code: 2, error: /--app "dbeaver\\" is not a valid ILIKE pattern/ },
    { name: 'no role', args: ['guard', 'deny', '--app', '%x%'], code: 2, error: /at least one --role is required/ },
    { name: 'a non-numeric priority', args: ['guard', 'allow', '--role', 'a', '--priority', 'high'], code: 2, error: /--priority "high" is not a whole number/ },
    { name: 'a priority out of range', args: ['guard', 'allow', '--role', 'a', '--priority', '99999999999'], code: 2, error: /--priority "99999999999" is outside/ },
    { name: 'an empty message', args: ['guard', 'deny', '--role', 'a', '--message', ''], code: 2, error: /--message is empty/ },
    { name: 'a rule id out of range', args: ['guard', 'remove', '99999999999999999999'], code: 2, error: /rule id "99999999999999999999" is not a whole number from 1/ },
    { name: 'a break-glass role PostgreSQL would truncate', args: ['guard', 'settings', '--break-glass-role', 'x'.repeat(70)], code: 2, error: /--break-glass-role "x+" is longer than 63 bytes/ },
    { name: 'an unknown option', args: ['guard', 'deny', '--role', 'a', '--application', 'x'], code: 2, error: /unknown option '--application'/ },
    { name: 'an unknown format', args: ['guard', 'list', '--format', 'xml'], code: 2, error: /argument 'xml' is invalid.*table, csv, json, ndjson/ },
    { name: 'a bad --since', args: ['report', 'connections', '--since', 'yesterday'], code: 2, error: /--since "yesterday" is not a duration/ },
    { name: 'a --db that is not a URL', args: ['guard', 'list', '--db', 'localhost:5432'], code: 2, error: /--db "localhost:5432" is not a postgres:\/\/ or postgresql:\/\/ URL/ },
  ];
  for (const testCase of cases) {
    it(`rejects ${testCase.name} with one line and writes nothing`, async () => {
      const before = await ruleCount();
      const result = await runCli(testCase.args, env);
      assert.equal(result.code, testCase.code, result.stderr);
      assert.match(result.stderr, testCase.error);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(await ruleCount(), before);
    });
  }

  it('says which server it cannot reach, without printing the password', async () => {
    const port = await freePort();
    const result = await runCli(['guard', 'list', '--db', `postgres://someone:s3cret@127.0.0.1:${port}/postgres`], {});
    assert.equal(result.code, 3);
    assert.match(result.stderr, new RegExp(`^Error: cannot reach PostgreSQL \\(postgres://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/postgres\\)`));
    assert.doesNotMatch(result.stderr, /s3cret/);
  });

  it('uses the password named by the config file (password_env), not PGPASSWORD', async () => {
    const yaml = `servers:\n  lab:\n    url: postgres://${cluster.superuser}@127.0.0.1:${cluster.port}/postgres\n    password_env: LAB_PW\ndefault_server: lab\n`;
    await withConfigFile(yaml, async (file) => {
      const result = await runCli(['--config', file, 'guard', 'list', '--format', 'json'], { LAB_PW: cluster.superuserPassword, PGPASSWORD: 'wrong' });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(Array.isArray(JSON.parse(result.stdout)));
    });
  });

  it('says when the password is wrong', async () => {
    const result = await runCli(['guard', 'list'], { ...env, PGPASSWORD: 'wrong' });
    assert.equal(result.code, 3);
    assert.match(result.stderr, /PostgreSQL refused the login .*password authentication failed/);
  });

  it('says when pgwarden is not installed in that database', async () => {
    const database = await cluster.createDatabase();
    const result = await runCli(['guard', 'list'], pgEnv(cluster, database));
    assert.equal(result.code, 5);
    assert.match(result.stderr, /pgwarden is not installed.*\n.*pgwarden install --db URL/);
  });

  it('removing a rule that does not exist is exit 6', async () => {
    const result = await runCli(['guard', 'remove', '999'], env);
    assert.equal(result.code, 6);
    assert.match(result.stderr, /there is no guard rule with id 999/);
  });

  it('refuses a config file with an unknown key, naming the file, line and key path', async () => {
    const [result, directory] = await withConfigFile('guard:\n  on_error: open\n  watch:\n    interval_secs: 5\n', (file) =>
      Promise.all([runCli(['--config', file, 'guard', 'list'], env), runCli(['--config', dirname(file), 'guard', 'list'], env)]));
    assert.equal(directory.code, 2);
    assert.match(directory.stderr, /cannot read config file .*: it is a directory/);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /pgwarden\.yaml:4: guard\.watch\.interval_secs: unknown key \(allowed here: interval_seconds, terminate\)/);
  });

  it('alerts run refuses to start without a sink, or with a secret it cannot read, in one line', async () => {
    const none = await runCli(['alerts', 'run'], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Error: pipeline\.sinks: no sink is configured/);
    const [missing] = await withConfigFile('pipeline:\n  sinks:\n    hook: { type: webhook, url: "http://127.0.0.1:9/x", secret_env: PGW_TEST_UNSET_SECRET }\n', (file) =>
      Promise.all([runCli(['--config', file, 'alerts', 'run'], env)]));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /pipeline\.sinks\.hook\.secret_env: environment variable PGW_TEST_UNSET_SECRET is not set/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
    await cluster.createDatabase('no_pgwarden');
    const [absent] = await withConfigFile('pipeline:\n  sinks:\n    hook: { type: webhook, url: "http://127.0.0.1:9/x" }\n', (file) =>
      Promise.all([runCli(['--config', file, 'alerts', 'run'], { ...env, PGDATABASE: 'no_pgwarden' })]));
    assert.equal(absent.code, 5, absent.stderr);
    assert.match(absent.stderr, /database no_pgwarden on .* has no pgwarden; run `pgwarden install` there/);
  });

  it('report ddl and ddl policy refuse bad values before touching the database', async () => {
    const since = await runCli(['report', 'ddl', '--since', 'yesterday'], env);
    assert.equal(since.code, 2);
    assert.match(since.stderr, /--since "yesterday" is not a duration/);
    const contradiction = await runCli(['ddl', 'policy', 'set', '--enable', '--disable'], env);
    assert.equal(contradiction.code, 2);
    assert.match(contradiction.stderr, /--enable and --disable contradict each other/);
    const nothing = await runCli(['ddl', 'policy', 'set'], env);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing to change/);
  });
});

describe('rule management and the dry run, as users see them', () => {
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    cluster = await installedCluster('pg18');
    env = pgEnv(cluster);
    await cluster.createRole('alice', 'pw');
  });
  after(async () => cluster?.stop());

  it('adds, lists, tests and removes rules', async () => {
    const added = await runCli(['guard', 'deny', '--role', 'alice', '--role', 'bob', '--app', '%dbeaver%', '--app', '%pgadmin%',
      '--client', '10.0.0.0/8', '--client', 'local', '--database', 'sales', '--message', 'GUI tools are not allowed', '--priority', '50'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^added rule 1$/m);
    await runCli(['guard', 'allow', '--role', '*', '--app', 'billing-%'], env);

    const list = await runCli(['guard', 'list', '--format', 'json'], env);
    const rules = JSON.parse(list.stdout) as { id: number; action: string; roles: string[]; applications: string[]; clients: string[]; databases: string[]; priority: number }[];
    assert.deepEqual(rules.map((r) => [r.id, r.action, r.priority]), [[1, 'deny', 50], [2, 'allow', 100]]);
    assert.deepEqual(rules[0]!.clients, ['local', '10.0.0.0/8']);
    assert.deepEqual(rules[0]!.roles, ['alice', 'bob']);

    const csv = await runCli(['guard', 'list', '--format', 'csv'], env);
    assert.match(csv.stdout, /^id,priority,action,roles,applications,clients,databases,message,expires\r\n1,50,deny,"alice,bob","%dbeaver%,%pgadmin%","local,10.0.0.0\/8",sales,GUI tools are not allowed,\r\n/);

    const denied = await runCli(['guard', 'test', '--role', 'alice', '--app', 'DBeaver 24', '--client', '10.2.3.4', '--database', 'sales'], env);
    assert.equal(denied.code, 1, 'deny is exit 1');
    assert.match(denied.stdout, /^deny by rule 1: GUI tools are not allowed$/m);
    const otherDb = await runCli(['guard', 'test', '--role', 'alice', '--app', 'DBeaver 24', '--client', '10.2.3.4', '--database', 'hr'], env);
    assert.equal(otherDb.code, 0);
    assert.match(otherDb.stdout, /^allow by default \(no rule matched\)$/m);
    const superuser = await runCli(['guard', 'test', '--role', 'postgres', '--app', 'DBeaver', '--database', 'sales', '--format', 'json'], env);
    assert.deepEqual(JSON.parse(superuser.stdout), {
      role: 'postgres', application: 'DBeaver', client: 'local',
      database: 'sales', decision: 'allow', rule_id: null, message: 'superusers are never refused', reason: 'superuser',
    });
    const remote = await runCli(['guard', 'test', '--role', 'alice', '--app', 'DBeaver', '--client', '192.168.1.1', '--database', 'sales'], env);
    assert.equal(remote.code, 0, 'the rule names 10.0.0.0/8 and local only');

    const removed = await runCli(['guard', 'remove', '1'], env);
    assert.equal(removed.code, 0);
    assert.match(removed.stdout, /removed rule 1 \(deny alice,bob\)/);
    assert.equal((await runCli(['guard', 'test', '--role', 'alice', '--app', 'DBeaver 24', '--client', '10.2.3.4', '--database', 'sales'], env)).code, 0);
  });

  it('changes the guard settings and reports them', async () => {
    // A break-glass role must exist (test/guard/hardening.test.ts shows the refusal of one that does not).
    await cluster.createRole('dba_oncall', 'oncall-pw');
    const result = await runCli(['guard', 'settings', '--on-error', 'closed', '--break-glass-role', 'dba_oncall'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /on error: fail closed\nbreak-glass roles: dba_oncall/);
    const test = await runCli(['guard', 'test', '--role', 'dba_oncall', '--app', 'x', '--format', 'json'], env);
    assert.equal(JSON.parse(test.stdout).reason, 'break-glass');
    const quiet = await runCli(['guard', 'settings', '--record-allowed', 'off'], env);
    assert.match(quiet.stdout, /record allowed logins: off/);
    const { rows } = await cluster.query("SELECT prosrc FROM pg_proc WHERE oid = 'pgwarden.guard_login'::regproc");
    assert.doesNotMatch(rows[0]!.prosrc as string, /pg_notify/, 'the recompiled login check no longer notifies');
    // Running install again (to repair or upgrade) keeps them.
    assert.equal((await runCli(['install'], env)).code, 0);
    assert.match((await runCli(['guard', 'settings'], env)).stdout, /on error: fail closed\nbreak-glass roles: dba_oncall/);
  });
});
