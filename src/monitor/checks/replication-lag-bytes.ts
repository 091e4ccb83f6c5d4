import type { CheckDefinition } from '../types.ts';

// On a primary: one row per connected standby. On a standby: received but not yet replayed WAL.
export const replicationLagBytes: CheckDefinition = {
  name: 'replication_lag_bytes',
  category: 'health',
  scope: 'cluster',
  description: 'bytes of WAL each standby has not yet replayed (on a standby: received but not replayed)',
  unit: 'bytes',
  thresholds: { warning: 16777216, critical: 1073741824, direction: 'above' },
  emptyDetail: 'no standby is connected',
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `
BEGIN
  IF pg_catalog.pg_is_in_recovery() THEN
    RETURN QUERY SELECT 'replay'::text,
      pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::float8,
      'standby: WAL received but not yet replayed'::text, NULL::text,
      pg_catalog.jsonb_build_object('role', 'standby', 'receive_lsn', pg_catalog.pg_last_wal_receive_lsn()::text,
        'replay_lsn', pg_catalog.pg_last_wal_replay_lsn()::text);
    RETURN;
  END IF;
  RETURN QUERY SELECT
    (r.application_name || ' (pid ' || r.pid || ')')::text,
    pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), COALESCE(r.replay_lsn, r.flush_lsn, r.write_lsn, r.sent_lsn))::float8,
    (r.state || ', ' || r.sync_state || ', ' || CASE WHEN r.replay_lsn IS NULL THEN 'no replay position reported, measured to the flush position' ELSE 'measured to the replay position' END)::text,
    NULL::text,
    pg_catalog.jsonb_build_object('client_addr', r.client_addr::text, 'state', r.state, 'sync_state', r.sync_state,
      'sent_lsn', r.sent_lsn::text, 'flush_lsn', r.flush_lsn::text, 'replay_lsn', r.replay_lsn::text)
  FROM pg_catalog.pg_stat_replication r ORDER BY 1;
END`,
  }],
};
