// The csvlog format: one record per CSV row (quote and escape are both "), fields may hold
// newlines inside quotes. 23 columns up to PostgreSQL 12, 24 in 13 (backend_type), 26 from
// 14 (leader_pid, query_id); more columns from a future version are accepted and ignored.
import type { PgwardenEvent } from '../core/event.ts';
import { newEvent, splitHostPort, toInt, type ParseSink } from './record.ts';
import { severityOf } from './severity.ts';
import { isoTimestamp } from './timestamp.ts';
import { MAX_RECORD_CHARS, TextInput, type TextStart } from './text-input.ts';

const INCOMPLETE = -1;
const MALFORMED = -2;

export class CsvlogParser extends TextInput {
  private readonly fields: (string | null)[] = new Array<string | null>(32).fill(null);
  private count = 0;
  private problem = '';
  private newlines = 0;

  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
  }

  protected drain(final: boolean): number {
    // A last row without its newline is read as if it had one.
    if (final && this.text.length > 0 && !this.text.endsWith('\n')) this.text += '\n';
    const text = this.text;
    let start = 0;
    let line = this.textLine;
    while (start < text.length) {
      if (text.charCodeAt(start) === 10) { start++; line++; continue; } // an empty line holds nothing
      this.newlines = 0;
      const end = this.record(text, start);
      if (end === INCOMPLETE) {
        if (!final && text.length - start <= MAX_RECORD_CHARS) break;
        const reason = final ? 'truncated record at the end of the input (an unclosed quote or a missing newline)' : 'record longer than 64 MiB';
        // A truncated last row may still be complete enough to keep nothing: report it and go on after it.
        const next = nextRecordStart(text, start);
        this.emitError(start, line, reason, text.slice(start, Math.min(next, start + 200)));
        line += countNewlines(text, start, next);
        start = next;
        continue;
      }
      if (end === MALFORMED || (this.count !== 23 && this.count !== 24 && this.count < 26)) {
        const reason = end === MALFORMED ? this.problem : `${this.count} columns (csvlog has 23, 24 or 26)`;
        const next = nextRecordStart(text, start);
        this.emitError(start, line, reason, text.slice(start, Math.min(next, start + 200)));
        line += countNewlines(text, start, next);
        start = next;
        continue;
      }
      this.emitEvent(this.toEvent(this.byteAt(start), line));
      line += this.newlines + 1;
      start = end;
    }
    this.textLine = line;
    return start;
  }

  /** Reads one row into this.fields; returns the index after its newline, INCOMPLETE or MALFORMED. */
  private record(text: string, start: number): number {
    const fields = this.fields;
    const n = text.length;
    let pos = start;
    let count = 0;
    for (;;) {
      let value: string | null;
      if (text.charCodeAt(pos) === 34) {
        let from = pos + 1;
        let escaped = false;
        for (;;) {
          const quote = text.indexOf('"', from);
          if (quote < 0) return INCOMPLETE;
          if (quote + 1 >= n) return INCOMPLETE;
          if (text.charCodeAt(quote + 1) === 34) {
            escaped = true;
            from = quote + 2;
            continue;
          }
          value = text.slice(pos + 1, quote);
          pos = quote + 1;
          break;
        }
        if (escaped) value = value.replaceAll('""', '"');
        if (value.indexOf('\n') >= 0) this.newlines += countNewlines(value, 0, value.length);
      } else {
        let i = pos;
        for (; i < n; i++) {
          const c = text.charCodeAt(i);
          if (c === 44 || c === 10 || c === 34) break;
        }
        if (i >= n) return INCOMPLETE;
        if (text.charCodeAt(i) === 34) {
          this.problem = `a quote inside an unquoted field (column ${count + 1})`;
          return MALFORMED;
        }
        value = i === pos ? null : text.slice(pos, i);
        if (value !== null && value.charCodeAt(value.length - 1) === 13) value = value.slice(0, -1) || null;
        pos = i;
      }
      if (count < fields.length) fields[count] = value;
      count++;
      const c = text.charCodeAt(pos);
      if (c === 44) { pos++; continue; }
      if (c === 10) { this.count = count; return pos + 1; }
      if (c === 13 && text.charCodeAt(pos + 1) === 10) { this.count = count; return pos + 2; }
      if (pos >= n) return INCOMPLETE;
      this.problem = `unexpected ${JSON.stringify(text[pos])} after a quoted field (column ${count})`;
      return MALFORMED;
    }
  }

  private toEvent(position: number, line: number): PgwardenEvent {
    const f = this.fields;
    const event = newEvent(this.server, this.input, position, line);
    event.ts = f[0] ? isoTimestamp(f[0]) : null;
    event.user = f[1] || null;
    event.database = f[2] || null;
    event.pid = toInt(f[3]);
    if (f[4]) {
      const [host, port] = splitHostPort(f[4]);
      event.client_addr = host;
      event.client_port = port;
    }
    event.session_id = f[5] || null;
    event.session_line = toInt(f[6]);
    const severity = f[11];
    event.severity = severity ? (severityOf(severity) ?? severity) : null;
    event.sqlstate = f[12] && f[12] !== '00000' ? f[12] : null;
    event.message = f[13] ?? null;
    event.detail = f[14] ?? null;
    event.hint = f[15] ?? null;
    event.context = f[18] ?? null;
    event.query = f[19] ?? null;
    event.application = f[22] || null;
    event.backend_type = this.count > 23 ? (f[23] || null) : null;
    return event;
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  let i = text.indexOf('\n', from);
  while (i >= 0 && i < to) {
    count++;
    i = text.indexOf('\n', i + 1);
  }
  return count;
}

/** After a broken row: the next line that starts like a csvlog row (a timestamp), or the end. */
function nextRecordStart(text: string, start: number): number {
  let i = text.indexOf('\n', start);
  while (i >= 0) {
    if (looksLikeRowStart(text, i + 1)) return i + 1;
    i = text.indexOf('\n', i + 1);
  }
  return text.length;
}

function looksLikeRowStart(text: string, i: number): boolean {
  if (i + 20 > text.length) return false;
  const d = (k: number) => { const c = text.charCodeAt(i + k); return c >= 48 && c <= 57; };
  return d(0) && d(1) && d(2) && d(3) && text.charCodeAt(i + 4) === 45 && d(5) && d(6) && text.charCodeAt(i + 7) === 45
    && text.charCodeAt(i + 10) === 32 && text.charCodeAt(i + 13) === 58;
}
