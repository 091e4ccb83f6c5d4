// pgwarden parse FILE... — server logs in, one JSON event per line out.
import { Option, type Command } from 'commander';
import type { EventKind, ParseError } from '../core/event.ts';
import { canonicalInput } from '../core/input-identity.ts';
import { PgwardenError } from '../core/errors.ts';
import { LOG_FORMATS, compilePrefix, prefixNotes, type LogFormat } from '../logs/index.ts';
// parallel-parse directly, not the pipeline's index: parse needs none of the sources and sinks.
import { defaultJobs, parseInPieces, ParsePool, type Decided } from '../pipeline/parallel-parse.ts';
import { outputClosed, writeOut } from './closed-pipe.ts';
import { readInput } from '../core/read-input.ts';
import { checkReadable, parseErrorLine, parseJobs } from './input.ts';

interface ParseOptions { format: LogFormat | 'auto'; prefix?: string; server?: string; jobs: number; count?: boolean }

/** How many parse errors are printed one by one; the rest are only counted. */
const SHOWN_ERRORS = 20;

export function registerParseCommand(program: Command): void {
  program.command('parse')
    .description('read PostgreSQL server logs (stderr, csvlog, jsonlog; pgAudit records) or pgwarden events and print one JSON event per line')
    .argument('<file...>', 'log files; - reads standard input')
    .addOption(new Option('--format <format>', 'log format').choices(['auto', ...LOG_FORMATS]).default('auto'))
    .option('--prefix <log_line_prefix>', "the server's log_line_prefix, for stderr logs (default: recognised from the first lines)")
    .option('--server <name>', 'the server name to put in every event')
    .option('--count', 'print no events, only the summary (to check a log, or a --prefix, quickly)')
    .option('-j, --jobs <n>', `parsing threads (default: one per CPU, at most 4; 1 parses on the main thread)`, parseJobs, defaultJobs())
    .addHelpText('after', `
Events follow docs/event-model.md; --format events reads such JSON lines back (the same events).
Lines that cannot be read are counted as parse errors (each named by file, line and byte offset
on standard error) and never stop the run; a summary of events by kind and errors ends the run
on standard error. Exit codes: 0 done (parse errors are counted, not fatal); 2 bad input, or
nothing could be read (no event, only parse errors: wrong --format or --prefix?), as ingest.

Examples:
  pgwarden parse /var/log/postgresql/postgresql-15-main.log --prefix '%m [%p] %q%u@%d '
  pgwarden parse --format csvlog --server db1 postgresql-*.csv > events.ndjson
  tail -f postgresql.json | pgwarden parse -`)
    .action(async (files: string[], options: ParseOptions) => {
      if (options.prefix !== undefined) compilePrefix(options.prefix);
      for (const file of files) checkReadable(file);
      const { summary, events, errors } = await parseFiles(files, options);
      // the reader has gone (| head -1): what it wanted was printed, and nothing more is said
      if (outputClosed.aborted) return;
      process.stderr.write(summary);
      if (events === 0 && errors > 0) {
        throw new PgwardenError('PGW_ERR_INPUT', `no event could be read from ${files.join(', ')} (${errors} parse errors): is --format (or --prefix) right for these files?`);
      }
    });
}


async function parseFiles(files: string[], options: ParseOptions): Promise<{ summary: string; events: number; errors: number }> {
  const counts = new Map<EventKind, number>();
  let events = 0;
  let errors = 0;
  let bytes = 0;
  const notes: string[] = [];
  const started = process.hrtime.bigint();
  const pool = options.jobs > 1 ? new ParsePool(options.jobs) : null;

  const reportError = (error: ParseError) => {
    errors++;
    if (errors <= SHOWN_ERRORS) {
      process.stderr.write(parseErrorLine(error));
    }
  };

  try {
    for (const file of files) {
      const counted = readInput(file, (n) => { bytes += n; }, { stop: outputClosed });
      const decided: Decided = { format: null, prefix: null };
      const pieces = parseInPieces(counted, { format: options.format, prefix: options.prefix, server: options.server ?? null, input: canonicalInput(file), output: options.count ? 'count' : 'ndjson',
        pieceBytes: file === '-' ? 1 : undefined }, pool, decided);
      for await (const piece of pieces) {
        if (outputClosed.aborted) break;
        events += piece.events;
        for (const [kind, n] of Object.entries(piece.kinds) as [EventKind, number][]) counts.set(kind, (counts.get(kind) ?? 0) + n);
        piece.errors.forEach(reportError);
        if (piece.ndjson.length === 0) pool?.recycle(piece);
        else await writeOut(piece.ndjson, () => pool?.recycle(piece));
      }
      if (outputClosed.aborted) break;
      for (const note of prefixNotes(decided, options.prefix !== undefined)) notes.push(`${file}: ${note}`);
    }
  } finally {
    await pool?.close();
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const byKind = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`).join(', ');
  const lines = [
    ...notes,
    `parsed ${files.length} input${files.length === 1 ? '' : 's'}, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s: ` +
      `${events} event${events === 1 ? '' : 's'}${byKind ? ` (${byKind})` : ''}, ${errors} parse error${errors === 1 ? '' : 's'}` +
      (errors > SHOWN_ERRORS ? ` (the first ${SHOWN_ERRORS} shown above)` : ''),
  ];
  return { summary: lines.join('\n') + '\n', events, errors };
}
