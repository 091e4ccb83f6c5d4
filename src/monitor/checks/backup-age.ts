import type { CheckDefinition } from '../types.ts';

// What SQL can see of base backups: the newest backup history file (pg_wal/*.backup, kept
// while archiving is on) or the last archived one, and a base backup running right now.
// The age is clamped at 0: a history file's mtime can be a few microseconds ahead of the
// server clock (file timestamps and clock_timestamp() come from different kernel clocks).
export const backupAge: CheckDefinition = {
  name: 'backup_age',
  category: 'health',
  scope: 'cluster',
  description: 'seconds since the last base backup ended, from its backup history file; warns when none is known',
  unit: 'seconds',
  thresholds: { warning: 129600, critical: 259200, direction: 'above' },
  nullLevel: 'warning',
  sql: [{
    minVersion: 130000,
    language: 'sql',
    body: `WITH f AS (
      SELECT pg_catalog.max(w.modification) AS ts FROM pg_catalog.pg_ls_waldir() w WHERE w.name LIKE '%.backup'
      UNION ALL
      SELECT a.last_archived_time FROM pg_catalog.pg_stat_archiver a WHERE a.last_archived_wal LIKE '%.backup'),
    b AS (SELECT pg_catalog.max(f.ts) AS ts FROM f)
    SELECT ''::text, CASE WHEN b.ts IS NOT NULL THEN GREATEST(0, EXTRACT(epoch FROM pg_catalog.clock_timestamp() - b.ts)) END::float8,
      CASE WHEN b.ts IS NULL THEN 'no base backup is recorded in pg_wal (none since the last WAL cleanup, or archive_mode is off)'
           ELSE 'last base backup ended at ' || b.ts END,
      NULL::text,
      pg_catalog.jsonb_build_object('last_backup_end', b.ts,
        'running_base_backups', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_progress_basebackup))
    FROM b`,
  }],
};
