// Parses one piece of a log (see RecordSplitter) into JSON lines (parse) or the repository's
// COPY rows (ingest), or only counts. Runs on a worker thread of a ParsePool, or on the main
// thread for an input too small to be worth a thread.
import { isMainThread, parentPort } from 'node:worker_threads';
import { ByteWriter } from '../core/byte-writer.ts';
import { writeEventJson, type EventKind, type ParseError } from '../core/event.ts';
import { createParser, type LogFormat, type TextStart } from '../logs/index.ts';
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
}

export interface ParsedPiece {
  /** output ndjson: the events, one JSON object per line (docs/event-model.md); otherwise empty. */
  ndjson: Uint8Array;
  /** output copy: the events as the repository's COPY rows (UTF-8), with what the writer needs; otherwise null. */
  batch: EncodedBatch | null;
  events: number;
  kinds: Partial<Record<EventKind, number>>;
  errors: ParseError[];
}

export function parsePiece(job: PieceJob): ParsedPiece {
  const kinds: Partial<Record<EventKind, number>> = {};
  const errors: ParseError[] = [];
  const output = new ByteWriter(job.output === 'ndjson' ? job.bytes.length * 5 : 0);
  const encoder = job.output === 'copy' ? new BatchEncoder(job.bytes.length * 3) : null;
  let events = 0;
  const parser = createParser({ format: job.format, prefix: job.prefix ?? undefined, server: job.server, input: job.input, start: job.start }, {
    event(event) {
      events++;
      kinds[event.kind] = (kinds[event.kind] ?? 0) + 1;
      if (job.output === 'ndjson') {
        writeEventJson(output, event);
        output.byte(10);
      }
      else encoder?.add(event);
    },
    error: (error) => errors.push(error),
  });
  parser.write(job.bytes);
  parser.end();
  const batch = encoder?.finish() ?? null;
  return { ndjson: output.result(), batch, events, kinds, errors };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (message: { id: number; job: PieceJob }) => {
    const parsed = parsePiece(message.job);
    const transfer = [parsed.ndjson.buffer as ArrayBuffer];
    if (parsed.batch) transfer.push(parsed.batch.rows.buffer as ArrayBuffer);
    port.postMessage({ id: message.id, parsed }, transfer);
  });
}
