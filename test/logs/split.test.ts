// Parsing in pieces (RecordSplitter, worker threads) must give exactly the events and errors of
// one sequential parse, and the fast event writer exactly JSON.stringify's text.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { ByteWriter } from '../../src/core/byte-writer.ts';
import { eventLines, newEvent, writeEventJson, type PgwardenEvent } from '../../src/core/event.ts';
import { parseText, RecordSplitter, type LogFormat } from '../../src/logs/index.ts';
import { parseInPieces, ParsePool } from '../../src/pipeline/index.ts';

const PREFIX = '%m [%p] %q%u@%d ';
let seed = 11;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const STATEMENTS = [
  'SELECT 1',
  "SELECT 'AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>'",
  'SELECT a,\n       b\n  FROM t',
  "INSERT INTO t VALUES ('2024-05-01 12:34:56.789 CEST,\"x\"')",
  "SELECT 'line one\n2024-05-01 12:34:56.789 CEST [1] LOG:  not a record'",
  'SELECT \'é✓ ünïcode\'',
];

/** The same records as each format writes them, with malformed lines here and there. */
function generate(records: number): Record<'stderr' | 'csvlog' | 'jsonlog', string> {
  const out = { stderr: '', csvlog: '', jsonlog: '' };
  for (let i = 0; i < records; i++) {
    const ts = `2024-05-01 12:34:${String(10 + (i % 50)).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')} UTC`;
    const statement = pick(STATEMENTS);
    const error = rand() < 0.1;
    const message = error ? 'duplicate key value violates unique constraint "t_pkey"' : `AUDIT: SESSION,${i},1,READ,SELECT,TABLE,public.t,"${statement.replaceAll('"', '""')}",<none>`;
    const head = `${ts} [${100 + (i % 7)}] alice@shop `;
    out.stderr += `${head}${error ? 'ERROR' : 'LOG'}:  ${message.replaceAll('\n', '\n\t')}\n`;
    if (error) out.stderr += `${head}DETAIL:  Key (id)=(1) already exists.\n${head}STATEMENT:  ${statement.replaceAll('\n', '\n\t')}\n`;
    const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
    out.csvlog += `${ts},"alice","shop",${100 + (i % 7)},"10.0.0.1:5555",6630a1f0.2a,${i},"SELECT",${ts},3/7,0,${error ? 'ERROR' : 'LOG'},${error ? '23505' : '00000'},${q(message)},${error ? q('Key (id)=(1) already exists.') : ''},,,,,${error ? q(statement) : ''},,,"psql","client backend",,0\n`;
    out.jsonlog += JSON.stringify({ timestamp: ts, user: 'alice', dbname: 'shop', pid: 100 + (i % 7), error_severity: error ? 'ERROR' : 'LOG',
      message, ...(error ? { detail: 'Key (id)=(1) already exists.', statement } : {}) }) + '\n';
    if (rand() < 0.02) {
      out.stderr += 'garbage line without a prefix\n';
      out.csvlog += 'garbage,"unclosed\n';
      out.jsonlog += '{"not json\n';
    }
  }
  return out;
}

function sequential(text: string, format: LogFormat) {
  return parseText(text, { format, prefix: format === 'stderr' ? PREFIX : undefined, input: 'x.log', server: 'db1' });
}

describe('parsing in pieces', () => {
  const logs = generate(600);

  for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
    it(`${format}: pieces of any size give the events, positions and errors of one parse`, () => {
      const whole = sequential(logs[format], format);
      assert.ok(whole.events.length >= 600 && whole.errors.length > 0, 'the sample has events and errors');
      const bytes = Buffer.from(logs[format]);
      for (const pieceBytes of [1, 100, 700, 5000]) {
        const splitter = new RecordSplitter(format, format === 'stderr' ? PREFIX : null, pieceBytes);
        const events: PgwardenEvent[] = [];
        const errors: unknown[] = [];
        const parsePiece = (piece: ReturnType<RecordSplitter['end']>) => {
          if (piece === null) return;
          const result = parseText(piece.bytes, { format, prefix: format === 'stderr' ? PREFIX : undefined, input: 'x.log', server: 'db1', start: piece.start });
          events.push(...result.events);
          errors.push(...result.errors);
        };
        // Fed in random chunk sizes, as a file or a pipe delivers it.
        for (let at = 0; at < bytes.length;) {
          const size = 1 + Math.floor(rand() * 3000);
          parsePiece(splitter.push(bytes.subarray(at, at + size)));
          at += size;
        }
        parsePiece(splitter.end());
        assert.deepEqual(events, whole.events, `${format}, pieces of ${pieceBytes} bytes`);
        assert.deepEqual(errors, whole.errors, `${format}, pieces of ${pieceBytes} bytes`);
      }
    });
  }

  it('sessions without %c reach every piece: in turn on one thread, and side by side on several', async () => {
    // Sessions open in one piece and go on in later ones: the application and client of their
    // connection records, and the synthetic session id, must be on every record of the session.
    let log = '';
    const open = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const pid = 200 + (i % 13);
      const ts = `2024-05-01 12:${String(10 + Math.floor(i / 60) % 50).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')} UTC`;
      if (!open.has(pid) || rand() < 0.01) {
        if (open.has(pid)) log += `${ts} [${pid}] bob@shop LOG:  disconnection: session time: 0:00:01.000 user=bob database=shop host=10.0.0.${pid % 200} port=5${pid}\n`;
        log += `${ts} [${pid}] [unknown]@[unknown] LOG:  connection received: host=10.0.0.${pid % 200} port=5${pid}\n`;
        log += `${ts} [${pid}] bob@shop LOG:  connection authorized: user=bob database=shop application_name=app-${pid}\n`;
        open.set(pid, i);
      }
      log += `${ts} [${pid}] bob@shop LOG:  AUDIT: SESSION,${i},1,READ,SELECT,,,SELECT ${i},<none>\n`;
    }
    const whole = parseText(log, { format: 'stderr', prefix: PREFIX, input: 'x.log', server: 'db1' });
    assert.ok(whole.events.filter((e) => e.kind === 'audit').every((e) => e.session_id !== null && e.application === `app-${e.pid}`), 'the sample: every audit record in a session');
    const expected = Buffer.from(eventLines(whole.events)).toString();
    const run = async (pool: ParsePool | null) => {
      let text = '';
      const chunks = Readable.from([Buffer.from(log)]).iterator() as AsyncIterable<Buffer>;
      for await (const piece of parseInPieces(chunks, { format: 'stderr', prefix: PREFIX, server: 'db1', input: 'x.log', pieceBytes: 4096 }, pool)) {
        text += Buffer.from(piece.ndjson).toString('utf8');
      }
      return text;
    };
    assert.equal(await run(null), expected, 'pieces in turn on this thread');
    const pool = new ParsePool(2);
    try {
      assert.equal(await run(pool), expected, 'pieces side by side on two threads');
    } finally {
      await pool.close();
    }
  });

  it('on worker threads, in order, for an input of several pieces', async () => {
    const big = generate(30_000).stderr; // > 2 MiB: several pieces
    assert.ok(Buffer.byteLength(big) > 2 * 1024 * 1024 + 1);
    const whole = sequential(big, 'stderr');
    const expected = Buffer.from(eventLines(whole.events)).toString();
    const pool = new ParsePool(2);
    try {
      const chunks = Readable.from([Buffer.from(big)]).iterator() as AsyncIterable<Buffer>;
      const decided = { format: null, prefix: null };
      let text = '';
      let events = 0;
      const errors = [];
      for await (const piece of parseInPieces(chunks, { format: 'auto', server: 'db1', input: 'x.log' }, pool, decided)) {
        text += Buffer.from(piece.ndjson).toString('utf8');
        events += piece.events;
        errors.push(...piece.errors);
      }
      assert.deepEqual(decided, { format: 'stderr', prefix: PREFIX, unsure: true }, 'recognised; not sure, as the sample has garbage lines');
      assert.equal(events, whole.events.length);
      assert.equal(text, expected);
      assert.deepEqual(errors, whole.errors);
    } finally {
      await pool.close();
    }
  });
});

describe('writeEventJson', () => {
  it('writes exactly the UTF-8 of what JSON.stringify writes', () => {
    const all = (['stderr', 'csvlog', 'jsonlog'] as const).flatMap((f) => sequential(generate(200)[f], f).events);
    const odd = ['', '"', '\\', '\u0000\u001f\u007f', '\ud800 lone', 'pair \ud83d\ude00', 'tab\tnew\nline\r', '</script>', 'é✓'];
    // Each also inside a longer string.
    for (const text of [...odd, ...odd.map((t) => `a longer string around ${t} and after it`)]) {
      const e = { ...newEvent('ddl', text, { input: text, position: 0, line: null }), message: text, user: text, duration_ms: -0,
        ddl: { id: 1, txid: 2, event: 'ddl_command_end', current_user: text, command_tag: 'CREATE TABLE', object_type: null, object_identity: text,
          schema: null, in_extension: false, statement: text, change_ticket: null, server_addr: null, server_port: null, detail: null } };
      all.push(e);
      all.push({ ...newEvent('audit', null, { input: 'x', position: 1, line: 1 }), pid: Number.NaN,
        audit: { type: 'OBJECT', statement_id: 1, substatement_id: 2, class: 'READ', command: 'SELECT', object_type: 'TABLE', object_name: text,
          statement: text, parameters: [text, null, ''], statement_logged: 'yes', rows: null } });
      all.push({ ...newEvent('tamper', 's', { input: 'tamper:s/d', position: 3, line: null }), tamper: { findings: [{ object: text, state: 'MISSING', expected: 'x', actual: '' }], resolved: false } });
    }
    // Numbers of every size and sign, as String() writes them.
    for (const n of [0, 7, 10, 99, 100, 12345678901234, Number.MAX_SAFE_INTEGER, 2 ** 60, -1, -0, 1.5, 1e21, 123.456e-10]) {
      all.push({ ...newEvent('disconnection', 'n', { input: 'n', position: Math.abs(Math.trunc(n)) || 0, line: 1 }), duration_ms: n, pid: n });
    }
    for (const event of all) {
      const w = new ByteWriter(16);
      writeEventJson(w, event);
      assert.equal(Buffer.from(w.result()).toString('hex'), Buffer.from(JSON.stringify(event)).toString('hex'), JSON.stringify(event));
    }
    assert.equal(Buffer.from(eventLines(all)).toString(), all.map((e) => JSON.stringify(e) + '\n').join(''));
  });
});
