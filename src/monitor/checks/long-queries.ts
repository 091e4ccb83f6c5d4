import { SHOW_NAMES } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Never returns query text: the monitoring login must not learn what others run.
export const longQueries: CheckDefinition = {
  name: 'long_queries',
  category: 'health',
  scope: 'cluster',
  description: 'seconds the longest active statement of another session has been running',
  unit: 'seconds',
  thresholds: { warning: 300, critical: 1800, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH q AS (
      SELECT a.pid, a.usename, a.datname, EXTRACT(epoch FROM pg_catalog.clock_timestamp() - a.query_start)::float8 AS secs
        FROM pg_catalog.pg_stat_activity a
       WHERE a.state = 'active' AND a.backend_type = 'client backend' AND a.pid <> pg_catalog.pg_backend_pid())
    SELECT ''::text, COALESCE(pg_catalog.max(q.secs), 0)::float8,
      CASE WHEN pg_catalog.count(*) = 0 THEN 'no other statement is running'
           ELSE pg_catalog.count(*) || ' statement(s) running, the longest for ' || pg_catalog.round(pg_catalog.max(q.secs)::numeric, 1) || ' s' END,
      NULL::text,
      pg_catalog.jsonb_build_object('running', pg_catalog.count(*), 'longest', CASE WHEN ${SHOW_NAMES} THEN
        (SELECT pg_catalog.jsonb_build_object('pid', l.pid, 'user', l.usename, 'database', l.datname) FROM q l ORDER BY l.secs DESC LIMIT 1) END)
    FROM q`,
  }],
};
