// The event lists of the dashboard: audit search, the DDL timeline, refused connections and
// failed logins. Each is one keyset-paged scan (paging.ts) over pgwarden_repo.events, newest
// first, every filter a bind parameter.
import { SQL_TAG } from '../../core/db.ts';
import { PgwardenError } from '../../core/errors.ts';
import { AUDIT_RECORD_CLASSES } from '../../pgaudit/classes.ts';
import { notOwnSql, showsOwn } from '../../repository/own.ts';
import type { Queryable } from '../users.ts';
import { cursorTime, scanBackwards, type Cursor, type Page, type ScanSpec } from './paging.ts';
import type { TimeRange } from './range.ts';

export interface AuditFilter {
  server?: string;
  user?: string;
  database?: string;
  class?: string;
  command?: string;
  /** an object name; `*` matches any characters */
  object?: string;
  /** text anywhere in the statement, case-insensitive */
  text?: string;
  /** '1': include pgwarden's own rows (hidden by default; decided by role: repository/own.ts) */
  own?: string;
}

export interface PageRequest {
  range: TimeRange;
  cursor: Cursor | null;
  limit: number;
  budgetMs: number;
}

const KEYS: [string, string][] = [['e.source_input', 'text'], ['e.source_position', 'bigint']];
const KEY_COLUMNS = `${cursorTime('e.ts')} AS _ts, e.source_input AS _k0, e.source_position::text AS _k1`;

/** LIKE pattern for a substring or a `*` wildcard pattern, with LIKE's own characters escaped. */
function likePattern(text: string, substring: boolean): string {
  const escaped = text.replace(/[\\%_]/g, (c) => '\\' + c).replace(/\*/g, '%');
  return substring ? `%${escaped}%` : escaped;
}

class Where {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];
  add(template: (placeholder: string) => string, value: unknown): void {
    this.params.push(value);
    this.clauses.push(template(`$${this.params.length}`));
  }
  get sql(): string {
    return this.clauses.length ? ' AND ' + this.clauses.join(' AND ') : '';
  }
}

function page<R>(db: Queryable, spec: ScanSpec, request: PageRequest): Promise<Page<R>> {
  return scanBackwards<R>(db, spec, { from: request.range.from, to: request.range.to, cursor: request.cursor, limit: request.limit, budgetMs: request.budgetMs });
}

export interface AuditRow {
  ts: Date; server: string | null; session_id: string | null; user_name: string | null; database_name: string | null;
  application: string | null; client_addr: string | null; audit_type: string | null; statement_id: number | null;
  substatement_id: number | null; class: string | null; command: string | null; object_type: string | null;
  object_name: string | null; statement: string | null; parameters: (string | null)[] | null; rows: number | null;
}

export function validateAuditFilter(filter: AuditFilter): AuditFilter {
  const klass = filter.class?.toUpperCase();
  if (klass && !(AUDIT_RECORD_CLASSES as readonly string[]).includes(klass)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `class "${filter.class}" is not a pgAudit class (${AUDIT_RECORD_CLASSES.join(', ')})`);
  }
  return { ...filter, class: klass || undefined, command: filter.command?.toUpperCase() || undefined };
}

/** pgAudit records matching every filter given. */
export function auditSearch(db: Queryable, filter: AuditFilter, request: PageRequest): Promise<Page<AuditRow>> {
  const where = new Where();
  if (filter.server) where.add((p) => `e.server = ${p}`, filter.server);
  if (filter.user) where.add((p) => `e.user_name = ${p}`, filter.user);
  if (filter.database) where.add((p) => `e.database_name = ${p}`, filter.database);
  if (filter.class) where.add((p) => `e.class = ${p}`, filter.class);
  if (filter.command) where.add((p) => `e.command = ${p}`, filter.command);
  if (filter.object) {
    if (filter.object.includes('*')) where.add((p) => `e.object_name LIKE ${p}`, likePattern(filter.object, false));
    else where.add((p) => `e.object_name = ${p}`, filter.object);
  }
  if (filter.text) where.add((p) => `e.statement ILIKE ${p}`, likePattern(filter.text, true));
  if (!showsOwn(filter.own)) where.clauses.push(notOwnSql('e.user_name', 'e.server'));
  return page<AuditRow>(db, {
    select: `${SQL_TAG}SELECT e.ts, e.server, e.session_id, e.user_name, e.database_name,
        COALESCE(e.application, s.application) AS application, COALESCE(e.client_addr, s.client_addr) AS client_addr,
        e.audit_type, e.statement_id::float8 AS statement_id, e.substatement_id::float8 AS substatement_id, e.class, e.command,
        e.object_type, e.object_name, e.statement, e.parameters, e.rows::float8 AS rows, ${KEY_COLUMNS}
      FROM pgwarden_repo.events e
      LEFT JOIN pgwarden_repo.sessions s ON s.server = COALESCE(e.server, '') AND s.session_id = e.session_id
      WHERE e.kind = 'audit'${where.sql}`,
    params: where.params,
    time: 'e.ts',
    keys: KEYS,
  }, request);
}

export interface DdlFilter { server?: string; user?: string; database?: string; command?: string; object?: string; own?: string }

export interface DdlRow {
  ts: Date; server: string | null; database_name: string | null; user_name: string | null; current_user: string | null;
  application: string | null; client_addr: string | null; command_tag: string | null; object_type: string | null;
  object_identity: string | null; statement: string | null; change_ticket: string | null; trigger_event: string | null;
}

/** Schema changes the DDL audit recorded, one row per object changed. */
export function ddlTimeline(db: Queryable, filter: DdlFilter, request: PageRequest): Promise<Page<DdlRow>> {
  const where = new Where();
  if (filter.server) where.add((p) => `e.server = ${p}`, filter.server);
  if (filter.user) where.add((p) => `(e.user_name = ${p} OR e.ddl->>'current_user' = ${p})`, filter.user);
  if (filter.database) where.add((p) => `e.database_name = ${p}`, filter.database);
  if (filter.command) where.add((p) => `e.ddl->>'command_tag' LIKE ${p}`, likePattern(filter.command.toUpperCase(), false));
  if (filter.object) where.add((p) => `e.ddl->>'object_identity' LIKE ${p}`, likePattern(filter.object, !filter.object.includes('*')));
  if (!showsOwn(filter.own)) where.clauses.push(notOwnSql('e.user_name', 'e.server'));
  return page<DdlRow>(db, {
    select: `${SQL_TAG}SELECT e.ts, e.server, e.database_name, e.user_name, e.ddl->>'current_user' AS current_user, e.application,
        e.client_addr, e.ddl->>'command_tag' AS command_tag, e.ddl->>'object_type' AS object_type,
        e.ddl->>'object_identity' AS object_identity, COALESCE(e.ddl->>'statement', e.query) AS statement,
        e.ddl->>'change_ticket' AS change_ticket, e.ddl->>'event' AS trigger_event, ${KEY_COLUMNS}
      FROM pgwarden_repo.events e WHERE e.kind = 'ddl'${where.sql}`,
    params: where.params,
    time: 'e.ts',
    keys: KEYS,
  }, request);
}

export const REFUSAL_KINDS = ['guard_deny', 'auth_failed'] as const;

export interface RefusalFilter { kind?: string; server?: string; user?: string; application?: string; client?: string }

export interface RefusalRow {
  ts: Date; kind: string; server: string | null; user_name: string | null; database_name: string | null;
  application: string | null; client_addr: string | null; sqlstate: string | null; message: string | null; reason: string | null;
}

/** Connections turned away: by the guard (guard_deny) or by authentication (auth_failed). */
export function refusals(db: Queryable, filter: RefusalFilter, request: PageRequest): Promise<Page<RefusalRow>> {
  if (filter.kind && !(REFUSAL_KINDS as readonly string[]).includes(filter.kind)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `kind "${filter.kind}" is not one of ${REFUSAL_KINDS.join(', ')}`);
  }
  const where = new Where();
  where.add((p) => `e.kind = ANY(${p}::text[])`, filter.kind ? [filter.kind] : [...REFUSAL_KINDS]);
  if (filter.server) where.add((p) => `e.server = ${p}`, filter.server);
  if (filter.user) where.add((p) => `e.user_name = ${p}`, filter.user);
  if (filter.application) where.add((p) => `e.application ILIKE ${p}`, likePattern(filter.application, true));
  if (filter.client) where.add((p) => `e.client_addr = ${p}`, filter.client);
  return page<RefusalRow>(db, {
    select: `${SQL_TAG}SELECT e.ts, e.kind, e.server, e.user_name, e.database_name, e.application, e.client_addr, e.sqlstate,
        e.message, e.guard->>'reason' AS reason, ${KEY_COLUMNS}
      FROM pgwarden_repo.events e WHERE true${where.sql}`,
    params: where.params,
    time: 'e.ts',
    keys: KEYS,
  }, request);
}
