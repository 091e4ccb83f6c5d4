// The webhook sink's type and config (docs/alerts.md#configuration); the implementation is
// webhook.ts.
import { z } from 'zod';
import { defineSink, type SinkDefinition } from '../../component.ts';
import { sinkCommon } from '../../config-parts.ts';

export const webhookSinkSchema = z.strictObject({
  type: z.literal('webhook'),
  ...sinkCommon,
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  /** slack: Slack-compatible {text, blocks}; json: {text, delivery_id, events} */
  format: z.enum(['slack', 'json']).default('slack'),
  /** HMAC-SHA256 signing secret, from an environment variable or a file */
  secret_env: z.string().min(1).optional(),
  secret_file: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  timeout_seconds: z.number().positive().max(600).default(10),
});

export type WebhookSinkConfig = z.infer<typeof webhookSinkSchema>;

export const webhookSink: SinkDefinition<typeof webhookSinkSchema> = defineSink({
  type: 'webhook',
  schema: webhookSinkSchema,
  doc: 'alerts.md#configuration',
  tests: ['test/alerts/alerts.test.ts'],
  check: (config) => (config.secret_env && config.secret_file ? [{ path: ['secret_file'], message: 'give secret_env or secret_file, not both' }] : []),
});

