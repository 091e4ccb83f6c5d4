-- pgwarden sensors, migration 5: responses that act (issue 18, phase B).
--   * Every response — done, refused, or only described in a dry run — is one row of
--     pgwarden.response_actions, written in the same transaction as the action itself: there is
--     no action without its record, nor a record of an action that did not happen. The row is an
--     event like a ddl_events row, readable by pgwarden_alerts for the pipeline.
--   * terminate and block_client are functions of this schema (owned by install's superuser,
--     executable by pgwarden_watcher alone). lock_role is not here: it runs as the responder
--     role, which `pgwarden install --responder` makes only when asked (sensors/responder.sql).
--   * A temporary guard rule carries expires_at, and the compiled login check compares it with
--     the login's own time: an expired block admits the client again with no process running.
-- Runs inside one transaction as a superuser, after migrations 1-4.

ALTER TABLE pgwarden.guard_rules
  ADD COLUMN expires_at timestamptz,
  -- The response that made the rule (one rule per response and database: a retry is a no-op).
  ADD COLUMN response_id text UNIQUE;

CREATE TABLE pgwarden.response_actions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  -- Chosen by the caller (the incident's id and the action): the same id twice acts once.
  response_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('terminate', 'lock_role', 'unlock_role', 'block_client', 'unblock_client')),
  -- done: it happened; refused: it may not or could not; noop: nothing to do (already so);
  -- dry_run: what would have been done.
  outcome text NOT NULL CHECK (outcome IN ('done', 'refused', 'noop', 'dry_run')),
  role_name text,
  role_oid oid,
  pid integer,
  session_id text,
  network cidr,
  until timestamptz,
  -- One line: what was done, or why not.
  reason text NOT NULL,
  -- The rule, incident and summary the caller acted for (data, never executed).
  detail jsonb NOT NULL DEFAULT '{}',
  requested_by name NOT NULL DEFAULT session_user
);
-- Exactly once: one acting row per response and action (dry runs may repeat).
CREATE UNIQUE INDEX response_actions_once ON pgwarden.response_actions (response_id, action) WHERE outcome <> 'dry_run';

-- The locks lock_role holds, and how each was lifted. By OID: a role renamed while locked is
-- still the one unlocked, and a role dropped and created again under the name is not touched.
-- A role that was NOLOGIN already gets no row (lock_role leaves it, and nothing ever makes it
-- LOGIN): a row always means "this was LOGIN and pgwarden made it NOLOGIN".
CREATE TABLE pgwarden.response_locks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  response_id text NOT NULL UNIQUE,
  role_oid oid NOT NULL,
  role_name text NOT NULL,
  locked_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  until timestamptz NOT NULL,
  lifted_at timestamptz,
  lifted_how text,
  -- The role's pg_authid row version (xmin) right after the lock: the lift makes the role LOGIN
  -- only while it is unchanged, so a role an admin altered since (LOGIN by hand, then NOLOGIN
  -- for good) is never re-enabled by pgwarden.
  role_version text
);
CREATE UNIQUE INDEX response_locks_active ON pgwarden.response_locks (role_oid) WHERE lifted_at IS NULL;

-- Who may write the response tables: a superuser, or pgwarden_responder inside its own
-- SECURITY DEFINER functions (current_user, with the session's role setting not it). On 14 and
-- 15 a CREATEROLE login may grant itself pgwarden_responder: with SET ROLE (role setting) or
-- inherited privileges (current_user is the login) it could forge "done" rows or re-point a lock
-- at a role an admin disabled; here both are refused. Only the tables' owner (install's
-- superuser) can drop or disable the trigger.
CREATE FUNCTION pgwarden.response_write_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles u WHERE u.rolname = current_user AND u.rolsuper)
     OR (current_user = 'pgwarden_responder' AND pg_catalog.current_setting('role') IS DISTINCT FROM 'pgwarden_responder') THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
    MESSAGE = pg_catalog.format('pgwarden: %s may be written only by pgwarden''s response functions', TG_TABLE_NAME);
END
$$;
-- The triggers themselves are made by install after the migrations (src/sensors/install.ts):
-- the DDL audit of release 0.1.0, still active while an upgrade runs this, would record them.

-- Why no response may touch a role, or NULL: a superuser; a break-glass role (by OID, as the
-- guard resolved it); one of pgwarden's roles or a member of one, by role membership — never by
-- application_name, which any client sets; a predefined pg_* role. The callers add the caller's
-- own role (session_user).
CREATE FUNCTION pgwarden.response_protection(p_role oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN r.oid IS NULL THEN NULL
    WHEN r.rolsuper THEN pg_catalog.format('role %I is a superuser', r.rolname)
    WHEN r.oid IN (SELECT b.role_oid FROM pgwarden.guard_break_glass b) THEN pg_catalog.format('role %I is a break-glass role', r.rolname)
    WHEN pg_catalog.left(r.rolname, 3) = 'pg_' THEN pg_catalog.format('role %I is a predefined role', r.rolname)
    WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles o
                  WHERE o.rolname = ANY (ARRAY['pgwarden_recorder', 'pgwarden_watcher', 'pgwarden_alerts', 'pgwarden_monitor_owner',
                                               'pgwarden_monitor', 'pgwarden_auditor', 'pgwarden_repo_writer', 'pgwarden_repo_server',
                                               'pgwarden_responder'])
                    AND (o.oid = r.oid OR pg_catalog.pg_has_role(r.oid, o.oid, 'MEMBER')))
      THEN pg_catalog.format('role %I is one of pgwarden''s own roles or a member of one', r.rolname)
    WHEN r.oid = (SELECT s.oid FROM pg_catalog.pg_roles s WHERE s.rolname = session_user) THEN pg_catalog.format('role %I is the caller''s own', r.rolname)
  END
  FROM (SELECT p_role AS oid) k LEFT JOIN pg_catalog.pg_roles r ON r.oid = k.oid
$$;

-- The session id PostgreSQL prints (%c): hex start time in seconds, a dot, hex pid.
CREATE FUNCTION pgwarden.response_session_id(p_backend_start timestamptz, p_pid integer) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.to_hex(pg_catalog.trunc(EXTRACT(epoch FROM p_backend_start))::bigint) || '.' || pg_catalog.to_hex(p_pid)
$$;

-- The version of a role's catalog row (pg_authid.xmin, which only a superuser may read): it
-- changes with every ALTER ROLE. Owned by install's superuser, executed by the responder only.
CREATE FUNCTION pgwarden.response_role_version(p_role oid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT a.xmin::text FROM pg_catalog.pg_authid a WHERE a.oid = p_role
$$;

-- Why a network is too wide for block_client, or NULL: shorter than the config's floor (IPv4
-- /8, IPv6 /16), or holding every IPv4-mapped or IPv4-compatible address (::ffff:0:0/96,
-- ::/96), which would refuse everyone over IPv4 as well.
CREATE FUNCTION pgwarden.response_network_too_wide(p_network cidr) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN pg_catalog.family(p_network) = 4 AND pg_catalog.masklen(p_network) < 8 THEN pg_catalog.format('%s is wider than /8: it would block nearly everyone', p_network)
    WHEN pg_catalog.family(p_network) = 6 AND pg_catalog.masklen(p_network) < 16 THEN pg_catalog.format('%s is wider than /16: it would block nearly everyone', p_network)
    WHEN p_network >>= '::ffff:0:0/96'::cidr OR p_network >>= '::/96'::cidr THEN pg_catalog.format('%s holds every IPv4-mapped or IPv4-compatible address', p_network)
  END
$$;

-- The longest lock or block: a response is temporary, never "for ever" (interval 'infinity', 1000 years).
CREATE FUNCTION pgwarden.response_duration_refusal(p_duration interval) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN p_duration IS NULL THEN 'no duration'
    WHEN NOT pg_catalog.isfinite(p_duration) OR p_duration > interval '30 days' THEN pg_catalog.format('the duration %s is longer than 30 days', p_duration)
    WHEN p_duration <= interval '0' THEN pg_catalog.format('the duration %s is not positive', p_duration)
  END
$$;

-- The acting row already recorded for this response and action, if any (a retry acts once).
CREATE FUNCTION pgwarden.response_recorded(p_response_id text, p_action text) RETURNS pgwarden.response_actions
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT a.* FROM pgwarden.response_actions a WHERE a.response_id = p_response_id AND a.action = p_action AND a.outcome <> 'dry_run'
$$;

-- terminate: ends one session, known by pid and by the session id the log printed (so a reused
-- pid is never hit) or, when the log had none, by pid, role and a start before the incident's
-- last record. Never a superuser's session, a break-glass or pgwarden role's, nor the caller's
-- own; only client backends. pg_signal_backend's rule (no superuser session) holds even though
-- the function runs as its owner.
CREATE FUNCTION pgwarden.response_terminate(p_response_id text, p_pid integer, p_session_id text, p_role text,
                                            p_started_before timestamptz, p_dry_run boolean, p_detail jsonb)
RETURNS pgwarden.response_actions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  a record;
  v_row pgwarden.response_actions;
  v_outcome text;
  v_reason text;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(1346852692, pg_catalog.hashtext(p_response_id));
  v_row := pgwarden.response_recorded(p_response_id, 'terminate');
  IF v_row.id IS NOT NULL AND NOT p_dry_run THEN
    RETURN v_row;
  END IF;
  SELECT s.pid, s.usesysid, s.backend_start, s.backend_type, r.rolname::text AS role
    INTO a
    FROM pg_catalog.pg_stat_get_activity(p_pid) s JOIN pg_catalog.pg_roles r ON r.oid = s.usesysid;
  IF NOT FOUND OR a.backend_type IS DISTINCT FROM 'client backend' THEN
    v_outcome := 'noop'; v_reason := pg_catalog.format('no client session with pid %s (it ended already)', p_pid);
  ELSIF p_session_id IS NOT NULL AND pgwarden.response_session_id(a.backend_start, a.pid) IS DISTINCT FROM p_session_id THEN
    v_outcome := 'noop'; v_reason := pg_catalog.format('pid %s is another session now (session %s, not %s)', p_pid,
      pgwarden.response_session_id(a.backend_start, a.pid), p_session_id);
  ELSIF p_session_id IS NULL AND (p_started_before IS NULL OR a.backend_start > p_started_before) THEN
    v_outcome := 'noop'; v_reason := pg_catalog.format('pid %s started after the incident: another session', p_pid);
  ELSIF p_role IS NOT NULL AND a.role IS DISTINCT FROM p_role THEN
    v_outcome := 'noop'; v_reason := pg_catalog.format('pid %s is a session of %I, not of %I', p_pid, a.role, p_role);
  ELSIF a.pid = pg_catalog.pg_backend_pid() THEN
    v_outcome := 'refused'; v_reason := 'the caller''s own session';
  ELSIF pgwarden.response_protection(a.usesysid) IS NOT NULL THEN
    v_outcome := 'refused'; v_reason := pgwarden.response_protection(a.usesysid);
  ELSIF p_dry_run THEN
    v_outcome := 'dry_run'; v_reason := pg_catalog.format('would end pid %s (session %s of %I)', a.pid, pgwarden.response_session_id(a.backend_start, a.pid), a.role);
  ELSIF pg_catalog.pg_terminate_backend(a.pid) THEN
    v_outcome := 'done'; v_reason := pg_catalog.format('ended pid %s (session %s of %I)', a.pid, pgwarden.response_session_id(a.backend_start, a.pid), a.role);
  ELSE
    v_outcome := 'noop'; v_reason := pg_catalog.format('pid %s ended before it could be signalled', p_pid);
  END IF;
  INSERT INTO pgwarden.response_actions (response_id, action, outcome, role_name, role_oid, pid, session_id, reason, detail)
  VALUES (p_response_id, 'terminate', v_outcome, COALESCE(a.role, p_role), a.usesysid, p_pid,
          COALESCE(p_session_id, CASE WHEN a.pid IS NOT NULL THEN pgwarden.response_session_id(a.backend_start, a.pid) END),
          v_reason, COALESCE(p_detail, '{}'))
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;

-- block_client: a deny rule for the network, for every role, evaluated before every other rule,
-- expiring after p_duration by itself (the compiled condition compares it with the login's time).
-- Never a network that holds the caller's own address (pgwarden must still reach the server).
-- Superusers and break-glass roles stay exempt, as from every guard rule.
CREATE FUNCTION pgwarden.response_block_client(p_response_id text, p_network cidr, p_duration interval, p_dry_run boolean, p_detail jsonb)
RETURNS pgwarden.response_actions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_row pgwarden.response_actions;
  v_outcome text;
  v_reason text;
  -- From the server's clock, which the login check compares with (set once the duration is checked).
  v_until timestamptz;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(1346852692, pg_catalog.hashtext(p_response_id));
  v_row := pgwarden.response_recorded(p_response_id, 'block_client');
  IF v_row.id IS NOT NULL AND NOT p_dry_run THEN
    RETURN v_row;
  END IF;
  IF pgwarden.response_duration_refusal(p_duration) IS NULL THEN
    v_until := pg_catalog.now() + p_duration;
  END IF;
  IF p_network IS NULL THEN
    v_outcome := 'refused'; v_reason := 'no network';
  ELSIF pgwarden.response_duration_refusal(p_duration) IS NOT NULL THEN
    v_outcome := 'refused'; v_reason := pgwarden.response_duration_refusal(p_duration);
  ELSIF pgwarden.response_network_too_wide(p_network) IS NOT NULL THEN
    v_outcome := 'refused'; v_reason := pgwarden.response_network_too_wide(p_network);
  ELSIF pg_catalog.inet_client_addr() IS NOT NULL AND pg_catalog.inet_client_addr() <<= p_network THEN
    v_outcome := 'refused'; v_reason := pg_catalog.format('%s holds pgwarden''s own address %s', p_network, pg_catalog.host(pg_catalog.inet_client_addr()));
  ELSIF p_dry_run THEN
    v_outcome := 'dry_run'; v_reason := pg_catalog.format('would refuse logins from %s in database %I until %s', p_network, pg_catalog.current_database(), v_until);
  ELSE
    INSERT INTO pgwarden.guard_rules (action, roles, clients, message, priority, expires_at, response_id)
    VALUES ('deny', ARRAY['*'], ARRAY[p_network], 'temporarily blocked by a pgwarden response', -1000000, v_until, p_response_id);
    v_outcome := 'done'; v_reason := pg_catalog.format('refusing logins from %s in database %I until %s', p_network, pg_catalog.current_database(), v_until);
  END IF;
  INSERT INTO pgwarden.response_actions (response_id, action, outcome, network, until, reason, detail)
  VALUES (p_response_id, 'block_client', v_outcome, p_network, v_until, v_reason, COALESCE(p_detail, '{}'))
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;

-- Removes temporary rules: the one of p_response_id (lift it now), or with NULL every expired
-- one (tidying only: an expired rule matches no login already). Records each removal.
CREATE FUNCTION pgwarden.response_unblock(p_response_id text, p_how text)
RETURNS SETOF pgwarden.response_actions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  g record;
  v_row pgwarden.response_actions;
BEGIN
  FOR g IN DELETE FROM pgwarden.guard_rules r
            WHERE r.response_id IS NOT NULL
              AND (r.response_id = p_response_id OR (p_response_id IS NULL AND r.expires_at <= pg_catalog.now()))
           RETURNING r.response_id, r.clients[1] AS network, r.expires_at LOOP
    INSERT INTO pgwarden.response_actions (response_id, action, outcome, network, until, reason)
    VALUES (g.response_id || ':lift', 'unblock_client', 'done', g.network, g.expires_at,
            pg_catalog.format('%s admitted again in database %I (%s)', g.network, pg_catalog.current_database(),
              CASE WHEN p_response_id IS NULL THEN 'expired ' || g.expires_at::text ELSE COALESCE(p_how, 'lifted') END))
    RETURNING * INTO v_row;
    RETURN NEXT v_row;
  END LOOP;
END
$$;

-- A response the caller refused itself (a protected role or network in its config, a Unix
-- socket, no responder installed), recorded with the others. Only ever a 'refused' row, and
-- only of an acting action: never an unlock or unblock row, whose ids the lifts write (a forged
-- "<lock>:unlock" row made that lock's lift fail). Any other action records nothing (NULL).
CREATE FUNCTION pgwarden.response_record_refusal(p_response_id text, p_action text, p_role text, p_network cidr, p_reason text, p_detail jsonb)
RETURNS pgwarden.response_actions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_row pgwarden.response_actions;
BEGIN
  IF p_action IS NULL OR p_action NOT IN ('terminate', 'lock_role', 'block_client') THEN
    -- Nothing recorded, nothing returned: the caller's lifts stay theirs alone.
    RAISE WARNING 'pgwarden: a refusal is recorded only for terminate, lock_role or block_client, not %', p_action;
    RETURN NULL;
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(1346852692, pg_catalog.hashtext(p_response_id));
  v_row := pgwarden.response_recorded(p_response_id, p_action);
  IF v_row.id IS NOT NULL THEN
    RETURN v_row;
  END IF;
  INSERT INTO pgwarden.response_actions (response_id, action, outcome, role_name, network, reason, detail)
  VALUES (p_response_id, p_action, 'refused', p_role, p_network, pg_catalog.left(COALESCE(p_reason, 'refused'), 2000), COALESCE(p_detail, '{}'))
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;

-- The guard's rule body, now with temporary rules: an expires_at becomes a comparison with the
-- login's time (now(), the login transaction's start), as epoch seconds so that no DateStyle or
-- TimeZone of the session that compiles can change its meaning. The rest as migration 3 wrote it.
CREATE OR REPLACE FUNCTION pgwarden.guard_rules_case(p_role text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rule pgwarden.guard_rules;
  role_test text;
  conditions text[];
  client_tests text[];
  response_test text;
  branches text := '';
BEGIN
  FOR rule IN SELECT * FROM pgwarden.guard_rules ORDER BY priority, id LOOP
    role_test := pgwarden.guard_role_condition(rule.roles, p_role);
    CONTINUE WHEN role_test IS NULL;
    conditions := CASE WHEN role_test = 'true' THEN '{}'::text[] ELSE ARRAY[role_test] END;
    IF rule.expires_at IS NOT NULL THEN
      conditions := conditions || pg_catalog.format('pg_catalog.now() < pg_catalog.to_timestamp(%s)', EXTRACT(epoch FROM rule.expires_at));
    END IF;
    -- A response's rule never refuses pgwarden's own roles or their members (by membership, at
    -- login): a block that held pgwarden's address (a Unix-socket caller cannot tell) must not
    -- lock pgwarden out of lifting it. Added last, so only a login the rule matches pays for it.
    response_test := CASE WHEN rule.response_id IS NOT NULL THEN
      'NOT COALESCE((SELECT pg_catalog.bool_or(pg_catalog.pg_has_role(m.oid, o.oid, ''MEMBER'')) FROM pg_catalog.pg_roles o, '
      || '(SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(p_role)) AS oid) m WHERE m.oid IS NOT NULL AND o.rolname = ANY (ARRAY['
      || '''pgwarden_recorder'', ''pgwarden_watcher'', ''pgwarden_alerts'', ''pgwarden_monitor_owner'', ''pgwarden_monitor'', ''pgwarden_auditor'', '
      || '''pgwarden_repo_writer'', ''pgwarden_repo_server'', ''pgwarden_responder''])), false)' END;
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
    IF response_test IS NOT NULL THEN
      conditions := conditions || response_test;
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

-- Replaced above: install records its hash anew.
DELETE FROM pgwarden.function_hashes WHERE signature = 'pgwarden.guard_rules_case(text)';

-- No GRANT or REVOKE here: the event triggers of the release being upgraded would record them.
-- Install revokes PUBLIC's default EXECUTE on the functions above, and grants what the manifest
-- says, in this same transaction.
