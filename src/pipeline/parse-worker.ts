// Parses one piece of a log (see RecordSplitter) into JSON lines (parse) or the repository's
// COPY rows (ingest), or only counts. Runs on a worker thread of a ParsePool, or on the main
// thread for an input too small to be worth a thread.
import { isMainThread, parentPort } from 'node:worker_threads';
import { ByteWriter } from '../core/byte-writer.ts';
import { writeEventJson, type EventKind, type ParseError, type PgwardenEvent } from '../core/event.ts';
import { createParser, type LogFormat, type ParseSink, type SessionSeed, type TextStart } from '../logs/index.ts';
import { BatchEncoder, type EncodedBatch } from '../repository/encode.ts';

/** What a piece becomes: JSON lines, COPY rows for the repository, or only counts. */
export type PieceOutput = 'ndjson' | 'copy' | 'count';

export interface PieceJob {
  bytes: Uint8Array;
  start: TextStart;
  format: LogFormat;
  prefix: string | null;
  server: string | null;
  input: string;
  output: PieceOutput;
  /** Return the sessions open at the piece's end (stderr), for the next piece parsed on the same thread. */
  keepSessions?: boolean;
}

export interface ParsedPiece {
  /** output ndjson: the events, one JSON object per line (docs/event-model.md); otherwise empty. */
  ndjson: Uint8Array;
  /** output copy: the events as the repository's binary COPY rows, with what the writer needs; otherwise null. */
  batch: EncodedBatch | null;
  events: number;
  kinds: Partial<Record<EventKind, number>>;
  errors: ParseError[];
  /** From a parsing thread: the piece's bytes, handed back (see ParsePool.inputMemory). */
  input?: Uint8Array;
  /** With keepSessions: the sessions open at the piece's end (stderr). */
  sessions?: SessionSeed[];
}

/**
 * Where a piece's events go. A class, not an object literal made per piece: a literal's methods
 * are new functions for every piece, and the parser's call of sink.event(), optimized for the
 * first piece's, was thrown away at the second piece's (and compiled again) on every thread.
 */
class PieceSink implements ParseSink {
  events = 0;
  readonly kinds: Partial<Record<EventKind, number>> = {};
  readonly errors: ParseError[] = [];
  constructor(private readonly output: PieceOutput, private readonly json: ByteWriter, private readonly encoder: BatchEncoder | null) {}

  event(event: PgwardenEvent): void {
    this.events++;
    this.kinds[event.kind] = (this.kinds[event.kind] ?? 0) + 1;
    if (this.output === 'ndjson') {
      writeEventJson(this.json, event);
      this.json.byte(10);
    } else this.encoder?.add(event);
  }

  error(error: ParseError): void {
    this.errors.push(error);
  }
}

/** `spare`: output memory handed back by the main thread, taken instead of new memory when large enough. */
export function parsePiece(job: PieceJob, spare: ArrayBuffer[] = []): ParsedPiece {
  const size = job.output === 'ndjson' ? job.bytes.length * 5 : job.output === 'copy' ? job.bytes.length * 3 : 0;
  const reuse = takeSpare(spare, size);
  const output = new ByteWriter(job.output === 'ndjson' ? size : 0, job.output === 'ndjson' ? reuse : undefined);
  const encoder = job.output === 'copy' ? new BatchEncoder(size, reuse) : null;
  const sink = new PieceSink(job.output, output, encoder);
  const parser = createParser({ format: job.format, prefix: job.prefix ?? undefined, server: job.server, input: job.input, start: job.start }, sink);
  parser.write(job.bytes);
  parser.end();
  const batch = encoder?.finish() ?? null;
  return { ndjson: output.result(), batch, events: sink.events, kinds: sink.kinds, errors: sink.errors,
    sessions: job.keepSessions ? parser.sessions() : undefined };
}

function takeSpare(spare: ArrayBuffer[], size: number): ArrayBuffer | undefined {
  const at = size === 0 ? -1 : spare.findIndex((buffer) => buffer.byteLength >= size);
  return at < 0 ? undefined : spare.splice(at, 1)[0];
}

/** What a parsing thread hears: a piece to parse, or output memory handed back for reuse. */
export type WorkerMessage = { id: number; job: PieceJob } | { spare: ArrayBuffer[] };

if (!isMainThread && parentPort) {
  const port = parentPort;
  // Reused output memory: each piece's output is fresh memory of several megabytes otherwise, and
  // allocating, touching and freeing it cost the threads as much as a tenth of their time.
  const spare: ArrayBuffer[] = [];
  port.on('message', (message: WorkerMessage) => {
    if ('spare' in message) {
      // A few are enough: as many as pieces in flight.
      spare.push(...message.spare);
      spare.splice(0, spare.length - 8);
      return;
    }
    const parsed = parsePiece(message.job, spare);
    // The piece's memory goes back with the result, for the main thread to fill again.
    parsed.input = message.job.bytes;
    const transfer = [parsed.ndjson.buffer as ArrayBuffer, message.job.bytes.buffer as ArrayBuffer];
    if (parsed.batch) transfer.push(parsed.batch.rows.buffer as ArrayBuffer);
    port.postMessage({ id: message.id, parsed }, transfer);
  });
}
