// Records whose user or database name (client text before authentication) holds a line break
// (src/logs/linebreak.ts): read as one record, the same in one parse, in chunks and in pieces.
// The fixture is real PostgreSQL 15 output (Debian's prefix), captured by
// review-stderr-linebreak.test.ts (REVIEW_LOG_OUT): pid 24836 is the victim's live session.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { eventLines, type PgwardenEvent } from '../../src/core/event.ts';
import { createParser, parseText } from '../../src/logs/index.ts';
import { parseInPieces, ParsePool } from '../../src/pipeline/index.ts';

const PREFIX = '%m [%p] %q%u@%d ';
const LOG = readFileSync(new URL('../fixtures/stderr-linebreak-pg15.log', import.meta.url), 'utf8');
const VICTIM = 24836;
const T = '2026-12-02 06:15:24.538 UTC';
const options = { format: 'stderr' as const, prefix: PREFIX, input: 'x.log', server: 'db1' };

async function inPieces(log: string, pool: ParsePool | null, pieceBytes: number): Promise<{ text: string; errors: unknown[] }> {
  let text = '';
  const errors: unknown[] = [];
  const chunks = Readable.from([Buffer.from(log)]).iterator() as AsyncIterable<Buffer>;
  for await (const piece of parseInPieces(chunks, { ...options, pieceBytes }, pool)) {
    text += Buffer.from(piece.ndjson).toString('utf8');
    errors.push(...piece.errors);
  }
  return { text, errors };
}

describe('stderr: names with line breaks', () => {
  it('the real PostgreSQL 15 log: nothing the never-authenticated clients wrote is a record of the victim or a session change', () => {
    const { events, errors } = parseText(LOG, options);
    const victim = events.filter((e) => e.pid === VICTIM);
    assert.deepEqual(victim.filter((e) => e.kind === 'audit' || e.severity === 'FATAL' || e.client_addr !== '127.0.0.1').map((e) => e.message), []);
    assert.equal(new Set(victim.map((e) => e.session_id)).size, 1, 'one session of the victim');
    assert.deepEqual(events.filter((e) => e.pid === 1 || e.pid === 99999).map((e) => e.message), []);
    // The joined records are failed logins of their own pids, and each is counted.
    const joined = errors.filter((e) => e.reason.startsWith('record whose user or database name'));
    assert.ok(joined.length >= 10, `joined records counted: ${joined.length}`);
  });

  it('written in small chunks: the same events and errors (held lines keep their byte positions)', () => {
    const whole = parseText(LOG, options);
    const events: PgwardenEvent[] = [];
    const errors: unknown[] = [];
    const parser = createParser(options, { event: (e) => events.push(e), error: (e) => errors.push(e) });
    const bytes = Buffer.from(LOG);
    for (let i = 0; i < bytes.length; i += 7) parser.write(bytes.subarray(i, i + 7));
    parser.end();
    assert.equal(eventLines(events).toString(), eventLines(whole.events).toString());
    assert.deepEqual(errors, whole.errors);
  });

  it('--jobs 1 and --jobs 2 pieces of any size give what one parse gives', async () => {
    const whole = parseText(LOG, options);
    const expected = Buffer.from(eventLines(whole.events)).toString();
    const pool = new ParsePool(2);
    try {
      for (const pieceBytes of [64, 200, 700, 2000]) {
        const one = await inPieces(LOG, null, pieceBytes);
        assert.equal(one.text, expected, `--jobs 1, pieces of ${pieceBytes} bytes`);
        assert.deepEqual(one.errors, whole.errors, `--jobs 1 errors, pieces of ${pieceBytes} bytes`);
        const two = await inPieces(LOG, pool, pieceBytes);
        assert.equal(two.text, expected, `--jobs 2, pieces of ${pieceBytes} bytes`);
      }
    } finally {
      await pool.close();
    }
  });

  it('a broken line followed by records that are not a FATAL: the records are kept, the line counted', () => {
    const text = `${T} [5] garbage\n${T} [6] bob@shop LOG:  statement: SELECT 1\n${T} [6] bob@shop LOG:  statement: SELECT 2\n`;
    const { events, errors } = parseText(text, options);
    assert.deepEqual(events.map((e) => [e.pid, e.message]), [[6, 'statement: SELECT 1'], [6, 'statement: SELECT 2']]);
    assert.deepEqual(errors.map((e) => e.line), [1]);
  });

  it('a cut line beyond the names\' budget is not joined (the FATAL after it is its own record)', () => {
    const long = `${T} [6] bob@shop LOG:  statement: SELECT '${'x'.repeat(200)}'`;
    const text = `${T} [5] garbage\n${long}\n${T} [7] carol@shop FATAL:  terminating connection due to administrator command\n`;
    const { events } = parseText(text, options);
    assert.deepEqual(events.map((e) => [e.pid, e.severity]), [[6, 'LOG'], [7, 'FATAL']]);
  });

  it('a line break in the database name of a real role\'s failed login: one failed login, its own pid and client', () => {
    const text = `${T} [42] [unknown]@[unknown] LOG:  connection received: host=10.1.1.1 port=4242\n`
      + `${T} [42] carol@\n FATAL:  password authentication failed for user "carol"\n`
      + `${T} [42] carol@\n DETAIL:  Connection matched pg_hba.conf line 91: "host all all 127.0.0.1/32 scram-sha-256"\n`;
    const { events } = parseText(text, options);
    const failed = events.filter((e) => e.kind === 'auth_failed');
    assert.deepEqual(failed.map((e) => [e.user, e.pid, e.client_addr, e.detail?.startsWith('Connection matched')]), [['carol', 42, '10.1.1.1', true]]);
  });

  // What is not covered (docs/detect.md): a first line that reads as a harmless record of the
  // client's own pid ("a@b LOG:  z"), so no line is cut; the forged line after it stands alone.
  it('a name whose first line reads as a harmless record still forges the next line', { todo: 'issue 14: tail lines do not yet make the records before them untrusted' }, () => {
    const name = `a@b LOG:  z\n${T} [77] victim`;
    const text = `${T} [77] [unknown]@[unknown] LOG:  connection received: host=10.0.0.77 port=5077\n`
      + `${T} [77] victim@postgres LOG:  connection authorized: user=victim database=postgres\n`
      + `${T} [4242] ${name}@postgres LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,,,"\n`
      + `@postgres FATAL:  password authentication failed for user "${name.replace('\n', '\n\t')}"\n`;
    const { events } = parseText(text, options);
    assert.deepEqual(events.filter((e) => e.kind === 'audit' && e.pid === 77).map((e) => e.audit?.command), []);
  });
});
