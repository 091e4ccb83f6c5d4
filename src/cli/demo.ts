// pgwarden demo
import { Option, type Command } from 'commander';
import { PgwardenError } from '../core/errors.ts';
import { runDemo } from '../demo/demo.ts';
import { ALL_FLAVORS, type Flavor } from '../demo/disposable-postgres.ts';
import { parseInteger } from './common.ts';

/**
 * main: the command line's own entry point, which the demo runs each of its steps through. Given
 * by main.ts when it registers this group, rather than imported, so that neither module imports
 * the other.
 */
export function registerDemoCommand(program: Command, main: (argv: string[]) => Promise<number>): void {
  program.command('demo')
    .description('all of pgwarden on a disposable local PostgreSQL that it starts and removes: sensors, real clients, collection, reports, the dashboard')
    .option('--no-serve', 'end after the reports instead of serving the dashboard')
    .option('--serve-for <seconds>', 'serve the dashboard this long, then clean up (default: until Ctrl-C)')
    .option('--port <port>', 'port for the dashboard on 127.0.0.1 (default: a free one)')
    .addOption(new Option('--flavor <flavor>', 'pg15: Debian PostgreSQL 15 with pgAudit; pg14, pg16, pg17, pg18: the embedded ones from npm, without pgAudit (default: pg15 when installed, else pg18)').choices(ALL_FLAVORS))
    .addHelpText('after', `
The dashboard's URL and a one-time admin password are printed at the end. Ctrl-C stops
everything and removes the server, the repository and the logs.`)
    .action(async (options: { serve: boolean; serveFor?: string; port?: string; flavor?: Flavor }) => {
      if (!options.serve && options.serveFor !== undefined) throw new PgwardenError('PGW_ERR_INVALID_VALUE', 'give --no-serve or --serve-for, not both');
      const port = options.port === undefined ? undefined : parseInteger('--port', options.port);
      if (port !== undefined && port > 65_535) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--port ${port} is not a port number (1 to 65535)`);
      // Re-entering main() runs each demo step exactly as the command line would.
      const code = await runDemo({
        run: (args) => main(['node', 'pgwarden', ...args]),
        spawnArgs: [process.argv[1]!],
        serve: options.serveFor !== undefined ? parseInteger('--serve-for', options.serveFor) : options.serve,
        port,
        flavor: options.flavor,
      });
      process.exitCode = code;
    });
}
