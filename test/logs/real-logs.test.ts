// The parsers against logs a real PostgreSQL 15 + pgAudit writes in this run: one cluster logs
// the same activity as stderr, csvlog and jsonlog at once (logging_collector), and the three
// must give the same events.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { createParser, parseText, type LogFormat } from '../../src/logs/index.ts';
import { installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PREFIX = '%m [%p] %c [%b] %q%u@%d [%a] %r %e ';
const END_MARK = 'end of the pgwarden parse test';

/** What must be equal whatever the format: everything but where it was read (and %l, counted per line in stderr). */
function comparable(event: PgwardenEvent): object {
  return { ...event, source: undefined, session_line: undefined };
}

describe('parsing real PostgreSQL 15 + pgAudit logs', () => {
  let cluster: Cluster;
  const files = {} as Record<LogFormat, string>;
  const bytes = {} as Record<LogFormat, Buffer>;
  const parsed = {} as Record<LogFormat, ReturnType<typeof parseText>>;

  before(async () => {
    cluster = await startCluster({
      flavor: 'pg15', pgaudit: true, settings: {
        log_destination: "'stderr,csvlog,jsonlog'", logging_collector: 'on', log_line_prefix: `'${PREFIX}'`,
        log_connections: 'on', log_disconnections: 'on', 'pgaudit.log': "'all'", 'pgaudit.log_parameter': 'on',
        'pgaudit.log_rows': 'on', 'pgaudit.role': "'auditor'",
      },
    });
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    try {
      await installSchema(admin, newRecorderPassword());
      await admin.query(`CREATE ROLE auditor NOLOGIN; CREATE TABLE t(id int PRIMARY KEY, note text); GRANT SELECT ON t TO auditor`);
    } finally {
      await admin.end();
    }
    await cluster.createRole('app user', 'pw1', '');
    await cluster.createRole('alice', 'pw2', '');
    await cluster.query(`GRANT ALL ON t TO "app user", alice`);

    const app = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'pw1'), application_name: 'DBeaver 24.1.0 - Main, "x"' });
    await app.connect();
    await app.query('INSERT INTO t VALUES ($1, $2), ($3, $4)', [1, 'a,"b"\nc é✓', 2, null]);
    await app.query(`SELECT 'AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.t,fake,<none>' AS x, id FROM t WHERE note <> 'x\ny'`);
    await app.query('SELECT count(*) FROM pg_catalog.pg_class');
    await app.query(`DO $$BEGIN RAISE LOG 'AUDIT: SESSION,9,1,READ,SELECT,TABLE,public.t,forged,<none>'; END$$`);
    await assert.rejects(app.query('INSERT INTO t VALUES (1)'), { code: '23505' });
    await assert.rejects(app.query('SELECT * FROM nope'), { code: '42P01' });
    await app.end();

    const bad = new pg.Client({ connectionString: cluster.url('postgres', 'alice', 'wrong password') });
    bad.on('error', () => undefined);
    await assert.rejects(bad.connect(), { code: '28P01' });

    const su = new pg.Client({ connectionString: cluster.url() });
    await su.connect();
    await su.query('INSERT INTO t SELECT g, g::text FROM generate_series(10, 12) g');
    await su.query('SET pgaudit.log_statement_once = on');
    await su.query('SELECT id FROM t WHERE id = 11');
    await su.query('SET pgaudit.log_statement_once = off');
    await su.query('SET pgaudit.log_parameter = off');
    await su.query('SELECT note FROM t WHERE id = $1', [10]);
    await su.query('CHECKPOINT');
    await assert.rejects(su.query(`SELECT pgwarden.guard_refuse(7, 'GUI tools are not allowed')`), { code: '28000' });
    await su.query(`SELECT '${END_MARK}'`);
    await su.end();

    const dir = path.join(cluster.dataDir, 'log');
    const byExtension: Record<string, LogFormat> = { '.log': 'stderr', '.csv': 'csvlog', '.json': 'jsonlog' };
    // The logging collector writes the three files on its own schedule: wait until all three
    // hold the end mark and the same number of records, unchanged over two looks.
    let previous = '';
    await waitFor(async () => {
      for (const name of readdirSync(dir)) files[byExtension[path.extname(name)]!] = path.join(dir, name);
      if (Object.keys(files).length !== 3) return false;
      const counts = (['stderr', 'csvlog', 'jsonlog'] as const).map((f) => {
        const text = readFileSync(files[f], 'utf8');
        return text.includes(END_MARK) ? parseText(text, { format: f, prefix: PREFIX }).events.length : -1;
      });
      const settled = counts[0]! > 0 && counts.every((c) => c === counts[0]) && previous === counts.join();
      previous = counts.join();
      return settled;
    }, 15_000, 'the three log files to hold the whole run');
    for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
      bytes[format] = readFileSync(files[format]);
      parsed[format] = parseText(bytes[format], { format: 'auto', prefix: PREFIX, input: files[format], server: 'pg15' });
    }
  });
  after(async () => cluster?.stop());

  it('detects each format and reads every record without an error', () => {
    for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
      assert.equal(parsed[format].format, format);
      assert.deepEqual(parsed[format].errors, [], `${format}: no parse errors`);
      assert.ok(parsed[format].events.length > 30, `${format}: ${parsed[format].events.length} events`);
    }
  });

  it('gets the same events from stderr, csvlog and jsonlog', () => {
    // The collector may interleave two processes' records differently in each file: compare in one order.
    const sorted = (events: PgwardenEvent[]) => events.map((e) => JSON.stringify(comparable(e))).sort();
    const csv = sorted(parsed.csvlog.events);
    assert.deepEqual(sorted(parsed.jsonlog.events), csv);
    assert.deepEqual(sorted(parsed.stderr.events), csv);
  });

  it('reads pgAudit records: parameters with commas, quotes, newlines and NULL; rows; OBJECT records', () => {
    for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
      const audits = parsed[format].events.filter((e) => e.kind === 'audit');
      const insert = audits.find((e) => e.audit!.command === 'INSERT' && e.user === 'app user');
      assert.ok(insert, `${format}: the INSERT`);
      assert.deepEqual(insert.audit!.parameters, ['1', 'a,"b"\nc é✓', '2', null]);
      assert.equal(insert.audit!.rows, 2);
      assert.equal(insert.audit!.class, 'WRITE');
      assert.equal(insert.application, 'DBeaver 24.1.0 - Main, "x"');
      const literal = audits.filter((e) => e.audit!.statement?.includes("'AUDIT: SESSION,1,1,READ"));
      assert.deepEqual(literal.map((e) => e.audit!.type).sort(), ['OBJECT', 'SESSION'], `${format}: the statement with AUDIT: inside is one record per audit type`);
      assert.ok(literal.every((e) => e.audit!.statement === "SELECT 'AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.t,fake,<none>' AS x, id FROM t WHERE note <> 'x\ny'"));
      assert.equal(literal.find((e) => e.audit!.type === 'OBJECT')!.audit!.object_name, 'public.t');
      assert.ok(audits.some((e) => e.audit!.statement === 'SELECT count(*) FROM pg_catalog.pg_class'), 'a statement with pg_catalog. is kept');
      assert.ok(audits.some((e) => e.audit!.command === 'CHECKPOINT'), 'CHECKPOINT is kept');
      assert.ok(!audits.some((e) => e.message!.includes('forged') && e.audit!.command !== 'DO'), 'a RAISE LOG that imitates pgAudit is not an audit record');
      const forged = parsed[format].events.find((e) => e.message === 'AUDIT: SESSION,9,1,READ,SELECT,TABLE,public.t,forged,<none>');
      assert.equal(forged?.kind, 'log');
      assert.match(forged!.context!, /at RAISE/);
      const once = audits.filter((e) => e.audit!.statement_id === audits.find((a) => a.audit!.statement === 'SELECT id FROM t WHERE id = 11')?.audit!.statement_id
        && e.session_id === audits.find((a) => a.audit!.statement === 'SELECT id FROM t WHERE id = 11')?.session_id);
      assert.deepEqual(once.map((e) => [e.audit!.type, e.audit!.statement_logged, e.audit!.parameters === null]),
        [['SESSION', 'yes', false], ['OBJECT', 'previously', true]], 'pgaudit.log_statement_once: <previously logged>');
      const unlogged = audits.find((e) => e.audit!.statement === 'SELECT note FROM t WHERE id = $1');
      assert.equal(unlogged?.audit!.parameters, null, 'pgaudit.log_parameter off: <not logged> becomes null');
    }
  });

  it('reads connections, authentication failures, disconnections, errors and guard refusals', () => {
    for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
      const events = parsed[format].events;
      const authorized = events.find((e) => e.kind === 'connection_authorized' && e.user === 'app user');
      assert.equal(authorized?.application, 'DBeaver 24.1.0 - Main, "x"', `${format}: application_name with spaces`);
      assert.equal(authorized?.database, 'postgres');
      const received = events.find((e) => e.kind === 'connection_received');
      assert.equal(received?.client_addr, '127.0.0.1');
      assert.ok(Number.isInteger(received?.client_port));
      const failed = events.find((e) => e.kind === 'auth_failed');
      assert.equal(failed?.user, 'alice');
      assert.equal(failed?.sqlstate, '28P01');
      assert.equal(failed?.severity, 'FATAL');
      const gone = events.filter((e) => e.kind === 'disconnection');
      assert.ok(gone.length >= 4 && gone.every((e) => typeof e.duration_ms === 'number' && e.duration_ms >= 0));
      const duplicate = events.find((e) => e.kind === 'error' && e.sqlstate === '23505');
      assert.match(duplicate?.detail ?? '', /Key \(id\)=\(1\) already exists/);
      assert.equal(duplicate?.query, 'INSERT INTO t VALUES (1)');
      assert.equal(events.find((e) => e.kind === 'error' && e.sqlstate === '42P01')?.message, 'relation "nope" does not exist');
      const deny = events.find((e) => e.kind === 'guard_deny');
      assert.deepEqual(deny?.guard, { rule_id: 7, reason: 'GUI tools are not allowed', problem: null });
      assert.equal(deny?.sqlstate, '28000');
      for (const e of events) assert.match(e.ts ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    }
  });

  it('gives the same events and positions however the bytes are cut into chunks', () => {
    for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
      const whole = parsed[format].events;
      for (let round = 0; round < 5; round++) {
        const events: PgwardenEvent[] = [];
        const parser = createParser({ format: 'auto', prefix: PREFIX, input: files[format], server: 'pg15' }, {
          event: (e) => events.push(e), error: (e) => assert.fail(`${format}: ${e.reason}`),
        });
        let at = 0;
        while (at < bytes[format].length) {
          const size = 1 + Math.floor(Math.random() * (round === 0 ? 3 : 4000));
          parser.write(bytes[format].subarray(at, at + size));
          at += size;
        }
        parser.end();
        assert.deepEqual(events, whole, `${format}, round ${round}`);
      }
      // Each position is the byte where the record starts.
      for (const e of whole) {
        const text = bytes[format].subarray(e.source.position, e.source.position + 40).toString('utf8');
        assert.ok(text.startsWith(format === 'jsonlog' ? '{"timestamp":"' : e.ts!.slice(0, 10)), `${format}: position ${e.source.position}`);
      }
    }
  });

  it('never throws on a log cut at a random byte, and reports the cut record', () => {
    for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
      const whole = parsed[format].events.map(comparable);
      for (let round = 0; round < 60; round++) {
        const cut = Math.floor(Math.random() * bytes[format].length);
        const result = parseText(bytes[format].subarray(0, cut), { format, prefix: PREFIX, input: files[format], server: 'pg15' });
        // Everything before the cut record is read exactly as in the whole file.
        const complete = result.events.slice(0, -1).map(comparable);
        assert.deepEqual(complete, whole.slice(0, complete.length), `${format} cut at ${cut}`);
        for (const error of result.errors) assert.ok(error.line >= 1 && error.position >= 0 && error.position <= cut);
      }
    }
  });

  it('pgwarden parse prints one JSON event per line and a summary', async () => {
    const result = await runCli(['parse', files.csvlog, files.jsonlog, '--server', 'pg15']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as PgwardenEvent);
    assert.equal(lines.length, parsed.csvlog.events.length + parsed.jsonlog.events.length);
    assert.deepEqual(lines.slice(0, parsed.csvlog.events.length), JSON.parse(JSON.stringify(parsed.csvlog.events)));
    assert.ok(lines.every((e) => e.server === 'pg15'));
    assert.match(result.stderr, /parsed 2 inputs, .* \d+ events \(.*audit \d+.*\), 0 parse errors/);
    const stderr = await runCli(['parse', files.stderr, '--prefix', PREFIX]);
    assert.equal(stderr.code, 0, stderr.stderr);
    assert.equal(stderr.stdout.trimEnd().split('\n').length, parsed.stderr.events.length);
  });
});
