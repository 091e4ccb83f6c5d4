import { SHOW_NAMES } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Refusals by the pgwarden connection guard, from pgwarden.connection_attempts. Failed
// password logins are not visible to SQL at all (only in the server log): see the doc.
// Dynamic SQL on constant names, so the function exists even before the guard is installed.
export const refusedConnections: CheckDefinition = {
  name: 'refused_connections',
  category: 'security',
  scope: 'database',
  description: 'connections the pgwarden guard refused in the last window_minutes (from pgwarden.connection_attempts)',
  unit: 'count',
  thresholds: { warning: 1, critical: 20, direction: 'above' },
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
                  WHERE n.nspname = 'pgwarden' AND c.relname = 'connection_attempts') THEN
    RETURN QUERY SELECT ''::text, NULL::float8, NULL::text, 'the pgwarden connection guard is not installed in this database'::text, NULL::jsonb;
    RETURN;
  END IF;
  BEGIN
    RETURN QUERY EXECUTE pg_catalog.format($q$
      SELECT ''::text, pg_catalog.count(*)::float8,
        pg_catalog.count(*) || ' connection(s) refused in the last ' || $1::text,
        NULL::text,
        pg_catalog.jsonb_build_object('roles', CASE WHEN $2 THEN COALESCE(pg_catalog.jsonb_agg(DISTINCT a.user_name) FILTER (WHERE a.user_name IS NOT NULL), '[]') END,
          'last', pg_catalog.max(a.ts))
      FROM %I.%I a WHERE a.decision = 'deny' AND a.ts > pg_catalog.now() - $1$q$, 'pgwarden', 'connection_attempts')
      USING v_window, ${SHOW_NAMES};
  EXCEPTION WHEN insufficient_privilege THEN
    RETURN QUERY SELECT ''::text, NULL::float8, NULL::text,
      'the monitor cannot read pgwarden.connection_attempts: run pgwarden monitor install again'::text, NULL::jsonb;
  END;
END`,
  }],
};
