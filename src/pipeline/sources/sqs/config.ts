// The sqs source's type and config (docs/pipeline.md#sqs-source); the implementation, loaded
// with the AWS SDK when one is configured, is sqs.ts.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { awsCommon, logTextCommon } from '../../config-parts.ts';

export const sqsSourceSchema = z.strictObject({
  type: z.literal('sqs'),
  ...awsCommon,
  ...logTextCommon,
  /** https://sqs.REGION.amazonaws.com/ACCOUNT/NAME */
  queue_url: z.url({ protocol: /^https?$/, error: 'must be the queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)' }),
  /** the `server` of every event (default: the CloudWatch log stream a message names, else the queue's name) */
  server: z.string().min(1).optional(),
  /** long poll: how long one ReceiveMessage waits for messages */
  wait_seconds: z.number().int().min(0).max(20).default(20),
  /** messages per ReceiveMessage */
  max_messages: z.number().int().min(1).max(10).default(10),
  /** how long a received message stays hidden from other consumers; extended while its events are on their way */
  visibility_timeout_seconds: z.number().int().min(1).max(43_200).default(60),
});

export type SqsSourceConfig = z.infer<typeof sqsSourceSchema>;

export const sqsSource: SourceDefinition<typeof sqsSourceSchema> = defineSource({
  type: 'sqs',
  schema: sqsSourceSchema,
  doc: 'pipeline.md#sqs-source',
  tests: ['test/pipeline/sqs.test.ts'],
});

