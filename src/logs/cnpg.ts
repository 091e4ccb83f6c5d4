// CloudNativePG's instance manager log (kubectl logs of a cluster's pod): one JSON object per
// line. PostgreSQL's records are those with "msg": "record" and a "record" object holding
// csvlog's columns by name (log_time, user_name, database_name, process_id, connection_from,
// session_id, session_line_num, …, error_severity, sql_state_code, message, detail, hint,
// context, query, application_name, backend_type), all as strings. pgAudit's records
// ("logger": "pgaudit") carry the parsed audit line in record.audit. The instance manager's own
// lines (no "record") are not PostgreSQL's and are skipped. The server: the configured one,
// otherwise "logging_pod".
import type { PgwardenEvent } from '../core/event.ts';
import { int, JsonLineParser, obj, str, type JsonObject } from './jsonlines.ts';
import { AUDIT_MARK } from './pgaudit.ts';
import { newEvent, splitHostPort } from './record.ts';
import { severityOf } from './severity.ts';
import { isoTimestamp } from './timestamp.ts';
import { rfc3339 } from './syslog.ts';

export class CnpgParser extends JsonLineParser {
  protected object(value: JsonObject, index: number, lineNo: number, line: string): void {
    const record = obj(value.record);
    if (record === null) {
      if (value.msg === 'record') this.emitError(index, lineNo, 'a CloudNativePG "record" line without its record object', line);
      return;
    }
    const event = newEvent(this.server ?? str(value.logging_pod), this.input, this.byteAt(index), lineNo);
    fillFromCsvColumns(event, record);
    if (event.ts === null && typeof value.ts === 'string') event.ts = rfc3339(value.ts);
    const audit = obj(record.audit);
    if (audit !== null && (event.message === null || !event.message.startsWith(AUDIT_MARK))) event.message = auditLine(audit);
    if (event.message === null) {
      this.emitError(index, lineNo, 'a CloudNativePG record without a message', line);
      return;
    }
    this.emitEvent(event);
  }
}

/** csvlog's columns by their names (CloudNativePG, and the names pgBadger and others use). */
export function fillFromCsvColumns(event: PgwardenEvent, r: JsonObject): void {
  const time = str(r.log_time);
  event.ts = time ? isoTimestamp(time) : null;
  event.user = str(r.user_name) || null;
  event.database = str(r.database_name) || null;
  event.pid = int(r.process_id);
  const from = str(r.connection_from);
  if (from) [event.client_addr, event.client_port] = splitHostPort(from);
  event.session_id = str(r.session_id) || null;
  event.session_line = int(r.session_line_num);
  const severity = str(r.error_severity);
  event.severity = severity ? (severityOf(severity) ?? severity) : null;
  const state = str(r.sql_state_code);
  event.sqlstate = state && state !== '00000' ? state : null;
  event.message = str(r.message);
  event.detail = str(r.detail) || null;
  event.hint = str(r.hint) || null;
  event.context = str(r.context) || null;
  event.query = str(r.query) || null;
  event.application = str(r.application_name) || null;
  event.backend_type = str(r.backend_type) || null;
}

/** pgAudit's fields back into its line ("AUDIT: SESSION,1,1,READ,…"), for the one reader of pgAudit records. */
function auditLine(a: JsonObject): string {
  const fields = [a.audit_type, a.statement_id, a.substatement_id, a.class, a.command, a.object_type, a.object_name, a.statement, a.parameter];
  return AUDIT_MARK + fields.map((f) => csvField(f == null ? '' : String(f))).join(',');
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
