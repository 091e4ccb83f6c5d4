// The event field table (core/event-fields.ts) and what derives from it: the generated JSON
// writer, COPY row encoder, docs tables and SQL modules are what scripts/generate.ts makes of
// their sources today; the table covers every field of the event shape the parsers build, in
// the order they build it; each field's JSON kind and column type go together. The table against
// the repository's migrations: test/repository/schema.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EVENT_FIELDS, EVENT_GROUPS } from '../../src/core/event-fields.ts';
import { eventLines, newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { parseAudit } from '../../src/logs/pgaudit.ts';
import { EVENT_COLUMNS } from '../../src/repository/encode.ts';
import { generated, stale } from '../../scripts/generate.ts';

/** An event with every field set (strings that need escaping, numbers, an audit record). */
function fullEvent(): PgwardenEvent {
  const e = newEvent('audit', 'db1', { input: 'post"gres\\.log', position: 1234, line: 7 });
  const text = (n: number) => `v${n}\n\u0001"é😀\ud800`;
  Object.assign(e, {
    ts: '2026-11-22T08:15:30.123+00:00', pid: 42, session_id: text(1), session_line: 2 ** 40, user: text(2), database: text(3),
    application: text(4), client_addr: '[local]', client_port: 5432, severity: 'LOG', sqlstate: '42501', message: text(5),
    detail: text(6), hint: text(7), context: text(8), query: text(9), backend_type: 'client backend', duration_ms: 1.25,
  });
  const audit = parseAudit('AUDIT: SESSION,3,1,WRITE,INSERT,TABLE,public.t,"INSERT INTO t VALUES ($1, $2)","x,",12');
  assert.equal(typeof audit, 'object', String(audit));
  e.audit = audit as Exclude<typeof audit, string>;
  e.guard = { rule_id: 4, reason: 'no\u0000GUI', problem: null };
  e.ddl = null;
  e.tamper = { findings: [{ object: 'o', state: 'CHANGED', expected: 'a', actual: 'b' }], resolved: false };
  return e;
}

describe('event field table', () => {
  it('the generated code, docs and SQL modules are what scripts/generate.ts makes of their sources', () => {
    assert.deepEqual(stale(), [], 'run npm run generate, and commit what it writes');
    // and the check compares something: the regions it writes are there and filled
    const files = generated();
    assert.match(files.get('src/core/event.ts')!, /generated:begin event-json[^\n]*\n[\s\S]{500,}export function writeEventJson[\s\S]+\/\/ generated:end event-json/);
    assert.match(files.get('src/repository/encode.ts')!, /binaryTextArray\(w, a\.parameters\)/);
    assert.ok(files.get('docs/event-model.md')!.includes('| `client_addr`, `client_port` | string, number |'));
  });

  it('a changed table shows in what is generated (the staleness check can fail)', async () => {
    const table = EVENT_FIELDS as unknown as { doc: string }[];
    const saved = table[2]!.doc;
    table[2]!.doc = 'changed';
    try {
      assert.ok(stale().includes('docs/event-model.md'));
    } finally {
      table[2]!.doc = saved;
    }
    assert.ok(!stale().includes('docs/event-model.md'));
  });

  it('covers every field of the event, in the order newEvent() and the audit parser build them', () => {
    const e = fullEvent();
    const paths: string[] = [];
    for (const [key, value] of Object.entries(e)) {
      const group = EVENT_GROUPS.find((g) => g.name === key);
      if (group) for (const leaf of Object.keys(value as object)) paths.push(`${key}.${leaf}`);
      else paths.push(key);
    }
    assert.deepEqual(EVENT_FIELDS.map((f) => f.path), paths);
    assert.deepEqual(EVENT_COLUMNS, EVENT_FIELDS.map((f) => f.column));
    assert.equal(new Set(EVENT_COLUMNS).size, EVENT_COLUMNS.length, 'one column per field');
  });

  it('the generated JSON writer writes JSON.stringify\'s bytes, with every field set and with none', () => {
    const full = fullEvent();
    const empty = newEvent('log', null, { input: '-', position: 0, line: null });
    assert.equal(Buffer.from(eventLines([full, empty])).toString('utf8'), `${JSON.stringify(full)}\n${JSON.stringify(empty)}\n`);
  });

  it('pairs each JSON kind with the column types that can hold it', () => {
    const fits: Record<string, string[]> = {
      string: ['text', 'timestamptz'], number: ['integer', 'bigint', 'double precision'], strings: ['text[]'], object: ['jsonb'],
    };
    for (const f of EVENT_FIELDS) assert.ok(fits[f.json]!.includes(f.type), `${f.path}: ${f.json} in a ${f.type} column`);
    assert.ok(EVENT_FIELDS[0]!.doc !== '' && EVENT_FIELDS.filter((f) => f.path.startsWith('audit.'))[0]!.doc !== '', 'a first row has its own doc');
  });

  it('docs/event-model.md and docs/repository.md hold the generated tables', () => {
    const model = readFileSync(new URL('../../docs/event-model.md', import.meta.url), 'utf8');
    const repository = readFileSync(new URL('../../docs/repository.md', import.meta.url), 'utf8');
    for (const f of EVENT_FIELDS) {
      assert.ok(repository.includes(`| \`${f.column}\` | ${f.type}`), `docs/repository.md: column ${f.column}`);
      const leaf = f.path.slice(f.path.indexOf('.') + 1);
      assert.ok(model.includes(`\`${f.path.includes('.') && f.path.startsWith('source.') ? 'source' : leaf}\``), `docs/event-model.md: ${f.path}`);
    }
  });
});
