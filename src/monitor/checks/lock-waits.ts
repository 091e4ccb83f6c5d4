import type { CheckDefinition } from '../types.ts';

// pg_locks.waitstart (PostgreSQL 14+) says when each waiter began to wait.
export const lockWaits: CheckDefinition = {
  name: 'lock_waits',
  category: 'health',
  scope: 'cluster',
  description: 'seconds the longest session has been waiting for a lock (0 when none waits)',
  unit: 'seconds',
  thresholds: { warning: 30, critical: 300, direction: 'above' },
  sql: [{
    minVersion: 140000,
    language: 'sql',
    body: `WITH w AS (
      SELECT l.pid, EXTRACT(epoch FROM pg_catalog.clock_timestamp() - l.waitstart)::float8 AS secs
        FROM pg_catalog.pg_locks l WHERE NOT l.granted AND l.waitstart IS NOT NULL)
    SELECT ''::text, COALESCE(pg_catalog.max(w.secs), 0)::float8,
      CASE WHEN pg_catalog.count(*) = 0 THEN 'no session waits for a lock'
           ELSE pg_catalog.count(DISTINCT w.pid) || ' session(s) waiting for a lock, the longest for '
                || pg_catalog.round(pg_catalog.max(w.secs)::numeric, 1) || ' s' END,
      NULL::text,
      pg_catalog.jsonb_build_object('waiting_sessions', pg_catalog.count(DISTINCT w.pid),
        'blocking_sessions', (SELECT pg_catalog.count(DISTINCT b)
           FROM (SELECT DISTINCT x.pid FROM w x) y, pg_catalog.unnest(pg_catalog.pg_blocking_pids(y.pid)) b))
    FROM w`,
  }],
};
