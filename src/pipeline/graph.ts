// Runs the pipeline: one lane per (source, sink) pair the config connects. A lane takes the
// source's next batch for its sink, hands it to the sink, and only after the sink accepted
// it tells the source to settle it; a failure is recorded and retried with jittered
// exponential backoff, keeping the batch (and its id) as it was.
import type { Logger } from 'pino';
import type { PipelineConfig } from '../core/config.ts';
import type { Lane, Sink, Source } from './types.ts';

export interface Graph {
  sources: Source[];
  sinks: Sink[];
}

export interface Running {
  /** Resolves when every lane has stopped. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export function backoff(attempts: number, retry: PipelineConfig['retry'], random = Math.random): number {
  const base = Math.min(retry.max_seconds, retry.initial_seconds * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * 1000 * (0.8 + 0.4 * random()));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

async function runLane(source: Source, sink: Sink, lane: Lane, config: PipelineConfig, signal: AbortSignal, log: Logger): Promise<void> {
  let attempts = 0;
  let sourceErrors = 0;
  const where = { source: source.name, sink: sink.name };
  while (!signal.aborted) {
    let pending;
    try {
      pending = await lane.next(config.batch.max_events);
      sourceErrors = 0;
    } catch (error) {
      // The source is unreachable (it reconnects by itself): wait, then look again.
      sourceErrors += 1;
      if (sourceErrors === 1 || sourceErrors % 10 === 0) log.warn({ ...where, err: (error as Error).message }, 'cannot read the source');
      await source.changed(backoff(sourceErrors, config.retry), signal);
      continue;
    }
    if (!pending) {
      const wake = await source.changed(30_000, signal);
      // Let a burst of changes finish so that it goes out as one message.
      if (wake === 'change' && config.batch.window_seconds > 0) await sleep(config.batch.window_seconds * 1000, signal);
      continue;
    }
    try {
      await sink.deliver(pending);
    } catch (error) {
      attempts += 1;
      const delay = backoff(attempts, config.retry);
      const message = (error as Error).message;
      log.warn({ ...where, attempts, retry_in_ms: delay, err: message }, 'delivery failed');
      await lane.fail(pending, message, attempts, new Date(Date.now() + delay)).catch((e: Error) => log.warn({ ...where, err: e.message }, 'cannot record the failure'));
      await sleep(delay, signal);
      continue;
    }
    attempts = 0;
    try {
      await lane.settle(pending);
      log.info({ ...where, events: pending.events.length, message_id: pending.messageId }, 'delivered');
    } catch (error) {
      // Delivered but not recorded: the batch goes again under the same id when the source is back.
      log.warn({ ...where, message_id: pending.messageId, err: (error as Error).message }, 'delivered but could not record it; it will be sent again with the same id');
    }
  }
}

export async function runGraph(graph: Graph, config: PipelineConfig, log: Logger): Promise<Running> {
  const controller = new AbortController();
  const lanes: Promise<void>[] = [];
  const pairs = graph.sinks.flatMap((sink) => graph.sources
    .filter((source) => !sink.inputs || sink.inputs.includes(source.input))
    .map((source) => ({ source, sink, lane: source.lane(sink) })));
  // Lanes exist before the sources start, so that a first tamper finding reaches every sink.
  await Promise.all(graph.sources.map((source) => source.start()));
  for (const { source, sink, lane } of pairs) lanes.push(runLane(source, sink, lane, config, controller.signal, log));
  const done = Promise.all(lanes).then(() => undefined);
  return {
    done,
    async stop() {
      controller.abort();
      await done;
      await Promise.all(graph.sources.map((source) => source.stop()));
      await Promise.all(graph.sinks.map((sink) => sink.close()));
    },
  };
}
