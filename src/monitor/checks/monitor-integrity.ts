import { SQL_TAG } from '../../core/db.ts';
import { MONITOR_CALLER_ROLE as CALLER, MONITOR_OWNER_ROLE as OWNER, PINNED_SEARCH_PATH } from '../../core/roles.ts';
import { MONITOR_SCHEMA, functionBody } from '../sql.ts';
import type { CheckDefinition, RawCheckRow } from '../types.ts';

interface ProcRow extends Record<string, unknown> {
  version: number;
  schema: boolean;
  name: string | null;
  signature: string | null;
  source: string | null;
  language: string | null;
  secdef: boolean | null;
  config: string[] | null;
  owner: string | null;
  acl: string[] | null;
}

const HELPERS: Record<string, { secdef: boolean; acl: string[] }> = {
  'pgwarden_monitor.sample_delta(text,text,double precision,boolean)': { secdef: false, acl: [`${OWNER}=X/${OWNER}`] },
};

// The monitor's own functions are what every other check trusts, so this one does not run
// through them: pgwarden reads pg_proc (public to every role) and compares each function with
// what this pgwarden installs for the server's version: body, SECURITY DEFINER, pinned
// search_path, owner and EXECUTE grants. A superuser who swaps a check for one that always
// answers "fine" has to tamper with the monitoring host as well to go unnoticed.
export const monitorIntegrity: CheckDefinition = {
  name: 'monitor_integrity',
  category: 'security',
  scope: 'database',
  description: 'the pgwarden_monitor functions are exactly what pgwarden installed: body, SECURITY DEFINER, search_path, owner, grants',
  unit: 'count',
  thresholds: { warning: null, critical: 1, direction: 'above' },
  emptyDetail: 'every monitor function is as pgwarden installed it',
  sql: [],
  async local(client, { checks }) {
    const { rows } = await client.query<ProcRow>(`${SQL_TAG}WITH v AS (
        SELECT pg_catalog.current_setting('server_version_num')::integer AS version,
               EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1) AS schema)
      SELECT v.version, v.schema, p.proname::text AS name, p.oid::regprocedure::text AS signature, p.prosrc AS source,
             l.lanname::text AS language, p.prosecdef AS secdef, p.proconfig AS config,
             pg_catalog.pg_get_userbyid(p.proowner)::text AS owner, p.proacl::text[] AS acl
        FROM v
        LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = $1
        LEFT JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid
        LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang`, [MONITOR_SCHEMA]);
    const { version, schema } = rows[0]!;
    if (!schema) return [{ item: '', value: null, detail: null, skipped: `schema ${MONITOR_SCHEMA} is not installed in this database`, metadata: null }];
    const findings: RawCheckRow[] = [];
    const found = new Map(rows.filter((r) => r.signature).map((r) => [r.signature!, r]));
    const finding = (item: string, detail: string, metadata: Record<string, unknown> = {}) =>
      findings.push({ item, value: 1, detail, skipped: null, metadata });
    const expectAcl = (row: ProcRow, acl: string[]) => {
      const actual = [...(row.acl ?? [])].sort();
      if (actual.join(' ') !== [...acl].sort().join(' ')) finding(row.signature!, `EXECUTE grants changed: ${actual.join(' ') || 'default (PUBLIC)'}`, { expected: acl, actual });
    };
    for (const check of checks.filter((c) => !c.local)) {
      const signature = `${MONITOR_SCHEMA}.check_${check.name}(jsonb)`;
      const row = found.get(signature);
      found.delete(signature);
      if (!row) {
        finding(signature, 'missing: run `pgwarden monitor install` (this pgwarden expects it)');
        continue;
      }
      const expected = functionBody(check, version);
      if (row.source !== expected.body || row.language !== expected.language) finding(signature, 'definition changed: the function body is not the one pgwarden installs');
      if (!row.secdef) finding(signature, 'no longer SECURITY DEFINER');
      if ((row.config ?? []).join(' ') !== PINNED_SEARCH_PATH) finding(signature, `settings changed: ${(row.config ?? []).join(' ') || 'no search_path'}`);
      if (row.owner !== OWNER) finding(signature, `owner changed to ${row.owner}`);
      expectAcl(row, [`${CALLER}=X/${OWNER}`, `${OWNER}=X/${OWNER}`]);
    }
    for (const [signature, helper] of Object.entries(HELPERS)) {
      const row = found.get(signature);
      found.delete(signature);
      if (!row) {
        finding(signature, 'missing: run `pgwarden monitor install`');
        continue;
      }
      if (row.secdef !== helper.secdef) finding(signature, helper.secdef ? 'no longer SECURITY DEFINER' : 'made SECURITY DEFINER');
      if ((row.config ?? []).join(' ') !== PINNED_SEARCH_PATH) finding(signature, `settings changed: ${(row.config ?? []).join(' ') || 'no search_path'}`);
      if (row.owner !== OWNER) finding(signature, `owner changed to ${row.owner}`);
      expectAcl(row, helper.acl);
    }
    for (const signature of found.keys()) finding(signature, 'not installed by pgwarden: an extra function in the monitor schema');
    return findings.sort((a, b) => (a.item! < b.item! ? -1 : a.item! > b.item! ? 1 : 0));
  },
};
