// What pgAudit accepts: statement classes for pgaudit.log, privileges for object auditing.
import { PgwardenError } from '../core/errors.ts';

/** The classes pgaudit.log accepts (pgAudit 1.7+); each may be prefixed with '-' to exclude it. */
export const LOG_CLASSES = ['read', 'write', 'function', 'role', 'ddl', 'misc', 'misc_set', 'all', 'none'] as const;

/** The statement classes as pgAudit writes them in its AUDIT: records (the reports' and the dashboard's class filter). */
export const AUDIT_RECORD_CLASSES = ['READ', 'WRITE', 'FUNCTION', 'ROLE', 'DDL', 'MISC', 'MISC_SET'] as const;

/** Every pgAudit setting pgwarden reports, in pgAudit's documentation order. */
export const PGAUDIT_SETTINGS = [
  'pgaudit.log', 'pgaudit.log_catalog', 'pgaudit.log_client', 'pgaudit.log_level', 'pgaudit.log_parameter',
  'pgaudit.log_relation', 'pgaudit.log_rows', 'pgaudit.log_statement', 'pgaudit.log_statement_once', 'pgaudit.role',
] as const;

/** The privileges pgAudit's object audit logging acts on (it logs only SELECT, INSERT, UPDATE, DELETE). */
export const OBJECT_PRIVILEGES = ['select', 'insert', 'update', 'delete'] as const;
export type ObjectPrivilege = (typeof OBJECT_PRIVILEGES)[number];

function tokens(text: string): string[] {
  return text.split(',').map((t) => t.trim().toLowerCase());
}

/**
 * Validates a --log list ("read,write,-misc") the way pgAudit's check hook does and returns the
 * normalised value to store ("read,write,-misc").
 */
export function parseLogClasses(text: string): string {
  const list = tokens(text);
  if (list.length === 0 || list.some((t) => t === '' || t === '-')) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--log "${text}" has an empty class; give a comma-separated list such as read,write,ddl`);
  }
  for (const token of list) {
    const name = token.startsWith('-') ? token.slice(1) : token;
    if (!(LOG_CLASSES as readonly string[]).includes(name)) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE',
        `--log "${text}": "${token}" is not a pgAudit class (valid: ${LOG_CLASSES.join(', ')}; prefix one with - to exclude it, as in all,-misc)`);
    }
  }
  return list.join(',');
}

export function parsePrivileges(text: string): ObjectPrivilege[] {
  const list = tokens(text);
  const result: ObjectPrivilege[] = [];
  for (const token of list) {
    if (!(OBJECT_PRIVILEGES as readonly string[]).includes(token)) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE',
        `--privileges "${text}": "${token}" is not a privilege pgAudit audits (valid: ${OBJECT_PRIVILEGES.join(', ')})`);
    }
    if (!result.includes(token as ObjectPrivilege)) result.push(token as ObjectPrivilege);
  }
  return result;
}

/** Splits a shared_preload_libraries value into library names (quotes removed). */
export function preloadList(value: string): string[] {
  const names: string[] = [];
  for (const match of value.matchAll(/\s*("(?:[^"]|"")*"|[^,]*)\s*(?:,|$)/g)) {
    const raw = match[1]!.trim();
    if (match[0] === '' && match.index >= value.length) break;
    if (raw === '') continue;
    names.push(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw);
  }
  return names;
}

/** Whether a library name in shared_preload_libraries is pgAudit ("pgaudit", "$libdir/pgaudit", "pgaudit.so"). */
export function isPgauditLibrary(name: string): boolean {
  return /(^|\/)pgaudit(\.so)?$/i.test(name);
}
