-- pgwarden sensors, migration 4: the DDL audit, hardened (issue 13, items 7-10).
--   * pgwarden's own changes (guard_compile() regenerating the guard, install) go to
--     ddl_own_events, not ddl_events: they are recorded as what they are and kept out of alerts
--     and the ddl_changes check.
--   * A baseline of relations (with owners), roles and databases, taken at install and advanced
--     by every recorded change, so that what no event trigger sees (EXPLAIN ANALYZE CREATE TABLE
--     AS, REASSIGN OWNED, CREATE ROLE, CREATE/ALTER DATABASE …) shows up in `pgwarden status` and
--     in the tamper check as an unrecorded change.
-- The event-trigger functions themselves are in ddl-functions.sql (applied by every install).
-- Runs inside one transaction as a superuser, after migrations 1 to 3.

-- Same columns as ddl_events (and the same statement masking); its own id sequence.
CREATE TABLE pgwarden.ddl_own_events (LIKE pgwarden.ddl_events INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS);
ALTER TABLE pgwarden.ddl_own_events ADD PRIMARY KEY (id);
CREATE INDEX ddl_own_events_ts_idx ON pgwarden.ddl_own_events (ts);
-- which pgwarden code made the change: 'guard_compile', 'install'
ALTER TABLE pgwarden.ddl_own_events ADD COLUMN own_by text;

-- What exists, as of the baseline: one row per relation (tables, partitioned tables, views,
-- materialized views, foreign tables, sequences; not indexes, TOAST or temporary tables), role
-- and database. `detail` holds what else is compared: role attributes, database flags.
CREATE TABLE pgwarden.ddl_baseline (
  kind text NOT NULL CHECK (kind IN ('relation', 'role', 'database')),
  id oid NOT NULL,
  namespace oid,
  name text NOT NULL,
  owner oid,
  detail text NOT NULL DEFAULT '',
  PRIMARY KEY (kind, id)
);
-- When and where the baseline was taken: a database created from a template that has pgwarden
-- starts with the template's baseline (relations are copied with their OIDs, so that part holds;
-- roles and databases of the template's baseline are stale, status says so).
CREATE TABLE pgwarden.ddl_baseline_info (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  database_oid oid NOT NULL,
  taken_at timestamptz NOT NULL,
  taken_by name NOT NULL
);

-- What exists now, in the baseline's shape. Set-based: three scans of the catalogs.
CREATE FUNCTION pgwarden.ddl_snapshot()
RETURNS TABLE (kind text, id oid, namespace oid, name text, owner oid, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT 'relation', c.oid, c.relnamespace, c.relname::text, c.relowner, c.relkind::text
    FROM pg_catalog.pg_class c
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relpersistence <> 't'
     AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace,
                                (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = 'information_schema'))
  UNION ALL
  SELECT 'role', r.oid, NULL, r.rolname::text, NULL,
         pg_catalog.concat_ws(',', CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
           CASE WHEN r.rolcreatedb THEN 'CREATEDB' END, CASE WHEN r.rolcanlogin THEN 'LOGIN' END,
           CASE WHEN r.rolreplication THEN 'REPLICATION' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END)
    FROM pg_catalog.pg_roles r
  UNION ALL
  SELECT 'database', d.oid, NULL, d.datname::text, d.datdba,
         pg_catalog.concat_ws(',', CASE WHEN d.datistemplate THEN 'IS_TEMPLATE' END, CASE WHEN NOT d.datallowconn THEN 'NO_CONNECTIONS' END)
    FROM pg_catalog.pg_database d
$$;

-- Takes the baseline anew: at install, and when a DBA accepts the changes found
-- (`pgwarden ddl baseline --accept`).
CREATE FUNCTION pgwarden.ddl_baseline_take() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  taken bigint;
BEGIN
  LOCK TABLE pgwarden.ddl_baseline IN EXCLUSIVE MODE;
  DELETE FROM pgwarden.ddl_baseline;
  INSERT INTO pgwarden.ddl_baseline (kind, id, namespace, name, owner, detail) SELECT * FROM pgwarden.ddl_snapshot();
  GET DIAGNOSTICS taken = ROW_COUNT;
  INSERT INTO pgwarden.ddl_baseline_info (database_oid, taken_at, taken_by)
  SELECT d.oid, pg_catalog.now(), session_user FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()
  ON CONFLICT (singleton) DO UPDATE SET database_oid = excluded.database_oid, taken_at = excluded.taken_at, taken_by = excluded.taken_by;
  RETURN taken;
END
$$;

-- What changed since the baseline with no record: one row per object created, dropped, renamed,
-- moved, given to another owner or with other attributes. In a database copied from a template,
-- roles and databases are not compared (the copied baseline is the template's): one 'baseline'
-- row says so instead.
CREATE FUNCTION pgwarden.ddl_unrecorded()
RETURNS TABLE (kind text, change text, name text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH here AS (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()),
  copied AS (SELECT NOT EXISTS (SELECT 1 FROM pgwarden.ddl_baseline_info i, here WHERE i.database_oid = here.oid) AS copied),
  now AS (SELECT s.* FROM pgwarden.ddl_snapshot() s, copied WHERE s.kind = 'relation' OR NOT copied.copied),
  base AS (SELECT b.* FROM pgwarden.ddl_baseline b, copied WHERE b.kind = 'relation' OR NOT copied.copied),
  diff AS (
    SELECT COALESCE(n.kind, b.kind) AS kind,
           CASE WHEN b.id IS NULL THEN 'created' WHEN n.id IS NULL THEN 'dropped'
                WHEN n.name <> b.name OR n.namespace IS DISTINCT FROM b.namespace THEN 'renamed'
                WHEN n.owner IS DISTINCT FROM b.owner THEN 'owner changed'
                ELSE 'altered' END AS change,
           n.id AS now_id, n.namespace AS now_ns, n.name AS now_name, n.owner AS now_owner, n.detail AS now_detail,
           b.namespace AS base_ns, b.name AS base_name, b.owner AS base_owner, b.detail AS base_detail
      FROM now n FULL JOIN base b ON b.kind = n.kind AND b.id = n.id
     WHERE b.id IS NULL OR n.id IS NULL OR n.name <> b.name OR n.namespace IS DISTINCT FROM b.namespace
        OR n.owner IS DISTINCT FROM b.owner OR n.detail <> b.detail)
  SELECT d.kind, d.change,
         CASE WHEN d.kind = 'relation' THEN
           COALESCE((SELECT ns.nspname::text FROM pg_catalog.pg_namespace ns WHERE ns.oid = COALESCE(d.now_ns, d.base_ns)), '?')
           || '.' || COALESCE(d.now_name, d.base_name)
         ELSE COALESCE(d.now_name, d.base_name) END,
         pg_catalog.concat_ws('; ',
           CASE WHEN d.change = 'renamed' THEN 'was ' || d.base_name END,
           CASE WHEN d.kind = 'role' THEN NULL
                WHEN d.change = 'created' THEN 'owner ' || COALESCE((SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.oid = d.now_owner), '-')
                WHEN d.change <> 'dropped' AND d.now_owner IS DISTINCT FROM d.base_owner THEN
                  'owner ' || COALESCE((SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.oid = d.base_owner), '-')
                  || ' -> ' || COALESCE((SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.oid = d.now_owner), '-') END,
           CASE WHEN d.kind = 'relation' THEN NULL
                WHEN d.change = 'created' THEN NULLIF(d.now_detail, '')
                WHEN d.change <> 'dropped' AND d.now_detail IS DISTINCT FROM d.base_detail THEN
                  'attributes ' || COALESCE(NULLIF(d.base_detail, ''), '-') || ' -> ' || COALESCE(NULLIF(d.now_detail, ''), '-') END)
    FROM diff d
  UNION ALL
  SELECT 'baseline', 'copied', pg_catalog.current_database()::text,
         'taken in another database (this one was created from a template): roles and databases not compared'
    FROM copied WHERE copied.copied AND EXISTS (SELECT 1 FROM pgwarden.ddl_baseline_info)
$$;

-- Statements stored before this release may carry passwords: masked by install once
-- pgwarden.redact_secrets() exists (it is generated from the shared rules after the migrations).

-- No GRANT or REVOKE here: the event triggers of the release being upgraded would record them.
-- Install revokes PUBLIC's default EXECUTE on the functions above in this same transaction.
