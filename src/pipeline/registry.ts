// The component registry: every source and sink type, listed once. Each entry is a definition
// (component.ts) that lives in the type's folder, sources/<type>/config.ts or sinks/<type>/config.ts,
// beside its implementation. core/config.ts builds `pipeline.sources` and `pipeline.sinks` from
// these lists; a `type:` not listed is refused with the list of valid ones, and
// test/pipeline/registry.test.ts fails when a listed type has no implementation (build.ts loads
// sources/<type>/<type>.ts), no doc section or no test.
//
// The order is the order types are named in messages ("type must be ddl, guard, …").
import { z } from 'zod';
import type { SinkDefinition, SourceDefinition } from './component.ts';
import { emailSink } from './sinks/email/config.ts';
import { jsonlSink } from './sinks/jsonl/config.ts';
import { natsSink } from './sinks/nats/config.ts';
import { repositorySink } from './sinks/repository/config.ts';
import { syslogSink } from './sinks/syslog/config.ts';
import { webhookSink } from './sinks/webhook/config.ts';
import { cloudwatchSource } from './sources/cloudwatch/config.ts';
import { ddlSource } from './sources/ddl/config.ts';
import { guardSource } from './sources/guard/config.ts';
import { logfileSource } from './sources/logfile/config.ts';
import { natsSource } from './sources/nats/config.ts';
import { responsesSource } from './sources/responses/config.ts';
import { sqsSource } from './sources/sqs/config.ts';
import { syslogSource } from './sources/syslog/config.ts';

export const SOURCES: [typeof ddlSource, typeof guardSource, typeof responsesSource, typeof logfileSource, typeof cloudwatchSource, typeof sqsSource, typeof natsSource, typeof syslogSource] = [ddlSource, guardSource, responsesSource, logfileSource, cloudwatchSource, sqsSource, natsSource, syslogSource];
export const SINKS: [typeof emailSink, typeof webhookSink, typeof repositorySink, typeof jsonlSink, typeof syslogSink, typeof natsSink] = [emailSink, webhookSink, repositorySink, jsonlSink, syslogSink, natsSink];

export const SOURCE_TYPES = SOURCES.map((definition) => definition.type);
export const SINK_TYPES = SINKS.map((definition) => definition.type);

type Schemas<T extends readonly { schema: z.ZodObject }[]> = { -readonly [K in keyof T]: T[K]['schema'] };

function schemas<T extends readonly { schema: z.ZodObject }[]>(definitions: T): Schemas<T> {
  return definitions.map((definition) => definition.schema) as Schemas<T>;
}

/** "a, b or c" */
function oneOf(types: readonly string[]): string {
  return types.length < 2 ? types.join('') : `${types.slice(0, -1).join(', ')} or ${types[types.length - 1]!}`;
}

/** One entry of `pipeline.sources`: a union on `type:` of every registered source. */
export const sourceSchema = z.discriminatedUnion('type', schemas(SOURCES), { error: `type must be ${oneOf(SOURCE_TYPES)}` });
export const sinkSchema = z.discriminatedUnion('type', schemas(SINKS), { error: `type must be ${oneOf(SINK_TYPES)}` });

export type SourceConfig = z.infer<typeof sourceSchema>;
export type SinkConfig = z.infer<typeof sinkSchema>;

export function sourceDefinition(type: string): SourceDefinition {
  const found = (SOURCES as readonly SourceDefinition[]).find((definition) => definition.type === type);
  // the schema refused the type already; this is a caller passing an unvalidated entry
  if (!found) throw new Error(`unknown source type ${type} (registered: ${SOURCE_TYPES.join(', ')})`);
  return found;
}

export function sinkDefinition(type: string): SinkDefinition {
  const found = (SINKS as readonly SinkDefinition[]).find((definition) => definition.type === type);
  if (!found) throw new Error(`unknown sink type ${type} (registered: ${SINK_TYPES.join(', ')})`);
  return found;
}
