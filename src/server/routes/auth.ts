// Logging in and out. A login is checked against argon2id hashes, limited per client address
// (rate limit) and per user name (a lock-out that grows with each failure), and recorded in the
// access log whatever its outcome; it gives a fresh session (no fixation) in a __Host- cookie.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { ServeConfig } from '../../core/config.ts';
import { SESSION_COOKIE, sameOrigin } from '../app.ts';
import type { ServeMetrics } from '../metrics.ts';
import { createSession, deleteSession } from '../sessions.ts';
import { loginPage } from '../ui/html.ts';
import { verifyLogin } from '../users.ts';

interface Deps { pool: pg.Pool; config: ServeConfig; metrics: ServeMetrics }

/** Per user name: after 5 failures in a row, wait 30 s, doubling with each further failure up to 15 minutes. */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; until: number }>();
  constructor(private readonly now = () => Date.now()) {}
  /** milliseconds to wait before this user may try again (0: now) */
  wait(user: string): number {
    const entry = this.failures.get(user);
    return entry ? Math.max(0, entry.until - this.now()) : 0;
  }
  failed(user: string): void {
    const entry = this.failures.get(user) ?? { count: 0, until: 0 };
    entry.count++;
    entry.until = entry.count >= 5 ? this.now() + Math.min(900_000, 30_000 * 2 ** (entry.count - 5)) : 0;
    this.failures.set(user, entry);
    // Bounded memory under a spray of made-up names: forget the oldest.
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }
  succeeded(user: string): void {
    this.failures.delete(user);
  }
}

/** Only a local path may follow a login: never another site (open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) && !next.startsWith('/login') ? next : '/';
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
    const { user, password, next } = request.body as { user: string; password: string; next?: string };
    request.auditUser = user;
    const page = (status: number, error: string) => reply.code(status).type('text/html; charset=utf-8').send(loginPage({ error, next: safeNext(next), user }).value);
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
    return reply.redirect(safeNext(next), 303);
  });

  app.post('/logout', { config: { access: 'viewer' } }, async (request, reply) => {
    const cookie = request.cookies[SESSION_COOKIE];
    if (cookie) await deleteSession(pool, cookie);
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return reply.redirect('/login', 303);
  });
}
