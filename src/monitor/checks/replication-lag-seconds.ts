import type { CheckDefinition } from '../types.ts';

// On a primary: replay_lag per standby. On a standby: time since the last replayed commit
// while WAL is still waiting to be replayed (an idle primary is not lag).
export const replicationLagSeconds: CheckDefinition = {
  name: 'replication_lag_seconds',
  category: 'health',
  scope: 'cluster',
  description: 'seconds each standby lags behind in replay (on a standby: age of the last replayed transaction while WAL is pending)',
  unit: 'seconds',
  thresholds: { warning: 60, critical: 300, direction: 'above' },
  emptyDetail: 'no standby is connected',
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `
BEGIN
  IF pg_catalog.pg_is_in_recovery() THEN
    RETURN QUERY SELECT 'replay'::text,
      CASE WHEN pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn() THEN 0
           ELSE COALESCE(EXTRACT(epoch FROM pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp()), 0) END::float8,
      'standby: seconds behind the primary in replay'::text, NULL::text,
      pg_catalog.jsonb_build_object('role', 'standby', 'last_replayed_commit', pg_catalog.pg_last_xact_replay_timestamp());
    RETURN;
  END IF;
  RETURN QUERY SELECT
    (r.application_name || ' (pid ' || r.pid || ')')::text,
    EXTRACT(epoch FROM COALESCE(r.replay_lag, r.flush_lag, r.write_lag, '0'::interval))::float8,
    (r.state || ', ' || r.sync_state)::text, NULL::text,
    pg_catalog.jsonb_build_object('write_lag', EXTRACT(epoch FROM r.write_lag), 'flush_lag', EXTRACT(epoch FROM r.flush_lag),
      'replay_lag', EXTRACT(epoch FROM r.replay_lag))
  FROM pg_catalog.pg_stat_replication r ORDER BY 1;
END`,
  }],
};
