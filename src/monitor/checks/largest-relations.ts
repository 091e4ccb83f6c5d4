import type { CheckDefinition } from '../types.ts';

// The largest relations of this database, in two rankings of `top` each: tables by total size
// (table, its indexes and TOAST, the parts in the metadata) and indexes by their own size (an
// index can outgrow its table: bloat, many wide indexes). One list, the largest first; the
// thresholds apply to each row's value. No default thresholds: sizes depend on the database.
export const largestRelations: CheckDefinition = {
  name: 'largest_relations',
  category: 'health',
  scope: 'database',
  description: 'the top tables of this database by total size in bytes (heap, indexes and TOAST) and the top indexes by their own size; no default thresholds',
  unit: 'bytes',
  thresholds: { warning: null, critical: null, direction: 'above' },
  params: { top: 10 },
  emptyDetail: 'no table in this database',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH top AS (SELECT LEAST(GREATEST(COALESCE((params ->> 'top')::integer, 10), 1), 1000) AS n),
    r AS (
      SELECT n.nspname, c.relname, c.relkind, pg_catalog.pg_total_relation_size(c.oid) AS total,
             pg_catalog.pg_relation_size(c.oid) AS heap, pg_catalog.pg_indexes_size(c.oid) AS indexes
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
       ORDER BY 4 DESC LIMIT (SELECT top.n FROM top)),
    i AS (
      SELECT n.nspname, c.relname, x.indrelid::regclass::text AS tbl, pg_catalog.pg_relation_size(c.oid) AS bytes
        FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'i' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
       ORDER BY 4 DESC LIMIT (SELECT top.n FROM top))
    SELECT (r.nspname || '.' || r.relname)::text, r.total::float8,
      (pg_catalog.pg_size_pretty(r.total) || ' in all: table ' || pg_catalog.pg_size_pretty(r.heap) || ', indexes ' || pg_catalog.pg_size_pretty(r.indexes)
        || ', TOAST and maps ' || pg_catalog.pg_size_pretty(r.total - r.heap - r.indexes))::text,
      NULL::text,
      pg_catalog.jsonb_build_object('table_bytes', r.heap, 'index_bytes', r.indexes, 'toast_bytes', r.total - r.heap - r.indexes, 'kind', r.relkind)
    FROM r
    UNION ALL
    SELECT (i.nspname || '.' || i.relname)::text, i.bytes::float8,
      ('index on ' || i.tbl || ': ' || pg_catalog.pg_size_pretty(i.bytes))::text, NULL::text,
      pg_catalog.jsonb_build_object('index_bytes', i.bytes, 'table', i.tbl, 'kind', 'i')
    FROM i
    ORDER BY 2 DESC, 1`,
  }],
};
