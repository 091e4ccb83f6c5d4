// buildApp: the HTTP service (JSON API, dashboard pages, /metrics) over a repository pool,
// apart from listen() so tests drive it with inject(). Every route is closed unless it says
// otherwise: a browser session (cookie) or an API token (Bearer), a role per route, CSRF checks
// on every state-changing request of a browser session, security headers on every response,
// and every use of the data recorded in pgwarden_repo.dashboard_access.
import net from 'node:net';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { ServeConfig } from '../core/config.ts';
import { PgwardenError } from '../core/errors.ts';
import { createMetrics, type ServeMetrics } from './metrics.ts';
import { recordAccess } from './queries/access.ts';
import { registerApiRoutes } from './routes/api.ts';
import { registerAuthRoutes } from './routes/auth.ts';
import { registerDocRoutes } from './routes/docs.ts';
import { registerPageRoutes } from './routes/pages.ts';
import { SESSION_COOKIE, pageContext, sameOrigin, wantsHtml } from './request.ts';
import { csrfMatches, findSession } from './sessions.ts';
import { errorPage } from './ui/html.ts';
import { STYLESHEET } from './ui/style.ts';
import { verifyToken } from './users.ts';

export interface AppOptions {
  pool: pg.Pool;
  config: ServeConfig;
  log?: Logger;
  /** serve HTTPS with this key and certificate (PEM) */
  https?: { key: Buffer; cert: Buffer };
  metrics?: ServeMetrics;
}

export interface App {
  app: FastifyInstance;
  metrics: ServeMetrics;
}

const ADMIN_MESSAGE = 'this page is for dashboard administrators (role admin)';

/** The status and message a user sees for an error; the details of an unexpected one only go to the log. */
export function describeError(error: unknown): { status: number; message: string; code: string; hint?: string } {
  if (error instanceof PgwardenError) {
    const status = error.code === 'PGW_ERR_NOT_FOUND' ? 404 : error.code === 'PGW_ERR_INVALID_VALUE' ? 400 : 503;
    return { status, message: error.message, code: error.code, hint: status === 503 ? error.hint : undefined };
  }
  const e = error as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (e.validation) return { status: 400, message: e.message ?? 'invalid request', code: 'PGW_ERR_INVALID_VALUE' };
  if (e.code === '57014') return { status: 503, message: 'the repository took too long to answer: narrow the time range or add a filter', code: 'PGW_ERR_SERVER' };
  // A data exception (class 22: a value PostgreSQL cannot read) comes from what the request sent, not from an outage.
  if (typeof e.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code)) return { status: 400, message: 'a value in this request cannot be read; check the filters and the time range', code: 'PGW_ERR_INVALID_VALUE' };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, message: e.message ?? 'bad request', code: 'PGW_ERR_INVALID_VALUE' };
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].includes(e.code ?? '')) {
    return { status: 503, message: 'the repository cannot be read right now', code: 'PGW_ERR_CONNECT' };
  }
  return { status: 500, message: 'internal error (see the server log)', code: 'PGW_ERR_INTERNAL' };
}

function trustHops(proxies: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < proxies;
}

function clientAddr(request: FastifyRequest): string {
  return request.ip;
}

/**
 * The Host a request names must be one the dashboard answers to: an IP address, localhost, or a
 * name in serve.hosts. A DNS-rebinding page reaches the server under its own name, and is refused.
 */
export function allowedHost(host: string, hosts: readonly string[]): boolean {
  if (host === '') return true;
  const name = (/^\[([0-9A-Fa-f:.]+)\](?::\d+)?$/.exec(host)?.[1] ?? host.replace(/:\d+$/, '')).toLowerCase().replace(/\.$/, '');
  return net.isIP(name) !== 0 || name === 'localhost' || hosts.some((h) => h.toLowerCase() === name);
}

/** Whether any string in a parsed body (or query) holds a NUL, which no text column can store. */
function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\u0000') || holdsNul(v));
  return false;
}

/** Answers a refused request the way its client understands; the hooks return the reply so fastify stops there. */
function deny(request: FastifyRequest, reply: FastifyReply, status: 400 | 401 | 403 | 421, message: string): FastifyReply {
  if (!wantsHtml(request)) {
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="pgwarden"');
    return reply.code(status).send({ error: message, code: status === 401 ? 'PGW_ERR_AUTH' : status === 403 ? 'PGW_ERR_PRIVILEGE' : 'PGW_ERR_INVALID_VALUE' });
  }
  if (status === 401 && request.method === 'GET') return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
  return reply.code(status).type('text/html; charset=utf-8').send(errorPage(request.identity ? pageContext(request) : null, status, message).value);
}

export async function buildApp(options: AppOptions): Promise<App> {
  const { pool, config } = options;
  const metrics = options.metrics ?? createMetrics(pool);
  // One instance type for HTTP and HTTPS: the routes do not care which.
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    loggerInstance: options.log as FastifyBaseLogger | undefined,
    logController: new LogController({ disableRequestLogging: true }),
    // n proxies: the peer and the n - 1 hops it names are proxies (proxy-addr's index 0 is the peer);
    // a list: only those addresses are.
    trustProxy: typeof config.trust_proxy === 'number' ? trustHops(config.trust_proxy) : config.trust_proxy,
    bodyLimit: 64 * 1024,
    // Path parameters are short names; a long one is a mistake or an attack.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 },
    ajv: { customOptions: { coerceTypes: true, removeAdditional: true, allErrors: false } },
  }) as unknown as FastifyInstance;
  app.decorateRequest('identity', null);
  app.decorateRequest('auditRows', null);
  app.decorateRequest('auditUser', null);

  await app.register(fastifyCookie);
  await app.register(fastifyFormbody);
  await app.register(fastifyRateLimit, { global: false });
  await app.register(fastifyHelmet, {
    // No script, no inline style, nothing from elsewhere; forms only to this site; no framing.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"], styleSrc: ["'self'"], imgSrc: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on our own forms.
    referrerPolicy: { policy: 'same-origin' },
    // HSTS only where this process or its proxy serves HTTPS: on plain loopback HTTP it would mislead.
    strictTransportSecurity: options.https || config.trust_proxy ? { maxAge: 31_536_000 } : false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    if (!allowedHost(request.host, config.hosts)) {
      return deny(request, reply, 421, `this dashboard does not answer to the host name "${request.host.slice(0, 100)}" (add it to serve.hosts)`);
    }
    const access = request.routeOptions.config.access ?? 'viewer';
    const authorization = request.headers.authorization;
    if (authorization?.startsWith('Bearer ')) {
      const token = await verifyToken(pool, authorization.slice(7).trim());
      if (token) request.identity = { user: token.user, role: token.role, auth: `token:${token.tokenName}`, csrf: null };
      else if (access !== 'public') return deny(request, reply, 401, 'the API token is unknown, expired or revoked');
    } else {
      const cookie = request.cookies[SESSION_COOKIE];
      const session = cookie ? await findSession(pool, cookie, config.session_idle_minutes) : null;
      if (session) request.identity = { user: session.user, role: session.role, auth: 'session', csrf: session.csrf };
    }
    if (access === 'public') return;
    if (!request.identity) return deny(request, reply, 401, 'log in first (or send an API token: Authorization: Bearer pgw_...)');
    if (access === 'admin' && request.identity.role !== 'admin') return deny(request, reply, 403, ADMIN_MESSAGE);
  });

  // A NUL byte (%00 in the URL, or in a form field) is malformed input: no text in the repository can
  // hold it. Refused here, after the body is read, so that a login attempt is recorded with its user name.
  app.addHook('preValidation', async (request, reply) => {
    if (!request.url.includes('%00') && !holdsNul(request.body)) return;
    const user = (request.body as { user?: unknown } | undefined)?.user;
    if (request.routeOptions.config.access === 'public' && typeof user === 'string') request.auditUser = user;
    return deny(request, reply, 400, 'the request carries a NUL byte (%00), which nothing here can hold');
  });

  // A browser session's cookie goes with any request the browser makes, so every state change
  // must prove it came from our own page: same origin, and the session's CSRF token.
  app.addHook('preHandler', async (request, reply) => {
    // Public routes (the login form) check the origin themselves, to record the attempt.
    if (['GET', 'HEAD', 'OPTIONS'].includes(request.method) || request.routeOptions.config.access === 'public') return;
    if (!sameOrigin(request)) return deny(request, reply, 403, 'cross-site request refused');
    const identity = request.identity;
    if (identity?.auth === 'session') {
      const submitted = (request.body as Record<string, unknown> | undefined)?._csrf ?? request.headers['x-csrf-token'];
      if (!csrfMatches(identity.csrf!, submitted)) return deny(request, reply, 403, 'the form has expired or did not come from this dashboard: reload the page and try again');
    }
  });

  // Every request is recorded, whoever sent it and whatever it carries (the static files, health
  // checks and metrics scrapes excepted): refused ones are what an auditor looks for first.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (request.routeOptions.config.audit === false) return;
    const params: Record<string, unknown> = { ...(request.params as object), ...(request.query as object) };
    if (request.routeOptions.url === undefined) params.path = request.url.split('?')[0]!.slice(0, 300);
    if (request.auditUser !== null) params.user = request.auditUser;
    await recordAccess(pool, {
      user: request.identity?.user ?? request.auditUser,
      auth: request.identity?.auth ?? (request.auditUser !== null ? 'password' : 'none'),
      clientAddr: clientAddr(request), method: request.method, route, params, status: reply.statusCode,
      rows: request.auditRows, durationMs: Math.round(reply.elapsedTime * 10) / 10,
    }).catch((error: Error) => request.log.error({ err: error.message, route }, 'could not record dashboard access'));
  });

  app.setErrorHandler(async (error, request, reply) => {
    const described = describeError(error);
    if (described.status >= 500) request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
    if (wantsHtml(request)) {
      return reply.code(described.status).type('text/html; charset=utf-8')
        .send(errorPage(request.identity ? pageContext(request) : null, described.status, described.message).value);
    }
    return reply.code(described.status).send({ error: described.message, code: described.code, ...(described.hint ? { hint: described.hint } : {}) });
  });
  app.setNotFoundHandler(async (request, reply) => {
    if (wantsHtml(request)) {
      return reply.code(404).type('text/html; charset=utf-8').send(errorPage(request.identity ? pageContext(request) : null, 404, 'there is no such page').value);
    }
    return reply.code(404).send({ error: 'no such API route', code: 'PGW_ERR_NOT_FOUND' });
  });

  app.get('/static/style.css', { config: { access: 'public', audit: false } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=3600');
    return reply.type('text/css; charset=utf-8').send(STYLESHEET);
  });
  app.get('/favicon.ico', { config: { access: 'public', audit: false } }, async (_request, reply) => reply.code(204).send());
  app.get('/healthz', { config: { access: 'public', audit: false } }, async () => ({ ok: true }));
  app.get('/metrics', { config: { access: config.metrics_public ? 'public' : 'viewer', audit: false } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  registerAuthRoutes(app, { pool, config, metrics });
  registerApiRoutes(app, { pool, config });
  registerPageRoutes(app, { pool, config });
  registerDocRoutes(app);
  return { app, metrics };
}
