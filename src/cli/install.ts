// pgwarden install | uninstall | status
import type { Command } from 'commander';
import { Option } from 'commander';
import { withClient, targetForDatabase, type Target } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import {
  dropClusterRoles, installResponder, installSchema, newRecorderPassword, sensorsStatus, uninstallSchema,
  isDrift, updateRecorderPassword, type StatusReport,
} from '../sensors/index.ts';
import { breakGlassRoles, connectableDatabases, formatOption, loadCommandConfig, onEachDatabase, print, repeatable, targetOf, withConnection } from './common.ts';
import { render } from './output.ts';
import { uninstallCommand } from './uninstall.ts';

export function registerInstallCommands(program: Command): void {
  withConnection(program.command('install'))
    .description('install or upgrade the pgwarden sensors schema (needs a superuser; idempotent)')
    .option('--all-databases', 'install into every connectable database and template1 (so new databases get it)')
    .option('--dbname <name>', 'install into this database of the server (e.g. one status lists as MISSING)')
    .addOption(new Option('--on-error <mode>', 'what a broken guard does to non-superusers').choices(['open', 'closed']))
    .option('--break-glass-role <role>', 'a role the guard never refuses (repeatable; replaces the list)', repeatable)
    .option('--responder', 'also make the responder role for the lock_role response (CREATEROLE; docs/detect.md, "The responder role")')
    .action(async (options: { allDatabases?: boolean; dbname?: string; onError?: 'open' | 'closed'; breakGlassRole?: string[]; responder?: boolean }, command: Command) => {
      if (options.dbname === '') throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--dbname "": names no database (a database name, e.g. --dbname reports)');
      if (options.dbname !== undefined && options.allDatabases) throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--dbname and --all-databases: give one of them');
      const target = options.dbname === undefined ? targetOf(command) : targetForDatabase(targetOf(command), options.dbname);
      const guard = loadCommandConfig(command).guard;
      const password = newRecorderPassword();
      // Options given now always apply; the config file's values only seed a new schema.
      const settings = { onError: options.onError, breakGlassRoles: breakGlassRoles(options.breakGlassRole), recorderHost: guard.recorder_host };
      const defaults = { onError: guard.on_error, breakGlassRoles: guard.break_glass_roles };
      const installed = new Set<string>();
      await onEachDatabase(target, Boolean(options.allDatabases), async (client) => {
        // What status found wrong before, so the user learns what this run repaired.
        const before = await sensorsStatus(client);
        const result = await installSchema(client, password, settings, defaults);
        const database = result.database;
        installed.add(database);
        const change = result.fromVersion === result.toVersion ? `already at version ${result.toVersion}` : `version ${result.fromVersion} -> ${result.toVersion}`;
        print(`${database}: ${change}; login trigger: ${result.loginTrigger ? 'on' : 'none (PostgreSQL < 17: use session_exec or `pgwarden guard watch`)'}; refusal recorder: ${result.dblink === 'unavailable' ? 'server log only (dblink unavailable)' : 'dblink'}`);
        if (options.responder) {
          const responder = await installResponder(client);
          print(`${database}: responder pgwarden_responder ready for lock_role` + (responder.adminGranted.length > 0 ? `; ADMIN OPTION given on ${responder.adminGranted.map((r) => JSON.stringify(r)).join(', ')}` : ''));
        }
        if (before.installed) {
          const after = await sensorsStatus(client);
          // The recorder's password was rotated by this very run in the databases before this one.
          const rotated = (object: string) => installed.size > 1 && object.startsWith('refusal recorder');
          const fixed = before.items.filter((item) => isDrift(item.state) && !rotated(item.object)
            && after.items.some((a) => a.object === item.object && a.state === 'OK'));
          for (const item of fixed) print(`${database}: repaired ${item.object} (was ${item.state}: ${item.actual})`);
          for (const item of after.items.filter((a) => isDrift(a.state))) print(`${database}: still ${item.state} ${item.object}: ${item.actual}`);
        }
      });
      // The recorder role is cluster-wide and just got a new password: hand it to the other databases that have pgwarden.
      await propagateRecorderPassword(target, password, installed);
    });

  uninstallCommand(program, 'remove every object pgwarden installed (schema pgwarden, login trigger, recorder role when unused)', uninstallSchema, dropClusterRoles);

  withConnection(program.command('status'))
    .description('show what is installed and whether any object is missing, changed or disabled (exit 7 on drift)')
    .option('--all-databases', 'check every connectable database and template1')
    .option('--problems', 'show only the rows that are not OK')
    .addOption(formatOption(['table', 'json']))
    .action(async (options: { allDatabases?: boolean; problems?: boolean; format: 'table' | 'json' }, command: Command) => {
      const target = targetOf(command);
      const reports = (await onEachDatabase(target, Boolean(options.allDatabases), (client) => sensorsStatus(client)))
        .map((report) => (options.problems ? { ...report, items: report.items.filter((i) => i.state !== 'OK') } : report));
      if (options.format === 'json') print(JSON.stringify(reports, null, 2));
      else for (const report of reports) print(renderStatus(report));
      const drifted = reports.filter((r) => r.drift).map((r) => r.database);
      if (drifted.length > 0) {
        // Alert delivery failing is not drift: install would not fix it.
        const onlyDelivery = reports.every((r) => r.items.every((i) => !isDrift(i.state) || i.object.startsWith('alert delivery to ')));
        if (onlyDelivery) throw new PgwardenError('PGW_ERR_DELIVERY', `alert delivery failing in ${drifted.join(', ')}: see the FAILED rows`);
        throw new PgwardenError('PGW_ERR_DRIFT', `drift found in ${drifted.join(', ')}: see the rows not marked OK`);
      }
    });
}

function renderStatus(report: StatusReport): string {
  const header = `database ${report.database} (PostgreSQL ${Math.floor(report.serverVersion / 10000)}): ` +
    (report.installed ? `pgwarden schema version ${report.schemaVersion}` : 'pgwarden not installed');
  if (report.items.length === 0) return `${header}: every object as install made it\n`;
  return header + '\n' + render(report.items, [
    { header: 'state', value: (i) => i.state },
    { header: 'object', value: (i) => i.object },
    { header: 'expected', value: (i) => i.expected },
    { header: 'actual', value: (i) => i.actual },
  ], 'table');
}

async function propagateRecorderPassword(target: Target, password: string, done: Set<string>): Promise<void> {
  const databases = (await withClient(target, connectableDatabases)).filter((d) => !done.has(d));
  for (const database of databases) {
    try {
      await withClient(targetForDatabase(target, database), (other) => updateRecorderPassword(other, password));
    } catch (error) {
      process.stderr.write(`warning: could not update the recorder password in database ${database} (${(error as Error).message}); run \`pgwarden install\` there so refusals keep being recorded\n`);
    }
  }
}
