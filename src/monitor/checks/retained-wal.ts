import type { CheckDefinition } from '../types.ts';

// WAL that cannot be removed because a slot still needs it: the disk fills up.
export const retainedWal: CheckDefinition = {
  name: 'retained_wal',
  category: 'health',
  scope: 'cluster',
  description: 'bytes of WAL each replication slot keeps from being removed',
  unit: 'bytes',
  thresholds: { warning: 1073741824, critical: 10737418240, direction: 'above' },
  emptyDetail: 'no replication slot',
  sql: [{
    minVersion: 130000,
    language: 'sql',
    body: `SELECT s.slot_name::text,
      pg_catalog.pg_wal_lsn_diff(
        CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn() ELSE pg_catalog.pg_current_wal_lsn() END,
        s.restart_lsn)::float8,
      (s.slot_type || CASE WHEN s.active THEN ' slot, active' ELSE ' slot, inactive' END
        || CASE WHEN s.restart_lsn IS NULL THEN ', reserves no WAL' ELSE '' END
        || CASE WHEN s.wal_status = 'lost' THEN ', WAL it needed is already removed (the slot is broken)' ELSE '' END)::text,
      NULL::text,
      pg_catalog.jsonb_build_object('active', s.active, 'wal_status', s.wal_status, 'safe_wal_size', s.safe_wal_size)
    FROM pg_catalog.pg_replication_slots s ORDER BY 1`,
  }],
};
