// The logfile source's type and config (docs/pipeline.md#the-logfile-source); the
// implementation, loaded when one is configured, is logfile.ts.
import { z } from 'zod';
import { LOG_FORMATS } from '../../../logs/formats.ts';
import { defineSource, type SourceDefinition } from '../../component.ts';

export const logfileSourceSchema = z.strictObject({
  type: z.literal('logfile'),
  /** the log directory */
  path: z.string().min(1),
  /** file names to follow in it (`*` and `?` wildcards) */
  pattern: z.string().min(1).default('*.log'),
  format: z.enum(['auto', ...LOG_FORMATS]).default('auto'),
  /** the server's log_line_prefix, for stderr, syslog, journald and cloudsql logs (default: recognised from the file) */
  prefix: z.string().optional(),
  /** the `server` of every event */
  server: z.string().min(1),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
  /** a stderr record is complete when the next begins: after this long without new bytes, the held one is sent */
  idle_flush_ms: z.number().int().min(10).max(600_000).default(1000),
  /** how often to look for new, rotated or grown files (besides fs.watch) */
  poll_ms: z.number().int().min(10).max(600_000).default(1000),
});

export type LogfileSourceConfig = z.infer<typeof logfileSourceSchema>;

export const logfileSource: SourceDefinition<typeof logfileSourceSchema> = defineSource({
  type: 'logfile',
  schema: logfileSourceSchema,
  doc: 'pipeline.md#the-logfile-source',
  tests: ['test/pipeline/logfile.test.ts', 'test/pipeline/collect.test.ts'],
});

