// Google Cloud SQL for PostgreSQL and AlloyDB logs as Cloud Logging exports them: one LogEntry
// per line (a log sink to Cloud Storage, `gcloud logging read --format=json | jq -c '.[]'`), or
// a JSON array of them as `gcloud logging read --format=json` prints it (see jsonlines.ts).
//   {"textPayload": "2026-12-02 02:04:37.123 UTC [4242]: [3-1] db=shop,user=alice LOG:  …",
//    "resource": {"type": "cloudsql_database", "labels": {"database_id": "proj:inst", "project_id": "proj", …}},
//    "timestamp": "…", "severity": "INFO", "logName": "projects/proj/logs/cloudsql.googleapis.com%2Fpostgres.log", …}
// textPayload is a server log line with Cloud SQL's log_line_prefix (recognised like a stderr
// log's); a record's DETAIL/STATEMENT lines may come as the entries after it, which are joined
// as in a stderr log. jsonPayload with a "message" is read the same way. pgAudit entries of
// Cloud SQL's data-access audit log (protoPayload.request or jsonPayload of @type
// …sql.audit.v1.PgAuditEntry) become audit events. The server of every event is
// "project:instance" from the entry's resource labels (AlloyDB: "project:cluster/instance"),
// or the configured server when an entry has none.
import type { PgwardenEvent } from '../core/event.ts';
import { EmbeddedRecords } from './embedded.ts';
import { arrayObjects, int, JsonLineParser, obj, str, type JsonObject } from './jsonlines.ts';
import { parseAudit } from './pgaudit.ts';
import { newEvent, type ParseSink } from './record.ts';
import { rfc3339 } from './syslog.ts';
import type { TextStart } from './text-input.ts';

export class CloudSqlParser extends JsonLineParser {
  private readonly records: EmbeddedRecords;

  constructor(prefix: string, input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
    this.records = new EmbeddedRecords(prefix, input, { event: (e) => this.emitParsed(e), error: (e) => sink.error(e) });
  }

  private emitParsed(event: PgwardenEvent): void {
    this.sink.event(event);
  }

  protected object(entry: JsonObject, index: number, lineNo: number, line: string): void {
    const server = serverOf(entry) ?? this.server;
    const position = this.byteAt(index);
    const ts = typeof entry.timestamp === 'string' ? rfc3339(entry.timestamp) : null;
    const json = obj(entry.jsonPayload);
    const proto = obj(entry.protoPayload);
    const audit = auditEntry(json) ?? auditEntry(obj(proto?.request)) ?? auditEntry(obj(proto?.metadata));
    if (audit !== null) {
      this.records.flush();
      this.auditEvent(audit, server, ts, position, lineNo, index, line);
      return;
    }
    const text = str(entry.textPayload) ?? str(json?.message);
    if (text === null) {
      this.emitError(index, lineNo, 'a Cloud Logging entry without textPayload, jsonPayload.message or a pgAudit entry', line);
      return;
    }
    this.records.write(text, server, position, lineNo, ts);
  }

  private auditEvent(a: JsonObject, server: string | null, ts: string | null, position: number, lineNo: number, index: number, line: string): void {
    const event = newEvent(server, this.input, position, lineNo);
    event.ts = ts;
    event.user = str(a.user) || null;
    event.database = str(a.database) || null;
    event.severity = 'LOG';
    const fields = [a.auditType, a.statementId, a.substatementId, a.auditClass, a.command, a.objectType, a.object, a.statement, a.parameter];
    event.message = `AUDIT: ${fields.map((f) => csvField(f == null ? '' : String(f))).join(',')}`;
    const audit = parseAudit(event.message);
    if (typeof audit === 'string') {
      this.emitError(index, lineNo, `a Cloud SQL pgAudit entry that does not read: ${audit}`, line);
      return;
    }
    event.kind = 'audit';
    event.audit = audit;
    event.session_id = str(a.databaseSessionId) ?? (int(a.databaseSessionId) !== null ? String(a.databaseSessionId) : null);
    this.sink.event(event);
  }

  override flush(): void {
    this.records.flush();
  }
}

function auditEntry(value: JsonObject | null): JsonObject | null {
  if (value === null) return null;
  const type = str(value['@type']);
  return type !== null && type.endsWith('PgAuditEntry') ? value : null;
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** "project:instance" from a LogEntry's resource labels; null when it has none. */
export function serverOf(entry: JsonObject): string | null {
  const labels = obj(obj(entry.resource)?.labels);
  if (labels === null) return null;
  const databaseId = str(labels.database_id);
  if (databaseId) return databaseId;
  const project = str(labels.project_id) ?? str(labels.resource_container);
  const instance = str(labels.instance_id);
  const cluster = str(labels.cluster_id);
  if (project && instance) return cluster ? `${project}:${cluster}/${instance}` : `${project}:${instance}`;
  return null;
}

/** The textPayloads of a sample, one a line (for recognising the log_line_prefix). */
export function cloudSqlBodies(sample: string): string {
  const out: string[] = [];
  if (sample.trimStart().startsWith('[')) {
    for (const entry of arrayObjects(sample)) {
      const text = str(entry.textPayload) ?? str(obj(entry.jsonPayload)?.message);
      if (text !== null) out.push(text.split('\n', 1)[0]!);
    }
    return out.join('\n');
  }
  for (const line of sample.split('\n', 2000)) {
    try {
      const entry = obj(JSON.parse(line));
      const text = str(entry?.textPayload) ?? str(obj(entry?.jsonPayload)?.message);
      if (text !== null) out.push(text.split('\n', 1)[0]!);
    } catch { /* not an entry */ }
  }
  return out.join('\n');
}
