// Installs the secure-monitoring schema: one SECURITY DEFINER function per check, owned by a
// NOLOGIN owner role with exactly the read rights the checks need, executable only by the
// pgwarden_monitor group role, which the monitoring login joins. The login itself gets
// nothing else: no table, no catalog secret, no helper function.
import type pg from 'pg';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { PgwardenError, classifyError } from '../core/errors.ts';
import { MONITOR_CALLER_ROLE, MONITOR_OWNER_ROLE } from '../core/roles.ts';
import { appliedVersion, migrationStatements, pendingLabels } from '../core/migrations.ts';
import { PGWARDEN_VERSION } from '../core/version.ts';
import { CHECKS } from './checks/index.ts';
import { KEY_COLUMNS } from './checks/sequence-exhaustion.ts';
import { MONITOR_BOOTSTRAP_SQL, MONITOR_INSTALL_SQL, MONITOR_LATEST_VERSION, MONITOR_MIGRATIONS, MONITOR_MIGRATIONS_TABLE } from './migrations.ts';
import { MONITOR_SCHEMA, functionName, functionSql, pickVariant } from './sql.ts';
import type { CheckDefinition } from './types.ts';
import { dropUnusedRoles, EXPECTED_GRANTS, type DroppedRole } from '../sensors/index.ts';

export { MONITOR_SCHEMA, functionBody, functionName, functionSql, pickVariant } from './sql.ts';

/** pg_authid columns the password checks read (never returned to the caller). */
const AUTHID_COLUMNS = 'rolname, rolsuper, rolcanlogin, rolpassword, rolvaliduntil';
/** pg_statistic columns the bloat check reads: null fraction and width, never the sampled values. */
const STATISTIC_COLUMNS = 'starelid, staattnum, stainherit, stanullfrac, stawidth';
/** Every schema whose sequences sequence_exhaustion reads (SELECT on a sequence shows its position only). */
const SEQUENCE_SCHEMAS = `SELECT n.nspname FROM pg_catalog.pg_namespace n
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '${MONITOR_SCHEMA}') AND n.nspname !~ '^pg_(toast|temp)'`;

function sequenceGrants(verb: 'GRANT' | 'REVOKE'): string {
  const clause = verb === 'GRANT' ? `GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO ${MONITOR_OWNER_ROLE}` : `REVOKE SELECT ON ALL SEQUENCES IN SCHEMA %I FROM ${MONITOR_OWNER_ROLE}`;
  return `DO $$ DECLARE v_schema name; BEGIN
  FOR v_schema IN ${SEQUENCE_SCHEMAS} LOOP EXECUTE pg_catalog.format('${clause}', v_schema); END LOOP; END $$`;
}
/**
 * SELECT on the integer key columns sequence_exhaustion measures with max()/min() (the column
 * only, never the table; not on a table with row-level security). Revoked column by column: every
 * column grant the owner holds outside the catalogs, so keys dropped since install go too.
 */
const KEY_GRANTS = `DO $$ DECLARE v_key record; BEGIN
  FOR v_key IN SELECT k.rel::pg_catalog.regclass AS rel, k.attname FROM (${KEY_COLUMNS}) k WHERE NOT k.rls LOOP
    EXECUTE pg_catalog.format('GRANT SELECT (%I) ON %s TO ${MONITOR_OWNER_ROLE}', v_key.attname, v_key.rel);
  END LOOP; END $$`;
const KEY_REVOKES = `DO $$ DECLARE v_col record; BEGIN
  FOR v_col IN SELECT a.attrelid::pg_catalog.regclass AS rel, a.attname
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, pg_catalog.aclexplode(a.attacl) g
     WHERE a.attacl IS NOT NULL AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', '${MONITOR_SCHEMA}')
       AND g.grantee = '${MONITOR_OWNER_ROLE}'::pg_catalog.regrole AND g.privilege_type = 'SELECT' LOOP
    EXECUTE pg_catalog.format('REVOKE SELECT (%I) ON %s FROM ${MONITOR_OWNER_ROLE}', v_col.attname, v_col.rel);
  END LOOP; END $$`;
/**
 * Columns of pgwarden sensor tables the security checks count; never the recorder's password
 * table. The sensors' manifest lists them (status holds them as expected), so they are read from it.
 */
const SENSOR_GRANTS: readonly { table: string; columns: string }[] = EXPECTED_GRANTS
  .filter((g) => g.grantee === MONITOR_OWNER_ROLE && g.object.startsWith('TABLE ') && g.columns)
  .map((g) => ({ table: g.object.slice('TABLE '.length), columns: g.columns!.join(', ') }));

/** The checks that are SQL functions (all but the local ones). */
export function functionChecks(): CheckDefinition[] {
  return CHECKS.filter((c) => !c.local);
}

/** A statement of the plan as `--dry-run` prints it (each followed by one ";"). */
const statement = (sql: string) => sql.trim().replace(/;$/, '');

export interface MonitorInstallResult {
  database: string;
  serverVersionNum: number;
  checks: number;
  /** Checks installed as "skipped" because the server is too old for them. */
  unsupported: string[];
  login: string;
  /** The migrations this install applied (`0001-schema`), none when the schema was up to date. */
  migrations: string[];
}

async function requireSuperuser(client: pg.Client, what: string): Promise<void> {
  const { rows } = await client.query<{ rolsuper: boolean; current_user: string }>(
    `${SQL_TAG}SELECT rolsuper, current_user FROM pg_catalog.pg_roles WHERE rolname = current_user`);
  if (!rows[0]?.rolsuper) {
    throw new PgwardenError('PGW_ERR_PRIVILEGE', `${what} needs a superuser; "${rows[0]?.current_user ?? '?'}" is not one`);
  }
}

/** The monitoring login must exist, log in, and hold no power the monitor is meant to avoid. */
export async function validateLogin(client: pg.Client, login: string): Promise<void> {
  const { rows } = await client.query<{ rolsuper: boolean; rolcanlogin: boolean; rolbypassrls: boolean }>(
    `${SQL_TAG}SELECT rolsuper, rolcanlogin, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = $1`, [login]);
  const role = rows[0];
  if (!role) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--user "${login}": no such role; create it first (CREATE ROLE ${client.escapeIdentifier(login)} LOGIN, then \\password ${client.escapeIdentifier(login)} in psql)`);
  }
  if (role.rolsuper || role.rolbypassrls) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--user "${login}" is a ${role.rolsuper ? 'superuser' : 'BYPASSRLS role'}; the monitoring login must be an unprivileged role`);
  }
  if (!role.rolcanlogin) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--user "${login}" cannot log in (NOLOGIN); give it LOGIN or name another role`);
  }
}

export interface MonitorInstallPlan {
  database: string;
  serverVersionNum: number;
  unsupported: string[];
  migrations: string[];
  /** The statements install runs, in order, in one transaction. */
  statements: string[];
}

/**
 * What install would run in the connected database: read-only lookups (server version, which
 * pgwarden sensor tables exist, which check functions a previous version left), then the
 * statements. `--dry-run` prints them; install runs them.
 */
export interface MonitorInstallOptions {
  /** Custom checks from pgwarden.yaml (monitor.custom_checks), installed beside the registry's. */
  customChecks?: readonly CheckDefinition[];
  /** Role names, pg_hba lines and client addresses in results; default: counts only. */
  showNames?: boolean;
}

/** Tables the custom checks read, as this server spells them (a missing one is an error). */
async function customReads(client: pg.Client, checks: readonly CheckDefinition[]): Promise<string[]> {
  const tables: string[] = [];
  for (const check of checks) {
    for (const table of check.reads ?? []) {
      const { rows } = await client.query<{ name: string | null }>(`${SQL_TAG}SELECT pg_catalog.to_regclass($1)::text AS name`, [table]);
      if (!rows[0]!.name) throw new PgwardenError('PGW_ERR_CONFIG', `monitor.custom_checks.${check.name}.reads: no table "${table}" in database ${await currentDatabase(client)}`);
      tables.push(rows[0]!.name);
    }
  }
  return [...new Set(tables)].sort();
}

async function currentDatabase(client: pg.Client): Promise<string> {
  return (await client.query<{ db: string }>(`${SQL_TAG}SELECT pg_catalog.current_database() AS db`)).rows[0]!.db;
}

/** Custom reads a previous install granted (recorded in installed.custom_reads, when that exists). */
async function previousReads(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ present: boolean }>(`${SQL_TAG}SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
      WHERE attrelid = pg_catalog.to_regclass('${MONITOR_SCHEMA}.installed') AND attname = 'custom_reads' AND NOT attisdropped) AS present`);
  if (!rows[0]!.present) return [];
  const { rows: installed } = await client.query<{ reads: string[] }>(`${SQL_TAG}SELECT custom_reads AS reads FROM ${MONITOR_SCHEMA}.installed`);
  return installed[0]?.reads ?? [];
}

export async function planMonitorInstall(client: pg.Client, login: string, options: MonitorInstallOptions = {}): Promise<MonitorInstallPlan> {
  await validateLogin(client, login);
  const custom = options.customChecks ?? [];
  const reads = await customReads(client, custom);
  const { rows: info } = await client.query<{ database: string; version: number; sensors: boolean }>(
    `${SQL_TAG}SELECT pg_catalog.current_database() AS database, pg_catalog.current_setting('server_version_num')::integer AS version,
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden') AS sensors`);
  const { database, version, sensors } = info[0]!;
  const statements: string[] = [];
  for (const role of [MONITOR_OWNER_ROLE, MONITOR_CALLER_ROLE]) {
    statements.push(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${role}') THEN
    CREATE ROLE ${role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF; END $$`);
  }
  // Read access to statistics, settings, pg_wal listings; nothing that writes.
  statements.push(`GRANT pg_monitor TO ${MONITOR_OWNER_ROLE}`);
  // The password checks read these columns; catalog ACLs are per database.
  statements.push(`GRANT SELECT (${AUTHID_COLUMNS}) ON pg_catalog.pg_authid TO ${MONITOR_OWNER_ROLE}`);
  statements.push(`GRANT SELECT ON pg_catalog.pg_hba_file_rules TO ${MONITOR_OWNER_ROLE}`);
  statements.push(`GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO ${MONITOR_OWNER_ROLE}`);
  statements.push(`GRANT SELECT (${STATISTIC_COLUMNS}) ON pg_catalog.pg_statistic TO ${MONITOR_OWNER_ROLE}`);
  statements.push(sequenceGrants('GRANT'));
  // What custom checks read: revoke what a previous install granted, grant what this one needs.
  for (const table of await previousReads(client)) {
    statements.push(`DO $$ BEGIN IF pg_catalog.to_regclass(${client.escapeLiteral(table)}) IS NOT NULL THEN REVOKE SELECT ON ${table} FROM ${MONITOR_OWNER_ROLE}; END IF; END $$`);
  }
  for (const table of reads) statements.push(`GRANT SELECT ON ${table} TO ${MONITOR_OWNER_ROLE}`);
  statements.push(KEY_REVOKES, KEY_GRANTS);
  if (sensors) statements.push(`GRANT USAGE ON SCHEMA pgwarden TO ${MONITOR_OWNER_ROLE}`);
  for (const grant of SENSOR_GRANTS) {
    const { rows } = await client.query(`${SQL_TAG}SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present`, [grant.table]);
    if (rows[0]!.present) statements.push(`GRANT SELECT (${grant.columns}) ON ${grant.table} TO ${MONITOR_OWNER_ROLE}`);
  }
  // The schema: its migrations (those this database lacks), then what every install puts back.
  statements.push(statement(MONITOR_BOOTSTRAP_SQL));
  const fromVersion = await appliedVersion(client, MONITOR_SCHEMA);
  if (fromVersion > MONITOR_LATEST_VERSION) {
    throw new PgwardenError('PGW_ERR_SCHEMA_NEWER',
      `database ${database} has monitor schema version ${fromVersion}; this pgwarden (${PGWARDEN_VERSION}) knows up to ${MONITOR_LATEST_VERSION}`);
  }
  statements.push(...migrationStatements(MONITOR_MIGRATIONS_TABLE, MONITOR_MIGRATIONS, fromVersion).map(statement));
  statements.push(statement(MONITOR_INSTALL_SQL));
  // Replace every check function: drop what a previous version made, create the current set.
  const { rows: old } = await client.query<{ signature: string }>(
    `${SQL_TAG}SELECT p.oid::regprocedure::text AS signature FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname LIKE 'check\\_%'`, [MONITOR_SCHEMA]);
  for (const { signature } of old) statements.push(`DROP FUNCTION ${signature}`);
  const unsupported: string[] = [];
  for (const check of [...functionChecks(), ...custom]) {
    if (!pickVariant(check, version)) unsupported.push(check.name);
    const name = functionName(check);
    statements.push(functionSql(check, version));
    statements.push(`ALTER FUNCTION ${name}(jsonb) OWNER TO ${MONITOR_OWNER_ROLE}`);
    statements.push(`REVOKE ALL ON FUNCTION ${name}(jsonb) FROM PUBLIC`);
    statements.push(`GRANT EXECUTE ON FUNCTION ${name}(jsonb) TO ${MONITOR_CALLER_ROLE}`);
  }
  const textArray = (values: readonly string[]) => `ARRAY[${values.map((v) => client.escapeLiteral(v)).join(', ')}]::text[]`;
  statements.push(`INSERT INTO ${MONITOR_SCHEMA}.installed (pgwarden_version, server_version_num, checks, show_names, custom_reads)
  VALUES (${client.escapeLiteral(PGWARDEN_VERSION)}, ${version}, ${textArray([...CHECKS, ...custom].map((c) => c.name))}, ${options.showNames ? 'true' : 'false'}, ${textArray(reads)})
  ON CONFLICT (singleton) DO UPDATE SET pgwarden_version = excluded.pgwarden_version, server_version_num = excluded.server_version_num,
    checks = excluded.checks, show_names = excluded.show_names, custom_reads = excluded.custom_reads,
    installed_at = pg_catalog.now(), installed_by = current_user`);
  statements.push(`GRANT ${MONITOR_CALLER_ROLE} TO ${client.escapeIdentifier(login)}`);
  return { database, serverVersionNum: version, unsupported, migrations: pendingLabels(MONITOR_MIGRATIONS, fromVersion), statements };
}

/** Creates or refreshes the monitor in the connected database, in one transaction. */
export async function installMonitor(client: pg.Client, login: string, options: MonitorInstallOptions = {}): Promise<MonitorInstallResult> {
  await requireSuperuser(client, 'pgwarden monitor install');
  await validateLogin(client, login);
  return inTransaction(client, async () => {
    await client.query(`${SQL_TAG}SET LOCAL log_statement = 'none'`);
    await client.query(`${SQL_TAG}SET LOCAL pgaudit.log = 'none'`);
    await client.query(`${SQL_TAG}SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgwarden_monitor.install'))`);
    const plan = await planMonitorInstall(client, login, options);
    // Recorded by the DDL audit as pgwarden's own change (pgwarden.ddl_own_events, out of alerts and
    // the ddl_changes check) where the sensors are installed: docs/ddl-audit.md.
    const { rows: [own] } = await client.query<{ present: boolean }>(
      `${SQL_TAG}SELECT pg_catalog.to_regprocedure('pgwarden.ddl_own_execute(text)') IS NOT NULL AS present`);
    const { rows: existing } = await client.query<{ rolname: string }>(
      `${SQL_TAG}SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY ($1::text[])`, [[MONITOR_OWNER_ROLE, MONITOR_CALLER_ROLE]]);
    const created = [MONITOR_OWNER_ROLE, MONITOR_CALLER_ROLE].filter((role) => !existing.some((r) => r.rolname === role));
    for (const statement of plan.statements) {
      try {
        if (own!.present) await client.query(`${SQL_TAG}SELECT pgwarden.ddl_own_execute($1)`, [statement]);
        else await client.query(SQL_TAG + statement);
      } catch (error) {
        const classified = classifyError(error);
        throw new PgwardenError(classified.code, `monitor install failed at "${statement.split('\n')[0]}": ${classified.message}`, { cause: error });
      }
    }
    // The roles this run created are pgwarden's own change: the DDL baseline of this database
    // (no event trigger fires for CREATE ROLE) takes them, so the reconciliation does not report
    // them. A role of that name that was there before is not taken (it stays reported if unrecorded).
    if (created.length > 0) {
      await client.query(`${SQL_TAG}DO $$ BEGIN
        -- nested: the inner statements are planned only where the tables exist
        IF pg_catalog.to_regclass('pgwarden.ddl_baseline_info') IS NOT NULL THEN
          IF EXISTS (SELECT 1 FROM pgwarden.ddl_baseline_info) THEN
            INSERT INTO pgwarden.ddl_baseline (kind, id, namespace, name, owner, detail)
            SELECT s.kind, s.id, s.namespace, s.name, s.owner, s.detail FROM pgwarden.ddl_snapshot() s
             WHERE s.kind = 'role' AND s.name = ANY (${client.escapeLiteral(`{${created.join(',')}}`)}::text[])
            ON CONFLICT (kind, id) DO NOTHING;
          END IF;
        END IF; END $$`);
    }
    return { database: plan.database, serverVersionNum: plan.serverVersionNum, checks: CHECKS.length + (options.customChecks?.length ?? 0), unsupported: plan.unsupported, login, migrations: plan.migrations };
  });
}

export interface MonitorUninstallResult { database: string; removed: boolean }

/** Removes the schema and every catalog grant install made in this database. */
export async function uninstallMonitor(client: pg.Client): Promise<MonitorUninstallResult> {
  await requireSuperuser(client, 'pgwarden monitor uninstall');
  return inTransaction(client, async () => {
    const { rows } = await client.query<{ database: string; present: boolean; owner: boolean }>(
      `${SQL_TAG}SELECT pg_catalog.current_database() AS database,
         EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '${MONITOR_SCHEMA}') AS present,
         EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${MONITOR_OWNER_ROLE}') AS owner`);
    const reads = await previousReads(client);
    await client.query(`${SQL_TAG}DROP SCHEMA IF EXISTS ${MONITOR_SCHEMA} CASCADE`);
    if (rows[0]!.owner) {
      await client.query(`${SQL_TAG}REVOKE ALL ON pg_catalog.pg_authid FROM ${MONITOR_OWNER_ROLE}`);
      await client.query(`${SQL_TAG}REVOKE ALL ON pg_catalog.pg_hba_file_rules FROM ${MONITOR_OWNER_ROLE}`);
      await client.query(`${SQL_TAG}REVOKE ALL ON FUNCTION pg_catalog.pg_hba_file_rules() FROM ${MONITOR_OWNER_ROLE}`);
      await client.query(`${SQL_TAG}REVOKE ALL ON pg_catalog.pg_statistic FROM ${MONITOR_OWNER_ROLE}`);
      await client.query(SQL_TAG + sequenceGrants('REVOKE'));
      await client.query(SQL_TAG + KEY_REVOKES);
      for (const table of reads) {
        const { rows: present } = await client.query(`${SQL_TAG}SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present`, [table]);
        if (present[0]!.present) await client.query(`${SQL_TAG}REVOKE SELECT ON ${table} FROM ${MONITOR_OWNER_ROLE}`);
      }
      const { rows: sensors } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden'`);
      if (sensors.length > 0) await client.query(`${SQL_TAG}REVOKE USAGE ON SCHEMA pgwarden FROM ${MONITOR_OWNER_ROLE}`);
      for (const grant of SENSOR_GRANTS) {
        const { rows: present } = await client.query(`${SQL_TAG}SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present`, [grant.table]);
        if (present[0]!.present) await client.query(`${SQL_TAG}REVOKE ALL ON ${grant.table} FROM ${MONITOR_OWNER_ROLE}`);
      }
    }
    return { database: rows[0]!.database, removed: rows[0]!.present };
  });
}

/**
 * Records the current settings as the settings_drift baseline (after an intended change):
 * empties the baseline and runs the check once, which records it anew. Needs a superuser, so
 * the monitoring login can never accept a change itself.
 */
export async function recordSettingsBaseline(client: pg.Client): Promise<{ database: string; settings: number }> {
  await requireSuperuser(client, 'pgwarden monitor baseline');
  return inTransaction(client, async () => {
    await client.query(`${SQL_TAG}DELETE FROM ${MONITOR_SCHEMA}.settings_baseline`);
    await client.query(`${SQL_TAG}SELECT pg_catalog.count(*) FROM ${MONITOR_SCHEMA}.check_settings_drift('{}'::jsonb)`);
    const { rows } = await client.query<{ settings: number }>(`${SQL_TAG}SELECT pg_catalog.count(*)::integer AS settings FROM ${MONITOR_SCHEMA}.settings_baseline`);
    return { database: await currentDatabase(client), settings: rows[0]!.settings };
  });
}

/** Drops the two cluster-wide roles once no database uses them; says why when one cannot go. */
export function dropMonitorRoles(client: pg.Client): Promise<DroppedRole[]> {
  return dropUnusedRoles(client, [MONITOR_CALLER_ROLE, MONITOR_OWNER_ROLE]);
}
