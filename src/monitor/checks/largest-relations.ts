import type { CheckDefinition } from '../types.ts';

// The top relations of this database by total size (table, its indexes and TOAST), with the
// table and index parts in the metadata. No default thresholds: sizes depend on the database.
export const largestRelations: CheckDefinition = {
  name: 'largest_relations',
  category: 'health',
  scope: 'database',
  description: 'the top tables of this database by total size in bytes (heap, indexes and TOAST); no default thresholds',
  unit: 'bytes',
  thresholds: { warning: null, critical: null, direction: 'above' },
  params: { top: 10 },
  emptyDetail: 'no table in this database',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH r AS (
      SELECT n.nspname, c.relname, c.relkind, pg_catalog.pg_total_relation_size(c.oid) AS total,
             pg_catalog.pg_relation_size(c.oid) AS heap, pg_catalog.pg_indexes_size(c.oid) AS indexes
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
       ORDER BY 4 DESC LIMIT LEAST(GREATEST(COALESCE((params ->> 'top')::integer, 10), 1), 1000))
    SELECT (r.nspname || '.' || r.relname)::text, r.total::float8,
      (pg_catalog.pg_size_pretty(r.total) || ' in all: table ' || pg_catalog.pg_size_pretty(r.heap) || ', indexes ' || pg_catalog.pg_size_pretty(r.indexes)
        || ', TOAST and maps ' || pg_catalog.pg_size_pretty(r.total - r.heap - r.indexes))::text,
      NULL::text,
      pg_catalog.jsonb_build_object('table_bytes', r.heap, 'index_bytes', r.indexes, 'toast_bytes', r.total - r.heap - r.indexes, 'kind', r.relkind)
    FROM r ORDER BY 2 DESC, 1`,
  }],
};
