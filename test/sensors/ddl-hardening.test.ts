// Issue 13, items 6-10, on every supported version: tamper status used to miss, DDL that escapes
// the event triggers (found by the baseline reconciliation), databases without pgwarden, secrets
// in the DDL log (one rule set, the same cases in SQL and in the pipeline), pgwarden's own changes
// kept out of the DDL log; and, on 17 and 18, a full NOTIFY queue fails no DDL.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { redactSecrets } from '../../src/core/secrets.ts';
import { redactEvent } from '../../src/pipeline/redact.ts';
import { ddlRowToEvent } from '../../src/ddl/index.ts';
import { installedCluster, pgEnv, runCli } from '../harness/cli.ts';
import { ALL_FLAVORS, startCluster, type Cluster, type Flavor } from '../harness/postgres.ts';
import { installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import { DdlLogSource } from '../../src/pipeline/sources/ddl/ddl.ts';
import type { Sink } from '../../src/pipeline/types.ts';
import pino from 'pino';

interface Case { name: string; input: string; expected: string }
const CASES = JSON.parse(readFileSync(new URL('../fixtures/secret-redaction-cases.json', import.meta.url), 'utf8')) as Case[];

interface Item { object: string; state: string; actual: string }
async function status(cluster: Cluster, database = 'postgres'): Promise<{ code: number; items: Item[] }> {
  const result = await runCli(['status', '--format', 'json'], pgEnv(cluster, database));
  return { code: result.code, items: (JSON.parse(result.stdout) as { items: Item[] }[])[0]!.items };
}
const problems = (items: Item[]) => items.filter((i) => i.state !== 'OK' && i.state !== 'WARN').map((i) => `${i.state} ${i.object}`);

async function accept(cluster: Cluster, database = 'postgres'): Promise<void> {
  const result = await runCli(['ddl', 'baseline', '--accept'], pgEnv(cluster, database));
  assert.equal(result.code, 0, result.stderr);
}

// PGW_FLAVORS=pg18,pg15 runs a part of the matrix (while working on it).
const FLAVORS = process.env.PGW_FLAVORS ? (process.env.PGW_FLAVORS.split(',') as Flavor[]) : ALL_FLAVORS;

for (const flavor of FLAVORS) {
  describe(`DDL audit hardening (${flavor})`, () => {
    let cluster: Cluster;
    let admin: pg.Client;
    before(async () => {
      cluster = await installedCluster(flavor, { template1: true });
      await cluster.createRole('dev', 'dev-pw');
      await cluster.createRole('maker', 'maker-pw', 'CREATEROLE');
      await cluster.query('GRANT CREATE ON SCHEMA public TO dev');
      admin = new pg.Client({ connectionString: cluster.url() });
      await admin.connect();
      await accept(cluster);
    });
    after(async () => {
      await admin?.end();
      await cluster?.stop();
    });

    it('item 9: masks passwords before they are stored, with the same rules and cases as the pipeline', async () => {
      for (const c of CASES) {
        const { rows: [sql] } = await admin.query<{ masked: string }>('SELECT pgwarden.redact_secrets($1) AS masked', [c.input]);
        assert.equal(sql!.masked, c.expected, `SQL: ${c.name}`);
        assert.equal(redactSecrets(c.input), c.expected, `JS: ${c.name}`);
      }
      const dev = new pg.Client({ connectionString: cluster.url('postgres', 'dev', 'dev-pw') });
      await dev.connect();
      // One simple-protocol string with two statements: the event trigger sees all of it.
      await dev.query("CREATE TABLE secrets_t (id int); ALTER ROLE dev PASSWORD 'Topsecret-9'");
      await dev.end();
      const { rows } = await admin.query<{ statement: string }>("SELECT statement FROM pgwarden.ddl_events WHERE object_identity = 'public.secrets_t'");
      assert.equal(rows.length, 1);
      assert.doesNotMatch(rows[0]!.statement, /Topsecret-9/);
      assert.match(rows[0]!.statement, /PASSWORD <REDACTED>/);
      // The pipeline masks too, whatever its options (a row stored by an older release).
      const { rows: [row] } = await admin.query("SELECT * FROM pgwarden.ddl_events WHERE object_identity = 'public.secrets_t'");
      const event = ddlRowToEvent({ ...row, statement: "ALTER ROLE dev PASSWORD 'Topsecret-9'" }, 'test');
      assert.equal(redactEvent(event, { literals: false, parameters: false }).ddl!.statement, 'ALTER ROLE dev PASSWORD <REDACTED>');
      await admin.query("ALTER ROLE dev PASSWORD 'dev-pw'");
    });

    it('item 10: a rule change is recorded as pgwarden\'s own, not in the DDL log that alerts and ddl_changes read', async () => {
      const { rows: [before] } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden.ddl_events');
      const denied = await runCli(['guard', 'deny', '--role', 'dev', '--app', '%dbeaver%'], pgEnv(cluster));
      assert.equal(denied.code, 0, denied.stderr);
      const reinstalled = await runCli(['install'], pgEnv(cluster));
      assert.equal(reinstalled.code, 0, reinstalled.stderr);
      const { rows: [afterwards] } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden.ddl_events');
      assert.equal(afterwards!.n, before!.n, 'nothing of guard deny or install in ddl_events');
      const { rows: own } = await admin.query<{ own_by: string }>('SELECT DISTINCT own_by FROM pgwarden.ddl_own_events ORDER BY 1');
      assert.ok(own.some((r) => r.own_by === 'guard_compile'), JSON.stringify(own));
      await admin.query("DELETE FROM pgwarden.guard_rules WHERE roles = '{dev}'");
      // `monitor install` (issue 13 measured 195 DDL commands in the ddl_changes check).
      await cluster.createRole('mon_login', 'mon-pw');
      const monitor = await runCli(['monitor', 'install', '--user', 'mon_login'], pgEnv(cluster));
      assert.equal(monitor.code, 0, monitor.stderr);
      const { rows: left } = await admin.query<{ command_tag: string; n: number }>(
        'SELECT command_tag, count(*)::int AS n FROM pgwarden.ddl_events WHERE id > (SELECT COALESCE(max(id), 0) FROM pgwarden.ddl_events WHERE ts < $1) GROUP BY 1 ORDER BY 1',
        [new Date(Date.now() - 60_000)]);
      const { rows: [monitorAfter] } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pgwarden.ddl_events');
      assert.equal(monitorAfter!.n, before!.n, `monitor install left in ddl_events: ${JSON.stringify(left)}`);
      const { rows: [ownMonitor] } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.ddl_own_events WHERE schema_name = 'pgwarden_monitor'");
      assert.ok(ownMonitor!.n > 0, 'recorded as pgwarden\'s own');
      // Review M6: the roles monitor install created are pgwarden's own change, not unrecorded drift.
      const afterMonitor = (await status(cluster)).items.filter((i) => i.object.startsWith('unrecorded change: role pgwarden_monitor'));
      assert.deepEqual(afterMonitor.map((i) => `${i.state} ${i.object}`), []);
      await accept(cluster);
    });

    it('item 7: finds what no event trigger saw, and SET pgwarden.internal skips no policy outside pgwarden', async () => {
      await admin.query('EXPLAIN ANALYZE CREATE TABLE escaped_ctas AS SELECT 1 AS a');
      await admin.query('EXPLAIN ANALYZE SELECT 1 AS a INTO escaped_into');
      await admin.query('EXPLAIN ANALYZE CREATE MATERIALIZED VIEW escaped_mv AS SELECT 1 AS a');
      const dev = new pg.Client({ connectionString: cluster.url('postgres', 'dev', 'dev-pw') });
      await dev.connect();
      await dev.query('CREATE TABLE dev_owned (id serial)');
      await dev.end();
      await admin.query('REASSIGN OWNED BY dev TO CURRENT_USER');
      await admin.query('CREATE ROLE sneaky LOGIN');
      await admin.query('CREATE DATABASE sneaky_db');
      await admin.query('ALTER DATABASE sneaky_db RENAME TO sneaky_db2');
      const found = await status(cluster);
      assert.equal(found.code, 7);
      assert.equal(found.items.find((i) => i.object === 'unrecorded change: database sneaky_db2 created')?.state, 'WARN', 'a new database with pgwarden: listed');
      const unrecorded = found.items.filter((i) => i.object.startsWith('unrecorded change: ') && i.state === 'CHANGED').map((i) => i.object.slice('unrecorded change: '.length)).sort();
      assert.deepEqual(unrecorded, [
        'relation public.dev_owned owner changed', 'relation public.dev_owned_id_seq owner changed',
        'relation public.escaped_ctas created', 'relation public.escaped_into created', 'relation public.escaped_mv created',
        'relation public.secrets_t owner changed', 'role sneaky created',
      ]);
      // A recorded change moves the baseline: no finding for it.
      await admin.query('CREATE TABLE recorded_t (id int); ALTER TABLE recorded_t OWNER TO dev; DROP TABLE escaped_ctas');
      const again = (await status(cluster)).items.map((i) => i.object);
      assert.ok(!again.some((o) => /recorded_t|escaped_ctas/.test(o)), again.join('\n'));
      await accept(cluster);
      assert.deepEqual(problems((await status(cluster)).items).filter((p) => p.includes('unrecorded')), []);

      // The freeze holds for a superuser who sets pgwarden.internal, outside schema pgwarden.
      await admin.query("INSERT INTO pgwarden.ddl_windows (kind, during) VALUES ('freeze', tstzrange(now() - interval '1 minute', NULL))");
      await admin.query("UPDATE pgwarden.ddl_policy SET enabled = true");
      await admin.query('BEGIN');
      await admin.query("SET LOCAL pgwarden.internal = 'on'");
      await assert.rejects(admin.query('CREATE TABLE public.under_freeze (id int)'), /schema changes are frozen/);
      await admin.query('ROLLBACK');
      await admin.query('BEGIN');
      await admin.query("SET LOCAL pgwarden.internal = 'on'");
      await assert.rejects(admin.query('CREATE SCHEMA under_freeze'), /schema changes are frozen/, 'an object with no schema of its own');
      await admin.query('ROLLBACK');
      // pgwarden's own regeneration still works under the freeze.
      assert.equal((await runCli(['guard', 'deny', '--role', 'dev', '--app', '%x%'], pgEnv(cluster))).code, 0);
      await admin.query("UPDATE pgwarden.ddl_policy SET enabled = false");
      // Not refused (no policy), and still recorded as someone's change, not pgwarden's own.
      await admin.query("BEGIN; SET LOCAL pgwarden.internal = 'on'; CREATE SCHEMA hidden_attempt; DO $$ BEGIN GRANT USAGE ON SCHEMA hidden_attempt TO PUBLIC; END $$; COMMIT");
      const { rows: hidden } = await admin.query<{ command_tag: string }>(
        "SELECT command_tag FROM pgwarden.ddl_events WHERE statement LIKE '%hidden_attempt%' ORDER BY id");
      assert.deepEqual(hidden.map((r) => r.command_tag), ['CREATE SCHEMA', 'GRANT']);
      await admin.query('DROP SCHEMA hidden_attempt');
      await admin.query("DELETE FROM pgwarden.ddl_windows");
      await admin.query("DELETE FROM pgwarden.guard_rules WHERE roles = '{dev}'");
      await admin.query('DROP DATABASE sneaky_db2');
      await admin.query('DROP ROLE sneaky');
      await accept(cluster);
    });

    it('item 7: the tamper check of alerts run / collect reports an unrecorded change at its next run', async () => {
      // As the pipeline runs it: the DDL log source, logged in with nothing but pgwarden_alerts.
      await cluster.createRole('alerter', 'alerter-pw');
      await admin.query('GRANT pgwarden_alerts TO alerter');
      await accept(cluster);
      const source = new DdlLogSource({
        input: 'ddl', server: 'test', database: 'postgres', tamperCheckSeconds: 0, pollSeconds: 1, log: pino({ level: 'silent' }),
        target: { url: cluster.url('postgres', 'alerter', 'alerter-pw'), label: 'test' },
      });
      const sink: Sink = { name: 'capture', type: 'test', inputs: undefined, accepts: () => true, deliver: async () => undefined, close: async () => undefined };
      const lane = source.lane(sink);
      try {
        await source.checkTamper(); // the first check: all is well, nothing to say
        await admin.query('EXPLAIN ANALYZE CREATE TABLE tamper_ctas AS SELECT 1 AS a');
        await source.checkTamper(); // `tamper_check_seconds` later (30 s by default, at most 60)
        const pending = await lane.next(10);
        const findings = pending?.events[0]?.tamper?.findings.map((f) => `${f.state} ${f.object}`) ?? [];
        assert.ok(findings.includes('CHANGED unrecorded change: relation public.tamper_ctas created'), JSON.stringify(findings));
      } finally {
        await source.stop();
      }
      await admin.query('DROP TABLE tamper_ctas');
      await admin.query('REVOKE pgwarden_alerts FROM alerter');
      await accept(cluster);
    });

    it('item 8: a database created TEMPLATE template0 shows in status of every other database', async () => {
      await admin.query('CREATE DATABASE bare_db TEMPLATE template0');
      const found = await status(cluster);
      assert.equal(found.items.find((i) => i.object === 'unrecorded change: database bare_db created')?.state, 'CHANGED');
      const bare = found.items.find((i) => i.object === 'database bare_db');
      assert.equal(bare?.state, 'MISSING', JSON.stringify(found.items.filter((i) => i.state !== 'OK')));
      assert.match(bare!.actual, /pgwarden install --dbname bare_db/);
      const installed = await runCli(['install', '--dbname', 'bare_db'], pgEnv(cluster));
      assert.equal(installed.code, 0, installed.stderr);
      assert.ok(!(await status(cluster)).items.some((i) => i.object === 'database bare_db'), 'guarded once installed');
      await accept(cluster);
    });

    it('item 6: per-role settings, parameter grants, table grants, function settings and strictness, memberships', async () => {
      const v = cluster.majorVersion;
      await admin.query('ALTER ROLE dev SET session_replication_role = replica');
      if (v >= 17) await admin.query('ALTER ROLE dev SET event_triggers = off');
      if (v >= 15) await admin.query('GRANT SET ON PARAMETER session_replication_role TO dev');
      await admin.query('GRANT UPDATE ON pgwarden.guard_settings TO dev');
      await admin.query('ALTER FUNCTION pgwarden.guard_rules_any(text,text,inet,text) SET search_path = public, pg_catalog');
      await admin.query('ALTER FUNCTION pgwarden.guard_decide(text,text,inet,text) STRICT');
      await admin.query('ALTER FUNCTION pgwarden.ddl_command_end() SET work_mem = \'64kB\'');
      // A CREATEROLE role (on 14 and 15 it may grant itself any non-superuser role).
      const maker = new pg.Client({ connectionString: cluster.url('postgres', 'maker', 'maker-pw') });
      await maker.connect();
      const selfGranted = await maker.query('GRANT pgwarden_alerts TO maker').then(() => true, () => false);
      await maker.end();
      const found = await status(cluster);
      assert.equal(found.code, 7);
      const objects = problems(found.items);
      const expected = [
        'CHANGED setting session_replication_role for role dev',
        ...(v >= 17 ? ['CHANGED setting event_triggers for role dev'] : []),
        ...(v >= 15 ? ['CHANGED privilege on parameter session_replication_role'] : []),
        'CHANGED privilege on TABLE pgwarden.guard_settings',
        'CHANGED settings of pgwarden.guard_rules_any(text,text,inet,text)',
        'CHANGED function pgwarden.guard_decide(text,text,inet,text)',
        'CHANGED function pgwarden.ddl_command_end()',
        ...(selfGranted ? ['CHANGED member maker of pgwarden_alerts'] : []),
      ];
      for (const e of expected) assert.ok(objects.includes(e), `${e} in:\n${objects.join('\n')}`);
      assert.equal(selfGranted, v <= 15, 'CREATEROLE may grant itself a pgwarden role on 14 and 15 only');

      const repaired = await runCli(['install'], pgEnv(cluster));
      assert.equal(repaired.code, 0, repaired.stderr);
      if (selfGranted) await admin.query('REVOKE pgwarden_alerts FROM maker');
      assert.deepEqual(problems((await status(cluster)).items), [], 'install put every one of them back');
    });

    it('item 6: a rule, a policy, row security or a replica-only trigger on pgwarden\'s tables shows in status', async () => {
      // A DO INSTEAD NOTHING rule swallows every DDL record, the CREATE RULE's own included.
      await admin.query('CREATE RULE hide AS ON INSERT TO pgwarden.ddl_events DO INSTEAD NOTHING');
      await admin.query('CREATE TABLE after_rule (id int)');
      await admin.query('ALTER TABLE pgwarden.connection_attempts ENABLE ROW LEVEL SECURITY');
      await admin.query('CREATE POLICY nothing ON pgwarden.connection_attempts USING (false)');
      await admin.query('ALTER TABLE pgwarden.guard_rules ENABLE REPLICA TRIGGER guard_rules_recompile');
      const objects = problems((await status(cluster)).items);
      for (const e of ['CHANGED rule hide on pgwarden.ddl_events', 'CHANGED policy nothing on pgwarden.connection_attempts',
        'CHANGED row security on pgwarden.connection_attempts', 'DISABLED trigger guard_rules_recompile on pgwarden.guard_rules']) {
        assert.ok(objects.includes(e), `${e} in:\n${objects.join('\n')}`);
      }
      await admin.query('DROP RULE hide ON pgwarden.ddl_events');
      await admin.query('DROP POLICY nothing ON pgwarden.connection_attempts');
      await admin.query('ALTER TABLE pgwarden.connection_attempts DISABLE ROW LEVEL SECURITY');
      await admin.query('ALTER TABLE pgwarden.guard_rules ENABLE TRIGGER guard_rules_recompile');
      await admin.query('DROP TABLE after_rule');
      await accept(cluster);
      assert.deepEqual(problems((await status(cluster)).items), []);
    });

    it('review H3: a database owner cannot make a database without pgwarden look installed', async () => {
      await cluster.createRole('dbmaker', 'dbmaker-pw', 'CREATEDB');
      const maker = new pg.Client({ connectionString: cluster.url('postgres', 'dbmaker', 'dbmaker-pw') });
      await maker.connect();
      await maker.query('CREATE DATABASE evil TEMPLATE template0');
      await maker.end();
      const inEvil = new pg.Client({ connectionString: cluster.url('evil', 'dbmaker', 'dbmaker-pw') });
      await inEvil.connect();
      try {
        // What the owner of a database can do there: grants to pgwarden's roles, a look-alike schema and type.
        await inEvil.query('CREATE SCHEMA x; GRANT USAGE ON SCHEMA x TO pgwarden_recorder');
        await inEvil.query("CREATE SCHEMA pgwarden; CREATE TYPE pgwarden.database_marker AS ENUM ('pgwarden'); GRANT USAGE ON TYPE pgwarden.database_marker TO pgwarden_recorder");
        await inEvil.query('GRANT USAGE ON SCHEMA pgwarden TO pgwarden_recorder');
        await assert.rejects(inEvil.query('ALTER TYPE pgwarden.database_marker OWNER TO pgwarden_recorder'), /must be (able to SET ROLE|member of role)/);
      } finally {
        await inEvil.end();
      }
      const found = await status(cluster);
      assert.equal(found.items.find((i) => i.object === 'database evil')?.state, 'MISSING', JSON.stringify(found.items.filter((i) => i.state !== 'OK')));
      assert.equal(found.items.find((i) => i.object === 'unrecorded change: database evil created')?.state, 'CHANGED');
      assert.ok(!found.items.some((i) => i.object === `type pgwarden.database_marker`), 'the marker of this database is in place');
      await admin.query('DROP DATABASE evil');
      await admin.query('DROP ROLE dbmaker');
      await accept(cluster);
    });

    it('review H2: a recorded COMMENT, GRANT or CREATE INDEX does not absorb an earlier unrecorded change', async () => {
      await cluster.createRole('lender', 'lender-pw');
      await admin.query('GRANT CREATE ON SCHEMA public TO lender');
      await accept(cluster);
      const lender = new pg.Client({ connectionString: cluster.url('postgres', 'lender', 'lender-pw') });
      await lender.connect();
      await lender.query('CREATE TABLE laundered_owner (id int)');
      await lender.end();
      await admin.query('REASSIGN OWNED BY lender TO CURRENT_USER');
      await admin.query("COMMENT ON TABLE laundered_owner IS 'nothing to see'");
      await admin.query('GRANT SELECT ON laundered_owner TO PUBLIC');
      await admin.query('EXPLAIN ANALYZE CREATE TABLE laundered_ctas AS SELECT 1 AS a');
      await admin.query("COMMENT ON TABLE laundered_ctas IS 'nothing to see'");
      await admin.query('CREATE INDEX ON laundered_ctas (a)');
      // Recorded changes still move the baseline: serial and identity columns added, a view replaced.
      await admin.query('CREATE TABLE moved_t (id int); ALTER TABLE moved_t ADD COLUMN s serial; ALTER TABLE moved_t ADD COLUMN i int GENERATED ALWAYS AS IDENTITY');
      await admin.query('CREATE VIEW moved_v AS SELECT 1 AS a; CREATE OR REPLACE VIEW moved_v AS SELECT 1 AS a, 2 AS b; ALTER VIEW moved_v RENAME TO moved_v2');
      await admin.query('ALTER TABLE moved_t OWNER TO dev');
      const unrecorded = (await status(cluster)).items.filter((i) => i.object.startsWith('unrecorded change: ')).map((i) => `${i.state} ${i.object}`).sort();
      assert.deepEqual(unrecorded, [
        'CHANGED unrecorded change: relation public.laundered_ctas created',
        'CHANGED unrecorded change: relation public.laundered_owner owner changed',
      ]);
      await admin.query('DROP TABLE laundered_owner, laundered_ctas, moved_t; DROP VIEW moved_v2');
      await admin.query('REVOKE CREATE ON SCHEMA public FROM lender');
      await admin.query('DROP ROLE lender');
      await accept(cluster);
      assert.deepEqual(problems((await status(cluster)).items), []);
    });

    it('review M3: a revoked expected grant is MISSING and a check that fails is FAILED, not passed', async () => {
      await admin.query('REVOKE EXECUTE ON FUNCTION pgwarden.ddl_unrecorded() FROM pgwarden_alerts');
      // ddl_unrecorded() calls ddl_snapshot() by name: renamed away, the reconciliation cannot run.
      await admin.query('ALTER FUNCTION pgwarden.ddl_snapshot() RENAME TO ddl_snapshot_gone');
      const found = await status(cluster);
      assert.equal(found.code, 7);
      const objects = problems(found.items);
      for (const e of ['MISSING privilege on FUNCTION pgwarden.ddl_unrecorded() for pgwarden_alerts',
        'FAILED check of DDL baseline reconciliation (pgwarden.ddl_unrecorded())']) {
        assert.ok(objects.includes(e), `${e} in:\n${objects.join('\n')}`);
      }
      assert.match(found.items.find((i) => i.state === 'FAILED' && i.object.includes('reconciliation'))!.actual, /ddl_snapshot/);
      await admin.query('ALTER FUNCTION pgwarden.ddl_snapshot_gone() RENAME TO ddl_snapshot');
      const repaired = await runCli(['install'], pgEnv(cluster));
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.deepEqual(problems((await status(cluster)).items), []);
    });

    it('review M4: any setting on pgwarden\'s own roles is CHANGED, a pgAudit setting per role or database is WARN', async () => {
      await admin.query('ALTER ROLE pgwarden_recorder SET default_transaction_read_only = on');
      await admin.query("ALTER ROLE pgwarden_alerts IN DATABASE postgres SET work_mem = '64kB'");
      // pgAudit's settings are placeholders where the library is not loaded: a superuser may still set them.
      const audit = await admin.query("ALTER ROLE dev SET pgaudit.log = 'none'").then(() => true, () => false);
      const auditDb = await admin.query("ALTER DATABASE postgres SET pgaudit.log_level = 'debug5'").then(() => true, () => false);
      // What repo migrate sets on the repository writer's logins is pgwarden's own (issue 14).
      await admin.query('CREATE ROLE pgwarden_repo_writer NOLOGIN');
      await admin.query('CREATE ROLE m4_ingest LOGIN IN ROLE pgwarden_repo_writer');
      const quiet = await admin.query("ALTER ROLE m4_ingest SET pgaudit.log = 'none'").then(() => true, () => false);
      const found = await status(cluster);
      // (dropped at once: roles made after the baseline would stay unrecorded changes below)
      await admin.query('DROP ROLE m4_ingest');
      await admin.query('DROP ROLE pgwarden_repo_writer');
      assert.equal(found.code, 7);
      const objects = problems(found.items);
      for (const e of ['CHANGED setting default_transaction_read_only for role pgwarden_recorder',
        'CHANGED setting work_mem for role pgwarden_alerts in database postgres']) {
        assert.ok(objects.includes(e), `${e} in:\n${objects.join('\n')}`);
      }
      assert.ok(!found.items.some((i) => /setting (statement|idle_session)_timeout/.test(i.object)), 'what install sets is not reported');
      if (audit) {
        const item = found.items.find((i) => i.object === 'setting pgaudit.log for role dev');
        assert.equal(item?.state, 'WARN');
        assert.match(item!.actual, /pgAudit set apart for role dev/);
      }
      if (auditDb) assert.equal(found.items.find((i) => i.object === 'setting pgaudit.log_level for database postgres')?.state, 'WARN');
      if (quiet) assert.ok(!found.items.some((i) => i.object === 'setting pgaudit.log for role m4_ingest'), 'the repository writer\'s quiet pgAudit is expected');
      const repaired = await runCli(['install'], pgEnv(cluster));
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.deepEqual(problems((await status(cluster)).items), [], 'install reset the settings on its own roles');
      if (audit) await admin.query('ALTER ROLE dev RESET pgaudit.log');
      if (auditDb) await admin.query('ALTER DATABASE postgres RESET pgaudit.log_level');
    });

    it('uninstall still removes everything 0004 added', async () => {
      const gone = await runCli(['uninstall', '--all-databases'], pgEnv(cluster));
      assert.equal(gone.code, 0, gone.stderr);
      const { rows } = await admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'pgwarden' UNION ALL SELECT 1 FROM pg_event_trigger");
      assert.equal(rows.length, 0);
    });
  });
}

for (const flavor of (['pg17', 'pg18'] as Flavor[]).filter((f) => FLAVORS.includes(f))) {
  describe(`DDL audit with a full NOTIFY queue (${flavor}, max_notify_queue_pages = 64)`, () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ flavor, settings: { max_notify_queue_pages: 64 } });
      const client = new pg.Client({ connectionString: cluster.url() });
      await client.connect();
      await installSchema(client, newRecorderPassword());
      await client.end();
      await cluster.createRole('mallory', 'mallory-pw');
      await cluster.createRole('dev', 'dev-pw');
      await cluster.query('GRANT CREATE ON SCHEMA public TO dev');
    });
    after(async () => cluster?.stop());

    it('an unprivileged login that fills the queue fails no DDL, and the DDL is recorded', async () => {
      const holder = new pg.Client({ connectionString: cluster.url('postgres', 'mallory', 'mallory-pw') });
      const flooder = new pg.Client({ connectionString: cluster.url('postgres', 'mallory', 'mallory-pw') });
      await holder.connect();
      await flooder.connect();
      try {
        await holder.query('LISTEN x');
        await holder.query('BEGIN');
        await holder.query('SELECT 1');
        let full = false;
        for (let i = 0; i < 100_000 && !full; i++) {
          full = await flooder.query("SELECT pg_notify('x', repeat('a', 7900)) FROM generate_series(1, 100)").then(() => false, (e: Error) => /too many notifications/.test(e.message));
        }
        assert.ok(full, 'the queue filled');
        const dev = new pg.Client({ connectionString: cluster.url('postgres', 'dev', 'dev-pw') });
        await dev.connect();
        await dev.query('CREATE TABLE during_flood (id int)');
        await dev.end();
        const { rows } = await cluster.query("SELECT 1 FROM pgwarden.ddl_events WHERE object_identity = 'public.during_flood'");
        assert.equal(rows.length, 1);
      } finally {
        await holder.end();
        await flooder.end();
      }
    });
  });
}
