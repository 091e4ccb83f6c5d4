// PostgreSQL's log_destination = syslog, as a syslog daemon writes it to a file (rsyslog,
// syslog-ng): one line per syslog message, with an RFC 3164 header
//   Dec  2 02:04:37 db1 postgres[4242]: [7-1] 2026-12-02 02:04:37.123 UTC [4242] alice@shop LOG:  …
// (or an RFC 3339 time in its place, rsyslog's RSYSLOG_FileFormat) or an RFC 5424 one
//   <134>1 2026-12-02T02:04:37.123456+00:00 db1 postgres 4242 - - [7-1] 2026-12-02 … LOG:  …
// then the record as the server would write it to stderr, log_line_prefix first.
//
// PostgreSQL sends a record as several messages (syslog_split_messages = on, the default): one
// per line of the record, and lines longer than 900 bytes cut (at a space where it can), each
// numbered [SEQ-CHUNK] with syslog_sequence_numbers = on (the default) or [CHUNK] with it off.
// The messages of one record are joined again here, per host and process (other processes'
// messages may come between them). A chunk that starts with a TAB (a continuation line of a
// field; rsyslog writes the TAB as #011) or with the prefix and a severity or a DETAIL/HINT/…
// label begins a new line of the record; any other chunk, and any chunk after one of the full
// length, continues the line before it — so text a client chose, cut at 900 bytes, never
// starts a new field or record. With syslog_split_messages = off the whole record is one
// message: its new lines come as #012 (escaped by the daemon) or as raw new lines.
import { EmbeddedRecords } from './embedded.ts';
import { PrefixMatcher } from './prefix.ts';
import type { ParseSink } from './record.ts';
import { LineInput, type TextStart } from './text-input.ts';

/** PostgreSQL's PG_SYSLOG_LIMIT: a line is cut into chunks of at most this many bytes. */
const CHUNK_LIMIT = 900;
/** Complete records held back behind an incomplete one before it is sent as it is. */
const MAX_HELD = 10_000;
/** Lines after a record's last part when it is taken to be complete. */
const STALE_LINES = 1000;

export interface SyslogHeader {
  /** ISO-8601 (RFC 3339 and RFC 5424 times), or null (RFC 3164 times carry no year). */
  ts: string | null;
  host: string | null;
  tag: string;
  pid: number | null;
  /** The message, after "TAG[PID]: " (RFC 3164) or the structured data (RFC 5424). */
  body: string;
}

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/** An RFC 3339 time to the event model's ISO form (milliseconds, +HH:MM); null when it is not one. */
export function rfc3339(text: string): string | null {
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(text);
  if (!m) return null;
  const ms = (m[3] ?? '').slice(0, 3).padEnd(3, '0');
  let zone = m[4]!;
  if (zone === 'Z') zone = '+00:00';
  else if (zone.length === 5) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return `${m[1]}T${m[2]}.${ms}${zone}`;
}

/** Reads a syslog file line's header; null when the line has none. */
export function parseSyslogHeader(line: string): SyslogHeader | null {
  let pos = 0;
  if (line.charCodeAt(0) === 60 /* < */) {
    const close = line.indexOf('>');
    if (close < 2 || close > 4) return null;
    for (let i = 1; i < close; i++) if (!isDigit(line.charCodeAt(i))) return null;
    pos = close + 1;
    if (line.charCodeAt(pos) === 49 /* 1 */ && line.charCodeAt(pos + 1) === 32) return rfc5424(line, pos + 2);
  } else if (line.startsWith('1 ', 0) && isDigit(line.charCodeAt(2))) {
    return rfc5424(line, 2);
  }
  let ts: string | null = null;
  if (isDigit(line.charCodeAt(pos))) {
    const space = line.indexOf(' ', pos);
    if (space < 0) return null;
    ts = rfc3339(line.slice(pos, space));
    if (ts === null) return null;
    pos = space + 1;
  } else {
    // "Mmm dd hh:mm:ss " (the day padded with a space)
    if (line.length < pos + 16 || MONTHS.indexOf(line.slice(pos, pos + 3)) % 3 !== 0 || line.charCodeAt(pos + 3) !== 32
      || line.charCodeAt(pos + 9) !== 58 || line.charCodeAt(pos + 12) !== 58 || line.charCodeAt(pos + 15) !== 32) return null;
    pos += 16;
  }
  const hostEnd = line.indexOf(' ', pos);
  if (hostEnd <= pos) return null;
  const host = line.slice(pos, hostEnd);
  pos = hostEnd + 1;
  // TAG[PID]: or TAG:
  let i = pos;
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 91 /* [ */ || c === 58 /* : */ || c === 32) break;
  }
  if (i === pos || i >= line.length) return null;
  const tag = line.slice(pos, i);
  let pid: number | null = null;
  if (line.charCodeAt(i) === 91) {
    const close = line.indexOf(']', i);
    if (close < 0) return null;
    pid = digits(line, i + 1, close);
    if (pid === null) return null;
    i = close + 1;
  }
  if (line.charCodeAt(i) !== 58) return null;
  i++;
  if (line.charCodeAt(i) === 32) i++;
  return { ts, host, tag, pid, body: line.slice(i) };
}

function rfc5424(line: string, from: number): SyslogHeader | null {
  const parts: string[] = [];
  let pos = from;
  for (let k = 0; k < 5; k++) {
    const space = line.indexOf(' ', pos);
    if (space < 0) return null;
    parts.push(line.slice(pos, space));
    pos = space + 1;
  }
  const [time, host, app, procid] = parts as [string, string, string, string, string];
  // Structured data: "-" or one or more [ID PARAM="VALUE" …] elements (\" \] \\ escaped in values).
  if (line.charCodeAt(pos) === 45 /* - */) pos++;
  else {
    while (line.charCodeAt(pos) === 91) {
      let inValue = false;
      let i = pos + 1;
      for (; i < line.length; i++) {
        const c = line.charCodeAt(i);
        if (inValue && c === 92 /* \ */) { i++; continue; }
        if (c === 34) inValue = !inValue;
        else if (c === 93 && !inValue) break;
      }
      if (i >= line.length) return null;
      pos = i + 1;
    }
  }
  if (line.charCodeAt(pos) === 32) pos++;
  // rsyslog's RSYSLOG_SyslogProtocol23Format puts the message's own leading space after the one of the header
  if (line.charCodeAt(pos) === 32 && line.charCodeAt(pos + 1) === 91) pos++;
  let body = line.slice(pos);
  if (body.charCodeAt(0) === 0xfeff) body = body.slice(1); // the BOM RFC 5424 puts before UTF-8 text
  return {
    ts: time === '-' ? null : rfc3339(time), host: host === '-' ? null : host, tag: app === '-' ? '' : app,
    pid: procid === '-' ? null : digits(procid, 0, procid.length), body,
  };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function digits(text: string, from: number, to: number): number | null {
  if (to <= from || to - from > 15) return null;
  for (let i = from; i < to; i++) if (!isDigit(text.charCodeAt(i))) return null;
  return Number(text.slice(from, to));
}

/** A chunk number: "[SEQ-CHUNK] " or "[N] " at the start of a message. */
export interface Marker { seq: number | null; chunk: number | null; single: number | null; length: number }

export function readMarker(body: string): Marker | null {
  if (body.charCodeAt(0) !== 91) return null;
  const close = body.indexOf(']');
  if (close < 2 || close > 40 || body.charCodeAt(close + 1) !== 32) return null;
  const dash = body.indexOf('-', 1);
  if (dash > 0 && dash < close) {
    const seq = digits(body, 1, dash);
    const chunk = digits(body, dash + 1, close);
    if (seq === null || chunk === null) return null;
    return { seq, chunk, single: null, length: close + 2 };
  }
  const single = digits(body, 1, close);
  return single === null ? null : { seq: null, chunk: null, single, length: close + 2 };
}

/** rsyslog's escape of a TAB (parser.escapeControlCharactersOnReceive, on by default). */
const ESCAPED_TAB = '#011';

interface Pending {
  key: string;
  text: string;
  seq: number | null;
  /** UTF-8 bytes of the last chunk: a chunk of the full length was cut, the next continues its line */
  lastBytes: number;
  server: string | null;
  ts: string | null;
  pid: number | null;
  position: number;
  line: number;
  /** The input line of its last part. */
  lastLine: number;
}

/**
 * Joins the chunks of PostgreSQL's syslog messages into records (per host and process) and
 * reads them. Shared by the syslog file format and journald's (whose MESSAGE fields are the
 * same messages).
 */
export class SyslogAssembler {
  private readonly matcher: PrefixMatcher;
  private readonly records: EmbeddedRecords;
  private readonly pending = new Map<string, Pending>();
  /** The input line of the last message. */
  private line = 0;
  /** Records complete but held back behind one that began earlier and is not: events go out in input order. */
  private readonly done: Pending[] = [];
  /** The record a line without a header continues (syslog_split_messages off, the daemon not escaping new lines). */
  private last: Pending | null = null;

  constructor(prefix: string, input: string, private readonly sink: ParseSink,
    private readonly error: (position: number, line: number, reason: string, text: string) => void) {
    this.matcher = new PrefixMatcher(prefix);
    this.records = new EmbeddedRecords(prefix, input, sink);
  }

  /** Whether text is the start of a record line: the prefix and a severity or a label. */
  private startsLine(text: string, withLabel: boolean): boolean {
    const m = this.matcher;
    return m.match(text) && (withLabel || !m.level.label);
  }

  /**
   * One message. `key`: who sent it (host and pid); `server`, `ts`, `pid`: what the events get
   * (ts and pid only when the prefix has none). Returns false when the message is not PostgreSQL's
   * (caller decides whether that is an error).
   */
  add(key: string, body: string, server: string | null, ts: string | null, position: number, line: number, pid: number | null = null): boolean {
    this.line = line;
    const marker = readMarker(body);
    let text = marker ? body.slice(marker.length) : body;
    if (text.startsWith(ESCAPED_TAB)) text = `\t${text.slice(ESCAPED_TAB.length)}`;
    const current = this.pending.get(key);
    let start: boolean;
    if (marker?.chunk != null) {
      start = marker.chunk === 1;
      if (!start && (!current || current.seq !== marker.seq)) {
        this.error(position, line, `syslog message part [${marker.seq}-${marker.chunk}] without its first part`, body);
        return true;
      }
    } else if (marker?.single != null) {
      // [N]: a whole record numbered N (sequence numbers on, split off), or chunk N (off, on).
      // A chunk after one of the full length continues it, whatever it looks like.
      const full = current !== undefined && current.lastBytes >= CHUNK_LIMIT - 4;
      start = current === undefined || (!full && (marker.single === 1 || this.startsLine(text, false)));
    } else {
      if (!this.startsLine(text, false) && !this.startsLine(unescapeNewlines(text), false)) return false;
      start = true;
    }
    if (start) {
      if (current) this.finish(current);
      // A whole record in one message has its new lines escaped; chunk 1 (or the record [1]) is left as written.
      if (marker === null || (marker.single !== null && marker.single !== 1)) text = unescapeNewlines(text);
      const record: Pending = { key, text, seq: marker?.seq ?? null, lastBytes: byteLength(text), server, ts, pid, position, line, lastLine: line };
      this.pending.set(key, record);
      this.last = record;
      return true;
    }
    const record = current!;
    record.lastLine = line;
    if (text.charCodeAt(0) === 9 || (record.lastBytes < CHUNK_LIMIT - 4 && this.startsLine(text, true))) record.text += `\n${text}`;
    else record.text += text;
    record.lastBytes = byteLength(text);
    this.last = record;
    return true;
  }

  /** A line without a syslog header: a raw new line inside the last record (split off, no escaping). */
  continueLast(text: string): boolean {
    if (this.last === null) return false;
    this.last.text += `\n${text}`;
    return true;
  }

  /**
   * A record is complete (the same process began another). It is sent once every record that
   * began before it is complete too, so that events come in the order of their first bytes —
   * what collect's checkpoints (the offset of the next record to deliver) rely on. A record whose
   * process sends nothing more is taken as complete STALE_LINES lines after its last part (or at
   * flush(), or when MAX_HELD records wait behind it).
   */
  private finish(record: Pending): void {
    this.hold(record);
    this.release();
  }

  /** Moves a record from pending to done (in position order). */
  private hold(record: Pending): void {
    this.pending.delete(record.key);
    if (this.last === record) this.last = null;
    const done = this.done;
    let i = done.length;
    while (i > 0 && done[i - 1]!.position > record.position) i--;
    done.splice(i, 0, record);
  }

  private release(): void {
    const done = this.done;
    if (done.length === 0) return;
    // PostgreSQL sends a record's parts one after the other: one without a new part for
    // STALE_LINES lines is complete (its process is idle, or gone).
    for (const p of [...this.pending.values()]) if (this.line - p.lastLine > STALE_LINES) this.hold(p);
    let oldest: Pending | null;
    for (;;) {
      oldest = null;
      for (const p of this.pending.values()) if (oldest === null || p.position < oldest.position) oldest = p;
      if (oldest === null || done.length <= MAX_HELD) break;
      this.hold(oldest);
    }
    const before = oldest === null ? Infinity : oldest.position;
    let n = 0;
    while (n < done.length && done[n]!.position < before) n++;
    for (const record of done.splice(0, n)) this.send(record);
  }

  private send(record: Pending): void {
    this.records.write(record.text, record.server, record.position, record.line, record.ts, record.pid);
    this.records.flush();
  }

  /**
   * Takes every record whose last part came with message `line` or before as complete, and
   * sends what can go: for a live stream (the network syslog source), where a quiet process
   * sends no next record to end its last one.
   */
  expire(line: number): void {
    for (const p of [...this.pending.values()]) if (p.lastLine <= line) this.hold(p);
    this.release();
  }

  flush(): void {
    for (const record of [...this.pending.values()]) {
      this.pending.delete(record.key);
      const i = this.done.findIndex((d) => d.position > record.position);
      this.done.splice(i < 0 ? this.done.length : i, 0, record);
    }
    this.last = null;
    for (const record of this.done.splice(0)) this.send(record);
  }
}

/** "#012" (rsyslog's escape of a new line) back to new lines, "#011" to TABs: for a whole record in one message. */
function unescapeNewlines(text: string): string {
  return text.indexOf('#01') < 0 ? text : text.replaceAll('#012', '\n').replaceAll('#011', '\t');
}

function byteLength(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 127) n += c > 2047 ? (c >= 0xd800 && c <= 0xdbff ? 1 : 2) : 1;
  }
  return n;
}

export class SyslogParser extends LineInput {
  private readonly assembler: SyslogAssembler;

  constructor(prefix: string, input: string, private readonly defaultServer: string | null, sink: ParseSink, start?: TextStart) {
    super(input, defaultServer, sink, start);
    this.assembler = new SyslogAssembler(prefix, input, sink, (position, line, reason, text) => this.sink.error({
      input, position, line, reason, excerpt: text.slice(0, 200),
    }));
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end === start) return;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const line = text.slice(start, lineEnd);
    const header = parseSyslogHeader(line);
    const position = this.byteAt(start);
    if (header === null) {
      if (!this.assembler.continueLast(line)) this.emitError(start, lineNo, 'not a syslog line (no RFC 3164 or RFC 5424 header)', line);
      return;
    }
    const key = `${header.host ?? ''}\u0000${header.tag}\u0000${header.pid ?? ''}`;
    const server = this.defaultServer ?? header.host;
    if (!this.assembler.add(key, header.body, server, header.ts, position, lineNo, header.pid) && /postgres|postmaster/i.test(header.tag)) {
      this.emitError(start, lineNo, `syslog message from ${header.tag} does not start with the log_line_prefix and a severity`, line);
    }
  }

  override flush(): void {
    this.assembler.flush();
  }
}

/** The message bodies of a syslog sample (chunk markers removed): what the log_line_prefix is recognised from. */
export function syslogBodies(sample: string): string {
  const out: string[] = [];
  for (const line of sample.split('\n', 2000)) {
    const header = parseSyslogHeader(line);
    if (!header) continue;
    const marker = readMarker(header.body);
    if (marker && marker.chunk !== null && marker.chunk !== 1) continue;
    const body = marker ? header.body.slice(marker.length) : header.body;
    if (body.startsWith('\t') || body.startsWith(ESCAPED_TAB)) continue;
    out.push(body);
  }
  return out.join('\n');
}

/** Whether a sample starts like a syslog file holding PostgreSQL's messages. */
export function looksLikeSyslog(sample: string): boolean {
  const lines = sample.split('\n', 20).filter((l) => l.length > 0);
  if (lines.length > 1 && !sample.endsWith('\n')) lines.pop();
  if (lines.length === 0) return false;
  let count = 0;
  for (const line of lines) if (parseSyslogHeader(line) !== null) count++;
  return count >= lines.length * 0.9;
}
