// The formats of managed and containerised servers, and syslog's settings a single rsyslogd run
// does not show. No software of these platforms runs here: each sample is built in the test from
// the platform's published description of its log (CloudNativePG's logging documentation, Google
// Cloud Logging's LogEntry and Cloud SQL's log names, Heroku Postgres's logplex lines, Microsoft's
// "Logs in Azure Database for PostgreSQL flexible server" and its PGSQLServerLogs/AzureDiagnostics
// tables, systemd's journal export format and journalctl -o json, PostgreSQL's write_syslog),
// from the values the test then expects field by field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { createParser, parseText, type LogFormat } from '../../src/logs/index.ts';

const j = (value: unknown) => JSON.stringify(value);
const pick = (e: PgwardenEvent, keys: (keyof PgwardenEvent)[]) => Object.fromEntries(keys.map((k) => [k, e[k]]));
const KEYS: (keyof PgwardenEvent)[] = ['ts', 'kind', 'server', 'pid', 'user', 'database', 'application', 'client_addr', 'client_port', 'severity', 'sqlstate', 'message', 'detail', 'query', 'session_id'];

function read(text: string, format: LogFormat, server: string | null = null) {
  const auto = parseText(text, {});
  assert.equal(auto.format, format, 'recognised by --format auto');
  const result = parseText(text, { format, server, input: 'sample' });
  return result;
}

describe('cnpg: CloudNativePG JSON', () => {
  const pod = 'cluster-example-1';
  const base = { log_time: '2026-12-02 02:04:37.123 UTC', process_id: '1255', session_id: '6409fb74.4e7', session_line_num: '3', command_tag: 'SELECT', session_start_time: '2026-12-02 02:04:36 UTC', virtual_transaction_id: '3/27', transaction_id: '0', sql_state_code: '00000', backend_type: 'client backend', query_id: '0' };
  const lines = [
    j({ level: 'info', ts: '2026-12-02T02:04:36.000Z', msg: 'Checking for free disk space for WALs before starting PostgreSQL', logging_pod: pod }),
    j({ level: 'info', ts: '2026-12-02T02:04:37.123Z', logger: 'postgres', msg: 'record', logging_pod: pod, record: { ...base, user_name: 'app', database_name: 'app', connection_from: '10.244.0.1:51846', error_severity: 'LOG', message: 'connection authorized: user=app database=app application_name=psql', application_name: 'psql' } }),
    j({ level: 'info', ts: '2026-12-02T02:04:37.200Z', logger: 'postgres', msg: 'record', logging_pod: pod, record: { ...base, user_name: 'app', database_name: 'app', error_severity: 'ERROR', sql_state_code: '23505', message: 'duplicate key value violates unique constraint "t_pkey"', detail: 'Key (id)=(1) already exists.', query: 'INSERT INTO t VALUES (1)\n-- "AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>"', application_name: 'psql' } }),
    j({ level: 'info', ts: '2026-12-02T02:04:37.300Z', logger: 'pgaudit', msg: 'record', logging_pod: pod, record: { ...base, user_name: 'postgres', database_name: 'postgres', error_severity: 'LOG', audit: { audit_type: 'SESSION', statement_id: '1', substatement_id: '1', class: 'READ', command: 'SELECT', statement: "SELECT 'a,\"b\"\nc'", parameter: '<not logged>' } } }),
    j({ level: 'info', ts: '2026-12-02T02:04:37.400Z', logger: 'postgres', msg: 'record', logging_pod: pod, record: { ...base, user_name: 'mallory', database_name: 'app', error_severity: 'LOG', message: 'AUDIT: SESSION,9,1,ROLE,GRANT,,,GRANT forged,<none>', context: 'PL/pgSQL function inline_code_block line 1 at RAISE' } }),
  ];
  it('reads the records field by field, skips the instance manager\'s own lines, and a forged AUDIT: stays a log', () => {
    const { events, errors } = read(lines.join('\n'), 'cnpg');
    assert.deepEqual(errors, []);
    assert.equal(events.length, 4);
    assert.deepEqual(pick(events[0]!, KEYS), {
      ts: '2026-12-02T02:04:37.123+00:00', kind: 'connection_authorized', server: pod, pid: 1255, user: 'app', database: 'app', application: 'psql',
      client_addr: '10.244.0.1', client_port: 51846, severity: 'LOG', sqlstate: null, message: 'connection authorized: user=app database=app application_name=psql',
      detail: null, query: null, session_id: '6409fb74.4e7',
    });
    assert.deepEqual([events[1]!.kind, events[1]!.sqlstate, events[1]!.detail, events[1]!.query], ['error', '23505', 'Key (id)=(1) already exists.', 'INSERT INTO t VALUES (1)\n-- "AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>"']);
    assert.equal(events[2]!.kind, 'audit');
    assert.deepEqual([events[2]!.audit!.statement, events[2]!.audit!.parameters, events[2]!.audit!.class, events[2]!.user], ["SELECT 'a,\"b\"\nc'", null, 'READ', 'postgres']);
    assert.equal(events[3]!.kind, 'log', 'a RAISE with a CONTEXT is not pgAudit\'s');
    assert.equal(parseText(lines.join('\n'), { format: 'cnpg', server: 'k8s-db' }).events[0]!.server, 'k8s-db', 'the configured server first');
  });
  it('a line cut short and a record without its object are errors; NUL stays in the text', () => {
    const cut = lines[2]!.slice(0, 80);
    const nul = lines[1]!.replaceAll('psql', 'ps\\u0000ql');
    const { events, errors } = parseText([nul, j({ logger: 'postgres', msg: 'record', record: 'x' }), cut].join('\n'), { format: 'cnpg' });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.application, 'ps\u0000ql');
    assert.equal(errors.length, 2);
  });
  it('reads the pod\'s log as the kubelet writes it (CRI: TIME STREAM P|F TEXT), P parts joined per stream, by --format auto', () => {
    // The CRI logging format (kubernetes/cri-api, kubelet's /var/log/pods/…/0.log): a line the
    // runtime cut (16 KiB in containerd) comes as P lines and its last part as an F line; stdout
    // and stderr interleave.
    const cri = (text: string, tag = 'F', stream = 'stdout', n = 0) => `2026-11-01T08:00:0${n}.123456789Z ${stream} ${tag} ${text}`;
    const long = lines[2]!;
    const cuts = [37, 120, 121, long.length - 5];
    const parts = [0, ...cuts].map((from, k) => long.slice(from, cuts[k] ?? long.length));
    const log = [
      cri(lines[0]!), cri(lines[1]!),
      cri(parts[0]!, 'P'), cri(parts[1]!, 'P'),
      cri('{"level":"error","ts":"2026-12-02T02:04:37.250Z","msg":"instance manager on stderr between the parts","logging_pod":"cluster-example-1"}', 'F', 'stderr'),
      cri(parts[2]!, 'P'), cri(parts[3]!, 'P'), cri(parts[4]!, 'F', 'stdout', 1),
      cri(lines[3]!), cri(lines[4]!), '',
    ].join('\n');
    const { events, errors } = read(log, 'cnpg');
    assert.deepEqual(errors, []);
    const plain = parseText(lines.join('\n'), { format: 'cnpg', input: 'sample' });
    const fields = (es: PgwardenEvent[]) => es.map((e) => ({ ...pick(e, KEYS), audit: e.audit }));
    assert.deepEqual(fields(events), fields(plain.events));
    assert.deepEqual(events.map((e) => e.source.line), [2, 3, 9, 10], 'a joined record names the line of its first part');
    assert.equal(events[1]!.source.position, log.indexOf(cri(parts[0]!, 'P')));
    const got: PgwardenEvent[] = [];
    const parser = createParser({ input: 'sample' }, { event: (e) => got.push(e), error: (e) => assert.fail(e.reason) });
    for (let k = 0; k < log.length; k += 7) parser.write(log.slice(k, k + 7));
    parser.end();
    assert.deepEqual(fields(got), fields(events));
  });
  it('a CRI line without its header is an error; parts whose F line never came are read at the end (here: cut JSON, an error)', () => {
    const cri = (text: string, tag = 'F') => `2026-11-01T08:00:00.1Z stdout ${tag} ${text}`;
    const { events, errors } = parseText([cri(lines[1]!), '{"msg":"no header"}', cri(lines[1]!.slice(0, 50), 'P')].join('\n'), { format: 'cnpg' });
    assert.equal(events.length, 1);
    assert.deepEqual(errors.map((e) => [e.line, e.reason.slice(0, 24)]), [[2, 'not a CRI container log '], [3, 'not a JSON object: Unter']]);
  });
});

describe('cloudsql: Cloud SQL and AlloyDB Cloud Logging entries', () => {
  const cloudsql = { type: 'cloudsql_database', labels: { database_id: 'my-proj:db1', project_id: 'my-proj', region: 'europe-west1' } };
  const alloydb = { type: 'alloydb.googleapis.com/Instance', labels: { resource_container: 'my-proj', location: 'europe-west1', cluster_id: 'c1', instance_id: 'i1' } };
  const entry = (textPayload: string, resource: object, timestamp: string) => j({
    insertId: 's=1;i=2', logName: 'projects/my-proj/logs/cloudsql.googleapis.com%2Fpostgres.log', receiveTimestamp: timestamp, resource, severity: 'INFO', textPayload, timestamp,
  });
  const lines = [
    entry('2026-12-02 02:04:37.123 UTC [4242]: [1-1] db=shop,user=alice LOG:  connection authorized: user=alice database=shop', cloudsql, '2026-12-02T02:04:37.123456Z'),
    entry('2026-12-02 02:04:37.200 UTC [4242]: [2-1] db=shop,user=alice ERROR:  duplicate key value violates unique constraint "t_pkey"', cloudsql, '2026-12-02T02:04:37.200Z'),
    entry('2026-12-02 02:04:37.200 UTC [4242]: [3-1] db=shop,user=alice DETAIL:  Key (id)=(1) already exists.', cloudsql, '2026-12-02T02:04:37.200Z'),
    entry('2026-12-02 02:04:37.200 UTC [4242]: [4-1] db=shop,user=alice STATEMENT:  INSERT INTO t VALUES (1)', cloudsql, '2026-12-02T02:04:37.200Z'),
    entry('2026-12-02 02:04:38.000 UTC [77]: [1-1] db=,user= LOG:  checkpoint starting: time', alloydb, '2026-12-02T02:04:38Z'),
    j({
      logName: 'projects/my-proj/logs/cloudaudit.googleapis.com%2Fdata_access', resource: cloudsql, timestamp: '2026-12-02T02:04:39.5Z',
      protoPayload: { '@type': 'type.googleapis.com/google.cloud.audit.AuditLog', methodName: 'cloudsql.instances.query', request: {
        '@type': 'type.googleapis.com/google.cloud.sql.audit.v1.PgAuditEntry', auditClass: 'READ', auditType: 'SESSION', chunkCount: '1', chunkIndex: '1', command: 'SELECT',
        database: 'shop', databaseSessionId: 4242, object: 'public.t', objectType: 'TABLE', parameter: '<none>', statement: 'SELECT * FROM t WHERE note = \'a,"b"\'', statementId: '3', substatementId: '1', user: 'alice',
      } },
    }),
  ];
  it('reads textPayload with Cloud SQL\'s prefix, joins DETAIL and STATEMENT entries, names project:instance, and reads pgAudit entries', () => {
    const { events, errors } = read(lines.join('\n'), 'cloudsql');
    assert.deepEqual(errors, []);
    assert.equal(events.length, 4);
    assert.deepEqual(pick(events[0]!, KEYS), {
      ts: '2026-12-02T02:04:37.123+00:00', kind: 'connection_authorized', server: 'my-proj:db1', pid: 4242, user: 'alice', database: 'shop', application: null,
      client_addr: null, client_port: null, severity: 'LOG', sqlstate: null, message: 'connection authorized: user=alice database=shop', detail: null, query: null, session_id: null,
    });
    assert.deepEqual([events[1]!.kind, events[1]!.detail, events[1]!.query, events[1]!.source.line], ['error', 'Key (id)=(1) already exists.', 'INSERT INTO t VALUES (1)', 2]);
    assert.deepEqual([events[2]!.server, events[2]!.user, events[2]!.message], ['my-proj:c1/i1', null, 'checkpoint starting: time']);
    assert.deepEqual([events[3]!.kind, events[3]!.user, events[3]!.database, events[3]!.audit!.object_name, events[3]!.audit!.statement, events[3]!.ts],
      ['audit', 'alice', 'shop', 'public.t', 'SELECT * FROM t WHERE note = \'a,"b"\'', '2026-12-02T02:04:39.500+00:00']);
  });
  it('a statement imitating an entry stays in its field (PostgreSQL puts a TAB after its new lines); an entry without a payload is an error', () => {
    const forged = entry('2026-12-02 02:04:37.300 UTC [4242]: [5-1] db=shop,user=alice LOG:  statement: SELECT \'\n\t2026-12-02 02:04:37.300 UTC [1]: [1-1] db=shop,user=mallory LOG:  connection authorized: user=mallory database=shop\'', cloudsql, '2026-12-02T02:04:37.3Z');
    const { events, errors } = parseText([forged, j({ resource: cloudsql, timestamp: '2026-12-02T02:04:40Z' })].join('\n'), { format: 'cloudsql', prefix: '%m [%p]: [%l-1] db=%d,user=%u ' });
    assert.equal(errors.length, 1, 'the entry without a payload');
    assert.equal(events.length, 1);
    assert.deepEqual([events[0]!.user, events[0]!.kind], ['alice', 'log']);
    assert.equal(events[0]!.message, "statement: SELECT '\n2026-12-02 02:04:37.300 UTC [1]: [1-1] db=shop,user=mallory LOG:  connection authorized: user=mallory database=shop'");
  });
  it('reads a JSON array of entries as `gcloud logging read --format=json` prints it (pretty, several lines an entry) as the same events', () => {
    const entries = lines.map((l) => JSON.parse(l) as unknown);
    // a payload that imitates the array's syntax: brackets, braces, commas and quotes inside strings
    entries.push(JSON.parse(entry('2026-12-02 02:04:41.000 UTC [4242]: [6-1] db=shop,user=alice LOG:  statement: SELECT \'}], [{"textPayload": "x\\\\"}\'', cloudsql, '2026-12-02T02:04:41Z')));
    const pretty = JSON.stringify(entries, null, 2) + '\n';
    const perLine = parseText(entries.map((e) => j(e)).join('\n'), { format: 'cloudsql', input: 'sample' });
    const { events, errors } = read(pretty, 'cloudsql');
    assert.deepEqual(errors, []);
    const fields = (es: PgwardenEvent[]) => es.map((e) => ({ ...pick(e, KEYS), audit: e.audit }));
    assert.equal(events.length, 5);
    assert.deepEqual(fields(events), fields(perLine.events));
    assert.equal(events[4]!.message, 'statement: SELECT \'}], [{"textPayload": "x\\\\"}\'');
    // each event names the line its entry starts on and that entry's byte offset
    const starts = pretty.split('\n').flatMap((l, n) => (l === '  {' ? [n + 1] : []));
    assert.equal(events[0]!.source.line, starts[0]);
    assert.equal(events[3]!.source.line, starts[5], 'the pgAudit entry, the sixth');
    assert.equal(pretty.slice(events[3]!.source.position, events[3]!.source.position + 3), '{\n ');
    // fed a byte at a time; two arrays one after the other (two gcloud runs appended); an empty one
    const got: PgwardenEvent[] = [];
    const parser = createParser({ format: 'auto', input: 'sample' }, { event: (e) => got.push(e), error: (e) => assert.fail(e.reason) });
    const twice = Buffer.from(`${pretty}[]\n${pretty}`);
    for (let k = 0; k < twice.length; k++) parser.write(twice.subarray(k, k + 1));
    parser.end();
    assert.equal(parser.format, 'cloudsql');
    assert.deepEqual(fields(got), [...fields(events), ...fields(events)]);
  });
  it('an array cut short, a scalar element and text after the array are errors; the entries before them are read', () => {
    const pretty = JSON.stringify(lines.slice(0, 2).map((l) => JSON.parse(l) as unknown), null, 2);
    const cut = parseText(pretty.slice(0, -40), { format: 'cloudsql' });
    assert.equal(cut.events.length, 1);
    assert.deepEqual(cut.errors.map((e) => e.reason), ['JSON array cut short: the input ends inside it']);
    const odd = parseText(`[\n  42,\n${pretty.slice(1)}\ntrailing words\n`, { format: 'cloudsql' });
    assert.equal(odd.events.length, 2);
    assert.deepEqual(odd.errors.map((e) => [e.line, e.reason.slice(0, 20)]), [[2, 'not a JSON object: a'], [odd.errors[1]!.line, 'not a JSON array of ']]);
  });
});

describe('heroku: Heroku Postgres logplex lines', () => {
  const lines = [
    '2026-12-02T02:04:37.123456+00:00 app[postgres.4242]: [DATABASE] [9-1] sql_error_code = 00000 LOG:  connection authorized: user=u1abc database=d2def',
    '2026-12-02T02:04:37.200000+00:00 heroku[router]: at=info method=GET path="/" host=example.herokuapp.com status=200',
    '2026-12-02T02:04:37.300000+00:00 app[heroku-postgres]: source=DATABASE addon=postgresql-rugged-1 sample#current_transaction=1234',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4243]: [DATABASE] [3-1] sql_error_code = 23505 ERROR:  duplicate key value violates unique constraint "t_pkey"',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4242]: [DATABASE] [10-1] sql_error_code = 00000 LOG:  statement: SELECT 1',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4243]: [DATABASE] [3-2] sql_error_code = 23505 DETAIL:  Key (id)=(1) already exists.',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4242]: [DATABASE] [10-2] \tFROM t',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4243]: [DATABASE] [3-3] sql_error_code = 23505 STATEMENT:  INSERT INTO t VALUES (1)',
  ];
  it('joins each process\'s [SEQ-CHUNK] lines, skips other processes, and reads sql_error_code', () => {
    const { events, errors } = read(lines.join('\n'), 'heroku');
    assert.deepEqual(errors, []);
    assert.equal(events.length, 3);
    const byMessage = new Map(events.map((e) => [e.message, e]));
    const auth = byMessage.get('connection authorized: user=u1abc database=d2def')!;
    assert.deepEqual(pick(auth, ['ts', 'kind', 'server', 'pid', 'user', 'database', 'severity', 'sqlstate']),
      { ts: '2026-12-02T02:04:37.123+00:00', kind: 'connection_authorized', server: 'heroku:DATABASE', pid: 4242, user: 'u1abc', database: 'd2def', severity: 'LOG', sqlstate: null });
    assert.equal(byMessage.get('statement: SELECT 1\nFROM t')?.pid, 4242);
    const dup = byMessage.get('duplicate key value violates unique constraint "t_pkey"')!;
    assert.deepEqual([dup.sqlstate, dup.detail, dup.query, dup.pid], ['23505', 'Key (id)=(1) already exists.', 'INSERT INTO t VALUES (1)', 4243]);
  });
  it('a part without its first part and a line that is not Heroku\'s are errors', () => {
    const { errors } = parseText(['2026-12-02T02:04:37.4+00:00 app[postgres.9]: [DATABASE] [5-2] sql_error_code = 00000 DETAIL:  orphan', 'garbage'].join('\n'), { format: 'heroku' });
    assert.equal(errors.length, 2);
  });
});

describe('heroku: an HTTPS log drain\'s POST bodies (application/logplex-1, RFC 6587 octet counting)', () => {
  // Built from Heroku's "Log Drains" article: logplex POSTs batches of RFC 5424 messages framed
  // by octet counting, "<PRI>1 TIME HOSTNAME APP-NAME PROCID MSGID MSG" with HOSTNAME "host" (or
  // the drain token), APP-NAME the source (app, heroku), PROCID the process, no STRUCTURED-DATA,
  // each message ending with a LF that MSG-LEN counts. The same messages as `heroku logs` prints them:
  const logs = [
    '2026-12-02T02:04:37.123456+00:00 app[postgres.4242]: [DATABASE] [9-1] sql_error_code = 00000 LOG:  connection authorized: user=u1abc database=d2def',
    '2026-12-02T02:04:37.200000+00:00 heroku[router]: at=info method=GET path="/" host=example.herokuapp.com status=200',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4243]: [DATABASE] [3-1] sql_error_code = 23505 ERROR:  duplicate key value violates unique constraint "t_pkey"',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4242]: [DATABASE] [10-1] sql_error_code = 00000 LOG:  statement: SELECT \'café ☕ 𝄞\' AS "15 <134>1 x"',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4243]: [DATABASE] [3-2] sql_error_code = 23505 DETAIL:  Key (id)=(1) already exists.',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4242]: [DATABASE] [10-2] \tFROM t',
    '2026-12-02T02:04:37.400000+00:00 app[postgres.4243]: [DATABASE] [3-3] sql_error_code = 23505 STATEMENT:  INSERT INTO t VALUES (1)',
  ];
  // The drain's frame of a `heroku logs` line, with the length counted here in bytes.
  const frame = (line: string, host = 'host') => {
    const m = /^(\S+) (app|heroku)\[([^\]]+)\]: (.*)$/.exec(line)!;
    const message = `<134>1 ${m[1]} ${host} ${m[2]} ${m[3]} - ${m[4]}\n`;
    return `${Buffer.byteLength(message, 'utf8')} ${message}`;
  };
  const body = (from: number, to: number, host?: string) => logs.slice(from, to).map((l) => frame(l, host)).join('');
  const fields = (events: PgwardenEvent[]) => events.map((e) => pick(e, KEYS));

  it('reads the frames of two POST bodies as the same events as `heroku logs`, multi-byte text counted in bytes', () => {
    const drained = body(0, 3) + body(3, 7, 'd.73ea7440-270a-435a-a0ea-adf50b4e5f5a');
    const { events, errors } = read(drained, 'heroku');
    assert.deepEqual(errors, []);
    const expected = parseText(logs.join('\n'), { format: 'heroku', input: 'sample' });
    assert.deepEqual(expected.errors, []);
    assert.equal(events.length, 3);
    assert.deepEqual(fields(events), fields(expected.events));
    assert.ok(events.some((e) => e.message === 'statement: SELECT \'café ☕ 𝄞\' AS "15 <134>1 x"\nFROM t'), 'a frame\'s text that looks like a frame stays text');
    // fed a byte at a time, a frame and its length cut anywhere
    const bytes = Buffer.from(drained, 'utf8');
    const got: PgwardenEvent[] = [];
    const parser = createParser({ format: 'heroku', input: 'sample' }, { event: (e) => got.push(e), error: (e) => assert.fail(e.reason) });
    for (let i = 0; i < bytes.length; i++) parser.write(bytes.subarray(i, i + 1));
    parser.end();
    assert.deepEqual(fields(got), fields(events));
  });
  it('a length that overruns the body, a frame that is not RFC 5424 and a body that is not framed are errors, and the frames after them are read', () => {
    const bad = `${frame(logs[0]!)}12 not syslog!\ngarbage line\n${frame(logs[2]!)}${frame(logs[4]!)}${frame(logs[6]!)}`;
    const { events, errors } = parseText(bad, { format: 'heroku' });
    assert.deepEqual(errors.map((e) => e.reason.split(' ').slice(0, 4).join(' ')), ['a logplex frame without', 'not an octet-counted logplex']);
    assert.equal(events.length, 2);
    const cut = parseText(frame(logs[0]!).slice(0, -10), { format: 'heroku' });
    assert.equal(cut.errors.length, 1);
    assert.match(cut.errors[0]!.reason, /cut short/);
  });
});

describe('azure: Azure Database for PostgreSQL flexible server diagnostic logs (built from Microsoft\'s documentation)', () => {
  const resourceId = '/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/PG-FLEX-1';
  const record = (properties: object, time: string) => ({ time, resourceId, category: 'PostgreSQLLogs', operationName: 'LogEvent', properties, LogicalServerName: 'pg-flex-1' });
  const lines = [
    j(record({ prefix: '2026-12-02 02:04:37 UTC-6b0f7e83.786f-', message: 'connection authorized: user=alice database=shop application_name=psql', detail: '', errorLevel: 'LOG', domain: 'postgres-16', schemaName: '', tableName: '', columnName: '', datatypeName: '', processId: 4242, sqlerrcode: '00000' }, '2026-12-02T02:04:37.123Z')),
    j({ records: [
      record({ prefix: '2026-12-02 02:04:38 UTC-6b0f7e83.786f-', message: 'duplicate key value violates unique constraint "t_pkey"', detail: 'Key (id)=(1) already exists.', errorLevel: 'ERROR', processId: 4242, sqlerrcode: '23505' }, '2026-12-02T02:04:38.5Z'),
      record({ prefix: '2026-12-02 02:04:39 UTC-6b0f7e84.7870-', message: 'AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.t,"SELECT 1, 2",<none>', errorLevel: 'LOG', processId: 4243, sqlerrcode: '00000' }, '2026-12-02T02:04:39Z'),
    ] }),
    j({ TimeGenerated: '2026-12-02T02:04:40.250Z', Resource: 'PG-FLEX-1', Category: 'PostgreSQLLogs', Message: 'checkpoint starting: time', errorLevel_s: 'LOG', processId_d: 77, sqlerrcode_s: '00000', LogicalServerName_s: 'pg-flex-1' }),
  ];
  it('reads storage-account lines, event hub records and Log Analytics rows field by field', () => {
    const { events, errors } = read(lines.join('\n'), 'azure');
    assert.deepEqual(errors, []);
    assert.equal(events.length, 4);
    assert.deepEqual(pick(events[0]!, KEYS), {
      ts: '2026-12-02T02:04:37.000+00:00', kind: 'connection_authorized', server: 'pg-flex-1', pid: 4242, user: 'alice', database: 'shop', application: 'psql',
      client_addr: null, client_port: null, severity: 'LOG', sqlstate: null, message: 'connection authorized: user=alice database=shop application_name=psql', detail: null, query: null, session_id: '6b0f7e83.786f',
    });
    assert.deepEqual([events[1]!.kind, events[1]!.sqlstate, events[1]!.detail], ['error', '23505', 'Key (id)=(1) already exists.']);
    assert.deepEqual([events[2]!.kind, events[2]!.audit!.statement, events[2]!.session_id], ['audit', 'SELECT 1, 2', '6b0f7e84.7870']);
    assert.deepEqual([events[3]!.ts, events[3]!.pid, events[3]!.server, events[3]!.message], ['2026-12-02T02:04:40.250+00:00', 77, 'pg-flex-1', 'checkpoint starting: time']);
  });
  it('a record without a message and a line that is not JSON are errors', () => {
    const { errors } = parseText([j(record({ errorLevel: 'LOG' }, '2026-12-02T02:04:37Z')), '{"records": [1]'].join('\n'), { format: 'azure' });
    assert.equal(errors.length, 2);
  });
});

describe('journald: journalctl -o json and the export format', () => {
  const us = (iso: string) => String(Date.parse(iso) * 1000 + 456);
  const entry = (fields: Record<string, unknown>) => j({ __CURSOR: 's=abc', _HOSTNAME: 'db1', SYSLOG_IDENTIFIER: 'postgres', _COMM: 'postgres', PRIORITY: '6', ...fields });
  const lines = [
    entry({ __REALTIME_TIMESTAMP: us('2026-12-02T02:04:37.123Z'), _PID: '4242', MESSAGE: '[7-1] 2026-12-02 02:04:37.123 UTC [4242] alice@shop LOG:  statement: SELECT 1' }),
    j({ __CURSOR: 's=abd', _HOSTNAME: 'db1', SYSLOG_IDENTIFIER: 'sshd', _PID: '9', MESSAGE: 'Accepted publickey for root' }),
    entry({ __REALTIME_TIMESTAMP: us('2026-12-02T02:04:37.124Z'), _PID: '4242', MESSAGE: '[7-2] \tFROM t' }),
    entry({ __REALTIME_TIMESTAMP: us('2026-12-02T02:04:38Z'), _PID: '100', MESSAGE: '2026-12-02 02:04:38.000 UTC [4243] bob@shop ERROR:  relation "nope" does not exist' }),
    entry({ __REALTIME_TIMESTAMP: us('2026-12-02T02:04:38Z'), _PID: '100', MESSAGE: '2026-12-02 02:04:38.000 UTC [4243] bob@shop STATEMENT:  SELECT * FROM nope' }),
    entry({ __REALTIME_TIMESTAMP: us('2026-12-02T02:04:39Z'), _PID: '100', MESSAGE: [...Buffer.from('2026-12-02 02:04:39.000 UTC [4244] carol@shop LOG:  caf\u00e9 ', 'utf8'), 0xff] }),
  ];
  it('joins syslog chunks per process and stderr lines in order, skips other programs, reads MESSAGE given as bytes', () => {
    const { events, errors } = read(lines.join('\n'), 'journald');
    assert.deepEqual(errors, []);
    assert.equal(events.length, 3);
    const byUser = new Map(events.map((e) => [e.user, e]));
    assert.deepEqual(pick(byUser.get('alice')!, ['ts', 'kind', 'server', 'pid', 'user', 'database', 'message']),
      { ts: '2026-12-02T02:04:37.123+00:00', kind: 'log', server: 'db1', pid: 4242, user: 'alice', database: 'shop', message: 'statement: SELECT 1\nFROM t' });
    const bob = byUser.get('bob')!;
    assert.deepEqual([bob.kind, bob.query, bob.pid, bob.server], ['error', 'SELECT * FROM nope', 4243, 'db1']);
    assert.equal(byUser.get('carol')!.message, 'caf\u00e9 \ufffd', 'bytes that are not UTF-8 replaced, the rest kept');
  });
  it('reads the export format', () => {
    const text = [
      '__CURSOR=s=abc', `__REALTIME_TIMESTAMP=${us('2026-12-02T02:04:37.123Z')}`, '_HOSTNAME=db1', 'SYSLOG_IDENTIFIER=postgres', '_PID=4242',
      'MESSAGE=[7-1] 2026-12-02 02:04:37.123 UTC [4242] alice@shop LOG:  connection authorized: user=alice database=shop', '',
      '__CURSOR=s=abd', 'SYSLOG_IDENTIFIER=postgres', '_PID=4242', 'MESSAGE=[8-1] 2026-12-02 02:04:37.500 UTC [4242] alice@shop LOG:  statement: SELECT 2', '', '',
    ].join('\n');
    const { events, errors } = read(text, 'journald');
    assert.deepEqual(errors, []);
    assert.deepEqual(events.map((e) => [e.kind, e.user, e.server, e.message, e.source.line]), [
      ['connection_authorized', 'alice', 'db1', 'connection authorized: user=alice database=shop', 1],
      ['log', 'alice', null, 'statement: SELECT 2', 8],
    ]);
  });
});

describe('syslog settings and daemons a single rsyslogd run does not show', () => {
  const P = '2026-12-02 02:04:37.123 UTC [4242] alice@shop ';
  it('syslog_sequence_numbers off: [CHUNK] parts; syslog_split_messages off: one message with #012', () => {
    const text = [
      `Dec  2 02:04:37 db1 postgres[4242]: [1] ${P}ERROR:  duplicate key value violates unique constraint "t_pkey"`,
      `Dec  2 02:04:37 db1 postgres[4243]: [1] ${P.replace('4242', '4243')}LOG:  statement: SELECT 1`,
      `Dec  2 02:04:37 db1 postgres[4242]: [2] ${P}DETAIL:  Key (id)=(1) already exists.`,
      `Dec  2 02:04:38 db1 postgres[4242]: [12] ${P}ERROR:  relation "nope" does not exist#012${P}STATEMENT:  SELECT *#012#011FROM nope`,
    ].join('\n');
    const { events, errors } = parseText(text, { format: 'syslog', prefix: '%m [%p] %q%u@%d ' });
    assert.deepEqual(errors, []);
    assert.equal(events.length, 3);
    assert.ok(events.every((e) => e.server === 'db1' && e.ts === '2026-12-02T02:04:37.123+00:00'));
    const byMessage = new Map(events.map((e) => [e.message, e]));
    assert.equal(byMessage.get('duplicate key value violates unique constraint "t_pkey"')?.detail, 'Key (id)=(1) already exists.');
    assert.equal(byMessage.get('relation "nope" does not exist')?.query, 'SELECT *\nFROM nope');
    assert.equal(byMessage.get('statement: SELECT 1')?.pid, 4243);
  });
  it('syslog-ng\'s RFC 5424 with structured data, the BOM, and Debian\'s prefix recognised', () => {
    const text = [
      `<134>1 2026-12-02T02:04:37.123456+01:00 db1 postgres 4242 - [meta sequenceId="1" x="a\\"]b"] \ufeff[3-1] ${P}LOG:  connection authorized: user=alice database=shop`,
      `<134>1 2026-12-02T02:04:37.2+01:00 db1 postgres 4242 - - [4-1] ${P}LOG:  statement: SELECT 1`,
    ].join('\n');
    const result = parseText(text, {});
    assert.equal(result.format, 'syslog');
    assert.equal(result.prefix, '%m [%p] %q%u@%d ');
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.events.map((e) => [e.kind, e.user, e.database, e.ts]), [
      ['connection_authorized', 'alice', 'shop', '2026-12-02T02:04:37.123+00:00'], ['log', 'alice', 'shop', '2026-12-02T02:04:37.123+00:00'],
    ]);
  });
  it('events come in the order their records begin, whatever the processes\' parts interleave (collect\'s checkpoints rely on it)', () => {
    const lines = [
      `Dec  2 02:04:37 db1 postgres[1]: [1-1] ${P}LOG:  statement: SELECT 1`,
      `Dec  2 02:04:37 db1 postgres[2]: [1-1] ${P}LOG:  statement: SELECT 2`,
      `Dec  2 02:04:37 db1 postgres[2]: [2-1] ${P}LOG:  statement: SELECT 3`,
      `Dec  2 02:04:37 db1 postgres[1]: [1-2] \tFROM t`,
      `Dec  2 02:04:37 db1 postgres[2]: [3-1] ${P}LOG:  statement: SELECT 4`,
      `Dec  2 02:04:37 db1 postgres[1]: [2-1] ${P}LOG:  statement: SELECT 5`,
    ];
    const events: PgwardenEvent[] = [];
    const parser = createParser({ format: 'syslog', prefix: '%m [%p] %q%u@%d ' }, { event: (e) => events.push(e), error: (e) => assert.fail(e.reason) });
    parser.write(lines.join('\n') + '\n');
    assert.deepEqual(events.map((e) => e.message), ['statement: SELECT 1\nFROM t', 'statement: SELECT 2', 'statement: SELECT 3'], 'sent as soon as all before are complete');
    parser.end();
    const positions = events.map((e) => e.source.position);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    assert.equal(events.length, 5);
    // a process that never sends the rest: the records after it are not held back for ever
    const idle = [`Dec  2 02:04:37 db1 postgres[9]: [1-1] ${P}LOG:  statement: SELECT 9`];
    for (let i = 0; i < 1100; i++) idle.push(`Dec  2 02:04:37 db1 postgres[3]: [${i + 1}-1] ${P}LOG:  statement: SELECT ${i}`);
    const held: PgwardenEvent[] = [];
    const second = createParser({ format: 'syslog', prefix: '%m [%p] %q%u@%d ' }, { event: (e) => held.push(e), error: () => undefined });
    second.write(idle.join('\n') + '\n');
    assert.ok(held.length > 90 && held[0]!.message === 'statement: SELECT 9', `${held.length} sent before the end`);
  });

  it('a continuation without its first part, a line without a header, NUL, and a line cut short', () => {
    const text = [
      `Dec  2 02:04:37 db1 postgres[4242]: [5-2] ${P}DETAIL:  orphan`,
      'not syslog at all',
      `Dec  2 02:04:37 db1 postgres[4242]: [6-1] ${P}LOG:  statement: SELECT 'a\u0000b'`,
      'Dec  2 02:04:37 db1 postgres[42',
    ].join('\n');
    const { events, errors } = parseText(text, { format: 'syslog', prefix: '%m [%p] %q%u@%d ' });
    assert.equal(errors.length, 3);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.message, "statement: SELECT 'a\u0000b'");
  });
});
