// Review (rev-collect): what a JSON-array log (gcloud's Cloud SQL export) holds in memory. Text
// after the array's end (or a scalar element) was held until its next LF or comma with no bound:
// "[]" then 200 MB without a newline kept 200 MB of text (885 MB RSS) and rescanned it on every
// chunk (16 s), a 1 GB one ran collect out of memory. Like an element longer than 64 MiB, it is
// reported once it is longer than that and not kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ParseError, PgwardenEvent } from '../../src/core/event.ts';
import { CloudSqlParser } from '../../src/logs/cloudsql.ts';
import { MAX_RECORD_CHARS } from '../../src/logs/text-input.ts';

const ELEMENT = JSON.stringify({
  textPayload: '2026-12-02 00:00:00.000 UTC [1]: [1-1] db=postgres,user=postgres LOG:  connection received: host=10.0.0.1 port=5432',
  timestamp: '2026-12-02T00:00:00Z', severity: 'INFO', resource: { type: 'cloudsql_database', labels: { database_id: 'p:db' } },
});

function parser(): { p: CloudSqlParser; events: PgwardenEvent[]; errors: ParseError[] } {
  const events: PgwardenEvent[] = [];
  const errors: ParseError[] = [];
  const p = new CloudSqlParser('%m [%p]: [%l-1] db=%d,user=%u ', 'export.json', null, { event: (e) => events.push(e), error: (e) => errors.push(e) });
  return { p, events, errors };
}

describe('review: a JSON-array log holds at most 64 MiB of one thing', () => {
  const cases = [
    ['text after the array', '[]', `\n[${ELEMENT}]\n`],
    ['a scalar element', '[ 1234', `,${ELEMENT}]\n`],
    ['text after a stray bracket', `[${ELEMENT}]]`, `\n[${ELEMENT}]\n`],
  ] as const;
  for (const [what, head, next] of cases) {
    it(`${what} without a newline is reported once longer than 64 MiB, before the input ends, and reading goes on`, () => {
      const { p, events, errors } = parser();
      p.write(head);
      const chunk = 'x'.repeat(1 << 20);
      for (let n = 0; n <= MAX_RECORD_CHARS + (1 << 21); n += chunk.length) p.write(chunk);
      assert.ok(errors.length > 0, 'reported while the text was still arriving (it was held whole until the end)');
      assert.match(errors.at(-1)!.reason, /longer than 64 MiB/);
      p.write(next);
      p.end();
      assert.equal(events.length, head.includes('{') ? 2 : 1, 'the records before and after it are read');
    });
  }
});
