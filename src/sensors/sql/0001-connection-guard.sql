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

-- Compiles rules and settings into the functions the guard runs. Rules become code, so a
-- login reads no table, and the code is split so that a new backend compiles only what
-- its login needs (compiling is what a login check costs most):
--   pgwarden.guard_rules_any(application, client, database) and one
--   pgwarden.guard_rules_rN(...) per role named in a rule: a single CASE over the rules that
--     apply to that role ('*' rules included), in evaluation order, returning the signed
--     rule id: 0 no rule matched (allow), +id allowed by rule id, -id denied by rule id;
--   pgwarden.guard_decide(role, application, client, database): the same dispatch by role,
--     for `guard test` and watch mode, so they agree with the login check (SECURITY
--     DEFINER, so the watcher needs EXECUTE on it alone, not on each rule function);
--   pgwarden.guard_check() / pgwarden.guard_login(): the login check (session_exec on
--     PostgreSQL 16 and older / login event trigger on 17+), one body for both;
--   pgwarden.guard_refuse(rule id, message): records a refusal and raises the error, kept
--     apart so that only a refused login pays for compiling it.
-- Called by triggers whenever rules or settings change.
CREATE FUNCTION pgwarden.guard_compile() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $compile$
DECLARE
  settings pgwarden.guard_settings;
  role_names text[];
  old_function regprocedure;
  branch_no integer;
  sources jsonb := '{}';
  source text;
  dispatch text;
  decide_src text;
  check_src text;
  refuse_src text;
  dblink_schema name;
  record_denial text;
  on_error_action text;
  notify_allowed text;
  -- No SET clause on purpose: a plain SQL function is inlined into the calling expression,
  -- which saves a function-call set-up per login. Only the login check and guard_decide call
  -- them, and both pin search_path; the bodies use no unqualified function names.
  rules_signature constant text := '(p_application text, p_client inet, p_database text) RETURNS bigint
LANGUAGE sql STABLE AS ';
  role_case text := '';
BEGIN
  SELECT * INTO STRICT settings FROM pgwarden.guard_settings;
  SELECT pg_catalog.array_agg(DISTINCT r ORDER BY r) INTO role_names
    FROM pgwarden.guard_rules, pg_catalog.unnest(roles) AS r
   WHERE r <> '*';
  role_names := COALESCE(role_names, '{}');

  -- Rule functions: drop the previous generation, create this one.
  FOR old_function IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'pgwarden'::regnamespace AND p.proname ~ '^guard_rules_(any|r[0-9]+)$'
  LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s', old_function);
  END LOOP;
  source := pgwarden.guard_rules_case(ARRAY['*']);
  EXECUTE 'CREATE FUNCTION pgwarden.guard_rules_any' || rules_signature || pg_catalog.quote_literal(source);
  sources := sources || pg_catalog.jsonb_build_object('guard_rules_any', source);
  -- dispatch: %1$s is the expression for the application, %2$s the client, %3$s the database
  dispatch := E'    IF v_branch = 0 THEN\n      v_rule := pgwarden.guard_rules_any(%1$s, %2$s, %3$s);\n';
  FOR branch_no IN 1 .. pg_catalog.cardinality(role_names) LOOP
    role_case := role_case || pg_catalog.format(' WHEN %L THEN %s', role_names[branch_no], branch_no);
    source := pgwarden.guard_rules_case(ARRAY[role_names[branch_no], '*']);
    EXECUTE pg_catalog.format('CREATE FUNCTION pgwarden.guard_rules_r%s', branch_no) || rules_signature || pg_catalog.quote_literal(source);
    sources := sources || pg_catalog.jsonb_build_object('guard_rules_r' || branch_no, source);
    dispatch := dispatch || pg_catalog.format(E'    ELSIF v_branch = %s THEN\n      v_rule := pgwarden.guard_rules_r%s(%%1$s, %%2$s, %%3$s);\n', branch_no, branch_no);
  END LOOP;
  dispatch := dispatch || E'    END IF;\n';

  -- A CASE on the role name: plain text comparisons are the cheapest dispatch for a new backend.
  role_case := CASE WHEN role_case = '' THEN '0' ELSE 'CASE %s' || role_case || ' ELSE 0 END' END;

  decide_src := pg_catalog.format($src$
DECLARE
  v_branch integer := %s;
  v_rule bigint;
BEGIN
%s  RETURN v_rule;
END
$src$, pg_catalog.format(role_case, 'p_role'), pg_catalog.format(dispatch, 'p_application', 'p_client', 'p_database'));
  EXECUTE 'CREATE OR REPLACE FUNCTION pgwarden.guard_decide(p_role text, p_application text, p_client inet, p_database text)
RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ' || pg_catalog.quote_literal(decide_src);

  -- The refusal: recorded in its own transaction through dblink, then raised.
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
      -- LOG, not WARNING: the server log gets the record, the refused client does not.
      RAISE LOG 'pgwarden guard: could not record a refusal in pgwarden.connection_attempts: %% (SQLSTATE %%)', SQLERRM, SQLSTATE
        USING DETAIL = 'The refusal was: ' || v_record::text;
    END;$src$, dblink_schema);
  END IF;

  refuse_src := pg_catalog.format($src$
DECLARE
  v_application text := pg_catalog.current_setting('application_name');
  v_database text := pg_catalog.current_database();
  v_message text := p_message;
  v_record jsonb;
  v_host text;
  v_password text;
BEGIN
  IF v_message IS NULL THEN
    SELECT message INTO v_message FROM pgwarden.guard_rules WHERE id = p_rule_id;
  END IF;
  v_message := COALESCE(v_message, 'not allowed by the connection policy');
  v_record := pg_catalog.jsonb_build_object(
    'ts', pg_catalog.clock_timestamp(), 'server_addr', pg_catalog.inet_server_addr(),
    'server_port', pg_catalog.inet_server_port(), 'database', v_database, 'user_name', session_user,
    'client_addr', COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
    'client_port', pg_catalog.inet_client_port(), 'application', v_application,
    'decision', 'deny', 'rule_id', p_rule_id, 'message', v_message, 'via', 'login',
    'backend_pid', pg_catalog.pg_backend_pid());
  IF NOT pg_catalog.pg_is_in_recovery() THEN%s
  ELSE
    RAISE LOG 'pgwarden guard: refusal on a standby (not recorded in a table): %%', v_record;
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'invalid_authorization_specification',
    MESSAGE = pg_catalog.format('pgwarden: connection refused for role "%%s" to database "%%s" from application "%%s": %%s',
      session_user, v_database, v_application, v_message),
    DETAIL = pg_catalog.format('Refused by connection guard rule %%s.', COALESCE(p_rule_id::text, '(guard error)')),
    HINT = 'Contact the DBA team if you need this access.';
END
$src$, record_denial);
  EXECUTE 'CREATE OR REPLACE FUNCTION pgwarden.guard_refuse(p_rule_id bigint, p_message text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ' || pg_catalog.quote_literal(refuse_src);

  -- The login check.
  notify_allowed := CASE WHEN settings.record_allowed THEN $src$
  -- Allowed logins are not written here (a table write per login costs ~30% of the
  -- connection rate): NOTIFY, delivered at commit, is stored by `pgwarden guard watch`,
  -- which also stamps the time. The payload is plain text fields separated by U+001F
  -- (application_name cannot contain it; the role name comes last, so it may): building it
  -- is far cheaper in a new backend than JSON and timestamp formatting.
  PERFORM CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_notify('pgwarden_guard',
    'v1' || E'\x1f' || pg_catalog.pg_backend_pid()::text
    || E'\x1f' || COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]')
    || E'\x1f' || COALESCE(pg_catalog.inet_client_port()::text, '')
    || E'\x1f' || COALESCE(pg_catalog.host(pg_catalog.inet_server_addr()), '')
    || E'\x1f' || pg_catalog.current_setting('port')
    || E'\x1f' || v_rule::text || E'\x1f' || COALESCE(v_message, '')
    || E'\x1f' || pg_catalog.current_setting('application_name')
    || E'\x1f' || session_user::text) END;$src$
    ELSE '' END;

  on_error_action := CASE settings.on_error
    WHEN 'closed' THEN $src$
      PERFORM pgwarden.guard_refuse(NULL, 'the connection guard is failing closed because of an internal error; contact the DBA team');$src$
    ELSE $src$
      v_rule := 0;
      v_message := 'guard error: failed open';$src$
  END;

  check_src := pg_catalog.format($src$
DECLARE
  v_branch integer;
  v_rule bigint := 0;
  v_message text;
BEGIN
  -- Superusers and break-glass roles are never refused, whatever happens below; the
  -- recorder's own loopback connection is neither checked nor recorded.
  v_branch := CASE
    WHEN pg_catalog.current_setting('is_superuser') = 'on' THEN -1
    ELSE CASE session_user::text WHEN 'pgwarden_recorder' THEN -3%s ELSE %s END END;
  IF v_branch < 0 THEN
    IF v_branch = -3 THEN
      RETURN;
    END IF;
    v_message := CASE v_branch WHEN -1 THEN 'superuser' ELSE 'break-glass role' END;
  ELSE
    BEGIN
%s    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'pgwarden guard: the guard failed for role "%%" and fails %s: %% (SQLSTATE %%)', session_user, SQLERRM, SQLSTATE
        USING HINT = 'Run `pgwarden status` and `pgwarden install` to repair it; see docs/guard.md, "Recovering from a lock-out".';%s
    END;
    IF v_rule < 0 THEN
      PERFORM pgwarden.guard_refuse(-v_rule, NULL);
    END IF;
  END IF;%s
END
$src$, (SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format(' WHEN %L THEN -2', b), ''), '')
           FROM pg_catalog.unnest(settings.break_glass_roles) AS b),
    pg_catalog.format(role_case, 'session_user::text'),
    pg_catalog.format(dispatch, $e$pg_catalog.current_setting('application_name')$e$,
      'pg_catalog.inet_client_addr()', 'pg_catalog.current_database()'),
    settings.on_error, on_error_action, notify_allowed);

  EXECUTE 'CREATE OR REPLACE FUNCTION pgwarden.guard_check() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ' || pg_catalog.quote_literal(check_src);
  EXECUTE 'CREATE OR REPLACE FUNCTION pgwarden.guard_login() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS ' || pg_catalog.quote_literal(check_src);

  -- session_exec calls guard_check() as the connecting role; nothing else is for PUBLIC.
  REVOKE ALL ON ALL ROUTINES IN SCHEMA pgwarden FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION pgwarden.guard_check() TO PUBLIC;

  -- What was compiled, for tamper detection by `pgwarden status`.
  sources := sources || pg_catalog.jsonb_build_object('guard_decide', decide_src, 'guard_refuse', refuse_src,
    'guard_check', check_src, 'guard_login', check_src);
  DELETE FROM pgwarden.compiled_functions;
  INSERT INTO pgwarden.compiled_functions (name, source_md5)
  SELECT key, pg_catalog.md5(value) FROM pg_catalog.jsonb_each_text(sources);
END
$compile$;

-- The body of a rule function: one CASE over the rules that apply when the connecting
-- role is one of p_roles (a named role plus '*', or '*' alone), in evaluation order.
CREATE FUNCTION pgwarden.guard_rules_case(p_roles text[]) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rule pgwarden.guard_rules;
  conditions text[];
  client_tests text[];
  branches text := '';
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
        client_tests := client_tests || (SELECT pg_catalog.array_agg(pg_catalog.format('p_client <<= %L::cidr', c))
                                           FROM pg_catalog.unnest(rule.clients) AS c);
      END IF;
      conditions := conditions || ('(' || pg_catalog.array_to_string(client_tests, ' OR ') || ')');
    END IF;
    IF rule.databases IS NOT NULL THEN
      conditions := conditions || ('(' || (
        SELECT pg_catalog.string_agg(pg_catalog.format('p_database = %L', d), ' OR ')
          FROM pg_catalog.unnest(rule.databases) AS d) || ')');
    END IF;
    branches := branches || pg_catalog.format(E'\n  WHEN %s THEN %s',
      CASE WHEN pg_catalog.cardinality(conditions) = 0 THEN 'true'
           ELSE pg_catalog.array_to_string(conditions, ' AND ') END,
      CASE rule.action WHEN 'deny' THEN -rule.id ELSE rule.id END);
  END LOOP;
  IF branches = '' THEN
    RETURN 'SELECT 0::bigint';
  END IF;
  RETURN 'SELECT CASE' || branches || E'\n  ELSE 0::bigint END';
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
