// Lanes and back-pressure, one module for every source that buffers (logfile, cloudwatch, sqs,
// nats): received entries (each with the events of one record, log event or message) wait in
// order until every lane has settled them, and only then are they released upstream (an SQS
// message deleted, a NATS message acknowledged, a file's events dropped from memory). Each lane
// takes whole entries, so a batch never splits one. A source reads only while the buffer has
// room, so a slow or unreachable sink holds reading back instead of filling memory.
//
// Entries live in partitions, each in order (logfile: one per file; the others use one). A batch
// takes from the partitions in the order they were first pushed to, so a rotated file's records
// go out before its successor's even when the successor was read in between.
import type { PgwardenEvent } from '../core/event.ts';
import type { Lane, Pending, Sink, Wake } from './types.ts';
import { Waiters } from './wake.ts';

/**
 * Back-pressure, the same for every source: events held in memory for the slowest sink before
 * a source stops reading (for logfile, per file) until the sinks catch up.
 */
export const MAX_BUFFERED_EVENTS = 20_000;

export interface BufferEntry {
  /** possibly none: an entry that only moves a checkpoint or releases a message */
  events: PgwardenEvent[];
}

export interface LaneBufferHooks<E extends BufferEntry> {
  /** An entry this lane had already settled before a restart: passed over, neither delivered nor settled again. */
  skip?(sink: string, entry: E): boolean;
  /** A lane settled these entries (delivered, filtered out, or without events): record it before the lane moves on. */
  settled?(sink: string, entries: E[]): Promise<void>;
  /** Every lane is past these entries: acknowledge them upstream and forget them. */
  released?(entries: E[]): void;
}

interface Partition<E> {
  entries: E[];
  /** sequence of entries[0] within the partition */
  first: number;
}

interface LaneState<E> {
  sink: Sink;
  /** per partition: sequence of the next entry to look at */
  cursors: Map<string, number>;
  inflight: { pending: Pending; entries: E[]; ends: Map<string, number> } | null;
}

export class LaneBuffer<E extends BufferEntry> {
  /** in the order they were first pushed to */
  private readonly partitions = new Map<string, Partition<E>>();
  private events = 0;
  private readonly lanes = new Map<string, LaneState<E>>();
  private readonly waiters = new Waiters();
  private readonly roomWaiters = new Set<() => void>();
  private stopped = false;

  constructor(private readonly input: string, private readonly hooks: LaneBufferHooks<E>) {}

  get laneCount(): number {
    return this.lanes.size;
  }

  /** Events held for the slowest lane. */
  get buffered(): number {
    return this.events;
  }

  /** Entries not yet released (for keeping upstream leases alive). */
  held(): readonly E[] {
    if (this.partitions.size === 1) return this.partitions.values().next().value!.entries;
    return [...this.partitions.values()].flatMap((partition) => partition.entries);
  }

  /** Makes a partition now, so that it takes its place in the order before its first entry (a file followed, not yet parsed). */
  addPartition(partition: string): void {
    if (!this.partitions.has(partition)) this.partitions.set(partition, { entries: [], first: 0 });
  }

  push(entry: E, partition = ''): void {
    this.addPartition(partition);
    const into = this.partitions.get(partition)!;
    into.entries.push(entry);
    this.events += entry.events.length;
    this.waiters.wake('change');
  }

  /** Forgets an emptied partition (a file no longer followed), so that a long run does not keep one per file ever seen. */
  drop(partition: string): void {
    const gone = this.partitions.get(partition);
    if (!gone || gone.entries.length > 0) return;
    this.partitions.delete(partition);
    for (const lane of this.lanes.values()) lane.cursors.delete(partition);
  }

  lane(sink: Sink): Lane {
    const lane: LaneState<E> = { sink, cursors: new Map(), inflight: null };
    for (const [key, partition] of this.partitions) lane.cursors.set(key, partition.first);
    this.lanes.set(sink.name, lane);
    return {
      next: (max) => this.next(lane, max),
      settle: (pending) => this.settle(lane, pending),
    };
  }

  private async next(lane: LaneState<E>, max: number): Promise<Pending | null> {
    if (lane.inflight) return lane.inflight.pending;
    for (;;) {
      const taken: E[] = [];
      const events: PgwardenEvent[] = [];
      const ends = new Map<string, number>();
      let full = false;
      for (const [key, partition] of this.partitions) {
        if (full) break;
        let cursor = Math.max(lane.cursors.get(key) ?? partition.first, partition.first);
        const end = partition.first + partition.entries.length;
        let takenHere = 0;
        while (cursor < end) {
          const entry = partition.entries[cursor - partition.first]!;
          if (this.hooks.skip?.(lane.sink.name, entry)) {
            cursor++;
            if (takenHere === 0) lane.cursors.set(key, cursor);
            continue;
          }
          if (events.length > 0 && events.length + entry.events.length > max) {
            full = true;
            break;
          }
          taken.push(entry);
          takenHere++;
          for (const event of entry.events) events.push(event);
          cursor++;
        }
        if (takenHere > 0) ends.set(key, cursor);
      }
      this.release();
      if (taken.length === 0) return null;
      if (events.length === 0) {
        // nothing to deliver: settle at once and look further
        await this.hooks.settled?.(lane.sink.name, taken);
        for (const [key, end] of ends) lane.cursors.set(key, end);
        this.release();
        continue;
      }
      const head = events[0]!.source;
      const pending: Pending = { events, messageId: `${this.input}:${head.input}:${head.position}:${events.length}` };
      lane.inflight = { pending, entries: taken, ends };
      return pending;
    }
  }

  private async settle(lane: LaneState<E>, pending: Pending): Promise<void> {
    const inflight = lane.inflight;
    if (!inflight || inflight.pending !== pending) return;
    await this.hooks.settled?.(lane.sink.name, inflight.entries);
    for (const [key, end] of inflight.ends) lane.cursors.set(key, end);
    lane.inflight = null;
    this.release();
  }

  /** Releases the entries every lane is past. */
  private release(): void {
    if (this.lanes.size === 0) return;
    let released = false;
    for (const [key, partition] of this.partitions) {
      let low = Infinity;
      for (const lane of this.lanes.values()) low = Math.min(low, lane.cursors.get(key) ?? partition.first);
      const count = low - partition.first;
      if (count <= 0) continue;
      const gone = partition.entries.splice(0, count);
      partition.first = low;
      for (const entry of gone) this.events -= entry.events.length;
      this.hooks.released?.(gone);
      released = true;
    }
    if (released) for (const wake of [...this.roomWaiters]) wake();
  }

  /** Resolves once fewer than `limit` events wait (or on stop). */
  waitForRoom(limit: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.events < limit || this.stopped || signal.aborted) {
          this.roomWaiters.delete(check);
          signal.removeEventListener('abort', check);
          resolve();
        }
      };
      this.roomWaiters.add(check);
      signal.addEventListener('abort', check);
      check();
    });
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    return this.waiters.wait(ms, signal, this.stopped);
  }

  stop(): void {
    this.stopped = true;
    this.waiters.wake('stopped');
    for (const wake of [...this.roomWaiters]) wake();
  }
}
