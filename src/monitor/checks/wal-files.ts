import type { CheckDefinition } from '../types.ts';

// WAL segments in pg_wal (pg_ls_waldir, which pg_monitor may call), with their total size and
// max_wal_size beside them: far more than max_wal_size means something holds WAL back (a slot,
// failing archiving, wal_keep_size). No default thresholds: set them from max_wal_size.
export const walFiles: CheckDefinition = {
  name: 'wal_files',
  category: 'health',
  scope: 'cluster',
  description: 'WAL segment files in pg_wal, with their total size; no default thresholds',
  unit: 'count',
  thresholds: { warning: null, critical: null, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH w AS (
      SELECT pg_catalog.count(*) AS files, COALESCE(pg_catalog.sum(f.size), 0) AS bytes
        FROM pg_catalog.pg_ls_waldir() f WHERE f.name ~ '^[0-9A-F]{24}$'),
    s AS (SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting('max_wal_size')) AS max_wal_size)
    SELECT ''::text, w.files::float8,
      (w.files || ' WAL files, ' || pg_catalog.pg_size_pretty(w.bytes) || ' (max_wal_size ' || pg_catalog.pg_size_pretty(s.max_wal_size) || ')')::text,
      NULL::text,
      pg_catalog.jsonb_build_object('bytes', w.bytes, 'max_wal_size_bytes', s.max_wal_size)
    FROM w, s`,
  }],
};
