import type { CheckDefinition } from '../types.ts';

// Tables past their autovacuum trigger point whose last vacuum is older than stale_minutes:
// autovacuum is off for them, blocked, or cannot keep up.
export const autovacuumFreshness: CheckDefinition = {
  name: 'autovacuum_freshness',
  category: 'health',
  scope: 'database',
  description: 'tables of this database with more dead rows than their autovacuum threshold and no vacuum for stale_minutes',
  unit: 'count',
  thresholds: { warning: 1, critical: null, direction: 'above' },
  params: { stale_minutes: 60 },
  emptyDetail: 'every table is vacuumed in time',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT (t.schemaname || '.' || t.relname)::text, 1::float8,
      (t.n_dead_tup || ' dead rows (autovacuum threshold ' || pg_catalog.round(th.limit_rows) || '), last vacuum '
        || COALESCE(GREATEST(t.last_vacuum, t.last_autovacuum)::text, 'never'))::text,
      NULL::text,
      pg_catalog.jsonb_build_object('dead_rows', t.n_dead_tup, 'live_rows', t.n_live_tup,
        'last_vacuum', t.last_vacuum, 'last_autovacuum', t.last_autovacuum)
    FROM pg_catalog.pg_stat_user_tables t
    JOIN pg_catalog.pg_class c ON c.oid = t.relid
    CROSS JOIN LATERAL (SELECT pg_catalog.current_setting('autovacuum_vacuum_threshold')::float8
        + pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::float8 * GREATEST(c.reltuples, 0) AS limit_rows) th
    WHERE t.n_dead_tup > th.limit_rows
      AND COALESCE(GREATEST(t.last_vacuum, t.last_autovacuum), '-infinity')
          < pg_catalog.now() - pg_catalog.make_interval(mins => COALESCE((params ->> 'stale_minutes')::integer, 60))
    ORDER BY t.n_dead_tup DESC, 1`,
  }],
};
