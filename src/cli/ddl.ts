// pgwarden ddl policy show | set | freeze | window | remove-window; pgwarden ddl baseline [--accept]
import type { Command } from 'commander';
import { SQL_TAG, inTransaction } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { addWindow, changePolicy, listWindows, readPolicy, removeWindow, type DdlPolicy, type DdlWindow, type PolicyChange } from '../ddl/index.ts';
import { validateName } from '../guard/index.ts';
import { formatOption, parseInteger, print, repeatable, withConnection, withDatabase } from './common.ts';
import { render, type Column } from './output.ts';

const WINDOW_COLUMNS: Column<DdlWindow>[] = [
  { header: 'id', value: (w) => w.id },
  { header: 'kind', value: (w) => w.kind },
  { header: 'starts', value: (w) => w.starts ?? '-infinity' },
  { header: 'ends', value: (w) => w.ends ?? 'infinity' },
  { header: 'active', value: (w) => (w.active ? 'yes' : 'no') },
  { header: 'reason', value: (w) => w.reason },
  { header: 'created_by', value: (w) => w.created_by },
];

const UNITS = { m: 60, h: 3600, d: 86400, w: 604800 } as const;

/** `now`, an ISO-8601 time (local time when it has no zone), or a duration after `base` (now) such as 30m, 4h, 2d. */
export function parseWhen(flag: string, text: string, now = new Date(), base = now): Date {
  const value = text.trim();
  if (value === 'now') return now;
  const relative = /^\+?(\d+)\s*([mhdw])$/.exec(value);
  if (relative) return new Date(base.getTime() + UNITS[relative[2] as keyof typeof UNITS] * Number(relative[1]) * 1000);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}(:?\d{2})?)?)?$/.test(value)) {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${flag} "${text}" is not now, a duration (30m, 4h, 2d, 1w) or an ISO-8601 time such as 2026-12-24T18:00:00Z`);
}

function describePolicy(policy: DdlPolicy, windows: DdlWindow[]): string {
  const lines = [
    `change policy: ${policy.enabled ? 'ON' : 'off'} (last changed ${policy.updated_at.toISOString()} by ${policy.updated_by})`,
    `  roles allowed to change the schema: ${policy.allowed_roles?.join(', ') ?? 'any'}`,
    `  exempt (break glass): ${policy.exempt_roles.join(', ') || 'none'}`,
    `  change ticket required: ${policy.require_ticket ? `yes${policy.ticket_pattern ? `, matching ${policy.ticket_pattern}` : ''}` : 'no'}`,
    `  DDL only inside change windows: ${policy.windows_only ? 'yes' : 'no'}`,
  ];
  return lines.join('\n') + '\n' + (windows.length > 0 ? render(windows, WINDOW_COLUMNS, 'table') : '  no freezes or change windows\n');
}

interface SetOptions {
  enable?: boolean; disable?: boolean; allowedRole?: string[]; anyRole?: boolean; exemptRole?: string[]; noExempt?: boolean;
  requireTicket?: boolean; ticketPattern?: string; windowsOnly?: boolean;
}

export function registerDdlCommands(program: Command): void {
  const ddl = program.command('ddl').description('the DDL audit: change policy (freezes, change windows, tickets)');
  const policy = ddl.command('policy').description('the change policy enforced at ddl_command_start (off by default)');

  withConnection(policy.command('show'))
    .description('show the change policy, freezes and change windows')
    .addOption(formatOption(['table', 'json']))
    .action(async (options: { format: 'table' | 'json' }, command: Command) => {
      const [current, windows] = await withDatabase(command, async (client) => [await readPolicy(client), await listWindows(client)] as const);
      print(options.format === 'json' ? JSON.stringify({ ...current, windows }, null, 2) : describePolicy(current, windows));
    });

  withConnection(policy.command('set'))
    .description('change the policy; options not given keep their value')
    .option('--enable', 'enforce the policy')
    .option('--disable', 'stop enforcing it (settings are kept)')
    .option('--allowed-role <role>', 'a role (or group role) that may change the schema (repeatable; replaces the list)', repeatable)
    .option('--any-role', 'any role may change the schema')
    .option('--exempt-role <role>', 'a role the policy never refuses (repeatable; replaces the list)', repeatable)
    .option('--no-exempt', 'no exempt roles')
    .option('--require-ticket', 'require SET pgwarden.change_ticket in the session')
    .option('--no-require-ticket', 'do not require a change ticket')
    .option('--ticket-pattern <regex>', "POSIX regular expression a ticket must match, e.g. '^CHG-[0-9]+$' ('' for any)")
    .option('--windows-only', 'allow DDL only inside a change window')
    .option('--no-windows-only', 'allow DDL outside change windows (freezes still apply)')
    .addHelpText('after', `
Example: only members of dba may change the schema, with a ticket, except the break-glass role:
  pgwarden ddl policy set --enable --allowed-role dba --require-ticket --ticket-pattern '^CHG-[0-9]+$' --exempt-role dba_oncall
Then, in a session:  SET pgwarden.change_ticket = 'CHG-123';  ALTER TABLE ...`)
    .action(async (options: SetOptions, command: Command) => {
      if (options.enable && options.disable) throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--enable and --disable contradict each other');
      if (options.allowedRole && options.anyRole) throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--allowed-role and --any-role contradict each other');
      for (const role of [...(options.allowedRole ?? []), ...(options.exemptRole ?? [])]) validateName('role', role);
      const given = command.getOptionValueSource.bind(command);
      const change: PolicyChange = {
        enabled: options.enable ? true : options.disable ? false : undefined,
        allowedRoles: options.anyRole ? null : options.allowedRole,
        exemptRoles: given('exempt') === 'cli' && options.exemptRole === undefined ? [] : options.exemptRole,
        requireTicket: given('requireTicket') === 'cli' ? Boolean(options.requireTicket) : undefined,
        ticketPattern: options.ticketPattern === undefined ? undefined : options.ticketPattern || null,
        windowsOnly: given('windowsOnly') === 'cli' ? Boolean(options.windowsOnly) : undefined,
      };
      if (Object.values(change).every((v) => v === undefined)) {
        throw new PgwardenError('PGW_ERR_INVALID_VALUE', 'nothing to change: give at least one option (see --help)');
      }
      const [updated, windows] = await withDatabase(command, async (client) => [await changePolicy(client, change), await listWindows(client)] as const);
      print(describePolicy(updated, windows));
    });

  for (const kind of ['freeze', 'window'] as const) {
    withConnection(policy.command(kind))
      .description(kind === 'freeze' ? 'refuse all DDL (but exempt roles) for a time' : 'open a change window (DDL allowed in it when --windows-only is set)')
      .option('--from <when>', 'start: now, a duration from now (30m, 4h, 2d) or an ISO-8601 time (local time without a zone)', 'now')
      .option('--until <when>', 'end: a duration after --from (4h) or an ISO-8601 time (default: no end)')
      .option('--reason <text>', 'why, shown to whoever is refused')
      .action(async (options: { from: string; until?: string; reason?: string }, command: Command) => {
        const starts = parseWhen('--from', options.from);
        const ends = options.until === undefined ? null : parseWhen('--until', options.until, new Date(), starts);
        const [added, current] = await withDatabase(command, async (client) =>
          [await addWindow(client, kind, starts, ends, options.reason ?? null), await readPolicy(client)] as const);
        print(render([added], WINDOW_COLUMNS, 'table'));
        if (!current.enabled) process.stderr.write('note: the change policy is off, so this has no effect until `pgwarden ddl policy set --enable`\n');
        else if (kind === 'window' && !current.windows_only) process.stderr.write('note: change windows restrict DDL only with `pgwarden ddl policy set --windows-only`\n');
      });
  }

  withConnection(policy.command('remove-window'))
    .description('delete a freeze or change window by id')
    .argument('<id>', 'the id shown by `pgwarden ddl policy show`')
    .action(async (id: string, _options: object, command: Command) => {
      const removed = await withDatabase(command, (client) => removeWindow(client, parseInteger('id', id)));
      print(`removed ${removed.kind} ${removed.id}`);
    });

  withConnection(ddl.command('baseline'))
    .description('list the changes no DDL record explains (relations, owners, roles, databases); --accept takes the baseline anew')
    .option('--accept', 'accept them: take the baseline of relations, roles and databases anew (needs a superuser)')
    .addOption(formatOption(['table', 'json']))
    .action(async (options: { accept?: boolean; format: 'table' | 'json' }, command: Command) => {
      await withDatabase(command, async (client) => {
        type Row = { kind: string; change: string; name: string; detail: string };
        const { rows } = await client.query<Row>(`${SQL_TAG}SELECT kind, change, name, detail FROM pgwarden.ddl_unrecorded() ORDER BY kind, name`);
        if (options.format === 'json') print(JSON.stringify(rows, null, 2));
        else if (rows.length === 0) print('no unrecorded changes since the baseline');
        else print(render(rows, [
          { header: 'kind', value: (r) => r.kind }, { header: 'name', value: (r) => r.name },
          { header: 'change', value: (r) => r.change }, { header: 'detail', value: (r) => r.detail },
        ], 'table'));
        if (!options.accept) return;
        const taken = await inTransaction(client, async () => {
          const { rows: [row] } = await client.query<{ taken: string }>(`${SQL_TAG}SELECT pgwarden.ddl_baseline_take() AS taken`);
          return row!.taken;
        });
        process.stderr.write(`baseline taken anew: ${taken} relations, roles and databases\n`);
      });
    });
}
