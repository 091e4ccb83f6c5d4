// What `pgwarden uninstall` and `pgwarden monitor uninstall` do alike: remove the part from the
// database (or every one, --all-databases), then drop its cluster-wide roles that no database
// uses any more, saying for each what happened. Each command keeps its own description.
import type { Command } from 'commander';
import type pg from 'pg';
import { withClient } from '../core/db.ts';
import type { DroppedRole } from '../sensors/index.ts';
import { onEachDatabase, print, targetOf, withConnection } from './common.ts';

interface Removed { database: string; removed: boolean }

/** Adds `uninstall` below parent (the program or `monitor`). */
export function uninstallCommand(parent: Command, description: string, uninstall: (client: pg.Client) => Promise<Removed>,
  dropRoles: (client: pg.Client) => Promise<DroppedRole[]>): void {
  withConnection(parent.command('uninstall'))
    .description(description)
    .option('--all-databases', 'uninstall from every connectable database and template1')
    .action(async (options: { allDatabases?: boolean }, command: Command) => {
      const target = targetOf(command);
      await onEachDatabase(target, Boolean(options.allDatabases), async (client) => {
        const result = await uninstall(client);
        print(`${result.database}: ${result.removed ? 'removed' : 'nothing installed'}`);
      });
      for (const role of await withClient(target, dropRoles)) {
        print(`role ${role.role}: ${role.dropped ? 'dropped' : `kept, ${role.reason}`}`);
      }
    });
}
