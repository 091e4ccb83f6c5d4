// What a client can make PostgreSQL 15 + pgAudit write into its log, in stderr (Debian's
// log_line_prefix), csvlog and jsonlog at once, against the rules: forged pgAudit records,
// logins, guard refusals and reloads; statements that look like other records; an attacker
// calling itself pgwarden. Only the one real attack may alert, with the real count, and no
// response may target anyone the client named.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseText, type LogFormat } from '../../src/logs/index.ts';
import { createEngine, detectSchema, ResponsePlanner, alertOf, type Alert } from '../../src/detect/index.ts';
import { waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PREFIX = '%m [%p] %q%u@%d ';
const END = 'end of the forgeries after login';
const END_ALL = 'end of the forgery test';

describe('records a client can forge, in every log format', () => {
  let cluster: Cluster;
  const logs = {} as Record<LogFormat, Buffer>;

  before(async () => {
    cluster = await startCluster({ flavor: 'pg15', pgaudit: true, settings: {
      log_destination: "'stderr,csvlog,jsonlog'", logging_collector: 'on', log_line_prefix: `'${PREFIX}'`,
      log_connections: 'on', log_disconnections: 'on', 'pgaudit.log': "'all'", 'pgaudit.log_relation': 'on',
    } });
    await cluster.createRole('mallory', 'pw');
    await cluster.createRole('victim', 'right');
    await cluster.query('CREATE SCHEMA hr; CREATE TABLE hr.pay (id int); GRANT USAGE ON SCHEMA hr TO mallory');
    const mallory = new pg.Client({ connectionString: cluster.url('postgres', 'mallory', 'pw'), application_name: 'pgwarden/collect' });
    await mallory.connect();
    const ts = '2026-01-01 00:00:00.000 UTC';
    const fakeRecords = [
      `${ts} [42] victim@postgres FATAL:  password authentication failed for user "victim"`,
      `${ts},"victim","postgres",42,"10.9.9.9:5000",6b0f0000.2a,1,"authentication",${ts},3/1,0,FATAL,28P01,"password authentication failed for user ""victim""",,,,,,,,,"","client backend",,0`,
      JSON.stringify({ timestamp: ts, user: 'victim', dbname: 'postgres', pid: 42, error_severity: 'FATAL', state_code: '28P01', message: 'password authentication failed for user "victim"' }),
      `${ts} [42] postgres@postgres LOG:  AUDIT: SESSION,1,1,ROLE,GRANT ROLE,,,GRANT pg_execute_server_program TO mallory,<none>`,
    ].join('\n');
    try {
      await mallory.query(`DO $$BEGIN RAISE LOG 'AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,ALTER ROLE mallory SUPERUSER,<none>'; END$$`);
      await mallory.query(`DO $$BEGIN RAISE LOG 'connection authorized: user=postgres database=postgres application_name=psql'; END$$`);
      await mallory.query(`DO $$BEGIN RAISE LOG 'parameter "pgaudit.log" changed to "none"'; END$$`);
      for (let i = 0; i < 6; i++) {
        await assert.rejects(mallory.query(`DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '28000', MESSAGE = 'pgwarden: connection refused for role "victim" to database "postgres" from application "x": no'; END$$`));
        await mallory.query(`SELECT $1::text AS x -- ${fakeRecords.replaceAll('\n', ' ')}`, [fakeRecords]);
        await mallory.query(`SELECT 1 /*\n${fakeRecords}\n*/`);
        await assert.rejects(mallory.query(`SELECT * FROM hr.pay /*\n${fakeRecords}\n*/`), { code: '42501' });
      }
      await mallory.query(`SELECT 'ALTER SYSTEM SET pgaudit.log = none; COPY t TO PROGRAM ''id''; ALTER ROLE mallory SUPERUSER'`);
    } finally {
      await mallory.end();
    }
    // The one real attack: five wrong passwords for victim, from a client that calls itself pgwarden.
    for (let i = 0; i < 5; i++) {
      const client = new pg.Client({ connectionString: cluster.url('postgres', 'victim', 'wrong'), application_name: 'pgwarden/collect' });
      client.on('error', () => undefined);
      await assert.rejects(client.connect(), { code: '28P01' });
    }
    await cluster.query(`SELECT '${END}'`);
    // Before any authentication: a login name with a line break and the beginning of a record in it
    // (PostgreSQL writes %u of log_line_prefix as it is; the name is cut to 63 bytes).
    for (let i = 0; i < 5; i++) {
      const client = new pg.Client({ host: cluster.host, port: cluster.port, database: 'postgres', password: 'x',
        user: 'x\n2026-01-01 00:00:00.000 UTC [1] postgres@postgres FATAL:  ' });
      client.on('error', () => undefined);
      await assert.rejects(client.connect());
    }
    await cluster.query(`SELECT '${END_ALL}'`);
    const dir = path.join(cluster.dataDir, 'log');
    await waitFor(async () => {
      const names = readdirSync(dir);
      const files = { stderr: names.find((n) => n.endsWith('.log')), csvlog: names.find((n) => n.endsWith('.csv')), jsonlog: names.find((n) => n.endsWith('.json')) };
      if (!files.stderr || !files.csvlog || !files.jsonlog) return false;
      for (const [format, name] of Object.entries(files) as [LogFormat, string][]) logs[format] = readFileSync(path.join(dir, name));
      return Object.values(logs).every((b) => b.includes(END_ALL));
    }, 20_000, 'the three logs to hold the whole run');
  });
  after(async () => cluster?.stop());

  /** The log up to the end of the record holding `mark`. */
  const upTo = (bytes: Buffer, mark: string) => bytes.subarray(0, bytes.indexOf(10, bytes.indexOf(mark)) + 1);

  function replay(format: LogFormat, mark = END): { alerts: Alert[]; untrusted: number } {
    // Business hours all the time: the test runs whenever it runs (the harness's own set-up is DDL by a superuser).
    const detect = detectSchema.parse({ privileged_roles: ['postgres'], sensitive_objects: ['hr.*'],
      business_hours: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], hours: ['00:00-24:00'] },
      rules: { brute_force: { actions: [{ type: 'block_client' }] }, privilege_escalation: { actions: [{ type: 'lock_role' }] } } });
    const engine = createEngine(detect);
    const planner = new ResponsePlanner({ facts: engine.facts, breakGlassRoles: [], protectedRoles: [], protectedNetworks: [] });
    const parsed = parseText(upTo(logs[format], mark), { format, prefix: PREFIX, input: `postgresql.${format}`, server: 'pg15' });
    for (const event of parsed.events) engine.process(event);
    const alerts = engine.openIncidents().map((i) => alertOf(engine.rules.find((r) => r.id === i.rule)!, i, planner.describe(engine.rules.find((r) => r.id === i.rule)!, i)));
    return { alerts, untrusted: engine.stats().untrusted };
  }

  for (const format of ['csvlog', 'jsonlog', 'stderr'] as const) {
    it(`${format}: only the real brute force alerts, with its real count, and nothing forged is believed`, () => {
      const { alerts, untrusted } = replay(format);
      // stderr too names the client since issue 14: the session's `connection received` record (the server's own words) gives it.
      assert.deepEqual(alerts.map((a) => [a.rule, a.user, a.client_addr, a.count, a.application]),
        [['brute_force', 'victim', '127.0.0.1', 5, null]],
        'one alert: the five real failures (the forged failure records, refusals, AUDIT lines and logins count for nothing)');
      assert.ok(untrusted >= 7, `${untrusted} forged records seen for what they are`);
      assert.deepEqual(alerts[0]!.responses.map((r) => [r.action, r.refused]), [['block_client', null]],
        'the response targets the client the server saw, not a name the client wrote');
    });
  }

  for (const format of ['csvlog', 'jsonlog', 'stderr'] as const) {
    // In a stderr log a line break in a login name ends the physical line inside the prefix, and
    // the rest of the name reads as a record of another pid and user (a failed login of postgres).
    // The name PostgreSQL quotes in the failed login's message says whose failure it is.
    it(`${format}: a login name with a line break forges nothing`, () => {
      const { alerts } = replay(format, END_ALL);
      // Five real failed logins under that odd name are a brute force, of that name — not of postgres.
      assert.deepEqual(alerts.map((a) => [a.rule, a.user]).sort(), [['brute_force', 'victim'], ['brute_force', 'x\n2026-01-01 00:00:00.000 UTC [1] postgres@postgres FATAL:  ']]);
    });
  }
});
