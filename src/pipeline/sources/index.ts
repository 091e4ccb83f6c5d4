// The source registry: one file per source type. A configured source may expand into several
// running sources (the DDL log of each database it follows).
import type { Logger } from 'pino';
import type { Config, DdlSourceConfig, GuardSourceConfig, PipelineConfig } from '../../core/config.ts';
import { SQL_TAG, resolveTarget, targetForDatabase, withClient, type Target } from '../../core/db.ts';
import { PgwardenError } from '../../core/errors.ts';
import { installedVersion } from '../../sensors/index.ts';
import type { Source } from '../types.ts';
import { DdlLogSource } from './ddl-log.ts';
import { GuardLogSource } from './guard-log.ts';
import { LogfileSource } from './logfile.ts';

export const SOURCE_TYPES = ['ddl', 'guard', 'logfile', 'cloudwatch', 'sqs', 'nats', 'syslog'] as const;

/** The migration that added pgwarden.ddl_events. */
const DDL_AUDIT_SCHEMA_VERSION = 2;

/** How alerts name a server: its name in the config, else host:port of the URL. */
function serverName(source: DdlSourceConfig | GuardSourceConfig, target: Target): string {
  if (source.server) return source.server;
  if (target.url) {
    const url = new URL(target.url);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}`;
  }
  return `${process.env.PGHOST ?? 'localhost'}:${process.env.PGPORT ?? '5432'}`;
}

async function databasesOf(source: DdlSourceConfig | GuardSourceConfig, target: Target): Promise<string[]> {
  if (!source.databases) {
    const { rows } = await withClient(target, (client) => client.query<{ db: string }>(`${SQL_TAG}SELECT pg_catalog.current_database() AS db`));
    return [rows[0]!.db];
  }
  if (source.databases.length === 1 && source.databases[0] === '*') {
    // Every connectable database where pgwarden is installed (template1 has no DDL to follow).
    return withClient(target, async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        `${SQL_TAG}SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`);
      const found: string[] = [];
      for (const { datname } of rows) {
        const has = await withClient(targetForDatabase(target, datname), async (other) =>
          (await other.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden'`)).rows.length > 0).catch(() => false);
        if (has) found.push(datname);
      }
      if (found.length === 0) throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `no database on ${target.label} has pgwarden installed`);
      return found;
    });
  }
  return source.databases;
}

export async function createSources(name: string, source: PipelineConfig['sources'][string], config: Config, log: Logger, override?: Target): Promise<Source[]> {
  switch (source.type) {
    case 'ddl': return createDdlSources(name, source, config, log, override);
    case 'guard': return createGuardSources(name, source, config, log, override);
    case 'logfile': return [new LogfileSource({ input: name, config: source, log })];
    // loaded when configured: the AWS SDK and the NATS client would slow every command's start
    case 'cloudwatch': return [new (await import('./cloudwatch.ts')).CloudwatchSource({ input: name, config: source, log })];
    case 'sqs': return [new (await import('./sqs.ts')).SqsSource({ input: name, config: source, log })];
    case 'nats': return [new (await import('./nats.ts')).NatsSource({ input: name, config: source, log })];
    case 'syslog': return [new (await import('./syslog/source.ts')).SyslogSource({ input: name, config: source, log })];
  }
}

async function createDdlSources(name: string, source: DdlSourceConfig, config: Config, log: Logger, override?: Target): Promise<Source[]> {
  const target = override ?? resolveTarget({ server: source.server }, config);
  const server = serverName(source, target);
  const databases = await databasesOf(source, target);
  // Fail at start on a misconfiguration rather than retrying forever: each database must be reachable
  // and have the DDL audit (schema version 2 or later).
  for (const database of databases) {
    const version = await withClient(targetForDatabase(target, database), installedVersion);
    if (version < DDL_AUDIT_SCHEMA_VERSION) {
      throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `database ${database} on ${target.label} has ${version === 0 ? 'no pgwarden' : `pgwarden schema version ${version}, without the DDL audit`}; run \`pgwarden install\` there`);
    }
  }
  return databases.map((database) => new DdlLogSource({
    input: name, server, database, target: targetForDatabase(target, database),
    tamperCheckSeconds: source.tamper_check_seconds, pollSeconds: source.poll_seconds, log,
  }));
}

async function createGuardSources(name: string, source: GuardSourceConfig, config: Config, log: Logger, override?: Target): Promise<Source[]> {
  const target = override ?? resolveTarget({ server: source.server }, config);
  const server = serverName(source, target);
  const databases = await databasesOf(source, target);
  for (const database of databases) {
    const version = await withClient(targetForDatabase(target, database), installedVersion);
    if (version < 1) throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `database ${database} on ${target.label} has no pgwarden guard; run \`pgwarden install\` there`);
  }
  return databases.map((database) => new GuardLogSource({
    input: name, server, database, target: targetForDatabase(target, database),
    pollSeconds: source.poll_seconds, gapSeconds: source.gap_seconds, stateDir: source.state_dir, log,
  }));
}
