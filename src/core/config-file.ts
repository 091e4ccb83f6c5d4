// What reading pgwarden.yaml needs before (or without) its schema: where the file is, the
// defaults `pgwarden check` uses when there is none, and secrets named in it. Kept apart from
// config.ts so that `pgwarden check`, run every minute by a monitoring system, does not load
// zod, yaml and every component's schema (about 110 ms of each run) when there is no file.
import { existsSync, readFileSync } from 'node:fs';
import { PgwardenError } from './errors.ts';

export const DEFAULT_CONFIG_FILE = 'pgwarden.yaml';

/**
 * Whether a command will read a config file, as loadConfig decides: --config, a non-empty
 * $PGWARDEN_CONFIG (an empty one means none, as monitoring systems often pass it), else
 * ./pgwarden.yaml when it exists.
 */
export function configFileGiven(file?: string): boolean {
  const path = file ?? process.env.PGWARDEN_CONFIG ?? DEFAULT_CONFIG_FILE;
  return Boolean(file) || Boolean(process.env.PGWARDEN_CONFIG) || (path !== '' && existsSync(path));
}

/** monitor: defaults (the schema's defaults are these). */
export const MONITOR_DEFAULTS = { timeout_ms: 5000, concurrency: 4 } as const;

/** A secret named in the config: from an environment variable or the first line of a file. */
export function readSecret(where: string, env: string | undefined, file: string | undefined, keys = ['password_env', 'password_file']): string | undefined {
  if (env !== undefined) {
    const value = process.env[env];
    if (value === undefined) throw new PgwardenError('PGW_ERR_CONFIG', `${where}.${keys[0]}: environment variable ${env} is not set`);
    return value;
  }
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').split('\n')[0]!;
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `${where}.${keys[1]}: cannot read ${file}: ${(error as Error).message}`);
    }
  }
  return undefined;
}

