import type { CheckDefinition } from '../types.ts';

// ssl = off: every password exchange and every row crosses the network in clear (value 2).
// ssl on but TLS 1.0/1.1 still accepted: weak (value 1).
export const ssl: CheckDefinition = {
  name: 'ssl',
  category: 'security',
  scope: 'cluster',
  description: 'SSL is off (critical), or allows TLS versions older than 1.2 (warning)',
  unit: 'count',
  thresholds: { warning: 1, critical: 2, direction: 'above' },
  sql: [{
    minVersion: 120000,
    language: 'sql',
    body: `SELECT ''::text,
      CASE WHEN pg_catalog.current_setting('ssl') = 'off' THEN 2
           WHEN pg_catalog.current_setting('ssl_min_protocol_version') IN ('TLSv1', 'TLSv1.1') THEN 1 ELSE 0 END::float8,
      CASE WHEN pg_catalog.current_setting('ssl') = 'off' THEN 'ssl is off: connections are not encrypted'
           ELSE 'ssl is on, minimum protocol ' || pg_catalog.current_setting('ssl_min_protocol_version') END,
      NULL::text,
      pg_catalog.jsonb_build_object('ssl', pg_catalog.current_setting('ssl'), 'ssl_min_protocol_version', pg_catalog.current_setting('ssl_min_protocol_version'))`,
  }],
};
