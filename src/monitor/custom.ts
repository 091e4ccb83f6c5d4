// Custom checks: SQL in pgwarden.yaml (monitor.custom_checks) that `monitor install` makes a
// SECURITY DEFINER function like any other check (same owner, grants, pinned search_path, and
// monitor_integrity compares it with the config). "Usually you just write the SQL": one SELECT
// returning a `value` column and, if it likes, `item`, `detail`, `skipped` and `metadata`.
import type { CustomCheckConfig } from '../core/config.ts';
import { PgwardenError } from '../core/errors.ts';
import { CHECK_NAMES } from './checks/index.ts';
import type { CheckDefinition } from './types.ts';

/**
 * The function body around the user's query: its columns are taken by name (through a JSON
 * row), so any subset of the contract works and a column of another type is cast. The query is
 * a subquery, so it is one statement: no second statement, no data-modifying WITH.
 */
export function customBody(sql: string): string {
  const query = sql.trim().replace(/;\s*$/, '');
  return `SELECT COALESCE(j ->> 'item', '')::text, (j ->> 'value')::float8, (j ->> 'detail')::text, (j ->> 'skipped')::text,
      CASE WHEN pg_catalog.jsonb_typeof(j -> 'metadata') = 'object' THEN j -> 'metadata' END
    FROM (
${query}
    ) AS custom_check CROSS JOIN LATERAL pg_catalog.to_jsonb(custom_check) AS j`;
}

export function customChecks(configs: Readonly<Record<string, CustomCheckConfig>>): CheckDefinition[] {
  return Object.entries(configs).map(([name, config]) => {
    const where = `monitor.custom_checks.${name}`;
    if (CHECK_NAMES.includes(name)) throw new PgwardenError('PGW_ERR_CONFIG', `${where}: "${name}" is a built-in check; give the custom check another name`);
    if (config.sql.includes('$pgw_body$')) throw new PgwardenError('PGW_ERR_CONFIG', `${where}.sql: must not contain $pgw_body$`);
    return {
      name, category: config.category, scope: config.scope, description: config.description, unit: config.unit,
      thresholds: { warning: config.warning, critical: config.critical, direction: config.direction },
      sql: [{ minVersion: 100000, language: 'sql', body: customBody(config.sql) }],
      custom: true, reads: config.reads,
    };
  });
}
