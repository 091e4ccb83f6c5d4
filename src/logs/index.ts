// The log parsers: PostgreSQL server logs (stderr with any log_line_prefix, csvlog, jsonlog),
// the envelopes they travel in (syslog, journald, Cloud SQL, CloudNativePG, Heroku, Azure),
// pgBouncer's log and pgauditlogtofile's files in, events of the event model
// (src/core/event.ts) out. Pure: bytes in, events out; no I/O.
//
//   const parser = createParser({ format: 'auto', input: 'postgresql.log', server: 'db1' },
//     { event: (e) => …, error: (e) => … });
//   parser.write(chunk); …; parser.end();
//
// write() sends every complete record to the sink at once; a stderr record is complete when
// the next one starts, so a tailing caller calls flush() when the input has been idle.
import type { PgwardenEvent, ParseError } from '../core/event.ts';
import { PgwardenError } from '../core/errors.ts';
import { CsvlogParser } from './csvlog.ts';
import { LOG_FORMATS, PREFIXED_FORMATS, type LogFormat } from './formats.ts';
import { JsonlogParser } from './jsonlog.ts';
import { looksLikeSyslog, syslogBodies, SyslogParser } from './syslog.ts';
import { detectEnvelope, envelopeBodies, makeEnvelopeParser } from './envelopes.ts';
import { PrefixMatcher } from './prefix.ts';
import type { ParseSink } from './record.ts';
import { StderrParser } from './stderr.ts';
import type { TextInput, TextStart } from './text-input.ts';

export type { ParseSink } from './record.ts';
export { parseAudit, splitCsv } from './pgaudit.ts';
export { compilePrefix, PrefixMatcher, PREFIX_ESCAPES } from './prefix.ts';
export { classify } from './messages.ts';

export { LOG_FORMATS, PREFIXED_FORMATS, type LogFormat } from './formats.ts';

export interface ParserOptions {
  /** default `auto`: decided from the first line of the input. */
  format?: LogFormat | 'auto';
  /** log_line_prefix of a stderr log (and of the server lines in syslog, journald, cloudsql); default: recognised from the first lines among COMMON_PREFIXES. */
  prefix?: string;
  /** The `server` of every event. */
  server?: string | null;
  /** The `source.input` of every event and error (a file name, `-` for standard input). */
  input?: string;
  /** Where the text begins in its input, when it is a piece of it (see RecordSplitter); default: the start. */
  start?: TextStart;
}

export interface LogParser {
  write(chunk: Uint8Array | string): void;
  /** Sends a stderr record held back while waiting for its DETAIL/STATEMENT/continuation lines. */
  flush(): void;
  end(): void;
  /** The format in use (null until auto-detection has seen enough of the input). */
  readonly format: LogFormat | null;
  /** The log_line_prefix in use for stderr (and PREFIXED_FORMATS); null for the others, or while undecided. */
  readonly prefix: string | null;
}

/**
 * Prefixes tried, most specific first, when a stderr log comes without --prefix: Debian's and
 * pgwarden's test clusters', PostgreSQL's default, pgBadger's recommendation, Google Cloud SQL's,
 * Amazon RDS's, and common variants. When none fits, the prefix is read as opaque text before the severity word.
 */
export const COMMON_PREFIXES = [
  '%m [%p] %q%u@%d ',
  '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ',
  '%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ',
  '%m [%p]: [%l-1] db=%d,user=%u ',
  '%t [%p]: [%l-1] db=%d,user=%u ',
  '%t:%r:%u@%d:[%p]:',
  '%m:%r:%u@%d:[%p]:',
  '%m [%p] %q[user=%u,db=%d,app=%a] ',
  '%m [%p-%l] %q%u@%d ',
  '%t [%p-%l] %q%u@%d ',
  '%t [%p] %q%u@%d ',
  '%m [%p] ',
  '%t [%p] ',
  '%m ',
  '%t ',
  '',
];
/** Anything, then the severity word: used when no known prefix fits. Reads no prefix fields. */
export const OPAQUE_PREFIX = '%i';

/** How much of an input auto-detection looks at before deciding. */
export const SAMPLE_BYTES = 256 * 1024;

export function detectFormat(sample: string): LogFormat {
  const start = sample.search(/\S/);
  if (start < 0) return 'stderr';
  const envelope = detectEnvelope(sample.slice(start));
  if (envelope !== null) return envelope;
  if (sample[start] === '{') return 'jsonlog';
  // csvlog starts "TIME,"user","database",pid," — user and database quoted or empty.
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [^ ,\n]+,(?:"[^"\n]*(?:""[^"\n]*)*")?,(?:"[^"\n]*(?:""[^"\n]*)*")?,\d*,/.test(sample.slice(start, start + 1024))) return 'csvlog';
  if (looksLikeSyslog(sample.slice(start))) return 'syslog';
  return 'stderr';
}

/**
 * The first COMMON_PREFIXES entry that fits at least 90% of the first lines of a stderr sample
 * (with no space inside a user, database or host), or OPAQUE_PREFIX.
 */
export function detectPrefix(sample: string): string {
  const lines = sample.split('\n', 200).filter((l) => l.length > 0 && l.charCodeAt(0) !== 9);
  if (lines.length > 1 && !sample.endsWith('\n')) lines.pop(); // the last line may be cut short
  let best = OPAQUE_PREFIX;
  let bestCount = 0;
  for (const prefix of COMMON_PREFIXES) {
    const matcher = new PrefixMatcher(prefix);
    let count = 0;
    for (const line of lines) if (matcher.match(line) && matcher.plausible()) count++;
    if (count > bestCount) {
      best = prefix;
      bestCount = count;
    }
  }
  return bestCount > 0 && bestCount >= lines.length * 0.9 ? best : OPAQUE_PREFIX;
}

/** The server log lines of a sample of a log in `format`, for recognising their log_line_prefix. */
function prefixSample(sample: string, format: LogFormat): string {
  if (format === 'stderr') return sample;
  if (format === 'syslog') return syslogBodies(sample);
  return envelopeBodies(sample, format);
}

/** The format (and for stderr, syslog, journald and cloudsql the prefix) of a log, from what was asked and a sample of its start (SAMPLE_BYTES). */
export function decideFormat(sample: string, requested: LogFormat | 'auto', prefix: string | undefined): { format: LogFormat; prefix: string | null } {
  const format = requested === 'auto' ? detectFormat(sample) : requested;
  return { format, prefix: PREFIXED_FORMATS.has(format) ? (prefix ?? detectPrefix(prefixSample(sample, format))) : null };
}

function makeParser(format: LogFormat, prefix: string | undefined, options: ParserOptions, sink: ParseSink): TextInput {
  const input = options.input ?? '-';
  const server = options.server ?? null;
  switch (format) {
    case 'stderr': return new StderrParser(prefix ?? OPAQUE_PREFIX, input, server, sink, options.start);
    case 'csvlog': return new CsvlogParser(input, server, sink, options.start);
    case 'jsonlog': return new JsonlogParser(input, server, sink, options.start);
    case 'syslog': return new SyslogParser(prefix ?? OPAQUE_PREFIX, input, server, sink, options.start);
    default: return makeEnvelopeParser(format, prefix ?? OPAQUE_PREFIX, input, server, sink, options.start);
  }
}

export function createParser(options: ParserOptions, sink: ParseSink): LogParser {
  const requested = options.format ?? 'auto';
  if (requested !== 'auto' && !LOG_FORMATS.includes(requested)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--format "${String(requested)}" is not one of auto, ${LOG_FORMATS.join(', ')}`);
  }
  if (options.prefix !== undefined) new PrefixMatcher(options.prefix); // reject a bad prefix before reading anything
  let parser: TextInput | null = null;
  let format: LogFormat | null = requested === 'auto' ? null : requested;
  let prefix: string | null = format !== null && PREFIXED_FORMATS.has(format) ? (options.prefix ?? null) : null;
  const pending: (Uint8Array | string)[] = [];
  let pendingBytes = 0;

  const decide = () => {
    const sample = pending.map((c) => (typeof c === 'string' ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('utf8'))).join('');
    ({ format, prefix } = decideFormat(sample, requested, options.prefix));
    parser = makeParser(format, prefix ?? undefined, options, sink);
    for (const chunk of pending) parser.write(chunk);
    pending.length = 0;
  };
  if (format !== null && (!PREFIXED_FORMATS.has(format) || prefix !== null)) parser = makeParser(format, prefix ?? undefined, options, sink);

  return {
    write(chunk) {
      if (parser) return parser.write(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= SAMPLE_BYTES) decide();
    },
    flush() {
      // Idle with the prefix still undecided (a quiet server): decide from what there is.
      if (!parser && pendingBytes > 0) decide();
      parser?.flush();
    },
    end() {
      if (!parser) decide();
      parser!.end();
    },
    get format() { return format; },
    get prefix() { return format !== null && PREFIXED_FORMATS.has(format) ? prefix : null; },
  };
}

export interface ParseResult {
  events: PgwardenEvent[];
  errors: ParseError[];
  format: LogFormat | null;
  prefix: string | null;
}

/** Parses a whole log held in memory. */
export function parseText(text: string | Uint8Array, options: ParserOptions = {}): ParseResult {
  const events: PgwardenEvent[] = [];
  const errors: ParseError[] = [];
  const parser = createParser(options, { event: (e) => events.push(e), error: (e) => errors.push(e) });
  parser.write(text);
  parser.end();
  return { events, errors, format: parser.format, prefix: parser.prefix };
}

/** Parses a stream (a file, standard input), yielding what each chunk completed. */
export async function* parseStream(stream: AsyncIterable<Uint8Array | string>, options: ParserOptions = {}):
  AsyncGenerator<{ events: PgwardenEvent[]; errors: ParseError[] }> {
  let events: PgwardenEvent[] = [];
  let errors: ParseError[] = [];
  const parser = createParser(options, { event: (e) => events.push(e), error: (e) => errors.push(e) });
  for await (const chunk of stream) {
    parser.write(chunk);
    if (events.length > 0 || errors.length > 0) {
      yield { events, errors };
      events = [];
      errors = [];
    }
  }
  parser.end();
  if (events.length > 0 || errors.length > 0) yield { events, errors };
}
export { RecordSplitter, type Piece } from './split.ts';
export type { TextStart } from './text-input.ts';
