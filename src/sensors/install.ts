// Installs, upgrades and removes the pgwarden schema in monitored databases.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { PGWARDEN_VERSION } from '../core/version.ts';
import { PgwardenError } from '../core/errors.ts';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { appliedVersion, applyMigrations } from '../core/migrations.ts';
import { ALERTS_ROLE, PINNED_SET_CLAUSE, RECORDER_ROLE, WATCHER_ROLE } from '../core/roles.ts';
import { BOOTSTRAP_SQL, DDL_FUNCTIONS_SQL, LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations.ts';
import { redactSecretsFunctionSql } from '../core/secrets.ts';
import { refreshResponderFunctions } from './responder.ts';
import {
  EXPECTED_EVENT_TRIGGERS, EXPECTED_FUNCTIONS, EXPECTED_GRANTS, EXPECTED_MEMBERSHIPS, EXPECTED_TRIGGERS, GROUP_ROLE_ATTRIBUTES, GUARDED_SETTINGS,
  LOGIN_EVENT_TRIGGER, OWN_ROLES, OWN_ROLE_SETTINGS, DATABASE_MARKER, RECORDER_ATTRIBUTES, RECORDER_SETTINGS, RESPONDER,
} from './manifest.ts';

export { RECORDER_ROLE, WATCHER_ROLE, ALERTS_ROLE };
/** What the recorder's loopback connection calls itself; the login check exempts only that connection. */
export const RECORDER_APPLICATION = 'pgwarden-recorder';

export interface GuardSettingsInput {
  onError?: 'open' | 'closed';
  breakGlassRoles?: string[];
  /** Whether the login check records allowed logins (refusals are always recorded). */
  recordAllowed?: boolean;
  recorderHost?: string;
}

export interface InstallResult {
  database: string;
  fromVersion: number;
  toVersion: number;
  applied: string[];
  loginTrigger: boolean;
  dblink: 'created' | 'existing' | 'unavailable';
}

/**
 * Keeps secrets and our own DDL out of every log and statistics view for this transaction:
 * the statement log, pgAudit (session and object logging), auto_explain (which logs nested
 * statements with their parameters), pg_stat_statements (which keeps utility statements
 * verbatim), pg_stat_activity (which shows the running statement to pg_read_all_stats) and the
 * statement that caused an error. Settings of modules that are not loaded are harmless placeholders.
 */
const QUIET_SETTINGS: readonly [string, string][] = [
  ['log_statement', 'none'], ['log_min_duration_statement', '-1'], ['log_min_error_statement', 'panic'],
  ['log_duration', 'off'], ['track_activities', 'off'],
  ['pgaudit.log', 'none'], ['pgaudit.role', ''], ['pgaudit.log_parameter', 'off'],
  ['auto_explain.log_min_duration', '-1'], ['pg_stat_statements.track', 'none'], ['pg_stat_statements.track_utility', 'off'],
];

async function quietTransaction(client: pg.Client): Promise<void> {
  for (const [name, value] of QUIET_SETTINGS) {
    await client.query(`${SQL_TAG}SELECT pg_catalog.set_config($1, $2, true)`, [name, value]);
  }
  // Our own (re)generation of functions in schema pgwarden is not a schema change to report
  // or to refuse under the change policy (see pgwarden.ddl_internal()).
  await client.query(`${SQL_TAG}SET LOCAL pgwarden.internal = 'on'`);
}

async function requireSuperuser(client: pg.Client, what: string): Promise<void> {
  const { rows } = await client.query<{ rolsuper: boolean; current_user: string }>(
    `${SQL_TAG}SELECT rolsuper, current_user FROM pg_catalog.pg_roles WHERE rolname = current_user`);
  if (!rows[0]?.rolsuper) {
    throw new PgwardenError('PGW_ERR_PRIVILEGE', `${what} needs a superuser; "${rows[0]?.current_user ?? '?'}" is not one`);
  }
}

export function installedVersion(client: pg.ClientBase): Promise<number> {
  return appliedVersion(client, 'pgwarden');
}

/** A SCRAM-SHA-256 verifier, so the recorder's password itself never reaches the server as SQL text. */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export function newRecorderPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Installs or upgrades the schema in the database the client is connected to, in one transaction.
 * `settings` are applied every time (what the user asked for now); `defaults` only to a new
 * schema, so that running install again to repair or upgrade never undoes `guard settings`.
 */
export async function installSchema(
  client: pg.Client, recorderPassword: string, settings: GuardSettingsInput = {}, defaults: GuardSettingsInput = {},
): Promise<InstallResult> {
  await requireSuperuser(client, 'pgwarden install');
  return inTransaction(client, async () => {
    await quietTransaction(client);
    // Serialises concurrent installers on this database.
    await client.query(`${SQL_TAG}SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgwarden.install'))`);
    await client.query(SQL_TAG + BOOTSTRAP_SQL);
    // Lock what a refusing login reads before it waits for its recorder, before anything the
    // recorder writes: the other order is a deadlock through the dblink connection that the
    // server cannot see (a refusal in flight during an upgrade would hang it and the install).
    await client.query(`${SQL_TAG}DO $$ BEGIN
      IF pg_catalog.to_regclass('pgwarden.guard_recorder') IS NOT NULL THEN
        LOCK TABLE pgwarden.guard_rules, pgwarden.guard_settings, pgwarden.guard_recorder IN ACCESS EXCLUSIVE MODE;
      END IF; END $$`);
    const fromVersion = await installedVersion(client);
    if (fromVersion > LATEST_SCHEMA_VERSION) {
      throw new PgwardenError('PGW_ERR_SCHEMA_NEWER',
        `this database has pgwarden schema version ${fromVersion}; this pgwarden (${PGWARDEN_VERSION}) knows up to ${LATEST_SCHEMA_VERSION}`);
    }

    // The recorder role is cluster-wide; it exists before migrations grant to it.
    await client.query(`${SQL_TAG}DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${RECORDER_ROLE}') THEN
        CREATE ROLE ${RECORDER_ROLE} ${RECORDER_ATTRIBUTES};
      END IF; END $$`);
    await client.query(`${SQL_TAG}ALTER ROLE ${RECORDER_ROLE} PASSWORD ${client.escapeLiteral(scramVerifier(recorderPassword))}`);
    for (const setting of RECORDER_SETTINGS) {
      const [name, value] = setting.split('=') as [string, string];
      await client.query(`${SQL_TAG}ALTER ROLE ${RECORDER_ROLE} SET ${name} = ${client.escapeLiteral(value)}`);
    }
    for (const group of [WATCHER_ROLE, ALERTS_ROLE]) {
      await client.query(`${SQL_TAG}DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${group}') THEN
          CREATE ROLE ${group} NOLOGIN;
        END IF; END $$`);
    }
    for (const m of EXPECTED_MEMBERSHIPS) await client.query(`${SQL_TAG}GRANT ${m.role} TO ${m.member}`);

    const applied = await applyMigrations(client, 'pgwarden.migrations', MIGRATIONS, fromVersion);

    // The secret masking first: the event-trigger functions call it.
    await client.query(SQL_TAG + redactSecretsFunctionSql());
    await client.query(DDL_FUNCTIONS_SQL);
    // The response tables' write check (migration 5, pgwarden.response_write_check()): made here,
    // after the DDL functions, because the DDL audit of release 0.1.0 (still active while an
    // upgrade runs the migrations) would record a CREATE TRIGGER as a schema change.
    for (const table of ['response_actions', 'response_locks']) {
      await client.query(`${SQL_TAG}DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'pgwarden.${table}'::regclass AND tgname = '${table}_write') THEN
          CREATE TRIGGER ${table}_write BEFORE INSERT OR UPDATE OR DELETE ON pgwarden.${table}
            FOR EACH STATEMENT EXECUTE FUNCTION pgwarden.response_write_check();
        END IF; END $$`);
    }
    // Migration 6: every recorded login lifts the locks whose time has come (made here for the
    // same reason as the write check). The WHEN clause is one catalog-cache lookup: a database
    // without the responder (which holds no locks) never calls, nor compiles, the function.
    await client.query(`${SQL_TAG}DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'pgwarden.connection_attempts'::regclass AND tgname = 'connection_attempts_lift_locks') THEN
        CREATE TRIGGER connection_attempts_lift_locks AFTER INSERT ON pgwarden.connection_attempts
          FOR EACH STATEMENT WHEN (pg_catalog.to_regnamespace('pgwarden_responder') IS NOT NULL)
          EXECUTE FUNCTION pgwarden.response_lift_at_login();
      END IF; END $$`);
    if (fromVersion < 4 && fromVersion > 0) {
      // Stored by a release that did not mask passwords.
      for (const table of ['ddl_events']) {
        await client.query(`${SQL_TAG}UPDATE pgwarden.${table} SET statement = pgwarden.redact_secrets(statement)
          WHERE statement IS DISTINCT FROM pgwarden.redact_secrets(statement)`);
      }
    }
    // The mark by which status, in any other database, knows this one has pgwarden: a type owned
    // by pgwarden_recorder leaves an owner entry in pg_shdepend that only a superuser or a member
    // of pgwarden_recorder can make (a database owner can grant to the role, not own as it).
    await client.query(`${SQL_TAG}DO $$ BEGIN
      IF pg_catalog.to_regtype('${DATABASE_MARKER}') IS NULL THEN
        CREATE TYPE ${DATABASE_MARKER} AS ENUM ('pgwarden');
      END IF; END $$`);
    await client.query(`${SQL_TAG}ALTER TYPE ${DATABASE_MARKER} OWNER TO ${RECORDER_ROLE}`);
    const dblink = await ensureDblink(client);
    await client.query(`${SQL_TAG}INSERT INTO pgwarden.guard_recorder (host, password) VALUES (coalesce($1, '127.0.0.1'), $2)
      ON CONFLICT (singleton) DO UPDATE SET password = excluded.password, host = coalesce($1, pgwarden.guard_recorder.host)`,
    [settings.recorderHost ?? null, recorderPassword]);
    await restoreRoles(client);
    if (fromVersion === 0) await applyGuardSettings(client, defaults);
    await applyGuardSettings(client, settings);
    // Regenerate the guard every time: dblink may have appeared since the last compile, or
    // the generated functions may have been tampered with. Then restore what status checks.
    await client.query(`${SQL_TAG}DELETE FROM pgwarden.compiled_functions`);
    await client.query(`${SQL_TAG}SELECT pgwarden.guard_compile()`);
    await restoreManifest(client);
    await restoreGrants(client);
    // The responder's functions of this release, where `install --responder` made them once.
    const { rows: [responder] } = await client.query<{ installed: boolean }>(
      `${SQL_TAG}SELECT pg_catalog.to_regnamespace('pgwarden_responder') IS NOT NULL AS installed`);
    if (responder!.installed) await refreshResponderFunctions(client);
    await recordFunctionHashes(client);
    // The baseline of relations, roles and databases the reconciliation compares with: taken
    // once; later only by `pgwarden ddl baseline --accept` (an install must not bless changes).
    await client.query(`${SQL_TAG}SELECT pgwarden.ddl_baseline_take() WHERE NOT EXISTS (SELECT 1 FROM pgwarden.ddl_baseline_info)`);

    const { rows } = await client.query<{ database: string; trigger: boolean }>(
      `${SQL_TAG}SELECT pg_catalog.current_database() AS database,
         EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = '${LOGIN_EVENT_TRIGGER}') AS trigger`);
    return {
      database: rows[0]!.database,
      fromVersion,
      toVersion: LATEST_SCHEMA_VERSION,
      applied,
      loginTrigger: rows[0]!.trigger,
      dblink,
    };
  });
}

/** Puts back what status checks and install can restore: properties, grants, enabled triggers. */
async function restoreManifest(client: pg.Client): Promise<void> {
  for (const fn of EXPECTED_FUNCTIONS) {
    const { rows } = await client.query(`${SQL_TAG}SELECT pg_catalog.to_regprocedure($1) IS NOT NULL AS present`, [fn.signature]);
    if (!rows[0]!.present) continue; // regenerated below, or needs a reinstall (see docs/sensors.md)
    // RESET ALL first: a setting added beside the pinned search_path is as much a change.
    await client.query(`${SQL_TAG}ALTER ${fn.kind} ${fn.signature} RESET ALL`);
    const strictness = fn.kind === 'PROCEDURE' ? '' : fn.strict ? ' STRICT' : ' CALLED ON NULL INPUT';
    await client.query(`${SQL_TAG}ALTER ${fn.kind} ${fn.signature}${strictness} ${fn.securityDefiner ? 'SECURITY DEFINER' : 'SECURITY INVOKER'} ${PINNED_SET_CLAUSE}`);
  }
  // Everything in the schema belongs to the schema's owner (install's superuser).
  await client.query(`${SQL_TAG}DO $$
    DECLARE
      owner constant name := (SELECT n.nspowner::regrole::text FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgwarden');
      o record;
    BEGIN
      FOR o IN SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind, c.oid::regclass::text AS name
                 FROM pg_catalog.pg_class c
                WHERE c.relnamespace = 'pgwarden'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S') AND c.relowner::regrole::text <> owner
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('i', 'a')) LOOP
        EXECUTE pg_catalog.format('ALTER %s %s OWNER TO %I', o.kind, o.name, owner);
      END LOOP;
      FOR o IN SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kind, p.oid::regprocedure::text AS name
                 FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'pgwarden'::regnamespace AND p.proowner::regrole::text <> owner LOOP
        EXECUTE pg_catalog.format('ALTER %s %s OWNER TO %I', o.kind, o.name, owner);
      END LOOP;
    END $$`);
  for (const trigger of EXPECTED_TRIGGERS) {
    await client.query(`${SQL_TAG}DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'pgwarden.${trigger.table}'::regclass AND tgname = '${trigger.name}') THEN
        ALTER TABLE pgwarden.${trigger.table} ENABLE TRIGGER ${trigger.name};
      END IF; END $$`);
  }
  // Event triggers: recreated when dropped or pointed at another function, re-enabled when
  // disabled or switched to REPLICA/ALWAYS mode.
  const { rows: [server] } = await client.query<{ version: number }>(
    `${SQL_TAG}SELECT pg_catalog.current_setting('server_version_num')::int AS version`);
  for (const trigger of EXPECTED_EVENT_TRIGGERS.filter((t) => server!.version >= t.since)) {
    const { rows } = await client.query<{ fn: string; event: string; enabled: string }>(
      `${SQL_TAG}SELECT evtfoid::regprocedure::text AS fn, evtevent AS event, evtenabled AS enabled
         FROM pg_catalog.pg_event_trigger WHERE evtname = $1`, [trigger.name]);
    const row = rows[0];
    if (row && (row.fn !== trigger.fn || row.event !== trigger.event)) await client.query(`${SQL_TAG}DROP EVENT TRIGGER ${trigger.name}`);
    if (!row || row.fn !== trigger.fn || row.event !== trigger.event) {
      await client.query(`${SQL_TAG}CREATE EVENT TRIGGER ${trigger.name} ON ${trigger.event} EXECUTE FUNCTION ${trigger.fn}`);
    } else if (row.enabled !== 'O') {
      await client.query(`${SQL_TAG}ALTER EVENT TRIGGER ${trigger.name} ENABLE`);
    }
  }
}

/** Runs a GRANT or REVOKE as pgwarden's own change (see pgwarden.ddl_own_execute()). */
async function own(client: pg.Client, statement: string): Promise<void> {
  await client.query(`${SQL_TAG}SELECT pgwarden.ddl_own_execute($1)`, [statement]);
}

/** The grants of the manifest, and only those: any other privilege on pgwarden's objects is revoked. */
async function restoreGrants(client: pg.Client): Promise<void> {
  const roles = new Set((await client.query<{ rolname: string }>(
    `${SQL_TAG}SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY ($1)`,
    [[...new Set(EXPECTED_GRANTS.map((g) => g.grantee))]])).rows.map((r) => r.rolname));
  const expected = EXPECTED_GRANTS.filter((g) => (g.grantee === 'PUBLIC' || roles.has(g.grantee)) && (!g.ifRole || roles.has(g.ifRole)));
  for (const extra of await unexpectedPrivileges(client)) {
    const grantee = extra.grantee === 'PUBLIC' ? 'PUBLIC' : client.escapeIdentifier(extra.grantee);
    const columns = extra.column ? ` (${client.escapeIdentifier(extra.column)})` : '';
    await own(client, `REVOKE ${extra.privilege}${columns} ON ${extra.object} FROM ${grantee}`);
  }
  for (const grant of expected.filter((g) => !g.object.endsWith('*'))) {
    const grantee = grant.grantee === 'PUBLIC' ? 'PUBLIC' : client.escapeIdentifier(grant.grantee);
    const columns = grant.columns ? ` (${grant.columns.join(', ')})` : '';
    await own(client, `GRANT ${grant.privileges.join(', ')}${columns} ON ${grant.object} TO ${grantee}`);
  }
}

export interface Privilege { object: string; grantee: string; privilege: string; column: string | null }

/** SQL: every privilege on the schema and the objects in it, except the owner's own, as GRANT names them. */
export const PRIVILEGES_SQL = `
  WITH owner AS (SELECT n.oid, n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgwarden'),
  acl AS (
    SELECT 'SCHEMA pgwarden' AS object, a.grantee, a.privilege_type, NULL::text AS col
      FROM pg_catalog.pg_namespace n, owner, pg_catalog.aclexplode(n.nspacl) a WHERE n.oid = owner.oid
    UNION ALL
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || 'pgwarden.' || pg_catalog.quote_ident(c.relname), a.grantee, a.privilege_type, NULL
      FROM pg_catalog.pg_class c, owner, pg_catalog.aclexplode(c.relacl) a WHERE c.relnamespace = owner.oid
    UNION ALL
    SELECT 'TABLE pgwarden.' || pg_catalog.quote_ident(c.relname), a.grantee, a.privilege_type, att.attname::text
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute att ON att.attrelid = c.oid, owner, pg_catalog.aclexplode(att.attacl) a
     WHERE c.relnamespace = owner.oid AND att.attacl IS NOT NULL
    UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || 'pgwarden.' || pg_catalog.quote_ident(p.proname)
             || '(' || pg_catalog.replace(pg_catalog.oidvectortypes(p.proargtypes), ', ', ',') || ')', a.grantee, a.privilege_type, NULL
      FROM pg_catalog.pg_proc p, owner,
           pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner))) a WHERE p.pronamespace = owner.oid)
  SELECT acl.object, CASE acl.grantee WHEN 0 THEN 'PUBLIC' ELSE acl.grantee::regrole::text END AS grantee,
         acl.privilege_type AS privilege, acl.col AS column
    FROM acl, owner WHERE acl.grantee <> owner.nspowner
   ORDER BY 1, 2, 3, 4`;

/** Whether the manifest grants it (a column privilege also when the whole table's is expected). */
export function expectedPrivilege(p: Privilege, roles: ReadonlySet<string>): boolean {
  const sameObject = (pattern: string) => (pattern.endsWith('*') ? p.object.startsWith(pattern.slice(0, -1)) : pattern === p.object);
  return EXPECTED_GRANTS.some((g) => sameObject(g.object) && g.grantee === p.grantee.replace(/^"|"$/g, '')
    && (!g.ifRole || roles.has(g.ifRole)) && g.privileges.includes(p.privilege)
    && (p.column === null ? !g.columns : !g.columns || g.columns.includes(p.column)));
}

export async function unexpectedPrivileges(client: pg.ClientBase): Promise<Privilege[]> {
  const { rows } = await client.query<Privilege>(SQL_TAG + PRIVILEGES_SQL);
  const { rows: roleRows } = await client.query<{ rolname: string }>(`${SQL_TAG}SELECT rolname FROM pg_catalog.pg_roles WHERE rolname LIKE 'pgwarden%'`);
  const roles = new Set(roleRows.map((r) => r.rolname));
  return rows.filter((p) => !expectedPrivilege(p, roles));
}

/**
 * The grants of the manifest that are not there (REVOKE EXECUTE ON FUNCTION
 * pgwarden.ddl_unrecorded() FROM pgwarden_alerts blinds the tamper check): one row per
 * privilege (and column), for grantees that exist. Wildcard entries are tolerated, not required.
 */
export async function missingPrivileges(client: pg.ClientBase): Promise<Privilege[]> {
  const { rows } = await client.query<Privilege>(SQL_TAG + PRIVILEGES_SQL);
  const { rows: roleRows } = await client.query<{ rolname: string }>(`${SQL_TAG}SELECT rolname FROM pg_catalog.pg_roles WHERE rolname LIKE 'pgwarden%'`);
  const roles = new Set(roleRows.map((r) => r.rolname));
  const have = new Set(rows.map((p) => `${p.object}|${p.grantee.replace(/^"|"$/g, '')}|${p.privilege}|${p.column ?? ''}`));
  const missing: Privilege[] = [];
  for (const g of EXPECTED_GRANTS) {
    if (g.object.endsWith('*') || (g.grantee !== 'PUBLIC' && !roles.has(g.grantee)) || (g.ifRole && !roles.has(g.ifRole))) continue;
    for (const privilege of g.privileges) {
      for (const column of g.columns ?? [null]) {
        if (!have.has(`${g.object}|${g.grantee}|${privilege}|${column ?? ''}`)) missing.push({ object: g.object, grantee: g.grantee, privilege, column });
      }
    }
  }
  return missing;
}

/**
 * pgwarden's roles as install makes them, and no setting anywhere that switches a sensor off
 * for a role or a database, nor a grant to set one (PostgreSQL 15+).
 */
async function restoreRoles(client: pg.Client): Promise<void> {
  await client.query(`${SQL_TAG}ALTER ROLE ${RECORDER_ROLE} ${RECORDER_ATTRIBUTES}`);
  for (const group of [WATCHER_ROLE, ALERTS_ROLE]) await client.query(`${SQL_TAG}ALTER ROLE ${group} ${GROUP_ROLE_ATTRIBUTES}`);
  await client.query(`${SQL_TAG}DO $$
    DECLARE
      s record;
    BEGIN
      FOR s IN SELECT r.rolname, d.datname, pg_catalog.split_part(c, '=', 1) AS name
                 FROM pg_catalog.pg_db_role_setting x
                 LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.setrole
                 LEFT JOIN pg_catalog.pg_database d ON d.oid = x.setdatabase,
                 pg_catalog.unnest(x.setconfig) AS c
                WHERE pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) = ANY ($1)
                   OR (r.rolname = ANY ($2) AND NOT (x.setdatabase = 0 AND c = ANY ($3))) LOOP
        IF s.rolname IS NOT NULL AND s.datname IS NOT NULL THEN
          EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I RESET %s', s.rolname, s.datname, s.name);
        ELSIF s.rolname IS NOT NULL THEN
          EXECUTE pg_catalog.format('ALTER ROLE %I RESET %s', s.rolname, s.name);
        ELSIF s.datname IS NOT NULL THEN
          EXECUTE pg_catalog.format('ALTER DATABASE %I RESET %s', s.datname, s.name);
        END IF;
      END LOOP;
    END $$`.replace('$1', client.escapeLiteral(`{${GUARDED_SETTINGS.join(',')}}`)).replace('$2', client.escapeLiteral(`{${OWN_ROLES.join(',')}}`))
    .replace('$3', client.escapeLiteral(`{${OWN_ROLE_SETTINGS.map((v) => `"${v}"`).join(',')}}`)));
  const { rows: [server] } = await client.query<{ version: number }>(`${SQL_TAG}SELECT pg_catalog.current_setting('server_version_num')::int AS version`);
  if (server!.version >= 150000) {
    const { rows } = await client.query<{ parname: string; grantee: string }>(
      `${SQL_TAG}SELECT p.parname, CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(a.grantee::regrole::text) END AS grantee
         FROM pg_catalog.pg_parameter_acl p, pg_catalog.aclexplode(p.paracl) a
        WHERE pg_catalog.lower(p.parname) = ANY ($1::text[])
          AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = a.grantee), false)`, [GUARDED_SETTINGS]);
    for (const row of rows) await client.query(`${SQL_TAG}REVOKE ALL ON PARAMETER ${row.parname} FROM ${row.grantee}`);
  }
}

/**
 * Records the definition hash of the functions status verifies by hash: those install just
 * rewrote, always; those a migration created, only the first time (so a later install never
 * blesses a body someone replaced in between).
 */
async function recordFunctionHashes(client: pg.Client): Promise<void> {
  for (const fn of EXPECTED_FUNCTIONS.filter((f) => f.hash !== 'compiled')) {
    await client.query(
      `${SQL_TAG}INSERT INTO pgwarden.function_hashes (signature, source_md5)
       SELECT $1, pg_catalog.md5(p.prosrc) FROM pg_catalog.pg_proc p WHERE p.oid = pg_catalog.to_regprocedure($1)
       ON CONFLICT (signature) DO ${fn.hash === 'install' ? 'UPDATE SET source_md5 = excluded.source_md5, recorded_at = pg_catalog.now()' : 'NOTHING'}`,
      [fn.signature]);
  }
}

async function ensureDblink(client: pg.Client): Promise<InstallResult['dblink']> {
  const { rows } = await client.query<{ installed: boolean; available: boolean }>(
    `${SQL_TAG}SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'dblink') AS installed,
            EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'dblink') AS available`);
  if (rows[0]!.installed) return 'existing';
  if (!rows[0]!.available) return 'unavailable';
  // Inside our schema, so that uninstall removes exactly what install added.
  await client.query(`${SQL_TAG}CREATE EXTENSION dblink SCHEMA pgwarden`);
  // dblink's functions are executable by PUBLIC by default; nobody but the guard needs them. The
  // manifest's grants (guard_check() to PUBLIC among them) are given back by restoreGrants(), later
  // in the same transaction, so no session sees the schema without them.
  await client.query(`${SQL_TAG}REVOKE ALL ON ALL ROUTINES IN SCHEMA pgwarden FROM PUBLIC`);
  return 'created';
}

export async function applyGuardSettings(client: pg.Client, settings: GuardSettingsInput): Promise<void> {
  if (settings.onError === undefined && settings.breakGlassRoles === undefined && settings.recordAllowed === undefined) return;
  if (settings.breakGlassRoles?.length) {
    // A break-glass name that no role has yet is a door left open for whoever creates it: refuse.
    const { rows } = await client.query<{ missing: string[] }>(
      `${SQL_TAG}SELECT COALESCE(pg_catalog.array_agg(b ORDER BY b), '{}') AS missing FROM pg_catalog.unnest($1::text[]) AS b
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = b)`, [settings.breakGlassRoles]);
    const missing = rows[0]!.missing;
    if (missing.length > 0) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `break-glass role${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} do${missing.length > 1 ? '' : 'es'} not exist: create ${missing.length > 1 ? 'them' : 'it'} first (a role created later under a break-glass name is not break-glass)`);
    }
  }
  await client.query(
    `${SQL_TAG}UPDATE pgwarden.guard_settings
        SET on_error = coalesce($1, on_error), break_glass_roles = coalesce($2, break_glass_roles),
            record_allowed = coalesce($3, record_allowed), updated_at = now()`,
    [settings.onError ?? null, settings.breakGlassRoles ?? null, settings.recordAllowed ?? null]);
  if (settings.breakGlassRoles !== undefined) {
    // Naming the roles again resolves them again (also when the list itself did not change).
    await client.query(`${SQL_TAG}SELECT pgwarden.guard_refresh_break_glass(), pgwarden.guard_compile()`);
  }
}

/** Stores a new recorder password in a database that already has pgwarden (after a rotation elsewhere). */
export async function updateRecorderPassword(client: pg.Client, password: string): Promise<boolean> {
  const { rows } = await client.query<{ present: boolean }>(
    `${SQL_TAG}SELECT pg_catalog.to_regclass('pgwarden.guard_recorder') IS NOT NULL AS present`);
  if (!rows[0]?.present) return false;
  await inTransaction(client, async () => {
    await quietTransaction(client);
    await client.query(`${SQL_TAG}UPDATE pgwarden.guard_recorder SET password = $1`, [password]);
  });
  return true;
}

export interface UninstallResult {
  database: string;
  removed: boolean;
}

/** Removes everything install made in this database (schema, event trigger, dblink if ours). */
export async function uninstallSchema(client: pg.Client): Promise<UninstallResult> {
  await requireSuperuser(client, 'pgwarden uninstall');
  return inTransaction(client, async () => {
    await quietTransaction(client);
    const { rows } = await client.query<{ database: string; present: boolean }>(
      `${SQL_TAG}SELECT pg_catalog.current_database() AS database,
         EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden') AS present`);
    for (const trigger of EXPECTED_EVENT_TRIGGERS) await client.query(`${SQL_TAG}DROP EVENT TRIGGER IF EXISTS ${trigger.name}`);
    // CASCADE takes dblink along only when install created it inside this schema.
    await client.query(`${SQL_TAG}DROP SCHEMA IF EXISTS pgwarden_responder CASCADE`);
    await client.query(`${SQL_TAG}DROP SCHEMA IF EXISTS pgwarden CASCADE`);
    return { database: rows[0]!.database, removed: rows[0]!.present };
  });
}

/** Drops the cluster-wide roles once no database uses them; says why when one cannot go. */
export function dropClusterRoles(client: pg.Client): Promise<DroppedRole[]> {
  return dropUnusedRoles(client, [RECORDER_ROLE, WATCHER_ROLE, ALERTS_ROLE, RESPONDER]);
}

export interface DroppedRole { role: string; dropped: boolean; reason?: string }

/** Drops each existing role that nothing depends on any more; names what still uses the others. */
export async function dropUnusedRoles(client: pg.Client, roles: readonly string[]): Promise<DroppedRole[]> {
  const results: DroppedRole[] = [];
  for (const role of roles) {
    const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1`, [role]);
    if (rows.length === 0) continue;
    try {
      await client.query(`${SQL_TAG}DROP ROLE ${client.escapeIdentifier(role)}`);
      results.push({ role, dropped: true });
    } catch (error) {
      if ((error as { code?: string }).code !== '2BP01') throw error;
      results.push({ role, dropped: false, reason: `still used: ${(error as { detail?: string }).detail ?? (error as Error).message}` });
    }
  }
  return results;
}
