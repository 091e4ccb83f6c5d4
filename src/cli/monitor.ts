// pgwarden monitor install|uninstall|list, and pgwarden check.
import type { Command } from 'commander';
import { Option } from 'commander';
import { MONITOR_DEFAULTS } from '../core/config-file.ts';
import type { Config } from '../core/config.ts';
import { resolveTarget, type Target } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import {
  CHECKS, CHECK_FORMATS, ERROR_EXIT_CODE, checkServers, customChecks, dropMonitorRoles, recordSettingsBaseline, exitCode, installMonitor, isCheckFormat, planMonitorInstall, renderError,
  renderResults, uninstallMonitor, type CheckFormat, type ServerTarget,
} from '../monitor/index.ts';
import { configIfGiven, formatOption, loadCommandConfig, onEachDatabase, parseInteger, print, targetOf, withConnection } from './common.ts';
import { render } from './output.ts';
import { uninstallCommand } from './uninstall.ts';

export function registerMonitorCommands(program: Command): void {
  const monitor = program.command('monitor').description('secure monitoring: install the check functions an unprivileged login may call');

  withConnection(monitor.command('install'))
    .description('create schema pgwarden_monitor with one SECURITY DEFINER function per check (needs a superuser; idempotent)')
    .requiredOption('--user <login>', 'the monitoring login (an existing, unprivileged role) to make a member of pgwarden_monitor')
    .option('--all-databases', 'install into every connectable database and template1 (so new databases get it)')
    .option('--dry-run', 'print the SQL install would run in each database, and change nothing')
    .option('--show-names', 'name roles, pg_hba.conf lines and client addresses in results (default: the security checks about them return counts)')
    .action(async (options: { user: string; allDatabases?: boolean; dryRun?: boolean; showNames?: boolean }, command: Command) => {
      const installOptions = { customChecks: customChecks(loadCommandConfig(command).monitor.custom_checks), showNames: Boolean(options.showNames) };
      await onEachDatabase(targetOf(command), Boolean(options.allDatabases), async (client) => {
        if (options.dryRun) {
          const plan = await planMonitorInstall(client, options.user, installOptions);
          print(`-- database ${plan.database} (PostgreSQL ${Math.floor(plan.serverVersionNum / 10000)}): ${plan.statements.length} statements in one transaction\nBEGIN;\n${plan.statements.map((s) => `${s};`).join('\n')}\nCOMMIT;`);
          return;
        }
        const result = await installMonitor(client, options.user, installOptions);
        const unsupported = result.unsupported.length > 0 ? `; skipped on PostgreSQL ${Math.floor(result.serverVersionNum / 10000)}: ${result.unsupported.join(', ')}` : '';
        print(`${result.database}: ${result.checks} checks installed in schema pgwarden_monitor; ${result.login} may run them${unsupported}`);
      });
    });

  uninstallCommand(monitor, 'remove schema pgwarden_monitor, its catalog grants, and its roles when no database uses them', uninstallMonitor, dropMonitorRoles);

  withConnection(monitor.command('baseline'))
    .description('record the current settings as the baseline settings_drift compares with (needs a superuser; after an intended change)')
    .option('--all-databases', 'in every connectable database and template1')
    .action(async (options: { allDatabases?: boolean }, command: Command) => {
      await onEachDatabase(targetOf(command), Boolean(options.allDatabases), async (client) => {
        const result = await recordSettingsBaseline(client);
        print(`${result.database}: baseline of ${result.settings} settings recorded`);
      });
    });

  monitor.command('list')
    .description('list every check with its category, unit and default thresholds (no connection needed)')
    .addOption(formatOption(['table', 'json']))
    .action((options: { format: 'table' | 'json' }, command: Command) => {
      const rows = [...CHECKS, ...customChecks(loadCommandConfig(command).monitor.custom_checks)].map((c) => ({
        name: c.name, category: c.category, scope: c.scope, unit: c.unit, direction: c.thresholds.direction,
        warning: c.thresholds.warning, critical: c.thresholds.critical, description: c.description,
      }));
      if (options.format === 'json') print(JSON.stringify(rows, null, 2));
      else print(render(rows, ['name', 'category', 'scope', 'unit', 'direction', 'warning', 'critical', 'description']
        .map((key) => ({ header: key, value: (r: typeof rows[number]) => r[key as keyof typeof r] })), 'table'));
    });

  const check = program.command('check')
    .description('run monitoring checks as an unprivileged login and print them for Nagios/Icinga, check_mk, Zabbix, Prometheus or JSON')
    .option('--db <url>', 'postgres:// URL of the database (default: PG* environment variables); put the password in PGPASSWORD or a pgpass file, not here')
    .option('--server <name>', 'a server named in pgwarden.yaml (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--all-servers', 'every server named in pgwarden.yaml')
    .option('--checks <names>', 'comma-separated checks to run (default: every enabled check; see `pgwarden monitor list`)')
    .addOption(new Option('--format <format>', 'output format').choices(CHECK_FORMATS as unknown as string[]).default('nagios'))
    .option('--pgbouncer <url>', 'postgres:// URL of the pgBouncer admin console (database pgbouncer) for the pgbouncer checks; password in PGBOUNCER_PASSWORD. With --server: monitor.pgbouncer in pgwarden.yaml')
    .option('--timeout-ms <ms>', `per-check timeout, ${MIN_TIMEOUT_MS}-${MAX_TIMEOUT_MS} (default: monitor.timeout_ms in the config, or 5000)`)
    .addHelpText('after', `
Exit codes: with --format nagios (the default) the plugin convention, 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN. Other formats carry the state in their output and exit 0 when at least one server was
checked, 3 when none could be. Any error, a typo in the arguments included, answers in the
shape the format's consumer reads (PGWARDEN UNKNOWN - ... for nagios and for an unknown format)
and exits 3; docs/monitor.md says what each format prints.

Examples:
  pgwarden check --db postgres://monitoring@db1/postgres
  pgwarden check --all-servers --format prometheus > /var/lib/node_exporter/pgwarden.prom
  pgwarden check --server db1 --checks alive,connections,superusers --format checkmk

Every check: pgwarden monitor list; docs/monitor.md, docs/checks/.`)
    .action(async (options: { db?: string; server?: string[]; allServers?: boolean; checks?: string; format: CheckFormat; timeoutMs?: string; pgbouncer?: string }, command: Command) => {
      try {
        const cfg = (await configIfGiven(command)) ?? NO_CONFIG_FILE;
        const servers = withPgbouncer(serverTargets(options, cfg), options, cfg);
        const results = await checkServers(servers, {
          customChecks: customChecks(cfg.monitor.custom_checks),
          checks: options.checks === undefined ? undefined : checkList(options.checks),
          timeoutMs: options.timeoutMs !== undefined ? timeoutOf(options.timeoutMs) : cfg.monitor.timeout_ms,
          concurrency: cfg.monitor.concurrency,
          settings: cfg.monitor.checks,
        });
        process.stdout.write(renderResults(results, options.format));
        process.exitCode = exitCode(results, options.format);
      } catch (error) {
        // A monitoring plugin answers whatever went wrong in the shape its consumer reads.
        const message = error instanceof PgwardenError ? `${error.message} [${error.code}]` : `internal error: ${(error as Error).message ?? String(error)}`;
        process.stdout.write(renderError(message, options.format));
        process.exitCode = ERROR_EXIT_CODE;
      }
    });
  // Usage errors (an unknown option, a missing value, a wrong --format) come from commander
  // before the action runs: answer them the same way, in the format asked for if it is one.
  check.error = (message: string): never => {
    process.stdout.write(renderError(message.replace(/^error: /, ''), formatInArgv(process.argv)));
    // stdout is a pipe or a file under a monitoring system: written synchronously on Linux.
    process.exit(ERROR_EXIT_CODE);
  };
}

/** What `check` reads of the config. */
type CheckConfig = Pick<Config, 'servers' | 'default_server'> & {
  monitor: Pick<Config['monitor'], 'timeout_ms' | 'concurrency' | 'checks' | 'pgbouncer' | 'custom_checks'>;
};

/** The config of `check` without a config file: the schema's defaults (a test keeps them equal). */
export const NO_CONFIG_FILE: CheckConfig = {
  servers: {},
  default_server: undefined,
  monitor: { ...MONITOR_DEFAULTS, checks: {}, pgbouncer: {}, custom_checks: {} },
};

const MIN_TIMEOUT_MS = 10;
const MAX_TIMEOUT_MS = 600_000;

/** --checks: names separated by commas; an empty list is a mistake, not "every check". */
function checkList(text: string): string[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--checks "${text}": names no check (comma-separated names, e.g. alive,connections; see pgwarden monitor list)`);
  return names;
}

function timeoutOf(text: string): number {
  const value = parseInteger('--timeout-ms', text);
  if (value < MIN_TIMEOUT_MS || value > MAX_TIMEOUT_MS) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--timeout-ms "${text}" is outside ${MIN_TIMEOUT_MS}-${MAX_TIMEOUT_MS} milliseconds`);
  }
  return value;
}

/** The --format a broken command line asked for, when it is a valid one. */
function formatInArgv(argv: readonly string[]): CheckFormat | undefined {
  let found: string | undefined;
  argv.forEach((arg, i) => {
    if (arg === '--format') found = argv[i + 1];
    else if (arg.startsWith('--format=')) found = arg.slice('--format='.length);
  });
  return isCheckFormat(found) ? found : undefined;
}

/** Each server's pgBouncer console: --pgbouncer for a single server, else monitor.pgbouncer in the config. */
function withPgbouncer(servers: ServerTarget[], options: { pgbouncer?: string }, cfg: CheckConfig): ServerTarget[] {
  if (options.pgbouncer) {
    if (servers.length !== 1) throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--pgbouncer names one console: use it with one server, or set monitor.pgbouncer in pgwarden.yaml');
    const console = resolveTarget({ db: options.pgbouncer }, cfg);
    return [{ ...servers[0]!, pgbouncer: { ...console, password: process.env.PGBOUNCER_PASSWORD ?? console.password } }];
  }
  for (const [server, consoleName] of Object.entries(cfg.monitor.pgbouncer)) {
    if (!cfg.servers[consoleName]) throw new PgwardenError('PGW_ERR_CONFIG', `monitor.pgbouncer.${server}: "${consoleName}" is not one of servers (${Object.keys(cfg.servers).join(', ') || 'none defined'})`);
  }
  return servers.map((s) => {
    const consoleName = cfg.monitor.pgbouncer[s.name];
    return consoleName ? { ...s, pgbouncer: resolveTarget({ server: consoleName }, cfg) } : s;
  });
}

/** host:port/database, never the user or password. */
function describeTarget(target: Target): string {
  if (target.url) {
    try {
      const url = new URL(target.url);
      return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname || '/'}`;
    } catch { /* fall through */ }
  }
  const env = process.env;
  return `${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? '5432'}/${env.PGDATABASE ?? env.PGUSER ?? ''}`;
}

function serverTargets(options: { db?: string; server?: string[]; allServers?: boolean }, cfg: CheckConfig): ServerTarget[] {
  if (options.db && (options.server || options.allServers)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--db cannot be combined with --server or --all-servers: name the servers in pgwarden.yaml instead');
  }
  const names = options.allServers ? Object.keys(cfg.servers) : (options.server ?? []);
  if (options.allServers && names.length === 0) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--all-servers: the config file defines no servers (see docs/config.md)');
  }
  if (names.length === 0) {
    const target = resolveTarget({ db: options.db }, cfg);
    return [{ name: cfg.default_server && !options.db ? cfg.default_server : describeTarget(target), target }];
  }
  return [...new Set(names)].map((name) => ({ name, target: resolveTarget({ server: name }, cfg) }));
}
