// pgwarden demo
import type { Command } from 'commander';
import { runDemo } from '../demo/demo.ts';

export function registerDemoCommand(program: Command): void {
  program.command('demo')
    .description('show pgwarden at work on a disposable local PostgreSQL 18 that it starts and removes')
    .option('--keep', 'keep the cluster running at the end until Ctrl-C')
    .action(async (options: { keep?: boolean }) => {
      const { main } = await import('./main.ts');
      // Re-entering main() runs each demo step exactly as the command line would.
      const code = await runDemo({
        run: (args) => main(['node', 'pgwarden', ...args]),
        spawnArgs: [process.argv[1]!],
        keep: Boolean(options.keep),
      });
      process.exitCode = code;
    });
}
