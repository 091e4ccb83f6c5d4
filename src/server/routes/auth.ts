// Logging in and out. A login is checked against argon2id hashes, limited per client address
// (rate limit) and per user name (a lock-out that grows with each failure), and recorded in the
// access log whatever its outcome; it gives a fresh session (no fixation) in a __Host- cookie.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { ServeConfig } from '../../core/config.ts';
import { SESSION_COOKIE, sameOrigin } from '../request.ts';
import type { ServeMetrics } from '../metrics.ts';
import { createSession, deleteSession } from '../sessions.ts';
import { loginPage } from '../ui/html.ts';
import { verifyLogin } from '../users.ts';

interface Deps { pool: pg.Pool; config: ServeConfig; metrics: ServeMetrics }

/**
 * Per user name: after 5 failures in a row, wait 30 s, doubling with each further failure up to 15
 * minutes. Memory stays bounded under a spray of made-up names by forgetting, oldest first, the
 * names that are not locked out now (a few failures, or a lock-out that ended); an active lock-out
 * is never forgotten, so a flood of other names cannot unlock the one under attack. Lock-outs end
 * within 15 minutes, so what they hold is bounded by the failures of the last 15 minutes.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; until: number }>();
  constructor(private readonly now = () => Date.now(), private readonly maxTracked = 10_000) {}
  /** milliseconds to wait before this user may try again (0: now) */
  wait(user: string): number {
    const entry = this.failures.get(user);
    return entry ? Math.max(0, entry.until - this.now()) : 0;
  }
  failed(user: string): void {
    const entry = this.failures.get(user) ?? { count: 0, until: 0 };
    entry.count++;
    entry.until = entry.count >= 5 ? this.now() + Math.min(900_000, 30_000 * 2 ** (entry.count - 5)) : 0;
    // re-inserted, so that the map's order is the order of the latest failures
    this.failures.delete(user);
    this.failures.set(user, entry);
    if (this.failures.size > this.maxTracked) this.forget(user);
  }
  succeeded(user: string): void {
    this.failures.delete(user);
  }
  /** names tracked now (for tests and /metrics) */
  get size(): number {
    return this.failures.size;
  }
  /** `current` is kept too: its failures must add up, or a name could be tried for ever once the map is full of lock-outs. */
  private forget(current: string): void {
    const now = this.now();
    // down to nine tenths, so that a spray does not sweep at every failure
    let excess = this.failures.size - Math.floor(this.maxTracked * 0.9);
    for (const [name, entry] of this.failures) {
      if (excess <= 0) break;
      if (entry.until > now || name === current) continue;
      this.failures.delete(name);
      excess--;
    }
  }
}

/**
 * Only a local path may follow a login: never another site (open redirect). Characters outside
 * printable ASCII are percent-encoded (a Location header holds nothing else); what cannot be is `/`.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !/^\/(?![/\\])[^\s]*$/.test(next) || next.startsWith('/login')) return '/';
  try {
    const encoded = [...next].map((c) => (/^[\x21-\x7e]$/.test(c) ? c : encodeURIComponent(c))).join('');
    return /^\/(?![/\\])[\x21-\x7e]*$/.test(encoded) ? encoded : '/';
  } catch {
    // a lone surrogate
    return '/';
  }
}

export function registerAuthRoutes(app: FastifyInstance, { pool, config, metrics }: Deps): void {
  const throttle = new LoginThrottle();
  const cookieOptions = { path: '/', httpOnly: true, secure: true, sameSite: 'strict' as const };

  app.get('/login', {
    config: { access: 'public', audit: false },
    schema: { querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 2000 } } } },
  }, async (request, reply) => {
    if (request.identity) return reply.redirect(safeNext((request.query as { next?: string }).next), 303);
    return reply.type('text/html; charset=utf-8').send(loginPage({ next: safeNext((request.query as { next?: string }).next) }).value);
  });

  app.post('/login', {
    config: { access: 'public', rateLimit: { max: 20, timeWindow: '1 minute' } },
    schema: {
      body: {
        type: 'object', required: ['user', 'password'],
        properties: { user: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 1024 }, next: { type: 'string', maxLength: 2000 } },
      },
    },
  }, async (request, reply) => {
    const { user, password } = request.body as { user: string; password: string; next?: string };
    request.auditUser = user;
    // decided before anything is written: a next that cannot be a Location must not fail after the session exists
    const next = safeNext((request.body as { next?: string }).next);
    const page = (status: number, error: string) => reply.code(status).type('text/html; charset=utf-8').send(loginPage({ error, next, user }).value);
    if (!sameOrigin(request)) return page(403, 'This login form did not come from this dashboard.');
    const wait = throttle.wait(user);
    if (wait > 0) {
      metrics.logins.inc({ result: 'throttled' });
      reply.header('retry-after', String(Math.ceil(wait / 1000)));
      return page(429, `Too many failed logins for this user: try again in ${Math.ceil(wait / 1000)} seconds.`);
    }
    const found = await verifyLogin(pool, user, password);
    if (!found) {
      throttle.failed(user);
      metrics.logins.inc({ result: 'failed' });
      return page(401, 'Wrong user name or password.');
    }
    throttle.succeeded(user);
    metrics.logins.inc({ result: 'ok' });
    // A new session at every login, whatever cookie came with the request.
    const old = request.cookies[SESSION_COOKIE];
    if (old) await deleteSession(pool, old);
    const session = await createSession(pool, found.name, { maxHours: config.session_max_hours, clientAddr: request.ip, userAgent: request.headers['user-agent'] });
    reply.setCookie(SESSION_COOKIE, session.cookie, { ...cookieOptions, maxAge: config.session_max_hours * 3600 });
    return reply.redirect(next, 303);
  });

  app.post('/logout', { config: { access: 'viewer' } }, async (request, reply) => {
    const cookie = request.cookies[SESSION_COOKIE];
    if (cookie) await deleteSession(pool, cookie);
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return reply.redirect('/login', 303);
  });
}
