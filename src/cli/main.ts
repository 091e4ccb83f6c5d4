// The pgwarden command. Thin: parses arguments, calls the parts, prints.
// Exit codes: 0 ok; 1 `guard test` decided deny; 2 usage or bad value; 3 cannot connect or
// log in; 4 privilege; 5 not installed / schema too new; 6 not found; 7 drift; 8 server error.
import { Command, CommanderError } from 'commander';
import { PgwardenError } from '../core/errors.ts';
import { PGWARDEN_VERSION } from '../core/version.ts';
import { registerAlertsCommands } from './alerts.ts';
import { registerCollectCommand } from './collect.ts';
import { registerDdlCommands } from './ddl.ts';
import { registerDemoCommand } from './demo.ts';
import { registerGuardCommands } from './guard.ts';
import { registerInstallCommands } from './install.ts';
import { registerParseCommand } from './parse.ts';
import { registerPgauditCommands } from './pgaudit.ts';
import { registerMonitorCommands } from './monitor.ts';
import { registerReportCommands } from './report.ts';
import { registerRepositoryCommands } from './repository.ts';
import { registerServeCommands } from './serve.ts';

export function buildProgram(): Command {
  const program = new Command('pgwarden')
    .description('PostgreSQL security auditing and secure monitoring')
    .version(PGWARDEN_VERSION)
    .option('--config <file>', 'config file (default: ./pgwarden.yaml if present, or $PGWARDEN_CONFIG)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText('after', `
Connections: --db postgres://user@host:port/db, --server NAME from pgwarden.yaml, or the
PGHOST/PGPORT/PGUSER/PGDATABASE variables. Passwords: PGPASSWORD, ~/.pgpass, or the config file.

Exit codes: 0 ok, 1 guard test decided deny, 2 usage or bad value, 3 cannot connect or log in,
4 missing privilege, 5 not installed, 6 not found, 7 drift (status), 8 server error.

Start with: pgwarden demo. Docs: docs/guard.md, docs/ddl-audit.md, docs/alerts.md, docs/sensors.md,
docs/config.md, docs/errors.md`);
  registerDemoCommand(program);
  registerInstallCommands(program);
  registerGuardCommands(program);
  registerDdlCommands(program);
  registerReportCommands(program);
  registerAlertsCommands(program);
  registerParseCommand(program);
  registerCollectCommand(program);
  registerMonitorCommands(program);
  registerPgauditCommands(program);
  registerRepositoryCommands(program);
  registerServeCommands(program);
  // Every subcommand reports usage errors the same way as the top level.
  const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed the message (or the help text).
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof PgwardenError) {
      process.stderr.write(`Error: ${error.message}\n  ${error.hint} [${error.code}]\n`);
      if (process.env.DEBUG) process.stderr.write(`${error.stack}\n${error.cause ? String((error.cause as Error).stack) : ''}\n`);
      return error.exitCode;
    }
    process.stderr.write(`Error: ${(error as Error).message ?? String(error)}\n  This is a bug in pgwarden; run with DEBUG=1 for the stack trace and report it.\n`);
    if (process.env.DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return 70;
  }
}
