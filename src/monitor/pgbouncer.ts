// pgBouncer's admin console: a separate endpoint (the virtual database "pgbouncer") that no
// server-side SQL can reach, so the pgbouncer checks query it from pgwarden, with their own
// login (one listed in pgBouncer's stats_users is enough: SHOW is all they run).
import { connect, type Target } from '../core/db.ts';
import type { LocalContext, RawCheckRow } from './types.ts';

export interface PgbouncerPool {
  database: string;
  user: string;
  cl_active: number;
  cl_waiting: number;
  sv_active: number;
  sv_idle: number;
  maxwait: number;
  maxwait_us: number;
  pool_mode: string;
  /** The database's pool_size from SHOW DATABASES (default_pool_size when it sets none); null when not listed. */
  pool_size: number | null;
}

export const NO_PGBOUNCER = 'no pgBouncer admin console is configured for this server (monitor.pgbouncer in pgwarden.yaml, or --pgbouncer)';

// One SHOW POOLS (and SHOW DATABASES) per run and console: every pgbouncer check of a run reads the same answer.
const perRun = new WeakMap<LocalContext, Promise<PgbouncerPool[]>>();

/** The pools of this run's console (asked once per run). */
export function runPools(context: LocalContext, console: Target): Promise<PgbouncerPool[]> {
  let pools = perRun.get(context);
  if (!pools) {
    pools = showPools(console, context.timeoutMs);
    perRun.set(context, pools);
  }
  return pools;
}

/** Starts this run's SHOW POOLS early (CheckDefinition.warm); a failure is reported by the checks that await it. */
export function warmPools(context: LocalContext): void {
  if (context.pgbouncer) runPools(context, context.pgbouncer).catch(() => undefined);
}

/**
 * SHOW POOLS on the console, each pool with its database's pool_size from SHOW DATABASES (a
 * pool is named after its database entry); the console's own pool ("pgbouncer") is left out.
 */
export async function showPools(target: Target, timeoutMs: number): Promise<PgbouncerPool[]> {
  const client = await connect(target, 'pgwarden/monitor');
  try {
    // The console speaks the simple query protocol only: no parameters, no statement_timeout.
    type Row = Record<string, string | number | null>;
    const query = (async () => [(await client.query<Row>('SHOW POOLS')).rows, (await client.query<Row>('SHOW DATABASES')).rows] as const)();
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`pgBouncer did not answer SHOW POOLS and SHOW DATABASES within ${timeoutMs} ms`)), timeoutMs).unref());
    const [rows, databases] = await Promise.race([query, timer]);
    const poolSize = new Map(databases.map((d) => [String(d.name), d.pool_size === null || d.pool_size === undefined ? null : Number(d.pool_size)]));
    return rows.filter((r) => r.database !== 'pgbouncer').map((r) => ({
      database: String(r.database), user: String(r.user), cl_active: Number(r.cl_active), cl_waiting: Number(r.cl_waiting),
      sv_active: Number(r.sv_active), sv_idle: Number(r.sv_idle), maxwait: Number(r.maxwait), maxwait_us: Number(r.maxwait_us ?? 0),
      pool_mode: String(r.pool_mode ?? ''), pool_size: poolSize.get(String(r.database)) ?? null,
    }));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The metadata every pgbouncer row carries. */
export function poolMetadata(pool: PgbouncerPool): Record<string, unknown> {
  return { cl_active: pool.cl_active, cl_waiting: pool.cl_waiting, sv_active: pool.sv_active, sv_idle: pool.sv_idle, pool_mode: pool.pool_mode, pool_size: pool.pool_size };
}

export function skippedRow(reason: string): RawCheckRow {
  return { item: '', value: null, detail: null, skipped: reason, metadata: null };
}

