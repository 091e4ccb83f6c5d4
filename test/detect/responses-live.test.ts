// Responses that act, on real servers (issue 18 phase B): terminate ends the session and no
// protected one; lock_role locks and unlocks on time without collect (lift-expired from cron),
// keeps a role that was NOLOGIN so, follows a rename, never touches a superuser, a break-glass
// role, pgwarden's roles or their members; block_client refuses the client in every guarded
// database and admits it again by itself. Hostile names, and an unprivileged login that calls
// the functions. PostgreSQL 14, 16 (ADMIN OPTION from 16) and 18 by default; PGW_FLAVORS picks.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Responder, ResponsePlanner, alertOf, createEngine, detectSchema, type ResponseRecord } from '../../src/detect/index.ts';
import { parseText } from '../../src/logs/index.ts';
import { applyGuardSettings, installResponder, installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import { pgEnv, runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';
import type { Target } from '../../src/core/db.ts';

const FLAVORS = process.env.PGW_FLAVORS ? (process.env.PGW_FLAVORS.split(',') as Flavor[]) : (['pg14', 'pg16', 'pg18'] as Flavor[]);
const PASSWORD = 'victim-pw';
const HOSTILE = 'evil"; DROP ROLE victim; --\nline two \'quoted\'';

/** A TCP connection from another loopback address (127.0.0.0/8 is all local on Linux). */
function from(localAddress: string) {
  return () => {
    const socket = new net.Socket();
    const connect = socket.connect.bind(socket) as (options: net.SocketConnectOpts) => net.Socket;
    (socket as unknown as { connect: (port: number, host: string) => net.Socket }).connect = (port, host) => connect({ port, host, localAddress });
    return socket;
  };
}

async function login(cluster: Cluster, user: string, options: { address?: string; database?: string; password?: string } = {}): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1', port: cluster.port, user, password: options.password ?? PASSWORD, database: options.database ?? 'postgres',
    stream: options.address ? from(options.address) : undefined,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function canLogin(cluster: Cluster, user: string, options: { address?: string; database?: string } = {}): Promise<{ ok: boolean; message?: string }> {
  try {
    const client = await login(cluster, user, options);
    await client.end();
    return { ok: true };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

async function sessionId(admin: pg.Client, pid: number): Promise<string> {
  const { rows: [row] } = await admin.query<{ id: string }>('SELECT pgwarden.response_session_id(backend_start, pid) AS id FROM pg_stat_activity WHERE pid = $1', [pid]);
  return row!.id;
}

async function canLoginAttr(admin: pg.Client, role: string): Promise<boolean | null> {
  const { rows } = await admin.query<{ l: boolean }>('SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = $1', [role]);
  return rows[0]?.l ?? null;
}

for (const flavor of FLAVORS) {
  describe(`responses that act (${flavor})`, () => {
    let cluster: Cluster;
    let admin: pg.Client;
    let responder: Responder;
    let target: Target;
    let major: number;

    before(async () => {
      cluster = await startCluster({ flavor });
      major = cluster.majorVersion;
      const hba = path.join(cluster.dataDir, 'pg_hba.conf');
      writeFileSync(hba, `${readFileSync(hba, 'utf8')}\nhost all all 127.0.0.0/8 scram-sha-256\n`);
      await cluster.query('SELECT pg_catalog.pg_reload_conf()');
      await cluster.createDatabase('app');
      admin = new pg.Client({ connectionString: cluster.url() });
      await admin.connect();
      const password = newRecorderPassword();
      for (const database of ['postgres', 'app']) {
        const client = new pg.Client({ connectionString: cluster.url(database) });
        await client.connect();
        await installSchema(client, password);
        await client.end();
      }
      for (const role of ['victim', 'victim2', 'nolog', 'temp1', 'breakglass', 'alerts_login', 'plain', 'pgw', HOSTILE]) {
        await admin.query(`CREATE ROLE ${admin.escapeIdentifier(role)} LOGIN PASSWORD '${PASSWORD}'`);
      }
      await admin.query('ALTER ROLE nolog NOLOGIN');
      await admin.query(`CREATE ROLE boss SUPERUSER LOGIN PASSWORD '${PASSWORD}'`);
      await admin.query('GRANT pgwarden_alerts TO alerts_login');
      await admin.query('GRANT pgwarden_watcher TO pgw');
      const client = new pg.Client({ connectionString: cluster.url() });
      await client.connect();
      await applyGuardSettings(client, { breakGlassRoles: ['breakglass'] });
      await installResponder(client);
      await client.end();
      const { rows: ddl } = await admin.query("SELECT command_tag FROM pgwarden.ddl_events WHERE object_identity LIKE 'pgwarden_responder%' OR command_tag IN ('GRANT', 'REVOKE')");
      assert.deepEqual(ddl, [], 'install --responder is pgwarden\'s own change, not a DDL alert');
      // The responder acts as pgwarden's own login, a member of pgwarden_watcher and nothing more.
      target = { url: cluster.url('postgres', 'pgw', PASSWORD), label: 'pgw' };
      responder = new Responder(target);
    });
    after(async () => {
      await admin?.end();
      await cluster?.stop();
    });

    it('terminate ends the session named by pid and session id, once; a reused pid, a superuser\'s or pgwarden\'s own session never', async () => {
      const victim = await login(cluster, 'victim');
      const { rows: [victimRow] } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const pid = victimRow!.pid;
      const sid = await sessionId(admin, pid);
      const stale = await responder.terminateOne('t-stale', pid, '1.1', 'victim');
      assert.equal(stale.outcome, 'noop', stale.reason);
      assert.match(stale.reason, /another session now/);
      const wrongRole = await responder.terminateOne('t-role', pid, sid, 'victim2');
      assert.equal(wrongRole.outcome, 'noop');
      const dry = await new Responder(target, { dryRun: true }).terminateOne('t1', pid, sid, 'victim');
      assert.equal(dry.outcome, 'dry_run');
      assert.match(dry.reason, /would end pid/);
      await victim.query('SELECT 1'); // a dry run ends nothing
      const done = await responder.terminateOne('t1', pid, sid, 'victim');
      assert.equal(done.outcome, 'done', done.reason);
      await assert.rejects(victim.query('SELECT 1'));
      await waitFor(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, 10_000, 'the session to end');
      const again = await responder.terminateOne('t1', pid, sid, 'victim');
      assert.equal(again.id, done.id, 'the same response id acts once');

      for (const [user, why] of [['boss', /superuser/], ['breakglass', /break-glass/], ['alerts_login', /pgwarden's own roles or a member/]] as const) {
        const session = await login(cluster, user);
        const { rows: [row] } = await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        const record = await responder.terminateOne(`t-${user}`, row!.pid, await sessionId(admin, row!.pid), user);
        assert.equal(record.outcome, 'refused', `${user}: ${record.reason}`);
        assert.match(record.reason, why);
        await session.query('SELECT 1');
        await session.end();
      }
      // pgwarden's own login: another session of pgw, and the responder's own connection.
      const own = await login(cluster, 'pgw');
      const { rows: [ownRow] } = await own.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const ownRecord = await responder.terminateOne('t-own', ownRow!.pid, await sessionId(admin, ownRow!.pid), 'pgw');
      assert.equal(ownRecord.outcome, 'refused');
      const self = await own.query<{ outcome: string; reason: string }>(
        "SELECT outcome, reason FROM pgwarden.response_terminate('t-self', pg_backend_pid(), NULL, NULL, now(), false, '{}')");
      assert.equal(self.rows[0]!.outcome, 'refused');
      await own.end();
    });

    it('lock_role locks, and lift-expired (cron, no collect) unlocks on time; the lock is recorded', async () => {
      assert.equal((await canLogin(cluster, 'victim')).ok, true);
      const locked = await responder.lockOne('l1', 'victim', 1000);
      assert.equal(locked.outcome, 'done', locked.reason);
      assert.equal(await canLoginAttr(admin, 'victim'), false);
      const refused = await canLogin(cluster, 'victim');
      assert.equal(refused.ok, false);
      assert.match(refused.message!, /not permitted to log in/);
      const again = await responder.lockOne('l1', 'victim', 1000);
      assert.equal(again.id, locked.id, 'the same response id acts once');
      // A longer lock of another role, which lift-expired must leave alone.
      assert.equal((await responder.lockOne('l-long', 'victim2', 3_600_000)).outcome, 'done');
      // Wait on the server's clock, then lift the way cron does: no collect, no Responder object.
      await waitFor(async () => (await admin.query("SELECT 1 FROM pgwarden.response_locks WHERE response_id = 'l1' AND until <= now()")).rowCount === 1, 10_000, 'the lock to expire');
      const lifted = await runCli(['detect', 'responses', 'lift-expired', '--format', 'json'], pgEnv(cluster, 'postgres', 'pgw', PASSWORD));
      assert.equal(lifted.code, 0, lifted.stderr);
      const records = JSON.parse(lifted.stdout) as ResponseRecord[];
      // 17+: lift-expired's own login lifted it first, in the login check (migration 6: every
      // recorded login lifts what is due), so there the command itself found nothing left.
      assert.deepEqual(records.map((r) => [r.action, r.outcome, r.role]), major >= 17 ? [] : [['unlock_role', 'done', 'victim']]);
      const { rows: [unlock] } = await admin.query<{ reason: string }>("SELECT reason FROM pgwarden.response_actions WHERE response_id = 'l1:unlock'");
      assert.equal(unlock?.reason, `ALTER ROLE victim LOGIN (${major >= 17 ? 'expired, lifted at a login' : 'expired'})`);
      assert.equal((await canLogin(cluster, 'victim')).ok, true);
      assert.equal(await canLoginAttr(admin, 'victim2'), false, 'a lock not yet expired stays');
      const listed = await runCli(['detect', 'responses', 'list', '--format', 'json'], pgEnv(cluster, 'postgres', 'pgw', PASSWORD));
      assert.equal(listed.code, 0, listed.stderr);
      const active = JSON.parse(listed.stdout) as { kind: string; role: string }[];
      assert.deepEqual(active.filter((a) => a.kind === 'lock').map((a) => a.role), ['victim2']);
      const { rows: events } = await admin.query<{ action: string; outcome: string }>(
        "SELECT action, outcome FROM pgwarden.response_actions WHERE response_id IN ('l1', 'l1:unlock') ORDER BY id");
      assert.deepEqual(events.map((e) => `${e.action} ${e.outcome}`), ['lock_role done', 'unlock_role done']);
    });

    // A rename is an ALTER ROLE like any other: the role's row changed since the lock, and
    // pgwarden cannot tell a rename from a LOGIN-then-NOLOGIN by an admin, so it leaves the role
    // NOLOGIN (an admin decides) and closes the lock, by OID, under the role's new name.
    it('a role renamed (altered) while locked is left NOLOGIN; one dropped and created again is not touched', async () => {
      await admin.query('ALTER ROLE victim2 RENAME TO victim2_renamed');
      const { rows: [lock] } = await admin.query<{ id: string }>("SELECT id::text FROM pgwarden.response_locks WHERE response_id = 'l-long'");
      const [record] = await responder.lift(lock!.id);
      assert.equal(record!.outcome, 'noop', record!.reason);
      assert.match(record!.reason, /role victim2_renamed altered since the lock/);
      assert.equal(await canLoginAttr(admin, 'victim2_renamed'), false);
      assert.equal((await admin.query("SELECT 1 FROM pgwarden.response_locks WHERE response_id = 'l-long' AND lifted_at IS NOT NULL")).rowCount, 1);
      await admin.query('ALTER ROLE victim2_renamed RENAME TO victim2');
      await admin.query('ALTER ROLE victim2 LOGIN');

      assert.equal((await responder.lockOne('l-temp', 'temp1', 3_600_000)).outcome, 'done');
      await admin.query('DROP ROLE temp1');
      await admin.query('CREATE ROLE temp1 NOLOGIN');
      const { rows: [tempLock] } = await admin.query<{ id: string }>("SELECT id::text FROM pgwarden.response_locks WHERE response_id = 'l-temp'");
      const [tempRecord] = await responder.lift(tempLock!.id);
      assert.equal(tempRecord!.outcome, 'noop');
      assert.match(tempRecord!.reason, /dropped while locked/);
      assert.equal(await canLoginAttr(admin, 'temp1'), false, 'the new temp1 is another role: left NOLOGIN');
    });

    it('a role that was NOLOGIN already is left so and never made LOGIN', async () => {
      const record = await responder.lockOne('l-nolog', 'nolog', 1000);
      assert.equal(record.outcome, 'noop', record.reason);
      assert.equal((await admin.query("SELECT 1 FROM pgwarden.response_locks WHERE response_id = 'l-nolog'")).rowCount, 0);
      await responder.liftExpired();
      assert.equal(await canLoginAttr(admin, 'nolog'), false);
    });

    it('refuses, and records, a lock of a superuser, a break-glass role, pgwarden\'s roles and their members, its own login, an unknown or NUL name', async () => {
      const cases: [string, RegExp][] = [
        ['boss', /superuser/], ['breakglass', /break-glass/], ['pgwarden_watcher', /pgwarden's own/], ['pgwarden_responder', /pgwarden's own/],
        ['alerts_login', /member of one/], ['pgw', /pgwarden's own|caller's own/], ['pg_signal_backend', /predefined/],
        ['nobody_here', /no role named nobody_here/], ['victim\0', /no role named/],
      ];
      for (const [index, [role, why]] of cases.entries()) {
        const record = await responder.lockOne(`l-refuse-${index}`, role, 60_000);
        assert.equal(record.outcome, 'refused', `${JSON.stringify(role)}: ${record.reason}`);
        assert.match(record.reason, why);
      }
      const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.response_actions WHERE response_id LIKE 'l-refuse-%' AND outcome = 'refused'");
      assert.equal(rows[0]!.n, cases.length);
      assert.equal(await canLoginAttr(admin, 'boss'), true);
      assert.equal(await canLoginAttr(admin, 'breakglass'), true);
      assert.equal(await canLoginAttr(admin, 'victim'), true);
    });

    it('a name with quotes and line breaks is locked and unlocked as that role, and nothing else', async () => {
      const record = await responder.lockOne('l-hostile', HOSTILE, 60_000);
      assert.equal(record.outcome, 'done', record.reason);
      assert.equal(record.role, HOSTILE);
      assert.equal(await canLoginAttr(admin, HOSTILE), false);
      assert.equal(await canLoginAttr(admin, 'victim'), true, 'no statement hidden in the name ran');
      const { rows: [lock] } = await admin.query<{ id: string }>("SELECT id::text FROM pgwarden.response_locks WHERE response_id = 'l-hostile'");
      await responder.lift(lock!.id);
      assert.equal(await canLoginAttr(admin, HOSTILE), true);
    });

    it(`PostgreSQL ${'16+'}: a role created after install --responder needs ADMIN OPTION (14, 15: CREATEROLE is enough)`, async () => {
      await admin.query(`CREATE ROLE late LOGIN PASSWORD '${PASSWORD}'`);
      const record = await responder.lockOne('l-late', 'late', 60_000);
      if (major >= 16) {
        assert.equal(record.outcome, 'refused', record.reason);
        assert.match(record.reason, /no ADMIN OPTION on role late/);
        const client = new pg.Client({ connectionString: cluster.url() });
        await client.connect();
        const again = await installResponder(client);
        await client.end();
        assert.deepEqual(again.adminGranted, ['late']);
        assert.equal((await responder.lockOne('l-late-2', 'late', 60_000)).outcome, 'done');
      } else {
        assert.equal(record.outcome, 'done', record.reason);
      }
      assert.equal(await canLoginAttr(admin, 'late'), false);
      await admin.query('ALTER ROLE late LOGIN');
    });

    it('an unprivileged login may call none of the response functions, nor write a response record', async () => {
      const plain = await login(cluster, 'plain');
      for (const sql of [
        "SELECT pgwarden_responder.lock_role('x', 'victim', '1 hour', false, '{}')",
        "SELECT pgwarden_responder.unlock_role(1, 'x')",
        'SELECT * FROM pgwarden_responder.lift_expired()',
        "SELECT pgwarden.response_terminate('x', 1, NULL, NULL, now(), false, '{}')",
        "SELECT pgwarden.response_block_client('x', '10.0.0.0/8', '1 hour', false, '{}')",
        "SELECT * FROM pgwarden.response_unblock(NULL, NULL)",
        "SELECT pgwarden.response_record_refusal('x', 'lock_role', 'victim', NULL, 'forged', '{}')",
        "INSERT INTO pgwarden.response_actions (response_id, action, outcome, reason) VALUES ('x', 'lock_role', 'done', 'forged')",
        "UPDATE pgwarden.response_locks SET until = now() + interval '100 years'",
      ]) {
        await assert.rejects(plain.query(sql), (error: { code?: string }) => error.code === '42501', sql);
      }
      await plain.end();
      const cli = await runCli(['detect', 'responses', 'run', '--action', 'lock_role', '--role', 'victim'], pgEnv(cluster, 'postgres', 'plain', PASSWORD));
      assert.equal(cli.code, 4, cli.stderr);
      assert.match(cli.stderr, /PGW_ERR_PRIVILEGE/);
      assert.equal(await canLoginAttr(admin, 'victim'), true);
    });

    it('block_client refuses the network in every guarded database and admits it again by itself; never pgwarden\'s own address', async () => {
      const attacker = '127.0.0.77';
      assert.equal((await canLogin(cluster, 'victim', { address: attacker })).ok, true);
      const records = await responder.blockClient('b1', `${attacker}/32`, 2000);
      assert.deepEqual(records.map((r) => [r.database, r.outcome]), [['app', 'done'], ['postgres', 'done']]);
      assert.deepEqual((await responder.blockClient('b1', `${attacker}/32`, 2000)).map((r) => r.id), records.map((r) => r.id), 'acts once');
      for (const database of ['postgres', 'app']) {
        const { rows: [decision] } = await admin.query<{ rule: string }>(
          `SELECT pgwarden.guard_decide('victim', 'psql', $1::inet, $2)::text AS rule`, [attacker, database]);
        assert.ok(Number(decision!.rule) < 0, `denied in the rules of ${database}`);
        const { rows: [other] } = await admin.query<{ rule: string }>(`SELECT pgwarden.guard_decide('victim', 'psql', '127.0.0.78'::inet, $1)::text AS rule`, [database]);
        assert.equal(other!.rule, '0');
      }
      if (major >= 17) {
        // The login event trigger refuses the client for real, in both databases.
        for (const database of ['postgres', 'app']) {
          const outcome = await canLogin(cluster, 'victim', { address: attacker, database });
          assert.equal(outcome.ok, false, database);
          assert.match(outcome.message!, /pgwarden: connection refused/);
        }
        assert.equal((await canLogin(cluster, 'victim', { address: '127.0.0.78' })).ok, true);
        assert.equal((await canLogin(cluster, 'boss', { address: attacker })).ok, true, 'a superuser is never refused');
      }
      // Expiry needs no process: the compiled rule compares with the login's own time.
      await waitFor(async () => (await admin.query("SELECT 1 FROM pgwarden.guard_rules WHERE response_id = 'b1' AND expires_at <= now()")).rowCount === 1, 10_000, 'the block to expire');
      const { rows: [expired] } = await admin.query<{ rule: string }>(`SELECT pgwarden.guard_decide('victim', 'psql', $1::inet, 'postgres')::text AS rule`, [attacker]);
      assert.equal(expired!.rule, '0');
      if (major >= 17) assert.equal((await canLogin(cluster, 'victim', { address: attacker, database: 'app' })).ok, true);
      // Tidying: the expired rules go, each removal recorded.
      const tidied = await responder.liftExpired();
      assert.deepEqual(tidied.filter((r) => r.action === 'unblock_client').map((r) => r.database).sort(), ['app', 'postgres']);
      assert.equal((await admin.query("SELECT 1 FROM pgwarden.guard_rules WHERE response_id IS NOT NULL")).rowCount, 0);

      // The network pgwarden itself connects from (127.0.0.1 here) is refused, and recorded.
      const own = await responder.blockClient('b-own', '127.0.0.0/8', 60_000);
      assert.ok(own.every((r) => r.outcome === 'refused' && /pgwarden's own address/.test(r.reason)), JSON.stringify(own));
      // Lift one now, by hand.
      await responder.blockClient('b2', '127.0.0.79/32', 3_600_000);
      const guardList = await runCli(['guard', 'list', '--format', 'json'], pgEnv(cluster));
      const temporary = (JSON.parse(guardList.stdout) as { clients: string[]; expires_at: string | null; priority: number }[]).filter((r) => r.expires_at !== null);
      assert.deepEqual(temporary.map((r) => [r.clients, r.priority]), [[['127.0.0.79/32'], -1000000]], 'guard list shows the temporary rule and its end');
      const listed = await responder.active();
      assert.deepEqual(listed.filter((a) => a.kind === 'block').map((a) => [a.id, a.network, a.database]), [['b2', '127.0.0.79/32', 'app'], ['b2', '127.0.0.79/32', 'postgres']]);
      const cli = await runCli(['detect', 'responses', 'lift', 'b2', '--format', 'csv'], pgEnv(cluster, 'postgres', 'pgw', PASSWORD));
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(cli.stdout.trim().split('\n').length, 3, cli.stdout);
      assert.equal((await responder.active()).filter((a) => a.kind === 'block').length, 0);
      const missing = await runCli(['detect', 'responses', 'lift', 'b2'], pgEnv(cluster, 'postgres', 'pgw', PASSWORD));
      assert.equal(missing.code, 6, missing.stderr);
      assert.match(missing.stderr, /no active lock or block "b2"/);
    });

    it('`run --dry-run` shows what would be done with the server\'s checks and changes nothing; bad input is one line', async () => {
      const env = pgEnv(cluster, 'postgres', 'pgw', PASSWORD);
      const dry = await runCli(['detect', 'responses', 'run', '--action', 'lock_role', '--role', 'victim', '--duration', '10m', '--dry-run', '--format', 'json'], env);
      assert.equal(dry.code, 0, dry.stderr);
      const [record] = JSON.parse(dry.stdout) as ResponseRecord[];
      assert.equal(record!.outcome, 'dry_run');
      assert.match(record!.reason, /would ALTER ROLE victim NOLOGIN/);
      assert.equal(await canLoginAttr(admin, 'victim'), true);
      const refused = await runCli(['detect', 'responses', 'run', '--action', 'lock_role', '--role', 'boss', '--dry-run'], env);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stdout, /superuser/);
      for (const [args, message] of [
        [['--action', 'block_client', '--network', '10.0.0.300'], /--network "10.0.0.300" is not an address or network/],
        [['--action', 'lock_role', '--role', 'victim', '--duration', '10 minutes'], /--duration "10 minutes" is not a duration/],
        [['--action', 'terminate'], /--action terminate needs --pid/],
        [['--action', 'terminate', '--pid', '12', '--session-id', "x'; --"], /--session-id .* is not a session id/],
      ] as const) {
        const bad = await runCli(['detect', 'responses', 'run', ...args], env);
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, message);
        assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
      }
    });
    // Defence in depth: should a response's rule ever hold pgwarden's address, pgwarden's own
    // roles and their members are still admitted by it (so pgwarden can lift it); others are not.
    it('a response\'s guard rule never refuses pgwarden\'s own roles or their members', async () => {
      await admin.query(`CREATE ROLE guarded_plain LOGIN PASSWORD '${PASSWORD}'`);
      await admin.query("INSERT INTO pgwarden.guard_rules (action, roles, clients, priority, expires_at, response_id) VALUES ('deny', '{*}', '{127.0.0.0/8}', -1000000, now() + interval '1 hour', 'direct-wide')");
      try {
        const decide = async (role: string) => (await admin.query<{ rule: string }>(
          "SELECT pgwarden.guard_decide($1, 'psql', '127.0.0.1'::inet, 'postgres')::text AS rule", [role])).rows[0]!.rule;
        assert.equal(await decide('pgw'), '0', 'a member of pgwarden_watcher');
        assert.equal(await decide('alerts_login'), '0', 'a member of pgwarden_alerts');
        assert.equal(await decide('no such role'), await decide('guarded_plain'));
        assert.notEqual(await decide('guarded_plain'), '0', 'anyone else is refused by the block');
      } finally {
        await admin.query("DELETE FROM pgwarden.guard_rules WHERE response_id = 'direct-wide'");
        await admin.query('DROP ROLE guarded_plain');
      }
    });

    // With no cron entry and nothing running, an expired lock stays: status must say so; and the
    // responder has no members by design (on 14/15 a CREATEROLE role may grant it to itself).
    it('status reports a lock past its end that nothing lifted, and a member of pgwarden_responder', async () => {
      await admin.query(`CREATE ROLE overdue1 LOGIN PASSWORD '${PASSWORD}'`);
      await admin.query('CREATE ROLE responder_member NOLOGIN');
      const client = new pg.Client({ connectionString: cluster.url() });
      await client.connect();
      await installResponder(client); // 16+: ADMIN OPTION on the new role
      await client.end();
      // connected before the lock ends (a login after it would lift it, on 17+)
      const busy = new pg.Client({ connectionString: cluster.url() });
      await busy.connect();
      assert.equal((await responder.lockOne('overdue-lock', 'overdue1', 1000)).outcome, 'done');
      await waitFor(async () => (await admin.query("SELECT 1 FROM pgwarden.response_locks WHERE response_id = 'overdue-lock' AND until <= now()")).rowCount === 1, 10_000, 'the lock to expire');
      await admin.query('GRANT pgwarden_responder TO responder_member');
      // 17+: status's own login would lift the lock (migration 6); a lock or lift in progress
      // elsewhere (holding the responder's lock) makes the login leave it, as here.
      await busy.query('BEGIN');
      await busy.query('LOCK TABLE pgwarden.response_locks IN SHARE ROW EXCLUSIVE MODE');
      try {
        const status = await runCli(['status', '--format', 'json'], pgEnv(cluster));
        await busy.query('COMMIT');
        assert.match(status.stdout, /lock \d+ of role overdue1/);
        assert.match(status.stdout, /member responder_member of pgwarden_responder/);
        assert.notEqual(status.code, 0, 'a member of the responder is drift');
      } finally {
        await busy.end();
        await admin.query('REVOKE pgwarden_responder FROM responder_member');
        await admin.query('DROP ROLE responder_member');
        await responder.liftExpired();
      }
      assert.equal(await canLoginAttr(admin, 'overdue1'), true);
      const after = await runCli(['status', '--format', 'json'], pgEnv(cluster));
      assert.doesNotMatch(after.stdout, /lock \d+ of role overdue1|member responder_member of/);
    });

    it('install --responder through the CLI is idempotent, status stays clean, uninstall removes the responder', async () => {
      const env = pgEnv(cluster);
      const install = await runCli(['install', '--all-databases', '--responder'], env);
      assert.equal(install.code, 0, install.stderr);
      assert.match(install.stdout, /postgres: responder pgwarden_responder ready for lock_role/);
      // The roles this test made after install are changes the DDL reconciliation would report.
      for (const database of ['postgres', 'app', 'template1']) assert.equal((await runCli(['ddl', 'baseline', '--accept'], pgEnv(cluster, database))).code, 0);
      const status = await runCli(['status', '--all-databases', '--problems'], env);
      assert.equal(status.code, 0, status.stdout + status.stderr);
      const uninstall = await runCli(['uninstall', '--all-databases'], env);
      assert.equal(uninstall.code, 0, uninstall.stderr);
      assert.match(uninstall.stdout, /role pgwarden_responder: dropped/);
      const { rows } = await admin.query("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'pgwarden%' UNION ALL SELECT 1 FROM pg_roles WHERE rolname = 'pgwarden_responder'");
      assert.equal(rows.length, 0);
    });
  });
}

// The API the engine calls: a real login, written by the server to its csvlog, through the
// engine and a rule with all three actions, into respond(rule, alert) — and again, which does nothing.
describe('respond(rule, alert): from the server\'s own log record to the session ended, the role locked, the client blocked (pg18)', () => {
  let cluster: Cluster;
  let admin: pg.Client;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg18', settings: { log_destination: "'csvlog'", logging_collector: 'on', log_connections: 'on' } });
    const hba = path.join(cluster.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `${readFileSync(hba, 'utf8')}\nhost all all 127.0.0.0/8 scram-sha-256\n`);
    await cluster.query('SELECT pg_catalog.pg_reload_conf()');
    admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await installSchema(admin, newRecorderPassword());
    await admin.query(`CREATE ROLE victim LOGIN PASSWORD '${PASSWORD}'`);
    await admin.query(`CREATE ROLE pgw LOGIN PASSWORD '${PASSWORD}' IN ROLE pgwarden_watcher`);
    await installResponder(admin);
  });
  after(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  it('acts once per incident and action, with what the server wrote, and records each response', async () => {
    const victim = await login(cluster, 'victim', { address: '127.0.0.77' });
    const { rows: [row] } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const csv = () => {
      const dir = path.join(cluster.dataDir, 'log');
      return readdirSync(dir).filter((f) => f.endsWith('.csv')).map((f) => readFileSync(path.join(dir, f))).find((b) => b.includes(`connection authorized: user=victim`));
    };
    const log = await waitFor(async () => csv(), 10_000, 'the login in the csvlog');
    const detect = detectSchema.parse({ custom_rules: { victim_login: {
      type: 'match', description: 'victim logged in', match: { kinds: ['connection_authorized'], users: ['victim'] },
      actions: [{ type: 'terminate' }, { type: 'lock_role', duration: '1h' }, { type: 'block_client', duration: '1h' }],
    } } });
    const engine = createEngine(detect);
    const rule = engine.rules.find((r) => r.id === 'victim_login')!;
    const planner = new ResponsePlanner({ facts: engine.facts, breakGlassRoles: [], protectedRoles: [], protectedNetworks: [] });
    for (const event of parseText(log, { format: 'csvlog', input: 'postgresql.csv', server: 'pg18' }).events) engine.process(event);
    const incidents = engine.openIncidents().filter((i) => i.rule === 'victim_login');
    assert.equal(incidents.length, 1);
    const alert = alertOf(rule, incidents[0]!, planner.describe(rule, incidents[0]!));
    assert.equal(alert.sessions[0]!.pid, row!.pid);

    const responder = new Responder({ url: cluster.url('postgres', 'pgw', PASSWORD), label: 'pgw' });
    const records = await responder.respond(rule, alert);
    assert.deepEqual(records.map((r) => [r.action, r.outcome, r.role ?? r.network]),
      [['terminate', 'done', 'victim'], ['lock_role', 'done', 'victim'], ['block_client', 'done', '127.0.0.77/32']], JSON.stringify(records));
    await assert.rejects(victim.query('SELECT 1'), 'the session was ended');
    assert.equal((await admin.query<{ l: boolean }>("SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = 'victim'")).rows[0]!.l, false);
    const { rows: [decision] } = await admin.query<{ rule: string }>("SELECT pgwarden.guard_decide('someone', 'psql', '127.0.0.77', 'postgres')::text AS rule");
    assert.ok(Number(decision!.rule) < 0, 'the client is refused');
    assert.ok(records.every((r) => r.detail.rule === 'victim_login' && r.detail.incident === alert.id));

    // collect restarted and the alert comes again: nothing more happens.
    await admin.query("ALTER ROLE victim LOGIN");
    const again = await responder.respond(rule, alert);
    assert.deepEqual(again.map((r) => r.id), records.map((r) => r.id));
    assert.equal((await admin.query<{ l: boolean }>("SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = 'victim'")).rows[0]!.l, true);
    const { rows: [count] } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.response_actions WHERE detail ->> 'incident' = $1", [alert.id]);
    assert.equal(count!.n, 3);

    // The same incident where the config protects the role and the network: refused by pgwarden
    // before the server is asked, and recorded all the same.
    const strict = new ResponsePlanner({ facts: engine.facts, breakGlassRoles: [], protectedRoles: ['vict*'], protectedNetworks: ['127.0.0.0/8'] });
    const guarded = { ...alertOf(rule, incidents[0]!, strict.describe(rule, incidents[0]!)), id: `${alert.id}-protected` };
    const refused = await responder.respond(rule, guarded);
    assert.deepEqual(refused.map((r) => [r.action, r.outcome]), [['terminate', 'refused'], ['lock_role', 'refused'], ['block_client', 'refused']], JSON.stringify(refused));
    assert.match(refused[1]!.reason, /protected \(detect\.responses\.protected_roles\)/);
    assert.match(refused[2]!.reason, /protected_networks/);
    assert.equal((await admin.query<{ l: boolean }>("SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = 'victim'")).rows[0]!.l, true);
  });
});
