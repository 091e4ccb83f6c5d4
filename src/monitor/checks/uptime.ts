import type { CheckDefinition } from '../types.ts';

// A short uptime means the server restarted (crash, failover, OOM killer): worth a look.
export const uptime: CheckDefinition = {
  name: 'uptime',
  category: 'health',
  scope: 'cluster',
  description: 'seconds since the server started; warns after a recent restart',
  unit: 'seconds',
  thresholds: { warning: 600, critical: null, direction: 'below' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT ''::text,
      EXTRACT(epoch FROM pg_catalog.now() - pg_catalog.pg_postmaster_start_time())::float8,
      'up since ' || pg_catalog.to_char(pg_catalog.pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      NULL::text,
      pg_catalog.jsonb_build_object('started_at', pg_catalog.pg_postmaster_start_time(), 'config_loaded_at', pg_catalog.pg_conf_load_time())`,
  }],
};
