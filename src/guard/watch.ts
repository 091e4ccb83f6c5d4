// Watch mode: the guard for servers without a login check (PostgreSQL 16 and older without
// session_exec, managed services), for clients that change application_name after they log in
// (pgJDBC with default settings, and so DBeaver, SQuirreL and other JDBC tools), and for
// replication connections, which no login check ever sees.
//
// It only reads, except when there is something to record: each poll is one SELECT over
// pg_stat_activity that evaluates every client backend and walsender with the same compiled
// pgwarden.guard_decide() the login check uses; a session a deny rule matches is then ended and
// recorded by pgwarden.guard_terminate(), which decides again on the server (the watcher cannot
// end or record anything else). Between full sweeps, sessions in their first second are checked
// again every few milliseconds, because a JDBC client sets its application name right after login
// and runs its first query immediately after that.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { RECORDER_APPLICATION, RECORDER_ROLE } from '../sensors/index.ts';
import { DEFAULT_REFUSAL_MESSAGE } from './rule-input.ts';

export interface WatchedSession {
  pid: number;
  user: string;
  /** null for a physical replication connection */
  database: string | null;
  application: string;
  client_addr: string;
  rule_id: number | null;
  message: string | null;
  /** 'physical' or 'logical' for a replication connection (walsender), else null */
  replication: string | null;
}

export interface TickResult {
  /** Sessions a deny rule matches that were terminated (or, with terminate off, would be). */
  denied: WatchedSession[];
  terminated: boolean;
}

// Read-only: every session a deny rule matches now. A session whose state is not yet reported is
// still in its login: the login check decides it (its refusal, SQLSTATE 28000, is what the client
// must see, not a termination). A physical walsender has no database: rules see it as database
// `replication`, as pg_hba.conf does.
const SESSIONS = (where: string, newest: string) => `
  SELECT a.pid, a.backend_start::text AS backend_start, a.usename::text AS user_name, a.datname::text AS database,
         COALESCE(a.application_name, '') AS application, COALESCE(pg_catalog.host(a.client_addr), '[local]') AS client_addr,
         CASE WHEN a.backend_type = 'walsender' THEN CASE WHEN a.datname IS NULL THEN 'physical' ELSE 'logical' END END AS replication,
         -d.signed_rule AS rule_id,
         d.signed_rule < 0 AND a.state IS NOT NULL AND a.state <> 'starting' AND NOT r.rolsuper
           AND a.usesysid NOT IN (SELECT b.role_oid FROM pgwarden.guard_break_glass b)
           AND NOT (a.usename = '${RECORDER_ROLE}' AND a.application_name = '${RECORDER_APPLICATION}') AS denied,
         ${newest} AS newest_start
    FROM pg_catalog.pg_stat_activity a
    JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
    CROSS JOIN LATERAL (SELECT pgwarden.guard_decide(a.usename::text, COALESCE(a.application_name, ''), a.client_addr,
      CASE WHEN a.backend_type = 'walsender' AND a.datname IS NULL THEN 'replication' ELSE a.datname::text END) AS signed_rule) d
   WHERE a.backend_type IN ('client backend', 'walsender')
     AND a.pid <> pg_catalog.pg_backend_pid()
     AND ${where}`;

/** Every session; only the denied ones come back. */
const DENIED_SESSIONS = `SELECT * FROM (${SESSIONS('true', 'NULL::text')}) s WHERE s.denied`;

/**
 * Sessions that started after the newest one seen before ($1), and the young ones still being
 * watched ($2): all of them come back, so that new ones join the young set. The pg_stat_activity
 * snapshot is one per statement, so `newest_start` is consistent with the rows.
 */
const YOUNG_SESSIONS = SESSIONS(`(a.backend_start > $1::timestamptz OR a.pid = ANY ($2::integer[]))`,
  `GREATEST($1::timestamptz, (SELECT pg_catalog.max(x.backend_start) FROM pg_catalog.pg_stat_activity x))::text`);

// backend_start travels as text: a JavaScript Date would drop its microseconds.
const TERMINATE = `SELECT * FROM pgwarden.guard_terminate($1, $2::timestamptz)`;

const MESSAGES = `SELECT id::int AS id, pgwarden.guard_rule_message(id) AS message FROM pg_catalog.unnest($1::bigint[]) AS id`;

const HAS_DENY_RULES = `SELECT EXISTS (SELECT 1 FROM pgwarden.guard_rules WHERE action = 'deny') AS any`;

interface DeniedRow {
  pid: number; backend_start: string; user_name: string; database: string | null; application: string;
  client_addr: string; replication: string | null; rule_id: string | null; denied: boolean; newest_start: string | null;
}

interface TerminatedRow {
  pid: number; user_name: string; database: string | null; application: string; client_addr: string;
  rule_id: string | null; message: string | null; replication: string | null;
}

function toSession(row: TerminatedRow): WatchedSession {
  return {
    pid: row.pid,
    user: row.user_name,
    database: row.database,
    application: row.application,
    client_addr: row.client_addr,
    rule_id: row.rule_id === null ? null : Number(row.rule_id),
    message: row.message,
    replication: row.replication,
  };
}

/** Fails early when the watching role could not see other sessions' details or end them. */
export async function checkWatchPrivileges(client: pg.Client, terminate: boolean): Promise<void> {
  const { rows } = await client.query<{ superuser: boolean; stats: boolean; may_terminate: boolean }>(
    `${SQL_TAG}SELECT r.rolsuper AS superuser,
        pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS stats,
        pg_catalog.has_function_privilege(current_user, 'pgwarden.guard_terminate(integer,timestamptz)', 'EXECUTE') AS may_terminate
       FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`);
  const row = rows[0]!;
  if (row.superuser) return;
  if (!row.stats) {
    throw new PgwardenError('PGW_ERR_PRIVILEGE', 'watch mode needs pg_read_all_stats to see other sessions\' application_name and client address',
      { hint: 'GRANT pgwarden_watcher TO <watch role>; (made by install; or run watch as a superuser)' });
  }
  if (terminate && !row.may_terminate) {
    throw new PgwardenError('PGW_ERR_PRIVILEGE', 'watch mode needs EXECUTE on pgwarden.guard_terminate() to end sessions',
      { hint: 'GRANT pgwarden_watcher TO <watch role>; (made by install) or run with --dry-run' });
  }
}

export interface WatcherOptions {
  /** End sessions (false: report what would be ended). */
  terminate: boolean;
  /** How long after the watcher first sees a session it is checked again at every recheck (default 1000 ms). */
  youngWindowMs?: number;
}

export class GuardWatcher {
  /** Sessions a dry run has already reported, as pid@backend_start. */
  private reported = new Set<string>();
  private denyRules = true;
  private readonly youngWindowMs: number;
  /** The newest backend_start seen (server text, exact): later sessions are new. */
  private newestStart: string | null = null;
  /** Sessions in their first moments, by pid: until when they are checked at every recheck. */
  private young = new Map<number, { start: string; until: number }>();

  constructor(private readonly client: pg.Client, private readonly options: WatcherOptions) {
    this.youngWindowMs = options.youngWindowMs ?? 1000;
  }

  /** Whether any deny rule exists (as of the last full sweep): without one, rechecks are skipped. */
  get guarding(): boolean {
    return this.denyRules;
  }

  /** Evaluates every session. */
  async tick(): Promise<TickResult> {
    const { rows } = await this.client.query<{ any: boolean; now: string }>(`${SQL_TAG}${HAS_DENY_RULES}`);
    this.denyRules = rows[0]!.any;
    const { rows: denied } = await this.client.query<DeniedRow>({ name: 'pgwarden-watch-denied', text: SQL_TAG + DENIED_SESSIONS });
    if (this.newestStart === null) {
      const { rows: [now] } = await this.client.query<{ now: string }>(`${SQL_TAG}SELECT pg_catalog.now()::text AS now`);
      this.newestStart = now!.now;
    }
    return this.act(denied, true);
  }

  /**
   * Checks the sessions that started since the last check and those still in their first second
   * (cheap: a handful of rows). A JDBC client renames itself right after login and runs its first
   * query right after that: only a check in that moment can end it before the query.
   */
  async recheckYoung(): Promise<TickResult> {
    if (!this.denyRules || this.newestStart === null) return { denied: [], terminated: this.options.terminate };
    const now = Date.now();
    for (const [pid, entry] of this.young) if (entry.until < now) this.young.delete(pid);
    const { rows } = await this.client.query<DeniedRow>({
      name: 'pgwarden-watch-young', text: SQL_TAG + YOUNG_SESSIONS, values: [this.newestStart, [...this.young.keys()]],
    });
    if (rows[0]?.newest_start) this.newestStart = rows[0].newest_start;
    for (const row of rows) {
      const known = this.young.get(row.pid);
      if (!known || known.start !== row.backend_start) this.young.set(row.pid, { start: row.backend_start, until: now + this.youngWindowMs });
    }
    return this.act(rows.filter((row) => row.denied && this.young.get(row.pid)?.start === row.backend_start), false);
  }

  private async act(rows: DeniedRow[], full: boolean): Promise<TickResult> {
    if (this.options.terminate) {
      const denied: WatchedSession[] = [];
      for (const row of rows) {
        // Writes only here, one session at a time, decided again on the server.
        const ended = await this.client.query<TerminatedRow>(SQL_TAG + TERMINATE, [row.pid, row.backend_start]);
        denied.push(...ended.rows.map(toSession));
        if (ended.rows.length > 0) this.young.delete(row.pid);
      }
      return { denied, terminated: true };
    }
    // A dry run sees the same sessions every poll: report each one once.
    const key = (row: DeniedRow) => `${row.pid}@${row.backend_start}`;
    const fresh = rows.filter((row) => !this.reported.has(key(row)));
    if (full) this.reported = new Set(rows.map(key));
    else for (const row of fresh) this.reported.add(key(row));
    if (fresh.length === 0) return { denied: [], terminated: false };
    const { rows: messages } = await this.client.query<{ id: number; message: string | null }>(
      SQL_TAG + MESSAGES, [fresh.map((row) => row.rule_id)]);
    const messageOf = new Map(messages.map((m) => [m.id, m.message]));
    return {
      denied: fresh.map((row) => toSession({ ...row, message: messageOf.get(Number(row.rule_id)) ?? DEFAULT_REFUSAL_MESSAGE })),
      terminated: false,
    };
  }
}
