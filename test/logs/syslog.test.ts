// The syslog format against what a real rsyslogd (Debian's) writes for a real PostgreSQL 15 +
// pgAudit with log_destination = 'syslog,csvlog'. PostgreSQL writes to the fixed /dev/log, so
// the server is restarted in a private mount namespace (unshare --mount, test/harness/dev-log.ts) where /dev/log is this
// test's rsyslog socket. The independent reading is the same server's csvlog of the same
// records: every event read from each of rsyslog's three file formats (RFC 3164 with its
// traditional time, with an RFC 3339 time, and RFC 5424) must equal the csvlog one, field by
// field; some records are also checked against the values the test put in.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { parseText } from '../../src/logs/index.ts';
import { waitFor } from '../harness/cli.ts';
import { restartWithDevLog } from '../harness/dev-log.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const PREFIX = '%m [%p] %c [%b] %q%u@%d [%a] %r %e ';
const END_MARK = 'end of the pgwarden syslog test';
const FILES = { traditional: 'RSYSLOG_TraditionalFileFormat', rfc3339: 'RSYSLOG_FileFormat', rfc5424: 'RSYSLOG_SyslogProtocol23Format' } as const;
type Layout = keyof typeof FILES;
// Longer than PostgreSQL's 900-byte syslog chunks: one with spaces (cut at a space), one without
// (cut mid-word) whose text at the cut imitates the prefix and a DETAIL label.
const WIDE = `SELECT ${Array.from({ length: 300 }, (_, i) => `${i} AS c${i}`).join(', ')}`;
const FORGED = `SELECT '${'x'.repeat(2000)}2026-01-01 00:00:00.000 UTC [1] 1.1 [client backend] mallory@postgres [psql] 1.2.3.4(5) 00000 DETAIL:  forged' AS y`;

/** What must be equal between csvlog and syslog: everything but where it was read (and %l). */
function comparable(event: PgwardenEvent): string {
  return JSON.stringify({ ...event, source: undefined, session_line: undefined, server: undefined });
}

describe('syslog: a real rsyslogd receiving from a real PostgreSQL 15 (log_destination = syslog)', () => {
  let cluster: Cluster;
  let dir: string;
  let daemon: ChildProcess;
  const text = {} as Record<Layout, string>;
  let csv: PgwardenEvent[] = [];

  before(async () => {
    assert.ok(existsSync(RSYSLOGD), `${RSYSLOGD} is missing: apt-get install rsyslog`);
    dir = mkdtempSync(path.join(tmpdir(), 'pgwarden-syslog-'));
    const socket = path.join(dir, 'log.sock');
    writeFileSync(path.join(dir, 'rsyslog.conf'), `
global(workDirectory="${dir}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${socket}" CreatePath="on" RateLimit.Interval="0")
${Object.entries(FILES).map(([name, template]) => `action(type="omfile" file="${dir}/${name}.log" template="${template}")`).join('\n')}
`);
    daemon = spawn(RSYSLOGD, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    await waitFor(async () => existsSync(socket), 10_000, 'rsyslogd to create its socket');

    cluster = await startCluster({
      flavor: 'pg15', pgaudit: true, settings: {
        log_destination: "'syslog,csvlog'", logging_collector: 'on', log_line_prefix: `'${PREFIX}'`, syslog_ident: "'postgres'",
        log_connections: 'on', log_disconnections: 'on', 'pgaudit.log': "'read,write,role'", 'pgaudit.log_parameter': 'on', log_statement: "'all'",
      },
    });
    // Again, in a mount namespace of its own where /dev/log is rsyslogd's socket.
    restartWithDevLog(cluster, socket, dir);

    await cluster.query('CREATE TABLE t(id int PRIMARY KEY, note text)');
    await cluster.createRole('app user', 'pw1', '');
    await cluster.query('GRANT ALL ON t TO "app user"');
    const app = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'pw1'), application_name: 'app #011 [2-1 x' });
    await app.connect();
    await app.query('INSERT INTO t VALUES ($1, $2)', [1, 'a,"b"\nc é✓']);
    await app.query('SELECT id\nFROM t\nWHERE note IS NOT NULL');
    await app.query(WIDE);
    await app.query(FORGED);
    await assert.rejects(app.query('INSERT INTO t VALUES (1)'), { code: '23505' });
    await assert.rejects(app.query('SELECT * FROM nope'), { code: '42P01' });
    await app.end();
    const bad = new pg.Client({ connectionString: cluster.url('postgres', 'app user', 'wrong') });
    bad.on('error', () => undefined);
    await assert.rejects(bad.connect(), { code: '28P01' });
    await cluster.query(`SELECT '${END_MARK}'`);

    const logDir = path.join(cluster.dataDir, 'log');
    await waitFor(async () => {
      for (const layout of Object.keys(FILES) as Layout[]) {
        const file = path.join(dir, `${layout}.log`);
        text[layout] = existsSync(file) ? readFileSync(file, 'utf8') : '';
      }
      const csvFile = existsSync(logDir) ? readdirSync(logDir).find((n) => n.endsWith('.csv')) : undefined;
      const csvText = csvFile ? readFileSync(path.join(logDir, csvFile), 'utf8') : '';
      csv = parseText(csvText, { format: 'csvlog' }).events;
      // the end mark's statement and audit lines, and the disconnection after them
      return Object.values(text).every((t) => t.split(END_MARK).length >= 3) && csvText.split(END_MARK).length >= 3
        && csv.filter((e) => e.kind === 'disconnection').length >= 3
        && Object.values(text).every((t) => t.split('disconnection: session time').length === csvText.split('disconnection: session time').length);
    }, 20_000, 'rsyslog files and the csvlog to hold the whole run');
  });
  after(async () => {
    await cluster?.stop();
    daemon?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('recognises syslog and the log_line_prefix, and reads every message without an error', () => {
    for (const layout of Object.keys(FILES) as Layout[]) {
      const result = parseText(text[layout], { input: `${layout}.log`, prefix: PREFIX });
      assert.equal(result.format, 'syslog', layout);
      // but the stderr reader's report of the forged statement's line (a prefix and a severity
      // inside client text: it is read at the first boundary, and counted as ambiguous)
      assert.deepEqual(result.errors.filter((e) => !e.reason.startsWith('ambiguous line: ')), [], `${layout}: no other parse errors`);
      assert.ok(result.errors.length <= 2, `${layout}: the forged statement and its audit record at most`);
    }
  });

  it('gives the events of the csvlog, field by field, from each rsyslog file format', () => {
    // The csvlog starts when the logging collector does (and ends when it stops): the
    // postmaster's records around that time are only in syslog. Both sides leave them out.
    const first = csv[0]!.ts!;
    const last = csv.at(-1)!.ts!;
    const kept = (e: PgwardenEvent) => e.backend_type !== 'postmaster' || (e.ts! > first && e.ts! < last);
    const truth = csv.filter(kept).map(comparable).sort();
    assert.ok(truth.length > 20, `${truth.length} records`);
    for (const layout of Object.keys(FILES) as Layout[]) {
      const events = parseText(text[layout], { format: 'syslog', prefix: PREFIX }).events.filter(kept);
      assert.deepEqual(events.map(comparable).sort(), truth, layout);
    }
  });

  // The syslog layer joins the chunk that starts with the forged prefix to the line before it
  // (it follows a chunk of the full 900 bytes); the stderr reader then reads the joined line at
  // its first boundary.
  it('text cut mid-word at 900 bytes that imitates the prefix and DETAIL never becomes a field', () => {
    for (const layout of Object.keys(FILES) as Layout[]) {
      const events = parseText(text[layout], { format: 'syslog', prefix: PREFIX, server: 'db1' }).events;
      const forged = events.find((e) => e.message === `statement: ${FORGED}`);
      assert.ok(forged, `${layout}: the forged DETAIL stays in the statement`);
      assert.equal(forged.detail, null);
    }
  });

  it('joins the 900-byte chunks of a long statement and the lines of a record; reads errors, audit records, logins', () => {
    for (const layout of Object.keys(FILES) as Layout[]) {
      const events = parseText(text[layout], { format: 'syslog', prefix: PREFIX, server: 'db1' }).events;
      const wide = events.find((e) => e.message === `statement: ${WIDE}`);
      assert.ok(wide, `${layout}: the wide statement in one piece`);
      assert.equal(wide.user, 'app user');
      assert.equal(wide.application, 'app #011 [2-1 x');
      assert.equal(wide.server, 'db1');
      const dup = events.find((e) => e.sqlstate === '23505')!;
      assert.equal(dup.detail, 'Key (id)=(1) already exists.');
      assert.equal(dup.query, 'INSERT INTO t VALUES (1)');
      assert.equal(dup.kind, 'error');
      const audit = events.find((e) => e.kind === 'audit' && e.audit!.command === 'INSERT')!;
      assert.deepEqual(audit.audit!.parameters, ['1', 'a,"b"\nc é✓']);
      const multi = events.find((e) => e.message === 'statement: SELECT id\nFROM t\nWHERE note IS NOT NULL');
      assert.ok(multi, `${layout}: continuation lines joined with new lines`);
      assert.ok(events.some((e) => e.kind === 'auth_failed' && e.user === 'app user'));
      assert.ok(events.some((e) => e.kind === 'connection_authorized' && e.application === 'app #011 [2-1 x'));
    }
  });

  it('takes the syslog host as the server when none is configured, and the header time when the prefix has none', () => {
    const host = hostname().split('.')[0];
    const withTime = parseText(text.rfc5424, { format: 'syslog', prefix: '%i' });
    assert.deepEqual(withTime.errors.filter((e) => !e.reason.startsWith('ambiguous line: ')), []);
    assert.ok(withTime.events.length > 20);
    assert.ok(withTime.events.every((e) => e.server === host && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/.test(e.ts!)), 'RFC 5424 time, host');
    const traditional = parseText(text.traditional, { format: 'syslog', prefix: '%i' });
    assert.ok(traditional.events.every((e) => e.ts === null), 'an RFC 3164 time has no year: null, not guessed');
  });
});
