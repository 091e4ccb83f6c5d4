// What the ddl and guard sources share: both read tables pgwarden installed, in one database or
// in each database of a server where pgwarden is installed, and name the server the same way.
import type { Target } from '../../core/db.ts';
import { SQL_TAG, targetForDatabase, withClient } from '../../core/db.ts';
import { PgwardenError } from '../../core/errors.ts';

interface DatabaseSourceConfig {
  server?: string;
  databases?: string[];
}

/** How alerts name a server: its name in the config, else host:port of the URL. */
export function serverName(source: DatabaseSourceConfig, target: Target): string {
  if (source.server) return source.server;
  if (target.url) {
    const url = new URL(target.url);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}`;
  }
  return `${process.env.PGHOST ?? 'localhost'}:${process.env.PGPORT ?? '5432'}`;
}

export async function databasesOf(source: DatabaseSourceConfig, target: Target): Promise<string[]> {
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

