// Changes to pgAudit's configuration: session audit classes (enable/disable) and object auditing
// (the auditor role and its grants). Each change is first planned as SQL (what --dry-run prints),
// then applied: the transactional part in one transaction, ALTER SYSTEM after it, one statement at
// a time (PostgreSQL refuses ALTER SYSTEM inside a transaction block), then pg_reload_conf().
import type pg from 'pg';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { AUDITOR_ROLE } from '../core/roles.ts';
import type { ObjectPrivilege } from './classes.ts';
import { notLoadedError, overridesOf, readPreload } from './status.ts';

/** Where a setting is made: the whole server, one database, one role, or one role in one database. */
export interface Level { database?: string; role?: string }

export interface Step { sql: string; /** false: ALTER SYSTEM and pg_reload_conf(), run after the transaction. */ transaction: boolean }

export interface Plan { steps: Step[]; notes: string[] }

export { AUDITOR_ROLE };

export function levelName(level: Level): string {
  if (level.role && level.database) return `role "${level.role}" in database "${level.database}"`;
  if (level.role) return `role "${level.role}"`;
  if (level.database) return `database "${level.database}"`;
  return 'the server (ALTER SYSTEM)';
}

/** ALTER SYSTEM / ALTER DATABASE / ALTER ROLE [IN DATABASE] ... SET name = value, or RESET with a null value. */
export function settingSteps(client: pg.Client, level: Level, settings: Array<[name: string, value: string | null]>): Step[] {
  const steps: Step[] = [];
  for (const [name, value] of settings) {
    // Names are pgwarden's own constants (pgaudit.*); values are always literals.
    const change = value === null ? `RESET ${name}` : `SET ${name} = ${client.escapeLiteral(value)}`;
    if (level.role) {
      const inDb = level.database ? ` IN DATABASE ${client.escapeIdentifier(level.database)}` : '';
      steps.push({ sql: `ALTER ROLE ${client.escapeIdentifier(level.role)}${inDb} ${change}`, transaction: true });
    } else if (level.database) {
      steps.push({ sql: `ALTER DATABASE ${client.escapeIdentifier(level.database)} ${change}`, transaction: true });
    } else {
      steps.push({ sql: `ALTER SYSTEM ${change}`, transaction: false });
    }
  }
  if (!level.role && !level.database && settings.length > 0) steps.push({ sql: 'SELECT pg_catalog.pg_reload_conf()', transaction: false });
  return steps;
}

async function majorVersion(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ major: string }>(
    `${SQL_TAG}SELECT (pg_catalog.current_setting('server_version_num')::int / 10000)::text AS major`);
  return rows[0]!.major;
}

/** Refuses (PGW_ERR_PGAUDIT_NOT_LOADED, with what to change) unless pgAudit is loaded. */
export async function requireLoaded(client: pg.Client): Promise<void> {
  const preload = await readPreload(client);
  if (!preload.loaded) throw notLoadedError(preload, await majorVersion(client));
}

/** Checks that the database and role of a level exist, so a typo is one clear error and nothing is written. */
export async function checkLevel(client: pg.Client, level: Level): Promise<void> {
  if (level.database) {
    const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1`, [level.database]);
    if (rows.length === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `--database "${level.database}": no such database`, { hint: 'List them with \\l in psql; names are case-sensitive.' });
  }
  if (level.role) {
    const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1`, [level.role]);
    if (rows.length === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `--role "${level.role}": no such role`, { hint: 'List them with \\du in psql; names are case-sensitive.' });
  }
}

/** The settings each setting-level must exist on this pgAudit (log_rows came with pgAudit 1.7 / PostgreSQL 15). */
async function checkSettingsExist(client: pg.Client, names: string[]): Promise<void> {
  const { rows } = await client.query<{ name: string }>(`${SQL_TAG}SELECT name FROM pg_catalog.pg_settings WHERE name = ANY($1::text[])`, [names]);
  const missing = names.filter((n) => !rows.some((r) => r.name === n));
  if (missing.length > 0) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `this server's pgAudit has no setting ${missing.join(', ')}; nothing was changed`,
      { hint: 'Upgrade pgAudit, or leave out the option that sets it.' });
  }
}

export interface EnableOptions {
  level: Level;
  /** Normalised class list (parseLogClasses). */
  log: string;
  logParameter?: boolean;
  logRelation?: boolean;
  logRows?: boolean;
}

/** Plans `pgaudit enable`: the extension in the connected database, then pgaudit.log and the chosen flags. */
export async function planEnable(client: pg.Client, options: EnableOptions): Promise<Plan> {
  await requireLoaded(client);
  await checkLevel(client, options.level);
  const settings: Array<[string, string]> = [['pgaudit.log', options.log]];
  if (options.logParameter) settings.push(['pgaudit.log_parameter', 'on']);
  if (options.logRelation) settings.push(['pgaudit.log_relation', 'on']);
  if (options.logRows) settings.push(['pgaudit.log_rows', 'on']);
  await checkSettingsExist(client, settings.map(([n]) => n));
  const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pgaudit'`);
  const steps: Step[] = rows.length === 0 ? [{ sql: 'CREATE EXTENSION IF NOT EXISTS pgaudit', transaction: true }] : [];
  steps.push(...settingSteps(client, options.level, settings));
  const plan = { steps, notes: [...notesFor(options.level), ...await overrideNotes(client, options.level)] };
  await checkPrivileges(client, plan, settings.map(([n]) => n), options.level);
  return plan;
}

/** Server-wide changes do not reach databases and roles with their own pgaudit.log: say which. */
async function overrideNotes(client: pg.Client, level: Level): Promise<string[]> {
  if (level.database || level.role) return [];
  const overrides = (await overridesOf(client)).filter((o) => o.name === 'pgaudit.log');
  return overrides.map((o) => `Note: ${levelName({ database: o.database ?? undefined, role: o.role ?? undefined })} keeps its own ${o.name}=${o.value}, which wins over the server setting (pgwarden pgaudit disable --reset removes it).`);
}

/** Plans CREATE EXTENSION pgaudit in the connected database when it is missing (enable --all-databases). */
export async function planExtension(client: pg.Client): Promise<Plan> {
  const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pgaudit'`);
  return { steps: rows.length === 0 ? [{ sql: 'CREATE EXTENSION IF NOT EXISTS pgaudit', transaction: true }] : [], notes: [] };
}

export interface DisableOptions { level: Level; /** Remove pgwarden's settings at this level instead of setting pgaudit.log = 'none'. */ reset?: boolean }

/** Plans `pgaudit disable`: pgaudit.log = 'none' at that level, or (--reset) remove the level's pgAudit settings. */
export async function planDisable(client: pg.Client, options: DisableOptions): Promise<Plan> {
  await requireLoaded(client);
  await checkLevel(client, options.level);
  const settings: Array<[string, string | null]> = options.reset
    ? [['pgaudit.log', null], ['pgaudit.log_parameter', null], ['pgaudit.log_relation', null], ['pgaudit.log_rows', null]]
    : [['pgaudit.log', 'none']];
  if (options.reset) await checkSettingsExist(client, settings.map(([n]) => n));
  const plan = { steps: settingSteps(client, options.level, settings), notes: [...notesFor(options.level), ...await overrideNotes(client, options.level)] };
  await checkPrivileges(client, plan, settings.map(([n]) => n), options.level);
  return plan;
}

function notesFor(level: Level): string[] {
  if (!level.database && !level.role) {
    return ['pg_reload_conf() applies a server-wide setting to new and existing sessions within moments (a database or role override still wins where one is set).'];
  }
  return ['ALTER DATABASE/ROLE ... SET takes effect for sessions started after it; existing sessions keep their settings.'];
}

export interface ObjectOptions {
  tables: string[];
  privileges: ObjectPrivilege[];
  revoke?: boolean;
}

export interface ResolvedTable { input: string; qualified: string }

/** Resolves each --table through regclass (search_path as the server sees it) to a schema-qualified, quoted name. */
export async function resolveTables(client: pg.Client, tables: string[]): Promise<ResolvedTable[]> {
  const resolved: ResolvedTable[] = [];
  for (const input of tables) {
    let rows: Array<{ nspname: string; relname: string; relkind: string }>;
    try {
      ({ rows } = await client.query(
        `${SQL_TAG}SELECT n.nspname, c.relname, c.relkind::text AS relkind FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1)`, [input]));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '42602' || code === '3F000' || code === '42601') {
        throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--table "${input}" is not a valid table name: ${(error as Error).message}`);
      }
      throw error;
    }
    const row = rows[0];
    if (!row) {
      throw new PgwardenError('PGW_ERR_NOT_FOUND', `--table "${input}": no such table in this database (nothing was changed)`,
        { hint: 'Give schema.table (quote mixed-case names: \'"Sales"."Orders"\'); connect to the right database with --db.' });
    }
    if (!['r', 'p', 'v', 'm', 'f'].includes(row.relkind)) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--table "${input}" is not a table or view (relkind ${row.relkind}); pgAudit audits tables and views`);
    }
    resolved.push({ input, qualified: `${client.escapeIdentifier(row.nspname)}.${client.escapeIdentifier(row.relname)}` });
  }
  return resolved;
}

/** The object-audit role pgAudit uses now in this database (pgaudit.role), '' when unset. */
export async function currentAuditRole(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ role: string | null }>(`${SQL_TAG}SELECT pg_catalog.current_setting('pgaudit.role', true) AS role`);
  return rows[0]?.role ?? '';
}

/**
 * Plans `pgaudit object`: the auditor role (pgaudit.role, or pgwarden_auditor created NOLOGIN and
 * set as pgaudit.role when none is set) and GRANT/REVOKE of the privileges on the tables to it.
 */
export async function planObject(client: pg.Client, options: ObjectOptions): Promise<Plan & { role: string }> {
  await requireLoaded(client);
  const tables = await resolveTables(client, options.tables);
  const current = await currentAuditRole(client);
  const role = current || AUDITOR_ROLE;
  const steps: Step[] = [];
  const notes: string[] = [];
  const { rows } = await client.query<{ rolcanlogin: boolean }>(`${SQL_TAG}SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1`, [role]);
  if (rows.length === 0 && !options.revoke) {
    steps.push({ sql: `CREATE ROLE ${client.escapeIdentifier(role)} NOLOGIN`, transaction: true });
    notes.push(`The auditor role "${role}" is created NOLOGIN: it only carries the grants pgAudit reads.`);
  } else if (rows.length === 0) {
    throw new PgwardenError('PGW_ERR_NOT_FOUND', `the object-audit role "${role}" does not exist, so there is nothing to revoke`);
  } else if (rows[0]!.rolcanlogin) {
    notes.push(`Warning: the auditor role "${role}" can log in; make it NOLOGIN (ALTER ROLE ${client.escapeIdentifier(role)} NOLOGIN).`);
  }
  const privileges = options.privileges.map((p) => p.toUpperCase()).join(', ');
  for (const table of tables) {
    steps.push({
      sql: options.revoke
        ? `REVOKE ${privileges} ON TABLE ${table.qualified} FROM ${client.escapeIdentifier(role)}`
        : `GRANT ${privileges} ON TABLE ${table.qualified} TO ${client.escapeIdentifier(role)}`,
      transaction: true,
    });
  }
  if (!current) {
    steps.push(...settingSteps(client, {}, [['pgaudit.role', role]]));
    notes.push(`pgaudit.role was unset: it is set server-wide to "${role}" with ALTER SYSTEM, after the grants are committed.`);
  } else {
    notes.push(`pgaudit.role is "${role}" in this database; pgwarden uses it as it is.`);
  }
  // GRANT/REVOKE and CREATE ROLE are in the transaction; only the ALTER SYSTEM after it needs checking first.
  if (!current) await checkPrivileges(client, { steps: [], notes }, ['pgaudit.role'], {});
  return { steps, notes, role };
}

/**
 * Refuses before anything is written when the role may not make the plan's changes, so the
 * transaction and the ALTER SYSTEM statements after it cannot part half-done for lack of privilege.
 */
export async function checkPrivileges(client: pg.Client, plan: Plan, settings: string[], level: Level): Promise<void> {
  const { rows } = await client.query<{ superuser: boolean; v: number }>(
    `${SQL_TAG}SELECT rolsuper AS superuser, pg_catalog.current_setting('server_version_num')::int AS v
       FROM pg_catalog.pg_roles WHERE rolname = current_user`);
  if (rows[0]?.superuser) return;
  const refuse = (what: string) => new PgwardenError('PGW_ERR_PRIVILEGE', `${what}; nothing was changed`,
    { hint: 'Run it as a superuser (pgAudit settings are superuser-only unless granted with GRANT SET / GRANT ALTER SYSTEM ON PARAMETER).' });
  if (plan.steps.some((s) => s.sql.startsWith('CREATE EXTENSION'))) throw refuse('CREATE EXTENSION pgaudit needs a superuser');
  if (rows[0]!.v < 150000) throw refuse('changing pgAudit settings needs a superuser');
  const server = !level.database && !level.role;
  for (const name of settings) {
    const { rows: may } = await client.query<{ ok: boolean }>(
      `${SQL_TAG}SELECT pg_catalog.has_parameter_privilege($1, $2) AS ok`, [name, server ? 'ALTER SYSTEM' : 'SET']);
    if (!may[0]?.ok) throw refuse(`this role may not ${server ? 'ALTER SYSTEM' : 'SET'} ${name}`);
  }
}

/** Runs a plan: the transactional steps in one transaction, then the others one by one. */
export async function applyPlan(client: pg.Client, plan: Plan): Promise<void> {
  const inTx = plan.steps.filter((s) => s.transaction);
  const outside = plan.steps.filter((s) => !s.transaction);
  if (inTx.length > 0) {
    await inTransaction(client, async () => {
      for (const step of inTx) await client.query(SQL_TAG + step.sql);
    });
  }
  for (const step of outside) await client.query(SQL_TAG + step.sql);
}

/** The plan as SQL a person can read and run (psql), with the transaction made visible. */
export function planText(plan: Plan): string {
  const inTx = plan.steps.filter((s) => s.transaction);
  const outside = plan.steps.filter((s) => !s.transaction);
  const lines: string[] = [];
  if (inTx.length > 0) lines.push('BEGIN;', ...inTx.map((s) => s.sql + ';'), 'COMMIT;');
  if (outside.length > 0) {
    lines.push('-- ALTER SYSTEM cannot run inside a transaction block:');
    lines.push(...outside.map((s) => s.sql + ';'));
  }
  if (lines.length === 0) lines.push('-- nothing to change');
  return lines.join('\n') + '\n';
}
