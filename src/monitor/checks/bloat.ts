import type { CheckDefinition } from '../types.ts';

// Wasted space in tables and B-tree indexes, estimated from the planner's statistics without
// reading the relations (no pgstattuple), the way check_postgres's bloat action does: the
// pages a relation would need for its row count at the average row width (pg_statistic's
// null fraction and width, the tuple and page headers, fillfactor) against the pages it has.
// An estimate: it is off for tables with very wide or TOASTed rows, and needs ANALYZE to have
// run. Reads five columns of pg_statistic (never the sampled values). The top relations by
// wasted bytes, at least min_pages pages large.
export const bloat: CheckDefinition = {
  name: 'bloat',
  category: 'health',
  scope: 'database',
  description: 'bytes wasted in each table and B-tree index of this database, estimated from statistics (the largest first)',
  unit: 'bytes',
  thresholds: { warning: 1073741824, critical: 5368709120, direction: 'above' },
  params: { min_pages: 100, top: 10 },
  emptyDetail: 'no table or index with wasted space (of those analyzed and at least min_pages large)',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH cfg AS (
      SELECT pg_catalog.current_setting('block_size')::numeric AS bs,
             GREATEST(COALESCE((params ->> 'min_pages')::integer, 100), 1) AS min_pages),
    rel AS (
      SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpages::numeric AS pages, c.reltuples::numeric AS tuples,
        COALESCE((SELECT pg_catalog.substring(o, 12)::numeric FROM pg_catalog.unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'),
                 CASE WHEN c.relkind = 'i' THEN 90 ELSE 100 END) AS ff
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, cfg
       WHERE c.relkind IN ('r', 'm', 'i') AND c.relpages >= cfg.min_pages AND c.reltuples >= 0
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
         AND (c.relkind <> 'i' OR c.relam = (SELECT a.oid FROM pg_catalog.pg_am a WHERE a.amname = 'btree'))),
    tbl AS (
      -- Heap tuple: 23-byte header (+ null bitmap) aligned to 8, data aligned to 8, 4-byte line pointer.
      SELECT r.oid, pg_catalog.sum((1 - s.stanullfrac) * s.stawidth) AS width, pg_catalog.bool_or(s.stanullfrac > 0) AS nulls,
             (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped) AS ncols
        FROM rel r JOIN pg_catalog.pg_statistic s ON s.starelid = r.oid AND s.staattnum > 0 AND NOT s.stainherit
       WHERE r.relkind <> 'i' GROUP BY r.oid),
    idx AS (
      -- B-tree leaf tuple: 8-byte header with the data, aligned to 8, and a line pointer. The
      -- width of a plain column comes from the table's statistics, of an expression from the index's.
      SELECT r.oid, i.indrelid AS tableid, pg_catalog.sum(s.stawidth) AS width
        FROM rel r JOIN pg_catalog.pg_index i ON i.indexrelid = r.oid
        CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, pos)
        JOIN pg_catalog.pg_statistic s ON NOT s.stainherit AND (
             (k.attnum > 0 AND s.starelid = i.indrelid AND s.staattnum = k.attnum)
          OR (k.attnum = 0 AND s.starelid = r.oid AND s.staattnum = k.pos))
       GROUP BY r.oid, i.indrelid),
    est AS (
      SELECT r.*, t.oid IS NULL AS is_index, x.tableid,
        CASE WHEN t.oid IS NOT NULL
          THEN pg_catalog.ceil(r.tuples / GREATEST(pg_catalog.floor((cfg.bs - 24) * r.ff / 100
                 / (8 * pg_catalog.ceil((23 + CASE WHEN t.nulls THEN pg_catalog.ceil(t.ncols / 8.0) ELSE 0 END) / 8.0)
                    + 8 * pg_catalog.ceil(t.width / 8.0) + 4)), 1))
          ELSE pg_catalog.ceil(r.tuples / GREATEST(pg_catalog.floor((cfg.bs - 24 - 16) * r.ff / 100 / (8 * pg_catalog.ceil((8 + x.width) / 8.0) + 4)), 1)) + 1
        END AS expected
      FROM rel r CROSS JOIN cfg LEFT JOIN tbl t ON t.oid = r.oid LEFT JOIN idx x ON x.oid = r.oid
      WHERE t.oid IS NOT NULL OR x.oid IS NOT NULL),
    waste AS (
      SELECT e.*, pg_catalog.round((GREATEST(e.pages - e.expected, 0) * cfg.bs)::numeric) AS wasted, e.pages * cfg.bs AS bytes FROM est e, cfg)
    SELECT (w.nspname || '.' || w.relname)::text, w.wasted::float8,
      (CASE WHEN w.is_index THEN 'index on ' || w.tableid::regclass::text || ': ' ELSE 'table: ' END
        || pg_catalog.pg_size_pretty(w.wasted) || ' of ' || pg_catalog.pg_size_pretty(w.bytes) || ' wasted ('
        || pg_catalog.round(100 * w.wasted / NULLIF(w.bytes, 0), 1) || '%, estimated)')::text,
      NULL::text,
      pg_catalog.jsonb_build_object('kind', CASE WHEN w.is_index THEN 'index' ELSE 'table' END, 'bytes', w.bytes,
        'expected_bytes', w.bytes - w.wasted, 'percent', pg_catalog.round(100 * w.wasted / NULLIF(w.bytes, 0), 1))
    FROM waste w WHERE w.wasted > 0
    ORDER BY w.wasted DESC, 1 LIMIT LEAST(GREATEST(COALESCE((params ->> 'top')::integer, 10), 1), 1000)`,
  }],
};
