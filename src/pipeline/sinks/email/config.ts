// The email sink's type and config (docs/alerts.md#configuration); the implementation is
// email.ts, loaded with nodemailer when one is configured.
import { z } from 'zod';
import { defineSink, type SinkDefinition } from '../../component.ts';
import { secretSource, sinkCommon } from '../../config-parts.ts';

export const emailSinkSchema = secretSource.extend({
  type: z.literal('email'),
  ...sinkCommon,
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(587),
  /** starttls: upgrade or fail; implicit: TLS from the first byte (port 465); opportunistic: upgrade when offered; none: never */
  tls: z.enum(['starttls', 'implicit', 'opportunistic', 'none']).default('starttls'),
  tls_reject_unauthorized: z.boolean().default(true),
  /** SMTP AUTH user; the password comes from password_env or password_file */
  user: z.string().min(1).optional(),
  from: z.string().regex(/@/, 'must be an email address (name@example.com or "Name <name@example.com>")'),
  to: z.array(z.string().regex(/@/, 'must be an email address')).min(1),
  subject_prefix: z.string().default('[pgwarden]'),
  timeout_seconds: z.number().positive().max(600).default(30),
});

export type EmailSinkConfig = z.infer<typeof emailSinkSchema>;

export const emailSink: SinkDefinition<typeof emailSinkSchema> = defineSink({
  type: 'email',
  schema: emailSinkSchema,
  doc: 'alerts.md#configuration',
  tests: ['test/alerts/alerts.test.ts'],
  check: (config) => (config.password_env && config.password_file ? [{ path: ['password_file'], message: 'give password_env or password_file, not both' }] : []),
});

