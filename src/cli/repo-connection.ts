// How the commands that use the central repository (repo, ingest, the repository reports) name
// and reach it: --repo, else $PGWARDEN_REPO, else repository: in pgwarden.yaml. Shared by
// repository.ts and report.ts, and importing neither.
import type { Command } from 'commander';
import type pg from 'pg';
import { withClient as withAnyClient, type Target } from '../core/db.ts';
import { repositoryError, repositoryTarget } from '../repository/index.ts';
import { loadCommandConfig } from './common.ts';

const REPO_HELP = 'postgres:// URL of the repository database (default: $PGWARDEN_REPO, else repository: in pgwarden.yaml); password in PGPASSWORD or a pgpass file';

export function repoOption(command: Command): Command {
  return command.option('--repo <url>', REPO_HELP);
}

/** The repository a command names (its --repo option, the environment or the config file). */
export function repoTarget(command: Command): Target {
  return repositoryTarget((command.opts() as { repo?: string }).repo, loadCommandConfig(command));
}

/** Connects to the repository; a missing privilege says which pgwarden_repo role is needed. */
export async function withRepository<T>(target: Target, work: (client: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await withAnyClient(target, work);
  } catch (error) {
    throw repositoryError(error, target.label);
  }
}
