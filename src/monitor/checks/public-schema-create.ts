import type { CheckDefinition } from '../types.ts';

// Anyone who may CREATE in a schema on others' search_path can plant objects that shadow
// theirs (CVE-2018-1058). PostgreSQL 15 stopped granting it on public by default.
export const publicSchemaCreate: CheckDefinition = {
  name: 'public_schema_create',
  category: 'security',
  scope: 'database',
  description: 'schemas of this database where PUBLIC (every role) may CREATE objects',
  unit: 'count',
  thresholds: { warning: null, critical: 1, direction: 'above' },
  emptyDetail: 'no schema lets every role create objects',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT n.nspname::text, 1::float8, ('PUBLIC may CREATE in schema ' || n.nspname)::text, NULL::text,
      pg_catalog.jsonb_build_object('owner', pg_catalog.pg_get_userbyid(n.nspowner))
    FROM pg_catalog.pg_namespace n
    CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) acl
    WHERE acl.grantee = 0 AND acl.privilege_type = 'CREATE'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
    ORDER BY 1`,
  }],
};
