// The connection guard attacked (issue 13), on real servers: the NOTIFY-queue lock-out, rule
// changes racing logins, forged and leaked records, and the small ones (format() splicing,
// standard_conforming_strings, unknown and recreated roles, group membership, error context).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { addRule, normaliseRule, type RuleInput } from '../../src/guard/index.ts';
import { installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import { pgEnv, runCli, tryLogin } from '../harness/cli.ts';
import { startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';

async function installed(flavor: Flavor, settings: Record<string, string | number> = {}): Promise<Cluster> {
  const cluster = await startCluster({ flavor, settings });
  const client = new pg.Client({ connectionString: cluster.url() });
  await client.connect();
  try {
    await installSchema(client, newRecorderPassword());
  } finally {
    await client.end();
  }
  return cluster;
}

async function connected(url: string, options: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, ...options });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Fills the cluster-wide NOTIFY queue the way any unprivileged login can; returns the session that holds it. */
async function fillNotifyQueue(cluster: Cluster, user: string, password: string): Promise<pg.Client[]> {
  const holder = await connected(cluster.url('postgres', user, password));
  await holder.query('LISTEN flood');
  await holder.query('BEGIN');
  await holder.query('SELECT 1');
  const flooder = await connected(cluster.url('postgres', user, password));
  for (let i = 0; ; i++) {
    try {
      await flooder.query("SELECT pg_notify('flood', repeat('a', 7900))");
    } catch (error) {
      assert.match((error as Error).message, /too many notifications in the NOTIFY queue/);
      break;
    }
    if (i > 100_000) throw new Error('the NOTIFY queue never filled');
  }
  return [holder, flooder];
}

for (const flavor of ['pg17', 'pg18'] as Flavor[]) {
  describe(`NOTIFY-queue lock-out (${flavor}, max_notify_queue_pages = 64)`, () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await installed(flavor, { max_notify_queue_pages: 64 });
      for (const role of ['mallory', 'app', 'oncall']) await cluster.createRole(role, `${role}-pw`);
      await cluster.createRole('root_dba', 'root-pw', 'SUPERUSER');
      await cluster.query("UPDATE pgwarden.guard_settings SET break_glass_roles = '{oncall}'");
      await cluster.query("INSERT INTO pgwarden.guard_rules (action, roles, applications) VALUES ('deny', '{app}', '{%dbeaver%}')");
    });
    after(async () => cluster?.stop());

    it('a full queue fails no login, and every login is still recorded', async () => {
      const held = await fillNotifyQueue(cluster, 'mallory', 'mallory-pw');
      try {
        for (const [user, password] of [['app', 'app-pw'], ['root_dba', 'root-pw'], ['oncall', 'oncall-pw']]) {
          const outcome = await tryLogin(cluster, user!, password!, 'orders');
          assert.deepEqual(outcome, { ok: true }, `${user} logs in with the queue full`);
        }
        const refused = await tryLogin(cluster, 'app', 'app-pw', 'DBeaver 24');
        assert.equal(refused.code, '28000', 'a refusal is still a refusal');
        const { rows } = await cluster.query<{ user_name: string; decision: string }>(
          "SELECT user_name, decision FROM pgwarden.connection_attempts WHERE application IN ('orders', 'DBeaver 24') ORDER BY id");
        assert.deepEqual(rows.map((r) => `${r.user_name}:${r.decision}`), ['app:allow', 'root_dba:allow', 'oncall:allow', 'app:deny']);
      } finally {
        for (const client of held) await client.end();
      }
    });
  });
}

describe('connection guard hardening (PostgreSQL 18)', () => {
  let cluster: Cluster;
  let admin: pg.Client;
  const deny = (input: Omit<RuleInput, 'action'>) => addRule(admin, normaliseRule({ action: 'deny', ...input }));

  before(async () => {
    cluster = await installed('pg18');
    admin = await connected(cluster.url());
    for (const role of ['alice', 'bob', 'churn_denied', 'churn_ok', 'pp%q', 'pp%%q', 'pct%s', 'gina', 'hank', 'oncall2']) {
      await cluster.createRole(role, 'pw');
    }
    await cluster.createRole('replicator', 'pw', 'REPLICATION');
    await admin.query('CREATE ROLE gui_users NOLOGIN');
    await admin.query('GRANT gui_users TO gina');
  });
  after(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  it('sends nothing a LISTENer could read, and a forged notification records nothing', async () => {
    const listener = await connected(cluster.url('postgres', 'bob', 'pw'));
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`));
    await listener.query('LISTEN pgwarden_guard');
    await deny({ roles: ['alice'], applications: ['%dbeaver%'] });
    assert.equal((await tryLogin(cluster, 'alice', 'pw', 'psql')).ok, true);
    assert.equal((await tryLogin(cluster, 'alice', 'pw', 'DBeaver')).ok, false);
    await listener.query("SELECT pg_notify('pgwarden_guard', 'v1' || chr(31) || '1' || chr(31) || '10.9.9.9' || chr(31) || '1' || chr(31) || '' || chr(31) || '5432' || chr(31) || '0' || chr(31) || '' || chr(31) || 'forged' || chr(31) || 'postgres')");
    await listener.query('SELECT 1');
    await listener.end();
    assert.deepEqual(heard.filter((h) => !h.includes('forged')), [], 'the guard sends no notification');
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM pgwarden.connection_attempts WHERE application = 'forged' OR client_addr = '10.9.9.9'");
    assert.equal(rows[0].n, 0);
  });

  it('lets no unprivileged role read or write the records or call the recorder', async () => {
    const bob = await connected(cluster.url('postgres', 'bob', 'pw'));
    try {
      for (const statement of [
        'SELECT * FROM pgwarden.connection_attempts',
        "INSERT INTO pgwarden.connection_attempts (ts, database, user_name, client_addr, decision, via) VALUES (now(), 'x', 'x', 'x', 'allow', 'login')",
        'CALL pgwarden.record_refusal(pg_backend_pid(), 1, NULL, NULL)',
        'SELECT * FROM pgwarden.guard_terminate(1, now())',
        'SELECT * FROM pgwarden.guard_recorder',
      ]) {
        await assert.rejects(bob.query(statement), (error: { code?: string }) => error.code === '42501', statement);
      }
    } finally {
      await bob.end();
    }
  });

  it('record_refusal accepts only a backend that is being refused, and decides the rule itself', async () => {
    const [{ password }] = (await admin.query('SELECT password FROM pgwarden.guard_recorder')).rows;
    const victim = await connected(cluster.url('postgres', 'bob', 'pw'), { application_name: 'orders' });
    const { rows: [{ pid: victimPid }] } = await victim.query('SELECT pg_backend_pid() AS pid');
    // Whoever holds the recorder's password logs in like the recorder...
    const recorder = await connected(cluster.url('postgres', 'pgwarden_recorder', password), { application_name: 'pgwarden-recorder' });
    try {
      await assert.rejects(recorder.query('CALL pgwarden.record_refusal($1, 1, NULL, NULL)', [victimPid]), /is not a login being refused/,
        'another live session, not being refused');
      const { rows: [{ pid: own }] } = await recorder.query('SELECT pg_backend_pid() AS pid');
      await assert.rejects(recorder.query('CALL pgwarden.record_refusal($1, 1, NULL, NULL)', [own]), /is not a login being refused/, 'its own session, without the lock');
      await recorder.query('BEGIN');
      await recorder.query('SELECT pg_advisory_xact_lock(1346852690, pg_backend_pid())');
      await assert.rejects(recorder.query('CALL pgwarden.record_refusal($1, 1, NULL, NULL)', [own]), /pgwarden/, 'a session the rules allow');
      await recorder.query('ROLLBACK');
    } finally {
      await recorder.end();
      await victim.end();
    }
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM pgwarden.connection_attempts WHERE decision = 'deny' AND user_name IN ('bob', 'pgwarden_recorder')");
    assert.equal(rows[0].n, 0, 'nothing was recorded');
    // ...but only its own loopback recording connection is exempt: any other login of the role is checked.
    const everyone = await deny({ roles: ['*'], message: 'maintenance' });
    try {
      const other = await tryLogin(cluster, 'pgwarden_recorder', password, 'psql');
      assert.equal(other.code, '28000', 'the recorder role under a deny-* rule, as any other application');
      assert.equal((await tryLogin(cluster, 'bob', 'pw', 'psql')).code, '28000');
      const { rows: recorded } = await admin.query("SELECT user_name, rule_id::int AS rule FROM pgwarden.connection_attempts WHERE decision = 'deny' AND user_name = 'bob' ORDER BY id DESC LIMIT 1");
      assert.deepEqual(recorded, [{ user_name: 'bob', rule: everyone.id }], 'refusals are still recorded under deny-*');
    } finally {
      await admin.query('DELETE FROM pgwarden.guard_rules WHERE id = $1', [everyone.id]);
    }
  });

  it('role names are data, not format strings', async () => {
    const rule = await deny({ roles: ['pp%%q'], applications: ['%'] });
    assert.equal((await tryLogin(cluster, 'pp%q', 'pw', 'psql')).ok, true, 'a rule for pp%%q does not deny pp%q');
    assert.equal((await tryLogin(cluster, 'pp%%q', 'pw', 'psql')).code, '28000');
    const pct = await deny({ roles: ['pct%s'] });
    const refused = await tryLogin(cluster, 'pct%s', 'pw', 'psql');
    assert.equal(refused.code, '28000');
    assert.match(refused.message!, /role "pct%s"/);
    await admin.query('DELETE FROM pgwarden.guard_rules WHERE id = ANY ($1)', [[rule.id, pct.id]]);
  });

  it('a client\'s standard_conforming_strings or plpgsql settings cannot break the refusal or its record', async () => {
    await deny({ roles: ['hank'], applications: ['%excel%'], message: "it's \\ not allowed" });
    for (const options of ['-c standard_conforming_strings=off', '-c plpgsql.extra_errors=all -c plpgsql.extra_warnings=all', '-c lock_timeout=1ms -c default_transaction_read_only=off']) {
      const client = new pg.Client({ connectionString: cluster.url('postgres', 'hank', 'pw'), application_name: 'Excel', options });
      client.on('error', () => undefined);
      const error = await client.connect().then(() => null, (e: { code?: string; message: string; where?: string }) => e);
      await client.end().catch(() => undefined);
      assert.equal(error?.code, '28000', options);
      assert.match(error!.message, /from application "Excel": it's \\ not allowed$/, options);
      // The client learns nothing about how the guard is built: one line of context, no source.
      assert.doesNotMatch(error!.where ?? '', /SQL statement|guard_refuse|guard_rules|dblink/, options);
    }
    const { rows } = await admin.query("SELECT count(*)::int AS n FROM pgwarden.connection_attempts WHERE user_name = 'hank' AND decision = 'deny'");
    assert.equal(rows[0].n, 3, 'each refusal stored');
  });

  it('a deny rule on +group applies to the members of the group', async () => {
    const rule = await deny({ roles: ['+gui_users'], applications: ['%dbeaver%'] });
    assert.equal((await tryLogin(cluster, 'gina', 'pw', 'DBeaver')).code, '28000', 'gina is a member');
    assert.equal((await tryLogin(cluster, 'hank', 'pw', 'DBeaver')).ok, true, 'hank is not');
    const env = pgEnv(cluster);
    const tested = await runCli(['guard', 'test', '--role', 'gina', '--app', 'DBeaver'], env);
    assert.equal(tested.code, 1, tested.stdout);
    assert.match(tested.stdout, new RegExp(`deny by rule ${rule.id}`));
    // A group that does not exist (any more) matches nobody instead of breaking every login.
    await admin.query('REVOKE gui_users FROM gina');
    await admin.query('DROP ROLE gui_users');
    assert.equal((await tryLogin(cluster, 'gina', 'pw', 'DBeaver')).ok, true);
    assert.equal((await tryLogin(cluster, 'alice', 'pw', 'psql')).ok, true);
    await admin.query('DELETE FROM pgwarden.guard_rules WHERE id = $1', [rule.id]);
  });

  it('warns about rules for unknown, NOLOGIN and REPLICATION roles, and refuses unknown break-glass roles', async () => {
    const env = pgEnv(cluster);
    const unknown = await runCli(['guard', 'deny', '--role', 'nobody_yet', '--app', '%x%'], env);
    assert.equal(unknown.code, 0, unknown.stderr);
    assert.match(unknown.stderr, /warning: postgres: role "nobody_yet" does not exist \(yet\)/);
    await admin.query('CREATE ROLE report_group NOLOGIN');
    const nologin = await runCli(['guard', 'deny', '--role', 'report_group', '--app', '%x%'], env);
    assert.match(nologin.stderr, /role "report_group" is NOLOGIN: .*--role '\+report_group'/);
    const replication = await runCli(['guard', 'deny', '--role', 'replicator'], env);
    assert.match(replication.stderr, /"replicator" has REPLICATION: a physical replication connection .* pg_hba\.conf/);
    const status = await runCli(['status', '--format', 'json'], env);
    const items = (JSON.parse(status.stdout) as { items: { object: string; state: string }[] }[])[0]!.items;
    assert.ok(items.some((i) => /^role nobody_yet in rule \d+$/.test(i.object) && i.state === 'WARN'), 'status re-checks them');
    assert.ok(items.some((i) => /^role report_group in rule \d+$/.test(i.object) && i.state === 'WARN'));

    const glass = await runCli(['guard', 'settings', '--break-glass-role', 'ghost'], env);
    assert.equal(glass.code, 2);
    assert.match(glass.stderr, /break-glass role "ghost" does not exist: create it first/);
    await admin.query("DELETE FROM pgwarden.guard_rules WHERE roles && '{nobody_yet,report_group,replicator}'");
  });

  it('a break-glass role dropped and created again by someone else is not break-glass', async () => {
    const env = pgEnv(cluster);
    assert.equal((await runCli(['guard', 'settings', '--break-glass-role', 'oncall2'], env)).code, 0);
    const everyone = await deny({ roles: ['*'] });
    assert.equal((await tryLogin(cluster, 'oncall2', 'pw', 'psql')).ok, true, 'break-glass');
    await admin.query('DROP ROLE oncall2');
    await cluster.createRole('oncall2', 'pw'); // as a CREATEROLE user could
    await deny({ roles: ['unrelated'] }); // any later rule change recompiles the guard
    assert.equal((await tryLogin(cluster, 'oncall2', 'pw', 'psql')).code, '28000', 'the new role is refused like anyone');
    const tested = await runCli(['guard', 'test', '--role', 'oncall2'], env);
    assert.equal(tested.code, 1, tested.stdout);
    const status = await runCli(['status'], env);
    assert.match(status.stdout, /WARN\s+break-glass role oncall2\s.*created again since the guard was compiled/);
    assert.equal((await runCli(['guard', 'settings', '--break-glass-role', 'oncall2'], env)).code, 0, 'naming it again');
    assert.equal((await tryLogin(cluster, 'oncall2', 'pw', 'psql')).ok, true);
    await admin.query("DELETE FROM pgwarden.guard_rules WHERE id = $1 OR roles = '{unrelated}'", [everyone.id]);
  });

  for (const onError of ['open', 'closed'] as const) {
    it(`rule changes never let a denied login in nor refuse an allowed one (on_error ${onError})`, async () => {
      await admin.query('UPDATE pgwarden.guard_settings SET on_error = $1', [onError]);
      const permanent = await deny({ roles: ['churn_denied'], applications: ['%dbeaver%'] });
      let running = true;
      const outcomes = { deniedIn: 0, deniedOut: 0, allowedIn: 0, allowedOut: 0, other: [] as string[] };
      const worker = async () => {
        while (running) {
          const denied = await tryLogin(cluster, 'churn_denied', 'pw', 'DBeaver');
          if (denied.ok) outcomes.deniedIn++; else if (denied.code === '28000' && /DBeaver/.test(denied.message!)) outcomes.deniedOut++; else outcomes.other.push(`${denied.code} ${denied.message}`);
          const allowed = await tryLogin(cluster, 'churn_ok', 'pw', 'orders');
          if (allowed.ok) outcomes.allowedIn++; else { outcomes.allowedOut++; outcomes.other.push(`${allowed.code} ${allowed.message}`); }
        }
      };
      const workers = [worker(), worker(), worker()];
      const churner = await connected(cluster.url());
      try {
        for (let i = 0; i < 150; i++) {
          // Other roles too, so that pairs also create rule functions and take branches away.
          const { rows: [{ id }] } = await churner.query(
            "INSERT INTO pgwarden.guard_rules (action, roles, applications) VALUES ('deny', ARRAY[$1, 'churn_denied'], '{%excel%}') RETURNING id", [`churn_${onError}_${i % 10}`]);
          await churner.query('DELETE FROM pgwarden.guard_rules WHERE id = $1', [id]);
        }
      } finally {
        running = false;
        await Promise.all(workers);
        await churner.end();
        await admin.query('DELETE FROM pgwarden.guard_rules WHERE id = $1', [permanent.id]);
        await admin.query("UPDATE pgwarden.guard_settings SET on_error = 'open'");
      }
      assert.ok(outcomes.deniedOut > 20, `enough logins raced the changes: ${JSON.stringify(outcomes)}`);
      assert.deepEqual({ deniedIn: outcomes.deniedIn, allowedOut: outcomes.allowedOut, other: outcomes.other }, { deniedIn: 0, allowedOut: 0, other: [] });
      assert.doesNotMatch(cluster.readLog(), /cache lookup failed|the guard failed for role "churn_/);
    });
  }
});
