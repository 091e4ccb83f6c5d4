// pgwarden guard allow | deny | list | remove | test | settings | watch
import { Command, Option } from 'commander';
import type pg from 'pg';
import { SQL_TAG, connect } from '../core/db.ts';
import { PgwardenError, classifyError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import {
  GuardWatcher, addRule, checkWatchPrivileges, decide, listRules, normaliseRule, parsePriority, removeRule, ruleWarnings,
  type RuleAction, type StoredRule, type WatchedSession,
} from '../guard/index.ts';
import { applyGuardSettings } from '../sensors/index.ts';
import { breakGlassRoles, formatOption, loadCommandConfig, onEachDatabase, parseInteger, print, repeatable, targetOf, withConnection, withDatabase } from './common.ts';
import { render, type Column, type Format } from './output.ts';
import { sleep } from '../core/sleep.ts';

const RULE_COLUMNS: Column<StoredRule>[] = [
  { header: 'id', value: (r) => r.id },
  { header: 'priority', value: (r) => r.priority },
  { header: 'action', value: (r) => r.action },
  { header: 'roles', value: (r) => r.roles },
  { header: 'applications', value: (r) => r.applications ?? '*' },
  { header: 'clients', value: (r) => r.clients ?? '*' },
  { header: 'databases', value: (r) => r.databases ?? '*' },
  { header: 'message', value: (r) => r.message },
  { header: 'expires', value: (r) => (r.expires_at === null ? '' : r.expires_at.toISOString()) },
];

function ruleJson(rule: StoredRule): object {
  return { ...rule, created_at: rule.created_at.toISOString() };
}

interface RuleOptions {
  role?: string[]; app?: string[]; client?: string[]; database?: string[]; message?: string; priority?: string;
  allDatabases?: boolean; format: Format;
}

function ruleCommand(parent: Command, action: RuleAction): void {
  withConnection(parent.command(action))
    .description(`add a rule that ${action === 'deny' ? 'refuses' : 'admits'} matching connections (first match wins, by priority then id)`)
    .option('--role <role>', "role name, '+group' for the members of a group role, or '*' for every role (repeatable; required)", repeatable)
    .option('--app <pattern>', "application_name ILIKE pattern, e.g. '%dbeaver%' (repeatable; default any)", repeatable)
    .option('--client <cidr>', 'client network such as 10.0.0.0/8, an address, or local for Unix sockets (repeatable; default any)', repeatable)
    .option('--database <name>', 'database name, or replication for physical replication connections (repeatable; default any)', repeatable)
    .option('--message <text>', 'what a refused client is told')
    .option('--priority <n>', 'lower runs first (default 100)')
    .option('--all-databases', 'add the rule in every database that has pgwarden, template1 included')
    .addOption(formatOption(['table', 'json']))
    .addHelpText('after', action === 'deny' ? `
Example:
  pgwarden guard deny --role app_orders --role app_billing --app '%dbeaver%' --app '%pgadmin%' \\
    --message 'GUI tools are not allowed for application accounts'` : `
Example (an exception that runs before the deny rules at priority 100):
  pgwarden guard allow --role app_billing --app 'billing-report%' --client 10.20.0.0/16 --priority 10`)
    .action(async (options: RuleOptions, command: Command) => {
      const rule = normaliseRule({
        action,
        roles: options.role ?? [],
        applications: options.app,
        clients: options.client,
        databases: options.database,
        message: options.message,
        priority: options.priority === undefined ? undefined : parsePriority(options.priority),
      });
      const added = await onEachDatabase(targetOf(command), Boolean(options.allDatabases), async (client) => {
        const stored = await addRule(client, rule);
        const { rows } = await client.query<{ db: string }>(`${SQL_TAG}SELECT pg_catalog.current_database() AS db`);
        for (const warning of await ruleWarnings(client, rule)) process.stderr.write(`warning: ${rows[0]!.db}: ${warning}\n`);
        return { database: rows[0]!.db, stored };
      }, { onlyInstalled: true });
      if (options.format === 'json') {
        const json = added.map(({ database, stored }) => ({ database, ...ruleJson(stored) }));
        print(JSON.stringify(options.allDatabases ? json : json[0], null, 2));
      } else {
        for (const { database, stored } of added) print(`${options.allDatabases ? `${database}: ` : ''}added rule ${stored.id}`);
        print(render(added.slice(0, 1).map((a) => a.stored), RULE_COLUMNS, 'table'));
      }
    });
}

export function registerGuardCommands(program: Command): void {
  const guard = program.command('guard').description('the connection guard: who may connect with which tool, from where');
  ruleCommand(guard, 'deny');
  ruleCommand(guard, 'allow');

  withConnection(guard.command('list'))
    .description('list the rules in evaluation order')
    .addOption(formatOption())
    .action(async (options: { format: Format }, command: Command) => {
      const rules = await withDatabase(command, listRules);
      print(render(rules, RULE_COLUMNS, options.format, ruleJson));
    });

  withConnection(guard.command('remove'))
    .description('remove a rule by id')
    .argument('<id>', 'rule id, as `guard list` shows it')
    .action(async (id: string, _options: object, command: Command) => {
      const removed = await withDatabase(command, (client) => removeRule(client, parseInteger('rule id', id)));
      print(`removed rule ${removed.id} (${removed.action} ${removed.roles.join(',')})`);
    });

  withConnection(guard.command('test'))
    .description('dry run: what the guard decides for a connection, and which rule decides it (exit 0 allow, 1 deny)')
    .requiredOption('--role <role>', 'the connecting role (required)')
    .option('--app <name>', 'the application_name the client sends', '')
    .option('--client <ip>', 'the client address, or local for a Unix socket', 'local')
    .option('--database <name>', 'the database (default: the one --db points at)')
    .addOption(formatOption(['table', 'json']))
    .action(async (options: { role: string; app: string; client: string; database?: string; format: Format }, command: Command) => {
      const result = await withDatabase(command, (client) => decide(client, {
        role: options.role, application: options.app, client: options.client, database: options.database,
      }));
      if (options.format === 'json') {
        print(JSON.stringify({ role: options.role, application: options.app, client: options.client, ...result }, null, 2));
      } else {
        const why = result.reason === 'rule' ? `by rule ${result.rule_id}` : result.reason === 'default' ? 'by default (no rule matched)' : `(${result.reason})`;
        print(`${result.decision} ${why}${result.message ? `: ${result.message}` : ''}`);
        print(`  role ${options.role}, application "${options.app}", client ${options.client}, database ${result.database}`);
      }
      if (result.decision === 'deny') process.exitCode = 1;
    });

  withConnection(guard.command('settings'))
    .description('show or change how the guard fails and who is never refused')
    .addOption(new Option('--on-error <mode>', 'when the guard itself breaks: open (allow, default) or closed (refuse non-superusers)').choices(['open', 'closed']))
    .option('--break-glass-role <role>', 'a role never refused (repeatable; replaces the list)', repeatable)
    .option('--no-break-glass', 'clear the break-glass role list')
    .option('--all-databases', 'change the settings in every database that has pgwarden, template1 included')
    .addOption(new Option('--record-allowed <on|off>', 'record allowed logins too, not only refusals (on by default; off makes each login cheaper)').choices(['on', 'off']))
    .action(async (options: { onError?: 'open' | 'closed'; breakGlassRole?: string[]; breakGlass: boolean; recordAllowed?: 'on' | 'off'; allDatabases?: boolean }, command: Command) => {
      const results = await onEachDatabase(targetOf(command), Boolean(options.allDatabases), async (client) => {
        await applyGuardSettings(client, {
          onError: options.onError,
          breakGlassRoles: options.breakGlass === false ? [] : breakGlassRoles(options.breakGlassRole),
          recordAllowed: options.recordAllowed === undefined ? undefined : options.recordAllowed === 'on',
        });
        const { rows } = await client.query<{ db: string; on_error: string; break_glass_roles: string[]; record_allowed: boolean }>(
          `${SQL_TAG}SELECT pg_catalog.current_database() AS db, on_error, break_glass_roles, record_allowed FROM pgwarden.guard_settings`);
        return rows[0]!;
      }, { onlyInstalled: true });
      for (const settings of results) {
        print(`${options.allDatabases ? `${settings.db}: ` : ''}on error: fail ${settings.on_error}\nbreak-glass roles: ${settings.break_glass_roles.join(', ') || '(none)'}\n`
          + `record allowed logins: ${settings.record_allowed ? 'on' : 'off'}`);
      }
    });

  withConnection(guard.command('watch'))
    .description('end and record sessions a deny rule matches: any PostgreSQL version, managed services, apps that set application_name after login, and replication connections')
    .option('--interval <seconds>', 'seconds between full sweeps of every session (default 2, or guard.watch.interval_seconds)')
    .option('--recheck <ms>', 'milliseconds between checks of sessions in their first second (default 5; 0 turns the rechecks off)')
    .option('--once', 'one full sweep, then exit (for cron and scripts)')
    .option('--dry-run', 'report what would be terminated, terminate nothing')
    .addOption(new Option('--format <format>', 'one line per terminated session: text, or json (JSON lines)').choices(['text', 'json']).default('text'))
    .action(async (options: { interval?: string; recheck?: string; once?: boolean; dryRun?: boolean; format: 'text' | 'json' }, command: Command) => {
      const settings = loadCommandConfig(command).guard.watch;
      const intervalMs = (options.interval === undefined ? settings.interval_seconds : parsePositiveNumber('--interval', options.interval)) * 1000;
      const recheckMs = options.recheck === undefined ? 5 : parseNonNegativeNumber('--recheck', options.recheck);
      const terminate = !options.dryRun && settings.terminate;
      await runWatch(command, { intervalMs, recheckMs, once: Boolean(options.once), terminate, json: options.format === 'json' });
    });
}

function parseNonNegativeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--recheck "${text}" is not a number of milliseconds (0 or more)`.replace('--recheck', flag));
  return value;
}

function parsePositiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${flag} "${text}" is not a positive number`);
  return value;
}

function describe(session: WatchedSession, terminated: boolean, json: boolean): string {
  if (json) return JSON.stringify({ ts: new Date().toISOString(), event: terminated ? 'terminated' : 'would_terminate', ...session });
  const where = session.replication === 'physical' ? 'physical replication' : `${session.database}${session.replication ? ' (logical replication)' : ''}`;
  return `${new Date().toISOString()} ${terminated ? 'terminated' : 'would terminate'} pid ${session.pid} ` +
    `${session.user}@${where} application "${session.application}" from ${session.client_addr}` +
    ` (rule ${session.rule_id ?? '-'}: ${session.message ?? ''})`;
}

/**
 * Whether an error means the server went away or is not accepting connections yet (a restart,
 * a failover, a network cut): watch mode then reconnects with backoff. Anything else (a missing
 * privilege, pgwarden not installed) will not fix itself and stops it.
 */
function isTransient(error: unknown): boolean {
  const cause = error instanceof PgwardenError ? (error.cause ?? error) : error;
  if (error instanceof PgwardenError && error.code === 'PGW_ERR_CONNECT') return true;
  const e = (cause ?? {}) as { code?: string; message?: string };
  if (typeof e.code === 'string' && (/^08/.test(e.code) || ['57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOENT'].includes(e.code))) return true;
  return /Connection terminated|not queryable|timeout expired|ECONNRESET|read ECONN/.test(e.message ?? '');
}

async function runWatch(command: Command, options: { intervalMs: number; recheckMs: number; once: boolean; terminate: boolean; json: boolean }): Promise<void> {
  const log = createLogger('guard-watch');
  const target = targetOf(command);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let backoffMs = 500;
  try {
    while (!stop.signal.aborted) {
      let client: pg.Client | undefined;
      try {
        client = await connect(target, 'pgwarden/guard-watch');
        await checkWatchPrivileges(client, options.terminate);
        const watcher = new GuardWatcher(client, { terminate: options.terminate });
        log.info({ target: target.label, intervalMs: options.intervalMs, recheckMs: options.recheckMs, terminate: options.terminate }, 'watching');
        let nextSweep = 0;
        for (;;) {
          const now = Date.now();
          const full = now >= nextSweep;
          const result = full ? await watcher.tick() : await watcher.recheckYoung();
          backoffMs = 500; // a query went through: the connection is good
          for (const session of result.denied) print(describe(session, result.terminated, options.json));
          if (options.once || stop.signal.aborted) break;
          if (full) nextSweep = now + options.intervalMs;
          const rechecking = options.recheckMs > 0 && watcher.guarding;
          await sleep(Math.max(0, rechecking ? Math.min(options.recheckMs, nextSweep - Date.now()) : nextSweep - Date.now()), stop.signal);
          if (stop.signal.aborted) break;
        }
        return;
      } catch (error) {
        if (options.once || !isTransient(error)) throw classifyError(error, target.label);
        log.warn({ err: (error as Error).message, retryInMs: backoffMs }, 'lost the connection; reconnecting');
        await sleep(backoffMs, stop.signal);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      } finally {
        await client?.end().catch(() => undefined);
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
