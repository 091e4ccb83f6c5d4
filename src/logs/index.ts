// The log parsers: PostgreSQL server logs (stderr with any log_line_prefix, csvlog, jsonlog),
// the envelopes they travel in (syslog, journald, Cloud SQL, CloudNativePG, Heroku, Azure),
// pgBouncer's log, pgauditlogtofile's files and pgwarden's own JSON lines (format `events`) in,
// events of the event model
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
import { EventsParser, looksLikeEvent } from './events.ts';
import { LOG_FORMATS, PREFIXED_FORMATS, type LogFormat } from './formats.ts';
import { JsonlogParser } from './jsonlog.ts';
import { looksLikeSyslog, syslogBodies, SyslogParser } from './syslog.ts';
import { detectEnvelope, envelopeBodies, makeEnvelopeParser } from './envelopes.ts';
import { PrefixMatcher } from './prefix.ts';
import type { ParseSink } from './record.ts';
import type { SessionSeed } from './sessions.ts';
import { StderrParser } from './stderr.ts';
import type { TextInput, TextStart } from './text-input.ts';

export type { ParseSink } from './record.ts';
export { parseAudit, splitCsv } from './pgaudit.ts';
export { compilePrefix, PrefixMatcher, PREFIX_ESCAPES } from './prefix.ts';
export { classify } from './messages.ts';
export { MAX_SESSIONS, StderrReader, syntheticSessionId, type SessionSeed } from './sessions.ts';
export { MATCH_STEP_LIMIT } from './prefix.ts';
/** For the network syslog source (src/pipeline/sources/syslog): one message at a time. */
export { parseSyslogHeader, readMarker as readSyslogMarker, SyslogAssembler } from './syslog.ts';

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
  /**
   * stderr: the sessions open after what was read so far, for the next piece of the same log
   * parsed after this one (TextStart.sessions); undefined for the other formats.
   */
  sessions(): SessionSeed[] | undefined;
}

/**
 * Prefixes tried, most specific first, when a stderr log comes without --prefix: Debian's and
 * pgwarden's test clusters', PostgreSQL's default, pgBadger's recommendation, Google Cloud SQL's,
 * Amazon RDS's, and common variants. When none fits, the prefix is read as opaque text before the severity word.
 */
export const COMMON_PREFIXES = [
  '%m [%p] %q%u@%d/%a ',
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
  if (sample[start] === '{') {
    const end = sample.indexOf('\n', start);
    if (looksLikeEvent(sample.slice(start, end < 0 ? undefined : end))) return 'events';
  }
  const envelope = detectEnvelope(sample.slice(start));
  if (envelope !== null) return envelope;
  if (sample[start] === '{') return 'jsonlog';
  // csvlog starts "TIME,"user","database",pid," — user and database quoted or empty.
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [^ ,\n]+,(?:"[^"\n]*(?:""[^"\n]*)*")?,(?:"[^"\n]*(?:""[^"\n]*)*")?,\d*,/.test(sample.slice(start, start + 1024))) return 'csvlog';
  if (looksLikeSyslog(sample.slice(start))) return 'syslog';
  return 'stderr';
}

/** What recognising a stderr log's prefix found. */
export interface PrefixRecognition {
  prefix: string;
  /** Sample lines (record lines, not continuations) looked at, and how many the prefix fits. */
  lines: number;
  fitting: number;
  /** Not every sample line fits, or too few lines to be sure: the summary says so. */
  unsure: boolean;
}

/**
 * The first COMMON_PREFIXES entry that fits at least 90% of the first lines of a stderr sample,
 * or OPAQUE_PREFIX. A reading that puts a space or one of a prefix's separators (/ @ [ ] ( ) = , :)
 * into a database or host name (or / [ ] ( ) = , : into a user) does not fit: so a log written
 * with '%m [%p] %q%u@%d/%a ' is never taken for '%m [%p] %q%u@%d ' with databases `postgres/psql`.
 */
export function recognisePrefix(sample: string): PrefixRecognition {
  const lines = sample.split('\n', 200).filter((l) => l.length > 0 && l.charCodeAt(0) !== 9 && l.charCodeAt(0) !== 32);
  if (lines.length > 1 && !sample.endsWith('\n')) lines.pop(); // the last line may be cut short
  let best = OPAQUE_PREFIX;
  let bestCount = 0;
  for (const prefix of COMMON_PREFIXES) {
    const matcher = new PrefixMatcher(prefix);
    matcher.detecting = true;
    let count = 0;
    for (const line of lines) if (matcher.match(line) && matcher.plausible()) count++;
    if (count > bestCount) {
      best = prefix;
      bestCount = count;
    }
  }
  const found = bestCount > 0 && bestCount >= lines.length * 0.9;
  return { prefix: found ? best : OPAQUE_PREFIX, lines: lines.length, fitting: found ? bestCount : 0, unsure: !found || bestCount < lines.length || lines.length < 3 };
}

export function detectPrefix(sample: string): string {
  return recognisePrefix(sample).prefix;
}

/** What was decided about a log from the start of it: its format, and for stderr the prefix (and how sure that is). */
export interface FormatDecision {
  format: LogFormat;
  prefix: string | null;
  /** A recognised prefix that did not fit every sample line (absent when --prefix was given). */
  unsure?: boolean;
}

/** The server log lines of a sample of a log in `format`, for recognising their log_line_prefix. */
function prefixSample(sample: string, format: LogFormat): string {
  if (format === 'stderr') return sample;
  if (format === 'syslog') return syslogBodies(sample);
  return envelopeBodies(sample, format);
}

/** The format (and for stderr, syslog, journald and cloudsql the prefix) of a log, from what was asked and a sample of its start (SAMPLE_BYTES). */
export function decideFormat(sample: string, requested: LogFormat | 'auto', prefix: string | undefined): FormatDecision {
  const format = requested === 'auto' ? detectFormat(sample) : requested;
  if (!PREFIXED_FORMATS.has(format)) return { format, prefix: null };
  if (prefix !== undefined) return { format, prefix };
  const recognised = recognisePrefix(prefixSample(sample, format));
  return { format, prefix: recognised.prefix, unsure: recognised.unsure && recognised.prefix !== OPAQUE_PREFIX };
}

/**
 * Says what a stderr log_line_prefix lacks, one line, or null: without %c events are put into
 * sessions by pid and the session's connection records (log_connections); without %p either,
 * not at all. For collect's start and ingest's and parse's summaries.
 */
export function sessionWarning(prefix: string | null): string | null {
  if (prefix === null || prefix === OPAQUE_PREFIX) return null;
  const matcher = new PrefixMatcher(prefix);
  if (matcher.has('c')) return null;
  if (matcher.has('p')) {
    return `log_line_prefix ${JSON.stringify(prefix)} has no %c: sessions are built from the pid and each session's connection records ` +
      '(log_connections = on needed; session ids are synthetic, hex(start).hex(pid)); add %c to log_line_prefix for exact sessions';
  }
  return `WARNING: log_line_prefix ${JSON.stringify(prefix)} has neither %c nor %p: events cannot be put into sessions ` +
    '(report sessions stays empty, audit records get no application or client from their connection); add %c (or at least %p) to log_line_prefix';
}

/**
 * Says, one line, when a stderr log_line_prefix puts client-chosen text (%a, %u; also %d, %h,
 * %r) before the severity word, or null: such text can move where the prefix ends. pgwarden reads
 * such lines with what the log proves and counts the ones that stay ambiguous; csvlog and jsonlog
 * keep every field apart and have no such ambiguity. For `pgaudit status`, collect's start and
 * the summaries.
 */
export function clientTextWarning(prefix: string | null): string | null {
  if (prefix === null || prefix === OPAQUE_PREFIX) return null;
  const matcher = new PrefixMatcher(prefix);
  const letters = ['a', 'u'].filter((l) => matcher.has(l));
  if (letters.length === 0) return null;
  return `log_line_prefix ${JSON.stringify(prefix)} puts ${letters.map((l) => `%${l}`).join(' and ')} (client-chosen text: application name, role name) ` +
    'before the severity in stderr logs, so a client can make a line ambiguous; pgwarden reads such lines with what the log proves ' +
    "(the session's connection records) and counts those that stay ambiguous as parse errors. csvlog and jsonlog have no such ambiguity: " +
    "log_destination = 'csvlog' (or 'jsonlog', PostgreSQL 15+) with logging_collector = on";
}

/**
 * For a server's settings: clientTextWarning when log_destination includes stderr (what
 * `pgaudit status` and collect say), else null.
 */
export function serverPrefixWarning(logDestination: string | null, logLinePrefix: string | null): string | null {
  if (logDestination === null || logLinePrefix === null) return null;
  if (!logDestination.split(',').some((d) => d.trim().toLowerCase() === 'stderr')) return null;
  try {
    return clientTextWarning(logLinePrefix);
  } catch {
    return null; // a prefix pgwarden cannot compile: --prefix says so when it is used
  }
}

/**
 * What collect says at start about a source's configured stderr prefix (a logfile source with
 * `prefix:`, a cloudwatch source's prefix): sessionWarning and clientTextWarning. A prefix
 * recognised from the file is named by the source when it reads the file.
 */
export function sourcePrefixWarnings(source: { type?: string; format?: string; prefix?: string }): string[] {
  if (source.prefix === undefined || (source.format !== undefined && source.format !== 'auto' && !PREFIXED_FORMATS.has(source.format as LogFormat))) return [];
  try {
    return [sessionWarning(source.prefix), clientTextWarning(source.prefix)].filter((w): w is string => w !== null);
  } catch {
    return []; // the source itself refuses a prefix that does not compile
  }
}

/** The summary lines about a stderr log's prefix: which was recognised (and how surely), sessions, client text. */
export function prefixNotes(decided: { format: LogFormat | null; prefix: string | null; unsure?: boolean }, given: boolean): string[] {
  // (also for the formats that carry the server's lines: syslog, journald, cloudsql)
  if (decided.format === null || !PREFIXED_FORMATS.has(decided.format) || decided.prefix === null) return [];
  const notes: string[] = [];
  if (decided.prefix === OPAQUE_PREFIX && !given) {
    notes.push(`${decided.format} log with a log_line_prefix pgwarden does not recognise; prefix fields (time, pid, user, …) are null — pass --prefix with the server's log_line_prefix`);
    return notes;
  }
  if (!given) {
    notes.push(`${decided.format} log, log_line_prefix recognised as ${JSON.stringify(decided.prefix)}` +
      (decided.unsure ? " — not sure: it does not fit every line of the start of the log; pass --prefix with the server's log_line_prefix (SHOW log_line_prefix)" : ''));
  }
  const sessions = sessionWarning(decided.prefix);
  if (sessions) notes.push(sessions);
  const client = clientTextWarning(decided.prefix);
  if (client) notes.push(client);
  return notes;
}

function makeParser(format: LogFormat, prefix: string | undefined, options: ParserOptions, sink: ParseSink): TextInput {
  const input = options.input ?? '-';
  const server = options.server ?? null;
  switch (format) {
    case 'stderr': return new StderrParser(prefix ?? OPAQUE_PREFIX, input, server, sink, options.start);
    case 'csvlog': return new CsvlogParser(input, server, sink, options.start);
    case 'jsonlog': return new JsonlogParser(input, server, sink, options.start);
    case 'events': return new EventsParser(input, server, sink, options.start);
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
    sessions() { return parser instanceof StderrParser ? parser.sessions() : undefined; },
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

export { RecordSplitter, type Piece } from './split.ts';
export type { TextStart } from './text-input.ts';
