import { primaryOnly } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

export const deadlocks: CheckDefinition = {
  name: 'deadlocks',
  category: 'health',
  scope: 'cluster',
  description: 'deadlocks detected per database since the previous run',
  unit: 'count',
  thresholds: { warning: 1, critical: 10, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: primaryOnly(`SELECT d.datname::text, s.delta,
      CASE WHEN s.seconds IS NULL THEN 'first sample (or statistics were reset): the change appears from the next run'
           ELSE s.delta || ' deadlock(s) in the last ' || pg_catalog.round(s.seconds::numeric, 1) || ' s' END,
      NULL::text,
      pg_catalog.jsonb_build_object('deadlocks_total', d.deadlocks, 'interval_seconds', s.seconds)
    FROM pg_catalog.pg_stat_database d JOIN pg_catalog.pg_database db ON db.oid = d.datid
    CROSS JOIN LATERAL pgwarden_monitor.sample_delta('deadlocks', d.datname::text, d.deadlocks::float8, true) s
    WHERE NOT db.datistemplate ORDER BY 1`),
  }],
};
