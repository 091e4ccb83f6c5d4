// The guard source's type and config (docs/pipeline.md#guard-source); the implementation is
// guard.ts, loaded when one is configured.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { checkServerKnown, idTableCommon } from '../../config-parts.ts';

export const guardSourceSchema = z.strictObject({
  type: z.literal('guard'),
  /** server, databases (whose pgwarden.connection_attempts to read), poll_seconds, gap_seconds, state_dir */
  ...idTableCommon,
});

export type GuardSourceConfig = z.infer<typeof guardSourceSchema>;

export const guardSource: SourceDefinition<typeof guardSourceSchema> = defineSource({
  type: 'guard',
  schema: guardSourceSchema,
  doc: 'pipeline.md#guard-source',
  tests: ['test/pipeline/guard-source.test.ts'],
  check: checkServerKnown,
});

