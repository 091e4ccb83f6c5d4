// The shared lanes and back-pressure (src/pipeline/lane-buffer.ts): batches of whole entries up to
// max_events, partitions taken in the order they were made (a rotated file before its successor,
// even when the successor was read in between), entries released only once every lane is past
// them, a skip hook for what a sink had before a restart, and room for the reader when released.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { LaneBuffer, type BufferEntry } from '../../src/pipeline/lane-buffer.ts';
import type { Sink } from '../../src/pipeline/types.ts';

interface Entry extends BufferEntry { n: number }

function entry(input: string, n: number): Entry {
  return { n, events: [newEvent('log', 'db1', { input, position: n, line: null })] };
}

function sink(name: string): Sink {
  return { name, type: 'test', inputs: undefined, deliver: async () => undefined, close: async () => undefined };
}

const positions = (events: PgwardenEvent[]) => events.map((e) => `${e.source.input}:${e.source.position}`);

describe('LaneBuffer', () => {
  it('takes partitions in the order they were made, whole entries up to max, and releases what every lane is past', async () => {
    const released: number[] = [];
    const settled: string[] = [];
    const buffer = new LaneBuffer<Entry>('src', {
      settled: async (sinkName, entries) => { settled.push(`${sinkName}:${entries.map((e) => e.n).join(',')}`); },
      released: (entries) => { released.push(...entries.map((e) => e.n)); },
    });
    const fast = buffer.lane(sink('fast'));
    const slow = buffer.lane(sink('slow'));
    buffer.addPartition('old');                      // found first, nothing parsed yet
    buffer.push(entry('new', 100), 'new');
    buffer.push(entry('old', 1), 'old');
    buffer.push(entry('new', 101), 'new');
    buffer.push(entry('old', 2), 'old');             // read after the successor's first records
    const first = (await fast.next(3))!;
    assert.deepEqual(positions(first.events), ['old:1', 'old:2', 'new:100'], 'the older partition first, then the next, up to max');
    assert.equal(first.messageId, 'src:old:1:3');
    assert.equal(await fast.next(3), first, 'the batch in flight until it is settled');
    await fast.settle(first);
    assert.deepEqual(released, [], 'slow has settled nothing: nothing released');
    assert.equal(buffer.buffered, 4);
    const slowBatch = (await slow.next(10))!;
    assert.deepEqual(positions(slowBatch.events), ['old:1', 'old:2', 'new:100', 'new:101']);
    await slow.settle(slowBatch);
    assert.deepEqual(released, [1, 2, 100], 'released once both lanes are past');
    assert.deepEqual(settled, ['fast:1,2,100', 'slow:1,2,100,101']);
    const rest = (await fast.next(10))!;
    assert.deepEqual(positions(rest.events), ['new:101']);
    await fast.settle(rest);
    assert.deepEqual(released, [1, 2, 100, 101]);
    assert.equal(buffer.buffered, 0);
    assert.equal(await fast.next(10), null);
    buffer.drop('old');
    buffer.push(entry('old', 3), 'old');             // a partition made again goes last
    buffer.push(entry('new', 102), 'new');
    assert.deepEqual(positions((await slow.next(10))!.events), ['new:102', 'old:3']);
  });

  it('passes over what the skip hook names and wakes a reader waiting for room', async () => {
    const buffer = new LaneBuffer<Entry>('src', { skip: (_sink, e) => e.n % 2 === 0 });
    const lane = buffer.lane(sink('out'));
    for (let n = 1; n <= 6; n++) buffer.push(entry('f', n));
    const controller = new AbortController();
    let room = false;
    const waiting = buffer.waitForRoom(5, controller.signal).then(() => { room = true; });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(room, false, '6 events held, the limit is 5');
    const batch = (await lane.next(2))!;
    assert.deepEqual(batch.events.map((e) => e.source.position), [1, 3]);
    await lane.settle(batch);
    await waiting;
    assert.equal(room, true);
    assert.deepEqual((await lane.next(10))!.events.map((e) => e.source.position), [5]);
  });
});
