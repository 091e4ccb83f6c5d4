// The ddl source's type and config (docs/alerts.md#configuration); the implementation is
// ddl.ts, loaded when one is configured.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { checkServerKnown } from '../../config-parts.ts';

export const ddlSourceSchema = z.strictObject({
  type: z.literal('ddl'),
  /** a name under servers: (default: default_server, else the PG* environment) */
  server: z.string().min(1).optional(),
  /** databases to follow (default: the server's own); ['*'] means every database where pgwarden is installed */
  databases: z.array(z.string().min(1)).min(1).optional(),
  /** how often to compare the installed sensors with what install made (0: never) */
  tamper_check_seconds: z.number().min(0).max(60).default(30),
  /** a safety net: look for undelivered rows this often even without a notification */
  poll_seconds: z.number().positive().max(3600).default(30),
});

export type DdlSourceConfig = z.infer<typeof ddlSourceSchema>;

export const ddlSource: SourceDefinition<typeof ddlSourceSchema> = defineSource({
  type: 'ddl',
  schema: ddlSourceSchema,
  doc: 'alerts.md#configuration',
  tests: ['test/alerts/alerts.test.ts'],
  check: checkServerKnown,
});

