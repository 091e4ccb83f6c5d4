// encodeBatch reads times fast for runs of events in one hour; what it says about days, hours and
// time ranges must be what Date.parse says, for every offset and across hour and day boundaries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { BatchEncoder } from '../../src/repository/encode.ts';
import { encodeBatch, EVENT_COLUMNS } from '../../src/repository/index.ts';

function iso(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

describe('encodeBatch', () => {
  it('counts hours and days, and spans time ranges, as Date.parse reads the times', () => {
    const events: PgwardenEvent[] = [];
    let ms = Date.UTC(2026, 11, 31, 21, 58, 59, 998);
    const offsets = [0, 0, 0, 120, 120, -300, 330, 0, 545, -570, 0];
    for (let i = 0; i < 3000; i++) {
      ms += (i * 7919) % 4000;
      const offset = offsets[Math.floor(i / 7) % offsets.length]!;
      const ts = i % 500 === 7 ? `${iso(ms, 0).slice(0, 23)}Z` : iso(ms, offset);
      events.push({ ...newEvent(i % 3 === 0 ? 'connection_received' : 'audit', i % 2 ? 'a' : null, { input: `f${i % 2}`, position: i * 10, line: i + 1 }), ts });
    }
    events.push({ ...newEvent('log', null, { input: 'f0', position: 1, line: 1 }), ts: '2026-13-45T99:00:00.000+00:00' });
    const batch = encodeBatch(events);

    const dated = events.filter((e) => !Number.isNaN(Date.parse(e.ts!)));
    assert.equal(batch.allDated, false, 'the impossible date is undated');
    assert.deepEqual(batch.days, [...new Set(dated.map((e) => new Date(Date.parse(e.ts!)).toISOString().slice(0, 10)))].sort());
    const hours = new Map<string, number>();
    for (const e of dated) {
      const hour = new Date(Math.floor(Date.parse(e.ts!) / 3_600_000) * 3_600_000).toISOString();
      const key = `${hour} ${e.kind} ${e.server ?? ''}`;
      hours.set(key, (hours.get(key) ?? 0) + 1);
    }
    assert.deepEqual(new Map(batch.counts.map((c) => [`${c.hour} ${c.kind} ${c.server}`, c.events])), hours);
    for (const input of ['f0', 'f1']) {
      const mine = dated.filter((e) => e.source.input === input);
      const times = mine.map((e) => Date.parse(e.ts!));
      const positions = mine.map((e) => e.source.position);
      assert.deepEqual(batch.ranges.find((r) => r.input === input),
        // per server and input: f0's events have none, f1's are server a's
        { input, server: input === 'f0' ? null : 'a', min: Math.min(...positions), max: Math.max(...positions), first: Math.min(...times), last: Math.max(...times) });
    }
    // One binary COPY row per event, each of every column, ts NULL (-1) only for the impossible date.
    const rows = Buffer.from(batch.rows);
    const tsLengths: number[] = [];
    for (let at = 0; at < rows.length;) {
      assert.equal(rows.readInt16BE(at), EVENT_COLUMNS.length);
      at += 2;
      for (let column = 0; column < EVENT_COLUMNS.length; column++) {
        const length = rows.readInt32BE(at);
        if (column === 0) tsLengths.push(length);
        at += 4 + Math.max(length, 0);
      }
    }
    assert.deepEqual(tsLengths, events.map((e) => (e.ts!.startsWith('2026-13') ? -1 : 8)));

  });

  it('writes the same row whichever column the memory has to grow at', () => {
    const event: PgwardenEvent = {
      ...newEvent('audit', 'db1', { input: 'grow.log', position: 12345678901, line: 77 }), ts: '2026-11-22T08:00:01.123+00:00', pid: 4242,
      session_id: '6630a1f0.2a', session_line: 9, user: 'alice', client_port: 5432, message: 'AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>',
      duration_ms: 1.5, guard: { rule_id: 1, reason: 'x', problem: null },
      audit: { type: 'SESSION', statement_id: 1, substatement_id: 1, class: 'READ', command: 'SELECT', object_type: null, object_name: null,
        statement: 'SELECT 1', parameters: ['a', null], statement_logged: 'yes', rows: 3 },
    };
    const expected = Buffer.from(encodeBatch([event]).rows);
    // ByteWriter starts with at least 64 bytes and doubles: these sizes make it grow at every column.
    for (let size = 64; size <= expected.length; size++) {
      const encoder = new BatchEncoder(size);
      encoder.add(event);
      assert.ok(Buffer.from(encoder.finish().rows).equals(expected), `starting with ${size} bytes`);
    }
  });
});
