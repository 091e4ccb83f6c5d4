// The stderr log format: one record is a prefixed line "PREFIX SEVERITY:  message", where
// every newline inside the message is followed by a TAB, then optional prefixed lines
// "PREFIX DETAIL:  …", HINT, CONTEXT, STATEMENT, QUERY, LOCATION (each continued with TABs too).
// A record is complete when the next record starts (or at flush()/end()). A log whose TABs were
// expanded to spaces (copied through an editor or `expand`) has continuation lines starting with
// spaces: a line that starts with a space where no line of the prefix can is one of those.
// How the first line of a record is read when client text sits in the prefix: sessions.ts.
import type { PgwardenEvent } from '../core/event.ts';
import type { Label } from './severity.ts';
import { newEvent, type ParseSink } from './record.ts';
import { quotedLogin, StderrReader, type SessionSeed } from './sessions.ts';
import { LineInput, type TextStart } from './text-input.ts';
import { isCutLine, withinBudget } from './linebreak.ts';

/** A physical line held back: it may be part of a record whose name holds a line break (linebreak.ts). */
interface HeldLine { text: string; byte: number; lineNo: number }

type Field = 'message' | 'detail' | 'hint' | 'context' | 'query' | null;

const LABEL_FIELDS: Record<Label, Field> = {
  DETAIL: 'detail', HINT: 'hint', CONTEXT: 'context', STATEMENT: 'query', QUERY: null, LOCATION: null,
};

/** Spaces a TAB at the start of a line became, at most (what is removed from a space-indented continuation line). */
const TAB_SPACES = 8;

export class StderrParser extends LineInput {
  private readonly reader: StderrReader;
  private current: PgwardenEvent | null = null;
  /** The field continuation lines are appended to; null for an ignored extra line (QUERY, LOCATION). */
  private field: Field = null;
  /** A cut line and the lines after it, while they may still be one record (linebreak.ts); empty otherwise. */
  private held: HeldLine[] = [];
  /** The held lines joined with "\n". */
  private joined = '';

  constructor(prefix: string, input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
    this.reader = new StderrReader(prefix, start?.sessions);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    this.line(text.slice(start, lineEnd), start, lineNo);
  }

  /** The sessions open now (see StderrReader.snapshot). */
  sessions(): SessionSeed[] {
    return this.reader.snapshot();
  }

  override flush(): void {
    // No more lines can join the held ones: they are read as the lines they are.
    while (this.held.length > 0) this.release();
    this.emitCurrent();
  }

  private emitCurrent(): void {
    if (this.current) {
      finish(this.current);
      if (this.current.severity === 'FATAL') this.checkQuotedLogin(this.current);
      this.emitEvent(this.current);
      this.current = null;
      this.field = null;
    }
  }

  /**
   * A failed login names the login twice: in the prefix (%u, written as the client sent it) and
   * quoted in PostgreSQL's message. A name with a line break ends the physical line inside the
   * prefix, and what follows it can look like a whole record of another pid and user (a forged
   * failed login of `postgres`, say). Where the quoted name (the message's continuation lines
   * joined) holds a line break and the prefix names someone else, the record is that name's
   * failure, and the prefix's pid, session and client are not believed. Only then: a name
   * without a line break that the prefix splits another way (`alice@example.com` with %u@%d) is
   * the known ambiguity of such prefixes, counted where the line is read (sessions.ts).
   */
  private checkQuotedLogin(event: PgwardenEvent): void {
    if (!this.reader.matcher.has('u')) return;
    const quoted = quotedLogin(event.message ?? '');
    if (quoted === null || !quoted.includes('\n') || quoted === event.user) return;
    this.sink.error({ input: this.input, position: event.source.position, line: event.source.line ?? 0, excerpt: (event.message ?? '').slice(0, 200), reason: `failed login whose log_line_prefix user ${JSON.stringify(event.user)} is not the name PostgreSQL quoted, ${JSON.stringify(quoted)}: client text in the prefix (a login name with a line break); read as that name's failure, without the prefix's pid, session and client` });
    event.user = quoted;
    event.database = null;
    event.pid = null;
    event.session_id = null;
    event.session_line = null;
    event.application = null;
    event.client_addr = null;
    event.client_port = null;
  }

  private continuation(text: string, from: number, byte: number, lineNo: number): void {
    const current = this.current;
    if (!current) {
      this.errorAt(byte, lineNo, 'continuation line (starting with a TAB) without a record before it', text);
      return;
    }
    const field = this.field;
    if (field !== null) current[field] = `${current[field] ?? ''}\n${text.slice(from)}`;
  }

  /**
   * The next physical line while a cut line is held: joined to it when the joined text reads
   * as a FATAL record or an extra line with its severity word in this line; still held while
   * within the names' budget; else the cut line is reported and the others read again.
   */
  private hold(text: string, byte: number, lineNo: number): void {
    const held = this.held;
    const lastLine = this.joined.length + 1;
    const matcher = this.reader.matcher;
    if (!withinBudget(matcher, held[0]!.text, lastLine)) {
      this.release();
      this.line(text, byte, lineNo, true);
      return;
    }
    const joined = `${this.joined}\n${text}`;
    held.push({ text, byte, lineNo });
    this.joined = joined;
    if (!this.reader.readJoined(joined, lastLine)) return;
    const first = held[0]!;
    this.held = [];
    this.joined = '';
    this.record(joined, first.byte, first.lineNo);
    this.errorAt(first.byte, first.lineNo, `record whose user or database name (client text before authentication) holds a line break: ${held.length} physical lines read as one ${matcher.level.severity ?? matcher.level.label} line; the lines inside the name are not records`, joined);
  }

  /** The held lines are not one record: the cut line is reported, the lines after it read again. */
  private release(): void {
    const [first, ...rest] = this.held;
    this.held = [];
    this.joined = '';
    if (first === undefined) return;
    this.errorAt(first.byte, first.lineNo, `line does not start with the log_line_prefix ${JSON.stringify(this.reader.matcher.prefix)} and a severity`, first.text);
    for (const line of rest) this.line(line.text, line.byte, line.lineNo, true);
  }

  /** A parse error at a byte position (held lines outlive the text their indexes were in). */
  private errorAt(byte: number, lineNo: number, reason: string, text: string): void {
    this.sink.error({ input: this.input, position: byte, line: lineNo, reason, excerpt: text.length > 200 ? text.slice(0, 200) : text });
  }

  /** One physical line; `index` is its index in this.text, or (`isByte`) its byte position (a held line read again). */
  private line(text: string, index: number, lineNo: number, isByte = false): void {
    if (text.length === 0 && this.held.length === 0) return;
    let byte = isByte ? index : this.byteAt(index);
    if (this.held.length > 0) {
      this.hold(text, byte, lineNo);
      return;
    }
    let c0 = text.charCodeAt(0);
    if (c0 === 0) {
      // A block of the file zero-filled (a crash, a full disk) glued to the record after it: one error, then the record.
      let from = 1;
      while (from < text.length && text.charCodeAt(from) === 0) from++;
      this.errorAt(byte, lineNo, `${from} NUL byte${from === 1 ? '' : 's'} (a zero-filled block of the file) before the line; skipped, the line read after them`, text.slice(from, from + 200));
      if (from === text.length) return;
      text = text.slice(from);
      byte += from;
      c0 = text.charCodeAt(0);
    }
    if (c0 === 9) {
      this.continuation(text, 1, byte, lineNo);
      return;
    }
    const reader = this.reader;
    const matcher = reader.matcher;
    if (c0 === 32 && this.current !== null && (!matcher.mayStartWithSpace || !reader.read(text))) {
      // A continuation line whose TAB was expanded to spaces.
      let from = 1;
      while (from < TAB_SPACES && text.charCodeAt(from) === 32) from++;
      this.continuation(text, from, byte, lineNo);
      return;
    }
    if (!(c0 === 32 && this.current !== null) && !reader.read(text)) {
      if (c0 !== 32 && isCutLine(matcher, text)) {
        this.held.push({ text, byte, lineNo });
        this.joined = text;
        return;
      }
      this.errorAt(byte, lineNo, matcher.gaveUp
        ? `line not read: the log_line_prefix ${JSON.stringify(matcher.prefix)} can be matched against it in too many ways (more than ${matcher.stepsTaken - 1} steps; adjacent free-text escapes such as %a%u need a separator between them)`
        : `line does not start with the log_line_prefix ${JSON.stringify(matcher.prefix)} and a severity`, text);
      return;
    }
    this.record(text, byte, lineNo);
  }

  /** A line the reader has read (the matcher holds its reading): a new record or an extra line of the current one. */
  private record(text: string, byte: number, lineNo: number): void {
    const reader = this.reader;
    const matcher = reader.matcher;
    const level = matcher.level;
    const ambiguous = reader.ambiguous;
    if (level.label) {
      const current = this.current;
      const field = LABEL_FIELDS[level.label];
      if (current === null) {
        this.errorAt(byte, lineNo, `${level.label} line without a record before it`, text);
        return;
      }
      if (ambiguous !== null) this.errorAt(byte, lineNo, ambiguous, text);
      this.field = field;
      if (field !== null) current[field] = text.slice(level.textStart);
      return;
    }
    this.emitCurrent();
    const event = newEvent(this.server, this.input, byte, lineNo);
    matcher.assign(event);
    event.severity = level.severity!;
    event.message = text.slice(level.textStart);
    reader.note(event);
    if (ambiguous !== null) this.errorAt(byte, lineNo, ambiguous, text);
    this.current = event;
    this.field = 'message';
  }
}

/** stderr appends " at character N" to a message with a cursor position; csvlog and jsonlog keep it apart. */
function finish(event: PgwardenEvent): void {
  if (event.severity === 'LOG') return;
  const message = event.message;
  if (message === null || message.length < 15) return;
  const last = message.charCodeAt(message.length - 1);
  if (last < 48 || last > 57) return;
  const at = message.lastIndexOf(' at character ');
  if (at < 0) return;
  for (let i = at + 14; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 48 || c > 57) return;
  }
  event.message = message.slice(0, at);
}
