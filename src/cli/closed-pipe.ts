// A reader that stops reading (`pgwarden parse big.log | head -1`) ends the command quietly, with
// exit 0: what was asked for was printed. Any other write error is still an error.
//
// The command is stopped, not the process killed: process.exit() while the parser is hot can hang
// Node 22 and 24 for good (nodejs/node#54918: the exit joins V8's background compiler threads while
// one of them waits for a garbage collection only the exiting main thread could run). So a closed
// pipe aborts `outputClosed`; the commands that write for long (parse, detect replay) stop reading
// when it does, and the process ends as every command does, when nothing is left to do.
import process from 'node:process';

const closed = new AbortController();

/** Aborted when standard output has lost its reader (EPIPE). */
export const outputClosed: AbortSignal = closed.signal;

/**
 * How long a command that does not watch `outputClosed` may go on after its reader has gone,
 * before the process exits anyway (with the hang risk above, for a command that is still busy).
 */
const GRACE_MS = 3000;

let installed = false;

/** Once per process: the demo and the tests run main() many times in one process. */
export function endQuietlyOnClosedPipe(): void {
  if (installed) return;
  installed = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (closed.signal.aborted) return;
    if (error.code !== 'EPIPE') throw error;
    process.exitCode = 0;
    closed.abort();
    setTimeout(() => process.exit(0), GRACE_MS).unref();
  });
  // Standard error closed (`2>&1 | head -1` closes both): its messages have nobody to reach, and
  // the command goes on (ingest must not stop half-way, nor say it finished when it did not).
  let stderrClosed = false;
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (stderrClosed) return;
    if (error.code !== 'EPIPE') throw error;
    stderrClosed = true;
  });
}

/** Writes to standard output; resolves once it may be written again (drained), or at once when its reader has gone. */
export function writeOut(text: string | Uint8Array, written?: () => void): Promise<void> | undefined {
  if (closed.signal.aborted) {
    written?.();
    return undefined;
  }
  if (process.stdout.write(text, written)) return undefined;
  return new Promise<void>((resolve) => {
    const done = () => {
      process.stdout.off('drain', done);
      closed.signal.removeEventListener('abort', done);
      resolve();
    };
    process.stdout.once('drain', done);
    closed.signal.addEventListener('abort', done, { once: true });
  });
}
