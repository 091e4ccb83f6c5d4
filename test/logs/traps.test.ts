// The known traps of PostgreSQL server logs, one test each, plus property and fuzz tests of
// the parsers. Real logs come first (real-logs.test.ts); lines here are written the way
// PostgreSQL writes them for what a single test cluster cannot produce (older csvlog column
// sets, translated severities, SSL suffixes) and for generated prefixes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAudit, parseText, PrefixMatcher, splitCsv } from '../../src/logs/index.ts';
import { isoTimestamp, zoneOffset } from '../../src/logs/timestamp.ts';

const TS = '2024-05-01 12:34:56.789 CEST';
const ISO = '2024-05-01T12:34:56.789+02:00';

function one(text: string, options: Parameters<typeof parseText>[1] = {}) {
  const result = parseText(text, { input: 'test.log', ...options });
  assert.deepEqual(result.errors, [], 'no parse errors');
  assert.equal(result.events.length, 1, 'one event');
  return result.events[0]!;
}

describe('stderr traps', () => {
  it('joins TAB continuation lines and takes DETAIL/HINT/CONTEXT/STATEMENT from their own prefixed lines', () => {
    const prefix = '%m [%p] %q%u@%d ';
    const text = `${TS} [42] alice@shop ERROR:  first line\n\tsecond line\n\t\tindented third\n`
      + `${TS} [42] alice@shop DETAIL:  the detail\n\tcontinued\n`
      + `${TS} [42] alice@shop HINT:  a hint\n`
      + `${TS} [42] alice@shop CONTEXT:  SQL function\n`
      + `${TS} [42] alice@shop STATEMENT:  SELECT 1\n\t${TS} [42] alice@shop LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>\n`;
    const e = one(text, { prefix });
    assert.equal(e.message, 'first line\nsecond line\n\tindented third');
    assert.equal(e.detail, 'the detail\ncontinued');
    assert.equal(e.hint, 'a hint');
    assert.equal(e.context, 'SQL function');
    assert.equal(e.query, `SELECT 1\n${TS} [42] alice@shop LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>`, 'a statement line that looks like a record stays in the statement');
    assert.equal(e.kind, 'error');
    assert.equal(e.ts, ISO);
    assert.equal(e.user, 'alice');
  });

  it('reads a statement that merely contains "AUDIT:" as a plain log record', () => {
    const e = one(`${TS} [42] bob@shop LOG:  statement: SELECT 'AUDIT: SESSION,1,1,READ,SELECT,TABLE,t,x,<none>'\n`, { prefix: '%m [%p] %q%u@%d ' });
    assert.equal(e.kind, 'log');
    assert.equal(e.audit, null);
  });

  it('stops the prefix at %q for processes without a session', () => {
    const result = parseText(`${TS} [7] LOG:  checkpoint starting: time\n${TS} [8] u@d LOG:  hello\n`, { prefix: '%m [%p] %q%u@%d ' });
    assert.deepEqual(result.events.map((e) => [e.pid, e.user, e.database, e.message]), [[7, null, null, 'checkpoint starting: time'], [8, 'u', 'd', 'hello']]);
  });

  it('maps translated severities and labels (lc_messages de, fr, es, ja, ru, zh_CN) to English', () => {
    const cases: [string, string, string][] = [
      ['FEHLER', 'ERROR', 'TIPP'], ['WARNUNG', 'WARNING', 'DETAIL'], ['PANIK', 'PANIC', 'ANWEISUNG'],
      ['ERREUR', 'ERROR', 'ASTUCE '], ['ATTENTION', 'WARNING', 'DÉTAIL'],
      ['ERROR', 'ERROR', 'DETALLE'], ['LOG', 'LOG', 'SENTENCIA'],
      ['FATAL', 'FATAL', '詳細'], ['ERROR', 'ERROR', 'ヒント'],
      ['ОШИБКА', 'ERROR', 'ПОДРОБНОСТИ'], ['ВАЖНО', 'FATAL', 'ПОДСКАЗКА'], ['СООБЩЕНИЕ', 'LOG', 'ОПЕРАТОР'],
      ['错误', 'ERROR', '详情'], ['致命错误', 'FATAL', '提示'], ['日志', 'LOG', '语句'],
    ];
    for (const [word, english, label] of cases) {
      const text = `${TS} [42] u@d ${word}:  bericht\n${TS} [42] u@d ${label}:  extra\n`;
      const e = one(text, { prefix: '%m [%p] %q%u@%d ' });
      assert.equal(e.severity, english, word);
      const extra = [e.detail, e.hint, e.query].filter((v) => v !== null);
      assert.deepEqual(extra, ['extra'], `${label} attaches to the record`);
    }
    const csv = one(`${TS},"u","d",42,"[local]",6630a1f0.2a,1,"SELECT",${TS},3/1,0,FEHLER,42P01,"Relation »x« existiert nicht",,,,,,"SELECT * FROM x",15,,"psql","client backend",,0\n`);
    assert.equal(csv.severity, 'ERROR');
    assert.equal(csv.kind, 'error');
    assert.equal(csv.client_addr, '[local]');
    assert.equal(csv.client_port, null);
  });

  it('reports a line without the prefix as a parse error with its line and byte position, and goes on', () => {
    const text = `${TS} [1] u@d LOG:  one\ngarbage here\n${TS} [2] u@d LOG:  two\n`;
    const result = parseText(text, { prefix: '%m [%p] %q%u@%d ', input: 'x.log' });
    assert.deepEqual(result.events.map((e) => e.message), ['one', 'two']);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]!.line, 2);
    assert.equal(result.errors[0]!.position, text.indexOf('garbage'));
    assert.equal(result.errors[0]!.input, 'x.log');
    assert.match(result.errors[0]!.reason, /log_line_prefix/);
  });

  it('recognises common prefixes without --prefix, and says so when it cannot', () => {
    const debian = parseText(`${TS} [42] alice@shop LOG:  hello\n${TS} [43] LOG:  checkpoint\n`);
    assert.equal(debian.prefix, '%m [%p] %q%u@%d ');
    assert.equal(debian.events[0]!.user, 'alice');
    const rds = parseText('2024-05-01 10:00:00 UTC:10.0.0.5(51234):app@orders:[4242]:LOG:  connection authorized: user=app database=orders\n');
    assert.equal(rds.prefix, '%t:%r:%u@%d:[%p]:');
    assert.deepEqual([rds.events[0]!.client_addr, rds.events[0]!.client_port, rds.events[0]!.pid, rds.events[0]!.ts], ['10.0.0.5', 51234, 4242, '2024-05-01T10:00:00.000+00:00']);
    const odd = parseText('<<odd 42>> LOG:  hello\n');
    assert.equal(odd.prefix, '%i');
    assert.equal(odd.events[0]!.message, 'hello');
    assert.equal(odd.events[0]!.pid, null);
  });

  it('refuses a --prefix with an escape PostgreSQL does not have (a typo, most likely)', () => {
    assert.throws(() => parseText('x', { prefix: '%m [%z] ' }), /--prefix "%m \[%z\] " has %z, which is not a log_line_prefix escape/);
    assert.throws(() => parseText('x', { prefix: '%m %' }), /ends with a lone %/);
  });
});

describe('csvlog and jsonlog traps', () => {
  const row = (columns: number) => {
    const base = `${TS},"alice","shop",42,"10.0.0.1:5555",6630a1f0.2a,3,"SELECT",${TS},3/7,0,LOG,00000,"AUDIT: SESSION,1,1,READ,SELECT,,,""SELECT 1, 2"",<none>",,,,,,,,,"my app"`;
    return columns === 23 ? base : columns === 24 ? `${base},"client backend"` : `${base},"client backend",,-123`;
  };

  it('reads the 23-column (PostgreSQL 12), 24-column (13) and 26-column (14+) sets alike', () => {
    for (const columns of [23, 24, 26]) {
      const e = one(row(columns) + '\n');
      assert.equal(e.kind, 'audit', `${columns} columns`);
      assert.equal(e.audit!.statement, 'SELECT 1, 2');
      assert.equal(e.application, 'my app');
      assert.equal(e.backend_type, columns === 23 ? null : 'client backend');
      assert.deepEqual([e.client_addr, e.client_port, e.session_id, e.session_line, e.ts], ['10.0.0.1', 5555, '6630a1f0.2a', 3, ISO]);
    }
  });

  it('counts a row with the wrong number of columns and reads the next one', () => {
    const result = parseText(`${TS},"a","b",1,,x.1,1,,${TS},,0,LOG,00000,"short"\n${row(26)}\n`, { format: 'csvlog' });
    assert.equal(result.events.length, 1);
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0]!.reason, /14 columns/);
    assert.equal(result.errors[0]!.line, 1);
  });

  it('keeps quoted newlines inside a csvlog field and counts lines after it', () => {
    const text = row(26).replace('""SELECT 1, 2""', '""SELECT 1,\n 2""') + '\n' + row(26) + '\n';
    const result = parseText(text, { format: 'csvlog' });
    assert.equal(result.events[0]!.audit!.statement, 'SELECT 1,\n 2');
    assert.equal(result.events[1]!.source.line, 3);
  });

  it('reads jsonlog records that omit null keys', () => {
    const e = one('{"timestamp":"2024-05-01 12:34:56.789 UTC","pid":7,"error_severity":"LOG","message":"checkpoint starting: time","backend_type":"checkpointer"}\n');
    assert.deepEqual([e.user, e.database, e.application, e.client_addr, e.sqlstate, e.detail, e.pid, e.ts],
      [null, null, null, null, null, null, 7, '2024-05-01T12:34:56.789+00:00']);
  });

  it('counts a jsonlog line that is not JSON', () => {
    const result = parseText('{"timestamp":"2024-05-01 12:34:56.789 UTC","message":"ok"}\n{"timestamp": "cut\n', { format: 'jsonlog' });
    assert.equal(result.events.length, 1);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]!.line, 2);
  });
});

describe('message traps', () => {
  it('reads every PARAMETER form pgAudit writes, and ROWS', () => {
    const p = (text: string) => parseAudit(`AUDIT: SESSION,3,2,WRITE,INSERT,TABLE,public.t,"INSERT INTO t VALUES ($1, $2, $3)",${text}`);
    assert.equal((p('<not logged>') as { parameters: unknown }).parameters, null);
    assert.deepEqual((p('<none>') as { parameters: unknown }).parameters, []);
    assert.deepEqual((p('"1,""a,""""b"""""",,<long param suppressed>"') as { parameters: unknown }).parameters, ['1', 'a,"b"', null, '<long param suppressed>']);
    const once = p('<previously logged>');
    assert.ok(typeof once !== 'string');
    assert.equal(once.parameters, null);
    const both = parseAudit('AUDIT: OBJECT,3,2,READ,SELECT,TABLE,public.t,<previously logged>,<previously logged>,17');
    assert.ok(typeof both !== 'string');
    assert.deepEqual([both.statement, both.statement_logged, both.parameters, both.rows], [null, 'previously', null, 17]);
    const off = parseAudit('AUDIT: SESSION,1,1,READ,SELECT,,,<not logged>,<not logged>');
    assert.ok(typeof off !== 'string');
    assert.deepEqual([off.statement, off.statement_logged, off.rows], [null, 'no', null]);
    const name = parseAudit('AUDIT: OBJECT,1,1,READ,SELECT,TABLE,"public.""odd, name""",SELECT 1,<none>');
    assert.ok(typeof name !== 'string');
    assert.equal(name.object_name, 'public."odd, name"');
  });

  it('turns a broken pgAudit record into a log event plus a counted parse error', () => {
    const result = parseText(`${TS} [1] u@d LOG:  AUDIT: SESSION,x,1,READ\n`, { prefix: '%m [%p] %q%u@%d ' });
    assert.equal(result.events.length, 1);
    assert.equal(result.events[0]!.kind, 'log');
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0]!.reason, /pgAudit/);
  });

  it('reads connection messages whose unquoted values contain spaces', () => {
    const prefix = '%m [%p] %q%u@%d ';
    const a = one(`${TS} [9] app user@shop LOG:  connection authorized: user=app user database=shop application_name=DBeaver 24.1.0 - Main SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)\n`, { prefix });
    assert.deepEqual([a.kind, a.user, a.database, a.application], ['connection_authorized', 'app user', 'shop', 'DBeaver 24.1.0 - Main']);
    const r = one(`${TS} [9] [unknown]@[unknown] LOG:  replication connection authorized: user=repl application_name=walreceiver\n`, { prefix });
    assert.deepEqual([r.kind, r.user, r.application], ['connection_authorized', 'repl', 'walreceiver']);
    const local = one(`${TS} [9] [unknown]@[unknown] LOG:  connection received: host=[local]\n`, { prefix });
    assert.deepEqual([local.kind, local.client_addr, local.client_port, local.user], ['connection_received', '[local]', null, null]);
    const gone = one(`${TS} [9] app user@shop LOG:  disconnection: session time: 1:02:03.456 user=app user database=shop host=[local]\n`, { prefix });
    assert.deepEqual([gone.kind, gone.duration_ms, gone.user, gone.client_addr], ['disconnection', 3723456, 'app user', '[local]']);
  });

  it('recognises authentication failures and guard lines without %e in the prefix', () => {
    const prefix = '%m [%p] %q%u@%d ';
    const fail = one(`${TS} [9] bob@shop FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "bob", database "shop", no encryption\n`, { prefix });
    assert.equal(fail.kind, 'auth_failed');
    const deny = one(`${TS} [9] eve@shop FATAL:  pgwarden: connection refused for role "eve" to database "shop" from application "DBeaver 24.1: x": GUI tools are not allowed\n${TS} [9] eve@shop DETAIL:  Refused by connection guard rule 3.\n`, { prefix });
    assert.equal(deny.kind, 'guard_deny');
    assert.deepEqual([deny.user, deny.database, deny.application, deny.guard], ['eve', 'shop', 'DBeaver 24.1: x', { rule_id: 3, reason: 'GUI tools are not allowed', problem: null }]);
    const notRecorded = one(`${TS} [9] eve@shop LOG:  pgwarden guard: refusal not recorded in pgwarden.connection_attempts (dblink is not installed): {"rule_id": 3, "message": "GUI tools are not allowed", "decision": "deny"}\n`, { prefix });
    assert.equal(notRecorded.kind, 'log');
    assert.deepEqual(notRecorded.guard, { rule_id: 3, reason: 'GUI tools are not allowed', problem: 'not_recorded' });
  });
});

// ---- property and fuzz tests --------------------------------------------------------------

let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const word = (chars: string, min: number, max: number) => Array.from({ length: min + Math.floor(rand() * (max - min + 1)) }, () => pick([...chars])).join('');

describe('property: any log_line_prefix round-trips', () => {
  it('reads back the values written through 500 random prefixes', () => {
    const separators = [' ', ' [', '] ', '@', ':', ',', ' - ', '|', ' x=', '(', ') '];
    for (let round = 0; round < 500; round++) {
      const escapes = ['m', 't', 'n', 'p', 'l', 'c', 'e', 'u', 'd', 'a', 'r', 'h', 'x', 'v', 'b', 'i', 'Q', 's', 'P'];
      const chosen = escapes.filter(() => rand() < 0.4);
      const values = {
        user: word('abcdefghij_0123', 1, 10), database: word('shop_orders', 1, 8), app: word('abcXYZ .-_/', 1, 14).trim() || 'a',
        host: `10.${Math.floor(rand() * 255)}.0.${Math.floor(rand() * 255)}`, port: 1024 + Math.floor(rand() * 60000),
        pid: 1 + Math.floor(rand() * 99999), line: 1 + Math.floor(rand() * 999), session: '6630a1f0.2a', sqlstate: pick(['42P01', '23505', '22012']),
      };
      const render: Record<string, string> = {
        m: TS, t: '2024-05-01 12:34:56 CEST', n: '1714559696.789', p: String(values.pid), l: String(values.line), c: values.session,
        e: values.sqlstate, u: values.user, d: values.database, a: values.app, r: `${values.host}(${values.port})`, h: values.host,
        x: '0', v: '3/7', b: 'client backend', i: 'SELECT', Q: '-42', s: '2024-05-01 12:00:00 CEST', P: '',
      };
      let prefix = '';
      let line = '';
      for (const letter of chosen) {
        // "%r(" is ambiguous in PostgreSQL's own output (%r ends in "(port)"): not generated.
        let sep = pick(separators);
        while ((letter === 'r' || letter === 'h') && sep.startsWith('(')) sep = pick(separators);
        const pad = rand() < 0.1 && letter !== 'a' ? (rand() < 0.5 ? '-' : '') + String(2 + Math.floor(rand() * 12)) : '';
        prefix += `%${pad}${letter}${sep}`;
        let value = render[letter]!;
        if (pad) value = pad.startsWith('-') ? value.padEnd(Number(pad.slice(1))) : value.padStart(Number(pad));
        line += value + sep;
      }
      if (prefix.includes('%%')) continue;
      const message = `AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.t,"SELECT 'AUDIT:', 1\nFROM pg_catalog.pg_class, t",<none>`;
      const text = `${line}LOG:  ${message.replaceAll('\n', '\n\t')}\n`;
      const result = parseText(text, { prefix, input: 'gen.log' });
      const context = `prefix ${JSON.stringify(prefix)}, line ${JSON.stringify(line)}`;
      assert.deepEqual(result.errors, [], context);
      const e = result.events[0]!;
      assert.equal(e.kind, 'audit', context);
      assert.equal(e.audit!.statement, "SELECT 'AUDIT:', 1\nFROM pg_catalog.pg_class, t", context);
      if (chosen.includes('u')) assert.equal(e.user, values.user, context);
      if (chosen.includes('d')) assert.equal(e.database, values.database, context);
      if (chosen.includes('p')) assert.equal(e.pid, values.pid, context);
      if (chosen.includes('l')) assert.equal(e.session_line, values.line, context);
      if (chosen.includes('c')) assert.equal(e.session_id, values.session, context);
      if (chosen.includes('e')) assert.equal(e.sqlstate, values.sqlstate, context);
      if (chosen.includes('r')) assert.deepEqual([e.client_addr, e.client_port], [values.host, values.port], context);
      if (chosen.includes('m')) assert.equal(e.ts, ISO, context);
      else if (chosen.includes('n')) assert.equal(e.ts, '2024-05-01T10:34:56.789+00:00', context);
      else if (chosen.includes('t')) assert.equal(e.ts, '2024-05-01T12:34:56.000+02:00', context);
    }
  });

  it('matches an application_name that contains the prefix separators', () => {
    const m = new PrefixMatcher('%m [%a] %u@%d ');
    assert.ok(m.match(`${TS} [my] app [x] alice@shop LOG:  hi`));
    const e = one(`${TS} [my] app [x] alice@shop LOG:  hi\n`, { prefix: '%m [%a] %u@%d ' });
    assert.deepEqual([e.application, e.user, e.database], ['my] app [x', 'alice', 'shop']);
  });
});

describe('property: pgAudit CSV fields round-trip', () => {
  const quoted = (field: string) => (/[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field);
  it('splits 2000 random field lists as pgAudit joined them, and refuses a stray quote', () => {
    for (let round = 0; round < 2000; round++) {
      const fields = Array.from({ length: 1 + Math.floor(rand() * 11) }, () => (rand() < 0.15 ? null : word('ab ,"\n\r\tx1<>', 1, 12)));
      const text = fields.map((f) => (f === null ? '' : quoted(f))).join(',');
      assert.deepEqual(splitCsv(text), fields, JSON.stringify(text));
      // A quote inside an unquoted field, or text after a closing quote, is broken quoting.
      const plain = fields.findIndex((f) => f !== null && !/[",\r\n]/.test(f));
      if (plain >= 0) {
        const broken = fields.map((f, i) => (f === null ? '' : i === plain ? `${f}"` : quoted(f))).join(',');
        assert.equal(splitCsv(broken), null, JSON.stringify(broken));
      }
      const closed = fields.findIndex((f) => f !== null && /[",\r\n]/.test(f));
      if (closed >= 0) {
        const broken = fields.map((f, i) => (f === null ? '' : i === closed ? `${quoted(f)}x` : quoted(f))).join(',');
        assert.equal(splitCsv(broken), null, JSON.stringify(broken));
      }
    }
  });
});

describe('property: timestamps read in any order', () => {
  it('reads 5000 timestamps (runs in one second, new seconds, other zones, broken digits) as a regular expression does', () => {
    const reference = (text: string) => {
      const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{3}))? (.+)$/.exec(text);
      const offset = m ? zoneOffset(m[4]!) : null;
      return m && offset !== null ? `${m[1]}T${m[2]}.${m[3] ?? '000'}${offset}` : null;
    };
    let second = '2024-05-01 12:34:56';
    for (let round = 0; round < 5000; round++) {
      if (rand() < 0.1) second = `2024-05-0${1 + Math.floor(rand() * 9)} 1${Math.floor(rand() * 10)}:3${Math.floor(rand() * 10)}:5${Math.floor(rand() * 10)}`;
      let text = `${second}${rand() < 0.8 ? `.${String(Math.floor(rand() * 1000)).padStart(3, '0')}` : ''} ${pick(['UTC', 'UTC', 'CEST', '+05:30', 'XYZ'])}`;
      if (rand() < 0.1) {
        const at = Math.floor(rand() * text.length);
        text = text.slice(0, at) + pick(['x', ' ', '-', '9', '']) + text.slice(at + 1);
      }
      assert.equal(isoTimestamp(text), reference(text), JSON.stringify(text));
    }
  });
});

describe('fuzz: no input makes a parser throw', () => {
  it('survives random bytes, random cuts and random splices in every format', () => {
    const samples = {
      stderr: `${TS} [42] alice@shop LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,"SELECT 1,\n\t2",<none>\n${TS} [42] alice@shop ERROR:  boom\n${TS} [42] alice@shop STATEMENT:  SELECT é✓\n`,
      csvlog: `${TS},"alice","shop",42,"10.0.0.1:5555",6630a1f0.2a,3,"SELECT",${TS},3/7,0,LOG,00000,"AUDIT: SESSION,1,1,READ,SELECT,,,""SELECT 1,\n2"",<none>",,,,,,,,,"é✓","client backend",,0\n`,
      jsonlog: '{"timestamp":"2024-05-01 12:34:56.789 UTC","pid":7,"error_severity":"LOG","message":"AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>","application_name":"é✓"}\n',
    };
    for (const [format, sample] of Object.entries(samples) as [keyof typeof samples, string][]) {
      const bytes = Buffer.from(sample.repeat(5));
      for (let round = 0; round < 300; round++) {
        const mutated = Buffer.from(bytes);
        const kind = round % 3;
        if (kind === 0) for (let k = 0; k < 5; k++) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
        const input = kind === 1 ? mutated.subarray(0, Math.floor(rand() * mutated.length))
          : kind === 2 ? Buffer.concat([mutated.subarray(0, Math.floor(rand() * mutated.length)), mutated.subarray(Math.floor(rand() * mutated.length))]) : mutated;
        for (const f of [format, 'auto'] as const) {
          const result = parseText(input, { format: f, prefix: format === 'stderr' ? '%m [%p] %q%u@%d ' : undefined });
          for (const error of result.errors) assert.ok(error.position >= 0 && error.position <= input.length && error.line >= 1);
          for (const event of result.events) assert.ok(event.source.position >= 0 && event.source.position < input.length);
        }
      }
    }
  });
});
