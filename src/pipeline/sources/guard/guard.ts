// The guard's records of one database as a pipeline source: every row of pgwarden.connection_attempts
// (refusals at login, watch terminations, allowed logins) becomes one event — guard_deny or
// guard_allow — beside the ddl source. The guard records by INSERT (no NOTIFY since the hardened
// guard), so the table is polled, with reads only.
//
// The table is read by id and checkpointed as the responses source reads its own
// (../id-table.ts: ids that commit out of order, checkpoints per sink in state_dir).
import { resolveTarget, targetForDatabase, withClient } from '../../../core/db.ts';
import { PgwardenError } from '../../../core/errors.ts';
import { newEvent, type PgwardenEvent } from '../../../core/event.ts';
import { installedVersion } from '../../../sensors/index.ts';
import type { SourceContext } from '../../build.ts';
import type { Source } from '../../types.ts';
import { databasesOf, serverName } from '../databases.ts';
import { IdTableSource, type IdTable, type IdTableOptions } from '../id-table.ts';
import type { GuardSourceConfig } from './config.ts';

export type GuardLogOptions = IdTableOptions;

interface AttemptRow {
  id: string; ts: Date; database: string | null; user_name: string; client_addr: string; client_port: number | null;
  application: string; decision: 'allow' | 'deny'; rule_id: string | null; message: string | null; via: 'login' | 'watch';
  backend_pid: number | null; server_addr: string | null; server_port: number | null;
}

export function attemptToEvent(row: AttemptRow, server: string, database: string): PgwardenEvent {
  const id = Number(row.id);
  const deny = row.decision === 'deny';
  return {
    ...newEvent(deny ? 'guard_deny' : 'guard_allow', server, { input: `guard:${server}/${database}`, position: id, line: null }),
    ts: row.ts.toISOString(),
    pid: row.backend_pid,
    user: row.user_name,
    database: row.database,
    application: row.application === '' ? null : row.application,
    client_addr: row.client_addr,
    client_port: row.client_port,
    severity: deny ? 'FATAL' : 'LOG',
    message: deny
      ? `pgwarden guard ${row.via === 'watch' ? 'ended' : 'refused'} the connection of role "${row.user_name}"${row.message ? `: ${row.message}` : ''}`
      : `pgwarden guard allowed the connection of role "${row.user_name}"`,
    backend_type: row.via === 'watch' ? 'guard watch' : 'guard login',
    guard: { rule_id: row.rule_id === null ? null : Number(row.rule_id), reason: row.message, problem: null },
  };
}

const ATTEMPTS: IdTable<AttemptRow> = {
  table: 'connection_attempts', type: 'guard', row: 'attempt',
  select: `SELECT a.id::text AS id, a.ts, a.database, a.user_name, a.client_addr, a.client_port, a.application, a.decision,
      a.rule_id::text AS rule_id, a.message, a.via, a.backend_pid, a.server_addr, a.server_port
    FROM pgwarden.connection_attempts a WHERE a.id > $1 ORDER BY a.id LIMIT $2`,
  toEvent: attemptToEvent,
  hint: 'Grant it pgwarden_alerts (docs/pipeline.md).',
};

export class GuardLogSource extends IdTableSource<AttemptRow> {
  constructor(options: GuardLogOptions) {
    super(options, ATTEMPTS);
  }
}

/** One running source per database the configured source reads; each must have the guard installed. */
export async function build({ name, config: source, root, log, target: override }: SourceContext<GuardSourceConfig>): Promise<Source[]> {
  const target = override ?? resolveTarget({ server: source.server }, root);
  const server = serverName(source, target);
  const databases = await databasesOf(source, target);
  for (const database of databases) {
    const version = await withClient(targetForDatabase(target, database), installedVersion);
    if (version < 1) throw new PgwardenError('PGW_ERR_NOT_INSTALLED', `database ${database} on ${target.label} has no pgwarden guard; run \`pgwarden install\` there`);
  }
  return databases.map((database) => new GuardLogSource({
    input: name, server, database, target: targetForDatabase(target, database),
    pollSeconds: source.poll_seconds, gapSeconds: source.gap_seconds, stateDir: source.state_dir, log,
  }));
}
