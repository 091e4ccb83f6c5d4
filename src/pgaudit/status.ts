// What pgAudit looks like on a server: preload, extension, settings and their overrides, the
// object-audit role and its grants. Read-only.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { serverPrefixWarning } from '../logs/index.ts';
import { PGAUDIT_SETTINGS, isPgauditLibrary, preloadList } from './classes.ts';

export interface PreloadState {
  /** The running value of shared_preload_libraries (null when this role may not read it). */
  shared_preload_libraries: string | null;
  /** pgAudit's settings exist in this server: the library is loaded. */
  loaded: boolean;
  /** The config files name pgaudit but the server has not been restarted since. */
  pending_restart: boolean;
  /** The pgaudit extension the server's installation offers (null: the package is not installed). */
  available_version: string | null;
  config_file: string | null;
  /** shared_preload_libraries as the config files set it now (null: unset there, or not readable). */
  file_value: string | null;
  /** Library names in the config files that contain a comma: one quoted list ('a,b' given to ALTER SYSTEM), which stops the next start. */
  broken_names: string[];
}

export interface DatabaseExtension { database: string; extension_version: string | null }
export interface SettingRow { name: string; value: string | null; source: string | null; server_value: string | null }
export interface OverrideRow { database: string | null; role: string | null; name: string; value: string }
export interface GrantRow { database: string; object: string; column: string | null; privilege: string }

export interface PgauditStatus {
  server_version: string;
  preload: PreloadState;
  extension: DatabaseExtension[];
  settings: SettingRow[];
  overrides: OverrideRow[];
  auditor: { role: string | null; exists: boolean; can_login: boolean | null; grants: GrantRow[] };
  /** What to change, when something is missing (empty when pgAudit is ready). */
  advice: string[];
}

async function readable(client: pg.Client, name: string): Promise<string | null> {
  const { rows } = await client.query<{ value: string | null }>(
    `${SQL_TAG}SELECT pg_catalog.current_setting($1, true) AS value`, [name]).catch(() => ({ rows: [{ value: null }] }));
  return rows[0]?.value ?? null;
}

export async function readPreload(client: pg.Client): Promise<PreloadState> {
  const shared = await readable(client, 'shared_preload_libraries');
  const { rows: loadedRows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_settings WHERE name = 'pgaudit.log'`);
  const { rows: available } = await client.query<{ default_version: string }>(
    `${SQL_TAG}SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'pgaudit'`);
  // pg_file_settings needs a superuser or pg_read_all_settings; without it we cannot see a pending restart.
  // A changed postmaster setting carries error 'setting could not be applied' there until the restart.
  let fileValue: string | null = null;
  try {
    const { rows } = await client.query<{ setting: string }>(
      `${SQL_TAG}SELECT setting FROM pg_catalog.pg_file_settings
        WHERE name = 'shared_preload_libraries' ORDER BY seqno DESC LIMIT 1`);
    fileValue = rows[0]?.setting ?? null;
  } catch {
    fileValue = null;
  }
  const fileList = fileValue === null ? [] : preloadList(fileValue);
  return {
    shared_preload_libraries: shared,
    loaded: loadedRows.length > 0,
    pending_restart: fileList.some(isPgauditLibrary) && loadedRows.length === 0,
    file_value: fileValue,
    broken_names: fileList.filter((name) => name.includes(',')),
    available_version: available[0]?.default_version ?? null,
    config_file: await readable(client, 'config_file'),
  };
}

/** The exact change to make when pgAudit is not loaded (pgwarden never makes it: it needs a restart). */
export function preloadAdvice(preload: PreloadState, majorVersion: string): string[] {
  const advice: string[] = [];
  for (const name of preload.broken_names) {
    advice.push(`DANGER: shared_preload_libraries in the config files names one library "${name}" (a list given to ALTER SYSTEM as one string is stored as one quoted name): PostgreSQL will fail to start at the next restart. Fix it first: ALTER SYSTEM SET shared_preload_libraries = ${sqlList(name.split(',').map((n) => n.trim()).filter((n) => n !== ''))};`);
  }
  if (preload.loaded) return advice;
  if (preload.available_version === null) {
    advice.push(`pgAudit is not installed on the server: install the package first (Debian/Ubuntu: apt-get install postgresql-${majorVersion}-pgaudit; RHEL with the PGDG repository: the pgaudit package for PostgreSQL ${majorVersion}).`);
  }
  if (preload.pending_restart) {
    advice.push('pgaudit is in shared_preload_libraries in the config files, but the server has not been restarted since: restart PostgreSQL (a reload is not enough).');
    return advice;
  }
  if (preload.broken_names.length > 0) return advice;
  const existing = preload.shared_preload_libraries === null ? null : preloadList(preload.shared_preload_libraries);
  const alterSystem = existing === null ? "'<existing>', 'pgaudit' (each library its own quoted string)" : sqlList([...existing, 'pgaudit']);
  const fileValue = existing === null ? '<existing>,pgaudit' : [...existing, 'pgaudit'].join(',');
  const now = preload.shared_preload_libraries === null
    ? '(this role cannot read shared_preload_libraries: run SHOW shared_preload_libraries as a superuser and keep its libraries)'
    : `(now '${preload.shared_preload_libraries}')`;
  advice.push(`pgaudit is not in shared_preload_libraries ${now}. As a superuser run:
    ALTER SYSTEM SET shared_preload_libraries = ${alterSystem};
  or set shared_preload_libraries = '${fileValue.replaceAll("'", "''")}' in ${preload.config_file ?? 'postgresql.conf'},
  then restart PostgreSQL (a reload is not enough). pgwarden never changes shared_preload_libraries itself.`);
  return advice;
}

/** 'a', 'b': the form ALTER SYSTEM needs for a list setting (one string 'a,b' would be one library named "a,b"). */
function sqlList(names: string[]): string {
  return names.map((n) => `'${n.replaceAll("'", "''")}'`).join(', ');
}

export function notLoadedError(preload: PreloadState, majorVersion: string): PgwardenError {
  const advice = preloadAdvice(preload, majorVersion);
  return new PgwardenError('PGW_ERR_PGAUDIT_NOT_LOADED', 'pgAudit is not loaded on this server; nothing was changed', { hint: advice.join('\n  ') });
}

async function extensionIn(client: pg.Client): Promise<DatabaseExtension> {
  const { rows } = await client.query<{ database: string; version: string | null }>(
    `${SQL_TAG}SELECT pg_catalog.current_database() AS database,
            (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgaudit') AS version`);
  return { database: rows[0]!.database, extension_version: rows[0]!.version };
}

async function settingsOf(client: pg.Client): Promise<SettingRow[]> {
  const { rows } = await client.query<{ name: string; setting: string | null; source: string | null; boot_val: string | null }>(
    `${SQL_TAG}SELECT name, setting, source, boot_val FROM pg_catalog.pg_settings WHERE name = ANY($1::text[])`, [[...PGAUDIT_SETTINGS]]);
  const file = new Map<string, string>();
  try {
    const { rows: fileRows } = await client.query<{ name: string; setting: string }>(
      `${SQL_TAG}SELECT DISTINCT ON (name) name, setting FROM pg_catalog.pg_file_settings
        WHERE name = ANY($1::text[]) AND error IS NULL ORDER BY name, seqno DESC`, [[...PGAUDIT_SETTINGS]]);
    for (const row of fileRows) file.set(row.name, row.setting);
  } catch {
    // Without pg_read_all_settings the server value is the one this session sees before overrides.
  }
  const sessionSources = new Set(['database', 'user', 'database user', 'session', 'client']);
  return PGAUDIT_SETTINGS.map((name) => {
    const row = rows.find((r) => r.name === name);
    if (!row) return { name, value: null, source: null, server_value: null };
    const server = sessionSources.has(row.source ?? '') ? (file.get(name) ?? row.boot_val) : row.setting;
    return { name, value: row.setting, source: row.source, server_value: server };
  });
}

/** Every pgaudit.* setting a database, a role or a role in a database holds of its own. */
export async function overridesOf(client: pg.Client): Promise<OverrideRow[]> {
  const { rows } = await client.query<{ database: string | null; role: string | null; entry: string }>(
    `${SQL_TAG}SELECT d.datname AS database, r.rolname AS role, e.entry
       FROM pg_catalog.pg_db_role_setting s
       LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
       LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
       CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) AS e(entry)
      WHERE e.entry LIKE 'pgaudit.%'
      ORDER BY d.datname NULLS FIRST, r.rolname NULLS FIRST, e.entry`);
  return rows.map((r) => {
    const at = r.entry.indexOf('=');
    return { database: r.database, role: r.role, name: r.entry.slice(0, at), value: r.entry.slice(at + 1) };
  });
}

/** What a role is granted on relations and their columns in the connected database. */
export async function grantsOf(client: pg.Client, role: string): Promise<GrantRow[]> {
  const { rows } = await client.query<GrantRow>(
    `${SQL_TAG}WITH r AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
     SELECT pg_catalog.current_database() AS database,
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS object,
            NULL::text AS column, a.privilege_type AS privilege
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
      WHERE a.grantee = (SELECT oid FROM r)
     UNION ALL
     SELECT pg_catalog.current_database(),
            pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
            at.attname::text, a.privilege_type
       FROM pg_catalog.pg_attribute at JOIN pg_catalog.pg_class c ON c.oid = at.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL pg_catalog.aclexplode(at.attacl) a
      WHERE a.grantee = (SELECT oid FROM r)
      ORDER BY 2, 3 NULLS FIRST, 4`, [role]);
  return rows;
}

export interface StatusOptions { /** Every connectable database, for the extension and the grants. */ databases?: (work: (client: pg.Client) => Promise<void>) => Promise<void> }

export async function readStatus(client: pg.Client, options: StatusOptions = {}): Promise<PgauditStatus> {
  const { rows: versionRows } = await client.query<{ v: string; major: string }>(
    `${SQL_TAG}SELECT pg_catalog.current_setting('server_version') AS v,
            (pg_catalog.current_setting('server_version_num')::int / 10000)::text AS major`);
  const preload = await readPreload(client);
  const settings = await settingsOf(client);
  const overrides = await overridesOf(client);
  const roleName = settings.find((s) => s.name === 'pgaudit.role')?.value || null;
  let exists = false;
  let canLogin: boolean | null = null;
  if (roleName) {
    const { rows } = await client.query<{ rolcanlogin: boolean }>(
      `${SQL_TAG}SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1`, [roleName]);
    exists = rows.length > 0;
    canLogin = rows[0]?.rolcanlogin ?? null;
  }
  const extension: DatabaseExtension[] = [];
  const grants: GrantRow[] = [];
  const each = async (c: pg.Client) => {
    extension.push(await extensionIn(c));
    if (roleName && exists) grants.push(...await grantsOf(c, roleName));
  };
  if (options.databases) await options.databases(each);
  else await each(client);

  const advice = preloadAdvice(preload, versionRows[0]!.major);
  // Client-chosen text before the severity in stderr logs (see src/logs/sessions.ts).
  const prefixWarning = serverPrefixWarning(await readable(client, 'log_destination'), await readable(client, 'log_line_prefix'));
  if (prefixWarning) advice.push(`stderr logs: ${prefixWarning}.`);
  if (preload.loaded) {
    const missing = extension.filter((e) => e.extension_version === null).map((e) => e.database);
    if (missing.length > 0) {
      advice.push(`the pgaudit extension is not created in ${missing.join(', ')}: without its event triggers DDL records there lack the object type and name. \`pgwarden pgaudit enable\` creates it in the database it changes; elsewhere run CREATE EXTENSION pgaudit in each (in template1, new databases inherit it).`);
    }
    if (roleName && !exists) advice.push(`pgaudit.role names the role "${roleName}", which does not exist: object auditing logs nothing until it does (\`pgwarden pgaudit object\` creates it).`);
    if (canLogin) advice.push(`the object-audit role "${roleName}" can log in: make it NOLOGIN (ALTER ROLE ... NOLOGIN), it only carries grants.`);
  }
  return {
    server_version: versionRows[0]!.v,
    preload,
    extension,
    settings,
    overrides,
    auditor: { role: roleName, exists, can_login: canLogin, grants },
    advice,
  };
}
