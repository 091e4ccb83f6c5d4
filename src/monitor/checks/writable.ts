import type { CheckDefinition } from '../types.ts';

// A primary must accept a write; a standby is read-only by design and reports so.
export const writable: CheckDefinition = {
  name: 'writable',
  category: 'health',
  scope: 'cluster',
  description: 'a primary accepts a write (a one-row update in pgwarden_monitor); a standby is reported as read-only',
  unit: 'boolean',
  thresholds: { warning: null, critical: 0, direction: 'below' },
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `
BEGIN
  IF pg_catalog.pg_is_in_recovery() THEN
    RETURN QUERY SELECT ''::text, 1::float8, 'standby: read-only, as a standby should be'::text, NULL::text,
      pg_catalog.jsonb_build_object('role', 'standby');
    RETURN;
  END IF;
  BEGIN
    UPDATE pgwarden_monitor.write_probe SET written_at = pg_catalog.clock_timestamp();
    RETURN QUERY SELECT ''::text, 1::float8, 'primary: a write succeeded'::text, NULL::text,
      pg_catalog.jsonb_build_object('role', 'primary');
  EXCEPTION WHEN OTHERS THEN
    RETURN QUERY SELECT ''::text, 0::float8, ('primary: a write failed: ' || SQLERRM)::text, NULL::text,
      pg_catalog.jsonb_build_object('role', 'primary', 'sqlstate', SQLSTATE);
  END;
END`,
  }],
};
