// The stderr log format: one record is a prefixed line "PREFIX SEVERITY:  message", where
// every newline inside the message is followed by a TAB, then optional prefixed lines
// "PREFIX DETAIL:  …", HINT, CONTEXT, STATEMENT, QUERY, LOCATION (each continued with TABs too).
// A record is complete when the next record starts (or at flush()/end()). A log whose TABs were
// expanded to spaces (copied through an editor or `expand`) has continuation lines starting with
// spaces: a line that starts with a space where no line of the prefix can is one of those.
// How the first line of a record is read when client text sits in the prefix: sessions.ts.
import type { ParseError, PgwardenEvent } from '../core/event.ts';
import type { Label } from './severity.ts';
import { newEvent, type ParseSink } from './record.ts';
import { objectArray } from '../core/object-array.ts';
import { quotedLogin, StderrReader, type SessionSeed } from './sessions.ts';
import { LineInput, type TextStart } from './text-input.ts';
import { isCutLine, tailJoin, withinBudget } from './linebreak.ts';

/** A physical line held back: it may be part of a record whose name holds a line break (linebreak.ts). */
interface HeldLine { text: string; byte: number; lineNo: number }

/**
 * A line read lately, kept while a tail line after it may still show it to lie inside a name
 * (linebreak.ts). A line read as a record or an extra line (a `start`: the record may begin
 * there) also keeps what the parser was before it, to rewind to.
 */
interface Seen {
  text: string;
  start: boolean;
  byte: number;
  lineNo: number;
  /** Outputs (events and errors) given before the line, and the sessions' undo mark. */
  out: number;
  undo: number;
  current: PgwardenEvent | null;
  field: Field;
  /** An extra line overwrote this field of the record before (restored on a rewind). */
  labelEvent: PgwardenEvent | null;
  labelField: Field;
  labelValue: string | null;
}

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
  /**
   * The prefix has %u or %d before the severity: a later tail line may show the lines before it
   * to be client text (linebreak.ts), so the events and errors of the last lines are held back
   * (`out`) and the lines kept (`recent`) until no tail can reach them any more.
   */
  private readonly rewinds: boolean;
  private recent: Seen[] = objectArray();
  /** Characters of the recent lines, a newline each. */
  private recentChars = 0;
  /**
   * Outputs held back (events not yet finished), and how many were given out before out[0]; with
   * no line kept and nothing held, an output goes straight out.
   */
  private out: (PgwardenEvent | ParseError)[] = objectArray();
  private outBase = 0;
  /** The start being read by record() (for an extra line to note what it overwrites). */
  private reading: Seen | null = null;

  constructor(prefix: string, input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
    this.reader = new StderrReader(prefix, start?.sessions);
    this.rewinds = this.reader.matcher.joinBudget > 0;
    if (this.rewinds) this.reader.keepUndo();
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    this.line(text.slice(start, lineEnd), start, lineNo);
    if (this.rewinds) this.settle();
  }

  /**
   * Forgets the recent lines no tail can reach any more (a start whose text after it is beyond
   * the names' budget; lines before the first start) and gives out what came before them.
   */
  private settle(): void {
    const recent = this.recent;
    if (recent.length === 0 && this.out.length === 0) {
      this.reader.forget(this.reader.undoMark);
      return;
    }
    const budget = this.reader.matcher.joinBudget;
    let drop = 0;
    let chars = this.recentChars;
    while (drop < recent.length && (!recent[drop]!.start || chars - recent[drop]!.text.length > budget)) {
      chars -= recent[drop]!.text.length + 1;
      drop++;
    }
    if (drop > 0) {
      recent.splice(0, drop);
      this.recentChars = chars;
    }
    this.giveOut(recent.length > 0 ? recent[0]!.out : this.outBase + this.out.length);
    this.reader.forget(recent.length > 0 ? recent[0]!.undo : this.reader.undoMark);
  }

  /**
   * No tail can reach the recent lines. The array is emptied, never replaced: a field assigned
   * after the constructor loses V8's constant-field tracking, and every function optimized
   * against it (the per-line path) is thrown away and compiled again (the detection pass's
   * parser flushes before the real parse starts).
   */
  private forgetRecent(): void {
    this.recent.length = 0;
    this.recentChars = 0;
  }

  /** Sends the held-back outputs before `upTo` (a count of outputs) to the sink. */
  private giveOut(upTo: number): void {
    const count = upTo - this.outBase;
    if (count <= 0) return;
    const out = this.out;
    for (let i = 0; i < count; i++) {
      const item = out[i]!;
      if ('reason' in item) this.sink.error(item);
      else this.deliver(item);
    }
    if (count === out.length) out.length = 0;
    else out.splice(0, count);
    this.outBase = upTo;
  }

  /** Keeps a line read (not a start) while a start before it is kept. */
  private remember(text: string): void {
    if (!this.rewinds || this.recent.length === 0) return;
    this.recent.push({ text, start: false, byte: 0, lineNo: 0, out: 0, undo: 0, current: null, field: null, labelEvent: null, labelField: null, labelValue: null });
    this.recentChars += text.length + 1;
  }

  /** Keeps a line about to be read as a record or an extra line, with what the parser is before it. */
  private rememberStart(text: string, byte: number, lineNo: number): void {
    const seen: Seen = { text, start: true, byte, lineNo, out: this.outBase + this.out.length, undo: this.reader.undoMark,
      current: this.current, field: this.field, labelEvent: null, labelField: null, labelValue: null };
    this.recent.push(seen);
    this.recentChars += text.length + 1;
    this.reading = seen;
  }

  /**
   * A line that is not a record (or starts with a space) while lines are kept: when it is the
   * tail of a record that began at one of them (linebreak.ts), the parser rewinds to before
   * that line and reads them with the tail as one record. The lines' events are dropped, their
   * errors and session changes undone; a pgAudit record among them stays an audit event, without
   * the pid, session, user, database, application and client its client-written prefix gave it,
   * and is counted (a record client text may have hidden is never lost).
   */
  private tail(text: string): boolean {
    const recent = this.recent;
    if (recent.length === 0) return false;
    const reader = this.reader;
    const found = tailJoin(reader.matcher, recent.map((s) => s.text), (i) => recent[i]!.start, text, (joined, lastLine) => reader.readJoined(joined, lastLine));
    if (found === null) return false;
    const first = recent[found.start]!;
    for (let i = recent.length - 1; i >= found.start; i--) {
      const seen = recent[i]!;
      if (seen.labelEvent !== null && seen.labelField !== null) seen.labelEvent[seen.labelField] = seen.labelValue;
    }
    const dropped: PgwardenEvent[] = [];
    for (const item of this.out.slice(first.out - this.outBase)) if (!('reason' in item) && item !== first.current) dropped.push(item);
    if (this.current !== null && this.current !== first.current) dropped.push(this.current);
    this.out.length = first.out - this.outBase;
    reader.rewind(first.undo);
    this.current = first.current;
    this.field = first.field;
    const lines = recent.length - found.start + 1;
    this.forgetRecent();
    this.record(found.joined, first.byte, first.lineNo);
    const level = reader.matcher.level;
    this.errorAt(first.byte, first.lineNo, `record whose user or database name (client text before authentication) holds a line break: ${lines} physical lines read as one ${level.severity ?? level.label} line (its last line, which goes on with the log_line_prefix after the name, shows it); the lines inside the name were read as records before it and are not`, found.joined);
    for (const event of dropped) {
      if (!(event.message ?? '').startsWith('AUDIT: ')) continue;
      this.errorAt(event.source.position, event.source.line ?? 0, 'pgAudit record inside a user or database name (client text, see the record before): kept as an audit event without the pid, session, user, database, application and client its prefix gave it', event.message!);
      event.pid = null;
      event.session_id = null;
      event.session_line = null;
      event.user = null;
      event.database = null;
      event.application = null;
      event.client_addr = null;
      event.client_port = null;
      this.out.push(event);
    }
    return true;
  }

  /** The sessions open now (see StderrReader.snapshot). */
  sessions(): SessionSeed[] {
    return this.reader.snapshot();
  }

  override flush(): void {
    // No more lines can join the held ones: they are read as the lines they are.
    while (this.held.length > 0) this.release();
    this.emitCurrent();
    // Nor can a tail line come for the recent ones.
    if (this.rewinds) {
      this.forgetRecent();
      this.settle();
    }
  }

  private emitCurrent(): void {
    const current = this.current;
    if (current) {
      this.current = null;
      this.field = null;
      if (this.rewinds && (this.recent.length > 0 || this.out.length > 0)) this.out.push(current);
      else this.deliver(current);
    }
  }

  /** A complete record, sent on. */
  private deliver(event: PgwardenEvent): void {
    finish(event);
    if (event.severity === 'FATAL') this.checkQuotedLogin(event);
    this.emitEvent(event);
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
    // The lines before the cut line are not part of the record: no tail joins over it.
    this.forgetRecent();
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
    this.remember(first.text);
    for (const line of rest) this.line(line.text, line.byte, line.lineNo, true);
  }

  /** A parse error at a byte position (held lines outlive the text their indexes were in); held back with the events (see out). */
  private errorAt(byte: number, lineNo: number, reason: string, text: string): void {
    const error = { input: this.input, position: byte, line: lineNo, reason, excerpt: text.length > 200 ? text.slice(0, 200) : text };
    if (this.rewinds && (this.recent.length > 0 || this.out.length > 0)) this.out.push(error);
    else this.sink.error(error);
  }

  /** One physical line; `index` is its index in this.text, or (`isByte`) its byte position (a held line read again). */
  private line(text: string, index: number, lineNo: number, isByte = false): void {
    if (text.length === 0 && this.held.length === 0) {
      this.remember(text);
      return;
    }
    let byte = isByte ? index : this.byteAt(index);
    if (this.held.length > 0) {
      this.hold(text, byte, lineNo);
      return;
    }
    const original = text;
    let c0 = text.charCodeAt(0);
    if (c0 === 0) {
      // A block of the file zero-filled (a crash, a full disk) glued to the record after it: one error, then the record.
      let from = 1;
      while (from < text.length && text.charCodeAt(from) === 0) from++;
      this.errorAt(byte, lineNo, `${from} NUL byte${from === 1 ? '' : 's'} (a zero-filled block of the file) before the line; skipped, the line read after them`, text.slice(from, from + 200));
      if (from === text.length) {
        this.remember(original);
        return;
      }
      text = text.slice(from);
      byte += from;
      c0 = text.charCodeAt(0);
    }
    if (c0 === 9) {
      this.continuation(text, 1, byte, lineNo);
      this.remember(original);
      return;
    }
    const reader = this.reader;
    const matcher = reader.matcher;
    if (c0 === 32 && this.current !== null && (!matcher.mayStartWithSpace || !reader.read(text))) {
      // The tail of a record whose name ends in a line break (` FATAL:  …`), or a continuation line whose TAB was expanded to spaces.
      if (original === text && this.tail(text)) return;
      let from = 1;
      while (from < TAB_SPACES && text.charCodeAt(from) === 32) from++;
      this.continuation(text, from, byte, lineNo);
      this.remember(original);
      return;
    }
    if (!(c0 === 32 && this.current !== null) && !reader.read(text)) {
      const { gaveUp, stepsTaken } = matcher;
      if (original === text && this.tail(text)) return;
      if (c0 !== 32 && isCutLine(matcher, text)) {
        this.held.push({ text, byte, lineNo });
        this.joined = text;
        return;
      }
      this.errorAt(byte, lineNo, gaveUp
        ? `line not read: the log_line_prefix ${JSON.stringify(matcher.prefix)} can be matched against it in too many ways (more than ${stepsTaken - 1} steps; adjacent free-text escapes such as %a%u need a separator between them)`
        : `line does not start with the log_line_prefix ${JSON.stringify(matcher.prefix)} and a severity`, text);
      this.remember(original);
      return;
    }
    if (!this.rewinds) this.record(text, byte, lineNo);
    else if (original !== text || (matcher.level.label === undefined && text.length - matcher.levelAt >= matcher.joinBudget)) {
      // Read after NUL bytes (the splitter agrees), or a record whose text after its names is
      // already beyond the budget (tailJoin would not join from it: most lines): no record whose
      // name holds a line break starts here.
      this.record(text, byte, lineNo);
      this.remember(original);
    } else {
      this.rememberStart(text, byte, lineNo);
      this.record(text, byte, lineNo);
      this.reading = null;
    }
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
      if (field !== null) {
        const seen = this.reading;
        if (seen !== null) {
          seen.labelEvent = current;
          seen.labelField = field;
          seen.labelValue = current[field];
        }
        current[field] = text.slice(level.textStart);
      }
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
