import type { CheckDefinition } from '../types.ts';

// An open transaction of any state (running or idle) holds back the xmin horizon: vacuum cannot
// remove rows dead since it began. Never returns query text or who runs it.
export const txnTime: CheckDefinition = {
  name: 'txn_time',
  category: 'health',
  scope: 'cluster',
  description: 'seconds the oldest open transaction of another session has been open (running or idle)',
  unit: 'seconds',
  thresholds: { warning: 600, critical: 3600, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH t AS (
      SELECT EXTRACT(epoch FROM pg_catalog.clock_timestamp() - a.xact_start)::float8 AS secs
        FROM pg_catalog.pg_stat_activity a
       -- Not the monitoring login's own sessions (the other checks of this run).
       WHERE a.xact_start IS NOT NULL AND a.backend_type = 'client backend'
         AND a.usesysid IS DISTINCT FROM (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = session_user))
    SELECT ''::text, COALESCE(pg_catalog.max(t.secs), 0)::float8,
      CASE WHEN pg_catalog.count(*) = 0 THEN 'no other transaction is open'
           ELSE pg_catalog.count(*) || ' transaction(s) open, the oldest for ' || pg_catalog.round(pg_catalog.max(t.secs)::numeric, 1) || ' s' END,
      NULL::text, pg_catalog.jsonb_build_object('open', pg_catalog.count(*))
    FROM t`,
  }],
};
