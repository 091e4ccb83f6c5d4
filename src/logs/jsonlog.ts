// The jsonlog format (PostgreSQL 15+): one JSON object per line; keys whose value is null are
// left out, so every key is optional except timestamp and message.
import type { PgwardenEvent } from '../core/event.ts';
import { newEvent, splitHostPort, type ParseSink } from './record.ts';
import { severityOf } from './severity.ts';
import { isoTimestamp } from './timestamp.ts';
import { LineInput, type TextStart } from './text-input.ts';

interface JsonRecord {
  timestamp?: unknown; user?: unknown; dbname?: unknown; pid?: unknown; remote_host?: unknown; remote_port?: unknown;
  session_id?: unknown; line_num?: unknown; error_severity?: unknown; state_code?: unknown; message?: unknown;
  detail?: unknown; hint?: unknown; context?: unknown; statement?: unknown; application_name?: unknown; backend_type?: unknown;
}

export class JsonlogParser extends LineInput {
  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end > start) this.line(text.slice(start, end), start, lineNo);
  }

  private line(text: string, index: number, lineNo: number): void {
    let record: JsonRecord;
    try {
      record = JSON.parse(text) as JsonRecord;
    } catch (error) {
      if (text.trim() === '') return;
      this.emitError(index, lineNo, `not a JSON object: ${(error as Error).message}`, text);
      return;
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      this.emitError(index, lineNo, 'not a JSON object', text);
      return;
    }
    if (typeof record.timestamp !== 'string' || typeof record.message !== 'string') {
      this.emitError(index, lineNo, 'a jsonlog record needs "timestamp" and "message" strings', text);
      return;
    }
    const event = newEvent(this.server, this.input, this.byteAt(index), lineNo);
    fill(event, record);
    this.emitEvent(event);
  }
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
function int(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

function fill(event: PgwardenEvent, r: JsonRecord): void {
  event.ts = isoTimestamp(r.timestamp as string);
  event.user = str(r.user) || null;
  event.database = str(r.dbname) || null;
  event.pid = int(r.pid);
  const host = str(r.remote_host);
  if (host) {
    event.client_addr = host;
    event.client_port = int(r.remote_port) ?? (typeof r.remote_port === 'string' ? splitHostPort(`x:${r.remote_port}`)[1] : null);
  }
  event.session_id = str(r.session_id);
  event.session_line = int(r.line_num);
  const severity = str(r.error_severity);
  event.severity = severity ? (severityOf(severity) ?? severity) : null;
  const state = str(r.state_code);
  event.sqlstate = state && state !== '00000' ? state : null;
  event.message = r.message as string;
  event.detail = str(r.detail);
  event.hint = str(r.hint);
  event.context = str(r.context);
  event.query = str(r.statement);
  event.application = str(r.application_name) || null;
  event.backend_type = str(r.backend_type) || null;
}
