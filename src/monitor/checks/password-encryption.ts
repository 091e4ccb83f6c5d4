import type { CheckDefinition } from '../types.ts';

// The server default, and any per-database or per-role override that weakens it.
export const passwordEncryption: CheckDefinition = {
  name: 'password_encryption',
  category: 'security',
  scope: 'cluster',
  description: 'password_encryption is not scram-sha-256, in the server configuration or a database/role override',
  unit: 'count',
  thresholds: { warning: null, critical: 1, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT ''::text,
      CASE WHEN s.setting = 'scram-sha-256' THEN 0 ELSE 1 END::float8,
      ('password_encryption = ' || s.setting || ' (from ' || s.source || ')')::text, NULL::text,
      pg_catalog.jsonb_build_object('setting', s.setting, 'source', s.source)
    FROM pg_catalog.pg_settings s WHERE s.name = 'password_encryption'
    UNION ALL
    SELECT ('override ' || COALESCE('role ' || r.rolname, 'all roles') || ' in ' || COALESCE('database ' || d.datname, 'all databases'))::text,
      1::float8, ('ALTER ... SET ' || c)::text, NULL::text, '{}'::jsonb
    FROM pg_catalog.pg_db_role_setting s
    CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) c
    LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
    LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
    WHERE c LIKE 'password\\_encryption=%' AND c <> 'password_encryption=scram-sha-256'`,
  }],
};
