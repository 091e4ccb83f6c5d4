// The nats sink's type and config (docs/pipeline.md#nats-sink-and-source, docs/fleet.md); the
// implementation is nats.ts, which loads the NATS client when the sink starts.
import { z } from 'zod';
import { defineSink, type SinkDefinition } from '../../component.ts';
import { checkNatsAuth, natsCommon, sinkCommon } from '../../config-parts.ts';

export const natsSinkSchema = z.strictObject({
  type: z.literal('nats'),
  ...sinkCommon,
  ...natsCommon,
  /** create the stream when it does not exist (file storage, subjects SUBJECT_PREFIX.>) */
  create_stream: z.boolean().default(true),
  /** JetStream drops a message whose id it saw this recently (a batch sent again) */
  duplicate_window_seconds: z.number().int().min(1).max(86_400).default(600),
  /** how long the stream keeps events (0: until deleted by size or hand) */
  max_age_hours: z.number().min(0).max(87_600).default(168),
  /** events of one server per NATS message (JSON lines); fewer when a message would pass half the server's max_payload */
  events_per_message: z.number().int().min(1).max(1000).default(100),
});

export type NatsSinkConfig = z.infer<typeof natsSinkSchema>;

export const natsSink: SinkDefinition<typeof natsSinkSchema> = defineSink({
  type: 'nats',
  schema: natsSinkSchema,
  doc: 'pipeline.md#nats-sink-and-source',
  tests: ['test/pipeline/nats.test.ts'],
  check: (config) => checkNatsAuth(config),
});

