// The event model (docs/event-model.md): one JSON object per event, the same in every sink.
// Stable snake_case names; an absent value is null, never guessed.

export type EventKind =
  | 'connection_received' | 'connection_authorized' | 'auth_failed' | 'disconnection' | 'audit'
  | 'guard_allow' | 'guard_deny' | 'ddl' | 'tamper' | 'error' | 'log';

/** For kind 'ddl': one object a DDL statement created, altered, dropped or rewrote. */
export interface DdlDetails {
  /** pgwarden.ddl_events.id in the monitored database */
  id: number;
  txid: number;
  /** the event trigger that recorded it: ddl_command_end, sql_drop or table_rewrite */
  event: string;
  current_user: string;
  command_tag: string;
  object_type: string | null;
  object_identity: string | null;
  schema: string | null;
  in_extension: boolean;
  statement: string | null;
  change_ticket: string | null;
  server_addr: string | null;
  server_port: number | null;
  /** table_rewrite: the rewrite reason */
  detail: string | null;
}

/** For kind 'tamper': what `pgwarden status` found changed in the installed sensors. */
export interface TamperDetails {
  findings: { object: string; state: string; expected: string; actual: string }[];
  /** true when this event says the drift is gone */
  resolved: boolean;
}

export interface PgwardenEvent {
  ts: string;
  kind: EventKind;
  server: string;
  pid: number | null;
  session_id: string | null;
  session_line: number | null;
  user: string | null;
  database: string | null;
  application: string | null;
  client_addr: string | null;
  client_port: number | null;
  severity: string | null;
  sqlstate: string | null;
  message: string | null;
  ddl?: DdlDetails;
  tamper?: TamperDetails;
  source: { input: string; position: string | number };
}
