// NATS JetStream source: the repository-writer side of a fleet. Reads the stream the
// collectors' nats sinks publish to (messages of JSON-lines events), through a durable pull
// consumer that writers share (each message goes to one of them), and acknowledges a message
// only once every sink settled all its events — for the repository sink, after its COPY
// transaction committed. A writer that dies leaves its messages unacknowledged; JetStream sends
// them again after ack_wait, and the repository's dedup on (ts, source input, source position)
// stores them once: at least once on the wire, exactly once in the repository. While a message
// waits for a slow sink, its ack_wait is extended.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { EVENT_KINDS, type PgwardenEvent } from '../../../core/event.ts';
import { sleep } from '../../../core/sleep.ts';
import type { SourceContext } from '../../build.ts';
import { LaneBuffer, MAX_BUFFERED_EVENTS, type BufferEntry } from '../../lane-buffer.ts';
import { nanos, NatsLink, natsFatalError } from '../../nats.ts';
import { Retry } from '../../retry.ts';
import type { Lane, Sink, Source, Wake } from '../../types.ts';
import type { NatsSourceConfig } from './config.ts';

/** Bytes per fetch (the buffer may pass its limit by this much): more at once makes the server cut the connection as a slow consumer. */
const FETCH_BYTES = 4 * 1024 * 1024;
/** Backoff after a failed fetch (the server away, the consumer gone): 0.5 s doubling up to 10 s, logged every 20th. */
const NATS_RETRY = { initial_seconds: 0.5, max_seconds: 10 };

interface Entry extends BufferEntry {
  /** the latest delivery of the stream message (a redelivery replaces it) */
  msg: JsMsg;
  sequence: number;
}

const KINDS = new Set<string>(EVENT_KINDS);

function isEvent(value: unknown): value is PgwardenEvent {
  const event = value as PgwardenEvent | null;
  if (typeof event !== 'object' || event === null || !KINDS.has(event.kind)) return false;
  const source = event.source as Partial<PgwardenEvent['source']> | undefined;
  if (typeof source?.input !== 'string' || typeof source.position !== 'number' || !Number.isSafeInteger(source.position)) return false;
  return event.ts === null || typeof event.ts === 'string';
}

/** The events of a message as a nats sink published them (JSON lines); null when it is something else. */
export function eventsOf(data: Uint8Array): PgwardenEvent[] | null {
  const events: PgwardenEvent[] = [];
  for (const line of Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8').split('\n')) {
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return null;
    }
    if (!isEvent(value)) return null;
    events.push(value);
  }
  return events.length > 0 ? events : null;
}

export interface NatsSourceOptions {
  input: string;
  config: NatsSourceConfig;
  log: Logger;
}

export class NatsSource implements Source {
  readonly name: string;
  readonly input: string;
  private readonly config: NatsSourceConfig;
  private readonly log: Logger;
  private readonly link: NatsLink;
  private readonly buffer: LaneBuffer<Entry>;
  private readonly held = new Map<number, Entry>();
  private readonly controller = new AbortController();
  private running: Promise<void> = Promise.resolve();
  private extender: NodeJS.Timeout | undefined;
  private stopped = false;
  private consumerReady = false;
  private fetching: { stop(): void } | null = null;
  private consumer: { connection: NatsConnection; consumer: Consumer } | null = null;
  /** messages that were not pgwarden events (terminated: JetStream does not send them again) */
  poison = 0;
  /** messages acknowledged after every sink settled their events */
  acknowledged = 0;

  constructor(options: NatsSourceOptions) {
    this.input = options.input;
    this.name = options.input;
    this.config = options.config;
    this.log = options.log;
    this.link = new NatsLink(options.config, `pipeline.sources.${options.input}`, `pgwarden source ${options.input}`, options.log);
    this.buffer = new LaneBuffer<Entry>(options.input, { released: (entries) => this.released(entries) });
  }

  lane(sink: Sink): Lane {
    return this.buffer.lane(sink);
  }

  async start(): Promise<void> {
    await this.link.open();
    if (this.buffer.laneCount === 0) {
      this.log.warn({ source: this.name }, 'no sink takes events from this source; it does not fetch');
      return;
    }
    try {
      await this.ensureConsumer();
    } catch (error) {
      const fatal = natsFatalError(error, `pipeline.sources.${this.input}`);
      if (fatal) throw fatal;
      // not reachable yet (or the stream not made yet by a collector): fetching waits for it
    }
    const every = Math.max(250, this.config.ack_wait_seconds * 1000 / 3);
    this.extender = setInterval(() => this.extend(), every);
    this.running = this.run().catch((error: Error) => this.log.error({ source: this.name, err: error.message }, 'NATS fetching stopped'));
  }

  /** The durable consumer, made when missing: explicit acks, at most the buffer's worth unacknowledged. */
  private async ensureConsumer(): Promise<void> {
    if (this.consumerReady) return;
    const jsm = await jetstreamManager(this.link.get(), { timeout: this.config.timeout_seconds * 1000 });
    const ackWait = nanos(this.config.ack_wait_seconds * 1000);
    const filter = this.config.filter_subject ?? `${this.config.subject_prefix}.>`;
    try {
      const info = await jsm.consumers.info(this.config.stream, this.config.durable);
      if (info.config.ack_wait !== ackWait) {
        await jsm.consumers.update(this.config.stream, this.config.durable, { ack_wait: ackWait });
        this.log.info({ source: this.name, durable: this.config.durable, ack_wait_seconds: this.config.ack_wait_seconds }, 'changed the consumer\'s ack_wait to the config\'s');
      }
      if ((info.config.filter_subject ?? '') !== filter) {
        this.log.warn({ source: this.name, durable: this.config.durable, consumer_filter: info.config.filter_subject, config_filter: filter },
          'the durable consumer filters other subjects than the config says; it is used as it is (delete it to have it made again)');
      }
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.ConsumerNotFound) throw error;
      await jsm.consumers.add(this.config.stream, {
        durable_name: this.config.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        max_ack_pending: MAX_BUFFERED_EVENTS,
        filter_subject: filter,
      });
      this.log.info({ source: this.name, stream: this.config.stream, durable: this.config.durable }, 'created the durable consumer');
    }
    this.consumerReady = true;
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    const retry = new Retry(NATS_RETRY, 20);
    while (!this.stopped) {
      await this.buffer.waitForRoom(MAX_BUFFERED_EVENTS, signal);
      if (this.stopped) break;
      try {
        await this.ensureConsumer();
        const connection = this.link.get();
        if (this.consumer?.connection !== connection) {
          this.consumer = { connection, consumer: await jetstream(connection).consumers.get(this.config.stream, this.config.durable) };
        }
        const consumer = this.consumer.consumer;
        // by bytes (a message holds up to a thousand events), and always room for one message
        const messages = await consumer.fetch({ max_bytes: Math.max(FETCH_BYTES, this.link.get().info?.max_payload ?? 0), expires: 5000 });
        this.fetching = messages;
        let received = 0;
        try {
          for await (const msg of messages) {
            this.accept(msg);
            received++;
          }
        } catch (error) {
          // the server ends a fetch that is full this way: not a failure
          if (!(received > 0 && /exceeds maxbytes/i.test((error as Error).message))) throw error;
        }
        this.fetching = null;
        retry.succeeded();
      } catch (error) {
        if (this.stopped) break;
        this.consumerReady = false;
        this.consumer = null;
        const { delay, log } = retry.failed();
        if (log) {
          this.log.warn({ source: this.name, err: (error as Error).message, attempts: retry.attempts, retry_in_ms: delay }, 'cannot fetch from NATS; will retry');
        }
        await sleep(delay, signal);
      }
    }
  }

  private accept(msg: JsMsg): void {
    if (this.stopped) return; // not acknowledged: sent again after ack_wait
    const sequence = msg.info.streamSequence;
    const held = this.held.get(sequence);
    if (held) {
      // sent again while still on its way here (its ack_wait ran out): acknowledge the newest delivery
      held.msg = msg;
      return;
    }
    const events = eventsOf(msg.data);
    if (!events) {
      this.poison++;
      this.log.warn({ source: this.name, subject: msg.subject, stream_sequence: sequence, poison_total: this.poison },
        'a message on the stream is not pgwarden events; terminated (it stays in the stream, and is not sent again)');
      // no reason given: servers before 2.10 do not understand "+TERM reason" and would send it again
      msg.term();
      return;
    }
    const entry: Entry = { events, msg, sequence };
    this.held.set(sequence, entry);
    this.buffer.push(entry);
  }

  /** Every sink settled these events (the repository committed them): acknowledge. */
  private released(entries: Entry[]): void {
    for (const entry of entries) {
      entry.msg.ack();
      this.held.delete(entry.sequence);
      this.acknowledged++;
    }
  }

  /** Tells JetStream the events still on their way are being worked on, so it does not send them again. */
  private extend(): void {
    for (const entry of this.held.values()) entry.msg.working();
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    return this.buffer.changed(ms, signal);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    this.fetching?.stop();
    clearInterval(this.extender);
    this.buffer.stop();
    await this.running;
    // drains: acknowledgements already made reach the server; unacknowledged events are sent again after ack_wait
    await this.link.close();
    this.log.info({ source: this.name, acknowledged: this.acknowledged, poison: this.poison }, 'NATS source stopped');
  }
}

export async function build({ name, config, log }: SourceContext<NatsSourceConfig>): Promise<Source[]> {
  return [new NatsSource({ input: name, config, log })];
}
