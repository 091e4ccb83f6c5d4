import type { CheckDefinition } from '../types.ts';

// Failing archiving breaks point-in-time recovery and fills pg_wal.
export const archiver: CheckDefinition = {
  name: 'archiver',
  category: 'health',
  scope: 'cluster',
  description: 'WAL archiving is failing (the last attempt failed after the last success)',
  unit: 'boolean',
  thresholds: { warning: null, critical: 1, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT ''::text,
      CASE WHEN pg_catalog.current_setting('archive_mode') = 'off' THEN NULL
           WHEN a.last_failed_time > COALESCE(a.last_archived_time, '-infinity') THEN 1 ELSE 0 END::float8,
      CASE WHEN a.last_failed_time > COALESCE(a.last_archived_time, '-infinity')
           THEN 'archiving of ' || a.last_failed_wal || ' failed at ' || a.last_failed_time || ' (' || a.failed_count || ' failures since statistics reset)'
           ELSE 'archiving works: ' || a.archived_count || ' files archived, last ' || COALESCE(a.last_archived_wal, 'none') END,
      CASE WHEN pg_catalog.current_setting('archive_mode') = 'off' THEN 'archive_mode is off: nothing is archived' END,
      pg_catalog.jsonb_build_object('archived_count', a.archived_count, 'failed_count', a.failed_count,
        'last_archived_time', a.last_archived_time, 'last_failed_time', a.last_failed_time)
    FROM pg_catalog.pg_stat_archiver a`,
  }],
};
