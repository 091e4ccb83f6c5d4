// Config fragments more than one component's schema is made of: what every sink takes (inputs,
// routing, redaction), secrets, AWS and NATS connections, log text. Zod only: core/config.ts
// loads this for every command.
import { z } from 'zod';
import { EVENT_KINDS } from '../core/event.ts';

/** A password from the environment or a file, never in the file itself. */
export const secretSource = z.strictObject({
  /** Name of an environment variable holding the password. */
  password_env: z.string().min(1).optional(),
  /** Path of a file whose first line is the password (mode 0600 advised). */
  password_file: z.string().min(1).optional(),
});

/** Names of sources and sinks (a sink's `inputs` list them). */
export const componentName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'names use letters, digits, _ . -');

/**
 * The older routing of alert sinks (src/pipeline/match.ts), kept working for configs that have it:
 * `filter` is the one to write (docs/pipeline.md#filters-and-redaction).
 */
const matchSchema = z.strictObject({
  kinds: z.array(z.enum(['ddl', 'tamper'])).min(1).optional(),
  databases: z.array(z.string().min(1)).min(1).optional(),
  users: z.array(z.string().min(1)).min(1).optional(),
  /** command tags such as 'DROP *' or 'ALTER TABLE' */
  commands: z.array(z.string().min(1)).min(1).optional(),
});

/** Filter lists of a sink (src/pipeline/filter.ts): case-insensitive, `*` wildcards. */
const filterListsSchema = z.strictObject({
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  /** pgAudit classes: READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET */
  classes: z.array(z.string().min(1)).min(1).optional(),
  /** pgAudit commands or DDL command tags ('DELETE', 'DROP *') */
  commands: z.array(z.string().min(1)).min(1).optional(),
  users: z.array(z.string().min(1)).min(1).optional(),
  databases: z.array(z.string().min(1)).min(1).optional(),
  applications: z.array(z.string().min(1)).min(1).optional(),
});

const filterSchema = z.strictObject({
  include: filterListsSchema.optional(),
  /** alternatives: an event must match at least one of these (each as include: every list in it) */
  include_any: z.array(filterListsSchema).min(1).optional(),
  exclude: filterListsSchema.optional(),
  /** Guardium-style words in the statement or message: '?delete ?insert' (any of), 'word' (must), '-word' (must not) */
  event_filter: z.string().optional(),
});

const redactSchema = z.strictObject({
  /** mask string and number literals in statements and query text */
  literals: z.boolean().default(false),
  /** replace bind parameters with '?' */
  parameters: z.boolean().default(false),
});

/** What every sink takes besides its own settings; the graph applies it (graph.ts), not the sink. */
export const sinkCommon = {
  /** sources this sink takes events from (default: all) */
  inputs: z.array(componentName).min(1).optional(),
  /** deprecated spelling of routing: see filter */
  match: matchSchema.optional(),
  /** deprecated spelling of routing: see filter */
  ignore: matchSchema.optional(),
  filter: filterSchema.optional(),
  redact: redactSchema.optional(),
};

/** Where an AWS client goes: region and credentials by the SDK's default chain unless given. */
export const awsCommon = {
  /** AWS region (default: AWS_REGION, the profile's region, or the instance's) */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1').optional(),
  /** another endpoint than AWS's own (a VPC endpoint, a FIPS endpoint, a local emulator) */
  endpoint: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
};

/** How log text in CloudWatch events and queue messages is read (src/logs). */
export const logTextCommon = {
  format: z.enum(['stderr', 'csvlog', 'jsonlog']).default('stderr'),
  /** log_line_prefix of stderr text (default: Amazon RDS's) */
  prefix: z.string().default('%t:%r:%u@%d:[%p]:'),
};

/** A NATS connection: servers, and at most one way to authenticate (checkNatsAuth). */
export const natsCommon = {
  /** nats://host:port URLs (default: nats://127.0.0.1:4222) */
  servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, 'nats://host:port or tls://host:port')).min(1).default(['nats://127.0.0.1:4222']),
  user: z.string().min(1).optional(),
  password_env: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
  token_env: z.string().min(1).optional(),
  token_file: z.string().min(1).optional(),
  /** a NATS credentials file (JWT and NKey seed) */
  creds_file: z.string().min(1).optional(),
  tls: z.strictObject({
    ca_file: z.string().min(1).optional(),
    cert_file: z.string().min(1).optional(),
    key_file: z.string().min(1).optional(),
  }).optional(),
  /** the JetStream stream */
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -').default('PGWARDEN_EVENTS'),
  /** events go to SUBJECT_PREFIX.SERVER */
  subject_prefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens of letters, digits, _ and -').default('pgwarden.events'),
  timeout_seconds: z.number().positive().max(600).default(10),
};

/** What a NATS source and sink share: servers, credentials, stream and subjects. */
export type NatsConnectionConfig = z.infer<z.ZodObject<typeof natsCommon>>;
export type MatchConfig = z.infer<typeof matchSchema>;
export type SinkFilterConfig = z.infer<typeof filterSchema>;
export type RedactConfig = z.infer<typeof redactSchema>;
/** The routing and redaction settings every sink entry has. */
export type SinkCommonConfig = z.infer<z.ZodObject<typeof sinkCommon>>;

/** Problems in the config a schema cannot see: a NATS connection authenticates one way. */
export function checkNatsAuth(config: NatsConnectionConfig): { path: PropertyKey[]; message: string }[] {
  if (config.password_env && config.password_file) return [{ path: ['password_file'], message: 'give password_env or password_file, not both' }];
  if (config.token_env && config.token_file) return [{ path: ['token_file'], message: 'give token_env or token_file, not both' }];
  if ((config.password_env || config.password_file) && !config.user) return [{ path: [config.password_env ? 'password_env' : 'password_file'], message: 'a password needs user' }];
  const ways = [config.user, config.token_env ?? config.token_file, config.creds_file].filter((way) => way !== undefined).length;
  if (ways > 1) return [{ path: [], message: 'authenticate one way: user (with password_env/password_file), token_env/token_file, or creds_file' }];
  return [];
}

/** `"x" is not one of servers (a, b)`: a name that must be under servers:. */
export function unknownServer(name: string, servers: Record<string, unknown>): string {
  return `"${name}" is not one of servers (${Object.keys(servers).join(', ') || 'none defined'})`;
}

/** The check of a component whose `server:` must name an entry of servers:. */
export function checkServerKnown(config: { server?: string | undefined }, root: { servers: Record<string, unknown> }): { path: PropertyKey[]; message: string }[] {
  return config.server && !root.servers[config.server] ? [{ path: ['server'], message: unknownServer(config.server, root.servers) }] : [];
}

/**
 * A source that reads one of pgwarden's tables by id in each database (guard: connection_attempts,
 * responses: response_actions; src/pipeline/sources/id-table.ts). Both are written by INSERT
 * without a notification, so they are polled; an id missing below newer ones is a row still
 * committing until gap_seconds, then taken as rolled back.
 */
export const idTableCommon = {
  /** a name under servers: (default: default_server, else the PG* environment) */
  server: z.string().min(1).optional(),
  /** databases whose table to read (default: the server's own); ['*']: every database with pgwarden */
  databases: z.array(z.string().min(1)).min(1).optional(),
  /** how often to look for new rows */
  poll_seconds: z.number().positive().max(3600).default(5),
  /** how long an id missing below newer ones is waited for before it is taken as rolled back */
  gap_seconds: z.number().positive().max(3600).default(60),
  /** where checkpoints are kept (default: ~/.local/state/pgwarden) */
  state_dir: z.string().min(1).optional(),
};
