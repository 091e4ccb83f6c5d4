// What the guard and responses sources share: a table pgwarden's sensors append to by INSERT
// (pgwarden.connection_attempts, pgwarden.response_actions), read as a pipeline source by its
// identity id, polled (no NOTIFY), with reads only.
//
// Ids can become visible out of order: a row's INSERT takes its id, then commits; another that
// took a later id may commit first. Reading `id > highest delivered` would skip the earlier one
// for good. So each sink keeps `through` (every id up to it is settled) and the ids delivered
// above it (`seen`); each poll reads every row above `through`, and `through` moves up only over
// ids that are settled or that have stayed missing for `gap_seconds` and whose writer can no longer
// commit (a rolled-back insert: its id never comes). Time alone is not enough: a response function
// run by hand in a transaction left open (psql with AUTOCOMMIT off) commits its row minutes later,
// below newer ones, and would be skipped for good. So a gap remembers the server's snapshot xmax
// when first seen (every transaction that could hold the id has an xid below it) and is given up
// only once the oldest running transaction (the snapshot's xmin) is past that.
//
// Checkpoints: a file per source and database in state_dir (the tables are not written by the
// collector, which needs only pgwarden_alerts' SELECT on them), replaced atomically, with the
// identity of the table they count in (its oid, the cluster's system identifier): a reinstall or
// a restore that restarts the ids starts them over (checkTable).
import type pg from 'pg';
import type { Logger } from 'pino';
import { SQL_TAG, poolQuery, createPool, type Target } from '../../core/db.ts';
import { PgwardenError, classifyError } from '../../core/errors.ts';
import type { PgwardenEvent } from '../../core/event.ts';
import { Waiters } from '../wake.ts';
import type { Lane, Pending, Sink, Source, Wake } from '../types.ts';
import { CheckpointFile, versioned } from '../checkpoint.ts';

export interface IdTableOptions {
  input: string;
  server: string;
  database: string;
  target: Target;
  pollSeconds: number;
  gapSeconds: number;
  stateDir?: string;
  log: Logger;
}

/** The table a source reads, and how its rows become events. */
export interface IdTable<R extends { id: string }> {
  /** the table's name in schema pgwarden (a constant, never a value from the config) */
  table: string;
  /** the source type: the checkpoint file's and the delivery ids' prefix (`guard`, `responses`) */
  type: string;
  /** what the table holds, for the logs: "attempt", "response" */
  row: string;
  /** `SELECT … FROM pgwarden.<table> a WHERE a.id > $1 ORDER BY a.id LIMIT $2`, with `a.id::text AS id` */
  select: string;
  toEvent(row: R, server: string, database: string): PgwardenEvent;
  /** what a login that may not read the table is told */
  hint: string;
}

interface SinkCheckpoint { through: number; seen: number[] }
/**
 * Which table the ids count in: the cluster's system identifier (null where the login may not read
 * it) and the table's oid. A reinstall (a new table) or a restore into another cluster restarts the
 * ids: the checkpoints of the old table would skip every new row up to `through`.
 */
interface TableIdentity { system: string | null; oid: string }
interface TableState { version: 1; server: string; database: string; table?: TableIdentity; sinks: Record<string, SinkCheckpoint> }

const MAX_SEEN = 100_000;

interface Snapshot { xmin: bigint; xmax: bigint }
interface Gap { since: number; xmax: bigint }

export class IdTableSource<R extends { id: string }> implements Source {
  readonly name: string;
  readonly input: string;
  private readonly pool: pg.Pool;
  private readonly waiters = new Waiters();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: CheckpointFile<TableState>;
  private state: TableState;
  /** ids missing above a sink's `through`: since when, and the snapshot xmax then (in memory: a restart waits for them again) */
  private readonly gaps = new Map<string, Map<number, Gap>>();
  /** the server's transaction snapshot at the last read: which writers may still commit */
  private snapshot: Snapshot = { xmin: 0n, xmax: 0n };
  /** counts checkpoint resets: a batch read before one settles nothing after it */
  private epoch = 0;

  constructor(private readonly options: IdTableOptions, private readonly spec: IdTable<R>) {
    this.input = options.input;
    this.name = `${options.input}/${options.database}`;
    this.pool = createPool(options.target, 'pgwarden/collect');
    this.file = new CheckpointFile({
      dir: options.stateDir, file: `${spec.type}-${options.input}-${encodeURIComponent(options.database)}.json`, where: `pipeline.sources.${options.input}`,
      startOver: `to start over from the first recorded ${spec.row}`,
    });
    this.state = this.file.load(() => ({ version: 1, server: options.server, database: options.database, sinks: {} }), versioned<TableState>(1, 'sinks'));
  }

  private save(): Promise<void> {
    return this.file.save(this.state);
  }

  private query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<T>> {
    return poolQuery<T>(this.pool, this.options.target.label, text, values);
  }

  async start(): Promise<void> {
    // A login that may not read the table is a mistake to stop for, not to retry.
    try {
      const { rows } = await this.pool.query<{ ok: boolean | null }>(`${SQL_TAG}SELECT pg_catalog.has_table_privilege(c.oid, 'SELECT') AS ok
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgwarden' AND c.relname = $1`, [this.spec.table]);
      if (rows.length === 0) {
        throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `database ${this.options.database} on ${this.options.target.label} has no pgwarden.${this.spec.table}; run \`pgwarden install\` there`);
      }
      if (!rows[0]!.ok) {
        throw new PgwardenError('PGW_ERR_PRIVILEGE', `the login of source ${this.input} may not read pgwarden.${this.spec.table} in ${this.options.database}`, { hint: this.spec.hint });
      }
    } catch (error) {
      const classified = classifyError(error, this.options.target.label);
      // unreachable now is fine: polls retry
      if (classified.code !== 'PGW_ERR_CONNECT') throw classified;
      this.options.log.warn({ source: this.name, err: classified.message }, 'cannot connect yet; retrying');
    }
    const tick = () => {
      if (this.stopped) return;
      this.waiters.wake('change');
      this.timer = setTimeout(tick, this.options.pollSeconds * 1000);
      this.timer.unref();
    };
    tick();
  }

  /**
   * Starts the checkpoints over (every sink from the first row) when the ids are not the ones
   * they count: another table (oid), another cluster (system identifier), or ids below what was
   * read (a restore, or `TRUNCATE … RESTART IDENTITY`). What is read again and was stored before is
   * a duplicate the repository drops (its key holds the row's time).
   */
  private async checkTable(): Promise<void> {
    const table = `pgwarden.${this.spec.table}`;
    const { rows: [now] } = await this.query<{ oid: string; system: string | null; max: string | null }>(`${SQL_TAG}SELECT
        '${table}'::pg_catalog.regclass::pg_catalog.oid::text AS oid,
        CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
          THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) END AS system,
        (SELECT pg_catalog.max(id) FROM ${table})::text AS max`);
    const identity: TableIdentity = { system: now!.system, oid: now!.oid };
    const known = this.state.table;
    const highest = now!.max === null ? 0 : Number(now!.max);
    const through = Math.max(0, ...Object.values(this.state.sinks).map((cp) => cp.through));
    const otherTable = known !== undefined && (known.oid !== identity.oid || (known.system !== null && identity.system !== null && known.system !== identity.system));
    if (otherTable || highest < through) {
      this.options.log.warn({ source: this.name, checkpointed: known, now: identity, through, highest },
        otherTable ? `${table} is another table than the one checkpointed (reinstalled or restored); reading it from its first ${this.spec.row}`
          : `${table} ids restarted below the checkpoint (restored or truncated); reading it from its first ${this.spec.row}`);
      for (const cp of Object.values(this.state.sinks)) {
        cp.through = 0;
        cp.seen = [];
      }
      for (const gaps of this.gaps.values()) gaps.clear();
      this.epoch++;
    } else if (known !== undefined && known.oid === identity.oid && (known.system ?? identity.system) === identity.system) {
      return;
    }
    this.state.table = { system: identity.system ?? known?.system ?? null, oid: identity.oid };
    await this.save();
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    return this.waiters.wait(Math.min(ms, this.options.pollSeconds * 1000), signal, this.stopped);
  }

  lane(sink: Sink): Lane {
    // a new sink starts with the first recorded row: the table is the history
    this.state.sinks[sink.name] ??= { through: 0, seen: [] };
    const gaps = new Map<number, Gap>();
    this.gaps.set(sink.name, gaps);
    const inflight = new Map<string, { ids: number[]; epoch: number }>();
    return {
      next: async (maxEvents: number): Promise<Pending | null> => {
        await this.checkTable();
        const cp = this.state.sinks[sink.name]!;
        const seen = new Set(cp.seen);
        for (;;) {
          // ORDER BY a.id, the number (in spec.select): `ORDER BY id` sorted by the output column
          // id::text ('10' before '2'), so past id 9 a batch ended early and, beyond LIMIT, ids were taken for gaps
          const { rows } = await this.query<R>(`${SQL_TAG}${this.spec.select}`, [cp.through, maxEvents + seen.size]);
          // after the read: the writer of an id missing below one just read has its xid below this xmax
          await this.readSnapshot();
          const fresh = rows.filter((r) => !seen.has(Number(r.id)));
          const events = fresh.map((r) => this.spec.toEvent(r, this.options.server, this.options.database));
          const ids = events.map((e) => e.source.position);
          // what this sink does not want is settled on the way
          const wanted = events.filter((e) => sink.accepts?.(e) ?? true);
          if (wanted.length === 0) {
            if (ids.length === 0) {
              if (this.advance(cp, rows.map((r) => Number(r.id)), gaps)) await this.save();
              return null;
            }
            this.settleIds(cp, ids, gaps, rows.map((r) => Number(r.id)));
            await this.save();
            continue;
          }
          const taken = wanted.slice(0, maxEvents);
          const messageId = `${this.spec.type}.${this.options.server}.${this.options.database}.${sink.name}.${taken[0]!.source.position}-${taken[taken.length - 1]!.source.position}.${taken.length}`;
          // the unwanted ones up to the last taken go with the batch
          const last = taken[taken.length - 1]!.source.position;
          inflight.set(messageId, { ids: ids.filter((id) => id <= last), epoch: this.epoch });
          return { events: taken, messageId };
        }
      },
      settle: async (pending: Pending): Promise<void> => {
        const taken = inflight.get(pending.messageId);
        inflight.delete(pending.messageId);
        // read from the table before a reset: its ids are not the new table's
        if (!taken || taken.epoch !== this.epoch) return;
        const cp = this.state.sinks[sink.name]!;
        this.settleIds(cp, taken.ids, gaps, []);
        await this.save();
      },
    };
  }

  private async readSnapshot(): Promise<void> {
    const { rows: [s] } = await this.query<{ xmin: string; xmax: string }>(`${SQL_TAG}SELECT pg_catalog.txid_snapshot_xmin(s)::text AS xmin,
        pg_catalog.txid_snapshot_xmax(s)::text AS xmax FROM pg_catalog.txid_current_snapshot() s`);
    this.snapshot = { xmin: BigInt(s!.xmin), xmax: BigInt(s!.xmax) };
  }

  private settleIds(cp: SinkCheckpoint, ids: number[], gaps: Map<number, Gap>, visible: number[]): void {
    const seen = new Set(cp.seen);
    for (const id of ids) seen.add(id);
    cp.seen = [...seen].sort((a, b) => a - b);
    this.advance(cp, visible, gaps);
  }

  /**
   * Moves `through` up over settled ids and over ids missing for longer than gap_seconds.
   * `visible`: ids just read above `through` (missing ids below the highest seen are gaps).
   */
  private advance(cp: SinkCheckpoint, visible: number[], gaps: Map<number, Gap>): boolean {
    const seen = new Set(cp.seen);
    let highest = cp.through;
    for (const id of cp.seen) if (id > highest) highest = id;
    const present = new Set(visible);
    const now = Date.now();
    const before = cp.through;
    let through = cp.through;
    for (let id = through + 1; id <= highest; id++) {
      if (seen.has(id)) {
        through = id;
        continue;
      }
      // visible and not yet settled: wait for it
      if (present.has(id)) break;
      // not visible below a settled id: in flight (not yet committed) or rolled back (never comes);
      // rolled back (or committed and read next time) once every transaction running when it was
      // first seen has ended
      const gap = gaps.get(id) ?? { since: now, xmax: this.snapshot.xmax };
      gaps.set(id, gap);
      const waiting = now - gap.since < this.options.gapSeconds * 1000 || this.snapshot.xmin < gap.xmax;
      if (waiting && cp.seen.length <= MAX_SEEN) break;
      if (waiting) {
        this.options.log.warn({ source: this.name, id }, `too many ${this.spec.row}s past a missing id; no longer waiting for it`);
      }
      gaps.delete(id);
      through = id;
    }
    cp.through = through;
    cp.seen = cp.seen.filter((id) => id > through);
    for (const id of gaps.keys()) if (id <= through) gaps.delete(id);
    return through !== before;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.waiters.wake('stopped');
    await this.file.idle();
    await this.pool.end().catch(() => undefined);
  }
}
