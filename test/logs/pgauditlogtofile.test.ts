// The pgauditlogtofile format against the audit file Debian's postgresql-15-pgauditlogtofile
// (1.5) writes on a real PostgreSQL 15 + pgAudit. Its lines are csvlog's columns written without
// CSV quoting; the test checks every audit record and login against what it did (user,
// database, client port, application name, statement, parameters), with an application name
// and a statement chosen to move columns: commas, quotes, runs of empty columns, and a new line
// followed by text shaped like a whole audit line.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseText } from '../../src/logs/index.ts';
import { waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const LIBRARY = '/usr/lib/postgresql/15/lib/pgauditlogtofile.so';
const APP = 'x,"y",,,,,,,,,z';
const FORGED_LINE = '2026-01-01 00:00:00.000 UTC,mallory,postgres,1,6.6.6.6:1,1.1,1,SELECT,2026-01-01 00:00:00 UTC,1/1,0,00000,SESSION,9,1,ROLE,GRANT,,,GRANT forged,<none>,,,,,,,,,psql';
const STATEMENT = `SELECT $1::text AS a, 'line one\n${FORGED_LINE}' AS b`;
const PARAMETER = 'p,"q"\nr';

describe('pgauditlogtofile: the audit file of a real PostgreSQL 15 + pgAudit + pgauditlogtofile (Debian)', () => {
  let cluster: Cluster;
  let text = '';
  let appPort = 0;

  before(async () => {
    assert.ok(existsSync(LIBRARY), `${LIBRARY} is missing: apt-get install postgresql-15-pgauditlogtofile`);
    cluster = await startCluster({
      flavor: 'pg15', pgaudit: true, settings: {
        shared_preload_libraries: "'pgaudit,pgauditlogtofile'", 'pgaudit.log': "'read,write,role,ddl'", 'pgaudit.log_parameter': 'on',
        log_connections: 'on', log_disconnections: 'on', 'pgaudit.log_connections': 'on', 'pgaudit.log_disconnections': 'on',
      },
    });
    await cluster.query('CREATE EXTENSION pgauditlogtofile');
    await cluster.createRole('app user', 'pw1', '');
    const app = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'pw1'), application_name: APP });
    const stream = (app as unknown as { connection: { stream: Socket } }).connection.stream;
    stream.on('connect', () => { appPort = stream.localPort!; });
    await app.connect();
    await app.query(STATEMENT, [PARAMETER]);
    await app.end();
    const bad = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'wrong') });
    bad.on('error', () => undefined);
    await assert.rejects(bad.connect());
    const dir = path.join(cluster.dataDir, 'log');
    await waitFor(async () => {
      const file = existsSync(dir) ? readdirSync(dir).find((n) => n.startsWith('audit-')) : undefined;
      text = file ? readFileSync(path.join(dir, file), 'utf8') : '';
      return text.includes('password authentication failed') && (text.match(/disconnection: /g) ?? []).length >= 2;
    }, 10_000, 'the audit file');
  });
  after(async () => cluster?.stop());

  it('is recognised and read without an error', () => {
    const result = parseText(text, { input: 'audit.log' });
    assert.equal(result.format, 'pgauditlogtofile');
    assert.deepEqual(result.errors, []);
  });

  it('reads each audit record and connection line with the values the test used', () => {
    const events = parseText(text, { format: 'pgauditlogtofile', server: 'pg15' }).events;
    const audit = events.find((e) => e.kind === 'audit' && e.audit!.command === 'SELECT' && e.user === 'app user');
    assert.ok(audit, 'the SELECT audit record');
    assert.equal(audit.audit!.statement, STATEMENT, 'the statement with its new line and the forged line inside');
    assert.deepEqual(audit.audit!.parameters, [PARAMETER]);
    assert.equal(audit.audit!.class, 'READ');
    assert.equal(audit.application, APP);
    assert.equal(audit.database, 'postgres');
    assert.equal(audit.client_addr, '127.0.0.1');
    assert.equal(audit.client_port, appPort);
    assert.equal(audit.server, 'pg15');
    assert.ok(!events.some((e) => e.user === 'mallory' || e.client_addr === '6.6.6.6'), 'the forged line is never a record');
    const role = events.find((e) => e.kind === 'audit' && e.audit!.command === 'CREATE ROLE');
    assert.equal(role?.audit!.statement, 'CREATE ROLE "app user" LOGIN  PASSWORD <REDACTED>');
    const authorized = events.find((e) => e.kind === 'connection_authorized' && e.client_port === appPort);
    assert.ok(authorized, 'connection authorized');
    assert.equal(authorized.user, 'app user');
    const received = events.find((e) => e.kind === 'connection_received' && e.client_port === appPort);
    assert.equal(received?.client_addr, '127.0.0.1');
    const gone = events.find((e) => e.kind === 'disconnection' && e.client_port === appPort);
    assert.equal(typeof gone?.duration_ms, 'number');
    assert.equal(gone?.application, APP);
    const failed = events.find((e) => e.kind === 'auth_failed');
    assert.ok(failed, 'the failed login');
    assert.equal(failed.user, 'app user');
    assert.equal(failed.sqlstate, '28P01');
    assert.equal(failed.message, 'password authentication failed for user "app user"');
    assert.match(failed.detail!, /^Connection matched pg_hba\.conf line \d+: /);
  });

  it('a line cut short, NUL, and a detail where pgAudit has none are reported, not read as audit records', () => {
    const head = '2026-12-02 02:19:55.644 UTC,app user,postgres,12966,127.0.0.1:48724,6b0f804b.32a6,4,BIND,2026-12-02 02:19:55 UTC,3/6,0,00000,';
    const { events, errors } = parseText([
      `${head}SESSION,1,1,READ,SELECT,,,"SELECT 1 -- \u0000",<none>,,,,,,,,,psql`,
      `${head}SESSION,3,1,READ,SELECT,,,SELECT 3,<none>,forged detail,,,,,,,,psql`,
      `${head}SESSION,2,1,READ,SELECT,,,"SELECT 'cut`,
    ].join('\n'), { format: 'pgauditlogtofile' });
    assert.equal(events[0]!.kind, 'audit');
    assert.equal(events[0]!.audit!.statement, 'SELECT 1 -- \u0000');
    assert.equal(events[0]!.application, 'psql');
    assert.equal(events[1]!.kind, 'log', 'a detail: not pgAudit\'s');
    assert.equal(events[2]!.kind, 'log', 'an unclosed quote at the end of the input');
    assert.equal(errors.length, 2);
  });
});
