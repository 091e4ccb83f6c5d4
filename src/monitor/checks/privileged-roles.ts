import { namedOrCounted } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Non-superusers holding powers close to superuser: server file and program access is
// critical (value 2: a short step to superuser); CREATEROLE, REPLICATION, BYPASSRLS a warning (1).
export const privilegedRoles: CheckDefinition = {
  name: 'privileged_roles',
  category: 'security',
  scope: 'cluster',
  description: 'non-superuser roles with CREATEROLE, REPLICATION, BYPASSRLS, or server file/program access',
  unit: 'count',
  thresholds: { warning: 1, critical: 2, direction: 'above' },
  emptyDetail: 'no non-superuser role holds near-superuser powers',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: namedOrCounted(`WITH p AS (
      SELECT r.rolname,
        pg_catalog.array_remove(ARRAY[
          CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
          CASE WHEN r.rolreplication THEN 'REPLICATION' END,
          CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END], NULL) AS attributes,
        ARRAY(SELECT g.rolname::text FROM pg_catalog.pg_roles g
               WHERE g.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program')
                 AND pg_catalog.pg_has_role(r.oid, g.oid, 'USAGE') ORDER BY 1) AS server_roles
      FROM pg_catalog.pg_roles r
      WHERE NOT r.rolsuper AND r.rolname !~ '^pg_')
    SELECT p.rolname::text,
      CASE WHEN pg_catalog.cardinality(p.server_roles) > 0 THEN 2 ELSE 1 END,
      pg_catalog.array_to_string(p.attributes || p.server_roles, ', '),
      pg_catalog.array_to_string(p.attributes || p.server_roles, ', '),
      pg_catalog.jsonb_build_object('attributes', p.attributes, 'server_access', p.server_roles)
    FROM p WHERE pg_catalog.cardinality(p.attributes) > 0 OR pg_catalog.cardinality(p.server_roles) > 0`, 'non-superuser role(s) with'),
  }],
};
