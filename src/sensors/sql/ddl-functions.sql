-- pgwarden DDL audit: the event-trigger functions. Not a migration: install applies this file
-- every time (CREATE OR REPLACE), records each function's definition hash, and (re)creates
-- the event triggers, so a replaced or dropped function is detected by status and repaired
-- by install. Every function is SECURITY DEFINER (the DDL's author may not write our tables)
-- and pins search_path; every name is schema-qualified.

-- Whose change this is, when it is pgwarden's own: 'guard_compile' (the guard regenerating its
-- functions, seen in the call stack), 'install' (install's GRANT/REVOKE, run through
-- ddl_own_execute(), seen in the call stack) or 'internal' (a superuser session with
-- SET pgwarden.internal = on, which install sets). NULL for everyone else. Only a superuser
-- session's changes can be pgwarden's own, and only for what ddl_is_own() accepts: objects in
-- pgwarden's schemas, and GRANT/REVOKE (which name no object here) only from the call stack.
CREATE OR REPLACE FUNCTION pgwarden.ddl_own_context() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  stack text;
BEGIN
  IF NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user), false) THEN
    RETURN NULL;
  END IF;
  GET DIAGNOSTICS stack = PG_CONTEXT;
  IF stack ~ E'\nPL/pgSQL function pgwarden\\.guard_compile\\(\\) line [0-9]+ at [A-Z]' THEN
    RETURN 'guard_compile';
  ELSIF stack ~ E'\nPL/pgSQL function pgwarden\\.ddl_own_execute\\(text\\) line [0-9]+ at [A-Z]' THEN
    RETURN 'install';
  ELSIF pg_catalog.current_setting('pgwarden.internal', true) IS NOT DISTINCT FROM 'on' THEN
    RETURN 'internal';
  END IF;
  RETURN NULL;
END
$$;

-- Whether one object of a DDL command is pgwarden's own (see ddl_own_context()).
CREATE OR REPLACE FUNCTION pgwarden.ddl_is_own(p_context text, p_schema text, p_type text, p_identity text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  -- Never NULL (a NULL would put a row in neither table and skip the policy): every test is COALESCEd.
  SELECT p_context IS NOT NULL AND COALESCE(
       p_schema IN ('pgwarden', 'pgwarden_monitor', 'pgwarden_responder')
    OR (p_type = 'schema' AND p_identity IN ('pgwarden', 'pgwarden_monitor', 'pgwarden_responder'))
    OR (p_type = 'extension' AND p_identity = 'dblink' AND p_context <> 'guard_compile')
    -- A trigger has no schema of its own: its identity ends with its table, quoted if need be
    -- (so a quoted table name elsewhere cannot end like this).
    OR (p_type = 'trigger' AND p_identity ~ ' on pgwarden\.[a-z_]+$')
    OR (p_identity IS NULL AND p_context IN ('guard_compile', 'install')), false)
$$;

-- Kept for callers of the release before: true in a pgwarden context.
CREATE OR REPLACE FUNCTION pgwarden.ddl_internal() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT pgwarden.ddl_own_context() IS NOT NULL
$$;

-- Runs one of pgwarden's own statements (install's GRANT/REVOKE, `monitor install`), so that the
-- DDL audit knows it for pgwarden's own from the call stack. That makes only GRANT/REVOKE (which
-- name no object an event trigger could check) and objects in pgwarden's schemas own: a CREATE
-- TABLE public.x run through it is recorded and policy-checked like any other. Superusers only
-- (no PUBLIC execute).
CREATE OR REPLACE FUNCTION pgwarden.ddl_own_execute(p_sql text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  EXECUTE p_sql;
END
$$;

CREATE OR REPLACE FUNCTION pgwarden.ddl_acting_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user::text
              ELSE pg_catalog.current_setting('role') END
$$;

-- The three recorders below write nothing that can fail at commit (no NOTIFY: the queue is
-- cluster-wide and any login can fill it, which failed every DDL at commit). The pipeline polls
-- pgwarden.ddl_events by id instead. Statements are stored with their secrets masked
-- (pgwarden.redact_secrets(), generated from src/core/secrets.ts); pgwarden's own changes go
-- to ddl_own_events. Each recorded change advances the baseline of relations (ddl_baseline),
-- so that the reconciliation (ddl_unrecorded()) reports only what no event trigger saw.
CREATE OR REPLACE FUNCTION pgwarden.ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  own_context constant text := pgwarden.ddl_own_context();
  v_statement constant text := pgwarden.redact_secrets(pg_catalog.current_query());
BEGIN
  -- In a pgwarden context the policy was skipped at ddl_command_start (the objects were not
  -- known yet): anything that is not pgwarden's own is checked now, and refused like any DDL.
  IF own_context IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands() AS c
       WHERE c.schema_name IS DISTINCT FROM 'pg_temp'
         AND NOT pgwarden.ddl_is_own(own_context, c.schema_name, c.object_type, c.object_identity)) THEN
    PERFORM pgwarden.ddl_policy_enforce(tg_tag);
  END IF;
  WITH commands AS MATERIALIZED (
    SELECT c.*, pgwarden.ddl_is_own(own_context, c.schema_name, c.object_type, c.object_identity) AS own
      FROM pg_catalog.pg_event_trigger_ddl_commands() AS c
     -- temporary objects are session-private scratch space, not schema changes
     WHERE c.schema_name IS DISTINCT FROM 'pg_temp'),
  own_rows AS (
    INSERT INTO pgwarden.ddl_own_events
      (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, in_extension, statement, change_ticket, own_by)
    SELECT pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'ddl_command_end', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
           c.command_tag, c.object_type, c.object_identity, c.schema_name, c.in_extension, v_statement,
           NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), ''), own_context
      FROM commands c WHERE c.own)
  INSERT INTO pgwarden.ddl_events
    (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, in_extension, statement, change_ticket)
  SELECT pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'ddl_command_end', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
         c.command_tag, c.object_type, c.object_identity, c.schema_name, c.in_extension, v_statement,
         NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), '')
    FROM commands c WHERE NOT c.own;
  -- The baseline follows the recorded changes of a relation that can change what it compares
  -- (and of what belongs to it: the sequences of its serial and identity columns change owner
  -- and schema with it). Only a CREATE (or SELECT INTO, IMPORT FOREIGN SCHEMA, ALTER EXTENSION
  -- UPDATE) adds a row, and only an ALTER of a relation (or of its extension) moves one; any other recorded DDL on a relation (COMMENT, GRANT, SECURITY LABEL,
  -- CREATE INDEX …) leaves the baseline as it is, so that an earlier change no event trigger saw
  -- (an owner given away by REASSIGN OWNED, a table made by EXPLAIN ANALYZE CREATE TABLE AS) is
  -- not absorbed by it and the reconciliation keeps reporting it.
  WITH cmd AS MATERIALIZED (
    SELECT c.objid, c.command_tag FROM pg_catalog.pg_event_trigger_ddl_commands() c
     WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass),
  touched AS (
    SELECT cmd.objid, cmd.command_tag FROM cmd
    UNION ALL
    SELECT d.objid, cmd.command_tag FROM pg_catalog.pg_depend d JOIN cmd ON d.refobjid = cmd.objid
      JOIN pg_catalog.pg_class q ON q.oid = d.objid AND q.relkind = 'S'
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass),
  moves AS (
    SELECT t.objid,
           pg_catalog.bool_or(t.command_tag LIKE 'CREATE %' OR t.command_tag IN ('SELECT INTO', 'IMPORT FOREIGN SCHEMA', 'ALTER EXTENSION')) AS creates,
           pg_catalog.bool_or(t.command_tag IN ('ALTER TABLE', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER SEQUENCE', 'ALTER FOREIGN TABLE',
                                                'ALTER EXTENSION')) AS alters
      FROM touched t GROUP BY t.objid),
  current AS MATERIALIZED (
    SELECT r.oid, r.relnamespace, r.relname::text AS relname, r.relowner, r.relkind::text AS relkind, m.creates, m.alters
      FROM pg_catalog.pg_class r JOIN moves m ON m.objid = r.oid
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND r.relpersistence <> 't' AND (m.creates OR m.alters)),
  moved AS (
    UPDATE pgwarden.ddl_baseline b SET namespace = c.relnamespace, name = c.relname, owner = c.relowner, detail = c.relkind
      FROM current c
     WHERE c.alters AND b.kind = 'relation' AND b.id = c.oid
       AND (b.namespace, b.name, b.owner, b.detail) IS DISTINCT FROM (c.relnamespace, c.relname, c.relowner, c.relkind))
  INSERT INTO pgwarden.ddl_baseline (kind, id, namespace, name, owner, detail)
  SELECT 'relation', c.oid, c.relnamespace, c.relname, c.relowner, c.relkind FROM current c WHERE c.creates
  -- a CREATE on a relation there before (CREATE OR REPLACE VIEW) changes none of what is compared
  ON CONFLICT (kind, id) DO NOTHING;
END
$$;

CREATE OR REPLACE FUNCTION pgwarden.ddl_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  own_context constant text := pgwarden.ddl_own_context();
  v_statement constant text := pgwarden.redact_secrets(pg_catalog.current_query());
BEGIN
  IF own_context IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
       WHERE (d.original OR d.normal) AND NOT d.is_temporary
         AND NOT pgwarden.ddl_is_own(own_context, d.schema_name, d.object_type, d.object_identity)) THEN
    PERFORM pgwarden.ddl_policy_enforce(tg_tag);
  END IF;
  WITH dropped AS MATERIALIZED (
    SELECT d.*, pgwarden.ddl_is_own(own_context, d.schema_name, d.object_type, d.object_identity) AS own
      FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
     -- what the statement named, and what CASCADE took along; not a table's own row type or TOAST table
     WHERE (d.original OR d.normal) AND NOT d.is_temporary),
  own_rows AS (
    INSERT INTO pgwarden.ddl_own_events
      (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, in_extension, statement, change_ticket, own_by)
    SELECT pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'sql_drop', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
           tg_tag, d.object_type, d.object_identity, d.schema_name, false, v_statement,
           NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), ''), own_context
      FROM dropped d WHERE d.own)
  INSERT INTO pgwarden.ddl_events
    (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, in_extension, statement, change_ticket)
  SELECT pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'sql_drop', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
         tg_tag, d.object_type, d.object_identity, d.schema_name, false, v_statement,
         NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), '')
    FROM dropped d WHERE NOT d.own;
  DELETE FROM pgwarden.ddl_baseline b
   WHERE b.kind = 'relation'
     AND b.id IN (SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass);
END
$$;

CREATE OR REPLACE FUNCTION pgwarden.ddl_table_rewrite() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rewritten constant oid := pg_catalog.pg_event_trigger_table_rewrite_oid();
  own_context constant text := pgwarden.ddl_own_context();
  o record;
  why text;
BEGIN
  SELECT * INTO o FROM pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass, rewritten, 0);
  IF o.schema IS NOT DISTINCT FROM 'pg_temp' OR o.schema LIKE 'pg\_temp\_%' THEN
    RETURN;
  END IF;
  -- the reason is a bit mask (AT_REWRITE_* in PostgreSQL's event_trigger.h)
  SELECT 'table rewritten: ' || pg_catalog.array_to_string(ARRAY[
           CASE WHEN reason & 1 <> 0 THEN 'persistence changed' END,
           CASE WHEN reason & 2 <> 0 THEN 'column default needs a rewrite' END,
           CASE WHEN reason & 4 <> 0 THEN 'column type changed' END,
           CASE WHEN reason & 8 <> 0 THEN 'access method changed' END], ', ')
    INTO why FROM pg_catalog.pg_event_trigger_table_rewrite_reason() AS reason;
  IF pgwarden.ddl_is_own(own_context, o.schema, o.type, o.identity) THEN
    INSERT INTO pgwarden.ddl_own_events
      (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, in_extension, statement, change_ticket, detail, own_by)
    VALUES (pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'table_rewrite', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
            tg_tag, o.type, o.identity, o.schema, false, pgwarden.redact_secrets(pg_catalog.current_query()),
            NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), ''), why, own_context);
  ELSE
    INSERT INTO pgwarden.ddl_events
      (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, in_extension, statement, change_ticket, detail)
    VALUES (pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'table_rewrite', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
            tg_tag, o.type, o.identity, o.schema, false, pgwarden.redact_secrets(pg_catalog.current_query()),
            NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), ''), why);
  END IF;
END
$$;

-- The change policy, at ddl_command_start: who may change the schema, freezes and change
-- windows, and a required change ticket. Returns at once while the policy is off.
-- ddl_policy_enforce() raises when the policy refuses a command tagged p_tag; ddl_policy_check()
-- runs it for every DDL except in a pgwarden context, where ddl_command_end and ddl_sql_drop run it
-- for whatever is not pgwarden's own (SET pgwarden.internal = on skips nothing outside pgwarden).
CREATE OR REPLACE FUNCTION pgwarden.ddl_policy_check() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF pgwarden.ddl_own_context() IS NULL THEN
    PERFORM pgwarden.ddl_policy_enforce(tg_tag);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgwarden.ddl_policy_enforce(tg_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  policy pgwarden.ddl_policy;
  actor text;
  ticket text;
  frozen pgwarden.ddl_windows;
  next_window timestamptz;
BEGIN
  SELECT * INTO policy FROM pgwarden.ddl_policy;
  IF NOT FOUND OR NOT policy.enabled THEN
    RETURN;
  END IF;
  actor := pgwarden.ddl_acting_role();
  IF actor = ANY (policy.exempt_roles) OR session_user::text = ANY (policy.exempt_roles) THEN
    RETURN;
  END IF;
  IF policy.allowed_roles IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.unnest(policy.allowed_roles) AS a
        JOIN pg_catalog.pg_roles r ON r.rolname = a
       WHERE pg_catalog.pg_has_role(actor, r.oid, 'MEMBER')) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = pg_catalog.format('pgwarden change policy: role %s may not change the schema (%s refused)', actor, tg_tag),
      HINT = pg_catalog.format('Roles allowed to change the schema: %s. See `pgwarden ddl policy show`.',
                               pg_catalog.array_to_string(policy.allowed_roles, ', '));
  END IF;
  SELECT * INTO frozen FROM pgwarden.ddl_windows
   WHERE kind = 'freeze' AND during @> pg_catalog.now()
   ORDER BY pg_catalog.upper(during) DESC NULLS FIRST LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = pg_catalog.format('pgwarden change policy: schema changes are frozen %s (%s refused)',
        COALESCE('until ' || pg_catalog.upper(frozen.during)::text, 'indefinitely'), tg_tag),
      DETAIL = COALESCE('Freeze: ' || frozen.reason, 'Freeze ' || frozen.id),
      HINT = 'Wait for the freeze to end, or ask the owner of the freeze (`pgwarden ddl policy show`).';
  END IF;
  IF policy.windows_only AND NOT EXISTS (
      SELECT 1 FROM pgwarden.ddl_windows WHERE kind = 'window' AND during @> pg_catalog.now()) THEN
    SELECT pg_catalog.min(pg_catalog.lower(during)) INTO next_window
      FROM pgwarden.ddl_windows WHERE kind = 'window' AND pg_catalog.lower(during) > pg_catalog.now();
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = pg_catalog.format('pgwarden change policy: schema changes are allowed only inside a change window (%s refused)', tg_tag),
      HINT = COALESCE('The next window starts at ' || next_window::text || '.', 'No change window is scheduled.');
  END IF;
  IF policy.require_ticket THEN
    ticket := NULLIF(pg_catalog.btrim(pg_catalog.current_setting('pgwarden.change_ticket', true)), '');
    IF ticket IS NULL OR (policy.ticket_pattern IS NOT NULL AND ticket !~ policy.ticket_pattern) THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = pg_catalog.format('pgwarden change policy: %s (%s refused)',
          CASE WHEN ticket IS NULL THEN 'a change ticket is required'
               ELSE pg_catalog.format('change ticket %L does not match %s', ticket, policy.ticket_pattern) END, tg_tag),
        HINT = 'Run SET pgwarden.change_ticket = ''CHG-123'' (your ticket) in the session first.';
    END IF;
  END IF;
END
$$;
