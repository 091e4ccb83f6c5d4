// The sink registry: one file per sink type.
import type { Logger } from 'pino';
import type { Config, PipelineConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import type { Sink } from '../types.ts';
import { createEmailSink } from './email.ts';
import { createJsonlSink } from './jsonl.ts';
import { createNatsSink } from './nats.ts';
import { createRepositorySink } from './repository.ts';
import { createSyslogSink } from './syslog.ts';
import { createWebhookSink } from './webhook.ts';

export const SINK_TYPES = ['email', 'webhook', 'repository', 'jsonl', 'syslog', 'nats'] as const;

/** `root`: the whole config, for sinks that refer to servers: or the top-level repository:; `log` for sinks that report reconnections. */
export function createSink(name: string, config: PipelineConfig['sinks'][string], root?: Config, log?: Logger): Sink {
  switch (config.type) {
    case 'email': return createEmailSink(name, config);
    case 'webhook': return createWebhookSink(name, config);
    case 'repository': return createRepositorySink(name, config, root, log ?? createLogger('pipeline'));
    case 'jsonl': return createJsonlSink(name, config);
    case 'syslog': return createSyslogSink(name, config);
    case 'nats': return createNatsSink(name, config, log ?? createLogger('pipeline'));
  }
}
