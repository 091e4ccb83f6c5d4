import type { CheckDefinition } from '../types.ts';

// Requested checkpoints (WAL filled max_wal_size, or CHECKPOINT) instead of timed ones
// mean max_wal_size is too small: more I/O and more full-page writes.
const body = (timed: string, requested: string, view: string) => `SELECT ''::text,
      CASE WHEN c.${timed} + c.${requested} >= COALESCE((params ->> 'min_checkpoints')::bigint, 10)
           THEN pg_catalog.round(100.0 * c.${requested} / (c.${timed} + c.${requested}), 1)::float8 END,
      c.${requested} || ' of ' || (c.${timed} + c.${requested}) || ' checkpoints were requested rather than timed',
      NULL::text,
      pg_catalog.jsonb_build_object('timed', c.${timed}, 'requested', c.${requested}, 'stats_reset', c.stats_reset)
    FROM pg_catalog.${view} c`;

export const checkpoints: CheckDefinition = {
  name: 'checkpoints',
  category: 'health',
  scope: 'cluster',
  description: 'percentage of checkpoints that were requested (WAL volume or CHECKPOINT) rather than timed',
  unit: 'percent',
  thresholds: { warning: 50, critical: 80, direction: 'above' },
  params: { min_checkpoints: 10 },
  sql: [
    { minVersion: 100000, language: 'sql', body: body('checkpoints_timed', 'checkpoints_req', 'pg_stat_bgwriter') },
    // PostgreSQL 17 moved the counters to pg_stat_checkpointer.
    { minVersion: 170000, language: 'sql', body: body('num_timed', 'num_requested', 'pg_stat_checkpointer') },
  ],
};
