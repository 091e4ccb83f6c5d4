// The SQL of one check function: which variant fits a server version, its exact body, and
// the CREATE FUNCTION statement. No registry here, so checks may use it too.
import { PINNED_SET_CLAUSE } from '../core/roles.ts';
import { CHECK_COLUMNS, type CheckDefinition, type SqlVariant } from './types.ts';

export const MONITOR_SCHEMA = 'pgwarden_monitor';

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
LANGUAGE ${language} VOLATILE SECURITY DEFINER ${PINNED_SET_CLAUSE}
AS $pgw_body$${body}$pgw_body$`;
}


/** Whether `monitor install --show-names` was given in this database (role names, pg_hba lines, client addresses in results). */
export const SHOW_NAMES = `COALESCE((SELECT i.show_names FROM ${MONITOR_SCHEMA}.installed i), false)`;

/** The items the caller's settings ignore (params.ignore), as a text array. */
export const IGNORED = `ARRAY(SELECT pg_catalog.jsonb_array_elements_text(CASE WHEN pg_catalog.jsonb_typeof(params -> 'ignore') = 'array' THEN params -> 'ignore' ELSE '[]'::jsonb END))`;

/**
 * Rows of a check that finds roles or pg_hba lines. `findings` returns (item, value, detail,
 * kind, metadata); kind describes a finding without naming it. With --show-names: one row per
 * finding. Without: one row counting them, with the worst value and the kinds found, so the
 * monitoring login learns how many, not who or which line. Ignored items are left out of both.
 */
export function namedOrCounted(findings: string, noun: string): string {
  return `WITH f AS (SELECT * FROM (${findings}) AS f(item, value, detail, kind, metadata) WHERE f.item <> ALL (${IGNORED})),
    o AS (SELECT ${SHOW_NAMES} AS names)
    SELECT f.item::text, f.value::float8, f.detail::text, NULL::text, f.metadata::jsonb FROM f, o WHERE o.names
    UNION ALL
    SELECT ''::text, pg_catalog.max(f.value)::float8,
      (pg_catalog.count(*) || ' ${noun}' || COALESCE(': ' || pg_catalog.string_agg(DISTINCT f.kind, ', ' ORDER BY f.kind), ''))::text, NULL::text,
      pg_catalog.jsonb_build_object('count', pg_catalog.count(*), 'names', 'shown only with pgwarden monitor install --show-names')
    FROM f, o WHERE NOT o.names HAVING pg_catalog.count(*) > 0
    ORDER BY 1`;
}

/**
 * A check that compares with a stored sample, made explicit on a standby: it can store no
 * sample (read-only) and its counters are its own, not the primary's, so it reports skipped
 * there; the primary measures.
 */
export function primaryOnly(body: string): string {
  return `SELECT ''::text, NULL::float8, NULL::text,
      'on a standby: no sample can be stored (read-only); the primary measures this'::text, NULL::jsonb
    WHERE pg_catalog.pg_is_in_recovery()
    UNION ALL
    SELECT * FROM (${body}) AS sampled WHERE NOT pg_catalog.pg_is_in_recovery()`;
}
