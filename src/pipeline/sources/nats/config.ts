// The nats source's type and config (docs/pipeline.md#nats-sink-and-source, docs/fleet.md); the
// implementation, loaded with the NATS client when one is configured, is nats.ts.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { checkNatsAuth, natsCommon } from '../../config-parts.ts';

export const natsSourceSchema = z.strictObject({
  type: z.literal('nats'),
  ...natsCommon,
  /** the durable consumer: writers that share it share the work */
  durable: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -').default('pgwarden-repository'),
  /** which servers' events (default: all, SUBJECT_PREFIX.>) */
  filter_subject: z.string().min(1).optional(),
  /** an event not acknowledged this long after it was handed over is sent again (extended while being written) */
  ack_wait_seconds: z.number().int().min(1).max(3600).default(60),
});

export type NatsSourceConfig = z.infer<typeof natsSourceSchema>;

export const natsSource: SourceDefinition<typeof natsSourceSchema> = defineSource({
  type: 'nats',
  schema: natsSourceSchema,
  doc: 'pipeline.md#nats-sink-and-source',
  tests: ['test/pipeline/nats.test.ts'],
  check: (config) => checkNatsAuth(config),
});

