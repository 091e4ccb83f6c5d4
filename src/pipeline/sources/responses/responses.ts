// The responses of one database as a pipeline source: every row of pgwarden.response_actions
// (terminate, lock_role, unlock_role, block_client, unblock_client; done, refused, noop or
// dry_run) becomes one event of kind `response`, beside the guard source. The response functions
// record by INSERT in the transaction that acts, without a notification, so the table is polled,
// with reads only, by id and checkpointed as the guard's table is (../id-table.ts).
//
// A response event reaches only detection rules that name kind `response` (detect/engine.ts):
// otherwise a rule over every kind would alert on the response and respond to it again.
import { SQL_TAG, resolveTarget, targetForDatabase, withClient } from '../../../core/db.ts';
import { PgwardenError } from '../../../core/errors.ts';
import { newEvent, type PgwardenEvent, type ResponseInfo } from '../../../core/event.ts';
import type { SourceContext } from '../../build.ts';
import type { Source } from '../../types.ts';
import { databasesOf, serverName } from '../databases.ts';
import { IdTableSource, type IdTable, type IdTableOptions } from '../id-table.ts';
import type { ResponsesSourceConfig } from './config.ts';

interface ResponseRow {
  id: string; ts: Date; response_id: string; action: ResponseInfo['action']; outcome: ResponseInfo['outcome'];
  role_name: string | null; pid: number | null; session_id: string | null; network: string | null; until: Date | null;
  reason: string; detail: Record<string, unknown> | null; requested_by: string;
}

/** A value of the row's detail (the caller's data: the rule, incident and summary it acted for), when a string. */
function detailText(detail: Record<string, unknown> | null, key: string): string | null {
  const value = detail?.[key];
  return typeof value === 'string' ? value : null;
}

export function responseToEvent(row: ResponseRow, server: string, database: string): PgwardenEvent {
  return {
    ...newEvent('response', server, { input: `responses:${server}/${database}`, position: Number(row.id), line: null }),
    ts: row.ts.toISOString(),
    pid: row.pid,
    session_id: row.session_id,
    user: row.role_name,
    database,
    severity: 'LOG',
    message: `pgwarden response ${row.action} ${row.outcome}: ${row.reason}`,
    response: {
      id: Number(row.id), response_id: row.response_id, action: row.action, outcome: row.outcome, role: row.role_name,
      network: row.network, until: row.until === null ? null : row.until.toISOString(), reason: row.reason,
      rule: detailText(row.detail, 'rule'), incident: detailText(row.detail, 'incident'), summary: detailText(row.detail, 'summary'),
      requested_by: row.requested_by,
    },
  };
}

const RESPONSES: IdTable<ResponseRow> = {
  table: 'response_actions', type: 'responses', row: 'response',
  select: `SELECT a.id::text AS id, a.ts, a.response_id, a.action, a.outcome, a.role_name, a.pid, a.session_id, a.network::text AS network,
      a.until, a.reason, a.detail, a.requested_by::text AS requested_by
    FROM pgwarden.response_actions a WHERE a.id > $1 ORDER BY a.id LIMIT $2`,
  toEvent: responseToEvent,
  hint: 'Grant it pgwarden_alerts (docs/pipeline.md).',
};

export class ResponsesSource extends IdTableSource<ResponseRow> {
  constructor(options: IdTableOptions) {
    super(options, RESPONSES);
  }
}

/**
 * One running source per database the configured source reads; each must have the response
 * tables (sensors migration 5). Looked up by name, not in pgwarden.migrations: the logins that
 * may read the table (pgwarden_alerts, pgwarden_watcher) need not read that one.
 */
export async function build({ name, config: source, root, log, target: override }: SourceContext<ResponsesSourceConfig>): Promise<Source[]> {
  const target = override ?? resolveTarget({ server: source.server }, root);
  const server = serverName(source, target);
  const databases = await databasesOf(source, target);
  for (const database of databases) {
    const present = await withClient(targetForDatabase(target, database), async (client) => (await client.query<{ present: boolean }>(
      `${SQL_TAG}SELECT pg_catalog.to_regclass('pgwarden.response_actions') IS NOT NULL AS present`)).rows[0]!.present);
    if (!present) {
      throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `database ${database} on ${target.label} has no pgwarden.response_actions (pgwarden before its responses, or not installed); run \`pgwarden install\` there`);
    }
  }
  return databases.map((database) => new ResponsesSource({
    input: name, server, database, target: targetForDatabase(target, database),
    pollSeconds: source.poll_seconds, gapSeconds: source.gap_seconds, stateDir: source.state_dir, log,
  }));
}
