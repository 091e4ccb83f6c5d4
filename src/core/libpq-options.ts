// Connection settings read the way libpq reads them, so the URLs and PG* variables every DBA
// already has mean the same to pgwarden as to psql:
//  - sslmode (URL parameter, else PGSSLMODE; default prefer) with libpq's meaning, not
//    node-postgres's (which takes require and verify-ca for verify-full and prints a warning):
//    disable   never TLS
//    allow     without TLS first; with TLS if the server refuses that
//    prefer    TLS when the server offers it (nothing verified), else without, on the same connection
//    require   TLS, nothing verified (verify-ca when a root certificate is given or ~/.postgresql/root.crt exists)
//    verify-ca TLS, the server's certificate signed by sslrootcert
//    verify-full  verify-ca, and the certificate names the host connected to
//    (over a Unix socket TLS is never used, as in libpq)
//  - sslrootcert / sslcert / sslkey / sslpassword / sslcrl (else PGSSLROOTCERT, PGSSLCERT, PGSSLKEY,
//    PGSSLCRL; else ~/.postgresql/root.crt, postgresql.crt, postgresql.key, root.crl when they exist);
//    sslrootcert=system trusts the system's CAs and needs verify-full.
//  - the password: the target's (config file), the URL's, PGPASSWORD, then the pgpass file
//    (PGPASSFILE or ~/.pgpass), asked for only when the server wants one; none at all is a clear
//    PGW_ERR_AUTH instead of the driver's "client password must be a string".
//  - a port that is not a number, an unknown sslmode: PGW_ERR_INVALID_VALUE naming the value.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from './pg.ts';
import { parse as parseConnectionString } from 'pg-connection-string';
import { PgwardenError } from './errors.ts';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The URL parameters read here; the driver never sees them (it would read them its own way). */
const SSL_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'sslcrl', 'ssl', 'uselibpqcompat'];

export interface LibpqTarget {
  url?: string;
  password?: string;
  database?: string;
  label: string;
}

export interface ConnectionPlan {
  /** host, port, user, database and the URL's other parameters, without password and TLS */
  config: pg.ClientConfig;
  mode: SslMode;
  /** the TLS settings when TLS is tried at all (null for disable, and for allow until the server asks for it) */
  tls: ConnectionOptions | null;
  /** host:port, for allow's memory of servers that refused a connection without TLS */
  where: string;
  label: string;
}

/** Checks a postgres:// URL the way a user wrote it: a named port must be a number, sslmode one libpq knows. `where` names it in messages. */
export function checkUrl(where: string, url: string): void {
  const authority = /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?((?:\[[^\]]*\]|[^:/?#,]*)(?::[^/?#,]*)?(?:,(?:\[[^\]]*\]|[^:/?#,]*)(?::[^/?#,]*)?)*)/.exec(url);
  for (const host of authority?.[1]?.split(',') ?? []) {
    const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(host)?.[1];
    if (port !== undefined && port !== '') checkPort(where, port);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${where} is not a valid URL (postgres://user@host:5432/database?sslmode=require)`);
  }
  const mode = parsed.searchParams.get('sslmode');
  if (mode !== null) checkSslMode(`${where}: sslmode`, mode);
  const port = parsed.searchParams.get('port');
  if (port !== null) checkPort(where, port);
}

function checkPort(what: string, port: string): number {
  const n = Number(port);
  if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65_535) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${what}: port "${port}" is not a number from 1 to 65535`);
  }
  return n;
}

function checkSslMode(what: string, mode: string): SslMode {
  if ((SSL_MODES as readonly string[]).includes(mode)) return mode as SslMode;
  throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${what} "${mode}" is not one of ${SSL_MODES.join(', ')}` +
    (mode === 'no-verify' ? ' (no-verify is node-postgres\'s; libpq\'s require encrypts without verifying)' : ''));
}

/** A file named by a parameter, or the environment, or libpq's default under ~/.postgresql when it exists. */
function sslFile(params: URLSearchParams, name: string, env: string, fallback: string): { file: string; given: boolean } | null {
  const given = params.get(name) ?? process.env[env];
  if (given !== undefined && given !== '') return { file: given, given: true };
  const home = process.env.HOME || homedir();
  const file = path.join(home, '.postgresql', fallback);
  return existsSync(file) ? { file, given: false } : null;
}

function readSslFile(label: string, name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PgwardenError('PGW_ERR_TLS', `${label}: cannot read ${name} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
  }
}

/** The TLS settings of an sslmode, or null when no TLS is wanted. */
function tlsOptions(mode: SslMode, params: URLSearchParams, label: string): ConnectionOptions | null {
  if (mode === 'disable') return null;
  const root = sslFile(params, 'sslrootcert', 'PGSSLROOTCERT', 'root.crt');
  const options: ConnectionOptions = {};
  let verify: 'none' | 'ca' | 'full' = mode === 'verify-full' ? 'full' : mode === 'verify-ca' ? 'ca' : 'none';
  if (root?.file === 'system') {
    // libpq: the system's CAs vouch for anyone they signed, so only the host name check makes them safe
    if (mode !== 'verify-full') {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${label}: sslrootcert=system needs sslmode=verify-full (it is ${mode})`);
    }
  } else if (root) {
    options.ca = readSslFile(label, 'sslrootcert', root.file);
    // libpq verifies the chain whenever it has a root certificate
    if (verify === 'none') verify = 'ca';
  } else if (verify !== 'none') {
    throw new PgwardenError('PGW_ERR_TLS', `${label}: sslmode=${mode} verifies the server's certificate, but no root certificate was given`,
      { hint: 'Give the CA certificate that signed the server\'s: sslrootcert=/path/ca.crt in the URL, PGSSLROOTCERT, or ~/.postgresql/root.crt; sslrootcert=system trusts the system\'s CAs (with verify-full); sslmode=require encrypts without verifying.' });
  }
  options.rejectUnauthorized = verify !== 'none';
  // verify-ca: the chain, not the name
  if (verify === 'ca') options.checkServerIdentity = () => undefined;
  const cert = sslFile(params, 'sslcert', 'PGSSLCERT', 'postgresql.crt');
  const key = sslFile(params, 'sslkey', 'PGSSLKEY', 'postgresql.key');
  if (cert && key) {
    options.cert = readSslFile(label, 'sslcert', cert.file);
    options.key = readSslFile(label, 'sslkey', key.file);
    const passphrase = params.get('sslpassword');
    if (passphrase) options.passphrase = passphrase;
  } else if (cert?.given || key?.given) {
    throw new PgwardenError('PGW_ERR_TLS', `${label}: ${cert?.given ? 'sslcert' : 'sslkey'} is given without ${cert?.given ? 'sslkey' : 'sslcert'} (a client certificate needs its key)`);
  }
  const crl = sslFile(params, 'sslcrl', 'PGSSLCRL', 'root.crl');
  if (crl) options.crl = readSslFile(label, 'sslcrl', crl.file);
  return options;
}

/** How to connect to a target: the driver's settings, the sslmode and its TLS settings. */
export function connectionPlan(target: LibpqTarget): ConnectionPlan {
  const env = process.env;
  let params = new URLSearchParams();
  let config: pg.ClientConfig = {};
  if (target.url) {
    checkUrl(target.label, target.url);
    const url = new URL(target.url);
    params = new URLSearchParams(url.searchParams);
    for (const name of SSL_PARAMETERS) url.searchParams.delete(name);
    const { password: _password, ssl: _ssl, ...rest } = parseConnectionString(url.toString());
    config = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null && v !== undefined && v !== '')) as pg.ClientConfig;
    if (typeof rest.port === 'string' && rest.port !== '') config.port = Number(rest.port);
  } else if (env.PGPORT !== undefined && env.PGPORT !== '') {
    checkPort('PGPORT', env.PGPORT);
  }
  if (target.database) config.database = target.database;
  let mode: SslMode;
  const modeText = params.get('sslmode') ?? (env.PGSSLMODE || undefined);
  if (modeText !== undefined) mode = checkSslMode(params.has('sslmode') ? 'sslmode' : 'PGSSLMODE', modeText);
  else if (params.has('ssl')) mode = ['true', '1'].includes(params.get('ssl')!) ? 'verify-full' : 'disable'; // node-postgres's ssl=true verified everything
  else mode = 'prefer';
  const host = config.host ?? env.PGHOST ?? 'localhost';
  // Over a Unix socket there is no TLS (libpq ignores sslmode there).
  if (host.startsWith('/')) mode = 'disable';
  const port = config.port ?? (Number(env.PGPORT) || 5432);
  const tls = tlsOptions(mode, params, target.label);
  return { config, mode, tls, where: `${host}:${port}`, label: target.label };
}

/** Servers that refused a login without TLS under sslmode=allow: later connections to them go with TLS at once. */
const REFUSED_PLAIN = new Set<string>();

/** Whether a new connection of the plan uses TLS. */
export function usesTls(plan: ConnectionPlan): boolean {
  return plan.tls !== null && (plan.mode !== 'allow' || REFUSED_PLAIN.has(plan.where));
}

/**
 * allow: a login refused without TLS is tried again with it (libpq does so for any refused login).
 * Records the refusal and says whether to try again.
 */
export function refusedWithoutTls(plan: ConnectionPlan, usedTls: boolean, error: unknown): boolean {
  if (plan.mode !== 'allow' || usedTls || plan.tls === null) return false;
  if (!/^28/.test(String((error as { code?: string } | null)?.code ?? ''))) return false;
  REFUSED_PLAIN.add(plan.where);
  return true;
}

/** The password, looked up when the server asks for one. */
export function passwordLookup(target: LibpqTarget): (params: { user?: string; host?: string; port?: number; database?: string }) => Promise<string> {
  let fromUrl: string | undefined;
  if (target.url) {
    const url = new URL(target.url);
    if (url.password !== '') fromUrl = decodeURIComponent(url.password);
  }
  return async (params) => {
    const explicit = target.password ?? fromUrl ?? process.env.PGPASSWORD;
    if (explicit !== undefined) return explicit;
    // Loaded here: most runs have their password already (PGPASSWORD, the URL, the config file),
    // and `pgwarden check` starts every minute.
    const { default: pgpass } = await import('pgpass');
    const found = await new Promise<string | undefined>((resolve) => {
      pgpass({ host: params.host, port: params.port, database: params.database, user: params.user }, resolve);
    });
    if (found !== undefined) return found;
    throw new PgwardenError('PGW_ERR_AUTH', `${target.label}: the server asks user "${params.user}" for a password, and none was given`,
      { hint: 'Put it in PGPASSWORD, a pgpass file (~/.pgpass or PGPASSFILE, mode 0600), or password_env/password_file in pgwarden.yaml; not on the command line.' });
  };
}

interface PgConnection {
  ssl: unknown;
  sslNegotiation: string;
  stream: NodeJS.EventEmitter & { end(): void };
  attachListeners(stream: unknown): void;
  emit(event: string, ...args: unknown[]): boolean;
}

/**
 * node-postgres's connection, with libpq's answer to a server that offers no TLS: prefer goes on
 * without it on the same connection (one connection, as with libpq; a second one would be a second
 * "connection received" in the server's log); the modes that need TLS fail with PGW_ERR_TLS.
 */
function negotiatingConnection(plan: ConnectionPlan, config: pg.ClientConfig): unknown {
  const Connection = (pg as unknown as { Connection: new (config: object) => PgConnection & { connect(port: number, host: string): void } }).Connection;
  const connection = new Connection({ ssl: plan.tls, keepAlive: config.keepAlive ?? false, keepAliveInitialDelayMillis: config.keepAliveInitialDelayMillis ?? 0, encoding: 'utf8' });
  const connect = connection.connect.bind(connection);
  connection.connect = (port: number, host: string) => {
    connect(port, host);
    if (!connection.ssl || connection.sslNegotiation === 'direct') return;
    // The driver waits for the one byte that answers SSLRequest: 'S' (TLS follows) or 'N'.
    const driverAnswer = connection.stream.rawListeners('data') as ((buffer: Buffer) => void)[];
    connection.stream.removeAllListeners('data');
    connection.stream.once('data', (buffer: Buffer) => {
      if (buffer.length === 1 && buffer[0] === 0x4e) {
        if (plan.mode === 'prefer') {
          connection.ssl = false;
          connection.attachListeners(connection.stream);
          connection.emit('sslconnect');
          return;
        }
        connection.stream.end();
        connection.emit('error', new PgwardenError('PGW_ERR_TLS', `${plan.label}: sslmode=${plan.mode} needs TLS, and the server does not offer it (ssl = off in its postgresql.conf)`,
          { hint: 'Turn ssl on at the server (ssl_cert_file, ssl_key_file), or connect with sslmode=prefer or disable where clear text is acceptable (a Unix socket, loopback).' }));
        return;
      }
      for (const listener of driverAnswer) listener.call(connection.stream, buffer);
    });
  };
  return connection;
}

/**
 * A node-postgres Client class that connects by the plan. Pools make their clients from it: under
 * allow, a refused login makes the pool's next connection use TLS.
 */
export function clientClass(plan: ConnectionPlan): typeof pg.Client {
  return class LibpqClient extends pg.Client {
    private readonly withTls: boolean;
    constructor(config: pg.ClientConfig) {
      const tls = usesTls(plan);
      // pg-pool keeps the password as a property that a spread does not copy
      super({ ...config, password: config.password, ssl: tls ? plan.tls! : false, ...(tls ? { connection: negotiatingConnection(plan, config) } : {}) } as pg.ClientConfig);
      this.withTls = tls;
    }
    override connect(): Promise<pg.Client>;
    override connect(callback: (error: Error | null, client?: pg.Client) => void): void;
    override connect(callback?: (error: Error | null, client?: pg.Client) => void): Promise<pg.Client> | void {
      const attempt = super.connect().catch((error: unknown) => {
        refusedWithoutTls(plan, this.withTls, error);
        throw error;
      });
      if (!callback) return attempt;
      attempt.then((client) => callback(null, client), callback);
    }
  };
}
