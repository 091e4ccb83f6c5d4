// The guard source's type and config (docs/pipeline.md#guard-source); the implementation is
// guard.ts, loaded when one is configured.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { unknownServer } from '../../config-parts.ts';

export const guardSourceSchema = z.strictObject({
  type: z.literal('guard'),
  /** a name under servers: (default: default_server, else the PG* environment) */
  server: z.string().min(1).optional(),
  /** databases whose pgwarden.connection_attempts to read (default: the server's own); ['*']: every database with pgwarden */
  databases: z.array(z.string().min(1)).min(1).optional(),
  /** how often to look for new attempts (the guard records by INSERT, without a notification) */
  poll_seconds: z.number().positive().max(3600).default(5),
  /** how long an id missing below newer ones is waited for (an attempt still committing) before it is taken as rolled back */
  gap_seconds: z.number().positive().max(3600).default(60),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
});

export type GuardSourceConfig = z.infer<typeof guardSourceSchema>;

export const guardSource: SourceDefinition<typeof guardSourceSchema> = defineSource({
  type: 'guard',
  schema: guardSourceSchema,
  doc: 'pipeline.md#guard-source',
  tests: ['test/pipeline/guard-source.test.ts'],
  check: (config, root) => (config.server && !root.servers[config.server] ? [{ path: ['server'], message: unknownServer(config.server, root.servers) }] : []),
});

