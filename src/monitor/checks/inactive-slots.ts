import type { CheckDefinition } from '../types.ts';

// An inactive slot keeps WAL (and, for logical slots, catalog rows) forever.
const columns = (since: string) => `SELECT s.slot_name::text, 1::float8,
      (s.slot_type || ' slot is inactive' || ${since} || ', retaining ' ||
        COALESCE(pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff(
          CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn() ELSE pg_catalog.pg_current_wal_lsn() END,
          s.restart_lsn)), 'no') || ' WAL')::text,
      NULL::text,
      pg_catalog.jsonb_build_object('slot_type', s.slot_type, 'database', s.database, 'wal_status', s.wal_status)
    FROM pg_catalog.pg_replication_slots s WHERE NOT s.active ORDER BY 1`;

export const inactiveSlots: CheckDefinition = {
  name: 'inactive_slots',
  category: 'health',
  scope: 'cluster',
  description: 'replication slots no client is using (they retain WAL until dropped)',
  unit: 'count',
  thresholds: { warning: 1, critical: null, direction: 'above' },
  emptyDetail: 'no inactive replication slot',
  sql: [
    { minVersion: 130000, language: 'sql', body: columns(`''`) },
    // PostgreSQL 17 records since when a slot has been inactive.
    { minVersion: 170000, language: 'sql', body: columns(`COALESCE(' since ' || s.inactive_since::text, '')`) },
  ],
};
