import { PINNED_SEARCH_PATH } from '../../core/roles.ts';
import type { CheckDefinition } from '../types.ts';

// Tamper detection for the pgwarden sensors, readable by the monitoring login: every
// pgwarden event trigger present and enabled, table triggers in schema pgwarden enabled,
// every pgwarden SECURITY DEFINER function pinned to search_path=pg_catalog, pg_temp.
export const pgwardenTriggers: CheckDefinition = {
  name: 'pgwarden_triggers',
  category: 'security',
  scope: 'database',
  description: 'pgwarden sensors intact: event and table triggers enabled, expected event triggers present, functions pinned',
  unit: 'count',
  thresholds: { warning: null, critical: 1, direction: 'above' },
  emptyDetail: 'every pgwarden trigger is present and enabled, every function pinned',
  sql: [{
    minVersion: 100000,
    language: 'plpgsql',
    body: `
DECLARE
  v_expected text[] := '{}';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgwarden') THEN
    RETURN QUERY SELECT ''::text, NULL::float8, NULL::text, 'the pgwarden sensors are not installed in this database'::text, NULL::jsonb;
    RETURN;
  END IF;
  -- Event triggers the installed sensors create.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'pgwarden' AND c.relname = 'ddl_events') THEN
    v_expected := v_expected || ARRAY['pgwarden_ddl_command_end', 'pgwarden_ddl_sql_drop', 'pgwarden_ddl_table_rewrite'];
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'pgwarden' AND c.relname = 'guard_rules') AND pg_catalog.current_setting('server_version_num')::integer >= 170000 THEN
    v_expected := v_expected || 'pgwarden_guard_login'::text;
  END IF;
  RETURN QUERY
    SELECT ('event trigger ' || e.evtname)::text, 1::float8, 'disabled'::text, NULL::text,
      pg_catalog.jsonb_build_object('event', e.evtevent, 'evtenabled', e.evtenabled::text)
      FROM pg_catalog.pg_event_trigger e WHERE e.evtname LIKE 'pgwarden\\_%' AND e.evtenabled = 'D'
    UNION ALL
    SELECT ('event trigger ' || x.name)::text, 1::float8, 'missing'::text, NULL::text, '{}'::jsonb
      FROM pg_catalog.unnest(v_expected) x(name)
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger e WHERE e.evtname = x.name)
    UNION ALL
    SELECT ('trigger ' || t.tgname || ' on ' || c.oid::regclass::text)::text, 1::float8, 'disabled'::text, NULL::text,
      pg_catalog.jsonb_build_object('tgenabled', t.tgenabled::text)
      FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'pgwarden' AND NOT t.tgisinternal AND t.tgenabled = 'D'
    UNION ALL
    SELECT ('function ' || p.oid::regprocedure::text)::text, 1::float8,
      ('SECURITY DEFINER without ${PINNED_SEARCH_PATH} (has ' || COALESCE(pg_catalog.array_to_string(p.proconfig, ' '), 'no settings') || ')')::text,
      NULL::text, '{}'::jsonb
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'pgwarden' AND p.prosecdef
       -- dblink, when install put it in this schema, is the extension's code, not pgwarden's.
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
       AND NOT COALESCE('${PINNED_SEARCH_PATH}' = ANY (p.proconfig), false)
    ORDER BY 1;
END`,
  }],
};
