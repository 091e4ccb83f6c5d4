import { NO_PGBOUNCER, poolMetadata, runPools, skippedRow, warmPools } from '../pgbouncer.ts';
import type { CheckDefinition } from '../types.ts';

// Clients queued in pgBouncer because every server connection of their pool is busy: the
// database looks idle while the application waits. From SHOW POOLS on the admin console.
export const pgbouncerWaiting: CheckDefinition = {
  name: 'pgbouncer_waiting',
  category: 'health',
  scope: 'cluster',
  description: 'clients waiting in each pgBouncer pool for a server connection (SHOW POOLS on the admin console)',
  unit: 'count',
  thresholds: { warning: 10, critical: 50, direction: 'above' },
  emptyDetail: 'pgBouncer has no pool yet',
  sql: [],
  warm: warmPools,
  async local(_client, context) {
    if (!context.pgbouncer) return [skippedRow(NO_PGBOUNCER)];
    return (await runPools(context, context.pgbouncer)).map((pool) => ({
      item: `${pool.database}/${pool.user}`, value: pool.cl_waiting,
      detail: `${pool.cl_waiting} client(s) waiting, ${pool.cl_active} active, ${pool.sv_active} server connection(s) busy, ${pool.sv_idle} idle`,
      skipped: null, metadata: poolMetadata(pool),
    }));
  },
};
