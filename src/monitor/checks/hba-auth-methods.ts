import { namedOrCounted } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// trust over the network lets anyone in as anyone (critical, value 2); trust on the local
// socket lets any OS user in as any role, and password sends it in clear text (warning, 1);
// a line the server cannot parse is a warning too.
// Lines (file paths, addresses) are named only with --show-names; otherwise counted by kind.
const body = (where: string) => namedOrCounted(`SELECT (${where} || ':' || h.line_number)::text,
        CASE WHEN h.error IS NOT NULL THEN 1 WHEN h.auth_method = 'trust' AND h.type <> 'local' THEN 2 ELSE 1 END,
        CASE WHEN h.error IS NOT NULL THEN 'line cannot be parsed: ' || h.error
             ELSE h.type || ' ' || pg_catalog.array_to_string(h.database, ',') || ' ' || pg_catalog.array_to_string(h.user_name, ',')
               || COALESCE(' ' || h.address, '') || COALESCE('/' || h.netmask, '') || ' ' || h.auth_method END,
        CASE WHEN h.error IS NOT NULL THEN 'unparsable line' WHEN h.auth_method = 'password' THEN 'password (clear text)'
             WHEN h.type = 'local' THEN 'trust on the local socket' ELSE 'trust over the network' END,
        pg_catalog.jsonb_build_object('type', h.type, 'auth_method', h.auth_method, 'address', h.address)
      FROM pg_catalog.pg_hba_file_rules h
      WHERE h.error IS NOT NULL OR h.auth_method IN ('trust', 'password')`, 'pg_hba.conf line(s)');

export const hbaAuthMethods: CheckDefinition = {
  name: 'hba_auth_methods',
  category: 'security',
  scope: 'cluster',
  description: 'pg_hba.conf lines with trust (critical over the network) or password (clear text) authentication, or errors',
  unit: 'count',
  thresholds: { warning: 1, critical: 2, direction: 'above' },
  emptyDetail: 'no trust or password line in pg_hba.conf',
  sql: [
    { minVersion: 100000, language: 'sql', body: body(`'pg_hba.conf'`) },
    // PostgreSQL 16 supports included files and names the file of each line.
    { minVersion: 160000, language: 'sql', body: body('h.file_name') },
  ],
};
