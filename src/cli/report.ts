// pgwarden report connections | ddl
import type { Command } from 'commander';
import { ddlEvents, type DdlRow } from '../ddl/index.ts';
import { connectionAttempts, parseSince, type AttemptRow } from '../guard/index.ts';
import { formatOption, parseInteger, print, repeatable, withConnection, withDatabase } from './common.ts';
import { STATEMENT_WIDTH, render, type Column, type Format } from './output.ts';

const ATTEMPT_COLUMNS: Column<AttemptRow>[] = [
  { header: 'ts', value: (r) => r.ts },
  { header: 'database', value: (r) => r.database },
  { header: 'user', value: (r) => r.user },
  { header: 'application', value: (r) => r.application },
  { header: 'client_addr', value: (r) => r.client_addr },
  { header: 'decision', value: (r) => r.decision },
  { header: 'rule_id', value: (r) => r.rule_id },
  { header: 'message', value: (r) => r.message },
  { header: 'via', value: (r) => r.via },
];

const DDL_COLUMNS: Column<DdlRow>[] = [
  { header: 'ts', value: (r) => r.ts },
  { header: 'id', value: (r) => r.id },
  { header: 'user', value: (r) => r.user_name },
  { header: 'current_user', value: (r) => r.current_user_name },
  { header: 'database', value: (r) => r.database },
  { header: 'client_addr', value: (r) => r.client_addr },
  { header: 'application', value: (r) => r.application },
  { header: 'command_tag', value: (r) => r.command_tag },
  { header: 'event', value: (r) => r.event },
  { header: 'object_type', value: (r) => r.object_type },
  { header: 'object_identity', value: (r) => r.object_identity },
  { header: 'change_ticket', value: (r) => r.change_ticket },
  { header: 'statement', value: (r) => r.statement, maxWidth: STATEMENT_WIDTH },
];

/** JSON carries every recorded field, not only the table's columns. */
function ddlJson(row: DdlRow): object {
  return { ...row, ts: row.ts.toISOString() };
}

export function registerReportCommands(program: Command): void {
  const report = program.command('report').description('reports from what pgwarden recorded');
  withConnection(report.command('connections'))
    .description('connection attempts the guard allowed or refused, oldest first')
    .option('--since <when>', 'a duration back from now (90s, 15m, 1h, 2d, 1w) or an ISO-8601 time', '24h')
    .option('--denied', 'only refused attempts and terminated sessions')
    .option('--user <role>', 'only this role (repeatable)', repeatable)
    .option('--limit <n>', 'only the newest n rows (still listed oldest first)')
    .addOption(formatOption())
    .action(async (options: { since: string; denied?: boolean; user?: string[]; limit?: string; format: Format }, command: Command) => {
      const since = parseSince(options.since);
      const limit = options.limit === undefined ? undefined : parseInteger('--limit', options.limit);
      const rows = await withDatabase(command, (client) => connectionAttempts(client, { since, deniedOnly: Boolean(options.denied), users: options.user, limit }));
      print(render(rows, ATTEMPT_COLUMNS, options.format));
    });

  withConnection(report.command('ddl'))
    .description('schema changes the DDL audit recorded (one row per object), oldest first')
    .option('--since <when>', 'a duration back from now (90s, 15m, 1h, 2d, 1w) or an ISO-8601 time', '24h')
    .option('--user <role>', 'only changes by this role, as session or current user (repeatable)', repeatable)
    .option('--command <tag>', "only this command tag, e.g. 'DROP TABLE' or 'DROP *' (repeatable)", repeatable)
    .option('--limit <n>', 'only the newest n rows (still listed oldest first)')
    .addOption(formatOption())
    .action(async (options: { since: string; user?: string[]; command?: string[]; limit?: string; format: Format }, command: Command) => {
      const since = parseSince(options.since);
      const limit = options.limit === undefined ? undefined : parseInteger('--limit', options.limit);
      const rows = await withDatabase(command, (client) => ddlEvents(client, { since, users: options.user, commands: options.command, limit }));
      print(render(rows, DDL_COLUMNS, options.format, ddlJson));
    });
}
