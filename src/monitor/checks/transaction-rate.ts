import { primaryOnly } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// A rate needs two samples: the previous total is kept in pgwarden_monitor.samples.
export const transactionRate: CheckDefinition = {
  name: 'transaction_rate',
  category: 'health',
  scope: 'cluster',
  description: 'transactions per second (commits and rollbacks, all databases) since the previous run; no default thresholds',
  unit: 'per_second',
  thresholds: { warning: null, critical: null, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: primaryOnly(`WITH t AS (
      SELECT pg_catalog.sum(d.xact_commit)::float8 AS commits, pg_catalog.sum(d.xact_rollback)::float8 AS rollbacks
        FROM pg_catalog.pg_stat_database d)
    SELECT ''::text,
      CASE WHEN s.seconds > 0 THEN pg_catalog.round((s.delta / s.seconds)::numeric, 2)::float8 END,
      CASE WHEN s.seconds > 0 THEN pg_catalog.round((s.delta / s.seconds)::numeric, 2) || ' transactions/s over the last ' || pg_catalog.round(s.seconds::numeric, 1) || ' s'
           ELSE 'first sample (or the counters were reset): the rate appears from the next run' END,
      NULL::text,
      pg_catalog.jsonb_build_object('commits', t.commits, 'rollbacks', t.rollbacks, 'interval_seconds', s.seconds)
    FROM t CROSS JOIN LATERAL pgwarden_monitor.sample_delta('transaction_rate', '', t.commits + t.rollbacks, true) s`),
  }],
};
