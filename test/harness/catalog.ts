// Everything about a set of schemas that a migration, an install or a grant decides, as sorted
// text lines, so that two databases brought to the same version by different roads (an upgrade
// of what earlier code made, a fresh install) can be compared line by line. Used by
// test/repository/schema.test.ts and test/monitor/upgrade.test.ts.

/**
 * The query: schemas and their ACLs, relations, columns (type, NOT NULL, default, ACL),
 * indexes, constraints, functions (security, settings, ACL, source), triggers, then `extra`
 * (more SELECTs of one text column `line` each). `schemas` are test constants.
 */
export function catalogSql(schemas: readonly string[], extra: readonly string[] = []): string {
  return `
WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname IN (${schemas.map((s) => `'${s}'`).join(', ')}))
SELECT line FROM (
  SELECT 'schema ' || ns.nspname || ' acl ' || COALESCE(n.nspacl::text, '-') AS line FROM ns JOIN pg_catalog.pg_namespace n ON n.oid = ns.oid
  UNION ALL
  SELECT 'relation ' || ns.nspname || '.' || c.relname || ' kind ' || c.relkind::text || ' acl ' || COALESCE(c.relacl::text, '-')
         || ' owner ' || pg_catalog.pg_get_userbyid(c.relowner) || ' partitioned ' || COALESCE(pg_catalog.pg_get_partkeydef(c.oid), '-')
    FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'S')
  UNION ALL
  SELECT 'column ' || ns.nspname || '.' || c.relname || ' #' || a.attnum || ' ' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END || ' default ' || COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '-')
         || ' identity ' || a.attidentity::text || ' acl ' || COALESCE(a.attacl::text, '-')
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
  UNION ALL
  SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace
  UNION ALL
  SELECT 'constraint ' || r.conrelid::regclass::text || ' ' || r.conname || ' ' || pg_catalog.pg_get_constraintdef(r.oid)
    FROM pg_catalog.pg_constraint r JOIN ns ON ns.oid = r.connamespace
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure::text || ' returns ' || pg_catalog.format_type(p.prorettype, NULL) || ' definer ' || p.prosecdef
         || ' volatile ' || p.provolatile::text || ' config ' || COALESCE(p.proconfig::text, '-') || ' acl ' || COALESCE(p.proacl::text, '-')
         || ' owner ' || pg_catalog.pg_get_userbyid(p.proowner) || ' source ' || pg_catalog.md5(p.prosrc)
    FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL
  SELECT 'trigger ' || t.tgrelid::regclass::text || ' ' || pg_catalog.pg_get_triggerdef(t.oid) FROM pg_catalog.pg_trigger t
    JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace WHERE NOT t.tgisinternal
${extra.map((e) => `  UNION ALL\n  ${e}\n`).join('')}) lines ORDER BY line`;
}
