// The stderr log format: one record is a prefixed line "PREFIX SEVERITY:  message", where
// every newline inside the message is followed by a TAB, then optional prefixed lines
// "PREFIX DETAIL:  …", HINT, CONTEXT, STATEMENT, QUERY, LOCATION (each continued with TABs too).
// A record is complete when the next record starts (or at flush()/end()).
import type { PgwardenEvent } from '../core/event.ts';
import type { Label } from './severity.ts';
import { PrefixMatcher } from './prefix.ts';
import { newEvent, type ParseSink } from './record.ts';
import { LineInput, type TextStart } from './text-input.ts';

type Field = 'message' | 'detail' | 'hint' | 'context' | 'query' | null;

const LABEL_FIELDS: Record<Label, Field> = {
  DETAIL: 'detail', HINT: 'hint', CONTEXT: 'context', STATEMENT: 'query', QUERY: null, LOCATION: null,
};

export class StderrParser extends LineInput {
  private readonly matcher: PrefixMatcher;
  private current: PgwardenEvent | null = null;
  /** The field TAB continuation lines are appended to; null for an ignored extra line (QUERY, LOCATION). */
  private field: Field = null;

  constructor(prefix: string, input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
    this.matcher = new PrefixMatcher(prefix);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    this.line(text.slice(start, lineEnd), start, lineNo);
  }

  override flush(): void {
    if (this.current) {
      finish(this.current);
      this.emitEvent(this.current);
      this.current = null;
      this.field = null;
    }
  }

  private line(text: string, index: number, lineNo: number): void {
    if (text.length === 0) return;
    if (text.charCodeAt(0) === 9) {
      // A continuation of the current field.
      const current = this.current;
      if (!current) {
        this.emitError(index, lineNo, 'continuation line (starting with a TAB) without a record before it', text);
        return;
      }
      const field = this.field;
      if (field !== null) current[field] = `${current[field] ?? ''}\n${text.slice(1)}`;
      return;
    }
    const matcher = this.matcher;
    if (!matcher.match(text)) {
      this.emitError(index, lineNo, `line does not start with the log_line_prefix ${JSON.stringify(matcher.prefix)} and a severity`, text);
      return;
    }
    const level = matcher.level;
    if (level.label) {
      const current = this.current;
      const field = LABEL_FIELDS[level.label];
      if (current === null) {
        this.emitError(index, lineNo, `${level.label} line without a record before it`, text);
        return;
      }
      this.field = field;
      if (field !== null) current[field] = text.slice(level.textStart);
      return;
    }
    this.flush();
    const event = newEvent(this.server, this.input, this.byteAt(index), lineNo);
    matcher.assign(event);
    event.severity = level.severity!;
    event.message = text.slice(level.textStart);
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
