import type { CheckDefinition } from '../types.ts';

// Every setting whose value (what RESET gives a session: the configuration file, ALTER SYSTEM,
// command line, database and role defaults) differs from the baseline recorded on the first run,
// plus settings added or gone since (an extension loaded or removed). Named, never valued: some
// settings (primary_conninfo, archive_command) hold what the monitoring login must not read.
// The primary records the baseline (`pgwarden monitor baseline` records it anew); a standby
// cannot write, so it compares with the baseline replicated from the primary: its own settings
// (primary_conninfo, a different port) show as drift there.
const SESSION_SETTINGS = ['application_name', 'client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone', 'extra_float_digits', 'search_path',
  'transaction_isolation', 'transaction_read_only', 'transaction_deferrable', 'role', 'session_authorization'];
const CURRENT = `SELECT s.name, s.reset_val AS value FROM pg_catalog.pg_settings s
       WHERE s.context <> 'internal' AND s.name <> ALL (ARRAY[${SESSION_SETTINGS.map((n) => `'${n}'`).join(', ')}])`;

export const settingsDrift: CheckDefinition = {
  name: 'settings_drift',
  category: 'security',
  scope: 'cluster',
  description: 'settings changed, added or removed since the recorded baseline, by name',
  unit: 'count',
  thresholds: { warning: 1, critical: null, direction: 'above' },
  emptyDetail: 'every setting is as recorded in the baseline',
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `
DECLARE
  v_recorded timestamptz;
BEGIN
  SELECT pg_catalog.min(b.recorded_at) INTO v_recorded FROM pgwarden_monitor.settings_baseline b;
  IF v_recorded IS NULL THEN
    IF pg_catalog.pg_is_in_recovery() THEN
      RETURN QUERY SELECT ''::text, NULL::float8, NULL::text,
        'no settings baseline yet: the primary records it on its first run (a standby cannot write)'::text, NULL::jsonb;
      RETURN;
    END IF;
    -- Serialise concurrent first runs: one records the baseline.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgwarden_monitor.settings_baseline'));
    INSERT INTO pgwarden_monitor.settings_baseline AS b (name, value, recorded_at)
      SELECT c.name, c.value, pg_catalog.now() FROM (${CURRENT}) c
      ON CONFLICT (name) DO NOTHING;
    SELECT pg_catalog.min(b.recorded_at) INTO v_recorded FROM pgwarden_monitor.settings_baseline b;
  END IF;
  RETURN QUERY
    SELECT COALESCE(c.name, b.name)::text, 1::float8,
      (CASE WHEN b.name IS NULL THEN 'new setting since the baseline of '
            WHEN c.name IS NULL THEN 'setting gone since the baseline of '
            ELSE 'changed since the baseline of ' END || v_recorded)::text,
      NULL::text, pg_catalog.jsonb_build_object('baseline_recorded_at', v_recorded)
    FROM (${CURRENT}) c
    FULL JOIN pgwarden_monitor.settings_baseline b ON b.name = c.name
    WHERE c.name IS NULL OR b.name IS NULL OR c.value IS DISTINCT FROM b.value
    ORDER BY 1;
END`,
  }],
};
