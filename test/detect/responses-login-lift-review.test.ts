// Hostile review of the lift at login (sensors migration 6): each test states what should hold
// and FAILED on main 9a626e6 when written. Real servers; PGW_FLAVORS picks (default 16, 18).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Responder } from '../../src/detect/index.ts';
import { installResponder, installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import { waitFor } from '../harness/cli.ts';
import { majorVersionOf, startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';

const FLAVORS = process.env.PGW_FLAVORS ? (process.env.PGW_FLAVORS.split(',') as Flavor[]) : (['pg16', 'pg18'] as Flavor[]);
const PASSWORD = 'pw-review';

for (const flavor of FLAVORS) {
  const LOGIN_LIFTS = majorVersionOf(flavor) >= 17;
  describe(`lift at login, hostile review (${flavor})`, () => {
    let cluster: Cluster;
    let admin: pg.Client;
    let responder: Responder;
    const connect = async (role: string): Promise<pg.Client> => {
      const client = new pg.Client({ connectionString: cluster.url('postgres', role, PASSWORD) });
      await client.connect();
      return client;
    };
    const canLogin = async (role: string): Promise<boolean | undefined> =>
      (await admin.query<{ l: boolean }>('SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = $1', [role])).rows[0]?.l;
    const expire = (id: string): Promise<unknown> => waitFor(async () =>
      (await admin.query('SELECT 1 FROM pgwarden.response_locks WHERE response_id = $1 AND until <= now()', [id])).rowCount === 1, 10_000, `lock ${id} to expire`);

    before(async () => {
      cluster = await startCluster({ flavor });
      admin = new pg.Client({ connectionString: cluster.url() });
      await admin.connect();
      for (const role of ['plain', 'pgw', 'due', 'next', 'holder']) await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
      await installSchema(admin, newRecorderPassword());
      await admin.query('GRANT pgwarden_watcher TO pgw');
      await installResponder(admin);
      responder = new Responder({ url: cluster.url('postgres', 'pgw', PASSWORD), label: 'pgw' });
    });
    after(async () => {
      await admin?.end();
      await cluster?.stop();
    });

    // HIGH. guard_check() is PUBLIC (session_exec calls it as the connecting role) and records an
    // allowed login in the caller's own transaction, so the lift trigger ran there too: with a
    // lock due, a plain login calling it in an open transaction took the responder's table lock
    // and held it, and every lock_role waited for ever (the advisory-lock DoS, back), while
    // every login's lift skipped (NOWAIT). Only a login's own check may lift.
    it('a login calling guard_check() in its own transaction takes no responder lock', async () => {
      const plain = await connect('plain'); // before the lock ends: its own login lifts nothing
      try {
        assert.equal((await responder.lockOne('due-1', 'due', 500)).outcome, 'done');
        await expire('due-1');
        await plain.query('BEGIN');
        await plain.query('SELECT pgwarden.guard_check()');
        const { rows } = await plain.query<{ mode: string }>(
          "SELECT mode FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid() AND relation = 'pgwarden.response_locks'::regclass AND mode = 'ShareRowExclusiveLock'");
        assert.deepEqual(rows, [], 'a plain login holds the responder\'s serialisation lock');
        // lock_role is not held up by it (it would wait until plain commits)
        const pgw = await connect('pgw');
        try {
          await pgw.query("SET lock_timeout = '3s'");
          const { rows: [row] } = await pgw.query<{ outcome: string }>(
            "SELECT (pgwarden_responder.lock_role('next-1', 'next', '1 minute', false, '{}')).outcome");
          assert.equal(row!.outcome, 'done');
        } finally {
          await pgw.end();
        }
        await plain.query('ROLLBACK');
      } finally {
        await plain.end();
      }
      await responder.liftExpired();
      await admin.query("UPDATE pgwarden.response_locks SET until = now() WHERE response_id = 'next-1'").catch(() => undefined);
    });

    // MEDIUM. lock_role leaves the locked role's open sessions alone; one of them can hold its own
    // pg_authid row (ALTER ROLE itself PASSWORD in an open transaction), and every login's lift
    // then waited its 250 ms lock_timeout for that row (one logged "lock timeout" per login),
    // for as long as the session kept the transaction open. The lift skips such a lock at once.
    it('a locked role holding its own catalog row does not make logins wait', { skip: !LOGIN_LIFTS && 'no login hook on < 17 without session_exec' }, async () => {
      const holder = await connect('holder');
      try {
        assert.equal((await responder.lockOne('held-row', 'holder', 500)).outcome, 'done');
        await expire('held-row');
        await holder.query('BEGIN');
        await holder.query(`ALTER ROLE holder PASSWORD '${PASSWORD}'`);
        const before = cluster.readLog().length;
        const plain = await connect('plain');
        await plain.end();
        const { rows: [id] } = await admin.query<{ id: string }>("SELECT id::text FROM pgwarden.response_locks WHERE response_id = 'held-row'");
        const line = cluster.readLog().slice(before).split('\n').find((l) => l.includes(`lock ${id!.id} was not lifted at this login`));
        assert.ok(line, 'no LOG line for the held lock');
        assert.doesNotMatch(line, /lock timeout/, 'the login waited for the held row');
        await holder.query('ROLLBACK');
      } finally {
        await holder.end();
      }
      await responder.liftExpired();
    });

    // MEDIUM. A plain `pgwarden install` (an upgrade) did not run responder.sql: a server upgraded
    // kept the responder functions of the release before (the advisory lock any login could hold)
    // until someone thought of `install --responder`. Here: a responder function replaced by an
    // older body is put back by a plain install.
    it('a plain install refreshes the responder\'s functions', async () => {
      const body = async (): Promise<string> =>
        (await admin.query<{ src: string }>("SELECT prosrc AS src FROM pg_proc WHERE oid = 'pgwarden_responder.unlock_role(bigint,text)'::regprocedure")).rows[0]!.src;
      const shipped = await body();
      const old = shipped.replace('LOCK TABLE pgwarden.response_locks IN SHARE ROW EXCLUSIVE MODE;', 'PERFORM pg_catalog.pg_advisory_xact_lock(1346852693, 0);');
      assert.notEqual(old, shipped);
      await admin.query(`CREATE OR REPLACE FUNCTION pgwarden_responder.unlock_role(p_lock_id bigint, p_how text) RETURNS pgwarden.response_actions
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ${admin.escapeLiteral(old)}`);
      await installSchema(admin, newRecorderPassword());
      assert.equal(await body(), shipped, 'install left the older responder function in place');
      const { rows: [owner] } = await admin.query<{ o: string }>("SELECT proowner::regrole::text AS o FROM pg_proc WHERE oid = 'pgwarden_responder.unlock_role(bigint,text)'::regprocedure");
      assert.equal(owner!.o, 'pgwarden_responder');
    });

    // MEDIUM. PostgreSQL 16+: with the responder's ADMIN OPTION on a locked role gone (a DBA's
    // REVOKE), unlock_role's ALTER ROLE is refused and recorded as a new 'refused' row, and every
    // login tried again: one response_actions row per login to the database, for as long as the
    // lock stays due (a table filled by logins). The login's lift skips what it cannot lift.
    it('a due lock the responder may no longer lift adds no row per login', { skip: !LOGIN_LIFTS && 'no login hook on < 17 without session_exec' }, async () => {
      await admin.query("UPDATE pgwarden.response_locks SET until = now() WHERE lifted_at IS NULL").catch(() => undefined);
      await responder.liftExpired();
      assert.equal((await responder.lockOne('no-admin', 'next', 500)).outcome, 'done');
      await admin.query('REVOKE next FROM pgwarden_responder');
      await expire('no-admin');
      for (let i = 0; i < 5; i++) await (await connect('plain')).end();
      const { rows: [n] } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.response_actions WHERE response_id LIKE 'no-admin:unlock-refused:%'");
      assert.ok(n!.n <= 1, `${n!.n} refused rows for 5 logins`);
      assert.equal(await canLogin('next'), false);
      await admin.query('GRANT next TO pgwarden_responder WITH ADMIN TRUE, INHERIT FALSE, SET FALSE');
      await responder.liftExpired();
    });

    // The login's own check still lifts (17+: login event trigger), exactly once when two race.
    it('two racing logins lift a due lock once, recorded once', { skip: !LOGIN_LIFTS && 'no login hook on < 17 without session_exec' }, async () => {
      await responder.liftExpired();
      assert.equal((await responder.lockOne('race-1', 'due', 500)).outcome, 'done');
      await expire('race-1');
      const clients = await Promise.all(Array.from({ length: 8 }, () => connect('plain')));
      await Promise.all(clients.map((c) => c.end()));
      assert.equal(await canLogin('due'), true);
      const { rows } = await admin.query<{ n: string }>("SELECT count(*)::text AS n FROM pgwarden.response_actions WHERE response_id LIKE 'race-1:unlock%'");
      assert.equal(rows[0]!.n, '1');
    });
  });
}
