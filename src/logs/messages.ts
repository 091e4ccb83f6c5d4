// What a log record says: sets the event's kind and the kind's fields from the message.
// Only English message texts are recognised (lc_messages = 'en' or 'C' is what pgwarden asks
// for); a translated message stays kind `log` or `error` with its severity in English.
//
// A record is pgAudit's only when its message *starts* with "AUDIT: ", it parses, and it has no
// CONTEXT and no STATEMENT: pgAudit writes with errhidestmt and errhidecontext, while a
// `RAISE LOG 'AUDIT: …'` from PL/pgSQL always carries a CONTEXT line — so neither a statement
// that contains the text "AUDIT:" nor a forged RAISE becomes an audit record.
// Nothing is ever dropped because of what a statement or message contains.
import type { PgwardenEvent } from '../core/event.ts';
import { AUDIT_MARK, parseAudit } from './pgaudit.ts';
import { toInt } from './record.ts';

export const RECEIVED = 'connection received: host=';
export const AUTHORIZED = 'connection authorized: user=';
const REPLICATION_AUTHORIZED = 'replication connection authorized: user=';
export const DISCONNECTION = 'disconnection: session time: ';
const GUARD_REFUSAL = 'pgwarden: connection refused for role "';
const GUARD_LOG = 'pgwarden guard: ';

/**
 * Sets the kind and the kind's fields. Returns null, or why a record that looks like pgAudit's
 * (starts with "AUDIT: ", no CONTEXT or STATEMENT) could not be read as one: the parser counts
 * that as a parse error and still sends the record on as kind `log`.
 */
export function classify(event: PgwardenEvent): string | null {
  const message = event.message;
  if (message === null) return null;
  let problem: string | null = null;
  const severity = event.severity;
  const c0 = message.charCodeAt(0);
  if (c0 === 65 /* A */ && message.startsWith(AUDIT_MARK)) {
    if (event.context === null && event.query === null) {
      const audit = parseAudit(message, AUDIT_MARK.length);
      if (typeof audit === 'string') problem = audit;
      else {
        event.kind = 'audit';
        event.audit = audit;
        return null;
      }
    }
  } else if (c0 === 99 /* c */) {
    if (message.startsWith(RECEIVED)) return received(event, message);
    if (message.startsWith(AUTHORIZED)) return authorized(event, message, AUTHORIZED.length, true);
  } else if (c0 === 100 /* d */ && message.startsWith(DISCONNECTION)) {
    return disconnection(event, message);
  } else if (c0 === 114 /* r */ && message.startsWith(REPLICATION_AUTHORIZED)) {
    return authorized(event, message, REPLICATION_AUTHORIZED.length, false);
  } else if (c0 === 112 /* p */) {
    if (message.startsWith(GUARD_REFUSAL) && (event.sqlstate === null || event.sqlstate === '28000')
      && (severity === 'FATAL' || severity === 'ERROR' || severity === null)) return guardRefusal(event, message);
    if (message.startsWith(GUARD_LOG)) guardLine(event, message);
  }
  if (severity === 'FATAL' || severity === 'ERROR' || severity === 'PANIC') {
    event.kind = isAuthFailure(event, message) ? 'auth_failed' : 'error';
  }
  return problem;
}

function received(event: PgwardenEvent, message: string): null {
  // connection received: host=HOST[ port=PORT]
  event.kind = 'connection_received';
  const rest = message.slice(RECEIVED.length);
  const space = rest.lastIndexOf(' port=');
  if (space >= 0) {
    event.client_addr = rest.slice(0, space);
    event.client_port = toInt(rest.slice(space + 6));
  } else {
    event.client_addr = rest;
  }
  return null;
}

// The suffixes PostgreSQL appends after application_name.
export const SUFFIXES = [' SSL enabled (', ' GSS (', ' GSS encrypted (', ' GSS authenticated ('];

function authorized(event: PgwardenEvent, message: string, from: number, withDatabase: boolean): null {
  // connection authorized: user=U database=D[ application_name=A][ SSL enabled (…)][ GSS (…)]
  // Values are not quoted; the application name runs to the end (or to the SSL/GSS suffix).
  event.kind = 'connection_authorized';
  let rest = message.slice(from);
  for (const suffix of SUFFIXES) {
    const at = rest.lastIndexOf(suffix);
    if (at >= 0 && rest.endsWith(')')) rest = rest.slice(0, at);
  }
  const appAt = rest.indexOf(' application_name=');
  let head = rest;
  if (appAt >= 0) {
    event.application = rest.slice(appAt + 18) || null;
    head = rest.slice(0, appAt);
  } else {
    event.application = null;
  }
  if (withDatabase) {
    const dbAt = head.lastIndexOf(' database=');
    if (dbAt >= 0) {
      event.user = head.slice(0, dbAt);
      event.database = head.slice(dbAt + 10);
      return null;
    }
  }
  event.user = head;
  return null;
}

function disconnection(event: PgwardenEvent, message: string): null {
  // disconnection: session time: H:MM:SS.mmm user=U database=D host=H[ port=P]
  event.kind = 'disconnection';
  let rest = message.slice(DISCONNECTION.length);
  const space = rest.indexOf(' ');
  const time = space < 0 ? rest : rest.slice(0, space);
  const parts = time.split(':');
  if (parts.length === 3) {
    const ms = Math.round((Number(parts[0]) * 3600 + Number(parts[1]) * 60 + Number(parts[2])) * 1000);
    if (Number.isFinite(ms)) event.duration_ms = ms;
  }
  if (space < 0) return null;
  rest = rest.slice(space + 1);
  const hostAt = rest.lastIndexOf(' host=');
  if (hostAt >= 0) {
    const hostPart = rest.slice(hostAt + 6);
    const portAt = hostPart.lastIndexOf(' port=');
    event.client_addr = portAt >= 0 ? hostPart.slice(0, portAt) : hostPart;
    if (portAt >= 0) event.client_port = toInt(hostPart.slice(portAt + 6));
    rest = rest.slice(0, hostAt);
  }
  const dbAt = rest.lastIndexOf(' database=');
  if (rest.startsWith('user=') && dbAt >= 0) {
    event.user = rest.slice(5, dbAt);
    event.database = rest.slice(dbAt + 10);
  }
  return null;
}

const AUTH_FAILURES = [
  'password authentication failed for user "',
  'no pg_hba.conf entry for ',
  'pg_hba.conf rejects connection for ',
  ' authentication failed for user "',
  'is not permitted to log in',
  'role "',
];

function isAuthFailure(event: PgwardenEvent, message: string): boolean {
  if (event.severity !== 'FATAL') return false;
  const state = event.sqlstate;
  if (state === '28P01' || state === '28000') {
    fillUserFromMessage(event, message);
    return true;
  }
  if (state !== null) return false;
  // Without %e in the prefix, recognise the texts.
  for (const text of AUTH_FAILURES) {
    if (message.includes(text)) {
      if (text === 'role "' && !message.endsWith('" does not exist')) continue;
      fillUserFromMessage(event, message);
      return true;
    }
  }
  return false;
}

function fillUserFromMessage(event: PgwardenEvent, message: string): void {
  if (event.user !== null) return;
  const at = message.indexOf('user "');
  if (at >= 0) {
    const end = message.indexOf('"', at + 6);
    if (end > at) event.user = message.slice(at + 6, end);
  }
}

function guardRefusal(event: PgwardenEvent, message: string): null {
  // pgwarden: connection refused for role "R" to database "D" from application "A": MESSAGE
  // (the texts come from src/sensors/sql/0001-connection-guard.sql, guard_refuse).
  event.kind = 'guard_deny';
  const dbAt = message.indexOf('" to database "', GUARD_REFUSAL.length);
  const appAt = dbAt < 0 ? -1 : message.indexOf('" from application "', dbAt + 15);
  const reasonAt = appAt < 0 ? -1 : message.indexOf('": ', appAt + 20);
  let reason: string | null = null;
  if (reasonAt >= 0) {
    event.user = message.slice(GUARD_REFUSAL.length, dbAt);
    event.database = message.slice(dbAt + 15, appAt);
    event.application = message.slice(appAt + 20, reasonAt) || null;
    reason = message.slice(reasonAt + 3);
  }
  let ruleId: number | null = null;
  const detail = event.detail;
  if (detail !== null && detail.startsWith('Refused by connection guard rule ')) {
    ruleId = toInt(detail.slice(33, detail.endsWith('.') ? -1 : undefined));
  }
  event.guard = { rule_id: ruleId, reason, problem: null };
  return null;
}

function guardLine(event: PgwardenEvent, message: string): void {
  // The guard's own LOG/WARNING lines: a refusal it could not record, or the guard failing.
  const rest = message.slice(GUARD_LOG.length);
  let problem: 'not_recorded' | 'record_failed' | 'standby' | 'guard_failed' | null = null;
  let recordText: string | null = null;
  if (rest.startsWith('refusal not recorded in pgwarden.connection_attempts')) {
    problem = 'not_recorded';
    recordText = rest.slice(rest.indexOf('): ') + 3);
  } else if (rest.startsWith('could not record a refusal')) {
    problem = 'record_failed';
    const detail = event.detail;
    if (detail !== null && detail.startsWith('The refusal was: ')) recordText = detail.slice(17);
  } else if (rest.startsWith('refusal on a standby')) {
    problem = 'standby';
    recordText = rest.slice(rest.indexOf('): ') + 3);
  } else if (rest.startsWith('the guard failed for role')) {
    problem = 'guard_failed';
  } else {
    return;
  }
  let ruleId: number | null = null;
  let reason: string | null = problem === 'guard_failed' ? rest : null;
  if (recordText) {
    try {
      const record = JSON.parse(recordText) as { rule_id?: unknown; message?: unknown };
      ruleId = typeof record.rule_id === 'number' ? record.rule_id : null;
      reason = typeof record.message === 'string' ? record.message : null;
    } catch {
      // Not the JSON the guard writes: keep the message as it is.
    }
  }
  event.guard = { rule_id: ruleId, reason, problem };
}
