-- pgwarden DDL audit: the event-trigger functions. Not a migration: install applies this file
-- every time (CREATE OR REPLACE), records each function's definition hash, and (re)creates
-- the event triggers, so a replaced or dropped function is detected by status and repaired
-- by install. Every function is SECURITY DEFINER (the DDL's author may not write our tables)
-- and pins search_path; every name is schema-qualified.

-- True while pgwarden itself regenerates its own functions: guard_compile() runs from a
-- trigger on guard_rules/guard_settings, and install sets pgwarden.internal. Only the owner
-- of schema pgwarden can create objects in it, and only a superuser's own changes are skipped,
-- so nobody else can hide DDL this way.
CREATE OR REPLACE FUNCTION pgwarden.ddl_internal() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  -- Never NULL (an unset setting reads as NULL): callers write NOT (internal AND ...).
  SELECT (pg_catalog.pg_trigger_depth() > 0 OR pg_catalog.current_setting('pgwarden.internal', true) IS NOT DISTINCT FROM 'on')
     AND COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user), false)
$$;

-- The role a statement runs as, seen from inside a SECURITY DEFINER function (where
-- current_user is the function's owner): the SET ROLE role, else the session user.
CREATE OR REPLACE FUNCTION pgwarden.ddl_acting_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user::text
              ELSE pg_catalog.current_setting('role') END
$$;

CREATE OR REPLACE FUNCTION pgwarden.ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  internal constant boolean := pgwarden.ddl_internal();
BEGIN
  INSERT INTO pgwarden.ddl_events
    (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, in_extension, statement, change_ticket)
  SELECT pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'ddl_command_end', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
         c.command_tag, c.object_type, c.object_identity, c.schema_name, c.in_extension, pg_catalog.current_query(),
         NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), '')
    FROM pg_catalog.pg_event_trigger_ddl_commands() AS c
   -- temporary objects are session-private scratch space, not schema changes
   WHERE c.schema_name IS DISTINCT FROM 'pg_temp'
     -- objects without a schema (schemas, extensions, publications ...) have a NULL schema_name
     AND NOT (internal AND c.schema_name IS NOT DISTINCT FROM 'pgwarden');
  IF FOUND THEN
    -- Delivered at commit only, so listeners never see a rolled-back change.
    PERFORM pg_catalog.pg_notify('pgwarden_ddl', '');
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgwarden.ddl_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  internal constant boolean := pgwarden.ddl_internal();
BEGIN
  INSERT INTO pgwarden.ddl_events
    (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, statement, change_ticket)
  SELECT pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'sql_drop', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
         tg_tag, d.object_type, d.object_identity, d.schema_name, pg_catalog.current_query(),
         NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), '')
    FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
   -- what the statement named, and what CASCADE took along; not a table's own row type or TOAST table
   WHERE (d.original OR d.normal)
     AND NOT d.is_temporary
     AND NOT (internal AND d.schema_name IS NOT DISTINCT FROM 'pgwarden');
  IF FOUND THEN
    PERFORM pg_catalog.pg_notify('pgwarden_ddl', '');
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgwarden.ddl_table_rewrite() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rewritten constant oid := pg_catalog.pg_event_trigger_table_rewrite_oid();
BEGIN
  INSERT INTO pgwarden.ddl_events
    (ts, txid, event, user_name, current_user_name, database, server_addr, server_port, client_addr, client_port,
     application, backend_pid, command_tag, object_type, object_identity, schema_name, statement, change_ticket, detail)
  SELECT pg_catalog.statement_timestamp(), pg_catalog.txid_current(), 'table_rewrite', session_user,
         pgwarden.ddl_acting_role(), pg_catalog.current_database(), pg_catalog.host(pg_catalog.inet_server_addr()),
         pg_catalog.inet_server_port(), COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
         pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid(),
         tg_tag, o.type, o.identity, o.schema, pg_catalog.current_query(),
         NULLIF(pg_catalog.current_setting('pgwarden.change_ticket', true), ''),
         -- the reason is a bit mask (AT_REWRITE_* in PostgreSQL's event_trigger.h)
         'table rewritten: ' || pg_catalog.array_to_string(ARRAY[
           CASE WHEN reason & 1 <> 0 THEN 'persistence changed' END,
           CASE WHEN reason & 2 <> 0 THEN 'column default needs a rewrite' END,
           CASE WHEN reason & 4 <> 0 THEN 'column type changed' END,
           CASE WHEN reason & 8 <> 0 THEN 'access method changed' END], ', ')
    FROM pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass, rewritten, 0) AS o,
         pg_catalog.pg_event_trigger_table_rewrite_reason() AS reason
   WHERE o.schema IS DISTINCT FROM 'pg_temp' AND o.schema NOT LIKE 'pg\_temp\_%';
  IF FOUND THEN
    PERFORM pg_catalog.pg_notify('pgwarden_ddl', '');
  END IF;
END
$$;

-- The change policy, at ddl_command_start: who may change the schema, freezes and change
-- windows, and a required change ticket. Returns at once while the policy is off.
CREATE OR REPLACE FUNCTION pgwarden.ddl_policy_check() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  policy pgwarden.ddl_policy;
  actor text;
  ticket text;
  frozen pgwarden.ddl_windows;
  next_window timestamptz;
BEGIN
  SELECT * INTO policy FROM pgwarden.ddl_policy;
  IF NOT FOUND OR NOT policy.enabled OR pgwarden.ddl_internal() THEN
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
