// Runs the pipeline: one lane per (source, sink) pair the config connects. A lane takes the
// source's next batch for its sink, hands it to the sink, and only after the sink accepted
// it tells the source to settle it; a failure is recorded and retried with jittered
// exponential backoff, keeping the batch (and its id) as it was.
import type { Logger } from 'pino';
import type { PipelineConfig, RedactConfig } from '../core/config.ts';
import { compileRouting, routingWarnings } from './filter.ts';
import { redactEvent } from './redact.ts';
import { backoff } from './retry.ts';
import type { PgwardenEvent } from '../core/event.ts';
import type { Lane, Pending, Sink, Source } from './types.ts';
import type { CollectStatus, LaneRecorder } from './status.ts';
import { sleep } from '../core/sleep.ts';

export interface Graph {
  sources: Source[];
  sinks: Sink[];
}

export interface Running {
  /** Resolves when every lane has stopped. */
  done: Promise<void>;
  /**
   * Drains the sources, stops the lanes and the sources, runs `beforeClose` (what still sends
   * through the sinks: collect's alert loops), then closes the sinks.
   */
  stop(beforeClose?: () => Promise<void>): Promise<void>;
}

/** A sink as the graph runs it: with the routing of its config entry (sources that settle unwanted events on the way ask it too). */
export interface RoutedSink extends Sink {
  accepts(event: PgwardenEvent): boolean;
}

/** Adds the sink's routing from the config (`filter`, and the older `match`/`ignore`) to what the sink itself accepts. */
export function routedSink(sink: Sink, config: PipelineConfig): RoutedSink {
  const sinkConfig = Object.hasOwn(config.sinks, sink.name) ? config.sinks[sink.name] : undefined;
  const route = compileRouting(sinkConfig);
  const own = sink.accepts?.bind(sink);
  return {
    name: sink.name, type: sink.type, inputs: sink.inputs, windowSeconds: sink.windowSeconds,
    accepts: own ? (event) => own(event) && route(event) : route,
    deliver: (pending) => sink.deliver(pending),
    close: () => sink.close(),
  };
}

function redactionOf(sink: Sink, config: PipelineConfig): RedactConfig | undefined {
  const redact = Object.hasOwn(config.sinks, sink.name) ? config.sinks[sink.name]?.redact : undefined;
  return redact && (redact.literals || redact.parameters) ? redact : undefined;
}

/** `draining`: aborted when collect stops and sources drain; a batch window then no longer waits (what is held goes now). */
async function runLane(source: Source, sink: RoutedSink, lane: Lane, config: PipelineConfig, signal: AbortSignal, draining: AbortSignal, log: Logger, status?: LaneRecorder): Promise<void> {
  const redact = redactionOf(sink, config);
  const windowSeconds = sink.windowSeconds ?? config.batch.window_seconds;
  let attempts = 0;
  let sourceErrors = 0;
  let settleErrors = 0;
  const where = { source: source.name, sink: sink.name };
  while (!signal.aborted) {
    let pending;
    try {
      pending = await lane.next(config.batch.max_events);
      sourceErrors = 0;
      status?.taken(pending);
    } catch (error) {
      // The source is unreachable (it reconnects by itself): wait, then look again.
      sourceErrors += 1;
      status?.failed('receiving', (error as Error).message);
      if (sourceErrors === 1 || sourceErrors % 10 === 0) log.warn({ ...where, err: (error as Error).message }, 'cannot read the source');
      await source.changed(backoff(sourceErrors, config.retry), signal);
      continue;
    }
    if (!pending) {
      const wake = await source.changed(30_000, signal);
      // Let a burst of changes finish so that it goes out as one message.
      if (wake === 'change' && windowSeconds > 0 && !draining.aborted) await sleep(windowSeconds * 1000, AbortSignal.any([signal, draining]));
      continue;
    }
    // The sink's filter and redaction: what it does not want is settled without delivery,
    // and what it gets is redacted first (the source settles the batch as it gave it).
    const shown = pending.events.filter((event) => sink.accepts(event));
    if (shown.length === 0) {
      try {
        await lane.settle(pending);
        status?.taken(null);
      } catch (error) {
        log.warn({ ...where, err: (error as Error).message }, 'cannot record filtered events');
        await sleep(backoff(1, config.retry), signal);
      }
      continue;
    }
    const delivered: Pending = shown.length === pending.events.length && !redact ? pending
      : { messageId: pending.messageId, events: redact ? shown.map((event) => redactEvent(event, redact)) : shown };
    try {
      const report = await sink.deliver(delivered);
      if (report?.setAside) status?.setAside(report.setAside.events, report.setAside.ids);
    } catch (error) {
      attempts += 1;
      const delay = backoff(attempts, config.retry);
      const message = (error as Error).message;
      status?.failed('sending', message);
      log.warn({ ...where, attempts, retry_in_ms: delay, err: message }, 'delivery failed');
      await lane.fail?.(pending, message, attempts, new Date(Date.now() + delay)).catch((e: Error) => log.warn({ ...where, err: e.message }, 'cannot record the failure'));
      await sleep(delay, signal);
      continue;
    }
    attempts = 0;
    try {
      await lane.settle(pending);
      settleErrors = 0;
      status?.delivered(delivered);
      log.info({ ...where, events: pending.events.length, message_id: pending.messageId }, 'delivered');
    } catch (error) {
      // Delivered but not recorded (a full disk under the checkpoints, the source's database away):
      // the batch goes again under the same id, after a backoff, not at once in a loop.
      settleErrors += 1;
      const delay = backoff(settleErrors, config.retry);
      status?.failed('recording', (error as Error).message);
      if (settleErrors === 1 || settleErrors % 10 === 0) {
        log.warn({ ...where, message_id: pending.messageId, attempts: settleErrors, retry_in_ms: delay, err: (error as Error).message },
          'delivered but could not record it; it will be sent again with the same id');
      }
      await sleep(delay, signal);
    }
  }
}

/** `status`: the file `pgwarden collect status` reads, fed by every lane. */
export async function runGraph(graph: Graph, config: PipelineConfig, log: Logger, status?: CollectStatus): Promise<Running> {
  const controller = new AbortController();
  const draining = new AbortController();
  const lanes: Promise<void>[] = [];
  const sinks = graph.sinks.map((sink) => routedSink(sink, config));
  const configured = Object.fromEntries(Object.entries(config.sinks).filter(([name]) => sinks.some((sink) => sink.name === name)));
  for (const warning of routingWarnings(configured)) log.warn(warning);
  const pairs = sinks.flatMap((sink) => graph.sources
    .filter((source) => !sink.inputs || sink.inputs.includes(source.input))
    .map((source) => ({ source, sink, lane: source.lane(sink) })));
  // Every start is let finish before anything is stopped: a source still connecting when another
  // failed would otherwise finish connecting after its stop() and keep the process alive (a
  // missing log directory beside a ddl source left collect running, collecting nothing).
  const failure = async (results: PromiseSettledResult<unknown>[]) => {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return;
    // a mistake found at start: what did start (connections, timers) must not keep the process alive
    await Promise.allSettled(graph.sources.map((source) => source.stop()));
    await Promise.allSettled(graph.sinks.map((sink) => sink.close()));
    throw failed.reason;
  };
  await failure(await Promise.allSettled(graph.sinks.map(async (sink) => sink.start?.())));
  // Lanes exist before the sources start, so that a first tamper finding reaches every sink.
  await failure(await Promise.allSettled(graph.sources.map((source) => source.start())));
  for (const { source, sink, lane } of pairs) lanes.push(runLane(source, sink, lane, config, controller.signal, draining.signal, log, status?.lane(source, sink)));
  for (const source of graph.sources) if (source.counters) status?.source(source);
  const done = Promise.all(lanes).then(() => undefined);
  return {
    done,
    async stop(beforeClose?: () => Promise<void>) {
      // What a source cannot read again after a restart is delivered first, the lanes running.
      draining.abort();
      await Promise.all(graph.sources.map(async (source) => source.drain?.()));
      controller.abort();
      await done;
      await Promise.all(graph.sources.map((source) => source.stop()));
      await beforeClose?.();
      await Promise.all(graph.sinks.map((sink) => sink.close()));
    },
  };
}
