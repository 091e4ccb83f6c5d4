// The cloudwatch source's type and config (docs/pipeline.md#cloudwatch-source); the
// implementation, loaded with the AWS SDK when one is configured, is cloudwatch.ts.
import { z } from 'zod';
import { defineSource, type SourceDefinition } from '../../component.ts';
import { awsCommon, logTextCommon } from '../../config-parts.ts';

export const cloudwatchSourceSchema = z.strictObject({
  type: z.literal('cloudwatch'),
  ...awsCommon,
  ...logTextCommon,
  /** the log group, e.g. /aws/rds/instance/db1/postgresql */
  log_group: z.string().regex(/^[\w\-./#]{1,512}$/, 'a CloudWatch Logs group name (letters, digits, _ - . / #)'),
  /** only streams whose names start with this */
  stream_prefix: z.string().min(1).optional(),
  /** a CloudWatch Logs filter pattern applied by AWS before anything is sent, e.g. '"AUDIT:"' */
  filter_pattern: z.string().optional(),
  /** the `server` of every event (default: the log stream's name, the RDS instance) */
  server: z.string().min(1).optional(),
  /** where a new source starts: beginning, now, a duration back (24h, 7d) or an ISO time */
  start: z.string().regex(/^(beginning|now|\d+[smhd]|\d{4}-\d\d-\d\d(T.*)?)$/, 'beginning, now, a duration such as 24h, or an ISO time').default('beginning'),
  /** read events only once they are this old, so that CloudWatch has ingested every stream up to there */
  settle_seconds: z.number().min(0).max(3600).default(15),
  /** how often to look for new events once caught up */
  poll_seconds: z.number().positive().max(3600).default(5),
  /** events per FilterLogEvents call (AWS allows at most 10000) */
  page_size: z.number().int().min(1).max(10_000).default(10_000),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
});

export type CloudwatchSourceConfig = z.infer<typeof cloudwatchSourceSchema>;

export const cloudwatchSource: SourceDefinition<typeof cloudwatchSourceSchema> = defineSource({
  type: 'cloudwatch',
  schema: cloudwatchSourceSchema,
  doc: 'pipeline.md#cloudwatch-source',
  tests: ['test/pipeline/cloudwatch.test.ts'],
});

