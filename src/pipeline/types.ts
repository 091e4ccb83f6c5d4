// The pipeline's contracts. A source keeps, per sink, the place up to which its events are
// settled; a sink delivers a batch and resolves only once the receiver accepted it. The
// lane between them marks events delivered only after that.
import type { PgwardenEvent } from '../core/event.ts';

/** A batch on its way to one sink. The message id stays the same when it is sent again. */
export interface Pending {
  events: PgwardenEvent[];
  messageId: string;
}

/** A source's events for one sink. */
export interface Lane {
  /** The next batch to send, or null when everything is settled. Non-matching events are settled on the way. */
  next(maxEvents: number): Promise<Pending | null>;
  /** The sink accepted the batch: record each event as delivered and move on, atomically. */
  settle(pending: Pending): Promise<void>;
  /**
   * The sink refused or was unreachable: the batch is kept and retried by the graph. A source that
   * records failures where others can see them (the ddl source, in pgwarden.alert_sinks) implements this.
   */
  fail?(pending: Pending, error: string, attempts: number, nextAttemptAt: Date): Promise<void>;
}

export type Wake = 'change' | 'timeout' | 'stopped';

export interface Source {
  readonly name: string;
  /** The configured source it came from (a sink's `inputs` name this). */
  readonly input: string;
  start(): Promise<void>;
  lane(sink: Sink): Lane;
  /** Resolves when new events may be pending, after `ms`, or when stopped. */
  changed(ms: number, signal: AbortSignal): Promise<Wake>;
  stop(): Promise<void>;
  /** records it could not read so far, for a source that parses text (logged by ParseErrorLog) */
  readonly parseErrors?: number;
  /**
   * For a source that cannot read again after a restart what it received (the syslog source: a
   * stream has no offset): stops receiving, hands on what it holds, and resolves once its lanes
   * settled all of it (or its own time limit passed). The graph calls it on stop, before the
   * lanes end, and lets them deliver meanwhile.
   */
  drain?(): Promise<void>;
  /** The source's own counters, for `pgwarden collect status` (absent: it has none to show). */
  counters?(): Record<string, number | boolean | null>;
}

/** A detection notice on its way to an alert sink: the incident as an alert, opened or updated (a throttled update). */
export interface AlertNotice {
  notice: 'opened' | 'updated';
  /** the notice's stable id (`<incident id>:<n>`): the delivery id */
  id: string;
  alert: import('../detect/alert.ts').Alert;
}

/** One notice per message; the message id is the notice's id, the same when it is sent again. */
export interface PendingAlert {
  notice: AlertNotice;
  messageId: string;
}

export interface Sink {
  readonly name: string;
  readonly type: string;
  readonly inputs: string[] | undefined;
  /**
   * Whether this sink wants the event (absent: every event). Routing from the config (filter, and
   * the older match/ignore) is not the sink's business: the graph adds it (graph.ts routedSink), and
   * sources that settle unwanted events on the way ask the routed sink.
   */
  accepts?(event: PgwardenEvent): boolean;
  /**
   * Resolves once the receiver accepted the whole batch; rejects otherwise. A sink that set part
   * of it aside (the repository: events refused for their data) says so in a DeliveryReport.
   */
  deliver(pending: Pending): Promise<void | DeliveryReport>;
  /**
   * How long a lane lets a burst of changes finish before it delivers (default
   * pipeline.batch.window_seconds, which groups events into fewer messages). The detection sink
   * says 0: it sends a message per alert, not per batch, so a window would only delay alerts.
   */
  readonly windowSeconds?: number;
  /** Sends one detection alert (collect with detect.in_collect); resolves once the receiver accepted it. Alert sinks have it. */
  deliverAlert?(pending: PendingAlert): Promise<void>;
  /**
   * Optional check at start: rejects on a mistake that retrying cannot mend (a wrong password,
   * a missing privilege), so the command fails at once instead of retrying forever. A receiver
   * that is merely unreachable is not an error here: deliveries wait for it.
   */
  start?(): Promise<void>;
  close(): Promise<void>;
}

/** What a delivery set aside instead of storing (counted by `collect status`). */
export interface DeliveryReport {
  setAside?: { events: number; ids: number[] };
}
