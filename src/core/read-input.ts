// Reading one input named on the command line (a file, `-` for standard input) in chunks: what
// parse, ingest (cli/input.ts) and detect replay share.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { PgwardenError } from './errors.ts';

export interface ReadInputOptions {
  /** Ends the input where it is when aborted, standard input too (`tail -f | parse -`). */
  stop?: AbortSignal;
  /** Gunzip what is read (replay: a file ending in .gz); `read` then hears of the gunzipped sizes. */
  gunzip?: boolean;
}

/**
 * A file, or standard input for `-`, in chunks of 1 MiB; `read` hears of each chunk's size. Read
 * errors say which file, as PGW_ERR_INPUT.
 */
export async function* readInput(file: string, read: (bytes: number) => void, options: ReadInputOptions = {}): AsyncGenerator<Buffer> {
  const { stop } = options;
  const raw = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 });
  const stream = (options.gunzip ? raw.pipe(createGunzip()) : raw) as AsyncIterable<Buffer>;
  const end = () => raw.destroy();
  stop?.addEventListener('abort', end, { once: true });
  try {
    for await (const chunk of stream) {
      if (stop?.aborted) return;
      read(chunk.length);
      yield chunk;
    }
  } catch (error) {
    if (stop?.aborted) return;
    throw new PgwardenError('PGW_ERR_INPUT', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    stop?.removeEventListener('abort', end);
  }
}
