// Issue 14 items 5-8, after review: what client text in the stderr prefix, stale sessions, a
// prefix that can be matched too many ways and zero-filled blocks still did. Lines are written
// the way PostgreSQL 15 writes them (client-text.test.ts reads the same shapes from a real server).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { parseText, RecordSplitter } from '../../src/logs/index.ts';

const T = '2026-12-01 10:00:00.000 UTC';
const A = '%m [%p] %q%u@%d/%a ';
const DEBIAN = '%m [%p] %q%u@%d ';
const DELETE = 'AUDIT: SESSION,2,1,WRITE,DELETE,TABLE,public.secrets,delete from public.secrets,<not logged>';

function parse(prefix: string, lines: string[]) {
  return parseText(`${lines.join('\n')}\n`, { format: 'stderr', prefix, input: 't.log', server: 's' });
}

function pick(e: PgwardenEvent) {
  return { kind: e.kind, severity: e.severity, user: e.user, session_id: e.session_id, client_addr: e.client_addr, message: e.message };
}

const RECEIVED = `${T} [100] @/[unknown] LOG:  connection received: host=10.0.0.5 port=5555`;

describe('sessions and client text, after review (issue 14 items 5-8)', () => {
  it('H1: an application name holding a disconnection record neither reclassifies an audit record nor ends the session', () => {
    const app = 'x LOG:  disconnection: session time: ';
    const { events, errors } = parse(A, [
      RECEIVED,
      `${T} [100] alice@db/[unknown] LOG:  connection authorized: user=alice database=db application_name=psql`,
      `${T} [100] alice@db/${app} LOG:  AUDIT: SESSION,2,1,WRITE,DELETE,TABLE,public.secrets,delete from public.secrets -- user=alice database=db host=x,<not logged>`,
      `${T} [100] alice@db/${app} LOG:  ${DELETE}`,
    ]);
    assert.deepEqual(events.map((e) => e.kind), ['connection_received', 'connection_authorized', 'audit', 'audit']);
    for (const e of events.slice(2)) {
      assert.equal(e.audit?.command, 'DELETE');
      assert.equal(e.client_addr, '10.0.0.5', 'the session is still known');
      assert.ok(e.session_id !== null);
    }
    assert.equal(errors.length, 2, 'both lines counted as ambiguous');
  });

  it('H1: an application name holding a READ record does not turn the real WRITE into a plain log record', () => {
    const app = 'x LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,"s';
    const { events } = parse(A, [
      RECEIVED,
      `${T} [100] alice@db/[unknown] LOG:  connection authorized: user=alice database=db application_name=${app}`,
      `${T} [100] alice@db/${app} LOG:  ${DELETE}`,
      `${T} [100] alice@db/y ${app.slice(2)} LOG:  ${DELETE}`,
    ]);
    assert.deepEqual(events.map((e) => [e.kind, e.audit?.class ?? null, e.audit?.command ?? null]), [
      ['connection_received', null, null], ['connection_authorized', null, null], ['audit', 'WRITE', 'DELETE'], ['audit', 'WRITE', 'DELETE'],
    ]);
    assert.equal(events[2]!.application, app, 'read with the application name the connection record proves');
  });

  it('H1: a connection received record in an application name neither resets the session nor moves its client; a real ERROR stays an ERROR', () => {
    const { events } = parse(A, [
      RECEIVED,
      `${T} [100] alice@db/[unknown] LOG:  connection authorized: user=alice database=db application_name=psql`,
      `${T} [100] alice@db/y LOG:  connection received: host=6.6.6.6 port=1 ERROR:  permission denied for table secrets`,
      `${T} [100] alice@db/y LOG:  z ERROR:  permission denied for table secrets`,
      `${T} [100] alice@db/psql LOG:  ${DELETE}`,
    ]);
    const sid = events[0]!.session_id;
    assert.deepEqual(events.slice(2).map(pick), [
      { kind: 'error', severity: 'ERROR', user: 'alice', session_id: sid, client_addr: '10.0.0.5', message: 'permission denied for table secrets' },
      { kind: 'error', severity: 'ERROR', user: 'alice', session_id: sid, client_addr: '10.0.0.5', message: 'permission denied for table secrets' },
      { kind: 'audit', severity: 'LOG', user: 'alice', session_id: sid, client_addr: '10.0.0.5', message: DELETE },
    ]);
  });

  it('H1: the real disconnection record of the session still ends it, even with a severity word in the application name', () => {
    const { events } = parse(A, [
      RECEIVED,
      `${T} [100] alice@db/[unknown] LOG:  connection authorized: user=alice database=db application_name=psql`,
      `${T} [100] alice@db/a ERROR:  b LOG:  disconnection: session time: 0:00:01.234 user=alice database=db host=10.0.0.5 port=5555`,
      `${T} [100] alice@db/psql LOG:  ${DELETE}`,
    ]);
    assert.equal(events[2]!.kind, 'disconnection');
    assert.equal(events[3]!.session_id, null, 'the session is over');
    assert.equal(events[3]!.client_addr, null);
  });

  it('H2: records of another backend with the same pid, of non-session processes and after a restart get nothing of a stale session', () => {
    const { events } = parse(DEBIAN, [
      `${T} [100] @ LOG:  connection received: host=10.0.0.5 port=5555`,
      `${T} [100] alice@db LOG:  connection authorized: user=alice database=db application_name=psql`,
      `${T} [100] bob@db2 ERROR:  permission denied for table x`,
      `${T} [100] LOG:  automatic vacuum of table "db.public.t": index scans: 0`,
      `${T} [100] alice@db LOG:  ${DELETE}`,
      `${T} [1] LOG:  server process (PID 100) was terminated by signal 9: Killed`,
      `${T} [1] LOG:  all server processes terminated; reinitializing`,
      `${T} [100] alice@db LOG:  ${DELETE}`,
      `${T} [101] @ LOG:  connection received: host=10.0.0.6 port=1`,
      `${T} [101] carol@db LOG:  connection authorized: user=carol database=db`,
      `${T} [1] LOG:  database system is ready to accept connections`,
      `${T} [101] carol@db LOG:  ${DELETE}`,
    ]);
    const byLine = (n: number) => events.find((e) => e.source.line === n)!;
    for (const n of [3, 4, 8, 12]) {
      assert.equal(byLine(n).session_id, null, `line ${n}: no session`);
      assert.equal(byLine(n).client_addr, null, `line ${n}: no client`);
      assert.equal(byLine(n).application, null, `line ${n}: no application`);
    }
    assert.equal(byLine(3).user, 'bob');
    assert.equal(byLine(4).user, null, 'autovacuum: no user');
    assert.equal(byLine(5).client_addr, '10.0.0.5', 'the session itself goes on');
  });

  it('H2: pieces of any size follow the restart records as one parse does', () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      const pid = 100 + (i % 3);
      lines.push(`${T} [${pid}] @ LOG:  connection received: host=10.0.0.${i} port=1`);
      lines.push(`${T} [${pid}] u${i}@db LOG:  connection authorized: user=u${i} database=db`);
      lines.push(`${T} [${pid}] u${i}@db LOG:  ${DELETE}`);
      if (i % 5 === 0) lines.push(`${T} [1] LOG:  all server processes terminated; reinitializing`);
      lines.push(`${T} [${pid}] u${i}@db LOG:  ${DELETE}`);
    }
    const text = `${lines.join('\n')}\n`;
    const whole = parseText(text, { format: 'stderr', prefix: DEBIAN, input: 'x' });
    const bytes = Buffer.from(text);
    for (const size of [1, 300, 2000]) {
      const splitter = new RecordSplitter('stderr', DEBIAN, size);
      const events: PgwardenEvent[] = [];
      const take = (piece: ReturnType<RecordSplitter['end']>) => {
        if (piece !== null) events.push(...parseText(piece.bytes, { format: 'stderr', prefix: DEBIAN, input: 'x', start: piece.start }).events);
      };
      for (let at = 0; at < bytes.length; at += 997) take(splitter.push(bytes.subarray(at, at + 997)));
      take(splitter.end());
      assert.deepEqual(events, whole.events, `pieces of ${size} bytes`);
    }
  });

  it('H4: a line whose strict reading has too many ways (a database with a space, a statement full of "@/ ") is still read', () => {
    const junk = '@/ '.repeat(60);
    const { events, errors } = parse(A, [
      `${T} [100] bob@my db/psql LOG:  AUDIT: SESSION,1,1,WRITE,DELETE,TABLE,public.secrets,"delete from t where x = '${junk}'",<not logged>`,
    ]);
    assert.deepEqual(errors, []);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'audit');
    assert.equal(events[0]!.database, 'my db');
    assert.equal(events[0]!.application, 'psql');
  });

  it('H4: when even the plausible reading runs out of steps, the first reading there is is taken and counted', () => {
    // %a%u: two adjacent free-text fields backtrack over every split of the line.
    const junk = 'b@c '.repeat(2000);
    const { events, errors } = parse('%m [%p] %a%u@%d ', [`${T} [100] app${junk}@my db LOG:  ${DELETE}`]);
    assert.equal(events.length, 1, 'the line is not lost');
    assert.equal(events[0]!.kind, 'audit');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.reason, /too many ways/);
  });

  it('M6: NUL bytes of a zero-filled block glued before a record: one error, and the record is read', () => {
    const { events, errors } = parse(DEBIAN, [
      `${T} [100] alice@db LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<not logged>`,
      `${'\0'.repeat(4096)}${T} [100] alice@db LOG:  ${DELETE}`,
    ]);
    assert.deepEqual(events.map((e) => e.audit?.command), ['SELECT', 'DELETE']);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.reason, /4096 NUL bytes/);
    assert.ok(!errors[0]!.excerpt.includes('\0'), 'no NUL in the stored excerpt');
    assert.equal(events[1]!.source.line, 2);
  });

  it('a padded %p (%5p) still follows the session', () => {
    const { events } = parse('%m [%5p] %q%u@%d ', [
      `${T} [   42] @ LOG:  connection received: host=10.0.0.5 port=5555`,
      `${T} [   42] alice@db LOG:  connection authorized: user=alice database=db`,
      `${T} [   42] alice@db LOG:  ${DELETE}`,
    ]);
    assert.equal(events[2]!.pid, 42);
    assert.equal(events[2]!.client_addr, '10.0.0.5');
  });
});
