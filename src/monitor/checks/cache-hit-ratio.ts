import type { CheckDefinition } from '../types.ts';

// Cumulative since statistics were reset; a database with few block reads is not judged.
export const cacheHitRatio: CheckDefinition = {
  name: 'cache_hit_ratio',
  category: 'health',
  scope: 'cluster',
  description: 'percentage of block reads served from shared buffers, per database',
  unit: 'percent',
  thresholds: { warning: 90, critical: 80, direction: 'below' },
  params: { min_blocks: 1000 },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT d.datname::text,
      CASE WHEN d.blks_hit + d.blks_read >= COALESCE((params ->> 'min_blocks')::bigint, 1000)
           THEN pg_catalog.round(100.0 * d.blks_hit / (d.blks_hit + d.blks_read), 2)::float8 END,
      d.blks_hit || ' of ' || (d.blks_hit + d.blks_read) || ' block reads hit shared buffers',
      NULL::text,
      pg_catalog.jsonb_build_object('blks_hit', d.blks_hit, 'blks_read', d.blks_read, 'stats_reset', d.stats_reset)
    FROM pg_catalog.pg_stat_database d JOIN pg_catalog.pg_database db ON db.oid = d.datid
    WHERE NOT db.datistemplate ORDER BY 1`,
  }],
};
