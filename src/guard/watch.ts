// Watch mode: the guard for servers without a login trigger (PostgreSQL 16 and older
// without session_exec, managed services) and for clients that change application_name
// after they log in (pgJDBC-based tools such as DBeaver and SQuirreL do), which a
// login-time check cannot see. Each tick it:
//   1. stores the allowed-login records the login check sent with NOTIFY (the login path
//      itself never writes a table row for an allowed login: that would cost ~30% of the
//      connection rate), and
//   2. evaluates every client session in pg_stat_activity with the same compiled
//      pgwarden.guard_decide() the login check uses, and terminates and records those a
//      deny rule matches now.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { RECORDER_ROLE } from '../sensors/index.ts';
import { DEFAULT_REFUSAL_MESSAGE } from './rule-input.ts';

const NOTIFY_CHANNEL = 'pgwarden_guard';

export interface WatchedSession {
  pid: number;
  user: string;
  database: string;
  application: string;
  client_addr: string;
  rule_id: number | null;
  message: string | null;
}

export interface TickResult {
  /** Sessions a deny rule matches that were terminated (or, with terminate off, would be). */
  denied: WatchedSession[];
  terminated: boolean;
  /** Allowed-login records stored from notifications. */
  allowedRecorded: number;
}

const DENIED_SESSIONS = `
  SELECT a.pid, a.backend_start, a.usename::text AS user_name, a.datname::text AS database,
         COALESCE(a.application_name, '') AS application, a.client_addr, a.client_port,
         -d.signed_rule AS rule_id, COALESCE(g.message, '${DEFAULT_REFUSAL_MESSAGE}') AS message
    FROM pg_catalog.pg_stat_activity a
    JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
    CROSS JOIN pgwarden.guard_settings s
    CROSS JOIN LATERAL (SELECT pgwarden.guard_decide(a.usename::text, COALESCE(a.application_name, ''), a.client_addr, a.datname::text) AS signed_rule) d
    LEFT JOIN pgwarden.guard_rules g ON g.id = -d.signed_rule
   WHERE a.backend_type = 'client backend'
     AND a.pid <> pg_catalog.pg_backend_pid()
     AND NOT r.rolsuper
     AND a.usename::text <> ALL (s.break_glass_roles || '${RECORDER_ROLE}'::text)
     AND d.signed_rule < 0`;

const TERMINATE_AND_RECORD = `
  WITH denied AS (${DENIED_SESSIONS}),
  ended AS (SELECT denied.*, pg_catalog.pg_terminate_backend(denied.pid, 5000) AS ended FROM denied)
  INSERT INTO pgwarden.connection_attempts
    (ts, server_addr, server_port, database, user_name, client_addr, client_port, application,
     decision, rule_id, message, via, backend_pid)
  SELECT pg_catalog.clock_timestamp(), pg_catalog.inet_server_addr()::text, pg_catalog.inet_server_port(),
         database, user_name, COALESCE(pg_catalog.host(client_addr), '[local]'), client_port, application,
         'deny', rule_id, message, 'watch', pid
    FROM ended WHERE ended
  RETURNING backend_pid AS pid, user_name, database, application, client_addr, rule_id, message`;

const STORE_NOTIFIED = `
  INSERT INTO pgwarden.connection_attempts
    (ts, server_addr, server_port, database, user_name, client_addr, client_port, application,
     decision, rule_id, message, via, backend_pid)
  SELECT r.ts, r.server_addr, r.server_port, pg_catalog.current_database(), r.user_name, r.client_addr,
         r.client_port, r.application, 'allow', r.rule_id, r.message, 'login', r.backend_pid
    FROM pg_catalog.jsonb_to_recordset($1::jsonb) AS r(
      ts timestamptz, server_addr text, server_port integer, user_name name, client_addr text,
      client_port integer, application text, rule_id bigint, message text, backend_pid integer)`;

/**
 * Parses the login check's NOTIFY payload: fields separated by U+001F, the role name last
 * (it may itself contain U+001F; application_name cannot). NOTIFY is per database, so the
 * database is the one the watcher listens in; the time is when the watcher received it.
 */
export function parseAllowedPayload(payload: string, receivedAt: Date): Record<string, unknown> | null {
  const fields = payload.split('\x1f');
  if (fields[0] !== 'v1' || fields.length < 10) return null;
  const [, pid, clientAddr, clientPort, serverAddr, serverPort, rule, message, application, ...user] = fields;
  return {
    ts: receivedAt.toISOString(),
    backend_pid: Number(pid),
    client_addr: clientAddr,
    client_port: clientPort ? Number(clientPort) : null,
    server_addr: serverAddr || null,
    server_port: Number(serverPort),
    rule_id: rule && rule !== '0' ? Number(rule) : null,
    message: message || null,
    application,
    user_name: user.join('\x1f'),
  };
}

interface DeniedRow { pid: number; backend_start?: Date; user_name: string; database: string; application: string; client_addr: string | null; rule_id: string | null; message: string | null }

function toSession(row: DeniedRow): WatchedSession {
  return {
    pid: row.pid,
    user: row.user_name,
    database: row.database,
    application: row.application,
    client_addr: row.client_addr ?? '[local]',
    rule_id: row.rule_id === null ? null : Number(row.rule_id),
    message: row.message,
  };
}

/** Fails early when the watching role could not see other sessions' details or end them. */
export async function checkWatchPrivileges(client: pg.Client, terminate: boolean): Promise<void> {
  const { rows } = await client.query<{ superuser: boolean; stats: boolean; signal: boolean }>(
    `${SQL_TAG}SELECT r.rolsuper AS superuser,
        pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS stats,
        pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal
       FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`);
  const row = rows[0]!;
  if (row.superuser) return;
  if (!row.stats) {
    throw new PgwardenError('PGW_ERR_PRIVILEGE', 'watch mode needs pg_read_all_stats to see other sessions\' application_name and client address',
      { hint: 'GRANT pgwarden_watcher TO <watch role>; (made by install; or run watch as a superuser)' });
  }
  if (terminate && !row.signal) {
    throw new PgwardenError('PGW_ERR_PRIVILEGE', 'watch mode needs pg_signal_backend to terminate sessions',
      { hint: 'GRANT pgwarden_watcher TO <watch role>; (made by install) or run with --dry-run' });
  }
}

export class GuardWatcher {
  private pending: Record<string, unknown>[] = [];
  /** Sessions a dry run has already reported, as pid@backend_start. */
  private reported = new Set<string>();
  private readonly onNotification = (message: pg.Notification) => {
    if (message.channel !== NOTIFY_CHANNEL || !message.payload) return;
    const record = parseAllowedPayload(message.payload, new Date());
    if (record) this.pending.push(record);
  };

  constructor(private readonly client: pg.Client, private readonly terminate: boolean) {}

  async start(): Promise<void> {
    this.client.on('notification', this.onNotification);
    await this.client.query(`${SQL_TAG}LISTEN ${NOTIFY_CHANNEL}`);
  }

  async stop(): Promise<void> {
    this.client.removeListener('notification', this.onNotification);
    await this.storeNotified().catch(() => 0);
    await this.client.query(`${SQL_TAG}UNLISTEN ${NOTIFY_CHANNEL}`).catch(() => undefined);
  }

  async tick(): Promise<TickResult> {
    const allowedRecorded = await this.storeNotified();
    if (this.terminate) {
      const { rows } = await this.client.query<DeniedRow>(SQL_TAG + TERMINATE_AND_RECORD);
      return { denied: rows.map(toSession), terminated: true, allowedRecorded };
    }
    // A dry run sees the same sessions every tick: report each one once.
    const { rows } = await this.client.query<DeniedRow>(SQL_TAG + DENIED_SESSIONS);
    const current = new Set(rows.map((row) => `${row.pid}@${row.backend_start?.toISOString()}`));
    const fresh = rows.filter((row) => !this.reported.has(`${row.pid}@${row.backend_start?.toISOString()}`));
    this.reported = current;
    return { denied: fresh.map(toSession), terminated: false, allowedRecorded };
  }

  private async storeNotified(): Promise<number> {
    if (this.pending.length === 0) return 0;
    const batch = this.pending;
    this.pending = [];
    try {
      await this.client.query(`${SQL_TAG}${STORE_NOTIFIED}`, [JSON.stringify(batch)]);
    } catch (error) {
      this.pending = batch.concat(this.pending); // keep them for the next tick
      throw error;
    }
    return batch.length;
  }
}
