// Bytes in, text out: decodes chunks as UTF-8 (a character split between chunks is kept for
// the next one), keeps the unconsumed tail, and turns string indexes back into byte offsets
// (free when the text is ASCII, one incremental byte count otherwise) so that every event and
// error can say exactly where in the input it was read.
import { isAscii as isAsciiBytes } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import type { PgwardenEvent, ParseError } from '../core/event.ts';
import { classify } from './messages.ts';
import type { ParseSink } from './record.ts';
import type { SessionSeed } from './sessions.ts';

/** Longest record (bytes of text) a parser waits for before calling it malformed. */
export const MAX_RECORD_CHARS = 64 * 1024 * 1024;

/** Byte offset and line number (1-based) of a text's first byte in its input. */
export interface TextStart {
  position: number;
  line: number;
  /** stderr: the sessions open where the text starts (see StderrReader), when it is a piece of a log. */
  sessions?: SessionSeed[];
}

export abstract class TextInput {
  protected text = '';
  /** Byte offset and line number of text[0]. */
  protected textByte = 0;
  protected textLine = 1;
  private ascii = true;
  private cursorIndex = 0;
  private cursorByte = 0;
  private readonly decoder = new StringDecoder('utf8');
  protected readonly input: string;
  protected readonly server: string | null;
  protected readonly sink: ParseSink;

  /** `start`: where the text begins in the whole input (a piece of a file parsed on its own). */
  constructor(input: string, server: string | null, sink: ParseSink, start: TextStart = { position: 0, line: 1 }) {
    this.input = input;
    this.server = server;
    this.sink = sink;
    this.textByte = start.position;
    this.textLine = start.line;
  }

  /** Feeds the next chunk of the input. Complete records are sent to the sink at once. */
  write(chunk: Uint8Array | string): void {
    let decoded: string;
    if (typeof chunk === 'string') {
      decoded = chunk;
      if (this.ascii && !isAscii(decoded)) this.ascii = false;
    } else if (this.ascii && isAsciiBytes(chunk)) {
      // All ASCII so far, so the decoder holds no part of a character: one byte is one
      // character, and latin1 reads it several times faster than UTF-8 decoding.
      decoded = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1');
    } else {
      decoded = this.decoder.write(chunk as Buffer);
      if (this.ascii && decoded.length !== chunk.length) this.ascii = false;
    }
    this.text = this.text.length === 0 ? decoded : this.text + decoded;
    this.consume(this.drain(false));
  }

  /** The input has ended: whatever is left is read as the last record (or reported). */
  end(): void {
    const rest = this.decoder.end();
    if (rest) {
      this.text += rest;
      this.ascii = false;
    }
    this.consume(this.drain(true));
    this.flush();
  }

  /** Sends a record held back while waiting for its continuation lines (stderr only). */
  flush(): void {
    // Parsers that hold a record back override this.
  }

  /** Reads complete records from this.text; returns how many characters were consumed. */
  protected abstract drain(final: boolean): number;


  /** The byte offset of a string index in this.text (indexes must not go backwards). */
  protected byteAt(index: number): number {
    if (this.ascii) return this.textByte + index;
    if (index < this.cursorIndex) {
      this.cursorIndex = 0;
      this.cursorByte = 0;
    }
    if (index > this.cursorIndex) {
      this.cursorByte += Buffer.byteLength(this.text.slice(this.cursorIndex, index), 'utf8');
      this.cursorIndex = index;
    }
    return this.textByte + this.cursorByte;
  }

  private consume(count: number): void {
    if (count <= 0) return;
    const byte = this.byteAt(count);
    this.text = this.text.slice(count);
    this.textByte = byte;
    this.cursorIndex = 0;
    this.cursorByte = 0;
  }

  protected emitError(index: number, line: number, reason: string, text: string): void {
    const error: ParseError = {
      input: this.input, position: this.byteAt(index), line, reason,
      excerpt: text.length > 200 ? text.slice(0, 200) : text,
    };
    this.sink.error(error);
  }

  /** Classifies the record and sends it on; a pgAudit-looking record that does not parse is also counted as an error. */
  protected emitEvent(event: PgwardenEvent): void {
    const problem = classify(event);
    if (problem !== null) {
      const { position, line } = event.source;
      this.sink.error({ input: this.input, position, line: line ?? 0, reason: problem, excerpt: (event.message ?? '').slice(0, 200) });
    }
    this.sink.event(event);
  }
}

/**
 * A line-based format (stderr, jsonlog): each complete line, without its newline, goes to
 * readLine(); the last one too at the end of the input. A line that never ends within
 * MAX_RECORD_CHARS is reported and dropped.
 */
export abstract class LineInput extends TextInput {
  protected drain(final: boolean): number {
    const text = this.text;
    let start = 0;
    let line = this.textLine;
    for (;;) {
      let end = text.indexOf('\n', start);
      if (end < 0) {
        if (!final) {
          if (text.length - start > MAX_RECORD_CHARS) {
            this.emitError(start, line, 'line longer than 64 MiB', text.slice(start, start + 200));
            start = text.length;
          }
          break;
        }
        if (start >= text.length) break;
        end = text.length;
      }
      this.readLine(text, start, end, line);
      line++;
      start = end + 1;
    }
    this.textLine = line;
    return Math.min(start, text.length);
  }

  /** One line: text.slice(start, end), the lineNo'th of the input. */
  protected abstract readLine(text: string, start: number, end: number, lineNo: number): void;
}


function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return false;
  return true;
}
