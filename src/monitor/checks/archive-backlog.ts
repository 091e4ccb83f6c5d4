import type { CheckDefinition } from '../types.ts';

// Files waiting for archive_command: a growing backlog means archiving cannot keep up.
export const archiveBacklog: CheckDefinition = {
  name: 'archive_backlog',
  category: 'health',
  scope: 'cluster',
  description: 'WAL files waiting to be archived (.ready files in pg_wal/archive_status)',
  unit: 'count',
  thresholds: { warning: 10, critical: 100, direction: 'above' },
  sql: [{
    minVersion: 120000,
    language: 'sql',
    body: `SELECT ''::text,
      CASE WHEN pg_catalog.current_setting('archive_mode') = 'off' THEN NULL ELSE pg_catalog.count(*) END::float8,
      pg_catalog.count(*) || ' WAL file(s) waiting to be archived',
      CASE WHEN pg_catalog.current_setting('archive_mode') = 'off' THEN 'archive_mode is off: nothing is archived' END,
      pg_catalog.jsonb_build_object('oldest', pg_catalog.min(f.modification))
    FROM pg_catalog.pg_ls_archive_statusdir() f WHERE f.name LIKE '%.ready'`,
  }],
};
