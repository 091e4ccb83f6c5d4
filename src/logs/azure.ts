// Azure Database for PostgreSQL flexible server's server logs (diagnostic setting category
// PostgreSQLLogs) as a storage account or an event hub receives them: JSON objects of
//   {"time": "…Z", "resourceId": "/SUBSCRIPTIONS/…/FLEXIBLESERVERS/NAME", "category": "PostgreSQLLogs",
//    "operationName": "LogEvent", "properties": {"prefix": "2026-12-02 02:04:37 UTC-6b0f7e83.786f-",
//    "message": "…", "detail": "…", "errorLevel": "LOG", "processId": 4242, "sqlerrcode": "00000", …},
//    "LogicalServerName": "name"}
// one a line, or several in {"records": [ … ]} (an event hub message). The field names follow
// Microsoft's documentation of the log format (properties, and the PGSQLServerLogs and
// AzureDiagnostics tables: Message, ErrorLevel or errorLevel_s, ProcessId or processId_d, …): they
// are looked up without regard to case or a Log Analytics type suffix (_s, _d). The prefix is
// the server's log_line_prefix, by default "%t-%c-": time and session id are read from it. The
// server: the configured one, otherwise LogicalServerName (or the last part of resourceId).
import type { PgwardenEvent } from '../core/event.ts';
import { int, JsonLineParser, obj, str, type JsonObject } from './jsonlines.ts';
import { newEvent } from './record.ts';
import { severityOf } from './severity.ts';
import { rfc3339 } from './syslog.ts';
import { isoTimestamp } from './timestamp.ts';

const AZURE_PREFIX = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})? [A-Za-z0-9+-]+)-([0-9a-f]+\.[0-9a-f]+)-/;

export class AzureParser extends JsonLineParser {
  protected object(value: JsonObject, index: number, lineNo: number, line: string): void {
    const records = Array.isArray(value.records) ? value.records : [value];
    for (const item of records) {
      const record = obj(item);
      if (record === null) {
        this.emitError(index, lineNo, 'an Azure "records" item that is not an object', line);
        continue;
      }
      const event = this.read(record, index, lineNo);
      if (event === null) this.emitError(index, lineNo, 'an Azure PostgreSQLLogs record needs a message', line);
      else this.emitEvent(event);
    }
  }

  private read(record: JsonObject, index: number, lineNo: number): PgwardenEvent | null {
    const props = { ...lowerKeys(record), ...lowerKeys(obj(record.properties) ?? {}) };
    const message = str(props.message);
    if (message === null) return null;
    const server = this.server ?? str(props.logicalservername) ?? lastPart(str(props.resourceid));
    const event = newEvent(server, this.input, this.byteAt(index), lineNo);
    const prefix = str(props.prefix);
    const m = prefix ? AZURE_PREFIX.exec(prefix) : null;
    event.ts = (m ? isoTimestamp(m[1]!) : null) ?? (str(props.timestamp) ? isoTimestamp(str(props.timestamp)!) : null)
      ?? (str(props.time) ? rfc3339(str(props.time)!) : null) ?? (str(props.timegenerated) ? rfc3339(str(props.timegenerated)!) : null);
    event.session_id = m ? m[2]! : null;
    event.pid = int(props.processid);
    const severity = str(props.errorlevel);
    event.severity = severity ? (severityOf(severity) ?? severity) : null;
    const state = str(props.sqlerrcode);
    event.sqlstate = state && state !== '00000' ? state : null;
    event.message = message;
    event.detail = str(props.detail) || null;
    event.hint = str(props.hint) || null;
    event.context = str(props.context) || null;
    event.query = str(props.statement) || str(props.query) || null;
    event.backend_type = str(props.backendtype) || str(props.backend_type) || null;
    event.user = str(props.user) || str(props.username) || null;
    event.database = str(props.database) || str(props.databasename) || null;
    return event;
  }
}

/** Keys lower-cased, a Log Analytics type suffix (_s, _d, _g, _b) taken off. */
function lowerKeys(value: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) out[key.toLowerCase().replace(/_[sdgb]$/, '')] = v;
  return out;
}

function lastPart(resourceId: string | null): string | null {
  if (!resourceId) return null;
  const parts = resourceId.split('/').filter(Boolean);
  return parts.length > 0 ? parts.at(-1)!.toLowerCase() : null;
}
