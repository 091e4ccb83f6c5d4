import type { CheckDefinition } from '../types.ts';

// The server answers a query. When it cannot be reached at all, the runner reports this
// check critical with the connection error (every other check is then unknown).
export const alive: CheckDefinition = {
  name: 'alive',
  category: 'health',
  scope: 'cluster',
  description: 'the server accepts the monitoring login and answers a query',
  unit: 'boolean',
  thresholds: { warning: null, critical: 0, direction: 'below' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT ''::text, 1::float8, 'PostgreSQL ' || pg_catalog.current_setting('server_version') || ' answers',
      NULL::text, pg_catalog.jsonb_build_object('server_version_num', pg_catalog.current_setting('server_version_num')::integer)`,
  }],
};
