// The systemd journal, as `journalctl -o json` writes it (one JSON object per entry) or in its
// export format (`journalctl -o export`: FIELD=value lines, an entry ending at an empty line,
// binary values as FIELD, a newline, a 64-bit little-endian length and the bytes).
// PostgreSQL reaches the journal two ways: log_destination = syslog (MESSAGE is a syslog
// message "[SEQ-CHUNK] PREFIX …", joined as in syslog, per _PID), or its stderr captured by
// systemd (MESSAGE is one line of a stderr log, continuations and DETAIL lines being entries of
// their own). Entries of other programs (SYSLOG_IDENTIFIER/_COMM not postgres…) are skipped.
// Time: the prefix's, else __REALTIME_TIMESTAMP. Server: the configured one, else _HOSTNAME.
import { EmbeddedRecords } from './embedded.ts';
import { obj, str, type JsonObject } from './jsonlines.ts';
import type { ParseSink } from './record.ts';
import { SyslogAssembler } from './syslog.ts';
import { TextInput, type TextStart } from './text-input.ts';

export class JournaldParser extends TextInput {
  private readonly assembler: SyslogAssembler;
  private readonly stream: EmbeddedRecords;
  /** export format: the fields of the entry being read, and where it began */
  private fields: JsonObject = {};
  private entryStart = -1;
  private entryLine = 0;

  constructor(prefix: string, input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
    const error = (position: number, line: number, reason: string, text: string) => sink.error({ input, position, line, reason, excerpt: text.slice(0, 200) });
    this.assembler = new SyslogAssembler(prefix, input, sink, error);
    this.stream = new EmbeddedRecords(prefix, input, sink);
  }

  protected drain(final: boolean): number {
    const text = this.text;
    let start = 0;
    let line = this.textLine;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) {
        if (final && start < text.length) {
          this.readLine(text, start, text.length, line);
          start = text.length;
        }
        break;
      }
      // a binary field of the export format: NAME\n<u64 length><bytes>\n
      const eq = text.indexOf('=', start);
      if (start < end && text.charCodeAt(start) !== 123 && (eq < 0 || eq > end)) {
        const name = text.slice(start, end);
        if (end + 9 > text.length) break;
        // (the text was decoded as UTF-8: a length byte above 127 does not survive, see docs/pipeline.md)
        const lengthBytes = Buffer.from(text.slice(end + 1, end + 9), 'latin1');
        const length = Number(lengthBytes.readBigUInt64LE(0));
        if (end + 9 + length + 1 > text.length) {
          if (final) { this.emitError(start, line, 'journal export: a binary field cut short', name); start = text.length; }
          break;
        }
        const value = text.slice(end + 9, end + 9 + length);
        if (this.entryStart < 0) { this.entryStart = this.byteAt(start); this.entryLine = line; }
        this.fields[name] = value;
        for (let i = value.indexOf('\n'); i >= 0; i = value.indexOf('\n', i + 1)) line++;
        start = end + 9 + length + 1;
        line++;
        continue;
      }
      this.readLine(text, start, end, line);
      start = end + 1;
      line++;
    }
    if (final) this.endEntry();
    this.textLine = line;
    return start;
  }

  private readLine(text: string, start: number, end: number, lineNo: number): void {
    if (start === end) {
      this.endEntry();
      return;
    }
    if (text.charCodeAt(start) === 123) {
      const line = text.slice(start, end);
      let entry: JsonObject | null;
      try {
        entry = obj(JSON.parse(line));
      } catch (error) {
        this.emitError(start, lineNo, `not a journal entry (JSON): ${(error as Error).message}`, line);
        return;
      }
      if (entry === null) {
        this.emitError(start, lineNo, 'not a journal entry (a JSON object)', line);
        return;
      }
      this.entry(entry, this.byteAt(start), lineNo, line);
      return;
    }
    const eq = text.indexOf('=', start);
    if (this.entryStart < 0) { this.entryStart = this.byteAt(start); this.entryLine = lineNo; }
    this.fields[text.slice(start, eq)] = text.slice(eq + 1, end);
  }

  private endEntry(): void {
    if (this.entryStart < 0) return;
    const fields = this.fields;
    this.fields = {};
    const position = this.entryStart;
    this.entryStart = -1;
    this.entry(fields, position, this.entryLine, String(fields.MESSAGE ?? ''));
  }

  private entry(entry: JsonObject, position: number, lineNo: number, raw: string): void {
    if (!isPostgres(entry)) return;
    const message = messageOf(entry.MESSAGE);
    if (message === null) {
      this.sink.error({ input: this.input, position, line: lineNo, reason: 'a journal entry of PostgreSQL without a MESSAGE', excerpt: raw.slice(0, 200) });
      return;
    }
    const server = this.server ?? str(entry._HOSTNAME);
    const micros = str(entry.__REALTIME_TIMESTAMP);
    const ts = micros && /^\d{1,17}$/.test(micros) ? new Date(Math.floor(Number(micros) / 1000)).toISOString().replace('Z', '+00:00') : null;
    const pid = str(entry._PID) ?? str(entry.SYSLOG_PID) ?? '';
    if (message.charCodeAt(0) === 91 /* [ */ && /^\[\d+(?:-\d+)?\] /.test(message)) {
      this.assembler.add(`${server ?? ''}\u0000${pid}`, message, server, ts, position, lineNo, Number(pid) || null);
    } else {
      this.stream.write(message, server, position, lineNo, ts, Number(pid) || null);
    }
  }

  override flush(): void {
    this.assembler.flush();
    this.stream.flush();
  }
}

function isPostgres(entry: JsonObject): boolean {
  return /postgres|postmaster/i.test(str(entry.SYSLOG_IDENTIFIER) ?? str(entry._COMM) ?? '');
}

/** MESSAGE is a string, or an array of byte values when it is not valid UTF-8. */
function messageOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((b) => typeof b === 'number' && b >= 0 && b <= 255)) return Buffer.from(value as number[]).toString('utf8');
  return null;
}

/** The MESSAGE lines of a journal sample (for recognising the log_line_prefix), chunk markers taken off. */
export function journaldBodies(sample: string): string {
  const out: string[] = [];
  for (const line of sample.split('\n', 4000)) {
    let message: string | null = null;
    if (line.startsWith('{')) {
      try {
        const entry = obj(JSON.parse(line));
        if (entry && isPostgres(entry)) message = messageOf(entry.MESSAGE);
      } catch { /* cut short */ }
    } else if (line.startsWith('MESSAGE=')) message = line.slice(8);
    if (message === null) continue;
    const m = /^\[\d+(?:-(\d+))?\] /.exec(message);
    if (m && m[1] !== undefined && m[1] !== '1') continue;
    out.push(m ? message.slice(m[0].length) : message);
  }
  return out.join('\n');
}
