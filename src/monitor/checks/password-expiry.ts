import { namedOrCounted } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// Reads rolpassword (whether one is set) from pg_authid; only the fact is returned, never the hash,
// and as a count unless install was given --show-names (who has a password is not public).
export const passwordExpiry: CheckDefinition = {
  name: 'password_expiry',
  category: 'security',
  scope: 'cluster',
  description: 'login roles whose password never expires (no VALID UNTIL, or infinity)',
  unit: 'count',
  thresholds: { warning: 1, critical: null, direction: 'above' },
  emptyDetail: 'every password has an expiry date',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: namedOrCounted(`SELECT a.rolname::text, 1,
        CASE WHEN a.rolvaliduntil IS NULL THEN 'password never expires (no VALID UNTIL)' ELSE 'password valid until infinity' END,
        CASE WHEN a.rolvaliduntil IS NULL THEN 'no VALID UNTIL' ELSE 'valid until infinity' END,
        pg_catalog.jsonb_build_object('superuser', a.rolsuper)
      FROM pg_catalog.pg_authid a
      WHERE a.rolcanlogin AND a.rolpassword IS NOT NULL
        AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil = 'infinity')`, 'login role(s) with a password that never expires'),
  }],
};
