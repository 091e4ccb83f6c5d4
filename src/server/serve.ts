// `pgwarden serve`: the repository pool, the app, the monitoring loop, listen; and a clean stop.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { SQL_TAG, createPool, type Target } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { REPO_LATEST_VERSION, repositoryError, repositoryVersion } from '../repository/index.ts';
import { buildApp } from './app.ts';
import { createMetrics } from './metrics.ts';
import { startMonitorLoop, type MonitorLoop } from './monitoring.ts';

export interface RunningServe {
  url: string;
  monitor: MonitorLoop;
  close(): Promise<void>;
}

/** host:port, with [v6]:port. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `listen address "${text}" is not host:port (127.0.0.1:8080, [::1]:8080)`);
  return { host: match[1] ?? match[2]!, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/**
 * The dashboard's connections: each with the statement timeout, and, when pgAudit is loaded and
 * the login may set it (a superuser), pgaudit.log = none, so the dashboard's reads of the
 * repository are not audited into it. Other logins get that from `repo migrate --server-login`.
 */
async function repositoryPool(target: Target, statementTimeoutMs: number): Promise<pg.Pool> {
  const probe = createPool(target, 'pgwarden/serve', 1);
  let quiet = false;
  try {
    const { rows } = await probe.query<{ quiet: boolean }>(`${SQL_TAG}SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_settings WHERE name = 'pgaudit.log')
        AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS quiet`);
    quiet = rows[0]!.quiet;
  } catch (error) {
    throw repositoryError(error, target.label);
  } finally {
    await probe.end().catch(() => undefined);
  }
  return createPool(target, 'pgwarden/serve', 10, { statement_timeout: statementTimeoutMs, ...(quiet ? { options: '-c pgaudit.log=none' } : {}) });
}

export interface ServeOptions {
  config: Config;
  repository: Target;
  log: Logger;
  /** overrides serve.listen */
  listen?: string;
}

export async function startServe(options: ServeOptions): Promise<RunningServe> {
  const serve = options.config.serve;
  const { host, port } = parseListen(options.listen ?? serve.listen);
  // Passwords and session cookies must not cross a network in clear text.
  if (!isLoopback(host) && !serve.tls && !serve.trust_proxy) {
    throw new PgwardenError('PGW_ERR_CONFIG', `serve.listen ${host}:${port} is not a loopback address, and neither serve.tls nor serve.trust_proxy is set: logins would cross the network unencrypted`,
      { hint: 'Give serve.tls (cert_file, key_file), or put a TLS reverse proxy in front and set serve.trust_proxy to the number of proxies (1) or their addresses (docs/server.md).' });
  }
  let https: { key: Buffer; cert: Buffer } | undefined;
  if (serve.tls) {
    try {
      https = { key: readFileSync(serve.tls.key_file), cert: readFileSync(serve.tls.cert_file) };
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `serve.tls: cannot read ${(error as { path?: string }).path ?? 'the certificate or key'}: ${(error as Error).message}`);
    }
  }
  const pool = await repositoryPool(options.repository, serve.statement_timeout_ms);
  try {
    let version: number;
    try {
      const client = await pool.connect();
      try {
        version = await repositoryVersion(client);
      } finally {
        client.release();
      }
    } catch (error) {
      throw repositoryError(error, options.repository.label);
    }
    if (version < REPO_LATEST_VERSION) {
      throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `the repository (${options.repository.label}) has schema version ${version}; the dashboard needs ${REPO_LATEST_VERSION}`,
        { hint: 'Run `pgwarden repo migrate --repo URL --server-login LOGIN` as the repository owner (docs/server.md).' });
    }
    if (version > REPO_LATEST_VERSION) throw new PgwardenError('PGW_ERR_SCHEMA_NEWER', `the repository has schema version ${version}; this pgwarden knows up to ${REPO_LATEST_VERSION}`);
    const { rows } = await pool.query<{ n: number }>(`${SQL_TAG}SELECT pg_catalog.count(*)::int AS n FROM pgwarden_web.users WHERE NOT disabled`)
      .catch((error: unknown) => { throw repositoryError(error, options.repository.label); });
    if (rows[0]!.n === 0) options.log.warn('no dashboard user can log in yet: add one with `pgwarden serve user add NAME --role admin`');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  const metrics = createMetrics(pool);
  const { app } = await buildApp({ pool, config: serve, log: options.log, https, metrics });
  const monitor = startMonitorLoop(options.config, pool, options.log, (results) => metrics.recordChecks(results));
  try {
    await app.listen({ host, port });
  } catch (error) {
    await monitor.stop();
    await app.close();
    await pool.end().catch(() => undefined);
    const code = (error as { code?: string }).code;
    throw new PgwardenError('PGW_ERR_CONFIG', `cannot listen on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : (error as Error).message}`);
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}/`;
  return {
    url,
    monitor,
    /** Stops: requests in flight may finish for serve.shutdown_seconds, then their connections are closed (a slow export client must not hold the process). */
    async close() {
      await monitor.stop();
      const cut = setTimeout(() => {
        options.log.warn({ after_seconds: serve.shutdown_seconds }, 'requests still running at shutdown (a slow export client?): closing their connections');
        app.server.closeAllConnections();
      }, serve.shutdown_seconds * 1000);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
      await pool.end().catch(() => undefined);
    },
  };
}
