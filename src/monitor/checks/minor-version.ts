import type { CheckDefinition } from '../types.ts';

// Minor version currency, offline: how many minor releases the server is behind the newest
// this pgwarden release knows of its major version. The table below is updated with each
// pgwarden release (docs/checks/minor_version.md says from which source); a server newer than
// it is reported as such, never as behind.

/** Release days (upstream announcements, all branches together) and the minor each branch reached. */
export const RELEASES: readonly { date: string; minors: Readonly<Record<number, number>> }[] = [
  { date: '2024-11-14', minors: { 17: 1, 16: 5, 15: 9, 14: 14, 13: 17 } },
  { date: '2024-11-21', minors: { 17: 2, 16: 6, 15: 10, 14: 15, 13: 18 } },
  { date: '2025-02-13', minors: { 17: 3, 16: 7, 15: 11, 14: 16, 13: 19 } },
  { date: '2025-02-20', minors: { 17: 4, 16: 8, 15: 12, 14: 17, 13: 20 } },
  { date: '2025-05-08', minors: { 17: 5, 16: 9, 15: 13, 14: 18, 13: 21 } },
  { date: '2025-08-14', minors: { 17: 6, 16: 10, 15: 14, 14: 19, 13: 22 } },
  { date: '2025-09-25', minors: { 18: 0 } },
  { date: '2025-11-13', minors: { 18: 1, 17: 7, 16: 11, 15: 15, 14: 20, 13: 23 } },
  { date: '2026-02-12', minors: { 18: 2, 17: 8, 16: 12, 15: 16, 14: 21 } },
  { date: '2026-02-26', minors: { 18: 3, 17: 9, 16: 13, 15: 17, 14: 22 } },
  { date: '2026-05-14', minors: { 18: 4, 17: 10, 16: 14, 15: 18, 14: 23 } },
  { date: '2026-08-13', minors: { 18: 5, 17: 11, 16: 15, 15: 19, 14: 24 } },
  { date: '2026-11-12', minors: { 18: 6, 17: 12, 16: 16, 15: 20, 14: 25 } },
];

/** End of community support (the final minor release) per major version. */
export const END_OF_LIFE: Readonly<Record<number, string>> = {
  12: '2024-11-21', 13: '2025-11-13', 14: '2026-11-12', 15: '2027-11-11', 16: '2028-11-09', 17: '2029-11-08', 18: '2030-11-14',
};

const releaseRows = RELEASES.flatMap((r) => Object.entries(r.minors).map(([major, minor]) => `(${major}, ${minor}, DATE '${r.date}')`)).join(', ');
const eolRows = Object.entries(END_OF_LIFE).map(([major, date]) => `(${major}, DATE '${date}')`).join(', ');
const knownUntil = RELEASES.at(-1)!.date;

export const minorVersion: CheckDefinition = {
  name: 'minor_version',
  category: 'security',
  scope: 'cluster',
  description: `minor releases the server is behind the newest of its major version known to this pgwarden (release table of ${knownUntil}; offline)`,
  unit: 'count',
  thresholds: { warning: 1, critical: 3, direction: 'above' },
  sql: [{
    minVersion: 100000,
    language: 'sql',
    body: `WITH releases(major, minor, released) AS (VALUES ${releaseRows}),
    eol(major, until) AS (VALUES ${eolRows}),
    v AS (SELECT pg_catalog.current_setting('server_version_num')::integer / 10000 AS major,
                 pg_catalog.current_setting('server_version_num')::integer % 10000 AS minor),
    newest AS (SELECT r.minor, r.released FROM releases r, v WHERE r.major = v.major ORDER BY r.minor DESC LIMIT 1)
    SELECT ''::text,
      CASE WHEN n.minor IS NULL THEN NULL ELSE GREATEST(n.minor - v.minor, 0) END::float8,
      (CASE WHEN n.minor IS NULL AND v.major > (SELECT pg_catalog.max(r.major) FROM releases r)
              THEN 'PostgreSQL ' || v.major || '.' || v.minor || ' is newer than the releases this pgwarden knows (up to ${knownUntil})'
            WHEN n.minor IS NULL THEN 'PostgreSQL ' || v.major || ' is not in the release table of this pgwarden'
            WHEN v.minor >= n.minor THEN 'PostgreSQL ' || v.major || '.' || v.minor || ' is the newest minor release known (' || n.released || ')'
            ELSE 'PostgreSQL ' || v.major || '.' || v.minor || ' is ' || (n.minor - v.minor) || ' minor release(s) behind ' || v.major || '.' || n.minor
                 || ' (released ' || n.released || ')'
                 || COALESCE(', ' || v.major || '.' || v.minor || ' was released ' || (SELECT r.released FROM releases r WHERE r.major = v.major AND r.minor = v.minor), '') END
       || COALESCE(CASE WHEN e.until <= pg_catalog.now() THEN ', and PostgreSQL ' || v.major || ' is end-of-life since ' || e.until
                        ELSE ', supported until ' || e.until END, ''))::text,
      NULL::text,
      pg_catalog.jsonb_build_object('version', v.major || '.' || v.minor, 'newest', v.major || '.' || n.minor, 'newest_released', n.released,
        'end_of_life', e.until, 'end_of_life_reached', e.until <= pg_catalog.now(), 'known_until', '${knownUntil}')
    FROM v LEFT JOIN newest n ON true LEFT JOIN eol e ON e.major = v.major`,
  }],
};
