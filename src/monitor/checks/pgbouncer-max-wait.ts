import { NO_PGBOUNCER, poolMetadata, runPools, skippedRow, warmPools } from '../pgbouncer.ts';
import type { CheckDefinition } from '../types.ts';

// How long the oldest client queued in each pgBouncer pool has been waiting for a server
// connection (maxwait and maxwait_us of SHOW POOLS): what the application feels as latency.
export const pgbouncerMaxWait: CheckDefinition = {
  name: 'pgbouncer_max_wait',
  category: 'health',
  scope: 'cluster',
  description: 'seconds the oldest client of each pgBouncer pool has waited for a server connection (SHOW POOLS on the admin console)',
  unit: 'seconds',
  thresholds: { warning: 5, critical: 30, direction: 'above' },
  emptyDetail: 'pgBouncer has no pool yet',
  sql: [],
  warm: warmPools,
  async local(_client, context) {
    if (!context.pgbouncer) return [skippedRow(NO_PGBOUNCER)];
    return (await runPools(context, context.pgbouncer)).map((pool) => {
      const seconds = pool.maxwait + pool.maxwait_us / 1e6;
      return {
        item: `${pool.database}/${pool.user}`, value: Math.round(seconds * 1000) / 1000,
        detail: pool.cl_waiting === 0 ? 'no client waiting' : `the oldest of ${pool.cl_waiting} waiting client(s) has waited ${seconds.toFixed(1)} s`,
        skipped: null, metadata: poolMetadata(pool),
      };
    });
  },
};
