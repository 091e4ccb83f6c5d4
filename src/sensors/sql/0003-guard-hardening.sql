-- pgwarden sensors, migration 3: the connection guard, hardened (issue 13).
--   * No NOTIFY in the login path: the queue is cluster-wide, any login can fill it, and a full
--     queue fails the login's commit where no exception block can catch it (lock-out of every
--     login). Logins are recorded by an INSERT the login check makes itself, inside an exception
--     block, with nothing that can fail at commit. Nothing is sent on a channel any more, so a
--     LISTENer learns nothing and a forged notification means nothing.
--   * The recorder writes only what it can verify (record_refusal: a live backend that holds
--     pgwarden's refusal lock; every field read from pg_stat_activity); watch mode records through
--     guard_terminate(), which ends and records only a session a deny rule matches now.
--   * The refusal code reads the recorder's password inside the one SQL statement that opens the
--     loopback connection: no PL/pgSQL variable holds it, so no nested statement carries it as a
--     parameter (pgAudit log_parameter, auto_explain), and libpq_quote() no longer depends on
--     standard_conforming_strings.
--   * Generated functions are replaced in place and never dropped: a rule change cannot make a
--     concurrent login call a function that no longer exists. Per-role rule functions keep one
--     number per role for good (pgwarden.guard_role_functions).
--   * Rules can match members of a group role (`+group`), and physical replication connections
--     as database `replication` (as pg_hba.conf does).
-- Runs inside one transaction as a superuser, after migrations 1 and 2.

-- Physical walsenders (ended by watch mode) have no database.
ALTER TABLE pgwarden.connection_attempts ALTER COLUMN database DROP NOT NULL;
ALTER TABLE pgwarden.connection_attempts ADD COLUMN replication text
  CHECK (replication IS NULL OR replication IN ('physical', 'logical'));

-- One function number per role, assigned once and never reused: a login that compiled an older
-- guard_check() still calls the function of the same role. Row '*' (number 0) is
-- guard_rules_any. legacy_shim: the release before this one generated a three-argument
-- function of that number, which stays as a thin forwarder (in-flight logins of that release).
CREATE TABLE pgwarden.guard_role_functions (
  role text PRIMARY KEY,
  fn_no integer NOT NULL UNIQUE CHECK (fn_no >= 0),
  legacy_shim boolean NOT NULL DEFAULT false
);
-- Migration 1 numbered the roles named in rules in sorted order, 1..n: keep those numbers.
-- On a new install (migration 1 ran in this very transaction) nobody can be running them:
-- drop them instead.
DO $$
DECLARE
  fresh constant boolean := EXISTS (SELECT 1 FROM pgwarden.migrations WHERE version = 1 AND applied_at = pg_catalog.now());
  legacy regprocedure;
BEGIN
  IF fresh THEN
    FOR legacy IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
                   WHERE p.pronamespace = 'pgwarden'::regnamespace AND p.proname ~ '^guard_rules_(any|r[0-9]+)$' LOOP
      EXECUTE pg_catalog.format('DROP FUNCTION %s', legacy);
    END LOOP;
  END IF;
END
$$;
INSERT INTO pgwarden.guard_role_functions (role, fn_no, legacy_shim)
SELECT '*', 0, pg_catalog.to_regprocedure('pgwarden.guard_rules_any(text,inet,text)') IS NOT NULL;
INSERT INTO pgwarden.guard_role_functions (role, fn_no, legacy_shim)
SELECT r, n, pg_catalog.to_regprocedure(pg_catalog.format('pgwarden.guard_rules_r%s(text,inet,text)', n)) IS NOT NULL
  FROM (SELECT r, pg_catalog.row_number() OVER (ORDER BY r) AS n
          FROM (SELECT DISTINCT r FROM pgwarden.guard_rules, pg_catalog.unnest(roles) AS r WHERE r <> '*') named) numbered;

-- The break-glass roles as the guard was last compiled: name and OID. A role dropped and created
-- again under the name (by anyone with CREATEROLE) has another OID and is not break-glass until
-- the settings name it again. Filled by guard_compile(); read by the generated login check,
-- watch mode, `guard test` and `status`.
CREATE TABLE pgwarden.guard_break_glass (
  role text PRIMARY KEY,
  role_oid oid NOT NULL
);

-- Resolves the break-glass role names to OIDs: only when the settings name them (the trigger
-- below, and `guard settings --break-glass-role`), never on a mere recompile, so a role someone
-- creates under a break-glass name later does not become break-glass by itself.
CREATE FUNCTION pgwarden.guard_refresh_break_glass() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  DELETE FROM pgwarden.guard_break_glass;
  INSERT INTO pgwarden.guard_break_glass (role, role_oid)
  SELECT r.rolname, r.oid FROM pgwarden.guard_settings s JOIN pg_catalog.pg_roles r ON r.rolname = ANY (s.break_glass_roles);
$$;
SELECT pgwarden.guard_refresh_break_glass();

CREATE FUNCTION pgwarden.guard_break_glass_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgwarden.guard_refresh_break_glass();
  RETURN NULL;
END
$$;
-- A row trigger fires before the statement trigger that recompiles the guard.
CREATE TRIGGER guard_settings_break_glass AFTER UPDATE ON pgwarden.guard_settings
  FOR EACH ROW WHEN (OLD.break_glass_roles IS DISTINCT FROM NEW.break_glass_roles)
  EXECUTE FUNCTION pgwarden.guard_break_glass_trigger();

-- Accepted any decision and any time from whoever could call it; replaced by record_refusal().
DROP PROCEDURE pgwarden.record_attempt(jsonb);
-- Quotes a value for a libpq connection string. E'' literals mean the same whatever
-- standard_conforming_strings a session sets (the old body failed to parse with it off).
-- The guard itself quotes inline now (a function call is a nested statement whose parameter
-- auto_explain logs); this stays for refusals of the previous release in flight at the upgrade.
CREATE OR REPLACE FUNCTION pgwarden.libpq_quote(value text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT E'\'' || pg_catalog.replace(pg_catalog.replace(value, E'\\', E'\\\\'), E'\'', E'\\\'') || E'\''
$$;
-- Rebuilt below with the role as a parameter (membership rules need it).
DROP FUNCTION pgwarden.guard_rules_case(text[]);

-- Role names in rules: a name, '*' (any role) or '+group' (members of the group role).
ALTER TABLE pgwarden.guard_rules ADD CONSTRAINT guard_rules_roles_valid
  CHECK (pg_catalog.array_position(roles, NULL) IS NULL AND pg_catalog.array_position(roles, '') IS NULL
         AND pg_catalog.array_position(roles, '+') IS NULL);

-- The condition under which a rule applies to the role of a function: NULL when it never does,
-- 'true' when it always does, else the membership test for its '+group' entries. p_role is the
-- role of the function (NULL for guard_rules_any, which serves every role not named in a rule).
CREATE FUNCTION pgwarden.guard_role_condition(p_rule_roles text[], p_role text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN '*' = ANY (p_rule_roles) OR p_role = ANY (p_rule_roles) THEN 'true'
    ELSE (SELECT '(' || pg_catalog.string_agg(
             -- By name at login time, so a group recreated under the same name still applies and
             -- a group that does not exist matches nobody (instead of failing every login).
             pg_catalog.format('COALESCE((SELECT pg_catalog.pg_has_role(m.oid, g.oid, ''MEMBER'') FROM pg_catalog.pg_roles m, pg_catalog.pg_roles g WHERE m.rolname = p_role AND g.rolname = %L), false)',
                               pg_catalog.substr(r, 2)), ' OR ' ORDER BY r) || ')'
            FROM pg_catalog.unnest(p_rule_roles) AS r WHERE pg_catalog.left(r, 1) = '+')
  END
$$;

-- The body of a rule function: one CASE over the rules that can apply to p_role (NULL: a role
-- named in no rule), in evaluation order, returning the signed rule id (0 none, +id allow, -id deny).
CREATE FUNCTION pgwarden.guard_rules_case(p_role text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rule pgwarden.guard_rules;
  role_test text;
  conditions text[];
  client_tests text[];
  branches text := '';
BEGIN
  FOR rule IN SELECT * FROM pgwarden.guard_rules ORDER BY priority, id LOOP
    role_test := pgwarden.guard_role_condition(rule.roles, p_role);
    CONTINUE WHEN role_test IS NULL;
    conditions := CASE WHEN role_test = 'true' THEN '{}'::text[] ELSE ARRAY[role_test] END;
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

-- Every function guard_compile() generates, computed from the rules and settings alone:
-- `header` is what goes between CREATE OR REPLACE FUNCTION and the body, `source` the body
-- (pg_proc.prosrc). guard_compile() creates exactly these; `pgwarden status` can compare.
CREATE FUNCTION pgwarden.guard_sources()
RETURNS TABLE (name text, signature text, header text, source text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $sources$
DECLARE
  settings pgwarden.guard_settings;
  fn pgwarden.guard_role_functions;
  fn_name text;
  role_whens text := '';
  role_case_p text;
  role_case_s text;
  dispatch text := '';
  break_glass text := '';
  decide_src text;
  check_src text;
  refuse_src text;
  dblink_schema name;
  record_denial text;
  on_error_action text;
  record_allowed text;
  -- No SET clause on purpose: a plain SQL function is inlined into the calling expression,
  -- which saves a function-call set-up per login. Only the login check, guard_decide and the
  -- shims call them, and all pin search_path; the bodies use no unqualified function names.
  rules_header constant text := '(p_role text, p_application text, p_client inet, p_database text) RETURNS bigint LANGUAGE sql STABLE';
  shim_header constant text := '(p_application text, p_client inet, p_database text) RETURNS bigint LANGUAGE sql STABLE';
  pinned constant text := ' SET search_path = pg_catalog, pg_temp';
BEGIN
  SELECT * INTO STRICT settings FROM pgwarden.guard_settings;

  -- Rule functions: one per numbered role, '*' (number 0) being every role named in no rule.
  FOR fn IN SELECT * FROM pgwarden.guard_role_functions ORDER BY fn_no LOOP
    fn_name := CASE fn.fn_no WHEN 0 THEN 'guard_rules_any' ELSE 'guard_rules_r' || fn.fn_no END;
    name := fn_name;
    signature := pg_catalog.format('pgwarden.%s(text,text,inet,text)', fn_name);
    header := 'pgwarden.' || fn_name || rules_header;
    source := pgwarden.guard_rules_case(NULLIF(fn.role, '*'));
    RETURN NEXT;
    IF fn.legacy_shim THEN
      signature := pg_catalog.format('pgwarden.%s(text,inet,text)', fn_name);
      header := 'pgwarden.' || fn_name || shim_header;
      source := pg_catalog.format('SELECT pgwarden.%s(session_user::text, p_application, p_client, p_database)', fn_name);
      RETURN NEXT;
    END IF;
    -- Only roles named in a rule now get a branch; a role no longer named keeps its function
    -- (with the rules for every role) for logins that compiled an older dispatch.
    IF fn.fn_no > 0 AND EXISTS (SELECT 1 FROM pgwarden.guard_rules r WHERE fn.role = ANY (r.roles)) THEN
      -- Role names are data: quoted with %L into a literal, never used as a format string.
      role_whens := role_whens || pg_catalog.format(' WHEN %L THEN %s', fn.role, fn.fn_no);
      dispatch := dispatch || pg_catalog.format(E'    ELSIF v_branch = %s THEN\n      v_rule := pgwarden.%s(@role@, @app@, @client@, @db@);\n', fn.fn_no, fn_name);
    END IF;
  END LOOP;
  dispatch := E'    IF v_branch = 0 THEN\n      v_rule := pgwarden.guard_rules_any(@role@, @app@, @client@, @db@);\n' || dispatch || E'    END IF;\n';
  -- A CASE on the role name: plain text comparisons are the cheapest dispatch for a new backend.
  -- (role_whens holds quoted role names, so it is only ever concatenated, never substituted into.)
  role_case_p := CASE WHEN role_whens = '' THEN '0' ELSE 'CASE p_role' || role_whens || ' ELSE 0 END' END;
  role_case_s := CASE WHEN role_whens = '' THEN '0' ELSE 'CASE session_user::text' || role_whens || ' ELSE 0 END' END;

  -- Rule messages as code too: neither a refusal nor the recorder reads a table while the other
  -- waits for it (a lock queue through the dblink connection would be a deadlock no server can see).
  name := 'guard_on_error';
  signature := 'pgwarden.guard_on_error()';
  header := 'pgwarden.guard_on_error() RETURNS text LANGUAGE sql STABLE';
  source := pg_catalog.format('SELECT %L::text', settings.on_error);
  RETURN NEXT;
  name := 'guard_rule_message';
  signature := 'pgwarden.guard_rule_message(bigint)';
  header := 'pgwarden.guard_rule_message(p_rule_id bigint) RETURNS text LANGUAGE sql STABLE';
  SELECT COALESCE('SELECT CASE p_rule_id' || pg_catalog.string_agg(pg_catalog.format(' WHEN %s THEN %L', g.id, g.message), '' ORDER BY g.id)
                  || ' END', 'SELECT NULL::text')
    INTO source FROM pgwarden.guard_rules g WHERE g.message IS NOT NULL;
  RETURN NEXT;

  decide_src := E'\nDECLARE\n  v_branch integer := '
    || role_case_p
    || E';\n  v_rule bigint;\nBEGIN\n'
    || pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(dispatch,
         '@role@', 'p_role'), '@app@', 'p_application'), '@client@', 'p_client'), '@db@', 'p_database')
    || E'  RETURN v_rule;\nEND\n';
  name := 'guard_decide';
  signature := 'pgwarden.guard_decide(text,text,inet,text)';
  header := 'pgwarden.guard_decide(p_role text, p_application text, p_client inet, p_database text) RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER' || pinned;
  source := decide_src;
  RETURN NEXT;

  -- The refusal: recorded in its own transaction through dblink, then raised.
  SELECT n.nspname INTO dblink_schema
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'dblink';
  IF dblink_schema IS NULL THEN
    record_denial := $src$
    RAISE LOG 'pgwarden guard: refusal not recorded in pgwarden.connection_attempts (dblink is not installed): %', v_record;$src$;
  ELSE
    -- The recorder checks that this backend holds the refusal lock (so nobody can record a
    -- refusal for another session) and reads every fact from pg_stat_activity itself. The
    -- password is read and quoted inside this one statement (no function call, no PL/pgSQL
    -- variable): no nested statement carries it as a parameter for pgAudit or auto_explain to log.
    record_denial := pg_catalog.format($src$
    BEGIN
      PERFORM pg_catalog.pg_advisory_xact_lock(1346852690, pg_catalog.pg_backend_pid());
      PERFORM %I.dblink_exec(
        (SELECT pg_catalog.format('host=%%s port=%%s dbname=%%s user=pgwarden_recorder password=%%s application_name=pgwarden-recorder connect_timeout=5',
                  E'\'' || pg_catalog.replace(pg_catalog.replace(r.host, E'\\', E'\\\\'), E'\'', E'\\\'') || E'\'', pg_catalog.current_setting('port'),
                  E'\'' || pg_catalog.replace(pg_catalog.replace(pg_catalog.current_database(), E'\\', E'\\\\'), E'\'', E'\\\'') || E'\'',
                  E'\'' || pg_catalog.replace(pg_catalog.replace(r.password, E'\\', E'\\\\'), E'\'', E'\\\'') || E'\'')
           FROM pgwarden.guard_recorder r),
        pg_catalog.format('CALL pgwarden.record_refusal(%%s, %%s, %%s, %%s)',
          pg_catalog.pg_backend_pid(), COALESCE(p_rule_id::text, 'NULL'),
          CASE WHEN p_rule_id IS NULL THEN pg_catalog.quote_literal(v_message) ELSE 'NULL' END,
          COALESCE(pg_catalog.quote_literal(pg_catalog.host(pg_catalog.inet_server_addr())), 'NULL')));
    EXCEPTION WHEN OTHERS THEN
      -- LOG, not WARNING: the server log gets the record, the refused client does not.
      RAISE LOG 'pgwarden guard: could not record a refusal in pgwarden.connection_attempts: %% (SQLSTATE %%)', SQLERRM, SQLSTATE
        USING DETAIL = 'The refusal was: ' || v_record::text;
    END;$src$, dblink_schema);
  END IF;

  -- Records a refusal and returns the message for the client. The login check raises the error
  -- itself, so the only context a refused client sees is one line naming the login function.
  refuse_src := pg_catalog.format($src$
DECLARE
  v_application text := pg_catalog.current_setting('application_name');
  v_database text := pg_catalog.current_database();
  v_message text := p_message;
  v_record jsonb;
BEGIN
  IF v_message IS NULL THEN
    v_message := pgwarden.guard_rule_message(p_rule_id);
  END IF;
  v_message := COALESCE(v_message, 'not allowed by the connection policy');
  -- For the server log only (when the refusal cannot be stored); the stored row is built by the recorder.
  v_record := pg_catalog.jsonb_build_object(
    'ts', pg_catalog.now(), 'server_addr', pg_catalog.inet_server_addr(),
    'server_port', pg_catalog.inet_server_port(), 'database', v_database, 'user_name', session_user,
    'client_addr', COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
    'client_port', pg_catalog.inet_client_port(), 'application', v_application,
    'decision', 'deny', 'rule_id', p_rule_id, 'message', v_message, 'via', 'login',
    'backend_pid', pg_catalog.pg_backend_pid());
  IF NOT pg_catalog.pg_is_in_recovery() THEN%s
  ELSE
    RAISE LOG 'pgwarden guard: refusal on a standby (not recorded in a table): %%', v_record;
  END IF;
  RETURN v_message;
END
$src$, record_denial);
  name := 'guard_record_refusal';
  signature := 'pgwarden.guard_record_refusal(bigint,text)';
  header := 'pgwarden.guard_record_refusal(p_rule_id bigint, p_message text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER' || pinned;
  source := refuse_src;
  RETURN NEXT;
  -- The refusal as the release before this one called it (in-flight logins during an upgrade).
  name := 'guard_refuse';
  signature := 'pgwarden.guard_refuse(bigint,text)';
  header := 'pgwarden.guard_refuse(p_rule_id bigint, p_message text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER' || pinned;
  source := $src$
DECLARE
  v_message text := pgwarden.guard_record_refusal(p_rule_id, p_message);
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = 'invalid_authorization_specification',
    MESSAGE = pg_catalog.format('pgwarden: connection refused for role "%s" to database "%s" from application "%s": %s',
      session_user, pg_catalog.current_database(), pg_catalog.current_setting('application_name'), v_message),
    DETAIL = pg_catalog.format('Refused by connection guard rule %s.', COALESCE(p_rule_id::text, '(guard error)')),
    HINT = 'Contact the DBA team if you need this access.';
END
$src$;
  RETURN NEXT;

  -- The login check. Allowed logins (superusers and break-glass roles included) are recorded
  -- by an INSERT here, in an exception block, with nothing that can fail at commit: no NOTIFY,
  -- no deferred trigger, no synchronous-replication wait (synchronous_commit off for this
  -- transaction: at worst a crash loses the last fraction of a second of allowed-login rows),
  -- no serializable commit check (skipped), a short lock_timeout. A failure is a LOG line.
  record_allowed := CASE WHEN settings.record_allowed THEN $src$
  IF pg_catalog.pg_is_in_recovery() OR pg_catalog.current_setting('transaction_read_only') = 'on'
     OR pg_catalog.current_setting('transaction_isolation') = 'serializable' THEN
    RAISE LOG 'pgwarden guard: login not recorded (read-only or serializable transaction): role "%" application "%" pid %',
      session_user, pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid();
  ELSE
    BEGIN
      v_lock_timeout := pg_catalog.current_setting('lock_timeout');
      PERFORM pg_catalog.set_config('synchronous_commit', 'off', true), pg_catalog.set_config('lock_timeout', '250ms', true);
      INSERT INTO pgwarden.connection_attempts
        (ts, server_addr, server_port, database, user_name, client_addr, client_port,
         application, decision, rule_id, message, via, backend_pid)
      VALUES (pg_catalog.now(), pg_catalog.host(pg_catalog.inet_server_addr()), pg_catalog.inet_server_port(),
        pg_catalog.current_database(), session_user, COALESCE(pg_catalog.host(pg_catalog.inet_client_addr()), '[local]'),
        pg_catalog.inet_client_port(), pg_catalog.current_setting('application_name'), 'allow', NULLIF(v_rule, 0),
        v_message, 'login', pg_catalog.pg_backend_pid());
      PERFORM pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
    EXCEPTION WHEN OTHERS THEN
      RAISE LOG 'pgwarden guard: login not recorded: % (SQLSTATE %): role "%" application "%" pid %', SQLERRM, SQLSTATE,
        session_user, pg_catalog.current_setting('application_name'), pg_catalog.pg_backend_pid();
    END;
  END IF;$src$
    ELSE '' END;

  on_error_action := CASE settings.on_error
    WHEN 'closed' THEN $src$
      v_rule := NULL;$src$
    ELSE $src$
      v_rule := 0;
      v_message := 'guard error: failed open';$src$
  END;

  -- Break-glass roles by name and by the role's OID when the settings were saved: a role
  -- dropped and created again under the name (by anyone with CREATEROLE) is not break-glass.
  SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format(
           ' WHEN %L THEN CASE WHEN pg_catalog.to_regrole(pg_catalog.quote_ident(session_user::text)) = %s::oid THEN -2 ELSE %s END',
           b.role, b.role_oid, role_case_s), '' ORDER BY b.role), '')
    INTO break_glass
    FROM pgwarden.guard_break_glass b;

  check_src := pg_catalog.format($src$
DECLARE
  v_branch integer;
  v_rule bigint := 0;
  v_message text;
  v_lock_timeout text;
BEGIN
  -- Superusers and break-glass roles are never refused, whatever happens below. The recorder's
  -- own loopback connection (its application name, from the server itself) is neither checked
  -- nor recorded; any other login of the recorder role is checked like any other role's.
  v_branch := CASE
    WHEN pg_catalog.current_setting('is_superuser') = 'on' THEN -1
    ELSE CASE session_user::text
      WHEN 'pgwarden_recorder' THEN CASE WHEN pg_catalog.current_setting('application_name') = 'pgwarden-recorder'
        AND pg_catalog.inet_client_addr() IS NOT DISTINCT FROM pg_catalog.inet_server_addr() THEN -3 ELSE %s END%s
      ELSE %s END END;
  IF v_branch = -3 THEN
    RETURN;
  ELSIF v_branch < 0 THEN
    v_message := CASE v_branch WHEN -1 THEN 'superuser' ELSE 'break-glass role' END;
  ELSE
    BEGIN
%s    EXCEPTION WHEN OTHERS THEN
      -- LOG: the server log gets it; the client is not told how the guard is built.
      RAISE LOG 'pgwarden guard: the guard failed for role "%%" and fails %s: %% (SQLSTATE %%)', session_user, SQLERRM, SQLSTATE
        USING HINT = 'Run `pgwarden status` and `pgwarden install` to repair it; see docs/guard.md, "Recovering from a lock-out".';%s
    END;
    IF v_rule < 0 OR v_rule IS NULL THEN
      -- NULL: the guard failed and fails closed.
      v_message := pgwarden.guard_record_refusal(-v_rule, CASE WHEN v_rule IS NULL THEN
        'the connection guard is failing closed because of an internal error; contact the DBA team' END);
      RAISE EXCEPTION USING
        ERRCODE = 'invalid_authorization_specification',
        MESSAGE = pg_catalog.format('pgwarden: connection refused for role "%%s" to database "%%s" from application "%%s": %%s',
          session_user, pg_catalog.current_database(), pg_catalog.current_setting('application_name'), v_message),
        DETAIL = pg_catalog.format('Refused by connection guard rule %%s.', COALESCE((-v_rule)::text, '(guard error)')),
        HINT = 'Contact the DBA team if you need this access.';
    END IF;
  END IF;%s
END
$src$,
    role_case_s, break_glass, role_case_s,
    pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(dispatch,
      '@role@', 'session_user::text'), '@app@', $e$pg_catalog.current_setting('application_name')$e$),
      '@client@', 'pg_catalog.inet_client_addr()'), '@db@', 'pg_catalog.current_database()'),
    settings.on_error, on_error_action, record_allowed);
  name := 'guard_check';
  signature := 'pgwarden.guard_check()';
  header := 'pgwarden.guard_check() RETURNS void LANGUAGE plpgsql SECURITY DEFINER' || pinned;
  source := check_src;
  RETURN NEXT;
  name := 'guard_login';
  signature := 'pgwarden.guard_login()';
  header := 'pgwarden.guard_login() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER' || pinned;
  RETURN NEXT;
END
$sources$;

-- Compiles rules and settings into the functions the guard runs (see guard_sources()), in
-- place: CREATE OR REPLACE keeps each function's OID, so a concurrent login that already
-- resolved a function keeps calling a valid one (the old body or the new). Nothing the login
-- path calls is ever dropped. Called by triggers whenever rules or settings change.
CREATE OR REPLACE FUNCTION pgwarden.guard_compile() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $compile$
DECLARE
  generated record;
  last_compile jsonb;
BEGIN
  -- One compile at a time: two rule changes committed concurrently would otherwise each
  -- compile without the other's rule, and the later commit would win.
  PERFORM pg_catalog.pg_advisory_xact_lock(1346852691, 0);
  -- A number for every role a rule names, once and for all.
  INSERT INTO pgwarden.guard_role_functions (role, fn_no)
  SELECT r, (SELECT pg_catalog.max(fn_no) FROM pgwarden.guard_role_functions) + pg_catalog.row_number() OVER (ORDER BY r)
    FROM (SELECT DISTINCT r FROM pgwarden.guard_rules, pg_catalog.unnest(roles) AS r
           WHERE r <> '*' AND pg_catalog.left(r, 1) <> '+'
             AND r NOT IN (SELECT role FROM pgwarden.guard_role_functions)) missing;

  -- Rule functions first, then the functions that call them. A function whose source is what
  -- the last compile made and is still in place is left alone (a compile then costs what
  -- changed, not what exists); install empties compiled_functions first to rewrite them all.
  SELECT COALESCE(pg_catalog.jsonb_object_agg(c.name, c.source_md5), '{}') INTO last_compile FROM pgwarden.compiled_functions c;
  DELETE FROM pgwarden.compiled_functions;
  FOR generated IN SELECT * FROM pgwarden.guard_sources() LOOP
    IF last_compile ->> generated.signature IS DISTINCT FROM pg_catalog.md5(generated.source)
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                       WHERE p.oid = pg_catalog.to_regprocedure(generated.signature) AND p.prosrc = generated.source) THEN
      EXECUTE 'CREATE OR REPLACE FUNCTION ' || generated.header || ' AS ' || pg_catalog.quote_literal(generated.source);
    END IF;
    INSERT INTO pgwarden.compiled_functions (name, source_md5) VALUES (generated.signature, pg_catalog.md5(generated.source));
  END LOOP;

  -- session_exec calls guard_check() as the connecting role; nothing else is for PUBLIC.
  REVOKE ALL ON ALL ROUTINES IN SCHEMA pgwarden FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION pgwarden.guard_check() TO PUBLIC;
END
$compile$;

-- Records a refusal for the recorder's loopback connection. The only thing it takes on trust is
-- which backend: that backend must be live in this database and hold pgwarden's refusal lock,
-- which only the refusal code takes, in the refused backend itself. Everything recorded is read
-- from pg_stat_activity; the decision is taken again here, so a caller cannot choose the rule.
-- p_message is used only for a refusal without a rule (the guard failing closed).
CREATE PROCEDURE pgwarden.record_refusal(p_pid integer, p_rule_id bigint, p_message text, p_server_addr text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a record;
  v_rule bigint;
  v_message text;
BEGIN
  SELECT s.pid, s.datid, s.usesysid, s.application_name, s.client_addr, s.client_port, s.xact_start, s.backend_start,
         r.rolname::text AS role, d.datname::text AS database
    INTO a
    FROM pg_catalog.pg_stat_get_activity(p_pid) s
    JOIN pg_catalog.pg_roles r ON r.oid = s.usesysid
    JOIN pg_catalog.pg_database d ON d.oid = s.datid
   WHERE s.backend_type = 'client backend' AND d.datname = pg_catalog.current_database()
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                  WHERE l.locktype = 'advisory' AND l.pid = p_pid AND l.granted AND l.database = s.datid
                    AND l.classid = 1346852690::oid AND l.objid = p_pid::oid AND l.objsubid = 2);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgwarden: backend % is not a login being refused in this database', p_pid USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_rule_id IS NULL THEN
    -- The guard failed closed: true only while it is configured to.
    IF pgwarden.guard_on_error() IS DISTINCT FROM 'closed' THEN
      RAISE EXCEPTION 'pgwarden: the guard is not failing closed' USING ERRCODE = 'insufficient_privilege';
    END IF;
    v_message := pg_catalog.left(COALESCE(p_message, 'the connection guard failed closed'), 2000);
  ELSE
    v_rule := -pgwarden.guard_decide(a.role, COALESCE(a.application_name, ''), a.client_addr, a.database);
    IF v_rule IS DISTINCT FROM p_rule_id THEN
      RAISE EXCEPTION 'pgwarden: rule % does not refuse backend % (the rules say %)', p_rule_id, p_pid, -v_rule
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    v_message := COALESCE(pgwarden.guard_rule_message(v_rule), 'not allowed by the connection policy');
  END IF;
  INSERT INTO pgwarden.connection_attempts
    (ts, server_addr, server_port, database, user_name, client_addr, client_port,
     application, decision, rule_id, message, via, backend_pid)
  VALUES (COALESCE(a.xact_start, pg_catalog.now()),
          CASE WHEN a.client_addr IS NOT NULL THEN pg_catalog.host(p_server_addr::inet) END,
          CASE WHEN a.client_addr IS NOT NULL THEN pg_catalog.current_setting('port')::integer END,
          a.database, a.role, COALESCE(pg_catalog.host(a.client_addr), '[local]'), a.client_port,
          COALESCE(a.application_name, ''), 'deny', v_rule, v_message, 'login', p_pid);
END
$$;

-- Watch mode's only way to write: ends one session, identified by pid and start time (so a
-- reused pid is never hit), if and only if a deny rule matches it now and it is not exempt, and
-- records it from pg_stat_activity. A backend still in its login (state not yet reported) is left
-- to the login check, whose refusal the client then sees instead of a termination.
-- Returns the record, or nothing when the session was not ended.
CREATE FUNCTION pgwarden.guard_terminate(p_pid integer, p_backend_start timestamptz)
RETURNS TABLE (pid integer, user_name text, database text, application text, client_addr text,
               rule_id bigint, message text, replication text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a record;
  v_rule bigint;
BEGIN
  SELECT s.pid, s.usesysid, s.application_name, s.client_addr, s.client_port, s.backend_type, s.state,
         r.rolname::text AS role, r.rolsuper, d.datname::text AS datname,
         CASE WHEN s.backend_type <> 'walsender' THEN NULL WHEN s.datid IS NULL OR s.datid = 0 THEN 'physical' ELSE 'logical' END AS replication
    INTO a
    FROM pg_catalog.pg_stat_get_activity(p_pid) s
    JOIN pg_catalog.pg_roles r ON r.oid = s.usesysid
    LEFT JOIN pg_catalog.pg_database d ON d.oid = s.datid
   WHERE s.backend_start = p_backend_start AND s.backend_type IN ('client backend', 'walsender')
     AND s.pid <> pg_catalog.pg_backend_pid();
  IF NOT FOUND OR a.rolsuper OR a.state IS NULL OR a.state = 'starting'
     OR a.usesysid IN (SELECT b.role_oid FROM pgwarden.guard_break_glass b)
     OR (a.role = 'pgwarden_recorder' AND a.application_name = 'pgwarden-recorder') THEN
    RETURN;
  END IF;
  -- A backend being refused holds the refusal lock while the refusal is recorded.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND l.pid = p_pid
              AND l.classid = 1346852690::oid AND l.objid = p_pid::oid AND l.objsubid = 2) THEN
    RETURN;
  END IF;
  v_rule := -pgwarden.guard_decide(a.role, COALESCE(a.application_name, ''), a.client_addr,
                                   CASE WHEN a.replication = 'physical' THEN 'replication' ELSE a.datname END);
  IF v_rule <= 0 OR NOT pg_catalog.pg_terminate_backend(p_pid) THEN
    RETURN;
  END IF;
  pid := p_pid;
  user_name := a.role;
  database := a.datname;
  application := COALESCE(a.application_name, '');
  client_addr := COALESCE(pg_catalog.host(a.client_addr), '[local]');
  rule_id := v_rule;
  message := COALESCE(pgwarden.guard_rule_message(v_rule), 'not allowed by the connection policy');
  replication := a.replication;
  INSERT INTO pgwarden.connection_attempts
    (ts, server_addr, server_port, database, user_name, client_addr, client_port,
     application, decision, rule_id, message, via, backend_pid, replication)
  VALUES (pg_catalog.clock_timestamp(), NULL, NULL, a.datname, a.role, client_addr, a.client_port,
          application, 'deny', v_rule, message, 'watch', p_pid, a.replication);
  RETURN NEXT;
END
$$;

-- Functions these migrations created and this one replaced: install records their hashes anew.
DELETE FROM pgwarden.function_hashes
 WHERE signature IN ('pgwarden.guard_compile()', 'pgwarden.guard_rules_case(text[])', 'pgwarden.record_attempt(jsonb)',
                     'pgwarden.libpq_quote(text)');
-- Keyed by signature from now on (overloaded rule functions share a name).
DELETE FROM pgwarden.compiled_functions;

SELECT pgwarden.guard_compile();

REVOKE ALL ON ALL ROUTINES IN SCHEMA pgwarden FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgwarden.guard_check() TO PUBLIC;
