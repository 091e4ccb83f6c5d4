// pgwarden pgaudit status|enable|disable|object — manage pgAudit on a server.
import type { Command } from 'commander';
import type pg from 'pg';
import { SQL_TAG, targetForDatabase, withClient } from '../core/db.ts';
import {
  applyPlan, checkLevel, levelName, planExtension, requireLoaded, parseLogClasses, parsePrivileges, planDisable, planEnable, planObject, planText,
  readStatus, type Level, type PgauditStatus, type Plan,
} from '../pgaudit/index.ts';
import { PgwardenError } from '../core/errors.ts';
import { formatOption, onEachDatabase, print, repeatable, targetOf, withConnection, withDatabase } from './common.ts';
import { render } from './output.ts';

interface LevelOptions { database?: string; role?: string; dryRun?: boolean }

export function registerPgauditCommands(program: Command): void {
  const group = program.command('pgaudit').description('pgAudit: status, session audit classes, object auditing (docs/pgaudit.md)');

  withConnection(group.command('status'))
    .description('is pgAudit preloaded and created, its settings, their per-database/per-role overrides, the object-audit role and its grants')
    .option('--all-databases', 'report the extension and the grants in every connectable database')
    .addOption(formatOption(['table', 'json']))
    .addHelpText('after', '\nExits 5 (PGW_ERR_PGAUDIT_NOT_LOADED) after the report when pgaudit is not in shared_preload_libraries.')
    .action(async (options: { allDatabases?: boolean; format: 'table' | 'json' }, command: Command) => {
      const target = targetOf(command);
      const status = await withClient(target, (client) => readStatus(client, options.allDatabases ? {
        databases: async (work) => { await onEachDatabase(target, true, work); },
      } : {}));
      print(options.format === 'json' ? JSON.stringify(status, null, 2) : statusText(status));
      if (!status.preload.loaded) {
        const error = new PgwardenError('PGW_ERR_PGAUDIT_NOT_LOADED', 'pgAudit is not loaded on this server (see what to change above)');
        process.stderr.write(`Error: ${error.message}\n  ${error.hint} [${error.code}]\n`);
        process.exitCode = error.exitCode;
      }
    });

  levelOptions(withConnection(group.command('enable')))
    .description('turn on session audit logging: create the extension if missing and set pgaudit.log for the server, a database or a role')
    .requiredOption('--log <classes>', 'comma-separated classes: read, write, function, role, ddl, misc, misc_set, all; prefix - to exclude (all,-misc)')
    .option('--log-parameter', 'also set pgaudit.log_parameter = on (statement parameters in the records)')
    .option('--log-relation', 'also set pgaudit.log_relation = on (one record per relation)')
    .option('--log-rows', 'also set pgaudit.log_rows = on (rows retrieved or affected)')
    .option('--all-databases', 'also create the extension in every connectable database and template1 (each in its own transaction)')
    .addHelpText('after', `
Without --database/--role the setting is server-wide (ALTER SYSTEM, then pg_reload_conf()). The
extension is created in the database connected to, or in --database; --all-databases creates it in
every connectable database (and template1, so new databases inherit it).

Examples:
  pgwarden pgaudit enable --log read,write,ddl,role --dry-run
  pgwarden pgaudit enable --log write,ddl --database sales --log-parameter
  pgwarden pgaudit enable --log all,-misc --role app_admin`)
    .action(async (options: LevelOptions & { log: string; logParameter?: boolean; logRelation?: boolean; logRows?: boolean; allDatabases?: boolean }, command: Command) => {
      const log = parseLogClasses(options.log);
      const level = levelOf(options);
      if (options.allDatabases) await extensionEverywhere(command, options.dryRun);
      await runPlan(command, level, options.dryRun, (client) => planEnable(client, {
        level, log, logParameter: options.logParameter, logRelation: options.logRelation, logRows: options.logRows,
      }), `pgaudit.log = '${log}' for ${levelName(level)}`);
    });

  levelOptions(withConnection(group.command('disable')))
    .description("turn off session audit logging: pgaudit.log = 'none' for the server, a database or a role")
    .option('--reset', "remove this level's pgaudit.log/log_parameter/log_relation/log_rows settings instead (it then inherits the server's)")
    .addHelpText('after', `
Examples:
  pgwarden pgaudit disable --role pgwarden_writer      # a role whose statements must not be audited
  pgwarden pgaudit disable --database sales --reset    # sales follows the server setting again`)
    .action(async (options: LevelOptions & { reset?: boolean }, command: Command) => {
      const level = levelOf(options);
      await runPlan(command, level, options.dryRun, (client) => planDisable(client, { level, reset: options.reset }),
        options.reset ? `pgAudit settings removed for ${levelName(level)}` : `pgaudit.log = 'none' for ${levelName(level)}`, false);
    });

  withConnection(group.command('object'))
    .description('object auditing: grant (or --revoke) privileges on tables to the object-audit role (pgaudit.role), creating it when unset')
    .option('--table <name>', 'a table or view, schema-qualified or on the search_path (repeatable)', repeatable)
    .requiredOption('--privileges <list>', 'comma-separated: select, insert, update, delete')
    .option('--revoke', 'revoke instead of grant')
    .option('--dry-run', 'print the SQL and change nothing')
    .addHelpText('after', `
pgAudit then logs an OBJECT record for each statement that uses one of those privileges on one of
those tables, whatever pgaudit.log says. Tables are looked up in the database of --db.

Examples:
  pgwarden pgaudit object --db postgres://admin@db/sales --table public.orders --table customers --privileges select,update
  pgwarden pgaudit object --table public.orders --privileges update --revoke`)
    .action(async (options: { table?: string[]; privileges: string; revoke?: boolean; dryRun?: boolean }, command: Command) => {
      if (!options.table || options.table.length === 0) throw new PgwardenError('PGW_ERR_INVALID_VALUE', 'name at least one table with --table');
      const privileges = parsePrivileges(options.privileges);
      await withDatabase(command, async (client) => {
        const plan = await planObject(client, { tables: options.table!, privileges, revoke: options.revoke });
        if (options.dryRun) {
          print(dryRunText(plan));
          return;
        }
        await applyPlan(client, plan);
        print(appliedText(plan, `${options.revoke ? 'revoked' : 'granted'} ${privileges.join(', ')} on ${options.table!.length} table(s) ${options.revoke ? 'from' : 'to'} "${plan.role}"`));
      });
    });
}

function levelOptions(command: Command): Command {
  return command
    .option('--database <name>', 'set it for this database only (ALTER DATABASE ... SET)')
    .option('--role <name>', 'set it for this role only (ALTER ROLE ... SET; with --database: ALTER ROLE ... IN DATABASE)')
    .option('--dry-run', 'print the SQL and change nothing');
}

function levelOf(options: LevelOptions): Level {
  for (const [flag, value] of [['--database', options.database], ['--role', options.role]] as const) {
    if (value !== undefined && value.length === 0) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${flag} is empty`);
  }
  return { database: options.database, role: options.role };
}

/** Checks the level on the target, then plans and applies in --database (where the extension belongs) or the target. */
async function runPlan(command: Command, level: Level, dryRun: boolean | undefined, plan: (client: pg.Client) => Promise<Plan>, done: string, extensionInDatabase = true): Promise<void> {
  const target = targetOf(command);
  if (level.database && extensionInDatabase) await withClient(target, (client) => checkLevel(client, level));
  const where = level.database && extensionInDatabase ? targetForDatabase(target, level.database) : target;
  await withClient(where, async (client) => {
    const p = await plan(client);
    if (dryRun) {
      print(dryRunText(p));
      return;
    }
    await applyPlan(client, p);
    print(appliedText(p, done));
  });
}

/** enable --all-databases: the extension in every connectable database, one transaction each, before the settings. */
async function extensionEverywhere(command: Command, dryRun: boolean | undefined): Promise<void> {
  const target = targetOf(command);
  await withClient(target, requireLoaded);
  await onEachDatabase(target, true, async (client) => {
    const plan = await planExtension(client);
    if (plan.steps.length === 0) return;
    const { rows } = await client.query<{ db: string }>(`${SQL_TAG}SELECT pg_catalog.current_database() AS db`);
    if (!dryRun) await applyPlan(client, plan);
    print(`\\connect ${client.escapeIdentifier(rows[0]!.db)}\n${planText(plan)}`);
  });
}

function dryRunText(plan: Plan): string {
  return `-- dry run: nothing was changed\n${plan.notes.map((n) => `-- ${n}\n`).join('')}${planText(plan)}`;
}

function appliedText(plan: Plan, done: string): string {
  return `${planText(plan)}${plan.notes.map((n) => `-- ${n}\n`).join('')}Done: ${done}.`;
}

function statusText(s: PgauditStatus): string {
  const out: string[] = [];
  const p = s.preload;
  out.push(`PostgreSQL ${s.server_version}`);
  out.push(`shared_preload_libraries: ${p.shared_preload_libraries === null ? '(not readable by this role)' : `'${p.shared_preload_libraries}'`}`);
  out.push(`pgAudit loaded: ${p.loaded ? 'yes' : p.pending_restart ? 'no (restart pending)' : 'no'}; package available: ${p.available_version ?? 'no'}`);
  out.push('', 'Extension:');
  out.push(render(s.extension, [
    { header: 'database', value: (r) => r.database },
    { header: 'pgaudit', value: (r) => r.extension_version ?? 'not created' },
  ], 'table').trimEnd());
  if (p.loaded) {
    out.push('', 'Settings (server value; effective in this session, and where that comes from):');
    out.push(render(s.settings, [
      { header: 'setting', value: (r) => r.name },
      { header: 'server', value: (r) => r.server_value ?? '(absent)' },
      { header: 'effective', value: (r) => r.value ?? '(absent)' },
      { header: 'source', value: (r) => r.source },
    ], 'table').trimEnd());
  }
  out.push('', 'Per-database and per-role overrides (pg_db_role_setting):');
  out.push(s.overrides.length === 0 ? '(none)' : render(s.overrides, [
    { header: 'database', value: (r) => r.database ?? '(all)' },
    { header: 'role', value: (r) => r.role ?? '(all)' },
    { header: 'setting', value: (r) => r.name },
    { header: 'value', value: (r) => r.value },
  ], 'table').trimEnd());
  out.push('', `Object-audit role (pgaudit.role): ${s.auditor.role === null ? '(unset)' : `"${s.auditor.role}"${s.auditor.exists ? '' : ' (does not exist)'}`}`);
  if (s.auditor.role && s.auditor.exists) {
    out.push(s.auditor.grants.length === 0 ? '(no grants: no object auditing)' : render(s.auditor.grants, [
      { header: 'database', value: (r) => r.database },
      { header: 'object', value: (r) => r.object },
      { header: 'column', value: (r) => r.column ?? '' },
      { header: 'privilege', value: (r) => r.privilege },
    ], 'table').trimEnd());
  }
  if (s.advice.length > 0) out.push('', 'What to change:', ...s.advice.map((a) => `- ${a}`));
  return out.join('\n');
}
