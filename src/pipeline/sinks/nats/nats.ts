// NATS JetStream sink: the collector side of a fleet. A batch's events are published, as JSON
// lines of the event model, to SUBJECT_PREFIX.SERVER on a JetStream stream, up to
// events_per_message of one server per message (one JetStream acknowledgement per event was
// measured 20-40x slower), each message with an id (Nats-Msg-Id) made of its first event's
// repository key and its count, so that a batch published again after a failure or a crash is
// stored in the stream once. A batch is delivered once JetStream acknowledged every message
// (the stream has written it to its store). Repository writers read the stream with the nats
// source (docs/fleet.md).
// The NATS client is loaded when the sink starts, so that commands without NATS do not pay for it.
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PgwardenError } from '../../../core/errors.ts';
import type { SinkContext } from '../../build.ts';
import { eventMessages, nanos, NatsLink, natsFatalError } from '../../nats.ts';
import type { Pending, Sink } from '../../types.ts';
import type { NatsSinkConfig } from './config.ts';

export function build({ name, config, log }: SinkContext<NatsSinkConfig>): Sink {
  const where = `pipeline.sinks.${name}`;
  const link = new NatsLink(config, where, `pgwarden sink ${name}`, log);
  const timeout = config.timeout_seconds * 1000;
  let client: { connection: NatsConnection; js: JetStreamClient } | null = null;

  /** The stream exists (made when missing and create_stream allows), checked once per connection. */
  async function ready(): Promise<JetStreamClient> {
    const connection = link.get();
    if (client?.connection === connection) return client.js;
    const { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(connection, { timeout });
    try {
      const info = await jsm.streams.info(config.stream);
      const wanted = `${config.subject_prefix}.>`;
      if (!info.config.subjects?.some((subject) => subject === wanted || subject === '>' || subject === `${config.subject_prefix.split('.')[0]}.>`)) {
        log.warn({ sink: name, stream: config.stream, subjects: info.config.subjects, wanted }, 'the stream may not take this sink\'s subjects; publishing will fail with "no responders" if it does not');
      }
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== JetStreamApiCodes.StreamNotFound) throw error;
      if (!config.create_stream) {
        throw new PgwardenError('PGW_ERR_NATS', `${where}.stream: JetStream has no stream ${config.stream} (create it, or set create_stream: true)`);
      }
      await jsm.streams.add({
        name: config.stream,
        subjects: [`${config.subject_prefix}.>`],
        storage: StorageType.File,
        duplicate_window: nanos(config.duplicate_window_seconds * 1000),
        max_age: nanos(config.max_age_hours * 3_600_000),
      });
      log.info({ sink: name, stream: config.stream, subjects: [`${config.subject_prefix}.>`] }, 'created the JetStream stream');
    }
    client = { connection, js: jetstream(connection, { timeout }) };
    return client.js;
  }

  return {
    name,
    type: 'nats',
    inputs: config.inputs,
    async start(): Promise<void> {
      await link.open();
      try {
        await ready();
      } catch (error) {
        if (error instanceof PgwardenError) throw error;
        const fatal = natsFatalError(error, where);
        if (fatal) throw fatal;
        // not reachable yet: deliveries wait for it
      }
    },
    async deliver(pending: Pending): Promise<void> {
      const js = await ready();
      // half the server's limit, leaving room for headers and JSON lines longer than they look
      const maxBytes = Math.floor((client?.connection.info?.max_payload ?? 1_048_576) / 2);
      const messages = eventMessages(pending.events, config.subject_prefix, config.events_per_message, maxBytes);
      const results = await Promise.allSettled(messages.map((message) =>
        js.publish(message.subject, message.payload, { msgID: message.id, timeout })));
      const failed = results.filter((result) => result.status === 'rejected');
      if (failed.length > 0) {
        throw new Error(`JetStream did not take ${failed.length} of ${results.length} messages: ${((failed[0] as PromiseRejectedResult).reason as Error).message}`);
      }
    },
    close: () => link.close(),
  };
}
