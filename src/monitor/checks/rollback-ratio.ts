import type { CheckDefinition } from '../types.ts';

// Cumulative since the statistics were last reset; small samples are not judged.
export const rollbackRatio: CheckDefinition = {
  name: 'rollback_ratio',
  category: 'health',
  scope: 'cluster',
  description: 'percentage of transactions rolled back, per database, since statistics were reset',
  unit: 'percent',
  thresholds: { warning: 5, critical: 20, direction: 'above' },
  params: { min_transactions: 100 },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT d.datname::text,
      CASE WHEN d.xact_commit + d.xact_rollback >= COALESCE((params ->> 'min_transactions')::bigint, 100)
           THEN pg_catalog.round(100.0 * d.xact_rollback / (d.xact_commit + d.xact_rollback), 2)::float8 END,
      d.xact_rollback || ' of ' || (d.xact_commit + d.xact_rollback) || ' transactions rolled back',
      NULL::text,
      pg_catalog.jsonb_build_object('commits', d.xact_commit, 'rollbacks', d.xact_rollback, 'stats_reset', d.stats_reset)
    FROM pg_catalog.pg_stat_database d JOIN pg_catalog.pg_database db ON db.oid = d.datid
    WHERE NOT db.datistemplate ORDER BY 1`,
  }],
};
