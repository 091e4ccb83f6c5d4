import { namedOrCounted } from '../sql.ts';
import type { CheckDefinition } from '../types.ts';

// MD5 hashes can be replayed against md5 pg_hba lines and cracked offline; SCRAM cannot.
// Which roles have a password at all is not public: counted, named only with --show-names.
export const passwordHashes: CheckDefinition = {
  name: 'password_hashes',
  category: 'security',
  scope: 'cluster',
  description: 'roles whose stored password is not a SCRAM-SHA-256 verifier (MD5 or plain text)',
  unit: 'count',
  thresholds: { warning: null, critical: 1, direction: 'above' },
  emptyDetail: 'every stored password is a SCRAM-SHA-256 verifier',
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: namedOrCounted(`SELECT a.rolname::text, 1,
        CASE WHEN a.rolpassword LIKE 'md5%' AND pg_catalog.length(a.rolpassword) = 35 THEN 'password stored as an MD5 hash'
             ELSE 'password stored in an unknown or plain form' END,
        CASE WHEN a.rolpassword LIKE 'md5%' AND pg_catalog.length(a.rolpassword) = 35 THEN 'MD5 hash' ELSE 'plain or unknown form' END,
        pg_catalog.jsonb_build_object('can_login', a.rolcanlogin)
      FROM pg_catalog.pg_authid a
      WHERE a.rolpassword IS NOT NULL AND a.rolpassword NOT LIKE 'SCRAM-SHA-256$%'`, 'role(s) store a password that is not SCRAM'),
  }],
};
