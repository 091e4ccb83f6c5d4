// The syslog sink's type and config (docs/pipeline.md#syslog-sink); the implementation is syslog.ts.
import { z } from 'zod';
import { defineSink, type SinkDefinition } from '../../component.ts';
import { sinkCommon } from '../../config-parts.ts';

export const syslogSinkSchema = z.strictObject({
  type: z.literal('syslog'),
  ...sinkCommon,
  host: z.string().min(1).default('127.0.0.1'),
  /** default 514 for udp and tcp, 6514 for tls (RFC 5425) */
  port: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  /** for protocol tls: whom to trust (default: the system's CAs), a client certificate, the name to check */
  tls: z.strictObject({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
    servername: z.string().min(1).optional(),
  }).optional(),
  /** syslog facility name (local0 … local7, daemon, auth, authpriv, user) */
  facility: z.enum(['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7']).default('local0'),
  app_name: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'printable ASCII without spaces, at most 48 characters').default('pgwarden'),
  /** HOSTNAME field (default: this machine's host name) */
  hostname: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'printable ASCII without spaces').optional(),
  timeout_seconds: z.number().positive().max(600).default(10),
});

export type SyslogSinkConfig = z.infer<typeof syslogSinkSchema>;

export const syslogSink: SinkDefinition<typeof syslogSinkSchema> = defineSink({
  type: 'syslog',
  schema: syslogSinkSchema,
  doc: 'pipeline.md#syslog-sink',
  tests: ['test/pipeline/syslog.test.ts', 'test/pipeline/rsyslog.test.ts'],
});

