// What parse and ingest share for reading logs named on the command line (the reading itself:
// core/read-input.ts, which detect replay uses too). Kept apart from
// common.ts, which loads the config and database modules that parse never needs.
import { statSync } from 'node:fs';
import { PgwardenError } from '../core/errors.ts';
import type { ParseError } from '../core/event.ts';

/** A log file named on the command line must be readable now (`-` is standard input). */
export function checkReadable(file: string): void {
  if (file === '-') return;
  let stat;
  try {
    stat = statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PgwardenError('PGW_ERR_INPUT', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`);
  }
  if (stat.isDirectory()) throw new PgwardenError('PGW_ERR_INPUT', `cannot read ${file}: it is a directory (name the log files in it)`);
}

/** --jobs: parsing threads. */
export function parseJobs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--jobs "${value}" is not a whole number from 1 to 64`);
  return n;
}

/** How parse and ingest show one parse error on standard error. */
export function parseErrorLine(error: ParseError): string {
  return `parse error: ${error.input}:${error.line} (byte ${error.position}): ${error.reason}: ${JSON.stringify(error.excerpt.slice(0, 120))}\n`;
}
