-- Applied by every `monitor install` after the migrations: what install puts back as pgwarden
-- made it (grants, owners, the helper function), so that running install again repairs a change.
-- The role names and the pinned search_path are src/core/roles.ts's; monitor_integrity holds the
-- installed helper to them, so a name changed there and not here fails test/monitor.
REVOKE ALL ON SCHEMA pgwarden_monitor FROM PUBLIC;
GRANT USAGE ON SCHEMA pgwarden_monitor TO pgwarden_monitor, pgwarden_monitor_owner;
-- Previous values of counters, for rates and changes since the last run, per caller (the login
-- that ran the check): another member of pgwarden_monitor calling a check in between does not
-- reset yours. Recreated by every install (rates start again with a first sample).
DROP TABLE IF EXISTS pgwarden_monitor.samples;
CREATE TABLE pgwarden_monitor.samples (
  caller name NOT NULL,
  check_name text NOT NULL,
  item text NOT NULL,
  ts timestamptz NOT NULL,
  value double precision NOT NULL,
  PRIMARY KEY (caller, check_name, item)
);
INSERT INTO pgwarden_monitor.write_probe DEFAULT VALUES ON CONFLICT DO NOTHING;
REVOKE ALL ON ALL TABLES IN SCHEMA pgwarden_monitor FROM PUBLIC, pgwarden_monitor;
ALTER TABLE pgwarden_monitor.samples OWNER TO pgwarden_monitor_owner;
ALTER TABLE pgwarden_monitor.superuser_changes OWNER TO pgwarden_monitor_owner;
ALTER TABLE pgwarden_monitor.write_probe OWNER TO pgwarden_monitor_owner;
ALTER TABLE pgwarden_monitor.installed OWNER TO pgwarden_monitor_owner;
ALTER TABLE pgwarden_monitor.settings_baseline OWNER TO pgwarden_monitor_owner;

-- Change of a sampled value since the same caller's previous call (NULL on the first call, for
-- a counter that went down: statistics were reset, and on a standby, which can store no sample
-- and whose counters are not the primary's). Not SECURITY DEFINER: it runs as the owner inside
-- the check functions, where session_user is the calling login; nobody else may execute it.
CREATE OR REPLACE FUNCTION pgwarden_monitor.sample_delta(p_check text, p_item text, p_value double precision, p_counter boolean,
  OUT delta double precision, OUT seconds double precision)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_prev record;
  v_now timestamptz := pg_catalog.clock_timestamp();
BEGIN
  IF pg_catalog.pg_is_in_recovery() THEN
    RETURN;
  END IF;
  SELECT s.value, s.ts INTO v_prev FROM pgwarden_monitor.samples s
   WHERE s.caller = session_user AND s.check_name = p_check AND s.item = p_item;
  IF p_value IS NOT NULL THEN
    BEGIN
      INSERT INTO pgwarden_monitor.samples AS s (caller, check_name, item, ts, value) VALUES (session_user, p_check, p_item, v_now, p_value)
        ON CONFLICT (caller, check_name, item) DO UPDATE SET ts = excluded.ts, value = excluded.value;
      -- Items that disappeared (a dropped database) do not stay forever.
      DELETE FROM pgwarden_monitor.samples s WHERE s.check_name = p_check AND s.ts < v_now - interval '7 days';
    EXCEPTION WHEN read_only_sql_transaction THEN
      NULL; -- a read-only session still gets the change since its last stored sample
    END;
  END IF;
  IF v_prev.ts IS NOT NULL AND p_value IS NOT NULL AND (NOT p_counter OR p_value >= v_prev.value) THEN
    delta := p_value - v_prev.value;
    seconds := EXTRACT(epoch FROM v_now - v_prev.ts);
  END IF;
END $fn$;
ALTER FUNCTION pgwarden_monitor.sample_delta(text, text, double precision, boolean) OWNER TO pgwarden_monitor_owner;
REVOKE ALL ON FUNCTION pgwarden_monitor.sample_delta(text, text, double precision, boolean) FROM PUBLIC;
