// What the cloudwatch, sqs and nats sources share: received entries (each with the events of
// one log event or message) wait in order until every lane has settled them, and only then are
// they released upstream (an SQS message deleted, a NATS message acknowledged). Each lane takes
// whole entries, so a batch never splits one. A source reads only while the buffer has room,
// so a slow or unreachable sink holds reading back instead of filling memory.
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

interface LaneState<E> {
  sink: Sink;
  /** sequence of the next entry to look at */
  cursor: number;
  inflight: { pending: Pending; entries: E[]; end: number } | null;
}

export class LaneBuffer<E extends BufferEntry> {
  private entries: E[] = [];
  /** sequence of entries[0] */
  private first = 0;
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
    return this.entries;
  }

  push(entry: E): void {
    this.entries.push(entry);
    this.events += entry.events.length;
    this.waiters.wake('change');
  }

  lane(sink: Sink): Lane {
    const lane: LaneState<E> = { sink, cursor: this.first, inflight: null };
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
      let cursor = Math.max(lane.cursor, this.first);
      const end = this.first + this.entries.length;
      while (cursor < end) {
        const entry = this.entries[cursor - this.first]!;
        if (this.hooks.skip?.(lane.sink.name, entry)) {
          cursor++;
          if (taken.length === 0) lane.cursor = cursor;
          continue;
        }
        if (events.length > 0 && events.length + entry.events.length > max) break;
        taken.push(entry);
        for (const event of entry.events) events.push(event);
        cursor++;
      }
      this.release();
      if (taken.length === 0) return null;
      if (events.length === 0) {
        // nothing to deliver: settle at once and look further
        await this.hooks.settled?.(lane.sink.name, taken);
        lane.cursor = cursor;
        this.release();
        continue;
      }
      const head = events[0]!.source;
      const pending: Pending = { events, messageId: `${this.input}:${head.input}:${head.position}:${events.length}` };
      lane.inflight = { pending, entries: taken, end: cursor };
      return pending;
    }
  }

  private async settle(lane: LaneState<E>, pending: Pending): Promise<void> {
    const inflight = lane.inflight;
    if (!inflight || inflight.pending !== pending) return;
    await this.hooks.settled?.(lane.sink.name, inflight.entries);
    lane.cursor = inflight.end;
    lane.inflight = null;
    this.release();
  }

  /** Releases the entries every lane is past. */
  private release(): void {
    if (this.lanes.size === 0) return;
    let low = Infinity;
    for (const lane of this.lanes.values()) low = Math.min(low, lane.cursor);
    const count = low - this.first;
    if (count <= 0) return;
    const gone = this.entries.splice(0, count);
    this.first = low;
    for (const entry of gone) this.events -= entry.events.length;
    this.hooks.released?.(gone);
    for (const wake of [...this.roomWaiters]) wake();
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
