// The DDL log of one database as a pipeline source: LISTEN pgwarden_ddl for news, the
// pgwarden.ddl_events table for the events themselves, and per sink a durable place in
// pgwarden.alert_sinks, so a restarted process catches up exactly where it stopped.
// It also compares the installed sensors with what install made every few seconds and
// emits a 'tamper' event when they drift (event triggers never see ALTER/DROP EVENT TRIGGER).
import type pg from 'pg';
import type { Logger } from 'pino';
import { SQL_TAG, poolQuery, connect, createPool, resolveTarget, targetForDatabase, withClient, type Target } from '../../../core/db.ts';
import { PgwardenError } from '../../../core/errors.ts';
import { newEvent, type PgwardenEvent } from '../../../core/event.ts';
import { ddlEventsAfter, ddlRowToEvent } from '../../../ddl/index.ts';
import { sensorsStatus } from '../../../sensors/index.ts';
import { installedVersion } from '../../../sensors/index.ts';
import type { SourceContext } from '../../build.ts';
import { Waiters } from '../../wake.ts';
import type { Lane, Pending, Sink, Source, Wake } from '../../types.ts';
import { databasesOf, serverName } from '../databases.ts';
import type { DdlSourceConfig } from './config.ts';

export const DDL_CHANNEL = 'pgwarden_ddl';
/** How often a lane looks for new rows in pgwarden.ddl_events (one indexed query by id). */
const DDL_POLL_MS = 1000;
/**
 * One process delivers to a sink in a database at a time: it holds this advisory lock (two
 * int4 keys, database-scoped) on its LISTEN connection. A second process stands by and takes
 * over when the first one's session ends. `pgwarden status` reads pg_locks to see it.
 */
export const SINK_LOCK_SQL = `SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('pgwarden.alerts'), pg_catalog.hashtext($1)) AS ok`;
const TAMPER_STATES = new Set(['MISSING', 'CHANGED', 'DISABLED']);

export interface DdlLogOptions {
  /** the configured source name */
  input: string;
  /** how alerts name the server */
  server: string;
  database: string;
  target: Target;
  tamperCheckSeconds: number;
  /** look for undelivered rows at least this often, even without a notification */
  pollSeconds: number;
  log: Logger;
}

type InFlight = { kind: 'ddl'; through: number; eventIds: number[] } | { kind: 'tamper'; event: PgwardenEvent };

export class DdlLogSource implements Source {
  readonly name: string;
  readonly input: string;
  /** LISTEN only; every query goes through the pool, since lanes and the tamper check run concurrently. */
  private client: pg.Client | null = null;
  private readonly pool: pg.Pool;
  private stopped = false;
  private readonly waiters = new Waiters();
  private readonly tamperQueues = new Map<string, PgwardenEvent[]>();
  private readonly lanesBySink = new Map<string, Sink>();
  private lastFindings: string | null = null;
  private tamperTimer: NodeJS.Timeout | undefined;
  private tamperSequence = 0;
  /** Tamper events live in memory: their delivery ids carry the process start to stay unique across restarts. */
  private readonly startedAt = Date.now();
  private reconnectDelay = 1000;
  private connecting: Promise<pg.Client> | null = null;
  /** Sinks this process holds the delivery lock for, on the current LISTEN connection. */
  private readonly owned = new Set<string>();
  private readonly standingBy = new Set<string>();

  constructor(private readonly options: DdlLogOptions) {
    this.input = options.input;
    this.name = `${options.input}/${options.database}`;
    this.pool = createPool(options.target, 'pgwarden/alerts');
  }

  private query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    return poolQuery<R>(this.pool, this.options.target.label, text, values);
  }

  async start(): Promise<void> {
    await this.connection().catch((error: Error) => this.options.log.warn({ source: this.name, err: error.message }, 'cannot connect yet; retrying'));
    if (this.options.tamperCheckSeconds > 0) {
      const check = () => {
        if (this.stopped) return;
        void this.checkTamper().finally(() => {
          if (!this.stopped) this.tamperTimer = setTimeout(check, this.options.tamperCheckSeconds * 1000);
        });
      };
      check();
    }
  }

  /** The connection, (re)made on demand; LISTEN is set up before anyone reads, so no news is missed in between. */
  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      try {
        const client = await connect(this.options.target, 'pgwarden/alerts');
        if (this.stopped) {
          // stopped while connecting: this connection must not outlive the source
          await client.end().catch(() => undefined);
          throw new Error('stopped');
        }
        client.on('notification', () => this.wake('change'));
        client.on('error', () => this.dropConnection(client));
        client.on('end', () => this.dropConnection(client));
        await client.query(`${SQL_TAG}LISTEN ${DDL_CHANNEL}`);
        this.client = client;
        this.reconnectDelay = 1000;
        this.options.log.info({ source: this.name }, 'connected; listening for DDL');
        // Whatever happened while we were away is waiting in the table.
        this.wake('change');
        return client;
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  private dropConnection(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    // The session's advisory locks went with it.
    this.owned.clear();
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    this.options.log.warn({ source: this.name }, 'connection lost; reconnecting');
    const retry = () => {
      if (this.stopped || this.client) return;
      this.connection().catch((error: Error) => {
        this.options.log.warn({ source: this.name, err: error.message }, 'reconnect failed');
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, 30_000);
        setTimeout(retry, this.reconnectDelay).unref();
      });
    };
    setTimeout(retry, this.reconnectDelay).unref();
  }

  private wake(wake: Wake): void {
    this.waiters.wake(wake);
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    // The sensors no longer NOTIFY (a full queue failed every DDL at commit): new rows are found
    // by polling the table by id, at least every DDL_POLL_MS (LISTEN stays for older sensors).
    return this.waiters.wait(Math.min(ms, this.options.pollSeconds * 1000, DDL_POLL_MS), signal, this.stopped);
  }

  /** Compares the installed sensors with the manifest; a new drift (or its end) becomes a tamper event. */
  async checkTamper(): Promise<void> {
    let findings: { object: string; state: string; expected: string; actual: string }[];
    try {
      const client = await this.pool.connect();
      const report = await sensorsStatus(client).finally(() => client.release());
      findings = report.items.filter((item) => TAMPER_STATES.has(item.state)).map(({ object, state, expected, actual }) => ({ object, state, expected, actual }));
    } catch (error) {
      this.options.log.warn({ source: this.name, err: (error as Error).message }, 'tamper check failed');
      return;
    }
    const key = JSON.stringify(findings);
    const previous = this.lastFindings;
    this.lastFindings = key;
    if (key === previous) return;
    const resolved = findings.length === 0;
    // Nothing to say at start-up when all is well; an end of drift only after a drift.
    if (resolved && (previous === null || previous === '[]')) return;
    this.tamperSequence += 1;
    const event: PgwardenEvent = {
      ...newEvent('tamper', this.options.server, {
        input: `tamper:${this.options.server}/${this.options.database}`, position: this.tamperSequence, line: null,
      }),
      ts: new Date().toISOString(),
      database: this.options.database,
      severity: resolved ? 'NOTICE' : 'WARNING',
      message: resolved ? 'pgwarden sensors intact again' : findings.map((f) => `${f.object} ${f.state}`).join('; '),
      tamper: { findings, resolved },
    };
    this.options.log.warn({ source: this.name, findings: findings.length }, resolved ? 'sensors intact again' : 'sensors changed: tamper alert');
    for (const [sinkName, sink] of this.lanesBySink) {
      if (sink.accepts?.(event) ?? true) this.tamperQueues.set(sinkName, [...(this.tamperQueues.get(sinkName) ?? []), event]);
    }
    this.wake('change');
  }

  /** Takes the sink's delivery lock if free; false while another process holds it. */
  private async claim(sink: string): Promise<boolean> {
    if (this.owned.has(sink)) return true;
    const client = await this.connection();
    // Only lanes of this source use the LISTEN connection, one claim at a time.
    const claim = this.claiming.then(() => client.query<{ ok: boolean }>(`${SQL_TAG}${SINK_LOCK_SQL}`, [sink]));
    this.claiming = claim.catch(() => undefined);
    const { rows } = await claim;
    if (rows[0]?.ok && this.client === client) {
      this.owned.add(sink);
      if (this.standingBy.delete(sink)) this.options.log.info({ source: this.name, sink }, 'taking over delivery');
      return true;
    }
    if (!this.standingBy.has(sink)) {
      this.standingBy.add(sink);
      this.options.log.warn({ source: this.name, sink }, 'another pgwarden alerts process delivers to this sink; standing by');
    }
    // Its owner sends its own tamper alerts.
    this.tamperQueues.delete(sink);
    return false;
  }

  private claiming: Promise<unknown> = Promise.resolve();

  lane(sink: Sink): Lane {
    this.lanesBySink.set(sink.name, sink);
    const inFlight = new Map<string, InFlight>();
    // A new sink starts with the changes made from now on, not with the whole history: register
    // it at once, not at the lane's first next(), which may come after changes made meanwhile.
    const register = () => this.query(`${SQL_TAG}INSERT INTO pgwarden.alert_sinks (sink, delivered_through)
      SELECT $1, COALESCE(pg_catalog.max(id), 0) FROM pgwarden.ddl_events ON CONFLICT (sink) DO NOTHING`, [sink.name]).then(() => true, () => false);
    let registration: Promise<boolean> | null = register();
    const db = this.options.database;
    const toEvent = (row: Parameters<typeof ddlRowToEvent>[0]) => ddlRowToEvent(row, this.options.server);

    return {
      next: async (maxEvents: number): Promise<Pending | null> => {
        if (!(await this.claim(sink.name))) return null;
        const tamper = this.tamperQueues.get(sink.name)?.[0];
        if (tamper) {
          const messageId = `tamper.${db}.${sink.name}.${this.startedAt}.${tamper.source.position}`;
          inFlight.set(messageId, { kind: 'tamper', event: tamper });
          return { events: [tamper], messageId };
        }
        if (registration) {
          // Registering failed at start (the database was away): register now, or fail this turn.
          if (!(await registration) && !(await register())) {
            registration = Promise.resolve(false);
            throw new Error(`cannot register sink ${sink.name} in pgwarden.alert_sinks`);
          }
          registration = null;
        }
        for (;;) {
          const { rows: [state] } = await this.query<{ delivered: number; inflight: number | null; message_id: string | null }>(
            `${SQL_TAG}SELECT delivered_through::float8 AS delivered, inflight_through::float8 AS inflight, inflight_message_id AS message_id
               FROM pgwarden.alert_sinks WHERE sink = $1`, [sink.name]);
          if (!state) throw new Error(`pgwarden.alert_sinks has no row for sink ${sink.name}`);
          if (state.inflight !== null && state.message_id !== null) {
            // Sent before a crash or a failure: the same events again, under the same id.
            const rows = await ddlEventsAfter(this.pool, state.delivered, 100_000, state.inflight);
            const events = rows.map(toEvent).filter((e) => sink.accepts?.(e) ?? true);
            if (events.length > 0) {
              inFlight.set(state.message_id, { kind: 'ddl', through: state.inflight, eventIds: events.map((e) => e.ddl!.id) });
              return { events, messageId: state.message_id };
            }
            await this.advance(sink.name, [], state.inflight, state.message_id);
            continue;
          }
          const rows = await ddlEventsAfter(this.pool, state.delivered, maxEvents);
          if (rows.length === 0) return null;
          const through = rows[rows.length - 1]!.id;
          const events = rows.map(toEvent).filter((e) => sink.accepts?.(e) ?? true);
          if (events.length === 0) {
            await this.advance(sink.name, [], through, '');
            continue;
          }
          const messageId = `ddl.${db}.${sink.name}.${events[0]!.ddl!.id}-${events[events.length - 1]!.ddl!.id}`;
          await this.query(`${SQL_TAG}UPDATE pgwarden.alert_sinks SET inflight_through = $2, inflight_message_id = $3, updated_at = pg_catalog.now()
            WHERE sink = $1`, [sink.name, through, messageId]);
          inFlight.set(messageId, { kind: 'ddl', through, eventIds: events.map((e) => e.ddl!.id) });
          return { events, messageId };
        }
      },

      settle: async (pending: Pending): Promise<void> => {
        const flight = inFlight.get(pending.messageId);
        inFlight.delete(pending.messageId);
        if (!flight) throw new Error(`unknown batch ${pending.messageId}`);
        if (flight.kind === 'tamper') {
          this.tamperQueues.set(sink.name, (this.tamperQueues.get(sink.name) ?? []).filter((e) => e !== flight.event));
          return;
        }
        await this.advance(sink.name, flight.eventIds, flight.through, pending.messageId);
      },

      fail: async (pending: Pending, error: string, attempts: number, nextAttemptAt: Date): Promise<void> => {
        if (inFlight.get(pending.messageId)?.kind !== 'ddl') return;
        await this.query(
          `${SQL_TAG}UPDATE pgwarden.alert_sinks SET attempts = $2, last_error = $3, last_attempt_at = pg_catalog.now(),
              next_attempt_at = $4, updated_at = pg_catalog.now() WHERE sink = $1`,
          [sink.name, attempts, error.slice(0, 1000), nextAttemptAt]);
      },
    };
  }

  /** One statement, so the deliveries and the new place land together or not at all. */
  private async advance(sink: string, eventIds: number[], through: number, messageId: string): Promise<void> {
    await this.query(
      `${SQL_TAG}WITH delivered AS (
         INSERT INTO pgwarden.alert_deliveries (sink, event_id, message_id)
         SELECT $1, e, $4 FROM pg_catalog.unnest($2::bigint[]) AS e)
       UPDATE pgwarden.alert_sinks
          SET delivered_through = GREATEST(delivered_through, $3::bigint), inflight_through = NULL, inflight_message_id = NULL,
              attempts = 0, last_error = NULL, next_attempt_at = NULL, updated_at = pg_catalog.now()
        WHERE sink = $1`,
      [sink, eventIds, through, messageId]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.tamperTimer);
    this.wake('stopped');
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

/** The migration that added pgwarden.ddl_events. */
const DDL_AUDIT_SCHEMA_VERSION = 2;

/** One running source per database the configured source follows; each must have the DDL audit installed. */
export async function build({ name, config: source, root, log, target: override }: SourceContext<DdlSourceConfig>): Promise<Source[]> {
  const target = override ?? resolveTarget({ server: source.server }, root);
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
