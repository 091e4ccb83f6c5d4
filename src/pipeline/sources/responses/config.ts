// The responses source's type and config (docs/pipeline.md#responses-source); the implementation
// is responses.ts, loaded when one is configured.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { unknownServer } from '../../config-parts.ts';

export const responsesSourceSchema = z.strictObject({
  type: z.literal('responses'),
  /** a name under servers: (default: default_server, else the PG* environment) */
  server: z.string().min(1).optional(),
  /** databases whose pgwarden.response_actions to read (default: the server's own); ['*']: every database with pgwarden */
  databases: z.array(z.string().min(1)).min(1).optional(),
  /** how often to look for new responses (the response functions record by INSERT, without a notification) */
  poll_seconds: z.number().positive().max(3600).default(5),
  /** how long an id missing below newer ones is waited for (a response still committing) before it is taken as rolled back */
  gap_seconds: z.number().positive().max(3600).default(60),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
});

export type ResponsesSourceConfig = z.infer<typeof responsesSourceSchema>;

export const responsesSource: SourceDefinition<typeof responsesSourceSchema> = defineSource({
  type: 'responses',
  schema: responsesSourceSchema,
  doc: 'pipeline.md#responses-source',
  tests: ['test/pipeline/responses-source.test.ts'],
  check: (config, root) => (config.server && !root.servers[config.server] ? [{ path: ['server'], message: unknownServer(config.server, root.servers) }] : []),
});
