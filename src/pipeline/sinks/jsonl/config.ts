// The jsonl sink's type and config (docs/pipeline.md#jsonl-sink); the implementation is jsonl.ts.
import { z } from 'zod';
import { defineSink, type SinkDefinition } from '../../component.ts';
import { sinkCommon } from '../../config-parts.ts';

export const jsonlSinkSchema = z.strictObject({
  type: z.literal('jsonl'),
  ...sinkCommon,
  /** a file to append to, or '-' for standard output */
  path: z.string().min(1),
  /** fsync the file before a batch counts as delivered */
  fsync: z.boolean().default(true),
});

export type JsonlSinkConfig = z.infer<typeof jsonlSinkSchema>;

export const jsonlSink: SinkDefinition<typeof jsonlSinkSchema> = defineSink({
  type: 'jsonl',
  schema: jsonlSinkSchema,
  doc: 'pipeline.md#jsonl-sink',
  tests: ['test/pipeline/collect.test.ts'],
});

