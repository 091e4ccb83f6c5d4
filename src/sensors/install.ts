// Installs, upgrades and removes the pgwarden schema in monitored databases.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { PGWARDEN_VERSION } from '../core/version.ts';
import { PgwardenError } from '../core/errors.ts';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { BOOTSTRAP_SQL, DDL_FUNCTIONS_SQL, LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations.ts';
import { EXPECTED_EVENT_TRIGGERS, EXPECTED_FUNCTIONS, EXPECTED_TRIGGERS, LOGIN_EVENT_TRIGGER } from './manifest.ts';

export const RECORDER_ROLE = 'pgwarden_recorder';
/** What the recorder's loopback connection calls itself; the login check exempts only that connection. */
export const RECORDER_APPLICATION = 'pgwarden-recorder';
/** Group role with exactly what `guard watch` needs; grant it to the login that runs the watcher. */
export const WATCHER_ROLE = 'pgwarden_watcher';
/** Group role with exactly what `pgwarden alerts run` needs: read DDL events, keep delivery bookkeeping. */
export const ALERTS_ROLE = 'pgwarden_alerts';
/** Owner of the secure-monitoring functions (src/monitor); created by `pgwarden monitor install`. */
const MONITOR_OWNER_ROLE = 'pgwarden_monitor_owner';

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

export async function installedVersion(client: pg.ClientBase): Promise<number> {
  // Two statements: a query naming a missing table fails at parse time, whatever CASE says.
  const { rows: [exists] } = await client.query<{ present: boolean }>(
    `${SQL_TAG}SELECT pg_catalog.to_regclass('pgwarden.migrations') IS NOT NULL AS present`);
  if (!exists?.present) return 0;
  const { rows } = await client.query<{ version: number | null }>(`${SQL_TAG}SELECT pg_catalog.max(version) AS version FROM pgwarden.migrations`);
  return rows[0]?.version ?? 0;
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
        CREATE ROLE ${RECORDER_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION CONNECTION LIMIT 20;
      END IF; END $$`);
    await client.query(`${SQL_TAG}ALTER ROLE ${RECORDER_ROLE} PASSWORD ${client.escapeLiteral(scramVerifier(recorderPassword))}`);
    // The recorder's sessions are short (one CALL); a session held open cannot keep its slots.
    await client.query(`${SQL_TAG}ALTER ROLE ${RECORDER_ROLE} SET statement_timeout = '5s'`);
    await client.query(`${SQL_TAG}ALTER ROLE ${RECORDER_ROLE} SET idle_session_timeout = '10s'`);
    for (const group of [WATCHER_ROLE, ALERTS_ROLE]) {
      await client.query(`${SQL_TAG}DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${group}') THEN
          CREATE ROLE ${group} NOLOGIN;
        END IF; END $$`);
    }
    // To see other sessions' application_name and address, and to end them.
    await client.query(`${SQL_TAG}GRANT pg_read_all_stats, pg_signal_backend TO ${WATCHER_ROLE}`);

    const applied: string[] = [];
    for (const migration of MIGRATIONS.filter((m) => m.version > fromVersion)) {
      await client.query(`${SQL_TAG}INSERT INTO pgwarden.migrations (version, name, pgwarden_version) VALUES ($1, $2, $3)`,
        [migration.version, migration.name, PGWARDEN_VERSION]);
      await client.query(migration.sql);
      applied.push(`${String(migration.version).padStart(4, '0')}-${migration.name}`);
    }

    await client.query(DDL_FUNCTIONS_SQL);
    const dblink = await ensureDblink(client);
    await client.query(`${SQL_TAG}INSERT INTO pgwarden.guard_recorder (host, password) VALUES (coalesce($1, '127.0.0.1'), $2)
      ON CONFLICT (singleton) DO UPDATE SET password = excluded.password, host = coalesce($1, pgwarden.guard_recorder.host)`,
    [settings.recorderHost ?? null, recorderPassword]);
    await client.query(`${SQL_TAG}GRANT USAGE ON SCHEMA pgwarden TO ${RECORDER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT EXECUTE ON PROCEDURE pgwarden.record_refusal(integer, bigint, text, text) TO ${RECORDER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT USAGE ON SCHEMA pgwarden TO ${WATCHER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT SELECT ON pgwarden.guard_settings, pgwarden.guard_rules, pgwarden.guard_break_glass TO ${WATCHER_ROLE}`);
    // Watch mode records only through guard_terminate(): no direct write, and no reading of other records.
    await client.query(`${SQL_TAG}REVOKE ALL ON pgwarden.connection_attempts FROM ${WATCHER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT EXECUTE ON FUNCTION pgwarden.guard_terminate(integer, timestamptz) TO ${WATCHER_ROLE}`);
    await client.query(`${SQL_TAG}GRANT USAGE ON SCHEMA pgwarden TO ${ALERTS_ROLE}`);
    // The pipeline's guard source reads the records (docs/guard.md, "The record of attempts").
    await client.query(`${SQL_TAG}GRANT SELECT ON pgwarden.connection_attempts TO ${ALERTS_ROLE}`);
    // status (run by the alerts process for tamper alerts) reads the recorded hashes and version.
    await client.query(`${SQL_TAG}GRANT SELECT ON pgwarden.ddl_events, pgwarden.migrations, pgwarden.compiled_functions,
      pgwarden.function_hashes, pgwarden.ddl_policy, pgwarden.ddl_windows TO ${ALERTS_ROLE}`);
    await client.query(`${SQL_TAG}GRANT SELECT, INSERT, UPDATE ON pgwarden.alert_sinks TO ${ALERTS_ROLE}`);
    await client.query(`${SQL_TAG}GRANT SELECT, INSERT ON pgwarden.alert_deliveries TO ${ALERTS_ROLE}`);
    // The secure monitor's owner role (pgwarden monitor install) counts refusals and DDL changes:
    // give it those columns when the monitor was installed first.
    await client.query(`${SQL_TAG}DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${MONITOR_OWNER_ROLE}') THEN
        GRANT USAGE ON SCHEMA pgwarden TO ${MONITOR_OWNER_ROLE};
        GRANT SELECT (ts, decision, user_name) ON pgwarden.connection_attempts TO ${MONITOR_OWNER_ROLE};
        GRANT SELECT (ts, user_name, command_tag) ON pgwarden.ddl_events TO ${MONITOR_OWNER_ROLE};
      END IF; END $$`);
    if (fromVersion === 0) await applyGuardSettings(client, defaults);
    await applyGuardSettings(client, settings);
    // Regenerate the guard every time: dblink may have appeared since the last compile, or
    // the generated functions may have been tampered with. Then restore what status checks.
    await client.query(`${SQL_TAG}DELETE FROM pgwarden.compiled_functions`);
    await client.query(`${SQL_TAG}SELECT pgwarden.guard_compile()`);
    await client.query(`${SQL_TAG}GRANT EXECUTE ON FUNCTION pgwarden.guard_decide(text, text, inet, text), pgwarden.guard_rule_message(bigint) TO ${WATCHER_ROLE}`);
    await restoreManifest(client);
    await recordFunctionHashes(client);

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
    await client.query(`${SQL_TAG}ALTER ${fn.kind} ${fn.signature} ${fn.securityDefiner ? 'SECURITY DEFINER' : 'SECURITY INVOKER'} SET search_path = pg_catalog, pg_temp`);
    await client.query(`${SQL_TAG}${fn.publicExecute ? 'GRANT EXECUTE ON' : 'REVOKE ALL ON'} ${fn.kind} ${fn.signature} ${fn.publicExecute ? 'TO' : 'FROM'} PUBLIC`);
  }
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
  // dblink's functions are executable by PUBLIC by default; nobody but the guard needs them.
  await client.query(`${SQL_TAG}REVOKE ALL ON ALL ROUTINES IN SCHEMA pgwarden FROM PUBLIC`);
  await client.query(`${SQL_TAG}GRANT EXECUTE ON FUNCTION pgwarden.guard_check() TO PUBLIC`);
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
    await client.query(`${SQL_TAG}DROP SCHEMA IF EXISTS pgwarden CASCADE`);
    return { database: rows[0]!.database, removed: rows[0]!.present };
  });
}

/** Drops the cluster-wide roles once no database uses them; says why when one cannot go. */
export function dropClusterRoles(client: pg.Client): Promise<DroppedRole[]> {
  return dropUnusedRoles(client, [RECORDER_ROLE, WATCHER_ROLE, ALERTS_ROLE]);
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
