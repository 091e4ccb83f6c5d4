// pgwarden.yaml: validated with zod, unknown keys rejected with the path of the key.
import { readFileSync, existsSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { PgwardenError } from './errors.ts';

const secretSource = z.strictObject({
  /** Name of an environment variable holding the password. */
  password_env: z.string().min(1).optional(),
  /** Path of a file whose first line is the password (mode 0600 advised). */
  password_file: z.string().min(1).optional(),
});

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

const monitorSchema = z.strictObject({
  /** Per-check statement timeout. */
  timeout_ms: z.number().int().min(10).max(600_000).default(5000),
  /** Connections per server that run checks in parallel. */
  concurrency: z.number().int().min(1).max(16).default(4),
  /** Per-check settings by check name (names are checked against the registry when used). */
  checks: z.record(z.string(), monitorCheckSchema).default({}),
}).prefault({});

export const configSchema = z.strictObject({
  servers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'server names use letters, digits, _ . -'), serverSchema).default({}),
  default_server: z.string().optional(),
  guard: guardSchema,
  monitor: monitorSchema,
});

export type Config = z.infer<typeof configSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type GuardConfig = z.infer<typeof guardSchema>;
export type MonitorConfig = z.infer<typeof monitorSchema>;

export const DEFAULT_CONFIG_FILE = 'pgwarden.yaml';

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
      detail = `unknown key (allowed here: ${allowedKeys(issue.path).join(', ')})`;
    }
    const line = lineOf(doc, lineCounter, path);
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}${line ? `:${line}` : ''}: ${issuePath(path)}: ${detail}`);
  }
  const config = result.data;
  if (config.default_server && !config.servers[config.default_server]) {
    throw new PgwardenError('PGW_ERR_CONFIG', `${file}: default_server: "${config.default_server}" is not one of servers (${Object.keys(config.servers).join(', ') || 'none defined'})`);
  }
  return config;
}

function allowedKeys(path: PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const key of path) {
    const def = unwrap(schema);
    if (def instanceof z.ZodObject) schema = def.shape[key as string] as z.ZodType;
    else if (def instanceof z.ZodRecord) schema = def.valueType as z.ZodType;
    else return [];
  }
  const def = unwrap(schema);
  return def instanceof z.ZodObject ? Object.keys(def.shape) : [];
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
