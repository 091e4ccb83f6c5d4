-- pgwarden sensors, migration 6: a lock ends on time with no pgwarden process running (issue 18).
--   * PostgreSQL runs nothing on a timer, and a NOLOGIN role's own login is refused before any
--     hook. What does run with no pgwarden process is the connection guard's login check of
--     every other login (the login event trigger on 17+, session_exec on 14-16), which records
--     each allowed login — a superuser's and pgwarden's own included — in
--     pgwarden.connection_attempts. A statement trigger on that table (made by install after the
--     migrations, like the response tables' write check) lifts the locks whose time has come:
--     the first recorded login at or after a lock's end ends it, after a restart too.
--   * The lift is pgwarden_responder.unlock_role(), with every check it makes for cron's lift
--     (the role unchanged since the lock, or it stays NOLOGIN): a login chooses nothing. It can
--     neither lift a lock early (the end is compared with the login's own now()) nor extend one
--     (it writes no end). It never makes a login wait or fail: another lift or lock in progress
--     is left to do it, lock waits are bounded, and any error is a LOG line.
-- Runs inside one transaction as a superuser, after migrations 1-5.

-- The locks due: one index probe per recorded login finds none (open locks are few).
CREATE INDEX response_locks_due ON pgwarden.response_locks (until) WHERE lifted_at IS NULL;

-- Owned by install's superuser (it calls the responder's unlock, which needs the responder's
-- CREATEROLE and, on 16+, its ADMIN OPTION: the ALTER ROLE runs as pgwarden_responder).
CREATE FUNCTION pgwarden.response_lift_at_login() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_id bigint;
  v_lock_timeout text;
BEGIN
  -- Cheapest first: almost every login finds nothing due.
  IF NOT EXISTS (SELECT 1 FROM pgwarden.response_locks l WHERE l.lifted_at IS NULL AND l.until <= pg_catalog.now())
     OR pg_catalog.to_regprocedure('pgwarden_responder.unlock_role(bigint,text)') IS NULL THEN
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
  FOR v_id IN SELECT l.id FROM pgwarden.response_locks l WHERE l.lifted_at IS NULL AND l.until <= pg_catalog.now() ORDER BY l.until, l.id LOOP
    -- Each in its own subtransaction, as lift_expired() does: one that fails stays for the next.
    BEGIN
      PERFORM pgwarden_responder.unlock_role(v_id, 'expired, lifted at a login');
    EXCEPTION WHEN OTHERS THEN
      RAISE LOG 'pgwarden: lock % was not lifted at this login: % (SQLSTATE %); the next login or lift tries again', v_id, SQLERRM, SQLSTATE;
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

-- No GRANT or REVOKE here (see migration 5): install revokes PUBLIC's EXECUTE on every routine
-- of the schema; a trigger function is called by its trigger alone anyway.
