// DDL events as recorded by the event triggers (pgwarden.ddl_events), read as rows for
// reports and as events of the event model for the pipeline.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { newEvent, type PgwardenEvent } from '../core/event.ts';

export interface DdlRow {
  id: number;
  ts: Date;
  txid: number;
  event: string;
  user_name: string;
  current_user_name: string;
  database: string;
  server_addr: string | null;
  server_port: number | null;
  client_addr: string;
  client_port: number | null;
  application: string;
  backend_pid: number;
  command_tag: string;
  object_type: string | null;
  object_identity: string | null;
  schema_name: string | null;
  in_extension: boolean;
  statement: string | null;
  change_ticket: string | null;
  detail: string | null;
}

// bigint ids come back as text from node-postgres; they stay below 2^53 for any real DDL log.
const DDL_COLUMNS = `id::float8 AS id, ts, txid::float8 AS txid, event, user_name::text, current_user_name::text, database::text,
  server_addr, server_port, client_addr, client_port, application, backend_pid, command_tag, object_type,
  object_identity, schema_name, in_extension, statement, change_ticket, detail`;

export interface DdlFilter {
  since: Date;
  users?: string[];
  /** only these command tags (case-insensitive, `*` as a wildcard: 'DROP *') */
  commands?: string[];
  /** the newest this many, listed oldest first */
  limit?: number;
}

/** A command pattern with `*` wildcards as an ILIKE pattern, other LIKE characters taken literally. */
function likePattern(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replaceAll('*', '%');
}

export async function ddlEvents(client: pg.Client, filter: DdlFilter): Promise<DdlRow[]> {
  const { rows } = await client.query<DdlRow>(
    `${SQL_TAG}SELECT * FROM (
       SELECT ${DDL_COLUMNS} FROM pgwarden.ddl_events
        WHERE ts >= $1
          AND ($2::text[] IS NULL OR user_name = ANY ($2) OR current_user_name = ANY ($2))
          AND ($3::text[] IS NULL OR command_tag ILIKE ANY ($3))
        ORDER BY id DESC LIMIT $4) newest
      ORDER BY id`,
    [filter.since, filter.users?.length ? filter.users : null,
      filter.commands?.length ? filter.commands.map(likePattern) : null, filter.limit ?? null]);
  return rows;
}

/** Rows after `afterId`, oldest first, at most `limit`, and never past `throughId` when given. */
export async function ddlEventsAfter(client: pg.Pool | pg.ClientBase, afterId: number, limit: number, throughId?: number): Promise<DdlRow[]> {
  const { rows } = await client.query<DdlRow>(
    `${SQL_TAG}SELECT ${DDL_COLUMNS} FROM pgwarden.ddl_events
      WHERE id > $1 AND ($3::bigint IS NULL OR id <= $3) ORDER BY id LIMIT $2`,
    [afterId, limit, throughId ?? null]);
  return rows;
}

export function ddlRowToEvent(row: DdlRow, server: string): PgwardenEvent {
  const event = newEvent('ddl', server, { input: `ddl:${server}/${row.database}`, position: row.id, line: null });
  return {
    ...event,
    ts: row.ts.toISOString(),
    pid: row.backend_pid,
    user: row.user_name,
    database: row.database,
    application: row.application,
    client_addr: row.client_addr,
    client_port: row.client_port,
    message: [row.command_tag, row.object_identity].filter(Boolean).join(' '),
    query: row.statement,
    ddl: {
      id: row.id,
      txid: row.txid,
      event: row.event,
      current_user: row.current_user_name,
      command_tag: row.command_tag,
      object_type: row.object_type,
      object_identity: row.object_identity,
      schema: row.schema_name,
      in_extension: row.in_extension,
      statement: row.statement,
      change_ticket: row.change_ticket,
      server_addr: row.server_addr,
      server_port: row.server_port,
      detail: row.detail,
    },
  };
}
