import { primaryOnly } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Bytes spilled to temporary files since the previous run: work_mem too small, or a runaway query.
export const tempFiles: CheckDefinition = {
  name: 'temp_files',
  category: 'health',
  scope: 'cluster',
  description: 'bytes written to temporary files per database since the previous run',
  unit: 'bytes',
  thresholds: { warning: 1073741824, critical: 10737418240, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: primaryOnly(`SELECT d.datname::text, s.delta,
      CASE WHEN s.seconds IS NULL THEN 'first sample (or statistics were reset): the change appears from the next run'
           ELSE pg_catalog.pg_size_pretty(s.delta::bigint) || ' in temporary files in the last ' || pg_catalog.round(s.seconds::numeric, 1) || ' s' END,
      NULL::text,
      pg_catalog.jsonb_build_object('temp_files_total', d.temp_files, 'temp_bytes_total', d.temp_bytes, 'interval_seconds', s.seconds)
    FROM pg_catalog.pg_stat_database d JOIN pg_catalog.pg_database db ON db.oid = d.datid
    CROSS JOIN LATERAL pgwarden_monitor.sample_delta('temp_files', d.datname::text, d.temp_bytes::float8, true) s
    WHERE NOT db.datistemplate ORDER BY 1`),
  }],
};
