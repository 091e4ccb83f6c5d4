import type { CheckDefinition } from '../types.ts';

// How much of its range each sequence has used, against the smaller of the sequence's own limit
// and the type of the column it feeds: a bigint sequence behind an integer key (serial,
// identity or a nextval() default) fails at 2^31-1, not 2^63-1. Sequences used at least
// report_percent are returned. Reading a sequence's position needs SELECT on it: `monitor
// install` grants the owner SELECT on every sequence that exists then; one created later is
// counted as unreadable until install runs again.
export const sequenceExhaustion: CheckDefinition = {
  name: 'sequence_exhaustion',
  category: 'health',
  scope: 'database',
  description: 'percentage of its range each sequence (identity and serial columns included) has used, limited by the type of the column it feeds',
  unit: 'percent',
  thresholds: { warning: 85, critical: 95, direction: 'above' },
  params: { report_percent: 50 },
  emptyDetail: 'every sequence has used less than report_percent of its range',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH seq AS (
      SELECT c.oid, n.nspname, c.relname, s.seqmin::numeric AS seqmin, s.seqmax::numeric AS seqmax, s.seqincrement, s.seqcycle,
             pg_catalog.has_sequence_privilege(c.oid, 'SELECT') AS readable
        FROM pg_catalog.pg_sequence s
        JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')),
    feeds AS (
      -- Columns a sequence feeds: owned (serial, identity) or named in a nextval() default.
      SELECT d.objid AS seq, a.attrelid, a.attname, a.atttypid
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
       WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
         AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
      UNION
      SELECT d.refobjid, ad.adrelid, a.attname, a.atttypid
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
        JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
       WHERE d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass),
    limits AS (
      SELECT seq.*,
        LEAST(seq.seqmax, COALESCE(pg_catalog.min(CASE f.atttypid WHEN 'pg_catalog.int2'::regtype THEN 32767 WHEN 'pg_catalog.int4'::regtype THEN 2147483647 END), seq.seqmax)) AS hi,
        GREATEST(seq.seqmin, COALESCE(pg_catalog.max(CASE f.atttypid WHEN 'pg_catalog.int2'::regtype THEN -32768 WHEN 'pg_catalog.int4'::regtype THEN -2147483648 END), seq.seqmin)) AS lo,
        pg_catalog.string_agg(f.attrelid::regclass::text || '.' || pg_catalog.quote_ident(f.attname) || ' (' || pg_catalog.format_type(f.atttypid, NULL) || ')', ', ') AS columns
      FROM seq LEFT JOIN feeds f ON f.seq = seq.oid
      GROUP BY seq.oid, seq.nspname, seq.relname, seq.seqmin, seq.seqmax, seq.seqincrement, seq.seqcycle, seq.readable),
    used AS (
      SELECT l.*, v.last_value,
        CASE WHEN NOT l.readable THEN NULL
             WHEN v.last_value IS NULL THEN 0
             WHEN l.seqincrement > 0 THEN 100 * (v.last_value - l.lo) / NULLIF(l.hi - l.lo, 0)
             ELSE 100 * (l.hi - v.last_value) / NULLIF(l.hi - l.lo, 0) END AS pct
      FROM limits l
      CROSS JOIN LATERAL (SELECT CASE WHEN l.readable THEN pg_catalog.pg_sequence_last_value(l.oid::regclass)::numeric END AS last_value) v)
    SELECT (u.nspname || '.' || u.relname)::text, pg_catalog.round(GREATEST(u.pct, 0), 2)::float8,
      (pg_catalog.round(GREATEST(u.pct, 0), 2) || '% used: at ' || COALESCE(u.last_value::text, 'its start') || ' of ' || CASE WHEN u.seqincrement > 0 THEN u.hi ELSE u.lo END
        || COALESCE(', feeds ' || u.columns, '') || CASE WHEN u.seqcycle THEN ' (cycles: wraps around instead of failing)' ELSE '' END)::text,
      NULL::text,
      pg_catalog.jsonb_build_object('last_value', u.last_value, 'limit', CASE WHEN u.seqincrement > 0 THEN u.hi ELSE u.lo END, 'cycle', u.seqcycle)
    FROM used u WHERE u.pct >= COALESCE((params ->> 'report_percent')::numeric, 50)
    UNION ALL
    SELECT ''::text, NULL::float8,
      (pg_catalog.count(*) || ' sequence(s) created after pgwarden monitor install cannot be read by the monitor: run it again')::text,
      NULL::text, pg_catalog.jsonb_build_object('unreadable', pg_catalog.count(*))
    FROM used u WHERE NOT u.readable HAVING pg_catalog.count(*) > 0
    ORDER BY 2 DESC NULLS LAST, 1`,
  }],
};
