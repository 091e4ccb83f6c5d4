// The responses source's type and config (docs/pipeline.md#responses-source); the implementation
// is responses.ts, loaded when one is configured.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { checkServerKnown, idTableCommon } from '../../config-parts.ts';

export const responsesSourceSchema = z.strictObject({
  type: z.literal('responses'),
  /** server, databases (whose pgwarden.response_actions to read), poll_seconds, gap_seconds, state_dir */
  ...idTableCommon,
});

export type ResponsesSourceConfig = z.infer<typeof responsesSourceSchema>;

export const responsesSource: SourceDefinition<typeof responsesSourceSchema> = defineSource({
  type: 'responses',
  schema: responsesSourceSchema,
  doc: 'pipeline.md#responses-source',
  tests: ['test/pipeline/responses-source.test.ts'],
  check: checkServerKnown,
});
