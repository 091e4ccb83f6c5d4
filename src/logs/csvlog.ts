// The csvlog format: one record per CSV row (quote and escape are both "), fields may hold
// newlines inside quotes. 23 columns up to PostgreSQL 12, 24 in 13 (backend_type), 26 from
// 14 (leader_pid, query_id); more columns from a future version are accepted and ignored.
//
// A row is a record only when it reads as one: its first field a log time with milliseconds
// ("2024-05-01 12:34:56.789 UTC"), its severity a severity word. A row cut short (a partial
// write on a full disk) runs into the next record on the same line: that row is counted as a
// parse error and reading goes on at the next record start, inside the line if the next record
// begins there — so the record after it is read, and every record lost is counted.
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
      const problem = end === MALFORMED ? this.problem : this.rowProblem();
      if (problem !== null) {
        const reason = problem;
        // The next record may start inside this row (the row was cut short and the next written after it).
        const lineNext = nextRecordStart(text, start);
        const limit = Math.min(end === MALFORMED ? lineNext : end, lineNext);
        // Each record start in it that does not read as a whole record is another record lost (counted too).
        const lost: number[] = [];
        let inside = embeddedRecordStart(text, start + 1, limit);
        while (inside >= 0) {
          const insideEnd = this.record(text, inside);
          if (insideEnd === INCOMPLETE || (insideEnd !== MALFORMED && this.rowProblem() === null)) break;
          lost.push(inside);
          inside = embeddedRecordStart(text, inside + 1, limit);
        }
        const next = inside >= 0 ? inside : lineNext;
        this.emitError(start, line, reason, text.slice(start, Math.min(lost[0] ?? next, start + 200)));
        lost.forEach((at, i) => this.emitError(at, line + countNewlines(text, start, at), 'record cut short (the next record starts inside it)',
          text.slice(at, Math.min(lost[i + 1] ?? next, at + 200))));
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

  /** Why the row just read is not a csvlog record, or null. */
  private rowProblem(): string | null {
    const count = this.count;
    const f = this.fields;
    if (count !== 23 && count !== 24 && count < 26) return `${count} columns (csvlog has 23, 24 or 26)`;
    if (!isLogTime(f[0] ?? '')) return `first column ${JSON.stringify((f[0] ?? '').slice(0, 40))} is not a log time (a row cut short?)`;
    const severity = f[11];
    if (!severity || severityOf(severity) === undefined) return `column 12 ${JSON.stringify((severity ?? '').slice(0, 40))} is not a severity (a row cut short?)`;
    if (count > 26) {
      // A future version's extra columns, or a row cut short with the next record after it.
      for (let k = 1; k + 3 < Math.min(count, f.length); k++) {
        const value = f[k];
        if (value && value.length >= 25 && LOG_TIME_END.test(value) && /^\d+$/.test(f[k + 3] ?? '')) return `${count} columns, the next record inside (a row cut short)`;
      }
    }
    return null;
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

/** A field that ends in a log time (the start of the next record, after a row cut short). */
const LOG_TIME_END = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Za-z0-9+-]+$/;

/** What follows a csvlog row's log time: user and database (quoted or empty), then the pid. */
const ROW_HEAD = /^,(?:"[^"\n]*(?:""[^"\n]*)*")?,(?:"[^"\n]*(?:""[^"\n]*)*")?,\d*,/;

/** "YYYY-MM-DD HH:MM:SS.mmm ZONE" (csvlog's log time; a zone of letters, digits, + and -). */
function isLogTime(value: string): boolean {
  const n = value.length;
  if (n < 25) return false;
  for (let i = 0; i < 24; i++) {
    const c = value.charCodeAt(i);
    const want = LOG_TIME_SHAPE.charCodeAt(i);
    if (want === 100 /* d */ ? c < 48 || c > 57 : c !== want) return false;
  }
  for (let i = 24; i < n; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45)) return false;
  }
  return true;
}
const LOG_TIME_SHAPE = 'dddd-dd-dd dd:dd:dd.ddd ';

/**
 * The first place in text[from, to) where a csvlog record starts in the middle of a line (after
 * a row cut short): a log time with milliseconds and its zone, then a comma. -1 if none.
 */
function embeddedRecordStart(text: string, from: number, to: number): number {
  for (let i = text.indexOf('.', from + 19); i >= 0 && i - 19 < to; i = text.indexOf('.', i + 1)) {
    const s = i - 19;
    if (s < from || text.charCodeAt(s - 1) === 10 || !looksLikeRowStart(text, s)) continue;
    let z = s + 24;
    if (text.charCodeAt(s + 23) !== 32) continue;
    while (z < text.length && text.charCodeAt(z) !== 44 && text.charCodeAt(z) !== 32 && text.charCodeAt(z) !== 10) z++;
    if (text.charCodeAt(z) === 44 && isLogTime(text.slice(s, z)) && ROW_HEAD.test(text.slice(z, z + 300))) return s;
  }
  return -1;
}

function looksLikeRowStart(text: string, i: number): boolean {
  if (i + 20 > text.length) return false;
  const d = (k: number) => { const c = text.charCodeAt(i + k); return c >= 48 && c <= 57; };
  return d(0) && d(1) && d(2) && d(3) && text.charCodeAt(i + 4) === 45 && d(5) && d(6) && text.charCodeAt(i + 7) === 45
    && text.charCodeAt(i + 10) === 32 && text.charCodeAt(i + 13) === 58;
}
