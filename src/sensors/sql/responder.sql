-- pgwarden's responder: what lock_role needs, made only by `pgwarden install --responder`
-- (after the migrations, as a superuser, in install's transaction; safe to run again).
--
-- pgwarden_responder is NOLOGIN and has no members: nobody logs in as it or sets it. It has
-- CREATEROLE, and owns the SECURITY DEFINER functions of schema pgwarden_responder, which are
-- the only way to use it; pgwarden_watcher may execute them. So the server itself bounds what a
-- lock can do: CREATEROLE cannot alter a superuser, and from PostgreSQL 16 it alters only the
-- roles it holds ADMIN OPTION on (install grants that on the lockable roles, without INHERIT or
-- SET, so the responder gets none of their privileges). The functions refuse the rest
-- (pgwarden.response_protection): break-glass roles, pgwarden's roles and their members.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgwarden_responder') THEN
    CREATE ROLE pgwarden_responder NOLOGIN NOINHERIT CREATEROLE;
  END IF;
END $$;
ALTER ROLE pgwarden_responder NOLOGIN NOSUPERUSER NOCREATEDB CREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;

CREATE SCHEMA IF NOT EXISTS pgwarden_responder;

-- Locks serialise on a lock of table pgwarden.response_locks (SHARE ROW EXCLUSIVE, which conflicts
-- with itself): lock, unlock and lift of a role never interleave, so "previous state" and
-- "active lock" are read and written as one. Not an advisory lock: any login may take one of
-- those and hold it, which would stop every lock and lift; this table lock can be taken (or
-- blocked) only by a role that may write the table, that is the responder and superusers.
-- (Readers' ACCESS SHARE does not conflict with it.)
CREATE OR REPLACE FUNCTION pgwarden_responder.lock_role(p_response_id text, p_role text, p_duration interval,
                                                         p_dry_run boolean, p_detail jsonb)
RETURNS pgwarden.response_actions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r record;
  v_lock pgwarden.response_locks;
  v_row pgwarden.response_actions;
  v_outcome text;
  v_reason text;
  v_admin boolean;
  -- Set once the duration is checked (a bounded one: at most 30 days).
  v_until timestamptz;
BEGIN
  LOCK TABLE pgwarden.response_locks IN SHARE ROW EXCLUSIVE MODE;
  v_row := pgwarden.response_recorded(p_response_id, 'lock_role');
  IF v_row.id IS NOT NULL AND NOT p_dry_run THEN
    RETURN v_row;
  END IF;
  IF pgwarden.response_duration_refusal(p_duration) IS NULL THEN
    v_until := pg_catalog.now() + p_duration;
  END IF;
  -- By exact name: the name is data, compared, never parsed or quoted by hand.
  SELECT o.oid, o.rolname::text AS name, o.rolcanlogin INTO r FROM pg_catalog.pg_roles o WHERE o.rolname = p_role;
  IF NOT FOUND THEN
    v_outcome := 'refused'; v_reason := pg_catalog.format('no role named %I', p_role);
  ELSIF pgwarden.response_protection(r.oid) IS NOT NULL THEN
    v_outcome := 'refused'; v_reason := pgwarden.response_protection(r.oid);
  ELSIF pgwarden.response_duration_refusal(p_duration) IS NOT NULL THEN
    v_outcome := 'refused'; v_reason := pgwarden.response_duration_refusal(p_duration);
  ELSE
    SELECT l.* INTO v_lock FROM pgwarden.response_locks l WHERE l.role_oid = r.oid AND l.lifted_at IS NULL FOR UPDATE;
    v_admin := pg_catalog.current_setting('server_version_num')::int < 160000
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                  WHERE m.roleid = r.oid AND m.admin_option
                    AND m.member = (SELECT u.oid FROM pg_catalog.pg_roles u WHERE u.rolname = current_user));
    IF NOT r.rolcanlogin AND v_lock.id IS NULL THEN
      v_outcome := 'noop'; v_reason := pg_catalog.format('role %I is NOLOGIN already: left so, and never made LOGIN by pgwarden', r.name);
    ELSIF NOT v_admin THEN
      v_outcome := 'refused';
      v_reason := pg_catalog.format('pgwarden_responder has no ADMIN OPTION on role %I (PostgreSQL 16+): run `pgwarden install --responder` again, or GRANT %I TO pgwarden_responder WITH ADMIN TRUE, INHERIT FALSE, SET FALSE', r.name, r.name);
    ELSIF p_dry_run THEN
      v_outcome := 'dry_run';
      v_reason := CASE WHEN v_lock.id IS NULL THEN pg_catalog.format('would ALTER ROLE %I NOLOGIN until %s', r.name, v_until)
                       ELSE pg_catalog.format('role %I is locked already (lock %s): would keep it until %s', r.name, v_lock.id, GREATEST(v_lock.until, v_until)) END;
    ELSE
      BEGIN
        IF r.rolcanlogin THEN
          EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN', r.name);
        END IF;
        IF v_lock.id IS NULL THEN
          -- The row version after our own ALTER ROLE: the lift compares it (see unlock_role).
          INSERT INTO pgwarden.response_locks (response_id, role_oid, role_name, until, role_version)
          VALUES (p_response_id, r.oid, r.name, v_until, pgwarden.response_role_version(r.oid));
          v_reason := pg_catalog.format('ALTER ROLE %I NOLOGIN until %s', r.name, v_until);
        ELSE
          UPDATE pgwarden.response_locks SET until = GREATEST(until, v_until) WHERE id = v_lock.id;
          v_reason := pg_catalog.format('role %I was locked already (lock %s): kept until %s', r.name, v_lock.id, GREATEST(v_lock.until, v_until));
        END IF;
        v_outcome := 'done';
      EXCEPTION WHEN insufficient_privilege THEN
        v_outcome := 'refused'; v_reason := pg_catalog.format('the server refused to lock role %I: %s', r.name, SQLERRM);
      END;
    END IF;
  END IF;
  INSERT INTO pgwarden.response_actions (response_id, action, outcome, role_name, role_oid, until, reason, detail)
  VALUES (p_response_id, 'lock_role', v_outcome, COALESCE(r.name, p_role), r.oid, v_until, v_reason, COALESCE(p_detail, '{}'))
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;

-- Lifts one lock now (by its id): LOGIN again for the role of that OID. A role dropped
-- meanwhile, made LOGIN by someone else, or altered in any way since the lock (its pg_authid row
-- version changed: an admin may have lifted it by hand and disabled it for good since; a rename
-- or a new password counts too) only closes the lock: pgwarden never re-enables what it did not
-- leave. A lift
-- the server refuses leaves the lock open (the next lift tries again) and is recorded.
CREATE OR REPLACE FUNCTION pgwarden_responder.unlock_role(p_lock_id bigint, p_how text)
RETURNS pgwarden.response_actions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_lock pgwarden.response_locks;
  r record;
  v_row pgwarden.response_actions;
  v_outcome text;
  v_reason text;
BEGIN
  LOCK TABLE pgwarden.response_locks IN SHARE ROW EXCLUSIVE MODE;
  SELECT l.* INTO v_lock FROM pgwarden.response_locks l WHERE l.id = p_lock_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF v_lock.lifted_at IS NOT NULL THEN
    RETURN pgwarden.response_recorded(v_lock.response_id || ':unlock', 'unlock_role');
  END IF;
  SELECT o.oid, o.rolname::text AS name, o.rolcanlogin INTO r FROM pg_catalog.pg_roles o WHERE o.oid = v_lock.role_oid;
  IF NOT FOUND THEN
    v_outcome := 'noop'; v_reason := pg_catalog.format('role %I (OID %s) was dropped while locked', v_lock.role_name, v_lock.role_oid);
  ELSIF r.rolcanlogin THEN
    v_outcome := 'noop'; v_reason := pg_catalog.format('role %I is LOGIN already (someone else lifted it)', r.name);
  ELSIF v_lock.role_version IS NULL OR pgwarden.response_role_version(r.oid) IS DISTINCT FROM v_lock.role_version THEN
    v_outcome := 'noop'; v_reason := pg_catalog.format('role %I altered since the lock: left NOLOGIN (an admin decides)', r.name);
  ELSE
    BEGIN
      EXECUTE pg_catalog.format('ALTER ROLE %I LOGIN', r.name);
      v_outcome := 'done';
      -- (A rename changes the row's version too: the role has the name it was locked under.)
      v_reason := pg_catalog.format('ALTER ROLE %I LOGIN (%s)', r.name, COALESCE(p_how, 'lifted'));
    EXCEPTION WHEN insufficient_privilege THEN
      INSERT INTO pgwarden.response_actions (response_id, action, outcome, role_name, role_oid, until, reason)
      VALUES (v_lock.response_id || ':unlock-refused:' || pg_catalog.clock_timestamp()::text, 'unlock_role', 'refused', r.name, r.oid, v_lock.until,
              pg_catalog.format('the server refused to unlock role %I: %s (the lock stays; the next lift tries again)', r.name, SQLERRM))
      RETURNING * INTO v_row;
      RETURN v_row;
    END;
  END IF;
  UPDATE pgwarden.response_locks SET lifted_at = pg_catalog.clock_timestamp(), lifted_how = COALESCE(p_how, 'lifted') WHERE id = v_lock.id;
  INSERT INTO pgwarden.response_actions (response_id, action, outcome, role_name, role_oid, until, reason)
  VALUES (v_lock.response_id || ':unlock', 'unlock_role', v_outcome, COALESCE(r.name, v_lock.role_name), v_lock.role_oid, v_lock.until, v_reason)
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;

-- Every lock whose time has come, lifted: run by every pgwarden process that responds, at its
-- start and on its timer, and by `pgwarden detect responses lift-expired` (cron, systemd timer).
CREATE OR REPLACE FUNCTION pgwarden_responder.lift_expired()
RETURNS SETOF pgwarden.response_actions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_id bigint;
  v_row pgwarden.response_actions;
BEGIN
  FOR v_id IN SELECT l.id FROM pgwarden.response_locks l WHERE l.lifted_at IS NULL AND l.until <= pg_catalog.now() ORDER BY l.until, l.id LOOP
    -- Each lift in its own subtransaction: one that fails leaves its lock open (the next run
    -- tries again) and never stops the others.
    BEGIN
      v_row := pgwarden_responder.unlock_role(v_id, 'expired');
      IF v_row.id IS NOT NULL THEN
        RETURN NEXT v_row;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'pgwarden: lock % was not lifted: % (SQLSTATE %); the next lift tries again', v_id, SQLERRM, SQLSTATE;
    END;
  END LOOP;
END
$$;

ALTER FUNCTION pgwarden_responder.lock_role(text, text, interval, boolean, jsonb) OWNER TO pgwarden_responder;
ALTER FUNCTION pgwarden_responder.unlock_role(bigint, text) OWNER TO pgwarden_responder;
ALTER FUNCTION pgwarden_responder.lift_expired() OWNER TO pgwarden_responder;
-- The grants follow from install (src/sensors/responder.ts), through pgwarden.ddl_own_execute(),
-- so that the DDL audit knows them for pgwarden's own.
