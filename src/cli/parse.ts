// pgwarden parse FILE... — server logs in, one JSON event per line out.
import { createReadStream } from 'node:fs';
import { Option, type Command } from 'commander';
import type { EventKind, ParseError } from '../core/event.ts';
import { PgwardenError } from '../core/errors.ts';
import { createParser, LOG_FORMATS, OPAQUE_PREFIX, compilePrefix, type LogFormat } from '../logs/index.ts';
import { checkReadable } from './common.ts';

interface ParseOptions { format: LogFormat | 'auto'; prefix?: string; server?: string }

/** How many parse errors are printed one by one; the rest are only counted. */
const SHOWN_ERRORS = 20;

export function registerParseCommand(program: Command): void {
  program.command('parse')
    .description('read PostgreSQL server logs (stderr, csvlog, jsonlog; pgAudit records) and print one JSON event per line')
    .argument('<file...>', 'log files; - reads standard input')
    .addOption(new Option('--format <format>', 'log format').choices(['auto', ...LOG_FORMATS]).default('auto'))
    .option('--prefix <log_line_prefix>', "the server's log_line_prefix, for stderr logs (default: recognised from the first lines)")
    .option('--server <name>', 'the server name to put in every event')
    .addHelpText('after', `
Events follow docs/event-model.md. Lines that cannot be read are counted as parse errors (each
named by file, line and byte offset on standard error) and never stop the run; a summary of
events by kind and errors ends the run on standard error.

Examples:
  pgwarden parse /var/log/postgresql/postgresql-15-main.log --prefix '%m [%p] %q%u@%d '
  pgwarden parse --format csvlog --server db1 postgresql-*.csv > events.ndjson
  tail -f postgresql.json | pgwarden parse -`)
    .action(async (files: string[], options: ParseOptions) => {
      if (options.prefix !== undefined) compilePrefix(options.prefix);
      for (const file of files) checkReadable(file);
      const summary = await parseFiles(files, options);
      process.stderr.write(summary);
    });
}


async function parseFiles(files: string[], options: ParseOptions): Promise<string> {
  const counts = new Map<EventKind, number>();
  let events = 0;
  let errors = 0;
  let bytes = 0;
  const notes: string[] = [];
  const started = process.hrtime.bigint();
  let out: string[] = [];
  let outChars = 0;

  const writeOut = async () => {
    if (out.length === 0) return;
    const text = out.join('');
    out = [];
    outChars = 0;
    if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  };
  const reportError = (error: ParseError) => {
    errors++;
    if (errors <= SHOWN_ERRORS) {
      process.stderr.write(`parse error: ${error.input}:${error.line} (byte ${error.position}): ${error.reason}: ${JSON.stringify(error.excerpt.slice(0, 120))}\n`);
    }
  };

  for (const file of files) {
    const parser = createParser({ format: options.format, prefix: options.prefix, server: options.server ?? null, input: file }, {
      event(event) {
        events++;
        counts.set(event.kind, (counts.get(event.kind) ?? 0) + 1);
        const line = JSON.stringify(event) + '\n';
        out.push(line);
        outChars += line.length;
      },
      error: reportError,
    });
    const stream = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        parser.write(chunk);
        if (outChars > 1024 * 1024) await writeOut();
      }
    } catch (error) {
      throw new PgwardenError('PGW_ERR_INPUT', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
    parser.end();
    await writeOut();
    if (parser.format === 'stderr' && options.prefix === undefined) {
      notes.push(parser.prefix === OPAQUE_PREFIX
        ? `${file}: stderr log with a log_line_prefix pgwarden does not recognise; prefix fields (time, pid, user, …) are null — pass --prefix with the server's log_line_prefix`
        : `${file}: stderr log, log_line_prefix recognised as ${JSON.stringify(parser.prefix)}`);
    }
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const byKind = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`).join(', ');
  const lines = [
    ...notes,
    `parsed ${files.length} input${files.length === 1 ? '' : 's'}, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s: ` +
      `${events} event${events === 1 ? '' : 's'}${byKind ? ` (${byKind})` : ''}, ${errors} parse error${errors === 1 ? '' : 's'}` +
      (errors > SHOWN_ERRORS ? ` (the first ${SHOWN_ERRORS} shown above)` : ''),
  ];
  return lines.join('\n') + '\n';
}
