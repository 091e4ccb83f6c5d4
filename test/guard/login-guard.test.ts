// The login guard on a real PostgreSQL 18 (login event trigger): who gets in, who is
// refused with which message and SQLSTATE, what is recorded, and that no failure of the
// guard can lock out a superuser or the break-glass role.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { addRule, normaliseRule, type RuleInput } from '../../src/guard/index.ts';
import { installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import { installedCluster, tryLogin } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';

describe('connection guard at login (PostgreSQL 18)', () => {
  let cluster: Cluster;
  let admin: pg.Client;

  const deny = (input: Omit<RuleInput, 'action'>) => addRule(admin, normaliseRule({ action: 'deny', ...input }));
  const allow = (input: Omit<RuleInput, 'action'>) => addRule(admin, normaliseRule({ action: 'allow', ...input }));
  const attempts = async (user: string) => (await admin.query(
    'SELECT decision, rule_id::int AS rule_id, application, client_addr, message, via, database, server_port FROM pgwarden.connection_attempts WHERE user_name = $1 ORDER BY id', [user])).rows;

  before(async () => {
    cluster = await installedCluster('pg18', { template1: true });
    admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    for (const role of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await cluster.createRole(role, `${role}-pw`);
    await cluster.createRole('root_dba', 'root-pw', 'SUPERUSER');
    await cluster.createRole('breakglass', 'bg-pw');
    // New databases inherit the guard from template1.
    await cluster.createDatabase('sales');
  });
  after(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  it('refuses a denied application with the configured message and SQLSTATE 28000, and records it', async () => {
    const rule = await deny({ roles: ['alice', 'bob'], applications: ['%dbeaver%', '%pgadmin%'], message: 'GUI tools are not allowed' });
    const refused = await tryLogin(cluster, 'alice', 'alice-pw', 'DBeaver 24.1.0 - Main');
    assert.equal(refused.ok, false);
    assert.equal(refused.code, '28000');
    assert.match(refused.message!, /connection refused for role "alice" to database "postgres" from application "DBeaver 24\.1\.0 - Main": GUI tools are not allowed/);
    assert.match(refused.detail!, new RegExp(`rule ${rule.id}\\b`));
    // Case-insensitive ILIKE, and the second pattern of the rule.
    assert.equal((await tryLogin(cluster, 'bob', 'bob-pw', 'PGADMIN 4')).ok, false);
    assert.equal((await tryLogin(cluster, 'alice', 'alice-pw', 'psql')).ok, true);

    const rows = await attempts('alice');
    const denied = rows.filter((r) => r.decision === 'deny');
    assert.equal(denied.length, 1, 'the refusal survives the aborted login transaction');
    assert.deepEqual(
      { rule_id: denied[0].rule_id, application: denied[0].application, client_addr: denied[0].client_addr, via: denied[0].via, database: denied[0].database, server_port: denied[0].server_port },
      { rule_id: rule.id, application: 'DBeaver 24.1.0 - Main', client_addr: '127.0.0.1', via: 'login', database: 'postgres', server_port: cluster.port });
    assert.equal(denied[0].message, 'GUI tools are not allowed');
  });

  it('matches on client network and database, and first match by priority wins', async () => {
    const network = await deny({ roles: ['carol'], clients: ['127.0.0.0/8'], message: 'not from loopback' });
    await deny({ roles: ['carol'], clients: ['10.0.0.0/8'] });
    assert.equal((await tryLogin(cluster, 'carol', 'carol-pw', 'app')).ok, false);
    // An allow rule with a lower priority number runs first and lets carol's service in.
    await allow({ roles: ['carol'], applications: ['billing-%'], priority: 10 });
    assert.equal((await tryLogin(cluster, 'carol', 'carol-pw', 'billing-worker')).ok, true);
    assert.equal((await tryLogin(cluster, 'carol', 'carol-pw', 'other')).ok, false);
    assert.equal((await attempts('carol')).at(-1)?.rule_id, network.id);

    // Rules live in each database; sales was created from template1 after pgwarden was
    // installed there, so it has the guard, and the rule is added to its own rule table.
    const sales = new pg.Client({ connectionString: cluster.url('sales') });
    await sales.connect();
    const database = await addRule(sales, normaliseRule({ action: 'deny', roles: ['*'], databases: ['sales'], applications: ['excel%'] }));
    const outcome = await tryLogin(cluster, 'dave', 'dave-pw', 'Excel 2021', 'sales');
    assert.equal(outcome.ok, false);
    assert.match(outcome.message!, /to database "sales"/);
    assert.equal((await tryLogin(cluster, 'dave', 'dave-pw', 'Excel 2021', 'postgres')).ok, true, 'the rule names only sales');
    const [row] = (await sales.query('SELECT rule_id::int AS rule_id, database FROM pgwarden.connection_attempts WHERE user_name = $1 AND decision = $2', ['dave', 'deny'])).rows;
    await sales.end();
    assert.deepEqual(row, { rule_id: database.id, database: 'sales' }, 'the refusal is recorded in the database the client tried');
  });

  it('matches Unix-socket connections with the local client keyword', async () => {
    await deny({ roles: ['erin'], clients: ['local'] });
    const socket = new pg.Client({ host: cluster.socketDir, port: cluster.port, user: 'erin', database: 'postgres' });
    socket.on('error', () => undefined);
    await assert.rejects(socket.connect(), (error: { code?: string }) => error.code === '28000');
    assert.equal((await tryLogin(cluster, 'erin', 'erin-pw', 'app')).ok, true, 'TCP is not local');
    assert.equal((await attempts('erin')).find((r) => r.decision === 'deny')?.client_addr, '[local]');
  });

  it('records allowed logins in the login check itself, with the server\'s time', async () => {
    const before = new Date((await admin.query('SELECT now() AS t')).rows[0].t);
    assert.equal((await tryLogin(cluster, 'frank', 'frank-pw', 'orders-service')).ok, true);
    const rows = await attempts('frank');
    assert.equal(rows.length, 1, 'recorded by the time the login returned, no watcher needed');
    assert.equal(rows[0].decision, 'allow');
    assert.equal(rows[0].application, 'orders-service');
    assert.equal(rows[0].via, 'login');
    const [{ ts }] = (await admin.query("SELECT ts FROM pgwarden.connection_attempts WHERE user_name = 'frank'")).rows;
    assert.ok(ts >= before, 'stamped by the server at login');
  });

  it('never refuses a superuser or the break-glass role, even under a deny-everyone rule', async () => {
    await admin.query("UPDATE pgwarden.guard_settings SET break_glass_roles = '{breakglass}'");
    const everyone = await deny({ roles: ['*'], message: 'maintenance' });
    try {
      assert.equal((await tryLogin(cluster, 'root_dba', 'root-pw', 'DBeaver')).ok, true);
      assert.equal((await tryLogin(cluster, 'breakglass', 'bg-pw', 'DBeaver')).ok, true);
      assert.equal((await tryLogin(cluster, 'frank', 'frank-pw', 'psql')).ok, false);
    } finally {
      await admin.query('DELETE FROM pgwarden.guard_rules WHERE id = $1', [everyone.id]);
    }
  });

  it('fails open by default when the guard breaks, closed when configured, and never locks out a superuser', async () => {
    await deny({ roles: ['frank'], applications: ['%dbeaver%'] });
    // Break the guard the way an accident would: its compiled rule functions disappear.
    const breakGuard = () => admin.query(`DO $$ DECLARE f regprocedure; BEGIN
      FOR f IN SELECT oid::regprocedure FROM pg_proc WHERE proname ~ '^guard_rules_(any|r[0-9]+)$' LOOP
        EXECUTE 'DROP FUNCTION ' || f;
      END LOOP; END $$`);
    await breakGuard();
    try {
      assert.equal((await tryLogin(cluster, 'frank', 'frank-pw', 'DBeaver')).ok, true, 'fails open by default');
      assert.match(cluster.readLog(), /LOG: {2}pgwarden guard: the guard failed for role "frank" and fails open/);

      await admin.query("UPDATE pgwarden.guard_settings SET on_error = 'closed'"); // recompiles, restoring them
      await breakGuard();
      const closed = await tryLogin(cluster, 'frank', 'frank-pw', 'psql');
      assert.equal(closed.ok, false, 'fails closed when configured');
      assert.equal(closed.code, '28000');
      assert.equal((await tryLogin(cluster, 'root_dba', 'root-pw', 'psql')).ok, true, 'superuser still gets in');
      assert.equal((await tryLogin(cluster, 'breakglass', 'bg-pw', 'psql')).ok, true, 'break-glass role still gets in');
    } finally {
      await admin.query("UPDATE pgwarden.guard_settings SET on_error = 'open'");
    }
    assert.equal((await tryLogin(cluster, 'frank', 'frank-pw', 'psql')).ok, true, 'recompiling repaired the guard');
  });

  it('documented lock-out recovery: event_triggers=off lets a superuser in past a sabotaged login function', async () => {
    await admin.query("CREATE OR REPLACE FUNCTION pgwarden.guard_login() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'sabotaged'; END $$");
    assert.equal((await tryLogin(cluster, 'root_dba', 'root-pw', 'psql')).ok, false, 'a broken function runs before any check can');
    const rescue = new pg.Client({ connectionString: cluster.url(), options: '-c event_triggers=off' });
    await rescue.connect();
    try {
      await installSchema(rescue, newRecorderPassword());
    } finally {
      await rescue.end();
    }
    assert.equal((await tryLogin(cluster, 'root_dba', 'root-pw', 'psql')).ok, true, 'install regenerated the guard');
  });

  it('refuses a rule with an invalid pattern in the database too', async () => {
    await assert.rejects(
      admin.query(`INSERT INTO pgwarden.guard_rules (action, roles, applications) VALUES ('deny', '{x}', ARRAY['bad\\'])`),
      (error: { code?: string }) => error.code === '23514');
  });
});
