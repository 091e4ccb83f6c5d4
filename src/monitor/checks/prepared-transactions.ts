import type { CheckDefinition } from '../types.ts';

// A prepared (two-phase) transaction survives disconnects and restarts, keeps its locks and
// holds back vacuum until someone commits or rolls it back: a forgotten one is an outage waiting.
export const preparedTransactions: CheckDefinition = {
  name: 'prepared_transactions',
  category: 'health',
  scope: 'cluster',
  description: 'seconds the oldest prepared (two-phase) transaction has been waiting, with their count',
  unit: 'seconds',
  thresholds: { warning: 60, critical: 600, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH p AS (SELECT EXTRACT(epoch FROM pg_catalog.now() - x.prepared)::float8 AS secs FROM pg_catalog.pg_prepared_xacts x)
    SELECT ''::text, COALESCE(pg_catalog.max(p.secs), 0)::float8,
      CASE WHEN pg_catalog.count(*) = 0 THEN 'no prepared transaction'
           ELSE pg_catalog.count(*) || ' prepared transaction(s), the oldest waiting for ' || pg_catalog.round(pg_catalog.max(p.secs)::numeric, 1) || ' s' END,
      NULL::text,
      pg_catalog.jsonb_build_object('prepared', pg_catalog.count(*), 'max_prepared_transactions', pg_catalog.current_setting('max_prepared_transactions')::integer)
    FROM p`,
  }],
};
