// What every command shares: connection options, config loading, formats.
import { Command, Option } from 'commander';
import type pg from 'pg';
import { configFileGiven } from '../core/config-file.ts';
import type { Config } from '../core/config.ts';
import { SQL_TAG, resolveTarget, targetForDatabase, withClient, type Target } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { validateName } from '../guard/names.ts';
import { FORMATS, type Format } from './output.ts';

export interface ConnectionOptions {
  db?: string;
  server?: string;
}

/** Adds --db and --server to a command. */
export function withConnection(command: Command): Command {
  return command
    .option('--db <url>', 'postgres:// URL of the database (default: PG* environment variables); put the password in PGPASSWORD or a pgpass file, not here')
    .option('--server <name>', 'a server named in pgwarden.yaml');
}

export function formatOption(allowed: readonly Format[] = FORMATS, fallback: Format = 'table'): Option {
  return new Option('--format <format>', 'output format').choices(allowed as string[]).default(fallback);
}

/** Commander's reducer for a repeatable option: each --flag value is appended to the list. */
export function repeatable(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

// The config module (zod, yaml, every component's schema) loads once, before the command runs:
// main loads it for every command but `check`, which loads it only when there is a file to read.
let configModule: typeof import('../core/config.ts') | undefined;

export async function loadConfigModule(): Promise<void> {
  configModule ??= await import('../core/config.ts');
}

/** Loads pgwarden.yaml for a command (its --config, $PGWARDEN_CONFIG or ./pgwarden.yaml). */
export function loadCommandConfig(command: Command): Config {
  if (!configModule) throw new Error('the config module was not loaded before the command ran (loadConfigModule)');
  const root = command.optsWithGlobals() as { config?: string };
  return configModule.loadConfig(root.config);
}

/** The config, or null when there is no file to read (no --config, $PGWARDEN_CONFIG or ./pgwarden.yaml). */
export async function configIfGiven(command: Command): Promise<Config | null> {
  if (!configFileGiven((command.optsWithGlobals() as { config?: string }).config)) return null;
  await loadConfigModule();
  return loadCommandConfig(command);
}

export function targetOf(command: Command): Target {
  const options = command.opts() as ConnectionOptions;
  return resolveTarget(options, loadCommandConfig(command));
}

/** Every database a connection can reach, plus template1 so new databases inherit the guard. */
export async function connectableDatabases(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ datname: string }>(
    `${SQL_TAG}SELECT datname FROM pg_catalog.pg_database
      WHERE datallowconn AND (NOT datistemplate OR datname = 'template1') ORDER BY datname = 'template1', datname`);
  return rows.map((r) => r.datname);
}

/**
 * Runs work in the target's database, or with --all-databases in each connectable one.
 * With `onlyInstalled`, databases without the pgwarden schema are skipped.
 */
export async function onEachDatabase<T>(
  target: Target, all: boolean, work: (client: pg.Client) => Promise<T>, options: { onlyInstalled?: boolean } = {},
): Promise<T[]> {
  if (!all) return [await withClient(target, work)];
  const databases = await withClient(target, connectableDatabases);
  const results: T[] = [];
  for (const database of databases) {
    const result = await withClient(targetForDatabase(target, database), async (client) => {
      if (options.onlyInstalled) {
        const { rows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden'`);
        if (rows.length === 0) return undefined;
      }
      return { value: await work(client) };
    });
    if (result) results.push(result.value);
  }
  return results;
}

/** Connects to the command's target, runs the work, always disconnects. */
export async function withDatabase<T>(command: Command, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(targetOf(command), work);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function parseInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || !Number.isSafeInteger(value)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${flag} "${text}" is not a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);
  }
  return value;
}

/** --break-glass-role values, checked like rule role names. */
export function breakGlassRoles(values: string[] | undefined): string[] | undefined {
  for (const role of values ?? []) validateName('--break-glass-role', role);
  return values;
}
