import type { CheckDefinition } from '../types.ts';

// The planner's statistics come from ANALYZE (manual or autovacuum's); stale ones give bad
// plans. Tables with at least min_rows rows, the longest unanalyzed first (at most 100).
export const lastAnalyze: CheckDefinition = {
  name: 'last_analyze',
  category: 'health',
  scope: 'database',
  description: 'seconds since each table of this database (with min_rows rows or more) was last analyzed, manually or by autovacuum',
  unit: 'seconds',
  thresholds: { warning: 86400, critical: 172800, direction: 'above' },
  // Never analyzed: nothing to measure from, and worth a look.
  nullLevel: 'warning',
  params: { min_rows: 1000 },
  emptyDetail: 'no table with min_rows rows',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT (t.schemaname || '.' || t.relname)::text,
      EXTRACT(epoch FROM pg_catalog.now() - GREATEST(t.last_analyze, t.last_autoanalyze))::float8,
      CASE WHEN GREATEST(t.last_analyze, t.last_autoanalyze) IS NULL THEN 'never analyzed'
           ELSE 'last analyzed ' || GREATEST(t.last_analyze, t.last_autoanalyze)
                || CASE WHEN t.last_autoanalyze IS NOT NULL AND t.last_autoanalyze >= COALESCE(t.last_analyze, '-infinity') THEN ' (autovacuum)' ELSE '' END END
        || ', ' || t.n_mod_since_analyze || ' rows changed since',
      NULL::text,
      pg_catalog.jsonb_build_object('last_analyze', t.last_analyze, 'last_autoanalyze', t.last_autoanalyze,
        'rows', t.n_live_tup, 'changed_since', t.n_mod_since_analyze)
    FROM pg_catalog.pg_stat_user_tables t
    WHERE t.n_live_tup + t.n_dead_tup >= COALESCE((params ->> 'min_rows')::bigint, 1000)
    ORDER BY GREATEST(t.last_analyze, t.last_autoanalyze) NULLS FIRST, 1 LIMIT 100`,
  }],
};
