// Browser sessions: the cookie holds 256 random bits; the repository keeps only their SHA-256,
// the user, a CSRF token for the session's forms, and when it ends (idle or at the latest).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SQL_TAG } from '../core/db.ts';
import type { Queryable, Role } from './users.ts';

export interface SessionIdentity {
  user: string;
  role: Role;
  csrf: string;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export async function createSession(db: Queryable, user: string, options: { maxHours: number; clientAddr: string; userAgent: string | undefined }):
Promise<{ cookie: string; csrf: string }> {
  const cookie = randomBytes(32).toString('base64url');
  const csrf = randomBytes(32).toString('base64url');
  await db.query(`${SQL_TAG}INSERT INTO pgwarden_web.sessions (id_sha256, user_name, csrf_token, expires_at, client_addr, user_agent)
    VALUES ($1, $2, $3, pg_catalog.now() + $4 * interval '1 hour', $5, $6)`,
  [sha256(cookie), user, csrf, options.maxHours, options.clientAddr, options.userAgent?.slice(0, 300) ?? null]);
  // Ended sessions go when someone logs in, so the table never grows without bound.
  await db.query(`${SQL_TAG}DELETE FROM pgwarden_web.sessions WHERE expires_at < pg_catalog.now()`);
  return { cookie, csrf };
}

/** The session's user, if the cookie names a live session of an enabled user; touches it. */
export async function findSession(db: Queryable, cookie: string, idleMinutes: number): Promise<SessionIdentity | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(cookie)) return null;
  const { rows } = await db.query<{ user_name: string; role: Role; csrf_token: string; stale: boolean }>(
    `${SQL_TAG}SELECT s.user_name, u.role, s.csrf_token, s.last_seen_at < pg_catalog.now() - interval '30 seconds' AS stale
       FROM pgwarden_web.sessions s JOIN pgwarden_web.users u ON u.name = s.user_name
      WHERE s.id_sha256 = $1 AND NOT u.disabled AND s.expires_at > pg_catalog.now()
        AND s.last_seen_at > pg_catalog.now() - $2 * interval '1 minute'`, [sha256(cookie), idleMinutes]);
  const row = rows[0];
  if (!row) return null;
  if (row.stale) await db.query(`${SQL_TAG}UPDATE pgwarden_web.sessions SET last_seen_at = pg_catalog.now() WHERE id_sha256 = $1`, [sha256(cookie)]);
  return { user: row.user_name, role: row.role, csrf: row.csrf_token };
}

export async function deleteSession(db: Queryable, cookie: string): Promise<void> {
  await db.query(`${SQL_TAG}DELETE FROM pgwarden_web.sessions WHERE id_sha256 = $1`, [sha256(cookie)]);
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(expected: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  // compared as bytes: a token of the right length in characters but not in bytes (multi-byte) is simply wrong
  const given = Buffer.from(submitted, 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
