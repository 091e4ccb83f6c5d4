// The test harness starts real PostgreSQL servers with the same code `pgwarden demo` uses.
export { startCluster, freePort, ALL_FLAVORS, majorVersionOf, type Cluster, type Flavor, type StartOptions } from '../../src/demo/disposable-postgres.ts';

import pg from 'pg';

/** Runs `work` on a client connected to `url` (e.g. cluster.url(database)), and closes it. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
