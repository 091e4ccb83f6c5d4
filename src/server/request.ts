// What every route handler may read of a request: who made it (the Identity that app.ts's hooks
// attach), the session cookie's name, the same-origin check and a page's context. A leaf module
// (it imports no route and not app.ts) so that app.ts and the routes it registers both use it
// without importing each other.
import type { FastifyRequest } from 'fastify';
import type { PageContext } from './ui/html.ts';
import type { Role } from './users.ts';

export type Access = 'public' | Role;

export interface Identity {
  user: string;
  role: Role;
  /** 'session' (browser) or 'token:<name>' */
  auth: string;
  /** the session's CSRF token; null for API tokens */
  csrf: string | null;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** who may call the route (default viewer) */
    access?: Access;
    /** false: not recorded in the access log (static files, health, metrics scrapes) */
    audit?: boolean;
  }
  interface FastifyRequest {
    identity: Identity | null;
    /** rows the handler returned, for the access log */
    auditRows: number | null;
    /** for the login route: the user name tried */
    auditUser: string | null;
  }
}

/** The session cookie. __Host-: only this host, path /, Secure (browsers accept it on http://localhost too). */
export const SESSION_COOKIE = '__Host-pgwarden-session';

export function pageContext(request: FastifyRequest): PageContext {
  const identity = request.identity!;
  return { user: identity.user, role: identity.role, csrf: identity.csrf, path: request.url.split('?')[0]! };
}

export function wantsHtml(request: FastifyRequest): boolean {
  return !request.url.startsWith('/api/') && request.url !== '/metrics';
}

/** Same-origin check for state-changing browser requests: Origin (or, without it, Sec-Fetch-Site) must be this site. */
export function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  // Some browsers send "Origin: null" for privacy reasons; Sec-Fetch-Site still tells.
  if (origin === undefined || origin === 'null') return request.headers['sec-fetch-site'] === undefined || request.headers['sec-fetch-site'] === 'same-origin' || request.headers['sec-fetch-site'] === 'none';
  return origin === `${request.protocol}://${request.host}`;
}
