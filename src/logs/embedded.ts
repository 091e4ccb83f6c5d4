// Server log records found inside another format's envelope (a syslog message, a journal entry,
// a Cloud Logging textPayload): the text is what PostgreSQL would have written to stderr —
// "PREFIX SEVERITY:  message", TAB continuation lines, "PREFIX DETAIL:  …" lines — and is read by
// the stderr parser. Each write() says where its text was read (the envelope's byte offset and
// line, and the server it names); the events and errors get that place instead of offsets inside
// the text, so a record is found again where its envelope starts.
import type { PgwardenEvent, ParseError } from '../core/event.ts';
import type { ParseSink } from './record.ts';
import { StderrParser } from './stderr.ts';

interface Envelope { server: string | null; position: number; line: number; ts: string | null; pid: number | null }

export class EmbeddedRecords {
  private readonly parser: StderrParser;
  /** Inner line number (in the text written so far) of each write's first line → its envelope. */
  private readonly envelopes = new Map<number, Envelope>();
  private innerLine = 1;
  private oldest = 1;

  constructor(prefix: string, input: string, private readonly sink: ParseSink) {
    this.parser = new StderrParser(prefix, input, null, {
      event: (e) => this.event(e),
      error: (e) => this.error(e),
    });
  }

  /**
   * Adds text (one or more whole lines, without a final newline or with one). A record is sent
   * when the next record starts or at flush(). `ts`, `pid`: the envelope's, for a record whose
   * prefix has none.
   */
  write(text: string, server: string | null, position: number, line: number, ts: string | null = null, pid: number | null = null): void {
    this.envelopes.set(this.innerLine, { server, position, line, ts, pid });
    const body = text.endsWith('\n') ? text : `${text}\n`;
    for (let i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) this.innerLine++;
    this.parser.write(body);
  }

  flush(): void {
    this.parser.flush();
  }

  private place(innerLine: number): Envelope | undefined {
    const envelope = this.envelopes.get(innerLine);
    for (; this.oldest < innerLine; this.oldest++) this.envelopes.delete(this.oldest);
    return envelope;
  }

  private event(event: PgwardenEvent): void {
    const envelope = this.place(event.source.line ?? 0);
    if (envelope) {
      event.server = envelope.server;
      event.source.position = envelope.position;
      event.source.line = envelope.line;
      if (event.ts === null) event.ts = envelope.ts;
      if (event.pid === null) event.pid = envelope.pid;
    }
    this.sink.event(event);
  }

  private error(error: ParseError): void {
    const envelope = this.envelopes.get(error.line);
    if (envelope) {
      error.position = envelope.position;
      error.line = envelope.line;
    }
    this.sink.error(error);
  }
}
