import type { CheckDefinition } from '../types.ts';

// A SECURITY DEFINER function without its own search_path resolves names through the
// caller's: the caller can make it run their code with the owner's rights (critical, 2).
// One whose search_path does not end with pg_temp searches pg_temp first (warning, 1).
export const secdefSearchPath: CheckDefinition = {
  name: 'secdef_search_path',
  category: 'security',
  scope: 'database',
  description: 'SECURITY DEFINER functions in this database without a pinned search_path (or with pg_temp not last)',
  unit: 'count',
  thresholds: { warning: 1, critical: 2, direction: 'above' },
  emptyDetail: 'every SECURITY DEFINER function pins its search_path',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `SELECT p.oid::regprocedure::text,
      CASE WHEN sp.setting IS NULL THEN 2 ELSE 1 END::float8,
      CASE WHEN sp.setting IS NULL THEN 'SECURITY DEFINER without SET search_path'
           ELSE 'search_path "' || sp.setting || '" does not end with pg_temp' END,
      NULL::text,
      pg_catalog.jsonb_build_object('owner', pg_catalog.pg_get_userbyid(p.proowner), 'schema', n.nspname)
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    LEFT JOIN LATERAL (SELECT pg_catalog.substr(c, 13) AS setting FROM pg_catalog.unnest(p.proconfig) c
                        WHERE c LIKE 'search\\_path=%') sp ON true
    WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      -- Functions of an extension are the extension's (e.g. dblink_connect_u, superuser-only).
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
      AND (sp.setting IS NULL OR pg_catalog.replace(sp.setting, ' ', '') !~ '(^|,)"?pg_temp"?$')
    ORDER BY 1`,
  }],
};
