import { MONITOR_CALLER_ROLE } from '../../core/roles.ts';
import type { CheckDefinition } from '../types.ts';

// The monitor's promise, checked on every run: the login calling the checks (session_user)
// holds nothing but membership in pgwarden_monitor. A role attribute, any other role
// membership (pg_read_all_data, an application role, ...) or a table of this database it may
// read is a finding. Run by a superuser, it says so.
export const monitorLoginPrivileges: CheckDefinition = {
  name: 'monitor_login_privileges',
  category: 'security',
  scope: 'database',
  description: 'the monitoring login itself holds nothing beyond pgwarden_monitor: no role attribute, other membership or readable table',
  unit: 'count',
  thresholds: { warning: 1, critical: 2, direction: 'above' },
  emptyDetail: 'the monitoring login can run the checks and nothing else',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH me AS (SELECT r.* FROM pg_catalog.pg_roles r WHERE r.rolname = session_user)
    SELECT ('attribute ' || a.attribute)::text, 2::float8,
      (session_user || ' has ' || a.attribute)::text, NULL::text, '{}'::jsonb
    FROM me CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.array_remove(ARRAY[
      CASE WHEN me.rolsuper THEN 'SUPERUSER' END, CASE WHEN me.rolcreaterole THEN 'CREATEROLE' END,
      CASE WHEN me.rolcreatedb THEN 'CREATEDB' END, CASE WHEN me.rolreplication THEN 'REPLICATION' END,
      CASE WHEN me.rolbypassrls THEN 'BYPASSRLS' END], NULL)) AS a(attribute)
    UNION ALL
    SELECT ('member of ' || g.rolname)::text,
      CASE WHEN g.rolsuper OR g.rolname IN ('pg_read_all_data', 'pg_write_all_data', 'pg_read_server_files',
             'pg_write_server_files', 'pg_execute_server_program', 'pg_read_all_stats', 'pg_monitor') THEN 2 ELSE 1 END::float8,
      (session_user || ' is a member of ' || g.rolname)::text, NULL::text, '{}'::jsonb
    FROM me JOIN pg_catalog.pg_roles g ON g.oid <> me.oid AND g.rolname <> '${MONITOR_CALLER_ROLE}'
    WHERE pg_catalog.pg_has_role(me.oid, g.oid, 'MEMBER')
    UNION ALL
    SELECT ('table ' || c.oid::regclass::text)::text, 1::float8,
      (session_user || ' may read ' || c.oid::regclass::text)::text, NULL::text, '{}'::jsonb
    FROM me CROSS JOIN pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
      AND pg_catalog.has_any_column_privilege(me.oid, c.oid, 'SELECT')
    ORDER BY 1`,
  }],
};
