// The sink registry: one file per sink type.
import type { PipelineConfig } from '../../core/config.ts';
import type { Sink } from '../types.ts';
import { createEmailSink } from './email.ts';
import { createJsonlSink } from './jsonl.ts';
import { createSyslogSink } from './syslog.ts';
import { createWebhookSink } from './webhook.ts';

export const SINK_TYPES = ['email', 'webhook', 'jsonl', 'syslog'] as const;

export function createSink(name: string, config: PipelineConfig['sinks'][string]): Sink {
  switch (config.type) {
    case 'email': return createEmailSink(name, config);
    case 'webhook': return createWebhookSink(name, config);
    case 'jsonl': return createJsonlSink(name, config);
    case 'syslog': return createSyslogSink(name, config);
  }
}
