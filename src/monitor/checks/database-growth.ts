import { primaryOnly } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Growth since the previous run, scaled to bytes per hour (negative when a database shrank).
export const databaseGrowth: CheckDefinition = {
  name: 'database_growth',
  category: 'health',
  scope: 'cluster',
  description: 'growth of each database in bytes per hour since the previous run',
  unit: 'bytes_per_hour',
  thresholds: { warning: 1073741824, critical: 10737418240, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: primaryOnly(`SELECT db.datname::text,
      CASE WHEN s.seconds > 0 THEN pg_catalog.round((s.delta / s.seconds * 3600)::numeric)::float8 END,
      CASE WHEN s.seconds > 0 THEN pg_catalog.pg_size_pretty(s.delta::bigint) || ' in the last ' || pg_catalog.round(s.seconds::numeric, 1) || ' s'
           ELSE 'first sample: growth appears from the next run' END,
      NULL::text,
      pg_catalog.jsonb_build_object('size', sz.bytes, 'interval_seconds', s.seconds)
    FROM pg_catalog.pg_database db
    CROSS JOIN LATERAL (SELECT pg_catalog.pg_database_size(db.oid)::float8 AS bytes) sz
    CROSS JOIN LATERAL pgwarden_monitor.sample_delta('database_growth', db.datname::text, sz.bytes, false) s
    WHERE db.datallowconn ORDER BY 1`),
  }],
};
