import type { CheckDefinition } from '../types.ts';

// Without connection logging nobody can tell who logged in (or failed to) after an incident.
export const loggingSettings: CheckDefinition = {
  name: 'logging_settings',
  category: 'security',
  scope: 'cluster',
  description: 'security-relevant logging that is off: log_connections, log_disconnections',
  unit: 'count',
  thresholds: { warning: 1, critical: null, direction: 'above' },
  emptyDetail: 'connections and disconnections are logged',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT s.name::text, 1::float8, (s.name || ' is off')::text, NULL::text,
      pg_catalog.jsonb_build_object('setting', s.setting, 'source', s.source)
    FROM pg_catalog.pg_settings s
    WHERE s.name IN ('log_connections', 'log_disconnections') AND pg_catalog.lower(s.setting) IN ('off', '', 'false', '0')
    ORDER BY 1`,
  }],
};
