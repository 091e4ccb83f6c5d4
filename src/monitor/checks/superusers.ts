import { namedOrCounted } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Every superuser, and what changed: the first run records the current superusers as the
// baseline; a role that becomes superuser later is critical (value 2), one that stops being
// superuser a warning (value 1), each for hold_hours so that a missed run does not hide it.
// State lives in pgwarden_monitor.superuser_changes; a standby reads it without writing.
// hold_hours comes from the caller and only changes what is shown: records of removals are
// kept for 30 days whatever it says, so the monitoring login cannot erase them. Named only with
// --show-names; otherwise one row counts them (its value the worst change).
export const superusers: CheckDefinition = {
  name: 'superusers',
  category: 'security',
  scope: 'cluster',
  description: 'superuser roles; critical when one was added, warning when one was removed, for hold_hours after the change',
  unit: 'count',
  thresholds: { warning: 1, critical: 2, direction: 'above' },
  params: { hold_hours: 24 },
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `
DECLARE
  v_hold interval := pg_catalog.make_interval(hours => LEAST(GREATEST(COALESCE((params ->> 'hold_hours')::integer, 24), 0), 720));
  v_seeded boolean;
BEGIN
  IF NOT pg_catalog.pg_is_in_recovery() THEN
    -- Serialise concurrent runs: the first one seeds the baseline.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgwarden_monitor.superusers'));
    v_seeded := EXISTS (SELECT 1 FROM pgwarden_monitor.superuser_changes);
    INSERT INTO pgwarden_monitor.superuser_changes AS c (role_name, since, baseline)
      SELECT r.rolname, pg_catalog.now(), NOT v_seeded FROM pg_catalog.pg_roles r WHERE r.rolsuper
      ON CONFLICT (role_name) DO UPDATE SET since = pg_catalog.now(), removed_at = NULL, baseline = false
        WHERE c.removed_at IS NOT NULL;
    UPDATE pgwarden_monitor.superuser_changes c SET removed_at = pg_catalog.now()
      WHERE c.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = c.role_name AND r.rolsuper);
    DELETE FROM pgwarden_monitor.superuser_changes c WHERE c.removed_at < pg_catalog.now() - interval '30 days';
  END IF;
  RETURN QUERY ${namedOrCounted(`
    SELECT r.rolname::text,
      CASE WHEN c.baseline IS NOT FALSE OR c.since < pg_catalog.now() - v_hold THEN 0 ELSE 2 END,
      CASE WHEN c.baseline IS NOT FALSE OR c.since < pg_catalog.now() - v_hold THEN 'superuser'
           ELSE 'became superuser at ' || c.since END::text,
      CASE WHEN c.baseline IS NOT FALSE OR c.since < pg_catalog.now() - v_hold THEN 'superuser' ELSE 'one added within hold_hours' END,
      pg_catalog.jsonb_build_object('since', c.since, 'can_login', r.rolcanlogin)
    FROM pg_catalog.pg_roles r
    LEFT JOIN pgwarden_monitor.superuser_changes c ON c.role_name = r.rolname AND c.removed_at IS NULL
    WHERE r.rolsuper
    UNION ALL
    SELECT c.role_name::text, 1, ('no longer a superuser since ' || c.removed_at)::text, 'one removed within hold_hours',
      pg_catalog.jsonb_build_object('removed_at', c.removed_at)
    FROM pgwarden_monitor.superuser_changes c
    WHERE c.removed_at >= pg_catalog.now() - v_hold AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = c.role_name AND r.rolsuper)`, 'superuser role(s)')};
END`,
  }],
};
