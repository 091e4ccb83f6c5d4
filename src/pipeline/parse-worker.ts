// Parses one piece of a log (see RecordSplitter) into JSON lines. Runs on a worker thread of a
// ParsePool, or on the main thread for an input too small to be worth a thread.
import { isMainThread, parentPort } from 'node:worker_threads';
import { eventJson, type EventKind, type ParseError } from '../core/event.ts';
import { createParser, type LogFormat, type TextStart } from '../logs/index.ts';

export interface PieceJob {
  bytes: Uint8Array;
  start: TextStart;
  format: LogFormat;
  prefix: string | null;
  server: string | null;
  input: string;
  /** false: count the events, do not write them out (ndjson stays empty). */
  output: boolean;
}

export interface ParsedPiece {
  /** The events, one JSON object per line (docs/event-model.md). */
  ndjson: Uint8Array;
  events: number;
  kinds: Partial<Record<EventKind, number>>;
  errors: ParseError[];
}

/** A growing byte buffer for the JSON lines, written line by line (one big string would keep the garbage collector busy). */
class Output {
  /** Its own ArrayBuffer (never the shared pool's), so that it can be handed to another thread. */
  bytes: Buffer;
  length = 0;
  constructor(size: number) {
    this.bytes = Buffer.allocUnsafeSlow(size);
  }
  write(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.length + text.length * 3 > this.bytes.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.length + text.length * 3));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.length += this.bytes.write(text, this.length);
  }
}

export function parsePiece(job: PieceJob): ParsedPiece {
  const kinds: Partial<Record<EventKind, number>> = {};
  const errors: ParseError[] = [];
  const output = new Output(job.output ? job.bytes.length * 6 : 0);
  let events = 0;
  const parser = createParser({ format: job.format, prefix: job.prefix ?? undefined, server: job.server, input: job.input, start: job.start }, {
    event(event) {
      events++;
      kinds[event.kind] = (kinds[event.kind] ?? 0) + 1;
      if (job.output) output.write(eventJson(event) + '\n');
    },
    error: (error) => errors.push(error),
  });
  parser.write(job.bytes);
  parser.end();
  return { ndjson: output.bytes.subarray(0, output.length), events, kinds, errors };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (message: { id: number; job: PieceJob }) => {
    const parsed = parsePiece(message.job);
    port.postMessage({ id: message.id, parsed }, [parsed.ndjson.buffer as ArrayBuffer]);
  });
}
