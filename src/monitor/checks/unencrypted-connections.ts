import { namedOrCounted } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Network sessions (not the Unix socket) that do not use SSL: per role, with the client
// addresses, only with --show-names; otherwise counted.
export const unencryptedConnections: CheckDefinition = {
  name: 'unencrypted_connections',
  category: 'security',
  scope: 'cluster',
  description: 'client sessions over TCP without SSL, per role (this monitoring session included)',
  unit: 'count',
  thresholds: { warning: 1, critical: null, direction: 'above' },
  emptyDetail: 'every network session uses SSL',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: namedOrCounted(`SELECT a.usename::text, pg_catalog.count(*),
        (pg_catalog.count(*) || ' session(s) over TCP without SSL')::text, NULL::text,
        pg_catalog.jsonb_build_object('clients', pg_catalog.array_agg(DISTINCT pg_catalog.host(a.client_addr)))
      FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_stat_ssl s ON s.pid = a.pid
      WHERE a.backend_type = 'client backend' AND a.client_addr IS NOT NULL AND NOT s.ssl
      GROUP BY a.usename`, 'role(s) with sessions over TCP without SSL'),
  }],
};
