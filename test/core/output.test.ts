import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render, shorten, type Column } from '../../src/cli/output.ts';
import { parseSince } from '../../src/guard/index.ts';

interface Row { name: string; note: string | null; at: Date }
const columns: Column<Row>[] = [
  { header: 'name', value: (r) => r.name },
  { header: 'note', value: (r) => r.note },
  { header: 'at', value: (r) => r.at },
];
const rows: Row[] = [
  { name: 'plain', note: null, at: new Date('2026-11-01T08:00:00.123Z') },
  { name: 'has,comma', note: 'say "hi"\nthere', at: new Date('2026-11-01T08:00:01Z') },
];

describe('report output', () => {
  it('quotes CSV as RFC 4180 does', () => {
    assert.equal(render(rows, columns, 'csv'),
      'name,note,at\r\nplain,,2026-11-01T08:00:00.123Z\r\n"has,comma","say ""hi""\nthere",2026-11-01T08:00:01.000Z\r\n');
  });
  it('writes JSON with null for absent values and ISO times', () => {
    assert.deepEqual(JSON.parse(render(rows, columns, 'json'))[0], { name: 'plain', note: null, at: '2026-11-01T08:00:00.123Z' });
    assert.equal(render(rows, columns, 'ndjson').split('\n').length, 3);
  });
  it('aligns a table and keeps each row on one line', () => {
    const lines = render(rows, columns, 'table').trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[0]!.indexOf('note'), lines[3]!.indexOf('say'));
  });
});

describe('statement text in a table', () => {
  const long = { name: 'x', note: `SELECT ${'a, '.repeat(100)}b FROM t`, at: new Date(0) };
  const cut: Column<Row>[] = [{ header: 'note', value: (r) => r.note, maxWidth: 20 }, { header: 'name', value: (r) => r.name }];
  it('cuts a long cell with … in a table only', () => {
    assert.equal(render([long], cut, 'table').split('\n')[2], 'SELECT a, a, a, a,…  x');
    assert.equal((JSON.parse(render([long], cut, 'json')) as { note: string }[])[0]!.note, long.note);
    assert.ok(render([long], cut, 'csv').includes(long.note));
  });
  it('counts characters, not UTF-16 units, and splits no emoji', () => {
    assert.equal(shorten('🐘🐘🐘🐘', 3), '🐘🐘…');
    assert.equal(shorten('short', 10), 'short');
  });
});

describe('--since', () => {
  const now = new Date('2026-11-22T12:00:00Z');
  it('accepts durations and ISO times', () => {
    assert.equal(parseSince('1h', now).toISOString(), '2026-11-22T11:00:00.000Z');
    assert.equal(parseSince('2d', now).toISOString(), '2026-11-20T12:00:00.000Z');
    assert.equal(parseSince('2026-11-01T08:00:00Z', now).toISOString(), '2026-11-01T08:00:00.000Z');
  });
  it('refuses anything else, naming it', () => {
    assert.throws(() => parseSince('1 fortnight', now), /--since "1 fortnight" is not a duration/);
  });
});
