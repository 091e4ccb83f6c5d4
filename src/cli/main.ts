// The pgwarden command. Thin: parses arguments, calls the parts, prints.
// Exit codes: 0 ok; 1 `guard test` decided deny; 2 usage or bad value; 3 cannot connect or
// log in; 4 privilege; 5 not installed / schema too new; 6 not found; 7 drift; 8 server error.
import { Command, CommanderError } from 'commander';
import { PgwardenError } from '../core/errors.ts';
import { PGWARDEN_VERSION } from '../core/version.ts';
import { endQuietlyOnClosedPipe } from './closed-pipe.ts';

type Register = (program: Command) => void;

// Each command group's module is loaded only when one of its commands runs, or all of them for
// the help and for a name that is not a command: loading them all (the database driver, zod,
// fastify, nodemailer, …) took half a second of every run, `pgwarden parse` and `pgwarden check`
// included. In the order of the help.
const GROUPS: { commands: string[]; load: () => Promise<Register> }[] = [
  // the demo runs its steps through main() itself (the only group that needs it)
  { commands: ['demo'], load: async () => { const { registerDemoCommand } = await import('./demo.ts'); return (program) => registerDemoCommand(program, main); } },
  { commands: ['install', 'uninstall', 'status'], load: async () => (await import('./install.ts')).registerInstallCommands },
  { commands: ['guard'], load: async () => (await import('./guard.ts')).registerGuardCommands },
  { commands: ['ddl'], load: async () => (await import('./ddl.ts')).registerDdlCommands },
  { commands: ['report'], load: async () => (await import('./report.ts')).registerReportCommands },
  { commands: ['alerts'], load: async () => (await import('./alerts.ts')).registerAlertsCommands },
  { commands: ['parse'], load: async () => (await import('./parse.ts')).registerParseCommand },
  { commands: ['collect'], load: async () => (await import('./collect.ts')).registerCollectCommand },
  { commands: ['detect'], load: async () => (await import('./detect.ts')).registerDetectCommands },
  { commands: ['monitor', 'check'], load: async () => (await import('./monitor.ts')).registerMonitorCommands },
  { commands: ['pgaudit'], load: async () => (await import('./pgaudit.ts')).registerPgauditCommands },
  { commands: ['repo', 'ingest'], load: async () => (await import('./repository.ts')).registerRepositoryCommands },
  { commands: ['serve'], load: async () => (await import('./serve.ts')).registerServeCommands },
];

// The commands that read pgwarden.yaml get its module (zod, yaml, every schema) loaded before they
// run (common.ts, loadCommandConfig()); `parse` reads none, and `check`, run every minute by a monitoring
// system, loads it only when there is a file to read (configIfGiven).
const WITHOUT_CONFIG_MODULE = new Set(['parse', 'check']);

/** The command word of argv (after the global --config option), or null for none (help, --version). */
function commandWord(argv: string[]): string | null {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return null;
}

/**
 * Whether --config took the word check as its file and no command follows (`pgwarden --config
 * check ...`): what a plugin command line such as `pgwarden --config $ARG1$ check` becomes when
 * the macro is empty. There is no command to run, so it is a usage error either way; it is
 * answered as check answers its own (in the format's shape, exit 3), not with the help on stderr
 * and exit 2, which a monitoring system shows as "(No output on stdout)". `--config=check` is a
 * file named check, said explicitly: commander's usual answer.
 */
function configTookCheck(argv: string[]): boolean {
  // The top level has no option with a value but --config: the first word that is no option and
  // no --config value is the command; an option of check's (--db, --format) ends the top level.
  let took = false;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') {
      took ||= argv[i + 1] === 'check';
      i++;
    } else if (!arg.startsWith('-')) {
      return false;
    } else if (took) {
      return !['-h', '--help', '-V', '--version'].includes(arg);
    }
  }
  return took;
}

/** The program with the command groups argv needs (all of them without argv). */
export async function buildProgram(argv?: string[]): Promise<Command> {
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
  const word = argv ? (configTookCheck(argv) ? 'check' : commandWord(argv)) : null;
  const needed = GROUPS.filter((g) => word !== null && g.commands.includes(word));
  for (const group of needed.length > 0 ? needed : GROUPS) (await group.load())(program);
  // A monitoring plugin answers every usage error in its consumer's shape, a wrong option before
  // the word `check` (pgwarden --bogus check) too: the top level reports it as check does.
  const check = word === 'check' ? program.commands.find((c) => c.name() === 'check') : undefined;
  if (check) program.error = (message, errorOptions) => check.error(message, errorOptions);
  // Every subcommand reports usage errors the same way as the top level.
  if (word === null || !WITHOUT_CONFIG_MODULE.has(word)) {
    program.hook('preAction', async () => (await import('./common.ts')).loadConfigModule());
  }
  const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  try {
    const program = await buildProgram(argv);
    if (configTookCheck(argv)) {
      program.error('--config "check": the word check was taken as the config file and no command follows, so give the file first (pgwarden --config FILE check) [PGW_ERR_INVALID_VALUE]');
    }
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
