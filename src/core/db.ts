// Connections to monitored PostgreSQL servers.
// A target is a postgres:// URL, a server named in pgwarden.yaml, or (neither given) the
// libpq PG* environment variables, which node-postgres reads itself (PGHOST, PGPORT,
// PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE, PGSSLMODE). Passwords never come from argv
// in documented usage: put them in PGPASSWORD, a pgpass file, or password_env/password_file.
import pg from 'pg';
import { readSecret, type Config } from './config.ts';
import { PgwardenError, classifyError } from './errors.ts';

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
export function resolveTarget(options: { db?: string; server?: string }, config: Config): Target {
  if (options.db) {
    if (!/^postgres(ql)?:\/\//.test(options.db)) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--db "${redactUrl(options.db)}" is not a postgres:// or postgresql:// URL`);
    }
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

/** The URL with the configured password in it: node-postgres lets the URL's (absent) password win over `password`. */
function connectionString(target: Target): string | undefined {
  if (!target.url || target.password === undefined) return target.url;
  const parsed = new URL(target.url);
  parsed.password = encodeURIComponent(target.password);
  return parsed.toString();
}

function clientConfig(target: Target, applicationName: string): pg.ClientConfig {
  return {
    connectionString: connectionString(target),
    password: target.password,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    ...(target.database ? { database: target.database } : {}),
  };
}

/** A small pool for a long-running process whose parts query concurrently (one client must not). */
export function createPool(target: Target, applicationName: string, max = 3, extra: Partial<pg.PoolConfig> = {}): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(target, applicationName), max, idleTimeoutMillis: 60_000, ...extra });
  // An idle pooled client whose server goes away emits 'error' on the pool; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

export async function connect(target: Target, applicationName = 'pgwarden'): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(target, applicationName));
  // An idle client whose server goes away emits 'error'; without a listener Node would crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifyError(error, target.label);
  }
  return client;
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
