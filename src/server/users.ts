// The dashboard's users and API tokens, kept in pgwarden_web in the repository.
// Passwords: argon2id (OWASP's minimum: 19 MiB, 2 passes). Tokens: pgw_<id>_<secret>, of which
// only the SHA-256 of the secret is stored; the secret is 256 random bits, so a fast hash is
// enough and a token check costs microseconds, not the tens of milliseconds of a password.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';

export const ROLES = ['viewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What may query: a pool or a client. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;

export interface UserRow {
  name: string;
  role: Role;
  disabled: boolean;
  created_at: Date;
  password_changed_at: Date;
  last_login_at: Date | null;
}

export interface TokenRow {
  id: string;
  user_name: string;
  name: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;
const USER_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const TOKEN_NAME = /^[A-Za-z0-9_.@ -]{1,64}$/;
const TOKEN_FORMAT = /^pgw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
// algorithm 2 is Argon2id (a const enum in the package's types, which this build cannot import).
const ARGON2 = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function validateUserName(name: string): string {
  if (!USER_NAME.test(name)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `user name "${name}" must be 1 to 64 letters, digits or _ . @ -`);
  }
  return name;
}

export function validateRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `role "${role}" is not one of ${ROLES.join(', ')}`);
  }
  return role as Role;
}

export function validatePassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `the password is ${password.length} characters long; it needs at least ${MIN_PASSWORD_LENGTH}`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
  return password;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

/** A hash of nothing anyone knows: verified against when the user does not exist, so both take as long. */
let decoy: Promise<string> | undefined;

/** The user if the name and password are right and the user is enabled; null otherwise. */
export async function verifyLogin(db: Queryable, name: string, password: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow & { password_hash: string }>(
    `${SQL_TAG}SELECT name, role, disabled, created_at, password_changed_at, last_login_at, password_hash FROM pgwarden_web.users WHERE name = $1`, [name]);
  const row = rows[0];
  decoy ??= hashPassword(randomBytes(24).toString('base64url'));
  const ok = await verify(row?.password_hash ?? await decoy, password.slice(0, MAX_PASSWORD_LENGTH)).catch(() => false);
  if (!row || !ok || row.disabled) return null;
  await db.query(`${SQL_TAG}UPDATE pgwarden_web.users SET last_login_at = pg_catalog.now() WHERE name = $1`, [name]);
  const { password_hash: _hash, ...user } = row;
  return user;
}

export async function addUser(db: Queryable, name: string, role: Role, password: string): Promise<void> {
  validateUserName(name);
  const hashed = await hashPassword(validatePassword(password));
  try {
    await db.query(`${SQL_TAG}INSERT INTO pgwarden_web.users (name, role, password_hash) VALUES ($1, $2, $3)`, [name, role, hashed]);
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `user "${name}" exists already`, { hint: 'Change it with `pgwarden serve user password|role NAME`, or pick another name.' });
    }
    throw error;
  }
}

async function updateUser(db: Queryable, name: string, sql: string, params: unknown[]): Promise<void> {
  const result = await db.query(sql, [name, ...params]);
  if (result.rowCount === 0) {
    throw new PgwardenError('PGW_ERR_NOT_FOUND', `no dashboard user "${name}"`, { hint: 'List them with `pgwarden serve user list`.' });
  }
}

/** A new password ends every browser session of the user. */
export async function setPassword(db: Queryable, name: string, password: string): Promise<void> {
  const hashed = await hashPassword(validatePassword(password));
  await updateUser(db, name, `${SQL_TAG}UPDATE pgwarden_web.users SET password_hash = $2, password_changed_at = pg_catalog.now() WHERE name = $1`, [hashed]);
  await db.query(`${SQL_TAG}DELETE FROM pgwarden_web.sessions WHERE user_name = $1`, [name]);
}

export async function setRole(db: Queryable, name: string, role: Role): Promise<void> {
  await updateUser(db, name, `${SQL_TAG}UPDATE pgwarden_web.users SET role = $2 WHERE name = $1`, [role]);
}

/** Disabling ends the user's sessions; their tokens stop working (and come back with enable). */
export async function setDisabled(db: Queryable, name: string, disabled: boolean): Promise<void> {
  await updateUser(db, name, `${SQL_TAG}UPDATE pgwarden_web.users SET disabled = $2 WHERE name = $1`, [disabled]);
  if (disabled) await db.query(`${SQL_TAG}DELETE FROM pgwarden_web.sessions WHERE user_name = $1`, [name]);
}

/** Removes the user with their tokens and sessions. */
export async function removeUser(db: Queryable, name: string): Promise<void> {
  await updateUser(db, name, `${SQL_TAG}DELETE FROM pgwarden_web.users WHERE name = $1`, []);
}

export async function listUsers(db: Queryable): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(`${SQL_TAG}SELECT name, role, disabled, created_at, password_changed_at, last_login_at
    FROM pgwarden_web.users ORDER BY name`);
  return rows;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Creates a token and returns it: the only time its secret is seen. */
export async function addToken(db: Queryable, user: string, name: string, expiresAt: Date | null): Promise<{ id: string; token: string }> {
  if (!TOKEN_NAME.test(name)) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `token name "${name}" must be 1 to 64 letters, digits, spaces or _ . @ -`);
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  try {
    const result = await db.query(`${SQL_TAG}INSERT INTO pgwarden_web.tokens (id, user_name, name, secret_sha256, expires_at)
      SELECT $1, name, $3, $4, $5 FROM pgwarden_web.users WHERE name = $2`, [id, user, name, sha256(secret), expiresAt]);
    if (result.rowCount === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no dashboard user "${user}"`, { hint: 'Add the user first: `pgwarden serve user add NAME`.' });
  } catch (error) {
    if ((error as { code?: string }).code === '23505') throw new PgwardenError('PGW_ERR_INVALID_VALUE', `user "${user}" has a token named "${name}" already`);
    throw error;
  }
  return { id, token: `pgw_${id}_${secret}` };
}

export async function listTokens(db: Queryable, user?: string): Promise<TokenRow[]> {
  const { rows } = await db.query<TokenRow>(`${SQL_TAG}SELECT id, user_name, name, created_at, expires_at, last_used_at
    FROM pgwarden_web.tokens WHERE $1::text IS NULL OR user_name = $1 ORDER BY user_name, name`, [user ?? null]);
  return rows;
}

export async function revokeToken(db: Queryable, id: string): Promise<void> {
  const result = await db.query(`${SQL_TAG}DELETE FROM pgwarden_web.tokens WHERE id = $1`, [id]);
  if (result.rowCount === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no API token with id "${id}"`, { hint: 'List them with `pgwarden serve token list`.' });
}

export interface TokenIdentity { user: string; role: Role; tokenName: string }

/** The user behind a bearer token, if it is well formed, known, unexpired and its user enabled. */
export async function verifyToken(db: Queryable, token: string): Promise<TokenIdentity | null> {
  const match = TOKEN_FORMAT.exec(token);
  if (!match) return null;
  const { rows } = await db.query<{ secret_sha256: Buffer; user_name: string; role: Role; name: string; stale: boolean }>(
    `${SQL_TAG}SELECT t.secret_sha256, t.user_name, u.role, t.name,
        (t.last_used_at IS NULL OR t.last_used_at < pg_catalog.now() - interval '1 minute') AS stale
       FROM pgwarden_web.tokens t JOIN pgwarden_web.users u ON u.name = t.user_name
      WHERE t.id = $1 AND NOT u.disabled AND (t.expires_at IS NULL OR t.expires_at > pg_catalog.now())`, [match[1]]);
  const row = rows[0];
  if (!row || !timingSafeEqual(row.secret_sha256, sha256(match[2]!))) return null;
  // last_used_at at most once a minute: a scraper every few seconds should not write every time.
  if (row.stale) await db.query(`${SQL_TAG}UPDATE pgwarden_web.tokens SET last_used_at = pg_catalog.now() WHERE id = $1`, [match[1]]);
  return { user: row.user_name, role: row.role, tokenName: row.name };
}
