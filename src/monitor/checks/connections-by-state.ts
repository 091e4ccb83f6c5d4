import type { CheckDefinition } from '../types.ts';

// One row per session state, zero included, so graphs keep every series.
export const connectionsByState: CheckDefinition = {
  name: 'connections_by_state',
  category: 'health',
  scope: 'cluster',
  description: 'client sessions per state (active, idle, idle in transaction, ...); no default thresholds',
  unit: 'count',
  thresholds: { warning: null, critical: null, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT s.state::text, pg_catalog.count(a.pid)::float8,
      pg_catalog.count(a.pid) || ' client session(s) ' || s.state, NULL::text, '{}'::jsonb
    FROM (VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'),
                 ('fastpath function call'), ('disabled')) AS s(state)
    LEFT JOIN pg_catalog.pg_stat_activity a ON a.state = s.state AND a.backend_type = 'client backend'
    GROUP BY s.state ORDER BY s.state`,
  }],
};
