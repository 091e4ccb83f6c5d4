import type { CheckDefinition } from '../types.ts';

// pgAudit not loaded: nothing is audited (critical, 2). Loaded but pgaudit.log = none, or
// the extension not created in this database (its event triggers log DDL object names): warning, 1.
export const pgaudit: CheckDefinition = {
  name: 'pgaudit',
  category: 'security',
  scope: 'database',
  description: 'pgAudit is loaded, logs something (pgaudit.log is not none) and is created in this database',
  unit: 'count',
  thresholds: { warning: 1, critical: 2, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH s AS (
      SELECT 'pgaudit' = ANY (pg_catalog.string_to_array(pg_catalog.replace(pg_catalog.current_setting('shared_preload_libraries'), ' ', ''), ',')) AS loaded,
             pg_catalog.lower(COALESCE(pg_catalog.current_setting('pgaudit.log', true), 'none')) AS log,
             EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname = 'pgaudit') AS created)
    SELECT ''::text,
      CASE WHEN NOT s.loaded THEN 2 WHEN s.log IN ('none', '') OR NOT s.created THEN 1 ELSE 0 END::float8,
      CASE WHEN NOT s.loaded THEN 'pgaudit is not in shared_preload_libraries: nothing is audited'
           WHEN s.log IN ('none', '') THEN 'pgaudit is loaded but pgaudit.log = none: it logs nothing'
           WHEN NOT s.created THEN 'pgaudit is loaded (pgaudit.log = ' || s.log || ') but CREATE EXTENSION pgaudit was not run in this database'
           ELSE 'pgaudit logs ' || s.log END,
      NULL::text,
      pg_catalog.jsonb_build_object('loaded', s.loaded, 'log', s.log, 'extension', s.created)
    FROM s`,
  }],
};
