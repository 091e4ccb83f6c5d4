// Amazon SQS as a pipeline source: long-polls a queue, reads each message body (a CloudWatch
// Logs subscription payload, what a Lambda forwarder sends, or raw log lines: see
// decodeMessageBody) and hands its records to the sinks. A message is deleted only after every
// sink has durably taken all of its records; until then its visibility timeout is extended, so
// a slow sink does not let it reappear to another consumer. A message that cannot be read
// (poison) is counted and logged, and left on the queue untouched, so that the queue's redrive
// policy moves it to the dead-letter queue, intact, for someone to look at.
//
// Delivery is at least once: a crash between a sink's write and the delete brings the message
// back. Its records have the same source positions (hashes of the message or CloudWatch event
// id), so the repository stores them once.
import {
  ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand,
  SQSClient, type Message,
} from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { PgwardenError } from '../../../core/errors.ts';
import { sleep } from '../../../core/sleep.ts';
import { awsClientConfig, AWS_RETRY, awsErrorName, awsFatalError, isThrottling } from '../../aws.ts';
import { decodeMessageBody, LogTextReader, PoisonMessage, type CloudLogEvent, type ReadResult } from '../../cloud-events.ts';
import type { SourceContext } from '../../build.ts';
import { LaneBuffer, MAX_BUFFERED_EVENTS, type BufferEntry } from '../../lane-buffer.ts';
import { backoff, Retry } from '../../retry.ts';
import type { Lane, Sink, Source, Wake } from '../../types.ts';
import type { SqsSourceConfig } from './config.ts';

/** Message ids remembered so that a poison message coming back is counted once. */
const MAX_POISON_IDS = 10_000;

interface Held {
  messageId: string;
  receiptHandle: string;
  /** entries of the message not yet released by every sink */
  remaining: number;
  /** when its visibility was last set */
  leased: number;
}

interface Entry extends BufferEntry {
  message: Held;
}

export interface SqsSourceOptions {
  input: string;
  config: SqsSourceConfig;
  log: Logger;
}

export class SqsSource implements Source {
  readonly name: string;
  readonly input: string;
  private readonly config: SqsSourceConfig;
  private readonly log: Logger;
  private readonly client: SQSClient;
  private readonly reader: LogTextReader;
  private readonly queueName: string;
  private readonly buffer: LaneBuffer<Entry>;
  private readonly held = new Map<string, Held>();
  private readonly toDelete: Held[] = [];
  private deleting: Promise<void> | null = null;
  private readonly controller = new AbortController();
  private running: Promise<void> = Promise.resolve();
  private extender: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly poisonIds = new Set<string>();
  /** distinct poison messages seen */
  poison = 0;
  /** messages deleted after delivery */
  deleted = 0;
  /** visibility extensions made */
  extended = 0;

  constructor(options: SqsSourceOptions) {
    this.input = options.input;
    this.name = options.input;
    this.config = options.config;
    this.log = options.log;
    try {
      this.reader = new LogTextReader(options.config.format, options.config.prefix);
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sources.${options.input}.prefix: ${(error as Error).message}`, { cause: error });
    }
    this.queueName = new URL(options.config.queue_url).pathname.split('/').filter(Boolean).pop() ?? options.config.queue_url;
    this.client = new SQSClient(awsClientConfig({
      region: options.config.region, endpoint: options.config.endpoint, requestTimeoutMs: (options.config.wait_seconds + 30) * 1000,
    }));
    this.buffer = new LaneBuffer<Entry>(options.input, { released: (entries) => this.released(entries) });
  }

  lane(sink: Sink): Lane {
    return this.buffer.lane(sink);
  }

  async start(): Promise<void> {
    if (this.buffer.laneCount === 0) {
      this.log.warn({ source: this.name }, 'no sink takes events from this source; it does not receive');
      return;
    }
    try {
      const { Attributes } = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.config.queue_url, AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'] }));
      if (!Attributes?.RedrivePolicy) {
        this.log.warn({ source: this.name, queue: this.config.queue_url },
          'the queue has no dead-letter queue (RedrivePolicy): a message pgwarden cannot read comes back after every visibility timeout, for ever');
      }
    } catch (error) {
      const fatal = awsFatalError(error, `pipeline.sources.${this.input}: queue ${this.config.queue_url}`);
      if (fatal) throw fatal;
      this.log.warn({ source: this.name, err: `${awsErrorName(error)}: ${(error as Error).message}` },
        isThrottling(error) ? 'SQS is throttling; receiving will back off' : 'cannot reach SQS yet; will keep trying');
    }
    const every = Math.max(250, this.config.visibility_timeout_seconds * 1000 / 3);
    this.extender = setInterval(() => void this.extend(), every);
    this.running = this.run().catch((error: Error) => this.log.error({ source: this.name, err: error.message }, 'SQS receiving stopped'));
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    const retry = new Retry(AWS_RETRY);
    while (!this.stopped) {
      await this.buffer.waitForRoom(MAX_BUFFERED_EVENTS, signal);
      if (this.stopped) break;
      let messages: Message[];
      try {
        const result = await this.client.send(new ReceiveMessageCommand({
          QueueUrl: this.config.queue_url,
          MaxNumberOfMessages: this.config.max_messages,
          WaitTimeSeconds: this.config.wait_seconds,
          VisibilityTimeout: this.config.visibility_timeout_seconds,
          MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
        }), { abortSignal: signal });
        messages = result.Messages ?? [];
      } catch (error) {
        if (this.stopped) break;
        const { delay, log } = retry.failed();
        if (log) {
          this.log.warn({ source: this.name, err: `${awsErrorName(error)}: ${(error as Error).message}`, attempts: retry.attempts, retry_in_ms: delay },
            isThrottling(error) ? 'SQS is throttling; backing off' : 'cannot receive from SQS; will retry');
        }
        await sleep(delay, signal);
        continue;
      }
      retry.succeeded();
      const now = Date.now();
      for (const message of messages) this.accept(message, now);
    }
  }

  /** Reads one message: its records go to the buffer, or the whole message is poison. */
  private accept(message: Message, now: number): void {
    const messageId = message.MessageId ?? '';
    const receiptHandle = message.ReceiptHandle ?? '';
    if (this.held.has(messageId)) {
      // received again while still held (its lease ran out): the newest receipt is the one that deletes
      this.held.get(messageId)!.receiptHandle = receiptHandle;
      return;
    }
    const sent = Number(message.Attributes?.SentTimestamp);
    let logs: CloudLogEvent[];
    const read: ReadResult['events'][] = [];
    try {
      logs = decodeMessageBody(message.Body ?? '', {
        messageId, sent: Number.isFinite(sent) ? sent : null, input: `sqs:${this.queueName}`, server: this.config.server ?? null, format: this.config.format,
      });
      for (const log of logs) {
        const result = this.reader.read(log);
        if (result.errors.length > 0) {
          const first = result.errors[0]!;
          throw new PoisonMessage(`${result.errors.length} unreadable record(s), the first: ${first.reason}: ${JSON.stringify(first.excerpt)}`);
        }
        read.push(result.events);
      }
    } catch (error) {
      if (!(error instanceof PoisonMessage)) throw error;
      this.poisoned(messageId, message.Attributes?.ApproximateReceiveCount, error.message);
      return;
    }
    const held: Held = { messageId, receiptHandle, remaining: Math.max(1, read.length), leased: now };
    this.held.set(messageId, held);
    if (read.length === 0) this.buffer.push({ events: [], message: held });
    for (const events of read) this.buffer.push({ events, message: held });
  }

  private poisoned(messageId: string, receiveCount: string | undefined, reason: string): void {
    if (!this.poisonIds.has(messageId)) {
      this.poison++;
      this.poisonIds.add(messageId);
      if (this.poisonIds.size > MAX_POISON_IDS) this.poisonIds.delete(this.poisonIds.values().next().value!);
    }
    this.log.warn({ source: this.name, message_id: messageId, receive_count: Number(receiveCount ?? 0), poison_total: this.poison, reason },
      'poison message: not delivered and not deleted, left for the queue\'s dead-letter queue');
  }

  /** Every sink has these entries: a message whose entries are all released is deleted. */
  private released(entries: Entry[]): void {
    for (const entry of entries) {
      entry.message.remaining--;
      if (entry.message.remaining === 0) this.toDelete.push(entry.message);
    }
    if (this.toDelete.length > 0 && !this.deleting) this.deleting = this.deleteAll().finally(() => { this.deleting = null; });
  }

  private async deleteAll(): Promise<void> {
    let failures = 0;
    while (this.toDelete.length > 0) {
      const batch = this.toDelete.slice(0, 10);
      try {
        const result = await this.client.send(new DeleteMessageBatchCommand({
          QueueUrl: this.config.queue_url,
          Entries: batch.map((held, i) => ({ Id: String(i), ReceiptHandle: held.receiptHandle })),
        }));
        for (const failed of result.Failed ?? []) {
          const held = batch[Number(failed.Id)]!;
          this.log.warn({ source: this.name, message_id: held.messageId, err: `${failed.Code}: ${failed.Message ?? ''}` },
            'cannot delete a delivered message; it will come back and be delivered again (the repository stores it once)');
        }
        this.deleted += batch.length - (result.Failed?.length ?? 0);
        failures = 0;
      } catch (error) {
        failures++;
        if (failures <= 5 && !this.stopped) {
          await sleep(backoff(failures, AWS_RETRY), this.controller.signal);
          continue;
        }
        this.log.warn({ source: this.name, messages: batch.length, err: (error as Error).message },
          'cannot delete delivered messages; they will come back and be delivered again (the repository stores them once)');
      }
      this.toDelete.splice(0, batch.length);
      for (const held of batch) this.held.delete(held.messageId);
    }
  }

  /** Keeps the messages still on their way hidden from other consumers. */
  private async extend(): Promise<void> {
    const timeout = this.config.visibility_timeout_seconds;
    const now = Date.now();
    const due = [...this.held.values()].filter((held) => now - held.leased >= timeout * 1000 / 3);
    for (let i = 0; i < due.length && !this.stopped; i += 10) {
      const batch = due.slice(i, i + 10);
      try {
        const result = await this.client.send(new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.config.queue_url,
          Entries: batch.map((held, n) => ({ Id: String(n), ReceiptHandle: held.receiptHandle, VisibilityTimeout: timeout })),
        }));
        const failed = new Set((result.Failed ?? []).map((f) => Number(f.Id)));
        batch.forEach((held, n) => { if (!failed.has(n)) held.leased = now; });
        this.extended += batch.length - failed.size;
        if (failed.size > 0) this.log.warn({ source: this.name, messages: failed.size, err: result.Failed![0]!.Message }, 'cannot extend the visibility of messages on their way; they may be delivered twice');
      } catch (error) {
        this.log.warn({ source: this.name, err: (error as Error).message }, 'cannot extend the visibility of messages on their way; will try again');
      }
    }
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    return this.buffer.changed(ms, signal);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    clearInterval(this.extender);
    this.buffer.stop();
    await this.running;
    // messages delivered everywhere are deleted before exit; the others come back after their timeout
    while (this.deleting) await this.deleting;
    this.client.destroy();
    this.log.info({ source: this.name, deleted: this.deleted, poison: this.poison, visibility_extensions: this.extended }, 'SQS source stopped');
  }
}

export async function build({ name, config, log }: SourceContext<SqsSourceConfig>): Promise<Source[]> {
  return [new SqsSource({ input: name, config, log })];
}
