import type { CheckDefinition } from '../types.ts';

export const databaseSize: CheckDefinition = {
  name: 'database_size',
  category: 'health',
  scope: 'cluster',
  description: 'size of each database in bytes; no default thresholds',
  unit: 'bytes',
  thresholds: { warning: null, critical: null, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT db.datname::text, pg_catalog.pg_database_size(db.oid)::float8,
      pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(db.oid)), NULL::text, '{}'::jsonb
    FROM pg_catalog.pg_database db WHERE db.datallowconn ORDER BY 1`,
  }],
};
