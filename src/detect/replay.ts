// Replay: logs (any format pgwarden reads, gzip-compressed or not, or pgwarden's own JSON lines)
// through the rules in the records' own time. Several inputs are merged by time, so the order of
// the files on the command line does not matter and a replay gives what `collect` gives. Alerts
// come out as incidents close (quiet for their rule's close_after) and, at the end, the ones
// still open. Responses are described, never done.
import type { ParseError, PgwardenEvent } from '../core/event.ts';
import { readInput } from '../core/read-input.ts';
import { createParser, type LogFormat } from '../logs/index.ts';
import { alertOf, type Alert } from './alert.ts';
import type { DetectEngine } from './engine.ts';
import type { HistoryFacts } from './history.ts';
import { EventLineReader, looksLikeEventLines } from './event-lines.ts';
import { eventTime } from './fields.ts';
import type { ResponsePlanner } from './responses.ts';
import type { Notice, RuleSpec } from './types.ts';

export type ReplayFormat = 'auto' | LogFormat | 'events';

export interface ReplayOptions {
  format: ReplayFormat;
  /** log_line_prefix of stderr logs (default: recognised) */
  prefix?: string;
  /** the server of every event (default: what JSON lines say, else none) */
  server?: string;
  /** ends every input where it is when aborted (the reader of the alerts has gone) */
  stop?: AbortSignal;
  /** the engine's facts when they come from the repository's history: read for each server before its first record */
  history?: HistoryFacts;
}

export interface ReplayStats {
  inputs: number;
  bytes: number;
  events: number;
  parseErrors: number;
  alerts: number;
}

/** An input's events, a batch per chunk read. */
export async function* inputEvents(file: string, options: ReplayOptions, onError: (error: ParseError) => void, read: (n: number) => void): AsyncGenerator<PgwardenEvent[]> {
  let batch: PgwardenEvent[] = [];
  const sink = { event: (e: PgwardenEvent) => { batch.push(e); }, error: onError };
  let writer: { write(chunk: Uint8Array): void; end(): void } | null = null;
  const start = (sample: string) => {
    if (options.format === 'events' || (options.format === 'auto' && looksLikeEventLines(sample))) {
      const reader = new EventLineReader(file, sink);
      const decoder = new TextDecoder('utf-8');
      return { write: (chunk: Uint8Array) => reader.write(decoder.decode(chunk, { stream: true })), end: () => { reader.write(decoder.decode()); reader.end(); } };
    }
    return createParser({ format: options.format as LogFormat | 'auto', prefix: options.prefix, server: options.server ?? null, input: file }, sink);
  };
  // Decide on the first line whether this is pgwarden's JSON lines; the log parsers decide their own format.
  const head: Buffer[] = [];
  let headBytes = 0;
  const begin = () => {
    const sample = Buffer.concat(head).toString('utf8');
    writer = start(sample);
    for (const chunk of head) writer.write(chunk);
    head.length = 0;
    return writer;
  };
  // gunzipped when it is gzip; no more once `stop` is aborted
  for await (const chunk of readInput(file, read, { stop: options.stop, gunzip: file.endsWith('.gz') })) {
    if (writer === null) {
      head.push(chunk);
      headBytes += chunk.length;
      if (!chunk.includes(10) && headBytes < 65_536) continue;
      begin();
    } else {
      (writer as { write(chunk: Uint8Array): void }).write(chunk);
    }
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
  }
  (writer ?? begin()).end();
  if (batch.length > 0) yield batch;
}

interface Cursor { events: AsyncIterator<PgwardenEvent[]>; batch: PgwardenEvent[]; at: number; done: boolean; lastTime: number }

/** Events of several inputs in time order (an event without a time keeps its place in its input). */
export async function* mergeByTime(inputs: AsyncIterable<PgwardenEvent[]>[]): AsyncGenerator<PgwardenEvent> {
  if (inputs.length === 1) {
    for await (const batch of inputs[0]!) yield* batch;
    return;
  }
  const cursors: Cursor[] = inputs.map((input) => ({ events: input[Symbol.asyncIterator](), batch: [], at: 0, done: false, lastTime: -Infinity }));
  const fill = async (c: Cursor) => {
    while (c.at >= c.batch.length && !c.done) {
      const next = await c.events.next();
      if (next.done) c.done = true;
      else { c.batch = next.value; c.at = 0; }
    }
  };
  await Promise.all(cursors.map(fill));
  for (;;) {
    let best: Cursor | null = null;
    let bestTime = Infinity;
    for (const c of cursors) {
      if (c.done && c.at >= c.batch.length) continue;
      const t = eventTime(c.batch[c.at]!.ts);
      const time = Number.isNaN(t) ? c.lastTime : t;
      if (best === null || time < bestTime) { best = c; bestTime = time; }
    }
    if (best === null) return;
    best.lastTime = bestTime;
    yield best.batch[best.at++]!;
    await fill(best);
  }
}

/** Replays the inputs through the engine; `emit` gets each alert as its incident closes, then the open ones. */
export async function replay(files: string[], options: ReplayOptions, engine: DetectEngine, planner: ResponsePlanner,
  emit: (alert: Alert) => void, onError: (error: ParseError) => void): Promise<ReplayStats> {
  const stats: ReplayStats = { inputs: files.length, bytes: 0, events: 0, parseErrors: 0, alerts: 0 };
  const rules = new Map<string, RuleSpec>(engine.rules.map((r) => [r.id, r]));
  const countError = (error: ParseError) => {
    stats.parseErrors++;
    onError(error);
  };
  const out = (notice: Notice) => {
    if (notice.kind !== 'closed') return;
    const rule = rules.get(notice.incident.rule)!;
    stats.alerts++;
    emit(alertOf(rule, notice.incident, planner.describe(rule, notice.incident)));
  };
  const inputs = files.map((file) => inputEvents(file, options, countError, (n) => { stats.bytes += n; }));
  const server = options.server;
  let sinceDrain = 0;
  for await (const event of mergeByTime(inputs)) {
    if (server !== undefined) event.server = server;
    if (options.history?.needs([event])) await options.history.prepare([event]);
    engine.process(event);
    stats.events++;
    if (++sinceDrain >= 1024) {
      sinceDrain = 0;
      engine.drain().forEach(out);
    }
  }
  engine.drain().forEach(out);
  for (const incident of engine.openIncidents()) {
    const rule = rules.get(incident.rule)!;
    stats.alerts++;
    emit(alertOf(rule, incident, planner.describe(rule, incident)));
  }
  return stats;
}
