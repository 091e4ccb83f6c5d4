import { SHOW_NAMES } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Sessions that opened a transaction and went quiet hold locks and stop vacuum.
export const idleInTransaction: CheckDefinition = {
  name: 'idle_in_transaction',
  category: 'health',
  scope: 'cluster',
  description: 'seconds the longest session has been idle inside an open transaction',
  unit: 'seconds',
  thresholds: { warning: 60, critical: 600, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH s AS (
      SELECT a.pid, a.usename, a.datname, EXTRACT(epoch FROM pg_catalog.now() - a.state_change)::float8 AS secs
        FROM pg_catalog.pg_stat_activity a
       WHERE a.state IN ('idle in transaction', 'idle in transaction (aborted)'))
    SELECT ''::text, COALESCE(pg_catalog.max(s.secs), 0)::float8,
      CASE WHEN pg_catalog.count(*) = 0 THEN 'no session is idle in a transaction'
           ELSE pg_catalog.count(*) || ' session(s) idle in a transaction, the longest for '
                || pg_catalog.round(pg_catalog.max(s.secs)::numeric, 1) || ' s' END,
      NULL::text,
      pg_catalog.jsonb_build_object('sessions', pg_catalog.count(*), 'longest', CASE WHEN ${SHOW_NAMES} THEN
        (SELECT pg_catalog.jsonb_build_object('pid', l.pid, 'user', l.usename, 'database', l.datname)
           FROM s l ORDER BY l.secs DESC LIMIT 1) END)
    FROM s`,
  }],
};
