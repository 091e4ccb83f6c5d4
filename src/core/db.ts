// Connections to monitored PostgreSQL servers.
// A target is a postgres:// URL, a server named in pgwarden.yaml, or (neither given) the
// libpq PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE,
// PGSSLMODE, ...), read as libpq reads them (libpq-options.ts: sslmode, the password lookup).
// Passwords never come from argv in documented usage: put them in PGPASSWORD, a pgpass file, or
// password_env/password_file.
import pg from './pg.ts';
import { readSecret } from './config-file.ts';
import type { Config } from './config.ts';
import { PgwardenError, classifyError } from './errors.ts';
import { checkUrl, clientClass, connectionPlan, passwordLookup, refusedWithoutTls, usesTls, type ConnectionPlan } from './libpq-options.ts';

export interface Target {
  /** Connection string, or undefined for PG* environment variables. */
  url?: string;
  password?: string;
  /** Overrides the database of the URL or PGDATABASE. */
  database?: string;
  /** What to call this target in messages (never contains a password). */
  label: string;
}

/** Every query pgwarden sends starts with this tag, so its own load shows in pg_stat_statements. */
export const SQL_TAG = '/* pgwarden */ ';

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1:***@');
  }
}

/** Resolves --db / --server / PG* environment into a Target. */
export function resolveTarget(options: { db?: string; server?: string }, config: Pick<Config, 'servers' | 'default_server'>): Target {
  if (options.db) {
    if (!/^postgres(ql)?:\/\//.test(options.db)) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--db "${redactUrl(options.db)}" is not a postgres:// or postgresql:// URL`);
    }
    checkUrl(`--db "${redactUrl(options.db)}"`, options.db);
    return { url: options.db, label: redactUrl(options.db) };
  }
  const name = options.server ?? config.default_server;
  if (name) {
    const server = config.servers[name];
    if (!server) {
      const known = Object.keys(config.servers);
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', known.length > 0
        ? `--server "${name}" is not defined in the config file (known: ${known.join(', ')})`
        : `--server "${name}" needs a config file that defines it under servers: (none was found; see --config)`);
    }
    return { url: server.url, password: readSecret(`servers.${name}`, server.password_env, server.password_file), label: name };
  }
  const env = process.env;
  const label = `${env.PGUSER ?? '(os user)'}@${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? '5432'}/${env.PGDATABASE ?? env.PGUSER ?? ''}`;
  return { label };
}

/** The same server, another database. */
export function targetForDatabase(target: Target, database: string): Target {
  if (target.url) {
    const parsed = new URL(target.url);
    parsed.pathname = '/' + encodeURIComponent(database);
    return { ...target, url: parsed.toString(), label: redactUrl(parsed.toString()) };
  }
  return { ...target, label: `${target.label} (database ${database})`, database };
}

function clientConfig(target: Target, applicationName: string, plan: ConnectionPlan): pg.ClientConfig {
  return {
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    // the URL's own settings (application_name among them) win, as they did in node-postgres's URL parsing
    ...plan.config,
    password: passwordLookup(target) as pg.ClientConfig['password'],
  };
}

/** A small pool for a long-running process whose parts query concurrently (one client must not). */
export function createPool(target: Target, applicationName: string, max = 3, extra: Partial<pg.PoolConfig> = {}): pg.Pool {
  const plan = connectionPlan(target);
  const pool = new pg.Pool({ ...clientConfig(target, applicationName, plan), Client: clientClass(plan) as unknown as pg.PoolConfig['Client'], max, idleTimeoutMillis: 60_000, ...extra });
  // An idle pooled client whose server goes away emits 'error' on the pool; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** A query on a pool, its failure classified (PGW_ERR_CONNECT, PGW_ERR_PRIVILEGE, …) for the target named `label`. */
export async function poolQuery<R extends pg.QueryResultRow>(pool: pg.Pool, label: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(text, values);
  } catch (error) {
    throw classifyError(error, label);
  }
}

export async function connect(target: Target, applicationName = 'pgwarden'): Promise<pg.Client> {
  const plan = connectionPlan(target);
  for (;;) {
    const withTls = usesTls(plan);
    const client = new (clientClass(plan))(clientConfig(target, applicationName, plan));
    // An idle client whose server goes away emits 'error'; without a listener Node would crash.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      // sslmode=allow: a login refused without TLS is tried once more with it, as libpq does
      if (refusedWithoutTls(plan, withTls, error)) continue;
      throw classifyError(error, target.label);
    }
  }
}

export async function withClient<T>(target: Target, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(target);
  try {
    return await work(client);
  } catch (error) {
    throw classifyError(error, target.label);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs work in one transaction: all of it lands, or none of it does. */
export async function inTransaction<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
