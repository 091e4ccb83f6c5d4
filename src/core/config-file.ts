// What reading pgwarden.yaml needs before (or without) its schema: where the file is, the
// defaults `pgwarden check` uses when there is none, and secrets named in it. Kept apart from
// config.ts so that `pgwarden check`, run every minute by a monitoring system, does not load
// zod, yaml and every component's schema (about 110 ms of each run) when there is no file.
import { existsSync, readFileSync } from 'node:fs';
import { PgwardenError } from './errors.ts';

export const DEFAULT_CONFIG_FILE = 'pgwarden.yaml';

/** Whether a command will read a config file: --config, $PGWARDEN_CONFIG, or ./pgwarden.yaml. */
export function configFileGiven(file?: string): boolean {
  return file !== undefined || process.env.PGWARDEN_CONFIG !== undefined || existsSync(DEFAULT_CONFIG_FILE);
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

