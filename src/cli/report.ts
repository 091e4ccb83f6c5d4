// pgwarden report: connections and ddl read the audited server's own tables; audit, sessions,
// failed-logins and top the central repository's.
import type { Command } from 'commander';
import type pg from 'pg';
import { PgwardenError } from '../core/errors.ts';
import { ddlEvents, type DdlRow } from '../ddl/index.ts';
import { connectionAttempts, parseSince, type AttemptRow } from '../guard/index.ts';
import { AUDIT_RECORD_CLASSES } from '../pgaudit/classes.ts';
import {
  auditReport, failedLoginsReport, ownHiddenCount, requireRepository, sessionsReport, topReport, type ReportFilter,
} from '../repository/index.ts';
import { formatOption, parseInteger, print, repeatable, withConnection, withDatabase } from './common.ts';
import { STATEMENT_WIDTH, render, type Column, type Format } from './output.ts';
import { repoOption, repoTarget, withRepository } from './repo-connection.ts';

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

  // from the central repository (docs/repository.md)
  const reportCommand = (name: string, description: string, classes: boolean) => {
    const command = repoOption(report.command(name)).description(description)
      .option('--since <when>', 'a duration back from now (24h, 7d) or a timestamp (2026-01-31T00:00Z)')
      .option('--user <name>', 'only this user (repeatable)', repeatable)
      .option('--limit <n>', 'at most this many rows: the newest, listed oldest first', '1000')
      .option('--include-own', "include pgwarden's own rows (its roles and their logins; `repo own-roles` lists them), hidden by default")
      .addOption(formatOption(['table', 'csv', 'json', 'ndjson']));
    if (classes) command.option('--class <class>', `only this pgAudit class: ${AUDIT_RECORD_CLASSES.join(', ')} (repeatable)`, repeatable);
    return command;
  };
  const filterOf = (options: ReportOptions): ReportFilter => {
    for (const klass of options.class ?? []) {
      if (!(AUDIT_RECORD_CLASSES as readonly string[]).includes(klass.toUpperCase())) {
        throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--class "${klass}" is not a pgAudit class (${AUDIT_RECORD_CLASSES.join(', ')})`);
      }
    }
    return {
      since: options.since === undefined ? undefined : parseSince(options.since),
      users: options.user, classes: options.class?.map((c) => c.toUpperCase()), limit: parseInteger('--limit', options.limit),
      includeOwn: options.includeOwn ?? false,
    };
  };
  /** own: which report's hidden own rows to count for the table's footer; oldest: the time of a shown row. */
  const run = <T>(query: (client: pg.Client, filter: ReportFilter) => Promise<T[]>, columns: Column<T>[],
    own?: { report: 'audit' | 'sessions' | 'top'; oldest?: (rows: T[]) => Date | null }) =>
    async (options: ReportOptions, command: Command) => {
      const filter = filterOf(options);
      const { rows, hidden } = await withRepository(repoTarget(command), async (client) => {
        await requireRepository(client, false);
        const found = await query(client, filter);
        // the footer: only for a table, only when hiding, and only over the stretch the rows cover
        // (or --since) — never a count of the whole repository on its own
        if (!own || options.format !== 'table' || filter.includeOwn) return { rows: found, hidden: 0 };
        const from = own.oldest ? (own.oldest(found) ?? filter.since) : filter.since;
        if (own.oldest && from === undefined) return { rows: found, hidden: 0 };
        return { rows: found, hidden: await ownHiddenCount(client, own.report, filter, from ?? undefined) };
      });
      process.stdout.write(render(rows, columns, options.format));
      if (hidden > 0) process.stdout.write(`${hidden} of pgwarden's own rows hidden (--include-own)\n`);
      if (rows.length === filter.limit) process.stderr.write(`note: showing the newest ${filter.limit} rows; raise --limit or narrow --since for more\n`);
    };

  reportCommand('audit', 'pgAudit records from the repository, each with its session\'s login', true)
    .action(run(auditReport, [
      { header: 'ts', value: (r) => r.ts }, { header: 'server', value: (r) => r.server }, { header: 'user', value: (r) => r.user_name },
      { header: 'database', value: (r) => r.database_name }, { header: 'application', value: (r) => r.application },
      { header: 'client', value: (r) => r.client_addr }, { header: 'session_start', value: (r) => r.session_start },
      { header: 'type', value: (r) => r.audit_type }, { header: 'statement_id', value: (r) => Number(r.statement_id) },
      { header: 'substatement_id', value: (r) => Number(r.substatement_id) },
      { header: 'class', value: (r) => r.class }, { header: 'command', value: (r) => r.command },
      { header: 'object_type', value: (r) => r.object_type }, { header: 'object_name', value: (r) => r.object_name },
      { header: 'statement', value: (r) => r.statement, maxWidth: STATEMENT_WIDTH }, { header: 'parameters', value: (r) => r.parameters, text: (r) => (r.parameters === null ? '' : JSON.stringify(r.parameters)) },
      { header: 'rows', value: (r) => (r.rows === null ? null : Number(r.rows)) },
    ], { report: 'audit', oldest: (rows) => rows[0]?.ts ?? null }));
  reportCommand('sessions', 'sessions (logins) from the repository with the number of audited statements', false)
    .action(run(sessionsReport, [
      { header: 'server', value: (r) => r.server }, { header: 'session_id', value: (r) => r.session_id },
      { header: 'user', value: (r) => r.user_name }, { header: 'database', value: (r) => r.database_name },
      { header: 'application', value: (r) => r.application }, { header: 'client', value: (r) => r.client_addr },
      { header: 'started_at', value: (r) => r.started_at ?? r.authorized_at }, { header: 'ended_at', value: (r) => r.ended_at },
      { header: 'duration_ms', value: (r) => r.duration_ms }, { header: 'statements', value: (r) => Number(r.statements) },
    ], { report: 'sessions', oldest: (rows) => (rows[0] ? rows[0].started_at ?? rows[0].authorized_at ?? rows[0].ended_at : null) }));
  reportCommand('failed-logins', 'authentication failures from the repository, by user, database and client', false)
    .action(run(failedLoginsReport, [
      { header: 'server', value: (r) => r.server }, { header: 'user', value: (r) => r.user_name },
      { header: 'database', value: (r) => r.database_name }, { header: 'client', value: (r) => r.client_addr },
      { header: 'pooler', value: (r) => r.pooler },
      { header: 'failures', value: (r) => Number(r.failures) }, { header: 'first_at', value: (r) => r.first_at },
      { header: 'last_at', value: (r) => r.last_at }, { header: 'last_message', value: (r) => r.last_message },
    ]));
  reportCommand('top', 'the most audited (user, class, command, object) in the repository', true)
    .action(run(topReport, [
      { header: 'user', value: (r) => r.user_name }, { header: 'class', value: (r) => r.class },
      { header: 'command', value: (r) => r.command }, { header: 'object_name', value: (r) => r.object_name },
      { header: 'statements', value: (r) => Number(r.statements) }, { header: 'last_at', value: (r) => r.last_at },
    ], { report: 'top' }));
}

interface ReportOptions { since?: string; user?: string[]; class?: string[]; limit: string; format: Format; includeOwn?: boolean }
