// The names pgwarden gives its roles, and the pinned search_path of its SECURITY DEFINER
// functions: defined here once, for the sensors, the monitor, the repository and status. A
// migration (history) spells them out as they were when it was written; these never change.

/** The guard's loopback login that records refusals (pgwarden install). */
export const RECORDER_ROLE = 'pgwarden_recorder';
/** Group role with exactly what `guard watch` needs. */
export const WATCHER_ROLE = 'pgwarden_watcher';
/** Group role with exactly what `pgwarden alerts run` needs. */
export const ALERTS_ROLE = 'pgwarden_alerts';
/** Owns the monitor's check functions; NOLOGIN; member of pg_monitor plus a few catalog grants (monitor install). */
export const MONITOR_OWNER_ROLE = 'pgwarden_monitor_owner';
/** May EXECUTE the monitor's check functions, nothing else; the monitoring login is made a member. */
export const MONITOR_CALLER_ROLE = 'pgwarden_monitor';
/** Owns the lock_role functions (schema pgwarden_responder); NOLOGIN, CREATEROLE; made only by `install --responder`. */
export const RESPONDER_ROLE = 'pgwarden_responder';
/** pgAudit's object-audit role, when `pgaudit object` creates it. */
export const AUDITOR_ROLE = 'pgwarden_auditor';
/** The repository's writer (INSERT, never UPDATE or DELETE of events), reader and dashboard roles (repo migrate). */
export const REPO_WRITER_ROLE = 'pgwarden_repo_writer';
export const REPO_READER_ROLE = 'pgwarden_repo_reader';
export const REPO_SERVER_ROLE = 'pgwarden_repo_server';

/** Every role pgwarden creates, on any server. */
export const PGWARDEN_ROLES: readonly string[] = [
  RECORDER_ROLE, WATCHER_ROLE, ALERTS_ROLE, MONITOR_OWNER_ROLE, MONITOR_CALLER_ROLE, AUDITOR_ROLE,
  REPO_WRITER_ROLE, REPO_READER_ROLE, REPO_SERVER_ROLE,
];

/** The search_path every SECURITY DEFINER function of pgwarden is pinned to. */
const PINNED_PATH = 'pg_catalog, pg_temp';
/** That setting as pg_proc.proconfig spells it (what status and monitor_integrity compare with). */
export const PINNED_SEARCH_PATH = `search_path=${PINNED_PATH}`;
/** The same, as CREATE FUNCTION and ALTER FUNCTION write it. */
export const PINNED_SET_CLAUSE = `SET search_path = ${PINNED_PATH}`;
