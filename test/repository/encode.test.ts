// encodeBatch reads times fast for runs of events in one hour; what it says about days, hours and
// time ranges must be what Date.parse says, for every offset and across hour and day boundaries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { encodeBatch } from '../../src/repository/index.ts';

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
        { input, min: Math.min(...positions), max: Math.max(...positions), first: Math.min(...times), last: Math.max(...times) });
    }
    assert.equal(Buffer.from(batch.rows).toString().split('\n').length - 1, events.length, 'one row per event');
  });
});
