// Heroku Postgres as Heroku's logplex delivers it, in either of its two forms:
// - `heroku logs` (and a drain written to a file line by line):
//     2026-12-02T02:04:37.123456+00:00 app[postgres.4242]: [DATABASE] [9-1] sql_error_code = 00000 LOG:  …
// - the body of an HTTPS log drain's POST (Content-Type application/logplex-1), which logplex
//   frames with RFC 6587 octet counting, each frame an RFC 5424 message whose APP-NAME is the
//   source (app, heroku), PROCID the process and HOSTNAME "host" or the drain token, with no
//   STRUCTURED-DATA (Heroku's "Log Drains" article):
//     120 <134>1 2026-12-02T02:04:37.123456+00:00 host app postgres.4242 - [DATABASE] [9-1] sql_error_code = …\n
//   Bodies written one after another to a file read the same way (the count, in bytes, includes
//   the frame's LF); which form a log is in is decided from its first byte.
// With Heroku's log_line_prefix after the [COLOR] attachment name and the [SEQ-CHUNK] number of
// PostgreSQL's syslog messages (joined per process as in syslog): "sql_error_code = %e " (so
// user, database and client come only from the messages that name them: connection
// authorized, disconnection). Lines of other processes (app[web.1], heroku[router],
// app[heroku-postgres] metrics) are not PostgreSQL's and are skipped. The server: the
// configured one, otherwise "heroku:COLOR".
import type { ParseSink } from './record.ts';
import { SyslogAssembler, rfc3339 } from './syslog.ts';
import { LineInput, MAX_RECORD_CHARS, type TextStart } from './text-input.ts';

export const HEROKU_PREFIX = 'sql_error_code = %e ';
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (app|heroku)\[([^\]\s]+)\]: /;
/** A drain frame's message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, then the message (logplex writes no STRUCTURED-DATA). */
const FRAME = /^<\d{1,3}>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) \S+ (\S+) (\S+) \S+ /;
/** The start of an octet-counted drain body: MSG-LEN (no leading zero), a space, a PRI. */
const FRAMED = /^[1-9]\d{0,8} </;
const ATTACHMENT = /^\[([A-Z][A-Z0-9_]*)\] /;

export class HerokuParser extends LineInput {
  private readonly assembler: SyslogAssembler;
  /** null until the first byte says which form the input is in. */
  private framed: boolean | null = null;

  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
    this.assembler = new SyslogAssembler(HEROKU_PREFIX, input, sink,
      (position, l, reason, excerpt) => sink.error({ input, position, line: l, reason, excerpt: excerpt.slice(0, 200) }));
  }

  protected override drain(final: boolean): number {
    if (this.framed === null) {
      const first = this.text.search(/\S/);
      if (first < 0 || (!final && this.text.length - first < 12)) return 0; // not enough to decide
      this.framed = FRAMED.test(this.text.slice(first, first + 12));
    }
    return this.framed ? this.drainFrames(final) : super.drain(final);
  }

  /** Octet-counted frames: MSG-LEN bytes after "MSG-LEN ", whatever they contain. */
  private drainFrames(final: boolean): number {
    const text = this.text;
    let pos = 0;
    let line = this.textLine;
    for (;;) {
      // white space between frames (a body's last LF, bodies written with a new line between them)
      while (pos < text.length && (text.charCodeAt(pos) === 10 || text.charCodeAt(pos) === 13 || text.charCodeAt(pos) === 32)) {
        if (text.charCodeAt(pos) === 10) line++;
        pos++;
      }
      if (pos >= text.length) break;
      const space = text.indexOf(' ', pos);
      const header = text.slice(pos, space < 0 ? Math.min(text.length, pos + 10) : space);
      if (!/^[1-9]\d{0,8}$/.test(header) || space < 0) {
        if (space < 0 && !final && /^\d{0,9}$/.test(header)) break; // the length is still arriving
        // Not a frame: the stream cannot be stepped over; report the rest of the line and go on from the next one.
        const lf = text.indexOf('\n', pos);
        if (lf < 0 && !final) break;
        const end = lf < 0 ? text.length : lf;
        this.emitError(pos, line, `not an octet-counted logplex frame (MSG-LEN SP <PRI>1 …), got ${JSON.stringify(header.slice(0, 20))}`, text.slice(pos, end));
        pos = end;
        continue;
      }
      const length = Number(header);
      const from = space + 1;
      const end = this.charsOf(text, from, length);
      if (end < 0) {
        if (!final) {
          if (length > MAX_RECORD_CHARS) {
            this.emitError(pos, line, `logplex frame of ${length} bytes, longer than 64 MiB`, text.slice(pos, pos + 200));
            pos = text.length;
          }
          break;
        }
        this.emitError(pos, line, `logplex frame cut short: ${length} bytes announced, ${Buffer.byteLength(text.slice(from), 'utf8')} there`, text.slice(pos));
        pos = text.length;
        break;
      }
      let stop = end;
      if (text.charCodeAt(stop - 1) === 10) stop--;
      if (text.charCodeAt(stop - 1) === 13) stop--;
      this.readFrame(text, pos, from, stop, line);
      for (let i = pos; i < end; i++) if (text.charCodeAt(i) === 10) line++;
      pos = end;
    }
    this.textLine = line;
    return pos;
  }

  /** The string index `bytes` UTF-8 bytes after `from`, or -1 when the text does not reach it yet. */
  private charsOf(text: string, from: number, bytes: number): number {
    let i = from;
    let n = 0;
    while (n < bytes) {
      if (i >= text.length) return -1;
      const c = text.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; } else n += 3;
      i++;
    }
    return n === bytes ? i : -1;
  }

  private readFrame(text: string, start: number, from: number, end: number, lineNo: number): void {
    const message = text.slice(from, end);
    const m = FRAME.exec(message);
    if (!m) {
      this.emitError(start, lineNo, 'a logplex frame without an RFC 5424 header (<PRI>1 TIME HOST APP PROCID MSGID)', message);
      return;
    }
    this.readMessage(m[2]!, m[3]!, m[1]!, message.slice(m[0].length), start, lineNo, message);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end === start) return;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const line = text.slice(start, lineEnd);
    const m = LINE.exec(line);
    if (!m) {
      this.emitError(start, lineNo, 'not a Heroku log line (TIME app[postgres.PID]: …)', line);
      return;
    }
    this.readMessage(m[2]!, m[3]!, m[1]!, line.slice(m[0].length), start, lineNo, line);
  }

  /** One logplex message: `kind` app or heroku, `source` the process (postgres.PID for the server's). */
  private readMessage(kind: string, source: string, time: string, text: string, start: number, lineNo: number, whole: string): void {
    if (kind !== 'app' || !source.startsWith('postgres.')) return; // another process's line
    let body = text;
    const attachment = ATTACHMENT.exec(body);
    if (attachment) body = body.slice(attachment[0].length);
    const server = this.server ?? (attachment ? `heroku:${attachment[1]}` : null);
    if (!this.assembler.add(`${attachment?.[1] ?? ''}\u0000${source}`, body, server, rfc3339(time), this.byteAt(start), lineNo, Number(source.slice(9)) || null)) {
      this.emitError(start, lineNo, 'a Heroku Postgres line without sql_error_code and a severity', whole);
    }
  }

  override flush(): void {
    this.assembler.flush();
  }
}

export function looksLikeHeroku(sample: string): boolean {
  // A drain body: frames whose APP-NAME is app and PROCID a postgres process.
  if (FRAMED.test(sample)) return FRAME.test(sample.slice(sample.indexOf(' ') + 1, 300)) && / app postgres\.\d+ /.test(sample);
  const lines = sample.split('\n', 50).filter((l) => l.length > 0);
  return lines.some((l) => LINE.test(l) && l.includes(' app[postgres.'));
}
