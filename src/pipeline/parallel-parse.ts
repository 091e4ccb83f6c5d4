// Parses a log on several threads: the main thread reads the input and cuts it into pieces at
// record starts (RecordSplitter), worker threads parse and encode the pieces, and the results
// come back in input order — the same events, positions and errors as one sequential parse.
// An input smaller than one piece is parsed on the main thread without starting a worker.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { decideFormat, RecordSplitter, SAMPLE_BYTES, type LogFormat, type Piece, type SessionSeed } from '../logs/index.ts';
import { parsePiece, type ParsedPiece, type PieceJob, type PieceOutput, type WorkerMessage } from './parse-worker.ts';

export type { ParsedPiece } from './parse-worker.ts';

/** Bytes per piece: large enough that a thread's hand-over costs little, small enough to share the work evenly. */
const PIECE_BYTES = 2 * 1024 * 1024;

/** The default number of parsing threads: one per CPU, at most 4. */
export function defaultJobs(): number {
  return Math.min(availableParallelism(), 4);
}

// In the build the worker is parse-worker.js. Under tsx (tests, benches) it is a .ts file, and
// tsx's loader must be registered inside the worker before it is imported.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './parse-worker.ts' : './parse-worker.js', import.meta.url);

function newWorker(): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL);
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`, { eval: true });
}

interface Waiting { resolve(parsed: ParsedPiece): void; reject(error: Error): void }

/** A fixed set of worker threads parsing pieces; started on first use. */
export class ParsePool {
  private workers: Worker[] = [];
  private next = 0;
  private id = 0;
  private readonly waiting = new Map<number, Waiting>();
  /** Pieces' memory handed back by the threads, filled again by inputMemory(). */
  private readonly spareInputs: ArrayBuffer[] = [];
  private spareNext = 0;

  constructor(readonly jobs: number) {}

  parse(job: PieceJob): Promise<ParsedPiece> {
    if (this.workers.length === 0) this.start();
    const id = ++this.id;
    const worker = this.workers[this.next++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, job } satisfies WorkerMessage, [job.bytes.buffer as ArrayBuffer]);
    });
  }

  /** A copy of a piece's bytes in memory a thread may own, reusing memory a thread handed back. */
  inputMemory(bytes: Uint8Array): Uint8Array {
    const at = this.spareInputs.findIndex((buffer) => buffer.byteLength >= bytes.length);
    const memory = at < 0 ? new ArrayBuffer(Math.max(bytes.length, PIECE_BYTES * 2)) : this.spareInputs.splice(at, 1)[0]!;
    const copy = new Uint8Array(memory, 0, bytes.length);
    copy.set(bytes);
    return copy;
  }

  /**
   * Hands a piece's output memory back to the threads once it has been written out (to standard
   * output, or stored): they write the next pieces into it instead of into new memory.
   */
  recycle(parsed: ParsedPiece): void {
    if (this.workers.length === 0) return;
    const spare = [parsed.ndjson.buffer, parsed.batch?.rows.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength >= PIECE_BYTES);
    if (spare.length === 0) return;
    this.workers[this.spareNext++ % this.workers.length]!.postMessage({ spare } satisfies WorkerMessage, spare);
  }

  private start(): void {
    for (let i = 0; i < this.jobs; i++) {
      const worker = newWorker();
      worker.on('message', (message: { id: number; parsed: ParsedPiece }) => {
        const waiting = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if (message.parsed.input) this.spareInputs.push(message.parsed.input.buffer as ArrayBuffer);
        message.parsed.input = undefined;
        waiting?.resolve(message.parsed);
      });
      worker.on('error', (error) => this.failAll(error));
      worker.on('exit', (code) => { if (code !== 0) this.failAll(new Error(`a parsing thread stopped (exit code ${code})`)); });
      this.workers.push(worker);
    }
  }

  private failAll(error: Error): void {
    // A parser never throws on input (bad lines are parse errors), so this is a bug or out of memory.
    for (const waiting of this.waiting.values()) waiting.reject(new Error(`a parsing thread failed: ${error.message}`, { cause: error }));
    this.waiting.clear();
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Starts a piece; its failure is seen when its turn comes, not as an unhandled rejection before. */
function submit(pool: ParsePool, job: PieceJob): Promise<ParsedPiece> {
  const parsed = pool.parse(job);
  parsed.catch(() => undefined);
  return parsed;
}

export interface PieceParseOptions {
  format: LogFormat | 'auto';
  prefix?: string;
  server: string | null;
  input: string;
  /** What each piece becomes (default ndjson). */
  output?: PieceOutput;
  /**
   * Bytes gathered before a piece is cut (default 2 MiB). A pipe that is read as it is written
   * (`tail -f … | pgwarden parse -`) wants 1: every chunk's whole records at once.
   */
  pieceBytes?: number;
}

/** What was decided about an input once its start was seen. */
export interface Decided { format: LogFormat | null; prefix: string | null }

/**
 * Parses a stream in pieces, yielding each piece's result in input order. With a pool of more
 * than one thread the pieces are parsed in parallel (at most two per thread in flight).
 */
export async function* parseInPieces(stream: AsyncIterable<Buffer>, options: PieceParseOptions, pool: ParsePool | null,
  decided: Decided = { format: null, prefix: null }): AsyncGenerator<ParsedPiece> {
  let splitter: RecordSplitter | undefined;
  let head: Buffer[] = [];
  let headBytes = 0;
  let usedPool = false;
  const inFlight: Promise<ParsedPiece>[] = [];
  // A piece shares its memory with what the splitter keeps: a thread gets a copy it may own
  // (it is transferred), the main thread reads the piece as it is.
  const jobOf = (piece: Piece, forThread: boolean): PieceJob => ({
    bytes: forThread ? pool!.inputMemory(piece.bytes) : piece.bytes, start: piece.start, format: decided.format!, prefix: decided.prefix,
    server: options.server, input: options.input, output: options.output ?? 'ndjson',
  });
  /** Decides format and prefix from the bytes gathered so far; returns the splitter, fed with them. */
  const begin = (): RecordSplitter => {
    const sample = Buffer.concat(head, headBytes);
    head = [];
    Object.assign(decided, decideFormat(sample.toString('utf8', 0, SAMPLE_BYTES), options.format, options.prefix));
    // Pieces parsed in turn on this thread hand their sessions on (below); only pieces parsed
    // side by side need the splitter to follow the sessions for them.
    splitter = new RecordSplitter(decided.format!, decided.prefix, options.pieceBytes ?? PIECE_BYTES, pool !== null && pool.jobs >= 2);
    pending = splitter.push(sample);
    return splitter;
  };
  let pending: Piece | null = null;
  /** The sessions open where the last piece parsed on this thread ended. */
  let sessions: SessionSeed[] | undefined;
  /** `last`: the final piece, parsed here when no thread was needed before it. */
  async function* dispatch(piece: Piece | null, last = false): AsyncGenerator<ParsedPiece> {
    if (piece === null) return;
    if (pool === null || pool.jobs < 2 || (last && !usedPool)) {
      const job = jobOf(piece, false);
      if (sessions !== undefined) job.start = { ...job.start, sessions };
      job.keepSessions = !last;
      const parsed = parsePiece(job);
      sessions = parsed.sessions;
      yield parsed;
      return;
    }
    usedPool = true;
    inFlight.push(submit(pool, jobOf(piece, true)));
    while (inFlight.length >= pool.jobs * 2) yield await inFlight.shift()!;
  }
  // Nothing to detect when format (and for stderr the prefix) were given: start at once.
  const known = options.format !== 'auto' && (options.format !== 'stderr' || options.prefix !== undefined);

  for await (const chunk of stream) {
    if (splitter === undefined) {
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes < SAMPLE_BYTES && !known) continue;
      begin();
      yield* dispatch(pending);
      continue;
    }
    yield* dispatch(splitter.push(chunk));
  }
  if (splitter === undefined) {
    // A short input: all of it was the sample.
    begin();
    yield* dispatch(pending);
  }
  yield* dispatch(splitter!.end(), true);
  while (inFlight.length > 0) yield await inFlight.shift()!;
}
