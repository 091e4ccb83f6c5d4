// Responses that act: what the engine calls with an alert (respond(alert) → actions), and what
// `pgwarden detect responses` operates (list the active locks and blocks, lift one now, lift
// the expired ones). Every decision that protects someone is taken twice: here, from the config
// (ResponsePlanner: protected roles and networks, Unix sockets, failed-login rules) and on the
// server, from the catalogs (superusers, break-glass roles by OID, pgwarden's roles by
// membership, the caller's own session and address), inside the function that acts, in the same
// transaction as the row that records it (pgwarden.response_actions: the response's event).
// Nothing is concatenated into SQL: names, networks and durations are parameters.
import type pg from 'pg';
import { SQL_TAG, connect, targetForDatabase, type Target } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import type { Alert } from './alert.ts';
import type { DescribedResponse } from './responses.ts';
import type { ActionSpec, ActionType, RuleSpec } from './types.ts';

/** One row of pgwarden.response_actions: a response done, refused, with nothing to do, or only described (dry run). */
export interface ResponseRecord {
  id: number;
  ts: string;
  response_id: string;
  action: ActionType | 'unlock_role' | 'unblock_client';
  outcome: 'done' | 'refused' | 'noop' | 'dry_run';
  role: string | null;
  pid: number | null;
  session_id: string | null;
  network: string | null;
  until: string | null;
  reason: string;
  detail: Record<string, unknown>;
  requested_by: string;
  database: string;
}

/** An active lock (pgwarden.response_locks) or block (a temporary guard rule). */
export interface ActiveResponse {
  kind: 'lock' | 'block';
  /** what `lift` takes: the lock's id, or the block's response id */
  id: string;
  role: string | null;
  network: string | null;
  since: string;
  until: string;
  /** a lock whose time has come but that no lift has lifted yet (`list` changes nothing) */
  expired: boolean;
  database: string;
}

/** The guarded databases, and those the responder could not reach (not known to be unguarded). */
interface Databases {
  guarded: string[];
  unreachable: { database: string; reason: string }[];
}

export interface ResponderOptions {
  /** describe what would be done, with every check the server makes, and record it as dry_run */
  dryRun?: boolean;
}

// Timestamps as ISO text with the offset, whatever the session's DateStyle.
const RECORD_COLUMNS = `a.id::int AS id, pg_catalog.to_char(a.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"') AS ts,
  a.response_id, a.action, a.outcome, a.role_name AS role, a.pid, a.session_id, a.network::text AS network,
  pg_catalog.to_char(a.until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"') AS until,
  a.reason, a.detail, a.requested_by::text AS requested_by, pg_catalog.current_database()::text AS database`;

const ISO = (column: string) => `pg_catalog.to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')`;

/** A role name can never hold NUL, which PostgreSQL text cannot carry: looked up as U+FFFD, it matches no role. */
function textParameter(value: string): string {
  return value.replaceAll('\0', '\uFFFD');
}

function interval(ms: number): string {
  return `${Math.round(ms)} milliseconds`;
}

export class Responder {
  /** Set once this process lifted what had expired (see ensureLifted). */
  private lifted: Promise<ResponseRecord[]> | null = null;

  constructor(private readonly target: Target, private readonly options: ResponderOptions = {}) {}

  /**
   * Lifts what expired while no pgwarden process ran, once per process, before the first
   * response (never before a listing, which changes nothing): a lock whose time came while
   * collect was down ends now at the latest.
   */
  ensureLifted(): Promise<ResponseRecord[]> {
    // Never stops the response it precedes: a lift that fails is told and tried again later.
    this.lifted ??= this.liftExpired().catch((error: Error) => {
      process.stderr.write(`pgwarden: warning: expired locks not lifted before this response: ${oneLine(error)}\n`);
      return [];
    });
    return this.lifted;
  }

  /**
   * Carries out the responses the planner described for an alert (the rule's actions, in the
   * same order): each one recorded once per incident and action, whatever the number of calls
   * (a restarted collect that sends the alert again acts no more).
   */
  async respond(rule: RuleSpec, alert: Alert): Promise<ResponseRecord[]> {
    if (!this.options.dryRun) await this.ensureLifted();
    const records: ResponseRecord[] = [];
    const client = await connect(this.target, 'pgwarden/respond');
    try {
      for (const [index, planned] of alert.responses.entries()) {
        const action = rule.actions[index];
        if (!action || action.type !== planned.action) throw new Error(`alert ${alert.id}: response ${index} is not rule ${rule.id}'s action ${index}`);
        records.push(...await this.one(client, rule, alert, action, planned));
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    return records;
  }

  private async one(client: pg.Client, rule: RuleSpec, alert: Alert, action: ActionSpec, planned: DescribedResponse): Promise<ResponseRecord[]> {
    const id = `${alert.id}:${action.type}`;
    // jsonb refuses \u0000, and a summary holds what the log said (a damaged log's NUL byte)
    const detail = JSON.stringify({ rule: rule.id, incident: alert.id, summary: alert.summary, server: alert.server },
      (_key, value: unknown) => (typeof value === 'string' ? textParameter(value) : value));
    const target = planned.target ?? {};
    if (planned.refused !== null) {
      return [await this.refusal(client, id, action.type, typeof target.role === 'string' ? target.role : alert.user, typeof target.network === 'string' ? target.network : null, planned.refused, detail)];
    }
    switch (action.type) {
      case 'terminate': {
        const sessions = (target.sessions ?? []) as { pid: number | null; session_id: string | null; user: string | null }[];
        const out: ResponseRecord[] = [];
        for (const session of sessions) {
          if (session.pid === null) continue;
          out.push(await this.terminate(client, `${id}:${session.pid}:${session.session_id ?? ''}`, session.pid, session.session_id,
            session.user, alert.last_ts, detail));
        }
        return out;
      }
      case 'lock_role':
        return [await this.lockRole(client, id, String(target.role), action.duration_ms, detail)];
      case 'block_client':
        return this.blockClient(id, String(target.network), action.duration_ms, detail);
    }
  }

  async terminate(client: pg.ClientBase, responseId: string, pid: number, sessionId: string | null, role: string | null,
    startedBefore: string | null, detail = '{}'): Promise<ResponseRecord> {
    responseId = this.recordId(responseId);
    return this.once(client, responseId, 'terminate', () => one(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_terminate($1, $2, $3, $4, $5::timestamptz, $6, $7::jsonb) a`,
      [responseId, pid, sessionId, role === null ? null : textParameter(role), startedBefore, Boolean(this.options.dryRun), detail]));
  }

  async lockRole(client: pg.ClientBase, responseId: string, role: string, durationMs: number, detail = '{}'): Promise<ResponseRecord> {
    responseId = this.recordId(responseId);
    if (!await hasResponder(client)) {
      return this.refusal(client, responseId, 'lock_role', role, null, 'no responder in this database: lock_role needs `pgwarden install --responder`', detail);
    }
    return this.once(client, responseId, 'lock_role', () => one(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden_responder.lock_role($1, $2, $3::interval, $4, $5::jsonb) a`,
      [responseId, textParameter(role), interval(durationMs), Boolean(this.options.dryRun), detail]));
  }

  /** terminate with a connection of its own (the CLI's `run`). */
  async terminateOne(responseId: string, pid: number, sessionId: string | null, role: string | null): Promise<ResponseRecord> {
    return this.withMain((client) => this.terminate(client, responseId, pid, sessionId, role, sessionId === null ? new Date().toISOString() : null));
  }

  /** lock_role with a connection of its own (the CLI's `run`). */
  async lockOne(responseId: string, role: string, durationMs: number): Promise<ResponseRecord> {
    return this.withMain((client) => this.lockRole(client, responseId, role, durationMs));
  }

  private async withMain<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await connect(this.target, 'pgwarden/respond');
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * A temporary deny rule in every database of the server that has the guard (one connection
   * each). Each database on its own: one that cannot be reached (no CONNECT, CONNECTION LIMIT 0,
   * a failure) is a refused record for that database, and the others are still blocked.
   */
  async blockClient(responseId: string, network: string, durationMs: number, detail = '{}'): Promise<ResponseRecord[]> {
    responseId = this.recordId(responseId);
    const records: ResponseRecord[] = [];
    const { guarded, unreachable } = await this.guardedDatabases();
    for (const database of guarded) {
      try {
        records.push(await this.inDatabase(database, (client) => this.once(client, responseId, 'block_client', () => one(client,
          `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_block_client($1, $2::cidr, $3::interval, $4, $5::jsonb) a`,
          [responseId, network, interval(durationMs), Boolean(this.options.dryRun), detail]))));
      } catch (error) {
        unreachable.push({ database, reason: oneLine(error as Error) });
      }
    }
    for (const { database, reason } of unreachable) {
      records.push(unrecorded(responseId, 'block_client', network, database, `database ${database} not reached, so not blocked there if it is guarded: ${reason}`));
    }
    return records;
  }

  private async inDatabase<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await connect(targetForDatabase(this.target, database), 'pgwarden/respond');
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * The id a response is recorded under. A dry run's own (`…:dry_run`): its noop and refused rows
   * are recorded with that outcome (sensors migration 5), and under the real id they would answer
   * the real run of the response later (dry_run turned off while the incident goes on) with what
   * was so at the dry run, and nothing would be done.
   */
  private recordId(responseId: string): string {
    return this.options.dryRun && !responseId.endsWith(':dry_run') ? `${responseId}:dry_run` : responseId;
  }

  /**
   * A dry run whose outcome is noop or refused is recorded with that outcome, not dry_run (sensors
   * migration 5), so a second dry run of the response (an incident's alert sent again, a restarted
   * collect) breaks response_actions_once: the first one's row is its answer, as for a real run.
   */
  private async once(client: pg.ClientBase, responseId: string, action: ActionType, run: () => Promise<ResponseRecord>): Promise<ResponseRecord> {
    try {
      return await run();
    } catch (error) {
      if (!this.options.dryRun || (error as { code?: string }).code !== '23505') throw error;
      return one(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_actions a
        WHERE a.response_id = $1 AND a.action = $2 AND a.outcome <> 'dry_run'`, [responseId, action]);
    }
  }

  private refusal(client: pg.ClientBase, responseId: string, action: ActionType, role: string | null, network: string | null,
    reason: string, detail: string): Promise<ResponseRecord> {
    responseId = this.recordId(responseId);
    return one(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_record_refusal($1, $2, $3, $4::cidr, $5, $6::jsonb) a`,
      [responseId, action, role === null ? null : textParameter(role), network, reason, detail]);
  }

  /**
   * The databases of the server with the guard's response functions (templates left out), each
   * looked at on its own. Every database that accepts connections is listed, with or without
   * CONNECT for this login: one it cannot reach is reported, never silently left out.
   */
  async guardedDatabases(): Promise<Databases> {
    const databases = await this.withMain(async (client) => (await client.query<{ datname: string }>(
      `${SQL_TAG}SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname`)).rows.map((r) => r.datname));
    const out: Databases = { guarded: [], unreachable: [] };
    for (const database of databases) {
      try {
        const present = await this.inDatabase(database, async (client) => (await client.query<{ present: boolean }>(
          `${SQL_TAG}SELECT pg_catalog.to_regprocedure('pgwarden.response_block_client(text,cidr,interval,boolean,jsonb)') IS NOT NULL AS present`)).rows[0]!.present);
        if (present) out.guarded.push(database);
      } catch (error) {
        out.unreachable.push({ database, reason: oneLine(error as Error) });
      }
    }
    return out;
  }

  /**
   * Lifts what has expired: the locks, which live in the target's database (the responder's)
   * alone, and then, tidying only (an expired rule already admits), the temporary rules of the
   * other guarded databases: one of those that cannot be reached is a warning, never a failure.
   * Run by every pgwarden process that responds when it starts, and by
   * `pgwarden detect responses lift-expired` from cron.
   */
  async liftExpired(): Promise<ResponseRecord[]> {
    const records = await this.withMain(async (client) => [
      ...(await hasResponder(client) ? await many(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden_responder.lift_expired() a`, []) : []),
      ...(await isGuarded(client) ? await many(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_unblock(NULL, NULL) a`, []) : []),
    ]);
    let others: Databases;
    try {
      others = await this.guardedDatabases();
    } catch (error) {
      warn(`expired blocks not tidied: ${oneLine(error as Error)}`);
      return records;
    }
    const main = await this.withMain(async (client) => (await client.query<{ d: string }>(`${SQL_TAG}SELECT pg_catalog.current_database()::text AS d`)).rows[0]!.d);
    for (const database of others.guarded.filter((d) => d !== main)) {
      try {
        records.push(...await this.inDatabase(database, (client) => many(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_unblock(NULL, NULL) a`, [])));
      } catch (error) {
        warn(`expired blocks of database ${database} not tidied (they admit already): ${oneLine(error as Error)}`);
      }
    }
    return records;
  }

  /**
   * Active locks (the target's database) and blocks (every guarded database). Read only: a
   * lock whose time has come and that no lift has lifted yet is shown with expired true.
   */
  async active(): Promise<ActiveResponse[]> {
    const out: ActiveResponse[] = [];
    const { guarded, unreachable } = await this.guardedDatabases();
    for (const database of guarded) {
      try {
        out.push(...await this.inDatabase(database, async (client) => (await client.query<ActiveResponse>(
          `${SQL_TAG}SELECT 'lock' AS kind, l.id::text AS id, COALESCE(r.rolname::text, l.role_name) AS role, NULL::text AS network,
                  ${ISO('l.locked_at')} AS since, ${ISO('l.until')} AS until, l.until <= pg_catalog.now() AS expired,
                  pg_catalog.current_database()::text AS database
             FROM pgwarden.response_locks l LEFT JOIN pg_catalog.pg_roles r ON r.oid = l.role_oid WHERE l.lifted_at IS NULL
           UNION ALL
           SELECT 'block', g.response_id, NULL, pg_catalog.array_to_string(g.clients, ','), ${ISO('g.created_at')}, ${ISO('g.expires_at')},
                  false, pg_catalog.current_database()::text
             FROM pgwarden.guard_rules g WHERE g.response_id IS NOT NULL AND g.expires_at > pg_catalog.now()
           ORDER BY 5, 2`)).rows));
      } catch (error) {
        unreachable.push({ database, reason: oneLine(error as Error) });
      }
    }
    for (const { database, reason } of unreachable) warn(`database ${database} not reached, its blocks are not listed: ${reason}`);
    return out;
  }

  /** Lifts one lock (its id, a number) or block (its response id) now, wherever it is. */
  async lift(id: string): Promise<ResponseRecord[]> {
    const records: ResponseRecord[] = [];
    const { guarded, unreachable } = await this.guardedDatabases();
    for (const database of guarded) {
      try {
        records.push(...await this.inDatabase(database, async (client) => {
          const out: ResponseRecord[] = [];
          if (/^\d+$/.test(id) && await hasResponder(client)) {
            const { rows } = await client.query<ResponseRecord>(`${SQL_TAG}SELECT ${RECORD_COLUMNS} FROM pgwarden_responder.unlock_role($1::bigint, 'lifted by hand') a WHERE a.id IS NOT NULL`, [id]);
            out.push(...rows);
          }
          out.push(...await many(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_unblock($1, 'lifted by hand') a`, [id]));
          return out;
        }));
      } catch (error) {
        unreachable.push({ database, reason: oneLine(error as Error) });
      }
    }
    for (const { database, reason } of unreachable) warn(`database ${database} not reached, nothing lifted there: ${reason}`);
    if (records.length === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no active lock or block "${id}" (pgwarden detect responses list shows them)`);
    return records;
  }

  /** The response events, newest first. */
  async history(limit: number): Promise<ResponseRecord[]> {
    const client = await connect(this.target, 'pgwarden/respond');
    try {
      return await many(client, `SELECT ${RECORD_COLUMNS} FROM pgwarden.response_actions a ORDER BY a.id DESC LIMIT $1`, [limit]);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

async function isGuarded(client: pg.ClientBase): Promise<boolean> {
  const { rows: [row] } = await client.query<{ present: boolean }>(
    `${SQL_TAG}SELECT pg_catalog.to_regprocedure('pgwarden.response_unblock(text,text)') IS NOT NULL AS present`);
  return row!.present;
}

function oneLine(error: Error): string {
  return (error.message || String(error)).split('\n')[0]!;
}

function warn(text: string): void {
  process.stderr.write(`pgwarden: warning: ${text}\n`);
}

/** A refusal no database could record (the database was not reached): reported, with id 0. */
function unrecorded(responseId: string, action: ActionType, network: string | null, database: string, reason: string): ResponseRecord {
  return {
    id: 0, ts: new Date().toISOString(), response_id: responseId, action, outcome: 'refused', role: null, pid: null, session_id: null,
    network, until: null, reason, detail: {}, requested_by: '', database,
  };
}

async function hasResponder(client: pg.ClientBase): Promise<boolean> {
  const { rows: [row] } = await client.query<{ present: boolean }>(
    `${SQL_TAG}SELECT pg_catalog.to_regprocedure('pgwarden_responder.lock_role(text,text,interval,boolean,jsonb)') IS NOT NULL AS present`);
  return row!.present;
}

async function one(client: pg.ClientBase, sql: string, values: unknown[]): Promise<ResponseRecord> {
  const rows = await many(client, sql, values);
  if (rows.length !== 1) throw new Error(`a response function returned ${rows.length} rows`);
  return rows[0]!;
}

async function many(client: pg.ClientBase, sql: string, values: unknown[]): Promise<ResponseRecord[]> {
  // Each call is one statement, so one transaction: the action and its record land together.
  const { rows } = await client.query<ResponseRecord>(SQL_TAG + sql, values);
  return rows;
}
