// Hostile review of f2cf3bc: pieces (parse --jobs 1 handing sessions on, --jobs 2 with the
// splitter following them) must read what one parse reads. The splitter picks the cut with
// PrefixMatcher.match(), which knows no session: where the session's proven names make a line an
// extra line (DETAIL, STATEMENT …) of the record before, match() may read it as a record start.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { eventLines } from '../../src/core/event.ts';
import { parseText } from '../../src/logs/index.ts';
import { parseInPieces, ParsePool } from '../../src/pipeline/index.ts';

const PREFIX = '%m [%p] %q%u@%d ';
const T = '2026-12-02 06:15:24.538 UTC';

async function inPieces(log: string, pool: ParsePool | null, pieceBytes: number): Promise<{ text: string; errors: unknown[] }> {
  let text = '';
  const errors: unknown[] = [];
  const chunks = Readable.from([Buffer.from(log)]).iterator() as AsyncIterable<Buffer>;
  for await (const piece of parseInPieces(chunks, { format: 'stderr', prefix: PREFIX, server: 'db1', input: 'x.log', pieceBytes }, pool)) {
    text += Buffer.from(piece.ndjson).toString('utf8');
    errors.push(...piece.errors);
  }
  return { text, errors };
}

describe('review: pieces and one parse', () => {
  // A tenant database named `d ERROR:  e` (CREATE DATABASE by a tenant admin; legal). Its
  // session's ERROR has a DETAIL and a STATEMENT line: with the proven database they are extra
  // lines; match() reads them as ERROR records ("e DETAIL:  …"), so the splitter may cut there.
  const db = 'd ERROR:  e';
  let log = `${T} [77] [unknown]@[unknown] LOG:  connection received: host=10.0.0.77 port=5077\n`
    + `${T} [77] alice@${db} LOG:  connection authorized: user=alice database=${db} application_name=psql\n`;
  for (let i = 0; i < 40; i++) {
    log += `${T} [77] alice@${db} ERROR:  permission denied for table pay\n`
      + `${T} [77] alice@${db} DETAIL:  try ${i}\n`
      + `${T} [77] alice@${db} STATEMENT:  SELECT * FROM hr.pay -- ${i}\n`;
  }

  it('a database name holding a severity word: --jobs 1, --jobs 2 and one parse agree', async () => {
    const whole = parseText(log, { format: 'stderr', prefix: PREFIX, input: 'x.log', server: 'db1' });
    assert.equal(whole.events.filter((e) => e.query?.startsWith('SELECT * FROM hr.pay')).length, 40, 'the sample: one parse keeps every STATEMENT');
    const expected = Buffer.from(eventLines(whole.events)).toString();
    const pool = new ParsePool(2);
    try {
      for (const pieceBytes of [64, 300, 1000]) {
        const one = await inPieces(log, null, pieceBytes);
        assert.equal(one.text, expected, `--jobs 1, pieces of ${pieceBytes} bytes`);
        assert.deepEqual(one.errors, whole.errors, `--jobs 1 errors, pieces of ${pieceBytes} bytes`);
        const two = await inPieces(log, pool, pieceBytes);
        assert.equal(two.text, expected, `--jobs 2, pieces of ${pieceBytes} bytes`);
      }
    } finally {
      await pool.close();
    }
  });
});
