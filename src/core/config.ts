// pgwarden.yaml: validated with zod, unknown keys rejected with the path of the key. This file
// holds the top level; each pipeline source and sink type brings its own schema and checks
// (src/pipeline/registry.ts lists them), and detect: its own (src/detect/config.ts).
import { readFileSync, existsSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { detectReferenceProblems, detectSchema } from '../detect/config.ts';
import { DEFAULT_CONFIG_FILE } from './config-file.ts';
// Re-exported: the schema's users read them from here; what needs no schema imports config-file.ts.
export { DEFAULT_CONFIG_FILE, readSecret } from './config-file.ts';
import { PgwardenError } from './errors.ts';
import { componentName, secretSource } from '../pipeline/config-parts.ts';
import { sinkDefinition, sinkSchema, sourceDefinition, sourceSchema } from '../pipeline/registry.ts';
import { MONITOR_DEFAULTS } from './config-file.ts';

const serverSchema = secretSource.extend({
  /** postgres:// URL without a password; empty means libpq PG* environment variables. */
  url: z.string().min(1).optional(),
});

const guardSchema = z.strictObject({
  /** What a broken guard does to non-superusers: open (allow, default) or closed (refuse). */
  on_error: z.enum(['open', 'closed']).default('open'),
  /** Roles never refused, whatever the rules say (superusers never are either). */
  break_glass_roles: z.array(z.string().min(1)).default([]),
  /** Host the guard uses to record refusals in its own autonomous transaction (dblink loopback). */
  recorder_host: z.string().min(1).default('127.0.0.1'),
  watch: z.strictObject({
    interval_seconds: z.number().positive().max(3600).default(2),
    terminate: z.boolean().default(true),
  }).prefault({}),
}).prefault({});

const pipelineSchema = z.strictObject({
  /** every registered source type (src/pipeline/registry.ts), by name */
  sources: z.record(componentName, sourceSchema).default({}),
  sinks: z.record(componentName, sinkSchema).default({}),
  batch: z.strictObject({
    /** after a change arrives, wait this long so that a burst goes out as one message */
    window_seconds: z.number().min(0).max(600).default(2),
    max_events: z.number().int().min(1).max(10_000).default(100),
  }).prefault({}),
  retry: z.strictObject({
    initial_seconds: z.number().positive().max(3600).default(2),
    max_seconds: z.number().positive().max(86_400).default(300),
  }).prefault({}),
  /** what `pgwarden collect status` reads */
  status: z.strictObject({
    /** the JSON file collect rewrites every 2 s (default: collect-status.json in ~/.local/state/pgwarden) */
    file: z.string().min(1).optional(),
    /** a lane waiting this long without a delivery (a sink refusing, a source unreadable) is stuck */
    stuck_seconds: z.number().min(1).max(86_400).default(300),
  }).prefault({}),
}).prefault({});

const monitorCheckSchema = z.strictObject({
  enabled: z.boolean().optional(),
  /** null removes the default threshold. */
  warning: z.number().nullable().optional(),
  critical: z.number().nullable().optional(),
  /** Items (role, database, slot, ...) whose rows never raise the level. */
  ignore: z.array(z.string()).optional(),
  /** Settings passed to the check's SQL function (window_minutes, hold_hours, ...). */
  params: z.record(z.string().regex(/^[a-z_]+$/), z.number()).optional(),
});

// ---- Monitoring: pgBouncer consoles and custom checks (docs/monitor.md) ----
/** A check written in SQL (docs/monitor.md, "Custom checks"); `monitor install` makes it a function. */
const customCheckSchema = z.strictObject({
  description: z.string().min(1),
  category: z.enum(['health', 'security']).default('health'),
  /** database: about the database it runs in; cluster: the same answer anywhere. */
  scope: z.enum(['cluster', 'database']).default('database'),
  unit: z.enum(['boolean', 'count', 'percent', 'seconds', 'bytes', 'bytes_per_hour', 'per_second']).default('count'),
  warning: z.number().nullable().default(null),
  critical: z.number().nullable().default(null),
  direction: z.enum(['above', 'below']).default('above'),
  /** One SELECT returning a value column, and optionally item, detail, skipped, metadata. */
  sql: z.string().min(1),
  /** Tables the SQL reads: install grants the monitor's owner role SELECT on them. */
  reads: z.array(z.string().min(1)).default([]),
});
const monitorExtensions = {
  /** The pgBouncer admin console of a server: server name -> the servers: entry of its console. */
  pgbouncer: z.record(z.string(), z.string().min(1)).default({}),
  custom_checks: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'custom check names are snake_case'), customCheckSchema).default({}),
};
// ---- end of the monitoring block ----

const monitorSchema = z.strictObject({
  /** Per-check statement timeout. */
  timeout_ms: z.number().int().min(10).max(600_000).default(MONITOR_DEFAULTS.timeout_ms),
  /** Connections per server that run checks in parallel. */
  concurrency: z.number().int().min(1).max(16).default(MONITOR_DEFAULTS.concurrency),
  /** Per-check settings by check name (names are checked against the registry when used). */
  checks: z.record(z.string(), monitorCheckSchema).default({}),
  ...monitorExtensions,
}).prefault({});

/** `pgwarden serve`: the HTTP API and dashboard over the repository (docs/server.md). */
const serveSchema = z.strictObject({
  /** host:port to listen on; a non-loopback address needs tls or trust_proxy */
  listen: z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080').default('127.0.0.1:8080'),
  /** serve HTTPS with this certificate and key (PEM files) */
  tls: z.strictObject({ cert_file: z.string().min(1), key_file: z.string().min(1) }).optional(),
  /**
   * behind reverse proxies that terminate TLS: how many of them (X-Forwarded-For is read from the
   * right, that many hops) or their addresses (IPs or CIDRs); false: none. `true` trusted every hop,
   * so a client picked its own address: refused with what to write instead.
   */
  trust_proxy: z.union([
    z.literal(false),
    z.number().int().min(1).max(10),
    z.array(z.string().regex(/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, 'an IP address or CIDR, e.g. 10.0.0.5 or 10.0.0.0/24')).min(1),
  ], {
    error: (issue) => (issue.input === true
      ? 'true trusted every hop, so any client could choose its own address: give the number of proxies in front (1 for one nginx) or their addresses ([10.0.0.5])'
      : 'false, the number of proxies in front (1–10), or a list of their addresses'),
  }).default(false),
  /**
   * Host names the dashboard answers to, besides IP addresses and localhost (a DNS-rebinding page
   * sends its own name): the public name behind a proxy, e.g. [pgwarden.example.com].
   */
  hosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'a host name, e.g. pgwarden.example.com')).default([]),
  /** on SIGTERM, how long requests in flight (a slow export) may go on before their connections are closed */
  shutdown_seconds: z.number().min(0).max(600).default(10),
  /** a browser session ends after this long without a request */
  session_idle_minutes: z.number().int().min(1).max(10_080).default(60),
  /** and at the latest this long after the login */
  session_max_hours: z.number().int().min(1).max(720).default(12),
  /** /metrics without a token (for a Prometheus on a trusted network); default: a token is needed */
  metrics_public: z.boolean().default(false),
  /** the longest any one repository query may run */
  statement_timeout_ms: z.number().int().min(100).max(600_000).default(15_000),
  /** a search returns what it found within about this long, with a cursor to search further back */
  search_budget_ms: z.number().int().min(20).max(60_000).default(200),
  /** rows one CSV/JSON export may hold */
  export_max_rows: z.number().int().min(1).max(10_000_000).default(100_000),
  /** monitoring: run the checks against these servers (names under servers:, or ['*'] for all) */
  monitor: z.strictObject({
    servers: z.array(z.string().min(1)).default([]),
    interval_seconds: z.number().int().min(5).max(86_400).default(60),
    /** how long the history of each check is kept (the Monitoring page's history) */
    history_days: z.number().int().min(1).max(3650).default(30),
  }).prefault({}),
  /** what the alerts page counts as a burst of failed logins */
  alerts: z.strictObject({
    failed_logins: z.number().int().min(1).max(100_000).default(5),
    window_minutes: z.number().int().min(1).max(1440).default(10),
  }).prefault({}),
}).prefault({});

export const configSchema = z.strictObject({
  servers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'server names use letters, digits, _ . -'), serverSchema).default({}),
  default_server: z.string().optional(),
  guard: guardSchema,
  pipeline: pipelineSchema,
  monitor: monitorSchema,
  /** The central repository for ingest, reports and repository sinks (docs/repository.md). */
  repository: serverSchema.optional(),
  serve: serveSchema,
  /** Detection rules over every event (docs/detect.md); the schema lives in src/detect/config.ts. */
  detect: detectSchema,
});

export type Config = z.infer<typeof configSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type GuardConfig = z.infer<typeof guardSchema>;
export type PipelineConfig = z.infer<typeof pipelineSchema>;
export type MonitorConfig = z.infer<typeof monitorSchema>;
export type CustomCheckConfig = z.infer<typeof customCheckSchema>;
// Each component's config type lives with its schema in its folder; re-exported for the parts that name them.
export type { DdlSourceConfig } from '../pipeline/sources/ddl/config.ts';
export type { GuardSourceConfig } from '../pipeline/sources/guard/config.ts';
export type { LogfileSourceConfig } from '../pipeline/sources/logfile/config.ts';
export type { CloudwatchSourceConfig } from '../pipeline/sources/cloudwatch/config.ts';
export type { SqsSourceConfig } from '../pipeline/sources/sqs/config.ts';
export type { NatsSourceConfig } from '../pipeline/sources/nats/config.ts';
export type { EmailSinkConfig } from '../pipeline/sinks/email/config.ts';
export type { WebhookSinkConfig } from '../pipeline/sinks/webhook/config.ts';
export type { RepositorySinkConfig } from '../pipeline/sinks/repository/config.ts';
export type { JsonlSinkConfig } from '../pipeline/sinks/jsonl/config.ts';
export type { SyslogSinkConfig } from '../pipeline/sinks/syslog/config.ts';
export type { NatsSinkConfig } from '../pipeline/sinks/nats/config.ts';
export type { MatchConfig, NatsConnectionConfig, RedactConfig, SinkFilterConfig } from '../pipeline/config-parts.ts';
export type ServeConfig = z.infer<typeof serveSchema>;


function issuePath(path: PropertyKey[]): string {
  return path.map((p) => String(p)).join('.') || '(top level)';
}

/** Parses and validates config text; errors name the file, line and key. */
export function parseConfig(text: string, file = DEFAULT_CONFIG_FILE): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}${line ? `:${line}` : ''}: invalid YAML: ${first.message.split('\n')[0]}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    let path = issue.path;
    let detail = issue.message;
    if (issue.code === 'unrecognized_keys') {
      path = [...issue.path, issue.keys[0]!];
      detail = `unknown key (allowed here: ${allowedKeys(issue.path, raw).join(', ')})`;
    } else if (issue.code === 'invalid_type') {
      const value = valueAt(raw, issue.path);
      detail = value === undefined ? `missing: this key is required (${a(issue.expected)})`
        : `expected ${a(issue.expected)}, found ${value === null ? 'nothing (null)' : `${a(Array.isArray(value) ? 'array' : typeof value)} (${JSON.stringify(value)})`}`;
    }
    const line = lineOf(doc, lineCounter, path);
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}${line ? `:${line}` : ''}: ${issuePath(path)}: ${detail}`);
  }
  const config = result.data;
  if (config.default_server && !config.servers[config.default_server]) {
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}: default_server: "${config.default_server}" is not one of servers (${Object.keys(config.servers).join(', ') || 'none defined'})`);
  }
  checkPipelineReferences(config, file, (path) => lineOf(doc, lineCounter, path));
  return config;
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** "a string", "an object", "an array". */
function a(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** The input name of detection alerts in a sink's `inputs` (detect.in_collect): `inputs: [detect]` is a sink of alerts only. */
export const DETECT_INPUT = 'detect';

/** Names that point elsewhere in the file must exist: a sink's inputs, a source's server. */
function checkPipelineReferences(config: Config, file: string, line: (path: PropertyKey[]) => number | undefined): void {
  const fail = (path: PropertyKey[], message: string): never => {
    const at = line(path);
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}${at ? `:${at}` : ''}: ${issuePath(path)}: ${message}`);
  };
  for (const problem of detectReferenceProblems(config.detect, Object.keys(config.pipeline.sinks))) fail(['detect', ...problem.path], problem.message);
  for (const [index, name] of config.serve.monitor.servers.entries()) {
    if (name !== '*' && !config.servers[name]) fail(['serve', 'monitor', 'servers', index], `"${name}" is not one of servers (${Object.keys(config.servers).join(', ') || 'none defined'})`);
  }
  const sources = Object.keys(config.pipeline.sources);
  // `detect` is the input of detection alerts when collect runs the rules (detect.in_collect)
  if (config.detect.in_collect && sources.includes(DETECT_INPUT)) fail(['pipeline', 'sources', DETECT_INPUT], `"${DETECT_INPUT}" names the detection alerts when detect.in_collect is true: give this source another name`);
  const inputs = config.detect.in_collect ? [...sources, DETECT_INPUT] : sources;
  for (const [name, source] of Object.entries(config.pipeline.sources)) {
    const [problem] = sourceDefinition(source.type).check?.(source, config) ?? [];
    if (problem) fail(['pipeline', 'sources', name, ...problem.path], problem.message);
  }
  for (const [name, sink] of Object.entries(config.pipeline.sinks)) {
    for (const input of sink.inputs ?? []) {
      if (!inputs.includes(input)) fail(['pipeline', 'sinks', name, 'inputs'], `"${input}" is not one of pipeline.sources (${inputs.join(', ') || 'none defined'})`);
    }
    const [problem] = sinkDefinition(sink.type).check?.(sink, config) ?? [];
    if (problem) fail(['pipeline', 'sinks', name, ...problem.path], problem.message);
  }
}

function allowedKeys(path: PropertyKey[], raw: unknown): string[] {
  let schema: z.ZodType = configSchema;
  let node: unknown = raw;
  for (const key of path) {
    const def = variant(unwrap(schema), node);
    if (def instanceof z.ZodObject) schema = def.shape[key as string] as z.ZodType;
    else if (def instanceof z.ZodRecord) schema = def.valueType as z.ZodType;
    else return [];
    node = (node as Record<PropertyKey, unknown> | undefined)?.[key];
  }
  const def = unwrap(schema);
  if (def instanceof z.ZodDiscriminatedUnion && !(variant(def, node) instanceof z.ZodObject)) {
    // No valid `type:` chose a variant: every variant's keys.
    return [...new Set((def.options as z.ZodObject[]).flatMap((option) => Object.keys(option.shape)))];
  }
  const chosen = variant(def, node);
  return chosen instanceof z.ZodObject ? Object.keys(chosen.shape) : [];
}

/** For a union on `type:` (pipeline sources and sinks), the variant the entry's type chose. */
function variant(def: z.ZodType, node: unknown): z.ZodType {
  if (!(def instanceof z.ZodDiscriminatedUnion)) return def;
  const type = (node as { type?: unknown } | undefined)?.type;
  return (def.options as z.ZodObject[]).find((option) => (option.shape.type as z.ZodLiteral).value === type) ?? def;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function lineOf(doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: PropertyKey[]): number | undefined {
  // Point at the key itself when it exists, else at its closest existing parent.
  for (let depth = path.length; depth >= 1; depth--) {
    const parentPath = path.slice(0, depth - 1);
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath as unknown[], true);
    const node = parent as { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> } | null;
    const pair = node?.items?.find((item) => item.key?.value === path[depth - 1]);
    const offset = pair?.key?.range?.[0];
    if (offset !== undefined) return lineCounter.linePos(offset).line;
  }
  return undefined;
}

/** Loads the config file: an explicit path must exist; the default one is optional. */
export function loadConfig(file?: string): Config {
  const path = file ?? process.env.PGWARDEN_CONFIG ?? DEFAULT_CONFIG_FILE;
  if (!existsSync(path)) {
    if (file || process.env.PGWARDEN_CONFIG) throw new PgwardenError('PGW_ERR_CONFIG', `config file ${path} does not exist`);
    return configSchema.parse({});
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PgwardenError('PGW_ERR_CONFIG', `cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : (error as Error).message}`);
  }
  return parseConfig(text, path);
}
