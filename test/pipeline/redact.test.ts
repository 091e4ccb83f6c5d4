// Redaction: examples of every literal form PostgreSQL has, and property tests over generated
// statements: every literal is masked (no secret survives), and everything else — keywords,
// identifiers, quoted identifiers, operators, comments, $n parameters — is kept byte for byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvent } from '../../src/core/event.ts';
import { MASK, redactEvent, redactSql } from '../../src/pipeline/redact.ts';

describe('redactSql', () => {
  const cases: [string, string][] = [
    ["SELECT * FROM t WHERE name = 'alice' AND id = 42", 'SELECT * FROM t WHERE name = ? AND id = ?'],
    ["INSERT INTO t1 (c2) VALUES ('it''s', 3.14e-2, -7, .5)", 'INSERT INTO t1 (c2) VALUES (?, ?, -?, ?)'],
    ["SELECT E'a\\'b\\\\', e'x'", 'SELECT ?, ?'],
    ["SELECT B'1010', X'ff', N'nat', U&'d\\0061t\\+000061' UESCAPE '\\'", 'SELECT ?, ?, ?, ?'],
    ['SELECT $fn$ body with \'quotes\' $fn$, $$x$$', 'SELECT ?, ?'],
    ['SELECT $1, $2::int FROM "Weird ""Name"" 42" WHERE col1 = $3', 'SELECT $1, $2::int FROM "Weird ""Name"" 42" WHERE col1 = $3'],
    ["SELECT 'a'\n  'b' AS x", 'SELECT ? AS x'],
    ["SELECT 1 -- comment 'keeps' 2\n/* c 'x' /* nested */ 5 */ FROM t9", 'SELECT ? -- comment \'keeps\' 2\n/* c \'x\' /* nested */ 5 */ FROM t9'],
    ['SELECT 0x1F, 0o17, 0b101, 1_000_000, t.col_2, tab$1 FROM s.t', 'SELECT ?, ?, ?, ?, t.col_2, tab$1 FROM s.t'],
    ["SELECT 'unterminated", 'SELECT ?'],
    ["ALTER ROLE bob PASSWORD 'S3cret!'", 'ALTER ROLE bob PASSWORD ?'],
    ['SELECT x::numeric(10,2) FROM generate_series(1,10) x', 'SELECT x::numeric(?,?) FROM generate_series(?,?) x'],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.equal(redactSql(input), expected));
  }
});

// A small seeded generator (mulberry32): reproducible, no dependency.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Token = { text: string; literal: boolean };

const KEYWORDS = ['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'INSERT', 'INTO', 'VALUES', 'UPDATE', 'SET', 'DELETE', 'in', 'not', 'null', 'AS', 'LIMIT'];
const OPERATORS = ['=', '<>', '>=', '+', '-', '*', '/', '||', '::', ',', '(', ')', ';', '.', '[', ']'];

function generate(random: () => number, secret: string): Token[] {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  const word = (chars: string, min: number, max: number) => {
    let s = '';
    const n = min + Math.floor(random() * (max - min + 1));
    for (let i = 0; i < n; i++) s += chars[Math.floor(random() * chars.length)];
    return s;
  };
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_éß';
  const tokens: Token[] = [];
  const n = 1 + Math.floor(random() * 25);
  for (let i = 0; i < n; i++) {
    const secretText = `${secret}${word('abc \'"\\$\n\t;-/*0123456789', 0, 12)}`;
    switch (Math.floor(random() * 12)) {
      case 0: tokens.push({ text: pick(KEYWORDS), literal: false }); break;
      case 1: tokens.push({ text: word(letters, 1, 1) + word(`${letters}0123456789$`, 0, 8), literal: false }); break;
      case 2: tokens.push({ text: `"${word(`${letters}0123456789 '$-`, 1, 8).replaceAll('"', '""')}""x"`, literal: false }); break;
      case 3: tokens.push({ text: pick(OPERATORS), literal: false }); break;
      case 4: tokens.push({ text: `$${1 + Math.floor(random() * 99)}`, literal: false }); break;
      case 5: tokens.push({ text: `'${secretText.replaceAll("'", "''")}'`, literal: true }); break;
      case 6: tokens.push({ text: `E'${secretText.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`, literal: true }); break;
      case 7: {
        const tag = pick(['', 'q', 'body_1']);
        tokens.push({ text: `$${tag}$${secretText.replaceAll('$', '')}$${tag}$`, literal: true });
        break;
      }
      case 8: tokens.push({ text: pick(['42', '3.14', '.5', '1e10', '2.5E-3', '0x1F', '1_000']) + word('0123456789', 0, 0), literal: true }); break;
      case 9: tokens.push({ text: `-- ${word(letters, 0, 6)}\n`, literal: false }); break;
      case 10: tokens.push({ text: `/* ${word(`${letters} `, 0, 6)} */`, literal: false }); break;
      default: tokens.push({ text: pick(["X'0f'", "B'101'"]), literal: true });
    }
  }
  return tokens;
}

describe('redactSql properties', () => {
  it('masks every literal and keeps every other token as written (2000 generated statements)', () => {
    const random = rng(20261122);
    for (let run = 0; run < 2000; run++) {
      const secret = `SECRET${run}X`;
      const tokens = generate(random, secret);
      // a space between tokens (a newline after a -- comment is part of it)
      const sql = tokens.map((t) => t.text).join(' ');
      const expected = tokens.map((t) => (t.literal ? MASK : t.text)).join(' ');
      const out = redactSql(sql);
      assert.equal(out, expected, `statement: ${JSON.stringify(sql)}`);
      if (tokens.some((t) => t.literal)) assert.ok(!out.includes(secret), `no literal leaks from ${JSON.stringify(sql)}`);
    }
  });

  it('never throws and never grows a text without literals (fuzz)', () => {
    const random = rng(7);
    const alphabet = "ab1.'\"$-/*\n\\eExXuU&;:()";
    for (let run = 0; run < 5000; run++) {
      let s = '';
      const n = Math.floor(random() * 30);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)];
      const out = redactSql(s);
      assert.equal(typeof out, 'string');
      assert.ok(out.length <= s.length, `redaction only shortens: ${JSON.stringify(s)} -> ${JSON.stringify(out)}`);
    }
  });
});

describe('redactEvent', () => {
  it('masks statement, query and parameters on a copy, leaving the original alone', () => {
    const event = newEvent('audit', 'db1', { input: 'x.log', position: 0, line: 1 });
    event.audit = {
      type: 'SESSION', statement_id: 1, substatement_id: 1, class: 'WRITE', command: 'INSERT', object_type: 'TABLE', object_name: 'public.t',
      statement: "INSERT INTO t VALUES ('card 4111', $1)", parameters: ['secret', null, '<long param suppressed>'], statement_logged: 'yes', rows: null,
    };
    event.query = "SELECT 'q'";
    const both = redactEvent(event, { literals: true, parameters: true });
    assert.equal(both.audit!.statement, 'INSERT INTO t VALUES (?, $1)');
    assert.deepEqual(both.audit!.parameters, ['?', null, '?']);
    assert.equal(both.query, 'SELECT ?');
    assert.equal(event.audit.statement, "INSERT INTO t VALUES ('card 4111', $1)", 'the source event is unchanged');
    const onlyParameters = redactEvent(event, { literals: false, parameters: true });
    assert.equal(onlyParameters.audit!.statement, event.audit.statement);
    assert.deepEqual(onlyParameters.audit!.parameters, ['?', null, '?']);
    assert.equal(redactEvent(event, { literals: false, parameters: false }), event);
  });
});

describe('redactEvent on parsed log records', () => {
  it('leaves no literal in any field of an audit record, a statement log line or a parameters detail', async () => {
    const { parseText } = await import('../../src/logs/index.ts');
    const log = [
      `2026-11-22 10:00:00.123 UTC [42] alice@shop LOG:  AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.t,"INSERT INTO t VALUES ($1, 'lit-secret', 4711)","param-secret,x y"`,
      `2026-11-22 10:00:01.000 UTC [42] alice@shop LOG:  duration: 0.5 ms  statement: UPDATE t SET card = '4111-secret' WHERE id = 98765`,
      `2026-11-22 10:00:02.000 UTC [42] alice@shop LOG:  execute <unnamed>: SELECT * FROM t WHERE name = $1`,
      `2026-11-22 10:00:02.000 UTC [42] alice@shop DETAIL:  parameters: $1 = 'bind-secret'`,
      '',
    ].join('\n');
    const { events, errors } = parseText(log, { input: 'x.log', prefix: '%m [%p] %q%u@%d ' });
    assert.deepEqual(errors, []);
    assert.equal(events.length, 3);
    const redacted = events.map((e) => redactEvent(e, { literals: true, parameters: true }));
    const text = JSON.stringify(redacted);
    for (const secret of ['lit-secret', '4711', 'param-secret', '4111-secret', '98765', 'bind-secret']) {
      assert.ok(JSON.stringify(events).includes(secret), `the log has ${secret}`);
      assert.ok(!text.includes(secret), `${secret} is masked`);
    }
    assert.equal(redacted[0]!.message, 'AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.t,"INSERT INTO t VALUES ($1, ?, ?)","?,?"');
    assert.equal(redacted[1]!.message, 'duration: 0.5 ms  statement: UPDATE t SET card = ? WHERE id = ?');
    assert.equal(redacted[2]!.detail, 'parameters: $1 = ?');
  });
});
