-- pgwarden sensors, migration 1: the connection guard.
-- Runs inside one transaction as a superuser, after the migrations table exists.
-- Every name is schema-qualified; every SECURITY DEFINER function pins search_path.

-- Rules: first match wins, in ascending priority then id; no match means allow.
CREATE TABLE pgwarden.guard_rules (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action text NOT NULL CHECK (action IN ('allow', 'deny')),
  -- role names, or '*' for any role
  roles text[] NOT NULL CHECK (pg_catalog.cardinality(roles) > 0),
  -- ILIKE patterns on application_name; NULL means any application
  applications text[] CHECK (applications IS NULL OR pg_catalog.cardinality(applications) > 0),
  -- client networks; NULL with local_socket false means any client
  clients cidr[] CHECK (clients IS NULL OR pg_catalog.cardinality(clients) > 0),
  -- matches connections over a Unix socket ('local' on the command line)
  local_socket boolean NOT NULL DEFAULT false,
  -- database names; NULL means any database
  databases text[] CHECK (databases IS NULL OR pg_catalog.cardinality(databases) > 0),
  message text,
  priority integer NOT NULL DEFAULT 100,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by name NOT NULL DEFAULT session_user
);

-- A pattern is refused on insert rather than breaking every login later. ILIKE fails only
-- on a pattern ending in an unescaped backslash (its escape character), and only when the
-- match gets that far, so test the text itself rather than one sample match.
CREATE FUNCTION pgwarden.like_patterns_valid(patterns text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.bool_and(p <> '' AND pg_catalog.length(pg_catalog.substring(p, '\\*$')) % 2 = 0)
    FROM pg_catalog.unnest(patterns) AS p
$$;

ALTER TABLE pgwarden.guard_rules
  ADD CONSTRAINT guard_rules_applications_valid
  CHECK (applications IS NULL OR pgwarden.like_patterns_valid(applications));

-- One row: how the guard behaves when it breaks, and who may always log in.
CREATE TABLE pgwarden.guard_settings (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  on_error text NOT NULL DEFAULT 'open' CHECK (on_error IN ('open', 'closed')),
  break_glass_roles text[] NOT NULL DEFAULT '{}',
  record_allowed boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
INSERT INTO pgwarden.guard_settings DEFAULT VALUES;

-- How a refusal reaches the attempts table although the login transaction aborts:
-- a loopback dblink connection as pgwarden_recorder, in its own transaction.
-- Only the owner (the installing superuser) can read this table.
CREATE TABLE pgwarden.guard_recorder (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  host text NOT NULL DEFAULT '127.0.0.1',
  password text NOT NULL
);

-- Quotes a value for a libpq connection string (single quotes, backslash escapes).
CREATE FUNCTION pgwarden.libpq_quote(value text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT '''' || pg_catalog.replace(pg_catalog.replace(value, '\', '\\'), '''', '\''') || ''''
$$;

-- Every connection attempt the guard decided on, and every session watch mode ended.
CREATE TABLE pgwarden.connection_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts timestamptz NOT NULL,
  server_addr text,
  server_port integer,
  database name NOT NULL,
  user_name name NOT NULL,
  client_addr text NOT NULL,
  client_port integer,
  application text NOT NULL DEFAULT '',
  decision text NOT NULL CHECK (decision IN ('allow', 'deny')),
  rule_id bigint,
  message text,
  via text NOT NULL CHECK (via IN ('login', 'watch')),
  backend_pid integer
);
CREATE INDEX connection_attempts_ts_idx ON pgwarden.connection_attempts (ts);

-- What guard_compile() generated last, for tamper detection by `pgwarden status`.
CREATE TABLE pgwarden.compiled_functions (
  name text PRIMARY KEY,
  source_md5 text NOT NULL,
  compiled_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Compiles rules and settings into the three functions the guard runs:
--   pgwarden.guard_decide(role, application, client, database): the decision alone, used by
--     the login check, by `guard test` and by watch mode, so all three agree;
--   pgwarden.guard_check(): the login check (for session_exec on PostgreSQL 16 and older);
--   pgwarden.guard_login(): the same body as an event trigger function (PostgreSQL 17+).
-- Rules become code, dispatched on the role, so a login evaluates only the rules that can
-- apply to it and reads no table. Called by triggers whenever rules or settings change.
CREATE FUNCTION pgwarden.guard_compile() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $compile$
DECLARE
  settings pgwarden.guard_settings;
  role_names text[];
  role_name text;
  dispatch text := '';
  branch_no integer := 0;
  decide_src text;
  check_src text;
  dblink_schema name;
  record_denial text;
  on_error_action text;
BEGIN
  SELECT * INTO STRICT settings FROM pgwarden.guard_settings;

  SELECT pg_catalog.array_agg(DISTINCT r ORDER BY r) INTO role_names
    FROM pgwarden.guard_rules, pg_catalog.unnest(roles) AS r
   WHERE r <> '*';

  FOREACH role_name IN ARRAY COALESCE(role_names, '{}') LOOP
    branch_no := branch_no + 1;
    dispatch := dispatch || pg_catalog.format(E'  %s v_branch = %s THEN\n%s',
      CASE WHEN branch_no = 1 THEN 'IF' ELSE 'ELSIF' END, branch_no,
      pgwarden.guard_rule_block(ARRAY[role_name, '*']));
  END LOOP;
  IF branch_no = 0 THEN
    dispatch := pgwarden.guard_rule_block(ARRAY['*']);
  ELSE
    dispatch := dispatch || E'  ELSE\n' || pgwarden.guard_rule_block(ARRAY['*']) || E'  END IF;\n';
  END IF;

  decide_src := pg_catalog.format($src$
DECLARE
  v_branch integer;
BEGIN
  decision := 'allow';
  v_branch := pg_catalog.array_position(%L::text[], p_role);
%s
END
$src$, COALESCE(role_names, '{}'), dispatch);

  EXECUTE pg_catalog.format($ddl$
CREATE OR REPLACE FUNCTION pgwarden.guard_decide(
  p_role text, p_application text, p_client inet, p_database text,
  OUT decision text, OUT rule_id bigint, OUT message text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS %L$ddl$, decide_src);

  SELECT n.nspname INTO dblink_schema
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'dblink';

  IF dblink_schema IS NULL THEN
    record_denial := $src$
      RAISE LOG 'pgwarden guard: refusal not recorded in pgwarden.connection_attempts (dblink is not installed): %', v_record;$src$;
  ELSE
    record_denial := pg_catalog.format($src$
      BEGIN
        SELECT host, password INTO v_host, v_password FROM pgwarden.guard_recorder;
        PERFORM %I.dblink_exec(
          pg_catalog.format('host=%%s port=%%s dbname=%%s user=pgwarden_recorder password=%%s application_name=pgwarden-recorder connect_timeout=5',
            pgwarden.libpq_quote(v_host), pg_catalog.current_setting('port'),
            pgwarden.libpq_quote(pg_catalog.current_database()), pgwarden.libpq_quote(v_password)),
          pg_catalog.format('CALL pgwarden.record_attempt(%%L::jsonb)', v_record));
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'pgwarden guard: could not record a refusal in pgwarden.connection_attempts: %% (SQLSTATE %%)', SQLERRM, SQLSTATE
          USING DETAIL = 'The refusal was: ' || v_record::text;
      END;$src$, dblink_schema);
  END IF;

  on_error_action := CASE settings.on_error
    WHEN 'closed' THEN $src$
      v_decision := 'deny'; v_rule_id := NULL;
      v_message := 'the connection guard is failing closed because of an internal error; contact the DBA team';$src$
    ELSE $src$
      v_decision := 'allow'; v_rule_id := NULL; v_message := 'guard error: failed open';$src$
  END;

  check_src := pg_catalog.format($src$
DECLARE
  v_role text := session_user;
  v_application text := pg_catalog.current_setting('application_name');
  v_client inet := pg_catalog.inet_client_addr();
  v_database text := pg_catalog.current_database();
  v_decision text;
  v_rule_id bigint;
  v_message text;
  v_record jsonb;
  v_host text;
  v_password text;
BEGIN
  -- The recorder's own loopback connection is neither checked nor recorded.
  IF v_role = 'pgwarden_recorder' THEN
    RETURN;
  END IF;
  -- Superusers and break-glass roles are never refused, whatever happens below.
  IF pg_catalog.current_setting('is_superuser') = 'on' THEN
    v_decision := 'allow'; v_message := 'superuser';
  ELSIF v_role = ANY (%L::text[]) THEN
    v_decision := 'allow'; v_message := 'break-glass role';
  ELSE
    BEGIN
      SELECT d.decision, d.rule_id, d.message INTO v_decision, v_rule_id, v_message
        FROM pgwarden.guard_decide(v_role, v_application, v_client, v_database) AS d;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'pgwarden guard: the guard failed for role "%%" and fails %s: %% (SQLSTATE %%)', v_role, SQLERRM, SQLSTATE
        USING HINT = 'Run `pgwarden status` and `pgwarden install` to repair it; see docs/guard.md, "Recovering from a lock-out".';%s
    END;
  END IF;

  IF v_decision = 'allow' THEN
    IF %L AND NOT pg_catalog.pg_is_in_recovery() THEN
      PERFORM pg_catalog.pg_notify('pgwarden_guard', pg_catalog.json_build_object(
        'ts', pg_catalog.clock_timestamp(), 'server_addr', pg_catalog.inet_server_addr(),
        'server_port', pg_catalog.inet_server_port(), 'database', v_database, 'user_name', v_role,
        'client_addr', COALESCE(pg_catalog.host(v_client), '[local]'),
        'client_port', pg_catalog.inet_client_port(), 'application', v_application,
        'decision', 'allow', 'rule_id', v_rule_id, 'message', v_message, 'via', 'login',
        'backend_pid', pg_catalog.pg_backend_pid())::text);
    END IF;
    RETURN;
  END IF;

  v_message := COALESCE(v_message, 'this application is not allowed for this role');
  v_record := pg_catalog.jsonb_build_object(
    'ts', pg_catalog.clock_timestamp(), 'server_addr', pg_catalog.inet_server_addr(),
    'server_port', pg_catalog.inet_server_port(), 'database', v_database, 'user_name', v_role,
    'client_addr', COALESCE(pg_catalog.host(v_client), '[local]'),
    'client_port', pg_catalog.inet_client_port(), 'application', v_application,
    'decision', 'deny', 'rule_id', v_rule_id, 'message', v_message, 'via', 'login',
    'backend_pid', pg_catalog.pg_backend_pid());
  IF NOT pg_catalog.pg_is_in_recovery() THEN%s
  ELSE
    RAISE LOG 'pgwarden guard: refusal on a standby (not recorded in a table): %%', v_record;
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'invalid_authorization_specification',
    MESSAGE = pg_catalog.format('pgwarden: connection refused for role "%%s" to database "%%s" from application "%%s": %%s',
      v_role, v_database, v_application, v_message),
    DETAIL = pg_catalog.format('Refused by connection guard rule %%s.', COALESCE(v_rule_id::text, '(guard error)')),
    HINT = 'Contact the DBA team if you need this access.';
END
$src$, settings.break_glass_roles, settings.on_error, on_error_action, settings.record_allowed, record_denial);

  EXECUTE pg_catalog.format($ddl$
CREATE OR REPLACE FUNCTION pgwarden.guard_check() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L$ddl$, check_src);
  EXECUTE pg_catalog.format($ddl$
CREATE OR REPLACE FUNCTION pgwarden.guard_login() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS %L$ddl$, check_src);

  -- session_exec calls guard_check() as the connecting role.
  REVOKE ALL ON FUNCTION pgwarden.guard_check() FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION pgwarden.guard_check() TO PUBLIC;
  REVOKE ALL ON FUNCTION pgwarden.guard_login() FROM PUBLIC;
  REVOKE ALL ON FUNCTION pgwarden.guard_decide(text, text, inet, text) FROM PUBLIC;

  -- What was compiled, for tamper detection by `pgwarden status`.
  DELETE FROM pgwarden.compiled_functions;
  INSERT INTO pgwarden.compiled_functions (name, source_md5)
  VALUES ('guard_decide', pg_catalog.md5(decide_src)),
         ('guard_check', pg_catalog.md5(check_src)),
         ('guard_login', pg_catalog.md5(check_src));
END
$compile$;

-- The code for the rules that apply when the connecting role is one of p_roles
-- (a named role plus '*', or '*' alone), in evaluation order.
CREATE FUNCTION pgwarden.guard_rule_block(p_roles text[]) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rule pgwarden.guard_rules;
  conditions text[];
  client_tests text[];
  block text := '';
BEGIN
  FOR rule IN
    SELECT * FROM pgwarden.guard_rules WHERE roles && p_roles ORDER BY priority, id
  LOOP
    conditions := '{}';
    IF rule.applications IS NOT NULL THEN
      conditions := conditions || ('(' || (
        SELECT pg_catalog.string_agg(pg_catalog.format('p_application ILIKE %L', a), ' OR ')
          FROM pg_catalog.unnest(rule.applications) AS a) || ')');
    END IF;
    IF rule.clients IS NOT NULL OR rule.local_socket THEN
      client_tests := '{}';
      IF rule.local_socket THEN
        client_tests := client_tests || 'p_client IS NULL'::text;
      END IF;
      IF rule.clients IS NOT NULL THEN
        client_tests := client_tests || pg_catalog.format('p_client <<= ANY (%L::cidr[])', rule.clients);
      END IF;
      conditions := conditions || ('(' || pg_catalog.array_to_string(client_tests, ' OR ') || ')');
    END IF;
    IF rule.databases IS NOT NULL THEN
      conditions := conditions || pg_catalog.format('p_database = ANY (%L::text[])', rule.databases);
    END IF;
    block := block || pg_catalog.format(
      E'    IF %s THEN\n      decision := %L; rule_id := %s; message := %L;\n      RETURN;\n    END IF;\n',
      CASE WHEN pg_catalog.cardinality(conditions) = 0 THEN 'true'
           ELSE pg_catalog.array_to_string(conditions, ' AND ') END,
      rule.action, rule.id, rule.message);
  END LOOP;
  RETURN block;
END
$$;

-- Writes one attempt; called by the recorder's loopback connection (a procedure, because
-- dblink_exec refuses statements that return rows).
CREATE PROCEDURE pgwarden.record_attempt(p_record jsonb)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO pgwarden.connection_attempts
    (ts, server_addr, server_port, database, user_name, client_addr, client_port,
     application, decision, rule_id, message, via, backend_pid)
  SELECT r.ts, r.server_addr, r.server_port, r.database, r.user_name, r.client_addr, r.client_port,
         COALESCE(r.application, ''), r.decision, r.rule_id, r.message, r.via, r.backend_pid
    FROM pg_catalog.jsonb_to_record(p_record) AS r(
      ts timestamptz, server_addr text, server_port integer, database name, user_name name,
      client_addr text, client_port integer, application text, decision text, rule_id bigint,
      message text, via text, backend_pid integer);
$$;
REVOKE ALL ON PROCEDURE pgwarden.record_attempt(jsonb) FROM PUBLIC;

CREATE FUNCTION pgwarden.guard_recompile_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgwarden.guard_compile();
  RETURN NULL;
END
$$;

CREATE TRIGGER guard_rules_recompile AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON pgwarden.guard_rules FOR EACH STATEMENT EXECUTE FUNCTION pgwarden.guard_recompile_trigger();
CREATE TRIGGER guard_settings_recompile AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON pgwarden.guard_settings FOR EACH STATEMENT EXECUTE FUNCTION pgwarden.guard_recompile_trigger();

SELECT pgwarden.guard_compile();

-- On PostgreSQL 17 and later the guard runs at every login through an event trigger;
-- older servers call pgwarden.guard_check() through session_exec (docs/guard.md).
DO $$
BEGIN
  IF pg_catalog.current_setting('server_version_num')::integer >= 170000 THEN
    EXECUTE 'CREATE EVENT TRIGGER pgwarden_guard_login ON login EXECUTE FUNCTION pgwarden.guard_login()';
  END IF;
END
$$;

-- Nothing here is callable by other roles except the login check that session_exec runs.
REVOKE ALL ON ALL ROUTINES IN SCHEMA pgwarden FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgwarden.guard_check() TO PUBLIC;
