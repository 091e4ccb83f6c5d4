// The SQL of one check function: which variant fits a server version, its exact body, and
// the CREATE FUNCTION statement. No registry here, so checks may use it too.
import { CHECK_COLUMNS, type CheckDefinition, type SqlVariant } from './types.ts';

export const MONITOR_SCHEMA = 'pgwarden_monitor';
/** Owns the check functions; NOLOGIN; member of pg_monitor plus a few catalog grants. */
export const OWNER_ROLE = 'pgwarden_monitor_owner';
/** May EXECUTE the check functions, nothing else; the monitoring login is made a member. */
export const CALLER_ROLE = 'pgwarden_monitor';
/** The one setting every SECURITY DEFINER function of pgwarden carries. */
export const PINNED_SEARCH_PATH = 'search_path=pg_catalog, pg_temp';

export function functionName(check: CheckDefinition): string {
  if (!/^[a-z][a-z0-9_]*$/.test(check.name)) throw new Error(`check name ${check.name} is not snake_case`);
  return `${MONITOR_SCHEMA}.check_${check.name}`;
}

/** The variant for a server version: the highest minVersion not above it, or undefined. */
export function pickVariant(check: CheckDefinition, serverVersionNum: number): SqlVariant | undefined {
  return [...check.sql].sort((a, b) => b.minVersion - a.minVersion).find((v) => v.minVersion <= serverVersionNum);
}

function versionText(num: number): string {
  return num >= 100000 ? String(Math.floor(num / 10000)) : `${Math.floor(num / 10000)}.${Math.floor(num / 100) % 100}`;
}

/** The language and exact body (pg_proc.prosrc) of a check's function on a server version. */
export function functionBody(check: CheckDefinition, serverVersionNum: number): { language: 'sql' | 'plpgsql'; body: string } {
  const variant = pickVariant(check, serverVersionNum);
  const lowest = Math.min(...check.sql.map((v) => v.minVersion));
  const body = variant
    ? (variant.language === 'plpgsql' ? `#variable_conflict use_column\n${variant.body}` : variant.body)
    : `SELECT ''::text, NULL::float8, NULL::text, 'needs PostgreSQL ${versionText(lowest)} or later'::text, NULL::jsonb`;
  if (body.includes('$pgw_body$')) throw new Error(`check ${check.name}: body must not contain $pgw_body$`);
  return { language: variant?.language ?? 'sql', body };
}

/** CREATE FUNCTION for one check on one server version (an explicit "skipped" body when no variant fits). */
export function functionSql(check: CheckDefinition, serverVersionNum: number): string {
  const { language, body } = functionBody(check, serverVersionNum);
  return `CREATE FUNCTION ${functionName(check)}(params jsonb DEFAULT '{}'::jsonb)
RETURNS TABLE (${CHECK_COLUMNS})
LANGUAGE ${language} VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $pgw_body$${body}$pgw_body$`;
}

