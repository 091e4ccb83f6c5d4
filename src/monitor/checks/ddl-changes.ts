import { SHOW_NAMES } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Schema changes recorded by the pgwarden DDL audit (pgwarden.ddl_events) in the last
// window_minutes. Dynamic SQL on constant names: the table may be installed after the monitor.
export const ddlChanges: CheckDefinition = {
  name: 'ddl_changes',
  category: 'security',
  scope: 'database',
  description: 'DDL commands recorded by the pgwarden DDL audit in the last window_minutes',
  unit: 'count',
  thresholds: { warning: 1, critical: null, direction: 'above' },
  params: { window_minutes: 15 },
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `
DECLARE
  -- Between a minute and a week, whatever the caller asks.
  v_window interval := pg_catalog.make_interval(mins => LEAST(GREATEST(COALESCE((params ->> 'window_minutes')::integer, 15), 1), 10080));
BEGIN
  -- Catalog lookup, not to_regclass(): that one fails without USAGE on the schema.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'pgwarden' AND c.relname = 'ddl_events') THEN
    RETURN QUERY SELECT ''::text, NULL::float8, NULL::text, 'the pgwarden DDL audit is not installed in this database'::text, NULL::jsonb;
    RETURN;
  END IF;
  BEGIN
    RETURN QUERY EXECUTE pg_catalog.format($q$
      SELECT ''::text, pg_catalog.count(*)::float8,
        pg_catalog.count(*) || ' DDL command(s) in the last ' || $1::text
          || COALESCE(': ' || pg_catalog.string_agg(DISTINCT e.command_tag, ', '), ''),
        NULL::text,
        pg_catalog.jsonb_build_object('users', CASE WHEN $2 THEN COALESCE(pg_catalog.jsonb_agg(DISTINCT e.user_name) FILTER (WHERE e.user_name IS NOT NULL), '[]') END,
          'last', pg_catalog.max(e.ts))
      FROM %I.%I e WHERE e.ts > pg_catalog.now() - $1$q$, 'pgwarden', 'ddl_events')
      USING v_window, ${SHOW_NAMES};
  EXCEPTION WHEN insufficient_privilege THEN
    RETURN QUERY SELECT ''::text, NULL::float8, NULL::text,
      'the monitor cannot read pgwarden.ddl_events: run pgwarden monitor install again'::text, NULL::jsonb;
  END;
END`,
  }],
};
