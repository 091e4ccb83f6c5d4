import type { CheckDefinition } from '../types.ts';

// How much of its range each sequence has used, against the smaller of the sequence's own limit
// and the type of the column it feeds: a bigint sequence behind an integer key (serial,
// identity or a nextval() default) fails at 2^31-1, not 2^63-1. Sequences used at least
// report_percent are returned. Reading a sequence's position needs SELECT on it: `monitor
// install` grants the owner SELECT on every sequence that exists then; one created later is
// counted as unreadable until install runs again.
//
// Keys with no sequence behind them (smallint and integer single-column primary keys and unique
// constraints, ids the application assigns) are measured too: max() and min() of the key, which
// the unique index answers with one descent each (never a scan). Statistics cannot do it: the
// histogram is a sample as of the last ANALYZE, and reading it would expose sampled values of
// every column. `monitor install` grants the owner SELECT on these key columns only (not on
// the table): the function returns max/min as a percentage of the type's range, nothing else.
// A table with row-level security is not granted nor read (max over the rows a policy shows
// would be wrong); a table another session holds locked is not waited for (lock_timeout 100 ms).
/**
 * The smallint and integer keys fed by no sequence: the only column of a unique index (primary
 * key or unique constraint; no expression, no predicate) of a table, not a partition (its parent
 * is read), outside the catalogs and pgwarden's schemas. A sequence-fed key is measured through
 * its sequence. `monitor install` grants SELECT on exactly these columns (RLS tables excepted).
 */
export const KEY_COLUMNS = `SELECT DISTINCT c.oid AS rel, a.attnum, a.attname, a.atttypid, c.relrowsecurity AS rls
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
     WHERE i.indisunique AND i.indnatts = 1 AND i.indkey[0] > 0 AND i.indpred IS NULL
       AND a.atttypid IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype) AND a.attidentity = ''
       AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_monitor', 'pgwarden_responder')
       AND n.nspname !~ '^pg_(toast|temp)'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.refobjid = c.oid AND d.refobjsubid = a.attnum)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef ad
                         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
                          AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                         JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
                        WHERE ad.adrelid = c.oid AND ad.adnum = a.attnum)`;

export const sequenceExhaustion: CheckDefinition = {
  name: 'sequence_exhaustion',
  category: 'health',
  scope: 'database',
  description: 'percentage of its range each sequence (identity and serial columns included) and each smallint/integer key without a sequence has used, limited by the column type',
  unit: 'percent',
  thresholds: { warning: 85, critical: 95, direction: 'above' },
  params: { report_percent: 50 },
  emptyDetail: 'every sequence and integer key has used less than report_percent of its range',
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `DECLARE
  v_key record;
  v_max numeric;
  v_min numeric;
  v_keys jsonb := '[]'::jsonb;
  v_unreadable integer := 0;
  v_lock_timeout constant text := pg_catalog.current_setting('lock_timeout');
BEGIN
  -- Keys fed by no sequence: a sequence-fed key is measured through its sequence below.
  PERFORM pg_catalog.set_config('lock_timeout', '100ms', true);
  FOR v_key IN
    SELECT k.rel, k.attname, k.atttypid, k.rls, pg_catalog.has_column_privilege(k.rel, k.attnum, 'SELECT') AS readable
      FROM (${KEY_COLUMNS}) k
  LOOP
    v_max := NULL;
    v_min := NULL;
    IF v_key.rls THEN
      v_keys := v_keys || pg_catalog.jsonb_build_object('rel', v_key.rel::regclass::text, 'col', v_key.attname, 'type', v_key.atttypid::regtype::text,
        'why', 'row-level security is enabled on the table: the monitor does not read it');
      CONTINUE;
    ELSIF NOT v_key.readable THEN
      v_unreadable := v_unreadable + 1;
      CONTINUE;
    END IF;
    BEGIN
      -- One index descent each (min/max over a unique btree); identifiers quoted by format().
      EXECUTE pg_catalog.format('SELECT pg_catalog.max(%1$I)::numeric, pg_catalog.min(%1$I)::numeric FROM %2$s', v_key.attname, v_key.rel::regclass)
        INTO v_max, v_min;
      -- Roll the block back (its variables keep their values): that releases the table's lock at
      -- once, so a database with thousands of keys never holds thousands of locks (the shared lock
      -- table is sized max_locks_per_transaction per connection, and would run out).
      RAISE EXCEPTION USING ERRCODE = 'PW001';
    EXCEPTION
      WHEN SQLSTATE 'PW001' THEN
        v_keys := v_keys || pg_catalog.jsonb_build_object('rel', v_key.rel::regclass::text, 'col', v_key.attname, 'type', v_key.atttypid::regtype::text,
          'max', v_max, 'min', v_min);
      WHEN lock_not_available THEN
        v_keys := v_keys || pg_catalog.jsonb_build_object('rel', v_key.rel::regclass::text, 'col', v_key.attname, 'type', v_key.atttypid::regtype::text,
          'why', 'the table is locked by another session: not measured this run');
    END;
  END LOOP;
  PERFORM pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
  RETURN QUERY
  WITH seq AS (
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
      CROSS JOIN LATERAL (SELECT CASE WHEN l.readable THEN pg_catalog.pg_sequence_last_value(l.oid::regclass)::numeric END AS last_value) v),
    keys AS (
      -- The part of the type's range on the key's side of zero that its values reach: max against
      -- the type's maximum, min against its minimum (negative ids fail at the other end).
      SELECT k.rel, k.col, k.type, k.max, k.min, k.why,
             CASE k.type WHEN 'smallint' THEN 32767 ELSE 2147483647 END::numeric AS hi,
             CASE k.type WHEN 'smallint' THEN -32768 ELSE -2147483648 END::numeric AS lo
        FROM pg_catalog.jsonb_to_recordset(v_keys) AS k(rel text, col text, type text, max numeric, min numeric, why text)),
    key_used AS (
      SELECT k.*, CASE WHEN k.why IS NULL THEN GREATEST(COALESCE(100 * k.max / k.hi, 0), COALESCE(100 * k.min / k.lo, 0), 0) END AS pct,
             CASE WHEN COALESCE(k.min / k.lo, 0) > COALESCE(k.max / k.hi, 0) THEN k.lo ELSE k.hi END AS lim
        FROM keys k)
    SELECT (u.nspname || '.' || u.relname)::text, pg_catalog.round(GREATEST(u.pct, 0), 2)::float8,
      (pg_catalog.round(GREATEST(u.pct, 0), 2) || '% used: at ' || COALESCE(u.last_value::text, 'its start') || ' of ' || CASE WHEN u.seqincrement > 0 THEN u.hi ELSE u.lo END
        || COALESCE(', feeds ' || u.columns, '') || CASE WHEN u.seqcycle THEN ' (cycles: wraps around instead of failing)' ELSE '' END)::text,
      NULL::text,
      pg_catalog.jsonb_build_object('last_value', u.last_value, 'limit', CASE WHEN u.seqincrement > 0 THEN u.hi ELSE u.lo END, 'cycle', u.seqcycle)
    FROM used u WHERE u.pct >= COALESCE((params ->> 'report_percent')::numeric, 50)
    UNION ALL
    SELECT (k.rel || '.' || pg_catalog.quote_ident(k.col))::text, pg_catalog.round(k.pct, 2)::float8,
      COALESCE(k.why, pg_catalog.round(k.pct, 2) || '% used: key values reach ' || CASE WHEN k.lim < 0 THEN k.min ELSE k.max END || ' of ' || k.lim
        || ', ' || k.type || ' key with no sequence (values assigned by the application)')::text,
      NULL::text,
      pg_catalog.jsonb_build_object('max', k.max, 'min', k.min, 'limit', k.lim, 'sequence', false)
    FROM key_used k WHERE k.why IS NOT NULL OR k.pct >= COALESCE((params ->> 'report_percent')::numeric, 50)
    UNION ALL
    SELECT ''::text, NULL::float8,
      (pg_catalog.array_to_string(ARRAY[NULLIF(pg_catalog.count(*), 0) || ' sequence(s)', NULLIF(v_unreadable, 0) || ' key column(s)'], ' and ')
        || ' created after pgwarden monitor install cannot be read by the monitor: run it again')::text,
      NULL::text, pg_catalog.jsonb_build_object('unreadable', pg_catalog.count(*) + v_unreadable)
    FROM used u WHERE NOT u.readable HAVING pg_catalog.count(*) + v_unreadable > 0
    ORDER BY 2 DESC NULLS LAST, 1;
END`,
  }],
};
