import type { CheckDefinition } from '../types.ts';

// Client connections against what non-superusers may use (max_connections minus the reserved slots).
export const connections: CheckDefinition = {
  name: 'connections',
  category: 'health',
  scope: 'cluster',
  description: 'client connections as a percentage of the connections available to non-superusers',
  unit: 'percent',
  thresholds: { warning: 80, critical: 90, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH s AS (
      SELECT pg_catalog.count(*) FILTER (WHERE a.backend_type = 'client backend') AS used,
             pg_catalog.current_setting('max_connections')::integer AS max_conn,
             pg_catalog.current_setting('superuser_reserved_connections')::integer AS reserved
        FROM pg_catalog.pg_stat_activity a)
    SELECT ''::text, pg_catalog.round(100.0 * s.used / GREATEST(s.max_conn - s.reserved, 1), 1)::float8,
      s.used || ' of ' || (s.max_conn - s.reserved) || ' connections available to non-superusers are in use',
      NULL::text,
      pg_catalog.jsonb_build_object('used', s.used, 'max_connections', s.max_conn, 'superuser_reserved_connections', s.reserved)
    FROM s`,
  }],
};
