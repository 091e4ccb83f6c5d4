import type { CheckDefinition } from '../types.ts';

// Transaction ID and multixact age, as a percentage of the 2^31 a database may not reach.
export const xidWraparound: CheckDefinition = {
  name: 'xid_wraparound',
  category: 'health',
  scope: 'cluster',
  description: 'per database, the older of transaction-ID and multixact age as a percentage of the wraparound limit',
  unit: 'percent',
  thresholds: { warning: 50, critical: 75, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT db.datname::text,
      pg_catalog.round(100.0 * GREATEST(pg_catalog.age(db.datfrozenxid), pg_catalog.mxid_age(db.datminmxid)) / 2147483648, 3)::float8,
      'transaction ID age ' || pg_catalog.age(db.datfrozenxid) || ', multixact age ' || pg_catalog.mxid_age(db.datminmxid),
      NULL::text,
      pg_catalog.jsonb_build_object('xid_age', pg_catalog.age(db.datfrozenxid), 'mxid_age', pg_catalog.mxid_age(db.datminmxid),
        'autovacuum_freeze_max_age', pg_catalog.current_setting('autovacuum_freeze_max_age')::bigint)
    FROM pg_catalog.pg_database db ORDER BY 1`,
  }],
};
