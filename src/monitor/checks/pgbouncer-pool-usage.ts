import { NO_PGBOUNCER, poolMetadata, runPools, skippedRow, warmPools } from '../pgbouncer.ts';
import type { CheckDefinition } from '../types.ts';

// How full each pgBouncer pool is: the server connections busy with a client (sv_active of
// SHOW POOLS) as a percentage of the pool's size (pool_size of SHOW DATABASES). At 100% the next
// client queues (pgbouncer_waiting); above it the reserve pool is in use. Warns before the wait.
export const pgbouncerPoolUsage: CheckDefinition = {
  name: 'pgbouncer_pool_usage',
  category: 'health',
  scope: 'cluster',
  description: 'server connections busy in each pgBouncer pool as a percentage of its pool_size (SHOW POOLS and SHOW DATABASES on the admin console)',
  unit: 'percent',
  thresholds: { warning: 80, critical: 100, direction: 'above' },
  emptyDetail: 'pgBouncer has no pool yet',
  sql: [],
  warm: warmPools,
  async local(_client, context) {
    if (!context.pgbouncer) return [skippedRow(NO_PGBOUNCER)];
    return (await runPools(context, context.pgbouncer)).map((pool) => {
      const counts = `${pool.cl_active} client(s) active, ${pool.cl_waiting} waiting, ${pool.sv_idle} server connection(s) idle`;
      if (!pool.pool_size) {
        return { item: `${pool.database}/${pool.user}`, value: null, skipped: null, metadata: poolMetadata(pool),
          detail: `${pool.sv_active} server connection(s) busy; pool_size ${pool.pool_size === 0 ? 'is 0' : 'unknown (not in SHOW DATABASES)'}; ${counts}` };
      }
      const percent = Math.round((10000 * pool.sv_active) / pool.pool_size) / 100;
      return {
        item: `${pool.database}/${pool.user}`, value: percent, skipped: null, metadata: poolMetadata(pool),
        detail: `${pool.sv_active} of ${pool.pool_size} server connection(s) busy (${percent}%); ${counts}`,
      };
    });
  },
};
