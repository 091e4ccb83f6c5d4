-- pgwarden sensors, migration 7: the lift of migration 6 runs in a login's own check only.
--   * pgwarden.guard_check() is PUBLIC (session_exec calls it as the connecting role) and records
--     an allowed login in its caller's transaction, so the lift trigger ran in any session that
--     called it: with a lock due, a plain login calling it inside an open transaction took the
--     responder's table lock (responder.sql) and kept it until it ended, and every lock_role
--     waited for it (the advisory-lock DoS of issue 18, back). A backend still in its login has
--     reported no activity yet (pg_stat_activity.state NULL; 'starting' where a server shows it):
--     the login event trigger (17+) and session_exec (14-16) both run there, a client's statement
--     never does (its state is 'active', or 'disabled' under track_activities = off, which only a
--     superuser may set).
--   * A locked role's own open session could hold its pg_authid row (BEGIN; ALTER ROLE itself
--     PASSWORD ...; and wait), and every login's lift then waited 250 ms for it: the row is now
--     taken NOWAIT first, so such a lock is skipped at once (cron's lift-expired waits as before).
--   * PostgreSQL 16+: a lock whose role the responder lost its ADMIN OPTION on (a REVOKE) made
--     every login record a 'refused' unlock row: one row per login. Such a lock is skipped at
--     login (lift-expired still records the refusal, status WARNs about the lock).
-- Runs inside one transaction as a superuser, after migrations 1-6.

CREATE OR REPLACE FUNCTION pgwarden.response_lift_at_login() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_lock record;
  v_lock_timeout text;
BEGIN
  -- Cheapest first: almost every login finds nothing due.
  IF NOT EXISTS (SELECT 1 FROM pgwarden.response_locks l WHERE l.lifted_at IS NULL AND l.until <= pg_catalog.now())
     OR pg_catalog.to_regprocedure('pgwarden_responder.unlock_role(bigint,text)') IS NULL THEN
    RETURN NULL;
  END IF;
  -- Only in a login's own check (see above); read only when a lock is due (it copies every
  -- backend's status).
  IF COALESCE((SELECT s.state FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) s), 'starting') <> 'starting' THEN
    RETURN NULL;
  END IF;
  -- The responder's serialisation lock (responder.sql), without waiting: whoever holds it (a
  -- lock, a lift) lifts what is due, or the next login does.
  BEGIN
    LOCK TABLE pgwarden.response_locks IN SHARE ROW EXCLUSIVE MODE NOWAIT;
  EXCEPTION WHEN lock_not_available THEN
    RETURN NULL;
  END;
  v_lock_timeout := pg_catalog.current_setting('lock_timeout');
  PERFORM pg_catalog.set_config('lock_timeout', '250ms', true);
  FOR v_lock IN SELECT l.id, l.role_oid, l.role_version FROM pgwarden.response_locks l WHERE l.lifted_at IS NULL AND l.until <= pg_catalog.now() ORDER BY l.until, l.id LOOP
    -- Each in its own subtransaction, as lift_expired() does: one that fails stays for the next.
    -- 16+: a lift the server would refuse (the responder's ADMIN OPTION on the role revoked)
    -- is left to cron's lift-expired and status's WARN: unlock_role records each refusal as a
    -- new row, which at every login would fill response_actions.
    IF pg_catalog.current_setting('server_version_num')::int >= 160000
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_authid a WHERE a.oid = v_lock.role_oid AND NOT a.rolcanlogin AND a.xmin::text = v_lock.role_version)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                        WHERE m.roleid = v_lock.role_oid AND m.admin_option
                          AND m.member = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'pgwarden_responder')) THEN
      CONTINUE;
    END IF;
    BEGIN
      -- A row lock changes no xmin (the role's version, see unlock_role): the ALTER ROLE after it
      -- then never waits.
      PERFORM 1 FROM pg_catalog.pg_authid a WHERE a.oid = v_lock.role_oid FOR NO KEY UPDATE NOWAIT;
      PERFORM pgwarden_responder.unlock_role(v_lock.id, 'expired, lifted at a login');
    EXCEPTION WHEN OTHERS THEN
      RAISE LOG 'pgwarden: lock % was not lifted at this login: % (SQLSTATE %); the next login or lift tries again', v_lock.id, SQLERRM, SQLSTATE;
    END;
  END LOOP;
  PERFORM pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  -- Never the login's failure (nor the loss of its record).
  RAISE LOG 'pgwarden: expired locks were not lifted at this login: % (SQLSTATE %)', SQLERRM, SQLSTATE;
  RETURN NULL;
END
$$;

-- Replaced: install records its hash anew.
DELETE FROM pgwarden.function_hashes WHERE signature = 'pgwarden.response_lift_at_login()';
